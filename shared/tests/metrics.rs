//! quell's Embedded Metric Format record, held to the format's rules as CloudWatch documents them
//! (the specification's required members and limits), checked here independently of the code that
//! writes it: a record CloudWatch would reject is a metric silently never made.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::outcome::{Report, Workflow};
use quell::{Mode, Outcome, Source, Step};
use serde_json::Value;

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Why `v` is not a valid EMF record, if it is not.
fn emf_problem(v: &Value) -> Option<String> {
    let root = v.as_object()?;
    let aws = root.get("_aws").and_then(Value::as_object);
    let Some(aws) = aws else {
        return Some("no _aws object".into());
    };
    if !aws.get("Timestamp").is_some_and(|t| t.is_u64()) {
        return Some("_aws.Timestamp is not a number of milliseconds".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return Some("_aws.CloudWatchMetrics is not an array".into());
    };
    if directives.is_empty() {
        return Some("no metric directive".into());
    }
    for d in directives {
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if ns.is_empty() || ns.len() > 255 {
            return Some(format!("Namespace `{ns}`"));
        }
        let Some(sets) = d.get("Dimensions").and_then(Value::as_array) else {
            return Some("Dimensions is not an array".into());
        };
        for set in sets {
            let Some(names) = set.as_array() else {
                return Some("a dimension set is not an array".into());
            };
            if names.len() > 30 {
                return Some("more than 30 dimensions in a set".into());
            }
            for n in names {
                let n = n.as_str().unwrap_or_default();
                if !root.get(n).is_some_and(Value::is_string) {
                    return Some(format!("dimension `{n}` is not a string member"));
                }
            }
        }
        let Some(metrics) = d.get("Metrics").and_then(Value::as_array) else {
            return Some("Metrics is not an array".into());
        };
        if metrics.is_empty() || metrics.len() > 100 {
            return Some("Metrics must hold 1 to 100".into());
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() || name.len() > 1024 {
                return Some(format!("metric name `{name}`"));
            }
            if !root.get(name).is_some_and(Value::is_number) {
                return Some(format!("metric `{name}` has no number member"));
            }
            if let Some(u) = m.get("Unit") {
                if !u.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Some(format!("unit {u}"));
                }
            }
        }
    }
    None
}

fn report(outcome: Outcome) -> Report {
    Report {
        function: "s3-block-public-access".into(),
        source: Source::Config,
        finding_id: "s3-bucket-public-read-prohibited/AWS::S3::Bucket/b".into(),
        kind: "s3-bucket-public-read-prohibited".into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        resource: Some("AWS::S3::Bucket b".into()),
        mode: Mode::Enforce,
        outcome,
        workflow: Some(Workflow::Resolved),
        note: "a note".into(),
        hub: None,
        record_errors: Vec::new(),
    }
}

#[test]
fn every_outcome_record_is_valid_emf_with_the_account_as_a_property() {
    let fixed = report(Outcome::Remediated {
        steps: vec![Step::new("s3:PutBucketPublicAccessBlock", "b all four on")],
    });
    let v = quell::metrics::record(
        &fixed,
        std::time::Duration::from_millis(42),
        1_764_000_000_000,
    );
    assert_eq!(emf_problem(&v), None, "{v}");
    assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "quell");
    assert_eq!(v["remediation"], "s3-block-public-access");
    assert_eq!(v["outcome"], "REMEDIATED");
    assert_eq!(v["RemediationLatency"], 42.0);
    // The account is a property: searchable, never a dimension (a metric per account).
    assert_eq!(v["account"], "111111111111");
    let dims = v["_aws"]["CloudWatchMetrics"][0]["Dimensions"].to_string();
    assert!(!dims.contains("account"), "{dims}");
    // The permanent-failure alarm reads Outcomes by outcome alone.
    assert!(dims.contains(r#"["outcome"]"#), "{dims}");
    let failed = report(Outcome::Failed {
        error: "AccessDenied".into(),
        code: Some("AccessDenied".into()),
        retryable: false,
    });
    let v = quell::metrics::record(&failed, std::time::Duration::ZERO, 1);
    assert_eq!(emf_problem(&v), None, "{v}");
    assert_eq!(v["outcome"], "FAILED");

    // The validator itself refuses what CloudWatch would.
    let mut bad = v.clone();
    bad["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = serde_json::json!([["tenant"]]);
    assert!(emf_problem(&bad).is_some());
    let mut bad = v.clone();
    bad.as_object_mut().unwrap().remove("Outcomes");
    assert!(emf_problem(&bad).is_some());
    let mut bad = v;
    bad["_aws"]["Timestamp"] = serde_json::json!("now");
    assert!(emf_problem(&bad).is_some());
}
