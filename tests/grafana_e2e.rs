//! The recipe's monitoring front end in one `meshmon apply`, end to end with
//! the real binary: an AMP workspace and an SNS topic in moto; an Amazon
//! Managed Grafana workspace, its admin, a service account and a token on
//! the AMG test server (moto has no AMG); then, through the `grafana`
//! provider configured mid-apply from that workspace's endpoint and token,
//! the AMP data source, the imported Envoy dashboard, the SNS contact point
//! and the latency alert rule on the Grafana test server. Then: a clean
//! re-plan, drift after a dashboard edit and a deleted contact point, a
//! repair, a token renewal planned by its expiry margin, and a destroy to
//! nothing. The Grafana test server serves HTTPS, as AMG does, with a test
//! CA that meshmon trusts through `SSL_CERT_FILE`.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::cli::Cli;
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::moto::Moto;
use meshmon_test_support::{amp, sns};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

fn spec(renew_before: Option<&str>) -> String {
    let renew = renew_before
        .map(|r| format!("renew_before = \"{r}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
[providers.grafana]
url = "https://${{aws_grafana_workspace.main.endpoint}}"
auth = "${{aws_grafana_service_account_token.meshmon.key}}"

[resources.aws_amp_workspace.appmesh]
alias = "AMP-APPMESH"

[resources.aws_sns_topic.alerts]
name = "grafana-notification"

[resources.aws_grafana_workspace.main]
name = "appmesh-monitoring"
authentication_providers = ["AWS_SSO"]
permission_type = "SERVICE_MANAGED"
data_sources = ["PROMETHEUS"]
notification_destinations = ["SNS"]

[resources.aws_grafana_role_association.admin]
workspace_id = "${{aws_grafana_workspace.main.id}}"
role = "ADMIN"
user_ids = ["grafana-admin"]

[resources.aws_grafana_service_account.meshmon]
workspace_id = "${{aws_grafana_workspace.main.id}}"
name = "meshmon"
grafana_role = "ADMIN"

[resources.aws_grafana_service_account_token.meshmon]
workspace_id = "${{aws_grafana_workspace.main.id}}"
service_account_id = "${{aws_grafana_service_account.meshmon.id}}"
name = "meshmon"
seconds_to_live = 2592000
{renew}
[resources.grafana_folder.mesh]
title = "Service mesh"
uid = "mesh"

[resources.grafana_data_source.amp]
name = "AMP"
type = "grafana-amazonprometheus-datasource"
uid = "amp"
url = "${{aws_amp_workspace.appmesh.prometheus_endpoint}}"
is_default = true
json_data = {{ httpMethod = "POST", sigV4Auth = true, sigV4AuthType = "ec2_iam_role", sigV4Region = "eu-west-1", sigV4AssumeRoleArn = "${{aws_grafana_workspace.main.role_arn}}" }}

[resources.grafana_dashboard.envoy]
gnet_id = 11022
datasource_uid = "${{grafana_data_source.amp.uid}}"
folder_uid = "${{grafana_folder.mesh.uid}}"

[resources.grafana_contact_point.sns]
name = "grafana-notification"
receivers = [{{ type = "sns", topic_arn = "${{aws_sns_topic.alerts.arn}}", region = "eu-west-1" }}]

[resources.grafana_alert_rule.latency]
title = "Downstream latency above 5 ms"
folder_uid = "${{grafana_folder.mesh.uid}}"
group = "envoy"
datasource_uid = "${{grafana_data_source.amp.uid}}"
query = "histogram_quantile(0.99, sum(rate(envoy_http_downstream_rq_time_bucket[1m])) by (le))"
condition = {{ type = "gt", threshold = 5 }}
for = "1m"
contact_point = "${{grafana_contact_point.sns.name}}"
annotations = {{ summary = "Envoy p99 downstream latency is above 5 ms" }}
"#
    )
}

#[test]
fn one_apply_goes_from_nothing_to_dashboard_and_alert_and_back() {
    let moto = Moto::start();
    let amg = AmgServer::start();
    let grafana = GrafanaServer::start("glsa_not_the_workspace_token");
    amg.link(&grafana);
    let mut env = moto.env();
    env.extend(amg.env());
    env.extend(grafana.env());
    let cli = Cli::new(BIN, env);
    cli.spec(&spec(None));

    // One apply from nothing: the grafana provider is configured mid-apply.
    let out = cli.apply();
    let key = cli.attr_str("aws_grafana_service_account_token.meshmon", "key");
    assert!(
        !out.stdout.contains(&key) && !out.stderr.contains(&key),
        "the token key never shows"
    );
    assert_eq!(cli.addresses().len(), 11, "{:?}", cli.addresses());
    {
        let g = grafana.state();
        let (dash, folder) = &g.dashboards["envoy-global"];
        assert_eq!(folder, "mesh");
        let text = dash.to_string();
        assert!(
            text.contains("envoy_http_downstream_rq_time_bucket")
                && !text.contains("${DS_PROMETHEUS}")
        );
        let ds = &g.datasources["amp"];
        let amp_id = cli.attr_str("aws_amp_workspace.appmesh", "id");
        assert!(
            ds["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/workspaces/{amp_id}/")),
            "{ds}"
        );
        assert_eq!(ds["jsonData"]["sigV4Region"], "eu-west-1");
        assert_eq!(
            ds["jsonData"]["sigV4AssumeRoleArn"],
            cli.attr("aws_grafana_workspace.main", "role_arn")
        );
        let topic = cli.attr_str("aws_sns_topic.alerts", "arn");
        assert_eq!(g.contact_points[0]["settings"]["topic_arn"], topic.as_str());
        let rule = g.rules.values().next().expect("the alert rule");
        assert_eq!(
            rule["notification_settings"]["receiver"],
            "grafana-notification"
        );
        assert_eq!(
            rule["data"][2]["model"]["conditions"][0]["evaluator"],
            serde_json::json!({"type": "gt", "params": [5]})
        );
    }
    cli.assert_no_changes();

    // Behind meshmon's back: the dashboard is edited, the contact point deleted.
    grafana
        .state()
        .dashboards
        .get_mut("envoy-global")
        .unwrap()
        .0["title"] = "Envoy (edited)".into();
    grafana.state().contact_points.clear();
    let drift = cli.drift();
    let entries = drift["drift"].as_array().unwrap();
    let find = |a: &str| {
        entries
            .iter()
            .find(|e| e["address"] == a)
            .unwrap_or_else(|| panic!("no drift for {a}: {drift:#}"))
    };
    assert_eq!(find("grafana_dashboard.envoy")["kind"], "changed");
    assert_eq!(
        find("grafana_dashboard.envoy")["attributes"][0]["path"],
        "config_json"
    );
    assert_eq!(find("grafana_contact_point.sns")["kind"], "deleted");
    cli.apply();
    assert_eq!(
        grafana.state().dashboards["envoy-global"].0["title"],
        "Envoy Global"
    );
    assert_eq!(grafana.state().contact_points.len(), 1);
    cli.assert_no_changes();

    // A renewal margin as long as the token's life: the plan replaces it.
    cli.spec(&spec(Some("30d")));
    let plan = cli.expect(&["plan", "--json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let token = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "aws_grafana_service_account_token.meshmon")
        .unwrap();
    assert_eq!(token["action"], "replace");
    let why = token["replace_because"][0].as_str().unwrap();
    assert!(
        why.starts_with("the token expires at ")
            && why.contains("within the renewal margin of 30days"),
        "{why}"
    );
    cli.apply();
    let renewed = cli.attr_str("aws_grafana_service_account_token.meshmon", "key");
    assert_ne!(renewed, key);
    cli.spec(&spec(None));
    cli.apply();
    cli.assert_no_changes();

    // Destroy to nothing, everywhere.
    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(cli.addresses().is_empty());
    assert!(amg.workspace_ids().is_empty() && amg.tokens().is_empty());
    {
        let g = grafana.state();
        assert!(g.folders.is_empty() && g.datasources.is_empty() && g.dashboards.is_empty());
        assert!(g.contact_points.is_empty() && g.rules.is_empty());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sdk = moto.sdk_config().await;
        let ws = amp::Client::new(&sdk)
            .list_workspaces()
            .send()
            .await
            .unwrap();
        assert!(
            ws.workspaces()
                .iter()
                .all(|w| w.status().map(|s| s.status_code().as_str()) != Some("ACTIVE"))
        );
        let topics = sns::Client::new(&sdk).list_topics().send().await.unwrap();
        assert!(topics.topics().is_empty());
    });
}
