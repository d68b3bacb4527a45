//! Several reports from one run: `plan` and `drift` print one format to
//! stdout and may also write others to files (`--json-out`,
//! `--markdown-out`, `--report FORMAT=FILE`), so a CI job that wants text
//! in its log, JSON for a script and Markdown for a comment refreshes once.
//! Each file is written whole or not at all, and never over the state, the
//! spec, a var file or a saved plan (`fsutil::write_report`).

use super::args::{DriftFormat, ReportArgs, ReportTarget};
use crate::drift::Drift;
use crate::plan::render::{self, Palette};
use crate::plan::{self, Plan};
use crate::registry::Registry;

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
    pub fn write(
        &self,
        secrets: &crate::secrets::Secrets,
        protected: &crate::fsutil::Protected,
        render: impl Fn(DriftFormat) -> String,
    ) -> Result<(), String> {
        for t in self.targets() {
            let text = render(t.format);
            crate::fsutil::write_report(
                "report",
                &t.path,
                secrets.mask(&text).as_bytes(),
                0o600,
                protected,
            )?;
        }
        Ok(())
    }
}

/// The drift report in one format: exactly what `drift --format FORMAT` prints.
pub fn drift(
    format: DriftFormat,
    drift: &[Drift],
    resources: usize,
    env: &str,
    throttling: &[meshmon_provider_sdk::Traffic],
    palette: &Palette,
) -> String {
    let throttled = render::throttling_line(throttling)
        .map(|l| format!("\n{l}\n"))
        .unwrap_or_default();
    match format {
        DriftFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&plan::json::drift(drift, throttling)).expect("json")
        ),
        DriftFormat::Markdown => plan::json::drift_markdown(drift, env) + &throttled,
        DriftFormat::Text if drift.is_empty() => {
            format!(
                "No drift: all {resources} resource(s) in the state match the real world.\n{throttled}"
            )
        }
        DriftFormat::Text => format!(
            "{}\nRun `meshmon plan` to see how `meshmon apply` would repair this.\n{throttled}",
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
