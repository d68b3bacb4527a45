//! A service that throttles: IAM and SNS behind the fault proxy, which
//! answers a share of the calls as AWS throttles (IAM and SNS's 400
//! `Throttling`) and forwards the rest to moto. Every command completes
//! with no error and no false drift, and says what was throttled and the
//! concurrency each service settled at, in text and in JSON.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use meshmon_test_support::cli::Cli;
use meshmon_test_support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use meshmon_test_support::moto::Moto;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

/// Eight roles and eight topics: a few dozen calls per command.
fn spec() -> String {
    let mut s = String::new();
    for i in 0..8 {
        s.push_str(&format!(
            r#"
[resources.aws_iam_role.r{i}]
name = "throttled-{i}"
assume_role_policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "eks.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[resources.aws_sns_topic.t{i}]
name = "throttled-{i}"
"#
        ));
    }
    s
}

#[test]
fn every_command_rides_out_throttling_and_says_so() {
    let moto = Moto::start();
    // One call in five is throttled: the SDK tries each call up to eight
    // times, so a call fails only if all eight are (0.2^8 ≈ 3e-6).
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        FaultPlan {
            rate: 0.2,
            seed: 20,
        },
    );
    proxy.set_kinds(&[FaultKind::Throttle]);
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL", &proxy.endpoint());
    cli.spec(&spec());

    let apply = cli.expect(&["apply", "--auto-approve"], 0);
    assert!(
        apply.stdout.contains("Throttled, waited and retried: "),
        "{}",
        apply.stdout
    );

    let plan = cli.expect(&["plan", "--json", "--detailed-exitcode"], 0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(doc["summary"]["add"], 0, "no false change: {doc}");
    let throttling = doc["throttling"].as_array().expect("a list");
    assert!(
        throttling.iter().any(|t| t["throttled"].as_u64() > Some(0)
            && t["calls"].as_u64() >= t["throttled"].as_u64()
            && t["concurrency"].as_u64() >= Some(1)
            && t["service"]
                .as_str()
                .is_some_and(|s| s.starts_with("iam ") || s.starts_with("sns "))),
        "{throttling:?}"
    );

    let drift = cli.expect(&["drift", "--format", "json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(doc["drift"], serde_json::json!([]), "no false drift");

    cli.expect(&["destroy", "--auto-approve"], 0);
    cli.expect(&["state", "list"], 0);
    let injected = proxy.injected();
    assert!(injected.throttle > 0, "{injected:?}");
    assert_eq!(injected.faults(), injected.throttle, "throttles only");
}
