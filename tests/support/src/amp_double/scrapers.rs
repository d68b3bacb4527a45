//! Managed collectors: CreateScraper and UpdateScraper with what AMP
//! refuses in a scrape configuration, a destination and a
//! `roleConfiguration`, tags on scrapers, and the record of what the
//! scraper's user could do in its cluster when it was created.

use std::time::Instant;

use serde_json::{Value, json};

use super::{
    COLLECTOR_USER, Inner, Object, decode_blob, entry_principal, error, now_secs, validation,
};
use crate::caller::{Caller, account_of_arn};
use crate::http::{Request, Response};
use crate::kube_api::rbac::Attributes;

/// What the collector's discovery needs with AMP's default scrape
/// configuration (roles pod, endpoints and node, the kubelet behind
/// `nodes/proxy`, the API server's `/metrics`).
fn collector_discovery() -> Vec<(String, Attributes)> {
    let mut out = Vec::new();
    for resource in ["pods", "endpoints", "services", "nodes"] {
        for verb in ["list", "watch"] {
            out.push((
                format!("{verb} {resource}"),
                Attributes::core(verb, resource, ""),
            ));
        }
    }
    out.push((
        "get nodes/proxy".into(),
        Attributes::Resource {
            namespace: String::new(),
            verb: "get".into(),
            group: String::new(),
            resource: "nodes".into(),
            subresource: "proxy".into(),
            name: String::new(),
        },
    ));
    out.push(("get /metrics".into(), Attributes::url("get", "/metrics")));
    out
}

/// What the service refuses in a scrape configuration (the documented
/// limits: interval at least 30 s, Kubernetes discovery only).
pub(super) fn scrape_problem(yaml: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = match serde_yaml_ng::from_str(yaml) {
        Ok(d) => d,
        Err(e) => return Some(format!("Invalid scrape configuration: {e}")),
    };
    fn walk(v: &serde_yaml_ng::Value) -> Option<String> {
        match v {
            serde_yaml_ng::Value::Mapping(m) => {
                for (k, v) in m {
                    let key = k.as_str().unwrap_or_default();
                    if key == "scrape_interval" {
                        let s = v.as_str().unwrap_or_default();
                        let secs = s
                            .strip_suffix('s')
                            .and_then(|n| n.parse::<u64>().ok())
                            .or_else(|| {
                                s.strip_suffix('m')
                                    .and_then(|n| n.parse::<u64>().ok())
                                    .map(|m| m * 60)
                            });
                        if secs.is_some_and(|s| s < 30) {
                            return Some(format!(
                                "Invalid scrape configuration: scrape_interval {s} is below the minimum of 30s"
                            ));
                        }
                    }
                    if key.ends_with("_sd_configs") && key != "kubernetes_sd_configs" {
                        return Some(format!(
                            "Invalid scrape configuration: {key} is not supported"
                        ));
                    }
                    if let Some(p) = walk(v) {
                        return Some(p);
                    }
                }
                None
            }
            serde_yaml_ng::Value::Sequence(s) => s.iter().find_map(walk),
            _ => None,
        }
    }
    walk(&doc)
}

/// An IAM role ARN as RoleConfiguration takes it (AMP API reference,
/// RoleConfiguration: pattern `arn:aws[-a-z]*:iam::[0-9]{12}:role/.+`).
pub(super) fn is_role_arn(arn: &str) -> bool {
    let re = regex::Regex::new(r"^arn:aws[-a-z]*:iam::[0-9]{12}:role/.+$").expect("pattern");
    re.is_match(arn)
}

/// (Region, account) of an AMP workspace ARN.
fn workspace_place(arn: &str) -> Option<(&str, &str)> {
    let re = regex::Regex::new(r"^arn:aws[-a-z]*:aps:([a-z0-9-]+):([0-9]{12}):workspace/.+$")
        .expect("pattern");
    let c = re.captures(arn)?;
    Some((c.get(1)?.as_str(), c.get(2)?.as_str()))
}

/// What AMP refuses in a scraper's destination and role configuration, for
/// a scraper of `caller`'s account. The AMP user guide's cross-account
/// setup (AMP-collector-how-to.html#cross-account-remote-write): the
/// scraper is created in the source account (the cluster's) with
/// `roleConfiguration.sourceRoleArn` a role of that account and
/// `targetRoleArn` a role of the target account (the workspace's); a
/// workspace in another account is reached only through those roles.
pub(super) fn destination_problem(
    caller: &Caller,
    workspace: &str,
    roles: Option<&Value>,
) -> Option<String> {
    let Some((_, ws_account)) = workspace_place(workspace) else {
        return Some(format!(
            "destination.ampConfiguration.workspaceArn is not an AMP workspace ARN: {workspace}"
        ));
    };
    let Some(roles) = roles.filter(|r| !r.is_null()) else {
        return (ws_account != caller.account).then(|| {
            format!(
                "The workspace {workspace} is in account {ws_account}, not the scraper's                  ({}): a cross-account destination needs roleConfiguration with sourceRoleArn                  and targetRoleArn",
                caller.account
            )
        });
    };
    let (source, target) = (
        roles["sourceRoleArn"].as_str(),
        roles["targetRoleArn"].as_str(),
    );
    let (Some(source), Some(target)) = (source, target) else {
        return Some("roleConfiguration needs both sourceRoleArn and targetRoleArn".into());
    };
    for (member, arn) in [("sourceRoleArn", source), ("targetRoleArn", target)] {
        if !is_role_arn(arn) {
            return Some(format!(
                "roleConfiguration.{member} is not an IAM role ARN                  (arn:aws[-a-z]*:iam::[0-9]{{12}}:role/.+): {arn}"
            ));
        }
    }
    if account_of_arn(source) != Some(caller.account.as_str()) {
        return Some(format!(
            "roleConfiguration.sourceRoleArn {source} is not a role of the scraper's account {}",
            caller.account
        ));
    }
    if account_of_arn(target) != Some(ws_account) {
        return Some(format!(
            "roleConfiguration.targetRoleArn {target} is not a role of the workspace's account {ws_account}"
        ));
    }
    None
}

impl Inner {
    pub(super) fn create_scraper(&mut self, caller: &Caller, body: Value) -> Response {
        let Some(eks) = body["source"].get("eksConfiguration") else {
            return validation("source.eksConfiguration is required");
        };
        let subnets = eks["subnetIds"].as_array().map(Vec::len).unwrap_or(0);
        if subnets == 0 {
            return validation("source.eksConfiguration.subnetIds must name at least one subnet");
        }
        if !eks["clusterArn"]
            .as_str()
            .is_some_and(|a| a.contains(":cluster/"))
        {
            return validation("source.eksConfiguration.clusterArn is not an EKS cluster ARN");
        }
        let Some(blob) = decode_blob(&body["scrapeConfiguration"]["configurationBlob"]) else {
            return validation("scrapeConfiguration.configurationBlob is required");
        };
        if let Some(p) = scrape_problem(&blob) {
            return validation(&p);
        }
        let Some(workspace) = body["destination"]["ampConfiguration"]["workspaceArn"].as_str()
        else {
            return validation("destination.ampConfiguration.workspaceArn is required");
        };
        if let Some(p) = destination_problem(caller, workspace, body.get("roleConfiguration")) {
            return validation(&p);
        }
        self.next_id += 1;
        let id = format!(
            "s-{:08x}-0000-4000-8000-{:012x}",
            self.next_id, self.next_id
        );
        let (account, region) = (&caller.account, &caller.region);
        let mut doc = json!({
            "scraperId": id,
            "arn": format!("arn:aws:aps:{region}:{account}:scraper/{id}"),
            "roleArn": format!("arn:aws:iam::{account}:role/aws-service-role/scraper.aps.amazonaws.com/AWSServiceRoleForAmazonPrometheusScraper_{:07x}", self.next_id),
            "alias": body.get("alias").cloned().unwrap_or(Value::Null),
            "status": { "statusCode": "CREATING" },
            "createdAt": now_secs(),
            "lastModifiedAt": now_secs(),
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
            "source": body["source"],
            "destination": body["destination"],
            "scrapeConfiguration": body["scrapeConfiguration"],
        });
        if let Some(roles) = body.get("roleConfiguration").filter(|r| !r.is_null()) {
            doc["roleConfiguration"] = roles.clone();
        }
        // The entry goes to the cluster the ARN names, in its account.
        if let (Some(eks), Some(p)) = (&self.eks, entry_principal(&doc)) {
            eks.add_service_entry(
                eks_cluster_arn(&doc).unwrap_or_default(),
                &p,
                COLLECTOR_USER,
            );
        }
        let reviewer = eks_cluster_arn(&doc)
            .and_then(|arn| self.clusters.get(arn))
            .or(self.cluster.as_ref());
        if let Some(cluster) = reviewer {
            let access = collector_discovery()
                .into_iter()
                .map(|(asked, a)| (asked, cluster.review(COLLECTOR_USER, &a).map(|(ok, _)| ok)))
                .collect();
            self.access_at_create.insert(id.clone(), access);
        }
        let out = json!({ "scraperId": id, "arn": doc["arn"], "status": doc["status"], "tags": doc["tags"] });
        self.scrapers.insert(
            id,
            Object {
                doc,
                until: Some(Instant::now() + self.scraper_create.unwrap_or(self.settle)),
                account: account.clone(),
                region: region.clone(),
            },
        );
        Response::json(202, &out)
    }

    pub(super) fn update_scraper(&mut self, caller: &Caller, id: &str, body: Value) -> Response {
        let settle = self.settle;
        let Some(o) = self.scrapers.get_mut(id).filter(|o| o.owned_by(caller)) else {
            return scraper_not_found(id);
        };
        if o.doc["status"]["statusCode"] != "ACTIVE" {
            return error(
                409,
                "ConflictException",
                &format!("Scraper {id} is not ACTIVE"),
            );
        }
        if let Some(c) = body.get("scrapeConfiguration") {
            let Some(blob) = decode_blob(&c["configurationBlob"]) else {
                return validation("scrapeConfiguration.configurationBlob is required");
            };
            if let Some(p) = scrape_problem(&blob) {
                return validation(&p);
            }
            o.doc["scrapeConfiguration"] = c.clone();
        }
        // The destination and roles as they would be after the update.
        let destination = body.get("destination").unwrap_or(&o.doc["destination"]);
        let roles = body
            .get("roleConfiguration")
            .or(o.doc.get("roleConfiguration"));
        let Some(workspace) = destination["ampConfiguration"]["workspaceArn"].as_str() else {
            return validation("destination.ampConfiguration.workspaceArn is required");
        };
        if let Some(p) = destination_problem(caller, workspace, roles) {
            return validation(&p);
        }
        if let Some(d) = body.get("destination") {
            o.doc["destination"] = d.clone();
        }
        if let Some(r) = body.get("roleConfiguration").filter(|r| !r.is_null()) {
            o.doc["roleConfiguration"] = r.clone();
        }
        if let Some(a) = body.get("alias") {
            o.doc["alias"] = a.clone();
        }
        o.doc["status"] = json!({ "statusCode": "UPDATING" });
        o.doc["lastModifiedAt"] = json!(now_secs());
        o.until = Some(Instant::now() + settle);
        Response::json(
            202,
            &json!({ "scraperId": id, "arn": o.doc["arn"], "status": o.doc["status"], "tags": o.doc["tags"] }),
        )
    }

    pub(super) fn scraper_tags(&mut self, caller: &Caller, req: &Request, arn: &str) -> Response {
        let Some(o) = self
            .scrapers
            .values_mut()
            .find(|o| o.doc["arn"] == arn && o.owned_by(caller))
        else {
            return error(
                404,
                "ResourceNotFoundException",
                &format!("Resource {arn} not found"),
            );
        };
        match req.method.as_str() {
            "POST" => {
                if let Some(t) = req.json()["tags"].as_object() {
                    for (k, v) in t {
                        o.doc["tags"][k] = v.clone();
                    }
                }
                Response::json(200, &json!({}))
            }
            "DELETE" => {
                for (k, v) in &req.query {
                    if k == "tagKeys"
                        && let Some(t) = o.doc["tags"].as_object_mut()
                    {
                        t.remove(v);
                    }
                }
                Response::json(200, &json!({}))
            }
            _ => Response::json(200, &json!({ "tags": o.doc["tags"] })),
        }
    }
}

fn eks_cluster_arn(doc: &Value) -> Option<&str> {
    doc["source"]["eksConfiguration"]["clusterArn"].as_str()
}

pub(super) fn scraper_not_found(id: &str) -> Response {
    error(
        404,
        "ResourceNotFoundException",
        &format!("Scraper {id} not found"),
    )
}
