//! Remote state in S3 (against a local moto server): the state object, its
//! serial and lineage, the lock object taken with `If-None-Match: *`, racing
//! applies from two processes, stale locks and force-unlock.

use std::process::{Command, Stdio};

use meshmon_test_support::cli::Cli;
use meshmon_test_support::moto::Moto;

const BUCKET: &str = "team-state";
const KEY: &str = "envs/shared.json";

fn spec(sleep: &str) -> String {
    format!(
        r#"[meshmon]
name = "shared"
backend = {{ s3 = {{ bucket = "{BUCKET}", key = "{KEY}", region = "eu-west-1", use_path_style = true }} }}

[resources.time_sleep.hold]
create_duration = "{sleep}"

[resources.null_resource.after]
inputs = "${{time_sleep.hold.id}}"
"#
    )
}

async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = moto.sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<serde_json::Value> {
    let out = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    serde_json::from_slice(&bytes).ok()
}

async fn create_bucket(client: &aws_sdk_s3::Client) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    client
        .create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn setup(moto: &Moto, sleep: &str) -> Cli {
    let cli = Cli::new(env!("CARGO_BIN_EXE_meshmon"), moto.env());
    std::fs::write(cli.path().join("meshmon.toml"), spec(sleep)).unwrap();
    cli
}

#[tokio::test(flavor = "multi_thread")]
async fn state_lives_in_s3_and_round_trips() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    create_bucket(&client).await;
    let cli = setup(&moto, "10ms");

    cli.expect(&["apply", "--auto-approve"], 0);
    let state = object(&client, KEY).await.expect("state object in S3");
    assert_eq!(state["format_version"], 2);
    assert_eq!(state["serial"], 1);
    assert!(
        state["resources"]["null_resource.after"].is_object(),
        "{state:#}"
    );
    assert!(
        object(&client, &format!("{KEY}.lock")).await.is_none(),
        "the lock is released"
    );
    assert!(
        !cli.path().join("state/shared.json").exists(),
        "nothing is written locally"
    );

    let replan = cli.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(replan.stdout.contains("No changes."), "{}", replan.stdout);
    let list = cli.expect(&["state", "list"], 0);
    assert_eq!(list.stdout, "null_resource.after\ntime_sleep.hold\n");

    cli.expect(&["destroy", "--auto-approve"], 0);
    let state = object(&client, KEY).await.unwrap();
    assert_eq!(state["serial"], 2);
    assert_eq!(state["resources"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_applies_against_one_bucket_one_wins() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    create_bucket(&client).await;
    let cli = setup(&moto, "2s");
    let spawn = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_meshmon"));
        c.args(["apply", "--auto-approve"])
            .current_dir(cli.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.envs(moto.env());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "{codes:?}\n{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let loser = if a.status.success() { &b } else { &a };
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(
        stderr.contains(&format!(
            "state s3://{BUCKET}/{KEY} is locked by `apply` run by"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("meshmon force-unlock"), "{stderr}");
    assert_eq!(object(&client, KEY).await.unwrap()["serial"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_stale_lock_needs_force_unlock_and_a_dead_local_one_does_not() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    create_bucket(&client).await;
    let cli = setup(&moto, "10ms");
    let lock_key = format!("{KEY}.lock");
    let put_lock = |body: String| {
        let client = client.clone();
        let lock_key = lock_key.clone();
        async move {
            client
                .put_object()
                .bucket(BUCKET)
                .key(&lock_key)
                .body(body.into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    };

    put_lock(r#"{"id":"ci-42","operation":"apply","who":"ci@elsewhere","pid":7,"created":"2026-11-26T00:00:00Z"}"#.into()).await;
    let locked = cli.expect(&["apply", "--auto-approve"], 1);
    assert!(locked.stderr.contains("ci@elsewhere"), "{}", locked.stderr);
    assert!(
        locked.stderr.contains("meshmon force-unlock ci-42"),
        "{}",
        locked.stderr
    );
    let wrong = cli.expect(&["force-unlock", "other"], 1);
    assert!(
        wrong.stderr.contains("has ID ci-42, not other"),
        "{}",
        wrong.stderr
    );
    cli.expect(&["force-unlock", "ci-42"], 0);
    assert!(object(&client, &lock_key).await.is_none());

    // A lock whose holder was a process of ours on this machine that has
    // exited is broken without asking.
    let me = format!(
        "{}@{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    );
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    put_lock(format!(
        r#"{{"id":"crashed","operation":"apply","who":"{me}","pid":{dead_pid},"created":"2026-11-26T00:00:00Z"}}"#
    ))
    .await;
    cli.expect(&["apply", "--auto-approve"], 0);
    assert!(object(&client, &lock_key).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_a_clear_error() {
    let moto = Moto::start();
    let cli = setup(&moto, "10ms");
    let out = cli.expect(&["apply", "--auto-approve"], 1);
    assert!(out.stderr.contains("NoSuchBucket"), "{}", out.stderr);
    assert!(
        out.stderr.contains("create the bucket first"),
        "{}",
        out.stderr
    );
}
