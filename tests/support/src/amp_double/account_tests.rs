//! Tests of scrapers in several accounts: cross-account destinations
//! and their roles, and each scraper reaching its own cluster.

use std::time::Duration;

use aws_sdk_amp::error::ProvideErrorMetadata;
use serde_json::json;

use super::scrapers::{destination_problem, is_role_arn};
use super::*;
use crate::existing::{account_role, make_cluster};
use crate::kube_api::{Auth, KubeApi, Options};
use crate::moto::{ACCOUNT, Moto, REGION};
use crate::{SdkConfig, amp};

const WS: &str = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-central";

fn caller(account: &str) -> Caller {
    Caller {
        account: account.into(),
        region: REGION.into(),
        access_key: None,
        arn: None,
    }
}

#[test]
fn destinations_and_roles_are_refused_as_amp_documents() {
    let away = caller("111111111111");
    let roles = |s: &str, t: &str| Some(json!({ "sourceRoleArn": s, "targetRoleArn": t }));
    let (src, tgt) = (
        "arn:aws:iam::111111111111:role/amp-source",
        "arn:aws:iam::123456789012:role/path/amp-target",
    );
    // Same account: no roles needed.
    assert_eq!(destination_problem(&caller(ACCOUNT), WS, None), None);
    assert_eq!(
        destination_problem(&away, WS, roles(src, tgt).as_ref()),
        None
    );
    let refused = |ws: &str, r: Option<Value>, says: &str| {
        let p = destination_problem(&away, ws, r.as_ref()).expect("refused");
        assert!(p.contains(says), "{p}");
    };
    refused(WS, None, "needs roleConfiguration");
    refused(WS, Some(Value::Null), "needs roleConfiguration");
    refused(
        WS,
        roles(tgt, tgt),
        "not a role of the scraper's account 111111111111",
    );
    refused(
        WS,
        roles(src, src),
        "not a role of the workspace's account 123456789012",
    );
    refused(WS, Some(json!({ "sourceRoleArn": src })), "needs both");
    refused(
        WS,
        roles("arn:aws:iam::1111:role/x", tgt),
        "sourceRoleArn is not an IAM role ARN",
    );
    refused(
        WS,
        roles(src, "arn:aws:iam::123456789012:user/x"),
        "targetRoleArn is not an IAM role ARN",
    );
    refused(
        WS,
        roles(src, "arn:aws:sts::123456789012:role/x"),
        "targetRoleArn is not an IAM role ARN",
    );
    refused(
        "arn:aws:aps:eu-west-1:123456789012:rulegroupsnamespace/x",
        None,
        "not an AMP workspace ARN",
    );
    assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/x"));
    assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
}

async fn create(
    client: &amp::Client,
    cluster_arn: &str,
    ws_arn: &str,
    roles: Option<(&str, &str)>,
) -> Result<amp::operation::create_scraper::CreateScraperOutput, String> {
    client
        .create_scraper()
        .source(amp::types::Source::EksConfiguration(
            amp::types::EksConfiguration::builder()
                .cluster_arn(cluster_arn)
                .subnet_ids("subnet-1")
                .build()
                .unwrap(),
        ))
        .destination(amp::types::Destination::AmpConfiguration(
            amp::types::AmpConfiguration::builder()
                .workspace_arn(ws_arn)
                .build()
                .unwrap(),
        ))
        .scrape_configuration(amp::types::ScrapeConfiguration::ConfigurationBlob(
            aws_smithy_types::Blob::new("global:\n  scrape_interval: 30s\n"),
        ))
        .set_role_configuration(roles.map(|(s, t)| {
            amp::types::RoleConfiguration::builder()
                .source_role_arn(s)
                .target_role_arn(t)
                .build()
        }))
        .send()
        .await
        .map_err(|e| {
            format!(
                "{}: {}",
                e.code().unwrap_or("?"),
                e.message().unwrap_or("?")
            )
        })
}

fn rbac_for_the_collector(api: &KubeApi) {
    api.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "aps-collector-role"},
        "rules": [{"apiGroups": [""], "resources": ["nodes", "nodes/proxy", "nodes/metrics",
            "services", "endpoints", "pods", "ingresses", "configmaps"],
            "verbs": ["get", "list", "watch"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
    );
    api.create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "aps-collector-user-role-binding"},
        "subjects": [{"kind": "User", "name": COLLECTOR_USER, "apiGroup": "rbac.authorization.k8s.io"}],
        "roleRef": {"kind": "ClusterRole", "name": "aps-collector-role", "apiGroup": "rbac.authorization.k8s.io"}}));
}

fn on(sdk: &SdkConfig, endpoint: String) -> amp::Client {
    amp::Client::from_conf(
        amp::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Clusters of the same name in the default account and in
/// 111111111111, each with its own API server (only the one in
/// 111111111111 grants the collector's RBAC); a scraper in 111111111111
/// writes to the default account's workspace through its roles. Each
/// account sees its own scrapers and workspaces; the access entry and
/// the RBAC review go to the scraper's own cluster. Needs moto.
#[test]
fn scrapers_belong_to_their_account_and_reach_their_own_cluster() {
    let moto = Moto::start();
    let eks = EksDouble::forwarding(Duration::from_millis(50), &moto.endpoint());
    let amp_double = AmpDouble::start(Duration::from_millis(50), &moto.endpoint());
    amp_double.link_eks(&eks);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let home = rt.block_on(moto.sdk_config());
    let (away, _) = rt.block_on(account_role(&home, "111111111111", "meshmon"));
    let api = || {
        KubeApi::start(
            Auth::EksAnySession {
                region: REGION.into(),
                cluster: "payments-eu".into(),
            },
            Options::default(),
        )
    };
    let (theirs_api, ours_api) = (api(), api());
    rbac_for_the_collector(&theirs_api);
    let theirs = rt.block_on(make_cluster(
        &away,
        &eks,
        "payments-eu",
        "10.60.0.0/16",
        &theirs_api,
    ));
    let ours = rt.block_on(make_cluster(
        &home,
        &eks,
        "payments-eu",
        "10.61.0.0/16",
        &ours_api,
    ));
    amp_double.link_cluster_arn(&theirs.arn, theirs_api.reviewer());
    amp_double.link_cluster(ours_api.reviewer());
    let (home_amp, away_amp) = (
        on(&home, amp_double.endpoint()),
        on(&away, amp_double.endpoint()),
    );

    // Workspaces are moto's, per account already.
    let ws = rt
        .block_on(home_amp.create_workspace().alias("central").send())
        .unwrap();
    let ws_arn = ws.arn().to_string();
    let listed = |c: &amp::Client| {
        rt.block_on(c.list_workspaces().send())
            .unwrap()
            .workspaces()
            .iter()
            .map(|w| w.arn().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&home_amp), std::slice::from_ref(&ws_arn));
    assert!(listed(&away_amp).is_empty());

    let (src, tgt) = (
        "arn:aws:iam::111111111111:role/amp-source",
        "arn:aws:iam::123456789012:role/amp-target",
    );
    let attempt =
        |roles: Option<(&str, &str)>| rt.block_on(create(&away_amp, &theirs.arn, &ws_arn, roles));
    let e = attempt(None).unwrap_err();
    assert!(
        e.starts_with("ValidationException") && e.contains("needs roleConfiguration"),
        "{e}"
    );
    let e = attempt(Some((tgt, tgt))).unwrap_err();
    assert!(
        e.starts_with("ValidationException") && e.contains("sourceRoleArn"),
        "{e}"
    );
    let e = attempt(Some((src, src))).unwrap_err();
    assert!(
        e.starts_with("ValidationException") && e.contains("targetRoleArn"),
        "{e}"
    );
    // Malformed: the API model's pattern refuses it before the double does.
    let e = attempt(Some(("arn:aws:iam::111:role/x", tgt))).unwrap_err();
    assert!(e.starts_with("ValidationException"), "{e}");
    assert_eq!(amp_double.model_check().take().len(), 1);
    assert!(amp_double.scraper_ids().is_empty());

    let made = attempt(Some((src, tgt))).unwrap();
    let id = made.scraper_id().to_string();
    assert_eq!(
        made.arn(),
        format!("arn:aws:aps:eu-west-1:111111111111:scraper/{id}")
    );
    let doc = amp_double.scraper(&id).unwrap();
    assert!(
        doc["roleArn"].as_str().unwrap().starts_with(
            "arn:aws:iam::111111111111:role/aws-service-role/scraper.aps.amazonaws.com/"
        ),
        "{doc:#}"
    );
    let described = rt
        .block_on(away_amp.describe_scraper().scraper_id(&id).send())
        .unwrap();
    let roles = described.scraper().unwrap().role_configuration().unwrap();
    assert_eq!(
        (roles.source_role_arn(), roles.target_role_arn()),
        (Some(src), Some(tgt))
    );
    let e = rt
        .block_on(home_amp.describe_scraper().scraper_id(&id).send())
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"));
    let count = |c: &amp::Client| {
        rt.block_on(c.list_scrapers().send())
            .unwrap()
            .scrapers()
            .len()
    };
    assert_eq!((count(&away_amp), count(&home_amp)), (1, 0));
    assert_eq!(
        amp_double.scraper_ids_in("111111111111"),
        std::slice::from_ref(&id)
    );

    // The entry went to the cluster in 111111111111, and the review
    // to its own API server, which grants the collector's RBAC.
    let principal = amp_double.access_entry_principal(&id).unwrap();
    assert!(
        eks.access_entries_in("111111111111")
            .contains(&("payments-eu".into(), principal.clone()))
    );
    assert!(!eks.access_entries().iter().any(|(_, p)| *p == principal));
    let access = amp_double.access_at_create(&id).unwrap();
    assert!(access.iter().all(|(_, a)| *a == Ok(true)), "{access:?}");

    // The default account's scraper of its own same-named cluster is
    // reviewed by the fallback API server, which grants nothing.
    let own = rt
        .block_on(create(&home_amp, &ours.arn, &ws_arn, None))
        .unwrap();
    let own_principal = amp_double.access_entry_principal(own.scraper_id()).unwrap();
    assert!(own_principal.starts_with("arn:aws:iam::123456789012:role/"));
    assert!(
        eks.access_entries()
            .iter()
            .any(|(c, p)| c == "payments-eu" && *p == own_principal)
    );
    let access = amp_double.access_at_create(own.scraper_id()).unwrap();
    assert!(access.iter().all(|(_, a)| *a == Ok(false)), "{access:?}");

    // UpdateScraper checks the roles too, and another account cannot.
    std::thread::sleep(Duration::from_millis(120));
    // The error's code, or "" when it went through.
    let update = |c: &amp::Client, target: &str| {
        rt.block_on(
            c.update_scraper()
                .scraper_id(&id)
                .role_configuration(
                    amp::types::RoleConfiguration::builder()
                        .source_role_arn(src)
                        .target_role_arn(target)
                        .build(),
                )
                .send(),
        )
        .err()
        .map(|e| e.code().unwrap_or("?").to_string())
        .unwrap_or_default()
    };
    assert_eq!(
        update(&away_amp, "arn:aws:iam::111111111111:role/amp-target"),
        "ValidationException"
    );
    assert_eq!(update(&home_amp, tgt), "ResourceNotFoundException");
    let other = "arn:aws:iam::123456789012:role/central-writer";
    assert_eq!(update(&away_amp, other), "");
    assert_eq!(
        amp_double.scraper(&id).unwrap()["roleConfiguration"]["targetRoleArn"],
        other
    );
    let e = rt
        .block_on(home_amp.delete_scraper().scraper_id(&id).send())
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"));
}
