//! Access entries and their access policy associations, who is calling
//! (the creator of a cluster is asked of the upstream STS), and the
//! [`EksLink`] through which other doubles add the entries their services
//! make.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Inner, Key, error, not_found, now_secs};
use crate::http::Response;

/// The principal moto's test credentials belong to, when no STS answers
/// (moto's GetCallerIdentity for them: `arn:aws:sts::123456789012:user/moto`).
pub const DEFAULT_CALLER: &str = "arn:aws:iam::123456789012:user/moto";

/// AmazonEKSClusterAdminPolicy, which EKS associates with the creator's entry.
pub(super) const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

/// The IAM principal of an STS caller ARN: an assumed role's session is
/// its role; moto answers `arn:aws:sts::…:user/NAME` for an IAM user.
pub(super) fn principal_of(caller: &str) -> String {
    let iam = caller.replacen(":sts::", ":iam::", 1);
    match iam.split_once(":assumed-role/") {
        Some((head, rest)) => format!("{head}:role/{}", rest.split('/').next().unwrap_or(rest)),
        None => iam,
    }
}

impl Inner {
    /// The cluster exists and its authentication mode admits access entries.
    pub(super) fn access_ready(&self, cluster: &Key) -> Result<(), Response> {
        let Some(c) = self.clusters.get(cluster) else {
            return Err(not_found(&cluster.2));
        };
        match c.doc["accessConfig"]["authenticationMode"].as_str() {
            Some("API") | Some("API_AND_CONFIG_MAP") => Ok(()),
            _ => Err(error(
                400,
                "InvalidRequestException",
                "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
            )),
        }
    }

    pub(super) fn create_entry(&mut self, cluster: &Key, body: Value) -> Response {
        if let Err(r) = self.access_ready(cluster) {
            return r;
        }
        let principal = body["principalArn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !principal.starts_with("arn:aws:iam::") {
            return error(
                400,
                "InvalidParameterException",
                &format!("The principalArn parameter format is not valid: {principal}"),
            );
        }
        let key = (cluster.clone(), principal.clone());
        if self.entries.contains_key(&key) {
            return error(
                409,
                "ResourceInUseException",
                "The specified access entry resource is already in use on this cluster.",
            );
        }
        let kind = body["type"].as_str().unwrap_or("STANDARD").to_string();
        let groups = body.get("kubernetesGroups").cloned().unwrap_or(json!([]));
        if kind != "STANDARD" && groups.as_array().is_some_and(|g| !g.is_empty()) {
            return error(
                400,
                "InvalidParameterException",
                "Kubernetes groups can only be set on access entries of type STANDARD.",
            );
        }
        let doc = self.insert_entry(
            cluster,
            &principal,
            &kind,
            groups,
            body["username"].as_str(),
            body.get("tags").cloned().unwrap_or(json!({})),
        );
        Response::json(200, &json!({ "accessEntry": doc }))
    }

    /// Stores an access entry and returns it as DescribeAccessEntry shows it.
    pub(super) fn insert_entry(
        &mut self,
        cluster: &Key,
        principal: &str,
        kind: &str,
        groups: Value,
        username: Option<&str>,
        tags: Value,
    ) -> Value {
        // EKS derives a user name from the principal: a role's sessions
        // are `assumed-role/NAME/{{SessionName}}`.
        let username =
            username
                .map(str::to_string)
                .unwrap_or_else(|| match principal.split_once(":role/") {
                    Some((head, role)) => format!(
                        "{}:assumed-role/{}/{{{{SessionName}}}}",
                        head.replace("arn:aws:iam::", "arn:aws:sts::"),
                        role.rsplit('/').next().unwrap_or(role)
                    ),
                    None => principal.to_string(),
                });
        self.next_id += 1;
        let (account, region, name) = cluster;
        let doc = json!({
            "clusterName": name,
            "principalArn": principal,
            "kubernetesGroups": groups,
            "accessEntryArn": format!(
                "arn:aws:eks:{region}:{account}:access-entry/{name}/{}/{:08x}",
                principal.rsplit(':').next().unwrap_or_default(),
                self.next_id
            ),
            "createdAt": now_secs(),
            "modifiedAt": now_secs(),
            "tags": tags,
            "username": username,
            "type": kind,
        });
        self.entries
            .insert((cluster.clone(), principal.to_string()), doc.clone());
        doc
    }

    pub(super) fn associate(&mut self, cluster: &Key, principal: &str, body: Value) -> Response {
        if let Err(r) = self.access_ready(cluster) {
            return r;
        }
        if !self
            .entries
            .contains_key(&(cluster.clone(), principal.to_string()))
        {
            return entry_not_found(&cluster.2, principal);
        }
        let policy = body["policyArn"].as_str().unwrap_or_default().to_string();
        if !policy.starts_with("arn:aws:eks::aws:cluster-access-policy/") {
            return error(
                400,
                "InvalidParameterException",
                &format!("The policyArn parameter format is not valid: {policy}"),
            );
        }
        let scope = &body["accessScope"];
        let namespaces = scope.get("namespaces").cloned().unwrap_or(json!([]));
        let named = namespaces.as_array().is_some_and(|n| !n.is_empty());
        match (scope["type"].as_str(), named) {
            (Some("cluster"), false) | (Some("namespace"), true) => {}
            _ => {
                return error(
                    400,
                    "InvalidParameterException",
                    "accessScope must be of type cluster (without namespaces) or namespace (with namespaces).",
                );
            }
        }
        let doc = json!({
            "policyArn": policy,
            "accessScope": { "type": scope["type"], "namespaces": namespaces },
            "associatedAt": now_secs(),
            "modifiedAt": now_secs(),
        });
        self.associations.insert(
            (cluster.clone(), principal.to_string(), policy),
            doc.clone(),
        );
        Response::json(
            200,
            &json!({ "clusterName": cluster.2, "principalArn": principal, "associatedAccessPolicy": doc }),
        )
    }
}

pub(super) fn entry_not_found(cluster: &str, principal: &str) -> Response {
    error(
        404,
        "ResourceNotFoundException",
        &format!(
            "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'. Cluster: {cluster}, principal: {principal}."
        ),
    )
}

/// What other services do to EKS on their own (see [`EksDouble::link`]).
#[derive(Clone)]
pub struct EksLink(pub(super) Arc<Mutex<Inner>>);

impl EksLink {
    /// Adds the access entry a service makes for its principal on the
    /// cluster `cluster_arn` (in whichever account and Region the ARN
    /// names), if the cluster exists and its mode has the EKS API; returns
    /// whether it did.
    pub fn add_service_entry(&self, cluster_arn: &str, principal: &str, username: &str) -> bool {
        let mut inner = self.0.lock().expect("double state");
        inner.tick();
        let Some(key) = inner
            .clusters
            .iter()
            .find(|(_, c)| c.doc["arn"] == cluster_arn)
            .map(|(k, _)| k.clone())
        else {
            return false;
        };
        if inner.access_ready(&key).is_err()
            || inner
                .entries
                .contains_key(&(key.clone(), principal.to_string()))
        {
            return false;
        }
        inner.insert_entry(
            &key,
            principal,
            "STANDARD",
            json!([]),
            Some(username),
            json!({}),
        );
        true
    }

    /// Removes a principal's entries (and their policies) on every cluster
    /// (a principal's ARN names its account).
    pub fn remove_entries_of(&self, principal: &str) {
        let mut inner = self.0.lock().expect("double state");
        inner.entries.retain(|(_, p), _| p != principal);
        inner.associations.retain(|(_, p, _), _| p != principal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Callers;
    use crate::http::{Request, forward};

    /// The creator is whoever signed CreateCluster, as STS sees the access
    /// key: here a role assumed in another account. Needs moto.
    #[test]
    fn the_creator_is_asked_of_sts_by_access_key() {
        let moto = crate::moto::Moto::start();
        let sts = |key: &str, body: &str| {
            let req = Request {
                method: "POST".into(),
                path: "/".into(),
                query: Vec::new(),
                body: body.as_bytes().to_vec(),
                target: "/".into(),
                headers: vec![
                    (
                        "Authorization".into(),
                        format!(
                            "AWS4-HMAC-SHA256 Credential={key}/20260101/eu-west-1/sts/aws4_request, SignedHeaders=host, Signature=0"
                        ),
                    ),
                    (
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ),
                ],
            };
            String::from_utf8_lossy(&forward(&moto.endpoint(), &req).body).to_string()
        };
        let assumed = sts(
            "testing",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fcreator&RoleSessionName=creator",
        );
        let key = assumed
            .split("<AccessKeyId>")
            .nth(1)
            .and_then(|r| r.split("</AccessKeyId>").next())
            .unwrap_or_else(|| panic!("no access key in {assumed}"));
        let create = Request {
            method: "POST".into(),
            path: "/clusters".into(),
            query: Vec::new(),
            body: Vec::new(),
            target: "/clusters".into(),
            headers: vec![(
                "Authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={key}/20260101/eu-west-1/eks/aws4_request, SignedHeaders=host, Signature=0"
                ),
            )],
        };
        let caller = Callers::new(Some(&moto.endpoint()))
            .of(&create)
            .arn
            .expect("STS answers");
        assert_eq!(
            principal_of(&caller),
            "arn:aws:iam::111122223333:role/creator"
        );
    }

    #[test]
    fn a_caller_arn_names_its_principal() {
        assert_eq!(
            principal_of("arn:aws:sts::111122223333:assumed-role/ops/alice"),
            "arn:aws:iam::111122223333:role/ops"
        );
        assert_eq!(
            principal_of("arn:aws:sts::123456789012:user/moto"),
            DEFAULT_CALLER
        );
        assert_eq!(
            principal_of("arn:aws:iam::111122223333:user/bob"),
            "arn:aws:iam::111122223333:user/bob"
        );
    }
}
