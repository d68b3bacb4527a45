//! What the resources' unit tests share: the provider's clients over
//! canned AWS answers ([`Replay`]), a create's context, and inputs.

use std::sync::Arc;

use meshmon_test_support::aws_replay::{Answer, Replay};

use crate::Clients;

/// The provider's clients, every one of them answered by `answers` in
/// order, and the replay that keeps what they sent.
pub(crate) fn clients(answers: impl IntoIterator<Item = Answer>) -> (Replay, Arc<Clients>) {
    let replay = Replay::new(answers);
    let clients = Arc::new(Clients::new(&replay.sdk_config()));
    (replay, clients)
}

pub(crate) use meshmon_provider_sdk::testing::{creating, inputs};
