//! Access entries and policy associations over canned EKS answers.

use super::*;

#[test]
fn scopes_need_namespaces_exactly_when_namespaced() {
    let ok = |kind: &str, ns: &[&str]| {
        scope(&ScopeIn {
            kind: kind.into(),
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
        })
    };
    assert!(ok("cluster", &[]).is_ok());
    assert!(ok("namespace", &["prod"]).is_ok());
    assert!(ok("cluster", &["prod"]).is_err());
    assert!(ok("namespace", &[]).is_err());
    assert!(ok("Cluster", &[]).is_err());
}

#[tokio::test]
async fn an_association_sends_its_scope_and_records_what_eks_answers() {
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    let principal = "arn:aws:iam::123456789012:role/admin";
    let policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
    // No associatedAt in the answer.
    let (replay, c) = clients([Answer::ok(
        &serde_json::json!({
            "clusterName": "main", "principalArn": principal,
            "associatedAccessPolicy": {"policyArn": policy, "accessScope": {"type": "namespace", "namespaces": ["prod"]}},
        })
        .to_string(),
    )]);
    let raw = inputs(serde_json::json!({
        "cluster_name": "main",
        "principal_arn": principal,
        "policy_arn": policy,
        "access_scope": {"type": "namespace", "namespaces": ["prod"]},
    }));
    let out = AccessPolicyAssociation::new(c)
        .create(
            &creating("aws_eks_access_policy_association.view"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        AssociationOut {
            id: format!("main#{principal}#{policy}"),
            associated_at: None,
        }
    );
    let sent = replay.sent();
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].path,
        format!("/clusters/main/access-entries/{principal}/access-policies")
    );
    assert_eq!(
        sent[0].json(),
        serde_json::json!({
            "policyArn": policy,
            "accessScope": {"type": "namespace", "namespaces": ["prod"]},
        })
    );
}

#[test]
fn the_scope_is_checked_at_plan_without_repeating_it() {
    let scope = |v: serde_json::Value| scope_check(&Value::from(v));
    assert!(scope(serde_json::json!({"type": "cluster"})).is_ok());
    assert!(scope(serde_json::json!({"type": "namespace", "namespaces": ["prod"]})).is_ok());
    let e = scope(serde_json::json!({"type": "cluster", "namespaces": ["prod"]})).unwrap_err();
    assert!(
        e.contains("takes no namespaces") && !e.contains("prod"),
        "{e}"
    );
    let e = scope(serde_json::json!({"type": "namespace"})).unwrap_err();
    assert!(e.contains("needs namespaces"), "{e}");
    let e = scope(serde_json::json!({"type": "secret-ish"})).unwrap_err();
    assert!(!e.contains("secret-ish"), "{e}");
    let e = scope(serde_json::json!({"type": "cluster", "namespace": "a"})).unwrap_err();
    assert!(e.contains("no key `namespace`"), "{e}");
}
