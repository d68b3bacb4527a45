//! Reads the input of a REST (`rest-json`, `rest-xml`) or `json` request
//! from where the model says each member travels: URI labels, query
//! parameters, headers (one, or a prefixed map such as `x-amz-meta-`),
//! and the body (JSON members, an XML document, or one payload member).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::check::{Input, Problem, Rule, Src};
use super::model::{Model, Operation, Shape};
use super::route::header;
use super::xml;
use crate::http::{Request, decode};

fn problem(out: &mut Input, member: &str, rule: Rule, detail: String) {
    out.problems.push(Problem {
        member: member.to_string(),
        rule,
        detail,
    });
}

/// The body members of a `json` or `rest-json` request, by wire name.
fn json_members(shape: &Shape, shape_name: &str, body: &[u8], out: &mut Input) {
    if body.is_empty() {
        return;
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return problem(out, "", Rule::Type, format!("the body is not JSON: {e}")),
    };
    let Value::Object(obj) = value else {
        return problem(out, "", Rule::Type, "the body is not a JSON object".into());
    };
    for (key, v) in obj {
        let member = shape
            .members
            .iter()
            .find(|(n, m)| m.location.is_none() && m.location_name.as_deref().unwrap_or(n) == key);
        match member {
            Some((name, _)) => {
                out.members.insert(name.clone(), (v, Src::Json));
            }
            None => problem(
                out,
                &key,
                Rule::Unknown,
                format!("{shape_name} has no body member {key}"),
            ),
        }
    }
}

/// The input of a `json` request: its body.
pub(super) fn json_input(model: &Model, op: &Operation, req: &Request) -> Input {
    let mut out = Input::default();
    if let Some(r) = &op.input
        && let Some(shape) = model.shape(&r.shape)
    {
        json_members(shape, &r.shape, &req.body, &mut out);
    }
    out
}

/// The input of a REST request whose URI bound `labels`.
pub(super) fn rest_input(
    model: &Model,
    op: &Operation,
    req: &Request,
    labels: &[(String, String)],
) -> Input {
    let mut out = Input::default();
    let Some(r) = &op.input else {
        return out;
    };
    let Some(shape) = model.shape(&r.shape) else {
        return out;
    };
    let mut bound: BTreeSet<&str> = BTreeSet::new();
    let mut query_map = None;
    for (name, m) in &shape.members {
        let wire = m.location_name.as_deref().unwrap_or(name);
        let target = model.shape(&m.shape);
        let is_list = target.is_some_and(|s| s.kind == "list");
        let value = match m.location.as_deref() {
            Some("uri") => labels
                .iter()
                .find(|(l, _)| l == wire)
                .map(|(_, raw)| (Value::String(decode(raw)), Src::Uri)),
            Some("querystring") if target.is_some_and(|s| s.kind == "map") => {
                query_map = Some(name);
                None
            }
            Some("querystring") => {
                bound.insert(wire);
                let values: Vec<Value> = req
                    .query
                    .iter()
                    .filter(|(k, _)| k == wire)
                    .map(|(_, v)| Value::String(v.clone()))
                    .collect();
                match (is_list, values.first()) {
                    (_, None) => None,
                    (true, Some(_)) => Some((Value::Array(values), Src::Uri)),
                    (false, Some(v)) => Some((v.clone(), Src::Uri)),
                }
            }
            Some("header") => header(req, wire).map(|v| {
                let value = if is_list {
                    Value::Array(
                        v.split(',')
                            .map(|s| Value::String(s.trim().to_string()))
                            .collect(),
                    )
                } else {
                    Value::String(v.to_string())
                };
                (value, Src::Header)
            }),
            Some("headers") => {
                let prefix = wire.to_ascii_lowercase();
                let map: Map<String, Value> = req
                    .headers
                    .iter()
                    .filter(|(k, _)| k.to_ascii_lowercase().starts_with(&prefix))
                    .map(|(k, v)| (k[prefix.len()..].to_string(), Value::String(v.clone())))
                    .collect();
                (!map.is_empty()).then_some((Value::Object(map), Src::Header))
            }
            _ => None,
        };
        if let Some(v) = value {
            out.members.insert(name.clone(), v);
        }
    }
    if let Some(name) = query_map {
        let map: Map<String, Value> = req
            .query
            .iter()
            .filter(|(k, _)| !bound.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if !map.is_empty() {
            out.members
                .insert(name.clone(), (Value::Object(map), Src::Uri));
        }
    }
    let xml = model.protocol() == "rest-xml";
    match shape
        .payload
        .as_ref()
        .and_then(|p| Some((p, shape.members.get(p)?)))
    {
        Some((name, m)) => {
            if req.body.is_empty() {
                return out;
            }
            let kind = model.shape(&m.shape).map(|s| s.kind.as_str());
            let value = match kind {
                Some("structure") if xml => match xml::read(model, name, m, &req.body) {
                    Ok((v, problems)) => {
                        out.problems.extend(problems);
                        (v, Src::Xml)
                    }
                    Err(e) => {
                        problem(&mut out, name, Rule::Type, e);
                        return out;
                    }
                },
                Some("structure") => match serde_json::from_slice(&req.body) {
                    Ok(v) => (v, Src::Json),
                    Err(e) => {
                        problem(
                            &mut out,
                            name,
                            Rule::Type,
                            format!("the body is not JSON: {e}"),
                        );
                        return out;
                    }
                },
                _ => (
                    Value::String(String::from_utf8_lossy(&req.body).into_owned()),
                    Src::Raw,
                ),
            };
            out.members.insert(name.clone(), value);
        }
        None if xml => {
            if !req.body.is_empty() {
                let text = String::from_utf8_lossy(&req.body).into_owned();
                let mut doc = aws_smithy_xml::decode::Document::new(&text);
                match doc.root_element() {
                    Ok(mut root) => {
                        let (members, problems) = xml::members(model, &r.shape, &mut root);
                        for (k, v) in members {
                            out.members.insert(k, (v, Src::Xml));
                        }
                        out.problems.extend(problems);
                    }
                    Err(e) => problem(
                        &mut out,
                        "",
                        Rule::Type,
                        format!("the body is not XML: {e}"),
                    ),
                }
            }
        }
        None => json_members(shape, &r.shape, &req.body, &mut out),
    }
    out
}
