//! The apply protocol, whole: lock → replay → refresh → plan → verify a
//! saved plan → confirm → journal → walk → outputs → persist → unlock. The
//! CLI (or a test, or the benchmark) hands in a request and a `Driver` that
//! shows what happens and answers the confirmation; everything that touches
//! the state happens here, in this order, on every path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::progress::Reporter;
use super::walk::{self, Totals};
use super::{Engine, Error};
use crate::plan::file::SavedPlan;
use crate::plan::{Plan, PlanOptions};
use crate::state::{State, Store};

/// What to apply.
pub struct ApplyRequest<'a> {
    pub options: PlanOptions,
    /// Read every resource from the world before planning.
    pub refresh: bool,
    /// Apply exactly this saved plan instead of planning afresh.
    pub saved: Option<&'a SavedPlan>,
    pub lock_timeout: Duration,
}

/// What an apply needs from whoever drives it.
pub trait Driver: Send + Sync {
    /// A line about progress ("Refreshing 3 resource(s)...").
    fn status(&self, text: &str);
    /// Something the user must hear about (a damaged journal).
    fn warning(&self, text: &str);
    /// The plan, before anything is changed.
    fn show_plan(&self, plan: &Plan);
    /// Asked before anything changes, with what would be done; an error
    /// stops the apply with nothing changed.
    fn confirm(&self, what: &str) -> Result<(), Error>;
    /// Just before the first operation starts.
    fn walk_starts(&self);
    /// Where the walk reports operations as they start and finish.
    fn reporter(&self) -> Arc<Reporter>;
}

/// How an apply ended.
pub enum Outcome {
    /// Nothing to change (the state records drift and outputs if they moved).
    NoChanges { state: State },
    /// A refresh-only apply; `recorded` when the state took in drift.
    Refreshed { recorded: bool },
    /// The plan was carried out.
    Applied {
        state: State,
        totals: Totals,
        elapsed: Duration,
        destroy: bool,
    },
}

/// Runs the whole protocol under the state lock, which is released on every
/// path, errors included.
pub async fn apply(
    engine: &Engine,
    store: &Store,
    request: ApplyRequest<'_>,
    driver: &dyn Driver,
) -> Result<Outcome, Error> {
    let operation = if request.options.destroy {
        "destroy"
    } else {
        "apply"
    };
    let lock = store.lock(operation, request.lock_timeout).await?;
    let result = apply_locked(engine, store, &request, driver).await;
    store.unlock(lock).await?;
    result
}

async fn apply_locked(
    engine: &Engine,
    store: &Store,
    request: &ApplyRequest<'_>,
    driver: &dyn Driver,
) -> Result<Outcome, Error> {
    let loaded = store.load().await?;
    for notice in &loaded.notices {
        driver.warning(notice);
    }
    let mut state = loaded.state;
    if loaded.replayed {
        store.persist(&mut state).await?;
        driver.status(
            "Recovered the operations an interrupted run had completed; continuing from there.",
        );
    }
    // Creates an interrupted apply left in flight are resolved before
    // anything is planned. A saved plan was made against the state as it
    // is, so it is not changed under it: the walk looks for those of its
    // creates that are pending before it runs them.
    let mut tokens = std::collections::HashMap::new();
    if !state.pending.is_empty() && request.saved.is_none() {
        driver.status(&format!(
            "Looking for {} object(s) an interrupted apply was creating...",
            state.pending.len()
        ));
        let recovered = engine.recover_pending(&mut state).await?;
        for address in &recovered.adopted {
            driver.status(&format!(
                "{address}: an interrupted apply had created it; found it and adopted it"
            ));
        }
        store.persist(&mut state).await?;
        tokens = recovered.tokens;
    }
    let recorded_before = (state.resources.len(), state.deposed.len());
    let mut plan = match request.saved {
        Some(saved) => {
            saved.verify_against(&mut state)?;
            engine.configure_known(&saved.prior).await;
            let plan = engine
                .plan(saved.prior.clone(), Vec::new(), saved.options())
                .await?;
            saved.verify_plan(&plan)?;
            engine.check_prevent_destroy(&plan)?;
            plan
        }
        None => {
            engine
                .refresh_and_plan(state, request.options.clone(), request.refresh, &|n| {
                    driver.status(&format!("Refreshing {n} resource(s)..."))
                })
                .await?
        }
    };
    driver.show_plan(&plan);

    if !plan.preflight.is_empty() && !plan.options.refresh_only {
        return Err(Error::Refused {
            message: format!(
                "this machine cannot apply the plan: {}",
                plan.preflight.join("; ")
            ),
            hint: "nothing was changed; fix the above and run apply again".into(),
        });
    }
    let confirmed = request.saved.is_some();

    if plan.options.refresh_only {
        if plan.drift.is_empty() {
            return Ok(Outcome::Refreshed { recorded: false });
        }
        if !confirmed {
            driver.confirm("update the state to match the real world")?;
        }
        let mut refreshed = plan.prior.clone();
        store.persist(&mut refreshed).await?;
        return Ok(Outcome::Refreshed { recorded: true });
    }

    if !plan.has_changes() {
        let mut next = plan.prior.clone();
        let outputs = crate::eval::recorded_outputs(&plan.outputs);
        let outputs_changed = !plan.options.destroy && outputs != next.outputs;
        if !plan.drift.is_empty() || outputs_changed {
            if !plan.options.destroy {
                next.outputs = outputs;
            }
            store.persist(&mut next).await?;
        }
        return Ok(Outcome::NoChanges { state: next });
    }
    if !confirmed {
        driver.confirm(if plan.options.destroy {
            "destroy these resources"
        } else {
            "perform these actions"
        })?;
    }
    // Objects the refresh found gone are forgotten in the state a kill
    // would fall back on before anything changes: what could look for them
    // again (a provider configured from resources this walk deletes, like a
    // cluster or a Grafana workspace) may be gone by the next run.
    if (plan.prior.resources.len(), plan.prior.deposed.len()) != recorded_before {
        store.persist(&mut plan.prior).await?;
    }
    driver.walk_starts();
    let reporter = driver.reporter();
    let mut journal = store.journal(&plan.prior)?;
    let started = Instant::now();
    let (mut final_state, totals, error) = walk::apply(
        engine,
        &plan,
        plan.prior.clone(),
        journal.as_mut(),
        reporter.clone(),
        &tokens,
    )
    .await;
    reporter.close();
    let finished = journal.finish();
    let persisted = store.persist(&mut final_state).await;
    // The walk's own error says most about what happened; a state that
    // could not be saved after it is said too, not lost.
    if let Some(e) = error {
        for failure in [finished.err(), persisted.err()].into_iter().flatten() {
            driver.warning(&format!("{failure}"));
        }
        return Err(e);
    }
    finished?;
    persisted?;
    Ok(Outcome::Applied {
        state: final_state,
        totals,
        elapsed: started.elapsed(),
        destroy: plan.options.destroy,
    })
}

/// A driver for runs nobody watches (tests, the benchmark): it approves
/// everything and shows nothing.
pub struct Unattended;

impl Driver for Unattended {
    fn status(&self, _: &str) {}
    fn warning(&self, _: &str) {}
    fn show_plan(&self, _: &Plan) {}
    fn confirm(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
    fn walk_starts(&self) {}
    fn reporter(&self) -> Arc<Reporter> {
        Arc::new(Reporter::quiet(crate::plan::render::Palette::new(false)))
    }
}

#[cfg(test)]
mod tests {
    //! The protocol driven in-process, with the built-in resources as the
    //! provider: no binary, no cloud.

    use std::path::Path;

    use super::*;
    use crate::registry::Registry;
    use crate::state::LocalStore;

    fn engine(dir: &Path, spec: &str) -> Engine {
        crate::engine::testing::engine(dir, Arc::new(Registry::standard()), spec)
    }

    fn request(destroy: bool) -> ApplyRequest<'static> {
        ApplyRequest {
            options: PlanOptions {
                destroy,
                ..PlanOptions::default()
            },
            refresh: true,
            saved: None,
            lock_timeout: Duration::ZERO,
        }
    }

    const CHAIN: &str = r#"
[meshmon]
name = "t"

[resources.null_resource.a]

[resources.null_resource.b]
triggers = { a = "${null_resource.a.id}" }

[resources.null_resource.c]
triggers = { b = "${null_resource.b.id}" }
"#;

    #[tokio::test]
    async fn apply_records_every_resource_and_a_second_apply_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
        let e = engine(dir.path(), CHAIN);
        let Outcome::Applied { state, totals, .. } = apply(&e, &store, request(false), &Unattended)
            .await
            .unwrap()
        else {
            panic!("expected an apply");
        };
        assert_eq!(totals.added, 3);
        assert_eq!(state.resources.len(), 3);
        let b = &state.resources["null_resource.b"];
        assert_eq!(b.dependencies, ["null_resource.a"]);
        let again = apply(&e, &store, request(false), &Unattended)
            .await
            .unwrap();
        assert!(matches!(again, Outcome::NoChanges { .. }));
        let destroyed = apply(&e, &store, request(true), &Unattended).await.unwrap();
        let Outcome::Applied { totals, state, .. } = destroyed else {
            panic!("expected a destroy");
        };
        assert_eq!(totals.destroyed, 3);
        assert!(state.resources.is_empty());
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
        let e = engine(
            dir.path(),
            r#"
[meshmon]
name = "t"

[resources.time_sleep.slow]
create_duration = "10s"
timeouts = { create = "50ms" }

[resources.null_resource.after]
depends_on = ["time_sleep.slow"]

[resources.null_resource.apart]
"#,
        );
        let err = apply(&e, &store, request(false), &Unattended)
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("time_sleep.slow: create failed: timed out after 50ms"),
            "{err}"
        );
        let loaded = store.load().await.unwrap();
        let addrs: Vec<&String> = loaded.state.resources.keys().collect();
        assert_eq!(addrs, ["null_resource.apart"]);
    }

    #[tokio::test]
    async fn several_failures_end_as_one_incomplete_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
        let e = engine(
            dir.path(),
            r#"
[meshmon]
name = "t"

[resources.time_sleep.one]
create_duration = "10s"
timeouts = { create = "50ms" }

[resources.time_sleep.two]
create_duration = "10s"
timeouts = { create = "50ms" }

[resources.null_resource.after]
depends_on = ["time_sleep.one"]
"#,
        );
        let err = apply(&e, &store, request(false), &Unattended)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::Incomplete {
                    failed: 2,
                    skipped: 1
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn prevent_destroy_refuses_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
        let spec = "[meshmon]\nname = \"t\"\n\n[resources.null_resource.keep]\nlifecycle = { prevent_destroy = true }\n";
        let e = engine(dir.path(), spec);
        apply(&e, &store, request(false), &Unattended)
            .await
            .unwrap();
        let before = store.load().await.unwrap().state;
        let err = apply(&e, &store, request(true), &Unattended)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::PreventDestroy { .. }), "{err}");
        assert_eq!(store.load().await.unwrap().state, before);
    }

    #[tokio::test]
    async fn ignore_changes_on_a_nested_path_plans_no_change_for_that_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("s.json")));
        let spec = |team: &str| {
            format!(
                "[meshmon]\nname = \"t\"\n\n[resources.null_resource.n]\ninputs = {{ labels = {{ team = \"{team}\", other = \"x\" }} }}\nlifecycle = {{ ignore_changes = [\"inputs.labels.team\"] }}\n"
            )
        };
        apply(
            &engine(dir.path(), &spec("a")),
            &store,
            request(false),
            &Unattended,
        )
        .await
        .unwrap();
        // A change to the ignored key alone plans nothing.
        let e = engine(dir.path(), &spec("b"));
        let state = store.load().await.unwrap().state;
        let plan = e
            .refresh_and_plan(state, PlanOptions::default(), true, &|_| {})
            .await
            .unwrap();
        assert!(!plan.has_changes());
    }
}

#[cfg(test)]
mod refresh_tests {
    //! Refresh against the in-memory provider: out-of-band changes, ignored
    //! nested keys, and reads that fail.

    use super::*;
    use crate::engine::testing::{Fake, World};
    use crate::registry::Registry;
    use crate::spec::{VarInputs, load_text};
    use crate::state::LocalStore;
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

    async fn applied(dir: &std::path::Path, world: &World) -> State {
        let store = Store::Local(LocalStore::new(dir.join("s.json")));
        let request = ApplyRequest {
            options: PlanOptions::default(),
            refresh: true,
            saved: None,
            lock_timeout: Duration::ZERO,
        };
        apply(&engine(dir, world), &store, request, &Unattended)
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
        let (refreshed, drift) = e.refresh(&state).await.unwrap();
        let paths: Vec<&str> = drift
            .iter()
            .flat_map(|d| d.attributes.iter().map(|a| a.path.as_str()))
            .collect();
        assert_eq!(paths, ["labels.other"]);
        let labels = &refreshed.resources["fake_object.o"].inputs["labels"];
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
        let err = e.refresh(&state).await.err().unwrap();
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
        let request = || ApplyRequest {
            options: PlanOptions::default(),
            refresh: false,
            saved: None,
            lock_timeout: Duration::ZERO,
        };
        let err = apply(&e, &store, request(), &Unattended)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("failed half-way"), "{err}");
        let after = store.load().await.unwrap().state;
        assert_eq!(
            after.resources["fake_object.o"], before.resources["fake_object.o"],
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
}

#[cfg(test)]
mod crash_tests {
    //! Interrupted and ambiguous operations against the in-memory provider:
    //! whatever stops an apply, the next one finds what was in flight, and
    //! nothing is made twice or left behind.

    use super::*;
    use crate::engine::testing::World;
    use crate::plan::Action;
    use crate::state::LocalStore;

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
        assert_eq!(state.resources["fake_object.o"].outputs["id"], "o".into());
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
        assert!(!state.resources.contains_key("fake_object.p"));
        assert_eq!(
            state
                .deposed
                .values()
                .map(|d| d.address.as_str())
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
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(deposed, [("fake_object.p", Action::Delete)]);
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
        assert_eq!(state.resources["fake_object.o"].outputs["id"], "o2".into());
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
}
