//! Every AWS request the tests send is checked against the service's API
//! model — the JSON models botocore ships, installed with moto — the way
//! the real service validates its input before acting on it. The Rust SDK
//! sends whatever a provider put in a request, and moto and the test
//! doubles accept anything well-formed, so without this a request AWS
//! would refuse with a ValidationException passes the tests.
//!
//! - [`check`] reads one HTTP request: the service from its SigV4
//!   credential scope (signing names map to botocore's directories: `aps`
//!   is `amp`), the operation by protocol (`query`/`ec2`: the form's
//!   `Action`; `json`: `X-Amz-Target`; `rest-json`/`rest-xml`: method and
//!   `requestUri` template, S3 path-style or virtual-hosted), the input
//!   from where the model says each member travels (URI labels, query
//!   string, headers, JSON or XML body, flattened form keys such as
//!   `Tags.member.1.Key` and EC2's `Filter.1.Name`), and checks it against
//!   the input shape: required members, enums, string lengths, patterns,
//!   numeric ranges, list and map sizes, map keys, base64 blobs,
//!   timestamps, and members the input does not have.
//! - [`ModelProxy`] sits in front of moto ([`crate::moto::Moto`] hands
//!   out its endpoint), and the EKS, AMP and AMG doubles screen their
//!   requests with a [`Tally`]: a request that breaks the model is answered
//!   as the service would refuse it and never reaches the emulator.
//! - Every violation is also kept: in the guard that saw it, which fails
//!   the test when it is dropped (so a client that shrugs off a 400 cannot
//!   hide one), and process-wide ([`violations`], [`stats`]). With
//!   `MESHMON_AWS_MODEL_LOG` set, each check is appended to that file, and
//!   `scripts/test` prints the run's totals from it.
//!
//! The newest API version botocore has of a service is used. Patterns are
//! Java regexes; those the `regex` crate cannot express are left unchecked
//! and listed ([`unchecked_patterns`]). Responses are not checked, nor
//! what only the service knows (that an ARN names something that exists).
//! A request that names no service (no SigV4 scope, and no service given
//! by the guard) is passed through uncounted as a check.

#[cfg(test)]
mod botocore_tests;
mod check;
mod guard;
mod log;
mod model;
mod pattern;
mod proxy;
mod query;
mod reply;
mod rest;
mod route;
#[cfg(test)]
mod tests;
mod time;
mod xml;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use check::Rule;
pub use guard::{CHECKED_HEADER, Tally, mark_checked};
pub use log::VAR as LOG_VAR;
pub use model::{data_dir, service_dir};
pub use pattern::{Unchecked, unchecked as unchecked_patterns};
pub use proxy::ModelProxy;
pub use reply::{message, refusal};
pub use route::signing_name;

use crate::http::Request;
use check::{Checker, Problem};
use model::Model;

/// One way a request breaks its service's model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// The service, by its botocore name (`amp`, not `aps`).
    pub service: String,
    /// The operation, or what the request looked like when none matched.
    pub operation: String,
    /// The member's path in the input (`tags["Name"]`,
    /// `source.eksConfiguration.subnetIds[1]`); empty for the request.
    pub member: String,
    pub rule: Rule,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: ", self.service, self.operation)?;
        if !self.member.is_empty() {
            write!(f, "{}: ", self.member)?;
        }
        write!(f, "{}: {}", self.rule.as_str(), self.detail)
    }
}

/// A place where a service is known to accept what its botocore model
/// refuses; see [`KNOWN_EXCEPTIONS`].
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub service: &'static str,
    pub operation: &'static str,
    pub member: &'static str,
    pub rule: Rule,
    /// Where the service's own behaviour is documented.
    pub source: &'static str,
}

/// The one list of known exceptions to the models: violations the real
/// service is documented to accept. A matching violation is counted (the
/// log's `known`) but neither refused nor failed. It is empty: no request
/// the tests send needs one. A request a provider sends wrong is not an
/// exception; it is fixed in the provider. Where AWS routes requests
/// differently from the model's `requestUri` (S3's `x-id` query parameter,
/// the slash after a path-style bucket), [`route`] says so, with its
/// source.
pub const KNOWN_EXCEPTIONS: &[Known] = &[];

impl Known {
    fn matches(&self, v: &Violation) -> bool {
        self.service == v.service
            && self.operation == v.operation
            && self.member == v.member
            && self.rule == v.rule
    }
}

/// What checking a request found.
#[derive(Debug)]
pub enum Outcome {
    /// The request names no service this can check (no SigV4 scope and
    /// none given, or a service botocore has no model of): why.
    Unidentified(String),
    Checked(Checked),
}

/// A request checked against its service's model.
#[derive(Debug)]
pub struct Checked {
    pub service: String,
    /// The operation; `None` when no operation of the service matched
    /// (then [`Checked::violations`] says so).
    pub operation: Option<String>,
    /// What breaks the model, known exceptions excluded.
    pub violations: Vec<Violation>,
    /// Violations that are listed in [`KNOWN_EXCEPTIONS`].
    pub known: Vec<Violation>,
    model: Arc<Model>,
}

impl Checked {
    pub fn protocol(&self) -> &str {
        self.model.protocol()
    }

    /// The error the service answers the violations with.
    pub fn refusal(&self) -> crate::http::Response {
        refusal(
            self.protocol(),
            self.model.metadata.xml_namespace.as_deref(),
            self.model.metadata.json_version.as_deref(),
            &self.violations,
        )
    }
}

/// Checks one request. The service is the SigV4 scope's, else
/// `service` (a signing name, for a double that serves one service).
///
/// Panics when botocore's models cannot be found: the check must not be
/// skipped quietly.
pub fn check(req: &Request, service: Option<&str>) -> Outcome {
    let Some(signing) = signing_name(req).or_else(|| service.map(str::to_string)) else {
        return Outcome::Unidentified("no SigV4 credential scope".into());
    };
    let dir = service_dir(&signing);
    let model = match model::load(dir) {
        Ok(Some(m)) => m,
        Ok(None) => return Outcome::Unidentified(format!("botocore has no model of {dir}")),
        Err(e) => panic!("the AWS API model check cannot run: {e}"),
    };
    check_against(model, req, KNOWN_EXCEPTIONS)
}

/// Checks one request against `model`; violations that match one of
/// `exceptions` are kept apart.
fn check_against(model: Arc<Model>, req: &Request, exceptions: &[Known]) -> Outcome {
    let dir = model.service.clone();
    let dir = dir.as_str();
    let protocol = model.protocol().to_string();
    let mut checked = Checked {
        service: dir.to_string(),
        operation: None,
        violations: Vec::new(),
        known: Vec::new(),
        model: model.clone(),
    };
    let (operation, problems) = match route::operation(&model, req) {
        Err(detail) => (
            format!(
                "{} {}",
                req.method,
                req.target.split('?').next().unwrap_or_default()
            ),
            vec![Problem {
                member: String::new(),
                rule: Rule::Operation,
                detail,
            }],
        ),
        Ok((op, labels)) => {
            checked.operation = Some(op.name.clone());
            let input = match protocol.as_str() {
                "query" | "ec2" => match &op.input {
                    Some(r) => query::input(
                        &model,
                        &r.shape,
                        route::query_params(req),
                        protocol == "ec2",
                    ),
                    None => Default::default(),
                },
                "json" => rest::json_input(&model, op, req),
                "rest-json" | "rest-xml" => rest::rest_input(&model, op, req, &labels),
                other => {
                    return Outcome::Unidentified(format!(
                        "{dir} speaks {other}, which is not read"
                    ));
                }
            };
            let mut checker = Checker {
                model: &model,
                problems: input.problems.clone(),
            };
            if let Some(r) = &op.input {
                checker.input(&r.shape, &input);
            }
            (op.name.clone(), checker.problems)
        }
    };
    for p in problems {
        let v = Violation {
            service: dir.to_string(),
            operation: operation.clone(),
            member: p.member,
            rule: p.rule,
            detail: p.detail,
        };
        if exceptions.iter().any(|k| k.matches(&v)) {
            checked.known.push(v);
        } else {
            checked.violations.push(v);
        }
    }
    Outcome::Checked(checked)
}

/// What the checks in this process have seen.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests checked against a model.
    pub requests: usize,
    /// Checked requests per (service, operation).
    pub operations: BTreeMap<(String, String), usize>,
    /// Requests refused for breaking the model.
    pub refused: usize,
    /// Requests whose only violations are known exceptions.
    pub known: usize,
    /// Requests that named no service to check them against.
    pub unidentified: usize,
    /// Every violation, known exceptions included, in order.
    pub violations: Vec<Violation>,
}

static STATS: Mutex<Option<Stats>> = Mutex::new(None);

fn with_stats<T>(f: impl FnOnce(&mut Stats) -> T) -> T {
    let mut s = STATS.lock().unwrap_or_else(|e| e.into_inner());
    f(s.get_or_insert_with(Stats::default))
}

/// The counts of every check in this process so far.
pub fn stats() -> Stats {
    with_stats(|s| s.clone())
}

/// Every violation any guard in this process has seen, known exceptions
/// included.
pub fn violations() -> Vec<Violation> {
    with_stats(|s| s.violations.clone())
}

/// Adds a check to the process-wide counts and the run's log.
fn record(outcome: &Outcome, req: &Request) {
    match outcome {
        Outcome::Unidentified(_) => {
            with_stats(|s| s.unidentified += 1);
            log::line(&format!(
                "unidentified\t{} {}",
                req.method,
                req.target.split('?').next().unwrap_or_default()
            ));
        }
        Outcome::Checked(c) => {
            let op = c
                .operation
                .clone()
                .unwrap_or_else(|| "(no operation)".into());
            let verdict = if !c.violations.is_empty() {
                "refused"
            } else if !c.known.is_empty() {
                "known"
            } else {
                "passed"
            };
            with_stats(|s| {
                s.requests += 1;
                *s.operations
                    .entry((c.service.clone(), op.clone()))
                    .or_default() += 1;
                match verdict {
                    "refused" => s.refused += 1,
                    "known" => s.known += 1,
                    _ => {}
                }
                s.violations
                    .extend(c.violations.iter().chain(&c.known).cloned());
            });
            log::line(&format!("request\t{}\t{op}\t{verdict}", c.service));
            for v in c.violations.iter().chain(&c.known) {
                log::line(&format!("violation\t{v}"));
            }
        }
    }
}
