//! Reads an XML body (`rest-xml`: S3's payloads such as
//! `CreateBucketConfiguration`) into the tree the model describes, member
//! names as keys and text as strings, guided by the shape: wrapped lists
//! (`<TagSet><Tag>…</Tag></TagSet>`), flattened lists (the element
//! repeated), maps as `entry`/`key`/`value`. An element no member is sent
//! as is reported, as a JSON key would be; attributes (S3's
//! `xsi:type` on a grantee) are not read.

use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use serde_json::{Map, Value};

use super::check::{Problem, Rule};
use super::model::{Model, ShapeRef};

/// The element name of a member.
fn xml_name<'a>(name: &'a str, r: &'a ShapeRef) -> &'a str {
    r.location_name.as_deref().unwrap_or(name)
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

struct Reader<'m> {
    model: &'m Model,
    problems: Vec<Problem>,
}

/// The document's root element read as the payload member `name`, which
/// refers (`r`) to a structure; the root must be that member's element.
pub(super) fn read(
    model: &Model,
    name: &str,
    r: &ShapeRef,
    body: &[u8],
) -> Result<(Value, Vec<Problem>), String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let mut doc = Document::new(text);
    let mut root = doc
        .root_element()
        .map_err(|e| format!("the body is not XML: {e}"))?;
    let mut reader = Reader {
        model,
        problems: Vec::new(),
    };
    let expected = xml_name(name, r);
    let tag = root.start_el().local().to_string();
    if tag != expected {
        reader.problems.push(Problem {
            member: name.to_string(),
            rule: Rule::Type,
            detail: format!("the body's root element is <{tag}>, {name} is sent as <{expected}>"),
        });
    }
    let value = reader.element(r, &mut root, name);
    Ok((value, reader.problems))
}

/// The members of the input structure `shape_name` read from the children
/// of the root element, for a `rest-xml` operation without a payload
/// member.
pub(super) fn members(
    model: &Model,
    shape_name: &str,
    dec: &mut ScopedDecoder,
) -> (Map<String, Value>, Vec<Problem>) {
    let mut reader = Reader {
        model,
        problems: Vec::new(),
    };
    let obj = reader.members(shape_name, dec, "");
    (obj, reader.problems)
}

impl Reader<'_> {
    fn members(
        &mut self,
        shape_name: &str,
        dec: &mut ScopedDecoder,
        path: &str,
    ) -> Map<String, Value> {
        let model = self.model;
        let mut obj = Map::new();
        let Some(shape) = model.shape(shape_name) else {
            return obj;
        };
        while let Some(mut el) = dec.next_tag() {
            let tag = el.start_el().local().to_string();
            let found = shape
                .members
                .iter()
                .find(|(n, m)| m.location.is_none() && !m.xml_attribute && xml_name(n, m) == tag);
            let Some((name, m)) = found else {
                self.problems.push(Problem {
                    member: child(path, &tag),
                    rule: Rule::Unknown,
                    detail: format!("{shape_name} has no member sent as <{tag}>"),
                });
                continue;
            };
            let at = child(path, name);
            let list = model.shape(&m.shape).filter(|s| s.kind == "list");
            let flattened = list.is_some_and(|s| s.flattened || m.flattened);
            if flattened {
                let index = obj
                    .get(name.as_str())
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let item = match list.and_then(|s| s.member.as_deref()) {
                    Some(r) => self.element(r, &mut el, &format!("{at}[{index}]")),
                    None => Value::Null,
                };
                match obj
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => items.push(item),
                    other => *other = Value::Array(vec![item]),
                }
            } else {
                let value = self.element(m, &mut el, &at);
                obj.insert(name.clone(), value);
            }
        }
        obj
    }

    fn element(&mut self, r: &ShapeRef, dec: &mut ScopedDecoder, path: &str) -> Value {
        let model = self.model;
        let Some(shape) = model.shape(&r.shape) else {
            return Value::Null;
        };
        match shape.kind.as_str() {
            "structure" => Value::Object(self.members(&r.shape, dec, path)),
            "list" => {
                let mut items = Vec::new();
                if let Some(member) = shape.member.as_deref() {
                    let item_name = member.location_name.as_deref().unwrap_or("member");
                    while let Some(mut el) = dec.next_tag() {
                        let at = format!("{path}[{}]", items.len());
                        let tag = el.start_el().local().to_string();
                        if tag != item_name {
                            self.problems.push(Problem {
                                member: at,
                                rule: Rule::Unknown,
                                detail: format!(
                                    "the items of {} are sent as <{item_name}>, not <{tag}>",
                                    r.shape
                                ),
                            });
                            continue;
                        }
                        items.push(self.element(member, &mut el, &at));
                    }
                }
                Value::Array(items)
            }
            "map" => {
                let mut obj = Map::new();
                let (Some(k), Some(v)) = (shape.key.as_deref(), shape.value.as_deref()) else {
                    return Value::Object(obj);
                };
                let (kn, vn) = (xml_name("key", k), xml_name("value", v));
                while let Some(mut entry) = dec.next_tag() {
                    let (mut key, mut value) = (String::new(), Value::Null);
                    while let Some(mut part) = entry.next_tag() {
                        let tag = part.start_el().local().to_string();
                        if tag == kn {
                            key = try_data(&mut part)
                                .map(|s| s.into_owned())
                                .unwrap_or_default();
                        } else if tag == vn {
                            value = self.element(v, &mut part, &format!("{path}[{key:?}]"));
                        }
                    }
                    obj.insert(key, value);
                }
                Value::Object(obj)
            }
            _ => try_data(dec)
                .map(|s| Value::String(s.into_owned()))
                .unwrap_or(Value::Null),
        }
    }
}
