//! quell's end-to-end harness. Tests and the demo use the same pieces:
//! - [`emulator`]: moto's server on 127.0.0.1 with quell's small extension (tests/README.md says
//!   what it adds and why);
//! - [`runtime_api`]: a Lambda Runtime API server, to run a function's real binary;
//! - [`seed`]: real problems in member accounts, and reading back their state;
//! - [`events`]: the sample events in events/, retargeted at a test's own resources.

// A test harness: a failed seed or read is a failed test, so it panics with what failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod emulator;
pub mod events;
pub mod probe;
pub mod runtime_api;
pub mod seed;

pub use emulator::{Emulator, CENTRAL, MEMBER, REGION};

/// The suites of an integration-test binary: one module per file of the package's `tests/`
/// directory, built as one binary instead of one each (issue 18: each was a 350–410 MB debug link
/// of every SDK crate), and a test that fails when a file there is not declared, so that a new
/// suite cannot be left out of the build unnoticed.
#[macro_export]
macro_rules! suites {
    ($root:literal: $($suite:ident),+ $(,)?) => {
        $(mod $suite;)+

        #[test]
        fn every_file_of_the_tests_directory_is_a_declared_suite() {
            $crate::check_suites(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
                $root,
                &[$(stringify!($suite)),+],
            );
        }
    };
}

/// What [`suites!`] checks: the `.rs` files of `dir`, but the binary's root file, are exactly the
/// declared suites.
pub fn check_suites(dir: &std::path::Path, root: &str, declared: &[&str]) {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
        .filter(|n| n != root)
        .collect();
    files.sort();
    let mut declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
    declared.sort();
    assert_eq!(
        files,
        declared,
        "the files of {} (left) against the suites {root}.rs declares (right)",
        dir.display()
    );
}

/// A function context against the emulator, with the given configuration.
pub fn context(emu: &Emulator, config: quell::Config, function: &str) -> quell::runtime::Context {
    quell::runtime::Context::new(&emu.central_config(), config, function)
}

/// The context `quell undo` runs in: the member's `quell-undo` role, as an operator assumes it.
pub fn undo_context(emu: &Emulator, mut config: quell::Config) -> quell::runtime::Context {
    config.member_role = Some(quell::member::UNDO_ROLE.to_string());
    quell::runtime::Context::new(&emu.central_config(), config, quell::member::UNDO_ROLE)
}

/// A session in `account` through the `quell-undo` role.
pub async fn undo_session(emu: &Emulator, account: &str) -> std::sync::Arc<quell::Member> {
    undo_context(emu, quell::Config::default())
        .members
        .session("aws", account, REGION)
        .await
        .expect("assume quell-undo")
}

/// Every function's Spec (the registry's list, which `the_harness_knows_every_function` holds
/// equal to `quell::member::FUNCTION_IDS`).
pub fn specs() -> Vec<quell::Spec> {
    use quell::Remediation;
    vec![
        cloudtrail_alarm_response::CloudtrailAlarmResponse::SPEC,
        cloudtrail_restore_logging::CloudtrailRestoreLogging::SPEC,
        ebs_encryption_by_default::EbsEncryptionByDefault::SPEC,
        ec2_close_default_sg::Ec2CloseDefaultSg::SPEC,
        ec2_isolate_instance::Ec2IsolateInstance::SPEC,
        ec2_require_imdsv2::Ec2RequireImdsv2::SPEC,
        ec2_revoke_open_ingress::Ec2RevokeOpenIngress::SPEC,
        guardduty_escalate::GuarddutyEscalate::SPEC,
        iam_disable_access_key::IamDisableAccessKey::SPEC,
        iam_password_policy::IamPasswordPolicy::SPEC,
        iam_restrict_role_trust::IamRestrictRoleTrust::SPEC,
        iam_revoke_role_sessions::IamRevokeRoleSessions::SPEC,
        s3_account_public_access_block::S3AccountPublicAccessBlock::SPEC,
        s3_block_public_access::S3BlockPublicAccess::SPEC,
        s3_enable_default_encryption::S3EnableDefaultEncryption::SPEC,
        s3_require_tls::S3RequireTls::SPEC,
        s3_restrict_bucket_policy::S3RestrictBucketPolicy::SPEC,
        tamper_restore::TamperRestore::SPEC,
        lambda_contain_function::LambdaContainFunction::SPEC,
        dynamodb_deletion_protection::DynamodbDeletionProtection::SPEC,
        ebs_snapshot_private::EbsSnapshotPrivate::SPEC,
        kms_enable_key_rotation::KmsEnableKeyRotation::SPEC,
        sqs_encrypt_queue::SqsEncryptQueue::SPEC,
        ec2_subnet_no_public_ip::Ec2SubnetNoPublicIp::SPEC,
        lambda_remove_public_access::LambdaRemovePublicAccess::SPEC,
        sns_encrypt_topic::SnsEncryptTopic::SPEC,
        rds_deletion_protection::RdsDeletionProtection::SPEC,
        rds_snapshot_private::RdsSnapshotPrivate::SPEC,
        rds_instance_private::RdsInstancePrivate::SPEC,
        ssm_document_private::SsmDocumentPrivate::SPEC,
    ]
}

/// `quell undo FINDING --function F`, as the CLI does it: the change recorded for the finding is
/// read back from the state table (never from the test's own reading), and put back through the
/// member's `quell-undo` role with [`quell::runtime::undo_finding`]. `ctx` must have a state table
/// (`seed::state_table`). Returns the steps taken.
pub async fn undo_recorded(
    emu: &Emulator,
    ctx: &quell::runtime::Context,
    handler: &dyn quell::runtime::Handler,
    finding_id: &str,
) -> Vec<quell::outcome::Step> {
    let function = handler.spec().id;
    let state = ctx.state.as_ref().expect("the context has a state table");
    let keys: Vec<_> = state
        .priors_of_finding(finding_id)
        .await
        .expect("list the changes recorded for the finding")
        .into_iter()
        .filter(|k| k.function == function)
        .collect();
    let [key] = keys.as_slice() else {
        panic!("{function}: expected one change recorded for {finding_id}, found {keys:?}")
    };
    let prior = state
        .prior_state(key)
        .await
        .expect("read the recorded prior state")
        .unwrap_or_else(|| panic!("{function}: no prior state recorded under {key}"));
    let undo = undo_context(emu, ctx.config.clone());
    quell::runtime::undo_finding(handler, &undo, &prior, key)
        .await
        .unwrap_or_else(|e| panic!("{function}: undo failed: {e}"))
}

/// An enforcing context for `function` with a state table, so that its changes are recorded for
/// undo (`seed::state_table` creates the table once per emulator).
pub async fn recording_context(emu: &Emulator, function: &str) -> quell::runtime::Context {
    let central = emu.central_config();
    let table = match aws_sdk_dynamodb::Client::new(&central)
        .describe_table()
        .table_name("quell-state")
        .send()
        .await
    {
        Ok(_) => "quell-state".to_string(),
        Err(_) => seed::state_table(&central).await,
    };
    context(
        emu,
        quell::Config {
            mode: Some(quell::Mode::Enforce),
            state_table: Some(table),
            ..quell::Config::default()
        },
        function,
    )
}

/// The first finding a sample event carries, as quell's intake parses it.
pub fn parsed(event: &serde_json::Value) -> quell::Finding {
    quell::event::Envelope::parse(event.clone())
        .expect("the event parses")
        .findings
        .remove(0)
        .expect("the finding is accepted")
}

/// The Security Hub finding an event's outcome is recorded on: the hub's own, or the one quell
/// imports for the other sources.
pub fn hub_id(event: &serde_json::Value) -> String {
    let f = parsed(event);
    f.hub.clone().map(|h| h.id).unwrap_or_else(|| f.own_id())
}

/// The ASFF finding a Security Hub event carries, as Security Hub's own integration imported it
/// in `member` (a no-op for the other sources).
pub async fn seed_hub_finding(member: &aws_config::SdkConfig, event: &serde_json::Value) {
    let f = parsed(event);
    if let Some(h) = &f.hub {
        let r = f.resources.first().expect("a resource");
        let id = r.arn.clone().unwrap_or_else(|| r.id.clone());
        seed::hub_finding(
            member,
            &f.account,
            &h.id,
            &h.product_arn,
            (r.kind.asff_type(), id.as_str()),
        )
        .await;
    }
}

/// One delivery of `event` to `r`: its only report.
pub async fn deliver<R: quell::Remediation>(
    r: &R,
    ctx: &quell::runtime::Context,
    event: serde_json::Value,
) -> quell::outcome::Report {
    quell::runtime::handle(r, ctx, event)
        .await
        .expect("handled")
        .reports
        .remove(0)
}

/// The same finding delivered again (a new event id: the same one is a DUPLICATE).
pub fn again(event: &serde_json::Value, suffix: &str) -> serde_json::Value {
    let mut e = event.clone();
    e["id"] =
        serde_json::Value::String(format!("{}-{suffix}", e["id"].as_str().unwrap_or("event")));
    e
}

/// An enforced emulator with a member account that has quell's member roles, and the central
/// account's configuration: where the posture suites seed, fix and read back.
pub struct MemberAccount {
    pub emu: Emulator,
    pub central: aws_config::SdkConfig,
    pub cfg: aws_config::SdkConfig,
}

/// A fresh [`MemberAccount`] (MEMBER, its roles trusting CENTRAL).
pub async fn member_account() -> MemberAccount {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let cfg = emu.account_config(MEMBER).await;
    seed::member_role(&cfg, CENTRAL).await;
    MemberAccount { emu, central, cfg }
}

impl MemberAccount {
    /// The calls `service` served in `account` since the log was cleared, by action (REST calls
    /// by method and path).
    pub async fn calls(&self, account: &str, service: &str) -> Vec<String> {
        self.emu
            .calls()
            .await
            .into_iter()
            .filter(|c| c.account == account && c.service == service)
            .map(|c| c.action)
            .collect()
    }
}

/// Another finding of the same control (its own event and finding ids), for another resource.
pub fn distinct(event: &serde_json::Value, suffix: &str) -> serde_json::Value {
    let mut e = again(event, suffix);
    let f = &mut e["detail"]["findings"][0];
    if f["Id"].is_string() {
        f["Id"] = serde_json::Value::String(format!("{}-{suffix}", f["Id"].as_str().unwrap()));
    } else {
        let uid = format!("{suffix:0>56}");
        f["metadata"]["uid"] = serde_json::Value::String(uid.clone());
        f["finding_info"]["uid"] = serde_json::Value::String(format!(
            "{}-{suffix}",
            f["finding_info"]["uid"].as_str().unwrap()
        ));
        e["resources"] = serde_json::json!([uid]);
    }
    e
}
