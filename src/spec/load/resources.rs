//! Provider blocks, resources (attributes against their type's schema,
//! `depends_on`, `lifecycle`, `timeouts`) and outputs.

use super::*;

/// A table under a provider block that is not one of its attributes is a
/// named instance.
fn is_instance(schema: &Schema, key: &Key, value: &Node) -> bool {
    schema.get(&key.name).is_none() && value.as_table().is_some()
}

/// The named instances under a provider block.
fn instance_tables<'n>(schema: &Schema, block: &'n Node) -> Vec<&'n (Key, Node)> {
    block
        .as_table()
        .into_iter()
        .flatten()
        .filter(|(k, v)| is_instance(schema, k, v))
        .collect()
}

impl Loader<'_> {
    /// `[providers.NAME]` blocks: each a provider's default instance, and
    /// in it `[providers.NAME.INSTANCE]` tables, named instances (with
    /// `for_each`, keyed ones).
    pub(super) fn providers(
        &mut self,
        node: &Node,
        out: &mut BTreeMap<String, ProviderBlock>,
        keyed: &mut BTreeMap<String, ProviderBlock>,
    ) {
        let Some(t) = self.expect_table(node, "`providers`") else {
            return;
        };
        for (key, pnode) in t {
            let Some(provider) = self.registry.block_owner(&key.name).cloned() else {
                let hint =
                    did_you_mean(&key.name, self.registry.provider_names()).unwrap_or_else(|| {
                        format!(
                            "known providers: {}",
                            self.registry
                                .provider_names()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                let d = self.err(
                    format!("unknown provider `{}`", key.name),
                    key.span.clone(),
                    "not a provider of this build",
                );
                d.help = Some(hint);
                continue;
            };
            let Some(fields) = self.expect_table(pnode, &format!("`providers.{}`", key.name))
            else {
                continue;
            };
            let schema = provider.config_schema();
            let instances = instance_tables(&schema, pnode);
            let own: Vec<(Key, Node)> = fields
                .iter()
                .filter(|(k, v)| !is_instance(&schema, k, v))
                .cloned()
                .collect();
            let what = format!("provider `{}`", key.name);
            let config = self.attributes(&schema, &what, &own, pnode.span.clone(), &[], None);
            out.insert(
                key.name.clone(),
                ProviderBlock {
                    name: key.name.clone(),
                    config,
                    for_each: None,
                    span: key.span.clone(),
                },
            );
            for (ikey, inode) in instances {
                if !self.check_name(ikey, "provider instance") {
                    continue;
                }
                let name = format!("{}.{}", key.name, ikey.name);
                let Some(ifields) = inode.as_table() else {
                    continue;
                };
                let for_each_node = ifields.iter().find(|(k, _)| k.name == "for_each");
                self.in_keyed = for_each_node.is_some();
                let what = format!("provider instance `{name}`");
                let config = self.attributes(
                    &schema,
                    &what,
                    ifields,
                    inode.span.clone(),
                    &["for_each"],
                    None,
                );
                let for_each = for_each_node.and_then(|(_, v)| {
                    self.in_keyed = false;
                    self.for_each_value(v)
                });
                self.in_keyed = false;
                let block = ProviderBlock {
                    name: name.clone(),
                    config,
                    for_each,
                    span: ikey.span.clone(),
                };
                if block.for_each.is_some() {
                    keyed.insert(name, block);
                } else {
                    out.insert(name, block);
                }
            }
        }
    }

    /// The provider instances `[providers]` declares, each with whether it
    /// is keyed, without checking them (that is [`Self::providers`]'s).
    pub(super) fn declare_provider_instances(&self, node: &Node) -> BTreeMap<String, bool> {
        let mut out = BTreeMap::new();
        for (key, pnode) in node.as_table().into_iter().flatten() {
            let Some(provider) = self.registry.block_owner(&key.name) else {
                continue;
            };
            out.insert(key.name.clone(), false);
            for (ikey, inode) in instance_tables(&provider.config_schema(), pnode) {
                let keyed = inode
                    .as_table()
                    .is_some_and(|t| t.iter().any(|(k, _)| k.name == "for_each"));
                out.insert(format!("{}.{}", key.name, ikey.name), keyed);
            }
        }
        out
    }

    /// Checks a block's attributes against a schema; `meta` keys are skipped.
    pub(super) fn attributes(
        &mut self,
        schema: &Schema,
        what: &str,
        fields: &[(Key, Node)],
        block_span: Range<usize>,
        meta: &[&str],
        self_address: Option<&Address>,
    ) -> SortedMap<Expr> {
        let mut attrs = SortedMap::new();
        for (k, v) in fields {
            if meta.contains(&k.name.as_str()) {
                continue;
            }
            match schema.get(&k.name) {
                None => {
                    let names = schema
                        .settable()
                        .map(|a| a.name)
                        .chain(meta.iter().copied());
                    let hint = did_you_mean(&k.name, names);
                    let d = self.err(
                        format!("{what} has no attribute `{}`", k.name),
                        k.span.clone(),
                        "unknown attribute",
                    );
                    d.help = Some(hint.unwrap_or_else(|| {
                        format!(
                            "`{}` takes: {}",
                            schema.type_name,
                            schema
                                .settable()
                                .map(|a| a.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }));
                }
                Some(a) if !a.settable => {
                    let d = self.err(
                        format!(
                            "`{}` of {what} is computed by the provider and cannot be set",
                            k.name
                        ),
                        k.span.clone(),
                        "computed attribute",
                    );
                    d.help = Some(format!(
                        "remove it; refer to it elsewhere as `${{{}.{}}}`",
                        self_address.map_or("TYPE.NAME".to_string(), ToString::to_string),
                        k.name
                    ));
                }
                Some(a) => {
                    let ty = a.ty.clone();
                    if let Some(e) = self.expr(v, &ty, self_address) {
                        if let Err(msg) = a.validate(&literal(&e)) {
                            self.err(
                                format!("`{}` of {what} {msg}", k.name),
                                v.span.clone(),
                                "invalid value",
                            );
                        }
                        attrs.insert(k.name.clone(), e);
                    }
                }
            }
        }
        // The schema's checks of several attributes, on what is written as
        // literals; the rest is checked once known.
        let written: meshmon_provider_sdk::Map = (fields.iter())
            .filter(|(k, _)| !meta.contains(&k.name.as_str()))
            .map(|(k, _)| {
                (
                    k.name.clone(),
                    attrs.get(&k.name).map_or(Value::Unknown, literal),
                )
            })
            .collect();
        if let Err((attribute, msg)) = schema.check_inputs(&written) {
            let span = fields.iter().find(|(k, _)| k.name == attribute);
            let span = span.map_or(block_span.clone(), |(_, v)| v.span.clone());
            self.err(
                format!("`{attribute}` of {what} {msg}"),
                span,
                "invalid value",
            );
        }
        for a in schema.attributes.iter().filter(|a| a.required) {
            if !fields.iter().any(|(k, _)| k.name == a.name) {
                let d = self.err(
                    format!("{what} is missing the required attribute `{}`", a.name),
                    block_span.clone(),
                    format!("`{}` must be set here", a.name),
                );
                d.help = Some(format!(
                    "add `{} = …` ({}){}",
                    a.name,
                    a.ty.describe(),
                    if a.description.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", a.description)
                    }
                ));
            }
        }
        attrs
    }

    pub(super) fn resource(
        &mut self,
        type_name: &str,
        address: &Address,
        key: &Key,
        node: &Node,
    ) -> Option<ResourceBlock> {
        let schema = self.registry.schema_at(address)?.clone();
        let kind = if address.is_data() {
            "look-up"
        } else {
            "resource"
        };
        let fields = self.expect_table(node, &format!("{kind} `{address}`"))?;
        let header = key.span.clone();
        let what = format!("{kind} `{address}` ({type_name})");
        let meta = if address.is_data() {
            DATA_META_KEYS
        } else {
            META_KEYS
        };
        self.in_keyed = self.keyed.contains(address);
        let attrs = self.attributes(&schema, &what, fields, header.clone(), meta, Some(address));
        let value_spans = fields
            .iter()
            .filter(|(k, _)| {
                attrs.contains_key(&k.name) || k.name == "for_each" || k.name == "provider"
            })
            .map(|(k, v)| (k.name.clone(), v.span.clone()))
            .collect();
        let mut depends_on = Vec::new();
        let mut lifecycle = Lifecycle::default();
        let mut timeouts = Timeouts::default();
        let mut for_each = None;
        for (k, v) in fields {
            match k.name.as_str() {
                "for_each" => {
                    // The keys come from what is known outside the block.
                    self.in_keyed = false;
                    for_each = self.for_each(v, address);
                    self.in_keyed = true;
                }
                "depends_on" => depends_on = self.depends_on(v, address),
                "lifecycle" => lifecycle = self.lifecycle(v, &schema),
                "timeouts" => timeouts = self.timeouts(v),
                _ => {}
            }
        }
        let (provider, config_block) = match address.is_data() {
            true => (
                self.registry.lookup_provider_of(type_name)?,
                self.registry.lookup_config_block_of(type_name)?,
            ),
            false => (
                self.registry.provider_of(type_name)?,
                self.registry.config_block_of(type_name)?,
            ),
        };
        let (mut instance, mut provider_each) = (config_block.to_string(), false);
        if let Some((_, v)) = fields.iter().find(|(k, _)| k.name == "provider") {
            (instance, provider_each) = self.provider_choice(v, config_block, type_name)?;
        }
        self.in_keyed = false;
        Some(ResourceBlock {
            for_each: for_each.map(Box::new),
            each: None,
            provider_each,
            origin: None,
            address: address.clone(),
            type_name: type_name.to_string(),
            name: key.name.clone(),
            provider: provider.to_string(),
            config_block: instance,
            attrs,
            depends_on,
            lifecycle,
            timeouts,
            span: header,
            value_spans,
        })
    }

    pub(super) fn depends_on(&mut self, node: &Node, address: &Address) -> Vec<Address> {
        let NodeKind::Array(items) = &node.kind else {
            self.err(
                format!(
                    "`depends_on` must be an array of addresses, found {}",
                    node.kind_name()
                ),
                node.span.clone(),
                "expected [\"TYPE.NAME\", ...]",
            );
            return Vec::new();
        };
        let mut out: Vec<Address> = Vec::new();
        for item in items {
            let Some(s) = self.expect_str(item, "a `depends_on` entry") else {
                continue;
            };
            let dep = match Address::parse(&s) {
                Ok(a) if a.components().is_empty() => a,
                _ => {
                    let d = self.err(
                        format!("`{s}` is not a resource address"),
                        item.span.clone(),
                        "malformed address",
                    );
                    d.help = Some(
                        "addresses are TYPE.NAME, like \"helm_release.appmesh_controller\", or data.TYPE.NAME for a look-up".into(),
                    );
                    continue;
                }
            };
            if &dep == address {
                self.err(
                    format!("`{address}` depends on itself"),
                    item.span.clone(),
                    "self-dependency",
                );
            } else if out.contains(&dep) {
                self.err(
                    format!("`{s}` is listed twice in `depends_on`"),
                    item.span.clone(),
                    "duplicate address",
                );
            } else if dep.key().is_some() && !self.keyed.contains(&dep.config()) {
                self.err(
                    format!(
                        "`{}` has no `for_each`, so it has no instance `{s}`",
                        dep.config()
                    ),
                    item.span.clone(),
                    "not keyed",
                );
            } else if !self.addresses.contains_key(&dep.config()) {
                let hint = did_you_mean(&s, self.addresses.keys().map(ToString::to_string));
                let d = self.err(
                    format!("`depends_on` names the undeclared {} `{s}`", kind_of(&dep)),
                    item.span.clone(),
                    format!("no such {}", kind_of(&dep)),
                );
                d.help = Some(hint.unwrap_or_else(|| declare_it(&dep)));
            } else {
                out.push(dep);
            }
        }
        out
    }

    pub(super) fn lifecycle(&mut self, node: &Node, schema: &Schema) -> Lifecycle {
        let mut l = Lifecycle::default();
        let Some(fields) = self.expect_table(node, "`lifecycle`") else {
            return l;
        };
        for (k, v) in fields {
            match k.name.as_str() {
                "prevent_destroy" => {
                    l.prevent_destroy = self
                        .expect_bool(v, "`lifecycle.prevent_destroy`")
                        .unwrap_or(false)
                }
                "create_before_destroy" => {
                    l.create_before_destroy = self
                        .expect_bool(v, "`lifecycle.create_before_destroy`")
                        .unwrap_or(false)
                }
                "ignore_changes" => {
                    let NodeKind::Array(items) = &v.kind else {
                        self.err(
                            format!(
                                "`ignore_changes` must be an array of attribute names, found {}",
                                v.kind_name()
                            ),
                            v.span.clone(),
                            "expected [\"attr\", ...]",
                        );
                        continue;
                    };
                    for item in items {
                        let Some(name) = self.expect_str(item, "an `ignore_changes` entry") else {
                            continue;
                        };
                        let path = match AttrPath::parse(&name) {
                            Ok(p) => p,
                            Err(e) => {
                                let span = self.sub_span(item, &name, e.span.clone());
                                let d = self.err(
                                    format!("`ignore_changes` entry `{name}` is not an attribute path: {e}"),
                                    span,
                                    "here",
                                );
                                d.help = Some(
                                    "a path is an attribute and steps into it: `labels`, `labels.team`, `rules[0]`, `annotations[\"a.b/c\"]`".into(),
                                );
                                continue;
                            }
                        };
                        let root = path.attribute.as_str();
                        match schema.get(root) {
                            Some(a) if a.settable => l.ignore_changes.push(path),
                            Some(_) => {
                                self.err(
                                    format!("`{name}` is computed, so there is nothing to ignore"),
                                    item.span.clone(),
                                    "computed attribute",
                                );
                            }
                            None => {
                                let hint = did_you_mean(root, schema.settable().map(|a| a.name));
                                let d = self.err(
                                    format!(
                                        "`ignore_changes` names `{name}`, which `{}` does not have",
                                        schema.type_name
                                    ),
                                    item.span.clone(),
                                    "unknown attribute",
                                );
                                d.help = hint;
                            }
                        }
                    }
                }
                _ => self.unknown_key(k, "`lifecycle`", LIFECYCLE_KEYS),
            }
        }
        l
    }

    pub(super) fn timeouts(&mut self, node: &Node) -> Timeouts {
        let mut t = Timeouts::default();
        let Some(fields) = self.expect_table(node, "`timeouts`") else {
            return t;
        };
        for (k, v) in fields {
            if !TIMEOUT_KEYS.contains(&k.name.as_str()) {
                self.unknown_key(k, "`timeouts`", TIMEOUT_KEYS);
                continue;
            }
            let Some(s) = self.expect_str(v, &format!("`timeouts.{}`", k.name)) else {
                continue;
            };
            let Some(d) = self.duration(&s, v.span.clone()) else {
                continue;
            };
            match k.name.as_str() {
                "create" => t.create = Some(d),
                "update" => t.update = Some(d),
                _ => t.delete = Some(d),
            }
        }
        t
    }

    pub(super) fn duration(&mut self, s: &str, span: Range<usize>) -> Option<Duration> {
        match humantime::parse_duration(s) {
            Ok(d) if d > crate::builtin::checks::MAX_WAIT => {
                self.err(
                    format!("`{s}` is too long a duration to wait for (at most a year)"),
                    span,
                    "expected a duration",
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let d = self.err(
                    format!("`{s}` is not a duration: {e}"),
                    span,
                    "expected a duration",
                );
                d.help =
                    Some("write durations like \"250ms\", \"90s\", \"30m\" or \"1h 30m\"".into());
                None
            }
        }
    }

    pub(super) fn outputs(&mut self, node: &Node, out: &mut BTreeMap<String, OutputBlock>) {
        let Some(t) = self.expect_table(node, "`outputs`") else {
            return;
        };
        for (key, onode) in t {
            if !self.check_name(key, "output") {
                continue;
            }
            let Some(fields) = self.expect_table(onode, &format!("`outputs.{}`", key.name)) else {
                continue;
            };
            let mut value = None;
            let mut sensitive = false;
            let mut description = None;
            for (k, v) in fields {
                match k.name.as_str() {
                    "value" => value = self.expr(v, &AttrType::Any, None),
                    "sensitive" => sensitive = self.expect_bool(v, "`sensitive`").unwrap_or(false),
                    "description" => description = self.expect_str(v, "`description`"),
                    _ => self.unknown_key(k, &format!("output `{}`", key.name), OUTPUT_KEYS),
                }
            }
            if !fields.iter().any(|(k, _)| k.name == "value") {
                self.err(
                    format!("output `{}` is missing `value`", key.name),
                    key.span.clone(),
                    "add `value = \"${…}\"`",
                );
            }
            if let Some(value) = value {
                out.insert(
                    key.name.clone(),
                    OutputBlock {
                        name: key.name.clone(),
                        value,
                        sensitive,
                        description,
                    },
                );
            }
        }
    }
}

/// An expression as a value before anything is evaluated: literals as they
/// are, whatever needs evaluating unknown (checks pass it, to run once it
/// is known).
fn literal(e: &Expr) -> Value {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::List(l) => Value::List(l.iter().map(literal).collect()),
        Expr::Map(m) => Value::Map(m.iter().map(|(k, e)| (k.clone(), literal(e))).collect()),
        Expr::Ref(_) | Expr::Template(_) => Value::Unknown,
    }
}

/// "resource" or "look-up", for messages about `address`.
pub(super) fn kind_of(address: &Address) -> &'static str {
    if address.is_data() {
        "look-up"
    } else {
        "resource"
    }
}

/// How to declare what `address` names.
pub(super) fn declare_it(address: &Address) -> String {
    if address.is_data() {
        format!(
            "declare it with [data.{}.{}]",
            address.type_name(),
            address.name()
        )
    } else {
        format!(
            "declare it with [resources.{}.{}]",
            address.type_name(),
            address.name()
        )
    }
}

impl Loader<'_> {
    /// `for_each`: a set of strings (an array) or a table, written out or
    /// a reference to one. A literal is checked here; a reference once its
    /// value is known.
    fn for_each(&mut self, node: &Node, address: &Address) -> Option<Expr> {
        let e = self.expr(node, &AttrType::Any, Some(address))?;
        self.checked_for_each(node, e)
    }

    /// `for_each` of a provider instance.
    pub(super) fn for_each_value(&mut self, node: &Node) -> Option<Expr> {
        let e = self.expr(node, &AttrType::Any, None)?;
        self.checked_for_each(node, e)
    }

    fn checked_for_each(&mut self, node: &Node, e: Expr) -> Option<Expr> {
        match &e {
            Expr::List(items) => {
                let mut seen = BTreeSet::new();
                for (item, n) in items.iter().zip(node.as_array().unwrap_or_default()) {
                    match item {
                        Expr::Lit(Value::String(k)) if !seen.insert(k.clone()) => {
                            self.err(
                                format!("`{k}` is in `for_each` twice"),
                                n.span.clone(),
                                "each key once",
                            );
                        }
                        Expr::Lit(Value::String(_)) | Expr::Ref(_) | Expr::Template(_) => {}
                        _ => {
                            let d = self.err(
                                "a `for_each` array holds strings: its keys",
                                n.span.clone(),
                                "expected a string",
                            );
                            d.help = Some(
                                "to key other values, write a table: for_each = { prod = { … }, dev = { … } }".into(),
                            );
                        }
                    }
                }
            }
            Expr::Map(_) | Expr::Ref(_) => {}
            _ => {
                let d = self.err(
                    "`for_each` takes an array of strings or a table",
                    node.span.clone(),
                    "expected an array or a table",
                );
                d.help = Some(
                    "for_each = [\"prod\", \"dev\"], for_each = { prod = \"eu-west-1\" } or for_each = \"${var.clusters}\"".into(),
                );
                return None;
            }
        }
        Some(e)
    }
}

impl Loader<'_> {
    /// `provider = "aws.NAME"`: the provider instance a block chooses —
    /// the default (`aws`), a named one (`aws.prod`), or one instance of a
    /// keyed one (`aws.accounts["prod"]`, or `aws.accounts[each.key]`
    /// inside a block with `for_each`, then `true`).
    pub(super) fn provider_choice(
        &mut self,
        node: &Node,
        block: &str,
        type_name: &str,
    ) -> Option<(String, bool)> {
        let text = self.expect_str(node, "`provider`")?;
        let span = node.span.clone();
        let (base, rest) = match text.split_once('.') {
            Some((b, r)) => (b, Some(r)),
            None => (text.as_str(), None),
        };
        if base != block {
            let d = self.err(
                format!("`{type_name}` is managed by the `{block}` provider, not `{base}`"),
                span,
                "another provider",
            );
            d.help = Some(format!(
                "write provider = \"{block}\" or \"{block}.NAME\" for an instance declared as [providers.{block}.NAME]"
            ));
            return None;
        }
        let Some(rest) = rest else {
            return Some((block.to_string(), false));
        };
        let (name, index) = match rest.split_once('[') {
            Some((n, i)) => (n, Some(i.strip_suffix(']').unwrap_or(i))),
            None => (rest, None),
        };
        let instance = format!("{block}.{name}");
        // Inside a component a named instance is a slot that each use of
        // the component maps (`providers = { "aws.NAME" = … }`).
        if !self.chain.is_empty()
            && index.is_none()
            && !self.provider_instances.contains_key(&instance)
        {
            return Some((instance, false));
        }
        let Some(&keyed) = self.provider_instances.get(&instance) else {
            let names: Vec<String> = self
                .provider_instances
                .keys()
                .filter(|k| k.starts_with(&format!("{block}.")))
                .cloned()
                .collect();
            let d = self.err(
                format!("provider instance `{instance}` is not declared"),
                span,
                "no such provider instance",
            );
            d.help = Some(
                did_you_mean(&instance, &names)
                    .unwrap_or_else(|| format!("declare it with [providers.{block}.{name}]")),
            );
            return None;
        };
        match (keyed, index) {
            (false, None) => Some((instance, false)),
            (true, Some("each.key")) if self.in_keyed => Some((instance, true)),
            (true, Some("each.key")) => {
                self.err(
                    "`[each.key]` is only known inside a block with `for_each`",
                    span,
                    "not inside a `for_each`",
                );
                None
            }
            (true, Some(key)) => match serde_json::from_str::<String>(key) {
                Ok(key) => Some((crate::spec::keyed_name(&instance, &key), false)),
                Err(_) => {
                    let d = self.err(
                        format!("`[{key}]` does not pick an instance of `{instance}`"),
                        span,
                        "expected a quoted key",
                    );
                    d.help = Some(format!(
                        "write provider = \"{instance}[\\\"KEY\\\"]\" or \"{instance}[each.key]\""
                    ));
                    None
                }
            },
            (true, None) => {
                let d = self.err(
                    format!("`{instance}` has `for_each`: choose one of its instances"),
                    span,
                    "which instance?",
                );
                d.help = Some(format!(
                    "write provider = \"{instance}[\\\"KEY\\\"]\", or \"{instance}[each.key]\" inside a block with the same keys"
                ));
                None
            }
            (false, Some(_)) => {
                let d = self.err(
                    format!("`{instance}` has no `for_each`, so it has no instances to pick"),
                    span,
                    "not keyed",
                );
                d.help = Some(format!("write provider = \"{instance}\""));
                None
            }
        }
    }
}
