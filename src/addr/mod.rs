//! Addresses: which object a spec block, a state entry, a plan change, a
//! CLI flag or a JSON report is about. One value type, parsed once where an
//! address is written (the spec, a flag, the state file, a journal line)
//! and compared, ordered and printed everywhere else; no other module
//! splits an address string.
//!
//! The string form is `component.NAME["key"].TYPE.NAME["key"]`, with
//! `data.` before the type of a look-up; it round-trips through
//! [`Address::parse`]. Instance keys are strings, always quoted: there is
//! no positional identity, so removing one instance never renames another.

mod address;
mod parse;

pub use address::{Address, Mode, Step, rank_types};
pub use parse::AddressError;

/// Whether a string is a valid name for a type, a resource, a variable, an
/// output or a component.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
