//! `aws_iam_role_trust_policy` against moto, configured as the engine
//! configures the provider: the role's trust replaced by create, read back
//! as written, changed by update, and put back by delete; a delete after
//! the role is gone is done; a create for a role that does not exist says
//! so and changes nothing.
//!
//! One test function, so that one moto serves the file and the process
//! environment is set once, before anything reads it.

use meshmon_provider_aws::Aws;
use meshmon_provider_sdk::{Current, Map, OpContext, Provider, Value};
use meshmon_test_support::moto::{Moto, REGION};
use serde_json::json;

fn map(v: serde_json::Value) -> Map {
    Value::from(v).as_map().cloned().expect("a table")
}

/// The role's trust as IAM keeps it, decoded.
async fn trust_of(iam: &aws_sdk_iam::Client, name: &str) -> serde_json::Value {
    let role = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .expect("get role")
        .role
        .expect("a role");
    meshmon_provider_aws::policy::from_aws(role.assume_role_policy_document().expect("a trust"))
        .expect("JSON")
}

fn trusting(principal: &str, external_id: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": principal },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "sts:ExternalId": external_id } },
        }],
    })
}

#[test]
fn a_trust_policy_replaces_the_roles_trust_and_delete_puts_it_back() {
    let moto = Moto::start();
    for (k, v) in moto.env() {
        // SAFETY: set before the runtime starts any thread, in the only
        // test function of this binary.
        unsafe { std::env::set_var(&k, v) };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let aws = Aws
            .configure(&map(json!({ "region": REGION })))
            .await
            .expect("configure");
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
        let source = "arn:aws:iam::111111111111:role/payments-scraper-source";
        let placeholder = trusting(source, "pending");
        iam.create_role()
            .role_name("fleet-scraper-target")
            .assume_role_policy_document(placeholder.to_string())
            .send()
            .await
            .expect("create role");
        let r = aws.resource("aws_iam_role_trust_policy").expect("the type");
        let ctx = OpContext::quiet("aws_iam_role_trust_policy.payments");
        let scraper = "arn:aws:aps:eu-west-1:111111111111:scraper/s-1";
        let inputs = map(json!({
            "role_name": "fleet-scraper-target",
            "policy": trusting(source, scraper),
        }));

        let outputs = r.create(&ctx, &inputs).await.expect("create");
        assert_eq!(outputs["id"], Value::from("fleet-scraper-target"));
        assert_eq!(
            trust_of(&iam, "fleet-scraper-target").await,
            trusting(source, scraper)
        );
        let mut prior = Current::new(inputs.clone(), outputs.clone());

        // Read back in the shape written, with the trust it replaced: no
        // change.
        let read = r.read(&ctx, &prior).await.expect("read").expect("exists");
        assert_eq!(read.inputs["policy"], inputs["policy"]);
        assert_eq!(read.outputs, prior.outputs);

        // Changed in place.
        let other = "arn:aws:aps:eu-west-1:111111111111:scraper/s-2";
        let changed = map(json!({
            "role_name": "fleet-scraper-target",
            "policy": trusting(source, other),
        }));
        let outputs = r.update(&ctx, &prior, &changed).await.expect("update");
        assert_eq!(
            trust_of(&iam, "fleet-scraper-target").await,
            trusting(source, other)
        );
        assert_eq!(
            outputs.get("replaced_policy"),
            prior.outputs.get("replaced_policy"),
            "an update keeps the trust the create replaced"
        );
        prior = Current::new(changed, outputs);

        // Delete puts the placeholder back.
        r.delete(&ctx, &prior).await.expect("delete");
        assert_eq!(trust_of(&iam, "fleet-scraper-target").await, placeholder);

        // With the role gone, read finds nothing and delete is done.
        iam.delete_role()
            .role_name("fleet-scraper-target")
            .send()
            .await
            .expect("delete role");
        assert!(r.read(&ctx, &prior).await.expect("read").is_none());
        r.delete(&ctx, &prior).await.expect("delete of a gone role");

        // A role that does not exist: an error that names it.
        let err = r.create(&ctx, &inputs).await.expect_err("no such role");
        assert!(
            err.to_string()
                .contains("\"fleet-scraper-target\" does not exist"),
            "{err}"
        );
    });
}
