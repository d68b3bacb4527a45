//! The managed collector and the Alertmanager over canned AMP answers.

use meshmon_test_support::aws_replay::Answer;
use serde_json::json;

use super::*;
use crate::testing::{clients, creating, inputs};

const DEFINITION: &str = "alertmanager_config: |\n  route:\n    receiver: sns\n  receivers:\n    - name: sns\n      sns_configs:\n        - topic_arn: arn:aws:sns:eu-west-1:1:grafana-alerts\n          sigv4:\n            region: eu-west-1\n";

fn base64(text: &str) -> String {
    aws_smithy_types::base64::encode(text)
}

#[tokio::test]
async fn an_alertmanager_definition_is_sent_as_data_with_the_token_and_waited_for() {
    let (replay, c) = clients([
        Answer::ok(&json!({"status": {"statusCode": "CREATING"}}).to_string()),
        Answer::ok(
            &json!({"alertManagerDefinition": {
                "status": {"statusCode": "ACTIVE"}, "data": base64(DEFINITION),
                "createdAt": 1.7e9, "modifiedAt": 1.7e9,
            }})
            .to_string(),
        ),
    ]);
    let raw = inputs(json!({"workspace_id": "ws-1", "definition": DEFINITION}));
    let out = AlertManagerDefinition::new(c)
        .create(
            &creating("aws_amp_alert_manager_definition.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out, definition_outputs("ws-1", Some("ACTIVE")));
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/workspaces/ws-1/alertmanager/definition")
    );
    assert_eq!(sent[0].json()["data"], base64(DEFINITION));
    assert_eq!(sent[0].json()["clientToken"], "t-1");
    assert_eq!(sent[1].method, "GET");
}

#[tokio::test]
async fn a_definition_amp_would_refuse_is_refused_before_any_request() {
    let (replay, c) = clients([]);
    let raw = inputs(json!({
        "workspace_id": "ws-1",
        "definition": "alertmanager_config: |\n  route:\n    receiver: mail\n  receivers:\n    - name: mail\n      email_configs:\n        - to: a@example.com\n",
    }));
    let err = AlertManagerDefinition::new(c)
        .create(
            &creating("aws_amp_alert_manager_definition.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.message.starts_with("definition:"), "{err}");
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_scraper_reads_back_without_what_its_answer_leaves_out() {
    let config = "global:\n  scrape_interval: 30s\n";
    let (replay, c) = clients([Answer::ok(
        &json!({"scraper": {
            "scraperId": "s-1", "arn": "arn:aws:aps:eu-west-1:1:scraper/s-1",
            "roleArn": "arn:aws:iam::1:role/aps", "status": {"statusCode": "ACTIVE"},
            "createdAt": 1.7e9, "lastModifiedAt": 1.7e9,
            "scrapeConfiguration": {"configurationBlob": base64(config)},
            "source": {"eksConfiguration": {
                "clusterArn": "arn:aws:eks:eu-west-1:1:cluster/main",
                "subnetIds": ["subnet-b", "subnet-a"],
            }},
            "destination": {"ampConfiguration": {"workspaceArn": "arn:aws:aps:eu-west-1:1:workspace/ws-1"}},
        }})
        .to_string(),
    )]);
    // An import: the source's lists stay in the order AWS keeps.
    let now = Scraper::new(c)
        .fetch(&creating("aws_amp_scraper.main"), "s-1", &Map::new())
        .await
        .unwrap()
        .expect("the scraper");
    assert_eq!(replay.sent()[0].path, "/scrapers/s-1");
    assert_eq!(
        now.inputs["subnet_ids"],
        Value::from(json!(["subnet-b", "subnet-a"]))
    );
    assert_eq!(now.inputs["scrape_configuration"], Value::from(config));
    for left_out in ["security_group_ids", "alias", "tags"] {
        assert!(!now.inputs.contains_key(left_out), "{left_out}");
    }
    assert_eq!(
        now.outputs.role_arn.as_deref(),
        Some("arn:aws:iam::1:role/aps")
    );
}

#[test]
fn role_configuration_is_checked_like_amp_checks_it() {
    let rc = |source: &str, target: &str| {
        Value::from(json!({ "source_role_arn": source, "target_role_arn": target }))
    };
    let ok = rc(
        "arn:aws:iam::111111111111:role/scraper-source",
        "arn:aws:iam::999999999999:role/scraper-target",
    );
    assert_eq!(role_configuration_keys(&ok), Ok(()));
    assert_eq!(
        role_configuration_keys(&rc(
            "arn:aws-us-gov:iam::111111111111:role/a/b",
            "arn:aws:iam::999999999999:role/t"
        )),
        Ok(())
    );
    for (bad, says) in [
        (
            rc(
                "arn:aws:iam::1111:role/s",
                "arn:aws:iam::999999999999:role/t",
            ),
            "`source_role_arn` = \"arn:aws:iam::1111:role/s\" is not an IAM role's ARN",
        ),
        (
            rc(
                "arn:aws:iam::111111111111:role/s",
                "arn:aws:iam::999999999999:user/t",
            ),
            "`target_role_arn`",
        ),
        (
            Value::from(json!({ "source_role_arn": "arn:aws:iam::111111111111:role/s" })),
            "needs `target_role_arn`",
        ),
        (
            Value::from(json!({ "source": "x", "target_role_arn": "y" })),
            "not `source`",
        ),
    ] {
        let err = role_configuration_keys(&bad).expect_err("refused");
        assert!(err.contains(says), "{err}");
    }

    let block = |target: &str, workspace: &str| {
        let mut m = Map::new();
        m.insert(
            "role_configuration".into(),
            rc("arn:aws:iam::111111111111:role/s", target),
        );
        m.insert("workspace_arn".into(), Value::from(workspace));
        m
    };
    let ws = "arn:aws:aps:eu-west-1:999999999999:workspace/ws-1";
    assert_eq!(
        target_role_in_workspace_account(&block("arn:aws:iam::999999999999:role/t", ws)),
        Ok(())
    );
    let (attr, msg) =
        target_role_in_workspace_account(&block("arn:aws:iam::111111111111:role/t", ws))
            .expect_err("another account");
    assert_eq!(attr, "role_configuration");
    assert!(msg.contains("account 111111111111 but the workspace is in account 999999999999"));
}

#[tokio::test]
async fn a_cross_account_scraper_is_created_with_its_roles() {
    let (replay, c) = clients([
        Answer::ok(
            &json!({"scraperId": "s-1", "arn": "arn:aws:aps:eu-west-1:111111111111:scraper/s-1",
                "status": {"statusCode": "CREATING"}})
            .to_string(),
        ),
        Answer::ok(
            &json!({"scraper": {
                "scraperId": "s-1", "arn": "arn:aws:aps:eu-west-1:111111111111:scraper/s-1",
                "roleArn": "arn:aws:iam::111111111111:role/aws-service-role/x",
                "status": {"statusCode": "ACTIVE"}, "createdAt": 1.7e9, "lastModifiedAt": 1.7e9,
                "source": {"eksConfiguration": {"clusterArn": "arn:aws:eks:eu-west-1:111111111111:cluster/c", "subnetIds": ["subnet-1", "subnet-2"]}},
                "destination": {"ampConfiguration": {"workspaceArn": "arn:aws:aps:eu-west-1:999999999999:workspace/ws-1"}},
                "scrapeConfiguration": {"configurationBlob": base64("scrape_configs: []\n")},
                "roleConfiguration": {"sourceRoleArn": "arn:aws:iam::111111111111:role/s", "targetRoleArn": "arn:aws:iam::999999999999:role/t"},
            }})
            .to_string(),
        ),
    ]);
    let raw = inputs(json!({
        "cluster_arn": "arn:aws:eks:eu-west-1:111111111111:cluster/c",
        "subnet_ids": ["subnet-1", "subnet-2"],
        "workspace_arn": "arn:aws:aps:eu-west-1:999999999999:workspace/ws-1",
        "scrape_configuration": "scrape_configs: []\n",
        "role_configuration": {
            "source_role_arn": "arn:aws:iam::111111111111:role/s",
            "target_role_arn": "arn:aws:iam::999999999999:role/t",
        },
    }));
    Scraper::new(c)
        .create(
            &creating("aws_amp_scraper.mesh"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    let sent: serde_json::Value = serde_json::from_str(&replay.sent()[0].body).unwrap();
    assert_eq!(
        sent["roleConfiguration"],
        json!({"sourceRoleArn": "arn:aws:iam::111111111111:role/s", "targetRoleArn": "arn:aws:iam::999999999999:role/t"})
    );
}
