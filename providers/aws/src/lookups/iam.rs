//! `aws_iam_oidc_provider` as a look-up: an OpenID Connect provider found
//! by its issuer URL, with the resource type's attribute names (see
//! `crate::iam`). IAM keeps a provider's URL without its scheme, and puts
//! it in the provider's ARN (`arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`),
//! so the list is matched on the ARNs, as the resource's `recover` does,
//! and only the provider that matches is read: one GetOpenIDConnectProvider
//! call, not one per provider in the account.

use std::sync::Arc;

use meshmon_aws_common::error::{api, found};
use meshmon_aws_common::tags::{Tags, is_users_tag};
use meshmon_provider_sdk::lookup::not_found;
use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::iam::tags_from;
use crate::policy::issuer_host;

declare! {
    pub(crate) struct OidcProviderIn for "aws_iam_oidc_provider" (
        "An existing IAM OpenID Connect provider, found by its issuer URL \
         (iam:ListOpenIDConnectProviders, matched on the URL each ARN carries; \
         iam:GetOpenIDConnectProvider for the one that matches)."
    ) {
        url: String = required(AttrType::String).describe(
            "The issuer URL, with or without `https://` and a trailing slash, \
             like \"${data.aws_eks_cluster.main.oidc_issuer}\".",
        );
    }
    outputs OidcProviderOut {
        arn: String = computed(AttrType::String)
            .describe("What IRSA roles trust: `irsa.oidc_provider_arn`.");
        id: String = computed(AttrType::String).describe("The ARN, as the resource's `id`.");
        client_ids: Vec<String> = computed(AttrType::list_of(AttrType::String))
            .describe("The audiences (client IDs) the provider accepts, like \"sts.amazonaws.com\".");
        thumbprints: Vec<String> = computed(AttrType::list_of(AttrType::String))
            .describe("The issuer's server certificate thumbprints.");
        tags: Tags = computed(AttrType::map_of(AttrType::String))
            .describe("The provider's tags, without `aws:` and `meshmon:` ones.");
    }
}

pub(crate) struct OidcProviderLookup(Arc<Clients>);

/// The issuer a provider's ARN names, as a URL: `https://HOST/PATH`.
fn issuer_of(arn: &str) -> Option<String> {
    let (_, host) = arn.split_once(":oidc-provider/")?;
    Some(format!("https://{}", issuer_host(host)))
}

#[async_trait]
impl DeclaredLookup for OidcProviderLookup {
    type Inputs = OidcProviderIn;
    type Outputs = OidcProviderOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        OidcProviderLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, OidcProviderIn>,
    ) -> Result<OidcProviderOut, ProviderError> {
        let iam = &self.0.iam;
        // ListOpenIDConnectProviders does not page: it returns them all.
        let listed = iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| api("iam:ListOpenIDConnectProviders", e))?;
        let wanted = format!("https://{}", issuer_host(&i.url));
        let providers: Vec<(String, String)> = listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| {
                let arn = p.arn()?;
                Some((arn.to_string(), issuer_of(arn)?))
            })
            .collect();
        let keys = [("url", &Value::from(i.url.as_str()))];
        let missing = || {
            not_found(
                "IAM OIDC provider",
                &keys,
                &wanted,
                providers.iter().map(|(_, url)| url.clone()),
            )
        };
        let Some((arn, _)) = providers.iter().find(|(_, url)| *url == wanted) else {
            return Err(missing());
        };
        let got = found(
            "iam:GetOpenIDConnectProvider",
            iam.get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
        )?;
        // Deleted between the two calls.
        let Some(p) = got else { return Err(missing()) };
        Ok(OidcProviderOut {
            arn: arn.clone(),
            id: arn.clone(),
            client_ids: p.client_id_list().to_vec(),
            thumbprints: p.thumbprint_list().to_vec(),
            tags: tags_from(p.tags())
                .into_iter()
                .filter(|(k, _)| is_users_tag(k))
                .collect(),
        })
    }
}
