//! Safe at scale, on the emulator's DynamoDB: duplicate deliveries act once, blast-radius caps
//! plan instead of changing and escalate once, and a resource that keeps being reverted stops
//! being re-fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::runtime::Context;
use quell::state::Limits;
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::Value;

async fn table(central: &aws_config::SdkConfig) -> String {
    seed::state_table(central).await
}

async fn setup(limits: Limits) -> (Emulator, aws_config::SdkConfig, Context, String) {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let t = table(&central).await;
    let topic = seed::outcome_topic(&central).await;
    let config = Config {
        mode: Some(Mode::Enforce),
        state_table: Some(t),
        limits,
        notify_topic_arn: Some(topic.clone()),
        ..Config::default()
    };
    let ctx = context(&emu, config, "s3-block-public-access");
    (emu, member, ctx, topic)
}

async fn outcome(ctx: &Context, event: Value) -> String {
    quell::runtime::handle(&S3BlockPublicAccess, ctx, event)
        .await
        .unwrap()
        .reports[0]
        .outcome
        .name()
        .to_string()
}

#[tokio::test]
async fn a_duplicate_delivery_and_the_same_finding_from_security_hub_act_once() {
    let (emu, member, ctx, _) = setup(Limits::default()).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let gd = events::load("guardduty-s3-bucketanonymousaccessgranted.json", &[]);
    // The same GuardDuty finding as Security Hub forwards it: same Id, same time.
    let f = quell::event::Envelope::parse(gd.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let mut sh = events::load("securityhub-imported-fsbp-s3-8-member.json", &[]);
    sh["detail"]["findings"][0]["Id"] = Value::String(f.hub.clone().unwrap().id);
    sh["detail"]["findings"][0]["UpdatedAt"] = Value::String(f.observed_at.clone().unwrap());
    sh["detail"]["findings"][0]["ProductFields"]["ControlId"] = Value::String("S3.8".into());

    // Two deliveries of the same event at once: one acts, the other is a duplicate that makes no
    // call into the member.
    emu.clear_calls().await;
    let (a, b) = tokio::join!(outcome(&ctx, gd.clone()), outcome(&ctx, gd.clone()));
    let mut both = [a, b];
    both.sort();
    assert_eq!(both, ["DUPLICATE", "REMEDIATED"]);
    let writes = |calls: Vec<quell_tests::emulator::Call>| {
        calls
            .into_iter()
            .filter(|c| c.account == MEMBER && c.method == "PUT")
            .count()
    };
    assert_eq!(writes(emu.calls().await), 1, "one delivery wrote");
    // The same problem from another source is a new delivery: quell looks again, finds it fixed,
    // and writes nothing (a person's custom action or a sweep is never turned away).
    emu.clear_calls().await;
    assert_eq!(outcome(&ctx, sh).await, "ALREADY_COMPLIANT");
    assert_eq!(writes(emu.calls().await), 0, "the fix holds: no write");
    // A retry of the first event is still a duplicate.
    assert_eq!(outcome(&ctx, gd).await, "DUPLICATE");
}

#[tokio::test]
async fn a_finding_planned_in_dry_run_can_be_asked_again_by_a_custom_action() {
    let (emu, member, _ctx, _) = setup(Limits::default()).await;
    let _ = &emu;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let dry = Config {
        mode: Some(Mode::DryRun),
        state_table: Some("quell-state".into()),
        ..Config::default()
    };
    let imported = events::load("securityhub-imported-fsbp-s3-8-member.json", &[]);
    let ctx = context(&emu, dry, "s3-block-public-access");
    assert_eq!(outcome(&ctx, imported.clone()).await, "PLANNED");
    // A person selects the finding and sends it to quell: a new event of the same finding.
    let mut action = events::load("securityhub-custom-action-s3-8.json", &[]);
    action["detail"]["findings"] = imported["detail"]["findings"].clone();
    let enforce = Config {
        mode: Some(Mode::Enforce),
        state_table: Some("quell-state".into()),
        ..Config::default()
    };
    let ctx = context(&emu, enforce, "s3-block-public-access");
    assert_eq!(outcome(&ctx, action).await, "REMEDIATED");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));
}

#[tokio::test]
async fn past_the_cap_findings_are_planned_and_escalated_once() {
    let (emu, member, ctx, _) = setup(Limits {
        per_account_hour: 2,
        ..Limits::default()
    })
    .await;
    let (mut results, mut caps) = (Vec::new(), Vec::new());
    for i in 0..4 {
        let b = format!("capped-{i}");
        seed::public_bucket(&member, &b, &[]).await;
        let e = events::load(
            "config-s3-bucket-public-read-prohibited.json",
            &[("quell-demo-public-assets", &b)],
        );
        let report = quell::runtime::handle(&S3BlockPublicAccess, &ctx, e)
            .await
            .unwrap()
            .reports
            .remove(0);
        // The dashboard's "caps reached" reads this metric of the outcome's EMF record.
        let record = quell::metrics::record(&report, std::time::Duration::ZERO, 1);
        caps.push(record["CapsReached"].as_u64().unwrap());
        results.push(report.outcome.name().to_string());
    }
    assert_eq!(results, ["REMEDIATED", "REMEDIATED", "PLANNED", "PLANNED"]);
    assert_eq!(caps, [0, 0, 1, 1]);
    assert!(
        seed::public_access_block(&member, "capped-3")
            .await
            .is_none(),
        "past the cap nothing changes"
    );
    let escalations = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.action == "Publish")
        .count();
    // One outcome message per finding, plus exactly one escalation.
    assert_eq!(escalations, 4 + 1);
}

#[tokio::test]
async fn a_resource_that_keeps_being_reverted_stops_being_refixed() {
    let (_emu, member, ctx, _) = setup(Limits {
        loop_limit: 2,
        ..Limits::default()
    })
    .await;
    seed::public_bucket(&member, "flapping", &[]).await;
    let s3 = quell::member::s3_client(&member);
    let mut results = Vec::new();
    for i in 0..3 {
        // A new occurrence each time (another Config evaluation after someone reverted the fix).
        let mut e = events::load(
            "config-s3-bucket-public-read-prohibited.json",
            &[("quell-demo-public-assets", "flapping")],
        );
        e["id"] = Value::String(format!("0a7e4f3c-2d1b-4e8a-9c6f-5b4a3d2c1f0{i}"));
        results.push(outcome(&ctx, e).await);
        s3.delete_public_access_block()
            .bucket("flapping")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(results, ["REMEDIATED", "REMEDIATED", "FAILED"]);
    let mut e = events::load(
        "config-s3-bucket-public-read-prohibited.json",
        &[("quell-demo-public-assets", "flapping")],
    );
    e["id"] = Value::String("0a7e4f3c-2d1b-4e8a-9c6f-5b4a3d2c1f09".into());
    let r = quell::runtime::handle(&S3BlockPublicAccess, &ctx, e)
        .await
        .unwrap();
    assert!(
        r.reports[0].note.contains("keeps reverting"),
        "{}",
        r.reports[0].note
    );
    assert!(
        seed::public_access_block(&member, "flapping")
            .await
            .is_none(),
        "not re-fixed a third time"
    );
}

#[tokio::test]
async fn undo_puts_back_the_revoked_ingress_rules() {
    use quell::runtime::Handler;
    let (emu, member, _, _) = setup(Limits::default()).await;
    let (_, sg) = seed::instance(&member, "web-undo").await;
    let config = Config {
        mode: Some(Mode::Enforce),
        state_table: Some("quell-state".into()),
        ..Config::default()
    };
    let ctx = context(&emu, config, "ec2-revoke-open-ingress");
    let r = ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default();
    let event = events::load(
        "config-restricted-ssh.json",
        &[("sg-0a1b2c3d4e5f60718", &sg)],
    );
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let out = quell::runtime::handle(&r, &ctx, event).await.unwrap();
    assert_eq!(out.reports[0].outcome.name(), "REMEDIATED");
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let open =
        |g: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput| {
            g.security_groups()[0].ip_permissions().iter().any(|p| {
                p.from_port() == Some(22)
                    && p.ip_ranges()
                        .iter()
                        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
            })
        };
    assert!(!open(
        &ec2.describe_security_groups()
            .group_ids(&sg)
            .send()
            .await
            .unwrap()
    ));

    let prior = ctx
        .state
        .as_ref()
        .unwrap()
        .prior_state(&quell::state::UndoKey::of("ec2-revoke-open-ingress", &f))
        .await
        .unwrap()
        .expect("recorded before the change");
    assert_eq!(prior.function, "ec2-revoke-open-ingress");
    // As `quell undo` does it: through the member's undo role, not the function's.
    let undo = quell_tests::undo_context(&emu, ctx.config.clone());
    let steps = r.undo(&undo, &prior).await.unwrap();
    assert!(
        steps[0].detail.contains("ports=22 from=0.0.0.0/0"),
        "{steps:?}"
    );
    assert!(
        open(
            &ec2.describe_security_groups()
                .group_ids(&sg)
                .send()
                .await
                .unwrap()
        ),
        "the rule is back"
    );
}

fn finding(id: &str) -> quell::Finding {
    quell::Finding::new(
        quell::Source::AccessAnalyzer,
        id.into(),
        "AWS::S3::Bucket".into(),
        "shared".into(),
        MEMBER.into(),
        "us-east-1".into(),
    )
}

#[tokio::test]
async fn two_functions_on_one_finding_keep_both_undo_records_and_a_forged_record_is_refused() {
    let (_emu, _member, ctx, _) = setup(Limits::default()).await;
    let st = ctx.state.as_ref().unwrap();
    let f = finding("a1b2c3d4-shared-finding");
    let prior_a = serde_json::json!({"bucket": "b", "account": MEMBER, "block": null});
    let prior_b = serde_json::json!({"bucket": "b", "policy": "{\"Statement\":[]}"});
    st.record_prior("s3-block-public-access", &f, "bucket b", &prior_a)
        .await
        .unwrap();
    st.record_prior("s3-restrict-bucket-policy", &f, "bucket b", &prior_b)
        .await
        .unwrap();
    // A second change by the same function keeps the first record: the state before quell.
    st.record_prior(
        "s3-block-public-access",
        &f,
        "bucket b",
        &serde_json::json!({"bucket": "b", "account": MEMBER, "block": "all"}),
    )
    .await
    .unwrap();
    let keys = st.priors_of_finding(&f.id).await.unwrap();
    let functions: Vec<&str> = keys.iter().map(|k| k.function.as_str()).collect();
    assert_eq!(
        functions,
        ["s3-block-public-access", "s3-restrict-bucket-policy"]
    );
    let a = quell::state::UndoKey::of("s3-block-public-access", &f);
    let b = quell::state::UndoKey::of("s3-restrict-bucket-policy", &f);
    assert_eq!(st.prior_state(&a).await.unwrap().unwrap().prior, prior_a);
    assert_eq!(st.prior_state(&b).await.unwrap().unwrap().prior, prior_b);
    // Each is undone alone.
    st.mark_undone(&a, "2026-12-01T00:00:00Z").await.unwrap();
    assert!(st
        .prior_state(&a)
        .await
        .unwrap()
        .unwrap()
        .undone_at
        .is_some());
    assert!(st
        .prior_state(&b)
        .await
        .unwrap()
        .unwrap()
        .undone_at
        .is_none());
    assert!(
        st.mark_undone(&a, "2026-12-01T00:00:01Z").await.is_err(),
        "an undo is recorded once"
    );

    // A record whose fields name another account than its key is not quell's: refused.
    let forged = quell::state::UndoKey::of("s3-block-public-access", &finding("forged"));
    aws_sdk_dynamodb::Client::new(&_emu.central_config())
        .put_item()
        .table_name(ctx.config.state_table.clone().unwrap())
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(forged.pk()),
        )
        .item(
            "function",
            aws_sdk_dynamodb::types::AttributeValue::S("s3-block-public-access".into()),
        )
        .item(
            "account",
            aws_sdk_dynamodb::types::AttributeValue::S("222222222222".into()),
        )
        .item(
            "region",
            aws_sdk_dynamodb::types::AttributeValue::S("us-east-1".into()),
        )
        .item(
            "target",
            aws_sdk_dynamodb::types::AttributeValue::S("bucket b".into()),
        )
        .item(
            "prior",
            aws_sdk_dynamodb::types::AttributeValue::S("{}".into()),
        )
        .send()
        .await
        .unwrap();
    let err = st.prior_state(&forged).await.unwrap_err();
    assert!(err.to_string().contains("account 222222222222"), "{err}");
}

#[tokio::test]
async fn a_claim_left_by_a_timed_out_invocation_is_taken_over() {
    let limits = Limits {
        claim_takeover_secs: 1,
        ..Limits::default()
    };
    let (_emu, _member, ctx, _) = setup(limits).await;
    let st = ctx.state.as_ref().unwrap();
    use quell::state::Claim;
    assert_eq!(st.claim("f", "occ-1").await.unwrap(), Claim::Acquired);
    assert_eq!(
        st.claim("f", "occ-1").await.unwrap(),
        Claim::Duplicate,
        "a running invocation holds it"
    );
    // The first invocation timed out: it never settled. After the function's timeout, a retry
    // takes the claim over instead of being turned away as a duplicate.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(st.claim("f", "occ-1").await.unwrap(), Claim::Acquired);
    // A settled claim is never taken over: the occurrence was handled.
    st.settle("f", "occ-1", "REMEDIATED", false).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(st.claim("f", "occ-1").await.unwrap(), Claim::Duplicate);
}
