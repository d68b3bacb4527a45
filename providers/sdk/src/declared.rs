//! Resource types declared once.
//!
//! A type lists its attributes in one [`declare!`](crate::declare) block:
//! the typed inputs the provider works with and the schema the engine checks
//! specs against both come from it. The type then implements [`Declared`]:
//! which output identifies the object, how to fetch it, create it, find it
//! again after a lost answer, change each group of attributes in place, and
//! delete it. [`Adapter`] makes that a [`Resource`]:
//! - `read` and `import` are fetches by the recorded or the given ID;
//! - inputs are decoded into the typed struct once, before the provider
//!   sees them;
//! - an update calls the groups whose attributes changed, in declaration
//!   order, and when one fails after others succeeded, the error carries
//!   what was done, so the record keeps it and the next plan retries only
//!   the rest.
//!
//! A provider registers its types in one list of [`TypeEntry`]s
//! ([`Types`]), from which both its schemas and its resources come.

use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::attrs::{str_of, typed};
use crate::compare;
use crate::current::Current;
use crate::error::ProviderError;
use crate::resource::{OpContext, PlanAdvice, Resource};
use crate::schema::{AttrType, Attribute, Schema};
use crate::value::{Map, Value};

/// What [`declare!`](crate::declare) generates for an input struct: the
/// type's name and its schema.
pub trait Declaration: DeserializeOwned + Send + Sync {
    const TYPE_NAME: &'static str;
    fn schema() -> Schema;
}

/// The attribute constructors a `declare!` block names, each taking the
/// attribute's name first.
pub mod attr {
    pub use crate::schema::AttrType;
    use crate::schema::Attribute;

    /// An attribute the user must set.
    pub fn required(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::required(name, ty)
    }

    /// An attribute the user may set.
    pub fn optional(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::optional(name, ty)
    }

    /// An attribute only the provider sets.
    pub fn computed(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::computed(name, ty)
    }
}

/// An attribute's name from its field's (`r#type` is `type`).
pub fn field_name(field: &'static str) -> &'static str {
    field.strip_prefix("r#").unwrap_or(field)
}

/// Declares a resource type's inputs and schema at once:
///
/// ```
/// use meshmon_provider_sdk::declare;
///
/// declare! {
///     /// What a topic is made from.
///     pub struct TopicIn for "example_topic" ("A topic.") {
///         name: String = required(AttrType::String).force_new();
///         display_name: Option<String> = optional(AttrType::String)
///             .describe("Changed in place.");
///     }
///     outputs {
///         id = computed(AttrType::String).describe("The topic's ID.");
///     }
/// }
/// ```
///
/// Each input is a field of the struct and an attribute of the schema, in
/// order; `outputs` are computed attributes only. An attribute is made by a
/// constructor that takes its name first (`required`, `optional`,
/// `computed`, or any function in scope with that shape) and the builder
/// calls that follow. Field attributes (`#[serde(default)]`) pass through.
#[macro_export]
macro_rules! declare {
    (
        $(#[$meta:meta])*
        $vis:vis struct $inputs:ident for $type_name:literal ($description:expr) {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $fty:ty = $ctor:ident ( $($carg:expr),* $(,)? )
                    $( . $m:ident ( $($marg:expr),* $(,)? ) )* ;
            )*
        }
        $( outputs {
            $(
                $out:ident = $octor:ident ( $($oarg:expr),* $(,)? )
                    $( . $om:ident ( $($omarg:expr),* $(,)? ) )* ;
            )*
        } )?
    ) => {
        $(#[$meta])*
        #[derive(::serde::Deserialize)]
        $vis struct $inputs {
            $( $(#[$fmeta])* pub $field: $fty, )*
        }

        impl $crate::declared::Declaration for $inputs {
            const TYPE_NAME: &'static str = $type_name;

            fn schema() -> $crate::Schema {
                #[allow(unused_imports)]
                use $crate::declared::attr::*;
                $crate::Schema::new($type_name, $description)
                    $(
                        .attr(
                            $ctor($crate::declared::field_name(stringify!($field)), $($carg),*)
                                $( .$m($($marg),*) )*
                        )
                    )*
                    $($(
                        .attr(
                            $octor($crate::declared::field_name(stringify!($out)), $($oarg),*)
                                $( .$om($($omarg),*) )*
                        )
                    )*)?
            }
        }
    };
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
    ) -> Result<Option<Current>, ProviderError>;

    /// Reads the object as recorded: by default a `fetch` by the recorded
    /// ID with the recorded inputs. A type whose read needs what only the
    /// record holds (a key shown once at creation, a saved content hash)
    /// reads it from `prior.outputs` here.
    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
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
    ) -> Result<Map, ProviderError>;

    /// Finds what a create with these inputs made although its answer was
    /// lost. See [`Resource::recover`].
    async fn recover(
        &self,
        ctx: &OpContext,
        inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Option<Map>, ProviderError>;

    /// Changes one group of [`UPDATES`](Self::UPDATES) in place. `prior`
    /// is the record before the update. Returns outputs that changed, if
    /// any.
    async fn update(
        &self,
        _ctx: &OpContext,
        group: Self::Group,
        _id: &str,
        _prior: &Current,
        _inputs: &Inputs<'_, Self::Inputs>,
    ) -> Result<Option<Map>, ProviderError> {
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
}

/// A [`Declared`] type as a [`Resource`].
pub struct Adapter<T>(pub T);

impl<T: Declared> Adapter<T> {
    fn id(prior: &Current) -> Result<&str, ProviderError> {
        str_of(&prior.outputs, T::ID)
    }
}

#[async_trait]
impl<T: Declared> Resource for Adapter<T> {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        self.0.create(ctx, &Inputs::decode(inputs)?).await
    }

    async fn read(
        &self,
        ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.0.read(ctx, Self::id(prior)?, prior).await
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
                    done.outputs.extend(outputs.unwrap_or_default());
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
        self.0.recover(ctx, &Inputs::decode(inputs)?).await
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let id = self.0.import_id(ctx, id).await?;
        self.0.fetch(ctx, &id, &Map::new()).await
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        self.0.advise(prior, desired)
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

/// One resource type a provider offers: its name, its schema, and how to
/// make it from the provider's clients.
pub struct TypeEntry<C: ?Sized> {
    pub type_name: &'static str,
    pub schema: fn() -> Schema,
    make: fn(&Arc<C>) -> Arc<dyn Resource>,
    check: Option<fn() -> Result<(), String>>,
}

impl<C: Send + Sync + ?Sized + 'static> TypeEntry<C> {
    /// A [`Declared`] type.
    pub fn declared<T: Declared<Client = C>>() -> Self {
        TypeEntry {
            type_name: T::Inputs::TYPE_NAME,
            schema: T::Inputs::schema,
            make: |c| Arc::new(Adapter(T::new(c.clone()))),
            check: Some(check_declared::<T>),
        }
    }

    /// A type that implements [`Resource`] itself.
    pub fn custom(
        type_name: &'static str,
        schema: fn() -> Schema,
        make: fn(&Arc<C>) -> Arc<dyn Resource>,
    ) -> Self {
        TypeEntry {
            type_name,
            schema,
            make,
            check: None,
        }
    }
}

/// A provider's resource types: the one list its schemas and its
/// resources both come from.
pub struct Types<C: ?Sized>(pub Vec<TypeEntry<C>>);

impl<C: Send + Sync + ?Sized + 'static> Types<C> {
    pub fn schemas(&self) -> Vec<Schema> {
        self.0.iter().map(|t| (t.schema)()).collect()
    }

    /// The resource type `type_name`, made from `client`.
    pub fn resource(&self, type_name: &str, client: &Arc<C>) -> Option<Arc<dyn Resource>> {
        self.0
            .iter()
            .find(|t| t.type_name == type_name)
            .map(|t| (t.make)(client))
    }

    /// Checks the list and every declaration in it; for a provider's unit
    /// tests. Names are unique and agree with the schemas; a declared
    /// type's inputs decode from its schema's attributes, its ID is an
    /// output, and each attribute it can change in place is in exactly one
    /// update group.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.0 {
            if !seen.insert(t.type_name) {
                return Err(format!("{} is registered twice", t.type_name));
            }
            let schema = (t.schema)();
            if schema.type_name != t.type_name {
                return Err(format!(
                    "{} is registered with the schema of {}",
                    t.type_name, schema.type_name
                ));
            }
            if let Some(check) = t.check {
                check().map_err(|e| format!("{}: {e}", t.type_name))?;
            }
        }
        Ok(())
    }
}

/// A value of type `ty`, for [`check_declared`]'s decoding test; `None`
/// for a table or a free-form value, whose shape the schema leaves open
/// (the type may decode it into a struct of its own).
fn sample(ty: &AttrType) -> Option<Value> {
    match ty {
        AttrType::String | AttrType::Yaml => Some(Value::from("x")),
        AttrType::Int => Some(Value::Int(1)),
        AttrType::Float => Some(Value::Float(1.5)),
        AttrType::Bool => Some(Value::Bool(true)),
        AttrType::List(t) => Some(Value::List(sample(t).into_iter().collect())),
        AttrType::Map(_) | AttrType::Json | AttrType::Any => None,
    }
}

fn check_declared<T: Declared>() -> Result<(), String> {
    let schema = T::Inputs::schema();
    let decodes = |keep: &dyn Fn(&Attribute) -> bool| -> Result<(), String> {
        let mut open = Vec::new();
        let mut inputs = Map::new();
        for a in schema.settable().filter(|a| keep(a)) {
            match sample(&a.ty) {
                Some(v) => {
                    inputs.insert(a.name.to_string(), v);
                }
                None => open.push(a.name),
            }
        }
        match typed::<T::Inputs>(&inputs) {
            Ok(_) => Ok(()),
            // A required table left out of the sample: nothing more can
            // be told without knowing its shape.
            Err(e)
                if open
                    .iter()
                    .any(|n| e.message.contains(&format!("missing field `{n}`"))) =>
            {
                Ok(())
            }
            Err(e) => Err(e.message),
        }
    };
    decodes(&|a| a.required).map_err(|e| format!("only the required attributes: {e}"))?;
    decodes(&|_| true).map_err(|e| format!("every attribute: {e}"))?;
    match schema.get(T::ID) {
        Some(a) if a.computed => {}
        _ => return Err(format!("the ID `{}` is not a computed attribute", T::ID)),
    }
    for a in schema.settable().filter(|a| !a.force_new) {
        let groups = T::UPDATES
            .iter()
            .filter(|(_, attrs)| attrs.contains(&a.name))
            .count();
        if groups != 1 {
            return Err(format!(
                "`{}` can change in place but is in {groups} update groups (give it one, or make it force_new)",
                a.name
            ));
        }
    }
    for (group, attrs) in T::UPDATES {
        for name in *attrs {
            match schema.get(name) {
                Some(a) if a.settable && !a.force_new => {}
                _ => {
                    return Err(format!(
                        "update group {group:?} names `{name}`, which is not an attribute changed in place"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    declare! {
        #[allow(dead_code)]
        struct ThingIn for "test_thing" ("A thing.") {
            name: String = required(AttrType::String).force_new();
            size: Option<i64> = optional(AttrType::Int);
            #[serde(default)]
            labels: std::collections::BTreeMap<String, String> =
                optional(AttrType::map_of(AttrType::String)).describe("Labels.");
            r#type: Option<String> = optional(AttrType::String);
        }
        outputs {
            id = computed(AttrType::String);
        }
    }

    /// Calls that reached the thing, and the group that fails.
    #[derive(Default)]
    struct Log {
        calls: Mutex<Vec<String>>,
        failing: Option<Change>,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Change {
        Size,
        Labels,
    }

    struct Thing(Arc<Log>);

    #[async_trait]
    impl Declared for Thing {
        type Inputs = ThingIn;
        type Client = Log;
        type Group = Change;
        const UPDATES: &'static [UpdateGroup<Change>] = &[
            (Change::Size, &["size", "type"]),
            (Change::Labels, &["labels"]),
        ];

        fn new(client: Arc<Log>) -> Self {
            Thing(client)
        }

        async fn fetch(
            &self,
            _: &OpContext,
            id: &str,
            _: &Map,
        ) -> Result<Option<Current>, ProviderError> {
            self.0.calls.lock().unwrap().push(format!("fetch {id}"));
            Ok(None)
        }

        async fn import_id(&self, _: &OpContext, id: &str) -> Result<String, ProviderError> {
            Ok(format!("thing-{id}"))
        }

        async fn create(
            &self,
            _: &OpContext,
            i: &Inputs<'_, ThingIn>,
        ) -> Result<Map, ProviderError> {
            self.0
                .calls
                .lock()
                .unwrap()
                .push(format!("create {}", i.name));
            Ok([("id".to_string(), Value::from("t1"))].into())
        }

        async fn recover(
            &self,
            _: &OpContext,
            _: &Inputs<'_, ThingIn>,
        ) -> Result<Option<Map>, ProviderError> {
            Ok(None)
        }

        async fn update(
            &self,
            _: &OpContext,
            group: Change,
            id: &str,
            _: &Current,
            _: &Inputs<'_, ThingIn>,
        ) -> Result<Option<Map>, ProviderError> {
            let name = match group {
                Change::Size => "size",
                Change::Labels => "labels",
            };
            self.0
                .calls
                .lock()
                .unwrap()
                .push(format!("update {name} {id}"));
            if self.0.failing == Some(group) {
                return Err(ProviderError::new("refused"));
            }
            Ok(Some([(format!("{name}_version"), Value::Int(2))].into()))
        }

        async fn delete(&self, _: &OpContext, id: &str, _: &Current) -> Result<(), ProviderError> {
            self.0.calls.lock().unwrap().push(format!("delete {id}"));
            Ok(())
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn labels(v: &str) -> Value {
        Value::Map(map(&[("team", Value::from(v))]))
    }

    fn thing(log: Log) -> (Arc<Log>, Arc<dyn Resource>) {
        let log = Arc::new(log);
        let types = Types(vec![TypeEntry::declared::<Thing>()]);
        let r = types.resource("test_thing", &log).unwrap();
        (log, r)
    }

    #[test]
    fn the_declaration_gives_the_schema_in_order() {
        let s = ThingIn::schema();
        let names: Vec<_> = s.attributes.iter().map(|a| a.name).collect();
        assert_eq!(names, ["name", "size", "labels", "type", "id"]);
        assert!(s.get("name").unwrap().required && s.get("name").unwrap().force_new);
        assert_eq!(s.get("labels").unwrap().description, "Labels.");
        assert!(s.get("id").unwrap().is_output_only());
        Types(vec![TypeEntry::<Log>::declared::<Thing>()])
            .check()
            .unwrap();
    }

    #[tokio::test]
    async fn read_delete_and_import_go_by_the_id() {
        let (log, r) = thing(Log::default());
        let ctx = OpContext::quiet("test_thing.a");
        let prior = Current::new(map(&[("name", "a".into())]), map(&[("id", "t1".into())]));
        assert!(r.read(&ctx, &prior).await.unwrap().is_none());
        r.delete(&ctx, &prior).await.unwrap();
        assert!(r.import(&ctx, "7").await.unwrap().is_none());
        let out = r.create(&ctx, &map(&[("name", "b".into())])).await.unwrap();
        assert_eq!(out["id"], Value::from("t1"));
        assert_eq!(
            *log.calls.lock().unwrap(),
            ["fetch t1", "delete t1", "fetch thing-7", "create b"]
        );
        let err = r
            .read(&ctx, &Current::new(Map::new(), Map::new()))
            .await
            .unwrap_err();
        assert!(err.message.contains("`id` is not recorded"), "{err}");
    }

    #[tokio::test]
    async fn an_update_calls_only_the_groups_that_changed() {
        let (log, r) = thing(Log::default());
        let ctx = OpContext::quiet("test_thing.a");
        let prior = Current::new(
            map(&[
                ("name", "a".into()),
                ("size", Value::Int(1)),
                ("labels", labels("x")),
            ]),
            map(&[("id", "t1".into())]),
        );
        let want = map(&[
            ("name", "a".into()),
            ("size", Value::Int(1)),
            ("labels", labels("y")),
        ]);
        let out = r.update(&ctx, &prior, &want).await.unwrap();
        assert_eq!(*log.calls.lock().unwrap(), ["update labels t1"]);
        assert_eq!(out["labels_version"], Value::Int(2));
        assert_eq!(out["id"], Value::from("t1"));
    }

    #[tokio::test]
    async fn an_update_that_fails_half_way_returns_what_was_done() {
        let (log, r) = thing(Log {
            failing: Some(Change::Labels),
            ..Log::default()
        });
        let ctx = OpContext::quiet("test_thing.a");
        let prior = Current::new(
            map(&[
                ("name", "a".into()),
                ("size", Value::Int(1)),
                ("labels", labels("x")),
            ]),
            map(&[("id", "t1".into())]),
        );
        let want = map(&[
            ("name", "a".into()),
            ("type", "big".into()),
            ("labels", labels("y")),
        ]);
        let err = r.update(&ctx, &prior, &want).await.unwrap_err();
        assert_eq!(
            *log.calls.lock().unwrap(),
            ["update size t1", "update labels t1"]
        );
        let done = err.partial.expect("what was done");
        assert_eq!(
            done.inputs,
            map(&[
                ("name", "a".into()),
                ("type", "big".into()),
                ("labels", labels("x"))
            ]),
            "size and type changed; labels did not"
        );
        assert_eq!(done.outputs["size_version"], Value::Int(2));

        // When the first group fails, nothing was done: a plain error.
        let (_, r) = thing(Log {
            failing: Some(Change::Size),
            ..Log::default()
        });
        let err = r.update(&ctx, &prior, &want).await.unwrap_err();
        assert!(err.partial.is_none());
    }

    #[test]
    fn a_declaration_that_leaves_an_attribute_without_an_update_is_refused() {
        struct Bad;
        #[async_trait]
        impl Declared for Bad {
            type Inputs = ThingIn;
            type Client = ();
            type Group = Change;
            const UPDATES: &'static [UpdateGroup<Change>] = &[(Change::Size, &["size", "name"])];
            fn new(_: Arc<()>) -> Self {
                Bad
            }
            async fn fetch(
                &self,
                _: &OpContext,
                _: &str,
                _: &Map,
            ) -> Result<Option<Current>, ProviderError> {
                Ok(None)
            }
            async fn create(
                &self,
                _: &OpContext,
                _: &Inputs<'_, ThingIn>,
            ) -> Result<Map, ProviderError> {
                Ok(Map::new())
            }
            async fn recover(
                &self,
                _: &OpContext,
                _: &Inputs<'_, ThingIn>,
            ) -> Result<Option<Map>, ProviderError> {
                Ok(None)
            }
            async fn delete(
                &self,
                _: &OpContext,
                _: &str,
                _: &Current,
            ) -> Result<(), ProviderError> {
                Ok(())
            }
        }
        let err = Types(vec![TypeEntry::<()>::declared::<Bad>()])
            .check()
            .unwrap_err();
        assert!(
            err.contains("`labels` can change in place but is in 0 update groups"),
            "{err}"
        );
    }
}
