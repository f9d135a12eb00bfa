//! The `quell` binary as an operator runs it: replay routes an event through the generated rules
//! and runs the matching remediation against an endpoint; errors are one readable line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use quell_tests::{seed, Emulator, CENTRAL, MEMBER};

fn quell() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quell"))
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn replay_routes_and_remediates_against_the_endpoint() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let (key, secret) = emu.central_keys();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let run = |mode: &str| {
        // No --mode at all is a dry run, whatever QUELL_MODE and the default say.
        let mode: &[&str] = if mode == "default" {
            &[]
        } else {
            &["--mode", mode]
        };
        quell()
            .args([
                "replay",
                "events/config-s3-bucket-public-read-prohibited.json",
                "--endpoint",
                &emu.endpoint,
                "--region",
                "us-east-1",
            ])
            .args(mode)
            .current_dir(root())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("QUELL_MODE", "enforce")
            .env_remove("AWS_REGION")
            .output()
            .expect("run quell")
    };
    let out = run("default");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("s3-block-public-access")
            && text.contains("PLANNED")
            && text.contains("workflow=NOTIFIED"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dry-run, nothing is changed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        seed::public_access_block(&member, "quell-demo-public-assets")
            .await
            .is_none()
    );

    let out = run("enforce");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("REMEDIATED") && text.contains("workflow=RESOLVED"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "one function matches: {text}");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));
}

#[test]
fn errors_are_one_readable_line_and_unrouted_events_are_reported() {
    let out = quell()
        .args(["replay", "no/such/event.json"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "refused: 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: could not read no/such/event.json"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let out = quell()
        .args(["replay", "events/cloudwatch-alarm-single-metric.json"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "no rule matched: 3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no remediation's rules match this CloudWatch Alarm State Change event"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("quell-bad-{}.json", std::process::id()));
    std::fs::write(&dir, r#"{"id":"x","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"1","region":"us-east-1","detail":{"accountId":"12"}}"#).unwrap();
    let out = quell()
        .args(["replay", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && err.contains("is refused") && err.contains("detail"),
        "{err}"
    );
    let _ = std::fs::remove_file(dir);
    // A bad command line is clap's usage error, 2; the help names the exit codes.
    let out = quell()
        .args(["replay", "--mode", "sometimes", "x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = quell().arg("--help").output().unwrap();
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("5 a failure worth retrying"),
        "{}",
        String::from_utf8_lossy(&help.stdout)
    );
}

#[test]
fn list_and_policy_speak_for_every_remediation() {
    let out = quell().arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("REMEDIATION"), "{text}");
    for s in quell_cli::registry::specs() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(s.id))
            .unwrap_or_else(|| panic!("{} missing from quell list: {text}", s.id));
        assert!(line.contains(s.default_mode.as_str()), "{line}");
    }
    let out = quell().args(["list", "--output", "json"]).output().unwrap();
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let specs = quell_cli::registry::specs();
    assert_eq!(all.len(), specs.len());
    for (j, s) in all.iter().zip(&specs) {
        assert_eq!(j["id"], s.id);
        assert_eq!(j["permissions"], serde_json::json!(s.permissions));
        assert!(!j["rules"].as_array().unwrap().is_empty(), "{j}");
    }
    // One command for the member policies: `template member-policy` is gone.
    let out = quell()
        .args(["template", "member-policy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = quell().arg("policy").output().unwrap();
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        policy,
        quell_cli::template::member_policies(&quell_cli::registry::specs())
    );
    let out = quell()
        .args(["policy", "s3-block-public-access"])
        .output()
        .unwrap();
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one, policy["quell-s3-block-public-access"]);
    let help = quell().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("replay"));
}

#[tokio::test]
async fn undo_puts_back_the_recorded_prior_state_once() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let (key, secret) = emu.central_keys();
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    seed::state_table(&central).await;
    let run = |args: &[&str]| {
        quell()
            .args(args)
            .current_dir(root())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("QUELL_STATE_TABLE", "quell-state")
            .env_remove("QUELL_MODE")
            .output()
            .expect("run quell")
    };
    let out = run(&[
        "replay",
        "events/guardduty-s3-bucketanonymousaccessgranted.json",
        "--mode",
        "enforce",
        "--endpoint",
        &emu.endpoint,
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("REMEDIATED"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));

    let finding = "d2c5a1b7e9f04c1a8b3e6f70a1b2c3d4";
    // --list shows what can be undone, for the member account, and nothing for another one.
    let listed = run(&[
        "undo",
        "--list",
        "--account",
        MEMBER,
        "--endpoint",
        &emu.endpoint,
    ]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success()
            && text.contains(finding)
            && text.contains("s3-block-public-access")
            && text.contains(MEMBER),
        "{text}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let other = run(&[
        "undo",
        "--list",
        "--account",
        CENTRAL,
        "--endpoint",
        &emu.endpoint,
    ]);
    assert!(
        String::from_utf8_lossy(&other.stdout).contains("no recorded change is left to undo"),
        "{}",
        String::from_utf8_lossy(&other.stdout)
    );
    // --dry-run shows the record and changes nothing.
    let shown = run(&["undo", finding, "--dry-run", "--endpoint", &emu.endpoint]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success() && text.contains("s3-block-public-access would put back"),
        "{text}{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));
    let out = run(&["undo", finding, "--endpoint", &emu.endpoint]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("public access block removed, as it was"),
        "{text}"
    );
    assert!(
        seed::public_access_block(&member, "quell-demo-public-assets")
            .await
            .is_none(),
        "the bucket is as it was"
    );

    let listed = run(&["undo", "--list", "--endpoint", &emu.endpoint]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(finding),
        "an undone change is not listed: {}",
        String::from_utf8_lossy(&listed.stdout)
    );
    let again = run(&["undo", finding, "--endpoint", &emu.endpoint]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already undone"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let unknown = run(&["undo", "no-such-finding", "--endpoint", &emu.endpoint]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no change is recorded"));
}

/// `events/<name>` retargeted at the test's resources, written where `quell replay` can read it.
fn retargeted(name: &str, replace: &[(&str, &str)]) -> std::path::PathBuf {
    let event = quell_tests::events::load(name, replace);
    let path = std::env::temp_dir().join(format!("quell-replay-{}-{name}", std::process::id()));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

fn finding_of(path: &std::path::Path) -> quell::Finding {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    quell::event::Envelope::parse(v)
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

/// One event of each source quell takes (Security Hub imported and custom action, Access Analyzer,
/// a CloudWatch alarm, a CloudTrail call; Config and GuardDuty are above), replayed by the CLI in
/// enforce mode: the resource is read back through the SDK and the finding's workflow from the
/// emulator's Security Hub, not from what the CLI printed.
#[tokio::test]
async fn replay_takes_every_event_source() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let emu = Emulator::start_enforced().await.expect("emulator");
    let (key, secret) = emu.central_keys();
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let replay = |path: &std::path::Path| {
        let out = quell()
            .args(["replay"])
            .arg(path)
            .args(["--mode", "enforce", "--endpoint", &emu.endpoint])
            .current_dir(root())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "QUELL_ACTION_TARGETS",
                "arn:aws:securityhub:us-east-1:123456789012:action/custom/QuellRemediate",
            )
            .env_remove("QUELL_MODE")
            .output()
            .expect("run quell");
        assert!(
            out.status.success(),
            "{} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let resolved = |id: String| {
        let central = central.clone();
        async move {
            let (status, _) = seed::workflow(&central, &id)
                .await
                .unwrap_or_else(|| panic!("no finding {id} in the emulator's Security Hub"));
            assert_eq!(status, "RESOLVED", "{id}");
        }
    };
    let ec2 = aws_sdk_ec2::Client::new(&member);

    // Security Hub, imported: the default security group closed.
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
    let default = groups.security_groups()[0].group_id().unwrap().to_string();
    let path = retargeted(
        "securityhub-imported-fsbp-ec2-2.json",
        &[("sg-0d0e0f0a0b0c0d0e0", &default)],
    );
    let f = finding_of(&path);
    let h = f.hub.clone().unwrap();
    let arn = f.resources[0]
        .arn
        .clone()
        .unwrap_or(f.resources[0].id.clone());
    seed::hub_finding(
        &member,
        MEMBER,
        &h.id,
        &h.product_arn,
        ("AwsEc2SecurityGroup", &arn),
    )
    .await;
    replay(&path);
    let g = ec2
        .describe_security_groups()
        .group_ids(&default)
        .send()
        .await
        .unwrap();
    assert!(
        g.security_groups()[0].ip_permissions_egress().is_empty(),
        "the default group still has egress: {g:?}"
    );
    resolved(h.id).await;

    // Security Hub, custom action: the bucket's public access blocked.
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let path = retargeted("securityhub-custom-action-s3-8.json", &[]);
    let h = finding_of(&path).hub.unwrap();
    seed::hub_finding(
        &member,
        MEMBER,
        &h.id,
        &h.product_arn,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    replay(&path);
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));
    resolved(h.id).await;

    // Access Analyzer: the stranger's grant removed, the partner's kept.
    let s3 = quell::member::s3_client(&member);
    seed::public_bucket(&member, "my-bucket", &[]).await;
    s3.put_bucket_policy()
        .bucket("my-bucket")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"},{"Sid":"Stranger","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}]}"#)
        .send()
        .await
        .unwrap();
    let path = retargeted(
        "accessanalyzer-s3-bucket-cross-account.json",
        &[("111122223333", MEMBER), ("us-west-2", "us-east-1")],
    );
    replay(&path);
    let policy = s3
        .get_bucket_policy()
        .bucket("my-bucket")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(
        !policy.contains("999988887777") && policy.contains("222222222222"),
        "{policy}"
    );
    resolved(finding_of(&path).own_id()).await;

    // A CloudWatch alarm: the user who signed in without MFA is denied until MFA.
    let iam = aws_sdk_iam::Client::new(&member);
    iam.create_user().user_name("alice").send().await.unwrap();
    emu.seed_trail_events(
        MEMBER,
        quell_tests::REGION,
        vec![serde_json::json!({"eventVersion": "1.08", "eventTime": "2026-11-28T13:02:10Z", "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.8", "eventID": "login-alice",
            "readOnly": false, "eventType": "AwsConsoleSignIn",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": MEMBER, "arn": format!("arn:aws:iam::{MEMBER}:user/alice")},
            "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"}})],
    )
    .await;
    let path = retargeted("cloudwatch-alarm-consolesigninwithoutmfa.json", &[]);
    replay(&path);
    let policies = iam
        .list_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .policy_names;
    assert_eq!(policies, [cloudtrail_alarm_response::MFA_POLICY]);
    resolved(finding_of(&path).own_id()).await;

    // A CloudTrail call: the world-open rule it added revoked, the group's other rule kept.
    let (_, web) = seed::instance(&member, "web-1").await;
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3389)
                .to_port(3389)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let path = retargeted(
        "cloudtrail-authorizesecuritygroupingress.json",
        &[("sg-0a1b2c3d4e5f60718", &web)],
    );
    replay(&path);
    let g = ec2
        .describe_security_groups()
        .group_ids(&web)
        .send()
        .await
        .unwrap();
    let open: Vec<_> = g.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter(|p| {
            p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
        })
        .collect();
    assert!(open.is_empty(), "still open to the world: {open:?}");
    resolved(finding_of(&path).own_id()).await;
}

/// The exit codes of a remediation that fails, from the built binary: 4 when it failed for good
/// (the member role refuses quell: a person must look), 5 when the failure is worth retrying
/// (throttled past the SDK's own retries). Nothing is changed either way (read back).
#[tokio::test]
async fn a_failed_replay_exits_4_and_a_retryable_one_5() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let (key, secret) = emu.central_keys();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let run = || {
        quell()
            .args([
                "replay",
                "events/config-s3-bucket-public-read-prohibited.json",
                "--mode",
                "enforce",
                "--endpoint",
                &emu.endpoint,
            ])
            .current_dir(root())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("QUELL_MODE")
            .output()
            .expect("run quell")
    };
    emu.inject(serde_json::json!([{"service": "sts", "action": "AssumeRole", "count": 50, "status": 403, "code": "AccessDenied"}]))
        .await;
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
    emu.clear_faults().await;
    emu.inject(serde_json::json!([{"service": "sts", "action": "AssumeRole", "count": 50, "status": 400, "code": "Throttling"}]))
        .await;
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    emu.clear_faults().await;
    assert!(
        seed::public_access_block(&member, "quell-demo-public-assets")
            .await
            .is_none(),
        "nothing was changed"
    );
}

/// `quell list --coverage` prints what quell answers, from the Specs and the data it is held
/// against: every documented GuardDuty type answered, the Security Hub controls beside ASR's list
/// (whose source is named), and the same table docs/remediations.md carries.
#[test]
fn list_coverage_counts_what_quell_answers() {
    let out = quell().args(["list", "--coverage"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("200 documented types") && text.contains("0 without an answer"),
        "{text}"
    );
    assert!(
        text.contains(
            "remediates **106** (github.com/aws-solutions/automated-security-response-on-aws"
        ),
        "{text}"
    );
    for row in [
        "| KMS.4 | `kms-enable-key-rotation` | yes |",
        "| EC2.1 | `ebs-snapshot-private` | yes |",
        "| Backdoor:Lambda/C&CActivity.B | `lambda-contain-function` |",
        "| `cmk-backing-key-rotation-enabled` | `kms-enable-key-rotation` |",
    ] {
        assert!(text.contains(row), "missing {row}");
    }
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/remediations.md"),
    )
    .unwrap();
    assert!(
        docs.contains(&text),
        "docs/remediations.md carries the same coverage"
    );
    // A control ASR fixes and quell does not is listed as such.
    assert!(text.contains("| APIGateway.1 | — | yes |"), "{text}");
    assert!(
        text.contains("| RDS.1 | `rds-snapshot-private` | yes |"),
        "{text}"
    );
}
