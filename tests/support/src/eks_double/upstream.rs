//! The operations the double serves, and the others, which go to the
//! upstream (moto) without the double's lock held: on EKS requests are
//! independent, and a slow upstream call (moto's first CreateNodegroup
//! takes a second or more) must not hold up those the double answers
//! itself, such as the DescribeCluster a Kubernetes client makes to
//! connect.

use std::sync::Mutex;

use super::Inner;
use crate::http::{Request, Response, forward};

/// The operation a request is, by method and path segments; `None` for
/// what the double does not serve.
pub(super) fn operation(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("POST", ["clusters"]) => "CreateCluster",
        ("GET", ["clusters"]) => "ListClusters",
        ("GET", ["clusters", _]) => "DescribeCluster",
        ("DELETE", ["clusters", _]) => "DeleteCluster",
        ("POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
        ("POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
        ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("POST", ["clusters", _, "access-entries"]) => "CreateAccessEntry",
        ("GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
        ("GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
        ("POST", ["clusters", _, "access-entries", _]) => "UpdateAccessEntry",
        ("DELETE", ["clusters", _, "access-entries", _]) => "DeleteAccessEntry",
        ("POST", ["clusters", _, "access-entries", _, "access-policies"]) => {
            "AssociateAccessPolicy"
        }
        ("GET", ["clusters", _, "access-entries", _, "access-policies"]) => {
            "ListAssociatedAccessPolicies"
        }
        ("DELETE", ["clusters", _, "access-entries", _, "access-policies", _]) => {
            "DisassociateAccessPolicy"
        }
        ("POST", ["tags", ..]) => "TagResource",
        ("DELETE", ["tags", ..]) => "UntagResource",
        ("GET", ["tags", ..]) => "ListTagsForResource",
        _ => return None,
    })
}

/// The answer to `req`: the double's own, or the upstream's for what the
/// double does not serve (see [`Inner::node_group_answer`]).
pub(super) fn serve(inner: &Mutex<Inner>, req: &Request) -> Response {
    let owned = req.segments();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let upstream = {
        let mut i = inner.lock().expect("double state");
        match (i.upstream.clone(), operation(req.method.as_str(), &segs)) {
            // A throttled request is the double's to refuse.
            (Some(up), None) if i.throttle == 0 => {
                i.calls
                    .push(format!("Forwarded {} {}", req.method, req.path));
                up
            }
            _ => return i.handle(req),
        }
    };
    let answer = forward(&upstream, req);
    inner
        .lock()
        .expect("double state")
        .node_group_answer(req, &segs, answer)
}
