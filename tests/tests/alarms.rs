//! cloudtrail-alarm-response end to end: the alarm's window is looked up in the member's CloudTrail
//! (the emulator answers LookupEvents from seeded records) and the response's effect is read back;
//! then `quell undo` puts back, from the prior recorded in DynamoDB and through the member's
//! quell-undo role, what the test seeded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cloudtrail_alarm_response::{CloudtrailAlarmResponse, MFA_POLICY};
use quell::{Config, Mode, Remediation};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER, REGION};
use serde_json::{json, Value};

fn login(user: &str, mfa: &str, ip: &str) -> Value {
    json!({"eventVersion": "1.08", "eventTime": "2026-11-28T13:02:10Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "awsRegion": REGION, "sourceIPAddress": ip, "eventID": format!("login-{user}"), "readOnly": false, "eventType": "AwsConsoleSignIn",
        "userIdentity": {"type": "IAMUser", "userName": user, "accountId": MEMBER, "arn": format!("arn:aws:iam::{MEMBER}:user/{user}")},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com/"}})
}

/// The finding quell parses from an event: the id its change is recorded under for undo.
fn finding_id(event: &Value) -> String {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
        .id
}

fn own_id(event: &Value) -> String {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
        .own_id()
}

#[tokio::test]
async fn console_sign_in_without_mfa_denies_that_user_until_mfa() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let iam = aws_sdk_iam::Client::new(&member);
    for u in ["alice", "bob"] {
        iam.create_user().user_name(u).send().await.unwrap();
    }
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![
            login("alice", "No", "203.0.113.8"),
            login("bob", "Yes", "198.51.100.2"),
        ],
    )
    .await;
    let event = events::load("cloudwatch-alarm-consolesigninwithoutmfa.json", &[]);
    let policies = |user: &'static str| {
        let iam = iam.clone();
        async move {
            iam.list_user_policies()
                .user_name(user)
                .send()
                .await
                .unwrap()
                .policy_names
        }
    };
    let seeded = (policies("alice").await, policies("bob").await);
    // Enforcing, with quell's state table: the change is recorded for `quell undo`.
    let ctx = quell_tests::recording_context(&emu, "cloudtrail-alarm-response").await;

    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
    let alice = iam
        .list_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .policy_names;
    assert_eq!(alice, [MFA_POLICY]);
    assert!(
        iam.list_user_policies()
            .user_name("bob")
            .send()
            .await
            .unwrap()
            .policy_names
            .is_empty(),
        "bob used MFA"
    );
    let (status, note) = seed::workflow(&central, &own_id(&event))
        .await
        .expect("quell's own finding");
    assert_eq!(status, "RESOLVED");
    assert!(
        note.unwrap().contains("203.0.113.8"),
        "the evidence is on the finding"
    );

    // Another delivery of the same alarm (a new event id: the same one is a DUPLICATE).
    let mut replay = event.clone();
    replay["id"] = json!(format!("{}-again", event["id"].as_str().unwrap()));
    let again = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, replay)
        .await
        .unwrap();
    assert_eq!(again.reports[0].outcome.name(), "ALREADY_COMPLIANT");

    // `quell undo`: the policy quell put on alice is deleted through the quell-undo role; bob,
    // whom quell never changed, is as he was.
    let steps = quell_tests::undo_recorded(
        &emu,
        &ctx,
        &CloudtrailAlarmResponse::default(),
        &finding_id(&event),
    )
    .await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, "iam:DeleteUserPolicy");
    assert!(steps[0].detail.contains("user=alice"), "{steps:?}");
    assert_eq!((policies("alice").await, policies("bob").await), seeded);
}

#[tokio::test]
async fn security_group_changes_are_rechecked_and_root_use_escalated() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (_, sg) = seed::instance(&member, "web-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3389)
                .to_port(3389)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        // A wide range with high-risk ports inside (3000, 3306): only those close.
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(2990)
                .to_port(3310)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let change = json!({"eventTime": "2026-11-28T13:01:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
        "sourceIPAddress": "198.51.100.30", "eventID": "sg-change-1", "userIdentity": {"type": "IAMUser", "userName": "developer"},
        "requestParameters": {"groupId": sg}});
    let root = json!({"eventTime": "2026-11-28T13:03:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetBucketAcl",
        "sourceIPAddress": "192.0.2.99", "eventID": "root-1", "userIdentity": {"type": "Root", "arn": format!("arn:aws:iam::{MEMBER}:root")}});
    // 120 newer read-only calls: the change is on LookupEvents' third page of 50.
    let mut seeded = vec![change, root];
    for i in 0..120 {
        seeded.push(json!({"eventTime": format!("2026-11-28T13:02:{:02}Z", i % 60), "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeSecurityGroups", "readOnly": true, "sourceIPAddress": "198.51.100.31",
            "eventID": format!("noise-{i}"), "userIdentity": {"type": "IAMUser", "userName": "monitor"}}));
    }
    emu.seed_trail_events(MEMBER, REGION, seeded).await;
    emu.clear_calls().await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );

    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        events::load("cloudwatch-alarm-securitygroupchanges.json", &[]),
    )
    .await
    .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
    let g = ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap();
    let open: Vec<_> = g.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter(|p| {
            p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
        })
        .map(|p| (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1)))
        .collect();
    let open_port = |port: i32| open.iter().any(|(a, b)| *a <= port && port <= *b);
    for risky in [3000, 3306, 3389] {
        assert!(
            !open_port(risky),
            "{risky} still open to the world: {open:?}"
        );
    }
    for kept in [2990, 2999, 3001, 3305, 3307, 3310] {
        assert!(
            open_port(kept),
            "{kept} was closed with the range: {open:?}"
        );
    }
    let lookups = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.action == "LookupEvents")
        .count();
    assert!(
        lookups >= 3,
        "the change was on the third page: {lookups} lookups"
    );

    let event = events::load("cloudwatch-alarm-rootaccountusage.json", &[]);
    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event.clone())
        .await
        .unwrap();
    let rep = &r.reports[0];
    assert_eq!(rep.outcome.name(), "FAILED", "{rep:?}");
    assert!(
        rep.note.contains("CRITICAL")
            && rep.note.contains("192.0.2.99")
            && rep.note.contains("GetBucketAcl"),
        "{}",
        rep.note
    );
    assert_eq!(
        seed::workflow(&central, &own_id(&event)).await.unwrap().0,
        "NOTIFIED"
    );
}

#[tokio::test]
async fn an_alarm_back_to_ok_is_recorded_not_acted_on() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let mut event = events::load("cloudwatch-alarm-securitygroupchanges.json", &[]);
    event["detail"]["state"]["value"] = json!("OK");
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );
    emu.clear_calls().await;
    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event)
        .await
        .unwrap();
    assert!(
        r.reports[0].note.contains("recorded, not acted on"),
        "{}",
        r.reports[0].note
    );
    assert!(
        !emu.calls().await.iter().any(|c| c.account == MEMBER),
        "no call into the member for an OK alarm"
    );
}

fn change(id: &str, source: &str, name: &str, params: Value) -> Value {
    json!({"eventVersion": "1.08", "eventTime": "2026-11-28T13:02:30Z", "eventSource": source, "eventName": name,
        "awsRegion": REGION, "sourceIPAddress": "198.51.100.7", "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": MEMBER, "arn": format!("arn:aws:iam::{MEMBER}:user/mallory")},
        "requestParameters": params})
}

fn enforcing(emu: &Emulator) -> quell::runtime::Context {
    context(
        emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    )
}

#[tokio::test]
async fn a_kms_key_scheduled_for_deletion_is_saved_and_a_config_recorder_restarted() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let kms = aws_sdk_kms::Client::new(&member);
    let doomed = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let disabled = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let kept = kms
        .create_key()
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("quell:exempt")
                .tag_value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for k in [&doomed, &kept] {
        kms.schedule_key_deletion()
            .key_id(k)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
    }
    kms.disable_key().key_id(&disabled).send().await.unwrap();
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![
            change(
                "kms-1",
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                json!({"keyId": doomed, "pendingWindowInDays": 7}),
            ),
            change(
                "kms-2",
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                json!({"keyId": kept, "pendingWindowInDays": 7}),
            ),
            change(
                "kms-3",
                "kms.amazonaws.com",
                "DisableKey",
                json!({"keyId": format!("arn:aws:kms:{REGION}:{MEMBER}:key/{disabled}")}),
            ),
        ],
    )
    .await;
    let state = |k: String| {
        let kms = kms.clone();
        async move {
            kms.describe_key()
                .key_id(k)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .key_state
                .unwrap()
                .as_str()
                .to_string()
        }
    };
    let seeded = [
        state(doomed.clone()).await,
        state(disabled.clone()).await,
        state(kept.clone()).await,
    ];
    assert_eq!(seeded, ["PendingDeletion", "Disabled", "PendingDeletion"]);
    // Enforcing, with quell's state table: each alarm's response is recorded for `quell undo`.
    let ctx = quell_tests::recording_context(&emu, "cloudtrail-alarm-response").await;
    let kms_alarm = events::load("cloudwatch-alarm-disableordeletecmk.json", &[]);
    // By default a key change is only planned: a responder may have disabled the key on purpose.
    let mut planned = kms_alarm.clone();
    planned["id"] = json!("kms-alarm-by-default");
    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, planned)
        .await
        .unwrap();
    assert_eq!(r.reports[0].outcome.name(), "PLANNED", "{:?}", r.reports[0]);
    assert_eq!(
        [
            state(doomed.clone()).await,
            state(disabled.clone()).await,
            state(kept.clone()).await
        ],
        seeded
    );
    let (status, _) = seed::workflow(&emu.central_config(), &own_id(&kms_alarm))
        .await
        .expect("quell's own finding");
    assert_eq!(status, "NOTIFIED");
    // With QUELL_ALARM_KMS_RESTORE=true, quell saves the keys.
    let mut restoring = CloudtrailAlarmResponse::default();
    restoring
        .configure(&|k| (k == "QUELL_ALARM_KMS_RESTORE").then(|| "true".to_string()))
        .unwrap();
    let r = quell::runtime::handle(&restoring, &ctx, kms_alarm.clone())
        .await
        .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
    assert_eq!(state(doomed.clone()).await, "Enabled");
    assert_eq!(state(disabled.clone()).await, "Enabled");
    assert_eq!(
        state(kept.clone()).await,
        "PendingDeletion",
        "the exempt key is left as it is"
    );

    // `quell undo`: the key that was disabled is disabled again. The key whose deletion quell
    // cancelled stays enabled: a cancelled deletion cannot be scheduled again as it was (its date
    // is gone), and scheduling a deletion is a person's decision; undo says so in a manual step.
    let steps = quell_tests::undo_recorded(
        &emu,
        &ctx,
        &CloudtrailAlarmResponse::default(),
        &finding_id(&kms_alarm),
    )
    .await;
    assert!(
        steps
            .iter()
            .any(|s| s.action == "kms:DisableKey" && s.detail.contains(disabled.as_str())),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.action == "manual" && s.detail.contains(doomed.as_str())),
        "{steps:?}"
    );
    assert!(
        !steps
            .iter()
            .any(|s| s.action == "kms:DisableKey" && s.detail.contains(doomed.as_str())),
        "{steps:?}"
    );
    assert_eq!(
        state(disabled.clone()).await,
        seeded[1],
        "disabled, as it was"
    );
    assert_eq!(state(kept.clone()).await, seeded[2], "never changed");
    assert_eq!(
        state(doomed.clone()).await,
        "Enabled",
        "a cancelled deletion is left cancelled"
    );

    // AWS Config: a stopped recorder records again.
    let config = aws_sdk_config::Client::new(&member);
    seed::public_bucket(&member, "quell-config-delivery", &[]).await;
    let role = seed::config_service_role(&member).await;
    config
        .put_configuration_recorder()
        .configuration_recorder(
            aws_sdk_config::types::ConfigurationRecorder::builder()
                .name("default")
                .role_arn(role)
                .build(),
        )
        .send()
        .await
        .unwrap();
    config
        .put_delivery_channel()
        .delivery_channel(
            aws_sdk_config::types::DeliveryChannel::builder()
                .name("default")
                .s3_bucket_name("quell-config-delivery")
                .build(),
        )
        .send()
        .await
        .unwrap();
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![change(
            "cfg-1",
            "config.amazonaws.com",
            "StopConfigurationRecorder",
            json!({"configurationRecorderName": "default"}),
        )],
    )
    .await;
    let seeded = recorders(&config).await;
    assert_eq!(seeded, [(Some("default".to_string()), false)]);
    let config_alarm = events::load("cloudwatch-alarm-awsconfigchanges.json", &[]);
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        config_alarm.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
    let status = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    assert!(status.configuration_recorders_status()[0].recording());

    // `quell undo`: the recorder quell started is stopped again, as it was.
    let steps = quell_tests::undo_recorded(
        &emu,
        &ctx,
        &CloudtrailAlarmResponse::default(),
        &finding_id(&config_alarm),
    )
    .await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, "config:StopConfigurationRecorder");
    assert_eq!(recorders(&config).await, seeded);
}

/// Each configuration recorder's name and whether it records.
async fn recorders(config: &aws_sdk_config::Client) -> Vec<(Option<String>, bool)> {
    config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap()
        .configuration_recorders_status()
        .iter()
        .map(|r| (r.name().map(str::to_string), r.recording()))
        .collect()
}

#[tokio::test]
async fn iam_policy_changes_are_escalated_naming_who_what_and_where() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![change(
            "iam-1",
            "iam.amazonaws.com",
            "AttachRolePolicy",
            json!({"roleName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        )],
    )
    .await;
    let event = events::load("cloudwatch-alarm-iampolicychanges.json", &[]);
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &enforcing(&emu),
        event.clone(),
    )
    .await
    .unwrap();
    let rep = &r.reports[0];
    assert_eq!(rep.outcome.name(), "FAILED", "{rep:?}");
    assert!(
        rep.note.contains("AttachRolePolicy arn:aws:iam::aws:policy/AdministratorAccess,ci-deployer by mallory from 198.51.100.7"),
        "{}",
        rep.note
    );
    let (status, note) = seed::workflow(&central, &own_id(&event)).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap().contains("mallory"));
}

#[tokio::test]
async fn a_forged_alarm_a_long_window_a_failed_call_and_quells_own_change_are_not_acted_on() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let kms = aws_sdk_kms::Client::new(&member);
    // Three keys a responder disabled on purpose.
    let mut keys = Vec::new();
    for _ in 0..3 {
        let k = kms
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        kms.disable_key().key_id(&k).send().await.unwrap();
        keys.push(k);
    }
    // Weeks before the alarm: outside any window quell looks at, whatever the alarm claims.
    let mut old = change(
        "kms-old",
        "kms.amazonaws.com",
        "DisableKey",
        json!({"keyId": keys[0]}),
    );
    old["eventTime"] = json!("2026-10-01T10:00:00Z");
    // In the window, but a call that failed: it changed nothing.
    let mut denied = change(
        "kms-denied",
        "kms.amazonaws.com",
        "DisableKey",
        json!({"keyId": keys[1]}),
    );
    denied["errorCode"] = json!("AccessDeniedException");
    denied["errorMessage"] = json!("not authorized to perform kms:DisableKey");
    // In the window, made by quell's own role.
    let mut own = change(
        "kms-own",
        "kms.amazonaws.com",
        "DisableKey",
        json!({"keyId": keys[2]}),
    );
    own["userIdentity"] = json!({"type": "AssumedRole",
        "arn": format!("arn:aws:sts::{MEMBER}:assumed-role/quell-cloudtrail-alarm-response/quell-cloudtrail-alarm-response"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{MEMBER}:role/quell-cloudtrail-alarm-response")}}});
    emu.seed_trail_events(MEMBER, REGION, vec![old, denied, own])
        .await;
    let ctx = enforcing(&emu);
    let ninety_days = (
        "2026-11-28T13:00:00.000+0000",
        "2026-08-30T13:00:00.000+0000",
    );

    // An alarm the member made on the same metric name: not one of quell's, no call into the member.
    emu.clear_calls().await;
    let forged = events::load(
        "cloudwatch-alarm-disableordeletecmk.json",
        &[
            ("quell-cis-DisableOrDeleteCMK", "ops-DisableOrDeleteCMK"),
            (
                "c4c1c1c9-6542-e61b-6ef0-8c4d36933b10",
                "0f0f0f0f-6542-e61b-6ef0-8c4d36933b10",
            ),
            ninety_days,
        ],
    );
    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, forged)
        .await
        .unwrap();
    assert!(
        r.reports[0].note.contains("not one of quell's"),
        "{}",
        r.reports[0].note
    );
    assert!(
        !emu.calls().await.iter().any(|c| c.account == MEMBER),
        "no call into the member for an alarm that is not quell's"
    );

    // Quell's own alarm, claiming a 90-day window: the hour it may look at holds only a failed
    // call and quell's own change, so no key is enabled again.
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        events::load("cloudwatch-alarm-disableordeletecmk.json", &[ninety_days]),
    )
    .await
    .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        r.reports[0]
    );
    for k in keys {
        let state = kms
            .describe_key()
            .key_id(&k)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state
            .unwrap();
        assert_eq!(
            state.as_str(),
            "Disabled",
            "key {k} was disabled on purpose"
        );
    }
}

#[tokio::test]
async fn an_alarm_whose_window_cloudtrail_has_not_shown_yet_is_unconfirmed_never_resolved() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    // No event in the window: CloudTrail's event history lags the alarm, or the call happened in
    // another region. Nothing to change is not "resolved".
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );
    let event = events::load("cloudwatch-alarm-securitygroupchanges.json", &[]);
    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event.clone())
        .await
        .unwrap();
    let rep = &r.reports[0];
    assert_eq!(rep.outcome.name(), "UNCONFIRMED", "{rep:?}");
    assert!(rep.note.contains("lag"), "{}", rep.note);
    assert_eq!(
        seed::workflow(&central, &own_id(&event)).await.unwrap().0,
        "NOTIFIED"
    );
}

/// A trail as the tests compare it: (logging, multi-region, log file validation).
async fn trail_state(
    ct: &aws_sdk_cloudtrail::Client,
    name: &str,
) -> (Option<bool>, Option<bool>, Option<bool>) {
    let status = ct.get_trail_status().name(name).send().await.unwrap();
    let trails = ct
        .describe_trails()
        .trail_name_list(name)
        .send()
        .await
        .unwrap();
    let t = trails
        .trail_list()
        .iter()
        .find(|t| t.name() == Some(name))
        .expect("the trail");
    (
        status.is_logging,
        t.is_multi_region_trail,
        t.log_file_validation_enabled,
    )
}

#[tokio::test]
async fn a_trail_stopped_in_the_alarm_window_logs_again_until_undone() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::trail_bucket(&member, "quell-alarm-trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(&member);
    // A single-region trail without log file validation, which logged until mallory stopped it.
    ct.create_trail()
        .name("audit-trail")
        .s3_bucket_name("quell-alarm-trail-logs")
        .send()
        .await
        .unwrap();
    ct.start_logging().name("audit-trail").send().await.unwrap();
    ct.stop_logging().name("audit-trail").send().await.unwrap();
    let seeded = trail_state(&ct, "audit-trail").await;
    assert_eq!(seeded, (Some(false), Some(false), Some(false)));
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![change(
            "ct-1",
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": format!("arn:aws:cloudtrail:{REGION}:{MEMBER}:trail/audit-trail")}),
        )],
    )
    .await;
    let event = events::load("cloudwatch-alarm-cloudtrailconfigchanges.json", &[]);
    let ctx = quell_tests::recording_context(&emu, "cloudtrail-alarm-response").await;

    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event.clone())
        .await
        .unwrap();
    let rep = &r.reports[0];
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    assert_eq!(
        trail_state(&ct, "audit-trail").await,
        (Some(true), Some(true), Some(true)),
        "logging again, multi-region, with validation"
    );
    let (status, note) = seed::workflow(&central, &own_id(&event))
        .await
        .expect("quell's own finding");
    assert_eq!(status, "RESOLVED");
    assert!(
        note.unwrap().contains("mallory"),
        "the evidence is on the finding"
    );

    // `quell undo`: the trail's settings put back and logging stopped, as it was.
    let steps = quell_tests::undo_recorded(
        &emu,
        &ctx,
        &CloudtrailAlarmResponse::default(),
        &finding_id(&event),
    )
    .await;
    let actions: Vec<&str> = steps.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        ["cloudtrail:UpdateTrail", "cloudtrail:StopLogging"],
        "{steps:?}"
    );
    assert_eq!(trail_state(&ct, "audit-trail").await, seeded);
}

/// A bucket's Block Public Access, setting by setting (`None`: no block configured).
async fn bucket_block(member: &aws_config::SdkConfig, bucket: &str) -> Option<[Option<bool>; 4]> {
    seed::public_access_block(member, bucket).await.map(|c| {
        [
            c.block_public_acls,
            c.ignore_public_acls,
            c.block_public_policy,
            c.restrict_public_buckets,
        ]
    })
}

#[tokio::test]
async fn buckets_whose_public_access_block_was_removed_are_blocked_until_undone() {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let s3 = quell::member::s3_client(&member);
    let (deleted, weakened, untouched) = (
        "quell-alarm-deleted",
        "quell-alarm-weakened",
        "quell-alarm-untouched",
    );
    for b in [deleted, weakened, untouched] {
        seed::public_bucket(&member, b, &[]).await;
    }
    // A bucket tagged exempt whose block mallory deleted too: the response leaves it as it is.
    let exempt = "quell-alarm-exempt";
    seed::public_bucket(&member, exempt, &[("quell:exempt", "true")]).await;
    let block = |policy: bool| {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(policy)
            .restrict_public_buckets(policy)
            .build()
    };
    // mallory deletes one bucket's block, and turns the policy half of another's off; the third
    // bucket has no block either, but no call of the alarm's window touched it.
    for (b, c) in [(deleted, block(true)), (weakened, block(true))] {
        s3.put_public_access_block()
            .bucket(b)
            .public_access_block_configuration(c)
            .send()
            .await
            .unwrap();
    }
    s3.delete_public_access_block()
        .bucket(deleted)
        .send()
        .await
        .unwrap();
    s3.put_public_access_block()
        .bucket(weakened)
        .public_access_block_configuration(block(false))
        .send()
        .await
        .unwrap();
    let seeded = [
        bucket_block(&member, deleted).await,
        bucket_block(&member, weakened).await,
        bucket_block(&member, untouched).await,
    ];
    assert_eq!(
        seeded,
        [
            None,
            Some([Some(true), Some(true), Some(false), Some(false)]),
            None
        ]
    );
    emu.seed_trail_events(
        MEMBER,
        REGION,
        vec![
            change(
                "s3-1",
                "s3.amazonaws.com",
                "DeleteBucketPublicAccessBlock",
                json!({"bucketName": deleted, "publicAccessBlock": "", "Host": format!("{deleted}.s3.amazonaws.com")}),
            ),
            change(
                "s3-3",
                "s3.amazonaws.com",
                "DeleteBucketPublicAccessBlock",
                json!({"bucketName": exempt, "publicAccessBlock": "", "Host": format!("{exempt}.s3.amazonaws.com")}),
            ),
            change(
                "s3-2",
                "s3.amazonaws.com",
                "PutBucketPublicAccessBlock",
                json!({"bucketName": weakened, "publicAccessBlock": "", "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": false}}),
            ),
        ],
    )
    .await;
    let event = events::load("cloudwatch-alarm-s3bucketpolicychanges.json", &[]);
    let ctx = quell_tests::recording_context(&emu, "cloudtrail-alarm-response").await;

    let r = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event.clone())
        .await
        .unwrap();
    let rep = &r.reports[0];
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    for b in [deleted, weakened] {
        assert!(
            seed::fully_blocked(&seed::public_access_block(&member, b).await),
            "{b}"
        );
    }
    assert_eq!(
        bucket_block(&member, untouched).await,
        None,
        "no call of the window changed it"
    );
    assert_eq!(
        bucket_block(&member, exempt).await,
        None,
        "the exempt bucket was changed"
    );

    // `quell undo`: each bucket's block put back as it was, the deleted one deleted again.
    let steps = quell_tests::undo_recorded(
        &emu,
        &ctx,
        &CloudtrailAlarmResponse::default(),
        &finding_id(&event),
    )
    .await;
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(
        [
            bucket_block(&member, deleted).await,
            bucket_block(&member, weakened).await,
            bucket_block(&member, untouched).await,
        ],
        seeded
    );
}

/// The account that owns the organization trail's log group (the management account).
const TRAIL: &str = "999999999999";
const OTHER: &str = "222222222222";
const TRAIL_GROUP: &str = "aws-cloudtrail-logs-organization";

/// Yesterday's date (UTC): the samples' window moved there, within the 14 days CloudWatch Logs
/// takes events for, and never in the future.
fn yesterday() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    aws_smithy_types::DateTime::from_secs(now - 86_400)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()[..10]
        .to_string()
}

/// A sample alarm raised in the trail's account, on yesterday's date.
fn org_alarm(name: &str, day: &str) -> Value {
    events::load(name, &[(MEMBER, TRAIL), ("2026-11-28", day)])
}

/// A CloudTrail record as the organization trail delivers it to its log group.
fn delivered(account: &str, at: &str, name: &str, params: Value) -> Value {
    json!({"eventVersion": "1.08", "eventTime": at, "eventSource": "ec2.amazonaws.com", "eventName": name,
        "awsRegion": REGION, "recipientAccountId": account, "sourceIPAddress": "198.51.100.7", "eventID": format!("{name}-{account}-{at}"),
        "readOnly": false, "eventType": "AwsApiCall", "requestParameters": params,
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": account, "arn": format!("arn:aws:iam::{account}:user/mallory")}})
}

use aws_sdk_securityhub::types::WorkflowStatus;

/// A finding of `account`'s own Security Hub with `status` whose note says `says`.
async fn recorded(cfg: &aws_config::SdkConfig, account: &str, status: WorkflowStatus, says: &str) {
    let findings = aws_sdk_securityhub::Client::new(cfg)
        .get_findings()
        .send()
        .await
        .unwrap()
        .findings
        .unwrap_or_default();
    assert!(
        findings.iter().any(|f| f.aws_account_id() == Some(account)
            && f.workflow().and_then(|w| w.status()) == Some(&status)
            && f.note
                .as_ref()
                .and_then(|n| n.text())
                .is_some_and(|t| t.contains(says))),
        "{account}: no {status:?} finding saying {says}: {findings:?}"
    );
}

async fn open_group(member: &aws_config::SdkConfig, name: &str, port: i32) -> String {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let ec2 = aws_sdk_ec2::Client::new(member);
    let sg = ec2
        .create_security_group()
        .group_name(name)
        .description("opened by mallory")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    sg
}

async fn world_open(member: &aws_config::SdkConfig, sg: &str) -> bool {
    aws_sdk_ec2::Client::new(member)
        .describe_security_groups()
        .group_ids(sg)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .ip_permissions()
        .iter()
        .any(|p| {
            p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
        })
}

#[tokio::test]
async fn an_organization_trail_alarm_is_read_from_the_trails_log_group_and_answered_in_each_account(
) {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let trail = emu.account_config(TRAIL).await;
    seed::org_trail(&trail, CENTRAL, TRAIL_GROUP).await;
    let member = emu.account_config(MEMBER).await;
    let other = emu.account_config(OTHER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::member_role(&other, CENTRAL).await;
    // Each account: a group opened in the alarm's window (the CIS filter counts the call), one
    // changed by a call the filter does not count but the response acts on
    // (ModifySecurityGroupRules), and one opened hours before the window.
    let hit = open_group(&member, "hit", 3389).await;
    let modified = open_group(&member, "modified", 3389).await;
    let hit_other = open_group(&other, "hit-other", 22).await;
    let earlier = open_group(&other, "earlier", 22).await;
    let day = yesterday();
    let at = |t: &str| format!("{day}T{t}Z");
    seed::trail_log_events(
        &trail,
        TRAIL_GROUP,
        &[
            delivered(
                MEMBER,
                &at("13:01:00"),
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": hit}),
            ),
            delivered(
                MEMBER,
                &at("13:02:00"),
                "ModifySecurityGroupRules",
                json!({"groupId": modified}),
            ),
            delivered(
                OTHER,
                &at("13:03:00"),
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": hit_other}),
            ),
            delivered(
                OTHER,
                &at("10:00:00"),
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": earlier}),
            ),
            // Another alarm's events in the window: the pattern leaves them out, so no part is
            // made for the account and Region only they name.
            delivered(
                OTHER,
                &at("13:04:00"),
                "CreateVpc",
                json!({"cidrBlock": "10.9.0.0/16"}),
            ),
            {
                let mut e = delivered(
                    MEMBER,
                    &at("13:04:30"),
                    "CreateVpc",
                    json!({"cidrBlock": "10.8.0.0/16"}),
                );
                e["awsRegion"] = json!("eu-west-1");
                e
            },
        ],
    )
    .await;
    emu.clear_calls().await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            org_trail_account: Some(TRAIL.into()),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );

    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        org_alarm("cloudwatch-alarm-securitygroupchanges.json", &day),
    )
    .await
    .unwrap();
    let got: Vec<(&str, &str)> = r
        .reports
        .iter()
        .map(|rep| (rep.account.as_str(), rep.outcome.name()))
        .collect();
    assert_eq!(
        got,
        [(MEMBER, "REMEDIATED"), (OTHER, "REMEDIATED")],
        "{:?}",
        r.reports
    );
    // Read back in each account: only the groups the filter's events name were closed.
    assert!(!world_open(&member, &hit).await, "{hit} is still open");
    assert!(
        !world_open(&other, &hit_other).await,
        "{hit_other} is still open"
    );
    assert!(
        !world_open(&member, &modified).await,
        "the response reads ModifySecurityGroupRules beside the filter's own calls"
    );
    assert!(
        world_open(&other, &earlier).await,
        "opened before the alarm's window"
    );
    let calls = emu.calls().await;
    let read = |action: &str, account: &str| {
        calls
            .iter()
            .filter(|c| c.action == action && c.account == account)
            .count()
    };
    assert_eq!(read("FilterLogEvents", TRAIL), 1, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.action != "LookupEvents"),
        "no event history is looked up"
    );
    assert!(
        calls.iter().filter(|c| c.account == TRAIL).all(|c| [
            "DescribeMetricFilters",
            "FilterLogEvents",
            "AssumeRole"
        ]
        .contains(&c.action.as_str())
            || c.service == "sts"),
        "quell only reads in the trail's account: {calls:?}"
    );
    // The outcome is recorded on a finding in the part's own account: RESOLVED, naming who.
    for (account, cfg) in [(MEMBER, &member), (OTHER, &other)] {
        recorded(cfg, account, WorkflowStatus::Resolved, "198.51.100.7").await;
    }

    // The reader reads the trail's group and no other.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&trail);
    logs.create_log_group()
        .log_group_name("payroll-app")
        .send()
        .await
        .unwrap();
    let reader = ctx
        .trail_reader
        .as_ref()
        .unwrap()
        .session("aws", TRAIL, REGION)
        .await
        .unwrap();
    let as_reader = aws_sdk_cloudwatchlogs::Client::new(reader.config());
    let denied = as_reader
        .filter_log_events()
        .log_group_name("payroll-app")
        .send()
        .await
        .unwrap_err();
    // The emulator answers IAM's refusal as XML even for a JSON service: read it from the body.
    let denied = format!("{denied:?}");
    assert!(
        denied.contains("<Code>AccessDenied</Code>") && denied.contains("logs:FilterLogEvents"),
        "{denied}"
    );
    as_reader
        .filter_log_events()
        .log_group_name(TRAIL_GROUP)
        .send()
        .await
        .expect("the trail's own group");
}

#[tokio::test]
async fn root_use_across_the_organization_is_escalated_in_each_account_and_the_trails_own_told() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let trail = emu.account_config(TRAIL).await;
    seed::org_trail(&trail, CENTRAL, TRAIL_GROUP).await;
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let day = yesterday();
    let at = |t: &str| format!("{day}T{t}Z");
    let root = |account: &str, t: &str, ip: &str| {
        json!({"eventVersion": "1.08", "eventTime": at(t), "eventSource": "s3.amazonaws.com", "eventName": "GetBucketAcl",
            "awsRegion": REGION, "recipientAccountId": account, "sourceIPAddress": ip, "eventID": format!("root-{account}-{t}"),
            "eventType": "AwsApiCall", "userIdentity": {"type": "Root", "arn": format!("arn:aws:iam::{account}:root")}})
    };
    let mut by_a_service = root(MEMBER, "13:02:00", "203.0.113.50");
    by_a_service["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
    seed::trail_log_events(
        &trail,
        TRAIL_GROUP,
        &[
            root(MEMBER, "13:01:00", "192.0.2.99"),
            by_a_service,
            root(TRAIL, "13:03:00", "192.0.2.77"),
        ],
    )
    .await;
    let topic = seed::outcome_topic(&emu.central_config()).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            org_trail_account: Some(TRAIL.into()),
            notify_topic_arn: Some(topic),
            // quell never acts in the management account; it still reads the trail there, and
            // tells of what it read.
            deny_accounts: [TRAIL.to_string()].into(),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        org_alarm("cloudwatch-alarm-rootaccountusage.json", &day),
    )
    .await
    .unwrap();
    let got: Vec<(&str, &str)> = r
        .reports
        .iter()
        .map(|rep| (rep.account.as_str(), rep.outcome.name()))
        .collect();
    assert_eq!(
        got,
        [(MEMBER, "FAILED"), (TRAIL, "FAILED")],
        "{:?}",
        r.reports
    );
    // The member's root use, escalated in the member: CRITICAL, with the address.
    let part = &r.reports[0].note;
    assert!(
        part.contains("CRITICAL") && part.contains("192.0.2.99"),
        "{part}"
    );
    // The root call a service made for it is not root usage: the filter leaves it out.
    assert!(!part.contains("203.0.113.50"), "{part}");
    // The trail's own account is only read: its root use is told, not acted on.
    let own = &r.reports[1].note;
    assert!(
        own.contains("only reads") && own.contains("192.0.2.77"),
        "{own}"
    );
    // Recorded in the member's own Security Hub, NOTIFIED, and a message for each.
    recorded(&member, MEMBER, WorkflowStatus::Notified, "CRITICAL").await;
    let sent = emu.sns_messages().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let text: Vec<&str> = sent.iter().filter_map(|m| m["message"].as_str()).collect();
    assert!(text.iter().any(|t| t.contains("192.0.2.99")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("192.0.2.77")), "{text:?}");
}
