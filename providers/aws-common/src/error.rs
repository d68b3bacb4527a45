//! Turns SDK errors into `ProviderError`s that name the AWS operation, the
//! service's error code and message, and a hint where one helps. "Not found"
//! is not an error here: [`found`] turns it into `Ok(None)`, which is what
//! refresh and drift need for a resource deleted behind meshmon's back.
//! [`effect`] tells, for a request that creates something, whether its
//! failure certainly had no effect, may have had one, or is a refusal.
//!
//! The hints here fit every AWS service (credentials, permissions,
//! throttling, quotas, conflicts). A provider with advice for its own
//! services passes a [`Hint`] to the `_with` variants ([`api_with`],
//! [`found_with`], [`gone_ok_with`], [`crate::wait::create_call_with`]);
//! where it has none to give, the common hint applies.

use std::error::Error;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use meshmon_provider_sdk::ProviderError;

/// A provider's own advice for a failed call, from the operation
/// (`grafana:UpdateWorkspace`), the service's error code if it sent one,
/// and the message; `None` leaves the advice to [`hint`].
pub type Hint = fn(operation: &str, code: Option<&str>, message: &str) -> Option<String>;

/// No advice of the provider's own: the common [`hint`] applies.
pub const NO_HINT: Hint = |_, _, _| None;

/// Error codes that mean "no such object", by service.
const NOT_FOUND: &[&str] = &[
    // IAM
    "NoSuchEntity",
    // EKS, AMP, SNS, Amazon Managed Grafana
    "ResourceNotFoundException",
    "NotFound",
    "NotFoundException",
    // EC2
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidRouteTableId.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidRoute.NotFound",
];

/// Error codes with which a service turns a request away for its rate,
/// before acting on it.
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
];

/// What a failed request did, as far as the client can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Certainly nothing: turned away for its rate, or never sent (no
    /// connection could be made). Sending it again is safe.
    None,
    /// Perhaps something: the request went out and its answer was lost or
    /// unreadable (a timeout, a reset connection, a 5xx).
    Unknown,
    /// The service refused it (validation, access denied, already exists),
    /// or it never left the client for a reason another try won't fix.
    Refused,
}

/// What a failed request did; see [`Effect`]. A failure that cannot be
/// placed counts as [`Effect::Unknown`]: calling it harmless could make a
/// second object, while calling it unknown costs only a look for the object.
pub fn effect<E>(err: &SdkError<E, HttpResponse>) -> Effect
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    if status == Some(429) || err.code().is_some_and(|c| THROTTLED.contains(&c)) {
        return Effect::None;
    }
    match err {
        SdkError::ConstructionFailure(_) => Effect::Refused,
        SdkError::DispatchFailure(_) if never_connected(err) => Effect::None,
        SdkError::DispatchFailure(d) if d.is_user() => Effect::Refused,
        SdkError::ServiceError(_) if status.is_some_and(|s| s < 500) => Effect::Refused,
        _ => Effect::Unknown,
    }
}

/// Whether the error says no connection was made, so the request was
/// never sent: the HTTP client's connect error (refused, unreachable, DNS,
/// TLS handshake, connect timeout) or a refused connection.
fn never_connected(err: &(dyn Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|h| h.is_connect())
        {
            return true;
        }
        cur = match e.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => return true,
            // An I/O error's `source` skips the error it wraps.
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// Whether an error code means the object does not exist.
pub fn is_not_found_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| NOT_FOUND.contains(&c))
}

/// Whether a `ProviderError` we built means the object does not exist.
pub fn is_not_found(e: &ProviderError) -> bool {
    is_not_found_code(e.code.as_deref())
}

/// An SDK error as a `ProviderError`: `api("iam:CreateRole", err)`.
pub fn api<E>(operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + Error,
{
    api_with(NO_HINT, operation, err)
}

/// [`api`] with a provider's own advice, tried before the common [`hint`].
pub fn api_with<E>(hint: Hint, operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + Error,
{
    let code = err.code().map(str::to_string);
    let message = match err.message() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => chain(&err),
    };
    let advice = hint(operation, code.as_deref(), &message)
        .or_else(|| self::hint(operation, code.as_deref(), &message));
    let e = ProviderError::api(operation, code, message);
    match advice {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// `Ok(None)` for "not found", the value otherwise.
pub fn found<T, E>(operation: &str, r: Result<T, E>) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + Error,
{
    found_with(NO_HINT, operation, r)
}

/// [`found`] with a provider's own advice for the other failures.
pub fn found_with<T, E>(
    hint: Hint,
    operation: &str,
    r: Result<T, E>,
) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + Error,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found_code(e.code()) => Ok(None),
        Err(e) => Err(api_with(hint, operation, e)),
    }
}

/// `Ok(())` for "not found": deleting what is already gone succeeds.
pub fn gone_ok<T, E>(operation: &str, r: Result<T, E>) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + Error,
{
    found(operation, r).map(|_| ())
}

/// [`gone_ok`] with a provider's own advice for the other failures.
pub fn gone_ok_with<T, E>(hint: Hint, operation: &str, r: Result<T, E>) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + Error,
{
    found_with(hint, operation, r).map(|_| ())
}

/// The error and its sources, joined: "dispatch failure: io error: connection
/// refused". (The SDK's own context display appends a Debug dump of the
/// raw response, which buries the message.)
pub fn chain(err: &dyn Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether an error code says the caller lacks a permission.
pub fn is_access_denied(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        let lower = c.to_ascii_lowercase();
        lower.contains("accessdenied")
            || lower.contains("unauthorized")
            || c == "AuthorizationError"
    })
}

/// The advice every AWS service shares: missing or refused credentials,
/// an unreachable endpoint, a missing permission, throttling that outlasted
/// the retries, an exhausted quota, an object still in use, a name taken.
pub fn hint(operation: &str, code: Option<&str>, message: &str) -> Option<String> {
    let Some(code) = code else {
        if message.contains("credentials") {
            return Some(
                "no usable AWS credentials: set AWS_PROFILE (and run `aws sso login` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            );
        }
        if message.contains("dispatch failure") || message.contains("timeout") {
            return Some(
                "AWS could not be reached: check the network, and AWS_ENDPOINT_URL if you set it"
                    .into(),
            );
        }
        return None;
    };
    if is_access_denied(Some(code)) {
        return Some(format!(
            "the AWS identity meshmon runs as is not allowed `{operation}`: grant that action in its IAM policy \
             (`aws sts get-caller-identity` shows which identity this is)"
        ));
    }
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            Some("the AWS credentials have expired: refresh them (for SSO: `aws sso login`)".into())
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "AuthFailure" | "SignatureDoesNotMatch"
        | "InvalidSignatureException" => Some(
            "AWS does not accept these credentials: check AWS_PROFILE / AWS_ACCESS_KEY_ID and the provider's `profile`"
                .into(),
        ),
        c if THROTTLED.contains(&c) => Some(
            "AWS kept throttling after repeated retries; run again with a lower --parallelism".into(),
        ),
        "LimitExceeded" | "LimitExceededException" | "ServiceQuotaExceededException" => {
            Some("an account quota is exhausted: delete unused objects or ask AWS for a higher quota".into())
        }
        "DependencyViolation" | "DeleteConflict" | "ResourceInUseException" => Some(format!(
            "something else still uses it ({message}); remove that first, or let meshmon destroy it in order"
        )),
        "EntityAlreadyExists" | "ResourceInUse" | "ConflictException" if operation.contains("Create") => Some(
            "an object with this name already exists: pick another name, or adopt it with `meshmon import`".into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type Failure = SdkError<GetCallerIdentityError, HttpResponse>;

    fn refusal(code: &str) -> GetCallerIdentityError {
        GetCallerIdentityError::generic(ErrorMetadata::builder().code(code).message("m").build())
    }

    fn answered(status: u16, code: &str) -> Failure {
        SdkError::service_error(
            refusal(code),
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    fn io(kind: std::io::ErrorKind) -> Failure {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::from(kind))))
    }

    #[test]
    fn access_denied_names_the_missing_action() {
        let h = hint("iam:CreateRole", Some("AccessDenied"), "no").unwrap();
        assert!(h.contains("`iam:CreateRole`"), "{h}");
        let h = hint("aps:CreateScraper", Some("AccessDeniedException"), "no").unwrap();
        assert!(h.contains("`aps:CreateScraper`"), "{h}");
        assert!(is_access_denied(Some("UnauthorizedOperation")));
        assert!(!is_access_denied(Some("ValidationException")));
    }

    #[test]
    fn a_providers_hint_comes_first_and_the_common_one_fills_in() {
        fn amg(_: &str, code: Option<&str>, _: &str) -> Option<String> {
            (code == Some("ServiceQuotaExceededException")).then(|| "an AMG quota".to_string())
        }
        let e = api_with(
            amg,
            "grafana:CreateWorkspace",
            refusal("ServiceQuotaExceededException"),
        );
        assert_eq!(e.hint.as_deref(), Some("an AMG quota"));
        let e = api_with(amg, "grafana:CreateWorkspace", refusal("ConflictException"));
        assert!(e.hint.unwrap().contains("meshmon import"));
        let e = api("sts:GetCallerIdentity", refusal("ValidationError"));
        assert_eq!(e.operation.as_deref(), Some("sts:GetCallerIdentity"));
        assert_eq!(e.code.as_deref(), Some("ValidationError"));
        assert_eq!(e.hint, None);
    }

    #[test]
    fn not_found_codes_cover_every_service() {
        for c in [
            "NoSuchEntity",
            "ResourceNotFoundException",
            "NotFound",
            "InvalidVpcID.NotFound",
        ] {
            assert!(is_not_found_code(Some(c)), "{c}");
        }
        assert!(!is_not_found_code(Some("AccessDenied")));
        assert!(!is_not_found_code(None));
        let gone: Result<(), _> = Err(refusal("ResourceNotFoundException"));
        assert_eq!(found("grafana:DescribeWorkspace", gone).unwrap(), None);
        let denied: Result<(), _> = Err(refusal("AccessDeniedException"));
        assert!(gone_ok("grafana:DeleteWorkspace", denied).is_err());
    }

    #[test]
    fn a_message_without_text_shows_the_error_chain() {
        let e = api(
            "sts:GetCallerIdentity",
            io(std::io::ErrorKind::ConnectionReset),
        );
        assert!(e.message.contains("dispatch failure"), "{}", e.message);
        assert!(e.hint.unwrap().contains("could not be reached"));
    }

    #[test]
    fn throttling_had_no_effect_whatever_the_status() {
        assert_eq!(effect(&answered(503, "RequestLimitExceeded")), Effect::None);
        assert_eq!(effect(&answered(400, "Throttling")), Effect::None);
        assert_eq!(effect(&answered(400, "ThrottlingException")), Effect::None);
        assert_eq!(effect(&answered(429, "SomethingElse")), Effect::None);
    }

    #[test]
    fn a_refused_connection_had_no_effect() {
        assert_eq!(
            effect(&io(std::io::ErrorKind::ConnectionRefused)),
            Effect::None
        );
    }

    #[test]
    fn lost_answers_and_server_errors_may_have_taken_effect() {
        assert_eq!(
            effect(&io(std::io::ErrorKind::ConnectionReset)),
            Effect::Unknown
        );
        assert_eq!(
            effect(&Failure::timeout_error("attempt timeout")),
            Effect::Unknown
        );
        assert_eq!(effect(&answered(500, "InternalError")), Effect::Unknown);
        assert_eq!(
            effect(&answered(503, "ServiceUnavailable")),
            Effect::Unknown
        );
        let unknown = SdkError::dispatch_failure(ConnectorError::other("eof".into(), None));
        assert_eq!(effect::<GetCallerIdentityError>(&unknown), Effect::Unknown);
    }

    #[test]
    fn refusals_are_plain_errors() {
        assert_eq!(
            effect(&answered(400, "InvalidParameterValue")),
            Effect::Refused
        );
        assert_eq!(effect(&answered(403, "AccessDenied")), Effect::Refused);
        assert_eq!(
            effect(&answered(409, "EntityAlreadyExists")),
            Effect::Refused
        );
        assert_eq!(
            effect(&Failure::construction_failure("bad input")),
            Effect::Refused
        );
    }
}
