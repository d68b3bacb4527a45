//! Workspace service accounts and their tokens: names unique per
//! workspace, tokens living at most 30 days, and, when the server is
//! linked to a Grafana test server, granted there as bearer tokens until
//! they expire or are deleted.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Account, Inner, Linked, ROLES, Token, error, invalid, not_found, now, one_of};
use crate::http::Response;

impl Inner {
    pub(super) fn create_account(&mut self, id: &str, b: &Value) -> Response {
        let n = self.id();
        let Some(w) = self.workspaces.get_mut(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let (Some(name), true) = (b["name"].as_str(), one_of(&b["grafanaRole"], ROLES)) else {
            return invalid("name and grafanaRole (ADMIN, EDITOR, VIEWER) are required");
        };
        if w.accounts.values().any(|a| a.name == name) {
            return error(
                409,
                "ConflictException",
                &format!("service account {name} already exists"),
            );
        }
        let sa = n.to_string();
        let role = b["grafanaRole"].as_str().unwrap_or_default().to_string();
        w.accounts.insert(
            sa.clone(),
            Account {
                name: name.to_string(),
                role: role.clone(),
                tokens: BTreeMap::new(),
            },
        );
        Response::json(
            200,
            &json!({ "id": sa, "name": name, "grafanaRole": role, "workspaceId": id }),
        )
    }

    // The published model types `isDisabled` as a string ("false"), not a boolean.
    pub(super) fn list_accounts(&mut self, id: &str) -> Response {
        let Some(w) = self.workspaces.get(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let list: Vec<Value> = w.accounts.iter().map(|(sa, a)| json!({ "id": sa, "name": a.name, "grafanaRole": a.role, "isDisabled": "false" })).collect();
        Response::json(200, &json!({ "serviceAccounts": list, "workspaceId": id }))
    }

    pub(super) fn delete_account(&mut self, id: &str, sa: &str) -> Response {
        let Some(w) = self.workspaces.get_mut(id) else {
            return not_found(&format!("workspace {id}"));
        };
        let Some(a) = w.accounts.remove(sa) else {
            return not_found(&format!("service account {sa}"));
        };
        if let Some(Linked { tokens, .. }) = &self.grafana {
            tokens.revoke(&a.tokens.values().map(|t| t.key.clone()).collect::<Vec<_>>());
        }
        Response::json(200, &json!({ "serviceAccountId": sa, "workspaceId": id }))
    }

    pub(super) fn create_token(&mut self, id: &str, sa: &str, b: &Value) -> Response {
        let n = self.id();
        let Some(a) = self
            .workspaces
            .get_mut(id)
            .and_then(|w| w.accounts.get_mut(sa))
        else {
            return not_found(&format!("service account {sa} in workspace {id}"));
        };
        let (Some(name), Some(ttl)) = (b["name"].as_str(), b["secondsToLive"].as_u64()) else {
            return invalid("name and secondsToLive are required");
        };
        if ttl == 0 || ttl > 2_592_000 {
            return invalid("secondsToLive must be between 1 and 2592000 (30 days)");
        }
        if a.tokens.values().any(|t| t.name == name) {
            return error(
                409,
                "ConflictException",
                &format!("token {name} already exists"),
            );
        }
        let (tid, key) = (
            n.to_string(),
            format!("glsa_amgtest_{n:08x}_{:x}", now() as u64),
        );
        let t = now();
        a.tokens.insert(
            tid.clone(),
            Token {
                name: name.into(),
                created: t,
                expires: t + ttl as f64,
                key: key.clone(),
            },
        );
        if let Some(Linked { tokens, .. }) = &self.grafana {
            tokens.grant(&key, SystemTime::now() + Duration::from_secs(ttl));
        }
        Response::json(
            200,
            &json!({
                "serviceAccountId": sa, "workspaceId": id,
                "serviceAccountToken": { "id": tid, "name": name, "key": key },
            }),
        )
    }

    pub(super) fn list_tokens(&mut self, id: &str, sa: &str) -> Response {
        let Some(a) = self.workspaces.get(id).and_then(|w| w.accounts.get(sa)) else {
            return not_found(&format!("service account {sa} in workspace {id}"));
        };
        let list: Vec<Value> = a
            .tokens
            .iter()
            .map(|(tid, t)| json!({ "id": tid, "name": t.name, "createdAt": t.created, "expiresAt": t.expires }))
            .collect();
        Response::json(
            200,
            &json!({ "serviceAccountId": sa, "workspaceId": id, "serviceAccountTokens": list }),
        )
    }

    pub(super) fn delete_token(&mut self, id: &str, sa: &str, tid: &str) -> Response {
        let Some(a) = self
            .workspaces
            .get_mut(id)
            .and_then(|w| w.accounts.get_mut(sa))
        else {
            return not_found(&format!("service account {sa} in workspace {id}"));
        };
        let Some(t) = a.tokens.remove(tid) else {
            return not_found(&format!("token {tid}"));
        };
        if let Some(Linked { tokens, .. }) = &self.grafana {
            tokens.revoke(&[t.key]);
        }
        Response::json(
            200,
            &json!({ "serviceAccountId": sa, "workspaceId": id, "tokenId": tid }),
        )
    }
}
