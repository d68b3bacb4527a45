//! Folders, dashboards by uid (save, import with inputs, get, and their
//! version and title checks), and the grafana.com proxy's dashboard info.

use serde_json::{Value, json};

use super::{GrafanaState, msg};
use crate::http::Response;

fn slug(title: &str) -> String {
    title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Replaces `${NAME}` in every string of a dashboard model.
fn substitute(v: &mut Value, vars: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (k, val) in vars {
                *s = s.replace(&format!("${{{k}}}"), val);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|e| substitute(e, vars)),
        Value::Object(o) => o.values_mut().for_each(|e| substitute(e, vars)),
        _ => {}
    }
}

impl GrafanaState {
    pub(super) fn create_folder(&mut self, b: &Value) -> Response {
        let Some(title) = b["title"].as_str().filter(|t| !t.is_empty()) else {
            return msg(400, "folder name cannot be empty");
        };
        if b["uid"]
            .as_str()
            .is_some_and(|u| self.folders.contains_key(u))
        {
            return msg(409, "a folder with the same uid already exists");
        }
        if self.folders.values().any(|f| f["title"] == title) {
            return msg(409, "a folder with the same name already exists");
        }
        let (uid, id) = (self.uid(&b["uid"]), self.id());
        let f = json!({ "id": id, "uid": uid, "title": title, "url": format!("/dashboards/f/{uid}/{}", slug(title)), "version": 1, "hasAcl": false, "canSave": true });
        self.folders.insert(uid, f.clone());
        Response::json(200, &f)
    }

    pub(super) fn update_folder(&mut self, uid: &str, b: &Value) -> Response {
        let Some(f) = self.folders.get_mut(uid) else {
            return msg(404, "folder not found");
        };
        if b["overwrite"] != true && b["version"] != f["version"] {
            return Response::json(
                412,
                &json!({ "message": "the folder has been changed by someone else", "status": "version-mismatch" }),
            );
        }
        if let Some(t) = b["title"].as_str() {
            f["title"] = json!(t);
            f["url"] = json!(format!("/dashboards/f/{uid}/{}", slug(t)));
        }
        f["version"] = json!(f["version"].as_i64().unwrap_or(0) + 1);
        Response::json(200, f)
    }

    pub(super) fn delete_folder(&mut self, uid: &str, force_rules: bool) -> Response {
        if !self.folders.contains_key(uid) {
            return msg(404, "folder not found");
        }
        if !force_rules && self.rules.values().any(|r| r["folderUID"] == uid) {
            return msg(400, "folder cannot be deleted: folder contains alert rules");
        }
        let f = self.folders.remove(uid).expect("present");
        self.dashboards.retain(|_, (_, folder)| folder != uid);
        self.rules.retain(|_, r| r["folderUID"] != uid);
        self.groups.retain(|(folder, _), _| folder != uid);
        Response::json(
            200,
            &json!({ "message": "Folder deleted", "title": f["title"], "id": f["id"] }),
        )
    }

    /// Saves a dashboard model; the saved model and Grafana's answer.
    pub(super) fn save_dashboard(
        &mut self,
        mut d: Value,
        folder: &str,
        overwrite: bool,
    ) -> (Option<Value>, Response) {
        let Some(title) = d["title"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
        else {
            return (None, msg(400, "Dashboard title cannot be empty"));
        };
        if !folder.is_empty() && !self.folders.contains_key(folder) {
            return (None, msg(400, "folder not found"));
        }
        let uid = self.uid(&d["uid"]);
        let existing = self.dashboards.get(&uid).map(|(e, _)| e.clone());
        if !overwrite {
            if let Some(e) = &existing
                && d["version"] != e["version"]
            {
                return (
                    None,
                    Response::json(
                        412,
                        &json!({ "status": "version-mismatch", "message": "The dashboard has been changed by someone else" }),
                    ),
                );
            }
            if self
                .dashboards
                .iter()
                .any(|(u, (o, f))| *u != uid && o["title"] == title.as_str() && f == folder)
            {
                return (
                    None,
                    Response::json(
                        412,
                        &json!({ "status": "name-exists", "message": "A dashboard with the same name in the folder already exists" }),
                    ),
                );
            }
        }
        let id = existing
            .as_ref()
            .and_then(|e| e["id"].as_i64())
            .unwrap_or_else(|| self.id());
        let version = existing
            .as_ref()
            .and_then(|e| e["version"].as_i64())
            .unwrap_or(0)
            + 1;
        d["id"] = json!(id);
        d["uid"] = json!(uid);
        d["version"] = json!(version);
        self.dashboards
            .insert(uid.clone(), (d.clone(), folder.to_string()));
        let url = format!("/d/{uid}/{}", slug(&title));
        let r = json!({ "id": id, "uid": uid, "url": url, "status": "success", "version": version, "slug": slug(&title) });
        (Some(d), Response::json(200, &r))
    }

    pub(super) fn import(&mut self, b: &Value) -> Response {
        let mut d = b["dashboard"].clone();
        let mut vars = Vec::new();
        for wanted in d["__inputs"].as_array().cloned().unwrap_or_default() {
            let name = wanted["name"].as_str().unwrap_or_default();
            let given = b["inputs"]
                .as_array()
                .and_then(|l| l.iter().find(|i| i["name"] == name));
            match given.and_then(|g| g["value"].as_str()) {
                Some(v) => vars.push((name.to_string(), v.to_string())),
                None => return msg(400, &format!("Dashboard input missing: {name}")),
            }
        }
        if let Some(o) = d.as_object_mut() {
            o.remove("__inputs");
        }
        substitute(&mut d, &vars);
        let folder = b["folderUid"].as_str().unwrap_or("").to_string();
        let (saved, resp) = self.save_dashboard(d, &folder, b["overwrite"] == true);
        let Some(saved) = saved else { return resp };
        let (uid, title) = (
            saved["uid"].as_str().unwrap_or_default(),
            saved["title"].as_str().unwrap_or_default(),
        );
        Response::json(
            200,
            &json!({
                "uid": uid, "pluginId": "", "title": title, "imported": true, "importedUri": format!("db/{}", slug(title)),
                "importedUrl": format!("/d/{uid}/{}", slug(title)), "slug": slug(title), "dashboardId": saved["id"],
                "folderUid": folder, "importedRevision": 1, "revision": 1, "description": "", "path": "", "removed": false,
            }),
        )
    }

    pub(super) fn get_dashboard(&self, uid: &str) -> Response {
        let Some((d, folder)) = self.dashboards.get(uid) else {
            return msg(404, "Dashboard not found");
        };
        let title = d["title"].as_str().unwrap_or_default();
        let folder_title = self
            .folders
            .get(folder)
            .map_or(json!("General"), |f| f["title"].clone());
        Response::json(
            200,
            &json!({
                "dashboard": d,
                "meta": { "type": "db", "slug": slug(title), "url": format!("/d/{uid}/{}", slug(title)), "version": d["version"],
                          "folderUid": folder, "folderTitle": folder_title, "canSave": true, "provisioned": false },
            }),
        )
    }

    pub(super) fn gnet_info(&self, id: &str) -> Response {
        let id: i64 = id.parse().unwrap_or(0);
        let Some(revs) = self.gnet.get(&id) else {
            return msg(404, &format!("grafana.com has no dashboard {id}"));
        };
        let latest = revs.last().cloned().unwrap_or(Value::Null);
        Response::json(
            200,
            &json!({ "id": id, "name": latest["title"], "revision": revs.len(), "json": latest, "downloads": 1_000_000 }),
        )
    }
}
