//! The plan as Markdown for a pull-request comment (`plan --format
//! markdown`): a summary line, a table of changes, and each resource's diff
//! folded in `<details>`. The diffs are the text plan's, uncoloured, so
//! secrets are masked exactly as there. GitHub rejects comments longer than
//! 65,536 characters: diffs are dropped from the end until the comment
//! fits, and a note says how many were left out; the table always lists
//! every change.

use std::fmt::Write;

use super::render::{self, Palette};
use super::{Action, Change, Plan};
use crate::registry::Registry;

/// GitHub's limit on the body of an issue or pull-request comment, in
/// characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// The plan as Markdown, at most `GITHUB_COMMENT_LIMIT` characters long.
pub fn plan(plan: &Plan, env: &str, registry: &Registry) -> String {
    let mut out = plan_within(plan, env, registry, GITHUB_COMMENT_LIMIT);
    if let Some(line) = render::throttling_line(&plan.throttling) {
        out.push_str(&format!("\n{line}\n"));
    }
    out
}

/// The plan as Markdown, at most `limit` characters long (as long as the
/// summary and the table fit).
pub fn plan_within(plan: &Plan, env: &str, registry: &Registry, limit: usize) -> String {
    let plain = Palette::new(false);
    let mut head = format!("## meshmon plan: `{env}`\n\n");
    let mut tail = String::new();

    if !plan.drift.is_empty() {
        let text = render::drift_section(&plan.drift, &plain);
        let _ = write!(
            head,
            "<details><summary>⚠️ {} resource(s) changed outside meshmon</summary>\n\n{}\n</details>\n\n",
            plan.drift.len(),
            fenced("text", &text)
        );
    }

    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if plan.options.refresh_only {
        head.push_str(if plan.drift.is_empty() {
            "✅ **No changes.** The state matches the real world.\n"
        } else {
            "**Refresh-only plan:** applying it updates the state to match the real world and changes nothing else.\n"
        });
        return head;
    }
    let outputs = plan.output_changes();
    let refactored = !plan.moves.is_empty() || !plan.forgets.is_empty();
    if changes.is_empty() && outputs.is_empty() && !refactored {
        head.push_str("✅ **No changes.** Your infrastructure matches the spec.\n");
        return head;
    }
    if changes.is_empty() && !refactored {
        head.push_str("**No changes to resources.** Only outputs change: applying this plan records their new values in the state.\n");
        head.push_str(&outputs_section(&outputs));
        return head;
    }

    let _ = writeln!(head, "**Plan: {}**\n", super::render::summary_line(plan));
    head.push_str("| Action | Resource | Type |\n|---|---|---|\n");
    for (from, to) in &plan.moves {
        let _ = writeln!(
            head,
            "| ➡️ move | `{from}` → `{to}` | `{}` |",
            to.type_name()
        );
    }
    for (address, r) in &plan.forgets {
        let _ = writeln!(head, "| 🫥 forget | `{address}` | `{}` |", r.type_name);
    }
    for c in &changes {
        let _ = writeln!(
            head,
            "| {} | `{}` | `{}` |",
            action_cell(c),
            c.address,
            c.type_name
        );
    }
    head.push('\n');

    if !plan.deferred.is_empty() {
        tail.push_str(&fenced("text", &render::deferred_section(plan, &plain)));
    }
    if !outputs.is_empty() {
        tail.push_str(&outputs_section(&outputs));
    }

    let diffs: Vec<String> = changes
        .iter()
        .map(|c| {
            let text = render::resource(plan, c, registry.schema_at(&c.address), &plain);
            format!(
                "<details><summary><code>{}</code> {}</summary>\n\n{}\n</details>\n",
                c.address,
                verb(c),
                fenced("diff", &diff_signs(c.action, &text))
            )
        })
        .collect();

    let chars = |s: &str| s.chars().count();
    let fixed = chars(&head) + chars(&tail);
    let mut kept = diffs.len();
    let mut total = fixed + diffs.iter().map(|d| chars(d)).sum::<usize>();
    let mut note = String::new();
    while kept > 0 && total + chars(&note) > limit {
        kept -= 1;
        total -= chars(&diffs[kept]);
        note = truncation_note(diffs.len() - kept);
    }

    let mut out = head;
    for d in &diffs[..kept] {
        out.push_str(d);
    }
    out.push_str(&note);
    out.push_str(&tail);
    out
}

fn truncation_note(left_out: usize) -> String {
    format!(
        "\n> [!NOTE]\n> {left_out} resource diff{} left out to keep this comment under GitHub's {GITHUB_COMMENT_LIMIT}-character limit. \
         Run `meshmon plan` (or read this job's log) to see the full plan.\n",
        if left_out == 1 { " was" } else { "s were" }
    )
}

fn action_cell(c: &Change) -> &'static str {
    match c.action {
        Action::Create => "➕ create",
        Action::Update => "🔄 update",
        Action::Replace if c.create_before_destroy => "♻️ replace (create first)",
        Action::Replace => "♻️ replace",
        Action::Delete => "🗑️ delete",
        Action::Read => "👁️ read",
        Action::NoOp => "no-op",
    }
}

fn verb(c: &Change) -> &'static str {
    match c.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete if c.deposed.is_some() => "(deposed object) will be destroyed",
        Action::Delete => "will be destroyed",
        Action::Read => "will be read during apply",
        Action::NoOp => "is unchanged",
    }
}

/// "Changes to outputs", one line each, secrets masked.
fn outputs_section(outputs: &[crate::plan::OutputChange<'_>]) -> String {
    let mut out = String::from("\n**Changes to outputs:**\n\n");
    for o in outputs {
        let _ = writeln!(
            out,
            "- `{} {} = {}`",
            o.sign(),
            o.name,
            o.shown().replace('`', "'")
        );
    }
    out
}

/// GitHub colours a `diff` block by the first character of each line, but
/// the text plan indents its signs: move each line's sign to the front so
/// additions show green and removals red. An in-place change (`~`) becomes
/// `!`, which GitHub leaves uncoloured rather than calling it a removal.
/// A created or destroyed resource is all one sign, and only its header and
/// attribute signs (indented at most 6) move: a YAML list item in a new
/// manifest (`- name: x`) is content, not a removal.
fn diff_signs(action: Action, text: &str) -> String {
    let whole = match action {
        Action::Create => Some(('+', "+")),
        Action::Delete => Some(('-', "-")),
        _ => None,
    };
    let mut out = String::with_capacity(text.len() + text.len() / 20);
    for line in text.lines() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let sign = ["-/+", "+/-", "+", "-", "~"]
            .into_iter()
            .find(|s| body.starts_with(s) && body[s.len()..].starts_with(' '))
            .filter(|s| match whole {
                Some((_, only)) => *s == only && indent <= 6,
                None => true,
            });
        let lead = match (whole, sign) {
            (Some((c, _)), _) => c,
            (None, Some("+")) => '+',
            (None, Some("-")) => '-',
            (None, Some(_)) => '!',
            (None, None) => ' ',
        };
        out.push(lead);
        match sign {
            // Every line moves one column right for the new first one;
            // the sign's old place becomes blank.
            Some(s) => {
                out.push_str(&" ".repeat(indent + s.len()));
                out.push_str(&body[s.len()..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A fenced code block whose fence is longer than any run of backticks in
/// the text, so a manifest or dashboard cannot close it early.
fn fenced(lang: &str, text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let body = text.trim_end_matches('\n');
    format!("{fence}{lang}\n{body}\n{fence}\n")
}
