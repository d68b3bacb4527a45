//! The one error type providers return.

use std::fmt;

use crate::current::Current;

/// An operation failed. Carries what the user needs to act on it: the remote
/// operation, the service's error code and message, and a hint.
#[derive(Debug)]
pub struct ProviderError {
    /// The remote operation, e.g. `iam:CreateRole` or `PUT /api/dashboards/db`.
    pub operation: Option<String>,
    /// The service's error code, e.g. `AccessDenied`.
    pub code: Option<String>,
    /// The service's message, or ours.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
    /// What exists despite the failure (created, but never became ready); the
    /// engine records it so the next plan can repair rather than orphan it.
    pub partial: Option<Box<Current>>,
    /// The request may have taken effect although it failed: its answer was
    /// lost (a timeout, a reset connection, a 5xx after the service acted).
    /// After an ambiguous create the engine asks the provider to `recover`
    /// the object before it tries again, so that a lost answer never turns
    /// into a second object.
    pub ambiguous: bool,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            operation: None,
            code: None,
            message: message.into(),
            hint: None,
            partial: None,
            ambiguous: false,
        }
    }

    /// A service answered with an error.
    pub fn api(
        operation: impl Into<String>,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ProviderError {
            operation: Some(operation.into()),
            code,
            ..Self::new(message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_partial(mut self, current: Current) -> Self {
        self.partial = Some(Box::new(current));
        self
    }

    /// Marks the failure as one that may have taken effect.
    pub fn ambiguous(mut self) -> Self {
        self.ambiguous = true;
        self
    }

    /// Inputs failed to convert into the provider's typed form.
    pub fn invalid_inputs(err: impl fmt::Display) -> Self {
        Self::new(format!("invalid inputs: {err}")).with_hint(
            "this is a bug in meshmon: the spec passed validation but the provider rejected it",
        )
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = &self.operation {
            write!(f, "{op}: ")?;
        }
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}
