//! Quiet repeats. A CI job runs validate, plan and apply, and each printed
//! every end-of-life warning in full; with compact warnings (the default
//! when stderr is not a terminal, like Terraform's `-compact-warnings`) the
//! first warning of each code is shown whole and the others of that code
//! fold into one line with a count. Warnings the spec acknowledges are
//! left out and only counted, so nobody forgets they were accepted.

use std::collections::BTreeMap;

use miette::GraphicalReportHandler;

use crate::diag::{Diag, Diagnostics};

/// Whether to fold repeated warnings: `--compact-warnings` and
/// `--no-compact-warnings` decide, else folding is on when stderr is not a
/// terminal (a CI log, a file).
pub fn compact(flag_on: bool, flag_off: bool, stderr_is_terminal: bool) -> bool {
    if flag_on {
        true
    } else if flag_off {
        false
    } else {
        !stderr_is_terminal
    }
}

/// Like `report::render_diagnostics`, with warnings of a code already shown
/// folded into one line per code.
pub fn render_compact(d: &Diagnostics, handler: &GraphicalReportHandler) -> String {
    let mut out = String::new();
    let mut folded: BTreeMap<&str, Vec<&Diag>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for item in &d.items {
        if !item.is_error()
            && let Some(code) = item.code
        {
            if let Some(list) = folded.get_mut(code) {
                list.push(item);
                continue;
            }
            folded.insert(code, Vec::new());
            order.push(code);
        }
        let _ = handler.render_report(&mut out, item);
        out.push('\n');
    }
    for code in order {
        let rest = &folded[code];
        if rest.is_empty() {
            continue;
        }
        let on: Vec<String> = rest
            .iter()
            .filter_map(|d| d.address.as_ref().map(ToString::to_string))
            .collect();
        out.push_str(&format!(
            "  ⚠ {} more `{code}` warning{}{} (--no-compact-warnings shows each)\n",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" },
            if on.is_empty() {
                String::new()
            } else {
                format!(": {}", on.join(", "))
            }
        ));
    }
    if out.ends_with(")\n") {
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

/// "2 acknowledged warnings: app-mesh-end-of-life on helm_release.a,
/// k8s_manifest.b." — one line, or nothing.
pub fn acknowledged(d: &Diagnostics) -> Option<String> {
    if d.acknowledged.is_empty() {
        return None;
    }
    let mut by_code: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for item in &d.acknowledged {
        by_code
            .entry(item.code.unwrap_or("warning"))
            .or_default()
            .push(
                item.address
                    .as_ref()
                    .map_or("?".to_string(), ToString::to_string),
            );
    }
    let n = d.acknowledged.len();
    let parts: Vec<String> = by_code
        .iter()
        .map(|(code, on)| format!("{code} on {}", on.join(", ")))
        .collect();
    Some(format!(
        "{n} acknowledged warning{} ([meshmon] acknowledge): {}.\n",
        if n == 1 { "" } else { "s" },
        parts.join("; ")
    ))
}
