//! The proxy's own tests: what it forwards, the faults it injects and
//! when, and what it logs.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a client sees: `None` when the connection closed unanswered.
type Seen = Option<(u16, Vec<(String, String)>, Vec<u8>)>;

/// One request on a fresh connection.
fn call(endpoint: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Seen {
    let mut conn = TcpStream::connect(endpoint.trim_start_matches("http://")).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    conn.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::new(conn);
    let mut status = String::new();
    if reader.read_line(&mut status).unwrap_or(0) == 0 {
        return None;
    }
    let status = status.split_whitespace().nth(1)?.parse().ok()?;
    let (mut headers, mut length) = (Vec::new(), 0);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().ok()?;
        }
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((status, headers, body))
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An upstream that counts calls and answers 200 with the path.
fn upstream() -> (Server, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let server = Server::start(Arc::new(move |req: &Request| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut r = Response::json(
            200,
            &json!({ "path": req.path, "body": String::from_utf8_lossy(&req.body) }),
        );
        r.headers.push(("X-Upstream".into(), "yes".into()));
        r
    }));
    (server, calls)
}

#[test]
fn every_kind_occurs_and_only_the_ambiguous_ones_reach_upstream() {
    let (up, calls) = upstream();
    let proxy = FaultProxy::start(&up.endpoint(), FaultPlan { rate: 1.0, seed: 7 });
    let mut reached = 0;
    for i in 0..200 {
        let before = calls.load(Ordering::SeqCst);
        let seen = call(&proxy.endpoint(), "GET", &format!("/r/{i}"), &[], "");
        let forwarded = calls.load(Ordering::SeqCst) - before;
        let (_, kind) = proxy.requests()[i].clone();
        let kind = kind.expect("rate 1.0 faults every request");
        assert_eq!(forwarded == 1, kind.takes_effect(), "{kind:?}");
        reached += forwarded;
        match kind {
            FaultKind::Throttle => {
                let (status, headers, _) = seen.expect("an answer");
                assert_eq!((status, get(&headers, "Retry-After")), (429, Some("0")));
            }
            FaultKind::ServerError => {
                let (status, headers, _) = seen.expect("an answer");
                assert!([500, 502, 503].contains(&status), "{status}");
                assert_eq!(get(&headers, "X-Upstream"), None);
            }
            FaultKind::LateError => {
                let (status, headers, _) = seen.expect("an answer");
                assert_eq!(status, 503);
                assert_eq!(get(&headers, "X-Upstream"), None);
            }
            FaultKind::Reset | FaultKind::LostResponse => assert!(seen.is_none(), "{kind:?}"),
        }
    }
    let n = proxy.injected();
    assert_eq!(n.requests, 200);
    assert_eq!(n.faults(), 200);
    for kind in FaultKind::ALL {
        assert!(n.of(kind) > 10, "{kind:?}: {n:?}");
    }
    assert_eq!(reached, n.lost_response + n.late_error);
}

#[test]
fn the_same_seed_gives_the_same_faults() {
    let (up, _) = upstream();
    let kinds = |seed| {
        let proxy = FaultProxy::start(&up.endpoint(), FaultPlan { rate: 0.5, seed });
        for i in 0..60 {
            call(&proxy.endpoint(), "GET", &format!("/r/{i}"), &[], "");
        }
        proxy.requests()
    };
    let (a, b, c) = (kinds(42), kinds(42), kinds(43));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let faulted = a.iter().filter(|(_, f)| f.is_some()).count();
    assert!((15..=45).contains(&faulted), "{faulted} of 60 at rate 0.5");
    assert_eq!(a[3].0, "GET /r/3");
}

#[test]
fn rate_zero_forwards_everything_unchanged() {
    let (up, calls) = upstream();
    let proxy = FaultProxy::start(&up.endpoint(), FaultPlan { rate: 0.0, seed: 1 });
    for i in 0..50 {
        let (status, headers, body) =
            call(&proxy.endpoint(), "POST", &format!("/r/{i}"), &[], "hello").expect("an answer");
        assert_eq!(status, 200);
        assert_eq!(get(&headers, "X-Upstream"), Some("yes"));
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({ "path": format!("/r/{i}"), "body": "hello" }));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 50);
    assert_eq!(
        proxy.injected(),
        FaultCounts {
            requests: 50,
            ..FaultCounts::default()
        }
    );
    // Turned on and off again mid-test.
    proxy.set_rate(1.0);
    call(&proxy.endpoint(), "GET", "/on", &[], "");
    proxy.set_rate(0.0);
    assert!(call(&proxy.endpoint(), "GET", "/off", &[], "").is_some());
    let log = proxy.requests();
    assert!(
        log[50].1.is_some() && log[51].1.is_none(),
        "{:?}",
        &log[50..]
    );
}

#[test]
fn throttles_and_server_errors_take_the_protocols_shape() {
    let (up, _) = upstream();
    let sigv4 = |service: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20250101/eu-west-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00"
        )
    };
    let form = (
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    let ec2 = sigv4("ec2");
    let iam = sigv4("iam");
    let eks = sigv4("eks");
    // Find a seed whose first request is throttled and one whose first
    // request is a 500.
    let first = |want: FaultKind, status: Option<u16>| {
        (0..1000u64)
            .find(|&seed| {
                let f = Dice::new(FaultPlan { rate: 1.0, seed }).roll().unwrap();
                f.kind == want && status.is_none_or(|s| s == f.status)
            })
            .unwrap()
    };
    let (t, e) = (
        first(FaultKind::Throttle, None),
        first(FaultKind::ServerError, Some(500)),
    );
    let once = |seed, headers: &[(&str, &str)], body: &str| {
        let proxy = FaultProxy::start(&up.endpoint(), FaultPlan { rate: 1.0, seed });
        let seen = call(&proxy.endpoint(), "POST", "/", headers, body).expect("an answer");
        (
            seen.0,
            seen.1,
            String::from_utf8(seen.2).unwrap(),
            proxy.requests(),
        )
    };

    let (status, _, body, log) = once(
        t,
        &[form, ("Authorization", &ec2)],
        "Action=DescribeVpcs&Version=2016-11-15",
    );
    assert_eq!(status, 503);
    assert!(
        body.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"),
        "{body}"
    );
    assert!(body.contains("<RequestID>"), "{body}");
    assert_eq!(log[0].0, "POST /?Action=DescribeVpcs");

    let (status, _, body, _) = once(
        t,
        &[form, ("Authorization", &iam)],
        "Action=CreateRole&Version=2010-05-08",
    );
    assert_eq!(status, 400);
    assert!(body.contains("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"), "{body}");

    let (status, _, body, _) = once(
        e,
        &[form, ("Authorization", &iam)],
        "Action=CreateRole&Version=2010-05-08",
    );
    assert_eq!(status, 500);
    assert!(
        body.contains("<Type>Receiver</Type><Code>InternalFailure</Code>"),
        "{body}"
    );

    let rest = [
        ("Authorization", eks.as_str()),
        ("X-Amz-Date", "20250101T000000Z"),
    ];
    let (status, headers, body, _) = once(t, &rest, "{}");
    assert_eq!(status, 429);
    assert_eq!(
        get(&headers, "x-amzn-ErrorType"),
        Some("ThrottlingException")
    );
    assert_eq!(body, r#"{"message":"Rate exceeded"}"#);

    let (status, headers, _, _) = once(e, &rest, "{}");
    assert_eq!(status, 500);
    assert_eq!(
        get(&headers, "x-amzn-ErrorType"),
        Some("InternalServerException")
    );

    let (status, headers, _, _) = once(t, &[("Authorization", "Bearer glsa_x")], "{}");
    assert_eq!(status, 429);
    assert_eq!(get(&headers, "Retry-After"), Some("0"));
    assert_eq!(get(&headers, "x-amzn-ErrorType"), None);
}

/// A seed whose first request gets `kind` and whose second gets none.
fn seed_for(kind: FaultKind) -> u64 {
    (0..)
        .find(|&seed| {
            let mut d = Dice::new(FaultPlan { rate: 0.5, seed });
            d.roll().map(|f| f.kind) == Some(kind) && d.roll().is_none()
        })
        .unwrap()
}

#[test]
fn the_aws_sdk_retries_every_kind_of_fault() {
    use aws_sdk_iam::config::retry::RetryConfig;
    let stub = Server::start(Arc::new(|req: &Request| {
        let body = String::from_utf8_lossy(&req.body);
        let xml = |b: &str| Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: b.as_bytes().to_vec(),
        };
        if body.contains("Action=ListRoles") {
            xml(
                "<ListRolesResponse><ListRolesResult><IsTruncated>false</IsTruncated><Roles/>\
                 </ListRolesResult><ResponseMetadata><RequestId>r</RequestId>\
                 </ResponseMetadata></ListRolesResponse>",
            )
        } else if body.contains("Action=DescribeVpcs") {
            xml("<DescribeVpcsResponse><requestId>r</requestId><vpcSet/></DescribeVpcsResponse>")
        } else {
            Response::json(200, &json!({ "clusters": ["c"] }))
        }
    }));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let retry = RetryConfig::standard().with_initial_backoff(std::time::Duration::from_millis(5));
    for kind in FaultKind::ALL {
        for service in ["iam", "ec2", "eks"] {
            let plan = FaultPlan {
                rate: 0.5,
                seed: seed_for(kind),
            };
            let proxy = FaultProxy::start(&stub.endpoint(), plan);
            let sdk = rt.block_on(crate::moto::sdk_config_for(&proxy.endpoint()));
            let ok = rt.block_on(async {
                match service {
                    "iam" => aws_sdk_iam::Client::from_conf(
                        aws_sdk_iam::config::Builder::from(&sdk)
                            .retry_config(retry.clone())
                            .build(),
                    )
                    .list_roles()
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
                    "ec2" => aws_sdk_ec2::Client::from_conf(
                        aws_sdk_ec2::config::Builder::from(&sdk)
                            .retry_config(retry.clone())
                            .build(),
                    )
                    .describe_vpcs()
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
                    _ => aws_sdk_eks::Client::from_conf(
                        aws_sdk_eks::config::Builder::from(&sdk)
                            .retry_config(retry.clone())
                            .build(),
                    )
                    .list_clusters()
                    .send()
                    .await
                    .map(|o| assert_eq!(o.clusters(), ["c"]))
                    .map_err(|e| format!("{e:?}")),
                }
            });
            let log = proxy.requests();
            assert!(ok.is_ok(), "{service} after {kind:?}: {ok:?} {log:?}");
            let faults: Vec<_> = log.iter().map(|(_, f)| *f).collect();
            assert_eq!(faults, [Some(kind), None], "{service}: {log:?}");
        }
    }
}
