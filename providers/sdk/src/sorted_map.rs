//! A map from names to values kept as one sorted vector.
//!
//! Attribute tables are small (a resource's inputs, a record's outputs, a
//! tag set: a handful of names) and there are hundreds of thousands of them
//! in a large state. A `BTreeMap` gives each one a node of eleven slots
//! (about 600 bytes for two values); a sorted vector holds exactly its
//! entries, is read by binary search and keeps the name order every output
//! relies on. The storage and its algorithms are `litemap`'s (ICU4X); this
//! type adds the few conveniences the code base reads maps through and
//! prints like a map.

use std::fmt;
use std::ops::{Deref, DerefMut, Index};

use litemap::LiteMap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Up to this many entries a map's storage is exactly its entries.
const EXACT_UP_TO: usize = 8;

/// Entries sorted by key (stably: one pass when they come sorted), or the
/// first key given twice: how a table read from a file is checked before
/// it is built, whatever map it is built into.
pub fn sorted_unique<K: Ord, V>(mut entries: Vec<(K, V)>) -> Result<Vec<(K, V)>, K> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    match entries.windows(2).position(|w| w[0].0 == w[1].0) {
        Some(i) => Err(entries.swap_remove(i).0),
        None => Ok(entries),
    }
}

/// Names to values, in name order.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortedMap<V>(LiteMap<String, V>);

/// A key given twice to [`SortedMap::from_unique`].
#[derive(Debug, PartialEq, Eq)]
pub struct DuplicateKey(pub String);

impl<V> SortedMap<V> {
    pub const fn new() -> Self {
        SortedMap(LiteMap::new_vec())
    }

    /// A map from entries in any order, refusing a key given twice
    /// (sorting once: reading a table of n keys costs n log n, whatever
    /// order they come in).
    pub fn from_unique(entries: Vec<(String, V)>) -> Result<Self, DuplicateKey> {
        let entries = sorted_unique(entries).map_err(DuplicateKey)?;
        let mut m = SortedMap(LiteMap::from_sorted_store_unchecked(entries));
        m.fit();
        Ok(m)
    }

    /// Inserts `value` at `key`, returning what was there. A map of a few
    /// entries grows one slot at a time: the vector's usual growth (to
    /// four, then doubling) would leave most of a small table's slots
    /// empty, and most tables are small.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        if self.0.len() < EXACT_UP_TO {
            self.edit(|v| {
                if v.len() == v.capacity() {
                    v.reserve_exact(1);
                }
            });
        }
        self.0.insert(key, value)
    }

    /// Changes the entries' vector in place; `f` must keep them sorted
    /// and unique.
    fn edit(&mut self, f: impl FnOnce(&mut Vec<(String, V)>)) {
        let mut v = std::mem::take(&mut self.0).into_tuple_vec();
        f(&mut v);
        self.0 = LiteMap::from_sorted_store_unchecked(v);
    }

    /// Gives back the vector's slots beyond a small map's entries.
    fn fit(&mut self) {
        if self.0.len() <= EXACT_UP_TO {
            self.edit(Vec::shrink_to_fit);
        }
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap::new()
    }
}

impl<V> Deref for SortedMap<V> {
    type Target = LiteMap<String, V>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<V> DerefMut for SortedMap<V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<V> Index<&str> for SortedMap<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        self.0.get(key).expect("no entry found for key")
    }
}

impl<V: fmt::Debug> fmt::Debug for SortedMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<V: Serialize> Serialize for SortedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A table with the same key twice is an error, not "the last one wins": a
/// hand-edited state or var file must not silently lose one of two values.
impl<'de, V: Deserialize<'de>> Deserialize<'de> for SortedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = SortedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                SortedMap::from_unique(out).map_err(|twice| {
                    serde::de::Error::custom(format_args!(
                        "the key {:?} appears twice in one table",
                        twice.0
                    ))
                })
            }
        }

        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// The last of equal keys wins, as for `BTreeMap`.
impl<V> FromIterator<(String, V)> for SortedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut m = SortedMap(iter.into_iter().collect());
        m.fit();
        m
    }
}

impl<V> Extend<(String, V)> for SortedMap<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, iter: I) {
        self.0.extend(iter);
        self.fit();
    }
}

impl<V, const N: usize> From<[(String, V); N]> for SortedMap<V> {
    fn from(entries: [(String, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V> IntoIterator for SortedMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_tuple_vec().into_iter()
    }
}

impl<'a, V> IntoIterator for &'a SortedMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = <&'a LiteMap<String, V> as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, V> IntoIterator for &'a mut SortedMap<V> {
    type Item = (&'a String, &'a mut V);
    type IntoIter = <&'a mut LiteMap<String, V> as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_name_order_and_the_last_of_equal_keys() {
        let m: SortedMap<i32> = [("b", 1), ("a", 2), ("b", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m["b"], 3);
        assert_eq!(format!("{m:?}"), r#"{"a": 2, "b": 3}"#);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":2,"b":3}"#);
    }

    #[test]
    fn inserting_keeps_order_and_replaces() {
        let mut m = SortedMap::new();
        for k in ["m", "c", "x", "c"] {
            m.insert(k.to_string(), k.len());
        }
        assert_eq!(m.keys().collect::<Vec<_>>(), ["c", "m", "x"]);
        assert_eq!(m.remove("m"), Some(1));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn a_small_map_holds_exactly_its_entries() {
        let mut m = SortedMap::new();
        m.insert("b".to_string(), 1);
        m.insert("a".to_string(), 2);
        assert_eq!(std::mem::take(&mut m.0).into_tuple_vec().capacity(), 2);
        let collected: SortedMap<i32> = vec![("x".to_string(), 1), ("y".to_string(), 2)]
            .into_iter()
            .collect();
        assert_eq!(collected.0.into_tuple_vec().capacity(), 2);
    }

    #[test]
    fn from_unique_refuses_a_key_given_twice() {
        let ok = SortedMap::from_unique(vec![("z".into(), 1), ("a".into(), 2)]).unwrap();
        assert_eq!(ok.keys().collect::<Vec<_>>(), ["a", "z"]);
        let twice = SortedMap::from_unique(vec![("k".into(), 1), ("a".into(), 2), ("k".into(), 3)]);
        assert_eq!(twice, Err(DuplicateKey("k".into())));
    }
}
