//! Whom quell believes: forged events, each refused by the parser with the error that names the
//! field AWS did not vouch for, and matched by none of the generated rules (so EventBridge would
//! not even deliver them). The genuine event each forgery is made from parses and routes, so the
//! table cannot pass by refusing everything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use quell::event::{Envelope, EventError, Trust};
use quell_cli::{registry, route};
use serde_json::{json, Value};

fn event(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("sample event")).expect("JSON")
}

/// The first error the parser gives, for the event or for its first finding.
fn refusal(e: &Value, trust: &Trust) -> EventError {
    match Envelope::parse_trusted(e.clone(), trust) {
        Err(err) => err,
        Ok(intake) => intake
            .findings
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("accepted: {e}")),
    }
}

struct Forgery {
    what: &'static str,
    genuine: &'static str,
    forge: fn(&mut Value),
    field: &'static str,
    /// Whether a rule pattern can tell it from the genuine event. A pattern cannot compare a
    /// detail field with the envelope's `account`, nor require a field it does not name: those
    /// forgeries are the parser's alone to refuse.
    patterns_refuse: bool,
}

const FORGERIES: &[Forgery] = &[
    Forgery {
        what: "a CloudTrail call under a source of the sender's choosing",
        genuine: "cloudtrail-authorizesecuritygroupingress.json",
        forge: |e| e["source"] = json!("x"),
        field: "source",
        patterns_refuse: true,
    },
    Forgery {
        what: "a CloudTrail call whose source is another service's",
        genuine: "cloudtrail-authorizesecuritygroupingress.json",
        forge: |e| e["source"] = json!("aws.s3"),
        field: "source",
        patterns_refuse: true,
    },
    Forgery {
        what: "a CloudTrail call naming another account than the one that delivered it",
        genuine: "cloudtrail-authorizesecuritygroupingress.json",
        forge: |e| e["detail"]["recipientAccountId"] = json!("222222222222"),
        field: "detail.recipientAccountId",
        patterns_refuse: false,
    },
    Forgery {
        what: "a Config change naming another account than the one that delivered it",
        genuine: "config-restricted-ssh.json",
        forge: |e| e["detail"]["awsAccountId"] = json!("222222222222"),
        field: "detail.awsAccountId",
        patterns_refuse: false,
    },
    Forgery {
        what: "a GuardDuty finding under a custom source",
        genuine: "guardduty-ec2-backdoor-ccactivity-b.json",
        forge: |e| e["source"] = json!("custom.guardduty"),
        field: "source",
        patterns_refuse: true,
    },
    Forgery {
        what: "a Security Hub finding under a custom source",
        genuine: "securityhub-imported-fsbp-s3-8.json",
        forge: |e| e["source"] = json!("acme.securityhub"),
        field: "source",
        patterns_refuse: true,
    },
    Forgery {
        what: "a control finding a member imported under its own product",
        genuine: "securityhub-imported-fsbp-s3-8.json",
        forge: |e| {
            e["detail"]["findings"][0]["ProductArn"] =
                json!("arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default")
        },
        field: "detail.findings[0].ProductArn",
        patterns_refuse: true,
    },
    Forgery {
        what: "a team's own custom action (Send to Jira) on a control quell fixes",
        genuine: "securityhub-custom-action-s3-8.json",
        forge: |e| {
            e["resources"] =
                json!(["arn:aws:securityhub:us-east-1:123456789012:action/custom/SendToJira"]);
            e["detail"]["actionName"] = json!("Remediate with quell");
        },
        field: "resources",
        patterns_refuse: true,
    },
    Forgery {
        what: "quell's action id, created in another account",
        genuine: "securityhub-custom-action-s3-8.json",
        forge: |e| {
            e["resources"] =
                json!(["arn:aws:securityhub:us-east-1:999999999999:action/custom/QuellRemediate"])
        },
        field: "resources",
        patterns_refuse: true,
    },
    Forgery {
        what: "an alarm forwarded without the time EventBridge stamps",
        genuine: "cloudwatch-alarm-disableordeletecmk.json",
        forge: |e| {
            e.as_object_mut().unwrap().remove("time");
        },
        field: "time",
        patterns_refuse: false,
    },
];

fn field_of(e: &EventError) -> String {
    match e {
        EventError::Untrusted { field, .. } | EventError::Invalid { field, .. } => field.clone(),
        EventError::Field { path, .. } => path.clone(),
        other => format!("{other}"),
    }
}

#[test]
fn forged_events_are_refused_naming_the_field_and_match_no_rule() {
    let handlers = registry::handlers();
    for f in FORGERIES {
        let genuine = event(f.genuine);
        assert!(
            Envelope::parse(genuine.clone())
                .map(|i| i.findings.iter().all(Result::is_ok))
                .unwrap_or(false),
            "{}: the genuine {} must parse",
            f.what,
            f.genuine
        );
        assert!(
            !route(&handlers, &genuine).is_empty(),
            "{}: the genuine {} must route",
            f.what,
            f.genuine
        );
        let mut forged = genuine.clone();
        (f.forge)(&mut forged);
        let err = refusal(&forged, &Trust::default());
        assert_eq!(field_of(&err), f.field, "{}: {err}", f.what);
        assert!(err.to_string().contains(f.field), "{}: {err}", f.what);
        if f.patterns_refuse {
            let routed: Vec<_> = route(&handlers, &forged)
                .iter()
                .map(|h| h.spec().id)
                .collect();
            assert!(
                routed.is_empty(),
                "{}: a generated rule matches it: {routed:?}",
                f.what
            );
        }
    }
}

#[test]
fn an_account_outside_the_organization_is_refused_naming_the_field() {
    let org = Trust {
        organization: Some(
            ["111111111111", "123456789012"]
                .iter()
                .map(|a| a.to_string())
                .collect(),
        ),
        ..Trust::default()
    };
    for (name, forge, field) in [
        (
            "guardduty-ec2-backdoor-ccactivity-b.json",
            &(|e: &mut Value| e["detail"]["accountId"] = json!("999999999999"))
                as &dyn Fn(&mut Value),
            "detail.accountId",
        ),
        (
            "securityhub-imported-fsbp-s3-8.json",
            &|e: &mut Value| e["detail"]["findings"][0]["AwsAccountId"] = json!("999999999999"),
            "detail.findings[0].AwsAccountId",
        ),
        (
            "config-restricted-ssh.json",
            &|e: &mut Value| {
                e["account"] = json!("999999999999");
                e["detail"]["awsAccountId"] = json!("999999999999");
            },
            "detail.awsAccountId",
        ),
    ] {
        let mut e = event(name);
        let mut inside = e.clone();
        if name.starts_with("guardduty") {
            inside["detail"]["accountId"] = json!("111111111111");
        }
        assert!(
            Envelope::parse_trusted(inside, &org)
                .map(|i| i.findings.iter().all(Result::is_ok))
                .unwrap_or(false),
            "{name}: inside the organization it is taken"
        );
        forge(&mut e);
        let err = refusal(&e, &org);
        assert_eq!(field_of(&err), field, "{name}: {err}");
        assert!(err.to_string().contains("organization"), "{err}");
    }
}

#[test]
fn configured_action_targets_are_the_only_ones_believed() {
    let genuine = event("securityhub-custom-action-s3-8.json");
    let arn = genuine["resources"][0].as_str().unwrap().to_string();
    let trust = Trust {
        action_targets: Some([arn.clone()].into_iter().collect()),
        ..Trust::default()
    };
    let intake = Envelope::parse_trusted(genuine.clone(), &trust).unwrap();
    assert!(intake.findings.iter().all(Result::is_ok));
    let other = Trust {
        action_targets: Some(
            ["arn:aws:securityhub:us-east-1:123456789012:action/custom/QuellOther".to_string()]
                .into_iter()
                .collect(),
        ),
        ..Trust::default()
    };
    assert_eq!(field_of(&refusal(&genuine, &other)), "resources");
}

#[test]
fn an_alarm_cannot_widen_its_own_window() {
    let mut e = event("cloudwatch-alarm-disableordeletecmk.json");
    let time = e["time"].as_str().unwrap().to_string();
    // A 90-day window, as SetAlarmState lets a principal write it.
    e["detail"]["state"]["reasonData"] = json!(json!({
        "version": "1.0", "queryDate": time.replace('Z', ".000+0000"),
        "startDate": "2019-01-01T00:00:00.000+0000", "period": 86400,
        "recentDatapoints": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    })
    .to_string());
    e["detail"]["configuration"]["metrics"][0]["metricStat"]["period"] = json!(86400);
    let f = Envelope::parse(e).unwrap().findings.remove(0).unwrap();
    let secs = |t: &str| {
        aws_smithy_types::DateTime::from_str(t, aws_smithy_types::date_time::Format::DateTime)
            .unwrap()
            .secs()
    };
    let (start, end) = (
        secs(f.window_start.as_deref().unwrap()),
        secs(f.observed_at.as_deref().unwrap()),
    );
    assert_eq!(end, secs(&time), "the window ends when EventBridge says");
    assert_eq!(end - start, 3600, "at most an hour");
}
