//! What the resources' unit tests share: the AMG clients over canned AWS
//! answers, a Grafana HTTP client against a local server that answers
//! from a list and keeps every request, a create's context, and inputs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use meshmon_test_support::aws_replay::{Answer, Replay};
use meshmon_test_support::http::{Request, Response, Server};

use crate::amg::Clients;
use crate::client::Client;

/// The AMG clients, answered by `answers` in order, and the replay that
/// keeps what they sent.
pub(crate) fn amg(answers: impl IntoIterator<Item = Answer>) -> (Replay, Arc<Clients>) {
    let replay = Replay::new(answers);
    let clients = Arc::new(Clients::new(&replay.sdk_config()));
    (replay, clients)
}

/// A local Grafana that gives these answers (status and JSON body) in
/// order, and what it was asked. It stops when dropped, so a test that
/// does not look at it still binds it to a name: `let (_, c)` would drop
/// it before the first request.
pub(crate) struct Grafana {
    _server: Server,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Grafana {
    /// Every request so far, in order.
    pub(crate) fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// A client of a local Grafana that answers `answers` in order.
pub(crate) fn grafana(answers: Vec<(u16, serde_json::Value)>) -> (Grafana, Arc<Client>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
    let log = seen.clone();
    let server = Server::start(Arc::new(move |req: &Request| {
        log.lock().unwrap().push(req.clone());
        match queue.lock().unwrap().pop_front() {
            Some((status, body)) => Response::json(status, &body),
            None => Response::json(500, &serde_json::json!({"message": "no answer left"})),
        }
    }));
    let client = Client::new(&server.endpoint(), "test-token").expect("a client");
    let g = Grafana {
        _server: server,
        seen,
    };
    (g, Arc::new(client))
}

pub(crate) use meshmon_provider_sdk::testing::{creating, inputs};
