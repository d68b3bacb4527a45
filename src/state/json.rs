//! The state's JSON as written: serde_json's, with how deeply it nests
//! counted while it is written, so that nothing is written that serde_json
//! could not read back.

use serde::Serialize;

use super::{State, StateError};

/// Serializes a state, refusing one that could not be loaded again instead
/// of writing it. What serde_json writes it reads back, except a document
/// nested deeper than its recursion limit: that is counted as it is
/// written.
pub fn to_checked_json(state: &State, origin: &str) -> Result<Vec<u8>, StateError> {
    // Room for a typical record up front: the buffer then does not grow
    // by doubling, each step holding the old copy and the new at once (a
    // large allocation's untouched pages take no memory).
    let records = state.resources.len() + state.data.len() + state.deposed.len();
    let mut json = Vec::with_capacity(1024 * (records + 1));
    let unwritable = |message: String| StateError::Unwritable {
        path: origin.to_string(),
        message,
    };
    let depth = write_json(&mut json, state, serde_json::ser::PrettyFormatter::new())
        .map_err(|e| unwritable(e.to_string()))?;
    if depth > MAX_NESTING {
        return Err(unwritable(format!(
            "it could not be read back: its values are nested more than {MAX_NESTING} deep"
        )));
    }
    json.push(b'\n');
    Ok(json)
}

/// How deep serde_json reads nested arrays and objects (its recursion
/// limit of 128, less one for the level that trips it).
pub(crate) const MAX_NESTING: usize = 127;

/// Appends `value` to `out` as JSON written by `formatter`, and returns
/// how deeply its arrays and objects nest.
pub(crate) fn write_json<F: serde_json::ser::Formatter>(
    out: &mut Vec<u8>,
    value: &impl Serialize,
    formatter: F,
) -> Result<usize, serde_json::Error> {
    let mut deepest = 0;
    let nesting = Nesting {
        inner: formatter,
        depth: 0,
        deepest: &mut deepest,
    };
    value.serialize(&mut serde_json::Serializer::with_formatter(out, nesting))?;
    Ok(deepest)
}

/// A serde_json formatter that counts how deeply the arrays and objects it
/// writes nest, and otherwise writes as `inner` does: every method `inner`
/// may define is handed to it.
struct Nesting<'a, F> {
    inner: F,
    depth: usize,
    deepest: &'a mut usize,
}

impl<F> Nesting<'_, F> {
    fn enter(&mut self) {
        self.depth += 1;
        *self.deepest = (*self.deepest).max(self.depth);
    }
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Nesting<'_, F> {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.enter();
        self.inner.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        self.inner.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.enter();
        self.inner.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        self.inner.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_value(w)
    }
}
