//! One resource's change: the spec's inputs for it, evaluated over what is
//! planned so far, against its refreshed record; or the delete of a record
//! the spec no longer declares.

use super::*;

pub(super) fn deletion(
    registry: &Registry,
    addr: &Address,
    r: &crate::state::ResourceState,
) -> Change {
    Change {
        address: addr.clone(),
        type_name: r.type_name.as_str().into(),
        provider: r.provider.as_str().into(),
        instance: r.instance_name(registry).into(),
        recorded_instance: r.instance.clone(),
        action: Action::Delete,
        before: None,
        after: None,
        inputs: None,
        sensitive: r.sensitive_attributes.iter().cloned().collect(),
        replace_because: Vec::new(),
        notes: Vec::new(),
        create_before_destroy: false,
        dependencies: r.dependencies.clone(),
        deposed: None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn plan_resource(
    spec: &Spec,
    registry: &Registry,
    block: &ResourceBlock,
    existing: Option<&crate::state::ResourceState>,
    graph: &Graph,
    known: &Planning<'_>,
    options: &PlanOptions,
    advise: &Advisor<'_>,
) -> Result<Change, PlanError> {
    let schema = registry
        .schema_at(&block.address)
        .expect("types are checked when the spec loads");
    let scope = Scope {
        vars: &spec.variables,
        resources: known,
    };
    let (mut desired, mut sensitive) = scope
        .inputs(schema, &block.attrs)
        .map_err(|e| PlanError::input(spec, block, &e))?;
    let dependencies = graph.dependencies(&block.address);
    let mut change = Change {
        address: block.address.clone(),
        type_name: block.type_name.as_str().into(),
        provider: block.provider.as_str().into(),
        instance: block.config_block.as_str().into(),
        recorded_instance: existing.and_then(|r| r.instance.clone()),
        action: Action::NoOp,
        before: None,
        after: None,
        inputs: None,
        sensitive: BTreeSet::new(),
        replace_because: Vec::new(),
        notes: Vec::new(),
        create_before_destroy: block.lifecycle.create_before_destroy,
        dependencies,
        deposed: None,
    };
    if block.address.is_data() {
        change.action = Action::Read;
        change.before = existing.map(|r| r.attributes());
        let mut after = desired.clone();
        for a in schema.attributes.iter().filter(|a| a.computed) {
            after.entry(a.name.to_string()).or_insert(Value::Unknown);
        }
        change.after = Some(after);
        change.inputs = Some(desired);
        change.sensitive = sensitive;
        return Ok(change);
    }
    let Some(prior) = existing else {
        let advice = advise(block, None, &desired);
        change.action = Action::Create;
        change.notes = advice.notes;
        let mut after = desired.clone();
        for a in schema.attributes.iter().filter(|a| a.computed) {
            if !after.contains_key(a.name) {
                after.insert(a.name.to_string(), Value::Unknown);
            }
        }
        change.after = Some(after);
        change.inputs = Some(desired);
        change.sensitive = sensitive;
        return Ok(change);
    };
    sensitive.extend(prior.sensitive_attributes.iter().cloned());

    // Attributes the user left to the provider keep what the provider chose,
    // and ignore_changes keeps the recorded value whatever the spec says.
    for a in schema
        .attributes
        .iter()
        .filter(|a| a.settable && a.computed)
    {
        if !desired.contains_key(a.name)
            && let Some(v) = prior.inputs.get(a.name)
        {
            desired.insert(a.name.to_string(), v.clone());
        }
    }
    for ignored in &block.lifecycle.ignore_changes {
        ignored.copy_from(&mut desired, &prior.inputs);
    }

    let mut changed_force_new = Vec::new();
    let mut changed = false;
    for a in schema.settable() {
        let want = desired.get(a.name).unwrap_or(&Value::Null);
        let have = prior.inputs.get(a.name).unwrap_or(&Value::Null);
        if !compare::equal(&a.ty, want, have) {
            changed = true;
            if a.force_new {
                changed_force_new.push(a.name.to_string());
            }
        }
    }
    let current = prior.current();
    let advice = advise(block, Some(&current), &desired);
    change.notes = advice.notes.clone();
    let mut because = changed_force_new;
    if prior.status == Status::Tainted {
        because.push("tainted by a failed operation".into());
    }
    if options.replace.contains(&block.address) {
        because.push("requested with --replace".into());
    }
    if let Some(reason) = advice.replace_because.clone() {
        because.push(reason);
    }
    if !because.is_empty() {
        change.action = Action::Replace;
        change.replace_because = because;
        let mut after = desired.clone();
        for a in schema.attributes.iter().filter(|a| a.computed) {
            if !(a.settable && block.attrs.contains_key(a.name)) {
                after.insert(a.name.to_string(), Value::Unknown);
            }
        }
        change.after = Some(after);
    } else {
        change.action = if changed {
            Action::Update
        } else {
            Action::NoOp
        };
        let mut after = prior.outputs.clone();
        if changed {
            for name in &advice.unknown_after_update {
                after.insert(name.clone(), Value::Unknown);
            }
        }
        for (k, v) in &desired {
            after.insert(k.clone(), v.clone());
        }
        change.after = Some(after);
    }
    // Apply sends these inputs. A no-op sends nothing, and what it was
    // its refreshed record says (`Plan::before`).
    if change.action != Action::NoOp {
        change.inputs = Some(desired);
        change.before = Some(prior.attributes());
    }
    change.sensitive = sensitive;
    Ok(change)
}
