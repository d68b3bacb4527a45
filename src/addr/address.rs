//! The address value: cheap to clone (addresses are copied into plans,
//! graphs, journals and maps of every size), compared by its parts.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

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
/// nearly always are): an address is one allocation, and comparing the
/// parts of two reads nothing beyond those two.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Inner {
    components: Vec<Step>,
    mode: Mode,
    type_name: CompactString,
    name: CompactString,
    key: Option<CompactString>,
}

/// The address of a resource or look-up, or of one keyed instance of it.
///
/// Beside its parts it keeps `order`, a word that orders it without
/// reading them (see [`order_of`]): a look-up in a map of 100,000
/// addresses compares some 17 of them, and reading each one's parts is a
/// cache miss; the word sits in the map's own nodes.
#[derive(Clone)]
pub struct Address {
    order: u64,
    inner: Arc<Inner>,
}

/// The type names [`order_of`] ranks, in order, once set.
static TYPE_ORDER: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Sets the type names whose addresses order by rank, for the life of the
/// process (the first call wins; addresses made before it, or of other
/// types, are ordered by their parts).
pub fn rank_types<'a>(names: impl IntoIterator<Item = &'a &'static str>) {
    TYPE_ORDER.get_or_init(|| {
        let mut names: Vec<&'static str> = names.into_iter().copied().collect();
        names.sort_unstable();
        names.dedup();
        names
    });
}

/// A word that orders addresses as their parts do, wherever two words are
/// both non-zero and differ: the mode and the type's rank among the ranked
/// types in the top 16 bits, then the first six bytes of the name
/// (zero-padded, so a name that ends first orders first). Zero, which
/// says nothing, for an address inside a component, or of a type not
/// ranked, or when there are too many types to rank.
fn order_of(components: &[Step], mode: Mode, type_name: &str, name: &str) -> u64 {
    let Some(types) = TYPE_ORDER.get() else {
        return 0;
    };
    if !components.is_empty() || types.len() >= 0x7fff {
        return 0;
    }
    let Ok(rank) = types.binary_search(&type_name) else {
        return 0;
    };
    // Managed before data, as `Mode` orders; never zero.
    let class = match mode {
        Mode::Managed => rank + 1,
        Mode::Data => types.len() + rank + 1,
    } as u64;
    let mut head = [0u8; 8];
    let bytes = name.as_bytes();
    let n = bytes.len().min(6);
    head[2..2 + n].copy_from_slice(&bytes[..n]);
    (class << 48) | u64::from_be_bytes(head)
}

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
        Address {
            order: order_of(&components, mode, &type_name, &name),
            inner: Arc::new(Inner {
                components,
                mode,
                type_name,
                name,
                key,
            }),
        }
    }

    /// The same object's instance `key`.
    pub fn with_key(&self, key: impl Into<String>) -> Address {
        Address::of(
            self.inner.components.clone(),
            self.inner.mode,
            self.inner.type_name.clone(),
            self.inner.name.clone(),
            Some(CompactString::from(key.into())),
        )
    }

    /// The same address inside the component instances `steps`.
    pub fn within(&self, steps: &[Step]) -> Address {
        let mut components = steps.to_vec();
        components.extend(self.inner.components.iter().cloned());
        Address::of(
            components,
            self.inner.mode,
            self.inner.type_name.clone(),
            self.inner.name.clone(),
            self.inner.key.clone(),
        )
    }

    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    pub fn is_data(&self) -> bool {
        self.inner.mode == Mode::Data
    }

    pub fn type_name(&self) -> &str {
        &self.inner.type_name
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The instance key, for one instance of a keyed block.
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }

    /// The component instances the object sits in, outermost first.
    pub fn components(&self) -> &[Step] {
        &self.inner.components
    }

    /// The block this is an instance of: the address without any instance
    /// key, here or in its components.
    pub fn config(&self) -> Address {
        if self.inner.key.is_none() && self.inner.components.iter().all(|s| s.key.is_none()) {
            return self.clone();
        }
        Address::of(
            self.inner
                .components
                .iter()
                .map(|s| Step {
                    name: s.name.clone(),
                    key: None,
                })
                .collect(),
            self.inner.mode,
            self.inner.type_name.clone(),
            self.inner.name.clone(),
            None,
        )
    }

    /// Whether this address names `other` or a set `other` is an instance
    /// of: `TYPE.NAME` selects every `TYPE.NAME["key"]`.
    pub fn selects(&self, other: &Address) -> bool {
        if self == other {
            return true;
        }
        let (a, b) = (&self.inner, &other.inner);
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
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner
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
        self.inner.hash(state)
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.order != other.order && self.order != 0 && other.order != 0 {
            return self.order.cmp(&other.order);
        }
        if Arc::ptr_eq(&self.inner, &other.inner) {
            return Ordering::Equal;
        }
        self.inner.cmp(&other.inner)
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
        for step in &self.inner.components {
            write!(f, "component.{}", step.name)?;
            if let Some(k) = &step.key {
                write_key(f, k)?;
            }
            f.write_str(".")?;
        }
        if self.inner.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.inner.type_name, self.inner.name)?;
        if let Some(k) = &self.inner.key {
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

#[cfg(test)]
mod order_tests {
    use super::*;
    use proptest::prelude::*;

    /// Types the standard registry ranks, and one it does not.
    const TYPES: &[&str] = &[
        "aws_iam_policy",
        "aws_iam_role",
        "null_resource",
        "time_sleep",
        "zz_not_a_type",
    ];

    /// Names that are prefixes of each other, differ past the sixth byte,
    /// hold a NUL or a multi-byte character, or are empty.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c]{0,3}",
            "abcdef[g-h\u{0}]{0,3}",
            "r[0-9]{1,7}",
            "[a-z_é\u{0}]{0,10}",
        ]
    }

    fn address() -> impl Strategy<Value = Address> {
        (
            proptest::collection::vec((name(), proptest::option::of(name())), 0..2),
            any::<bool>(),
            proptest::sample::select(TYPES),
            name(),
            proptest::option::of(name()),
        )
            .prop_map(|(steps, data, t, n, key)| {
                let components = steps
                    .into_iter()
                    .map(|(name, key)| Step { name, key })
                    .collect();
                let mode = if data { Mode::Data } else { Mode::Managed };
                Address::new(components, mode, t, n, key)
            })
    }

    /// The order of the parts, as a derived `Ord` would give it.
    fn parts(a: &Address) -> (Vec<Step>, Mode, &str, &str, Option<&str>) {
        (
            a.components().to_vec(),
            a.mode(),
            a.type_name(),
            a.name(),
            a.key(),
        )
    }

    proptest! {
        #[test]
        fn addresses_order_by_their_parts(a in address(), b in address()) {
            crate::registry::Registry::standard();
            prop_assert_eq!(a.cmp(&b), parts(&a).cmp(&parts(&b)));
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
        }
    }

    #[test]
    fn ranked_addresses_order_without_their_parts_and_others_by_them() {
        crate::registry::Registry::standard();
        let ranked = Address::resource("null_resource", "r12345");
        assert_ne!(ranked.order, 0);
        assert_eq!(Address::resource("zz_not_a_type", "r1").order, 0);
        assert_eq!(
            ranked
                .within(&[Step {
                    name: "c".into(),
                    key: None
                }])
                .order,
            0,
            "inside a component"
        );
        let data = Address::data("null_resource", "a");
        assert!(ranked < data, "managed before data, as `Mode` orders");
    }
}
