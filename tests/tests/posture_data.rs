//! Encryption, key rotation, deletion protection and snapshot exposure end to end (KMS.4, SQS.1,
//! DynamoDB.6, EC2.1), one trigger of each kind among them: Security Hub CSPM (ASFF), the new
//! Security Hub (OCSF) and Config. Each problem is seeded in the member account with IAM in force,
//! fixed by the function through its own member role, read back through the SDK, replayed without
//! a write, and undone through the member's quell-undo role to exactly what was seeded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::{Config, Mode, Outcome, Remediation};
use quell_tests::{
    again, context, deliver, distinct, events, hub_id, member_account, parsed, seed,
    seed_hub_finding, MEMBER,
};
use serde_json::json;

/// A third account of the organization, whose resources nothing here may touch.
const OTHER: &str = "222222222222";

fn dry_run(function: &str, m: &quell_tests::MemberAccount) -> quell::runtime::Context {
    context(
        &m.emu,
        Config {
            mode: Some(Mode::DryRun),
            ..Config::default()
        },
        function,
    )
}

async fn rotation(kms: &aws_sdk_kms::Client, key: &str) -> bool {
    kms.get_key_rotation_status()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled()
}

#[tokio::test]
async fn a_key_that_does_not_rotate_rotates_and_one_that_cannot_is_planned() {
    use kms_enable_key_rotation::KmsEnableKeyRotation;
    let m = member_account().await;
    let kms = aws_sdk_kms::Client::new(&m.cfg);
    let key = kms
        .create_key()
        .description("orders data key")
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    assert!(!rotation(&kms, &key).await, "seeded without rotation");
    let event = events::load(
        "securityhub-imported-fsbp-kms-4.json",
        &[("0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30", &key)],
    );
    seed_hub_finding(&m.cfg, &event).await;
    let r = KmsEnableKeyRotation::default();
    let ctx = quell_tests::recording_context(&m.emu, KmsEnableKeyRotation::SPEC.id).await;

    // Dry run: planned, nothing written.
    m.emu.clear_calls().await;
    let planned = deliver(
        &r,
        &dry_run(KmsEnableKeyRotation::SPEC.id, &m),
        again(&event, "dry"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert!(!rotation(&kms, &key).await);
    assert!(!m
        .calls(MEMBER, "kms")
        .await
        .contains(&"EnableKeyRotation".to_string()));

    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert!(rotation(&kms, &key).await, "read back from the member");
    let (status, note) = seed::workflow(&m.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");
    assert!(note.unwrap_or_default().contains("kms:EnableKeyRotation"));

    // Replayed: compliant, and not one write.
    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    let kms_calls = m.calls(MEMBER, "kms").await;
    assert!(
        kms_calls
            .iter()
            .all(|a| a.starts_with("Get") || a.starts_with("List") || a.starts_with("Describe")),
        "{kms_calls:?}"
    );

    // Undo: rotation off, as seeded.
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(!rotation(&kms, &key).await);

    // An asymmetric signing key cannot rotate automatically: planned with the reason, unchanged.
    let signing = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let event = distinct(
        &events::load(
            "securityhub-imported-fsbp-kms-4.json",
            &[("0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30", &signing)],
        ),
        "signing",
    );
    seed_hub_finding(&m.cfg, &event).await;
    m.emu.clear_calls().await;
    let report = deliver(&r, &ctx, event.clone()).await;
    match &report.outcome {
        Outcome::Planned { reason, .. } => assert!(reason.contains("RSA_2048"), "{reason}"),
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(
        seed::workflow(&m.central, &hub_id(&event)).await.unwrap().0,
        "NOTIFIED"
    );
    let kms_calls = m.calls(MEMBER, "kms").await;
    assert!(
        !kms_calls.contains(&"EnableKeyRotation".to_string())
            && !kms_calls.contains(&"GetKeyRotationStatus".to_string()),
        "{kms_calls:?}"
    );
}

async fn sse_sqs(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled)
                .cloned()
        })
}

#[tokio::test]
async fn an_unencrypted_queue_from_config_gets_sse_sqs_and_undo_takes_it_off() {
    use aws_sdk_sqs::types::QueueAttributeName;
    use sqs_encrypt_queue::SqsEncryptQueue;
    let m = member_account().await;
    let sqs = aws_sdk_sqs::Client::new(&m.cfg);
    let url = sqs
        .create_queue()
        .queue_name("quell-demo-orders")
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "false")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    assert_eq!(sse_sqs(&sqs, &url).await.as_deref(), Some("false"));
    // The same name in another account, unencrypted too: never touched.
    let other = aws_sdk_sqs::Client::new(&m.emu.account_config(OTHER).await);
    let other_url = other
        .create_queue()
        .queue_name("quell-demo-orders")
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "false")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();

    // Config names the queue by its URL.
    let event = events::load("config-sqs-queue-encrypted.json", &[]);
    let r = SqsEncryptQueue;
    let planned = deliver(
        &r,
        &dry_run(SqsEncryptQueue::SPEC.id, &m),
        again(&event, "dry"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(sse_sqs(&sqs, &url).await.as_deref(), Some("false"));

    let ctx = quell_tests::recording_context(&m.emu, SqsEncryptQueue::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(sse_sqs(&sqs, &url).await.as_deref(), Some("true"));
    assert_eq!(
        sse_sqs(&other, &other_url).await.as_deref(),
        Some("false"),
        "another account's queue of the same name is untouched"
    );
    // A Config finding is recorded as quell's own Security Hub finding.
    let (status, _) = seed::workflow(&m.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");

    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert!(!m
        .calls(MEMBER, "sqs")
        .await
        .contains(&"SetQueueAttributes".to_string()));

    quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(sse_sqs(&sqs, &url).await.as_deref(), Some("false"));
}

async fn protected(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Option<bool> {
    ddb.describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .and_then(|t| t.deletion_protection_enabled())
}

#[tokio::test]
async fn a_v2_finding_protects_a_table_an_exempt_table_is_left_and_undo_is_exact() {
    use dynamodb_deletion_protection::DynamodbDeletionProtection;
    let m = member_account().await;
    let ddb = aws_sdk_dynamodb::Client::new(&m.cfg);
    seed::table(&m.cfg, "quell-demo-orders", &[]).await;
    seed::table(&m.cfg, "quell-ci-scratch", &[("quell:exempt", "true")]).await;
    assert_eq!(protected(&ddb, "quell-demo-orders").await, Some(false));

    let event = events::load("securityhub-v2-imported-fsbp-dynamodb-6.json", &[]);
    m.emu.seed_hub_v2(event["detail"]["findings"].clone()).await;
    let uid = event["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = DynamodbDeletionProtection;
    let ctx = quell_tests::recording_context(&m.emu, DynamodbDeletionProtection::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(protected(&ddb, "quell-demo-orders").await, Some(true));
    // Recorded in the new Security Hub: Resolved (4), read back from the administrator.
    let doc = seed::hub_v2_finding(&m.central, &uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4), "{doc}");
    // Deletion is now refused, as AWS does.
    assert!(ddb
        .delete_table()
        .table_name("quell-demo-orders")
        .send()
        .await
        .is_err());

    // The exempt table: EXEMPT, left unprotected.
    let scratch = distinct(
        &events::load(
            "securityhub-v2-imported-fsbp-dynamodb-6.json",
            &[("quell-demo-orders", "quell-ci-scratch")],
        ),
        "scratch",
    );
    m.emu
        .seed_hub_v2(scratch["detail"]["findings"].clone())
        .await;
    let out = deliver(&r, &ctx, scratch).await;
    assert_eq!(out.outcome.name(), "EXEMPT", "{out:?}");
    assert_eq!(protected(&ddb, "quell-ci-scratch").await, Some(false));

    quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(protected(&ddb, "quell-demo-orders").await, Some(false));
}

/// Who may restore a snapshot: `all` for the public, and the accounts it is shared with.
async fn restorable_by(cfg: &aws_config::SdkConfig, snapshot: &str) -> String {
    quell_tests::probe::Probe::SnapshotPermissions(snapshot.to_string())
        .read(cfg)
        .await
}

#[tokio::test]
async fn public_snapshots_go_private_sharing_and_exempt_ones_stay_and_undo_is_exact() {
    use ebs_snapshot_private::EbsSnapshotPrivate;
    let m = member_account().await;
    let public = seed::snapshot(&m.cfg, &[], &["all"], &[OTHER]).await;
    let kept = seed::snapshot(&m.cfg, &[("quell:exempt", "true")], &["all"], &[]).await;
    let shared = seed::snapshot(&m.cfg, &[], &[], &[OTHER]).await;
    // Another account's public snapshot: not the member's exposure, never touched.
    let other_cfg = m.emu.account_config(OTHER).await;
    let theirs = seed::snapshot(&other_cfg, &[], &["all"], &[]).await;
    let seeded = (
        restorable_by(&m.cfg, &public).await,
        restorable_by(&m.cfg, &kept).await,
        restorable_by(&m.cfg, &shared).await,
    );
    assert_eq!(seeded.0, "restorable-by=[222222222222,all]");

    let event = events::load("securityhub-imported-fsbp-ec2-1.json", &[]);
    seed_hub_finding(&m.cfg, &event).await;
    let r = EbsSnapshotPrivate::default();
    let ctx = quell_tests::recording_context(&m.emu, EbsSnapshotPrivate::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    // The exempt snapshot stays public, so the finding is not said to be gone.
    match &report.outcome {
        Outcome::Unconfirmed { unchecked, .. } => assert!(unchecked.contains(&kept), "{unchecked}"),
        other => panic!("expected UNCONFIRMED: {other:?}"),
    }
    assert_eq!(
        restorable_by(&m.cfg, &public).await,
        "restorable-by=[222222222222]"
    );
    assert_eq!(restorable_by(&m.cfg, &kept).await, "restorable-by=[all]");
    assert_eq!(
        restorable_by(&m.cfg, &shared).await,
        "restorable-by=[222222222222]"
    );
    assert_eq!(
        restorable_by(&other_cfg, &theirs).await,
        "restorable-by=[all]"
    );
    assert_eq!(
        seed::workflow(&m.central, &hub_id(&event)).await.unwrap().0,
        "NOTIFIED"
    );

    // Replayed: nothing left to change, still not RESOLVED, and no write.
    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "UNCONFIRMED", "{replay:?}");
    assert!(!m
        .calls(MEMBER, "ec2")
        .await
        .contains(&"ModifySnapshotAttribute".to_string()));

    quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(
        (
            restorable_by(&m.cfg, &public).await,
            restorable_by(&m.cfg, &kept).await,
            restorable_by(&m.cfg, &shared).await,
        ),
        seeded
    );
}

#[tokio::test]
async fn databases_get_deletion_protection_from_config_and_v2_an_aurora_member_is_planned_and_undo_is_exact(
) {
    use quell_tests::probe::Probe;
    use rds_deletion_protection::RdsDeletionProtection;
    let m = member_account().await;
    let resource_id = seed::db_instance(&m.cfg, "quell-demo-orders", None, &[]).await;
    seed::db_cluster(&m.cfg, "quell-demo-orders").await;
    let member_id = seed::db_instance(
        &m.cfg,
        "quell-demo-orders-1",
        Some("quell-demo-orders"),
        &[],
    )
    .await;
    let other_cfg = m.emu.account_config(OTHER).await;
    let other_id = seed::db_instance(&other_cfg, "quell-demo-orders", None, &[]).await;
    assert!(
        resource_id != member_id && resource_id != other_id,
        "each instance has its own resource id, as in RDS"
    );
    let instance = Probe::InstanceProtection("quell-demo-orders");
    let cluster = Probe::ClusterProtection("quell-demo-orders");
    let off = "deletion-protection=Some(false)";
    let on = "deletion-protection=Some(true)";
    assert_eq!(instance.read(&m.cfg).await, off);
    assert_eq!(cluster.read(&m.cfg).await, off);
    let r = RdsDeletionProtection;
    let ctx = quell_tests::recording_context(&m.emu, RdsDeletionProtection::SPEC.id).await;

    // Config names the instance by its resource id.
    let event = events::load(
        "config-rds-instance-deletion-protection-enabled.json",
        &[("db-ABCDEFGHIJKLMNOPQRSTUVWXY2", &resource_id)],
    );
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(instance.read(&m.cfg).await, on);
    assert_eq!(
        instance.read(&other_cfg).await,
        off,
        "another account's instance of the same name is untouched"
    );
    assert_eq!(
        seed::workflow(&m.central, &hub_id(&event)).await.unwrap().0,
        "RESOLVED"
    );
    // Deletion is now refused, as RDS does.
    let refused = aws_sdk_rds::Client::new(&m.cfg)
        .delete_db_instance()
        .db_instance_identifier("quell-demo-orders")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidParameterCombination"),
        "{refused:?}"
    );
    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert_eq!(m.calls(MEMBER, "rds").await, ["DescribeDBInstances"]);

    // The new Security Hub names the cluster: protected, Resolved (4).
    let v2 = events::load("securityhub-v2-imported-fsbp-rds-7.json", &[]);
    m.emu.seed_hub_v2(v2["detail"]["findings"].clone()).await;
    let report = deliver(&r, &ctx, v2.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(cluster.read(&m.cfg).await, on);
    let uid = v2["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap();
    let doc = seed::hub_v2_finding(&m.central, uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4), "{doc}");

    // An Aurora member named by ASFF, its cluster protected now: UNCONFIRMED naming the cluster
    // (RDS reports the member's own flag false), and no write.
    let member_event = distinct(
        &events::load(
            "securityhub-imported-fsbp-rds-8.json",
            &[("db:quell-demo-orders", "db:quell-demo-orders-1")],
        ),
        "aurora",
    );
    seed_hub_finding(&m.cfg, &member_event).await;
    m.emu.clear_calls().await;
    let out = deliver(&r, &ctx, member_event.clone()).await;
    match &out.outcome {
        Outcome::Unconfirmed { unchecked, .. } => {
            assert!(
                unchecked.contains("DB cluster quell-demo-orders"),
                "{unchecked}"
            )
        }
        other => panic!("expected UNCONFIRMED: {other:?}"),
    }
    assert!(!m
        .calls(MEMBER, "rds")
        .await
        .iter()
        .any(|c| c.starts_with("Modify")));

    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(instance.read(&m.cfg).await, off);
    assert_eq!(
        cluster.read(&m.cfg).await,
        on,
        "only the undone finding's change"
    );
}
