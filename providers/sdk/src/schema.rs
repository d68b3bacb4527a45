//! Resource and provider schemas: what each attribute is, whether the user
//! sets it or the provider computes it, and whether changing it forces a
//! replacement. The engine validates specs and diffs plans from these alone,
//! so a schema that marks an in-place-updatable attribute `force_new` turns
//! every edit into a destroy and re-create.

use crate::value::{Map, Value};

/// The type of an attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrType {
    String,
    Int,
    Float,
    Bool,
    List(Box<AttrType>),
    Map(Box<AttrType>),
    /// A JSON document written as a TOML table or a JSON string; compared
    /// semantically (key order and whitespace are not changes).
    Json,
    /// A YAML document (one or many); compared semantically.
    Yaml,
    /// Any value; compared structurally.
    Any,
}

impl AttrType {
    pub fn list_of(t: AttrType) -> Self {
        AttrType::List(Box::new(t))
    }

    pub fn map_of(t: AttrType) -> Self {
        AttrType::Map(Box::new(t))
    }

    /// Human name used in diagnostics ("expected a list of strings").
    pub fn describe(&self) -> String {
        match self {
            AttrType::String => "a string".into(),
            AttrType::Int => "an integer".into(),
            AttrType::Float => "a number".into(),
            AttrType::Bool => "a boolean".into(),
            AttrType::List(t) => format!("a list of {}", t.describe_plural()),
            AttrType::Map(t) => format!("a table of {}", t.describe_plural()),
            AttrType::Json => "a JSON document (a table or a JSON string)".into(),
            AttrType::Yaml => "a YAML document (a string)".into(),
            AttrType::Any => "any value".into(),
        }
    }

    fn describe_plural(&self) -> String {
        match self {
            AttrType::String => "strings".into(),
            AttrType::Int => "integers".into(),
            AttrType::Float => "numbers".into(),
            AttrType::Bool => "booleans".into(),
            AttrType::Any => "values".into(),
            other => other.describe(),
        }
    }

    /// Checks a fully known value against this type. `Unknown` anywhere is
    /// accepted: it is checked again once known.
    pub fn accepts(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Unknown) | (_, Value::Null) | (AttrType::Any, _) => true,
            (AttrType::String, Value::String(_)) => true,
            (AttrType::Int, Value::Int(_)) => true,
            (AttrType::Float, Value::Int(_) | Value::Float(_)) => true,
            (AttrType::Bool, Value::Bool(_)) => true,
            (AttrType::List(t), Value::List(l)) => l.iter().all(|e| t.accepts(e)),
            (AttrType::Map(t), Value::Map(m)) => m.values().all(|e| t.accepts(e)),
            (AttrType::Json, Value::String(_) | Value::Map(_) | Value::List(_)) => true,
            (AttrType::Yaml, Value::String(_)) => true,
            _ => false,
        }
    }
}

/// A check of a known value beyond its type ("a duration", "an octal
/// mode"), run when the spec is validated and again once interpolations are
/// known. The message says what was expected and never repeats the value,
/// which may be secret.
pub type Check = fn(&Value) -> Result<(), String>;

/// A check of several attributes of one block together ("a dashboard
/// comes from `config_json` or from `gnet_id`"), run like an attribute's
/// [`Check`]: when the spec is validated, on the values written as
/// literals, and again once interpolations are known. It is given the
/// block's values with defaults filled in; an `Err` names the attribute to
/// point at and says what is wrong, never repeating a value.
pub type InputsCheck = fn(&Map) -> Result<(), (&'static str, String)>;

/// An [`InputsCheck`] and the attributes it reads: it runs once none of
/// them is unknown.
#[derive(Clone, Debug)]
pub struct BlockCheck {
    pub reads: &'static [&'static str],
    pub check: InputsCheck,
}

/// One attribute of a resource or provider configuration.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub description: &'static str,
    /// The user must set it.
    pub required: bool,
    /// The user may set it (required implies settable).
    pub settable: bool,
    /// The provider sets it; when also settable, the user's value wins.
    pub computed: bool,
    /// Changing it destroys and re-creates the resource.
    pub force_new: bool,
    /// Shown as `(sensitive)` everywhere but the state file.
    pub sensitive: bool,
    /// Applied when the user leaves it out.
    pub default: Option<Value>,
    /// What a known, non-null value must satisfy beyond its type.
    pub check: Option<Check>,
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType) -> Self {
        Attribute {
            name,
            ty,
            description: "",
            required: false,
            settable: true,
            computed: false,
            force_new: false,
            sensitive: false,
            default: None,
            check: None,
        }
    }

    /// An attribute the user must set.
    pub fn required(name: &'static str, ty: AttrType) -> Self {
        Attribute {
            required: true,
            ..Self::new(name, ty)
        }
    }

    /// An attribute the user may set.
    pub fn optional(name: &'static str, ty: AttrType) -> Self {
        Self::new(name, ty)
    }

    /// An attribute only the provider sets.
    pub fn computed(name: &'static str, ty: AttrType) -> Self {
        Attribute {
            settable: false,
            computed: true,
            ..Self::new(name, ty)
        }
    }

    /// Also computed by the provider when the user leaves it out.
    pub fn and_computed(mut self) -> Self {
        self.computed = true;
        self
    }

    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }

    /// Validates known values with `f` at plan time, before any apply.
    pub fn check(mut self, f: Check) -> Self {
        self.check = Some(f);
        self
    }

    /// Runs the check on a fully known value; `Unknown` and null pass.
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        match self.check {
            Some(f) if !v.is_null() && !v.contains_unknown() => f(v),
            _ => Ok(()),
        }
    }

    pub fn describe(mut self, text: &'static str) -> Self {
        self.description = text;
        self
    }

    /// Only computed, never written by the user.
    pub fn is_output_only(&self) -> bool {
        self.computed && !self.settable
    }
}

/// The schema of one resource type, or of a provider's configuration block.
#[derive(Clone, Debug)]
pub struct Schema {
    pub type_name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
    /// Checks of several attributes together.
    pub checks: Vec<BlockCheck>,
}

impl Schema {
    pub fn new(type_name: &'static str, description: &'static str) -> Self {
        Schema {
            type_name,
            description,
            attributes: Vec::new(),
            checks: Vec::new(),
        }
    }

    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    /// Adds a check of the attributes `reads` together.
    pub fn checked(mut self, reads: &'static [&'static str], check: InputsCheck) -> Self {
        self.checks.push(BlockCheck { reads, check });
        self
    }

    /// Runs the block's checks on `inputs`, with defaults filled in for
    /// what is left out or null; a check that reads an unknown value
    /// passes, to run again once it is known.
    pub fn check_inputs(&self, inputs: &Map) -> Result<(), (&'static str, String)> {
        if self.checks.is_empty() {
            return Ok(());
        }
        let mut full = inputs.clone();
        for a in self.settable() {
            if let Some(d) = &a.default
                && full.get(a.name).is_none_or(Value::is_null)
            {
                full.insert(a.name.to_string(), d.clone());
            }
        }
        for c in &self.checks {
            let known = c
                .reads
                .iter()
                .all(|r| !full.get(*r).is_some_and(Value::contains_unknown));
            if known {
                (c.check)(&full)?;
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The names of the attributes that `keep` selects, e.g. the sensitive ones.
    pub fn names(&self, keep: impl Fn(&Attribute) -> bool) -> impl Iterator<Item = String> {
        self.attributes
            .iter()
            .filter(move |a| keep(a))
            .map(|a| a.name.to_string())
    }

    pub fn settable(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter().filter(|a| a.settable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_two(m: &Map) -> Result<(), (&'static str, String)> {
        match (m.contains_key("a"), m.contains_key("b")) {
            (true, true) => Err(("b", "is set together with `a`".into())),
            (false, false) => Err(("a", "is missing, and so is `b`".into())),
            _ => Ok(()),
        }
    }

    #[test]
    fn block_checks_wait_for_what_they_read_and_see_defaults() {
        let s = Schema::new("t", "")
            .attr(Attribute::optional("a", AttrType::String))
            .attr(Attribute::optional("b", AttrType::String))
            .checked(&["a", "b"], one_of_two);
        let m = |pairs: &[(&str, Value)]| -> Map {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        assert_eq!(s.check_inputs(&m(&[("a", "x".into())])), Ok(()));
        assert_eq!(
            s.check_inputs(&m(&[("a", "x".into()), ("b", "y".into())])),
            Err(("b", "is set together with `a`".to_string()))
        );
        assert_eq!(
            s.check_inputs(&Map::new()).unwrap_err().0,
            "a",
            "nothing set"
        );
        // Unknown until apply: checked then.
        assert_eq!(
            s.check_inputs(&m(&[("a", "x".into()), ("b", Value::Unknown)])),
            Ok(())
        );
        let defaulted = Schema::new("t", "")
            .attr(Attribute::optional("a", AttrType::String).default("x"))
            .attr(Attribute::optional("b", AttrType::String))
            .checked(&["a", "b"], one_of_two);
        assert!(defaulted.check_inputs(&m(&[("b", "y".into())])).is_err());
    }
}
