//! How a create marks what it makes so that `recover` can find it again,
//! and only it. Objects whose names AWS keeps unique (IAM roles, EKS
//! clusters, SNS topics…) are found by name; the others (VPCs, subnets,
//! gateways, route tables, AMP workspaces and scrapers, Grafana
//! workspaces) only by tags. A
//! create tags its object with the engine's ownership tags (`meshmon:lineage`,
//! `meshmon:address`) and with its own token (`meshmon:token`): the
//! ownership tags alone also fit the object an earlier create at the same
//! address made, such as the one a `create_before_destroy` replacement is
//! about to delete. Where the create tags the object, an object found by
//! its unique name is adopted only if it carries those marks too: without
//! them it was made by someone else (another lineage, a person), and the
//! create, run again, says the name is taken. Reads leave every `meshmon:`
//! tag out ([`crate::tags`]).

use meshmon_provider_sdk::{OpContext, ProviderError};

pub use meshmon_provider_sdk::TOKEN_TAG;

use crate::tags::Tags;
pub use crate::tags::is_reserved;

/// The tags that mark an object as made by this create: the ownership
/// tags and the create's token. Empty outside a create with an intent.
pub fn marks(ctx: &OpContext) -> Tags {
    ctx.ownership_tags().into_iter().collect()
}

/// The tags to create an object with: the user's, then this create's marks.
pub fn creation_tags(ctx: &OpContext, user: &Tags) -> Tags {
    let mut t = user.clone();
    t.extend(marks(ctx));
    t
}

/// The marks a lookup by tag needs; without an intent there is nothing
/// that tells this create's object from any other.
pub fn required_marks(ctx: &OpContext) -> Result<Tags, ProviderError> {
    if ctx.intent.is_none() {
        return Err(ProviderError::new(format!(
            "{}: recovering a create needs the create's intent (its token and lineage)",
            ctx.address
        ))
        .with_hint("this is a bug in meshmon: the engine recovers only creates it journaled"));
    }
    Ok(marks(ctx))
}

/// Whether `tags` carry this create's marks: its ownership tags and token.
pub fn made_by<'a>(ctx: &OpContext, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    ctx.owns(tags)
}

/// For an object found by a name AWS keeps unique and tagged at creation:
/// whether this create made it (it carries the create's marks).
pub fn claimed<'a>(
    ctx: &OpContext,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<bool, ProviderError> {
    required_marks(ctx)?;
    Ok(made_by(ctx, tags))
}

/// [`claimed`] for tags as the JSON APIs (EKS, AMP, AMG) return them.
pub fn claimed_map(
    ctx: &OpContext,
    tags: Option<&std::collections::HashMap<String, String>>,
) -> Result<bool, ProviderError> {
    claimed(
        ctx,
        tags.into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The object a lookup by this create's marks found, if any. Two are an
/// error: a token is unique to one create, so the second was made by hand
/// or by a retry that did not see the first.
pub fn only_one<T>(
    ctx: &OpContext,
    kind: &str,
    mut found: Vec<T>,
    id: impl Fn(&T) -> String,
) -> Result<Option<T>, ProviderError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => {
            let ids: Vec<String> = found.iter().map(id).collect();
            Err(ProviderError::new(format!(
                "{}: {} {kind}s carry the tags of this one create: {}",
                ctx.address,
                ids.len(),
                ids.join(", ")
            ))
            .with_hint(format!(
                "delete all but one of them (the one to keep is adopted on the next apply), \
                 or remove its {TOKEN_TAG} tag from each one meshmon should leave alone"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_provider_sdk::Intent;

    fn ctx(address: &str, lineage: &str, token: &str) -> OpContext {
        OpContext::quiet(address).with_intent(Intent {
            token: token.into(),
            lineage: lineage.into(),
        })
    }

    #[test]
    fn creation_tags_add_the_marks_over_the_users_tags() {
        let c = ctx("aws_vpc.main", "L1", "t-1");
        let user: Tags = [
            ("Name".to_string(), "main".to_string()),
            ("meshmon:token".to_string(), "forged".to_string()),
        ]
        .into();
        let t = creation_tags(&c, &user);
        assert_eq!(t["Name"], "main");
        assert_eq!(t["meshmon:lineage"], "L1");
        assert_eq!(t["meshmon:address"], "aws_vpc.main");
        assert_eq!(t[TOKEN_TAG], "t-1");
        assert!(creation_tags(&OpContext::quiet("aws_vpc.main"), &Tags::new()).is_empty());
    }

    #[test]
    fn made_by_needs_lineage_address_and_token() {
        let c = ctx("aws_vpc.main", "L1", "t-1");
        let mine = marks(&c);
        let check = |t: &Tags| made_by(&c, t.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(check(&mine));
        // The object an earlier create at the same address made.
        let mut earlier = mine.clone();
        earlier.insert(TOKEN_TAG.into(), "t-0".into());
        assert!(!check(&earlier));
        let mut other_lineage = mine.clone();
        other_lineage.insert("meshmon:lineage".into(), "L2".into());
        assert!(!check(&other_lineage));
        let mut untokened = mine.clone();
        untokened.remove(TOKEN_TAG);
        assert!(!check(&untokened));
        assert!(required_marks(&OpContext::quiet("aws_vpc.main")).is_err());
    }

    #[test]
    fn two_objects_with_one_token_are_an_error() {
        let c = ctx("aws_vpc.main", "L1", "t-1");
        assert_eq!(
            only_one(&c, "VPC", Vec::<String>::new(), |s| s.clone()).unwrap(),
            None
        );
        assert_eq!(
            only_one(&c, "VPC", vec!["vpc-1".to_string()], |s| s.clone()).unwrap(),
            Some("vpc-1".to_string())
        );
        let e = only_one(
            &c,
            "VPC",
            vec!["vpc-1".to_string(), "vpc-2".to_string()],
            |s| s.clone(),
        )
        .unwrap_err();
        assert!(e.message.contains("vpc-1, vpc-2"), "{}", e.message);
    }
}
