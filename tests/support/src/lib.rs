//! Test servers and harnesses for meshmon's tests. Dev-only: nothing here
//! ships in the binary.
//!
//! - [`moto::Moto`]: a moto server per test (AWS emulator).
//! - [`aws_model`]: every AWS request the tests send — to moto, and to
//!   the EKS, AMP and AMG doubles — is checked against the service's API
//!   model from botocore (required members, enums, lengths, patterns,
//!   ranges, blobs, timestamps). A request that breaks it is refused as
//!   the service refuses it (a validation error), and the server that saw
//!   it fails the test when dropped; [`aws_model::KNOWN_EXCEPTIONS`] is
//!   the one list of what a service is known to accept against its model.
//! - [`eks_double::EksDouble`]: a narrow double of the EKS API for what moto
//!   lacks (cluster version upgrades, transitions that take time, failures,
//!   throttling, access configuration and access entries).
//! - [`eks_endpoint`]: a cluster of the EKS double whose endpoint and CA
//!   are a [`kube_api::KubeApi`]'s, as DescribeCluster reports them.
//! - [`amp_double::AmpDouble`]: a narrow double of the AMP API for what moto
//!   lacks (managed collectors, Alertmanager definitions), forwarding the
//!   rest to moto.
//! - [`caller`]: the account and Region a request to a double comes from
//!   (moto keeps an assumed role's resources in the role's account; the
//!   doubles do the same).
//! - [`amp_cross_account`]: checks a cross-account scraper's IAM wiring.
//! - [`existing`]: an "existing" EKS cluster (VPC, subnets, roles, node
//!   group), made out of band in any emulated account, and an inventory of
//!   an account for before/after comparisons.
//! - [`kube_api::KubeApi`]: a test Kubernetes API server (HTTPS, discovery,
//!   server-side apply, faults), and [`kube_api::FakeHelm`] for the helm CLI.
//! - [`amg::AmgServer`] and [`grafana::GrafanaServer`]: test servers for the
//!   Amazon Managed Grafana control plane and the Grafana HTTP API.
//! - [`cli::Cli`]: runs the real `meshmon` binary against them.
//! - [`fault_proxy::FaultProxy`]: a seeded proxy that injects throttling,
//!   5xx, resets and lost or late answers between `meshmon` and them.
//! - [`http`]: the small HTTP server test doubles are built on.
//! - [`aws_replay::Replay`]: canned AWS answers for provider unit tests,
//!   with the requests they were given to.

pub mod amg;
pub mod amp_cross_account;
pub mod amp_double;
pub mod aws_model;
pub mod aws_replay;
pub mod caller;
pub mod cli;
pub mod eks_double;
pub mod eks_endpoint;
pub mod emulated;
pub mod existing;
pub mod fault_proxy;
pub mod grafana;
pub mod http;
pub mod kube_api;
pub mod moto;

pub use aws_config::SdkConfig;
pub use {
    aws_sdk_amp as amp, aws_sdk_ec2 as ec2, aws_sdk_eks as eks, aws_sdk_iam as iam,
    aws_sdk_sns as sns,
};
