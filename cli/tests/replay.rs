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
        quell()
            .args([
                "replay",
                "events/config-s3-bucket-public-read-prohibited.json",
                "--mode",
                mode,
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
    let out = run("dry-run");
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
    assert!(!out.status.success());
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
    assert!(!out.status.success());
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
        !out.status.success() && err.contains("is refused") && err.contains("detail"),
        "{err}"
    );
    let _ = std::fs::remove_file(dir);
}

#[test]
fn list_and_policy_speak_for_every_remediation() {
    let out = quell().arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for s in quell_cli::registry::specs() {
        assert!(text.contains(s.id), "{} missing from quell list", s.id);
    }
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

    let again = run(&["undo", finding, "--endpoint", &emu.endpoint]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already undone"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let unknown = run(&["undo", "no-such-finding", "--endpoint", &emu.endpoint]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no change is recorded"));
}
