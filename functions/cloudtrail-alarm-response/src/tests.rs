use super::*;
use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsError, LookupEventsOutput};
use aws_sdk_cloudtrail::types::Event;
use aws_sdk_iam::operation::get_user_policy::{GetUserPolicyError, GetUserPolicyOutput};
use aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;
use serde_json::json;

fn login(user: &str, mfa: &str) -> Value {
    json!({"eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com", "sourceIPAddress": "203.0.113.8",
        "userIdentity": {"type": "IAMUser", "userName": user}, "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": mfa}})
}

fn lookup(records: Vec<Value>) -> LookupEventsOutput {
    let mut b = LookupEventsOutput::builder();
    for r in records {
        b = b.events(
            Event::builder()
                .event_name(r["eventName"].as_str().unwrap())
                .cloud_trail_event(r.to_string())
                .build(),
        );
    }
    b.build()
}

fn target(kind: Kind) -> Target {
    Target {
        alarm: "quell-cis-ConsoleSigninWithoutMFA".into(),
        kind,
        start: DateTime::from_secs(1_700_000_000),
        end: DateTime::from_secs(1_700_000_900),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        calls: Cached::default(),
    }
}

fn clients(ct: aws_sdk_cloudtrail::Client, iam: aws_sdk_iam::Client) -> Clients {
    let cfg = aws_sdk_ec2::config::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .build();
    let s3cfg = aws_sdk_s3::config::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .build();
    Clients {
        cloudtrail: ct,
        iam,
        ec2: aws_sdk_ec2::Client::from_conf(cfg),
        s3: aws_sdk_s3::Client::from_conf(s3cfg),
    }
}

#[test]
fn the_window_names_who_signed_in_without_mfa_and_what_changed() {
    let calls: Vec<Call> = [
        login("alice", "No"),
        login("bob", "Yes"),
        login("carol", "No"),
    ]
    .into_iter()
    .map(|r| Call {
        name: "ConsoleLogin".into(),
        source_ip: "203.0.113.8".into(),
        who: r["userIdentity"]["userName"].as_str().unwrap().into(),
        user_type: "IAMUser".into(),
        record: r,
    })
    .collect();
    assert_eq!(
        without_mfa(&calls).into_iter().collect::<Vec<_>>(),
        ["alice", "carol"]
    );
    let sg = Call {
        name: "AuthorizeSecurityGroupIngress".into(),
        source_ip: "x".into(),
        who: "dev".into(),
        user_type: "IAMUser".into(),
        record: json!({"requestParameters": {"groupId": "sg-0123456789abcdef0"}}),
    };
    assert_eq!(
        changed(&[sg], SG_CALLS, "groupId")
            .into_iter()
            .collect::<Vec<_>>(),
        ["sg-0123456789abcdef0"]
    );
}

#[tokio::test]
async fn users_who_signed_in_without_mfa_get_the_deny_policy_once() {
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(|| lookup(vec![login("alice", "No"), login("bob", "Yes")]));
    let g = mock!(aws_sdk_iam::Client::get_user_policy)
        .sequence()
        .error(|| {
            GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .times(2)
        .output(|| {
            GetUserPolicyOutput::builder()
                .user_name("alice")
                .policy_name(MFA_POLICY)
                .policy_document("{}")
                .build()
                .unwrap()
        })
        .build();
    let p = mock!(aws_sdk_iam::Client::put_user_policy)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.policy_document()
                    .is_some_and(|d| d.contains("MultiFactorAuthPresent"))
        })
        .then_output(|| PutUserPolicyOutput::builder().build());
    let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&l]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &p]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &clients(ct, iam),
        &target(Kind::ConsoleWithoutMfa),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps.len(), 1, "only alice: {steps:?}");
    assert_eq!(p.num_calls(), 1);
    assert_eq!(l.num_calls(), 1, "the window is looked up once per finding");
}

#[tokio::test]
async fn notify_only_root_escalation_and_lookup_failures() {
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(|| lookup(vec![login("alice", "No")]));
    let g = mock!(aws_sdk_iam::Client::get_user_policy).then_error(|| {
        GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
    });
    let p = mock!(aws_sdk_iam::Client::put_user_policy)
        .then_output(|| PutUserPolicyOutput::builder().build());
    let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&l]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &p]);
    let r = CloudtrailAlarmResponse {
        mfa_notify_only: true,
        ..Default::default()
    };
    let out = execute(
        &r,
        &clients(ct, iam),
        &target(Kind::ConsoleWithoutMfa),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Planned { reason, .. } if reason.contains("notify only")),
        "{out:?}"
    );
    assert_eq!(p.num_calls(), 0);

    let root = json!({"eventName": "GetBucketAcl", "sourceIPAddress": "198.51.100.4", "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111111111111:root"}});
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(move || lookup(vec![root.clone()]));
    let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&l]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &clients(ct, iam),
        &target(Kind::RootUsage),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    match &out {
        Outcome::Failed {
            error,
            retryable: false,
            ..
        } => assert!(
            error.contains("CRITICAL")
                && error.contains("198.51.100.4")
                && error.contains("GetBucketAcl"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }

    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
        LookupEventsError::generic(ErrorMetadata::builder().code("ThrottlingException").build())
    });
    let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&l]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g]);
    assert!(execute(
        &CloudtrailAlarmResponse::default(),
        &clients(ct, iam),
        &target(Kind::ConsoleWithoutMfa),
        Mode::Enforce,
        "x"
    )
    .await
    .is_retryable());
}

#[test]
fn ok_alarms_are_recorded_not_acted_on_and_names_are_configurable() {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/cloudwatch-alarm-consolesigninwithoutmfa.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let f = quell::event::Envelope::parse(v.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let t = CloudtrailAlarmResponse::default().target(&f).unwrap();
    assert_eq!(t.kind, Kind::ConsoleWithoutMfa);
    assert!(t.start.secs() < t.end.secs());
    v["detail"]["state"]["value"] = json!("OK");
    let ok = quell::event::Envelope::parse(v)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    assert!(CloudtrailAlarmResponse::default()
        .target(&ok)
        .unwrap_err()
        .0
        .contains("recorded, not acted on"));
    let mut r = CloudtrailAlarmResponse::default();
    r.configure(&|k| (k == "QUELL_ALARM_ROOT_USAGE").then(|| "RootLogins".into()))
        .unwrap();
    assert!(r
        .metrics
        .contains(&("RootLogins".to_string(), Kind::RootUsage)));
    assert_eq!(
        r.configure(&|k| (k == "QUELL_MFA_NOTIFY_ONLY").then(|| "maybe".into()))
            .unwrap_err()
            .var,
        "QUELL_MFA_NOTIFY_ONLY"
    );
}
