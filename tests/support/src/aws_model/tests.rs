//! The check on hand-built models and requests, one protocol at a time: a
//! valid request passes; a missing required member, a bad enum, a string
//! too long and a pattern mismatch each fail, naming the operation and
//! the member's path.

use std::sync::Arc;

use serde_json::{Value, json};

use super::model::Model;
use super::{Checked, Known, Outcome, Rule, check_against, pattern, time};
use crate::http::{Request, decode};

fn model(service: &str, protocol: &str, operations: Value, shapes: Value) -> Arc<Model> {
    let mut m: Model = serde_json::from_value(json!({
        "metadata": {
            "protocol": protocol,
            "apiVersion": "2020-01-01",
            "targetPrefix": "Thing_20200101",
            "jsonVersion": "1.1",
            "xmlNamespace": "https://example.amazonaws.com/doc/2020-01-01/"
        },
        "operations": operations,
        "shapes": shapes,
    }))
    .expect("a model");
    m.service = service.to_string();
    Arc::new(m)
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Request {
        method: method.into(),
        path: decode(path),
        query: crate::http::pairs(query, false),
        body: body.as_bytes().to_vec(),
        target: target.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn checked(m: &Arc<Model>, req: &Request) -> Checked {
    checked_with(m, req, &[])
}

fn checked_with(m: &Arc<Model>, req: &Request, exceptions: &[Known]) -> Checked {
    match check_against(m.clone(), req, exceptions) {
        Outcome::Checked(c) => c,
        Outcome::Unidentified(why) => panic!("not checked: {why}"),
    }
}

fn passes(m: &Arc<Model>, req: &Request) {
    let c = checked(m, req);
    assert!(c.violations.is_empty(), "{:#?}", c.violations);
    assert!(c.operation.is_some());
}

/// The request fails with exactly one violation of `rule` at `member`,
/// and its message names the operation and the member.
fn fails(m: &Arc<Model>, req: &Request, operation: &str, member: &str, rule: Rule) {
    let c = checked(m, req);
    assert!(
        c.violations
            .iter()
            .any(|v| v.operation == operation && v.member == member && v.rule == rule),
        "expected {operation} {member} {rule:?}, got {:#?}",
        c.violations
    );
    let text = super::message(&c.violations);
    assert!(text.contains(operation) && text.contains(member), "{text}");
}

fn iam_like() -> Arc<Model> {
    model(
        "iam",
        "query",
        json!({"CreateRole": {"name": "CreateRole", "http": {"method": "POST", "requestUri": "/"},
                              "input": {"shape": "CreateRoleRequest"}}}),
        json!({
            "CreateRoleRequest": {"type": "structure", "required": ["RoleName", "AssumeRolePolicyDocument"],
                "members": {"RoleName": {"shape": "roleNameType"},
                            "AssumeRolePolicyDocument": {"shape": "policyDocumentType"},
                            "MaxSessionDuration": {"shape": "durationType"},
                            "Tags": {"shape": "tagListType"},
                            "Attributes": {"shape": "attributeMap"}}},
            "roleNameType": {"type": "string", "min": 1, "max": 64, "pattern": "[\\w+=,.@-]+"},
            "policyDocumentType": {"type": "string", "min": 1, "max": 131072,
                                   "pattern": "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"},
            "durationType": {"type": "integer", "min": 3600, "max": 43200},
            "tagListType": {"type": "list", "member": {"shape": "Tag"}, "max": 2},
            "Tag": {"type": "structure", "required": ["Key", "Value"],
                    "members": {"Key": {"shape": "tagKey"}, "Value": {"shape": "tagValue"}}},
            "tagKey": {"type": "string", "min": 1, "max": 128},
            "tagValue": {"type": "string", "min": 0, "max": 256},
            "attributeMap": {"type": "map", "key": {"shape": "attributeName"}, "value": {"shape": "tagValue"}},
            "attributeName": {"type": "string", "enum": ["Policy", "DisplayName"]}
        }),
    )
}

fn form(pairs: &[(&str, &str)]) -> Request {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('{', "%7B")))
        .collect();
    request(
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("Action=CreateRole&Version=2020-01-01&{}", body.join("&")),
    )
}

#[test]
fn query_requests_are_read_from_flattened_form_keys() {
    let m = iam_like();
    let valid = [
        ("RoleName", "agent"),
        ("AssumeRolePolicyDocument", "{}"),
        ("MaxSessionDuration", "3600"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "obs"),
        ("Attributes.entry.1.key", "Policy"),
        ("Attributes.entry.1.value", "x"),
    ];
    passes(&m, &form(&valid));
    passes(
        &m,
        &form(&[
            ("RoleName", "agent"),
            ("AssumeRolePolicyDocument", "{}"),
            ("Tags", ""),
        ]),
    );

    let without = |skip: &str| -> Vec<(&str, &str)> {
        valid.iter().copied().filter(|(k, _)| *k != skip).collect()
    };
    fails(
        &m,
        &form(&without("RoleName")),
        "CreateRole",
        "RoleName",
        Rule::Required,
    );
    fails(
        &m,
        &form(&without("Tags.member.1.Value")),
        "CreateRole",
        "Tags[0].Value",
        Rule::Required,
    );
    let long = "r".repeat(65);
    let mut bad = without("RoleName");
    bad.push(("RoleName", &long));
    fails(&m, &form(&bad), "CreateRole", "RoleName", Rule::Length);
    let mut bad = without("RoleName");
    bad.push(("RoleName", "my role"));
    fails(&m, &form(&bad), "CreateRole", "RoleName", Rule::Pattern);
    let mut bad = without("Attributes.entry.1.key");
    bad.push(("Attributes.entry.1.key", "Colour"));
    fails(
        &m,
        &form(&bad),
        "CreateRole",
        "Attributes[\"Colour\"] (key)",
        Rule::Enum,
    );
    let mut bad = without("MaxSessionDuration");
    bad.push(("MaxSessionDuration", "60"));
    fails(
        &m,
        &form(&bad),
        "CreateRole",
        "MaxSessionDuration",
        Rule::Range,
    );
    let mut bad = valid.to_vec();
    bad.push(("Tags.member.3.Key", "gap"));
    fails(
        &m,
        &form(&bad),
        "CreateRole",
        "Tags.member.3.Key",
        Rule::Unknown,
    );
    let mut bad = valid.to_vec();
    bad.extend([("Tags.member.2.Key", "a"), ("Tags.member.2.Value", "b")]);
    bad.extend([("Tags.member.3.Key", "c"), ("Tags.member.3.Value", "d")]);
    fails(&m, &form(&bad), "CreateRole", "Tags", Rule::Length);

    let unknown = request("POST", "/", &[], "Action=DeleteRole&Version=2020-01-01");
    let c = checked(&m, &unknown);
    assert_eq!(c.operation, None);
    assert_eq!(c.violations[0].rule, Rule::Operation);
    let refusal = String::from_utf8(c.refusal().body).unwrap();
    assert!(
        refusal.contains("<Code>ValidationError</Code>"),
        "{refusal}"
    );
}

/// A violation the service is documented to accept is kept apart: the
/// request is not refused, and the log counts it as known.
#[test]
fn a_known_exception_is_counted_but_not_refused() {
    let m = iam_like();
    let req = form(&[("RoleName", "my role"), ("AssumeRolePolicyDocument", "{}")]);
    let accepts_spaces = Known {
        service: "iam",
        operation: "CreateRole",
        member: "RoleName",
        rule: Rule::Pattern,
        source: "a made-up service that accepts spaces",
    };
    let c = checked_with(&m, &req, &[accepts_spaces]);
    assert!(c.violations.is_empty(), "{:#?}", c.violations);
    assert_eq!(c.known.len(), 1, "{:#?}", c.known);
    let other_member = Known {
        member: "Path",
        ..accepts_spaces
    };
    let c = checked_with(&m, &req, &[other_member]);
    assert_eq!(c.violations.len(), 1, "{:#?}", c.violations);
}

fn ec2_like() -> Arc<Model> {
    model(
        "ec2",
        "ec2",
        json!({"DescribeSubnets": {"name": "DescribeSubnets", "http": {"method": "POST", "requestUri": "/"},
                                   "input": {"shape": "DescribeSubnetsRequest"}}}),
        json!({
            "DescribeSubnetsRequest": {"type": "structure", "members": {
                "Filters": {"shape": "FilterList", "locationName": "Filter"},
                "SubnetIds": {"shape": "SubnetIdStringList", "locationName": "SubnetId"},
                "DryRun": {"shape": "Boolean", "locationName": "dryRun"},
                "Tenancy": {"shape": "Tenancy"}}},
            "FilterList": {"type": "list", "member": {"shape": "Filter", "locationName": "Filter"}},
            "Filter": {"type": "structure", "required": ["Name"], "members": {
                "Name": {"shape": "String"},
                "Values": {"shape": "ValueStringList", "locationName": "Value"}}},
            "ValueStringList": {"type": "list", "member": {"shape": "String", "locationName": "item"}},
            "SubnetIdStringList": {"type": "list", "member": {"shape": "SubnetId", "locationName": "SubnetId"}},
            "SubnetId": {"type": "string", "pattern": "subnet-[0-9a-f]+"},
            "String": {"type": "string"},
            "Boolean": {"type": "boolean"},
            "Tenancy": {"type": "string", "enum": ["default", "dedicated"]}
        }),
    )
}

#[test]
fn ec2_requests_are_read_from_numbered_keys() {
    let m = ec2_like();
    let body = |rest: &str| {
        request(
            "POST",
            "/",
            &[],
            &format!("Action=DescribeSubnets&Version=2020-01-01&{rest}"),
        )
    };
    passes(
        &m,
        &body(
            "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&SubnetId.1=subnet-0a&DryRun=false&Tenancy=default",
        ),
    );
    fails(
        &m,
        &body("Filter.1.Value.1=vpc-1"),
        "DescribeSubnets",
        "Filters[0].Name",
        Rule::Required,
    );
    fails(
        &m,
        &body("Tenancy=shared"),
        "DescribeSubnets",
        "Tenancy",
        Rule::Enum,
    );
    fails(
        &m,
        &body("SubnetId.1=sn-0a"),
        "DescribeSubnets",
        "SubnetIds[0]",
        Rule::Pattern,
    );
    fails(
        &m,
        &body("DryRun=yes"),
        "DescribeSubnets",
        "DryRun",
        Rule::Type,
    );
    fails(
        &m,
        &body("Filters.1.Name=vpc-id"),
        "DescribeSubnets",
        "Filters.1.Name",
        Rule::Unknown,
    );
    let c = checked(&m, &body("Tenancy=shared"));
    let refusal = String::from_utf8(c.refusal().body).unwrap();
    assert!(
        refusal.starts_with("<Response><Errors><Error><Code>InvalidParameterValue</Code>"),
        "{refusal}"
    );
}

fn json_like() -> Arc<Model> {
    model(
        "thing",
        "json",
        json!({"PutThing": {"name": "PutThing", "http": {"method": "POST", "requestUri": "/"},
                            "input": {"shape": "PutThingRequest"}}}),
        json!({
            "PutThingRequest": {"type": "structure", "required": ["Name", "Data"], "members": {
                "Name": {"shape": "Name"}, "Data": {"shape": "Data"}, "When": {"shape": "When"},
                "Kind": {"shape": "Kind"}, "Labels": {"shape": "Labels"}}},
            "Name": {"type": "string", "min": 1, "max": 8, "pattern": "^[a-z]+$"},
            "Data": {"type": "blob", "max": 4},
            "When": {"type": "timestamp"},
            "Kind": {"type": "string", "enum": ["A", "B"]},
            "Labels": {"type": "list", "member": {"shape": "Name"}, "min": 1}
        }),
    )
}

#[test]
fn json_requests_are_named_by_their_target_header() {
    let m = json_like();
    let put = |body: Value| {
        request(
            "POST",
            "/",
            &[("X-Amz-Target", "Thing_20200101.PutThing")],
            &body.to_string(),
        )
    };
    passes(
        &m,
        &put(
            json!({"Name": "abc", "Data": "AAEC", "When": 1714564800.5, "Kind": "A", "Labels": ["x"]}),
        ),
    );
    fails(
        &m,
        &put(json!({"Data": "AAEC"})),
        "PutThing",
        "Name",
        Rule::Required,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "A!"})),
        "PutThing",
        "Data",
        Rule::Blob,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "AAECAwQ="})),
        "PutThing",
        "Data",
        Rule::Length,
    );
    fails(
        &m,
        &put(json!({"Name": "abcdefghi", "Data": ""})),
        "PutThing",
        "Name",
        Rule::Length,
    );
    fails(
        &m,
        &put(json!({"Name": "ABC", "Data": ""})),
        "PutThing",
        "Name",
        Rule::Pattern,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "", "Kind": "C"})),
        "PutThing",
        "Kind",
        Rule::Enum,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "", "When": "2024-05-01"})),
        "PutThing",
        "When",
        Rule::Timestamp,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "", "Labels": []})),
        "PutThing",
        "Labels",
        Rule::Length,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "", "Labels": ["A"]})),
        "PutThing",
        "Labels[0]",
        Rule::Pattern,
    );
    fails(
        &m,
        &put(json!({"Name": "abc", "Data": "", "Colour": 1})),
        "PutThing",
        "Colour",
        Rule::Unknown,
    );
    let c = checked(&m, &put(json!({})));
    let refusal = c.refusal();
    assert_eq!(refusal.status, 400);
    assert!(
        refusal
            .headers
            .contains(&("x-amzn-ErrorType".into(), "ValidationException".into()))
    );
    let wrong = request("POST", "/", &[("X-Amz-Target", "Other_1.PutThing")], "{}");
    assert_eq!(checked(&m, &wrong).violations[0].rule, Rule::Operation);
}

fn rest_json_like() -> Arc<Model> {
    model(
        "eks",
        "rest-json",
        json!({
            "DescribeCluster": {"name": "DescribeCluster", "http": {"method": "GET", "requestUri": "/clusters/{name}"},
                                "input": {"shape": "DescribeClusterRequest"}},
            "CreateAccessEntry": {"name": "CreateAccessEntry",
                                  "http": {"method": "POST", "requestUri": "/clusters/{name}/access-entries"},
                                  "input": {"shape": "CreateAccessEntryRequest"}},
            "UntagResource": {"name": "UntagResource", "http": {"method": "DELETE", "requestUri": "/tags/{resourceArn}"},
                              "input": {"shape": "UntagResourceRequest"}},
            "ListClusters": {"name": "ListClusters", "http": {"method": "GET", "requestUri": "/clusters"},
                             "input": {"shape": "ListClustersRequest"}}
        }),
        json!({
            "DescribeClusterRequest": {"type": "structure", "required": ["name"], "members": {
                "name": {"shape": "ClusterName", "location": "uri", "locationName": "name"}}},
            "CreateAccessEntryRequest": {"type": "structure", "required": ["clusterName", "principalArn"], "members": {
                "clusterName": {"shape": "ClusterName", "location": "uri", "locationName": "name"},
                "principalArn": {"shape": "String"},
                "type": {"shape": "String"},
                "tags": {"shape": "TagMap"},
                "clientRequestToken": {"shape": "String", "idempotencyToken": true}}},
            "UntagResourceRequest": {"type": "structure", "required": ["resourceArn", "tagKeys"], "members": {
                "resourceArn": {"shape": "String", "location": "uri", "locationName": "resourceArn"},
                "tagKeys": {"shape": "TagKeyList", "location": "querystring", "locationName": "tagKeys"}}},
            "ListClustersRequest": {"type": "structure", "members": {
                "maxResults": {"shape": "MaxResults", "location": "querystring", "locationName": "maxResults"},
                "include": {"shape": "IncludeList", "location": "querystring", "locationName": "include"}}},
            "ClusterName": {"type": "string", "max": 100, "min": 1, "pattern": "^[0-9A-Za-z][A-Za-z0-9\\-_]*"},
            "String": {"type": "string"},
            "TagMap": {"type": "map", "key": {"shape": "TagKey"}, "value": {"shape": "String"}, "max": 50},
            "TagKey": {"type": "string", "max": 128, "min": 1},
            "TagKeyList": {"type": "list", "member": {"shape": "TagKey"}, "min": 1},
            "MaxResults": {"type": "integer", "max": 100, "min": 1},
            "IncludeList": {"type": "list", "member": {"shape": "String"}}
        }),
    )
}

#[test]
fn rest_json_requests_are_matched_by_method_and_uri_template() {
    let m = rest_json_like();
    let create = |path: &str, body: Value| request("POST", path, &[], &body.to_string());
    passes(&m, &request("GET", "/clusters/main", &[], ""));
    passes(
        &m,
        &request(
            "GET",
            "/clusters?maxResults=10&include=all&include=more",
            &[],
            "",
        ),
    );
    passes(
        &m,
        &create(
            "/clusters/main/access-entries",
            json!({"principalArn": "arn:aws:iam::1:role/a", "tags": {"team": "obs"}}),
        ),
    );
    passes(
        &m,
        &request(
            "DELETE",
            "/tags/arn%3Aaws%3Aeks%3Aeu-west-1%3A1%3Acluster%2Fmain?tagKeys=team",
            &[],
            "",
        ),
    );
    let c = checked(&m, &request("GET", "/clusters/main", &[], ""));
    assert_eq!(c.operation.as_deref(), Some("DescribeCluster"));

    fails(
        &m,
        &create("/clusters/main/access-entries", json!({})),
        "CreateAccessEntry",
        "principalArn",
        Rule::Required,
    );
    fails(
        &m,
        &request("GET", &format!("/clusters/{}", "c".repeat(101)), &[], ""),
        "DescribeCluster",
        "name",
        Rule::Length,
    );
    fails(
        &m,
        &request("GET", "/clusters/-main", &[], ""),
        "DescribeCluster",
        "name",
        Rule::Pattern,
    );
    fails(
        &m,
        &request("GET", "/clusters?maxResults=0", &[], ""),
        "ListClusters",
        "maxResults",
        Rule::Range,
    );
    fails(
        &m,
        &request("GET", "/clusters?maxResults=ten", &[], ""),
        "ListClusters",
        "maxResults",
        Rule::Type,
    );
    fails(
        &m,
        &request("DELETE", "/tags/arn", &[], ""),
        "UntagResource",
        "tagKeys",
        Rule::Required,
    );
    fails(
        &m,
        &create(
            "/clusters/main/access-entries",
            json!({"principalArn": "p", "tags": {"": "x"}}),
        ),
        "CreateAccessEntry",
        "tags[\"\"] (key)",
        Rule::Length,
    );
    fails(
        &m,
        &create("/clusters/main/access-entries", json!({"principalArn": 7})),
        "CreateAccessEntry",
        "principalArn",
        Rule::Type,
    );
    let c = checked(&m, &request("PUT", "/clusters/main", &[], ""));
    assert_eq!((c.operation, c.violations[0].rule), (None, Rule::Operation));
    assert!(
        c.violations[0].to_string().contains("PUT /clusters/main"),
        "{}",
        c.violations[0]
    );
}

fn rest_xml_like() -> Arc<Model> {
    model(
        "s3",
        "rest-xml",
        json!({
            "GetObject": {"name": "GetObject", "http": {"method": "GET", "requestUri": "/{Bucket}/{Key+}"},
                          "input": {"shape": "GetObjectRequest"}},
            "ListObjects": {"name": "ListObjects", "http": {"method": "GET", "requestUri": "/{Bucket}"},
                            "input": {"shape": "BucketRequest"}},
            "GetBucketTagging": {"name": "GetBucketTagging", "http": {"method": "GET", "requestUri": "/{Bucket}?tagging"},
                                 "input": {"shape": "BucketRequest"}},
            "PutBucketTagging": {"name": "PutBucketTagging", "http": {"method": "PUT", "requestUri": "/{Bucket}?tagging"},
                                 "input": {"shape": "PutBucketTaggingRequest"}},
            "CreateBucket": {"name": "CreateBucket", "http": {"method": "PUT", "requestUri": "/{Bucket}"},
                             "input": {"shape": "BucketRequest"}},
            "PutObject": {"name": "PutObject", "http": {"method": "PUT", "requestUri": "/{Bucket}/{Key+}?x-id=PutObject"},
                          "input": {"shape": "PutObjectRequest"}},
            "CopyObject": {"name": "CopyObject", "http": {"method": "PUT", "requestUri": "/{Bucket}/{Key+}?x-id=CopyObject"},
                           "input": {"shape": "CopyObjectRequest"}},
            "UploadPart": {"name": "UploadPart", "http": {"method": "PUT", "requestUri": "/{Bucket}/{Key+}?x-id=UploadPart"},
                           "input": {"shape": "UploadPartRequest"}}
        }),
        json!({
            "GetObjectRequest": {"type": "structure", "required": ["Bucket", "Key"], "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "ObjectKey", "location": "uri", "locationName": "Key"},
                "IfModifiedSince": {"shape": "Time", "location": "header", "locationName": "If-Modified-Since"},
                "ChecksumMode": {"shape": "ChecksumMode", "location": "header", "locationName": "x-amz-checksum-mode"}}},
            "BucketRequest": {"type": "structure", "required": ["Bucket"], "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"}}},
            "PutBucketTaggingRequest": {"type": "structure", "required": ["Bucket", "Tagging", "Owner"],
                "payload": "Tagging", "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"},
                "Owner": {"shape": "BucketName", "location": "header", "locationName": "x-amz-expected-bucket-owner"},
                "Tagging": {"shape": "Tagging", "locationName": "Tagging"}}},
            "PutObjectRequest": {"type": "structure", "required": ["Bucket", "Key"], "payload": "Body", "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "ObjectKey", "location": "uri", "locationName": "Key"},
                "Body": {"shape": "Body"}}},
            "CopyObjectRequest": {"type": "structure", "required": ["Bucket", "CopySource", "Key"], "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"},
                "CopySource": {"shape": "BucketName", "location": "header", "locationName": "x-amz-copy-source"},
                "Key": {"shape": "ObjectKey", "location": "uri", "locationName": "Key"}}},
            "UploadPartRequest": {"type": "structure", "required": ["Bucket", "Key", "PartNumber", "UploadId"],
                "payload": "Body", "members": {
                "Bucket": {"shape": "BucketName", "location": "uri", "locationName": "Bucket"},
                "Key": {"shape": "ObjectKey", "location": "uri", "locationName": "Key"},
                "Body": {"shape": "Body"},
                "PartNumber": {"shape": "PartNumber", "location": "querystring", "locationName": "partNumber"},
                "UploadId": {"shape": "BucketName", "location": "querystring", "locationName": "uploadId"}}},
            "Body": {"type": "blob", "streaming": true},
            "PartNumber": {"type": "integer"},
            "Tagging": {"type": "structure", "required": ["TagSet"], "members": {"TagSet": {"shape": "TagSet"}}},
            "TagSet": {"type": "list", "member": {"shape": "Tag", "locationName": "Tag"}},
            "Tag": {"type": "structure", "required": ["Key", "Value"], "members": {
                "Key": {"shape": "ObjectKey"}, "Value": {"shape": "BucketName"}}},
            "BucketName": {"type": "string"},
            "ObjectKey": {"type": "string", "min": 1},
            "Time": {"type": "timestamp"},
            "ChecksumMode": {"type": "string", "enum": ["ENABLED"]}
        }),
    )
}

#[test]
fn rest_xml_requests_are_read_path_style_and_virtual_hosted() {
    let m = rest_xml_like();
    let path = request(
        "GET",
        "/state/envs/shared.json?x-id=GetObject",
        &[("Host", "127.0.0.1:4566")],
        "",
    );
    let c = checked(&m, &path);
    assert_eq!(c.operation.as_deref(), Some("GetObject"));
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    let host = [
        ("Host", "state.s3.eu-west-1.amazonaws.com"),
        ("If-Modified-Since", "Wed, 01 May 2024 12:00:00 GMT"),
    ];
    let c = checked(&m, &request("GET", "/envs/shared.json", &host, ""));
    assert_eq!(c.operation.as_deref(), Some("GetObject"));
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    assert_eq!(
        checked(
            &m,
            &request(
                "GET",
                "/?tagging",
                &[("Host", "state.s3.amazonaws.com")],
                ""
            )
        )
        .operation
        .as_deref(),
        Some("GetBucketTagging")
    );
    assert_eq!(
        checked(&m, &request("GET", "/state", &[], ""))
            .operation
            .as_deref(),
        Some("ListObjects")
    );

    fails(
        &m,
        &request("GET", "/state/k", &[("x-amz-checksum-mode", "on")], ""),
        "GetObject",
        "ChecksumMode",
        Rule::Enum,
    );
    fails(
        &m,
        &request(
            "GET",
            "/state/k",
            &[("If-Modified-Since", "2024-05-01T12:00:00Z")],
            "",
        ),
        "GetObject",
        "IfModifiedSince",
        Rule::Timestamp,
    );
    let owner = [("x-amz-expected-bucket-owner", "123456789012")];
    let tagging = "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>";
    passes(&m, &request("PUT", "/state?tagging", &owner, tagging));
    fails(
        &m,
        &request("PUT", "/state?tagging", &[], tagging),
        "PutBucketTagging",
        "Owner",
        Rule::Required,
    );
    fails(
        &m,
        &request("PUT", "/state?tagging", &owner, ""),
        "PutBucketTagging",
        "Tagging",
        Rule::Required,
    );
    let no_value = "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>";
    fails(
        &m,
        &request("PUT", "/state?tagging", &owner, no_value),
        "PutBucketTagging",
        "Tagging.TagSet[0].Value",
        Rule::Required,
    );
    let extra = "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value><Colour>red</Colour></Tag></TagSet></Tagging>";
    fails(
        &m,
        &request("PUT", "/state?tagging", &owner, extra),
        "PutBucketTagging",
        "Tagging.TagSet[0].Colour",
        Rule::Unknown,
    );
    let wrong_item =
        "<Tagging><TagSet><Label><Key>a</Key><Value>b</Value></Label></TagSet></Tagging>";
    fails(
        &m,
        &request("PUT", "/state?tagging", &owner, wrong_item),
        "PutBucketTagging",
        "Tagging.TagSet[0]",
        Rule::Unknown,
    );
    let wrong_root = "<Tags><TagSet></TagSet></Tags>";
    fails(
        &m,
        &request("PUT", "/state?tagging", &owner, wrong_root),
        "PutBucketTagging",
        "Tagging",
        Rule::Type,
    );
    let refusal = String::from_utf8(
        checked(&m, &request("PUT", "/state?tagging", &[], ""))
            .refusal()
            .body,
    )
    .unwrap();
    assert!(
        refusal.contains("<Error><Code>InvalidArgument</Code>"),
        "{refusal}"
    );
}

/// S3 has four operations on `PUT /{Bucket}/{Key+}`; the headers and
/// query parameters they require tell them apart, as S3 itself does.
#[test]
fn rest_xml_operations_that_share_a_uri_are_told_apart_by_their_members() {
    let m = rest_xml_like();
    let op = |req: &Request| checked(&m, req).operation;
    let put = |target: &str, headers: &[(&str, &str)]| request("PUT", target, headers, "{}");
    assert_eq!(
        op(&put("/state/envs/a.json?x-id=PutObject", &[])).as_deref(),
        Some("PutObject")
    );
    assert_eq!(
        op(&put(
            "/state/envs/a.json",
            &[("x-amz-copy-source", "state/b")]
        ))
        .as_deref(),
        Some("CopyObject")
    );
    assert_eq!(
        op(&put("/state/a?partNumber=1&uploadId=u", &[])).as_deref(),
        Some("UploadPart")
    );
    passes(&m, &put("/state/envs/a.json", &[]));
    fails(
        &m,
        &put("/state/a?partNumber=one&uploadId=u", &[]),
        "UploadPart",
        "PartNumber",
        Rule::Type,
    );
    // The Rust SDK writes CreateBucket path-style as `PUT /state/`.
    let c = checked(&m, &request("PUT", "/state/", &[], ""));
    assert_eq!(c.operation.as_deref(), Some("CreateBucket"));
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    // Past a greedy label the slash is the key's: `dir/` is a key.
    let c = checked(&m, &request("PUT", "/state/dir/", &[], ""));
    assert_eq!(c.operation.as_deref(), Some("PutObject"));
}

#[test]
fn java_patterns_keep_their_java_meaning() {
    let compiled = |p: &str| pattern::compiled("test", "Shape", p);
    let matches = |p: &str, s: &str| compiled(p).expect("compiles").is_match(s);
    assert!(matches(r"[\w+=,.@-]+", "agent@obs"));
    assert!(
        !matches(r"[\w+=,.@-]+", "my role"),
        "the whole value must match"
    );
    assert!(!matches(r"[\w]+", "café"), "\\w is ASCII in Java");
    assert!(!matches(r"\d+", "٣"), "\\d is ASCII in Java");
    assert!(matches(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "café 3"));
    assert!(matches(r"\p{Punct}+", "$+<"), "POSIX classes are ASCII");
    assert!(!matches(r".+", "a\rb"), ". stops at line terminators");
    assert!(!matches(r"^[a-z]+$", "abc\n"));
    assert!(matches(r"\Qa.b\E", "a.b") && !matches(r"\Qa.b\E", "axb"));
    assert!(matches(r"[A-Za-z0-9\.\-\_\#/]{1,3}\:\*", "a_#:*"));
    assert!(matches(r"[a-z--]+", "a-"));
    assert!(matches(
        r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        "{\"a\": 1}\n"
    ));
    assert!(!matches(r"[\u0009\u000A\u000D\u0020-\u00FF]+", "→"));
    for unchecked in [
        r"(?!__)[a-z_]+",
        r"(a)\1",
        r"a++",
        r"[\uD800-\uDBFF]",
        r"\p{IsAlphabetic}",
    ] {
        assert!(compiled(unchecked).is_none(), "{unchecked}");
        assert!(
            pattern::unchecked().iter().any(|u| u.pattern == unchecked),
            "{unchecked} is counted"
        );
    }
}

#[test]
fn timestamps_are_checked_in_the_protocols_formats() {
    for ok in [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00.123Z",
        "2024-05-01T12:00:00+01:00",
        "2024-05-01T12:00:00-0130",
    ] {
        assert!(time::iso8601(ok), "{ok}");
    }
    for bad in [
        "2024-05-01",
        "2024-13-01T12:00:00Z",
        "2024-05-01T25:00:00Z",
        "2024-05-01T12:00:00",
        "1714564800",
    ] {
        assert!(!time::iso8601(bad), "{bad}");
    }
    assert!(time::http_date("Wed, 01 May 2024 12:00:00 GMT"));
    assert!(!time::http_date("Wed, 1 May 2024 12:00:00 GMT"));
    assert!(!time::http_date("2024-05-01T12:00:00Z"));
    assert!(time::check("unixTimestamp", &json!(1714564800), true).is_ok());
    assert!(time::check("unixTimestamp", &json!("1714564800"), true).is_err());
    assert!(time::check("unixTimestamp", &json!("1714564800"), false).is_ok());
}
