//! Saved plans (`plan --out FILE`, `apply FILE`). A saved plan carries the
//! spec text, the variable values, the refreshed state it was computed from,
//! and what it promised to do. Apply refuses it when the state's lineage or
//! serial moved on, and when re-planning from the saved inputs no longer
//! yields the same actions. The file holds variable values, secrets
//! included, so it is written readable by its owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use meshmon_provider_sdk::Value;
use serde::{Deserialize, Serialize};

use super::{Action, PlanOptions};
use crate::state::State;

pub const PLAN_FORMAT: u32 = 1;

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
    pub destroy: bool,
    pub refresh_only: bool,
    pub targets: Vec<String>,
    pub replace: Vec<String>,
    pub prior: State,
    pub actions: Vec<(String, Action)>,
}

impl SavedPlan {
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            destroy: self.destroy,
            refresh_only: self.refresh_only,
            targets: self.targets.clone(),
            replace: self.replace.clone(),
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, self)?;
        tmp.flush()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    pub fn read(path: &Path) -> Result<SavedPlan, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read saved plan {}: {e}", path.display()))?;
        let plan: SavedPlan = serde_json::from_slice(&bytes)
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
