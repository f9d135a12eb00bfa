//! Subnets that hand out public addresses, function policies open to everyone and unencrypted
//! topics end to end (EC2.15, Lambda.1, SNS.1), one trigger of each kind among them: Config,
//! Security Hub CSPM (ASFF) and the new Security Hub (OCSF). Each problem is seeded in the member
//! account with IAM in force, fixed by the function through its own member role, read back through
//! the SDK, replayed without a write, and undone through the member's quell-undo role to exactly
//! what was seeded. The same problem in another account of the organization is never touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::{Config, Mode, Outcome, Remediation};
use quell_tests::probe::Probe;
use quell_tests::{
    again, context, deliver, distinct, events, hub_id, member_account, parsed, seed,
    seed_hub_finding, MEMBER, REGION,
};
use serde_json::json;

/// A third account of the organization, whose resources nothing here may touch.
const OTHER: &str = "222222222222";

/// The finding of `event` is RESOLVED on Security Hub, and another delivery of it finds the
/// resource compliant making exactly the `reads` calls of `service` in the member, no write.
async fn resolved_then_replay_only_reads<R: Remediation>(
    m: &quell_tests::MemberAccount,
    r: &R,
    ctx: &quell::runtime::Context,
    event: &serde_json::Value,
    service: &str,
    reads: &[&str],
) {
    assert_eq!(
        seed::workflow(&m.central, &hub_id(event)).await.unwrap().0,
        "RESOLVED"
    );
    m.emu.clear_calls().await;
    let replay = deliver(r, ctx, again(event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert_eq!(m.calls(MEMBER, service).await, reads);
}

#[tokio::test]
async fn a_subnet_from_config_is_planned_by_default_then_stops_mapping_public_ips_and_undo_is_exact(
) {
    use ec2_subnet_no_public_ip::Ec2SubnetNoPublicIp;
    let m = member_account().await;
    let subnet = seed::subnet(&m.cfg, true, &[]).await;
    let other_cfg = m.emu.account_config(OTHER).await;
    let other = seed::subnet(&other_cfg, true, &[]).await;
    let probe = Probe::SubnetMapping(subnet.clone());
    let public = "map-public-ip=Some(true) assign-ipv6=Some(false)";
    let private = "map-public-ip=Some(false) assign-ipv6=Some(false)";
    assert_eq!(probe.read(&m.cfg).await, public);
    let event = events::load(
        "config-subnet-auto-assign-public-ip-disabled.json",
        &[("subnet-0a1b2c3d4e5f60718", &subnet)],
    );
    let r = Ec2SubnetNoPublicIp;

    // Its own default, dry-run: planned, and not one write.
    m.emu.clear_calls().await;
    let planned = deliver(
        &r,
        &context(&m.emu, Config::default(), Ec2SubnetNoPublicIp::SPEC.id),
        again(&event, "default"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(probe.read(&m.cfg).await, public);
    assert!(!m
        .calls(MEMBER, "ec2")
        .await
        .contains(&"ModifySubnetAttribute".to_string()));

    // Enforced by the operator: off, read back from the member.
    let ctx = quell_tests::recording_context(&m.emu, Ec2SubnetNoPublicIp::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(probe.read(&m.cfg).await, private);
    let (status, note) = seed::workflow(&m.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");
    assert!(note
        .unwrap_or_default()
        .contains("ec2:ModifySubnetAttribute"));

    // Replayed: compliant, and not one write.
    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert_eq!(m.calls(MEMBER, "ec2").await, ["DescribeSubnets"]);

    // A finding of the member that names the other account's subnet: the member has no such
    // subnet, and the other account's is untouched.
    let elsewhere = events::load(
        "config-subnet-auto-assign-public-ip-disabled.json",
        &[("subnet-0a1b2c3d4e5f60718", &other)],
    );
    let out = deliver(&r, &ctx, again(&elsewhere, "elsewhere")).await;
    assert_eq!(out.outcome.name(), "FAILED", "{out:?}");
    assert_eq!(
        Probe::SubnetMapping(other.clone()).read(&other_cfg).await,
        public,
        "another account's subnet is untouched"
    );

    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(probe.read(&m.cfg).await, public);
}

#[tokio::test]
async fn an_asff_finding_removes_the_public_statements_keeps_the_rest_and_undo_puts_them_back() {
    use lambda_remove_public_access::LambdaRemovePublicAccess;
    const NAME: &str = "quell-demo-webhook";
    let m = member_account().await;
    seed::function(&m.cfg, NAME, None).await;
    let lambda = aws_sdk_lambda::Client::new(&m.cfg);
    // Open to everyone; the organization's own; one partner account; S3 of the account.
    lambda
        .add_permission()
        .function_name(NAME)
        .statement_id("open")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(NAME)
        .statement_id("org")
        .action("lambda:InvokeFunction")
        .principal("*")
        .principal_org_id("o-a1b2c3d4e5")
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(NAME)
        .statement_id("partner")
        .action("lambda:InvokeFunction")
        .principal(format!("arn:aws:iam::{OTHER}:root"))
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(NAME)
        .statement_id("uploads")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_account(MEMBER)
        .source_arn("arn:aws:s3:::quell-demo-uploads")
        .send()
        .await
        .unwrap();
    // The same function, open, in another account.
    let other_cfg = m.emu.account_config(OTHER).await;
    seed::function(&other_cfg, NAME, None).await;
    aws_sdk_lambda::Client::new(&other_cfg)
        .add_permission()
        .function_name(NAME)
        .statement_id("open")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    let probe = Probe::FunctionPolicy(NAME);
    let seeded = "policy=[open,org,partner,uploads]";
    assert_eq!(probe.read(&m.cfg).await, seeded);

    let event = events::load("securityhub-imported-fsbp-lambda-1.json", &[]);
    seed_hub_finding(&m.cfg, &event).await;
    let r = LambdaRemovePublicAccess;
    let ctx = quell_tests::recording_context(&m.emu, LambdaRemovePublicAccess::SPEC.id).await;

    let dry = context(
        &m.emu,
        Config {
            mode: Some(Mode::DryRun),
            ..Config::default()
        },
        LambdaRemovePublicAccess::SPEC.id,
    );
    let planned = deliver(&r, &dry, again(&event, "dry")).await;
    match &planned.outcome {
        Outcome::Planned { steps, .. } => {
            assert_eq!(steps.len(), 1, "{steps:?}");
            assert!(steps[0].to_string().contains("sid=open"), "{steps:?}");
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(probe.read(&m.cfg).await, seeded);

    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(probe.read(&m.cfg).await, "policy=[org,partner,uploads]");
    let (status, note) = seed::workflow(&m.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");
    assert!(note.unwrap_or_default().contains("lambda:RemovePermission"));
    assert_eq!(
        Probe::FunctionPolicy(NAME).read(&other_cfg).await,
        "policy=[open]",
        "another account's function of the same name is untouched"
    );

    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    // Lambda's REST calls are logged by method and path: two reads (tags, policy), no write.
    let lambda_calls = m.calls(MEMBER, "lambda").await;
    assert!(
        lambda_calls.len() == 2 && lambda_calls.iter().all(|c| c.starts_with("GET ")),
        "{lambda_calls:?}"
    );

    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(probe.read(&m.cfg).await, seeded);
    // The statement put back is the one removed: open to everyone, nothing more.
    let policy: serde_json::Value = serde_json::from_str(
        lambda
            .get_policy()
            .function_name(NAME)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let open = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "open")
        .unwrap();
    assert_eq!(
        (&open["Principal"], &open["Action"], open.get("Condition")),
        (&json!("*"), &json!("lambda:InvokeFunction"), None),
        "{open}"
    );
}

#[tokio::test]
async fn a_v2_finding_encrypts_a_topic_with_the_configured_key_and_plans_without_one() {
    use sns_encrypt_topic::SnsEncryptTopic;
    let m = member_account().await;
    let sns = aws_sdk_sns::Client::new(&m.cfg);
    let topic = sns
        .create_topic()
        .name("quell-demo-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let other_cfg = m.emu.account_config(OTHER).await;
    let other_topic = aws_sdk_sns::Client::new(&other_cfg)
        .create_topic()
        .name("quell-demo-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let key = format!("arn:aws:kms:{REGION}:{MEMBER}:alias/quell-sns");
    // The operator's key, in the member's Region, under the alias the setting names.
    seed::kms_alias(&m.cfg, "alias/quell-sns").await;
    let probe = Probe::TopicKey(topic.clone());
    assert_eq!(probe.read(&m.cfg).await, "kms=none");

    let event = events::load("securityhub-v2-imported-nist-sns-1.json", &[]);
    m.emu.seed_hub_v2(event["detail"]["findings"].clone()).await;
    let uid = event["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let ctx = quell_tests::recording_context(&m.emu, SnsEncryptTopic::SPEC.id).await;

    // No key configured: planned, naming the setting; nothing written; NOTIFIED (In Progress, 2).
    m.emu.clear_calls().await;
    let unset = deliver(&SnsEncryptTopic::default(), &ctx, again(&event, "unset")).await;
    match &unset.outcome {
        Outcome::Planned { reason, .. } => {
            assert!(reason.contains("QUELL_SNS_KMS_KEY"), "{reason}")
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(probe.read(&m.cfg).await, "kms=none");
    assert!(!m
        .calls(MEMBER, "sns")
        .await
        .contains(&"SetTopicAttributes".to_string()));
    let doc = seed::hub_v2_finding(&m.central, &uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(2), "{doc}");

    // The AWS managed key, chosen, on a topic EventBridge publishes to: planned, naming it.
    let events_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AWSEvents", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic}]});
    sns.set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(events_policy.to_string())
        .send()
        .await
        .unwrap();
    let managed = SnsEncryptTopic {
        key: Some("alias/aws/sns".into()),
    };
    let out = deliver(&managed, &ctx, again(&event, "managed")).await;
    match &out.outcome {
        Outcome::Planned { reason, .. } => {
            assert!(reason.contains("events.amazonaws.com"), "{reason}")
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(probe.read(&m.cfg).await, "kms=none");

    // The operator's key: encrypted, read back; Resolved (4) in the new Security Hub.
    let r = SnsEncryptTopic {
        key: Some(key.clone()),
    };
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(probe.read(&m.cfg).await, format!("kms={key}"));
    let doc = seed::hub_v2_finding(&m.central, &uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4), "{doc}");
    assert_eq!(
        Probe::TopicKey(other_topic).read(&other_cfg).await,
        "kms=none",
        "another account's topic of the same name is untouched"
    );

    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert!(!m
        .calls(MEMBER, "sns")
        .await
        .contains(&"SetTopicAttributes".to_string()));

    quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(probe.read(&m.cfg).await, "kms=none");
}

/// RDS.1: a public DB snapshot (Config, ASFF) and a public DB cluster snapshot (the new Security
/// Hub) lose `all` from their restore attribute; the account a snapshot is shared with keeps it;
/// a dry run writes nothing; a replay makes no write; the other account's public snapshot of the
/// same name is untouched; undo makes public again exactly what quell made private.
#[tokio::test]
async fn public_rds_snapshots_become_private_shared_accounts_kept_and_undo_is_exact() {
    use rds_snapshot_private::RdsSnapshotPrivate;
    const SNAPSHOT: &str = "quell-demo-orders-final";
    let m = member_account().await;
    seed::db_instance(&m.cfg, "quell-demo-orders", None, &[]).await;
    seed::db_snapshot(
        &m.cfg,
        "quell-demo-orders",
        false,
        SNAPSHOT,
        &["all", OTHER],
    )
    .await;
    seed::db_cluster(&m.cfg, "quell-demo-orders").await;
    seed::db_snapshot(&m.cfg, "quell-demo-orders", true, SNAPSHOT, &["all"]).await;
    let other_cfg = m.emu.account_config(OTHER).await;
    seed::db_instance(&other_cfg, "quell-demo-orders", None, &[]).await;
    seed::db_snapshot(&other_cfg, "quell-demo-orders", false, SNAPSHOT, &["all"]).await;
    let snapshot = Probe::SnapshotRestore(SNAPSHOT);
    let cluster_snapshot = Probe::ClusterSnapshotRestore(SNAPSHOT);
    let shared = format!("restore=[{OTHER},all]");
    assert_eq!(snapshot.read(&m.cfg).await, shared);
    assert_eq!(cluster_snapshot.read(&m.cfg).await, "restore=[all]");
    let r = RdsSnapshotPrivate;
    let event = events::load("config-rds-snapshots-public-prohibited.json", &[]);

    // A dry run: planned, not one write.
    m.emu.clear_calls().await;
    let dry = Config {
        mode: Some(Mode::DryRun),
        ..Config::default()
    };
    let planned = deliver(
        &r,
        &context(&m.emu, dry, RdsSnapshotPrivate::SPEC.id),
        again(&event, "dry"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(snapshot.read(&m.cfg).await, shared);
    assert!(!m
        .calls(MEMBER, "rds")
        .await
        .iter()
        .any(|c| c.starts_with("Modify")));

    // Config names the snapshot: private, the partner account kept, read back.
    let ctx = quell_tests::recording_context(&m.emu, RdsSnapshotPrivate::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(snapshot.read(&m.cfg).await, format!("restore=[{OTHER}]"));
    assert_eq!(
        Probe::SnapshotRestore(SNAPSHOT).read(&other_cfg).await,
        "restore=[all]",
        "another account's snapshot of the same name is untouched"
    );
    resolved_then_replay_only_reads(
        &m,
        &r,
        &ctx,
        &event,
        "rds",
        &["DescribeDBSnapshots", "DescribeDBSnapshotAttributes"],
    )
    .await;

    // The new Security Hub names the cluster snapshot: private, Resolved (4).
    let v2 = events::load("securityhub-v2-imported-fsbp-rds-1.json", &[]);
    m.emu.seed_hub_v2(v2["detail"]["findings"].clone()).await;
    let report = deliver(&r, &ctx, v2.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(cluster_snapshot.read(&m.cfg).await, "restore=[]");
    let uid = v2["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap();
    let doc = seed::hub_v2_finding(&m.central, uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4), "{doc}");

    // ASFF names the snapshot by ARN: compliant now, nothing written.
    let asff = events::load("securityhub-imported-fsbp-rds-1.json", &[]);
    seed_hub_finding(&m.cfg, &asff).await;
    m.emu.clear_calls().await;
    let out = deliver(&r, &ctx, asff.clone()).await;
    assert_eq!(out.outcome.name(), "ALREADY_COMPLIANT", "{out:?}");
    assert!(!m
        .calls(MEMBER, "rds")
        .await
        .iter()
        .any(|c| c.starts_with("Modify")));

    // Undo of the Config finding: public again, the partner still there; the cluster snapshot's
    // own finding is not undone by it.
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(snapshot.read(&m.cfg).await, shared);
    assert_eq!(cluster_snapshot.read(&m.cfg).await, "restore=[]");
    if let Outcome::Remediated { steps } = &report.outcome {
        assert!(
            steps[0].to_string().contains("cluster-snapshot"),
            "{steps:?}"
        );
    }
}

/// RDS.2: a publicly accessible DB instance is planned by default (dry-run), then made private
/// when enforced (Config names it by resource id), read back; a replay only reads; the other
/// account's public instance of the same name is untouched; undo makes it public again.
#[tokio::test]
async fn a_public_db_instance_is_planned_by_default_then_made_private_and_undo_is_exact() {
    use rds_instance_private::RdsInstancePrivate;
    const NAME: &str = "quell-demo-orders";
    let m = member_account().await;
    let resource_id = seed::db_instance(&m.cfg, NAME, None, &[]).await;
    seed::db_instance_public(&m.cfg, NAME).await;
    let other_cfg = m.emu.account_config(OTHER).await;
    seed::db_instance(&other_cfg, NAME, None, &[]).await;
    seed::db_instance_public(&other_cfg, NAME).await;
    let probe = Probe::InstancePublic(NAME);
    let public = "publicly-accessible=Some(true)";
    let private = "publicly-accessible=Some(false)";
    assert_eq!(probe.read(&m.cfg).await, public);
    let event = events::load(
        "config-rds-instance-public-access-check.json",
        &[("db-ABCDEFGHIJKLMNOPQRSTUVWXY2", &resource_id)],
    );
    let r = RdsInstancePrivate;

    // Its own default, dry-run: planned, and not one write.
    m.emu.clear_calls().await;
    let planned = deliver(
        &r,
        &context(&m.emu, Config::default(), RdsInstancePrivate::SPEC.id),
        again(&event, "default"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(probe.read(&m.cfg).await, public);
    assert!(!m
        .calls(MEMBER, "rds")
        .await
        .iter()
        .any(|c| c.starts_with("Modify")));

    // Enforced by the operator: private, read back from the member.
    let ctx = quell_tests::recording_context(&m.emu, RdsInstancePrivate::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(probe.read(&m.cfg).await, private);
    assert_eq!(
        probe.read(&other_cfg).await,
        public,
        "another account's instance of the same name is untouched"
    );
    assert_eq!(
        seed::workflow(&m.central, &hub_id(&event)).await.unwrap().0,
        "RESOLVED"
    );
    m.emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert_eq!(m.calls(MEMBER, "rds").await, ["DescribeDBInstances"]);

    // An Aurora member of a cluster, public: changed on its own (Aurora keeps the setting per
    // instance), read back, the cluster read to tell Aurora from a Multi-AZ DB cluster.
    seed::db_cluster(&m.cfg, "quell-demo-orders").await;
    seed::db_instance(
        &m.cfg,
        "quell-demo-orders-1",
        Some("quell-demo-orders"),
        &[],
    )
    .await;
    seed::db_instance_public(&m.cfg, "quell-demo-orders-1").await;
    let member_event = distinct(
        &events::load(
            "securityhub-imported-fsbp-rds-2.json",
            &[("db:quell-demo-orders", "db:quell-demo-orders-1")],
        ),
        "aurora",
    );
    seed_hub_finding(&m.cfg, &member_event).await;
    m.emu.clear_calls().await;
    let out = deliver(&r, &ctx, member_event).await;
    assert_eq!(out.outcome.name(), "REMEDIATED", "{out:?}");
    assert_eq!(
        Probe::InstancePublic("quell-demo-orders-1")
            .read(&m.cfg)
            .await,
        private
    );
    assert!(m
        .calls(MEMBER, "rds")
        .await
        .contains(&"DescribeDBClusters".to_string()));

    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(probe.read(&m.cfg).await, public);
}

/// SSM.4: a public Systems Manager document (Security Hub CSPM, then the new Security Hub) stops
/// being shared with everyone, read back; a dry run writes nothing; a replay only reads; the other
/// account's public document of the same name is untouched; undo shares it with everyone again.
#[tokio::test]
async fn a_public_ssm_document_stops_being_shared_and_undo_is_exact() {
    use ssm_document_private::SsmDocumentPrivate;
    const NAME: &str = "quell-demo-runbook";
    let m = member_account().await;
    seed::ssm_document(&m.cfg, NAME, &["all"]).await;
    let other_cfg = m.emu.account_config(OTHER).await;
    seed::ssm_document(&other_cfg, NAME, &["all"]).await;
    let probe = Probe::DocumentShare(NAME);
    assert_eq!(probe.read(&m.cfg).await, "shared=[all]");
    let r = SsmDocumentPrivate;
    let event = events::load("securityhub-imported-fsbp-ssm-4.json", &[]);
    seed_hub_finding(&m.cfg, &event).await;

    m.emu.clear_calls().await;
    let dry = Config {
        mode: Some(Mode::DryRun),
        ..Config::default()
    };
    let planned = deliver(
        &r,
        &context(&m.emu, dry, SsmDocumentPrivate::SPEC.id),
        again(&event, "dry"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(probe.read(&m.cfg).await, "shared=[all]");
    assert!(!m
        .calls(MEMBER, "ssm")
        .await
        .contains(&"ModifyDocumentPermission".to_string()));

    let ctx = quell_tests::recording_context(&m.emu, SsmDocumentPrivate::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    assert_eq!(probe.read(&m.cfg).await, "shared=[]");
    assert_eq!(
        probe.read(&other_cfg).await,
        "shared=[all]",
        "another account's document of the same name is untouched"
    );
    resolved_then_replay_only_reads(
        &m,
        &r,
        &ctx,
        &event,
        "ssm",
        &["DescribeDocumentPermission", "ListTagsForResource"],
    )
    .await;

    // The new Security Hub's finding of the same document: compliant, Resolved (4), no write.
    let v2 = events::load("securityhub-v2-imported-fsbp-ssm-4.json", &[]);
    m.emu.seed_hub_v2(v2["detail"]["findings"].clone()).await;
    let out = deliver(&r, &ctx, v2.clone()).await;
    assert_eq!(out.outcome.name(), "ALREADY_COMPLIANT", "{out:?}");
    let uid = v2["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap();
    let doc = seed::hub_v2_finding(&m.central, uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(4), "{doc}");

    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(probe.read(&m.cfg).await, "shared=[all]");
}
