//! `aws_eks_cluster` over canned EKS answers: what a create sends, and the
//! record an answer makes.

use meshmon_test_support::aws_replay::Answer;
use serde_json::json;

use super::*;
use crate::testing::{clients, creating, inputs};

const ARN: &str = "arn:aws:eks:eu-west-1:123456789012:cluster/main";

#[tokio::test]
async fn a_cluster_create_sends_one_request_and_records_the_active_cluster() {
    let (replay, c) = clients([
        Answer::ok(&json!({"cluster": {"name": "main", "arn": ARN, "status": "CREATING"}}).to_string()),
        // ACTIVE at once, and without an OIDC issuer or platform version.
        Answer::ok(
            &json!({"cluster": {
                "name": "main", "arn": ARN, "status": "ACTIVE", "version": "1.33",
                "endpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
                "certificateAuthority": {"data": "Q0E="},
                "resourcesVpcConfig": {"clusterSecurityGroupId": "sg-1", "subnetIds": ["subnet-a", "subnet-b"]},
            }})
            .to_string(),
        ),
    ]);
    let raw = inputs(json!({
        "name": "main",
        "role_arn": "arn:aws:iam::123456789012:role/eks",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "endpoint_private_access": true,
        "enabled_log_types": ["api", "audit"],
        "tags": {"team": "obs"},
    }));
    let out = Cluster::new(c)
        .create(
            &creating("aws_eks_cluster.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        ClusterOut {
            id: "main".into(),
            arn: Some(ARN.into()),
            endpoint: Some("https://ABC.gr7.eu-west-1.eks.amazonaws.com".into()),
            certificate_authority: Some("Q0E=".into()),
            oidc_issuer: None,
            status: Some("ACTIVE".into()),
            platform_version: None,
            cluster_security_group_id: Some("sg-1".into()),
            version: Some("1.33".into()),
        }
    );
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/clusters")
    );
    let body = sent[0].json();
    assert_eq!(body["name"], "main");
    assert_eq!(body["clientRequestToken"], "t-1");
    assert_eq!(body["resourcesVpcConfig"]["endpointPrivateAccess"], true);
    assert_eq!(body["resourcesVpcConfig"]["endpointPublicAccess"], true);
    assert_eq!(body["tags"]["team"], "obs");
    assert_eq!(body["tags"]["meshmon:token"], "t-1");
    // Every log type is named: the asked-for ones on, the rest off.
    assert_eq!(
        body["logging"]["clusterLogging"],
        json!([
            {"types": ["api", "audit"], "enabled": true},
            {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": false},
        ])
    );
    assert_eq!(
        (sent[1].method.as_str(), sent[1].path.as_str()),
        ("GET", "/clusters/main")
    );
    assert_eq!(replay.unused(), 0);
}

#[tokio::test]
async fn a_cluster_that_failed_is_an_error_that_keeps_what_was_made() {
    let (_, c) = clients([
        Answer::ok(
            &json!({"cluster": {"name": "main", "arn": ARN, "status": "CREATING"}}).to_string(),
        ),
        Answer::ok(
            &json!({"cluster": {"name": "main", "arn": ARN, "status": "FAILED"}}).to_string(),
        ),
    ]);
    let raw = inputs(json!({
        "name": "main",
        "role_arn": "arn:aws:iam::123456789012:role/eks",
        "subnet_ids": ["subnet-a"],
    }));
    let err = Cluster::new(c)
        .create(
            &creating("aws_eks_cluster.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("FAILED"));
    let made = err.partial.expect("the cluster is recorded");
    assert_eq!(made.outputs["id"], Value::from("main"));
    assert_eq!(made.outputs["status"], Value::from("CREATING"));
    assert_eq!(made.inputs, raw);
}

#[tokio::test]
async fn a_cluster_read_keeps_the_users_order_and_leaves_out_what_they_left_out() {
    let (_, c) = clients([Answer::ok(
        &json!({"cluster": {
            "name": "main", "arn": ARN, "status": "ACTIVE", "roleArn": "arn:role",
            "resourcesVpcConfig": {
                "subnetIds": ["subnet-a", "subnet-b"], "securityGroupIds": [],
                "endpointPublicAccess": true, "endpointPrivateAccess": false,
            },
            "logging": {"clusterLogging": [
                {"types": ["audit", "api"], "enabled": true},
                {"types": ["scheduler"], "enabled": false},
            ]},
            "tags": {"meshmon:lineage": "L1"},
        }})
        .to_string(),
    )]);
    let prior = inputs(json!({
        "subnet_ids": ["subnet-b", "subnet-a"],
        "enabled_log_types": ["api", "audit"],
    }));
    let now = Cluster::new(c)
        .fetch(&creating("aws_eks_cluster.main"), "main", &prior)
        .await
        .unwrap()
        .expect("the cluster");
    assert_eq!(
        now.inputs["subnet_ids"],
        Value::from(json!(["subnet-b", "subnet-a"]))
    );
    assert_eq!(
        now.inputs["enabled_log_types"],
        Value::from(json!(["api", "audit"]))
    );
    for left_out in ["security_group_ids", "tags", "access_config"] {
        assert!(!now.inputs.contains_key(left_out), "{left_out}");
    }
    assert_eq!(now.outputs.endpoint, None);
}
