//! S3 and CloudTrail posture end to end, for what a first fix would get wrong: a bucket that hosts
//! a website is not given a TLS-only policy, a bucket on SSE-S3 moves to the configured KMS key (and
//! a finding that asks for KMS is never closed by SSE-S3), and a trail that leaves management
//! events out logs them again with its data-event selectors kept. Each change is read back through
//! the SDK, and `quell undo` puts back exactly what the test seeded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::outcome::Report;
use quell::{Outcome, Remediation};
use quell_tests::probe::Probe;
use quell_tests::{events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::Value;

struct Member {
    emu: Emulator,
    central: aws_config::SdkConfig,
    cfg: aws_config::SdkConfig,
}

async fn member() -> Member {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let cfg = emu.account_config(MEMBER).await;
    seed::member_role(&cfg, CENTRAL).await;
    Member { emu, central, cfg }
}

fn parsed(event: &Value) -> quell::Finding {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

fn hub_id(event: &Value) -> String {
    let f = parsed(event);
    f.hub.clone().map(|h| h.id).unwrap_or_else(|| f.own_id())
}

/// The Security Hub finding the event carries, as Security Hub's own integration imported it.
async fn seed_hub_finding(m: &Member, event: &Value) {
    let f = parsed(event);
    if let Some(h) = &f.hub {
        let r = f.resources.first().unwrap();
        let id = r.arn.clone().unwrap_or_else(|| r.id.clone());
        seed::hub_finding(
            &m.cfg,
            MEMBER,
            &h.id,
            &h.product_arn,
            (r.kind.asff_type(), id.as_str()),
        )
        .await;
    }
}

/// One delivery of `event` to `r`: its only report.
async fn deliver<R: Remediation>(r: &R, ctx: &quell::runtime::Context, event: Value) -> Report {
    quell::runtime::handle(r, ctx, event)
        .await
        .unwrap()
        .reports
        .remove(0)
}

/// The same finding delivered again (a new event id: the same one is a DUPLICATE).
fn again(event: &Value, suffix: &str) -> Value {
    let mut e = event.clone();
    e["id"] = Value::String(format!("{}-{suffix}", e["id"].as_str().unwrap_or("event")));
    e
}

/// The changes recorded for undo of a finding, by any function.
async fn recorded(ctx: &quell::runtime::Context, finding: &str) -> usize {
    ctx.state
        .as_ref()
        .expect("a state table")
        .priors_of_finding(finding)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_bucket_hosting_a_website_is_planned_and_gets_no_tls_only_policy() {
    use aws_sdk_s3::types::{IndexDocument, WebsiteConfiguration};
    let m = member().await;
    let s3 = quell::member::s3_client(&m.cfg);
    seed::public_bucket(&m.cfg, "quell-demo-no-tls", &[]).await;
    s3.put_bucket_website()
        .bucket("quell-demo-no-tls")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = events::load("securityhub-imported-fsbp-s3-5.json", &[]);
    seed_hub_finding(&m, &event).await;
    let r = s3_require_tls::S3RequireTls;
    let ctx = quell_tests::recording_context(&m.emu, s3_require_tls::S3RequireTls::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    match &report.outcome {
        Outcome::Planned { reason, .. } => assert!(
            reason.contains("website") && reason.contains("CloudFront"),
            "{reason}"
        ),
        other => panic!("expected PLANNED: {other:?}"),
    }
    let (status, note) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("website") && note.contains("s3-require-tls"),
        "{note}"
    );
    // Nothing changed, so nothing to undo.
    assert_eq!(
        Probe::Policy("quell-demo-no-tls").read(&m.cfg).await,
        "none (NoSuchBucketPolicy)"
    );
    assert_eq!(recorded(&ctx, &parsed(&event).id).await, 0);
}

#[tokio::test]
async fn an_sse_s3_bucket_moves_to_the_configured_kms_key_and_undo_puts_sse_s3_back() {
    use s3_enable_default_encryption::{S3EnableDefaultEncryption, KEY_VAR};
    let m = member().await;
    let bucket = "quell-demo-unencrypted";
    seed_sse_s3(&m, bucket).await;
    let key = kms_key(&m).await;
    let probe = Probe::Encryption(bucket);
    let seeded = probe.read(&m.cfg).await;
    assert_eq!(seeded, "AES256//Some(false)");

    let mut r = S3EnableDefaultEncryption::default();
    r.configure(&|v| (v == KEY_VAR).then(|| key.clone()))
        .unwrap();
    let event = events::load("config-s3-bucket-server-side-encryption-enabled.json", &[]);
    let ctx = quell_tests::recording_context(&m.emu, S3EnableDefaultEncryption::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    let (status, _) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "RESOLVED");
    assert_eq!(
        probe.read(&m.cfg).await,
        format!("aws:kms/{key}/Some(true)"),
        "SSE-KMS with the configured key and the Bucket Key on"
    );
    // Another delivery finds it done.
    let replay = deliver(&r, &ctx, again(&event, "again")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");

    // Undo puts SSE-S3 back as it was (PutBucketEncryption), not "no encryption".
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert!(!steps.is_empty());
    assert_eq!(probe.read(&m.cfg).await, seeded, "undo ({steps:?})");
}

#[tokio::test]
async fn a_finding_asking_for_kms_is_planned_without_a_key_and_fixed_with_one() {
    use s3_enable_default_encryption::{S3EnableDefaultEncryption, KEY_VAR};
    let m = member().await;
    let bucket = "quell-demo-unencrypted";
    seed_sse_s3(&m, bucket).await;
    let probe = Probe::Encryption(bucket);
    let seeded = probe.read(&m.cfg).await;
    // Security Hub S3.17 (the Config rule s3-default-encryption-kms): SSE-S3 does not meet it.
    let event = events::load(
        "securityhub-imported-fsbp-s3-4.json",
        &[
            ("S3.4", "S3.17"),
            (
                "s3-bucket-server-side-encryption-enabled",
                "s3-default-encryption-kms",
            ),
        ],
    );
    assert_eq!(parsed(&event).kind, "S3.17");
    seed_hub_finding(&m, &event).await;
    let ctx = quell_tests::recording_context(&m.emu, S3EnableDefaultEncryption::SPEC.id).await;

    // No key configured: planned, naming the setting; never RESOLVED by the SSE-S3 it has.
    let r = S3EnableDefaultEncryption::default();
    let report = deliver(&r, &ctx, event.clone()).await;
    match &report.outcome {
        Outcome::Planned { reason, .. } => {
            assert!(
                reason.contains(KEY_VAR) && reason.contains("S3.17"),
                "{reason}"
            )
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    let (status, note) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap_or_default().contains(KEY_VAR));
    assert_eq!(probe.read(&m.cfg).await, seeded, "nothing changed");
    assert_eq!(recorded(&ctx, &parsed(&event).id).await, 0);

    // With a key: SSE-KMS, RESOLVED, and undo gives SSE-S3 back.
    let key = kms_key(&m).await;
    let mut r = S3EnableDefaultEncryption::default();
    r.configure(&|v| (v == KEY_VAR).then(|| key.clone()))
        .unwrap();
    let report = deliver(&r, &ctx, again(&event, "with-key")).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    let (status, _) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "RESOLVED");
    assert_eq!(
        probe.read(&m.cfg).await,
        format!("aws:kms/{key}/Some(true)")
    );
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert!(!steps.is_empty());
    assert_eq!(probe.read(&m.cfg).await, seeded, "undo ({steps:?})");
}

/// A bucket with default encryption SSE-S3, as S3 gives every bucket since January 2023 (the
/// emulator gives none).
async fn seed_sse_s3(m: &Member, bucket: &str) {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    seed::public_bucket(&m.cfg, bucket, &[]).await;
    quell::member::s3_client(&m.cfg)
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A KMS key in the member account: its ARN.
async fn kms_key(m: &Member) -> String {
    aws_sdk_kms::Client::new(&m.cfg)
        .create_key()
        .description("quell-demo bucket key")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// The trail's logging settings and its event selectors, as the SDK reads them.
async fn trail_state(cfg: &aws_config::SdkConfig, name: &str) -> String {
    let out = aws_sdk_cloudtrail::Client::new(cfg)
        .get_event_selectors()
        .trail_name(name)
        .send()
        .await
        .unwrap();
    format!(
        "{} selectors={:?} advanced={:?}",
        Probe::Trail("org-audit").read(cfg).await,
        out.event_selectors(),
        out.advanced_event_selectors()
    )
}

#[tokio::test]
async fn a_trail_that_leaves_management_events_out_logs_them_again_and_undo_puts_its_selectors_back(
) {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
    let m = member().await;
    seed::trail_bucket(&m.cfg, "quell-demo-trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(&m.cfg);
    // Multi-region, validated and logging: only its selectors are wrong. They log the bucket's
    // object events, and no management event.
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name("quell-demo-trail-logs")
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-audit").send().await.unwrap();
    ct.put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(false)
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values("arn:aws:s3:::quell-demo-data/")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let seeded = trail_state(&m.cfg, "org-audit").await;
    assert!(
        seeded.contains("include_management_events: Some(false)"),
        "{seeded}"
    );

    let event = events::load("securityhub-imported-fsbp-cloudtrail-1.json", &[]);
    seed_hub_finding(&m, &event).await;
    let r = cloudtrail_restore_logging::CloudtrailRestoreLogging;
    let ctx = quell_tests::recording_context(
        &m.emu,
        cloudtrail_restore_logging::CloudtrailRestoreLogging::SPEC.id,
    )
    .await;
    let report = deliver(&r, &ctx, event.clone()).await;
    match &report.outcome {
        Outcome::Remediated { steps } => assert_eq!(
            steps.iter().map(|s| s.action).collect::<Vec<_>>(),
            ["cloudtrail:PutEventSelectors"],
            "{steps:?}"
        ),
        other => panic!("expected REMEDIATED: {other:?}"),
    }
    let (status, _) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "RESOLVED");

    let out = ct
        .get_event_selectors()
        .trail_name("org-audit")
        .send()
        .await
        .unwrap();
    let s = out.event_selectors();
    assert_eq!(s.len(), 2, "{s:?}");
    // The data-event selector is kept, and no longer logs management events itself.
    assert_eq!(s[0].include_management_events(), Some(false));
    assert_eq!(s[0].read_write_type(), Some(&ReadWriteType::All));
    assert_eq!(
        s[0].data_resources()
            .iter()
            .map(|d| (d.r#type().unwrap_or_default(), d.values().to_vec()))
            .collect::<Vec<_>>(),
        [(
            "AWS::S3::Object",
            vec!["arn:aws:s3:::quell-demo-data/".to_string()]
        )]
    );
    // Every management event, read and write, from every source.
    assert_eq!(s[1].include_management_events(), Some(true));
    assert_eq!(s[1].read_write_type(), Some(&ReadWriteType::All));
    assert!(s[1].data_resources().is_empty() && s[1].exclude_management_event_sources().is_empty());
    assert!(
        trail_state(&m.cfg, "org-audit")
            .await
            .starts_with("logging=Some(true) multi_region=Some(true) validation=Some(true)"),
        "the rest of the trail is as it was"
    );

    let replay = deliver(&r, &ctx, again(&event, "again")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");

    // Undo puts the data-only selector back (PutEventSelectors), and leaves the trail logging.
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert!(
        steps
            .iter()
            .any(|s| s.action == "cloudtrail:PutEventSelectors"),
        "{steps:?}"
    );
    assert_eq!(
        trail_state(&m.cfg, "org-audit").await,
        seeded,
        "undo ({steps:?})"
    );
}
