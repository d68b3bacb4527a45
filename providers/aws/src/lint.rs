//! What the AWS provider knows without contacting anything: which EKS
//! versions are out of standard support, and the Kubernetes version a
//! spec's cluster runs (a fact the Kubernetes provider's lint uses).

use meshmon_provider_sdk::lint::{Facts, Finding, KUBERNETES_MINOR, WarningCode, Written};

pub const EKS_SUPPORT: &str = "eks-standard-support-ended";

pub const CODES: &[WarningCode] = &[(EKS_SUPPORT, "an EKS version out of standard support")];

/// Ends of standard support of EKS versions (from the EKS Kubernetes
/// version calendar,
/// https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
/// A version not listed is older than the first entry.
const STANDARD_SUPPORT_ENDS: &[(&str, &str)] = &[
    ("1.23", "2023-10-11"),
    ("1.24", "2024-01-31"),
    ("1.25", "2024-05-01"),
    ("1.26", "2024-06-11"),
    ("1.27", "2024-07-24"),
    ("1.28", "2024-11-26"),
    ("1.29", "2025-03-23"),
    ("1.30", "2025-07-23"),
    ("1.31", "2025-11-26"),
    ("1.32", "2026-03-23"),
    ("1.33", "2026-07-29"),
    ("1.34", "2026-12-02"),
    ("1.35", "2027-03-27"),
];

fn minor(version: &str) -> Option<u32> {
    version.trim().split('.').nth(1)?.parse().ok()
}

pub fn facts(r: &Written<'_>) -> Vec<(&'static str, String)> {
    match (r.type_name, r.text("version").and_then(minor)) {
        ("aws_eks_cluster", Some(m)) => vec![(KUBERNETES_MINOR, m.to_string())],
        _ => Vec::new(),
    }
}

pub fn lint(r: &Written<'_>, today: &str, _facts: &Facts) -> Vec<Finding> {
    if r.type_name != "aws_eks_cluster" {
        return Vec::new();
    }
    let Some(version) = r.text("version") else {
        return Vec::new();
    };
    let latest = STANDARD_SUPPORT_ENDS
        .iter()
        .filter(|(_, end)| *end > today)
        .map(|(v, _)| *v)
        .next()
        .unwrap_or("the newest version");
    let ended = match STANDARD_SUPPORT_ENDS.iter().find(|(v, _)| *v == version) {
        Some((_, end)) if *end <= today => Some(format!("ended on {end}")),
        Some(_) => None,
        None if minor(version).is_some_and(|m| m < 23) => Some("ended years ago".into()),
        None => None,
    };
    ended
        .map(|ended| Finding {
            code: EKS_SUPPORT,
            attribute: "version",
            needle: None,
            label: "the version",
            message: format!(
                "EKS version {version} is out of standard support (it {ended}); extended support costs more and ends too"
            ),
            help: format!("set version to {latest} or later"),
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_provider_sdk::{Map, Value};

    fn cluster(version: &str) -> Map {
        [("version".to_string(), Value::from(version))].into()
    }

    #[test]
    fn a_version_out_of_standard_support_is_a_warning_naming_the_next() {
        let inputs = cluster("1.29");
        let r = Written {
            type_name: "aws_eks_cluster",
            inputs: &inputs,
        };
        let found = lint(&r, "2026-12-07", &Facts::default());
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("ended on 2025-03-23"));
        assert_eq!(found[0].help, "set version to 1.35 or later");
        let inputs = cluster("1.35");
        let r = Written {
            type_name: "aws_eks_cluster",
            inputs: &inputs,
        };
        assert!(lint(&r, "2026-12-07", &Facts::default()).is_empty());
        assert_eq!(facts(&r), [(KUBERNETES_MINOR, "35".to_string())]);
    }
}
