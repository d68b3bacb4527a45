//! Several reports from one run: `plan` and `drift` print one format to
//! stdout and may also write others to files (`--json-out`,
//! `--markdown-out`, `--report FORMAT=FILE`), so a CI job that wants text
//! in its log, JSON for a script and Markdown for a comment refreshes once.
//! Each file is written whole or not at all: a temporary file in the same
//! directory, renamed over the target, so a reader never sees half a report
//! and a symlink at the target is replaced, never written through.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::args::DriftFormat;
use crate::plan::render::{self, Palette};
use crate::plan::{self, Drift, Plan};
use crate::registry::Registry;

/// Report files written alongside the output on stdout.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// Also write the JSON report to FILE (from the same refresh).
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,

    /// Also write the Markdown report to FILE (from the same refresh).
    #[arg(long = "markdown-out", value_name = "FILE")]
    pub markdown_out: Option<PathBuf>,

    /// Also write a report in FORMAT (text, json or markdown) to FILE (repeatable).
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report)]
    pub reports: Vec<ReportTarget>,
}

/// One `--report FORMAT=FILE`.
#[derive(Debug, Clone)]
pub struct ReportTarget {
    pub format: DriftFormat,
    pub path: PathBuf,
}

fn parse_report(s: &str) -> Result<ReportTarget, String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not FORMAT=FILE (for example markdown=plan.md)"))?;
    let format = match format {
        "text" => DriftFormat::Text,
        "json" => DriftFormat::Json,
        "markdown" | "md" => DriftFormat::Markdown,
        other => {
            return Err(format!(
                "unknown report format `{other}`: expected text, json or markdown"
            ));
        }
    };
    if path.is_empty() {
        return Err(format!("`{s}` names no file"));
    }
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path),
    })
}

impl ReportArgs {
    /// Every file to write, in the order given on the command line's
    /// flags: `--json-out`, `--markdown-out`, then each `--report`.
    pub fn targets(&self) -> Vec<ReportTarget> {
        let mut out = Vec::new();
        if let Some(p) = &self.json_out {
            out.push(ReportTarget {
                format: DriftFormat::Json,
                path: p.clone(),
            });
        }
        if let Some(p) = &self.markdown_out {
            out.push(ReportTarget {
                format: DriftFormat::Markdown,
                path: p.clone(),
            });
        }
        out.extend(self.reports.iter().cloned());
        out
    }

    /// Renders and writes every requested report; stops at the first file
    /// that cannot be written and names it.
    pub fn write(&self, render: impl Fn(DriftFormat) -> String) -> Result<(), String> {
        for t in self.targets() {
            write_atomic(&t.path, render(t.format).as_bytes())
                .map_err(|e| format!("cannot write report {}: {e}", t.path.display()))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".meshmon-report-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The drift report in one format: exactly what `drift --format FORMAT` prints.
pub fn drift(
    format: DriftFormat,
    drift: &[Drift],
    resources: usize,
    env: &str,
    palette: &Palette,
) -> String {
    match format {
        DriftFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&plan::json::drift(drift)).expect("json")
        ),
        DriftFormat::Markdown => plan::json::drift_markdown(drift, env),
        DriftFormat::Text if drift.is_empty() => {
            format!("No drift: all {resources} resource(s) in the state match the real world.\n")
        }
        DriftFormat::Text => format!(
            "{}\nRun `meshmon plan` to see how `meshmon apply` would repair this.\n",
            render::drift_section(drift, palette)
        ),
    }
}

/// The plan in one format: exactly what `plan --format FORMAT` prints.
pub fn plan(
    format: DriftFormat,
    plan: &Plan,
    env: &str,
    registry: &Registry,
    palette: &Palette,
) -> String {
    match format {
        DriftFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&plan::json::plan(plan, registry)).expect("json")
        ),
        DriftFormat::Markdown => plan::markdown::plan(plan, env, registry),
        DriftFormat::Text => render::plan(plan, registry, palette),
    }
}
