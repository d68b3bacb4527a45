//! Data sources, by uid: names and uids unique, secrets kept apart and
//! shown only as `secureJsonFields`, the version bumped on each save.
//!
//! From Grafana 12 on, Amazon Managed Grafana no longer supports SigV4 in
//! the core Prometheus plugin: "Starting with Amazon Managed Grafana
//! version 12, support for SigV4 authentication in the core Prometheus
//! plugin has been removed. All Amazon Managed Service for Prometheus data
//! sources that previously used the core Prometheus plugin are
//! automatically migrated to the Amazon Managed Service for Prometheus
//! plugin" (AMG user guide, prometheus-manually-adding; the wording is
//! the guide's Italian copy, translated, as the English copy read here
//! predates the note). Such a data source queries AMP unsigned and gets
//! 403s; the server refuses to save it, naming the plugin to use,
//! `grafana-amazonprometheus-datasource` ("available starting in Amazon
//! Managed Grafana version 12", amazon-prometheus-data-source).

use serde_json::{Value, json};

use super::{GrafanaState, msg};
use crate::http::Response;

/// The Amazon Managed Service for Prometheus plugin's type.
pub const AMP_PLUGIN: &str = "grafana-amazonprometheus-datasource";

/// Why a Grafana of `version` refuses data source `b`, if it does: only an
/// AMG workspace (`amg`) refuses, since the removal is AMG's (open-source
/// Grafana 12 deprecates SigV4 in the core plugin; its 13 migrates such
/// data sources on start-up).
fn refused(version: &str, amg: bool, b: &Value) -> Option<String> {
    if !amg {
        return None;
    }
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    (major >= 12 && b["type"] == "prometheus" && b["jsonData"]["sigV4Auth"] == true).then(|| {
        format!(
            "SigV4 authentication is not supported by the core Prometheus data source in Grafana \
             {version}: use the Amazon Managed Service for Prometheus data source (type {AMP_PLUGIN})"
        )
    })
}

impl GrafanaState {
    pub(crate) fn save_datasource(&mut self, uid: Option<&str>, b: &Value) -> Response {
        let Some(name) = b["name"].as_str().filter(|n| !n.is_empty()) else {
            return msg(400, "Required data source name");
        };
        if let Some(why) = refused(&self.version, self.amg, b) {
            return msg(400, &why);
        }
        let prior = match uid {
            Some(u) => match self.datasources.get(u) {
                Some(d) => Some(d.clone()),
                None => return msg(404, "Data source not found"),
            },
            None => None,
        };
        if self
            .datasources
            .values()
            .any(|d| d["name"] == name && Some(&d["uid"]) != prior.as_ref().map(|p| &p["uid"]))
        {
            return msg(409, "data source with the same name already exists");
        }
        if prior.is_none()
            && b["uid"]
                .as_str()
                .is_some_and(|u| self.datasources.contains_key(u))
        {
            return msg(409, "data source with the same uid already exists");
        }
        let uid = match &prior {
            Some(p) => p["uid"].as_str().unwrap_or_default().to_string(),
            None => self.uid(&b["uid"]),
        };
        let id = match &prior {
            Some(p) => p["id"].as_i64().unwrap_or(0),
            None => self.id(),
        };
        let secrets = self.secrets.entry(uid.clone()).or_default();
        for (k, v) in b["secureJsonData"].as_object().into_iter().flatten() {
            secrets.insert(k.clone(), v.clone());
        }
        let fields: serde_json::Map<String, Value> =
            secrets.keys().map(|k| (k.clone(), json!(true))).collect();
        let version = prior
            .as_ref()
            .and_then(|p| p["version"].as_i64())
            .unwrap_or(0)
            + 1;
        let d = json!({
            "id": id, "uid": uid, "orgId": 1, "name": name, "type": b["type"], "typeName": b["type"],
            "access": b["access"].as_str().unwrap_or("proxy"), "url": b["url"].as_str().unwrap_or(""),
            "user": "", "database": "", "basicAuth": false, "isDefault": b["isDefault"] == true,
            "jsonData": if b["jsonData"].is_object() { b["jsonData"].clone() } else { json!({}) },
            "secureJsonFields": fields, "version": version, "readOnly": false,
        });
        self.datasources.insert(uid, d.clone());
        let message = if prior.is_some() {
            "Datasource updated"
        } else {
            "Datasource added"
        };
        Response::json(
            200,
            &json!({ "datasource": d, "id": id, "message": message, "name": name }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_on_the_core_plugin_is_refused_by_amg_from_grafana_12_on() {
        let core = json!({"type": "prometheus", "jsonData": {"sigV4Auth": true}});
        let amp = json!({"type": AMP_PLUGIN, "jsonData": {"sigV4Auth": true}});
        let plain = json!({"type": "prometheus", "jsonData": {}});
        assert!(refused("10.4", true, &core).is_none());
        assert!(refused("12.4", true, &core).is_some_and(|m| m.contains(AMP_PLUGIN)));
        assert!(refused("13.0", true, &core).is_some());
        assert!(refused("12.4", true, &amp).is_none());
        assert!(refused("12.4", true, &plain).is_none());
        // A Grafana no AMG workspace runs keeps the core plugin's SigV4.
        assert!(refused("12.4", false, &core).is_none());
    }
}
