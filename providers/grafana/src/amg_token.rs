//! `aws_grafana_service_account_token`: a token for a workspace service
//! account — what the `grafana` provider authenticates with. AMG shows the
//! key once, at creation; it is kept in state as a sensitive value.
//!
//! Tokens expire (AMG allows at most 30 days), and a scheduled `meshmon
//! apply` must not start failing with 401s the day one does. So a token
//! plans as a replacement once it is inside its renewal margin:
//!
//! - `renew_before` when set ("7d", "12h", …);
//! - otherwise 7 days, or a third of `seconds_to_live` when that is
//!   shorter — a 30-day token is renewed in its last week, a 1-day token in
//!   its last 8 hours, rather than on every run.
//!
//! A margin as long as the lifetime renews on every run, which is what a
//! test of the renewal wants and a user rarely does.
//!
//! A token cannot be recovered after a lost answer: its key was in that
//! answer, and AMG never shows it again. So `recover` deletes a token with
//! the create's name (unique per service account) and lets the create run
//! again for a fresh one.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_grafana::types::ServiceAccountTokenSummary;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use meshmon_aws_common::error::{found_with, gone_ok_with};
use meshmon_aws_common::wait::create_call_with;
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, PlanAdvice, ProviderError, UpdateGroup, Value,
    async_trait, declare,
};

use crate::amg::{Clients, hint};
use crate::attrs::{Attrs, a_duration, duration, str_of};

const DEFAULT_MARGIN: Duration = Duration::from_secs(7 * 86_400);

declare! {
    pub(crate) struct TokenIn for "aws_grafana_service_account_token"
        ("A token of an AMG workspace service account; renewed before it expires.")
    {
        workspace_id: String = required(AttrType::String).force_new();
        service_account_id: String = required(AttrType::String).force_new();
        name: String = required(AttrType::String).force_new();
        seconds_to_live: i64 = required(AttrType::Int)
            .force_new()
            .describe("Lifetime in seconds, at most 2592000 (30 days).");
        renew_before: Option<String> = optional(AttrType::String).check(a_duration).describe(
            "Replace the token when it expires within this long, like \"7d\"; default 7 days, or a third of \
             seconds_to_live when that is shorter.",
        );
    }
    outputs TokenOut {
        id: String = computed(AttrType::String)
            .describe("The token's ID; import as WORKSPACE_ID/SERVICE_ACCOUNT_ID/TOKEN_ID.");
        key: Option<String> = computed(AttrType::String)
            .sensitive()
            .describe("The secret, for `[providers.grafana] auth`; AMG shows it only at creation.");
        expires_at: String = computed(AttrType::String).describe("RFC 3339.");
    }
}

/// How long before expiry a token is replaced (see the module docs).
pub fn renewal_margin(
    renew_before: Option<&str>,
    seconds_to_live: i64,
) -> Result<Duration, ProviderError> {
    match renew_before {
        Some(s) => duration("renew_before", s),
        None => Ok(DEFAULT_MARGIN.min(Duration::from_secs(seconds_to_live.max(0) as u64 / 3))),
    }
}

/// Why the token must be replaced now, if it must.
fn renewal_reason(expires_at: &str, margin: Duration, now: SystemTime) -> Option<String> {
    let at = DateTime::from_str(expires_at, Format::DateTime).ok()?;
    let at = SystemTime::try_from(at).ok()?;
    let margin_text = humantime::format_duration(margin);
    if at <= now {
        Some(format!(
            "the token expired at {expires_at} (renewal margin {margin_text})"
        ))
    } else if at <= now + margin {
        Some(format!(
            "the token expires at {expires_at} (within the renewal margin of {margin_text})"
        ))
    } else {
        None
    }
}

fn rfc3339(t: &DateTime) -> String {
    t.fmt(Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
}

pub(crate) struct Token(Arc<Clients>);

/// What a token changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TokenUpdate {
    /// `renew_before` lives in meshmon alone: its update calls nothing.
    RenewBefore,
}

impl Token {
    /// The token's (created, expires) times and name, or `None` when it (or
    /// its account, or its workspace) no longer exists.
    async fn find(
        &self,
        ws: &str,
        sa: &str,
        id: &str,
    ) -> Result<Option<(DateTime, DateTime, String)>, ProviderError> {
        let t = self.find_by(ws, sa, |t| t.id() == id).await?;
        Ok(t.map(|t| (*t.created_at(), *t.expires_at(), t.name().to_string())))
    }

    /// The account's token `pick` chooses, or `None` when there is none
    /// (or no account, or no workspace).
    async fn find_by(
        &self,
        ws: &str,
        sa: &str,
        pick: impl Fn(&ServiceAccountTokenSummary) -> bool,
    ) -> Result<Option<ServiceAccountTokenSummary>, ProviderError> {
        let mut next: Option<String> = None;
        loop {
            let r = self
                .0
                .grafana
                .list_workspace_service_account_tokens()
                .workspace_id(ws)
                .service_account_id(sa)
                .set_next_token(next.take())
                .send()
                .await;
            let Some(out) = found_with(hint, "grafana:ListWorkspaceServiceAccountTokens", r)?
            else {
                return Ok(None);
            };
            if let Some(t) = out.service_account_tokens().iter().find(|t| pick(t)) {
                return Ok(Some(t.clone()));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(None),
            }
        }
    }

    /// The token, keeping what only the record has: its key, and the
    /// `renew_before` that lives in meshmon alone.
    async fn get(
        &self,
        ws: &str,
        sa: &str,
        id: &str,
        prior: &Current,
    ) -> Result<Option<Current<TokenOut>>, ProviderError> {
        let Some((created, expires, name)) = self.find(ws, sa, id).await? else {
            return Ok(None);
        };
        // AMG does not return the lifetime; the span between creation and
        // expiry is it, give or take a clock tick.
        let span = expires.secs() - created.secs();
        let ttl = match prior.inputs.get("seconds_to_live").and_then(Value::as_i64) {
            Some(p) if (p - span).abs() <= 60 => p,
            _ => span,
        };
        let inputs = Attrs::new()
            .set("workspace_id", ws)
            .set("service_account_id", sa)
            .set("name", name)
            .set("seconds_to_live", ttl)
            .keep(&prior.inputs, "renew_before")
            .build();
        let outputs = TokenOut {
            id: id.into(),
            key: prior
                .outputs
                .get("key")
                .and_then(Value::as_str)
                .map(str::to_string),
            expires_at: rfc3339(&expires),
        };
        Ok(Some(Current::new(inputs, outputs)))
    }
}

/// The parts of an imported token's ID, WORKSPACE_ID/SERVICE_ACCOUNT_ID/TOKEN_ID.
fn token_id(id: &str) -> Result<(&str, &str, &str), ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    let [ws, sa, token] = parts[..] else {
        return Err(ProviderError::new(format!(
            "{id:?} is not WORKSPACE_ID/SERVICE_ACCOUNT_ID/TOKEN_ID"
        ))
        .with_hint("import a token as g-abc123/7/42"));
    };
    Ok((ws, sa, token))
}

/// A read keeps the recorded key ([`Declared::read`]); `fetch` is the
/// import's, of WORKSPACE_ID/SERVICE_ACCOUNT_ID/TOKEN_ID, with no key.
#[async_trait]
impl Declared for Token {
    type Inputs = TokenIn;
    type Outputs = TokenOut;
    type Client = Clients;
    type Group = TokenUpdate;
    const UPDATES: &'static [UpdateGroup<TokenUpdate>] =
        &[(TokenUpdate::RenewBefore, &["renew_before"])];

    fn new(clients: Arc<Clients>) -> Self {
        Token(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Map,
    ) -> Result<Option<Current<TokenOut>>, ProviderError> {
        let (ws, sa, token) = token_id(id)?;
        self.get(ws, sa, token, &Current::default()).await
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        token_id(id).map(|_| id.to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, TokenIn>,
    ) -> Result<TokenOut, ProviderError> {
        renewal_margin(i.renew_before.as_deref(), i.seconds_to_live)?;
        let ttl = i32::try_from(i.seconds_to_live)
            .map_err(|_| ProviderError::new("`seconds_to_live` is out of range"))?;
        let asked = SystemTime::now();
        let g = &self.0.creates;
        let out = create_call_with(
            ctx,
            hint,
            "grafana:CreateWorkspaceServiceAccountToken",
            || {
                g.create_workspace_service_account_token()
                    .workspace_id(&i.workspace_id)
                    .service_account_id(&i.service_account_id)
                    .name(&i.name)
                    .seconds_to_live(ttl)
                    .send()
            },
        )
        .await?;
        // The SDK fills a missing token with empty fields: an answer
        // without an ID or a key holds nothing to record. The token may
        // exist all the same, so the create is ambiguous and `recover`
        // deletes it before the create runs again.
        let t = out
            .service_account_token()
            .filter(|t| !t.id().is_empty() && !t.key().is_empty())
            .ok_or_else(|| {
                ProviderError::new("grafana:CreateWorkspaceServiceAccountToken returned no token")
                    .ambiguous()
            })?;
        // The answer carries no expiry: ask for it, or count from the
        // request — also when the list fails, since the key in hand is the
        // only copy there will ever be.
        let expires = match self
            .find(&i.workspace_id, &i.service_account_id, t.id())
            .await
        {
            Ok(Some((_, e, _))) => e,
            Ok(None) | Err(_) => DateTime::from(asked + Duration::from_secs(ttl.max(0) as u64)),
        };
        Ok(TokenOut {
            id: t.id().into(),
            key: Some(t.key().into()),
            expires_at: rfc3339(&expires),
        })
    }

    /// Never adopts: a token found by the create's name (unique per service
    /// account) is deleted and `Ok(None)` returned, so that the create runs
    /// again and gets a key — the lost answer held the only copy of this
    /// token's.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, TokenIn>,
    ) -> Result<Option<TokenOut>, ProviderError> {
        let (ws, sa) = (&i.workspace_id, &i.service_account_id);
        let Some(t) = self.find_by(ws, sa, |t| t.name() == i.name).await? else {
            return Ok(None);
        };
        ctx.progress(&format!(
            "deleting token {} ({}): its key was lost with the create's answer",
            t.name(),
            t.id()
        ));
        let r = self
            .0
            .grafana
            .delete_workspace_service_account_token()
            .workspace_id(ws)
            .service_account_id(sa)
            .token_id(t.id())
            .send()
            .await;
        gone_ok_with(hint, "grafana:DeleteWorkspaceServiceAccountToken", r)?;
        Ok(None)
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: TokenUpdate,
        _id: &str,
        _prior: &Current,
        i: &Inputs<'_, TokenIn>,
    ) -> Result<Option<TokenOut>, ProviderError> {
        let TokenUpdate::RenewBefore = group;
        renewal_margin(i.renew_before.as_deref(), i.seconds_to_live)?;
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
        let r = self
            .0
            .grafana
            .delete_workspace_service_account_token()
            .workspace_id(str_of(&prior.inputs, "workspace_id")?)
            .service_account_id(str_of(&prior.inputs, "service_account_id")?)
            .token_id(id)
            .send()
            .await;
        gone_ok_with(hint, "grafana:DeleteWorkspaceServiceAccountToken", r)
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let mut advice = PlanAdvice::default();
        let Some(prior) = prior else { return advice };
        if prior.outputs.get("key").is_none_or(Value::is_null) {
            advice.replace_because =
                Some("the token's key is not known (AMG shows it only at creation, and this token was imported)".into());
            return advice;
        }
        let ttl = desired
            .get("seconds_to_live")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let renew_before = desired.get("renew_before").and_then(Value::as_str);
        let margin = renewal_margin(renew_before, ttl).unwrap_or_else(|e| {
            advice
                .notes
                .push(format!("{}; using the default renewal margin", e.message));
            renewal_margin(None, ttl).unwrap_or(DEFAULT_MARGIN)
        });
        if let Some(at) = prior.outputs.get("expires_at").and_then(Value::as_str) {
            advice.replace_because = renewal_reason(at, margin, SystemTime::now());
        }
        advice
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<Option<Current<TokenOut>>, ProviderError> {
        let ws = str_of(&prior.inputs, "workspace_id")?;
        let sa = str_of(&prior.inputs, "service_account_id")?;
        self.get(ws, sa, id, prior).await
    }
}

#[cfg(test)]
#[path = "amg_token_test.rs"]
mod tests;
