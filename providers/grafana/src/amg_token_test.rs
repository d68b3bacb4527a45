//! The token over canned AMG answers: what each call sends, the record an
//! answer makes, where the key (shown once, at creation) is kept, and how
//! AMG's refusals come back; then the renewal margins.

use std::sync::Mutex;

use meshmon_provider_sdk::declared::Adapter;
use meshmon_provider_sdk::{Declaration, Resource, Value};
use meshmon_test_support::aws_replay::Answer;
use serde_json::json;

use super::*;
use crate::testing::{amg, creating, inputs};

const TOKENS: &str = "/workspaces/g-1/serviceaccounts/7/tokens";
const CREATED: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn ctx() -> OpContext {
    OpContext::quiet("aws_grafana_service_account_token.meshmon")
}

/// A token as ListWorkspaceServiceAccountTokens lists it.
fn summary(id: &str, name: &str, created: i64, expires: i64) -> serde_json::Value {
    json!({"id": id, "name": name, "createdAt": created, "expiresAt": expires})
}

/// One page of the account's tokens.
fn page(tokens: Vec<serde_json::Value>, next: Option<&str>) -> Answer {
    let mut p =
        json!({"serviceAccountId": "7", "workspaceId": "g-1", "serviceAccountTokens": tokens});
    if let Some(t) = next {
        p["nextToken"] = json!(t);
    }
    Answer::ok(&p.to_string())
}

/// CreateWorkspaceServiceAccountToken's answer: the token with its key.
fn created(id: &str, key: &str) -> Answer {
    Answer::ok(
        &json!({"serviceAccountId": "7", "workspaceId": "g-1",
                "serviceAccountToken": {"id": id, "name": "meshmon", "key": key}})
        .to_string(),
    )
}

fn spec(extra: serde_json::Value) -> Map {
    let mut m = json!({
        "workspace_id": "g-1", "service_account_id": "7", "name": "meshmon",
        "seconds_to_live": DAY,
    });
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    inputs(m)
}

/// A token recorded by a create: its key and expiry in the outputs.
fn recorded(extra: serde_json::Value) -> Current {
    Current::new(
        spec(extra),
        inputs(json!({"id": "42", "key": "glsa_secret", "expires_at": at(CREATED + DAY)})),
    )
}

#[tokio::test]
async fn a_create_sends_name_and_lifetime_and_records_the_key_with_the_listed_expiry() {
    let (replay, c) = amg([
        created("42", "glsa_secret"),
        page(
            vec![
                summary("41", "old", CREATED - DAY, CREATED),
                summary("42", "meshmon", CREATED, CREATED + DAY),
            ],
            None,
        ),
    ]);
    let raw = spec(json!({"renew_before": "12h"}));
    let out = Token::new(c)
        .create(
            &creating("aws_grafana_service_account_token.meshmon"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        TokenOut {
            id: "42".into(),
            key: Some("glsa_secret".into()),
            expires_at: "2023-11-15T22:13:20Z".into(),
        }
    );
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", TOKENS)
    );
    assert_eq!(
        sent[0].json(),
        json!({"name": "meshmon", "secondsToLive": DAY}),
        "renew_before lives in meshmon alone"
    );
    assert_eq!(
        (sent[1].method.as_str(), sent[1].path.as_str()),
        ("GET", TOKENS),
        "the answer has no expiry: the list has"
    );
    assert_eq!(replay.unused(), 0);
}

#[tokio::test]
async fn a_created_token_the_list_lacks_expires_its_lifetime_after_the_request() {
    let (replay, c) = amg([created("42", "glsa_secret"), page(vec![], None)]);
    let before = SystemTime::now();
    let out = Token::new(c)
        .create(
            &creating("aws_grafana_service_account_token.meshmon"),
            &Inputs::decode(&spec(json!({}))).unwrap(),
        )
        .await
        .unwrap();
    let after = SystemTime::now();
    let secs = |t: SystemTime| DateTime::from(t).secs();
    let expires = DateTime::from_str(&out.expires_at, Format::DateTime)
        .unwrap()
        .secs();
    assert!(
        (secs(before) + DAY..=secs(after) + DAY).contains(&expires),
        "{} is not a day after the request",
        out.expires_at
    );
    assert_eq!(out.key.as_deref(), Some("glsa_secret"));
    assert_eq!(replay.sent().len(), 2);
}

#[tokio::test]
async fn a_list_that_fails_after_the_create_keeps_the_key_and_counts_the_expiry() {
    let (replay, c) = amg([
        created("42", "glsa_secret"),
        Answer::json_error(403, "AccessDeniedException"),
    ]);
    let out = Token::new(c)
        .create(
            &creating("aws_grafana_service_account_token.meshmon"),
            &Inputs::decode(&spec(json!({}))).unwrap(),
        )
        .await
        .expect("the key in hand is recorded");
    assert_eq!(out.id, "42");
    assert_eq!(out.key.as_deref(), Some("glsa_secret"));
    assert_eq!(replay.sent().len(), 2);
}

#[tokio::test]
async fn an_answer_without_a_token_is_ambiguous_not_an_empty_record() {
    let (_replay, c) = amg([Answer::ok(
        &json!({"serviceAccountId": "7", "workspaceId": "g-1"}).to_string(),
    )]);
    let err = Token::new(c)
        .create(
            &creating("aws_grafana_service_account_token.meshmon"),
            &Inputs::decode(&spec(json!({}))).unwrap(),
        )
        .await
        .expect_err("nothing to record");
    assert!(err.message.contains("returned no token"), "{err}");
    assert!(err.ambiguous, "the token may exist: recover looks for it");
}

#[tokio::test]
async fn a_lifetime_out_of_range_or_a_bad_margin_is_refused_before_any_request() {
    let (replay, c) = amg([]);
    let token = Token::new(c);
    let ctx = creating("aws_grafana_service_account_token.meshmon");
    let long = spec(json!({"seconds_to_live": 3_000_000_000_i64}));
    let err = token
        .create(&ctx, &Inputs::decode(&long).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.message, "`seconds_to_live` is out of range");
    let vague = spec(json!({"renew_before": "soon"}));
    let err = token
        .create(&ctx, &Inputs::decode(&vague).unwrap())
        .await
        .unwrap_err();
    assert!(err.message.contains("renew_before"), "{err}");
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_refused_create_names_its_operation_and_a_server_error_is_ambiguous() {
    let (replay, c) = amg([
        Answer::json_error(403, "AccessDeniedException"),
        Answer::json_error(402, "ServiceQuotaExceededException"),
        Answer::json_error(500, "InternalServerException"),
    ]);
    let token = Token::new(c);
    let ctx = creating("aws_grafana_service_account_token.meshmon");
    let raw = spec(json!({}));
    let err = token
        .create(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("grafana:CreateWorkspaceServiceAccountToken")
    );
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("`grafana:CreateWorkspaceServiceAccountToken`"),
        "{err:?}"
    );
    assert!(!err.ambiguous);
    assert_eq!(replay.sent().len(), 1, "a refusal is not sent again");

    let err = token
        .create(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ServiceQuotaExceededException"));
    assert!(
        err.hint.as_deref().unwrap().contains("AMG quota"),
        "{err:?}"
    );

    // AMG may have made the token before its 500: the engine recovers it.
    let err = token
        .create(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert!(err.ambiguous, "{err:?}");
    assert_eq!(replay.sent().len(), 3, "no list after a failed create");
}

#[tokio::test]
async fn a_read_pages_to_the_token_and_keeps_the_recorded_key_and_margin() {
    let (replay, c) = amg([
        page(
            vec![summary("41", "old", CREATED - DAY, CREATED)],
            Some("p2"),
        ),
        // AMG's clocks put the expiry 30 s past a day after creation.
        page(
            vec![summary("42", "meshmon", CREATED, CREATED + DAY + 30)],
            None,
        ),
    ]);
    let prior = recorded(json!({"renew_before": "12h"}));
    let now = Token::new(c)
        .read(&ctx(), "42", &prior)
        .await
        .unwrap()
        .expect("the token");
    assert_eq!(
        now.inputs,
        spec(json!({"renew_before": "12h"})),
        "a span within a minute of the recorded lifetime is that lifetime"
    );
    assert_eq!(
        now.outputs,
        TokenOut {
            id: "42".into(),
            key: Some("glsa_secret".into()),
            expires_at: "2023-11-15T22:13:50Z".into(),
        }
    );
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("GET", TOKENS)
    );
    assert!(!sent[0].query.iter().any(|(k, _)| k == "nextToken"));
    assert!(sent[1].query.contains(&("nextToken".into(), "p2".into())));
}

#[tokio::test]
async fn a_read_reports_the_lifetime_amg_shows_when_it_differs_and_a_new_name() {
    let (_, c) = amg([page(
        vec![summary("42", "renamed", CREATED, CREATED + 2 * DAY)],
        None,
    )]);
    let now = Token::new(c)
        .read(&ctx(), "42", &recorded(json!({})))
        .await
        .unwrap()
        .expect("the token");
    assert_eq!(
        now.inputs,
        spec(json!({"name": "renamed", "seconds_to_live": 2 * DAY})),
        "drift, which replaces the token"
    );
    assert!(
        !now.inputs.contains_key("renew_before"),
        "never set, so not recorded"
    );
}

#[tokio::test]
async fn a_token_missing_from_its_account_or_of_an_account_gone_reads_as_gone() {
    let (_, c) = amg([
        page(vec![summary("41", "old", CREATED - DAY, CREATED)], None),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    let token = Token::new(c);
    for _ in 0..2 {
        let found = token
            .read(&ctx(), "42", &recorded(json!({})))
            .await
            .unwrap();
        assert!(found.is_none());
    }
}

#[tokio::test]
async fn a_refused_read_names_the_list_operation_and_its_code() {
    let (_, c) = amg([
        Answer::json_error(403, "AccessDeniedException"),
        Answer::json_error(400, "ValidationException"),
    ]);
    let token = Token::new(c);
    let err = token
        .read(&ctx(), "42", &recorded(json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("grafana:ListWorkspaceServiceAccountTokens")
    );
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("`grafana:ListWorkspaceServiceAccountTokens`"),
        "{err:?}"
    );
    let err = token
        .read(&ctx(), "42", &recorded(json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "grafana:ListWorkspaceServiceAccountTokens: ValidationException: ValidationException"
    );
}

#[tokio::test]
async fn a_read_of_a_record_without_its_workspace_is_refused_before_any_request() {
    let (replay, c) = amg([]);
    let mut prior = recorded(json!({}));
    prior.inputs.remove("workspace_id");
    let err = Token::new(c).read(&ctx(), "42", &prior).await.unwrap_err();
    assert_eq!(
        err.message,
        "`workspace_id` is not recorded for this resource"
    );
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn an_import_reads_workspace_account_and_token_from_the_id_and_records_no_key() {
    let (replay, c) = amg([page(
        vec![summary("42", "meshmon", CREATED, CREATED + DAY)],
        None,
    )]);
    let now = Adapter(Token::new(c))
        .import(&ctx(), "g-1/7/42")
        .await
        .unwrap()
        .expect("the token");
    assert_eq!(now.inputs, spec(json!({})));
    assert_eq!(
        now.outputs,
        inputs(json!({"id": "42", "expires_at": "2023-11-15T22:13:20Z"})),
        "AMG never shows the key again"
    );
    assert_eq!(replay.sent()[0].path, TOKENS);
}

#[tokio::test]
async fn an_import_id_that_is_not_three_parts_is_refused_before_any_request() {
    let (replay, c) = amg([]);
    let token = Token::new(c);
    let err = token.import_id(&ctx(), "g-1/42").await.unwrap_err();
    assert_eq!(
        err.message,
        "\"g-1/42\" is not WORKSPACE_ID/SERVICE_ACCOUNT_ID/TOKEN_ID"
    );
    assert!(err.hint.as_deref().unwrap().contains("g-abc123/7/42"));
    assert!(token.fetch(&ctx(), "42", &Map::new()).await.is_err());
    assert_eq!(
        token.import_id(&ctx(), "g-1/7/42").await.unwrap(),
        "g-1/7/42"
    );
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn recover_deletes_the_token_of_the_creates_name_so_that_the_create_runs_again() {
    let (replay, c) = amg([
        page(
            vec![summary("41", "old", CREATED - DAY, CREATED)],
            Some("p2"),
        ),
        page(vec![summary("42", "meshmon", CREATED, CREATED + DAY)], None),
        Answer::ok(r#"{"serviceAccountId": "7", "tokenId": "42", "workspaceId": "g-1"}"#),
    ]);
    let said = Arc::new(Mutex::new(Vec::new()));
    let log = said.clone();
    let ctx = OpContext::new(
        "aws_grafana_service_account_token.meshmon",
        None,
        Arc::new(move |m: &str| log.lock().unwrap().push(m.to_string())),
    );
    let found = Token::new(c)
        .recover(&ctx, &Inputs::decode(&spec(json!({}))).unwrap())
        .await
        .unwrap();
    assert!(found.is_none(), "never adopted: its key is lost");
    let calls: Vec<_> = replay
        .sent()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        calls,
        [
            format!("GET {TOKENS}"),
            format!("GET {TOKENS}"),
            format!("DELETE {TOKENS}/42"),
        ]
    );
    assert_eq!(
        *said.lock().unwrap(),
        ["deleting token meshmon (42): its key was lost with the create's answer"]
    );
}

#[tokio::test]
async fn recover_without_a_token_of_that_name_deletes_nothing() {
    let (replay, c) = amg([
        page(vec![summary("41", "old", CREATED - DAY, CREATED)], None),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    let token = Token::new(c);
    let ctx = creating("aws_grafana_service_account_token.meshmon");
    let raw = spec(json!({}));
    for _ in 0..2 {
        let found = token
            .recover(&ctx, &Inputs::decode(&raw).unwrap())
            .await
            .unwrap();
        assert!(found.is_none());
    }
    assert!(replay.sent().iter().all(|s| s.method == "GET"));
}

#[tokio::test]
async fn a_delete_names_the_recorded_workspace_and_account_and_gone_is_done() {
    let (replay, c) = amg([
        Answer::ok(r#"{"serviceAccountId": "7", "tokenId": "42", "workspaceId": "g-1"}"#),
        Answer::json_error(404, "ResourceNotFoundException"),
        Answer::json_error(403, "AccessDeniedException"),
    ]);
    let token = Token::new(c);
    let prior = recorded(json!({}));
    token.delete(&ctx(), "42", &prior).await.unwrap();
    token.delete(&ctx(), "42", &prior).await.unwrap();
    let err = token.delete(&ctx(), "42", &prior).await.unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("grafana:DeleteWorkspaceServiceAccountToken")
    );
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("DELETE", "/workspaces/g-1/serviceaccounts/7/tokens/42")
    );
    assert_eq!(sent.len(), 3);
}

#[tokio::test]
async fn a_renew_before_change_calls_nothing_and_keeps_the_key() {
    let (replay, c) = amg([]);
    let prior = recorded(json!({}));
    let raw = spec(json!({"renew_before": "2d"}));
    let outputs = Adapter(Token::new(c))
        .update(&ctx(), &prior, &raw)
        .await
        .unwrap();
    assert_eq!(outputs, prior.outputs);
    assert_eq!(outputs["key"], Value::from("glsa_secret"));
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_renew_before_that_is_no_duration_is_refused_by_the_update() {
    let (replay, c) = amg([]);
    let raw = spec(json!({"renew_before": "soon"}));
    let err = Token::new(c)
        .update(
            &ctx(),
            TokenUpdate::RenewBefore,
            "42",
            &recorded(json!({})),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("renew_before"), "{err}");
    assert!(replay.sent().is_empty());
}

#[test]
fn the_key_is_the_only_sensitive_attribute() {
    let schema = TokenIn::schema();
    let sensitive: Vec<String> = schema.names(|a| a.sensitive).collect();
    assert_eq!(sensitive, ["key"]);
}

fn at(secs: i64) -> String {
    rfc3339(&DateTime::from_secs(secs))
}

#[test]
fn default_margin_is_seven_days_or_a_third_of_the_lifetime() {
    assert_eq!(renewal_margin(None, 30 * 86_400).unwrap(), DEFAULT_MARGIN);
    assert_eq!(
        renewal_margin(None, 86_400).unwrap(),
        Duration::from_secs(28_800)
    );
    assert_eq!(
        renewal_margin(Some("1h"), 60).unwrap(),
        Duration::from_secs(3600)
    );
    assert!(renewal_margin(Some("soon"), 60).is_err());
}

#[test]
fn a_token_inside_its_margin_is_renewed() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let day = Duration::from_secs(86_400);
    assert_eq!(
        renewal_reason(&at(1_000_000 + 30 * 86_400), 7 * day, now),
        None
    );
    let soon = renewal_reason(&at(1_000_000 + 86_400), 7 * day, now).unwrap();
    assert!(
        soon.contains("within the renewal margin of 7days"),
        "{soon}"
    );
    let past = renewal_reason(&at(999_000), 7 * day, now).unwrap();
    assert!(
        past.starts_with("the token expired at 1970-01-12T"),
        "{past}"
    );
}

#[test]
fn an_imported_token_without_its_key_is_replaced() {
    let t = Token(Arc::new(Clients::new(
        &aws_config::SdkConfig::builder().build(),
    )));
    let prior = Current::new(
        Map::new(),
        Attrs::new().set("expires_at", at(4_000_000_000)).build(),
    );
    let advice = t.advise(Some(&prior), &Map::new());
    assert!(advice.replace_because.unwrap().contains("key is not known"));
}
