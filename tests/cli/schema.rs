use std::path::Path;

use crate::common::Workspace;

fn schema(ws: &Workspace) -> serde_json::Value {
    let out = ws.expect(&["schema"], 0);
    serde_json::from_str(&out.stdout).expect("schema is JSON")
}

/// Every error the schema finds in a TOML spec, as "path: message".
fn errors(schema: &serde_json::Value, toml_text: &str) -> Vec<String> {
    let doc: serde_json::Value = toml::from_str(toml_text).expect("spec is TOML");
    let validator = jsonschema::draft7::new(schema).expect("the schema compiles");
    validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn example_specs() -> Vec<std::path::PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut specs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    specs.sort();
    specs
}

#[test]
fn every_example_spec_validates_against_the_schema() {
    let ws = Workspace::new("");
    let schema = schema(&ws);
    let specs = example_specs();
    assert!(specs.len() >= 2, "{specs:?}");
    for spec in specs {
        let text = std::fs::read_to_string(&spec).unwrap();
        let errs = errors(&schema, &text);
        assert!(errs.is_empty(), "{}: {errs:#?}", spec.display());
    }
}

#[test]
fn misspelt_or_mistyped_keys_fail_the_schema() {
    let ws = Workspace::new("");
    let schema = schema(&ws);
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/builtin.toml"
    ))
    .unwrap();
    let cases = [
        // A misspelt attribute.
        (
            "create_duration =",
            "create_duraton =",
            "/resources/time_sleep/settle",
        ),
        // A misspelt meta-key.
        (
            "depends_on =",
            "depend_on =",
            "/resources/local_file/scrape_config",
        ),
        // A wrong type: permissions are a string like "0600".
        (
            "file_permission = \"0600\"",
            "file_permission = 600",
            "/resources/local_file/scrape_config/file_permission",
        ),
        // An unknown resource type.
        (
            "[resources.null_resource.workspace]",
            "[resources.nul_resource.workspace]",
            "/resources",
        ),
        // A misspelt section.
        ("[variables.region]", "[variable.region]", ""),
    ];
    for (from, to, path) in cases {
        assert!(builtin.contains(from), "{from}");
        let errs = errors(&schema, &builtin.replacen(from, to, 1));
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "`{to}` should fail at {path:?}, got {errs:#?}"
        );
    }
}

#[test]
fn schema_accepts_expressions_where_values_are_typed() {
    let ws = Workspace::new("");
    let schema = schema(&ws);
    let spec = r#"
[meshmon]
name = "x"

[variables.perm]
default = "0600"

[resources.null_resource.a]
inputs = { n = 1 }

[resources.time_sleep.b]
create_duration = "${var.perm}"
triggers = "${null_resource.a.inputs}"
lifecycle = { ignore_changes = ["triggers.n"], prevent_destroy = true }
timeouts = { create = "5m" }
"#;
    assert_eq!(errors(&schema, spec), Vec::<String>::new());
    let bad = spec.replace("[\"triggers.n\"]", "[\"trigers\"]");
    assert!(!errors(&schema, &bad).is_empty());
}

#[test]
fn schema_describes_every_resource_type_and_provider() {
    let ws = Workspace::new("");
    let schema = schema(&ws);
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let docs = ws.expect(&["docs"], 0).stdout;
    let documented: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.strip_suffix('`'))
        .filter(|l| !l.starts_with('['))
        .collect();
    let types = schema["properties"]["resources"]["properties"]
        .as_object()
        .unwrap();
    let lookups = schema["properties"]["data"]["properties"]
        .as_object()
        .unwrap();
    let (documented_lookups, documented_types): (Vec<&str>, Vec<&str>) =
        documented.iter().partition(|l| l.starts_with("data."));
    assert_eq!(
        types.keys().map(String::as_str).collect::<Vec<_>>(),
        documented_types
    );
    assert_eq!(
        lookups
            .keys()
            .map(|k| format!("data.{k}"))
            .collect::<Vec<_>>(),
        documented_lookups
    );
    assert!(lookups.contains_key("aws_eks_cluster"), "{lookups:#?}");
    let cluster = &schema["definitions"]["resource.aws_eks_cluster"];
    assert_eq!(cluster["additionalProperties"], false);
    assert!(
        cluster["required"]
            .as_array()
            .unwrap()
            .contains(&"name".into())
    );
    assert!(
        cluster["properties"]["name"]["description"]
            .as_str()
            .unwrap()
            .contains("Changing it replaces the resource."),
        "{cluster:#}"
    );
    for p in ["aws", "kubernetes", "grafana"] {
        assert!(
            schema["properties"]["providers"]["properties"][p].is_object(),
            "{p}"
        );
    }
}

#[test]
fn schema_completes_acknowledge_with_the_warning_codes() {
    let ws = Workspace::new("");
    let schema = schema(&ws);
    let spec = r#"
[meshmon]
name = "x"
acknowledge = [{ warning = "app-mesh-end-of-life", resources = ["helm_release.mesh"], reason = "moving to Istio" }]
"#;
    assert_eq!(errors(&schema, spec), Vec::<String>::new());
    let errs = errors(
        &schema,
        &spec.replace("app-mesh-end-of-life", "app-mesh-eol"),
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/meshmon/acknowledge/0/warning: ")),
        "{errs:#?}"
    );
}

#[test]
fn schema_knows_moved_and_removed_entries() {
    let ws = Workspace::new("[meshmon]\nname = \"x\"\n");
    let schema = schema(&ws);
    let ok = "[meshmon]\nname = \"x\"\n\n[[moved]]\nfrom = \"null_resource.a\"\nto = \"null_resource.b\"\n\n[[removed]]\nfrom = \"null_resource.c\"\ndestroy = false\n";
    assert_eq!(errors(&schema, ok), Vec::<String>::new());
    let bad = "[meshmon]\nname = \"x\"\n\n[[moved]]\nfrom = \"null_resource.a\"\n\n[[removed]]\nfrom = \"null_resource.c\"\nforget = true\n";
    assert_eq!(errors(&schema, bad).len(), 2, "{:?}", errors(&schema, bad));
}
