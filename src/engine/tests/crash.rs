//! Interrupted and ambiguous operations against the in-memory provider:
//! whatever stops an apply, the next one finds what was in flight, and
//! nothing is made twice or left behind.

#[allow(unused_imports)]
use std::sync::Arc;
#[allow(unused_imports)]
use std::time::Duration;

#[allow(unused_imports)]
use crate::engine::apply::{ApplyRequest, Driver, Outcome, Unattended, apply};
use crate::engine::testing::World;
#[allow(unused_imports)]
use crate::engine::{Engine, Error};
use crate::plan::Action;
#[allow(unused_imports)]
use crate::plan::{Plan, PlanOptions};
use crate::state::LocalStore;
#[allow(unused_imports)]
use crate::state::{State, Store};

const SPEC: &str = r#"
[meshmon]
name = "t"

[resources.fake_object.o]
name = "o"

[resources.fake_object.p]
name = "p"
labels = { after = "${fake_object.o.id}" }
"#;

fn engine(dir: &std::path::Path, world: &World, spec: &str) -> Engine {
    crate::engine::testing::engine(dir, world.registry(), spec)
}

fn request() -> ApplyRequest<'static> {
    ApplyRequest {
        options: PlanOptions::default(),
        refresh: true,
        saved: None,
        lock_timeout: Duration::from_secs(5),
    }
}

fn store(dir: &std::path::Path) -> Store {
    Store::Local(LocalStore::new(dir.join("s.json")))
}

/// Runs an apply and kills it (drops it mid-flight, as SIGKILL would
/// stop the process) as soon as `now` says so.
async fn killed_when(
    dir: &std::path::Path,
    world: &World,
    spec: &str,
    now: impl Fn(&World) -> bool,
) {
    let (dir, w, spec) = (dir.to_path_buf(), world.clone(), spec.to_string());
    let task = tokio::spawn(async move {
        let e = engine(&dir, &w, &spec);
        let _ = apply(&e, &store(&dir), request(), &Unattended).await;
    });
    for _ in 0..500 {
        if now(world) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
}

async fn plan_now(dir: &std::path::Path, world: &World, spec: &str) -> crate::plan::Plan {
    let state = store(dir).load().await.unwrap().state;
    engine(dir, world, spec)
        .refresh_and_plan(state, PlanOptions::default(), true, &|_| {})
        .await
        .unwrap()
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_found_and_adopted_not_made_twice() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    *world.lost_answers.lock().unwrap() = 2;
    let e = engine(dir.path(), &world, SPEC);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    assert_eq!((world.count("o"), world.count("p")), (1, 1));
    let state = store(dir.path()).load().await.unwrap().state;
    assert_eq!(state.resources.len(), 2);
    assert!(state.pending.is_empty());
    assert!(!plan_now(dir.path(), &world, SPEC).await.has_changes());
}

#[tokio::test]
async fn an_apply_killed_mid_create_is_adopted_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    *world.create_delay.lock().unwrap() = Duration::from_secs(30);
    killed_when(dir.path(), &world, SPEC, |w| w.count("o") == 1).await;
    let after_kill = store(dir.path()).load().await.unwrap().state;
    assert_eq!(
        after_kill.pending.keys().collect::<Vec<_>>(),
        ["fake_object.o"],
        "the create in flight is pending after the kill"
    );
    let plan = plan_now(dir.path(), &world, SPEC).await;
    assert!(plan.has_changes());

    *world.create_delay.lock().unwrap() = Duration::ZERO;
    let e = engine(dir.path(), &world, SPEC);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    assert_eq!(
        (world.count("o"), world.count("p")),
        (1, 1),
        "exactly one object per address"
    );
    let state = store(dir.path()).load().await.unwrap().state;
    assert_eq!(
        state.resources[&"fake_object.o".into()].outputs["id"],
        "o".into()
    );
    assert!(state.pending.is_empty());
    assert!(!plan_now(dir.path(), &world, SPEC).await.has_changes());
}

#[tokio::test]
async fn a_create_killed_before_it_took_effect_runs_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    // Killed while the journal holds the intent and nothing was made:
    // o is being created slowly, p waits for it. Kill, then take o away
    // as if it had never been made.
    *world.create_delay.lock().unwrap() = Duration::from_secs(30);
    killed_when(dir.path(), &world, SPEC, |w| w.count("o") == 1).await;
    world.objects.lock().unwrap().clear();
    *world.create_delay.lock().unwrap() = Duration::ZERO;
    let e = engine(dir.path(), &world, SPEC);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    assert_eq!((world.count("o"), world.count("p")), (1, 1));
}

#[tokio::test]
async fn a_delete_in_flight_when_killed_is_finished_by_the_next_apply() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let e = engine(dir.path(), &world, SPEC);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    let only_o = SPEC.replace(
        "[resources.fake_object.p]\nname = \"p\"\nlabels = { after = \"${fake_object.o.id}\" }\n",
        "",
    );
    *world.delete_delay.lock().unwrap() = Duration::from_secs(30);
    // Killed while the delete of p is under way.
    let started = std::time::Instant::now();
    killed_when(dir.path(), &world, &only_o, |_| {
        started.elapsed() > Duration::from_millis(300)
    })
    .await;
    let state = store(dir.path()).load().await.unwrap().state;
    assert!(!state.resources.contains_key(&"fake_object.p".into()));
    assert_eq!(
        state
            .deposed
            .values()
            .map(|d| d.address.to_string())
            .collect::<Vec<_>>(),
        ["fake_object.p"],
        "the object whose delete was in flight is deposed"
    );
    // Even a spec that wants p again first finishes the delete.
    let plan = plan_now(dir.path(), &world, &only_o).await;
    let deposed: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.deposed.is_some())
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    assert_eq!(deposed, [("fake_object.p".to_string(), Action::Delete)]);
    *world.delete_delay.lock().unwrap() = Duration::ZERO;
    let e = engine(dir.path(), &world, &only_o);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    assert_eq!((world.count("o"), world.count("p")), (1, 0));
    let state = store(dir.path()).load().await.unwrap().state;
    assert!(state.deposed.is_empty());
}

#[tokio::test]
async fn create_before_destroy_keeps_the_old_object_deposed_until_it_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::default();
    let cbd = SPEC.replace(
        "name = \"o\"\n",
        "name = \"o\"\nlifecycle = { create_before_destroy = true }\n",
    );
    let e = engine(dir.path(), &world, &cbd);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    let renamed = cbd.replace("name = \"o\"", "name = \"o2\"");
    *world.failing_deletes.lock().unwrap() = true;
    let e = engine(dir.path(), &world, &renamed);
    let err = apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("still in use"), "{err}");
    let state = store(dir.path()).load().await.unwrap().state;
    assert_eq!(
        state.resources[&"fake_object.o".into()].outputs["id"],
        "o2".into()
    );
    let deposed: Vec<_> = state
        .deposed
        .values()
        .map(|d| d.resource.outputs["id"].clone())
        .collect();
    assert_eq!(deposed, ["o".into()], "the old object is kept, deposed");
    assert_eq!((world.count("o"), world.count("o2")), (1, 1));

    *world.failing_deletes.lock().unwrap() = false;
    let plan = plan_now(dir.path(), &world, &renamed).await;
    let (add, change, destroy) = plan.summary();
    assert_eq!(
        (add, change, destroy),
        (0, 0, 1),
        "only the deposed object goes"
    );
    let e = engine(dir.path(), &world, &renamed);
    apply(&e, &store(dir.path()), request(), &Unattended)
        .await
        .unwrap();
    assert_eq!((world.count("o"), world.count("o2")), (0, 1));
    assert!(!plan_now(dir.path(), &world, &renamed).await.has_changes());
}
