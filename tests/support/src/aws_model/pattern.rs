//! The models' `pattern` traits are Java regular expressions, matched as
//! the services' Java validators match them: against the whole value
//! (`Matcher.matches()`; IAM refuses the role name `my role` although
//! `[\w+=,.@-]+` finds a match in it), with ASCII-only `\w`, `\d`, `\s` and
//! POSIX `\p{…}` classes, and a `.` that stops at any line terminator. They
//! are rewritten into the `regex` crate's syntax with those meanings; what
//! the crate cannot express (look-around, back-references, possessive
//! quantifiers, lone surrogates) is left unchecked and counted.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

/// Java line terminators, which `.` does not match.
const LINE_TERMINATORS: &str = r"\n\r\u{85}\u{2028}\u{2029}";

/// A compiled pattern, or `None` when it is unchecked. The first time a
/// pattern cannot be compiled it is added to [`unchecked`].
pub fn compiled(service: &str, shape: &str, pattern: &str) -> Option<Arc<Regex>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<Regex>>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(r) = cache.get(pattern) {
        return r.clone();
    }
    let r = translate(pattern)
        .and_then(|p| Regex::new(&format!(r"\A(?:{p})\z")).map_err(|e| e.to_string()))
        .map(Arc::new);
    let r = match r {
        Ok(r) => Some(r),
        Err(why) => {
            let first = UNCHECKED
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Unchecked {
                    service: service.to_string(),
                    shape: shape.to_string(),
                    pattern: pattern.to_string(),
                    why: first_line(&why),
                });
            if first {
                super::log::line(&format!("unchecked-pattern\t{service}\t{shape}\t{pattern}"));
            }
            None
        }
    };
    cache.insert(pattern.to_string(), r.clone());
    r
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}

/// A pattern the checker met and could not compile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unchecked {
    pub service: String,
    pub shape: String,
    pub pattern: String,
    /// Why it could not be compiled.
    pub why: String,
}

static UNCHECKED: OnceLock<Mutex<BTreeSet<Unchecked>>> = OnceLock::new();

/// Every pattern met so far in this process that is left unchecked.
pub fn unchecked() -> Vec<Unchecked> {
    UNCHECKED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// The ASCII meaning Java gives a class escape, as the inside of a
/// bracketed class; `None` for escapes that are not classes.
fn ascii_class(c: char) -> Option<(&'static str, bool)> {
    Some(match c {
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        's' => (r" \t\n\x0B\f\r", false),
        'S' => (r" \t\n\x0B\f\r", true),
        _ => return None,
    })
}

/// Java's POSIX classes (`\p{Alpha}`), ASCII-only as Java has them.
fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "a-z",
        "Upper" => "A-Z",
        "ASCII" => r"\x00-\x7F",
        "Alpha" => "A-Za-z",
        "Digit" => "0-9",
        "Alnum" => "0-9A-Za-z",
        "Punct" => r"!-/:-@\[-`{-~",
        "Graph" => r"!-~",
        "Print" => r" -~",
        "Blank" => r" \t",
        "Cntrl" => r"\x00-\x1F\x7F",
        "XDigit" => "0-9A-Fa-f",
        "Space" => r" \t\n\x0B\f\r",
        _ => return None,
    })
}

/// Rewrites a Java pattern into the `regex` crate's syntax (see the module
/// docs), or says why it cannot.
pub fn translate(java: &str) -> Result<String, String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::with_capacity(java.len() + 16);
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("a trailing backslash".into());
                };
                i += 2;
                if let Some((inner, negated)) = ascii_class(e) {
                    let neg = if negated { "^" } else { "" };
                    if depth > 0 && !negated {
                        out.push_str(inner);
                    } else {
                        out.push_str(&format!("[{neg}{inner}]"));
                    }
                    continue;
                }
                match e {
                    'p' | 'P' if chars.get(i) == Some(&'{') => {
                        let end = chars[i..]
                            .iter()
                            .position(|&c| c == '}')
                            .ok_or("an unclosed \\p{")?;
                        let name: String = chars[i + 1..i + end].iter().collect();
                        i += end + 1;
                        match posix_class(&name) {
                            Some(inner) => {
                                let neg = if e == 'P' { "^" } else { "" };
                                if depth > 0 && e == 'p' {
                                    out.push_str(inner);
                                } else {
                                    out.push_str(&format!("[{neg}{inner}]"));
                                }
                            }
                            None if name.starts_with("Is")
                                || name.starts_with("In")
                                || name.starts_with("java") =>
                            {
                                return Err(format!("the Java class \\p{{{name}}}"));
                            }
                            None => out.push_str(&format!("\\{e}{{{name}}}")),
                        }
                    }
                    'Q' => {
                        let rest: String = chars[i..].iter().collect();
                        let (quoted, after) = match rest.find("\\E") {
                            Some(n) => (&rest[..n], n + 2),
                            None => (rest.as_str(), rest.len()),
                        };
                        out.push_str(&regex::escape(quoted));
                        i += rest[..after].chars().count();
                    }
                    // Matched against the whole value, `\Z` can only be its end.
                    'Z' => out.push_str(r"\z"),
                    'u' => {
                        let hex: String =
                            chars.get(i..i + 4).ok_or("a short \\u")?.iter().collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        if char::from_u32(code).is_none() {
                            return Err(format!("the surrogate \\u{hex}"));
                        }
                        out.push_str(&format!("\\x{{{hex}}}"));
                        i += 4;
                    }
                    '0'..='9' if e != '0' => return Err("a back-reference".into()),
                    'G' | 'R' | 'X' | 'h' | 'H' | 'v' | 'V' | 'k' => {
                        return Err(format!("\\{e}, which the regex crate lacks"));
                    }
                    // `\<` and `\>` are word boundaries here, the characters in Java.
                    '<' | '>' => out.push(e),
                    // Java, like the regex crate, lets any punctuation be escaped.
                    e => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                continue;
            }
            '[' => {
                depth += 1;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is literal in
                // Java as well as here; copy it so it does not close.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(']');
            }
            // `--` and `~~` are set operations inside a class here, literal
            // characters in Java.
            '-' | '~' if depth > 0 && chars.get(i + 1) == Some(&c) => {
                out.push('\\');
                out.push(c);
            }
            '.' if depth == 0 => out.push_str(&format!("[^{LINE_TERMINATORS}]")),
            '+' | '*' | '?' | '}' if depth == 0 && chars.get(i + 1) == Some(&'+') => {
                return Err("a possessive quantifier".into());
            }
            '(' if depth == 0 && chars.get(i + 1) == Some(&'?') => {
                let next = chars.get(i + 2).copied();
                let after = chars.get(i + 3).copied();
                if matches!(next, Some('=') | Some('!') | Some('>'))
                    || (next == Some('<') && matches!(after, Some('=') | Some('!')))
                {
                    return Err("look-around or an atomic group".into());
                }
                out.push('(');
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}
