//! Tests of the Grafana test server's HTTPS port: the test CA, and
//! seeded faults.

use std::io::{BufRead, BufReader, Read, Write};

use super::*;
use crate::kube_api::tls::{certificates, request};

/// One plain-HTTP request: the status and the body.
fn plain(g: &GrafanaServer, path: &str, bearer: &str) -> (u16, Value) {
    let mut conn = TcpStream::connect(g.addr).expect("connect");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {bearer}\r\nContent-Length: 0\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).expect("send");
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header");
        match h.trim_end().split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("content-length") => {
                length = v.trim().parse().unwrap()
            }
            Some(_) => {}
            None => break,
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[test]
fn https_with_the_test_ca_serves_what_plain_http_serves() {
    let g = GrafanaServer::start("admin");
    assert_eq!(g.host(), g.https_url().trim_start_matches("https://"));
    assert_eq!(
        std::fs::read_to_string(g.ca_file()).expect("the CA file"),
        g.ca_pem()
    );
    assert_eq!(
        g.env(),
        [(
            "SSL_CERT_FILE".to_string(),
            g.ca_file().display().to_string()
        )]
    );
    let (status, _, body) = request(
        g.tls_addr,
        g.ca_pem(),
        "POST",
        "/api/folders",
        "admin",
        r#"{"title": "Mesh", "uid": "mesh"}"#,
    )
    .expect("an answer over HTTPS");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, folder) = plain(&g, "/api/folders/mesh", "admin");
    assert_eq!((status, &folder["title"]), (200, &json!("Mesh")));
    assert_eq!(plain(&g, "/api/folders/mesh", "wrong").0, 401);
    // A client trusting another CA does not get through the handshake.
    let (other_ca, _) = certificates();
    assert!(request(g.tls_addr, &other_ca, "GET", "/api/health", "admin", "").is_none());
}

#[test]
fn seeded_faults_hit_the_https_port() {
    let g = GrafanaServer::start("admin");
    g.inject_faults(FaultPlan { rate: 1.0, seed: 7 });
    let answered: Vec<Option<u16>> = (0..20)
        .map(|_| request(g.tls_addr, g.ca_pem(), "GET", "/api/health", "admin", "").map(|a| a.0))
        .collect();
    let counts = g.faults_injected();
    assert_eq!((counts.requests, counts.faults()), (20, 20), "{counts:?}");
    assert_eq!(
        answered.iter().filter(|a| a.is_none()).count() as u64,
        counts.reset + counts.lost_response,
        "{answered:?} {counts:?}"
    );
    assert!(
        answered
            .iter()
            .flatten()
            .all(|s| [429, 500, 502, 503].contains(s))
    );
    g.set_fault_rate(0.0);
    let ok = request(g.tls_addr, g.ca_pem(), "GET", "/api/health", "admin", "");
    assert_eq!(ok.map(|a| a.0), Some(200));
}
