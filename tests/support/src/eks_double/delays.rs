//! How long creates take. A cluster may be CREATING for longer than the
//! double's other transitions last ([`EksDouble::set_cluster_create_delay`]).
//! A node group, which the upstream (moto) makes ACTIVE at once, can be
//! kept CREATING for a while after its create
//! ([`EksDouble::set_node_group_delay`]), as EKS keeps it while the
//! group's instances launch and join: the double rewrites the status in
//! the upstream's answers to CreateNodegroup and DescribeNodegroup until
//! then. Nothing else about the node group changes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{EksDouble, Inner, key_of};
use crate::http::{Request, Response};

impl EksDouble {
    /// Clusters created from now on are CREATING for `delay` instead of
    /// the settle time the double was started with (which their updates
    /// and deletion still take).
    pub fn set_cluster_create_delay(&self, delay: Duration) {
        self.inner.lock().expect("double state").cluster_create = Some(delay);
    }

    /// Node groups created from now on (through the upstream) are
    /// CREATING for `delay`. Zero, the default, leaves them as the
    /// upstream makes them: moto's are ACTIVE at once.
    pub fn set_node_group_delay(&self, delay: Duration) {
        self.inner.lock().expect("double state").node_group_create = delay;
    }
}

impl Inner {
    /// The upstream's `answer` to a request about node groups (`segs`, its
    /// path), as EKS would give it: a node group created less than
    /// `node_group_create` ago is CREATING. Other answers pass unchanged.
    pub(super) fn node_group_answer(
        &mut self,
        req: &Request,
        segs: &[&str],
        mut answer: Response,
    ) -> Response {
        let now = Instant::now();
        self.node_groups.retain(|_, until| *until > now);
        let (method, cluster, name) = match (req.method.as_str(), segs) {
            ("POST", ["clusters", cluster, "node-groups"]) => ("POST", *cluster, None),
            (m @ ("GET" | "DELETE"), ["clusters", cluster, "node-groups", name]) => {
                (m, *cluster, Some(*name))
            }
            _ => return answer,
        };
        let creating = !self.node_group_create.is_zero() || !self.node_groups.is_empty();
        if answer.status != 200 || !creating {
            return answer;
        }
        let Ok(mut body) = serde_json::from_slice::<Value>(&answer.body) else {
            return answer;
        };
        let name = name.or(body["nodegroup"]["nodegroupName"].as_str());
        let Some(name) = name.map(str::to_string) else {
            return answer;
        };
        let caller = self.callers.of(req);
        let id = (key_of(&caller.account, &caller.region, cluster), name);
        match method {
            "POST" if self.node_group_create.is_zero() => return answer,
            "POST" => {
                self.node_groups.insert(id, now + self.node_group_create);
            }
            "DELETE" => {
                self.node_groups.remove(&id);
                return answer;
            }
            _ if !self.node_groups.contains_key(&id) => return answer,
            _ => {}
        }
        body["nodegroup"]["status"] = json!("CREATING");
        answer.body = body.to_string().into_bytes();
        answer
    }
}
