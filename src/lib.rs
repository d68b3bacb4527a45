//! meshmon: a declarative plan/apply engine for the monitoring stack of an
//! Envoy service mesh on Amazon EKS. The binary (`main.rs`) is thin: it
//! parses flags into `cli::Cli` and calls `cli::run`; everything else lives
//! in this library so that tests and benchmarks can drive it directly.

pub mod addr;
pub mod builtin;
pub mod cli;
pub mod diag;
pub mod docs;
pub mod drift;
pub mod engine;
pub mod eval;
pub mod fsutil;
pub mod graph;
pub mod init;
pub mod lint;
pub mod plan;
pub mod registry;
pub mod schema;
pub mod secrets;
pub mod spec;
pub mod state;
pub mod validate;
