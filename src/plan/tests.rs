//! `compute` on its own: a spec, a state built by hand, no provider.

use std::sync::Arc;

use super::*;
use crate::engine::testing::{Fake, World};
use crate::spec::VarInputs;
use crate::state::{Deposed, ResourceState};
use crate::validate::load_text;

fn setup(body: &str) -> (Spec, Registry) {
    let registry = Registry::new(vec![Arc::new(Fake(World::default()))]);
    let dir = std::env::temp_dir();
    let (spec, _) = load_text(
        &dir.join("meshmon.toml"),
        format!("[meshmon]\nname = \"t\"\n{body}"),
        &dir,
        &VarInputs::default(),
        &registry,
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    (spec, registry)
}

fn recorded(name: &str, labels: &[(&str, &str)]) -> ResourceState {
    let mut inputs = Map::new();
    inputs.insert("name".into(), Value::from(name));
    if !labels.is_empty() {
        inputs.insert(
            "labels".into(),
            Value::Map(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::from(*v)))
                    .collect(),
            ),
        );
    }
    ResourceState {
        type_name: "fake_object".into(),
        provider: "fake".into(),
        inputs,
        outputs: [("id".to_string(), Value::from(name))].into(),
        dependencies: Vec::new(),
        status: Status::Ready,
        sensitive_attributes: Vec::new(),
        instance: None,
    }
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn compute_with(spec: &Spec, registry: &Registry, state: State, options: PlanOptions) -> Plan {
    let graph = crate::graph::Graph::build(spec);
    compute(
        spec,
        &graph,
        registry,
        state,
        Vec::new(),
        options,
        &|_, _, _| PlanAdvice::default(),
    )
    .unwrap()
}

const SPEC: &str = r#"
[resources.fake_object.new]
name = "new"

[resources.fake_object.same]
name = "same"

[resources.fake_object.relabelled]
name = "relabelled"
labels = { team = "b" }

[resources.fake_object.renamed]
name = "renamed-2"
"#;

fn state() -> State {
    let mut s = State::new();
    for (addr, r) in [
        ("fake_object.same", recorded("same", &[])),
        (
            "fake_object.relabelled",
            recorded("relabelled", &[("team", "a")]),
        ),
        ("fake_object.renamed", recorded("renamed", &[])),
        ("fake_object.gone", recorded("gone", &[])),
    ] {
        s.resources.insert(addr.into(), r);
    }
    s
}

#[test]
fn each_resource_gets_the_action_its_difference_calls_for() {
    let (spec, registry) = setup(SPEC);
    let plan = compute_with(&spec, &registry, state(), PlanOptions::default());
    assert_eq!(
        actions(&plan),
        [
            ("fake_object.gone".to_string(), Action::Delete),
            ("fake_object.new".to_string(), Action::Create),
            ("fake_object.relabelled".to_string(), Action::Update),
            ("fake_object.renamed".to_string(), Action::Replace),
            ("fake_object.same".to_string(), Action::NoOp),
        ]
    );
    let renamed = &plan.changes[3];
    assert_eq!(renamed.replace_because, ["name"]);
    let new = &plan.changes[1];
    assert_eq!(new.after.as_ref().unwrap()["id"], Value::Unknown);
    assert_eq!(plan.summary(), (2, 1, 2));
}

#[test]
fn ignore_changes_on_a_nested_key_keeps_that_key_and_plans_the_rest() {
    let (spec, registry) = setup(
        r#"
[resources.fake_object.o]
name = "o"
labels = { team = "b", other = "y" }
lifecycle = { ignore_changes = ["labels.team"] }
"#,
    );
    let mut s = State::new();
    s.resources.insert(
        "fake_object.o".into(),
        recorded("o", &[("team", "a"), ("other", "x")]),
    );
    let plan = compute_with(&spec, &registry, s, PlanOptions::default());
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Update);
    let labels = c.inputs.as_ref().unwrap()["labels"]
        .as_map()
        .unwrap()
        .clone();
    assert_eq!(
        labels["team"],
        Value::from("a"),
        "the ignored key keeps its value"
    );
    assert_eq!(labels["other"], Value::from("y"));
}

#[test]
fn destroy_plans_every_recorded_and_deposed_object_and_targets_narrow_it() {
    let (spec, registry) = setup(SPEC);
    let mut s = state();
    s.deposed.insert(
        "k1".into(),
        Deposed {
            address: "fake_object.same".into(),
            resource: recorded("same-old", &[]),
        },
    );
    let plan = compute_with(
        &spec,
        &registry,
        s.clone(),
        PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(plan.summary(), (0, 0, 5));
    let deposed: Vec<_> = plan
        .changes
        .iter()
        .filter_map(|c| c.deposed.clone())
        .collect();
    assert_eq!(deposed, ["k1"]);

    // An ordinary plan finishes the deposed object too.
    let plan = compute_with(&spec, &registry, s.clone(), PlanOptions::default());
    assert!(
        plan.changes
            .iter()
            .any(|c| c.deposed == Some("k1".into()) && c.action == Action::Delete)
    );

    let plan = compute_with(
        &spec,
        &registry,
        s,
        PlanOptions {
            destroy: true,
            targets: vec!["fake_object.gone".into()],
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        actions(&plan),
        [("fake_object.gone".to_string(), Action::Delete)]
    );
}

#[test]
fn an_unknown_target_is_an_error_naming_it() {
    let (spec, registry) = setup(SPEC);
    let err = compute(
        &spec,
        &crate::graph::Graph::build(&spec),
        &registry,
        state(),
        Vec::new(),
        PlanOptions {
            targets: vec!["fake_object.nope".into()],
            ..PlanOptions::default()
        },
        &|_, _, _| PlanAdvice::default(),
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "--target fake_object.nope: no resource with this address in the spec or the state"
    );
}
