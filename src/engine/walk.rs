//! The concurrent walk that applies a plan. Each change becomes one or two
//! nodes (a destroy of the old object, an apply of the new); a node starts
//! as soon as everything it waits for is done, up to `parallelism` at once,
//! so wall time follows the critical path rather than the sum.
//!
//! What waits for what is the schedule's (`schedule.rs`).
//!
//! Every create and delete is journaled as an intent before the provider is
//! called, and every completed operation before the next is scheduled off
//! it: whenever the process dies, the next apply knows what was in flight.
//! A create whose answer was lost is recovered (the provider finds the
//! object it made) before it is tried again, so it never makes two. A failure skips only what depends on it; Ctrl-C stops
//! scheduling and lets in-flight work finish. Either way the state is saved.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_sdk::{Current, ProviderError};
use tokio::sync::mpsc;

use meshmon_provider_sdk::Intent;

use super::op::{Done, Kind, Op, Outcome, Recording, prepare, run_together, start};
use super::progress::Reporter;
use super::schedule::{nodes_dec, schedule, skip_dependents};
use super::{Engine, Error};
use crate::addr::Address;
use crate::plan::{Action, Change, Plan};
use crate::state::{
    DeposedKey, JournalEntry, JournalLine, JournalSink, PendingCreate, Replayer, ResourceState,
    State, StateError, Status,
};

/// The state as the journal describes it: every entry is appended to the
/// journal and applied to the state in memory the way replay would.
struct Book<'a> {
    state: State,
    journal: &'a mut dyn JournalSink,
    replayer: Replayer,
    /// The provider instance each object is applied through, as its
    /// record keeps it.
    instances: HashMap<Address, crate::state::ProviderInstance>,
}

impl Book<'_> {
    /// Journals `entry` and applies it. The state in memory takes it even
    /// when the journal could not, so the state saved at the end has it.
    fn write(&mut self, entry: JournalEntry) -> Result<(), StateError> {
        let appended = self.journal.append(&entry);
        self.replayer.apply(&mut self.state, entry);
        appended
    }

    /// [`write`](Self::write), with the entry's line already made.
    fn write_line(&mut self, entry: JournalEntry, line: JournalLine) -> Result<(), StateError> {
        let appended = self.journal.append_line(line);
        self.replayer.apply(&mut self.state, entry);
        appended
    }
}

/// Counts of what the walk did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
}

/// Applies `plan` on top of `state`, journaling each completed operation.
/// Returns the final state (also when some operations failed, in which case
/// the error says so after the state has been handed back for saving).
///
/// `tokens` holds the idempotency tokens of creates an interrupted apply
/// started and recovery did not find: retrying them sends the same token.
pub async fn run(
    engine: &Engine,
    plan: &Plan,
    state: State,
    journal: &mut dyn JournalSink,
    reporter: Arc<Reporter>,
    tokens: &HashMap<Address, String>,
) -> (State, Totals, Option<Error>) {
    let changes: Vec<&Change> = plan.changes.iter().collect();
    let mut nodes = schedule(&changes, &state);

    // The objects as they were when the walk began: what destroys and
    // updates act on. Only a create_before_destroy replace changes a record
    // before its own delete runs (its create records the new object
    // first), so only those are copied here; every other operation finds
    // its object in the state as it is when the operation starts, which is
    // as it was (a copy of every record would double a destroy's memory).
    let originals: HashMap<Address, Current> = changes
        .iter()
        .filter(|c| c.deposed.is_none())
        .filter(|c| c.action == Action::Replace && c.create_before_destroy)
        .filter_map(|c| {
            let r = state.resources.get(&c.address)?;
            Some((c.address.clone(), r.current()))
        })
        .collect();
    let deposed_originals: HashMap<DeposedKey, Current> = state
        .deposed
        .iter()
        .map(|(k, d)| (k.clone(), d.resource.current()))
        .collect();
    // The key each create_before_destroy replace deposes its old object
    // under, chosen when its create starts.
    let mut depose_keys: HashMap<Address, DeposedKey> = HashMap::new();
    let mut book = Book {
        state,
        journal,
        replayer: Replayer::default(),
        instances: HashMap::new(),
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let mut ready: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].waiting == 0)
        .collect();
    ready.reverse();
    let mut in_flight = 0usize;
    let mut succeeded = 0usize;
    let mut failed = 0usize;
    let mut skipped = vec![false; nodes.len()];
    let mut skipped_count = 0usize;
    let mut interrupted = false;
    let mut totals = Totals::default();
    let mut first_error: Option<Error> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let (mut signals, signal_task) = interrupts();
    let mut abandoned = 0usize;
    // A journal that cannot be written stops the walk at once: nothing may
    // complete that a kill could then lose.
    let mut journal_failed: Option<crate::state::StateError> = None;

    let mut starting = Vec::new();
    let mut finished: Vec<Done> = Vec::new();
    'walk: loop {
        while !interrupted
            && in_flight < engine.parallelism
            && let Some(n) = ready.pop()
        {
            if skipped[n] {
                continue;
            }
            let c = changes[nodes[n].change];
            let kind = nodes[n].kind;
            // The old half of a create_before_destroy replace is deposed
            // during the walk, but `originals` still holds it as it was.
            let recorded;
            let original = match &c.deposed {
                Some(key) => deposed_originals.get(key),
                None => match originals.get(&c.address) {
                    Some(o) => Some(o),
                    None => {
                        recorded = book.state.resources.get(&c.address).map(|r| r.current());
                        recorded.as_ref()
                    }
                },
            };
            // References see the objects as the journal has them so far.
            let op = match prepare(engine, kind, c, original, &book.state) {
                Ok(op) => op,
                Err(e) => {
                    reporter.note(&format!("{}: {e}", c.address));
                    failed += 1;
                    skipped_count += skip_dependents(&nodes, n, &mut skipped);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            // A create an interrupted apply started and recovery could not
            // check yet: look for its object before creating it.
            let recover_first = kind == Kind::Apply
                && c.action != Action::Update
                && book.state.pending.contains_key(&c.address);
            if let Some(i) = &op.instance {
                book.instances.insert(c.address.clone(), i.clone());
            }
            // The intent goes to the journal before the provider is called:
            // with the others of this round, in the write below.
            let (intent, entry) = intent(kind, c, &op, &book.state, tokens, &mut depose_keys);
            if let Some(entry) = entry
                && let Err(e) = book.write(entry)
            {
                abandoned = in_flight;
                reporter.note(&format!(
                    "Error: {e}: stopping now, {in_flight} operation(s) in flight are abandoned."
                ));
                journal_failed = Some(e);
                break 'walk;
            }
            // What records the object it applies, for its task to make.
            let recording = (kind == Kind::Apply && c.action != Action::Read).then(|| {
                let depose = depose_keys
                    .get(&c.address)
                    .filter(|_| c.action == Action::Replace && c.create_before_destroy)
                    .cloned();
                Recording::new(c, op.instance.clone(), depose)
            });
            starting.push((n, kind, c, op, intent, recording, recover_first));
            in_flight += 1;
        }
        // Group commit: what completed since the last round and the intents
        // of what starts now reach the file in one write, before any of
        // these operations calls its provider and before the walk waits.
        if let Err(e) = book.journal.flush() {
            in_flight -= starting.len();
            abandoned = in_flight;
            reporter.note(&format!(
                "Error: {e}: stopping now, {in_flight} operation(s) in flight are abandoned."
            ));
            journal_failed = Some(e);
            break 'walk;
        }
        let started = starting
            .drain(..)
            .filter_map(|(n, kind, c, op, intent, recording, recover_first)| {
                start(
                    engine,
                    n,
                    kind,
                    c,
                    op,
                    intent,
                    recording,
                    recover_first,
                    &tx,
                    &reporter,
                )
            })
            .collect();
        run_together(started);
        if in_flight == 0 {
            break;
        }
        // What has already finished, or a signal already received, is taken
        // without waiting. Only a walk about to wait writes its progress
        // lines out: a walk of fast operations writes them in fewer, larger
        // writes, and one of slow operations as promptly as before.
        let event = match (signals.try_recv(), rx.try_recv()) {
            (Ok(signal), _) => Event::Signal(signal),
            (Err(_), Ok(done)) => {
                reporter.flush_over(FLUSH_BYTES);
                Event::Done(done)
            }
            (Err(_), Err(_)) => {
                reporter.flush();
                tokio::select! {
                    Some(done) = rx.recv() => Event::Done(done),
                    Some(signal) = signals.recv() => Event::Signal(signal),
                    _ = ticker.tick() => Event::Tick,
                }
            }
        };
        match event {
            Event::Done(done) => {
                // Every operation that has finished by now is recorded in
                // this round, so that their entries share one write.
                finished.push(done);
                while let Ok(done) = rx.try_recv() {
                    finished.push(done);
                }
                for done in finished.drain(..) {
                    in_flight -= 1;
                    let c = changes[nodes[done.node].change];
                    let journaled = match done.result {
                        Ok(outcome) => {
                            succeeded += 1;
                            let journaled = record(
                                &mut book,
                                c,
                                &depose_keys,
                                nodes[done.node].kind,
                                outcome,
                                &mut totals,
                                &reporter,
                            );
                            for k in 0..nodes[done.node].dependents.len() {
                                let d = nodes[done.node].dependents[k];
                                nodes_dec(&mut nodes, d, &mut ready);
                            }
                            journaled
                        }
                        Err(mut source) => {
                            reporter.fail(&c.address);
                            failed += 1;
                            let journaled = record_failure(
                                &mut book,
                                c,
                                nodes[done.node].kind,
                                &mut source,
                                done.cut_off,
                            );
                            skipped_count += skip_dependents(&nodes, done.node, &mut skipped);
                            let err = match c.action {
                                Action::Read => super::lookups::lookup_failed(
                                    &engine.spec(),
                                    c.address.clone(),
                                    source,
                                ),
                                _ => Error::Provider {
                                    address: c.address.clone(),
                                    operation: done.operation,
                                    source: Box::new(source),
                                },
                            };
                            reporter.note(&format!("Error: {err}"));
                            first_error.get_or_insert(err);
                            journaled
                        }
                    };
                    if let Err(e) = journaled {
                        abandoned = in_flight;
                        reporter.note(&format!("Error: {e}: stopping now, {in_flight} operation(s) in flight are abandoned."));
                        journal_failed = Some(e);
                        break 'walk;
                    }
                }
            }
            Event::Signal(signal) => {
                // A cancelled CI job gets SIGTERM and, seconds later,
                // SIGKILL: there is no time to wait for anything in flight.
                if interrupted || signal == Signal::Terminate {
                    interrupted = true;
                    abandoned = in_flight;
                    reporter.note(&format!("{}: stopping now. {in_flight} operation(s) in flight are abandoned and may still complete; the next `meshmon apply` looks for what they made, and `meshmon plan` shows where things stand.", if signal == Signal::Terminate { "Terminated" } else { "Second interrupt" }));
                    break;
                }
                interrupted = true;
                reporter.note(&format!("Interrupt received: no new operations start; waiting for {in_flight} in flight to finish (interrupt again to stop at once)..."));
            }
            Event::Tick => reporter.tick(),
        }
    }
    reporter.flush();

    signal_task.abort();
    let not_started = nodes.len() - succeeded - failed - skipped_count - abandoned;
    let error = if let Some(source) = journal_failed {
        Some(Error::Journal {
            source,
            abandoned: abandoned + not_started + skipped_count,
        })
    } else if interrupted {
        Some(Error::Interrupted {
            completed: succeeded,
            remaining: not_started + skipped_count + abandoned,
        })
    } else if failed > 0 {
        if skipped_count > 0 {
            reporter.note(&format!("{failed} operation(s) failed, {skipped_count} skipped because they depend on a failure"));
        }
        // One failure is the error itself; several were each reported as
        // they happened, and the summary says how many.
        if failed == 1 {
            first_error
        } else {
            Some(Error::Incomplete {
                failed,
                skipped: skipped_count,
            })
        }
    } else if not_started > 0 {
        Some(Error::Usage(format!(
            "{not_started} operation(s) could never start because of an ordering cycle; this is a bug in meshmon"
        )))
    } else {
        None
    };

    let outputs = if !plan.options.destroy {
        crate::eval::recorded_outputs(&crate::eval::outputs(&engine.spec(), &book.state))
    } else if book.state.resources.is_empty() {
        Default::default()
    } else {
        book.state.outputs.clone()
    };
    let appended = book.write(JournalEntry::Outputs { outputs });
    let Book {
        mut state,
        replayer,
        ..
    } = book;
    replayer.finish(&mut state);
    // Nothing left to configure a provider for: what look-ups found goes
    // with the last object.
    if plan.options.destroy && state.resources.is_empty() && state.deposed.is_empty() {
        state.data.clear();
    }
    let error = match (error, appended) {
        (None, Err(source)) => Some(Error::Journal {
            source,
            abandoned: 0,
        }),
        (error, _) => error,
    };
    (state, totals, error)
}

/// What the walk handles next.
enum Event {
    Done(Done),
    Signal(Signal),
    Tick,
}

/// How much progress output a walk that never waits holds before writing.
const FLUSH_BYTES: usize = 64 * 1024;

/// A signal that stops the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    /// Ctrl-C: stop scheduling, let what is in flight finish.
    Interrupt,
    /// What a cancelled CI job receives first: stop at once.
    Terminate,
}

/// SIGINT and SIGTERM as a stream of events, and the task that forwards
/// them.
fn interrupts() -> (mpsc::UnboundedReceiver<Signal>, tokio::task::JoinHandle<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            let got = tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    (rx, task)
}

/// What a node journals before its provider is called: a create's intent
/// (its token, reused when an interrupted apply already chose one) or a
/// delete's. An update journals nothing first: it is retried as it is.
fn intent(
    kind: Kind,
    c: &Change,
    op: &Op,
    state: &State,
    tokens: &HashMap<Address, String>,
    depose_keys: &mut HashMap<Address, DeposedKey>,
) -> (Option<Intent>, Option<JournalEntry>) {
    match (kind, c.action) {
        (Kind::Destroy, _) => {
            let key = c.deposed.clone().or_else(|| {
                (c.action == Action::Replace && c.create_before_destroy)
                    .then(|| depose_keys.get(&c.address).cloned())
                    .flatten()
            });
            (
                None,
                Some(JournalEntry::Deleting {
                    address: c.address.clone(),
                    key,
                }),
            )
        }
        // An update is retried as it is: the record stays as it was. A
        // look-up changes nothing, so there is nothing to journal.
        (Kind::Apply, Action::Update | Action::Read) => (None, None),
        (Kind::Apply, _) => {
            let token = state
                .pending
                .get(&c.address)
                .map(|p| p.token.clone())
                .or_else(|| tokens.get(&c.address).cloned())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let deposes =
                (c.action == Action::Replace && c.create_before_destroy).then(DeposedKey::new);
            if let Some(k) = &deposes {
                depose_keys.insert(c.address.clone(), k.clone());
            }
            let mut sensitive = c.sensitive.clone();
            sensitive.extend(op.secret.iter().cloned());
            let create = PendingCreate {
                type_name: c.type_name.to_string(),
                provider: c.provider.to_string(),
                token: token.clone(),
                inputs: op.inputs.clone(),
                dependencies: c.dependencies.clone(),
                sensitive_attributes: sensitive.into_iter().collect(),
                deposes,
                instance: op.instance.clone(),
            };
            let intent = Intent {
                token,
                lineage: state.lineage.clone(),
            };
            (
                Some(intent),
                Some(JournalEntry::Intent {
                    address: c.address.clone(),
                    create: Box::new(create),
                }),
            )
        }
    }
}

/// Journals what a failed operation leaves: a half-done update's progress,
/// a create that never became healthy (tainted, or stashed as deposed for a
/// create_before_destroy replace), or the end of an intent that made or
/// deleted nothing. A cut-off operation, a deposed object and a plainly
/// failed update leave the record as it was.
fn record_failure(
    book: &mut Book<'_>,
    c: &Change,
    kind: Kind,
    source: &mut ProviderError,
    cut_off: bool,
) -> Result<(), StateError> {
    let mut partial = source.partial.take();
    if c.action == Action::Read {
        // A look-up made nothing and recorded nothing.
        Ok(())
    } else if let Some(partial) = partial.take_if(|_| c.action == Action::Update) {
        // An update that failed half-way: what it did
        // is recorded, and the next plan retries only
        // the rest, never a replace.
        let rs = resource_state(&book.instances, c, *partial, Status::Ready, BTreeSet::new());
        book.write(JournalEntry::Set {
            address: c.address.clone(),
            resource: Box::new(rs),
            depose: None,
        })
    } else if let Some(partial) = partial {
        // Created but never became healthy: keep it,
        // tainted, so the next plan replaces it — or,
        // for a create_before_destroy replace, deposed,
        // so that the object it was to replace stays.
        let rs = resource_state(
            &book.instances,
            c,
            *partial,
            Status::Tainted,
            BTreeSet::new(),
        );
        if c.action == Action::Replace && c.create_before_destroy {
            book.write(JournalEntry::Stash {
                key: DeposedKey::new(),
                address: c.address.clone(),
                resource: Box::new(rs),
            })
        } else {
            book.write(JournalEntry::Set {
                address: c.address.clone(),
                resource: Box::new(rs),
                depose: None,
            })
        }
    } else if cut_off || c.deposed.is_some() || (kind == Kind::Apply && c.action == Action::Update)
    {
        // Cut off: the intent stays open for the next
        // apply. A deposed object stays deposed. A
        // failed update keeps its record.
        Ok(())
    } else {
        // Nothing was made, or nothing was deleted.
        book.write(JournalEntry::Abandon {
            address: c.address.clone(),
        })
    }
}

/// The record of `current`, applied to `c` through the instance the walk
/// noted for it.
fn resource_state(
    instances: &HashMap<Address, crate::state::ProviderInstance>,
    c: &Change,
    current: Current,
    status: Status,
    secret: BTreeSet<String>,
) -> ResourceState {
    Recording::new(c, instances.get(&c.address).cloned(), None).record(current, status, secret)
}

#[allow(clippy::too_many_arguments)]
fn record(
    book: &mut Book<'_>,
    c: &Change,
    depose_keys: &HashMap<Address, DeposedKey>,
    kind: Kind,
    outcome: Outcome,
    totals: &mut Totals,
    reporter: &Reporter,
) -> Result<(), StateError> {
    match outcome {
        Outcome::Applied(entry, line) => {
            match c.action {
                Action::Update => totals.changed += 1,
                _ => totals.added += 1,
            }
            book.write_line(entry, line)
        }
        Outcome::Read(current, secret) => {
            // Recorded in the state, never journaled: a look-up changes
            // nothing, and a run that stops reads it again.
            let mut rs = resource_state(&book.instances, c, current, Status::Ready, secret);
            rs.dependencies.clear();
            book.state.data.insert(c.address.clone(), rs);
            reporter.finish(&c.address, None);
            Ok(())
        }
        Outcome::Destroyed => {
            debug_assert_eq!(kind, Kind::Destroy);
            totals.destroyed += 1;
            let appended = match (&c.deposed, c.action) {
                (Some(key), _) => book.write(JournalEntry::Forget { key: key.clone() }),
                // The old half of a create_before_destroy replace, deposed
                // by its create under the key chosen when that started.
                (None, Action::Replace) if c.create_before_destroy => {
                    match depose_keys.get(&c.address) {
                        Some(key) => book.write(JournalEntry::Forget { key: key.clone() }),
                        None => Ok(()),
                    }
                }
                _ => book.write(JournalEntry::Remove {
                    address: c.address.clone(),
                }),
            };
            reporter.finish(&c.address, None);
            appended
        }
    }
}
