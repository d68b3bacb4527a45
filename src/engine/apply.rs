//! The apply protocol, whole: lock → replay → refresh → plan → verify a
//! saved plan → confirm → journal → walk → outputs → persist → unlock. The
//! CLI (or a test, or the benchmark) hands in a request and a `Driver` that
//! shows what happens and answers the confirmation; everything that touches
//! the state happens here, in this order, on every path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::commands::{Notices, locked};
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

/// What an apply needs from whoever drives it, beyond hearing notices.
pub trait Driver: Notices {
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
    locked(store, operation, request.lock_timeout, driver, async || {
        apply_locked(engine, store, &request, driver).await
    })
    .await
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
    // Refused before anything changes: an apply writes the state a few
    // times, and a serial that could not take them all would fail only
    // after the world had changed.
    crate::state::room_for_writes(state.serial, &store.describe())?;
    // A saved plan is checked against the state as it was planned on: with
    // a journal an interrupted run left replayed over it in memory, as
    // `plan` reads it, before that journal is folded in below.
    if let Some(saved) = request.saved {
        saved.verify_against(&mut state)?;
    }
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
    let found_before = state.data.clone();
    let mut plan = match request.saved {
        Some(saved) => {
            // The state as planned on, at the serial it has now that the
            // journal is folded in: the walk's journal extends that one.
            let mut prior = saved.prior.clone();
            prior.serial = state.serial;
            engine.configure_known(&prior).await;
            let plan = engine.replan_saved(prior, saved.options()).await?;
            saved.verify_plan(&plan)?;
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

    // What the look-ups found is recorded whenever it differs from what
    // the state holds, so that drift and destroy configure providers from it.
    let found_changed = plan.prior.data != found_before;
    if plan.options.refresh_only {
        if plan.drift.is_empty() && !found_changed {
            return Ok(Outcome::Refreshed { recorded: false });
        }
        if !confirmed {
            driver.confirm("update the state to match the real world")?;
        }
        let mut refreshed = plan.prior.clone();
        store.persist(&mut refreshed).await?;
        return Ok(Outcome::Refreshed { recorded: true });
    }

    let rehomed = engine.rehome(&mut plan)?;
    if !plan.has_changes() {
        let mut next = plan.prior.clone();
        let outputs = crate::eval::recorded_outputs(&plan.outputs);
        let outputs_changed = !plan.options.destroy && outputs != next.outputs;
        if !plan.drift.is_empty() || outputs_changed || found_changed || rehomed {
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
    // So are the moves and forgets of `[[moved]]` and `[[removed]]`: the
    // journal the walk writes names objects by their new addresses.
    if (plan.prior.resources.len(), plan.prior.deposed.len()) != recorded_before
        || !plan.moves.is_empty()
        || !plan.forgets.is_empty()
        || rehomed
    {
        store.persist(&mut plan.prior).await?;
    }
    driver.walk_starts();
    let reporter = driver.reporter();
    let mut journal = store.journal(&plan.prior)?;
    // The walk takes the state over, and needs neither what the plan
    // showed nor a second copy of the state: on a large environment that
    // is most of the memory it would otherwise hold twice.
    let prior = std::mem::take(&mut plan.prior);
    for c in &mut plan.changes {
        c.before = None;
        c.after = None;
    }
    let started = Instant::now();
    let (mut final_state, totals, error) = walk::run(
        engine,
        &plan,
        prior,
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

impl Notices for Unattended {
    fn status(&self, _: &str) {}
    fn warning(&self, _: &str) {}
}

impl Driver for Unattended {
    fn show_plan(&self, _: &Plan) {}
    fn confirm(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
    fn walk_starts(&self) {}
    fn reporter(&self) -> Arc<Reporter> {
        Arc::new(Reporter::quiet(crate::plan::render::Palette::new(false)))
    }
}
