//! Diagnostics about a spec: collected, not returned early, so one run reports
//! every problem. Each carries the source it points into; rendering is
//! miette's job and happens only in the binary.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, Severity, SourceCode};

/// Spec source text with its display name, shared by every diagnostic.
pub type Source = Arc<NamedSource<Arc<String>>>;

pub fn source(name: &str, text: Arc<String>) -> Source {
    Arc::new(NamedSource::new(name, text).with_language("toml"))
}

/// One problem in a spec: what is wrong (message), where (labels), and what
/// to do (help).
#[derive(Clone, Debug)]
pub struct Diag {
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<(Range<usize>, String)>,
    pub help: Option<String>,
    pub source: Option<Source>,
    /// A stable name for the kind of problem (`app-mesh-end-of-life`), by
    /// which `[meshmon] acknowledge` silences a warning and repeats fold.
    pub code: Option<&'static str>,
    /// The resource the problem is about, as TYPE.NAME.
    pub address: Option<crate::addr::Address>,
}

impl Diag {
    pub fn error(message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            source: None,
            code: None,
            address: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn label(mut self, span: Range<usize>, text: impl Into<String>) -> Self {
        self.labels.push((span, text.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Names the kind of problem and the resource it is about.
    pub fn about(mut self, code: &'static str, address: &crate::addr::Address) -> Self {
        self.code = Some(code);
        self.address = Some(address.clone());
        self
    }

    pub fn in_source(mut self, source: &Source) -> Self {
        self.source = Some(source.clone());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl miette::Diagnostic for Diag {
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s.as_ref() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().map(|(span, text)| {
            LabeledSpan::new_with_span((!text.is_empty()).then(|| text.clone()), span.clone())
        })))
    }
}

/// Every diagnostic from one run, in the order found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diag>,
    /// Warnings silenced by `[meshmon] acknowledge`: not shown, only counted
    /// in a one-line reminder.
    pub acknowledged: Vec<Diag>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diag) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diag::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
        self.acknowledged.extend(other.acknowledged);
    }

    /// Turns every warning into an error (`validate --deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for d in &mut self.items {
            d.severity = Severity::Error;
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the spec has {} error(s)", self.error_count())
    }
}

impl std::error::Error for Diagnostics {}

/// "did you mean …?" for a misspelt name, from the closest candidate.
pub fn did_you_mean<S: AsRef<str>>(
    name: &str,
    candidates: impl IntoIterator<Item = S>,
) -> Option<String> {
    let candidates: Vec<S> = candidates.into_iter().collect();
    meshmon_provider_sdk::lookup::closest(name, &candidates, 1)
        .first()
        .map(|c| format!("did you mean `{c}`?"))
}

/// Text as it can be shown on one line: control characters (a newline in a
/// file's path, a NUL in a hand-edited address) are written as escapes, so
/// that what a value holds can never forge a line of meshmon's output.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
