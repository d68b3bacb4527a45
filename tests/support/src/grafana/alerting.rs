//! The alerting provisioning API: contact points (secrets redacted),
//! alert rules and rule groups.

use serde_json::{Value, json};

use super::{GrafanaState, msg};
use crate::http::Response;

/// Secret integration settings, returned redacted.
const SECRET_SETTINGS: [&str; 3] = ["access_key", "secret_key", "password"];

impl GrafanaState {
    pub(super) fn save_contact_point(&mut self, uid: Option<&str>, b: &Value) -> Response {
        let name = b["name"].as_str().unwrap_or_default();
        let ty = b["type"].as_str().unwrap_or_default();
        if name.is_empty() {
            return msg(400, "invalid object specification: name is required");
        }
        let settings = &b["settings"];
        let missing = match ty {
            "email" => settings["addresses"]
                .as_str()
                .is_none_or(str::is_empty)
                .then_some("could not find addresses in settings"),
            "sns" => (settings["topic_arn"].is_null()
                && settings["target_arn"].is_null()
                && settings["phone_number"].is_null())
            .then_some("must specify topic_arn, target_arn or phone_number"),
            "webhook" | "slack" | "pagerduty" | "opsgenie" | "teams" | "discord" | "telegram" => {
                None
            }
            _ => Some("unknown integration type"),
        };
        if let Some(why) = missing {
            return msg(
                400,
                &format!("failed to validate integration \"{name}\" (type {ty}): {why}"),
            );
        }
        let creating = uid.is_none();
        let uid = match uid {
            Some(u) => match self.contact_points.iter().position(|c| c["uid"] == u) {
                Some(i) => {
                    self.contact_points.remove(i);
                    u.to_string()
                }
                None => return msg(404, "contact point not found"),
            },
            None => {
                if b["uid"]
                    .as_str()
                    .is_some_and(|u| self.contact_points.iter().any(|c| c["uid"] == u))
                {
                    return msg(409, "contact point with this uid already exists");
                }
                self.uid(&b["uid"])
            }
        };
        let cp = json!({ "uid": uid, "name": name, "type": ty, "settings": settings, "disableResolveMessage": b["disableResolveMessage"] == true });
        self.contact_points.push(cp.clone());
        let body = if creating {
            redact(&cp)
        } else {
            json!({ "message": "contactpoint updated" })
        };
        Response::json(202, &body)
    }

    pub(super) fn delete_contact_point(&mut self, uid: &str) -> Response {
        let Some(i) = self.contact_points.iter().position(|c| c["uid"] == uid) else {
            return msg(404, "contact point not found");
        };
        let name = self.contact_points[i]["name"].clone();
        let last = self
            .contact_points
            .iter()
            .filter(|c| c["name"] == name)
            .count()
            == 1;
        if last
            && self
                .rules
                .values()
                .any(|r| r["notification_settings"]["receiver"] == name)
        {
            return msg(
                409,
                "contact point is referenced by one or more alert rules",
            );
        }
        self.contact_points.remove(i);
        msg(202, "contactpoint deleted")
    }

    pub(super) fn save_rule(&mut self, uid: Option<&str>, b: &Value) -> Response {
        let folder = b["folderUID"].as_str().unwrap_or_default().to_string();
        let group = b["ruleGroup"].as_str().unwrap_or_default().to_string();
        if b["title"].as_str().is_none_or(str::is_empty) || group.is_empty() {
            return msg(400, "invalid alert rule: title and ruleGroup are required");
        }
        if !self.folders.contains_key(&folder) {
            return msg(
                400,
                &format!("invalid alert rule: folder {folder} does not exist"),
            );
        }
        let data = b["data"].as_array().cloned().unwrap_or_default();
        if !data.iter().any(|d| d["refId"] == b["condition"]) {
            return msg(
                400,
                "invalid alert rule: condition must refer to a query or expression in data",
            );
        }
        for d in &data {
            let ds = d["datasourceUid"].as_str().unwrap_or_default();
            if ds != "__expr__" && !self.datasources.contains_key(ds) {
                return msg(
                    400,
                    &format!("invalid alert rule: data source {ds} does not exist"),
                );
            }
        }
        if let Some(r) = b["notification_settings"]["receiver"].as_str()
            && !self.contact_points.iter().any(|c| c["name"] == r)
        {
            return msg(
                400,
                &format!("invalid alert rule: receiver {r} does not exist"),
            );
        }
        let (uid, status, id) = match uid {
            Some(u) => match self.rules.get(u) {
                Some(r) => (u.to_string(), 200, r["id"].clone()),
                None => return msg(404, "rule not found"),
            },
            None => {
                if b["uid"]
                    .as_str()
                    .is_some_and(|u| self.rules.contains_key(u))
                {
                    return msg(409, "a rule with this uid already exists");
                }
                (self.uid(&b["uid"]), 201, json!(self.id()))
            }
        };
        let mut r = b.clone();
        r["uid"] = json!(uid);
        r["id"] = id;
        r["orgID"] = json!(1);
        r["provenance"] = json!("api");
        r["updated"] = json!("2026-01-01T00:00:00Z");
        // Grafana writes durations its own way.
        if let Some(f) = b["for"].as_str() {
            r["for"] = json!(match f {
                "0s" | "0" => "0s".to_string(),
                f if f.ends_with('m') && !f.contains('h') => format!("{f}0s"),
                f => f.to_string(),
            });
        }
        self.rules.insert(uid, r.clone());
        self.groups.entry((folder, group)).or_insert(60);
        Response::json(status, &r)
    }

    pub(super) fn group(&self, folder: &str, group: &str) -> Response {
        let interval = self
            .groups
            .get(&(folder.to_string(), group.to_string()))
            .filter(|_| !self.hide_groups);
        let Some(interval) = interval else {
            return msg(404, "rule group not found");
        };
        let rules: Vec<&Value> = self
            .rules
            .values()
            .filter(|r| r["folderUID"] == folder && r["ruleGroup"] == group)
            .collect();
        Response::json(
            200,
            &json!({ "title": group, "folderUid": folder, "interval": interval, "rules": rules }),
        )
    }

    pub(super) fn put_group(&mut self, folder: &str, group: &str, b: &Value) -> Response {
        let Some(interval) = b["interval"].as_u64().filter(|i| *i >= 10 && i % 10 == 0) else {
            return msg(
                400,
                "invalid rule group: interval must be a multiple of 10 seconds",
            );
        };
        self.groups
            .insert((folder.to_string(), group.to_string()), interval);
        for r in b["rules"].as_array().into_iter().flatten() {
            if let Some(uid) = r["uid"].as_str() {
                self.rules.insert(uid.to_string(), r.clone());
            }
        }
        self.group(folder, group)
    }
}

/// A contact point as GET returns it: secrets replaced by "[REDACTED]".
pub(super) fn redact(c: &Value) -> Value {
    let mut c = c.clone();
    fn walk(v: &mut Value) {
        if let Some(o) = v.as_object_mut() {
            for (k, e) in o.iter_mut() {
                if SECRET_SETTINGS.contains(&k.as_str()) && e.is_string() {
                    *e = json!("[REDACTED]");
                } else {
                    walk(e);
                }
            }
        }
    }
    walk(&mut c["settings"]);
    c
}
