//! What providers' unit tests share: a create's context and inputs as the
//! engine passes them. Public so that every provider crate's tests use the
//! same ones; nothing outside tests needs it.

use crate::resource::{Intent, OpContext};
use crate::value::{Map, Value};

/// The context of a create at `address`, with its intent: the marks it
/// tags its object with are `meshmon:lineage` L1 and `meshmon:token` t-1.
pub fn creating(address: &str) -> OpContext {
    OpContext::quiet(address).with_intent(Intent {
        token: "t-1".into(),
        lineage: "L1".into(),
    })
}

/// Inputs as the engine passes them, from JSON.
pub fn inputs(v: serde_json::Value) -> Map {
    match Value::from(v) {
        Value::Map(m) => m,
        other => panic!("inputs are a table, not {other:?}"),
    }
}
