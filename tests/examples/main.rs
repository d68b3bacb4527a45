//! The examples read as a reviewer would, without an AWS account: what
//! they query, scrape, run and grant is checked against what the scraped
//! sources export, what the services require and what their images are.
//! Where to find what:
//!
//! - `spec.rs`: loads each example spec with its variables' defaults and
//!   `file()` contents, and the objects of its manifests.
//! - `queries.rs`: every PromQL query of the dashboards, Grafana alert
//!   rules and AMP rule groups, Grafana's variables substituted.
//! - `promql.rs`: each query against `tests/data/metric-catalogue.toml`
//!   (metric and label names, label values, Istio's stats inclusion).
//! - `access.rs`: the managed collector's RBAC (AWS's ClusterRole bound
//!   to aps-collector-user, covering what its scrape configuration
//!   discovers, applied before the scraper), in every example spec and
//!   every spec `meshmon init` writes; the cluster creator's access entry.
//! - `amg.rs`: the AMP data source's plugin, the workspace's Grafana
//!   version, the dashboards' data source references.
//! - `images.rs`: every image pinned, with a comment naming its origin;
//!   every Helm chart pinned.
//! - `workloads.rs`: App Mesh's injector admits every pod; the load
//!   generator is on by default and calls Services with pods.
//! - `tools.rs`: `promtool check rules` on every rule group and query,
//!   `amtool check-config` on every Alertmanager definition.
//! - `cluster.rs` and `scrape.rs`: every collector configuration run
//!   against a two-node model of the cluster; each target scraped once.

mod access;
mod amg;
mod cluster;
mod images;
mod promql;
mod queries;
mod scrape;
mod spec;
mod tools;
mod workloads;
