//! Faults at each step of the flow, injected by the emulator (tests/emulator/quell_moto.py): the
//! outcome follows DESIGN.md's table, nothing is half-done without a record, and a failed Security
//! Hub or SNS update never loses the remediation's outcome (it is kept, logged, and the
//! invocation fails so that Lambda retries it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use quell::runtime::{Context, Failure};
use quell::{Config, Mode};
use quell_tests::{events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::{json, Value};

const BUCKET: &str = "quell-demo-public-assets";

struct Setup {
    emu: Emulator,
    central: aws_config::SdkConfig,
    member: aws_config::SdkConfig,
    event: Value,
    hub: String,
    topic: String,
}

async fn setup() -> Setup {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, BUCKET, &[]).await;
    let event = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let h = f.hub.clone().unwrap();
    seed::hub_finding(
        &member,
        MEMBER,
        &h.id,
        &h.product_arn,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    let topic = seed::outcome_topic(&central).await;
    Setup {
        emu,
        central,
        member,
        event,
        hub: h.id,
        topic,
    }
}

/// A context whose calls give up fast, so a delayed answer is a timeout.
fn ctx(s: &Setup) -> Context {
    let sdk = s
        .emu
        .central_config()
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let config = Config {
        mode: Some(Mode::Enforce),
        notify_topic_arn: Some(s.topic.clone()),
        ..Config::default()
    };
    Context::new(&sdk, config, "s3-block-public-access")
}

async fn blocked(s: &Setup) -> bool {
    seed::fully_blocked(&seed::public_access_block(&s.member, BUCKET).await)
}

async fn workflow(s: &Setup) -> String {
    seed::workflow(&s.central, &s.hub).await.unwrap().0
}

/// Runs the event; returns the outcome name of its one finding, whether the invocation failed for
/// a retry, and the record errors.
async fn run(s: &Setup, c: &Context) -> (String, bool, Vec<String>) {
    match quell::runtime::handle(&S3BlockPublicAccess, c, s.event.clone()).await {
        Ok(r) => (
            r.reports[0].outcome.name().to_string(),
            false,
            r.reports[0].record_errors.clone(),
        ),
        Err(Failure::Retryable { first, .. }) => {
            // The report is not returned on failure: what the finding went through is in `first`.
            ("RETRY".to_string(), true, vec![first])
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn assume_role_throttled_is_retried_and_changes_nothing_until_then() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "sts", "action": "AssumeRole", "count": 20, "status": 400, "code": "Throttling"}])).await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(retry, "{errs:?}");
    assert!(
        errs[0].contains("could not assume role") && errs[0].contains("Throttling"),
        "{errs:?}"
    );
    assert!(!blocked(&s).await);
    assert_eq!(
        workflow(&s).await,
        "NEW",
        "a retryable failure leaves the workflow as it was"
    );
    s.emu.clear_faults().await;
    let (outcome, retry, _) = run(&s, &c).await;
    assert_eq!((outcome.as_str(), retry), ("REMEDIATED", false));
    assert_eq!(workflow(&s).await, "RESOLVED");
}

#[tokio::test]
async fn assume_role_denied_is_permanent_and_notified() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "sts", "action": "AssumeRole", "count": 5, "status": 403, "code": "AccessDenied"}])).await;
    let (outcome, retry, _) = run(&s, &c).await;
    assert_eq!((outcome.as_str(), retry), ("FAILED", false));
    assert_eq!(workflow(&s).await, "NOTIFIED");
    assert!(!blocked(&s).await);
}

#[tokio::test]
async fn a_transient_5xx_read_is_absorbed_by_the_sdk_retry_and_a_lasting_one_is_retried_by_lambda()
{
    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "s3", "action": "GET publicAccessBlock", "count": 1, "status": 503, "code": "ServiceUnavailable"}])).await;
    let (outcome, _, _) = run(&s, &c).await;
    assert_eq!(outcome, "REMEDIATED");

    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "s3", "action": "GET publicAccessBlock", "count": 50, "status": 503, "code": "ServiceUnavailable"}])).await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(retry && errs[0].contains("ServiceUnavailable"), "{errs:?}");
    s.emu.clear_faults().await;
    assert!(!blocked(&s).await);
}

#[tokio::test]
async fn a_denied_write_is_permanent_and_the_bucket_is_unchanged() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "s3", "action": "PUT publicAccessBlock", "count": 5, "status": 403, "code": "AccessDenied"}])).await;
    let (outcome, retry, _) = run(&s, &c).await;
    assert_eq!((outcome.as_str(), retry), ("FAILED", false));
    assert!(!blocked(&s).await);
    let (status, note) = seed::workflow(&s.central, &s.hub).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap().contains("AccessDenied"));
}

#[tokio::test]
async fn a_failed_verification_is_retried_and_the_retry_finds_the_fix() {
    let s = setup().await;
    let c = ctx(&s);
    // The first read passes; the verifying reads fail.
    s.emu
        .inject(json!([{"service": "s3", "action": "GET publicAccessBlock", "skip": 1, "count": 10, "status": 500, "code": "InternalError"}]))
        .await;
    let (_, retry, _) = run(&s, &c).await;
    assert!(retry, "unverified is not RESOLVED");
    s.emu.clear_faults().await;
    assert!(blocked(&s).await, "the write happened");
    assert_eq!(workflow(&s).await, "NEW");
    let (outcome, _, _) = run(&s, &c).await;
    assert_eq!(outcome, "ALREADY_COMPLIANT");
    assert_eq!(workflow(&s).await, "RESOLVED");
}

#[tokio::test]
async fn a_failed_security_hub_update_keeps_the_outcome_and_fails_the_invocation() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu
        .inject(json!([{"service": "securityhub", "action": "PATCH /findings/batchupdate", "count": 50, "status": 500, "code": "InternalException"}]))
        .await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(
        retry && errs[0].contains("could not update Security Hub finding"),
        "{errs:?}"
    );
    assert!(blocked(&s).await, "the remediation itself held");
    // The SNS message still went out with the outcome.
    let publishes = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.action == "Publish" && c.fault.is_none())
        .count();
    assert_eq!(publishes, 1);
    s.emu.clear_faults().await;
    let (outcome, retry, _) = run(&s, &c).await;
    assert_eq!((outcome.as_str(), retry), ("ALREADY_COMPLIANT", false));
    assert_eq!(workflow(&s).await, "RESOLVED");
}

#[tokio::test]
async fn a_failed_notification_keeps_the_outcome_and_fails_the_invocation() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu.inject(json!([{"service": "sns", "action": "Publish", "count": 50, "status": 400, "code": "Throttling"}])).await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(retry && errs[0].contains("could not publish"), "{errs:?}");
    assert!(blocked(&s).await);
    assert_eq!(
        workflow(&s).await,
        "RESOLVED",
        "the Security Hub record was made before SNS failed"
    );
}

#[tokio::test]
async fn expired_credentials_are_retried_with_a_fresh_session() {
    let s = setup().await;
    let c = ctx(&s);
    s.emu
        .inject(json!([{"service": "s3", "account": MEMBER, "action": "GET tagging", "count": 1, "status": 400, "code": "ExpiredToken"}]))
        .await;
    let (_, retry, _) = run(&s, &c).await;
    assert!(retry);
    let (outcome, _, _) = run(&s, &c).await;
    assert_eq!(outcome, "REMEDIATED");
    assert_eq!(
        c.members.assume_count(),
        2,
        "the expired session was dropped and the role assumed afresh"
    );
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let s = setup().await;
    let c = ctx(&s);
    // A slow answer that is not an error: the emulator's real response, three seconds late.
    // Were the client's attempt timeout (2 s) not in force, the fix would go through.
    s.emu.inject(json!([{"service": "s3", "action": "GET tagging", "count": 10, "pass": true, "delay": 3}])).await;
    let (outcome, retry, errs) = run(&s, &c).await;
    assert!(retry, "{outcome} {errs:?}");
    assert!(
        errs.iter().any(|e| e.to_lowercase().contains("timeout") || e.to_lowercase().contains("timed out")),
        "the error does not say timeout: {errs:?}"
    );
    s.emu.clear_faults().await;
    assert!(!blocked(&s).await);
    assert_eq!(workflow(&s).await, "NEW", "a timed-out run records nothing");
}

/// As [`ctx`], with quell's state table.
async fn ctx_with_state(s: &Setup) -> Context {
    let table = seed::state_table(&s.central).await;
    let c = ctx(s);
    let config = Config {
        state_table: Some(table),
        ..c.config.clone()
    };
    let sdk = s.emu.central_config();
    Context::new(&sdk, config, "s3-block-public-access")
}

#[tokio::test]
async fn no_claim_no_change_a_failed_dynamodb_claim_is_retried() {
    let s = setup().await;
    let c = ctx_with_state(&s).await;
    s.emu.inject(json!([{"service": "dynamodb", "action": "PutItem", "count": 20, "status": 400, "code": "ProvisionedThroughputExceededException"}])).await;
    let (outcome, retry, errs) = run(&s, &c).await;
    assert!(retry, "{outcome} {errs:?}");
    assert!(
        errs[0].contains("ProvisionedThroughputExceeded"),
        "{errs:?}"
    );
    assert!(!blocked(&s).await, "nothing changed without the claim");
    assert_eq!(workflow(&s).await, "NEW");
    s.emu.clear_faults().await;
    assert_eq!(run(&s, &c).await.0, "REMEDIATED");
    assert!(blocked(&s).await);
}

#[tokio::test]
async fn no_record_of_the_prior_state_no_change() {
    let s = setup().await;
    let c = ctx_with_state(&s).await;
    // The claim is the first PutItem; the prior state the second.
    s.emu.inject(json!([{"service": "dynamodb", "action": "PutItem", "skip": 1, "count": 20, "status": 500, "code": "InternalServerError"}])).await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(retry, "{errs:?}");
    assert!(!blocked(&s).await, "no change without its undo record");
    s.emu.clear_faults().await;
    // The claim was given back: the retry acts.
    assert_eq!(run(&s, &c).await.0, "REMEDIATED");
    assert!(blocked(&s).await);
}

#[tokio::test]
async fn a_failed_settle_keeps_the_outcome_and_the_retry_is_a_duplicate() {
    let s = setup().await;
    let c = ctx_with_state(&s).await;
    // UpdateItem: the account slot, the organization slot, the fix count, then the settle.
    s.emu.inject(json!([{"service": "dynamodb", "action": "UpdateItem", "skip": 3, "count": 20, "status": 500, "code": "InternalServerError"}])).await;
    let (_, retry, errs) = run(&s, &c).await;
    assert!(
        retry,
        "the invocation fails so that the record is retried: {errs:?}"
    );
    assert!(blocked(&s).await, "the fix was made");
    assert_eq!(workflow(&s).await, "RESOLVED", "and recorded");
    s.emu.clear_faults().await;
    // The retry meets the claim of the finished run: nothing is done twice.
    assert_eq!(run(&s, &c).await.0, "DUPLICATE");
}

/// quell's own finding (a Config event has no Security Hub finding) is imported, but Security Hub
/// shows it only a little later: the workflow cannot be recorded yet, so the invocation fails for
/// Lambda's retry, which finds the fix in place and records it.
#[tokio::test]
async fn an_import_not_visible_yet_is_recorded_by_the_retry() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, BUCKET, &[]).await;
    let event = events::load("config-s3-bucket-public-read-prohibited.json", &[]);
    let own = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
        .own_id();
    emu.delay_hub_imports(3.0).await;
    let c = Context::new(
        &central,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "s3-block-public-access",
    );
    match quell::runtime::handle(&S3BlockPublicAccess, &c, event.clone()).await {
        Err(Failure::Retryable { first, .. }) => {
            assert!(first.contains("not visible"), "{first}")
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    assert!(
        seed::fully_blocked(&seed::public_access_block(&member, BUCKET).await),
        "the fix itself held"
    );
    assert!(
        seed::workflow(&central, &own).await.is_none(),
        "the import is not visible yet"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let r = quell::runtime::handle(&S3BlockPublicAccess, &c, event)
        .await
        .unwrap();
    assert_eq!(r.reports[0].outcome.name(), "ALREADY_COMPLIANT");
    let (status, _) = seed::workflow(&central, &own).await.expect("visible now");
    assert_eq!(status, "RESOLVED");
}
