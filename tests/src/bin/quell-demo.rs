//! `make demo`: the main job on an embedded default. Starts the local AWS emulator, seeds a member
//! account with public buckets, replays the sample events in events/ through the functions (the
//! same code Lambda runs), and shows what was fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::Value;

const DEMO_BUCKET: &str = "quell-demo-public-assets";

struct Case {
    event: &'static str,
    bucket: &'static str,
    tags: &'static [(&'static str, &'static str)],
    mode: Mode,
    why: &'static str,
}

const CASES: &[Case] = &[
    Case {
        event: "guardduty-s3-bucketanonymousaccessgranted.json",
        bucket: DEMO_BUCKET,
        tags: &[],
        mode: Mode::Enforce,
        why: "GuardDuty: anonymous access granted",
    },
    Case {
        event: "config-s3-bucket-public-read-prohibited.json",
        bucket: "quell-demo-build-logs",
        tags: &[],
        mode: Mode::Enforce,
        why: "Config: public read",
    },
    Case {
        event: "config-securityhub-s3-bucket-level-public-access-prohibited.json",
        bucket: "quell-demo-reports",
        tags: &[],
        mode: Mode::Enforce,
        why: "Config (Security Hub rule): no bucket-level block",
    },
    Case {
        event: "accessanalyzer-s3-bucket-public.json",
        bucket: "quell-demo-exports",
        tags: &[],
        mode: Mode::Enforce,
        why: "Access Analyzer: public bucket",
    },
    Case {
        event: "securityhub-imported-fsbp-s3-8-member.json",
        bucket: "quell-demo-website",
        tags: &[],
        mode: Mode::Enforce,
        why: "Security Hub S3.8",
    },
    Case {
        event: "securityhub-imported-fsbp-s3-2.json",
        bucket: "quell-demo-press-kit",
        tags: &[("quell:exempt", "true")],
        mode: Mode::Enforce,
        why: "Security Hub S3.2, bucket tagged exempt",
    },
    Case {
        event: "guardduty-s3-bucketanonymousaccessgranted.json",
        bucket: DEMO_BUCKET,
        tags: &[],
        mode: Mode::Enforce,
        why: "the same GuardDuty event again",
    },
    Case {
        event: "config-s3-bucket-public-read-prohibited.json",
        bucket: "quell-demo-staging-assets",
        tags: &[],
        mode: Mode::DryRun,
        why: "Config: public read, in dry-run",
    },
];

fn state(c: &Option<aws_sdk_s3::types::PublicAccessBlockConfiguration>) -> &'static str {
    match c {
        None => "open",
        Some(_) if seed::fully_blocked(c) => "blocked",
        Some(_) => "partial",
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quell-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let emu = Emulator::start_enforced().await?;
    println!(
        "quell demo: local AWS emulator (moto) at {}, IAM in force: each function acts through its own member role (quell-<function>) with exactly its declared permissions",
        emu.endpoint
    );
    println!(
        "  central security-tooling account {CENTRAL}, member account {MEMBER}, region {}",
        quell_tests::REGION
    );
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let mut seeded = Vec::new();
    for c in CASES {
        if !seeded.contains(&c.bucket) {
            seed::public_bucket(&member, c.bucket, c.tags).await;
            seeded.push(c.bucket);
        }
    }
    println!(
        "  seeded {} public buckets (public-read ACL, no Block Public Access) in {MEMBER}\n",
        seeded.len()
    );

    let enforce = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "s3-block-public-access",
    );
    let dry = context(
        &emu,
        Config {
            mode: Some(Mode::DryRun),
            ..Config::default()
        },
        "s3-block-public-access",
    );
    let h = [
        "#",
        "EVENT (why)",
        "SOURCE",
        "FUNCTION",
        "OUTCOME",
        "WORKFLOW",
        "RESOURCE",
        "BEFORE -> AFTER",
    ];
    println!(
        "{:<3} {:<62} {:<16} {:<24} {:<18} {:<11} {:<26} {}",
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    );
    let mut failed = 0;
    for (i, c) in CASES.iter().enumerate() {
        let event = events::load(c.event, &[(DEMO_BUCKET, c.bucket)]);
        // Security Hub and GuardDuty findings exist in Security Hub before their event arrives.
        if let Ok(intake) = quell::event::Envelope::parse(event.clone()) {
            if let Some(Ok(f)) = intake.findings.first() {
                if let Some(h) = &f.hub {
                    if seed::workflow(&central, &h.id).await.is_none() {
                        seed::hub_finding(
                            &member,
                            &f.account,
                            &h.id,
                            &h.product_arn,
                            ("AwsS3Bucket", &format!("arn:aws:s3:::{}", c.bucket)),
                        )
                        .await;
                    }
                }
            }
        }
        let before = seed::public_access_block(&member, c.bucket).await;
        let ctx = if c.mode == Mode::DryRun {
            &dry
        } else {
            &enforce
        };
        let result = quell::runtime::handle(&S3BlockPublicAccess, ctx, event).await;
        let after = seed::public_access_block(&member, c.bucket).await;
        let (source, outcome, workflow, note) = match &result {
            Ok(r) => {
                let rep = &r.reports[0];
                (
                    rep.source.to_string(),
                    rep.outcome.name().to_string(),
                    rep.workflow
                        .map(|w| w.as_str())
                        .unwrap_or("unchanged")
                        .to_string(),
                    rep.note.clone(),
                )
            }
            Err(e) => {
                failed += 1;
                ("-".into(), "ERROR".into(), "-".into(), e.to_string())
            }
        };
        println!(
            "{:<3} {:<62} {:<16} {:<24} {:<18} {:<11} {:<26} {} -> {}",
            i + 1,
            c.event.trim_end_matches(".json"),
            source,
            "s3-block-public-access",
            outcome,
            workflow,
            c.bucket,
            state(&before),
            state(&after)
        );
        println!("    {}", c.why);
        println!("    note: {note}");
    }
    failed += threats(&emu, &central, &member).await?;
    failed += posture(&emu, &member).await;
    failed += external_access(&emu, &member).await;

    let calls = emu.calls().await;
    let central_untouched = if !calls
        .iter()
        .any(|c| c.account == CENTRAL && c.service == "s3" && c.method == "PUT")
    {
        "none"
    } else {
        "SOME (a bug)"
    };
    let assumes = calls.iter().filter(|c| c.action == "AssumeRole").count();
    println!(
        "\n{} AWS calls served by the emulator; {} AssumeRole (the seeding admin's, then one per function context and member: sessions are cached per account and region); S3 writes in the central account: {}",
        calls.len(),
        assumes,
        central_untouched
    );
    if failed > 0 {
        return Err(format!("{failed} event(s) failed"));
    }
    Ok(())
}

/// Prints one replay's line: outcome, workflow and the state before and after.
fn line(
    n: usize,
    event: &str,
    result: &Result<quell::runtime::Response, quell::runtime::Failure>,
    resource: &str,
    before: &str,
    after: &str,
) -> usize {
    let (source, function, outcome, workflow, note) = match result {
        Ok(r) => {
            let rep = &r.reports[0];
            (
                rep.source.to_string(),
                rep.function.clone(),
                rep.outcome.name().to_string(),
                rep.workflow
                    .map(|w| w.as_str())
                    .unwrap_or("unchanged")
                    .to_string(),
                rep.note.clone(),
            )
        }
        Err(e) => (
            "-".into(),
            "-".into(),
            "ERROR".into(),
            "-".into(),
            e.to_string(),
        ),
    };
    println!(
        "{:<3} {:<62} {:<16} {:<24} {:<18} {:<11} {:<26} {} -> {}",
        n,
        event.trim_end_matches(".json"),
        source,
        function,
        outcome,
        workflow,
        resource,
        before,
        after
    );
    println!("    note: {note}");
    usize::from(result.is_err())
}

async fn seed_hub(member: &aws_config::SdkConfig, event: &Value, kind: &str, id: &str) {
    if let Ok(intake) = quell::event::Envelope::parse(event.clone()) {
        if let Some(Ok(f)) = intake.findings.first() {
            if let Some(h) = &f.hub {
                seed::hub_finding(member, &f.account, &h.id, &h.product_arn, (kind, id)).await;
            }
        }
    }
}

/// The threat responses: a leaked access key, stolen role credentials, a compromised instance.
async fn threats(
    emu: &Emulator,
    central: &aws_config::SdkConfig,
    member: &aws_config::SdkConfig,
) -> Result<usize, String> {
    let _ = central;
    println!("\nthreat response (GuardDuty findings on resources seeded in {MEMBER}):");
    let enforce = Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    };
    let mut failed = 0;

    // A leaked key.
    let (_, keys) = seed::user_with_keys(member, "ci-deployer").await;
    let event = events::load(
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &[("AKIAQUELLDEMOLEAKED1", &keys[0])],
    );
    seed_hub(member, &event, "AwsIamAccessKey", &keys[0]).await;
    let status = |v: Vec<(String, String)>, k: &str| {
        v.into_iter()
            .find(|(id, _)| id == k)
            .map(|(_, s)| s)
            .unwrap_or_default()
    };
    let before = status(seed::key_statuses(member, "ci-deployer").await, &keys[0]);
    let ctx = context(emu, enforce.clone(), "iam-disable-access-key");
    let r = quell::runtime::handle(
        &iam_disable_access_key::IamDisableAccessKey::default(),
        &ctx,
        event,
    )
    .await;
    let after = status(seed::key_statuses(member, "ci-deployer").await, &keys[0]);
    failed += line(
        9,
        "guardduty-iam-unauthorizedaccess-maliciousipcaller",
        &r,
        &format!("key {}", &keys[0]),
        &before,
        &after,
    );

    // Stolen role credentials.
    seed::app_role(member, "app-server-role").await;
    let event = events::load(
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        &[],
    );
    seed_hub(
        member,
        &event,
        "AwsIamRole",
        "arn:aws:iam::111111111111:role/app-server-role",
    )
    .await;
    let count = |v: Vec<(String, Value)>| format!("{} inline policies", v.len());
    let before = count(seed::role_policies(member, "app-server-role").await);
    let ctx = context(emu, enforce.clone(), "iam-revoke-role-sessions");
    let r = quell::runtime::handle(
        &iam_revoke_role_sessions::IamRevokeRoleSessions::default(),
        &ctx,
        event,
    )
    .await;
    let after = seed::role_policies(member, "app-server-role").await;
    let cut = after
        .first()
        .and_then(|(_, d)| {
            d["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
                .as_str()
                .map(|t| format!(", deny sessions issued before {t}"))
        })
        .unwrap_or_default();
    failed += line(
        10,
        "guardduty-iam-instancecredentialexfiltration-outsideaws",
        &r,
        "role app-server-role",
        &before,
        &format!("{}{cut}", count(after.clone())),
    );

    // A compromised instance: first in the function's default mode (dry-run), then enforced.
    let (id, _) = seed::instance(member, "app-server-1").await;
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    seed_hub(member, &event, "AwsEc2Instance", &id).await;
    let isolate = ec2_isolate_instance::Ec2IsolateInstance::default();
    let before = instance_state(member, &id).await;
    let ctx = context(emu, Config::default(), "ec2-isolate-instance");
    let r = quell::runtime::handle(&isolate, &ctx, event.clone()).await;
    failed += line(
        11,
        "guardduty-ec2-cryptocurrency-bitcointool (default: dry-run)",
        &r,
        &format!("instance {id}"),
        &before,
        &instance_state(member, &id).await,
    );
    let ctx = context(emu, enforce, "ec2-isolate-instance");
    let r = quell::runtime::handle(&isolate, &ctx, event.clone()).await;
    failed += line(
        12,
        "guardduty-ec2-cryptocurrency-bitcointool (enforce)",
        &r,
        &format!("instance {id}"),
        &before,
        &instance_state(member, &id).await,
    );
    let r = quell::runtime::handle(&isolate, &ctx, event).await;
    let now = instance_state(member, &id).await;
    failed += line(
        13,
        "guardduty-ec2-cryptocurrency-bitcointool (again)",
        &r,
        &format!("instance {id}"),
        &now,
        &now,
    );
    Ok(failed)
}

/// `groups sg-…, 1 snapshot, profile, running`.
async fn instance_state(member: &aws_config::SdkConfig, id: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(member);
    let f = |n: &str, v: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(n)
            .values(v)
            .build()
    };
    let groups: Vec<String> = ec2
        .describe_network_interfaces()
        .filters(f("attachment.instance-id", id))
        .send()
        .await
        .map(|o| {
            o.network_interfaces()
                .iter()
                .flat_map(|n| {
                    n.groups()
                        .iter()
                        .filter_map(|g| g.group_name().map(str::to_string))
                })
                .collect()
        })
        .unwrap_or_default();
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(f("tag:quell:instance", id))
        .send()
        .await
        .map(|o| o.snapshots().len())
        .unwrap_or(0);
    let profile = ec2
        .describe_iam_instance_profile_associations()
        .filters(f("instance-id", id))
        .filters(f("state", "associated"))
        .send()
        .await
        .map(|o| !o.iam_instance_profile_associations().is_empty())
        .unwrap_or(false);
    format!(
        "[{}] {snaps} snap, {}",
        groups.join("+"),
        if profile { "profile" } else { "no profile" }
    )
}

async fn replay<R: quell::Remediation>(
    emu: &Emulator,
    r: &R,
    event: Value,
) -> Result<quell::runtime::Response, quell::runtime::Failure> {
    let ctx = context(
        emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        R::SPEC.id,
    );
    quell::runtime::handle(r, &ctx, event).await
}

/// Posture drift and a CIS alarm, on state seeded in the member account.
async fn posture(emu: &Emulator, member: &aws_config::SdkConfig) -> usize {
    use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};
    println!("\nposture drift and CIS alarms (Config, Security Hub and CloudWatch alarm events on state seeded in {MEMBER}):");
    let mut failed = 0;
    let ec2 = aws_sdk_ec2::Client::new(member);
    let iam = aws_sdk_iam::Client::new(member);

    // A world-open SSH rule beside a private one.
    let (_, web) = seed::instance(member, "web-2").await;
    let rules =
        |ec2g: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput| {
            ec2g.security_groups()
                .first()
                .map(|g| {
                    g.ip_permissions()
                        .iter()
                        .flat_map(|p| {
                            p.ip_ranges().iter().map(move |r| {
                                format!(
                                    "{}<-{}",
                                    p.from_port().unwrap_or(-1),
                                    r.cidr_ip().unwrap_or("")
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
    let _ = ec2
        .authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await;
    let before = ec2
        .describe_security_groups()
        .group_ids(&web)
        .send()
        .await
        .map(|o| rules(&o))
        .unwrap_or_default();
    let r = replay(
        emu,
        &ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default(),
        events::load(
            "config-restricted-ssh.json",
            &[("sg-0a1b2c3d4e5f60718", &web)],
        ),
    )
    .await;
    let after = ec2
        .describe_security_groups()
        .group_ids(&web)
        .send()
        .await
        .map(|o| rules(&o))
        .unwrap_or_default();
    failed += line(14, "config-restricted-ssh", &r, &web, &before, &after);

    // The default security group.
    let default = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.security_groups()
                .first()
                .and_then(|g| g.group_id().map(str::to_string))
        })
        .unwrap_or_default();
    let count =
        |o: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput| {
            o.security_groups()
                .first()
                .map(|g| {
                    format!(
                        "{} in/{} out rules",
                        g.ip_permissions().len(),
                        g.ip_permissions_egress().len()
                    )
                })
                .unwrap_or_default()
        };
    let before = ec2
        .describe_security_groups()
        .group_ids(&default)
        .send()
        .await
        .map(|o| count(&o))
        .unwrap_or_default();
    let r = replay(
        emu,
        &ec2_close_default_sg::Ec2CloseDefaultSg,
        events::load(
            "securityhub-imported-fsbp-ec2-2.json",
            &[("sg-0d0e0f0a0b0c0d0e0", &default)],
        ),
    )
    .await;
    let after = ec2
        .describe_security_groups()
        .group_ids(&default)
        .send()
        .await
        .map(|o| count(&o))
        .unwrap_or_default();
    failed += line(
        15,
        "securityhub-imported-fsbp-ec2-2",
        &r,
        &default,
        &before,
        &after,
    );

    // EBS encryption by default, and the password policy.
    let ebs = |on: Option<bool>| {
        if on == Some(true) {
            "on".to_string()
        } else {
            "off".to_string()
        }
    };
    let before = ebs(ec2
        .get_ebs_encryption_by_default()
        .send()
        .await
        .ok()
        .and_then(|o| o.ebs_encryption_by_default));
    let r = replay(
        emu,
        &ebs_encryption_by_default::EbsEncryptionByDefault,
        events::load("config-ec2-ebs-encryption-by-default.json", &[]),
    )
    .await;
    let after = ebs(ec2
        .get_ebs_encryption_by_default()
        .send()
        .await
        .ok()
        .and_then(|o| o.ebs_encryption_by_default));
    failed += line(
        16,
        "config-ec2-ebs-encryption-by-default",
        &r,
        "EBS default encryption",
        &before,
        &after,
    );
    let pw = |p: Option<aws_sdk_iam::types::PasswordPolicy>| {
        p.map(|p| {
            format!(
                "min {} reuse {}",
                p.minimum_password_length.unwrap_or(0),
                p.password_reuse_prevention.unwrap_or(0)
            )
        })
        .unwrap_or_else(|| "none".into())
    };
    let before = pw(iam
        .get_account_password_policy()
        .send()
        .await
        .ok()
        .and_then(|o| o.password_policy));
    let r = replay(
        emu,
        &iam_password_policy::IamPasswordPolicy::default(),
        events::load("securityhub-imported-fsbp-iam-15.json", &[]),
    )
    .await;
    let after = pw(iam
        .get_account_password_policy()
        .send()
        .await
        .ok()
        .and_then(|o| o.password_policy));
    failed += line(
        17,
        "securityhub-imported-fsbp-iam-15",
        &r,
        "password policy",
        &before,
        &after,
    );

    // A CIS alarm: who signed in without MFA, looked up in CloudTrail.
    let _ = iam.create_user().user_name("alice").send().await;
    let login = serde_json::json!({"eventTime": "2026-11-28T13:02:10Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "sourceIPAddress": "203.0.113.8", "eventID": "demo-login", "userIdentity": {"type": "IAMUser", "userName": "alice"},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"}});
    emu.seed_trail_events(MEMBER, quell_tests::REGION, vec![login])
        .await;
    let policies = |v: Vec<String>| format!("alice: {} inline policies", v.len());
    let before = policies(
        iam.list_user_policies()
            .user_name("alice")
            .send()
            .await
            .map(|o| o.policy_names)
            .unwrap_or_default(),
    );
    let r = replay(
        emu,
        &cloudtrail_alarm_response::CloudtrailAlarmResponse::default(),
        events::load("cloudwatch-alarm-consolesigninwithoutmfa.json", &[]),
    )
    .await;
    let after = policies(
        iam.list_user_policies()
            .user_name("alice")
            .send()
            .await
            .map(|o| o.policy_names)
            .unwrap_or_default(),
    );
    failed += line(
        18,
        "cloudwatch-alarm-consolesigninwithoutmfa",
        &r,
        "user alice",
        &before,
        &after,
    );
    failed
}

/// IAM Access Analyzer: a role trusted by an outside account (dry-run by default, then enforced
/// with its prior state recorded, then undone), and a bucket shared with everyone through its ACL.
async fn external_access(emu: &Emulator, member: &aws_config::SdkConfig) -> usize {
    println!("\nexternal access (IAM Access Analyzer findings on state seeded in {MEMBER}):");
    let mut failed = 0;
    let trust = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"}, {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}"#;
    seed::role_with_trust(member, "vendor-access", trust).await;
    let principals = |doc: String| {
        serde_json::from_str::<Value>(&doc)
            .ok()
            .and_then(|d| {
                d["Statement"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|st| {
                            st["Principal"]["AWS"]
                                .as_str()
                                .map(|p| p.split(':').nth(4).unwrap_or(p).to_string())
                        })
                        .collect::<Vec<_>>()
                        .join("+")
                })
            })
            .unwrap_or_default()
    };
    let event = events::load("accessanalyzer-iam-role-cross-account.json", &[]);
    let r = iam_restrict_role_trust::IamRestrictRoleTrust::default();
    let before = principals(seed::trust_policy(member, "vendor-access").await);
    let dry = context(emu, Config::default(), "iam-restrict-role-trust");
    let res = quell::runtime::handle(&r, &dry, event.clone()).await;
    let after = principals(seed::trust_policy(member, "vendor-access").await);
    failed += line(
        19,
        "accessanalyzer-iam-role-cross-account (default: dry-run)",
        &res,
        "role vendor-access",
        &before,
        &after,
    );

    let central = emu.central_config();
    let table = seed::state_table(&central).await;
    let ctx = context(
        emu,
        Config {
            mode: Some(Mode::Enforce),
            state_table: Some(table),
            ..Config::default()
        },
        "iam-restrict-role-trust",
    );
    let res = quell::runtime::handle(&r, &ctx, event.clone()).await;
    let fixed = principals(seed::trust_policy(member, "vendor-access").await);
    failed += line(
        20,
        "accessanalyzer-iam-role-cross-account (enforce)",
        &res,
        "role vendor-access",
        &after,
        &fixed,
    );

    // quell undo FINDING_ID: the recorded trust policy goes back, and the role is held as it is.
    let key = quell::event::Envelope::parse(event)
        .ok()
        .and_then(|mut i| i.findings.pop()?.ok())
        .map(|f| quell::state::UndoKey::of("iam-restrict-role-trust", &f));
    let id = key.as_ref().map(|k| k.finding.clone()).unwrap_or_default();
    let undone = match (ctx.state.as_ref(), key) {
        (Some(st), Some(key)) => match st.prior_state(&key).await {
            Ok(Some(prior)) => quell::runtime::undo_finding(
                &r,
                &quell_tests::undo_context(emu, ctx.config.clone()),
                &prior,
                &key,
            )
            .await
            .map(|steps| {
                steps
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .map_err(|e| e.to_string()),
            Ok(None) => Err("no prior state recorded".into()),
            Err(e) => Err(e.to_string()),
        },
        _ => Err("no state table".into()),
    };
    let back = principals(seed::trust_policy(member, "vendor-access").await);
    println!(
        "{:<3} {:<62} {:<16} {:<24} {:<18} {:<11} {:<26} {} -> {}",
        21,
        format!("quell undo {id}"),
        "-",
        "iam-restrict-role-trust",
        if undone.is_ok() { "UNDONE" } else { "ERROR" },
        "-",
        "role vendor-access",
        fixed,
        back
    );
    println!(
        "    steps: {}",
        undone
            .as_ref()
            .map(String::as_str)
            .unwrap_or_else(|e| e.as_str())
    );
    failed += usize::from(undone.is_err() || back != before);

    // A bucket shared with everyone through its ACL and its policy.
    let bucket = "quell-demo-shared-reports";
    seed::public_bucket(member, bucket, &[]).await;
    let s3 = quell::member::s3_client(member);
    let _ = s3
        .put_bucket_policy()
        .bucket(bucket)
        .policy(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#))
        .send()
        .await;
    let grants = |s3: aws_sdk_s3::Client| async move {
        let acl = s3.get_bucket_acl().bucket(bucket).send().await.ok();
        let public = acl
            .map(|a| {
                a.grants().iter().any(|g| {
                    g.grantee()
                        .and_then(|w| w.uri())
                        .is_some_and(|u| u.ends_with("AllUsers"))
                })
            })
            .unwrap_or(false);
        let policy = s3.get_bucket_policy().bucket(bucket).send().await.is_ok();
        format!(
            "ACL {} policy {}",
            if public { "public" } else { "private" },
            if policy { "yes" } else { "none" }
        )
    };
    let before = grants(s3.clone()).await;
    let res = replay(
        emu,
        &s3_restrict_bucket_policy::S3RestrictBucketPolicy::default(),
        events::load(
            "accessanalyzer-s3-bucket-acl-public.json",
            &[("quell-demo-public-assets", bucket)],
        ),
    )
    .await;
    let after = grants(s3).await;
    failed += line(
        22,
        "accessanalyzer-s3-bucket-acl-public",
        &res,
        bucket,
        &before,
        &after,
    );
    failed
}
