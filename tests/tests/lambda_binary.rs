//! The built function binary, run the way Lambda runs it: a Runtime API server on 127.0.0.1 hands
//! it events; it talks to the emulator over HTTP with the real SDK.
//!
//! `make test` builds the binaries first (`cargo build --workspace --bins`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use quell_tests::runtime_api::{Answer, FunctionProcess, RuntimeApi};
use quell_tests::{events, seed, Emulator, CENTRAL, MEMBER, REGION};

const FUNCTION: &str = "s3-block-public-access";

fn binary() -> PathBuf {
    // tests run from target/<profile>/deps/; the binaries sit in target/<profile>/.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(FUNCTION);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    bin
}

fn env(emu: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let (key, secret) = emu.central_keys();
    let mut v: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("QUELL_MODE", "enforce"),
        (
            "QUELL_ACTION_TARGETS",
            "arn:aws:securityhub:us-east-1:123456789012:action/custom/QuellRemediate",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, val) in extra {
        v.retain(|(key, _)| key != k);
        v.push((k.to_string(), val.to_string()));
    }
    v
}

#[tokio::test]
async fn the_function_binary_remediates_through_the_runtime_api() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;

    let api = RuntimeApi::start().await.expect("runtime api");
    let proc = FunctionProcess::spawn(&binary(), &api, FUNCTION, &env(&emu, &[])).expect("spawn");

    let event = events::load("config-s3-bucket-public-read-prohibited.json", &[]);
    let answer = api
        .invoke(event.clone(), Duration::from_secs(30))
        .await
        .expect("answer");
    let Answer::Response(body) = answer else {
        panic!("expected a response, got {answer:?}")
    };
    assert_eq!(body["reports"][0]["outcome"], "REMEDIATED", "{body}");
    assert_eq!(body["reports"][0]["workflow"], "RESOLVED", "{body}");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));

    // Warm: the same process takes the next event; a replay changes nothing.
    let answer = api
        .invoke(event, Duration::from_secs(30))
        .await
        .expect("answer");
    let Answer::Response(body) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(body["reports"][0]["outcome"], "ALREADY_COMPLIANT", "{body}");

    // Bad input: an error Lambda records (and retries, then sends to the DLQ), naming the field.
    let answer = api
        .invoke(
            serde_json::json!({"detail-type": "x"}),
            Duration::from_secs(30),
        )
        .await
        .expect("answer");
    let Answer::Error(err) = answer else {
        panic!("expected an error, got {answer:?}")
    };
    assert_eq!(err["errorType"], "quell.InvalidEvent", "{err}");
    assert!(
        err["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{err}"
    );

    let logs = proc.stop().await;
    // Structured logs: one JSON outcome line per finding; never a credential, never a whole event.
    let outcomes: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "outcome")
        .collect();
    assert_eq!(outcomes.len(), 2, "{logs}");
    assert_eq!(outcomes[0]["fields"]["outcome"], "REMEDIATED");
    assert_eq!(outcomes[0]["span"]["account"], MEMBER, "{}", outcomes[0]);
    assert!(
        !logs.contains(&emu.central_keys().1) && !logs.contains("SecretAccessKey"),
        "{logs}"
    );
    assert!(
        !logs.contains("evaluationResultIdentifier"),
        "a whole event was logged: {logs}"
    );
}

#[tokio::test]
async fn bad_configuration_fails_at_start_naming_the_variable() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    // A bad mode; and no action targets, without which a deployed function would believe a
    // Security Hub custom action by its id alone.
    for (var, value) in [("QUELL_MODE", "yolo"), ("QUELL_ACTION_TARGETS", "")] {
        let api = RuntimeApi::start().await.expect("runtime api");
        // The call log is seen to work: it records this call, and nothing after it.
        emu.clear_calls().await;
        aws_sdk_sts::Client::new(&emu.central_config())
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        let mut proc =
            FunctionProcess::spawn(&binary(), &api, FUNCTION, &env(&emu, &[(var, value)]))
                .expect("spawn");
        let status = tokio::time::timeout(Duration::from_secs(20), proc.child.wait())
            .await
            .expect("the function did not stop on bad configuration")
            .expect("wait");
        assert!(!status.success(), "a function with bad {var} exited 0");
        let logs = proc.stop().await;
        assert!(logs.contains(var) && logs.contains(value), "{logs}");
        let calls: Vec<String> = emu.calls().await.into_iter().map(|c| c.action).collect();
        assert_eq!(
            calls,
            ["GetCallerIdentity"],
            "a function that failed to start called AWS"
        );
    }
}
