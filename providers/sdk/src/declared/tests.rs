use super::*;
use std::sync::Mutex;

use crate::declare;

declare! {
    #[allow(dead_code)]
    struct ThingIn for "test_thing" ("A thing.") {
        name: String = required(AttrType::String).force_new();
        size: Option<i64> = optional(AttrType::Int);
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String> =
            optional(AttrType::map_of(AttrType::String)).describe("Labels.");
        r#type: Option<String> = optional(AttrType::String).and_computed();
    }
    outputs ThingOut {
        id: String = computed(AttrType::String);
        version: Option<i64> = computed(AttrType::Int).describe("Counts the updates.");
        r#type: Option<String>;
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

impl Thing {
    fn log(&self, call: String) {
        self.0.calls.lock().unwrap().push(call);
    }
}

#[async_trait]
impl Declared for Thing {
    type Inputs = ThingIn;
    type Outputs = ThingOut;
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
    ) -> Result<Option<Current<ThingOut>>, ProviderError> {
        self.log(format!("fetch {id}"));
        Ok((id == "thing-8").then(|| {
            let out = ThingOut {
                id: id.into(),
                version: None,
                r#type: Some("small".into()),
            };
            Current::new(map(&[("name", "b".into())]), out)
        }))
    }

    async fn import_id(&self, _: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(format!("thing-{id}"))
    }

    async fn create(
        &self,
        _: &OpContext,
        i: &Inputs<'_, ThingIn>,
    ) -> Result<ThingOut, ProviderError> {
        self.log(format!("create {}", i.name));
        Ok(ThingOut {
            id: "t1".into(),
            version: Some(1),
            r#type: None,
        })
    }

    async fn recover(
        &self,
        _: &OpContext,
        _: &Inputs<'_, ThingIn>,
    ) -> Result<Option<ThingOut>, ProviderError> {
        Ok(None)
    }

    async fn update(
        &self,
        _: &OpContext,
        group: Change,
        id: &str,
        _: &Current,
        _: &Inputs<'_, ThingIn>,
    ) -> Result<Option<ThingOut>, ProviderError> {
        let (name, version) = match group {
            Change::Size => ("size", 2),
            Change::Labels => ("labels", 3),
        };
        self.log(format!("update {name} {id}"));
        if self.0.failing == Some(group) {
            return Err(ProviderError::new("refused"));
        }
        Ok(Some(ThingOut {
            id: id.into(),
            version: Some(version),
            r#type: None,
        }))
    }

    async fn delete(&self, _: &OpContext, id: &str, _: &Current) -> Result<(), ProviderError> {
        self.log(format!("delete {id}"));
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
    assert_eq!(names, ["name", "size", "labels", "type", "id", "version"]);
    assert!(s.get("name").unwrap().required && s.get("name").unwrap().force_new);
    assert_eq!(s.get("labels").unwrap().description, "Labels.");
    assert!(s.get("id").unwrap().is_output_only());
    assert_eq!(s.get("version").unwrap().description, "Counts the updates.");
    assert_eq!(ThingOut::fields().unwrap(), ["id", "version", "type"]);
    Types(vec![TypeEntry::<Log>::declared::<Thing>()])
        .check()
        .unwrap();
}

#[test]
fn outputs_the_provider_lacks_are_left_out_of_the_record() {
    let out = ThingOut {
        id: "t1".into(),
        version: None,
        r#type: Some("big".into()),
    };
    assert_eq!(
        out.clone().into_map(),
        map(&[("id", "t1".into()), ("type", "big".into())])
    );
    assert_eq!(ThingOut::recorded(&out.clone().into_map()).unwrap(), out);
}

#[tokio::test]
async fn read_delete_and_import_go_by_the_id() {
    let (log, r) = thing(Log::default());
    let ctx = OpContext::quiet("test_thing.a");
    let prior = Current::new(map(&[("name", "a".into())]), map(&[("id", "t1".into())]));
    assert!(r.read(&ctx, &prior).await.unwrap().is_none());
    r.delete(&ctx, &prior).await.unwrap();
    assert!(r.import(&ctx, "7").await.unwrap().is_none());
    let imported = r.import(&ctx, "8").await.unwrap().unwrap();
    assert_eq!(
        imported.outputs,
        map(&[("id", "thing-8".into()), ("type", "small".into())])
    );
    let out = r.create(&ctx, &map(&[("name", "b".into())])).await.unwrap();
    assert_eq!(out, map(&[("id", "t1".into()), ("version", Value::Int(1))]));
    assert_eq!(
        *log.calls.lock().unwrap(),
        [
            "fetch t1",
            "delete t1",
            "fetch thing-7",
            "fetch thing-8",
            "create b"
        ]
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
        map(&[("id", "t1".into()), ("type", "small".into())]),
    );
    let want = map(&[
        ("name", "a".into()),
        ("size", Value::Int(1)),
        ("labels", labels("y")),
    ]);
    let out = r.update(&ctx, &prior, &want).await.unwrap();
    assert_eq!(*log.calls.lock().unwrap(), ["update labels t1"]);
    assert_eq!(out["version"], Value::Int(3));
    assert_eq!(out["id"], Value::from("t1"));
    assert_eq!(
        out["type"],
        Value::from("small"),
        "an output the update does not tell stays as recorded"
    );
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
    assert_eq!(done.outputs["version"], Value::Int(2));

    // When the first group fails, nothing was done: a plain error.
    let (_, r) = thing(Log {
        failing: Some(Change::Size),
        ..Log::default()
    });
    let err = r.update(&ctx, &prior, &want).await.unwrap_err();
    assert!(err.partial.is_none());
}

/// A declared type that does nothing, with the given inputs, outputs and
/// update groups: for declarations that `Types::check` must refuse.
macro_rules! shaped {
    ($name:ident, $inputs:ty, $outputs:ty, [$($group:expr),*]) => {
        struct $name;
        #[async_trait]
        impl Declared for $name {
            type Inputs = $inputs;
            type Outputs = $outputs;
            type Client = ();
            type Group = Change;
            const UPDATES: &'static [UpdateGroup<Change>] = &[$($group),*];
            fn new(_: Arc<()>) -> Self {
                $name
            }
            async fn fetch(
                &self,
                _: &OpContext,
                _: &str,
                _: &Map,
            ) -> Result<Option<Current<$outputs>>, ProviderError> {
                Ok(None)
            }
            async fn create(
                &self,
                _: &OpContext,
                _: &Inputs<'_, $inputs>,
            ) -> Result<$outputs, ProviderError> {
                Err(ProviderError::new("not here"))
            }
            async fn recover(
                &self,
                _: &OpContext,
                _: &Inputs<'_, $inputs>,
            ) -> Result<Option<$outputs>, ProviderError> {
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
    };
}

fn refusal<T: Declared<Client = ()>>() -> String {
    Types(vec![TypeEntry::<()>::declared::<T>()])
        .check()
        .unwrap_err()
}

#[test]
fn a_declaration_that_leaves_an_attribute_without_an_update_is_refused() {
    shaped!(Bad, ThingIn, ThingOut, [(Change::Size, &["size", "name"])]);
    let err = refusal::<Bad>();
    assert!(
        err.contains("`labels` can change in place but is in 0 update groups"),
        "{err}"
    );
}

/// `name` is not `nothing`; for the declaration's `checks`.
fn not_nothing(inputs: &Map) -> Result<(), (&'static str, String)> {
    match inputs.get("name").and_then(Value::as_str) {
        Some("nothing") => Err(("name", "names nothing".into())),
        _ => Ok(()),
    }
}

declare! {
    #[allow(dead_code)]
    struct PlainIn for "test_plain" ("A thing with one input.") {
        name: String = required(AttrType::String).force_new();
    }
    checks {
        not_nothing: ["name"];
    }
    outputs PlainOut {
        id: String = computed(AttrType::String);
        url: Option<String> = computed(AttrType::String);
    }
}

/// Outputs of `PlainIn` that add a field no attribute is.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct ExtraOut {
    id: String,
    url: Option<String>,
    size: Option<i64>,
}

impl DeclaredOutputs for ExtraOut {
    fn fields() -> Option<Vec<&'static str>> {
        Some(vec!["id", "url", "size"])
    }
    fn into_map(self) -> Map {
        Map::new()
    }
}

/// Outputs of `PlainIn` that leave its `url` out.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct ShortOut {
    id: String,
}

impl DeclaredOutputs for ShortOut {
    fn fields() -> Option<Vec<&'static str>> {
        Some(vec!["id"])
    }
    fn into_map(self) -> Map {
        Map::new()
    }
}

#[test]
fn checks_of_several_inputs_come_with_the_declaration() {
    let s = PlainIn::schema();
    assert_eq!(s.checks.len(), 1);
    assert_eq!(s.checks[0].reads, ["name"]);
    let named = |n: &str| map(&[("name", n.into())]);
    assert_eq!(s.check_inputs(&named("a")), Ok(()));
    assert_eq!(
        s.check_inputs(&named("nothing")),
        Err(("name", "names nothing".to_string()))
    );
}

#[test]
fn outputs_must_be_the_computed_attributes_no_more_and_no_fewer() {
    shaped!(Plain, PlainIn, PlainOut, []);
    Types(vec![TypeEntry::<()>::declared::<Plain>()])
        .check()
        .unwrap();

    shaped!(Extra, PlainIn, ExtraOut, []);
    let err = refusal::<Extra>();
    assert!(
        err.contains("the outputs field `size` is not a computed attribute"),
        "{err}"
    );

    shaped!(Short, PlainIn, ShortOut, []);
    let err = refusal::<Short>();
    assert!(
        err.contains("the computed attribute `url` has no field in the outputs"),
        "{err}"
    );

    // An input the outputs name must be one the provider computes.
    shaped!(Named, ThingIn, NamedOut, []);
    let err = refusal::<Named>();
    assert!(
        err.contains("the outputs field `size` is not a computed attribute"),
        "{err}"
    );
}

/// Outputs of `ThingIn` that name `size`, which the provider does not
/// compute.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct NamedOut {
    id: String,
    version: Option<i64>,
    size: Option<i64>,
}

impl DeclaredOutputs for NamedOut {
    fn fields() -> Option<Vec<&'static str>> {
        Some(vec!["id", "version", "size"])
    }
    fn into_map(self) -> Map {
        Map::new()
    }
}

#[tokio::test]
async fn an_update_calls_nothing_for_an_empty_string_where_nothing_was_set() {
    let (log, r) = thing(Log::default());
    let ctx = OpContext::quiet("test_thing.a");
    let prior = Current::new(
        map(&[("name", "a".into()), ("size", Value::Int(1))]),
        map(&[("id", "t1".into()), ("version", Value::Int(1))]),
    );
    // "" is a string left unset.
    let want = map(&[
        ("name", "a".into()),
        ("size", Value::Int(1)),
        ("type", "".into()),
    ]);
    let out = r.update(&ctx, &prior, &want).await.unwrap();
    assert!(log.calls.lock().unwrap().is_empty());
    assert_eq!(out, prior.outputs, "the record stays as it was");
}

#[tokio::test]
async fn inputs_the_declaration_cannot_take_never_reach_the_provider() {
    let (log, r) = thing(Log::default());
    let ctx = OpContext::quiet("test_thing.a");
    let err = r
        .create(&ctx, &map(&[("name", "a".into()), ("size", "big".into())]))
        .await
        .unwrap_err();
    assert!(err.message.starts_with("invalid inputs: "), "{err}");
    assert!(err.hint.unwrap().contains("bug in meshmon"));
    let err = r
        .recover(&ctx, &map(&[("size", Value::Int(1))]))
        .await
        .unwrap_err();
    assert!(err.message.contains("name"), "{err}");
    assert!(log.calls.lock().unwrap().is_empty());
}
