//! Look-ups: types that only read. A look-up finds one existing object by
//! the keys the spec gives (a cluster's name, a workspace's alias) and
//! returns what it found; it never creates, changes or deletes anything.
//!
//! A look-up is declared like a resource type, with the same
//! [`declare!`](crate::declare) block: its settable attributes are the
//! keys it searches by, its computed attributes what it finds. It goes in
//! the provider's one [`Types`](crate::Types) list with
//! [`TypeEntry::lookup`](crate::TypeEntry::lookup), under the same type
//! name as the resource it finds when there is one.
//!
//! Finding nothing, or more than one object, is an error that says what
//! was searched for and what exists that is close: [`not_found`] and
//! [`ambiguous`] word them the same way for every type.

use std::sync::Arc;

use async_trait::async_trait;

use crate::declared::{Declaration, DeclaredOutputs, Inputs};
use crate::error::ProviderError;
use crate::resource::{Lookup, OpContext};
use crate::value::{Map, Value};

/// A look-up type declared once; [`LookupAdapter`] makes it a [`Lookup`].
#[async_trait]
pub trait DeclaredLookup: Send + Sync + Sized + 'static {
    /// The keys searched by, from a [`declare!`](crate::declare) block.
    type Inputs: Declaration;
    /// What is found, from the same block's `outputs`.
    type Outputs: DeclaredOutputs;
    /// What every type of the provider shares (its API clients).
    type Client: Send + Sync + ?Sized + 'static;

    fn new(client: Arc<Self::Client>) -> Self;

    /// Finds the one object the inputs describe: [`not_found`] when there
    /// is none, [`ambiguous`] when there are several.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Self::Outputs, ProviderError>;
}

/// A [`DeclaredLookup`] as a [`Lookup`].
pub struct LookupAdapter<T>(pub T);

#[async_trait]
impl<T: DeclaredLookup> Lookup for LookupAdapter<T> {
    async fn find(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let found = self.0.find(ctx, &Inputs::decode(inputs)?).await?;
        Ok(found.into_map())
    }
}

/// The error code of a look-up that found nothing.
pub const NOT_FOUND: &str = "LookupNotFound";
/// The error code of a look-up that found more than one object.
pub const AMBIGUOUS: &str = "LookupAmbiguous";

/// `name = "prod", region = "eu-west-1"`: the keys a look-up searched by.
pub fn describe_keys(keys: &[(&str, &Value)]) -> String {
    if keys.is_empty() {
        return "no keys".into();
    }
    keys.iter()
        .map(|(k, v)| format!("{k} = {}", serde_json::to_string(v).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A look-up found nothing: `what` (`an EKS cluster`) with these keys does
/// not exist. `searched` is the value to compare with `existing` (the names
/// of the objects that do exist), for "did you mean"; the hint lists the
/// closest, or says that none exists at all.
pub fn not_found(
    what: &str,
    keys: &[(&str, &Value)],
    searched: &str,
    existing: impl IntoIterator<Item = String>,
) -> ProviderError {
    let existing: Vec<String> = existing.into_iter().collect();
    let close = closest(searched, &existing, 3);
    let hint = if !close.is_empty() {
        format!(
            "did you mean {}? A look-up only reads: it never creates what it does not find",
            close
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    } else if existing.is_empty() {
        "none exists where the provider looked (check its region and account); a look-up only reads: it never creates what it does not find".into()
    } else {
        format!(
            "{} exist, none close to {searched:?}: {}; a look-up only reads: it never creates what it does not find",
            existing.len(),
            shortlist(&existing)
        )
    };
    let mut e =
        ProviderError::new(format!("found no {what} with {}", describe_keys(keys))).with_hint(hint);
    e.code = Some(NOT_FOUND.into());
    e
}

/// A look-up found more than one object: each is named (by ID or ARN),
/// and the hint says to narrow the keys.
pub fn ambiguous(what: &str, keys: &[(&str, &Value)], found: &[String]) -> ProviderError {
    let mut e = ProviderError::new(format!(
        "found {} {what}s with {}: {}",
        found.len(),
        describe_keys(keys),
        shortlist(found)
    ))
    .with_hint("a look-up must find exactly one object: add a key that tells them apart (an ID, or one more tag)");
    e.code = Some(AMBIGUOUS.into());
    e
}

/// Up to ten names, and how many more.
fn shortlist(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("{n:?}")).collect();
    match names.len() {
        n if n > 10 => format!("{} and {} more", shown.join(", "), n - 10),
        _ => shown.join(", "),
    }
}

/// The candidates closest to `name`, best first, at most `limit`: those
/// similar enough to be a slip of the keyboard (Jaro-Winkler above 0.8).
pub fn closest<S: AsRef<str>>(name: &str, candidates: &[S], limit: usize) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c.as_ref()), c.as_ref()))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(limit)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_keys_and_the_closest_that_exist() {
        let e = not_found(
            "EKS cluster",
            &[("name", &Value::from("prd"))],
            "prd",
            ["prod".to_string(), "staging".to_string(), "prod-2".into()],
        );
        assert_eq!(e.message, "found no EKS cluster with name = \"prd\"");
        assert_eq!(e.code.as_deref(), Some(NOT_FOUND));
        let hint = e.hint.unwrap();
        assert!(hint.starts_with("did you mean \"prod\""), "{hint}");
        assert!(!hint.contains("staging"), "{hint}");
    }

    #[test]
    fn not_found_with_nothing_close_lists_what_exists_or_says_nothing_does() {
        let none = not_found("SNS topic", &[("name", &Value::from("x"))], "x", []);
        assert!(none.hint.unwrap().starts_with("none exists"));
        let far = not_found(
            "SNS topic",
            &[("name", &Value::from("alerts"))],
            "alerts",
            ["billing".to_string()],
        );
        assert!(far.hint.unwrap().contains("\"billing\""));
    }

    #[test]
    fn ambiguous_lists_every_match() {
        let e = ambiguous(
            "VPC",
            &[("tags", &Value::from("x"))],
            &["vpc-1".into(), "vpc-2".into()],
        );
        assert!(e.message.contains("found 2 VPCs"), "{}", e.message);
        assert!(e.message.contains("\"vpc-1\", \"vpc-2\""), "{}", e.message);
    }
}
