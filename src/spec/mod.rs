//! The spec in its resolved form: every resource keyed by address, every
//! attribute an expression whose references name declared things, every
//! variable with its value. `load` builds it from TOML in two stages (the raw
//! spanned tree in `node`, then the checks in `load`) and reports every
//! problem it finds, not just the first.

mod backend;
pub mod component;
pub mod expand;
pub mod expr;
mod load;
pub mod node;
mod vars;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use meshmon_provider_sdk::{AttrPath, SortedMap, Value};

pub use backend::{LocateError, S3Config, StateLocation, state_location_of};
pub use expr::{Part, RefExpr};
pub use load::{load_file, load_text};
pub use vars::{VarInputs, toml_to_value};

use crate::addr::Address;
use crate::diag::Source;

/// A parsed, checked spec.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    /// `[meshmon] state`, relative to the working directory.
    pub state_path: Option<String>,
    /// `[meshmon] backend = { s3 = { … } }`: remote state.
    pub backend: Option<S3Config>,
    /// The spec's path as given, for messages.
    pub path: PathBuf,
    /// `file()` paths are relative to this directory.
    pub base_dir: PathBuf,
    pub text: std::sync::Arc<String>,
    pub source: Source,
    pub variables: BTreeMap<String, Variable>,
    /// Provider instances by name: `aws`, `aws.prod`, and the instances
    /// of keyed provider blocks whose keys are known.
    pub providers: BTreeMap<String, ProviderBlock>,
    /// Provider blocks with `for_each`, by name (`aws.accounts`).
    pub keyed_providers: BTreeMap<String, ProviderBlock>,
    /// Every resource and look-up, by address: blocks without `for_each`
    /// and the instances of those with it whose keys are known.
    pub resources: BTreeMap<Address, ResourceBlock>,
    /// Blocks with `for_each` as declared, by address without a key; their
    /// instances are in `resources` once `expand` knows their keys.
    pub keyed: BTreeMap<Address, ResourceBlock>,
    /// The keyed blocks whose keys are known only after apply, each with
    /// why: planned once they are known (the next apply).
    pub deferred: BTreeMap<Address, String>,
    /// The keyed provider blocks whose keys are known only after apply,
    /// each with why; what they manage waits with them.
    pub deferred_providers: BTreeMap<String, String>,
    /// `[components.NAME]`: the components this spec (or component) uses.
    pub components: BTreeMap<String, ComponentCall>,
    pub outputs: BTreeMap<String, OutputBlock>,
    /// `[meshmon] acknowledge`: warnings accepted per resource.
    pub acknowledge: Vec<Acknowledgement>,
    /// What every `file()` read, by path as written: a saved plan keeps it,
    /// so that apply uses exactly the contents that were reviewed.
    pub files: BTreeMap<String, String>,
    /// `[[moved]]`: recorded objects renamed to a declared address.
    pub moved: Vec<Moved>,
    /// `[[removed]]`: recorded objects no longer declared, forgotten or
    /// destroyed.
    pub removed: Vec<Removed>,
}

/// `[components.NAME]`: a component (a directory holding
/// `component.toml`) used once, or once per key with `for_each`.
#[derive(Clone, Debug)]
pub struct ComponentCall {
    pub name: String,
    /// The component, loaded and checked in its own file.
    pub def: std::sync::Arc<Spec>,
    /// Its variables' values, in the namespace of the spec that uses it.
    pub inputs: BTreeMap<String, Expr>,
    pub for_each: Option<Expr>,
    /// The provider instance each of the component's provider blocks is
    /// (`aws` → `aws.accounts[each.key]`); unnamed ones are the user's own.
    pub providers: BTreeMap<String, String>,
    /// Where the call is written, and in which file.
    pub span: Range<usize>,
    pub source: Source,
    /// Where each input's value is written.
    pub input_spans: BTreeMap<String, Range<usize>>,
}

/// Where a block of a component instance comes from: the component's file
/// (its spans point there) and the instance (`component.m["prod"]`).
#[derive(Clone, Debug)]
pub struct Origin {
    pub source: Source,
    pub instance: String,
}

/// One `[[moved]]` entry: the object recorded at `from` is the one the
/// spec declares at `to`.
#[derive(Clone, Debug)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    pub span: Range<usize>,
}

/// One `[[removed]]` entry: the object recorded at `from` leaves the
/// state; with `destroy = false` it stays in the cloud.
#[derive(Clone, Debug)]
pub struct Removed {
    pub from: Address,
    pub destroy: bool,
    pub span: Range<usize>,
}

/// One `[meshmon] acknowledge` entry: a warning code accepted for these
/// resources.
#[derive(Clone, Debug)]
pub struct Acknowledgement {
    pub warning: String,
    /// Addresses, each with its span in the spec.
    pub resources: Vec<(Address, Range<usize>)>,
    pub reason: Option<String>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    pub value: Value,
    pub sensitive: bool,
    pub description: Option<String>,
}

/// `[providers.NAME]` (a provider's default instance) or
/// `[providers.NAME.INSTANCE]` (a named one, chosen with `provider =
/// "NAME.INSTANCE"`): configuration expressions, evaluated when known.
#[derive(Clone, Debug)]
pub struct ProviderBlock {
    /// How resources choose it: `aws`, `aws.prod`, or for one instance of
    /// a keyed block `aws.accounts["prod"]`.
    pub name: String,
    pub config: SortedMap<Expr>,
    /// `for_each` of a keyed block (in `Spec::keyed_providers`).
    pub for_each: Option<Expr>,
    /// Where the block is declared.
    pub span: Range<usize>,
}

/// `[resources.TYPE.NAME]` or `[data.TYPE.NAME]`, or one instance of a
/// block with `for_each`.
#[derive(Clone, Debug)]
pub struct ResourceBlock {
    /// `for_each`: the keys (and values) of the block's instances. Set on
    /// a keyed block as declared (in `Spec::keyed`), never on an instance.
    /// Boxed, as `each`: most blocks have neither, and a spec holds
    /// every block at once.
    pub for_each: Option<Box<Expr>>,
    /// For an instance of a keyed block: its key and value.
    pub each: Option<Box<(String, Value)>>,
    /// `provider = "NAME.INSTANCE[each.key]"`: `config_block` names the
    /// keyed provider block, and each instance takes its own key's.
    pub provider_each: bool,
    /// For a block of a component instance: where it comes from.
    pub origin: Option<Origin>,
    pub address: Address,
    pub type_name: String,
    pub name: String,
    pub provider: String,
    /// The provider instance that manages it: the name of the
    /// `[providers.…]` block that configures it (`aws`, `aws.prod`,
    /// `aws.accounts["prod"]`), from `provider = "…"` or the provider's
    /// default.
    pub config_block: String,
    pub attrs: SortedMap<Expr>,
    /// Explicit `depends_on` addresses.
    pub depends_on: Vec<Address>,
    pub lifecycle: Lifecycle,
    pub timeouts: Timeouts,
    /// The span of the resource's name in its table header.
    pub span: Range<usize>,
    /// The span of each attribute's value as written, so that a problem
    /// found after loading (a lint, an evaluated value a check refuses)
    /// points at the value rather than at the table.
    pub value_spans: SortedMap<Range<usize>>,
}

impl Spec {
    /// Whether a keyed block takes its keys from other objects (a look-up,
    /// a resource), so that they are known only while planning.
    pub fn keyed_by_objects(&self) -> bool {
        self.keyed.values().any(|b| {
            let mut objects = false;
            if let Some(e) = &b.for_each {
                e.for_each_ref(&mut |r| objects |= r.address().is_some());
            }
            objects
        })
    }
}

impl ResourceBlock {
    /// Where attribute `name`'s value is written; the table header when it
    /// is not written at all.
    pub fn value_span(&self, name: &str) -> Range<usize> {
        self.value_spans
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.span.clone())
    }

    /// Every address this resource needs: references in its attributes,
    /// `depends_on`, and references in its provider's configuration.
    pub fn dependencies(&self, spec: &Spec) -> BTreeSet<Address> {
        let mut deps: BTreeSet<Address> = self.depends_on.iter().cloned().collect();
        for e in self.attrs.values() {
            e.collect_addresses(&mut deps);
        }
        if let Some(p) = spec.providers.get(&self.config_block) {
            for e in p.config.values() {
                e.collect_addresses(&mut deps);
            }
        }
        deps.remove(&self.address);
        // A keyed block named whole (`depends_on = ["TYPE.NAME"]`) is
        // every instance of it; the block itself stays, so that a block
        // whose keys are not known yet defers what needs it.
        let whole: Vec<Address> = deps
            .iter()
            .filter(|d| d.key().is_none() && spec.keyed.contains_key(*d))
            .cloned()
            .collect();
        for d in whole {
            deps.extend(
                spec.resources
                    .range(d.clone()..)
                    .take_while(|(a, _)| a.config() == d)
                    .map(|(a, _)| a.clone()),
            );
        }
        deps
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    pub create_before_destroy: bool,
    pub ignore_changes: Vec<AttrPath>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct OutputBlock {
    pub name: String,
    pub value: Expr,
    pub sensitive: bool,
    pub description: Option<String>,
}

/// An attribute's value as written: a literal, a lone reference (keeps the
/// referenced value's type), a template string, or a list/table of those.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    Ref(RefExpr),
    Template(Vec<Part>),
    List(Vec<Expr>),
    Map(SortedMap<Expr>),
}

impl Expr {
    /// Calls `f` for every reference inside.
    pub fn for_each_ref(&self, f: &mut dyn FnMut(&RefExpr)) {
        match self {
            Expr::Lit(_) => {}
            Expr::Ref(r) => f(r),
            Expr::Template(parts) => {
                for p in parts {
                    if let Part::Ref(r, _) = p {
                        f(r)
                    }
                }
            }
            Expr::List(l) => l.iter().for_each(|e| e.for_each_ref(f)),
            Expr::Map(m) => m.values().for_each(|e| e.for_each_ref(f)),
        }
    }

    pub fn collect_addresses(&self, out: &mut BTreeSet<Address>) {
        self.for_each_ref(&mut |r| {
            if let Some(a) = r.address() {
                out.insert(a);
            }
        });
    }

    /// The expression with references replaced: `f` gives an expression
    /// to stand where a reference was, or `None` to keep it. Inside a
    /// template, a replacement that is a value is interpolated, a
    /// reference stays one and a template is spliced in; a list or table
    /// there is an error naming what was replaced.
    pub fn replace_refs(
        &self,
        f: &mut dyn FnMut(&RefExpr) -> Result<Option<Expr>, String>,
    ) -> Result<Expr, String> {
        Ok(match self {
            Expr::Lit(v) => Expr::Lit(v.clone()),
            Expr::Ref(r) => f(r)?.unwrap_or_else(|| Expr::Ref(r.clone())),
            Expr::Template(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    let Part::Ref(r, span) = p else {
                        out.push(p.clone());
                        continue;
                    };
                    match f(r)? {
                        None => out.push(p.clone()),
                        Some(Expr::Ref(r)) => out.push(Part::Ref(r, span.clone())),
                        Some(Expr::Template(inner)) => out.extend(inner),
                        Some(Expr::Lit(v)) => out.push(Part::Lit(match v.to_interpolated() {
                            Some(text) => text,
                            None if v.is_null() => String::new(),
                            None => {
                                return Err(format!(
                                    "{} is {} {} and cannot be interpolated into a string",
                                    ref_text(r),
                                    article(v.type_name()),
                                    v.type_name()
                                ));
                            }
                        })),
                        Some(_) => {
                            return Err(format!(
                                "{} is a list or a table and cannot be interpolated into a string",
                                ref_text(r)
                            ));
                        }
                    }
                }
                Expr::Template(out)
            }
            Expr::List(items) => Expr::List(
                items
                    .iter()
                    .map(|i| i.replace_refs(f))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Map(m) => Expr::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.replace_refs(f)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// True when the expression refers to nothing (its value is fixed).
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.for_each_ref(&mut |_| constant = false);
        constant
    }
}

pub use crate::addr::valid_name;

/// The name of instance `key` of keyed block `base`: `base["key"]`, the key
/// quoted as in an address.
pub fn keyed_name(base: &str, key: &str) -> String {
    format!(
        "{base}[{}]",
        serde_json::to_string(key).expect("a string serializes")
    )
}

/// "a" or "an" before a type name.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A reference as the spec writes it, for messages.
pub(crate) fn ref_text(r: &RefExpr) -> String {
    match r {
        RefExpr::Var(n) => format!("`var.{n}`"),
        RefExpr::EachKey => "`each.key`".into(),
        RefExpr::EachValue(path) => format!(
            "`{}`",
            meshmon_provider_sdk::format_path("each.value", path)
        ),
        RefExpr::File(_) => "file()".into(),
        RefExpr::Output {
            component,
            key,
            output,
            path,
        } => format!(
            "`component.{component}{}.{}`",
            key.as_ref()
                .map(|k| format!("[{}]", serde_json::to_string(k).unwrap_or_default()))
                .unwrap_or_default(),
            meshmon_provider_sdk::format_path(output, path)
        ),
        RefExpr::Attr {
            target, attr, path, ..
        } => format!(
            "`{target}.{}`",
            meshmon_provider_sdk::format_path(attr, path)
        ),
    }
}
