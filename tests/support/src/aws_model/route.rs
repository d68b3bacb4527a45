//! Which service and operation a request is: the service from the SigV4
//! credential scope, the operation by the service's protocol (the form's
//! `Action` for `query` and `ec2`, `X-Amz-Target` for `json`, the method
//! and the `requestUri` templates for the REST protocols).

use super::model::{Model, Operation};
use crate::http::{Request, decode};

/// A header's value, whatever the case of its name.
pub(super) fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The signing name in a SigV4 credential scope
/// (`KEY/DATE/REGION/SERVICE/aws4_request`), from the `Authorization`
/// header or a presigned URL's `X-Amz-Credential`; SigV4a scopes have no
/// region (`KEY/DATE/SERVICE/aws4_request`).
pub fn signing_name(req: &Request) -> Option<String> {
    let credential = match header(req, "authorization") {
        Some(auth) => {
            let start = auth.find("Credential=")? + "Credential=".len();
            auth[start..].split([',', ' ']).next()?.to_string()
        }
        None => req
            .query
            .iter()
            .find(|(k, _)| k == "X-Amz-Credential")?
            .1
            .clone(),
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let end = parts.iter().position(|p| *p == "aws4_request")?;
    (end >= 1 && !parts[end - 1].is_empty()).then(|| parts[end - 1].to_string())
}

/// A form body (or query string) as pairs, `+` read as a space.
pub(super) fn form_pairs(text: &str) -> Vec<(String, String)> {
    crate::http::pairs(text, true)
}

/// The parameters of a `query` or `ec2` request: its form body, or for a
/// GET its query string.
pub(super) fn query_params(req: &Request) -> Vec<(String, String)> {
    if req.method == "GET" && req.body.is_empty() {
        req.query.clone()
    } else {
        form_pairs(&String::from_utf8_lossy(&req.body))
    }
}

/// The URI labels a REST request binds: label name → raw, still
/// percent-encoded value.
pub(super) type Labels = Vec<(String, String)>;

/// How closely a `requestUri` template fits: literal query keys, literal
/// segments, no greedy label.
type TemplateFit = (usize, usize, bool);

/// The operation a request calls, and for REST protocols the URI labels
/// it binds (label name → raw, still percent-encoded value); or why none
/// matches.
pub(super) fn operation<'m>(
    model: &'m Model,
    req: &Request,
) -> Result<(&'m Operation, Labels), String> {
    match model.protocol() {
        "query" | "ec2" => {
            let params = query_params(req);
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.as_str())
                .ok_or("the request names no Action")?;
            if let Some((_, v)) = params.iter().find(|(k, _)| k == "Version")
                && *v != model.metadata.api_version
            {
                return Err(format!(
                    "Version {v} is not the model's API version {}",
                    model.metadata.api_version
                ));
            }
            let op = model
                .operations
                .get(action)
                .ok_or_else(|| format!("{} has no action {action}", model.service))?;
            Ok((op, Vec::new()))
        }
        "json" => {
            let target = header(req, "x-amz-target").ok_or("the request has no X-Amz-Target")?;
            let (prefix, name) = target
                .rsplit_once('.')
                .ok_or_else(|| format!("X-Amz-Target {target} is not PREFIX.Operation"))?;
            if model.metadata.target_prefix.as_deref() != Some(prefix) {
                return Err(format!(
                    "X-Amz-Target prefix {prefix} is not {}",
                    model.metadata.target_prefix.as_deref().unwrap_or("(none)")
                ));
            }
            let op = model
                .operations
                .get(name)
                .ok_or_else(|| format!("{} has no operation {name}", model.service))?;
            Ok((op, Vec::new()))
        }
        _ => rest_operation(model, req),
    }
}

/// The bucket of a virtual-hosted S3 request (`BUCKET.s3.REGION.amazonaws.com`,
/// `BUCKET.s3.amazonaws.com`, `BUCKET.localhost`); `None` for path style.
pub(super) fn virtual_bucket(host: &str) -> Option<String> {
    let name = if host.starts_with('[') {
        return None;
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(host)
    };
    if name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" {
        return None;
    }
    if let Some(i) = name.find(".s3.").or_else(|| name.find(".s3-")) {
        return Some(name[..i].to_string());
    }
    name.strip_suffix(".localhost").map(str::to_string)
}

/// The raw path segments of a request, with a virtual-hosted bucket put
/// first as path-style requests have it.
fn raw_segments(model: &Model, req: &Request) -> Vec<String> {
    let path = req.target.split('?').next().unwrap_or_default();
    let mut segs: Vec<String> = match path.strip_prefix('/').unwrap_or(path) {
        "" => Vec::new(),
        p => p.split('/').map(str::to_string).collect(),
    };
    if model.service == "s3"
        && let Some(bucket) = header(req, "host").and_then(virtual_bucket)
    {
        segs.insert(0, bucket);
    }
    segs
}

/// How well an operation fits a request: by its template, literal query
/// keys, then literal segments, then no greedy label (`GET
/// /{Bucket}?tagging` over `GET /{Bucket}`); then, among operations that
/// share a template (S3's `PUT /{Bucket}/{Key+}` is PutObject, CopyObject,
/// UploadPart and UploadPartCopy), by the members sent in headers and the
/// query string: more of its required ones present, fewer missing, not
/// deprecated, more of the request's query parameters its own — S3 routes
/// CopyObject by its required `x-amz-copy-source` header, UploadPart by
/// `partNumber` and `uploadId` (smithy-lang/smithy-rs#1012 lists the
/// collisions). The best fit wins; a tie goes to the first by name.
type Score = (
    usize,
    usize,
    bool,
    usize,
    std::cmp::Reverse<usize>,
    bool,
    usize,
);

/// How the members an operation takes outside its URI path fit `req`:
/// required ones present and missing, and query parameters it takes.
fn member_fit(model: &Model, op: &Operation, req: &Request) -> (usize, usize, usize) {
    let Some(shape) = op.input.as_ref().and_then(|r| model.shape(&r.shape)) else {
        return (0, 0, 0);
    };
    let (mut present, mut missing, mut params) = (0, 0, 0);
    for (name, m) in &shape.members {
        let wire = m.location_name.as_deref().unwrap_or(name);
        let sent = match m.location.as_deref() {
            Some("header") => header(req, wire).is_some(),
            Some("querystring") => req.query.iter().any(|(k, _)| k == wire),
            _ => continue,
        };
        if m.location.as_deref() == Some("querystring") && sent {
            params += 1;
        }
        if shape.required.contains(name) {
            if sent {
                present += 1;
            } else {
                missing += 1;
            }
        }
    }
    (present, missing, params)
}

fn rest_operation<'m>(model: &'m Model, req: &Request) -> Result<(&'m Operation, Labels), String> {
    let segs = raw_segments(model, req);
    let mut best: Option<(Score, &Operation, Labels)> = None;
    for op in model.operations.values() {
        if !op.http.method.eq_ignore_ascii_case(&req.method) {
            continue;
        }
        let Some(((query, literals, exact), labels)) =
            match_template(&op.http.request_uri, &segs, &req.query)
        else {
            continue;
        };
        let (present, missing, params) = member_fit(model, op, req);
        let score = (
            query,
            literals,
            exact,
            present,
            std::cmp::Reverse(missing),
            !op.deprecated,
            params,
        );
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, op, labels));
        }
    }
    best.map(|(_, op, labels)| (op, labels)).ok_or_else(|| {
        format!(
            "no {} operation is {} {}",
            model.service,
            req.method,
            req.target.split('?').next().unwrap_or_default()
        )
    })
}

/// Matches a `requestUri` template (`/clusters/{name}/updates/{updateId}`,
/// `/{Bucket}/{Key+}`, `/{Bucket}?list-type=2`) against raw path segments
/// and the decoded query.
fn match_template(
    template: &str,
    segs: &[String],
    query: &[(String, String)],
) -> Option<(TemplateFit, Labels)> {
    let (path, literal_query) = template.split_once('?').unwrap_or((template, ""));
    let mut query_literals = 0;
    for part in literal_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .map_or((part, None), |(k, v)| (k, Some(v)));
        // `x-id` is not S3's: it was added to the model's `requestUri`s to
        // tell operations that share a path apart, and S3 ignores it
        // (smithy-lang/smithy#1030); clients need not send it.
        if k == "x-id" {
            continue;
        }
        let sent = query
            .iter()
            .any(|(qk, qv)| qk == k && v.is_none_or(|v| v == qv));
        if !sent {
            return None;
        }
        query_literals += 1;
    }
    let tpl: Vec<&str> = match path.strip_prefix('/').unwrap_or(path) {
        "" => Vec::new(),
        p => p.split('/').collect(),
    };
    let mut labels = Vec::new();
    let mut literals = 0;
    let mut greedy = false;
    let mut s = 0;
    for (t, part) in tpl.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(name) = name.strip_suffix('+') {
                // A greedy label takes every segment the rest of the
                // template leaves.
                let rest = tpl.len() - t - 1;
                let end = segs.len().checked_sub(rest)?;
                if end <= s {
                    return None;
                }
                let value = segs[s..end].join("/");
                if value.is_empty() {
                    return None;
                }
                labels.push((name.to_string(), value));
                s = end;
                greedy = true;
            } else {
                let seg = segs.get(s)?;
                if seg.is_empty() {
                    return None;
                }
                labels.push((name.to_string(), seg.clone()));
                s += 1;
            }
        } else {
            if decode(segs.get(s)?) != *part {
                return None;
            }
            literals += 1;
            s += 1;
        }
    }
    // `PUT /bucket/` is `PUT /bucket`: path-style, S3's endpoint rules
    // (botocore's s3/2006-03-01/endpoint-rule-set-1.json) put the bucket
    // in the endpoint, `https://s3.{Region}.{dnsSuffix}/{uri_encoded_bucket}`,
    // and the SDKs append the operation's path without `/{Bucket}`: `/`
    // for a bucket operation (the Rust SDK's CreateBucket), which S3
    // serves. Past a greedy label the slash belongs to the key.
    let slash = !greedy && s + 1 == segs.len() && segs[s].is_empty();
    (s == segs.len() || slash).then_some(((query_literals, literals, !greedy), labels))
}
