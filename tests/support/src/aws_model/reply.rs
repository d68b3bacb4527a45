//! How each protocol's services refuse a request that breaks the model:
//! `json`/`rest-json` answer 400 `ValidationException`, `query` services
//! 400 `ValidationError` in the `<ErrorResponse>` shape, EC2 400
//! `InvalidParameterValue` in its `<Response><Errors>` shape, S3 400
//! `InvalidArgument` in its `<Error>` shape.

use super::Violation;
use crate::http::Response;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000400";

/// The message: how many violations, then each.
pub fn message(violations: &[Violation]) -> String {
    let n = violations.len();
    let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    format!(
        "{n} validation error{} detected against the service's API model: {}",
        if n == 1 { "" } else { "s" },
        list.join("; ")
    )
}

/// The refusal a service of `protocol` sends for `violations`;
/// `xml_namespace` and `json_version` come from the model's metadata.
pub fn refusal(
    protocol: &str,
    xml_namespace: Option<&str>,
    json_version: Option<&str>,
    violations: &[Violation],
) -> Response {
    let text = message(violations);
    let xml = |body: String| Response {
        status: 400,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.into_bytes(),
    };
    match protocol {
        "query" => xml(format!(
            "<ErrorResponse xmlns=\"{}\"><Error><Type>Sender</Type><Code>ValidationError</Code>\
             <Message>{}</Message></Error><RequestId>{REQUEST_ID}</RequestId></ErrorResponse>",
            xml_namespace.unwrap_or_default(),
            xml_escape(&text)
        )),
        "ec2" => xml(format!(
            "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>{}</Message>\
             </Error></Errors><RequestID>{REQUEST_ID}</RequestID></Response>",
            xml_escape(&text)
        )),
        "rest-xml" => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>\
             <Message>{}</Message><RequestId>{REQUEST_ID}</RequestId></Error>",
            xml_escape(&text)
        )),
        "json" => {
            let mut r = Response::json(
                400,
                &serde_json::json!({ "__type": "ValidationException", "message": text }),
            );
            r.headers = vec![
                (
                    "Content-Type".into(),
                    format!("application/x-amz-json-{}", json_version.unwrap_or("1.1")),
                ),
                ("x-amzn-ErrorType".into(), "ValidationException".into()),
                ("x-amzn-RequestId".into(), REQUEST_ID.into()),
            ];
            r
        }
        _ => {
            let mut r = Response::json(400, &serde_json::json!({ "message": text }));
            r.headers
                .push(("x-amzn-ErrorType".into(), "ValidationException".into()));
            r.headers
                .push(("x-amzn-RequestId".into(), REQUEST_ID.into()));
            r
        }
    }
}
