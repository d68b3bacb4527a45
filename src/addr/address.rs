//! The address value: cheap to clone (addresses are copied into plans,
//! graphs, journals and maps of every size), compared by its parts.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use compact_str::CompactString;

/// A managed resource, or a look-up that only reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Managed,
    Data,
}

/// One component call on the way to an object: `component.NAME["key"]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step {
    pub name: String,
    pub key: Option<String>,
}

/// Type, name and key are kept inline when short (up to 24 bytes, as they
/// nearly always are): comparing two addresses, which every map keyed by
/// address does a dozen times a look-up, then reads no memory beyond the
/// two addresses themselves.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Inner {
    components: Vec<Step>,
    mode: Mode,
    type_name: CompactString,
    name: CompactString,
    key: Option<CompactString>,
}

/// The address of a resource or look-up, or of one keyed instance of it.
#[derive(Clone)]
pub struct Address(Arc<Inner>);

impl Address {
    /// `TYPE.NAME`: a managed resource outside any component.
    pub fn resource(type_name: impl Into<String>, name: impl Into<String>) -> Address {
        Address::new(Vec::new(), Mode::Managed, type_name, name, None)
    }

    /// `data.TYPE.NAME`: a look-up outside any component.
    pub fn data(type_name: impl Into<String>, name: impl Into<String>) -> Address {
        Address::new(Vec::new(), Mode::Data, type_name, name, None)
    }

    pub(super) fn new(
        components: Vec<Step>,
        mode: Mode,
        type_name: impl Into<String>,
        name: impl Into<String>,
        key: Option<String>,
    ) -> Address {
        Address::of(
            components,
            mode,
            CompactString::from(type_name.into()),
            CompactString::from(name.into()),
            key.map(CompactString::from),
        )
    }

    fn of(
        components: Vec<Step>,
        mode: Mode,
        type_name: CompactString,
        name: CompactString,
        key: Option<CompactString>,
    ) -> Address {
        Address(Arc::new(Inner {
            components,
            mode,
            type_name,
            name,
            key,
        }))
    }

    /// The same object's instance `key`.
    pub fn with_key(&self, key: impl Into<String>) -> Address {
        Address::of(
            self.0.components.clone(),
            self.0.mode,
            self.0.type_name.clone(),
            self.0.name.clone(),
            Some(CompactString::from(key.into())),
        )
    }

    /// The same address inside the component instances `steps`.
    pub fn within(&self, steps: &[Step]) -> Address {
        let mut components = steps.to_vec();
        components.extend(self.0.components.iter().cloned());
        Address::of(
            components,
            self.0.mode,
            self.0.type_name.clone(),
            self.0.name.clone(),
            self.0.key.clone(),
        )
    }

    pub fn mode(&self) -> Mode {
        self.0.mode
    }

    pub fn is_data(&self) -> bool {
        self.0.mode == Mode::Data
    }

    pub fn type_name(&self) -> &str {
        &self.0.type_name
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The instance key, for one instance of a keyed block.
    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// The component instances the object sits in, outermost first.
    pub fn components(&self) -> &[Step] {
        &self.0.components
    }

    /// The block this is an instance of: the address without any instance
    /// key, here or in its components.
    pub fn config(&self) -> Address {
        if self.0.key.is_none() && self.0.components.iter().all(|s| s.key.is_none()) {
            return self.clone();
        }
        Address::of(
            self.0
                .components
                .iter()
                .map(|s| Step {
                    name: s.name.clone(),
                    key: None,
                })
                .collect(),
            self.0.mode,
            self.0.type_name.clone(),
            self.0.name.clone(),
            None,
        )
    }

    /// Whether this address names `other` or a set `other` is an instance
    /// of: `TYPE.NAME` selects every `TYPE.NAME["key"]`.
    pub fn selects(&self, other: &Address) -> bool {
        if self == other {
            return true;
        }
        let (a, b) = (&self.0, &other.0);
        a.mode == b.mode
            && a.type_name == b.type_name
            && a.name == b.name
            && (a.key.is_none() || a.key == b.key)
            && a.components.len() == b.components.len()
            && a.components
                .iter()
                .zip(&b.components)
                .all(|(x, y)| x.name == y.name && (x.key.is_none() || x.key == y.key))
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Address {}

/// Addresses written as text in tests.
#[cfg(test)]
impl From<&str> for Address {
    fn from(text: &str) -> Self {
        Address::parse(text).expect("a valid address")
    }
}

/// An address equals the text of its string form.
impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        Address::parse(other).is_ok_and(|a| a == *self)
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

/// Writes an instance key as the spec writes it: `["key"]`.
pub(super) fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    f.write_str("[")?;
    f.write_str(&serde_json::to_string(key).map_err(|_| fmt::Error)?)?;
    f.write_str("]")
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.0.components {
            write!(f, "component.{}", step.name)?;
            if let Some(k) = &step.key {
                write_key(f, k)?;
            }
            f.write_str(".")?;
        }
        if self.0.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.0.type_name, self.0.name)?;
        if let Some(k) = &self.0.key {
            write_key(f, k)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        Address::parse(&text).map_err(|e| {
            serde::de::Error::custom(format_args!(
                "`{}` is not an address: {e}",
                crate::diag::printable(&text)
            ))
        })
    }
}
