//! Where output goes: results to stdout, status and diagnostics to stderr
//! (so `plan --json | jq` stays clean), rendered with miette.

use std::io::Write;
use std::sync::{Arc, Mutex};

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::diag::{Diag, Diagnostics};
use crate::engine::commands::Notices;
use crate::plan::render::{self, Palette};
use crate::secrets::Secrets;
use crate::state::ResourceState;

impl Notices for Out {
    fn status(&self, text: &str) {
        Out::status(self, text)
    }

    fn warning(&self, text: &str) {
        Out::warning(self, text)
    }
}

/// Warnings only: status lines stay off stderr (`--json` runs).
pub struct WarningsOnly<'a>(pub &'a Out);

impl Notices for WarningsOnly<'_> {
    fn status(&self, _: &str) {}

    fn warning(&self, text: &str) {
        self.0.warning(text)
    }
}

/// Everything a command prints goes through here, masked with the secrets
/// the run knows of.
pub struct Out {
    pub color: bool,
    pub palette: Palette,
    /// Fold repeated warnings of one code into a line (see `warnings`).
    pub compact: bool,
    /// What every line is masked with; the engine learns into it.
    pub secrets: Arc<Secrets>,
    /// The first write to standard output that failed (a full disk, a
    /// closed pipe): the command then fails, since its report is not whole.
    stdout_failed: Mutex<Option<std::io::Error>>,
}

impl Out {
    pub fn new(color: bool) -> Self {
        Out {
            color,
            palette: Palette::new(color),
            compact: false,
            secrets: Arc::new(Secrets::new()),
            stdout_failed: Mutex::new(None),
        }
    }

    /// Why the report on standard output is not whole, if it is not.
    pub fn stdout_failure(&self) -> Option<String> {
        self.stdout_failed
            .lock()
            .expect("output lock")
            .as_ref()
            .map(ToString::to_string)
    }

    fn to_stderr(&self, text: &str) {
        // Nothing is left to say a failing stderr on.
        let _ = std::io::stderr()
            .lock()
            .write_all(self.secrets.mask(text).as_bytes());
    }

    pub fn with_compact_warnings(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    pub fn print(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let written = o
            .write_all(self.secrets.mask(text).as_bytes())
            .and_then(|()| o.flush());
        if let Err(e) = written {
            self.stdout_failed
                .lock()
                .expect("output lock")
                .get_or_insert(e);
        }
    }

    pub fn status(&self, text: &str) {
        self.to_stderr(&format!("{text}\n"));
    }

    fn handler(&self) -> GraphicalReportHandler {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        GraphicalReportHandler::new_themed(theme).with_width(100)
    }

    /// Renders diagnostics (errors and warnings) to stderr, with a count,
    /// then a reminder of the acknowledged warnings.
    pub fn diagnostics(&self, d: &Diagnostics) {
        let mut text = if d.items.is_empty() {
            String::new()
        } else if self.compact {
            super::warnings::render_compact(d, &self.handler())
        } else {
            render_diagnostics(d, &self.handler())
        };
        if let Some(line) = super::warnings::acknowledged(d) {
            text.push_str(&line);
        }
        self.to_stderr(&text);
    }

    pub fn warning(&self, message: &str) {
        let d = Diag::warning(message);
        let mut s = String::new();
        let _ = self.handler().render_report(&mut s, &d);
        self.to_stderr(&s);
    }

    pub fn error_message(&self, message: &str, hint: Option<String>) {
        let mut d = Diag::error(message);
        d.help = hint;
        self.error_diag(d);
    }

    /// An error that may point into the spec.
    pub fn error_diag(&self, d: Diag) {
        let mut s = String::new();
        let _ = self.handler().render_report(&mut s, &d);
        self.to_stderr(&s);
    }
}

/// All diagnostics as text, each a miette report, then a count of errors.
pub fn render_diagnostics(d: &Diagnostics, handler: &GraphicalReportHandler) -> String {
    let mut out = String::new();
    for item in &d.items {
        let _ = handler.render_report(&mut out, item);
        out.push('\n');
    }
    let errors = d.error_count();
    if errors > 0 {
        out.push_str(&format!(
            "{errors} error{} in the spec; nothing was changed.\n",
            if errors == 1 { "" } else { "s" }
        ));
    }
    out
}

/// `meshmon state show`: every attribute, secrets masked.
pub fn show_resource(
    address: &crate::addr::Address,
    r: &ResourceState,
    schema: Option<&meshmon_provider_sdk::Schema>,
) -> String {
    let mut out = format!("# {address}\n");
    let (t, n) = (address.type_name(), address.name());
    out.push_str(&format!("resource \"{t}\" \"{n}\" {{\n"));
    let attrs = r.attributes();
    let width = attrs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in &attrs {
        let secret = r.sensitive_attributes.contains(k)
            || schema.and_then(|s| s.get(k)).is_some_and(|a| a.sensitive);
        let shown = if secret {
            crate::secrets::SENSITIVE.to_string()
        } else {
            render::scalar(v)
        };
        out.push_str(&format!(
            "    {k}{} = {shown}\n",
            " ".repeat(width - k.len())
        ));
    }
    out.push_str("}\n");
    out
}
