//! Small helpers between the engine's `Value` maps and typed inputs:
//! typed deserialisation, the identifier an answer must carry, and change
//! checks; ordering a set like the user's list is the SDK's
//! ([`order_like`]), tags are [`meshmon_aws_common::tags`]'s.

use meshmon_provider_sdk::{Map, ProviderError, Value};

pub use meshmon_provider_sdk::attrs::{Attrs, order_like, str_of, strings, strings_of, typed};

/// The identifier an AWS answer must carry (`what`: "ARN", "VPC ID").
/// Without it the service acted but did not say on which object. A create
/// marks the error ambiguous where the object can be found again, so that
/// the engine recovers it rather than making a second one.
pub fn answered<'a>(
    operation: &str,
    what: &str,
    value: Option<&'a str>,
) -> Result<&'a str, ProviderError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ProviderError::api(operation, None, format!("the answer carries no {what}")).with_hint(
            "AWS has the object but did not say which: run `meshmon apply` again, \
             which looks for it before creating another",
        )
    })
}

/// Whether `key` differs between the prior inputs and the new ones.
pub fn changed(prior: &Map, inputs: &Map, key: &str) -> bool {
    prior.get(key).unwrap_or(&Value::Null) != inputs.get(key).unwrap_or(&Value::Null)
}
