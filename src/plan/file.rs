//! Saved plans (`plan --out FILE`, `apply FILE`). A saved plan carries the
//! spec text, the variable values, the refreshed state it was computed from,
//! and what it promised to do. Apply refuses it when the state's lineage or
//! serial moved on, and when re-planning from the saved inputs no longer
//! yields the same actions. The file holds variable values, secrets
//! included, so it is written readable by its owner only.
//!
//! On disk: one header line, `meshmon-plan 2 sha256:HEX`, then the plan as
//! JSON. The digest covers every byte after the header and is checked before
//! anything in the file is used, so a damaged or edited plan is refused.

use std::path::{Path, PathBuf};

use meshmon_provider_sdk::Value;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, PlanOptions};
use crate::addr::Address;
use crate::state::State;

/// The first word of every saved plan file.
const MAGIC: &str = "meshmon-plan";

/// 4: look-ups (what they found, in the prior state; reads left for
/// apply) and the components' own files among those pinned.
pub const PLAN_FORMAT: u32 = 4;

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub meshmon_version: String,
    pub lineage: String,
    pub serial: u64,
    pub spec_path: PathBuf,
    pub base_dir: PathBuf,
    pub spec_text: String,
    pub variables: Vec<(String, Value)>,
    /// The contents `file()` read when the plan was made.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    pub destroy: bool,
    pub refresh_only: bool,
    pub targets: Vec<Address>,
    pub replace: Vec<Address>,
    pub prior: State,
    pub actions: Vec<(String, Action)>,
}

/// Why a saved plan cannot be applied as it is.
#[derive(Debug, thiserror::Error)]
pub enum StalePlan {
    #[error(
        "the saved plan is stale: it was made against state serial {planned} but the state is now at serial {now}{}",
        if *.other_lineage { " of another lineage" } else { "" }
    )]
    StateMoved {
        planned: u64,
        now: u64,
        other_lineage: bool,
    },
    #[error("the saved plan no longer matches: planning again from it gives different actions")]
    ActionsDiffer,
}

impl StalePlan {
    pub fn hint(&self) -> &'static str {
        match self {
            StalePlan::StateMoved { .. } => {
                "run `meshmon plan --out FILE` again and apply the new plan"
            }
            StalePlan::ActionsDiffer => {
                "files it reads may have changed; run `meshmon plan --out FILE` again"
            }
        }
    }
}

impl SavedPlan {
    /// What applies `plan` later exactly as reviewed: the spec and the
    /// variables it was made from, its options, and the state it was made
    /// against (its lineage and serial, and the refreshed records).
    pub fn of(spec: &crate::spec::Spec, plan: &super::Plan) -> SavedPlan {
        SavedPlan {
            format_version: PLAN_FORMAT,
            meshmon_version: env!("CARGO_PKG_VERSION").to_string(),
            lineage: plan.prior.lineage.clone(),
            serial: plan.prior.serial,
            spec_path: spec.path.clone(),
            base_dir: spec.base_dir.clone(),
            spec_text: spec.text.to_string(),
            variables: spec
                .variables
                .values()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
            files: spec.files.clone(),
            destroy: plan.options.destroy,
            refresh_only: plan.options.refresh_only,
            targets: plan.options.targets.clone(),
            replace: plan.options.replace.clone(),
            prior: plan.unrefactored_prior(),
            actions: plan.fingerprint(),
        }
    }

    /// Checks that the plan was made against `state` as it is now. Serial 0
    /// means no state was ever written: the plan's lineage becomes this
    /// environment's.
    pub fn verify_against(&self, state: &mut State) -> Result<(), StalePlan> {
        if self.serial == 0 && state.serial == 0 {
            state.lineage = self.lineage.clone();
        }
        if self.lineage != state.lineage || self.serial != state.serial {
            return Err(StalePlan::StateMoved {
                planned: self.serial,
                now: state.serial,
                other_lineage: self.lineage != state.lineage,
            });
        }
        Ok(())
    }

    /// Checks that planning again from the saved inputs gives the actions
    /// the plan promised.
    pub fn verify_plan(&self, plan: &super::Plan) -> Result<(), StalePlan> {
        if plan.fingerprint() != self.actions {
            return Err(StalePlan::ActionsDiffer);
        }
        Ok(())
    }

    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            destroy: self.destroy,
            refresh_only: self.refresh_only,
            targets: self.targets.clone(),
            replace: self.replace.clone(),
        }
    }

    /// Writes the plan (mode 0600) to `path`. Refuses to replace anything
    /// but an earlier saved plan: `--out` pointed at the state, the spec or
    /// any other file of the user's must not destroy it.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_file() && is_plan_file(path) => {}
            Ok(_) => {
                return Err(format!(
                    "{} already exists and is not a meshmon plan file; meshmon will not overwrite it",
                    path.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot write plan {}: {e}", path.display())),
        }
        let body = serde_json::to_vec(self).map_err(|e| format!("cannot encode the plan: {e}"))?;
        let mut bytes = header(&body).into_bytes();
        bytes.extend_from_slice(&body);
        crate::fsutil::write_replace(path, &bytes, 0o600)
            .map_err(|e| format!("cannot write plan {}: {e}", path.display()))
    }

    pub fn read(path: &Path) -> Result<SavedPlan, String> {
        let bytes = crate::fsutil::read_bytes(path)
            .map_err(|e| format!("cannot read saved plan {}: {e}", path.display()))?;
        let not_plan = || format!("{} is not a meshmon plan file", path.display());
        let newline = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(not_plan)?;
        let head = std::str::from_utf8(&bytes[..newline]).map_err(|_| not_plan())?;
        let body = &bytes[newline + 1..];
        let mut words = head.split(' ');
        if words.next() != Some(MAGIC) {
            return Err(not_plan());
        }
        let format = words.next().and_then(|w| w.parse::<u32>().ok());
        if format != Some(PLAN_FORMAT) {
            return Err(format!(
                "{} has plan format {}; this meshmon reads format {PLAN_FORMAT}: run `meshmon plan --out FILE` again",
                path.display(),
                format.map_or("unknown".to_string(), |f| f.to_string()),
            ));
        }
        if head != header(body).trim_end() {
            return Err(format!(
                "{} fails its checksum: it was damaged or edited after `meshmon plan` wrote it; run `meshmon plan --out FILE` again",
                path.display()
            ));
        }
        let plan: SavedPlan = serde_json::from_slice(body)
            .map_err(|e| format!("{} is not a meshmon plan file: {e}", path.display()))?;
        if plan.format_version != PLAN_FORMAT {
            return Err(format!(
                "{} has plan format {}; this meshmon reads format {PLAN_FORMAT}",
                path.display(),
                plan.format_version
            ));
        }
        Ok(plan)
    }
}

/// The header line for a plan body.
fn header(body: &[u8]) -> String {
    format!(
        "{MAGIC} {PLAN_FORMAT} sha256:{}\n",
        hex::encode(Sha256::digest(body))
    )
}

/// Whether the file at `path` starts like a saved plan (of any format).
fn is_plan_file(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; MAGIC.len() + 1];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| start.starts_with(MAGIC.as_bytes()) && start[MAGIC.len()] == b' ')
}
