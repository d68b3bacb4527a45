//! `[components.NAME]`: a directory holding `component.toml` — a spec of
//! its own variables, resources, look-ups, outputs and components, without
//! `[meshmon]` or providers — used once, or once per key. Each component
//! file is loaded and checked on its own, so that what is wrong in it
//! points at it; its instances are made once the spec that uses it is
//! read (`spec::component`).

use super::*;
use crate::spec::ComponentCall;

const CALL_KEYS: &[&str] = &["source", "inputs", "for_each", "providers"];
/// How deep components may use components.
const MAX_DEPTH: usize = 8;
/// The file a component directory holds.
const COMPONENT_FILE: &str = "component.toml";

impl Loader<'_> {
    /// Loads every component the spec uses (first, so that references to
    /// their outputs can be checked anywhere), then reads each call.
    pub(super) fn component_calls(&mut self, node: &Node) {
        let Some(t) = self.expect_table(node, "`components`") else {
            return;
        };
        let mut loaded = Vec::new();
        for (key, cnode) in t {
            if !self.check_name(key, "component") {
                continue;
            }
            let Some(fields) = self.expect_table(cnode, &format!("component `{}`", key.name))
            else {
                continue;
            };
            for (k, _) in fields {
                if !CALL_KEYS.contains(&k.name.as_str()) {
                    self.unknown_key(k, &format!("component `{}`", key.name), CALL_KEYS);
                }
            }
            let Some((_, src)) = fields.iter().find(|(k, _)| k.name == "source") else {
                let d = self.err(
                    format!("component `{}` has no `source`", key.name),
                    key.span.clone(),
                    "add `source = \"DIR\"`",
                );
                d.help = Some(format!(
                    "source is a directory holding {COMPONENT_FILE}, relative to this file"
                ));
                continue;
            };
            let Some(source) = self.expect_str(src, "`source`") else {
                continue;
            };
            let keyed = fields.iter().any(|(k, _)| k.name == "for_each");
            let Some(def) = self.load_component(&source, src.span.clone()) else {
                self.component_outputs
                    .insert(key.name.clone(), (keyed, None));
                continue;
            };
            self.component_outputs.insert(
                key.name.clone(),
                (keyed, Some(def.outputs.keys().cloned().collect())),
            );
            loaded.push((key, fields, def));
        }
        for (key, fields, def) in loaded {
            if let Some(call) = self.component_call(key, fields, def) {
                self.calls.insert(call.name.clone(), call);
            }
        }
    }

    /// One `[components.NAME]` call of a loaded component.
    fn component_call(
        &mut self,
        key: &Key,
        fields: &[(Key, Node)],
        def: Arc<Spec>,
    ) -> Option<ComponentCall> {
        let name = &key.name;
        let field = |n: &str| fields.iter().find(|(k, _)| k.name == n).map(|(_, v)| v);
        let for_each = field("for_each").and_then(|v| {
            let e = self.for_each_value(v)?;
            // Instances of a component are made when the spec loads.
            let mut objects = false;
            e.for_each_ref(&mut |r| {
                objects |= !matches!(r, RefExpr::Var(_) | RefExpr::File(_));
            });
            if objects {
                let d = self.err(
                    format!("the keys of component `{name}` must be known when the spec loads"),
                    v.span.clone(),
                    "refers to an object",
                );
                d.help = Some(
                    "write them out or take them from a variable; inside the component, `for_each` on a resource may refer to objects".into(),
                );
                return None;
            }
            Some(e)
        });
        self.in_keyed = for_each.is_some();
        let mut inputs = BTreeMap::new();
        let mut input_spans = BTreeMap::new();
        if let Some(node) = field("inputs")
            && let Some(given) = self.expect_table(node, &format!("`inputs` of component `{name}`"))
        {
            for (k, v) in given {
                if !def.variables.contains_key(&k.name) {
                    let names: Vec<&String> = def.variables.keys().collect();
                    let d = self.err(
                        format!("component `{name}` has no variable `{}`", k.name),
                        k.span.clone(),
                        "not an input of the component",
                    );
                    d.help = Some(did_you_mean(&k.name, &names).unwrap_or_else(|| {
                        format!(
                            "its variables: {}",
                            def.variables.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }));
                    continue;
                }
                if let Some(e) = self.expr(v, &AttrType::Any, None) {
                    inputs.insert(k.name.clone(), e);
                    input_spans.insert(k.name.clone(), v.span.clone());
                }
            }
        }
        for (var, v) in &def.variables {
            if v.value == Value::Unknown && !inputs.contains_key(var) {
                let d = self.err(
                    format!("component `{name}` needs the input `{var}`"),
                    key.span.clone(),
                    format!("`{var}` has no default"),
                );
                d.help = Some(format!("add inputs = {{ {var} = … }}"));
            }
        }
        let mut providers = BTreeMap::new();
        if let Some(node) = field("providers")
            && let Some(given) =
                self.expect_table(node, &format!("`providers` of component `{name}`"))
        {
            for (k, v) in given {
                // `aws` or `aws.NAME`: the provider block, or a named
                // instance the component chooses for some of its blocks.
                let block = k.name.split('.').next().unwrap_or_default();
                if self.registry.block_owner(block).is_none() {
                    let names: Vec<&str> = self.registry.provider_names().collect();
                    let d = self.err(
                        format!("unknown provider `{}`", k.name),
                        k.span.clone(),
                        "not a provider of this build",
                    );
                    d.help = did_you_mean(&k.name, &names);
                    continue;
                }
                let what = format!("component `{name}`");
                if let Some((instance, each)) = self.provider_choice(v, block, &what) {
                    let instance = match each {
                        true => format!("{instance}[each.key]"),
                        false => instance,
                    };
                    providers.insert(k.name.clone(), instance);
                }
            }
        }
        self.in_keyed = false;
        // A named instance the component's blocks choose is either mapped
        // here or one the spec declares.
        let slots: BTreeSet<&str> = def
            .resources
            .values()
            .chain(def.keyed.values())
            .map(|b| b.config_block.split('[').next().unwrap_or_default())
            .filter(|c| c.contains('.'))
            .collect();
        for slot in slots {
            if !providers.contains_key(slot) && !self.provider_instances.contains_key(slot) {
                let d = self.err(
                    format!("component `{name}` chooses `{slot}`, neither given nor declared"),
                    key.span.clone(),
                    format!("`{slot}` not given"),
                );
                d.help = Some(format!(
                    "add it to the component's providers: providers = {{ \"{slot}\" = \"{}\" }}, or declare [providers.{slot}]",
                    slot.split('.').next().unwrap_or_default()
                ));
            }
        }
        Some(ComponentCall {
            name: name.clone(),
            def,
            inputs,
            for_each,
            providers,
            span: key.span.clone(),
            source: self.source.clone(),
            input_spans,
        })
    }

    /// Loads and checks `SOURCE/component.toml`, relative to this file.
    /// Its own mistakes are reported against it.
    fn load_component(&mut self, source: &str, span: Range<usize>) -> Option<Arc<Spec>> {
        let dir = self.base_dir.join(source);
        let file = dir.join(COMPONENT_FILE);
        let canonical = match std::fs::canonicalize(&file) {
            Ok(c) => c,
            // A saved plan holds the component; where it was is enough to
            // tell a cycle.
            Err(_) if self.pinned_files.is_some() => file.clone(),
            Err(e) => {
                let d = self.err(
                    format!("cannot read component {}: {e}", file.display()),
                    span,
                    "here",
                );
                d.help = Some(format!(
                    "`source` is a directory holding {COMPONENT_FILE}, relative to this file"
                ));
                return None;
            }
        };
        if let Some(pos) = self.chain.iter().position(|c| *c == canonical) {
            // Named from the working directory, as the user wrote them.
            let here = std::env::current_dir().unwrap_or_default();
            let cycle: Vec<String> = self.chain[pos..]
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|c| c.strip_prefix(&here).unwrap_or(c).display().to_string())
                .collect();
            let d = self.err(
                format!(
                    "components use each other in a cycle: {}",
                    cycle.join(" → ")
                ),
                span,
                "uses a component that leads back here",
            );
            d.help = Some(format!(
                "{} is used again here; break the cycle in one of the two files",
                cycle[0]
            ));
            return None;
        }
        if self.chain.len() >= MAX_DEPTH {
            let d = self.err(
                format!("components nest more than {MAX_DEPTH} deep"),
                span,
                "one level too many",
            );
            d.help = Some("flatten the components: each level is a component using another".into());
            return None;
        }
        let prefix = match &self.file_prefix {
            Some(p) => format!("{p}/{source}"),
            None => source.to_string(),
        };
        // Kept with what file() reads: a saved plan applies the component
        // as it was reviewed.
        let key = format!("{prefix}/{COMPONENT_FILE}");
        let read = match &self.pinned_files {
            Some(pinned) => pinned.get(&key).cloned().ok_or_else(|| {
                "the saved plan does not hold this component, so it was not reviewed".to_string()
            }),
            None => crate::fsutil::read_text(&file).map_err(|e| e.to_string()),
        };
        let text = match read {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    format!("cannot read component {}: {e}", file.display()),
                    span,
                    "here",
                );
                return None;
            }
        };
        self.files.insert(key, text.clone());
        let mut chain = self.chain.clone();
        chain.push(canonical);
        let vars = VarInputs {
            pinned_files: self.pinned_files.clone(),
            ..VarInputs::default()
        };
        match load_part(&file, text, &dir, &vars, self.registry, chain, Some(prefix)) {
            Ok((def, warnings)) => {
                self.diags.items.extend(warnings.items);
                self.files
                    .extend(def.files.iter().map(|(k, v)| (k.clone(), v.clone())));
                Some(Arc::new(def))
            }
            Err(diags) => {
                self.diags.items.extend(diags.items);
                None
            }
        }
    }
}
