//! The protocols of the commands other than `apply`: `plan` and `drift`
//! (read the state, refresh, report; no lock, since they never write),
//! `import`, `state rm` and `state mv` (lock → load → change → persist →
//! unlock), and reading the state for `state list|show` and `output`. The
//! CLI hands in a store and says what to do; the lock, the journal, the
//! serial and the lineage are this module's and `apply`'s business only.

use std::time::Duration;

use super::{Engine, Error};
use crate::addr::Address;
use crate::drift::Drift;
use crate::plan::{Plan, PlanOptions};
use crate::state::{Loaded, ResourceState, State, StateError, Store};

/// Where a protocol says what the user must hear as it goes.
pub trait Notices: Send + Sync {
    /// A line about progress ("Refreshing 3 resource(s)...").
    fn status(&self, text: &str);
    /// Something the user must hear about (a damaged journal).
    fn warning(&self, text: &str);
}

/// Takes the state's lock for `operation`, runs `body`, and releases the
/// lock on every path. A lock that cannot be released is said as a warning
/// with what to do; it never replaces what `body` ended with — a
/// successful apply stays successful.
pub async fn locked<T>(
    store: &Store,
    operation: &str,
    timeout: Duration,
    notices: &dyn Notices,
    body: impl AsyncFnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let lock = store.lock(operation, timeout).await?;
    let id = lock.info().id.clone();
    let result = body().await;
    if let Err(e) = store.unlock(lock).await {
        notices.warning(&format!(
            "the state lock could not be released: {e}; once nothing else is running, release it with `meshmon force-unlock {id}`"
        ));
    }
    result
}

/// Loads the state for reading, saying out loud what recovery found (a
/// damaged journal) and which creates an interrupted apply left pending.
pub async fn read_state(store: &Store, notices: &dyn Notices) -> Result<State, Error> {
    take_state(store.load().await, notices)
}

/// A state read for reading (see [`read_state`]), said out loud.
fn take_state(loaded: Result<Loaded, StateError>, notices: &dyn Notices) -> Result<State, Error> {
    let loaded = loaded?;
    announce(&loaded, notices);
    Ok(loaded.state)
}

fn announce(loaded: &Loaded, notices: &dyn Notices) {
    for notice in &loaded.notices {
        notices.warning(notice);
    }
    if !loaded.state.pending.is_empty() {
        let addresses: Vec<String> = loaded
            .state
            .pending
            .keys()
            .map(ToString::to_string)
            .collect();
        notices.warning(&format!(
            "an interrupted apply was creating {}: `meshmon apply` looks for each object and adopts it before creating anything",
            addresses.join(", ")
        ));
    }
}

/// The state read from `store`, which the command needs to exist: a
/// mistyped path must never look like an environment with nothing in it.
fn take_existing(
    store: &Store,
    loaded: Result<Loaded, StateError>,
    notices: &dyn Notices,
    why: &str,
) -> Result<State, Error> {
    let loaded = loaded?;
    announce(&loaded, notices);
    if !loaded.existed {
        return Err(Error::Refused {
            message: format!("there is no state at {}: {why}", store.describe()),
            hint: "check the path (--state, or the spec's [meshmon] state or backend); a new environment has a state once `meshmon apply` has run".into(),
        });
    }
    Ok(loaded.state)
}

/// `meshmon plan`: the state (as `loaded` from `store`) refreshed
/// (unless `refresh` is off) and diffed against the spec. With
/// `require_state` (the user named the state on the command line), a state
/// that does not exist is an error.
pub async fn plan(
    engine: &Engine,
    store: &Store,
    loaded: Result<Loaded, StateError>,
    options: PlanOptions,
    refresh: bool,
    require_state: bool,
    notices: &dyn Notices,
) -> Result<Plan, Error> {
    let state = if require_state {
        take_existing(
            store,
            loaded,
            notices,
            "the state named with --state does not exist",
        )?
    } else {
        take_state(loaded, notices)?
    };
    engine
        .refresh_and_plan(state, options, refresh, &|n| {
            notices.status(&format!("Refreshing {n} resource(s)..."))
        })
        .await
}

/// What `meshmon drift` found.
pub struct DriftReport {
    pub drift: Vec<Drift>,
    /// How many recorded resources were checked.
    pub checked: usize,
}

/// `meshmon drift`: every recorded object read from the world and
/// compared with its record; nothing is written. A state that does not
/// exist is an error, never "no drift".
pub async fn drift(
    engine: &Engine,
    store: &Store,
    loaded: Result<Loaded, StateError>,
    notices: &dyn Notices,
) -> Result<DriftReport, Error> {
    let state = take_existing(
        store,
        loaded,
        notices,
        "nothing has been applied there, so there is nothing to check for drift",
    )?;
    engine.configure_known(&state).await;
    let checked = state.resources.len();
    let (_, drift) = engine.refresh(state).await?;
    Ok(DriftReport { drift, checked })
}

/// `meshmon import`: adopts the existing object `id` under `address`.
pub async fn import(
    engine: &Engine,
    store: &Store,
    address: &Address,
    id: &str,
    lock_timeout: Duration,
    notices: &dyn Notices,
) -> Result<ResourceState, Error> {
    locked(store, "import", lock_timeout, notices, async || {
        let mut state = read_state(store, notices).await?;
        let imported = engine.import(&state, address, id).await?;
        state.resources.insert(address.clone(), imported.clone());
        store.persist(&mut state).await?;
        Ok(imported)
    })
    .await
}

/// `meshmon state rm`: forgets objects without destroying them — what is
/// recorded at each address, a create an interrupted apply left pending
/// there, and deposed objects from it. An address is taken as written, so
/// that an entry the state reader refuses (a hand edit put a NUL byte in
/// it) can be removed too. Every address must be in the state, or nothing
/// is removed.
pub async fn state_rm(
    store: &Store,
    addresses: &[String],
    lock_timeout: Duration,
    notices: &dyn Notices,
) -> Result<usize, Error> {
    locked(store, "state rm", lock_timeout, notices, async || {
        let loaded = store.load_forgetting(addresses).await?;
        let mut found = loaded.forgotten.clone();
        let mut state = loaded.state;
        // What replaying a journal brought back after the state file.
        for name in addresses {
            let Ok(a) = Address::parse(name) else {
                continue;
            };
            let before = state.resources.len() + state.pending.len() + state.deposed.len();
            state.resources.remove(&a);
            state.pending.remove(&a);
            state.deposed.retain(|_, d| d.address != a);
            if state.resources.len() + state.pending.len() + state.deposed.len() < before {
                found.push(name.clone());
            }
        }
        if let Some(missing) = addresses.iter().find(|a| !found.contains(a)) {
            return Err(Error::Usage(format!(
                "no resource `{}` in the state; nothing was removed",
                crate::diag::printable(missing)
            )));
        }
        store.persist(&mut state).await?;
        Ok(addresses.len())
    })
    .await
}

/// `meshmon state mv`: renames a resource in the state, and every
/// dependency recorded on it, without touching the world.
pub async fn state_mv(
    store: &Store,
    from: &Address,
    to: &Address,
    lock_timeout: Duration,
    notices: &dyn Notices,
) -> Result<(), Error> {
    locked(store, "state mv", lock_timeout, notices, async || {
        let mut state = read_state(store, notices).await?;
        if state.resources.contains_key(to) {
            return Err(Error::Usage(format!("`{to}` is already in the state")));
        }
        let r = state
            .resources
            .get(from)
            .ok_or_else(|| Error::Usage(format!("no resource `{from}` in the state")))?;
        if r.type_name != to.type_name() {
            return Err(Error::Usage(format!(
                "cannot move a `{}` to `{to}`: the type must stay the same",
                r.type_name
            )));
        }
        state.rename(from, to);
        store.persist(&mut state).await?;
        Ok(())
    })
    .await
}
