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
    let emu = Emulator::start().expect("emulator");
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
    let emu = Emulator::start().expect("emulator");
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
    emu.seed_trail_events(MEMBER, REGION, vec![change, root])
        .await;
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
    let emu = Emulator::start().expect("emulator");
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
