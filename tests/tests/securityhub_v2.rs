//! The new Security Hub (OCSF, "Findings Imported V2") end to end: a control finding in the member
//! account is remediated and its outcome recorded in the generation it came from — StatusId and
//! Comment read back with GetFindingsV2 — and the emulator holds BatchUpdateFindingsV2 to AWS's
//! rules (account scoping, identifier forms, StatusId values).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_securityhub::types::OcsfFindingIdentifier;
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::{json, Value};

const FUNCTION: &str = "s3-block-public-access";
const SAMPLE: &str = "securityhub-v2-imported-fsbp-s3-8.json";
const DEMO_BUCKET: &str = "quell-demo-public-assets";
/// A third account of the organization, which must not see the member's findings.
const OTHER: &str = "222222222222";

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
    Setup {
        emu,
        central,
        member,
    }
}

/// The sample event, retargeted at `bucket` and given its own finding ids, with its finding
/// seeded in the emulator as the new Security Hub would hold it. Returns the event and the
/// finding's metadata.uid.
async fn seeded(s: &Setup, bucket: &str) -> (Value, String) {
    let uid = format!("{:0>56}", bucket.replace('-', ""));
    let mut event = events::load(SAMPLE, &[(DEMO_BUCKET, bucket)]);
    let f = &mut event["detail"]["findings"][0];
    let old_uid = f["metadata"]["uid"].as_str().unwrap().to_string();
    f["metadata"]["uid"] = json!(uid);
    f["finding_info"]["uid"] = json!(format!(
        "arn:aws:securityhub:us-east-1:{MEMBER}:security-control/S3.8/finding/{bucket}"
    ));
    event["resources"] = json!([uid]);
    assert_ne!(old_uid, uid);
    s.emu.seed_hub_v2(event["detail"]["findings"].clone()).await;
    (event, uid)
}

fn enforce() -> Config {
    Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    }
}

#[tokio::test]
async fn a_v2_control_finding_is_remediated_and_resolved_in_its_own_generation() {
    let s = setup().await;
    let bucket = "member-v2-public";
    seed::public_bucket(&s.member, bucket, &[]).await;
    let (event, uid) = seeded(&s, bucket).await;
    assert!(seed::public_access_block(&s.member, bucket).await.is_none());
    s.emu.clear_calls().await;

    let ctx = context(&s.emu, enforce(), FUNCTION);
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );

    // Recorded in the generation it came from: one BatchUpdateFindingsV2 from the central
    // account, no ASFF update, no finding of quell's own imported.
    let calls = s.emu.calls().await;
    let hub: Vec<(String, String)> = calls
        .iter()
        .filter(|c| c.service == "securityhub")
        .map(|c| (c.account.clone(), format!("{} {}", c.method, c.path)))
        .collect();
    assert_eq!(
        hub,
        [(
            CENTRAL.to_string(),
            "PATCH /findingsv2/batchupdatev2".to_string()
        )],
        "{hub:?}"
    );
    // The member's bucket, read back.
    assert!(seed::fully_blocked(
        &seed::public_access_block(&s.member, bucket).await
    ));
    // The finding, read back from the administrator: Resolved, with quell's note as the comment.
    let doc = seed::hub_v2_finding(&s.central, &uid)
        .await
        .expect("the finding");
    assert_eq!(
        (doc["status_id"].clone(), doc["status"].clone()),
        (json!(4), json!("Resolved"))
    );
    let comment = doc["comment"].as_str().unwrap_or_default();
    assert!(
        comment.contains(FUNCTION) && comment.contains("s3:PutBucketPublicAccessBlock"),
        "{comment}"
    );
    // The member sees its own finding; another account of the organization does not.
    assert!(seed::hub_v2_finding(&s.member, &uid).await.is_some());
    let other = s.emu.account_config(OTHER).await;
    assert!(seed::hub_v2_finding(&other, &uid).await.is_none());

    // Replayed: already compliant, no write, and the finding stays Resolved.
    s.emu.clear_calls().await;
    let again = quell::runtime::handle(&S3BlockPublicAccess, &ctx, {
        let mut e = event.clone();
        e["id"] = json!("00000000-0000-0000-0000-00000000ffff");
        e
    })
    .await
    .expect("handled");
    assert_eq!(again.reports[0].outcome.name(), "ALREADY_COMPLIANT");
    assert!(!s
        .emu
        .calls()
        .await
        .iter()
        .any(|c| c.service == "s3" && c.method == "PUT"));
    let doc = seed::hub_v2_finding(&s.central, &uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4));
}

/// A dry run leaves the finding In Progress (CSPM's NOTIFIED: a person was told) with the plan as
/// its comment; the finding as Security Hub then re-emits it matches no rule of quell's, so quell's
/// own update does not loop, while the original event did match; a person who sets it back to New
/// asks quell again.
#[tokio::test]
async fn a_dry_run_leaves_the_v2_finding_in_progress_and_does_not_loop() {
    let s = setup().await;
    let bucket = "member-v2-dry";
    seed::public_bucket(&s.member, bucket, &[]).await;
    let (event, uid) = seeded(&s, bucket).await;
    let dry = Config {
        mode: Some(Mode::DryRun),
        ..Config::default()
    };
    let ctx = context(&s.emu, dry, FUNCTION);
    let resp = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .expect("handled");
    assert_eq!(resp.reports[0].outcome.name(), "PLANNED");
    assert!(
        seed::public_access_block(&s.member, bucket).await.is_none(),
        "dry run wrote"
    );

    let doc = seed::hub_v2_finding(&s.central, &uid).await.unwrap();
    assert_eq!(
        (doc["status_id"].clone(), doc["status"].clone()),
        (json!(2), json!("In Progress"))
    );
    let comment = doc["comment"].as_str().unwrap();
    assert!(
        comment.contains(FUNCTION) && comment.contains("s3:PutBucketPublicAccessBlock"),
        "{comment}"
    );

    let spec = <S3BlockPublicAccess as quell::Remediation>::SPEC;
    let actions = quell::routing::LocalActionTargets {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: CENTRAL.into(),
    };
    let v2_rule = quell::routing::rules(&spec, &actions)
        .into_iter()
        .find(|r| r.name == "SecurityHubV2")
        .expect("a V2 rule");
    assert!(quell::routing::matches(&v2_rule.pattern, &event));
    let mut reemitted = event.clone();
    reemitted["detail"]["findings"] = json!([doc.clone()]);
    assert!(
        !quell::routing::matches(&v2_rule.pattern, &reemitted),
        "quell's own NOTIFIED update would run it again"
    );
    assert!(
        quell::event::Envelope::parse(reemitted.clone())
            .unwrap()
            .findings[0]
            .is_err(),
        "the parser refuses it too"
    );
    // A person sets it back to New: quell's rule takes it again, comment and all.
    let mut asked = reemitted;
    asked["detail"]["findings"][0]["status_id"] = json!(1);
    asked["detail"]["findings"][0]["status"] = json!("New");
    assert!(quell::routing::matches(&v2_rule.pattern, &asked));
}

/// A finding the central account cannot see on the new Security Hub (not its administrator, or not
/// its home Region) is a recording error that fails the invocation for the retry and the
/// dead-letter queue: never a finding of quell's own imported in the member instead.
#[tokio::test]
async fn a_v2_finding_the_central_account_cannot_see_is_a_recording_error_not_an_import() {
    let s = setup().await;
    let bucket = "member-v2-unseen";
    seed::public_bucket(&s.member, bucket, &[]).await;
    // The event, but its finding not in the new Security Hub.
    let event = events::load(SAMPLE, &[(DEMO_BUCKET, bucket)]);
    s.emu.clear_calls().await;
    let ctx = context(&s.emu, enforce(), FUNCTION);
    let err = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .expect_err("the invocation fails, for the retry and the dead-letter queue");
    assert!(
        matches!(err, quell::runtime::Failure::Retryable { .. })
            && err.to_string().contains("QUELL_HUB_REGION"),
        "{err}"
    );
    // The fix itself was made and verified; only its record is missing.
    assert!(seed::fully_blocked(
        &seed::public_access_block(&s.member, bucket).await
    ));
    let calls = s.emu.calls().await;
    assert!(
        !calls
            .iter()
            .any(|c| c.service == "securityhub" && c.path.starts_with("/findings/")),
        "no ASFF import or update: {calls:?}"
    );
}

/// The emulator's BatchUpdateFindingsV2 is no looser than AWS's: another account's finding is not
/// found, the two identifier forms are exclusive, a FindingIdentifier needs its three parts, and
/// StatusId and Comment are checked; each time the finding is read back unchanged.
#[tokio::test]
async fn batch_update_findings_v2_is_held_to_aws_rules() {
    let s = setup().await;
    let (_, uid) = seeded(&s, "member-v2-rules").await;
    let status = |doc: &Value| doc["status_id"].clone();
    let before = seed::hub_v2_finding(&s.central, &uid).await.unwrap();
    assert_eq!(status(&before), json!(1));
    let client = |cfg: &aws_config::SdkConfig| aws_sdk_securityhub::Client::new(cfg);

    // Another account: ResourceNotFoundException, nothing changed.
    let other = s.emu.account_config(OTHER).await;
    let out = client(&other)
        .batch_update_findings_v2()
        .metadata_uids(&uid)
        .status_id(4)
        .comment("closing someone else's finding")
        .send()
        .await
        .expect("answered");
    assert!(out.processed_findings().is_empty());
    assert_eq!(
        out.unprocessed_findings()[0]
            .error_code()
            .map(|c| c.as_str()),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        seed::hub_v2_finding(&s.central, &uid).await.unwrap(),
        before
    );

    // Both identifier forms in one call, a StatusId OCSF does not have, a blank comment:
    // ValidationException, nothing changed.
    let ident = OcsfFindingIdentifier::builder()
        .cloud_account_uid(MEMBER)
        .finding_info_uid(before["finding_info"]["uid"].as_str().unwrap())
        .metadata_product_uid(before["metadata"]["product"]["uid"].as_str().unwrap())
        .build();
    let refused = [
        client(&s.central)
            .batch_update_findings_v2()
            .metadata_uids(&uid)
            .finding_identifiers(ident.clone())
            .status_id(4)
            .send()
            .await,
        client(&s.central)
            .batch_update_findings_v2()
            .metadata_uids(&uid)
            .status_id(7)
            .send()
            .await,
        client(&s.central)
            .batch_update_findings_v2()
            .metadata_uids(&uid)
            .comment("   ")
            .send()
            .await,
        client(&s.central)
            .batch_update_findings_v2()
            .metadata_uids(&uid)
            .send()
            .await,
    ];
    for (i, r) in refused.into_iter().enumerate() {
        let e = r.expect_err("refused");
        assert_eq!(
            aws_sdk_securityhub::error::ProvideErrorMetadata::code(&e),
            Some("ValidationException"),
            "case {i}: {e:?}"
        );
    }
    assert_eq!(
        seed::hub_v2_finding(&s.central, &uid).await.unwrap(),
        before
    );

    // The member, by the three-part identifier, on its own finding: processed.
    let out = client(&s.member)
        .batch_update_findings_v2()
        .finding_identifiers(ident)
        .status_id(3)
        .comment("accepted risk")
        .send()
        .await
        .expect("answered");
    assert_eq!(out.processed_findings().len(), 1, "{out:?}");
    let after = seed::hub_v2_finding(&s.central, &uid).await.unwrap();
    assert_eq!(
        (
            after["status_id"].clone(),
            after["status"].clone(),
            after["comment"].clone()
        ),
        (json!(3), json!("Suppressed"), json!("accepted risk"))
    );
}
