//! Secrets and how they are kept out of everything meshmon writes but the
//! state file. Two mechanisms, each in one place:
//!
//! - By structure: values carry their sensitivity (a secret variable, an
//!   attribute the schema marks, anything computed from either), and the
//!   renderers show such a value as [`SENSITIVE`] ([`shown`]).
//! - By text: what a service or a provider says in an error or a progress
//!   line may echo a value it was given. Every secret value a run comes to
//!   know — sensitive variables, the secret attributes of what it records
//!   and what it evaluates, and the forms a provider renders them in (a
//!   duration written out) — joins one [`Secrets`] set, and every line
//!   that leaves the process (stdout and stderr through the CLI's output,
//!   report files, progress lines) is masked with it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::RwLock;

use meshmon_provider_sdk::{Map, Value};

/// What a secret value is shown as.
pub const SENSITIVE: &str = "(sensitive)";

/// Shorter texts are not masked: hiding every "a" or "10" in a message
/// would hide the message, not a secret.
const SHORTEST: usize = 3;

/// The secret texts a run knows of, longest first so that a secret
/// containing another is masked whole.
#[derive(Debug, Default)]
pub struct Secrets {
    texts: RwLock<Vec<String>>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns every text in `value` (its strings and numbers, however
    /// nested), and the forms a provider may render them in.
    pub fn learn(&self, value: &Value) {
        let mut found = Vec::new();
        leaves(value, &mut found);
        self.add(found);
    }

    /// Learns the values of the attributes named in `sensitive` in each map.
    pub fn learn_attributes<'a>(
        &self,
        maps: impl IntoIterator<Item = &'a Map>,
        sensitive: &BTreeSet<String>,
    ) {
        if sensitive.is_empty() {
            return;
        }
        let mut found = Vec::new();
        for m in maps {
            for name in sensitive {
                if let Some(v) = m.get(name) {
                    leaves(v, &mut found);
                }
            }
        }
        self.add(found);
    }

    fn add(&self, found: Vec<String>) {
        let mut fresh: Vec<String> = found
            .into_iter()
            .flat_map(renderings)
            .filter(|s| s.chars().count() >= SHORTEST)
            .collect();
        if fresh.is_empty() {
            return;
        }
        let mut texts = self.texts.write().expect("secrets lock");
        fresh.retain(|s| !texts.contains(s));
        if fresh.is_empty() {
            return;
        }
        texts.extend(fresh);
        texts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        texts.dedup();
    }

    /// `text` with every known secret replaced by [`SENSITIVE`].
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let texts = self.texts.read().expect("secrets lock");
        let mut out = Cow::Borrowed(text);
        for secret in texts.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), SENSITIVE));
            }
        }
        out
    }

    /// Whether any secret is known.
    pub fn is_empty(&self) -> bool {
        self.texts.read().expect("secrets lock").is_empty()
    }
}

/// A value as a report shows it: itself, or [`SENSITIVE`].
pub fn shown(v: &Value, secret: bool) -> Cow<'_, Value> {
    if secret {
        Cow::Owned(Value::String(SENSITIVE.into()))
    } else {
        Cow::Borrowed(v)
    }
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Int(i) => out.push(i.to_string()),
        Value::Float(f) => out.push(f.to_string()),
        Value::List(l) => l.iter().for_each(|e| leaves(e, out)),
        Value::Map(m) => m.values().for_each(|e| leaves(e, out)),
        Value::Bool(_) | Value::Null | Value::Unknown => {}
    }
}

/// A secret text and the forms a provider renders it in: a duration
/// written `90s` is shown as `1m 30s` in a progress line.
fn renderings(text: String) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if let Ok(d) = humantime::parse_duration(text.trim()) {
        let written = humantime::format_duration(d).to_string();
        if written != text {
            out.push(written);
        }
    }
    out.push(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_whole_and_in_their_rendered_forms() {
        let s = Secrets::new();
        s.learn(&Value::from("hunter2-long"));
        s.learn(&Value::from("hunter2"));
        s.learn(&Value::from("90s"));
        s.learn(&Value::from("ab"));
        assert_eq!(
            s.mask("token hunter2-long, then hunter2, waited 1m 30s (90s), ab"),
            "token (sensitive), then (sensitive), waited (sensitive) ((sensitive)), ab"
        );
        assert!(matches!(s.mask("nothing here"), Cow::Borrowed(_)));
    }
}
