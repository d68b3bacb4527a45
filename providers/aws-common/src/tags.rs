//! AWS tags between the engine's `Value` maps and the SDKs: the `tags`
//! attribute, tag diffs, and shaping what `read` returns so that an absent
//! `tags` and an empty one are the same thing to a user. Tags AWS adds
//! (`aws:`) and meshmon's own (`meshmon:`, see [`crate::ownership`]) are
//! never the user's: reads leave them out, tag updates never touch them,
//! and a spec may not set meshmon's.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::future::Future;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_provider_sdk::attrs::Attrs;
use meshmon_provider_sdk::{AttrType, Attribute, Map, OWNERSHIP_TAG_PREFIX, ProviderError, Value};

use crate::error::{Hint, api_with};

/// Whether a tag key is meshmon's (its ownership tags), not the user's.
pub fn is_reserved(key: &str) -> bool {
    key.starts_with(OWNERSHIP_TAG_PREFIX)
}

pub type Tags = BTreeMap<String, String>;

/// The `tags` attribute every taggable type has: a string table, changed
/// in place, without meshmon's own keys. `name` is `tags` (the shape of a
/// `declare!` constructor).
pub fn tags_attr(name: &'static str) -> Attribute {
    Attribute::optional(name, AttrType::map_of(AttrType::String))
        .check(no_reserved_tags)
        .describe("Tags; changed in place.")
}

/// The refusal of a tag key that starts with `meshmon:`.
fn reserved_key_message(key: &str) -> String {
    format!("tag {key:?}: keys starting with \"{OWNERSHIP_TAG_PREFIX}\" are meshmon's own")
}

/// Refuses tag keys that start with `meshmon:`: meshmon tags the objects
/// it creates with those, and reads leave them out, so a user's would show
/// as drift forever. The check of [`tags_attr`].
pub fn no_reserved_tags(v: &Value) -> Result<(), String> {
    match v.as_map().and_then(|m| m.keys().find(|k| is_reserved(k))) {
        Some(k) => Err(reserved_key_message(k)),
        None => Ok(()),
    }
}

/// [`no_reserved_tags`] for tags a create or update was given, for a
/// resource called without the engine's schema checks in front of it.
pub fn refuse_reserved(t: &Tags) -> Result<(), ProviderError> {
    match t.keys().find(|k| is_reserved(k)) {
        Some(k) => Err(ProviderError::new(reserved_key_message(k)).with_hint("rename the tag")),
        None => Ok(()),
    }
}

/// Whether a tag is the user's: not added by AWS, not meshmon's own.
pub fn is_users_tag(key: &str) -> bool {
    !key.starts_with("aws:") && !is_reserved(key)
}

/// Tags as the SDKs that take a string map want them (`None` when empty).
pub fn tags_hash_map(t: &Tags) -> Option<HashMap<String, String>> {
    (!t.is_empty()).then(|| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Tags as the SDKs that take a list of key-value structs want them (IAM,
/// SNS), each made by `build` (the SDK's `Tag::builder()`); `None` when
/// empty.
pub fn tag_list<T, E: std::fmt::Display>(
    t: &Tags,
    build: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<Option<Vec<T>>, ProviderError> {
    if t.is_empty() {
        return Ok(None);
    }
    t.iter()
        .map(|(k, v)| build(k, v).map_err(|e| ProviderError::new(format!("tag {k:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Tags from an SDK's string map.
pub fn tags_from_map(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// AWS tags on an attribute map being built for `read`.
pub trait TagsExt {
    /// Tags, without the `aws:` ones AWS adds itself and meshmon's own.
    fn tags(self, prior: &Map, tags: Tags) -> Self;
}

impl TagsExt for Attrs {
    fn tags(self, prior: &Map, tags: Tags) -> Self {
        let tags: Tags = tags.into_iter().filter(|(k, _)| is_users_tag(k)).collect();
        self.unless_empty(prior, "tags", tags_value(&tags))
    }
}

/// Tags as an attribute value.
pub fn tags_value(tags: &Tags) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// A string-to-string table from a prior map entry.
pub fn tags_of(m: &Map, key: &str) -> Tags {
    m.get(key)
        .and_then(Value::as_map)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What to tag and untag to go from `old` to `new`. Tags that are not the
/// user's (`aws:`, `meshmon:`) are never set or removed.
pub fn tag_diff(old: &Tags, new: &Tags) -> (Tags, Vec<String>) {
    let set = new
        .iter()
        .filter(|(k, v)| is_users_tag(k) && old.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| is_users_tag(k) && !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// Brings an object's user tags from `old` to `new`, the one way every
/// taggable type does it: `set` is called with what is new or changed and
/// `remove` with the keys that are gone, each only when it has something to
/// do. Tags that are not the user's are never passed to either.
pub async fn sync<S, R>(
    old: &Tags,
    new: &Tags,
    set: impl FnOnce(Tags) -> S,
    remove: impl FnOnce(Vec<String>) -> R,
) -> Result<(), ProviderError>
where
    S: Future<Output = Result<(), ProviderError>>,
    R: Future<Output = Result<(), ProviderError>>,
{
    let (to_set, to_remove) = tag_diff(old, new);
    if !to_set.is_empty() {
        set(to_set).await?;
    }
    if !to_remove.is_empty() {
        remove(to_remove).await?;
    }
    Ok(())
}

/// Brings an object's user tags from `old` to `new` with a service's two
/// tagging calls ([`sync`]), each given with its operation
/// (`eks:TagResource`) and what sends it for the tags to set or the keys
/// to remove (making the request may fail before anything is sent: a tag
/// the SDK cannot build). Their failures become `ProviderError`s naming
/// the operation, with the provider's `hint`.
pub async fn retag<T, U, E, G, TF, UF>(
    hint: Hint,
    old: &Tags,
    new: &Tags,
    (tag_op, tag): (&str, impl FnOnce(Tags) -> Result<TF, ProviderError>),
    (untag_op, untag): (&str, impl FnOnce(Vec<String>) -> Result<UF, ProviderError>),
) -> Result<(), ProviderError>
where
    TF: Future<Output = Result<T, E>>,
    UF: Future<Output = Result<U, G>>,
    E: ProvideErrorMetadata + Error,
    G: ProvideErrorMetadata + Error,
{
    sync(
        old,
        new,
        |set| async move {
            tag(set)?
                .await
                .map(drop)
                .map_err(|e| api_with(hint, tag_op, e))
        },
        |keys| async move {
            untag(keys)?
                .await
                .map(drop)
                .map_err(|e| api_with(hint, untag_op, e))
        },
    )
    .await
}

/// [`retag`] for the object `$arn` of a service whose `TagResource` takes
/// a string map and whose `UntagResource` takes the keys (EKS, AMP,
/// Amazon Managed Grafana), from the tags recorded in `$prior` (a
/// `Current`) to `$new`: `retag_by_arn!(clients.eks, "eks", arn, prior,
/// &i.tags)`, or with a provider's hint before the ARN. Their clients are
/// distinct types with the same builder methods, so the one body is a
/// macro.
#[macro_export]
macro_rules! retag_by_arn {
    ($client:expr, $service:literal, $arn:expr, $prior:expr, $new:expr) => {
        $crate::retag_by_arn!(
            $client,
            $service,
            $crate::error::NO_HINT,
            $arn,
            $prior,
            $new
        )
    };
    ($client:expr, $service:literal, $hint:expr, $arn:expr, $prior:expr, $new:expr) => {
        $crate::tags::retag(
            $hint,
            &$crate::tags::tags_of(&$prior.inputs, "tags"),
            $new,
            (concat!($service, ":TagResource"), |set| {
                Ok($client
                    .tag_resource()
                    .resource_arn($arn)
                    .set_tags($crate::tags::tags_hash_map(&set))
                    .send())
            }),
            (concat!($service, ":UntagResource"), |keys| {
                Ok($client
                    .untag_resource()
                    .resource_arn($arn)
                    .set_tag_keys(Some(keys))
                    .send())
            }),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_collections_the_user_left_out_stay_out() {
        let m = Attrs::new().tags(&Map::new(), Tags::new()).build();
        assert!(!m.contains_key("tags"));
        let prior: Map = [("tags".to_string(), Value::Map(Map::new()))].into();
        let m = Attrs::new()
            .tags(&prior, [("aws:x".to_string(), "y".to_string())].into())
            .build();
        assert_eq!(m["tags"], Value::Map(Map::new()));
    }

    #[test]
    fn tag_diff_sets_changed_and_removes_missing() {
        let old: Tags = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let new: Tags = [("a".into(), "1".into()), ("c".into(), "3".into())].into();
        let (set, remove) = tag_diff(&old, &new);
        assert_eq!(set, [("c".to_string(), "3".to_string())].into());
        assert_eq!(remove, vec!["b".to_string()]);
    }

    #[test]
    fn meshmon_tags_are_never_read_set_or_removed() {
        let live: Tags = [
            ("team".into(), "obs".into()),
            ("meshmon:lineage".into(), "L1".into()),
            ("meshmon:address".into(), "aws_vpc.main".into()),
            ("aws:cloudformation:stack-name".into(), "x".into()),
        ]
        .into();
        let m = Attrs::new().tags(&Map::new(), live.clone()).build();
        assert_eq!(
            m["tags"],
            tags_value(&[("team".to_string(), "obs".to_string())].into())
        );
        let (set, remove) = tag_diff(&live, &Tags::new());
        assert!(set.is_empty());
        assert_eq!(remove, vec!["team".to_string()]);
        let (set, _) = tag_diff(&Tags::new(), &live);
        assert_eq!(set.keys().collect::<Vec<_>>(), vec!["team"]);
    }

    #[test]
    fn specs_cannot_write_meshmon_tags() {
        let ok = tags_value(&[("team".to_string(), "obs".to_string())].into());
        assert!(no_reserved_tags(&ok).is_ok());
        let bad = tags_value(&[("meshmon:lineage".to_string(), "x".to_string())].into());
        assert!(
            no_reserved_tags(&bad)
                .unwrap_err()
                .contains("meshmon:lineage")
        );
        let bad: Tags = [("meshmon:lineage".to_string(), "x".to_string())].into();
        assert!(
            refuse_reserved(&bad)
                .unwrap_err()
                .message
                .contains("meshmon's own")
        );
        assert!(refuse_reserved(&Tags::new()).is_ok());
    }
}
