//! cloudtrail-alarm-response end to end: the alarm's window is looked up in the member's CloudTrail
//! (the emulator answers LookupEvents from seeded records) and the response's effect is read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cloudtrail_alarm_response::{CloudtrailAlarmResponse, MFA_POLICY};
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER, REGION};
use serde_json::{json, Value};

fn login(user: &str, mfa: &str, ip: &str) -> Value {
    json!({"eventVersion": "1.08", "eventTime": "2026-11-28T13:02:10Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "awsRegion": REGION, "sourceIPAddress": ip, "eventID": format!("login-{user}"), "readOnly": false, "eventType": "AwsConsoleSignIn",
        "userIdentity": {"type": "IAMUser", "userName": user, "accountId": MEMBER, "arn": format!("arn:aws:iam::{MEMBER}:user/{user}")},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com/"}})
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
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "cloudtrail-alarm-response",
    );

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

    let again = quell::runtime::handle(&CloudtrailAlarmResponse::default(), &ctx, event)
        .await
        .unwrap();
    assert_eq!(again.reports[0].outcome.name(), "ALREADY_COMPLIANT");
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
        .collect();
    assert!(open.is_empty(), "{open:?}");
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
    let ctx = enforcing(&emu);
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        events::load("cloudwatch-alarm-disableordeletecmk.json", &[]),
    )
    .await
    .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
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
    assert_eq!(state(doomed).await, "Enabled");
    assert_eq!(state(disabled).await, "Enabled");
    assert_eq!(
        state(kept).await,
        "PendingDeletion",
        "the exempt key is left as it is"
    );

    // AWS Config: a stopped recorder records again.
    let config = aws_sdk_config::Client::new(&member);
    seed::public_bucket(&member, "quell-config-delivery", &[]).await;
    config
        .put_configuration_recorder()
        .configuration_recorder(
            aws_sdk_config::types::ConfigurationRecorder::builder()
                .name("default")
                .role_arn(format!("arn:aws:iam::{MEMBER}:role/config"))
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
    let r = quell::runtime::handle(
        &CloudtrailAlarmResponse::default(),
        &ctx,
        events::load("cloudwatch-alarm-awsconfigchanges.json", &[]),
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
