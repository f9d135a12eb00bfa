//! s3-block-public-access end to end: a central and a member account on the local emulator, a
//! public bucket in the member, every trigger source replayed, state read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::{json, Value};

const FUNCTION: &str = "s3-block-public-access";
const DEMO_BUCKET: &str = "quell-demo-public-assets";

fn enforce() -> Config {
    Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    }
}

struct Setup {
    emu: Emulator,
    central: aws_config::SdkConfig,
    member: aws_config::SdkConfig,
}

async fn setup() -> Setup {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    // A public bucket in the central account too: quell must never touch it.
    seed::public_bucket(&central, "central-public-bucket", &[]).await;
    Setup {
        emu,
        central,
        member,
    }
}

/// Seeds the Security Hub finding an event refers to, as its integration would have.
async fn seed_hub_finding(s: &Setup, event: &Value, bucket: &str) {
    let intake = quell::event::Envelope::parse(event.clone()).unwrap();
    let f = intake.findings[0].as_ref().unwrap();
    if let Some(h) = &f.hub {
        seed::hub_finding(
            &s.member,
            &f.account,
            &h.id,
            &h.product_arn,
            ("AwsS3Bucket", &format!("arn:aws:s3:::{bucket}")),
        )
        .await;
    }
}

/// The Security Hub id the outcome is recorded under: the source's finding, or quell's own.
fn hub_id(event: &Value) -> String {
    let intake = quell::event::Envelope::parse(event.clone()).unwrap();
    let f = intake.findings[0].as_ref().unwrap();
    f.hub
        .as_ref()
        .map(|h| h.id.clone())
        .unwrap_or_else(|| f.own_id())
}

#[tokio::test]
async fn every_trigger_source_blocks_the_member_bucket_and_resolves_the_finding() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    let cases = [
        "guardduty-s3-bucketanonymousaccessgranted.json",
        "config-s3-bucket-public-read-prohibited.json",
        "config-securityhub-s3-bucket-level-public-access-prohibited.json",
        "accessanalyzer-s3-bucket-public.json",
        "securityhub-imported-fsbp-s3-8-member.json",
        "securityhub-imported-fsbp-s3-2.json",
    ];
    for (i, name) in cases.iter().enumerate() {
        let bucket = format!("member-public-{i}");
        seed::public_bucket(&s.member, &bucket, &[("team", "web")]).await;
        let event = events::load(name, &[(DEMO_BUCKET, &bucket)]);
        seed_hub_finding(&s, &event, &bucket).await;
        assert!(
            seed::public_access_block(&s.member, &bucket)
                .await
                .is_none(),
            "{name}: seeded open"
        );

        let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = &resp.reports[0];
        assert_eq!(report.outcome.name(), "REMEDIATED", "{name}: {report:?}");

        let state = seed::public_access_block(&s.member, &bucket).await;
        assert!(
            seed::fully_blocked(&state),
            "{name}: the member's bucket is not blocked: {state:?}"
        );
        let (status, note) = seed::workflow(&s.central, &hub_id(&event))
            .await
            .unwrap_or_else(|| panic!("{name}: no finding"));
        assert_eq!(status, "RESOLVED", "{name}");
        let note = note.unwrap_or_default();
        assert!(
            note.contains(FUNCTION) && note.contains("s3:PutBucketPublicAccessBlock"),
            "{name}: {note}"
        );
    }
    // The central account's public bucket was never touched, and no call wrote in it.
    assert!(
        seed::public_access_block(&s.central, "central-public-bucket")
            .await
            .is_none()
    );
    let writes = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| {
            c.service == "s3"
                && c.method == "PUT"
                && c.account == CENTRAL
                && c.path.contains("member-public")
        })
        .count();
    assert_eq!(writes, 0);
    // One role assumed for the member, reused across the six findings.
    assert_eq!(ctx.members.assume_count(), 1);
}

#[tokio::test]
async fn replaying_the_same_event_is_already_compliant_with_no_write_call() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    let event = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    seed_hub_finding(&s, &event, DEMO_BUCKET).await;

    let first = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(first.reports[0].outcome.name(), "REMEDIATED");
    s.emu.clear_calls().await;

    let second = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        second.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        second.reports[0]
    );
    let calls = s.emu.calls().await;
    let s3_writes: Vec<_> = calls
        .iter()
        .filter(|c| c.service == "s3" && c.method != "GET")
        .collect();
    assert!(s3_writes.is_empty(), "a replay wrote: {s3_writes:?}");
    assert!(
        calls
            .iter()
            .any(|c| c.service == "s3" && c.action.contains("publicAccessBlock")),
        "it did read the state"
    );
    assert!(
        !calls.iter().any(|c| c.action == "AssumeRole"),
        "the warm session was reused"
    );
    let (status, _) = seed::workflow(&s.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");
}

#[tokio::test]
async fn dry_run_changes_nothing_and_leaves_the_plan_on_a_notified_finding() {
    let s = setup().await;
    let config = Config {
        mode: Some(Mode::DryRun),
        ..Config::default()
    };
    let ctx = context(&s.emu, config, FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    let event = events::load("securityhub-imported-fsbp-s3-8-member.json", &[]);
    seed_hub_finding(&s, &event, DEMO_BUCKET).await;
    s.emu.clear_calls().await;

    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "PLANNED");
    assert!(
        seed::public_access_block(&s.member, DEMO_BUCKET)
            .await
            .is_none(),
        "dry-run changed the bucket"
    );
    let s3_writes = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "s3" && c.method != "GET")
        .count();
    assert_eq!(s3_writes, 0);
    let (status, note) = seed::workflow(&s.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap();
    assert!(
        note.contains("dry-run")
            && note.contains("s3:PutBucketPublicAccessBlock bucket=quell-demo-public-assets"),
        "{note}"
    );
}

#[tokio::test]
async fn an_exempt_bucket_is_left_alone_and_the_finding_suppressed() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[("quell:exempt", "true")]).await;
    let event = events::load("config-s3-bucket-public-read-prohibited.json", &[]);
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "EXEMPT");
    assert!(seed::public_access_block(&s.member, DEMO_BUCKET)
        .await
        .is_none());
    // A Config event has no Security Hub finding: quell's own was imported in the member account.
    let (status, note) = seed::workflow(&s.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "SUPPRESSED");
    assert!(note.unwrap().contains("quell:exempt=true"));
}

#[tokio::test]
async fn a_denied_account_gets_no_call_at_all() {
    let s = setup().await;
    let config = Config {
        deny_accounts: [MEMBER.to_string()].into_iter().collect(),
        ..enforce()
    };
    let ctx = context(&s.emu, config, FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    let event = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    seed_hub_finding(&s, &event, DEMO_BUCKET).await;
    s.emu.clear_calls().await;

    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    // Another team owns the account: OUT_OF_SCOPE, the finding's workflow left as it is (a
    // threat in production is not hidden from whoever owns it), no message.
    assert_eq!(resp.reports[0].outcome.name(), "OUT_OF_SCOPE");
    let calls = s.emu.calls().await;
    assert!(
        !calls
            .iter()
            .any(|c| c.service == "securityhub" || c.service == "sns"),
        "a record or a message was sent: {calls:?}"
    );
    let (status, _) = seed::workflow(&s.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "NEW", "the workflow is left as it was");
    assert!(
        calls.iter().all(|c| c.account == CENTRAL),
        "a call reached the member: {calls:?}"
    );
    assert!(!calls.iter().any(|c| c.action == "AssumeRole"));
    assert!(seed::public_access_block(&s.member, DEMO_BUCKET)
        .await
        .is_none());
}

#[tokio::test]
async fn an_exempt_threat_is_notified_never_suppressed() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[("quell:exempt", "true")]).await;
    // A GuardDuty finding: someone reached the bucket anonymously. The tag exempts the bucket
    // from the fix, not the threat from a person's eyes.
    let event = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    seed_hub_finding(&s, &event, DEMO_BUCKET).await;
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "EXEMPT");
    assert!(seed::public_access_block(&s.member, DEMO_BUCKET)
        .await
        .is_none());
    let (status, note) = seed::workflow(&s.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap().contains("quell:exempt=true"));
}

#[tokio::test]
async fn each_finding_of_a_security_hub_event_is_handled_and_one_failure_hides_nothing() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    let mut event = events::load("securityhub-imported-fsbp-s3-8-member.json", &[]);
    let good = event["detail"]["findings"][0].clone();
    let mut gone = good.clone();
    gone["Id"] = Value::String(format!("{}-gone", good["Id"].as_str().unwrap()));
    gone["Resources"][0]["Id"] = Value::String("arn:aws:s3:::bucket-that-was-deleted".into());
    event["detail"]["findings"] = Value::Array(vec![gone.clone(), good.clone()]);
    for f in [&gone, &good] {
        seed::hub_finding(
            &s.member,
            MEMBER,
            f["Id"].as_str().unwrap(),
            f["ProductArn"].as_str().unwrap(),
            ("AwsS3Bucket", f["Resources"][0]["Id"].as_str().unwrap()),
        )
        .await;
    }

    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .unwrap();
    assert_eq!(resp.reports.len(), 2);
    assert_eq!(
        resp.reports[0].outcome.name(),
        "FAILED",
        "{:?}",
        resp.reports[0]
    );
    assert_eq!(resp.reports[1].outcome.name(), "REMEDIATED");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&s.member, DEMO_BUCKET).await
    ));
    let (status, note) = seed::workflow(&s.central, gone["Id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap().contains("NoSuchBucket"));
    assert_eq!(
        seed::workflow(&s.central, good["Id"].as_str().unwrap())
            .await
            .unwrap()
            .0,
        "RESOLVED"
    );
}

#[tokio::test]
async fn outcomes_are_published_to_sns_and_put_on_the_bus_once_per_finding() {
    let s = setup().await;
    let topic = seed::outcome_topic(&s.central).await;
    // The quell bus, and a ticketing system's rule on it that takes quell's outcome events into a
    // queue, as a reader of the README would set it up.
    let events = aws_sdk_eventbridge::Client::new(&s.central);
    let bus = events
        .create_event_bus()
        .name("quell")
        .send()
        .await
        .unwrap()
        .event_bus_arn
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&s.central);
    let queue = sqs
        .create_queue()
        .queue_name("tickets")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    events
        .put_rule()
        .name("tickets")
        .event_bus_name("quell")
        .event_pattern(r#"{"source":["quell"],"detail-type":["quell Outcome"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("tickets")
        .event_bus_name("quell")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("tickets")
                .arn(format!("arn:aws:sqs:us-east-1:{CENTRAL}:tickets"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let config = Config {
        notify_topic_arn: Some(topic.clone()),
        outcome_bus_arn: Some(bus.clone()),
        ..enforce()
    };
    let ctx = context(&s.emu, config, FUNCTION);
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    let event = events::load("accessanalyzer-s3-bucket-public.json", &[]);
    s.emu.clear_calls().await;
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "REMEDIATED");
    let publishes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "sns" && c.action == "Publish")
        .collect();
    assert_eq!(publishes.len(), 1, "{publishes:?}");
    // What the team's Slack channel gets: AWS Chatbot's custom-notification schema, one thread per
    // finding, read back from what SNS delivered.
    let sent = s.emu.sns_messages().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let m: Value = serde_json::from_str(sent[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (m["version"].as_str(), m["source"].as_str()),
        (Some("1.0"), Some("custom"))
    );
    assert!(m["content"]["title"]
        .as_str()
        .unwrap()
        .starts_with("REMEDIATED"));
    assert!(m["content"]["description"]
        .as_str()
        .unwrap()
        .contains("Open the finding in Security Hub"));
    assert_eq!(m["metadata"]["threadId"], json!(resp.reports[0].finding_id));
    assert_eq!(
        publishes[0].account, CENTRAL,
        "outcomes are published from the central account"
    );
    // The whole outcome, as the ticketing queue received it from the bus.
    let puts: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "events" && c.action == "PutEvents")
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].account, CENTRAL);
    let got = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1, "{got:?}");
    let e: Value = serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
    assert_eq!(e["source"], "quell");
    assert_eq!(e["detail-type"], "quell Outcome");
    assert_eq!(e["detail"]["outcome"], "REMEDIATED");
    assert_eq!(e["detail"]["function"], FUNCTION);
    assert_eq!(e["detail"]["account"], MEMBER);
    assert_eq!(e["detail"]["finding_id"], json!(resp.reports[0].finding_id));
    assert!(
        e["detail"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{e}"
    );
    assert_eq!(e["detail"]["workflow"], json!(resp.reports[0].workflow));
}

#[tokio::test]
async fn a_finding_for_another_remediation_is_not_applicable_and_makes_no_member_call() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    let event = events::load(
        "config-compliance-access-keys-rotated.json",
        &[("477575873490", MEMBER)],
    );
    s.emu.clear_calls().await;
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .unwrap();
    // Not this function's business: no record, no message, no call at all.
    assert_eq!(resp.reports[0].outcome.name(), "OUT_OF_SCOPE");
    assert!(
        resp.reports[0]
            .note
            .contains("not a trigger of s3-block-public-access"),
        "{}",
        resp.reports[0].note
    );
    let calls = s.emu.calls().await;
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test]
async fn invalid_events_are_refused_before_any_aws_call() {
    let s = setup().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    s.emu.clear_calls().await;
    let mut event = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    event["detail"]["accountId"] = Value::String("1111".into());
    let err = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("detail.accountId"), "{err}");
    assert!(s.emu.calls().await.is_empty());
}

#[tokio::test]
async fn one_function_never_overwrites_another_functions_result_on_a_shared_event() {
    let s = setup().await;
    // A person sends two findings to quell in one custom action: S3.8 (this function's) and S3.5
    // (s3-require-tls's). Both functions receive the event.
    let mut event = events::load("securityhub-custom-action-s3-8.json", &[]);
    let tls = events::load("securityhub-custom-action-s3-5.json", &[]);
    let other = tls["detail"]["findings"][0].clone();
    event["detail"]["findings"]
        .as_array_mut()
        .unwrap()
        .push(other.clone());
    seed::public_bucket(&s.member, DEMO_BUCKET, &[]).await;
    for f in event["detail"]["findings"].as_array().unwrap() {
        let bucket = f["Resources"][0]["Id"].as_str().unwrap();
        seed::hub_finding(
            &s.member,
            MEMBER,
            f["Id"].as_str().unwrap(),
            f["ProductArn"].as_str().unwrap(),
            ("AwsS3Bucket", bucket),
        )
        .await;
    }
    let ours = event["detail"]["findings"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = other["Id"].as_str().unwrap().to_string();

    let ctx = context(&s.emu, enforce(), FUNCTION);
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .unwrap();
    let names: Vec<&str> = resp.reports.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(names, ["REMEDIATED", "OUT_OF_SCOPE"]);
    assert_eq!(
        seed::workflow(&s.central, &ours).await.unwrap().0,
        "RESOLVED"
    );
    assert_eq!(
        seed::workflow(&s.central, &theirs).await.unwrap().0,
        "NEW",
        "the other function's finding is left to it"
    );

    // The other function then runs on the same event: it does not touch this one's finding.
    let ctx = context(&s.emu, enforce(), "s3-require-tls");
    let resp = quell::runtime::handle(&s3_require_tls::S3RequireTls, &ctx, event)
        .await
        .map(|r| r.reports)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp[0].outcome.name(), "OUT_OF_SCOPE");
    assert_eq!(
        seed::workflow(&s.central, &ours).await.unwrap().0,
        "RESOLVED",
        "the first function's RESOLVED stands"
    );
}
