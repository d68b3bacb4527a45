//! What the resources' unit tests share: the provider's clients over
//! canned AWS answers ([`Replay`]), a create's context, and inputs.

use std::sync::Arc;

use meshmon_provider_sdk::{Intent, Map, OpContext, Value};
use meshmon_test_support::aws_replay::{Answer, Replay};

use crate::Clients;

/// The provider's clients, every one of them answered by `answers` in
/// order, and the replay that keeps what they sent.
pub(crate) fn clients(answers: impl IntoIterator<Item = Answer>) -> (Replay, Arc<Clients>) {
    let replay = Replay::new(answers);
    let clients = Arc::new(Clients::new(&replay.sdk_config()));
    (replay, clients)
}

/// The context of a create at `address`, with its intent: the marks it
/// tags its object with are `meshmon:lineage` L1 and `meshmon:token` t-1.
pub(crate) fn creating(address: &str) -> OpContext {
    OpContext::quiet(address).with_intent(Intent {
        token: "t-1".into(),
        lineage: "L1".into(),
    })
}

/// Inputs as the engine passes them, from JSON.
pub(crate) fn inputs(v: serde_json::Value) -> Map {
    match Value::from(v) {
        Value::Map(m) => m,
        other => panic!("inputs are a table, not {other:?}"),
    }
}
