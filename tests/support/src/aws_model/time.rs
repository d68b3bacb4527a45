//! Timestamps as the protocols write them: ISO 8601 date-times
//! (`2024-05-01T12:00:00Z`, with optional fractions and an offset), HTTP
//! dates (`Wed, 01 May 2024 12:00:00 GMT`) and epoch seconds.

use serde_json::Value;

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn clock(t: &str) -> bool {
    let p: Vec<&str> = t.split(':').collect();
    matches!(p.as_slice(), [h, m, s]
        if digits(h, 2).is_some_and(|h| h < 24)
        && digits(m, 2).is_some_and(|m| m < 60)
        && digits(s, 2).is_some_and(|s| s <= 60))
}

fn date(y: &str, m: u32, d: &str) -> bool {
    digits(y, 4).is_some()
        && (1..=12).contains(&m)
        && digits(d, 2).is_some_and(|d| (1..=31).contains(&d))
}

/// An offset without its sign: `HH:MM` or `HHMM`; empty for `Z`.
fn zone_ok(zone: &str) -> bool {
    let z = zone.replacen(':', "", 1);
    zone.is_empty()
        || (z.is_ascii()
            && z.len() == 4
            && digits(&z[..2], 2).is_some_and(|h| h < 24)
            && digits(&z[2..], 2).is_some_and(|m| m < 60))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
pub(super) fn iso8601(s: &str) -> bool {
    let Some((day, time)) = s.split_once(['T', 't']) else {
        return false;
    };
    let d: Vec<&str> = day.split('-').collect();
    let [y, m, dd] = d.as_slice() else {
        return false;
    };
    if !date(y, digits(m, 2).unwrap_or(0), dd) {
        return false;
    }
    let (time, zone) = if let Some(t) = time.strip_suffix(['Z', 'z']) {
        (t, "")
    } else {
        match time.rfind(['+', '-']) {
            Some(i) => (&time[..i], &time[i + 1..]),
            None => return false,
        }
    };
    let (time, frac) = time.split_once('.').unwrap_or((time, "0"));
    zone_ok(zone) && clock(time) && !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
}

/// An IMF-fixdate: `Wed, 01 May 2024 12:00:00 GMT`.
pub(super) fn http_date(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p: Vec<&str> = s.split(' ').collect();
    let [day, dd, mon, y, t, "GMT"] = p.as_slice() else {
        return false;
    };
    let Some(m) = MONTHS.iter().position(|m| m == mon) else {
        return false;
    };
    day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
        && date(y, m as u32 + 1, dd)
        && clock(t)
}

/// Whether `v` is a timestamp in `format` (`iso8601`, `rfc822`,
/// `unixTimestamp`); `json`: it came in a JSON body, where epoch seconds
/// are a number.
pub(super) fn check(format: &str, v: &Value, json: bool) -> Result<(), String> {
    let ok = match (format, v) {
        ("unixTimestamp", Value::Number(_)) => json,
        ("unixTimestamp", Value::String(s)) => !json && s.parse::<f64>().is_ok_and(f64::is_finite),
        ("iso8601", Value::String(s)) => iso8601(s),
        ("rfc822", Value::String(s)) => http_date(s),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{v} is not a {format} timestamp"))
    }
}
