//! The resource and look-up blocks: declared first, so that references
//! can be checked in any order, then read, in two threads for a large spec.

use super::*;

/// How many blocks make a spec large enough to read in two threads.
const PARALLEL_BLOCKS: usize = 2_000;

impl Loader<'_> {
    /// Declares every block of `[resources]` (or, `data`, of `[data]`):
    /// its address, type and header, for references to find.
    pub(super) fn declare_blocks<'n>(
        &mut self,
        node: &'n Node,
        data: bool,
        out: &mut Vec<(String, Address, Key, &'n Node)>,
    ) {
        let (table, what) = match data {
            true => ("data", "look-up"),
            false => ("resources", "resource"),
        };
        let Some(types) = self.expect_table(node, &format!("`{table}`")) else {
            return;
        };
        for (tkey, tnode) in types {
            let schema = match data {
                true => self.registry.lookup_schema(&tkey.name),
                false => self.registry.schema(&tkey.name),
            };
            let Some(schema) = schema else {
                let names: Vec<&str> = match data {
                    true => self.registry.lookup_names().collect(),
                    false => self.registry.type_names().collect(),
                };
                let hint = did_you_mean(&tkey.name, &names);
                let offered_as_other = match data {
                    true => self.registry.schema(&tkey.name).is_some(),
                    false => self.registry.lookup_schema(&tkey.name).is_some(),
                };
                let d = self.err(
                    format!("unknown {what} type `{}`", tkey.name),
                    tkey.span.clone(),
                    format!("no provider offers this {what} type"),
                );
                d.help = Some(hint.unwrap_or_else(|| match (data, offered_as_other) {
                    (true, true) => format!(
                        "`{}` is a resource type, not a look-up: run `meshmon docs` for the look-ups this build offers",
                        tkey.name
                    ),
                    (false, true) => format!(
                        "`{}` is only a look-up: declare it with [data.{}.NAME] to read an existing one",
                        tkey.name, tkey.name
                    ),
                    (true, false) => format!("look-ups this build offers: {}", names.join(", ")),
                    (false, false) => {
                        "run `meshmon docs` to list the resource types this build offers".into()
                    }
                }));
                continue;
            };
            let type_name = schema.type_name.to_string();
            let Some(instances) = self.expect_table(tnode, &format!("`{table}.{}`", tkey.name))
            else {
                continue;
            };
            for (nkey, nnode) in instances {
                if !self.check_name(nkey, what) {
                    continue;
                }
                let address = match data {
                    true => Address::data(&tkey.name, &nkey.name),
                    false => Address::resource(&tkey.name, &nkey.name),
                };
                Arc::make_mut(&mut self.addresses)
                    .insert(address.clone(), (type_name.clone(), nkey.span.clone()));
                if nnode
                    .as_table()
                    .is_some_and(|t| t.iter().any(|(k, _)| k.name == "for_each"))
                {
                    Arc::make_mut(&mut self.keyed).insert(address.clone());
                }
                out.push((tkey.name.clone(), address, nkey.clone(), nnode));
            }
        }
    }

    /// Reads the declared blocks in declaration order. A large spec's
    /// second half is read by a second loader in a thread of its own: a
    /// block is read from its own node and what was declared before, and
    /// the second loader's findings (diagnostics, files read) follow the
    /// first's, as one loader would have made them.
    pub(super) fn blocks(
        &mut self,
        mut raw: Vec<(String, Address, Key, &Node)>,
    ) -> Vec<(Address, Option<ResourceBlock>)> {
        let read = |cx: &mut Loader, raw: Vec<(String, Address, Key, &Node)>| {
            raw.into_iter()
                .map(|(type_name, address, key, node)| {
                    let block = cx.resource(&type_name, &address, &key, node);
                    (address, block)
                })
                .collect::<Vec<_>>()
        };
        if raw.len() < PARALLEL_BLOCKS {
            return read(self, raw);
        }
        let second = raw.split_off(raw.len() / 2);
        let mut other = Loader {
            text: self.text,
            shared_text: self.shared_text.clone(),
            source: self.source.clone(),
            base_dir: self.base_dir.clone(),
            pinned_files: self.pinned_files.clone(),
            files: BTreeMap::new(),
            registry: self.registry,
            diags: Diagnostics::default(),
            addresses: self.addresses.clone(),
            keyed: self.keyed.clone(),
            in_keyed: false,
            provider_instances: self.provider_instances.clone(),
            component_outputs: self.component_outputs.clone(),
            chain: self.chain.clone(),
            file_prefix: self.file_prefix.clone(),
            calls: BTreeMap::new(),
            variables: self.variables.clone(),
        };
        let (mut first, later) = std::thread::scope(|scope| {
            let later = scope.spawn(|| read(&mut other, second));
            (read(self, raw), later.join())
        });
        let later = match later {
            Ok(later) => later,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        first.extend(later);
        self.diags.items.append(&mut other.diags.items);
        self.diags
            .acknowledged
            .append(&mut other.diags.acknowledged);
        self.files.append(&mut other.files);
        first
    }
}
