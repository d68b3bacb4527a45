//! Resource types declared once.
//!
//! A type lists its attributes in one [`declare!`](crate::declare) block:
//! the typed inputs the provider works with, the typed outputs it returns
//! and the schema the engine checks specs against all come from it. The
//! type then implements [`Declared`]: which output identifies the object,
//! how to fetch it, create it, find it again after a lost answer, change
//! each group of attributes in place, and delete it. [`Adapter`] makes that
//! a [`Resource`]:
//! - `read` and `import` are fetches by the recorded or the given ID;
//! - inputs are decoded into the typed struct once, before the provider
//!   sees them, and typed outputs become the engine's [`Map`] here, and
//!   nowhere else;
//! - an update calls the groups whose attributes changed, in declaration
//!   order, and when one fails after others succeeded, the error carries
//!   what was done, so the record keeps it and the next plan retries only
//!   the rest.
//!
//! A provider registers its types in one list of [`TypeEntry`]s
//! ([`Types`]), from which both its schemas and its resources come; its
//! unit test runs [`Types::check`], which holds every declaration to its
//! schema.

mod macros;
mod types;

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::attrs::{str_of, typed};
use crate::compare;
use crate::current::Current;
use crate::error::ProviderError;
use crate::resource::{OpContext, PlanAdvice, Resource};
use crate::schema::{AttrType, Schema};
use crate::value::{Map, Value};

pub use macros::{attr, field_name};
pub use types::{TypeEntry, Types, check_block};

/// What [`declare!`](crate::declare) generates for an input struct: the
/// type's name and its schema.
pub trait Declaration: DeserializeOwned + Send + Sync {
    const TYPE_NAME: &'static str;
    fn schema() -> Schema;
}

/// What [`declare!`](crate::declare) generates for an outputs struct: one
/// field per computed attribute the provider reports, and the one
/// conversion into the engine's [`Map`].
///
/// A plain [`Map`] also serves, for a type whose declaration lists its
/// outputs only as schema attributes; its fields are then not checked.
pub trait DeclaredOutputs: DeserializeOwned + Send + Sync + 'static {
    /// The attribute each field is, in order; `None` for a [`Map`].
    fn fields() -> Option<Vec<&'static str>>;

    /// The outputs as attributes; a field that is `None` is left out.
    fn into_map(self) -> Map;

    /// The outputs a record holds, for an update that changes some of
    /// them and keeps the rest.
    fn recorded(outputs: &Map) -> Result<Self, ProviderError> {
        typed(outputs)
    }
}

impl DeclaredOutputs for Map {
    fn fields() -> Option<Vec<&'static str>> {
        None
    }

    fn into_map(self) -> Map {
        self
    }
}

/// A field of a declared outputs struct as an attribute value. `None`
/// leaves the attribute out: an API answer that lacked it is never
/// recorded as `""` or `null`.
pub trait OutputValue {
    fn into_value(self) -> Option<Value>;
}

impl OutputValue for String {
    fn into_value(self) -> Option<Value> {
        Some(Value::String(self))
    }
}

impl OutputValue for bool {
    fn into_value(self) -> Option<Value> {
        Some(Value::Bool(self))
    }
}

impl OutputValue for i64 {
    fn into_value(self) -> Option<Value> {
        Some(Value::Int(self))
    }
}

impl OutputValue for Value {
    fn into_value(self) -> Option<Value> {
        (!self.is_null()).then_some(self)
    }
}

impl<T: OutputValue> OutputValue for Option<T> {
    fn into_value(self) -> Option<Value> {
        self.and_then(OutputValue::into_value)
    }
}

impl<T: OutputValue> OutputValue for Vec<T> {
    fn into_value(self) -> Option<Value> {
        Some(Value::List(
            self.into_iter()
                .filter_map(OutputValue::into_value)
                .collect(),
        ))
    }
}

/// A table of outputs; an entry without a value is left out.
fn table_value<T: OutputValue>(entries: impl IntoIterator<Item = (String, T)>) -> Option<Value> {
    Some(Value::Map(
        entries
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.into_value()?)))
            .collect(),
    ))
}

impl<T: OutputValue> OutputValue for BTreeMap<String, T> {
    fn into_value(self) -> Option<Value> {
        table_value(self)
    }
}

impl<T: OutputValue> OutputValue for crate::SortedMap<T> {
    fn into_value(self) -> Option<Value> {
        table_value(self)
    }
}

/// Typed inputs, with the map they were decoded from (for partial results,
/// which record inputs as the engine gave them).
pub struct Inputs<'a, T> {
    value: T,
    raw: &'a Map,
}

impl<'a, T: DeserializeOwned> Inputs<'a, T> {
    pub fn decode(raw: &'a Map) -> Result<Self, ProviderError> {
        Ok(Inputs {
            value: typed(raw)?,
            raw,
        })
    }
}

impl<T> Inputs<'_, T> {
    /// The inputs as the engine passed them.
    pub fn raw(&self) -> &Map {
        self.raw
    }

    /// What exists after a create that stopped half-way: these inputs and
    /// the outputs known so far, for [`ProviderError::with_partial`].
    pub fn partial(&self, outputs: impl DeclaredOutputs) -> Current {
        Current::new(self.raw.clone(), outputs.into_map())
    }
}

impl<T> Deref for Inputs<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A group of attributes one call changes in place: the group (a variant
/// of the type's own enum, which [`Declared::update`] matches on) and its
/// attributes.
pub type UpdateGroup<G> = (G, &'static [&'static str]);

/// The update groups of a type that changes nothing in place: every
/// settable attribute forces a replacement.
#[derive(Clone, Copy, Debug)]
pub enum NoUpdates {}

/// A resource type declared once; [`Adapter`] makes it a [`Resource`].
#[async_trait]
pub trait Declared: Send + Sync + Sized + 'static {
    /// The inputs, from a [`declare!`](crate::declare) block.
    type Inputs: Declaration;
    /// The outputs, from the same block's `outputs`.
    type Outputs: DeclaredOutputs;
    /// What every resource of the provider shares (its API clients).
    type Client: Send + Sync + ?Sized + 'static;
    /// The groups of attributes changed in place: an enum of the type's
    /// own, so that [`update`](Self::update) matches every group by name
    /// and the compiler sees one left out ([`NoUpdates`] when there are
    /// none).
    type Group: Copy + std::fmt::Debug + Send + Sync + 'static;

    /// The output attribute the object is known by: what `fetch`, `update`
    /// and `delete` are given.
    const ID: &'static str = "id";

    /// The attributes changed in place, in groups, each group by one
    /// [`update`](Self::update) call, in this order. Every settable
    /// attribute that is not `force_new` belongs to exactly one group.
    const UPDATES: &'static [UpdateGroup<Self::Group>] = &[];

    fn new(client: Arc<Self::Client>) -> Self;

    /// Reads the object known by `id`. `prior` holds the recorded inputs
    /// (empty on import), to shape the answer like the spec: an optional
    /// attribute the user left out stays out. `Ok(None)` only when the
    /// object is really gone.
    async fn fetch(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<Self::Outputs>>, ProviderError>;

    /// Reads the object as recorded: by default a `fetch` by the recorded
    /// ID with the recorded inputs. A type whose read needs what only the
    /// record holds (a key shown once at creation, a saved content hash)
    /// reads it from `prior.outputs` here.
    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<Option<Current<Self::Outputs>>, ProviderError> {
        self.fetch(ctx, id, &prior.inputs).await
    }

    /// The ID `fetch` takes, from what `meshmon import` was given (an ARN
    /// from a name, say). The same by default.
    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(id.to_string())
    }

    /// Creates the object; returns the outputs. See [`Resource::create`].
    async fn create(
        &self,
        ctx: &OpContext,
        inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Self::Outputs, ProviderError>;

    /// Finds what a create with these inputs made although its answer was
    /// lost. See [`Resource::recover`].
    async fn recover(
        &self,
        ctx: &OpContext,
        inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Option<Self::Outputs>, ProviderError>;

    /// Changes one group of [`UPDATES`](Self::UPDATES) in place. `prior`
    /// is the record before the update. Returns the outputs after the
    /// change when the call tells them; a field left `None` keeps what was
    /// recorded.
    async fn update(
        &self,
        _ctx: &OpContext,
        group: Self::Group,
        _id: &str,
        _prior: &Current,
        _inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Option<Self::Outputs>, ProviderError> {
        Err(ProviderError::new(format!(
            "{}: no in-place update for {group:?}",
            Self::Inputs::TYPE_NAME
        )))
    }

    /// Deletes the object known by `id` and waits until it is gone.
    async fn delete(&self, ctx: &OpContext, id: &str, prior: &Current)
    -> Result<(), ProviderError>;

    /// Advice for the plan; see [`Resource::advise`].
    fn advise(&self, _prior: Option<&Current>, _desired: &Map) -> PlanAdvice {
        PlanAdvice::default()
    }

    /// Whether [`look_ahead`](Self::look_ahead) is implemented; see
    /// [`Resource::looks_ahead`].
    const LOOKS_AHEAD: bool = false;

    /// Notes for the plan of a create, from the cloud; see
    /// [`Resource::look_ahead`].
    async fn look_ahead(
        &self,
        _ctx: &OpContext,
        _inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }
}

/// A [`Declared`] type as a [`Resource`].
pub struct Adapter<T>(pub T);

impl<T: Declared> Adapter<T> {
    fn id(prior: &Current) -> Result<&str, ProviderError> {
        str_of(&prior.outputs, T::ID)
    }
}

/// A fetched object with its outputs as the engine records them.
fn recorded<O: DeclaredOutputs>(found: Option<Current<O>>) -> Option<Current> {
    found.map(|c| c.map_outputs(O::into_map))
}

#[async_trait]
impl<T: Declared> Resource for Adapter<T> {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let outputs = self.0.create(ctx, &Inputs::decode(inputs)?).await?;
        Ok(outputs.into_map())
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        Ok(recorded(self.0.read(ctx, Self::id(prior)?, prior).await?))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = Self::id(prior)?;
        let typed = Inputs::decode(inputs)?;
        let schema = T::Inputs::schema();
        let mut done = prior.clone();
        let mut any_done = false;
        for (group, attributes) in T::UPDATES {
            if !attributes
                .iter()
                .any(|a| changed(&schema, &prior.inputs, inputs, a))
            {
                continue;
            }
            match self.0.update(ctx, *group, id, prior, &typed).await {
                Ok(outputs) => {
                    for a in *attributes {
                        match inputs.get(*a) {
                            Some(v) => done.inputs.insert(a.to_string(), v.clone()),
                            None => done.inputs.remove(*a),
                        };
                    }
                    if let Some(outputs) = outputs {
                        done.outputs.extend(outputs.into_map());
                    }
                    any_done = true;
                }
                // What the groups before this one changed stays changed:
                // the engine records it, and the next plan shows the rest.
                Err(e) if any_done && e.partial.is_none() => return Err(e.with_partial(done)),
                Err(e) => return Err(e),
            }
        }
        Ok(done.outputs)
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        self.0.delete(ctx, Self::id(prior)?, prior).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let found = self.0.recover(ctx, &Inputs::decode(inputs)?).await?;
        Ok(found.map(DeclaredOutputs::into_map))
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let id = self.0.import_id(ctx, id).await?;
        Ok(recorded(self.0.fetch(ctx, &id, &Map::new()).await?))
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        self.0.advise(prior, desired)
    }

    fn looks_ahead(&self) -> bool {
        T::LOOKS_AHEAD
    }

    async fn look_ahead(
        &self,
        ctx: &OpContext,
        desired: &Map,
    ) -> Result<Vec<String>, ProviderError> {
        self.0.look_ahead(ctx, &Inputs::decode(desired)?).await
    }
}

/// Whether attribute `name` differs between two input maps, the way the
/// plan compares it (JSON and YAML as data, `""` as unset).
fn changed(schema: &Schema, prior: &Map, inputs: &Map, name: &str) -> bool {
    let ty = schema.get(name).map_or(AttrType::Any, |a| a.ty.clone());
    !compare::equal(
        &ty,
        prior.get(name).unwrap_or(&Value::Null),
        inputs.get(name).unwrap_or(&Value::Null),
    )
}

#[cfg(test)]
mod tests;
