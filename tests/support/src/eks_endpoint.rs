//! Makes a cluster of the [`EksDouble`] report a [`KubeApi`] as its API
//! server, as DescribeCluster reports a real cluster's: `endpoint` is the
//! server's URL and `certificateAuthority.data` its CA as base64 PEM. A
//! spec then reaches the cluster with `eks_cluster` alone, the way it
//! would reach a real one, with no `host` or CA override: a cluster that
//! exists ([`serve_cluster_from`]), or every cluster created from then on,
//! by meshmon in the same apply ([`EksDouble::serve_new_clusters_from`]).
//!
//! The test server must check EKS tokens for the same cluster name
//! ([`Auth::Eks`](crate::kube_api::Auth::Eks)): the endpoint alone does
//! not make the token right.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use crate::eks_double::EksDouble;
use crate::kube_api::KubeApi;

/// Points `cluster`'s endpoint and CA at `api`.
pub fn serve_cluster_from(eks: &EksDouble, cluster: &str, api: &KubeApi) {
    assert!(
        eks.cluster(cluster).is_some(),
        "the EKS double has no cluster {cluster}: {:?}",
        eks.cluster_names()
    );
    eks.patch_cluster(
        cluster,
        json!({
            "endpoint": api.endpoint(),
            "certificateAuthority": { "data": B64.encode(api.ca_pem()) },
        }),
    );
}

impl EksDouble {
    /// Every cluster created from now on reports `api` as its API server
    /// (endpoint and CA), from its CreateCluster answer on.
    pub fn serve_new_clusters_from(&self, api: &KubeApi) {
        self.serve_new_at(api.endpoint(), B64.encode(api.ca_pem()));
    }
}
