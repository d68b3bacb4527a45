//! The protocol driven in-process, with the built-in resources as the
//! provider: no binary, no cloud.

use std::path::Path;

#[allow(unused_imports)]
use std::sync::Arc;
#[allow(unused_imports)]
use std::time::Duration;

#[allow(unused_imports)]
use crate::engine::apply::{ApplyRequest, Driver, Outcome, Unattended, apply};
#[allow(unused_imports)]
use crate::engine::{Engine, Error};
#[allow(unused_imports)]
use crate::plan::{Plan, PlanOptions};
use crate::registry::Registry;
use crate::state::LocalStore;
#[allow(unused_imports)]
use crate::state::{State, Store};

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
    let b = &state.resources[&"null_resource.b".into()];
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
    let addrs: Vec<String> = loaded
        .state
        .resources
        .keys()
        .map(ToString::to_string)
        .collect();
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
    assert!(
        matches!(
            err,
            Error::Plan(crate::plan::PlanError::PreventDestroy { .. })
        ),
        "{err}"
    );
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

/// The local backend, except that releasing its lock fails.
struct UnlockFails(LocalStore);

#[async_trait::async_trait]
impl crate::state::Backend for UnlockFails {
    fn describe(&self) -> String {
        self.0.path.display().to_string()
    }
    async fn load(
        &self,
        forget: &[String],
    ) -> Result<crate::state::Loaded, crate::state::StateError> {
        self.0.load_forgetting(forget)
    }
    async fn persist(&self, state: &mut State) -> Result<(), crate::state::StateError> {
        self.0.persist(state)
    }
    async fn lock(
        &self,
        operation: &str,
        timeout: Duration,
    ) -> Result<crate::state::StoreLock, crate::state::StateError> {
        crate::state::Backend::lock(&self.0, operation, timeout).await
    }
    async fn unlock(&self, lock: crate::state::StoreLock) -> Result<(), crate::state::StateError> {
        drop(lock);
        Err(crate::state::StateError::Remote {
            operation: "s3:DeleteObject".into(),
            url: "s3://bucket/lock".into(),
            message: "connection reset".into(),
        })
    }
    async fn force_unlock(
        &self,
        id: &str,
        force: bool,
    ) -> Result<crate::state::LockInfo, crate::state::StateError> {
        self.0.force_unlock(id, force)
    }
    fn journal(
        &self,
        state: &State,
    ) -> Result<Box<dyn crate::state::JournalSink>, crate::state::StateError> {
        Ok(Box::new(self.0.journal(state)?))
    }
}

/// Approves everything and keeps the warnings it hears.
#[derive(Default)]
struct Listening(std::sync::Mutex<Vec<String>>);

impl crate::engine::commands::Notices for Listening {
    fn status(&self, _: &str) {}
    fn warning(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

impl Driver for Listening {
    fn show_plan(&self, _: &Plan) {}
    fn confirm(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
    fn walk_starts(&self) {}
    fn reporter(&self) -> Arc<crate::engine::progress::Reporter> {
        Unattended.reporter()
    }
}

#[tokio::test]
async fn a_lock_that_cannot_be_released_is_said_and_never_undoes_a_successful_apply() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Custom(Box::new(UnlockFails(LocalStore::new(
        dir.path().join("s.json"),
    ))));
    let e = engine(dir.path(), CHAIN);
    let driver = Listening::default();
    let outcome = apply(&e, &store, request(false), &driver).await;
    assert!(
        matches!(outcome, Ok(Outcome::Applied { .. })),
        "the apply stands"
    );
    let said = driver.0.lock().unwrap().join("\n");
    assert!(said.contains("could not be released"), "{said}");
    assert!(said.contains("force-unlock"), "{said}");
}
