//! A proxy in front of an AWS emulator (moto) that checks every request
//! against its service's model: valid ones are forwarded unchanged, the
//! others answered as the service refuses them.

use std::sync::Arc;

use super::Tally;
use crate::http::{Request, Server, forward};

/// The checking proxy; dropped, it stops.
pub struct ModelProxy {
    server: Server,
    tally: Tally,
}

impl ModelProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free
    /// loopback port.
    pub fn start(upstream: &str) -> ModelProxy {
        let tally = Tally::new();
        let screen = tally.clone();
        let upstream = upstream.to_string();
        let server = Server::start(Arc::new(move |req: &Request| {
            screen
                .screen(req, None)
                .unwrap_or_else(|| forward(&upstream, req))
        }));
        ModelProxy { server, tally }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// What the proxy refused.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}
