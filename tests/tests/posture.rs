//! Posture drift end to end: each remediation fixes real state seeded in a member account, the
//! fix is read back, the finding's workflow is recorded, and a replay changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::outcome::Report;
use quell::{Config, Mode, Remediation};
use quell_tests::probe::Probe;
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
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

/// Replays `event` through `r` in enforce mode, with its changes recorded as a deployed function
/// records them: the first must be REMEDIATED and RESOLVED (read from the emulator) and change what
/// `probe` reads; a replay (another delivery of the same finding) ALREADY_COMPLIANT with no write
/// call; then `quell undo` puts back, from the prior state recorded in DynamoDB and through the
/// member's quell-undo role, exactly what the test seeded, as `probe` reads it.
async fn remediate_then_replay<R: Remediation>(
    m: &Member,
    r: &R,
    event: Value,
    probe: Probe,
) -> Fixed {
    let seeded = probe.read(&m.cfg).await;
    let ctx = quell_tests::recording_context(&m.emu, R::SPEC.id).await;
    let f = parsed(&event);
    if let Some(h) = &f.hub {
        let res = f
            .resources
            .first()
            .map(|r| {
                (
                    r.kind.asff_type().to_string(),
                    r.arn.clone().unwrap_or(r.id.clone()),
                )
            })
            .unwrap();
        seed::hub_finding(&m.cfg, MEMBER, &h.id, &h.product_arn, (&res.0, &res.1)).await;
    }
    let first = quell::runtime::handle(r, &ctx, event.clone())
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(
        first.outcome.name(),
        "REMEDIATED",
        "{}: {first:?}",
        R::SPEC.id
    );
    let (status, note) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "RESOLVED");
    assert!(note.unwrap_or_default().contains(R::SPEC.id));
    let fixed = probe.read(&m.cfg).await;
    assert_ne!(
        fixed,
        seeded,
        "{}: REMEDIATED, yet nothing changed",
        R::SPEC.id
    );

    // Another delivery of the same finding (a new event id: the same one is a DUPLICATE).
    let mut replay = event.clone();
    replay["id"] = Value::String(format!(
        "{}-again",
        replay["id"].as_str().unwrap_or("event")
    ));
    m.emu.clear_calls().await;
    let again = quell::runtime::handle(r, &ctx, replay)
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(
        again.outcome.name(),
        "ALREADY_COMPLIANT",
        "{}: {again:?}",
        R::SPEC.id
    );
    let reads = [
        "Describe",
        "Get",
        "List",
        "GET ",
        "AssumeRole",
        "POST /findings",
        "PATCH /findings",
    ];
    let calls = m.emu.calls().await;
    assert!(
        calls
            .iter()
            .any(|c| c.account == MEMBER && c.service != "sts"),
        "{}: the replay read nothing in the member account: {calls:?}",
        R::SPEC.id
    );
    let writes: Vec<_> = calls
        .into_iter()
        .filter(|c| {
            c.account == MEMBER
                && c.service != "securityhub"
                && !reads.iter().any(|r| c.action.starts_with(r))
        })
        .collect();
    assert!(
        writes.is_empty(),
        "{}: a replay wrote {writes:?}",
        R::SPEC.id
    );
    assert_eq!(probe.read(&m.cfg).await, fixed);
    Fixed {
        ctx,
        finding: f.id,
        seeded,
        probe,
        report: first,
    }
}

/// A fix made by [`remediate_then_replay`], which the test checks and then undoes.
#[must_use = "a fix is undone and compared with what was seeded: call undo_exactly"]
struct Fixed {
    ctx: quell::runtime::Context,
    finding: String,
    seeded: String,
    probe: Probe,
    #[allow(dead_code)]
    report: Report,
}

impl Fixed {
    /// `quell undo`: the prior recorded in DynamoDB, put back through the member's quell-undo
    /// role; the resource read back through the SDK must be what the test seeded.
    async fn undo_exactly<R: Remediation>(self, m: &Member, r: &R) {
        let steps = quell_tests::undo_recorded(&m.emu, &self.ctx, r, &self.finding).await;
        assert!(!steps.is_empty(), "{}: undo did nothing", R::SPEC.id);
        assert_eq!(
            self.probe.read(&m.cfg).await,
            self.seeded,
            "{}: undo ({steps:?}) did not put back what was seeded",
            R::SPEC.id
        );
    }
}

#[tokio::test]
async fn world_open_ssh_is_revoked_and_every_other_rule_kept() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let m = member().await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    let (_, web) = seed::instance(&m.cfg, "web-1").await;
    let rule = |port: i32, cidr: &str| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(rule(443, "0.0.0.0/0"))
        .ip_permissions(rule(22, "10.0.0.0/8"))
        .send()
        .await
        .unwrap();
    let event = events::load(
        "config-restricted-ssh.json",
        &[("sg-0a1b2c3d4e5f60718", &web)],
    );
    let r = ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default();
    let fixed = remediate_then_replay(&m, &r, event, Probe::Rules(web.clone())).await;

    let g = ec2
        .describe_security_groups()
        .group_ids(&web)
        .send()
        .await
        .unwrap();
    let mut left: Vec<String> = g.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| {
                format!(
                    "{}:{}",
                    p.from_port().unwrap_or(-1),
                    r.cidr_ip().unwrap_or("")
                )
            })
        })
        .collect();
    left.sort();
    assert_eq!(left, ["22:10.0.0.0/8", "443:0.0.0.0/0"]);
    fixed.undo_exactly(&m, &r).await;

    // The CloudTrail call that opened it again is a trigger too.
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(rule(3389, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let event = events::load(
        "cloudtrail-authorizesecuritygroupingress.json",
        &[("sg-0a1b2c3d4e5f60718", &web)],
    );
    let ctx = context(
        &m.emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-revoke-open-ingress",
    );
    let r = quell::runtime::handle(
        &ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default(),
        &ctx,
        event,
    )
    .await
    .unwrap();
    assert_eq!(
        r.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        r.reports[0]
    );
}

#[tokio::test]
async fn the_default_security_group_is_closed() {
    let m = member().await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sg = groups.security_groups()[0].clone();
    assert!(
        !sg.ip_permissions_egress().is_empty(),
        "the emulator's default group starts open"
    );
    let id = sg.group_id().unwrap().to_string();
    // As AWS creates it: all traffic from the group's own members, besides the open egress.
    if sg.ip_permissions().is_empty() {
        ec2.authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("-1")
                    .user_id_group_pairs(
                        aws_sdk_ec2::types::UserIdGroupPair::builder()
                            .group_id(&id)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let event = events::load(
        "securityhub-imported-fsbp-ec2-2.json",
        &[("sg-0d0e0f0a0b0c0d0e0", &id)],
    );
    let fixed = remediate_then_replay(
        &m,
        &ec2_close_default_sg::Ec2CloseDefaultSg,
        event,
        Probe::Rules(id.clone()),
    )
    .await;
    let after = ec2
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .unwrap();
    let g = &after.security_groups()[0];
    assert!(
        g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty(),
        "{g:?}"
    );
    fixed
        .undo_exactly(&m, &ec2_close_default_sg::Ec2CloseDefaultSg)
        .await;
}

/// An independent reading of "denies every request not over TLS" (not the function's own
/// predicate): a Deny to every principal, of every S3 action, on the bucket and its objects alike,
/// when aws:SecureTransport is false.
fn denies_plain_http_everywhere(st: &Value, bucket: &str) -> bool {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    let resources = list(&st["Resource"]);
    let actions = list(&st["Action"]);
    st["Effect"] == "Deny"
        && (st["Principal"] == "*" || st["Principal"]["AWS"] == "*")
        && actions.iter().any(|a| a == "s3:*" || a == "*")
        && resources.contains(&format!("arn:aws:s3:::{bucket}"))
        && resources.contains(&format!("arn:aws:s3:::{bucket}/*"))
        && list(&st["Condition"]["Bool"]["aws:SecureTransport"]) == ["false"]
}

#[tokio::test]
async fn buckets_get_default_encryption_and_a_tls_only_policy_merged_into_theirs() {
    let m = member().await;
    let s3 = quell::member::s3_client(&m.cfg);
    seed::public_bucket(&m.cfg, "quell-demo-unencrypted", &[]).await;
    s3.delete_bucket_encryption()
        .bucket("quell-demo-unencrypted")
        .send()
        .await
        .unwrap();
    let r = s3_enable_default_encryption::S3EnableDefaultEncryption::default();
    let fixed = remediate_then_replay(
        &m,
        &r,
        events::load("config-s3-bucket-server-side-encryption-enabled.json", &[]),
        Probe::Encryption("quell-demo-unencrypted"),
    )
    .await;
    assert_eq!(
        Probe::Encryption("quell-demo-unencrypted")
            .read(&m.cfg)
            .await,
        "AES256//Some(false)",
        "the default configuration is SSE-S3"
    );
    fixed.undo_exactly(&m, &r).await;

    seed::public_bucket(&m.cfg, "quell-demo-no-tls", &[]).await;
    let theirs = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "PartnerRead", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quell-demo-no-tls/*"}]});
    s3.put_bucket_policy()
        .bucket("quell-demo-no-tls")
        .policy(theirs.to_string())
        .send()
        .await
        .unwrap();
    let event = events::load("securityhub-imported-fsbp-s3-5.json", &[]);
    let fixed = remediate_then_replay(
        &m,
        &s3_require_tls::S3RequireTls,
        event,
        Probe::Policy("quell-demo-no-tls"),
    )
    .await;
    let policy: Value = serde_json::from_str(
        &s3.get_bucket_policy()
            .bucket("quell-demo-no-tls")
            .send()
            .await
            .unwrap()
            .policy
            .unwrap(),
    )
    .unwrap();
    let st = policy["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 2, "{policy}");
    assert_eq!(
        st[0], theirs["Statement"][0],
        "the partner's statement is kept"
    );
    assert!(
        denies_plain_http_everywhere(&st[1], "quell-demo-no-tls"),
        "{policy}"
    );
    // Undo gives back the partner's policy as it was (PutBucketPolicy).
    fixed.undo_exactly(&m, &s3_require_tls::S3RequireTls).await;
}

#[tokio::test]
async fn a_bucket_with_no_policy_gets_one_and_undo_deletes_it() {
    let m = member().await;
    seed::public_bucket(&m.cfg, "quell-demo-no-tls", &[]).await;
    let event = events::load("securityhub-imported-fsbp-s3-5.json", &[]);
    let fixed = remediate_then_replay(
        &m,
        &s3_require_tls::S3RequireTls,
        event,
        Probe::Policy("quell-demo-no-tls"),
    )
    .await;
    let policy: Value = serde_json::from_str(
        &quell::member::s3_client(&m.cfg)
            .get_bucket_policy()
            .bucket("quell-demo-no-tls")
            .send()
            .await
            .unwrap()
            .policy
            .unwrap(),
    )
    .unwrap();
    let st = policy["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1, "{policy}");
    assert!(
        denies_plain_http_everywhere(&st[0], "quell-demo-no-tls"),
        "{policy}"
    );
    // There was no policy: undo deletes quell's (s3:DeleteBucketPolicy).
    fixed.undo_exactly(&m, &s3_require_tls::S3RequireTls).await;
}

#[tokio::test]
async fn account_settings_ebs_passwords_and_s3_block_public_access() {
    let m = member().await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    assert_eq!(
        ec2.get_ebs_encryption_by_default()
            .send()
            .await
            .unwrap()
            .ebs_encryption_by_default,
        Some(false)
    );
    let fixed = remediate_then_replay(
        &m,
        &ebs_encryption_by_default::EbsEncryptionByDefault,
        events::load("config-ec2-ebs-encryption-by-default.json", &[]),
        Probe::Ebs,
    )
    .await;
    assert_eq!(
        ec2.get_ebs_encryption_by_default()
            .send()
            .await
            .unwrap()
            .ebs_encryption_by_default,
        Some(true)
    );
    fixed
        .undo_exactly(&m, &ebs_encryption_by_default::EbsEncryptionByDefault)
        .await;

    let iam = aws_sdk_iam::Client::new(&m.cfg);
    // A stricter length than the baseline is kept.
    iam.update_account_password_policy()
        .minimum_password_length(20)
        .send()
        .await
        .unwrap();
    let fixed = remediate_then_replay(
        &m,
        &iam_password_policy::IamPasswordPolicy::default(),
        events::load("securityhub-imported-fsbp-iam-15.json", &[]),
        Probe::PasswordPolicy,
    )
    .await;
    let p = iam
        .get_account_password_policy()
        .send()
        .await
        .unwrap()
        .password_policy
        .unwrap();
    assert_eq!(p.minimum_password_length, Some(20));
    assert_eq!(p.password_reuse_prevention, Some(24));
    assert_eq!(p.max_password_age, Some(90));
    assert!(
        p.require_symbols
            && p.require_numbers
            && p.require_uppercase_characters
            && p.require_lowercase_characters
    );
    // Undo gives back the policy of length 20 and nothing else, as seeded.
    fixed
        .undo_exactly(&m, &iam_password_policy::IamPasswordPolicy::default())
        .await;

    // S3 Control puts the account id in the host name; the client is pointed at the emulator as it is.
    let control = quell::member::s3control_client(&m.cfg);
    assert!(
        control
            .get_public_access_block()
            .account_id(MEMBER)
            .send()
            .await
            .is_err(),
        "starts with no account block"
    );
    let fixed = remediate_then_replay(
        &m,
        &s3_account_public_access_block::S3AccountPublicAccessBlock,
        events::load("securityhub-imported-fsbp-s3-1.json", &[]),
        Probe::AccountBlock,
    )
    .await;
    let c = control
        .get_public_access_block()
        .account_id(MEMBER)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(
        (
            c.block_public_acls,
            c.ignore_public_acls,
            c.block_public_policy,
            c.restrict_public_buckets
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    fixed
        .undo_exactly(
            &m,
            &s3_account_public_access_block::S3AccountPublicAccessBlock,
        )
        .await;
}

#[tokio::test]
async fn an_account_with_no_password_policy_gets_one_and_undo_deletes_it() {
    let m = member().await;
    let fixed = remediate_then_replay(
        &m,
        &iam_password_policy::IamPasswordPolicy::default(),
        events::load("securityhub-imported-fsbp-iam-15.json", &[]),
        Probe::PasswordPolicy,
    )
    .await;
    assert!(
        Probe::PasswordPolicy
            .read(&m.cfg)
            .await
            .starts_with("len=Some(14)"),
        "the baseline's length"
    );
    // There was none: undo deletes it (iam:DeleteAccountPasswordPolicy).
    fixed
        .undo_exactly(&m, &iam_password_policy::IamPasswordPolicy::default())
        .await;
}

#[tokio::test]
async fn instances_require_imdsv2() {
    let m = member().await;
    let (id, _) = seed::instance(&m.cfg, "legacy-1").await;
    let event = events::load(
        "config-ec2-imdsv2-check.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let fixed = remediate_then_replay(
        &m,
        &ec2_require_imdsv2::Ec2RequireImdsv2,
        event,
        Probe::Metadata(id.clone()),
    )
    .await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    let out = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let md = out.reservations()[0].instances()[0]
        .metadata_options()
        .unwrap()
        .clone();
    assert_eq!(md.http_tokens().map(|t| t.as_str()), Some("required"));
    fixed
        .undo_exactly(&m, &ec2_require_imdsv2::Ec2RequireImdsv2)
        .await;
}

/// The trail org-audit's multi-region and validation settings, read back.
async fn multi_region_with_validation(
    ct: &aws_sdk_cloudtrail::Client,
) -> (Option<bool>, Option<bool>) {
    let t = ct
        .describe_trails()
        .trail_name_list("org-audit")
        .send()
        .await
        .unwrap();
    let t = &t.trail_list()[0];
    (t.is_multi_region_trail, t.log_file_validation_enabled)
}

#[tokio::test]
async fn a_stopped_trail_logs_again_multi_region_with_validation() {
    let m = member().await;
    seed::trail_bucket(&m.cfg, "quell-demo-trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(&m.cfg);
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name("quell-demo-trail-logs")
        .send()
        .await
        .unwrap();
    // Created single-region, without validation, and never started: as if someone stopped it.
    let event = events::load("guardduty-stealth-cloudtrailloggingdisabled.json", &[]);
    let fixed = remediate_then_replay(
        &m,
        &cloudtrail_restore_logging::CloudtrailRestoreLogging,
        event,
        Probe::Trail("org-audit"),
    )
    .await;
    let status = ct
        .get_trail_status()
        .name("org-audit")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging, Some(true));
    assert_eq!(
        multi_region_with_validation(&ct).await,
        (Some(true), Some(true))
    );
    fixed
        .undo_exactly(&m, &cloudtrail_restore_logging::CloudtrailRestoreLogging)
        .await;
}

/// The calls that blind a trail without stopping it: UpdateTrail turning multi-region and
/// validation off, PutEventSelectors leaving management events out. Each is done in the member,
/// its CloudTrail event replayed, the trail read back as it was, and the change undone exactly.
#[tokio::test]
async fn a_trail_made_single_region_or_blind_to_management_events_is_put_back() {
    let m = member().await;
    seed::trail_bucket(&m.cfg, "quell-demo-trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(&m.cfg);
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name("quell-demo-trail-logs")
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-audit").send().await.unwrap();
    // The tampering, in the member: single-region, no validation.
    ct.update_trail()
        .name("org-audit")
        .is_multi_region_trail(false)
        .enable_log_file_validation(false)
        .send()
        .await
        .unwrap();
    let event = events::load("cloudtrail-cloudtrail-updatetrail.json", &[]);
    let fixed = remediate_then_replay(
        &m,
        &cloudtrail_restore_logging::CloudtrailRestoreLogging,
        event,
        Probe::Trail("org-audit"),
    )
    .await;
    assert_eq!(
        multi_region_with_validation(&ct).await,
        (Some(true), Some(true))
    );

    // Management events left out: every management event logged again.
    ct.put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .include_management_events(false)
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut event = events::load("cloudtrail-cloudtrail-puteventselectors.json", &[]);
    event["id"] = serde_json::json!("00000000-0000-0000-0000-00000000cc01");
    let ctx = quell_tests::recording_context(&m.emu, "cloudtrail-restore-logging").await;
    let report = quell::runtime::handle(
        &cloudtrail_restore_logging::CloudtrailRestoreLogging,
        &ctx,
        event,
    )
    .await
    .unwrap()
    .reports
    .remove(0);
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    let selectors = ct
        .get_event_selectors()
        .trail_name("org-audit")
        .send()
        .await
        .unwrap();
    let management = selectors.event_selectors().iter().any(|s| {
        s.include_management_events() == Some(true)
            && s.read_write_type() == Some(&aws_sdk_cloudtrail::types::ReadWriteType::All)
    }) || selectors
        .advanced_event_selectors()
        .iter()
        .any(|a| a.name() == Some(cloudtrail_restore_logging::MANAGEMENT_SELECTOR));
    assert!(management, "{selectors:?}");
    // The first change undone exactly (a person's undo then holds the trail as they put it).
    fixed
        .undo_exactly(&m, &cloudtrail_restore_logging::CloudtrailRestoreLogging)
        .await;
}

#[tokio::test]
async fn a_cross_account_grant_found_by_access_analyzer_is_removed_and_the_rest_kept() {
    let m = member().await;
    let s3 = quell::member::s3_client(&m.cfg);
    seed::public_bucket(&m.cfg, "my-bucket", &[]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"},{"Sid":"Stranger","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("my-bucket")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let event = events::load(
        "accessanalyzer-s3-bucket-cross-account.json",
        &[("111122223333", MEMBER), ("us-west-2", "us-east-1")],
    );
    let fixed = remediate_then_replay(
        &m,
        &s3_restrict_bucket_policy::S3RestrictBucketPolicy::default(),
        event,
        Probe::Policy("my-bucket"),
    )
    .await;
    let after = s3
        .get_bucket_policy()
        .bucket("my-bucket")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(!after.contains("999988887777"), "{after}");
    assert!(after.contains(r#"{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}"#), "{after}");
    // Undo gives back both statements, the stranger's included, exactly as they were.
    fixed
        .undo_exactly(
            &m,
            &s3_restrict_bucket_policy::S3RestrictBucketPolicy::default(),
        )
        .await;
}
