//! `[[moved]]` and `[[removed]]` in a plan: what they do to the refreshed
//! state before it is diffed, and how a saved plan gets back the state it
//! was planned from.

use super::PlanError;
use crate::addr::Address;
use crate::spec::Spec;
use crate::state::{ResourceState, State};

/// What the spec's entries did: the moves (from, to) and the forgotten
/// records.
type Refactored = (Vec<(Address, Address)>, Vec<(Address, ResourceState)>);

/// Applies the spec's `[[moved]]` and `[[removed]]` entries to `prior`:
/// a move renames a recorded object (with its deposed objects and every
/// recorded dependency on it), a removal with `destroy = false` drops it
/// from the state. Entries whose object is not recorded (done by an
/// earlier apply, or never made) do nothing, so a spec can keep them.
pub(super) fn apply(spec: &Spec, prior: &mut State) -> Result<Refactored, PlanError> {
    let mut moves = Vec::new();
    for m in &spec.moved {
        if !prior.resources.contains_key(&m.from) {
            continue;
        }
        if spec.resources.contains_key(&m.from) {
            return Err(PlanError::MoveFromDeclared {
                from: m.from.clone(),
            });
        }
        if prior.resources.contains_key(&m.to) {
            return Err(PlanError::MoveOntoRecorded {
                from: m.from.clone(),
                to: m.to.clone(),
            });
        }
        rename(prior, &m.from, &m.to);
        moves.push((m.from.clone(), m.to.clone()));
    }
    let mut forgets = Vec::new();
    for r in spec.removed.iter().filter(|r| !r.destroy) {
        if let Some(gone) = prior.resources.remove(&r.from) {
            forgets.push((r.from.clone(), gone));
        }
    }
    Ok((moves, forgets))
}

/// `prior` as it was before [`apply`] made these moves and forgets.
pub(super) fn undo(
    prior: &State,
    moves: &[(Address, Address)],
    forgets: &[(Address, ResourceState)],
) -> State {
    let mut before = prior.clone();
    for (from, to) in moves {
        rename(&mut before, to, from);
    }
    for (address, r) in forgets {
        before.resources.insert(address.clone(), r.clone());
    }
    before
}

/// A move: the record, the dependencies on it and its deposed objects.
fn rename(state: &mut State, from: &Address, to: &Address) {
    state.rename(from, to);
    for d in state.deposed.values_mut().filter(|d| d.address == *from) {
        d.address = to.clone();
    }
}
