//! The order of an apply's operations. Each change becomes one or two
//! nodes (a destroy of the old object, an apply of the new), each knowing
//! what waits for it and how many it waits for. The rules, in the words of
//! the resources involved:
//! - an apply waits for the applies of what it references (a subnet waits
//!   for its VPC);
//! - a destroy waits for the destroys of what references it ("a VPC can't be
//!   deleted while it still has subnets"), and for the updates of resources
//!   that used to reference it and no longer will;
//! - a replace destroys the old object before creating the new one, unless
//!   `create_before_destroy`, where the old one goes after the new one and
//!   its dependents are in place.

use std::collections::HashMap;

use super::op::Kind;
use crate::addr::Address;
use crate::plan::{Action, Change};
use crate::state::State;

/// One operation of the walk: the change it carries out, which half, and
/// its place in the order.
pub(super) struct Node {
    pub(super) change: usize,
    pub(super) kind: Kind,
    pub(super) waiting: usize,
    pub(super) dependents: Vec<usize>,
}

impl Node {
    fn new(change: usize, kind: Kind) -> Node {
        Node {
            change,
            kind,
            waiting: 0,
            dependents: Vec::new(),
        }
    }
}

/// The operations of a plan as nodes, each knowing what waits for it and
/// how many it waits for, ordered by the rules in this module's header.
pub(super) fn schedule(changes: &[&Change], state: &State) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut apply_node: HashMap<&Address, usize> = HashMap::new();
    let mut destroy_node: HashMap<&Address, usize> = HashMap::new();
    // Deletes of deposed objects, by the address they were deposed from.
    let mut deposed_nodes: HashMap<&Address, Vec<usize>> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.deposed.is_some() {
            deposed_nodes
                .entry(&c.address)
                .or_default()
                .push(nodes.len());
            nodes.push(Node::new(i, Kind::Destroy));
            continue;
        }
        let needs_destroy = matches!(c.action, Action::Delete | Action::Replace);
        let needs_apply = matches!(
            c.action,
            Action::Create | Action::Update | Action::Replace | Action::Read
        );
        if needs_destroy {
            destroy_node.insert(&c.address, nodes.len());
            nodes.push(Node::new(i, Kind::Destroy));
        }
        if needs_apply {
            apply_node.insert(&c.address, nodes.len());
            nodes.push(Node::new(i, Kind::Apply));
        }
    }

    // Edges as (before, after).
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for c in changes.iter().filter(|c| c.deposed.is_none()) {
        let addr = &c.address;
        if let Some(&a) = apply_node.get(addr) {
            for dep in &c.dependencies {
                if let Some(&d) = apply_node.get(dep) {
                    edges.push((d, a));
                }
            }
            if let Some(&old) = destroy_node.get(addr) {
                if c.create_before_destroy {
                    edges.push((a, old));
                } else {
                    edges.push((old, a));
                }
            }
        }
        // Whatever referenced this resource, per the spec or the state,
        // leaves first.
        let recorded = state
            .resources
            .get(addr)
            .map_or(&[][..], |r| r.dependencies.as_slice());
        for dep in c.dependencies.iter().chain(recorded.iter()) {
            let Some(&dep_destroy) = destroy_node.get(dep) else {
                continue;
            };
            if let Some(&mine) = destroy_node.get(addr) {
                edges.push((mine, dep_destroy));
            } else if let Some(&mine) = apply_node.get(addr) {
                let dep_change = changes[nodes[dep_destroy].change];
                // An update that drops a reference goes before the delete;
                // with create_before_destroy the dependents move to the new
                // object before the old one goes.
                if dep_change.action == Action::Delete || dep_change.create_before_destroy {
                    edges.push((mine, dep_destroy));
                }
            }
        }
    }
    // A deposed object goes before a new object at its address is created
    // (names may be unique), unless the spec wants the new one first; and
    // before what it depended on goes. What depended on it goes first.
    for c in changes.iter().filter(|c| c.deposed.is_some()) {
        let addr = &c.address;
        for &mine in &deposed_nodes[addr] {
            if let Some(&a) = apply_node.get(addr)
                && !changes[nodes[a].change].create_before_destroy
            {
                edges.push((mine, a));
            }
            for dep in &c.dependencies {
                if let Some(&d) = destroy_node.get(dep) {
                    edges.push((mine, d));
                }
                for &d in deposed_nodes.get(dep).into_iter().flatten() {
                    edges.push((mine, d));
                }
            }
        }
    }
    for c in changes.iter().filter(|c| c.deposed.is_none()) {
        let Some(&mine) = destroy_node.get(&c.address) else {
            continue;
        };
        let recorded = state.resources.get(&c.address);
        for dep in recorded.iter().flat_map(|r| r.dependencies.iter()) {
            for &d in deposed_nodes.get(dep).into_iter().flatten() {
                edges.push((mine, d));
            }
        }
    }
    // In order, each once: what a node waits for counts every edge.
    edges.sort_unstable();
    edges.dedup();
    for (before, after) in edges {
        if before != after {
            nodes[before].dependents.push(after);
            nodes[after].waiting += 1;
        }
    }

    nodes
}

pub(super) fn nodes_dec(nodes: &mut [Node], d: usize, ready: &mut Vec<usize>) {
    nodes[d].waiting -= 1;
    if nodes[d].waiting == 0 {
        ready.push(d);
    }
}

/// Marks everything downstream of a failed node as skipped; returns how many.
pub(super) fn skip_dependents(nodes: &[Node], from: usize, skipped: &mut [bool]) -> usize {
    let mut count = 0;
    let mut stack = nodes[from].dependents.clone();
    while let Some(n) = stack.pop() {
        if !skipped[n] {
            skipped[n] = true;
            count += 1;
            stack.extend(nodes[n].dependents.iter().copied());
        }
    }
    count
}
