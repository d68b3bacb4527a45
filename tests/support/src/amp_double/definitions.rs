//! Alertmanager definitions (Create, Describe, Put, Delete), one per
//! workspace the upstream knows, and what AMP refuses in one (receivers
//! other than SNS).

use std::time::Instant;

use serde_json::json;

use super::{Inner, Object, decode_blob, error, now_secs, validation};
use crate::caller::Caller;
use crate::http::{Request, Response, forward};

/// What the service refuses in an Alertmanager definition.
pub(super) fn definition_problem(yaml: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = match serde_yaml_ng::from_str(yaml) {
        Ok(d) => d,
        Err(e) => return Some(format!("Invalid Alertmanager definition: {e}")),
    };
    let config = match doc.get("alertmanager_config") {
        Some(serde_yaml_ng::Value::String(s)) => serde_yaml_ng::from_str(s).ok()?,
        Some(v) => v.clone(),
        None => {
            return Some("Invalid Alertmanager definition: alertmanager_config is missing".into());
        }
    };
    let receivers = config
        .get("receivers")
        .and_then(|r| r.as_sequence())
        .cloned()
        .unwrap_or_default();
    for r in receivers {
        for k in r.as_mapping()?.keys().filter_map(|k| k.as_str()) {
            if k != "name" && k != "sns_configs" {
                return Some(format!(
                    "Invalid Alertmanager definition: receiver type {k} is not supported"
                ));
            }
        }
    }
    None
}

impl Inner {
    /// Alertmanager definitions: one per workspace (workspace IDs are
    /// unique across accounts; the definition is its account's).
    pub(super) fn definition(
        &mut self,
        caller: &Caller,
        op: &str,
        ws: &str,
        req: &Request,
    ) -> Response {
        let settle = self.settle;
        match op {
            "CreateAlertManagerDefinition" | "PutAlertManagerDefinition" => {
                let body = req.json();
                let Some(yaml) = decode_blob(&body["data"]) else {
                    return validation("data is required");
                };
                if let Some(p) = definition_problem(&yaml) {
                    return validation(&p);
                }
                if !self.workspace_exists(req, ws) {
                    return error(
                        404,
                        "ResourceNotFoundException",
                        &format!("Workspace {ws} not found"),
                    );
                }
                let existing = self.definitions.get_mut(ws).filter(|o| o.owned_by(caller));
                let status = match (op, existing) {
                    ("CreateAlertManagerDefinition", Some(_)) => {
                        return error(
                            409,
                            "ConflictException",
                            &format!("An Alertmanager definition already exists for {ws}"),
                        );
                    }
                    ("PutAlertManagerDefinition", None) => {
                        return error(
                            404,
                            "ResourceNotFoundException",
                            &format!("No Alertmanager definition found for {ws}"),
                        );
                    }
                    (_, Some(o)) => {
                        if o.doc["status"]["statusCode"] != "ACTIVE" {
                            return error(
                                409,
                                "ConflictException",
                                "The Alertmanager definition is being changed",
                            );
                        }
                        o.doc["data"] = body["data"].clone();
                        o.doc["modifiedAt"] = json!(now_secs());
                        o.doc["status"] = json!({ "statusCode": "UPDATING" });
                        o.until = Some(Instant::now() + settle);
                        o.doc["status"].clone()
                    }
                    (_, None) => {
                        let doc = json!({
                            "status": { "statusCode": "CREATING" },
                            "data": body["data"],
                            "createdAt": now_secs(),
                            "modifiedAt": now_secs(),
                        });
                        let status = doc["status"].clone();
                        self.definitions.insert(
                            ws.to_string(),
                            Object {
                                doc,
                                until: Some(Instant::now() + settle),
                                account: caller.account.clone(),
                                region: caller.region.clone(),
                            },
                        );
                        status
                    }
                };
                Response::json(202, &json!({ "status": status }))
            }
            "DescribeAlertManagerDefinition" => {
                match self.definitions.get(ws).filter(|o| o.owned_by(caller)) {
                    Some(o) => Response::json(200, &json!({ "alertManagerDefinition": o.doc })),
                    None => error(
                        404,
                        "ResourceNotFoundException",
                        &format!("No Alertmanager definition found for {ws}"),
                    ),
                }
            }
            _ => match self.definitions.get_mut(ws).filter(|o| o.owned_by(caller)) {
                Some(o) => {
                    o.doc["status"] = json!({ "statusCode": "DELETING" });
                    o.until = Some(Instant::now() + settle);
                    Response::json(202, &json!({}))
                }
                None => error(
                    404,
                    "ResourceNotFoundException",
                    &format!("No Alertmanager definition found for {ws}"),
                ),
            },
        }
    }

    /// Asks the upstream whether the workspace exists, with the caller's
    /// own (signed) headers.
    fn workspace_exists(&self, req: &Request, ws: &str) -> bool {
        let probe = Request {
            method: "GET".into(),
            path: format!("/workspaces/{ws}"),
            query: Vec::new(),
            body: Vec::new(),
            target: format!("/workspaces/{ws}"),
            headers: req
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
                .cloned()
                .collect(),
        };
        forward(&self.upstream, &probe).status == 200
    }
}
