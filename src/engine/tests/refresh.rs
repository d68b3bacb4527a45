//! Refresh against the in-memory provider: out-of-band changes, ignored
//! nested keys, and reads that fail.

#[allow(unused_imports)]
use std::sync::Arc;
#[allow(unused_imports)]
use std::time::Duration;

#[allow(unused_imports)]
use crate::engine::apply::{ApplyRequest, Driver, Outcome, Unattended, apply};
use crate::engine::testing::{Fake, World};
#[allow(unused_imports)]
use crate::engine::{Engine, Error};
#[allow(unused_imports)]
use crate::plan::{Plan, PlanOptions};
use crate::registry::Registry;
use crate::spec::VarInputs;
use crate::state::LocalStore;
#[allow(unused_imports)]
use crate::state::{State, Store};
use crate::validate::load_text;
use meshmon_provider_sdk::Value;

const SPEC: &str = r#"
[meshmon]
name = "t"

[resources.fake_object.o]
name = "o"
labels = { team = "a", other = "x" }
lifecycle = { ignore_changes = ["labels.team"] }

[resources.fake_object.p]
name = "p"
"#;

fn engine(dir: &std::path::Path, world: &World) -> Engine {
    crate::engine::testing::engine(dir, world.registry(), SPEC)
}

/// An apply of the whole plan, refreshing first or not.
fn request(refresh: bool) -> ApplyRequest<'static> {
    ApplyRequest {
        options: PlanOptions::default(),
        refresh,
        saved: None,
        lock_timeout: Duration::ZERO,
    }
}

async fn applied(dir: &std::path::Path, world: &World) -> State {
    let store = Store::Local(LocalStore::new(dir.join("s.json")));
    apply(&engine(dir, world), &store, request(true), &Unattended)
        .await
        .unwrap();
    store.load().await.unwrap().state
}

#[tokio::test]
async fn ignore_changes_on_a_nested_key_still_reports_and_repairs_its_siblings() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let state = applied(dir.path(), &world).await;
    world.edit("o", |m| {
        m.insert(
            "labels".into(),
            Value::Map(
                [
                    ("team".to_string(), Value::from("b")),
                    ("other".to_string(), Value::from("y")),
                ]
                .into(),
            ),
        );
    });
    let e = engine(dir.path(), &world);
    e.configure_known(&state).await;
    let (refreshed, drift) = e.refresh(state.clone()).await.unwrap();
    let paths: Vec<String> = drift
        .iter()
        .flat_map(|d| d.attributes.iter().map(|a| a.path.to_string()))
        .collect();
    assert_eq!(paths, ["labels.other"]);
    let labels = &refreshed.resources[&"fake_object.o".into()].inputs["labels"];
    assert_eq!(labels.as_map().unwrap()["team"], Value::from("a"));
    assert_eq!(labels.as_map().unwrap()["other"], Value::from("y"));
    let plan = e
        .plan(refreshed, drift, PlanOptions::default())
        .await
        .unwrap();
    let change = plan
        .changes
        .iter()
        .find(|c| c.address == "fake_object.o")
        .unwrap();
    assert_eq!(change.action, crate::plan::Action::Update);
}

#[tokio::test]
async fn every_failed_read_is_reported_and_none_is_taken_as_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let state = applied(dir.path(), &world).await;
    world
        .failing_reads
        .lock()
        .unwrap()
        .extend(["o".to_string(), "p".to_string()]);
    let e = engine(dir.path(), &world);
    e.configure_known(&state).await;
    let err = e.refresh(state.clone()).await.err().unwrap();
    let text = err.to_string();
    assert!(text.starts_with("2 resources could not be read"), "{text}");
    assert!(text.contains("fake_object.o: read failed"), "{text}");
    assert!(text.contains("fake_object.p: read failed"), "{text}");
}

#[tokio::test]
async fn a_failed_update_keeps_the_record_and_is_retried_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let before = applied(dir.path(), &world).await;
    let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
    let spec = SPEC.replace(
        "labels = { team = \"a\", other = \"x\" }",
        "labels = { team = \"a\", other = \"x\", fail = \"1\" }",
    );
    let registry = Arc::new(Registry::new(vec![Arc::new(Fake(world.clone()))]));
    let (spec, _) = load_text(
        &dir.path().join("meshmon.toml"),
        spec,
        dir.path(),
        &VarInputs::default(),
        &registry,
    )
    .unwrap();
    let e = Engine::new(spec, registry, 4);
    let err = apply(&e, &store, request(false), &Unattended)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("failed half-way"), "{err}");
    let after = store.load().await.unwrap().state;
    assert_eq!(
        after.resources[&"fake_object.o".into()],
        before.resources[&"fake_object.o".into()],
        "the record is kept as it was"
    );
    let plan = e
        .refresh_and_plan(after, PlanOptions::default(), false, &|_| {})
        .await
        .unwrap();
    let change = plan
        .changes
        .iter()
        .find(|c| c.address == "fake_object.o")
        .unwrap();
    assert_eq!(change.action, crate::plan::Action::Update);
}

#[tokio::test]
async fn an_update_that_fails_half_way_records_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let before = applied(dir.path(), &world).await;
    let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
    // The fake changes the note but fails on the labels.
    let spec = SPEC.replace(
        "labels = { team = \"a\", other = \"x\" }",
        "note = \"new\"\nlabels = { team = \"a\", other = \"y\", fail = \"1\" }",
    );
    let e = crate::engine::testing::engine(dir.path(), world.registry(), &spec);
    let err = apply(&e, &store, request(false), &Unattended)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("failed half-way"), "{err}");
    let after = store.load().await.unwrap().state;
    let o = &after.resources[&"fake_object.o".into()];
    assert_eq!(o.inputs["note"], meshmon_provider_sdk::Value::from("new"));
    assert_eq!(
        o.inputs["labels"],
        before.resources[&"fake_object.o".into()].inputs["labels"],
        "what failed keeps its recorded value"
    );
    assert_eq!(
        o.status,
        crate::state::Status::Ready,
        "never tainted by a failed update"
    );
    let plan = e
        .refresh_and_plan(after, PlanOptions::default(), false, &|_| {})
        .await
        .unwrap();
    let change = plan
        .changes
        .iter()
        .find(|c| c.address == "fake_object.o")
        .unwrap();
    assert_eq!(
        change.action,
        crate::plan::Action::Update,
        "the rest is retried in place"
    );
}

#[tokio::test]
async fn a_read_that_panics_is_that_resources_error_and_the_others_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let state = applied(dir.path(), &world).await;
    world.panicking_reads.lock().unwrap().push("o".into());
    world.failing_reads.lock().unwrap().push("p".into());
    let e = engine(dir.path(), &world);
    e.configure_known(&state).await;
    let err = e.refresh(state.clone()).await.expect_err("both reads fail");
    let text = err.to_string();
    assert!(text.contains("2 resources could not be read"), "{text}");
    assert!(
        text.contains("fake_object.o: read failed: the operation panicked"),
        "{text}"
    );
    assert!(text.contains("fake_object.p: read failed"), "{text}");
}

/// A create that panics is that resource's error, with a timeout (its own
/// task, watched) or without (caught in its task); the rest is applied.
#[tokio::test]
async fn a_create_that_panics_is_that_resources_error_and_the_others_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let spec = r#"
[meshmon]
name = "t"

[resources.fake_object.bare]
name = "crashes-bare"

[resources.fake_object.watched]
name = "crashes-watched"
timeouts = { create = "1m" }

[resources.fake_object.fine]
name = "fine"
"#;
    let e = crate::engine::testing::engine(dir.path(), world.registry(), spec);
    let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
    let err = apply(&e, &store, request(true), &Unattended)
        .await
        .err()
        .expect("two creates panic");
    assert!(matches!(err, Error::Incomplete { failed: 2, .. }), "{err}");
    let state = store.load().await.unwrap().state;
    let made: Vec<String> = state.resources.keys().map(ToString::to_string).collect();
    assert_eq!(made, ["fake_object.fine"]);
    assert!(state.pending.is_empty(), "{:?}", state.pending.keys());
}

/// What a provider's look-ahead says about a create lands in its notes; a
/// look-ahead that fails or panics is a note too, and the plan goes on.
/// Creates whose inputs are not known yet are not asked about.
#[tokio::test]
async fn a_creates_look_ahead_is_a_note_whatever_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    world
        .objects
        .lock()
        .unwrap()
        .insert("o".into(), meshmon_provider_sdk::Map::new());
    let spec = r#"
[meshmon]
name = "t"

[resources.fake_object.o]
name = "o"

[resources.fake_object.u]
name = "unreachable"

[resources.fake_object.b]
name = "buggy"

[resources.fake_object.later]
name = "o"
labels = { after = "${fake_object.u.id}" }
"#;
    let plan = crate::engine::testing::engine(dir.path(), world.registry(), spec)
        .refresh_and_plan(State::default(), PlanOptions::default(), true, &|_| {})
        .await
        .unwrap();
    let notes = |a: &str| {
        plan.changes
            .iter()
            .find(|c| c.address == a)
            .map(|c| c.notes.join("; "))
            .unwrap()
    };
    assert_eq!(
        notes("fake_object.o"),
        format!("o is taken (looked at for lineage {})", plan.prior.lineage)
    );
    assert!(
        notes("fake_object.u").starts_with("could not look ahead: ")
            && notes("fake_object.u").contains("connection refused"),
        "{}",
        notes("fake_object.u")
    );
    assert!(
        notes("fake_object.b").contains("panicked"),
        "{}",
        notes("fake_object.b")
    );
    assert_eq!(
        notes("fake_object.later"),
        "",
        "its labels are not known yet"
    );
}
