//! Plan-time checks of built-in attributes. Messages say what was expected
//! and never repeat the value: it may have come from a secret.

use meshmon_provider_sdk::Value;

/// The longest wait a spec may ask for: anything longer is a typo, and
/// would outlive every CI job and credential it runs with.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

/// A duration like "30s" or "1h 30m", of at most `MAX_WAIT`.
pub fn duration(v: &Value) -> Result<(), String> {
    let s = v.as_str().ok_or("expected a duration string")?;
    let d = humantime::parse_duration(s)
        .map_err(|_| "is not a duration: write durations like \"250ms\", \"30s\" or \"5m\"")?;
    if d > MAX_WAIT {
        return Err("is a duration too long to wait for (at most a year)".into());
    }
    Ok(())
}

/// An octal file mode like "0644", at most 07777.
pub fn octal_mode(v: &Value) -> Result<(), String> {
    let s = v.as_str().ok_or("expected an octal mode string")?;
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| (b'0'..=b'7').contains(&b))
        && u32::from_str_radix(s, 8).is_ok_and(|m| m <= 0o7777);
    if ok {
        Ok(())
    } else {
        Err("is not an octal file mode like \"0644\" or \"0600\"".into())
    }
}

/// A path that names something.
pub fn non_empty_path(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() && !s.contains('\0') => Ok(()),
        _ => Err("must be a non-empty path".into()),
    }
}
