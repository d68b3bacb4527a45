//! An in-memory provider for the engine's own tests: `fake_object`s live in
//! a shared map that a test edits to play "someone changed it by hand",
//! reads fail on demand to play an unreachable service, and an update whose
//! labels carry a `fail` key fails half-way. Names are not unique (a second
//! create of `o` makes `o~2`, as a VPC's name would), creates carry their
//! intent's ownership marks for `recover`, and creates and deletes can be
//! made slow (to kill an apply mid-operation) or lose their answers; a read
//! can panic, as a provider with a bug would, and so does the create of a
//! name starting with `crashes`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshmon_provider_sdk::{
    AttrType, Attribute, Configured, Current, Map, OpContext, Provider, ProviderError, Resource,
    Schema, Value, async_trait,
};

/// Tags as key-value pairs.
type Tags = Vec<(String, String)>;

/// The objects "in the cloud", by id, and which ids fail to read.
#[derive(Clone, Default)]
pub struct World {
    pub objects: Arc<Mutex<BTreeMap<String, Map>>>,
    pub failing_reads: Arc<Mutex<Vec<String>>>,
    /// Each object's ownership tags, from its create's intent.
    pub owners: Arc<Mutex<BTreeMap<String, Tags>>>,
    /// The next this many creates take effect and then lose their answer.
    pub lost_answers: Arc<Mutex<usize>>,
    /// How long a create waits after taking effect before it answers.
    pub create_delay: Arc<Mutex<Duration>>,
    /// How long a delete waits before it takes effect.
    pub delete_delay: Arc<Mutex<Duration>>,
    /// Deletes fail while this is set.
    pub failing_deletes: Arc<Mutex<bool>>,
    /// Reads of these ids panic, as a provider with a bug would.
    pub panicking_reads: Arc<Mutex<Vec<String>>>,
}

impl World {
    /// Changes one object's inputs behind meshmon's back.
    pub fn edit(&self, id: &str, f: impl FnOnce(&mut Map)) {
        f(self
            .objects
            .lock()
            .unwrap()
            .get_mut(id)
            .expect("object exists"));
    }

    /// A registry whose only provider keeps its objects in this world.
    pub fn registry(&self) -> Arc<crate::registry::Registry> {
        Arc::new(crate::registry::Registry::new(vec![Arc::new(Fake(
            self.clone(),
        ))]))
    }

    /// How many objects carry the name `name`.
    pub fn count(&self, name: &str) -> usize {
        self.objects
            .lock()
            .unwrap()
            .values()
            .filter(|m| m.get("name").and_then(Value::as_str) == Some(name))
            .count()
    }
}

pub struct Fake(pub World);

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn config_schema(&self) -> Schema {
        Schema::new("fake", "In-memory objects for tests.")
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        vec![
            Schema::new("fake_object", "An object in memory.")
                .attr(Attribute::required("name", AttrType::String).force_new())
                .attr(Attribute::optional(
                    "labels",
                    AttrType::map_of(AttrType::String),
                ))
                .attr(Attribute::optional("note", AttrType::String))
                .attr(Attribute::computed("id", AttrType::String)),
        ]
    }

    async fn configure(&self, _config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        Ok(Arc::new(FakeConfigured(self.0.clone())))
    }
}

struct FakeConfigured(World);

impl Configured for FakeConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        (type_name == "fake_object").then(|| Arc::new(FakeObject(self.0.clone())) as _)
    }
}

struct FakeObject(World);

fn id_of(c: &Current) -> String {
    c.outputs
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[async_trait]
impl Resource for FakeObject {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let name = inputs["name"].as_str().unwrap_or_default().to_string();
        if name.starts_with("crashes") {
            panic!("a bug in the provider while creating {name}");
        }
        let id = {
            let mut objects = self.0.objects.lock().unwrap();
            let mut id = name.clone();
            let mut n = 1;
            while objects.contains_key(&id) {
                n += 1;
                id = format!("{name}~{n}");
            }
            objects.insert(id.clone(), inputs.clone());
            id
        };
        self.0
            .owners
            .lock()
            .unwrap()
            .insert(id.clone(), ctx.ownership_tags());
        let delay = *self.0.create_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        {
            let mut lost = self.0.lost_answers.lock().unwrap();
            if *lost > 0 {
                *lost -= 1;
                return Err(ProviderError::api("fake:Create", None, "connection reset").ambiguous());
            }
        }
        Ok([("id".to_string(), Value::String(id))].into())
    }

    fn looks_ahead(&self) -> bool {
        true
    }

    /// A create's look-ahead sees a name already taken (and says the
    /// environment it was asked for), fails for the name `unreachable`, and
    /// panics for `buggy`.
    async fn look_ahead(
        &self,
        ctx: &OpContext,
        desired: &Map,
    ) -> Result<Vec<String>, ProviderError> {
        let name = desired["name"].as_str().unwrap_or_default();
        match name {
            "unreachable" => Err(ProviderError::api("fake:Look", None, "connection refused")),
            "buggy" => panic!("a bug in the provider's look-ahead"),
            _ if self.0.objects.lock().unwrap().contains_key(name) => Ok(vec![format!(
                "{name} is taken (looked at for lineage {})",
                ctx.lineage().unwrap_or("none")
            )]),
            _ => Ok(Vec::new()),
        }
    }

    async fn recover(&self, ctx: &OpContext, _inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let owners = self.0.owners.lock().unwrap();
        let objects = self.0.objects.lock().unwrap();
        Ok(owners
            .iter()
            .find(|(id, tags)| {
                objects.contains_key(*id)
                    && ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            })
            .map(|(id, _)| [("id".to_string(), Value::String(id.clone()))].into()))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let id = id_of(prior);
        if self.0.panicking_reads.lock().unwrap().contains(&id) {
            panic!("a bug in the provider while reading {id}");
        }
        if self.0.failing_reads.lock().unwrap().contains(&id) {
            return Err(ProviderError::api(
                "fake:Get",
                Some("ServiceUnavailable".into()),
                "try again later",
            ));
        }
        Ok(self.0.objects.lock().unwrap().get(&id).map(|inputs| {
            Current::new(
                inputs.clone(),
                [("id".to_string(), Value::String(id.clone()))].into(),
            )
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = id_of(prior);
        let fails = inputs
            .get("labels")
            .and_then(Value::as_map)
            .is_some_and(|l| l.contains_key("fail"));
        self.0
            .objects
            .lock()
            .unwrap()
            .insert(id.clone(), inputs.clone());
        if fails {
            // Half-done, as a real API can leave an update: everything
            // but the labels changed.
            let mut done = inputs.clone();
            match prior.inputs.get("labels") {
                Some(l) => done.insert("labels".to_string(), l.clone()),
                None => done.remove("labels"),
            };
            return Err(ProviderError::api("fake:Update", None, "failed half-way")
                .with_partial(Current::new(done, prior.outputs.clone())));
        }
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let delay = *self.0.delete_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        if *self.0.failing_deletes.lock().unwrap() {
            return Err(ProviderError::api(
                "fake:Delete",
                Some("DependencyViolation".into()),
                "still in use",
            ));
        }
        self.0.objects.lock().unwrap().remove(&id_of(prior));
        Ok(())
    }

    async fn import(&self, ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let prior = Current::new(Map::new(), [("id".to_string(), Value::from(id))].into());
        self.read(ctx, &prior).await
    }
}

/// An engine for `spec` (loaded as `DIR/meshmon.toml`) over `registry`.
pub fn engine(
    dir: &std::path::Path,
    registry: Arc<crate::registry::Registry>,
    spec: &str,
) -> crate::engine::Engine {
    let (spec, _) = crate::validate::load_text(
        &dir.join("meshmon.toml"),
        spec.to_string(),
        dir,
        &crate::spec::VarInputs::default(),
        &registry,
    )
    .unwrap_or_else(|d| panic!("spec: {d:?}"));
    crate::engine::Engine::new(spec, registry, 4)
}
