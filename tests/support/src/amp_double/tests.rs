//! Unit tests of what the AMP double refuses in scrape configurations
//! and Alertmanager definitions.

use super::definitions::definition_problem;
use super::scrapers::scrape_problem;

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
