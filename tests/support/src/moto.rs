//! A moto server (a local AWS emulator speaking the real wire protocols for
//! EC2, EKS, IAM, AMP, SNS, STS and S3), one per test, on a free loopback
//! port, killed on drop. `scripts/test` installs the pinned moto into
//! `.venv` and exports `MESHMON_MOTO_SERVER`; without it a test fails with
//! a message saying so — it never passes silently.
//!
//! Tests reach it only through an [`aws_model::ModelProxy`]: every request
//! is checked against its service's API model, one that breaks it is
//! refused as AWS would refuse it, and dropping the [`Moto`] fails the
//! test if any did.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::aws_model::{self, ModelProxy};

/// The region every test environment uses.
pub const REGION: &str = "eu-west-1";
/// The account moto pretends to be.
pub const ACCOUNT: &str = "123456789012";

/// A running moto server, behind the model-checking proxy.
pub struct Moto {
    child: Child,
    log: PathBuf,
    proxy: ModelProxy,
}

fn moto_binary() -> PathBuf {
    let hint = "run the tests through `scripts/test`, which installs the pinned moto into .venv and \
                exports MESHMON_MOTO_SERVER (or: python3 -m venv .venv && .venv/bin/pip install -r \
                tests/requirements.txt && export MESHMON_MOTO_SERVER=$PWD/.venv/bin/moto_server)";
    let path = std::env::var_os("MESHMON_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("MESHMON_MOTO_SERVER is not set: the AWS tests need a moto server; {hint}")
        });
    assert!(
        path.is_file(),
        "MESHMON_MOTO_SERVER={} does not exist; {hint}",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A moto process not yet known to listen.
struct Starting {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Starting {
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited with {status}; its log:\n{}",
                    self.log_tail()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "it did not answer on port {} within {limit:?}; its log:\n{}",
            self.port,
            self.log_tail()
        ))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Moto {
    /// Starts a fresh server and waits until it accepts connections.
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// Starts a server with moto settings in its environment, e.g.
    /// `MOTO_IAM_LOAD_MANAGED_POLICIES=true` for AWS-managed policies such
    /// as `AmazonEKSClusterPolicy` (off by default: loading them is slow).
    pub fn start_with(settings: &[(&str, &str)]) -> Moto {
        let bin = moto_binary();
        let mut last_error = String::new();
        // Another process may take the port between choosing and binding it.
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir()
                .join(format!("meshmon-moto-{}-{port}.log", std::process::id()));
            let file = std::fs::File::create(&log).expect("moto log file");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(settings.iter().copied())
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log handle"))
                .stderr(file)
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
            let mut starting = Starting { child, port, log };
            match starting.wait_ready(Duration::from_secs(60)) {
                Ok(()) => {
                    // Only now that moto holds its port: a proxy bound
                    // before could be given the same port by the kernel and
                    // forward every request to itself.
                    let proxy = ModelProxy::start(&format!("http://127.0.0.1:{port}"));
                    let Starting { child, log, .. } = starting;
                    return Moto { child, log, proxy };
                }
                Err(e) => {
                    let _ = starting.child.kill();
                    let _ = starting.child.wait();
                    let _ = std::fs::remove_file(&starting.log);
                    last_error = e;
                }
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    /// `http://127.0.0.1:PORT` of the proxy that checks each request
    /// against the AWS API models before moto sees it.
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// The requests refused for breaking the AWS API models; a test that
    /// sends one on purpose takes it from here ([`aws_model::Tally::take`]).
    pub fn model_check(&self) -> &aws_model::Tally {
        self.proxy.tally()
    }

    /// What a process needs in its environment to talk to this server, and
    /// nothing from the developer's own AWS setup.
    pub fn env(&self) -> Vec<(String, String)> {
        let none = std::env::temp_dir().join("meshmon-test-no-aws-config");
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", none.join("config").display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                none.join("credentials").display().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// SDK configuration for clients that act "out of band" in tests:
    /// changing things behind meshmon's back, checking what is left.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint()).await
    }
}

/// SDK configuration for any local endpoint, with dummy credentials.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "meshmon-tests",
        ))
        .load()
        .await
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        self.proxy.tally().assert_clean("moto");
    }
}

/// `sdk` acting as the role `role_arn` (sts:AssumeRole, as meshmon's
/// `assume_role` does): moto keeps what such a session makes in the role's
/// account, apart from the default account's.
pub async fn assuming(sdk: &SdkConfig, role_arn: &str) -> SdkConfig {
    let role = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("meshmon-tests")
        .configure(sdk)
        .build()
        .await;
    sdk.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(role))
        .build()
}
