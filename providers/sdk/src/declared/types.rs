//! The list of a provider's resource types, and the check that holds each
//! declaration to its schema.

use std::sync::Arc;

use super::{Adapter, Declaration, Declared, DeclaredOutputs};
use crate::attrs::typed;
use crate::lookup::{DeclaredLookup, LookupAdapter};
use crate::resource::Lookup;
use crate::resource::Resource;
use crate::schema::{AttrType, Attribute, Schema};
use crate::value::{Map, Value};

/// One type a provider offers, a resource type or a look-up: its name,
/// its schema, and how to make it from the provider's clients.
pub struct TypeEntry<C: ?Sized> {
    pub type_name: &'static str,
    pub schema: fn() -> Schema,
    make: Make<C>,
    check: Option<fn() -> Result<(), String>>,
}

/// How an entry becomes an operation.
enum Make<C: ?Sized> {
    Resource(fn(&Arc<C>) -> Arc<dyn Resource>),
    Lookup(fn(&Arc<C>) -> Arc<dyn Lookup>),
}

impl<C: Send + Sync + ?Sized + 'static> TypeEntry<C> {
    /// A [`Declared`] type.
    pub fn declared<T: Declared<Client = C>>() -> Self {
        TypeEntry {
            type_name: T::Inputs::TYPE_NAME,
            schema: T::Inputs::schema,
            make: Make::Resource(|c| Arc::new(Adapter(T::new(c.clone())))),
            check: Some(check_declared::<T>),
        }
    }

    /// A type that implements [`Resource`] itself, from a declaration of
    /// its inputs `I` and outputs `O`.
    pub fn custom<I: Declaration, O: DeclaredOutputs>(
        make: fn(&Arc<C>) -> Arc<dyn Resource>,
    ) -> Self {
        TypeEntry {
            type_name: I::TYPE_NAME,
            schema: I::schema,
            make: Make::Resource(make),
            check: Some(|| check_outputs::<O>(&I::schema())),
        }
    }

    /// A [`DeclaredLookup`]: a type that only reads.
    pub fn lookup<T: DeclaredLookup<Client = C>>() -> Self {
        TypeEntry {
            type_name: T::Inputs::TYPE_NAME,
            schema: T::Inputs::schema,
            make: Make::Lookup(|c| Arc::new(LookupAdapter(T::new(c.clone())))),
            check: Some(check_lookup::<T>),
        }
    }

    fn is_lookup(&self) -> bool {
        matches!(self.make, Make::Lookup(_))
    }
}

/// A provider's resource types and look-ups: the one list its schemas and
/// its operations both come from.
pub struct Types<C: ?Sized>(pub Vec<TypeEntry<C>>);

impl<C: Send + Sync + ?Sized + 'static> Types<C> {
    /// The resource types' schemas.
    pub fn schemas(&self) -> Vec<Schema> {
        self.0
            .iter()
            .filter(|t| !t.is_lookup())
            .map(|t| (t.schema)())
            .collect()
    }

    /// The look-ups' schemas.
    pub fn lookup_schemas(&self) -> Vec<Schema> {
        self.0
            .iter()
            .filter(|t| t.is_lookup())
            .map(|t| (t.schema)())
            .collect()
    }

    /// The resource type `type_name`, made from `client`.
    pub fn resource(&self, type_name: &str, client: &Arc<C>) -> Option<Arc<dyn Resource>> {
        self.0.iter().find_map(|t| match t.make {
            Make::Resource(make) if t.type_name == type_name => Some(make(client)),
            _ => None,
        })
    }

    /// The look-up `type_name`, made from `client`.
    pub fn lookup(&self, type_name: &str, client: &Arc<C>) -> Option<Arc<dyn Lookup>> {
        self.0.iter().find_map(|t| match t.make {
            Make::Lookup(make) if t.type_name == type_name => Some(make(client)),
            _ => None,
        })
    }

    /// Checks the list and every declaration in it; for a provider's unit
    /// tests. Names are unique (a resource type and a look-up may share
    /// one) and agree with the schemas; a declared type's inputs decode
    /// from its schema's attributes, its outputs are its computed
    /// attributes, its ID is one of them, and each attribute it can change
    /// in place is in exactly one update group. A look-up's attributes are
    /// its search keys and what it finds: none forces anything.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.0 {
            let kind = if t.is_lookup() { "look-up" } else { "type" };
            if !seen.insert((t.type_name, t.is_lookup())) {
                return Err(format!("{kind} {} is registered twice", t.type_name));
            }
            let schema = (t.schema)();
            if schema.type_name != t.type_name {
                return Err(format!(
                    "{} is registered with the schema of {}",
                    t.type_name, schema.type_name
                ));
            }
            if let Some(check) = t.check {
                check().map_err(|e| format!("{kind} {}: {e}", t.type_name))?;
            }
        }
        Ok(())
    }
}

/// A look-up's declaration: its keys decode, its outputs are its computed
/// attributes, and nothing in it forces a replacement or is a secret
/// default (a look-up never changes anything).
fn check_lookup<T: DeclaredLookup>() -> Result<(), String> {
    let schema = T::Inputs::schema();
    decodes::<T::Inputs>(&schema)?;
    check_outputs::<T::Outputs>(&schema)?;
    if let Some(a) = schema.attributes.iter().find(|a| a.force_new) {
        return Err(format!(
            "`{}` is force_new, which means nothing for a look-up",
            a.name
        ));
    }
    Ok(())
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

/// Checks a declaration that is not a resource type's: a provider's
/// configuration block. Its struct decodes from its schema's attributes,
/// as [`Types::check`] makes sure of a resource type's inputs.
pub fn check_block<D: Declaration>() -> Result<(), String> {
    decodes::<D>(&D::schema()).map_err(|e| format!("{}: {e}", D::TYPE_NAME))
}

/// The declaration's struct decodes from a sample of only the required
/// attributes, and from a sample of all of them.
fn decodes<D: Declaration>(schema: &Schema) -> Result<(), String> {
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
        match typed::<D>(&inputs) {
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
    decodes(&|_| true).map_err(|e| format!("every attribute: {e}"))
}

fn check_declared<T: Declared>() -> Result<(), String> {
    let schema = T::Inputs::schema();
    decodes::<T::Inputs>(&schema)?;
    check_outputs::<T::Outputs>(&schema)?;
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

/// Every field of the outputs struct is a computed attribute, and every
/// attribute only the provider sets is a field.
fn check_outputs<O: DeclaredOutputs>(schema: &Schema) -> Result<(), String> {
    let Some(fields) = O::fields() else {
        return Ok(());
    };
    for f in &fields {
        match schema.get(f) {
            Some(a) if a.computed => {}
            _ => {
                return Err(format!(
                    "the outputs field `{f}` is not a computed attribute (declare it with `computed(…)`, or mark the input `and_computed()`)"
                ));
            }
        }
    }
    for a in schema.attributes.iter().filter(|a| a.is_output_only()) {
        if !fields.contains(&a.name) {
            return Err(format!(
                "the computed attribute `{}` has no field in the outputs",
                a.name
            ));
        }
    }
    Ok(())
}
