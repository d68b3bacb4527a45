//! A JSON Schema (draft-07) of the spec, generated from the provider
//! schemas like `docs.rs` generates the reference, so editors (taplo, Even
//! Better TOML) complete and check a spec from the same data the loader
//! checks it with. Draft-07 because it is the newest draft taplo supports.
//!
//! Any typed value may instead be written as an expression: `${…}` inside a
//! string, or a `file("…")` call. The schema accepts such a string wherever
//! a value goes; checking what it evaluates to is the loader's job. Keys are
//! closed (`additionalProperties: false`) everywhere the loader rejects
//! unknown keys, so a misspelt attribute is flagged as the user types.

use meshmon_provider_sdk::{AttrType, Attribute, Schema};
use serde_json::{Map, Value, json};

use crate::registry::Registry;

/// The `$id`-less draft this schema follows.
pub const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// Names of resources, variables and outputs, as the loader accepts them.
const NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_-]*$";

/// A string the loader evaluates: an interpolation or a `file("…")` call.
fn expression() -> Value {
    json!({
        "type": "string",
        "pattern": "\\$\\{|^\\s*file\\(",
        "description": "An expression: `${TYPE.NAME.ATTR}`, `${var.NAME}` (alone or inside a string) or `file(\"path\")`."
    })
}

/// The schema of one value of type `t`.
fn value(t: &AttrType) -> Value {
    let typed = match t {
        AttrType::String | AttrType::Yaml => return json!({"type": "string"}),
        AttrType::Any => return json!({}),
        AttrType::Int => json!({"type": "integer"}),
        AttrType::Float => json!({"type": "number"}),
        AttrType::Bool => json!({"type": "boolean"}),
        AttrType::List(e) => json!({"type": "array", "items": value(e)}),
        AttrType::Map(e) => json!({"type": "object", "additionalProperties": value(e)}),
        AttrType::Json => return json!({"type": ["object", "array", "string"]}),
    };
    json!({"anyOf": [typed, {"$ref": "#/definitions/expression"}]})
}

fn kind(a: &Attribute) -> &'static str {
    match (a.required, a.computed) {
        (true, _) => "Required",
        (false, true) => "Optional; computed when left out",
        (false, false) => "Optional",
    }
}

fn attribute(a: &Attribute) -> Value {
    let mut s = value(&a.ty);
    let mut text = format!("{} ({}).", kind(a), a.ty.describe());
    if a.force_new {
        text.push_str(" Changing it replaces the resource.");
    }
    if a.sensitive {
        text.push_str(" Sensitive: never shown.");
    }
    if !a.description.is_empty() {
        text = format!("{}\n\n{text}", a.description);
    }
    let obj = s.as_object_mut().expect("object");
    obj.insert("description".into(), json!(text));
    if let Some(d) = &a.default {
        obj.insert("default".into(), serde_json::Value::from(d.clone()));
    }
    s
}

/// The settable attributes of `schema` as an object schema, closed to any
/// other key but `extra`.
fn block(schema: &Schema, extra: Map<String, Value>) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for a in schema.settable() {
        props.insert(a.name.into(), attribute(a));
        if a.required {
            required.push(a.name);
        }
    }
    props.extend(extra);
    let mut s = json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if !schema.description.is_empty() {
        s["description"] = json!(schema.description);
    }
    s
}

/// `for_each`: the keys of a block's instances.
fn for_each() -> Value {
    json!({
        "description": "One instance per key: an array of strings (the keys), a table (keys and values), or \"${…}\" referring to one. Inside, ${each.key} and ${each.value}.",
        "type": ["array", "object", "string"],
        "items": {"type": "string"},
    })
}

/// `depends_on`, `lifecycle`, `timeouts`, `for_each` and `provider`, as the
/// loader reads them.
fn meta_keys(schema: &Schema) -> Map<String, Value> {
    let names: Vec<&str> = schema.settable().map(|a| a.name).collect();
    let ignorable = if names.is_empty() {
        json!({"type": "string"})
    } else {
        json!({
            "type": "string",
            "pattern": format!("^({})([.\\[].*)?$", names.join("|")),
        })
    };
    let duration = json!({
        "type": "string",
        "description": "A duration, like \"250ms\", \"90s\", \"30m\" or \"1h 30m\"."
    });
    let mut m = Map::new();
    m.insert(
        "depends_on".into(),
        json!({
            "description": "Resources and look-ups this one needs besides those it refers to, as TYPE.NAME or data.TYPE.NAME.",
            "type": "array",
            "items": {"type": "string", "pattern": "^(data\\.)?[A-Za-z_][A-Za-z0-9_-]*\\.[A-Za-z_][A-Za-z0-9_-]*(\\[\".*\"\\])?$"},
            "uniqueItems": true,
        }),
    );
    m.insert(
        "lifecycle".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "prevent_destroy": {"type": "boolean", "description": "Refuse any plan that destroys this resource."},
                "create_before_destroy": {"type": "boolean", "description": "On replacement, create the new object before destroying the old one."},
                "ignore_changes": {
                    "type": "array",
                    "items": ignorable,
                    "description": "Attributes (or paths into them) whose changes are not planned.",
                },
            },
        }),
    );
    m.insert("for_each".into(), for_each());
    m.insert(
        "provider".into(),
        json!({
            "type": "string",
            "description": "The provider instance: \"aws\" (the default), \"aws.NAME\" for [providers.aws.NAME], \"aws.NAME[\\\"KEY\\\"]\" or \"aws.NAME[each.key]\" for one instance of a keyed one.",
        }),
    );
    m.insert(
        "timeouts".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"create": duration, "update": duration, "delete": duration},
        }),
    );
    m
}

fn meshmon_block(registry: &Registry) -> Value {
    let codes: Vec<Value> = registry
        .warning_codes()
        .iter()
        .map(|(code, about)| json!({"const": code, "description": about}))
        .collect();
    json!({
        "type": "object",
        "description": "The environment: its name and where its state lives.",
        "additionalProperties": false,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "description": "The environment's name; the default state is state/<name>.json."},
            "state": {"type": "string", "description": "The local state file, instead of state/<name>.json."},
            "acknowledge": {
                "type": "array",
                "description": "Warnings the team has accepted, per resource: shown as a one-line reminder instead of in full.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["warning", "resources"],
                    "properties": {
                        "warning": {"description": "The warning's code, as shown beside it.", "oneOf": codes},
                        "resources": {
                            "type": "array",
                            "description": "The resources (TYPE.NAME) it is accepted for.",
                            "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]*\\.[A-Za-z_][A-Za-z0-9_-]*$"},
                        },
                        "reason": {"type": "string", "description": "Why, for the next reader."},
                    },
                },
            },
            "backend": {
                "type": "object",
                "description": "Remote state shared by a team.",
                "additionalProperties": false,
                "properties": {
                    "s3": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["bucket", "key"],
                        "properties": {
                            "bucket": {"type": "string"},
                            "key": {"type": "string"},
                            "region": {"type": "string"},
                            "profile": {"type": "string"},
                            "use_path_style": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    })
}

/// The whole schema.
pub fn spec_schema(registry: &Registry) -> Value {
    let mut definitions = Map::new();
    definitions.insert("expression".into(), expression());

    let mut providers = Map::new();
    let mut blocks: Vec<&'static str> = registry.provider_names().collect();
    blocks.sort();
    for b in blocks {
        if let Some(p) = registry.block_owner(b) {
            let schema = p.config_schema();
            // Tables under the block are named instances, configured alike.
            let mut instance_keys = Map::new();
            instance_keys.insert("for_each".into(), for_each());
            let mut default = block(&schema, Map::new());
            default["additionalProperties"] = block(&schema, instance_keys);
            providers.insert(b.into(), default);
        }
    }

    let mut resources = Map::new();
    let mut types: Vec<&Schema> = registry.schemas().map(|(_, s)| s).collect();
    types.sort_by_key(|s| s.type_name);
    for s in types {
        let def = format!("resource.{}", s.type_name);
        definitions.insert(def.clone(), block(s, meta_keys(s)));
        resources.insert(
            s.type_name.into(),
            json!({
                "type": "object",
                "description": s.description,
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": format!("#/definitions/{def}")},
            }),
        );
    }

    let mut data = Map::new();
    let mut lookups: Vec<&Schema> = registry.lookup_schemas().map(|(_, s)| s).collect();
    lookups.sort_by_key(|s| s.type_name);
    for s in lookups {
        let def = format!("data.{}", s.type_name);
        let mut meta = meta_keys(s);
        meta.retain(|k, _| ["depends_on", "for_each", "provider"].contains(&k.as_str()));
        definitions.insert(def.clone(), block(s, meta));
        data.insert(
            s.type_name.into(),
            json!({
                "type": "object",
                "description": s.description,
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": format!("#/definitions/{def}")},
            }),
        );
    }

    json!({
        "$schema": DRAFT,
        "title": "meshmon spec",
        "description": "A meshmon environment: generated by `meshmon schema` from the provider schemas.",
        "type": "object",
        "additionalProperties": false,
        "required": ["meshmon"],
        "properties": {
            "meshmon": meshmon_block(registry),
            "variables": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "default": {"description": "The value when none is given with --var, --var-file or MESHMON_VAR_NAME."},
                        "description": {"type": "string"},
                        "sensitive": {"type": "boolean", "description": "Never show the value."},
                        "allowed": {"type": "array", "description": "The only values accepted."},
                    },
                },
            },
            "providers": {
                "type": "object",
                "additionalProperties": false,
                "properties": providers,
            },
            "resources": {
                "type": "object",
                "additionalProperties": false,
                "properties": resources,
            },
            "data": {
                "type": "object",
                "description": "Look-ups: existing objects read, never created, changed or deleted.",
                "additionalProperties": false,
                "properties": data,
            },
            "components": {
                "type": "object",
                "description": "Components: a directory holding component.toml (variables, resources, look-ups, outputs, components), used once or once per key.",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["source"],
                    "properties": {
                        "source": {"type": "string", "description": "The component's directory, relative to this file."},
                        "inputs": {"type": "object", "description": "Values of the component's variables."},
                        "for_each": for_each(),
                        "providers": {
                            "type": "object",
                            "description": "The provider instance each of the component's providers is: { aws = \"aws.accounts[each.key]\" }.",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
            },
            "outputs": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["value"],
                    "properties": {
                        "value": {"description": "Usually an expression: \"${TYPE.NAME.ATTR}\"."},
                        "sensitive": {"type": "boolean"},
                        "description": {"type": "string"},
                    },
                },
            },
            "moved": {
                "type": "array",
                "description": "[[moved]]: a recorded object now declared under another address of the same type; renamed in the state, untouched in the cloud.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["from", "to"],
                    "properties": {
                        "from": {"type": "string", "description": "The address the state records, TYPE.NAME."},
                        "to": {"type": "string", "description": "The address the spec declares now, TYPE.NAME."},
                    },
                },
            },
            "removed": {
                "type": "array",
                "description": "[[removed]]: a recorded object the spec no longer declares.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["from"],
                    "properties": {
                        "from": {"type": "string", "description": "The address the state records, TYPE.NAME."},
                        "destroy": {"type": "boolean", "description": "false: forget it and leave it in the cloud; true (the default): destroy it."},
                    },
                },
            },
        },
        "definitions": definitions,
    })
}

/// The schema as pretty-printed JSON with a final newline.
pub fn spec_schema_text(registry: &Registry) -> String {
    let mut s = serde_json::to_string_pretty(&spec_schema(registry)).expect("json");
    s.push('\n');
    s
}
