//! The guard a test server keeps: it screens each request, answers those
//! that break the model as the service would, and remembers them so that
//! the test fails when the server is dropped, even where the client
//! shrugged the refusal off (a read that takes a 400 for "not found").

use std::sync::{Arc, Mutex};

use super::{Outcome, Violation, check, record};
use crate::http::{Request, Response};

/// Marks a request a guard has already screened, so that a double that
/// forwards it to moto does not have it checked (and counted) twice.
pub const CHECKED_HEADER: &str = "x-meshmon-model-checked";

/// `req` with [`CHECKED_HEADER`] added.
pub fn mark_checked(req: &Request) -> Request {
    let mut req = req.clone();
    req.headers.push((CHECKED_HEADER.into(), "1".into()));
    req
}

/// The violations one test server has seen.
#[derive(Clone, Default)]
pub struct Tally {
    seen: Arc<Mutex<Vec<Violation>>>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Checks `req` (for a server of one service, `service` is its
    /// signing name, used when the request is not signed) and records
    /// the outcome. `Some`: the refusal to answer instead of serving it.
    pub fn screen(&self, req: &Request, service: Option<&str>) -> Option<Response> {
        if super::route::header(req, CHECKED_HEADER).is_some() {
            return None;
        }
        let outcome = check(req, service);
        record(&outcome, req);
        match outcome {
            Outcome::Checked(c) if !c.violations.is_empty() => {
                self.lock().extend(c.violations.iter().cloned());
                Some(c.refusal())
            }
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Violation>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The violations seen so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().clone()
    }

    /// Takes the violations seen so far: a test that breaks the model on
    /// purpose takes them to assert on, and the guard stays clean (the
    /// run's log counts them as expected).
    pub fn take(&self) -> Vec<Violation> {
        let taken = std::mem::take(&mut *self.lock());
        for v in &taken {
            super::log::line(&format!("expected\t{v}"));
        }
        taken
    }

    /// Fails (unless the thread is already panicking) when a request
    /// `server` received broke its service's model.
    pub fn assert_clean(&self, server: &str) {
        if std::thread::panicking() {
            return;
        }
        let seen = std::mem::take(&mut *self.lock());
        if !seen.is_empty() {
            let list: Vec<String> = seen.iter().map(|v| format!("  - {v}")).collect();
            panic!(
                "{server} received {} request violation(s) of the AWS API models \
                 (a real service refuses these with a validation error):\n{}",
                seen.len(),
                list.join("\n")
            );
        }
    }
}
