//! Unit tests of what the AMP double refuses in scrape configurations
//! and Alertmanager definitions, and of how long a scraper's create takes.

use super::definitions::definition_problem;
use super::scrapers::scrape_problem;
use super::*;

#[test]
fn refuses_what_the_service_documents_as_refused() {
    assert!(
        scrape_problem("global:\n  scrape_interval: 15s\n")
            .unwrap()
            .contains("below the minimum")
    );
    assert!(
        scrape_problem("scrape_configs:\n  - job_name: x\n    ec2_sd_configs: []\n")
            .unwrap()
            .contains("ec2_sd_configs")
    );
    assert!(scrape_problem("global:\n  scrape_interval: 30s\n").is_none());
    assert!(
        definition_problem(
            "alertmanager_config: |\n  receivers:\n    - name: x\n      webhook_configs: []\n"
        )
        .unwrap()
        .contains("webhook_configs")
    );
}

#[test]
fn a_scraper_is_creating_for_its_own_create_delay() {
    // Unsigned requests are the default account's; nothing is forwarded.
    let amp = AmpDouble::start(Duration::from_millis(50), "http://127.0.0.1:9");
    amp.set_scraper_create_delay(Duration::from_millis(600));
    let body = json!({
        "source": { "eksConfiguration": {
            "clusterArn": "arn:aws:eks:eu-west-1:123456789012:cluster/c",
            "subnetIds": ["subnet-1"],
        } },
        "destination": { "ampConfiguration": {
            "workspaceArn": "arn:aws:aps:eu-west-1:123456789012:workspace/ws-1",
        } },
        "scrapeConfiguration": {
            "configurationBlob": B64.encode("global:\n  scrape_interval: 30s\n"),
        },
    });
    let req = Request {
        method: "POST".into(),
        path: "/scrapers".into(),
        query: Vec::new(),
        body: body.to_string().into_bytes(),
        target: "/scrapers".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
    };
    let made = forward(&amp.endpoint(), &req);
    assert_eq!(made.status, 202, "{}", String::from_utf8_lossy(&made.body));
    let id = serde_json::from_slice::<Value>(&made.body).unwrap()["scraperId"]
        .as_str()
        .unwrap()
        .to_string();
    let status = || amp.scraper(&id).unwrap()["status"]["statusCode"].clone();
    // Past the settle time, not the scraper's create delay.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(status(), "CREATING");
    std::thread::sleep(Duration::from_millis(550));
    assert_eq!(status(), "ACTIVE");
}
