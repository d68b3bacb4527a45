//! The walk's ordering on its own (`schedule::schedule`): which operation waits
//! for which, for creates, deletes, replaces either way round and deposed
//! objects, and what a failure skips. No provider runs.

use std::collections::BTreeSet;

use crate::addr::Address;
use crate::engine::op::Kind;
use crate::engine::schedule::{Node, schedule, skip_dependents};
use crate::plan::{Action, Change};
use crate::state::{DeposedKey, ResourceState, State, Status};

fn change(addr: &str, action: Action, deps: &[&str]) -> Change {
    Change {
        address: addr.into(),
        type_name: Address::from(addr).type_name().into(),
        provider: "fake".into(),
        instance: "fake".into(),
        recorded_instance: None,
        action,
        before: None,
        after: None,
        inputs: None,
        sensitive: BTreeSet::new(),
        replace_because: Vec::new(),
        notes: Vec::new(),
        create_before_destroy: false,
        dependencies: deps.iter().map(|d| Address::from(*d)).collect(),
        deposed: None,
    }
}

fn recorded(addr: &str, deps: &[&str]) -> (Address, ResourceState) {
    (
        addr.into(),
        ResourceState {
            type_name: Address::from(addr).type_name().to_string(),
            provider: "fake".into(),
            inputs: Default::default(),
            outputs: Default::default(),
            dependencies: deps.iter().map(|d| Address::from(*d)).collect(),
            status: Status::Ready,
            sensitive_attributes: Vec::new(),
            instance: None,
        },
    )
}

/// The operations in the order a walk with one slot runs them, each as
/// `"apply ADDR"` or `"destroy ADDR"`: the first ready node (by index)
/// first, so the order is the same on every run.
fn order(changes: &[Change], state: &State) -> Vec<String> {
    let refs: Vec<&Change> = changes.iter().collect();
    let mut nodes = schedule(&refs, state);
    let mut done = vec![false; nodes.len()];
    let mut out = Vec::new();
    while let Some(n) = (0..nodes.len()).find(|&i| !done[i] && nodes[i].waiting == 0) {
        done[n] = true;
        out.push(name(&nodes, changes, n));
        for d in nodes[n].dependents.clone() {
            nodes[d].waiting -= 1;
        }
    }
    assert_eq!(out.len(), nodes.len(), "every operation runs: {out:?}");
    out
}

fn name(nodes: &[Node], changes: &[Change], n: usize) -> String {
    let c = &changes[nodes[n].change];
    let verb = match nodes[n].kind {
        Kind::Apply => "apply",
        Kind::Destroy => "destroy",
    };
    match &c.deposed {
        Some(k) => format!("{verb} {} ({k})", c.address),
        None => format!("{verb} {}", c.address),
    }
}

fn position(order: &[String], op: &str) -> usize {
    order
        .iter()
        .position(|o| o == op)
        .unwrap_or_else(|| panic!("{op} is not in {order:?}"))
}

#[test]
fn creates_wait_for_what_they_reference() {
    let changes = [
        change("t.c", Action::Create, &["t.b"]),
        change("t.b", Action::Create, &["t.a"]),
        change("t.a", Action::Create, &[]),
    ];
    assert_eq!(
        order(&changes, &State::new()),
        ["apply t.a", "apply t.b", "apply t.c"]
    );
}

#[test]
fn deletes_go_dependents_first() {
    let mut state = State::new();
    state.resources.extend([
        recorded("t.a", &[]),
        recorded("t.b", &["t.a"]),
        recorded("t.c", &["t.b"]),
    ]);
    let changes = [
        change("t.a", Action::Delete, &[]),
        change("t.b", Action::Delete, &["t.a"]),
        change("t.c", Action::Delete, &["t.b"]),
    ];
    assert_eq!(
        order(&changes, &state),
        ["destroy t.c", "destroy t.b", "destroy t.a"]
    );
}

#[test]
fn a_replace_destroys_first_and_its_dependents_leave_before_it() {
    let mut state = State::new();
    state
        .resources
        .extend([recorded("t.a", &[]), recorded("t.b", &["t.a"])]);
    let changes = [
        change("t.a", Action::Replace, &[]),
        change("t.b", Action::Replace, &["t.a"]),
    ];
    let o = order(&changes, &state);
    assert!(
        position(&o, "destroy t.b") < position(&o, "destroy t.a"),
        "{o:?}"
    );
    assert!(
        position(&o, "destroy t.a") < position(&o, "apply t.a"),
        "{o:?}"
    );
    assert!(
        position(&o, "apply t.a") < position(&o, "apply t.b"),
        "{o:?}"
    );
}

#[test]
fn create_before_destroy_makes_the_new_object_and_moves_dependents_first() {
    let mut state = State::new();
    state
        .resources
        .extend([recorded("t.a", &[]), recorded("t.b", &["t.a"])]);
    let mut a = change("t.a", Action::Replace, &[]);
    a.create_before_destroy = true;
    let changes = [a, change("t.b", Action::Update, &["t.a"])];
    let o = order(&changes, &state);
    assert!(
        position(&o, "apply t.a") < position(&o, "apply t.b"),
        "{o:?}"
    );
    assert!(
        position(&o, "apply t.b") < position(&o, "destroy t.a"),
        "{o:?}"
    );
}

#[test]
fn an_update_that_drops_a_reference_goes_before_the_delete() {
    let mut state = State::new();
    state
        .resources
        .extend([recorded("t.a", &[]), recorded("t.b", &["t.a"])]);
    let changes = [
        change("t.a", Action::Delete, &[]),
        change("t.b", Action::Update, &[]),
    ];
    let o = order(&changes, &state);
    assert!(
        position(&o, "apply t.b") < position(&o, "destroy t.a"),
        "{o:?}"
    );
}

#[test]
fn a_deposed_object_goes_before_a_new_one_at_its_address() {
    let mut state = State::new();
    state.resources.extend([recorded("t.a", &[])]);
    let mut old = change("t.a", Action::Delete, &[]);
    old.deposed = Some(DeposedKey::from("k1"));
    let changes = [old, change("t.a", Action::Replace, &[])];
    let o = order(&changes, &state);
    assert!(
        position(&o, "destroy t.a (k1)") < position(&o, "apply t.a"),
        "{o:?}"
    );
}

#[test]
fn a_failure_skips_what_depends_on_it_and_nothing_else() {
    let changes = [
        change("t.a", Action::Create, &[]),
        change("t.b", Action::Create, &["t.a"]),
        change("t.c", Action::Create, &["t.b"]),
        change("t.d", Action::Create, &[]),
    ];
    let refs: Vec<&Change> = changes.iter().collect();
    let nodes = schedule(&refs, &State::new());
    let mut skipped = vec![false; nodes.len()];
    let count = skip_dependents(&nodes, 0, &mut skipped);
    assert_eq!(count, 2);
    let names: Vec<String> = (0..nodes.len())
        .filter(|&i| skipped[i])
        .map(|i| name(&nodes, &changes, i))
        .collect();
    assert_eq!(names, ["apply t.b", "apply t.c"]);
}
