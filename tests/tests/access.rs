//! IAM Access Analyzer findings end to end: a bucket shared through its policy and its ACL, a
//! bucket whose whole policy is the outside grant (deleted, then undone from the record), grants
//! to everyone read with their conditions (an org-scoped one kept beside a world one that goes, an
//! `Allow` with `NotPrincipal` removed, a VPC endpoint's kept), a role trusting an outside account
//! (dry-run by default, then enforced and undone), trusted access archived in the analyzer's own
//! account (the organization's and the member's), and error findings recorded without a member
//! call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use iam_restrict_role_trust::IamRestrictRoleTrust;
use quell::runtime::Context;
use quell::{Config, Mode, Remediation};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER, REGION};
use s3_restrict_bucket_policy::{S3RestrictBucketPolicy, ALL_USERS};
use serde_json::Value;

const VENDOR: &str = "999988887777";
const BUCKET: &str = "quell-demo-public-assets";

async fn setup() -> (Emulator, aws_config::SdkConfig) {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    (emu, member)
}

fn ctx(emu: &Emulator, mode: Option<Mode>, function: &str) -> Context {
    context(
        emu,
        Config {
            mode,
            ..Config::default()
        },
        function,
    )
}

async fn run<R: Remediation>(r: &R, ctx: &Context, event: Value) -> quell::outcome::Report {
    quell::runtime::handle(r, ctx, event)
        .await
        .expect("handled")
        .reports
        .remove(0)
}

const CDN: &str = r#"{"Sid": "Cdn", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-public-assets/*"}"#;

#[tokio::test]
async fn a_bucket_shared_with_everyone_loses_exactly_the_public_grants() {
    let (emu, member) = setup().await;
    // Public through the ACL (public-read) and through one policy statement; a partner's
    // statement must survive byte-for-byte.
    seed::public_bucket(&member, BUCKET, &[]).await;
    let policy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{CDN}, {{"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-public-assets/*"}}]}}"#
    );
    let s3 = quell::member::s3_client(&member);
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let ctx = ctx(&emu, Some(Mode::Enforce), "s3-restrict-bucket-policy");
    let event = events::load("accessanalyzer-s3-bucket-acl-public.json", &[]);
    let rep = run(&S3RestrictBucketPolicy::default(), &ctx, event.clone()).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    assert!(rep.note.contains("AllUsers READ"), "{}", rep.note);

    let now = s3
        .get_bucket_policy()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(
        now.contains(CDN),
        "the partner's statement is the same bytes: {now}"
    );
    assert!(!now.contains("Everyone"), "{now}");
    let acl = s3.get_bucket_acl().bucket(BUCKET).send().await.unwrap();
    assert!(
        !acl.grants()
            .iter()
            .any(|g| g.grantee().and_then(|w| w.uri()) == Some(ALL_USERS)),
        "{acl:?}"
    );
    assert!(
        acl.grants()
            .iter()
            .any(|g| g.grantee().and_then(|w| w.id()) == acl.owner().and_then(|o| o.id())),
        "the owner keeps its grant: {acl:?}"
    );
    // Replayed: nothing left to remove, and no write.
    emu.clear_calls().await;
    let again = run(&S3RestrictBucketPolicy::default(), &ctx, event).await;
    assert_eq!(again.outcome.name(), "ALREADY_COMPLIANT", "{again:?}");
    assert!(!emu
        .calls()
        .await
        .iter()
        .any(|c| c.service == "s3" && c.method == "PUT"));
}

const VENDOR_DROP: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "VendorReads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::quell-demo-vendor-drop", "arn:aws:s3:::quell-demo-vendor-drop/*"]}]}"#;

/// A bucket of the member's whose policy is `policy`.
async fn bucket_with_policy(member: &aws_config::SdkConfig, bucket: &str, policy: &str) {
    let s3 = quell::member::s3_client(member);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .unwrap();
}

/// The bucket's policy, parsed (`None`: the bucket has none).
async fn bucket_policy(member: &aws_config::SdkConfig, bucket: &str) -> Option<Value> {
    let s3 = quell::member::s3_client(member);
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Some(serde_json::from_str(&out.policy.expect("a policy text")).unwrap()),
        Err(e) => {
            assert_eq!(
                aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                Some("NoSuchBucketPolicy"),
                "{e:?}"
            );
            None
        }
    }
}

/// The sample finding of a bucket shared with another account (999988887777), retargeted at the
/// member's `bucket`; its analyzer is an account analyzer in the member account.
fn cross_account_bucket_event(bucket: &str) -> Value {
    let resource = format!("arn:aws:s3:::{bucket}");
    events::load(
        "accessanalyzer-s3-bucket-cross-account.json",
        &[
            ("111122223333", MEMBER),
            ("us-west-2", REGION),
            ("arn:aws:s3:::my-bucket", resource.as_str()),
            ("analyzer/MyAnalyzer", "analyzer/AccountAnalyzer"),
        ],
    )
}

fn parsed(event: &Value) -> quell::Finding {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

#[tokio::test]
async fn a_policy_that_only_shares_with_an_outside_account_is_deleted_then_undone() {
    let (emu, member) = setup().await;
    let bucket = "quell-demo-vendor-drop";
    bucket_with_policy(&member, bucket, VENDOR_DROP).await;
    let event = cross_account_bucket_event(bucket);
    let f = parsed(&event);
    assert_eq!(f.principals, [VENDOR]);
    let r = S3RestrictBucketPolicy::default();
    let ctx = quell_tests::recording_context(&emu, "s3-restrict-bucket-policy").await;

    // Every statement of the policy is the outside grant: no policy is left, it is deleted.
    let rep = run(&r, &ctx, event).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let quell::Outcome::Remediated { steps } = &rep.outcome else {
        panic!("{rep:?}")
    };
    assert!(
        steps.iter().any(|s| s.action == "s3:DeleteBucketPolicy"),
        "{steps:?}"
    );
    assert_eq!(
        bucket_policy(&member, bucket).await,
        None,
        "GetBucketPolicy says NoSuchBucketPolicy"
    );

    // `quell undo`: the recorded policy put back through the member's quell-undo role.
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert!(
        steps.iter().any(|s| s.action == "s3:PutBucketPolicy"),
        "{steps:?}"
    );
    assert_eq!(
        bucket_policy(&member, bucket).await,
        Some(serde_json::from_str::<Value>(VENDOR_DROP).unwrap()),
        "the seeded policy is back"
    );
}

const TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"}, {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}"#;

#[tokio::test]
async fn a_role_trusting_an_outside_account_is_planned_by_default_then_enforced_and_undone() {
    let (emu, member) = setup().await;
    seed::role_with_trust(&member, "vendor-access", TRUST).await;
    let event = events::load("accessanalyzer-iam-role-cross-account.json", &[]);

    // No mode configured: the remediation's own default, dry-run.
    let dry = ctx(&emu, None, "iam-restrict-role-trust");
    let rep = run(&IamRestrictRoleTrust::default(), &dry, event.clone()).await;
    assert_eq!(rep.outcome.name(), "PLANNED", "{rep:?}");
    assert!(rep.note.contains("QUELL_MODE=enforce"), "{}", rep.note);
    assert_eq!(seed::trust_policy(&member, "vendor-access").await, TRUST);

    // Enforced, with a state table so the prior trust policy is recorded for undo.
    let central = emu.central_config();
    let table = seed::state_table(&central).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            state_table: Some(table),
            ..Config::default()
        },
        "iam-restrict-role-trust",
    );
    let rep = run(&IamRestrictRoleTrust::default(), &ctx, event.clone()).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let now = seed::trust_policy(&member, "vendor-access").await;
    assert!(!now.contains(VENDOR), "{now}");
    assert!(
        now.contains(r#"{"Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"}"#),
        "the CI statement is the same bytes: {now}"
    );
    serde_json::from_str::<Value>(&now).expect("valid JSON");

    let f = quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    // `quell undo`: the trust policy recorded in DynamoDB, put back through quell-undo, exactly.
    let r = IamRestrictRoleTrust::default();
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(seed::trust_policy(&member, "vendor-access").await, TRUST);
}

#[tokio::test]
async fn trusted_access_is_archived_in_the_analyzers_own_account() {
    let (emu, member) = setup().await;
    seed::role_with_trust(&member, "vendor-access", TRUST).await;
    let org = format!("arn:aws:access-analyzer:{REGION}:{CENTRAL}:analyzer/OrganizationAnalyzer");
    let acct = format!("arn:aws:access-analyzer:{REGION}:{MEMBER}:analyzer/AccountAnalyzer");
    let id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02";
    let finding = serde_json::json!([{"id": id, "resource": "arn:aws:iam::111111111111:role/vendor-access",
        "resourceType": "AWS::IAM::Role", "principal": {"AWS": VENDOR}}]);
    emu.seed_analyzer_findings(&org, finding.clone()).await;
    emu.seed_analyzer_findings(&acct, finding).await;
    let mut r = IamRestrictRoleTrust::default();
    r.configure(&|k| (k == "QUELL_TRUSTED_ACCOUNTS").then(|| format!("{VENDOR}, 222222222222")))
        .unwrap();
    let ctx = ctx(&emu, Some(Mode::Enforce), "iam-restrict-role-trust");
    let status = |cfg: aws_config::SdkConfig, analyzer: String| async move {
        aws_sdk_accessanalyzer::Client::new(&cfg)
            .get_finding()
            .analyzer_arn(analyzer)
            .id(id)
            .send()
            .await
            .unwrap()
            .finding
            .unwrap()
            .status
            .as_str()
            .to_string()
    };

    // The organization analyzer lives in the security account: the function's own credentials.
    let event = events::load(
        "accessanalyzer-iam-role-cross-account.json",
        &[(
            "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/OrganizationAnalyzer",
            &org,
        )],
    );
    let rep = run(&r, &ctx, event).await;
    assert_eq!(rep.outcome.name(), "EXEMPT", "{rep:?}");
    assert!(rep.note.contains("archived"), "{}", rep.note);
    assert_eq!(status(emu.central_config(), org.clone()).await, "ARCHIVED");
    assert_eq!(
        seed::trust_policy(&member, "vendor-access").await,
        TRUST,
        "trusted access is not touched"
    );

    // An account analyzer lives in the member account: the member session archives.
    let event = events::load(
        "accessanalyzer-iam-role-cross-account.json",
        &[(
            "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/OrganizationAnalyzer",
            &acct,
        )],
    );
    let rep = run(&r, &ctx, event).await;
    assert_eq!(rep.outcome.name(), "EXEMPT", "{rep:?}");
    assert_eq!(status(member.clone(), acct).await, "ARCHIVED");
    let archives: Vec<String> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "access-analyzer" && c.method == "PUT")
        .map(|c| c.account)
        .collect();
    assert_eq!(archives, [CENTRAL, MEMBER]);

    // An analyzer in another region answers only at that region's endpoint (the emulator refuses
    // a call signed for another): the archive goes to the finding's region.
    let west = "arn:aws:access-analyzer:us-west-2:123456789012:analyzer/OrganizationAnalyzer";
    let west_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03";
    emu.seed_analyzer_findings(
        west,
        serde_json::json!([{"id": west_id, "resource": "arn:aws:iam::111111111111:role/vendor-access",
            "resourceType": "AWS::IAM::Role", "principal": {"AWS": VENDOR}}]),
    )
    .await;
    let event = events::load(
        "accessanalyzer-iam-role-cross-account.json",
        &[
            (
                "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/OrganizationAnalyzer",
                west,
            ),
            ("us-east-1", "us-west-2"),
            (id, west_id),
        ],
    );
    let rep = run(&r, &ctx, event).await;
    assert_eq!(rep.outcome.name(), "EXEMPT", "{rep:?}");
    let in_west = emu
        .central_config()
        .to_builder()
        .region(aws_config::Region::new("us-west-2"))
        .build();
    let read = aws_sdk_accessanalyzer::Client::new(&in_west)
        .get_finding()
        .analyzer_arn(west)
        .id(west_id)
        .send()
        .await
        .unwrap();
    assert_eq!(read.finding.unwrap().status.as_str(), "ARCHIVED");
    let wrong_region = aws_sdk_accessanalyzer::Client::new(&emu.central_config())
        .get_finding()
        .analyzer_arn(west)
        .id(west_id)
        .send()
        .await;
    assert!(
        wrong_region.is_err(),
        "the emulator found a us-west-2 analyzer through us-east-1"
    );
}

#[tokio::test]
async fn a_trusted_bucket_grant_found_by_the_members_own_analyzer_is_archived_there() {
    let (emu, member) = setup().await;
    let bucket = "quell-demo-vendor-drop";
    bucket_with_policy(&member, bucket, VENDOR_DROP).await;
    let event = cross_account_bucket_event(bucket);
    let f = parsed(&event);
    let analyzer = f.analyzer.clone().expect("the event names its analyzer");
    assert_eq!(
        analyzer,
        format!("arn:aws:access-analyzer:{REGION}:{MEMBER}:analyzer/AccountAnalyzer")
    );
    emu.seed_analyzer_findings(
        &analyzer,
        serde_json::json!([{"id": f.id, "resource": format!("arn:aws:s3:::{bucket}"),
            "resourceType": "AWS::S3::Bucket", "principal": {"AWS": VENDOR}}]),
    )
    .await;
    let mut r = S3RestrictBucketPolicy::default();
    r.configure(&|k| (k == "QUELL_TRUSTED_ACCOUNTS").then(|| VENDOR.to_string()))
        .unwrap();
    let ctx = ctx(&emu, Some(Mode::Enforce), "s3-restrict-bucket-policy");
    emu.clear_calls().await;

    let rep = run(&r, &ctx, event).await;
    assert_eq!(rep.outcome.name(), "EXEMPT", "{rep:?}");
    assert!(rep.note.contains("archived"), "{}", rep.note);
    let status = aws_sdk_accessanalyzer::Client::new(&member)
        .get_finding()
        .analyzer_arn(&analyzer)
        .id(&f.id)
        .send()
        .await
        .unwrap()
        .finding
        .unwrap()
        .status;
    assert_eq!(status.as_str(), "ARCHIVED");
    // Archived by the member session (the analyzer is the member's), and only there.
    let archives: Vec<String> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "access-analyzer" && c.method == "PUT")
        .map(|c| c.account)
        .collect();
    assert_eq!(archives, [MEMBER]);
    assert_eq!(
        bucket_policy(&member, bucket).await,
        Some(serde_json::from_str::<Value>(VENDOR_DROP).unwrap()),
        "trusted access is not touched"
    );
}

#[tokio::test]
async fn an_error_finding_is_recorded_without_a_member_call() {
    let (emu, _member) = setup().await;
    let ctx = ctx(&emu, Some(Mode::Enforce), "s3-restrict-bucket-policy");
    emu.clear_calls().await;
    let rep = run(
        &S3RestrictBucketPolicy::default(),
        &ctx,
        events::load("accessanalyzer-s3-bucket-error.json", &[]),
    )
    .await;
    assert!(rep.note.contains("ACCESS_DENIED"), "{rep:?}");
    let calls = emu.calls().await;
    assert!(
        !calls
            .iter()
            .any(|c| c.service == "s3" || c.service == "sts" || c.service == "access-analyzer"),
        "{calls:?}"
    );
}

/// The sample public-bucket finding (principal `*`, `isPublic: true`), retargeted at `bucket`.
fn public_bucket_event(bucket: &str) -> Value {
    events::load(
        "accessanalyzer-s3-bucket-public.json",
        &[("quell-demo-public-assets", bucket)],
    )
}

/// The bucket's policy text exactly as S3 returns it.
async fn policy_text(member: &aws_config::SdkConfig, bucket: &str) -> String {
    quell::member::s3_client(member)
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy
        .expect("a policy text")
}

/// The same finding delivered again: a new event, so that it is not a duplicate of the first.
fn redelivered(event: &Value, id: &str) -> Value {
    let mut again = event.clone();
    again["id"] = serde_json::json!(id);
    again
}

const ORG_READS: &str = r#"{"Sid": "OrgReads", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-org-share/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#;
const WORLD_READS: &str = r#"{"Sid": "WorldReads", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-org-share/*"}"#;

#[tokio::test]
async fn an_org_scoped_grant_to_everyone_is_kept_byte_for_byte_and_the_world_one_goes() {
    let (emu, member) = setup().await;
    let bucket = "quell-demo-org-share";
    let seeded =
        format!(r#"{{"Version": "2012-10-17", "Statement": [{ORG_READS}, {WORLD_READS}]}}"#);
    bucket_with_policy(&member, bucket, &seeded).await;
    let event = public_bucket_event(bucket);
    let f = parsed(&event);
    assert_eq!(f.principals, ["*"]);
    let r = S3RestrictBucketPolicy::default();
    let ctx = quell_tests::recording_context(&emu, "s3-restrict-bucket-policy").await;

    // The world statement goes; the org statement is kept. The finding reports access under no
    // condition (`condition: {}`), so the limited statement kept is not what it is about: once
    // no unconditioned grant is left, the finding is gone.
    assert_eq!(f.condition, Some(Vec::new()));
    let rep = run(&r, &ctx, event.clone()).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let quell::Outcome::Remediated { steps } = &rep.outcome else {
        panic!("{rep:?}")
    };
    assert!(
        steps.iter().any(|s| s.action == "s3:PutBucketPolicy"
            && s.detail.contains(r#"statement "WorldReads" removed"#)),
        "{steps:?}"
    );
    // Read back from S3, not from the report: the org statement is the same bytes, alone.
    let now = policy_text(&member, bucket).await;
    assert!(
        now.contains(ORG_READS),
        "the org statement is the same bytes: {now}"
    );
    assert!(!now.contains("WorldReads"), "{now}");
    let doc: Value = serde_json::from_str(&now).expect("valid JSON");
    assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(1), "{now}");
    let central = emu.central_config();
    assert_eq!(
        seed::workflow(&central, &f.own_id())
            .await
            .expect("quell's own finding")
            .0,
        "RESOLVED"
    );

    // `quell undo`: both statements back, exactly as seeded.
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert!(
        steps.iter().any(|s| s.action == "s3:PutBucketPolicy"),
        "{steps:?}"
    );
    assert_eq!(
        bucket_policy(&member, bucket).await,
        Some(serde_json::from_str::<Value>(&seeded).unwrap()),
        "the seeded policy is back"
    );
}

const TLS_ONLY: &str = r#"{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::quell-demo-all-but-audit/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#;
const ALL_BUT_AUDIT: &str = r#"{"Sid": "AllButAudit", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-all-but-audit/*"}"#;

#[tokio::test]
async fn an_allow_with_not_principal_is_public_and_is_resolved_only_once_it_is_gone() {
    let (emu, member) = setup().await;
    let bucket = "quell-demo-all-but-audit";
    let seeded =
        format!(r#"{{"Version": "2012-10-17", "Statement": [{TLS_ONLY}, {ALL_BUT_AUDIT}]}}"#);
    bucket_with_policy(&member, bucket, &seeded).await;
    let event = public_bucket_event(bucket);
    let f = parsed(&event);
    let central = emu.central_config();
    let r = S3RestrictBucketPolicy::default();

    // Planned only: the statement is seen (it is not "already compliant"), nothing changes, and
    // the finding is NOTIFIED, not RESOLVED, while the statement is there.
    let dry = ctx(&emu, Some(Mode::DryRun), "s3-restrict-bucket-policy");
    let rep = run(&r, &dry, event.clone()).await;
    assert_eq!(rep.outcome.name(), "PLANNED", "{rep:?}");
    assert!(rep.note.contains("NotPrincipal"), "{}", rep.note);
    assert_eq!(policy_text(&member, bucket).await, seeded);
    assert_eq!(
        seed::workflow(&central, &f.own_id())
            .await
            .expect("quell's own finding")
            .0,
        "NOTIFIED"
    );

    // Enforced: the statement goes as a whole, and the step says so.
    let ctx = quell_tests::recording_context(&emu, "s3-restrict-bucket-policy").await;
    let rep = run(&r, &ctx, redelivered(&event, "enforced")).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let quell::Outcome::Remediated { steps } = &rep.outcome else {
        panic!("{rep:?}")
    };
    assert!(
        steps.iter().any(|s| s.action == "s3:PutBucketPolicy"
            && s.detail.contains(r#"statement "AllButAudit" removed"#)
            && s.detail.contains("NotPrincipal")),
        "{steps:?}"
    );
    let now = policy_text(&member, bucket).await;
    assert!(!now.contains("NotPrincipal"), "{now}");
    assert!(now.contains(TLS_ONLY), "the Deny is the same bytes: {now}");
    assert_eq!(
        seed::workflow(&central, &f.own_id()).await.unwrap().0,
        "RESOLVED"
    );

    // Delivered again: nothing left to remove, and no write.
    emu.clear_calls().await;
    let again = run(&r, &ctx, redelivered(&event, "replayed")).await;
    assert_eq!(again.outcome.name(), "ALREADY_COMPLIANT", "{again:?}");
    assert!(!emu
        .calls()
        .await
        .iter()
        .any(|c| c.service == "s3" && c.method == "PUT"));
    assert_eq!(policy_text(&member, bucket).await, now);
}

const VPCE_READS: &str = r#"{"Sid": "VpceReads", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-vpce-share/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#;
const MAYBE_VPCE_READS: &str = r#"{"Sid": "MaybeVpceReads", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::quell-demo-vpce-share", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#;

#[tokio::test]
async fn a_statement_limited_to_a_vpc_endpoint_is_kept_and_unconfirmed_only_when_the_finding_is_about_it(
) {
    let (emu, member) = setup().await;
    let bucket = "quell-demo-vpce-share";
    let seeded =
        format!(r#"{{"Version": "2012-10-17", "Statement": [{VPCE_READS}, {MAYBE_VPCE_READS}]}}"#);
    bucket_with_policy(&member, bucket, &seeded).await;
    let event = public_bucket_event(bucket);
    let f = parsed(&event);
    let central = emu.central_config();
    let r = S3RestrictBucketPolicy::default();
    let ctx = ctx(&emu, Some(Mode::Enforce), "s3-restrict-bucket-policy");

    // `…IfExists` lets a request from outside any VPC endpoint through: public, removed. The
    // exact VPC endpoint condition limits its statement: kept, the same bytes. The finding is
    // about access under no condition, which is gone: RESOLVED.
    let rep = run(&r, &ctx, event.clone()).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let now = policy_text(&member, bucket).await;
    assert!(
        now.contains(VPCE_READS),
        "the VPC endpoint's statement is the same bytes: {now}"
    );
    assert!(!now.contains("MaybeVpceReads"), "{now}");
    assert_eq!(
        seed::workflow(&central, &f.own_id()).await.unwrap().0,
        "RESOLVED"
    );

    // Access Analyzer reports the access through that VPC endpoint (its `condition`): the kept
    // statement is what this finding is about. quell keeps it (not public) and says so:
    // UNCONFIRMED (NOTIFIED), naming it, never RESOLVED, and nothing is written.
    let mut through = redelivered(&event, "through-the-endpoint");
    through["detail"]["id"] = serde_json::json!("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02");
    through["detail"]["isPublic"] = serde_json::json!(false);
    through["detail"]["condition"] = serde_json::json!({"aws:SourceVpce": "vpce-1a2b3c4d"});
    let g = parsed(&through);
    emu.clear_calls().await;
    let rep = run(&r, &ctx, through.clone()).await;
    assert_eq!(rep.outcome.name(), "UNCONFIRMED", "{rep:?}");
    assert!(
        rep.note.contains("aws:SourceVpce=vpce-1a2b3c4d"),
        "{}",
        rep.note
    );
    assert!(rep.note.contains("VpceReads"), "{}", rep.note);
    assert!(!emu
        .calls()
        .await
        .iter()
        .any(|c| c.service == "s3" && c.method == "PUT"));
    assert_eq!(policy_text(&member, bucket).await, now);
    assert_eq!(
        seed::workflow(&central, &g.own_id()).await.unwrap().0,
        "NOTIFIED"
    );

    // Access under another endpoint's condition: not this statement, and no other grant is
    // left, so it is gone.
    let mut other = through.clone();
    other["id"] = serde_json::json!("another-endpoint");
    other["detail"]["id"] = serde_json::json!("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03");
    other["detail"]["condition"] = serde_json::json!({"aws:SourceVpce": "vpce-0f0f0f0f"});
    let rep = run(&r, &ctx, other).await;
    assert_eq!(rep.outcome.name(), "ALREADY_COMPLIANT", "{rep:?}");

    // An event that names no condition: quell cannot tell, UNCONFIRMED.
    let mut unsaid = redelivered(&event, "no-condition");
    unsaid["detail"]
        .as_object_mut()
        .expect("detail")
        .remove("condition");
    let rep = run(&r, &ctx, unsaid).await;
    assert_eq!(rep.outcome.name(), "UNCONFIRMED", "{rep:?}");
    assert!(rep.note.contains("names no condition"), "{}", rep.note);
}
