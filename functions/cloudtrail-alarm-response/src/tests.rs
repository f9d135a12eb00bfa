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
        evidence: None,
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
        kms: aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Config::builder()
                .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
                .build(),
        ),
        config: aws_sdk_config::Client::from_conf(
            aws_sdk_config::config::Config::builder()
                .behavior_version(aws_sdk_config::config::BehaviorVersion::latest())
                .build(),
        ),
    }
}

fn no_iam() -> aws_sdk_iam::Client {
    let never = mock!(aws_sdk_iam::Client::get_user_policy).then_error(|| {
        GetUserPolicyError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    mock_client!(aws_sdk_iam, [&never])
}

fn call(name: &str, source: &str, params: Value) -> Value {
    json!({"eventName": name, "eventSource": source, "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "userName": "mallory"}, "requestParameters": params})
}

/// The session of quell's own member role for this function.
const QUELL_SESSION: &str = "arn:aws:sts::111111111111:assumed-role/quell-cloudtrail-alarm-response/quell-cloudtrail-alarm-response";

/// A call made by quell's own member role.
fn quells(name: &str, source: &str, params: Value) -> Value {
    json!({"eventName": name, "eventSource": source, "sourceIPAddress": "203.0.113.200",
        "userIdentity": {"type": "AssumedRole", "arn": QUELL_SESSION}, "requestParameters": params})
}

/// A sample event of events/.
fn sample(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn finding_of(event: Value) -> Finding {
    quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

/// KMS rules that must not be reached: DescribeKey and EnableKey.
fn kms_untouched() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    use aws_sdk_kms::operation::describe_key::DescribeKeyError;
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_error(|| {
        DescribeKeyError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    let enable = mock!(aws_sdk_kms::Client::enable_key)
        .then_output(|| aws_sdk_kms::operation::enable_key::EnableKeyOutput::builder().build());
    (describe, enable)
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

#[tokio::test]
async fn a_key_scheduled_for_deletion_is_cancelled_and_enabled_again() {
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeyState};
    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let meta = |state: KeyState| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id(KEY)
                    .key_manager(KeyManagerType::Customer)
                    .key_state(state)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![call(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            json!({"keyId": KEY, "pendingWindowInDays": 7}),
        )])
    });
    let d = mock!(aws_sdk_kms::Client::describe_key)
        .sequence()
        .output(move || meta(KeyState::PendingDeletion))
        .times(2)
        .output(move || meta(KeyState::Enabled))
        .build();
    let tags = mock!(aws_sdk_kms::Client::list_resource_tags).then_output(|| {
        aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput::builder().build()
    });
    let cancel = mock!(aws_sdk_kms::Client::cancel_key_deletion)
        .match_requests(|r| r.key_id() == Some(KEY))
        .then_output(|| {
            aws_sdk_kms::operation::cancel_key_deletion::CancelKeyDeletionOutput::builder().build()
        });
    let enable = mock!(aws_sdk_kms::Client::enable_key)
        .match_requests(|r| r.key_id() == Some(KEY))
        .then_output(|| aws_sdk_kms::operation::enable_key::EnableKeyOutput::builder().build());
    let mut c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    c.kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&d, &tags, &cancel, &enable]
    );
    // By default a key change is planned, never undone by quell: it may be a responder's.
    let pending = mock!(aws_sdk_kms::Client::describe_key)
        .then_output(move || meta(KeyState::PendingDeletion));
    let l0 = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![call(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            json!({"keyId": KEY, "pendingWindowInDays": 7}),
        )])
    });
    let mut planned = clients(mock_client!(aws_sdk_cloudtrail, [&l0]), no_iam());
    planned.kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&pending, &tags, &cancel, &enable]
    );
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &planned,
        &target(Kind::KmsKeyChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "PLANNED", "{out:?}");
    assert!(
        out.note("x", "y").contains("QUELL_ALARM_KMS_RESTORE"),
        "{out:?}"
    );
    assert_eq!((cancel.num_calls(), enable.num_calls()), (0, 0));
    let mut r = CloudtrailAlarmResponse::default();
    r.configure(&|k| (k == "QUELL_ALARM_KMS_RESTORE").then(|| "true".into()))
        .unwrap();
    let out = execute(
        &r,
        &c,
        &target(Kind::KmsKeyChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    let note = out.note("x", "y");
    assert!(
        note.contains("kms:CancelKeyDeletion") && note.contains("mallory"),
        "{note}"
    );
    assert_eq!((cancel.num_calls(), enable.num_calls()), (1, 1));
    assert!(valid_key_ref(KEY));
    assert!(valid_key_ref(
        "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ));
    assert!(!valid_key_ref("../x y"));
}

#[tokio::test]
async fn a_stopped_configuration_recorder_is_started_again() {
    use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
    use aws_sdk_config::types::ConfigurationRecorderStatus;
    let status = |recording: bool| {
        DescribeConfigurationRecorderStatusOutput::builder()
            .configuration_recorders_status(
                ConfigurationRecorderStatus::builder()
                    .name("default")
                    .recording(recording)
                    .build(),
            )
            .build()
    };
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![call(
            "StopConfigurationRecorder",
            "config.amazonaws.com",
            json!({"configurationRecorderName": "default"}),
        )])
    });
    let st = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .sequence()
        .output(move || status(false))
        .times(2)
        .output(move || status(true))
        .build();
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .match_requests(|r| r.configuration_recorder_name() == Some("default"))
        .then_output(|| aws_sdk_config::operation::start_configuration_recorder::StartConfigurationRecorderOutput::builder().build());
    let mut c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    c.config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&st, &start]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::ConfigChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn watched_changes_are_escalated_with_who_what_and_where() {
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![
            call(
                "CreateRoute",
                "ec2.amazonaws.com",
                json!({"routeTableId": "rtb-0a1b2c3d", "destinationCidrBlock": "0.0.0.0/0"}),
            ),
            call("DescribeRouteTables", "ec2.amazonaws.com", json!({})),
        ])
    });
    let c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::RouteTableChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let note = out.note("x", "y");
    assert_eq!(out.name(), "FAILED", "{note}");
    assert!(
        note.contains("route table changes")
            && note.contains("CreateRoute rtb-0a1b2c3d by mallory from 198.51.100.7")
            && !note.contains("DescribeRouteTables"),
        "{note}"
    );
    // Unauthorized calls are found by their error code, in the whole window.
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes().is_empty())
        .then_output(|| {
            let mut denied = call(
                "GetSecretValue",
                "secretsmanager.amazonaws.com",
                json!({"secretId": "prod/db"}),
            );
            denied["errorCode"] = json!("AccessDenied");
            lookup(vec![
                denied,
                call("ListBuckets", "s3.amazonaws.com", json!({})),
            ])
        });
    let c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::UnauthorizedCalls),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let note = out.note("x", "y");
    assert!(
        note.contains("GetSecretValue prod/db (AccessDenied) by mallory"),
        "{note}"
    );
    assert!(!note.contains("ListBuckets"), "{note}");
    assert_eq!(l.num_calls(), 1);
}

#[test]
fn every_cis_alarm_has_a_response_and_a_variable() {
    let r = CloudtrailAlarmResponse::default();
    assert_eq!(r.metrics.len(), 14);
    for (metric, var, _) in ALARMS {
        assert!(
            CloudtrailAlarmResponse::SPEC
                .triggers
                .alarm_metrics
                .contains(metric),
            "{metric}"
        );
        assert!(var.starts_with("QUELL_ALARM_"));
    }
}

#[tokio::test]
async fn undo_puts_back_each_response_from_its_record() {
    let del = mock!(aws_sdk_iam::Client::delete_user_policy)
        .match_requests(|r| r.user_name() == Some("alice") && r.policy_name() == Some(MFA_POLICY))
        .then_output(|| {
            aws_sdk_iam::operation::delete_user_policy::DeleteUserPolicyOutput::builder().build()
        });
    let disable = mock!(aws_sdk_kms::Client::disable_key)
        .match_requests(|r| r.key_id() == Some("1234abcd-12ab-34cd-56ef-1234567890ab"))
        .then_output(|| aws_sdk_kms::operation::disable_key::DisableKeyOutput::builder().build());
    let stop = mock!(aws_sdk_config::Client::stop_configuration_recorder)
        .match_requests(|r| r.configuration_recorder_name() == Some("default"))
        .then_output(|| aws_sdk_config::operation::stop_configuration_recorder::StopConfigurationRecorderOutput::builder().build());
    let never = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
        LookupEventsError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    let mut c = clients(
        mock_client!(aws_sdk_cloudtrail, [&never]),
        mock_client!(aws_sdk_iam, [&del]),
    );
    c.kms = mock_client!(aws_sdk_kms, [&disable]);
    c.config = mock_client!(aws_sdk_config, [&stop]);
    let prior = json!({"alarm": "a", "account": "111111111111", "region": "us-east-1", "responses": [
        {"mfa_policy_added_to": ["alice"]},
        {"kms_key": {"key": "1234abcd-12ab-34cd-56ef-1234567890ab", "state": "Disabled"}},
        {"kms_key": {"key": "5678abcd-12ab-34cd-56ef-1234567890ab", "state": "PendingDeletion"}},
        {"recorders_started": ["default"]}
    ]});
    let r = CloudtrailAlarmResponse::default();
    let steps = r.restore(&c, &prior).await.unwrap();
    let text: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(steps.len(), 4, "{text:?}");
    assert!(text[2].contains("left enabled"), "{text:?}");
    assert_eq!(
        (del.num_calls(), disable.num_calls(), stop.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(never.num_calls(), 0);
    // A record naming something that is not a user is refused before any call.
    let bad = r
        .restore(
            &c,
            &json!({"responses": [{"mfa_policy_added_to": ["../../x"]}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code.as_deref(), Some("InvalidPriorState"));
    assert_eq!(del.num_calls(), 1);
}

#[test]
fn only_quells_own_alarms_are_acted_on() {
    let r = CloudtrailAlarmResponse::default();
    let event = sample("cloudwatch-alarm-disableordeletecmk.json");
    let f = finding_of(event.clone());
    assert_eq!(f.alarm_namespace.as_deref(), Some(DEFAULT_ALARM_NAMESPACE));
    assert_eq!(r.target(&f).unwrap().kind, Kind::KmsKeyChanges);

    // A look-alike the member made: the same metric name, another alarm name. target() is where
    // it stops, before any member session or AWS call.
    let forged = finding_of(
        serde_json::from_str(
            &event
                .to_string()
                .replace("quell-cis-DisableOrDeleteCMK", "ops-DisableOrDeleteCMK"),
        )
        .unwrap(),
    );
    assert_eq!(forged.kind, "DisableOrDeleteCMK");
    let why = r.target(&forged).unwrap_err().0;
    assert!(
        why.contains(
            "alarm `ops-DisableOrDeleteCMK` is not one of quell's (name prefix `quell-cis-`)"
        ),
        "{why}"
    );

    // Quell's name, another namespace (or none).
    let mut other = event.clone();
    other["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["namespace"] =
        json!("AWS/EC2");
    let other = finding_of(other);
    assert_eq!(other.alarm_namespace.as_deref(), Some("AWS/EC2"));
    let why = r.target(&other).unwrap_err().0;
    assert!(
        why.contains("namespace `AWS/EC2` is not `CISBenchmark`"),
        "{why}"
    );
    let mut none = f.clone();
    none.alarm_namespace = None;
    assert!(r
        .target(&none)
        .unwrap_err()
        .0
        .contains("names no metric namespace"));
    let mut nameless = f.clone();
    nameless.resources.clear();
    assert!(r.target(&nameless).is_err());

    // Both are settings; a bad value names its variable.
    let mut org = CloudtrailAlarmResponse::default();
    org.configure(&|k| match k {
        "QUELL_ALARM_NAME_PREFIX" => Some("org-cis-".into()),
        "QUELL_ALARM_NAMESPACE" => Some("Org/CIS".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        (org.alarm_name_prefix.as_str(), org.alarm_namespace.as_str()),
        ("org-cis-", "Org/CIS")
    );
    assert!(org
        .target(&f)
        .unwrap_err()
        .0
        .contains("name prefix `org-cis-`"));
    let mut renamed = f.clone();
    renamed.resources[0].id = "org-cis-DisableOrDeleteCMK".into();
    renamed.alarm_namespace = Some("Org/CIS".into());
    assert!(org.target(&renamed).is_ok());
    for (var, value) in [
        ("QUELL_ALARM_NAME_PREFIX", "quell cis-"),
        ("QUELL_ALARM_NAMESPACE", "CIS*Benchmark"),
    ] {
        let err = CloudtrailAlarmResponse::default()
            .configure(&|k| (k == var).then(|| value.to_string()))
            .unwrap_err();
        assert_eq!(err.var, var);
    }
}

#[tokio::test]
async fn a_window_claiming_90_days_is_looked_up_as_one_hour_at_most() {
    let mut f = finding_of(sample("cloudwatch-alarm-disableordeletecmk.json"));
    f.observed_at = Some("2026-11-28T13:05:00Z".into());
    f.window_start = Some("2026-08-30T13:05:00Z".into());
    let t = CloudtrailAlarmResponse::default().target(&f).unwrap();
    let end = parse_time("2026-11-28T13:05:00Z").unwrap().secs();
    assert!(
        t.end.secs() - t.start.secs() <= MAX_WINDOW_SECS && t.end.secs() >= end,
        "{} to {}",
        fmt(&t.start),
        fmt(&t.end)
    );
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| match (r.start_time(), r.end_time()) {
            (Some(s), Some(e)) => s.secs() < e.secs() && e.secs() - s.secs() <= 3600,
            _ => false,
        })
        .then_output(|| lookup(Vec::new()));
    let c = clients(
        mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&l]),
        no_iam(),
    );
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(
        l.num_calls(),
        1,
        "the lookup spans at most an hour: {out:?}"
    );

    // No end, or a start after the end: at most the last hour, ending at the end (or now).
    let now = 1_800_000_000;
    for (start, end) in [
        (Some(1_000), None),
        (Some(now - 100), None),
        (Some(now + 100), Some(now)),
        (Some(0), Some(now)),
        (None, None),
    ] {
        let (s, e) = window(
            start.map(DateTime::from_secs),
            end.map(DateTime::from_secs),
            DateTime::from_secs(now),
        );
        assert!(
            s.secs() < e.secs() && e.secs() - s.secs() <= MAX_WINDOW_SECS && e.secs() <= now + 60,
            "{start:?} {end:?}: {} to {}",
            s.secs(),
            e.secs()
        );
    }
    // An alarm's own five minutes, widened for CloudTrail's delivery delay.
    let (s, e) = window(
        Some(DateTime::from_secs(now - 300)),
        Some(DateTime::from_secs(now)),
        DateTime::from_secs(now),
    );
    assert_eq!((s.secs(), e.secs()), (now - 900, now + 60));
}

#[tokio::test]
async fn a_failed_call_is_evidence_not_a_change() {
    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut failed = call("DisableKey", "kms.amazonaws.com", json!({"keyId": KEY}));
    failed["errorCode"] = json!("AccessDeniedException");
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(move || lookup(vec![failed.clone()]));
    let (describe, enable) = kms_untouched();
    let mut c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    c.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&describe, &enable]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::KmsKeyChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(
        (describe.num_calls(), enable.num_calls()),
        (0, 0),
        "no EnableKey for a DisableKey that failed: {out:?}"
    );
    assert_eq!(out.name(), "ALREADY_COMPLIANT", "{out:?}");
    // It is still evidence: the window's summary names it, and why it was not acted on.
    let mut failed = call("DisableKey", "kms.amazonaws.com", json!({"keyId": KEY}));
    failed["errorCode"] = json!("AccessDeniedException");
    let calls = [Call {
        name: "DisableKey".into(),
        source_ip: "198.51.100.7".into(),
        who: "mallory".into(),
        user_type: "IAMUser".into(),
        record: failed,
    }];
    assert!(calls[0].failed() && !calls[0].acted_on());
    assert!(changed(&calls, KMS_CALLS, "keyId").is_empty());
    let seen = evidence(&calls);
    assert!(
        seen.contains(&format!(
            "not acted on: DisableKey {KEY} (AccessDeniedException) by mallory"
        )),
        "{seen}"
    );

    // The same for a configuration recorder: a failed stop starts nothing, and is not even read.
    let mut failed = call(
        "StopConfigurationRecorder",
        "config.amazonaws.com",
        json!({"configurationRecorderName": "default"}),
    );
    failed["errorCode"] = json!("AccessDeniedException");
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .then_output(move || lookup(vec![failed.clone()]));
    let st = mock!(aws_sdk_config::Client::describe_configuration_recorder_status).then_output(|| {
        aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput::builder().build()
    });
    let mut c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    c.config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&st]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::ConfigChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "ALREADY_COMPLIANT", "{out:?}");
    assert_eq!(st.num_calls(), 0);
}

#[tokio::test]
async fn quells_own_changes_are_not_acted_on_again() {
    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![quells(
            "DisableKey",
            "kms.amazonaws.com",
            json!({"keyId": KEY}),
        )])
    });
    let (describe, enable) = kms_untouched();
    let mut c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    c.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&describe, &enable]);
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::KmsKeyChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(
        (describe.num_calls(), enable.num_calls()),
        (0, 0),
        "{out:?}"
    );
    assert_eq!(out.name(), "ALREADY_COMPLIANT", "{out:?}");

    // Escalations still show quell's own changes, marked as such.
    let l = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        lookup(vec![quells(
            "CreateRoute",
            "ec2.amazonaws.com",
            json!({"routeTableId": "rtb-0a1b2c3d"}),
        )])
    });
    let c = clients(mock_client!(aws_sdk_cloudtrail, [&l]), no_iam());
    let out = execute(
        &CloudtrailAlarmResponse::default(),
        &c,
        &target(Kind::RouteTableChanges),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let note = out.note("x", "y");
    assert!(note.contains("(quell's own change)"), "{note}");

    // Which principals are quell's.
    for arn in [
        QUELL_SESSION,
        "arn:aws:iam::111111111111:role/quell-s3-block-public-access",
        "arn:aws:iam::111111111111:role/quell-undo",
        "arn:aws-us-gov:sts::111111111111:assumed-role/quell-ec2-revoke-open-ingress/s",
    ] {
        assert!(quell_role_arn(arn), "{arn}");
    }
    // A member's own look-alike roles are not quell's.
    for arn in [
        "arn:aws:iam::111111111111:role/quell-ops",
        "arn:aws:sts::111111111111:assumed-role/quell-x/s",
        "arn:aws:iam::111111111111:role/ops/quell-s3-block-public-access",
        "arn:aws:iam::222222222222:role/quell/cloudtrail-alarm-response/central",
        "arn:aws:sts::111111111111:assumed-role/dev/quell-session",
        "arn:aws:iam::111111111111:role/quellish",
        "arn:aws:iam::111111111111:role/dev/quell",
        "arn:aws:iam::111111111111:user/quell-x",
        "quell-x",
        "",
    ] {
        assert!(!quell_role_arn(arn), "{arn}");
    }
    // The session issuer counts too.
    let by_issuer = Call {
        name: "DisableKey".into(),
        source_ip: "x".into(),
        who: "x".into(),
        user_type: "AssumedRole".into(),
        record: json!({"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::111111111111:assumed-role/central/s",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111111111111:role/quell-cloudtrail-alarm-response"}}},
            "requestParameters": {"keyId": KEY}}),
    };
    assert!(by_issuer.by_quell() && !by_issuer.acted_on());
    let seen = evidence(std::slice::from_ref(&by_issuer));
    assert!(seen.contains("(quell's own change)"), "{seen}");
    assert!(changed(&[by_issuer], KMS_CALLS, "keyId").is_empty());
}

// ------------------------------------------------------------ the organization trail

use aws_sdk_cloudwatchlogs::operation::describe_metric_filters::DescribeMetricFiltersOutput;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, MetricFilter, MetricTransformation};

const TRAIL_GROUP: &str = "aws-cloudtrail-logs-organization";

/// The alarm of the sample `name`, raised in the trail's account 999999999999.
fn org_alarm(name: &str) -> Finding {
    let mut event = sample(name);
    event["account"] = json!("999999999999");
    finding_of(event)
}

fn metric_filters(filters: &[(&str, &str, &str)]) -> DescribeMetricFiltersOutput {
    let mut b = DescribeMetricFiltersOutput::builder();
    for (group, metric, pattern) in filters {
        b = b.metric_filters(
            MetricFilter::builder()
                .filter_name(format!("{metric}Filter"))
                .log_group_name(*group)
                .filter_pattern(*pattern)
                .metric_transformations(
                    MetricTransformation::builder()
                        .metric_name(*metric)
                        .metric_namespace("CISBenchmark")
                        .metric_value("1")
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    b.build()
}

fn log_events(messages: Vec<String>) -> FilterLogEventsOutput {
    let mut b = FilterLogEventsOutput::builder();
    for (i, m) in messages.into_iter().enumerate() {
        b = b.events(
            FilteredLogEvent::builder()
                .event_id(i.to_string())
                .log_stream_name("o-abc_999999999999_CloudTrail_us-east-1")
                .message(m)
                .build(),
        );
    }
    b.build()
}

/// A record as an organization trail writes it: the account and Region it was delivered for.
fn delivered(mut record: Value, account: &str, region: &str) -> String {
    record["recipientAccountId"] = json!(account);
    record["awsRegion"] = json!(region);
    record.to_string()
}

#[tokio::test]
async fn an_organization_alarm_is_split_into_one_finding_per_account_and_region() {
    let (_, _, pattern) = quell::cis::alarm("quell-cis-ConsoleSigninWithoutMFA").unwrap();
    let d = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|r| {
            r.metric_name() == Some("ConsoleSigninWithoutMFA")
                && r.metric_namespace() == Some("CISBenchmark")
        })
        .then_output(move || metric_filters(&[(TRAIL_GROUP, "ConsoleSigninWithoutMFA", pattern)]));
    let f = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
        .match_requests(move |r| {
            r.log_group_name() == Some(TRAIL_GROUP)
                && r.filter_pattern() == Some(pattern)
                && r.start_time().is_some()
                && r.end_time() > r.start_time()
        })
        .then_output(|| {
            log_events(vec![
                delivered(login("alice", "No"), "111111111111", "us-east-1"),
                delivered(login("carol", "No"), "222222222222", "eu-west-1"),
                delivered(login("dave", "No"), "111111111111", "us-east-1"),
                // The trail's own account: only read, told in the alarm's own outcome.
                delivered(login("root-ish", "No"), "999999999999", "us-east-1"),
            ])
        });
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&d, &f]);
    let alarm = org_alarm("cloudwatch-alarm-consolesigninwithoutmfa.json");
    let r = CloudtrailAlarmResponse::default();
    assert!(r.splits(&alarm));
    let split = r.split_with(&logs, &alarm).await.unwrap();
    let left = split
        .left
        .expect("the trail account's events are told")
        .to_string();
    assert!(
        left.contains("999999999999") && left.contains("only reads") && left.contains("root-ish"),
        "{left}"
    );
    let parts = split.parts;
    let got: Vec<(&str, &str, usize)> = parts
        .iter()
        .map(|p| {
            (
                p.account.as_str(),
                p.region.as_str(),
                p.evidence.as_ref().unwrap().records.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("111111111111", "us-east-1", 2),
            ("222222222222", "eu-west-1", 1)
        ]
    );
    for p in &parts {
        assert!(
            p.id.starts_with(&alarm.id) && p.id.ends_with(&format!("{}/{}", p.account, p.region))
        );
        let e = p.evidence.as_ref().unwrap();
        assert_eq!(e.log_group, TRAIL_GROUP);
        assert!(e.complete);
        // A part is not split again, and its target carries the part's events: no lookup.
        assert!(!r.splits(p));
        let t = r.target(p).unwrap();
        assert_eq!(t.calls.get().unwrap().len(), e.records.len());
    }
    assert_eq!((d.num_calls(), f.num_calls()), (1, 1));

    // Messages that are not CloudTrail records naming their account: left out, and the read is
    // not complete, which the parts and the alarm's own outcome say.
    let d = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_output(move || metric_filters(&[(TRAIL_GROUP, "ConsoleSigninWithoutMFA", pattern)]));
    let f = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| {
        log_events(vec![
            delivered(login("alice", "No"), "111111111111", "us-east-1"),
            "not json".into(),
            login("eve", "No").to_string(),
        ])
    });
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&d, &f]);
    let split = r.split_with(&logs, &alarm).await.unwrap();
    assert_eq!(split.parts.len(), 1);
    assert!(!split.parts[0].evidence.as_ref().unwrap().complete);
    let left = split.left.unwrap().to_string();
    assert!(
        left.contains("were read") && left.contains("not answered"),
        "{left}"
    );
    let t = r.target(&split.parts[0]).unwrap();
    assert!(
        r.unchecked(&t).is_some(),
        "an incomplete part is never RESOLVED"
    );
}

#[test]
fn a_response_reads_every_call_it_acts_on_beside_the_filters_own() {
    let (_, _, pattern) = quell::cis::alarm("quell-cis-SecurityGroupChanges").unwrap();
    let read = org::read_pattern(pattern, response_calls(Kind::SecurityGroupChanges));
    assert!(
        read.starts_with("{ (($.eventName = AuthorizeSecurityGroupIngress)"),
        "{read}"
    );
    assert!(
        read.ends_with("($.eventName = \"CreateSecurityGroup\") }"),
        "{read}"
    );
    assert!(
        read.contains("($.eventName = \"ModifySecurityGroupRules\")"),
        "{read}"
    );
    // Escalated alarms, and patterns that are not JSON ones, are read as they are.
    let (_, _, root) = quell::cis::alarm("quell-cis-RootAccountUsage").unwrap();
    assert_eq!(
        org::read_pattern(root, response_calls(Kind::RootUsage)),
        root
    );
    assert_eq!(org::read_pattern("ERROR", SG_CALLS), "ERROR");
}

#[tokio::test]
async fn a_part_is_answered_from_its_own_events_without_a_lookup() {
    let alarm = org_alarm("cloudwatch-alarm-consolesigninwithoutmfa.json");
    let mut part = alarm.clone();
    part.account = "111111111111".into();
    part.evidence = Some(quell::finding::Evidence {
        log_group: TRAIL_GROUP.into(),
        records: vec![login("alice", "No"), login("bob", "Yes")],
        complete: true,
    });
    let never = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
        LookupEventsError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    let g = mock!(aws_sdk_iam::Client::get_user_policy).then_error(|| {
        GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
    });
    let ct = mock_client!(aws_sdk_cloudtrail, [&never]);
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g]);
    let r = CloudtrailAlarmResponse::default();
    let t = r.target(&part).unwrap();
    let steps = r.plan(&clients(ct, iam), &t).await.unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(steps[0].detail.contains("user=alice"), "{steps:?}");
    assert_eq!(never.num_calls(), 0);
    assert_eq!(r.unchecked(&t), None);
    // A part whose log group held more than was read is never RESOLVED.
    part.evidence.as_mut().unwrap().complete = false;
    let t = r.target(&part).unwrap();
    t.calls.get();
    assert!(r.unchecked(&t).unwrap().contains(TRAIL_GROUP));
}

#[tokio::test]
async fn an_untraceable_organization_alarm_fails_naming_why() {
    let alarm = org_alarm("cloudwatch-alarm-securitygroupchanges.json");
    let (_, _, pattern) = quell::cis::alarm("quell-cis-SecurityGroupChanges").unwrap();
    let r = CloudtrailAlarmResponse::default();
    let never = || {
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_error(|| {
            aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError::generic(
                ErrorMetadata::builder().code("NotExpected").build(),
            )
        })
    };
    // No filter feeds the metric (another namespace's does not count).
    let none = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters).then_output(|| {
        let mut out = metric_filters(&[]);
        out.metric_filters = Some(vec![MetricFilter::builder()
            .log_group_name(TRAIL_GROUP)
            .filter_pattern("{ $.x = 1 }")
            .metric_transformations(
                MetricTransformation::builder()
                    .metric_name("SecurityGroupChanges")
                    .metric_namespace("SomeoneElse")
                    .metric_value("1")
                    .build()
                    .unwrap(),
            )
            .build()]);
        out
    });
    let n = never();
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&none, &n]);
    let e = r.split_with(&logs, &alarm).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("NoMetricFilter"), "{e}");
    assert!(
        !e.retryable && e.to_string().contains("CISBenchmark/SecurityGroupChanges"),
        "{e}"
    );
    // Two filters that disagree.
    let two =
        mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters).then_output(move || {
            metric_filters(&[
                (TRAIL_GROUP, "SecurityGroupChanges", pattern),
                ("another-group", "SecurityGroupChanges", pattern),
            ])
        });
    let n = never();
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&two, &n]);
    let e = r.split_with(&logs, &alarm).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("AmbiguousMetricFilter"), "{e}");
    assert!(e.to_string().contains("another-group"), "{e}");
    assert_eq!(n.num_calls(), 0);
    // The filter, but no event in the window.
    let one = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_output(move || metric_filters(&[(TRAIL_GROUP, "SecurityGroupChanges", pattern)]));
    let empty = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
        .then_output(|| log_events(Vec::new()));
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&one, &empty]);
    let e = r.split_with(&logs, &alarm).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("NoEvidence"), "{e}");
    assert!(
        e.to_string().contains(TRAIL_GROUP)
            && e.to_string().contains("quell-cis-SecurityGroupChanges"),
        "{e}"
    );
    // A read that fails is retried as AWS says.
    let one = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_output(move || metric_filters(&[(TRAIL_GROUP, "SecurityGroupChanges", pattern)]));
    let throttled = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_error(|| {
        aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError::generic(
            ErrorMetadata::builder().code("ThrottlingException").build(),
        )
    });
    let logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&one, &throttled]
    );
    let e = r.split_with(&logs, &alarm).await.unwrap_err();
    assert!(e.to_string().contains(TRAIL_GROUP), "{e}");
    assert!(e.retryable, "{e}");
}

#[tokio::test]
async fn an_escalated_organization_alarm_is_escalated_in_each_account_it_names() {
    let alarm = org_alarm("cloudwatch-alarm-iampolicychanges.json");
    let (_, _, pattern) = quell::cis::alarm("quell-cis-IAMPolicyChanges").unwrap();
    let d = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_output(move || metric_filters(&[(TRAIL_GROUP, "IAMPolicyChanges", pattern)]));
    let f = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| {
        log_events(vec![
            delivered(
                call(
                    "PutRolePolicy",
                    "iam.amazonaws.com",
                    json!({"roleName": "admin"}),
                ),
                "111111111111",
                "us-east-1",
            ),
            delivered(
                call(
                    "AttachUserPolicy",
                    "iam.amazonaws.com",
                    json!({"userName": "intern"}),
                ),
                "222222222222",
                "us-east-1",
            ),
        ])
    });
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&d, &f]);
    let r = CloudtrailAlarmResponse::default();
    let split = r.split_with(&logs, &alarm).await.unwrap();
    assert!(split.left.is_none());
    let got: Vec<&str> = split.parts.iter().map(|p| p.account.as_str()).collect();
    assert_eq!(got, ["111111111111", "222222222222"]);
    // Each part escalates its own account's calls, from its own events, with no lookup.
    for (part, call) in split
        .parts
        .iter()
        .zip(["PutRolePolicy", "AttachUserPolicy"])
    {
        let t = r.target(part).unwrap();
        let never = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
            LookupEventsError::generic(ErrorMetadata::builder().code("NotExpected").build())
        });
        let c = clients(mock_client!(aws_sdk_cloudtrail, [&never]), no_iam());
        let e = r.plan(&c, &t).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("ManualActionRequired"), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(call) && text.contains(&part.account) && text.contains("198.51.100.7"),
            "{text}"
        );
        assert_eq!(never.num_calls(), 0);
    }
}
