//! Operating quell as its operators do, with the `quell` binary against the emulator (IAM in
//! force): `sweep` brings back the findings a dry run left planned, `pause`/`resume` stop and
//! restart every function, `redrive` replays the dead-letter queue. Every assertion is on the
//! state read back from the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use aws_config::SdkConfig;
use quell_tests::{seed, Emulator, CENTRAL, MEMBER, REGION};

const OTHER: &str = "222222222222";

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn quell(emu: &Emulator, args: &[&str]) -> Output {
    let (key, secret) = emu.central_keys();
    Command::new(env!("CARGO_BIN_EXE_quell"))
        .args(args)
        .args(["--endpoint", &emu.endpoint, "--region", REGION])
        .current_dir(root())
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_REGION")
        .env_remove("QUELL_MODE")
        .env_remove("QUELL_STATE_TABLE")
        .env_remove("QUELL_NOTIFY_TOPIC_ARN")
        .output()
        .expect("run quell")
}

fn said(out: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A function as template.yaml deploys one: its description begins `quell <id>:` and it carries
/// the `quell:remediation` tag.
async fn function(
    central: &SdkConfig,
    name: &str,
    remediation: Option<&str>,
    reserved: Option<i32>,
) -> String {
    let iam = aws_sdk_iam::Client::new(central);
    let _ = iam
        .create_role()
        .role_name("quell-test-function")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await;
    // An empty zip archive: the code is never run here.
    let zip = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let lambda = aws_sdk_lambda::Client::new(central);
    let mut create = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(format!("arn:aws:iam::{CENTRAL}:role/quell-test-function"))
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        );
    create = match remediation {
        Some(r) => create
            .description(format!("quell {r}: a test stand-in"))
            .tags(quell_cli::ops::REMEDIATION_TAG, r),
        None => create.description("the team's own function"),
    };
    let arn = create
        .send()
        .await
        .expect("create function")
        .function_arn
        .expect("an arn");
    if let Some(n) = reserved {
        lambda
            .put_function_concurrency()
            .function_name(name)
            .reserved_concurrent_executions(n)
            .send()
            .await
            .expect("reserve concurrency");
    }
    arn
}

async fn reserved(central: &SdkConfig, name: &str) -> Option<i32> {
    aws_sdk_lambda::Client::new(central)
        .get_function_concurrency()
        .function_name(name)
        .send()
        .await
        .expect("get concurrency")
        .reserved_concurrent_executions
}

async fn tags(central: &SdkConfig, arn: &str) -> std::collections::HashMap<String, String> {
    aws_sdk_lambda::Client::new(central)
        .list_tags()
        .resource(arn)
        .send()
        .await
        .expect("list tags")
        .tags
        .unwrap_or_default()
}

#[tokio::test]
async fn pause_stops_every_quell_function_and_resume_puts_back_what_was_recorded() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let s3 = function(
        &central,
        "quell-S3BlockPublicAccess-A1",
        Some("s3-block-public-access"),
        Some(10),
    )
    .await;
    let keys = function(
        &central,
        "quell-IamDisableAccessKey-B2",
        Some("iam-disable-access-key"),
        None,
    )
    .await;
    let theirs = function(&central, "team-app", None, Some(5)).await;

    // A function that is not a remediation is refused before any AWS call.
    emu.clear_calls().await;
    let out = quell(&emu, &["pause", "--function", "no-such-remediation"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("no-such-remediation"), "{}", said(&out));
    assert!(
        emu.calls().await.is_empty(),
        "no AWS call for a bad --function"
    );

    let out = quell(&emu, &["pause"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        reserved(&central, "quell-S3BlockPublicAccess-A1").await,
        Some(0)
    );
    assert_eq!(
        reserved(&central, "quell-IamDisableAccessKey-B2").await,
        Some(0)
    );
    assert_eq!(
        reserved(&central, "team-app").await,
        Some(5),
        "not quell's: untouched"
    );
    assert_eq!(
        tags(&central, &s3)
            .await
            .get("quell:paused")
            .map(String::as_str),
        Some("10")
    );
    assert_eq!(
        tags(&central, &keys)
            .await
            .get("quell:paused")
            .map(String::as_str),
        Some("unreserved")
    );
    assert!(tags(&central, &s3).await.contains_key("quell:paused-at"));
    assert!(!tags(&central, &theirs).await.contains_key("quell:paused"));

    // Pausing again keeps the first record (10, not the 0 it is now).
    let out = quell(&emu, &["pause", "--output", "json"]);
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["note"] == "already paused"),
        "{report}"
    );
    assert_eq!(
        tags(&central, &s3)
            .await
            .get("quell:paused")
            .map(String::as_str),
        Some("10")
    );

    let out = quell(&emu, &["resume"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        reserved(&central, "quell-S3BlockPublicAccess-A1").await,
        Some(10)
    );
    assert_eq!(
        reserved(&central, "quell-IamDisableAccessKey-B2").await,
        None
    );
    assert_eq!(reserved(&central, "team-app").await, Some(5));
    assert!(!tags(&central, &s3).await.contains_key("quell:paused"));
    assert!(!tags(&central, &keys).await.contains_key("quell:paused-at"));

    // Deployed paused (0, nothing recorded): resume says what to do, and acts only when told how.
    aws_sdk_lambda::Client::new(&central)
        .put_function_concurrency()
        .function_name("quell-IamDisableAccessKey-B2")
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    let out = quell(&emu, &["resume", "--function", "iam-disable-access-key"]);
    assert_eq!(out.status.code(), Some(4), "{}", said(&out));
    assert!(said(&out).contains("Paused=false"), "{}", said(&out));
    assert_eq!(
        reserved(&central, "quell-IamDisableAccessKey-B2").await,
        Some(0)
    );
    let out = quell(
        &emu,
        &[
            "resume",
            "--function",
            "iam-disable-access-key",
            "--concurrency",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        reserved(&central, "quell-IamDisableAccessKey-B2").await,
        Some(3)
    );
    assert_eq!(
        reserved(&central, "quell-S3BlockPublicAccess-A1").await,
        Some(10),
        "only the one named"
    );
}

fn config_event(account: &str, bucket: &str) -> String {
    let text =
        std::fs::read_to_string(root().join("events/config-s3-bucket-public-read-prohibited.json"))
            .unwrap();
    let mut e: serde_json::Value = serde_json::from_str(&text).unwrap();
    e["account"] = account.into();
    e["detail"]["resourceId"] = bucket.into();
    e["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]
        ["resourceId"] = bucket.into();
    e.to_string()
}

async fn queue_depth(central: &SdkConfig, url: &str) -> usize {
    let out = aws_sdk_sqs::Client::new(central)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("queue attributes");
    out.attributes
        .unwrap_or_default()
        .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .map(|n| n.parse().unwrap())
        .unwrap_or_default()
}

/// A Security Hub finding event, as EventBridge delivers "Security Hub Findings - Imported": the
/// finding as Security Hub has it (read back from the emulator).
async fn imported_event(central: &SdkConfig, id: &str) -> serde_json::Value {
    let out = aws_sdk_securityhub::Client::new(central)
        .get_findings()
        .filters(
            aws_sdk_securityhub::types::AwsSecurityFindingFilters::builder()
                .id(aws_sdk_securityhub::types::StringFilter::builder()
                    .value(id)
                    .comparison(aws_sdk_securityhub::types::StringFilterComparison::Equals)
                    .build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    serde_json::json!({
        "version": "0",
        "id": "5e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": CENTRAL,
        "time": "2026-12-01T00:00:00Z",
        "region": REGION,
        "resources": [id],
        "detail": {"findings": [quell_cli::sweep::asff(&out.findings()[0])]},
    })
}

#[tokio::test]
async fn redrive_replays_dead_letters_and_deletes_only_what_succeeded() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    for b in [
        "quell-redrive-real",
        "quell-redrive-forged",
        "quell-redrive-config",
    ] {
        seed::public_bucket(&member, b, &[]).await;
    }
    let target = function(
        &central,
        "quell-S3BlockPublicAccess-C3",
        Some("s3-block-public-access"),
        Some(10),
    )
    .await;
    let real = seed::control_finding(
        &member,
        MEMBER,
        "S3.8",
        "NEW",
        ("AwsS3Bucket", "arn:aws:s3:::quell-redrive-real"),
    )
    .await;
    let real_event = imported_event(&central, &real).await;
    // A letter anyone who may send to the queue could write: a finding Security Hub does not
    // have, self-consistent in every field the Lambda checks.
    let mut forged = real_event.clone();
    let forged_id = real.replace("/finding/", "/finding/0000");
    forged["detail"]["findings"][0]["Id"] = forged_id.clone().into();
    forged["detail"]["findings"][0]["Resources"][0]["Id"] =
        "arn:aws:s3:::quell-redrive-forged".into();
    let sqs = aws_sdk_sqs::Client::new(&central);
    let url = sqs
        .create_queue()
        .queue_name("quell-dead-letters")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attr = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    // As EventBridge leaves an event it could not deliver to its target.
    for body in [real_event.to_string(), forged.to_string()] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .message_attributes(
                "RULE_ARN",
                attr(&format!(
                    "arn:aws:events:{REGION}:{CENTRAL}:rule/quell-S3BlockPublicAccess-SecurityHub"
                )),
            )
            .message_attributes("TARGET_ARN", attr(&target))
            .message_attributes("ERROR_CODE", attr("SDK_CLIENT_ERROR"))
            .send()
            .await
            .unwrap();
    }
    // A Config event (nothing here can check it against AWS: planned only), not an event at
    // all, and an event whose account the detail contradicts.
    for body in [
        config_event(MEMBER, "quell-redrive-config"),
        "{not json".to_string(),
        config_event(OTHER, "quell-redrive-config"),
    ] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    let out = quell(&emu, &["redrive"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the refused ones: {}",
        said(&out)
    );
    assert!(said(&out).contains("PLANNED"), "{}", said(&out));
    for b in [
        "quell-redrive-real",
        "quell-redrive-forged",
        "quell-redrive-config",
    ] {
        assert!(
            seed::public_access_block(&member, b).await.is_none(),
            "a dry run changes no resource: {b}"
        );
    }
    assert_eq!(
        queue_depth(&central, &url).await,
        5,
        "a dry run deletes nothing: {}",
        said(&out)
    );

    let out = quell(&emu, &["redrive", "--mode", "enforce", "--output", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["read"], 5, "{report}");
    assert_eq!(report["deleted"], 1, "{report}");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-redrive-real").await
    ));
    assert!(
        seed::public_access_block(&member, "quell-redrive-forged")
            .await
            .is_none(),
        "a forged letter is not acted on"
    );
    assert!(
        seed::public_access_block(&member, "quell-redrive-config")
            .await
            .is_none(),
        "an unverified letter is only planned"
    );
    assert_eq!(seed::workflow(&central, &real).await.unwrap().0, "RESOLVED");
    assert_eq!(
        queue_depth(&central, &url).await,
        4,
        "all but the settled one are kept"
    );
    let left = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = left.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 4);
    assert!(bodies.iter().any(|b| b.contains(&forged_id)), "{bodies:?}");
    assert!(
        !bodies
            .iter()
            .any(|b| b.contains(&format!("\"Id\":\"{real}\""))),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn sweep_brings_back_what_a_dry_run_left_planned() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    let other = emu.account_config(OTHER).await;
    seed::member_role(&member, CENTRAL).await;
    for b in [
        "quell-sweep-new",
        "quell-sweep-notified",
        "quell-sweep-config",
        "quell-sweep-resolved",
    ] {
        seed::public_bucket(&member, b, &[]).await;
    }
    let s3 = |b: &str| ("AwsS3Bucket", format!("arn:aws:s3:::{b}"));
    let r = s3("quell-sweep-new");
    let new = seed::control_finding(&member, MEMBER, "S3.8", "NEW", (r.0, &r.1)).await;
    let r = s3("quell-sweep-notified");
    let notified = seed::control_finding(&member, MEMBER, "S3.8", "NOTIFIED", (r.0, &r.1)).await;
    let r = s3("quell-sweep-resolved");
    seed::control_finding(&member, MEMBER, "S3.8", "RESOLVED", (r.0, &r.1)).await;
    let r = s3("quell-sweep-elsewhere");
    let elsewhere = seed::control_finding(&other, OTHER, "S3.8", "NEW", (r.0, &r.1)).await;
    seed::config_aggregator(&central, "quell-organization", &[MEMBER]).await;
    emu.seed_config_evaluations(
        MEMBER,
        REGION,
        serde_json::json!([
            {"rule": "s3-bucket-public-read-prohibited", "resourceType": "AWS::S3::Bucket", "resourceId": "quell-sweep-config", "compliance": "NON_COMPLIANT"},
            {"rule": "s3-bucket-public-read-prohibited", "resourceType": "AWS::S3::Bucket", "resourceId": "quell-sweep-resolved", "compliance": "COMPLIANT"},
            {"rule": "a-rule-no-remediation-takes", "resourceType": "AWS::S3::Bucket", "resourceId": "quell-sweep-resolved", "compliance": "NON_COMPLIANT"}
        ]),
    )
    .await;
    let args = [
        "sweep",
        "--account",
        MEMBER,
        "--config-aggregator",
        "quell-organization",
        "--output",
        "json",
    ];

    // `--invoke` without `--mode enforce` names the deployed function it would send each to, and
    // sends nothing.
    function(
        &central,
        "quell-S3BlockPublicAccess-D4",
        Some("s3-block-public-access"),
        None,
    )
    .await;
    emu.clear_calls().await;
    let out = quell(&emu, &[&args[..], &["--invoke"]].concat());
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let notes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["results"].as_array().unwrap())
        .map(|r| r["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 3, "{report}");
    assert!(
        notes
            .iter()
            .all(|n| n.contains("would invoke quell-S3BlockPublicAccess-D4")),
        "{notes:?}"
    );
    assert!(
        !emu.calls()
            .await
            .iter()
            .any(|c| c.path.contains("/invocations")),
        "nothing invoked"
    );

    let out = quell(&emu, &args);
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding"].as_str().unwrap())
        .collect();
    assert_eq!(
        found.len(),
        3,
        "NEW, NOTIFIED and Config's, not RESOLVED nor another account's: {found:?}"
    );
    assert!(
        found.contains(&new.as_str()) && found.contains(&notified.as_str()),
        "{found:?}"
    );
    assert!(!found.contains(&elsewhere.as_str()));
    assert_eq!(
        report["summary"]["s3-block-public-access"]["PLANNED"], 3,
        "{report}"
    );
    for b in [
        "quell-sweep-new",
        "quell-sweep-notified",
        "quell-sweep-config",
    ] {
        assert!(
            seed::public_access_block(&member, b).await.is_none(),
            "a dry run changes nothing: {b}"
        );
    }
    // The dry run marked the NEW finding NOTIFIED, as a dry-run Lambda does: the backlog.
    assert_eq!(seed::workflow(&central, &new).await.unwrap().0, "NOTIFIED");

    // Another remediation's findings are not its own.
    let out = quell(
        &emu,
        &[
            "sweep",
            "--function",
            "iam-disable-access-key",
            "--account",
            MEMBER,
            "--output",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");

    let mut enforce = args.to_vec();
    enforce.extend(["--mode", "enforce"]);
    // Paused (`quell pause`), a remediation is not run, even in-process.
    let out = quell(&emu, &["pause", "--function", "s3-block-public-access"]);
    assert!(out.status.success(), "{}", said(&out));
    let out = quell(&emu, &enforce);
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["summary"]["s3-block-public-access"]["PAUSED"], 3,
        "{report}"
    );
    assert!(
        seed::public_access_block(&member, "quell-sweep-new")
            .await
            .is_none(),
        "paused: nothing changed"
    );
    let out = quell(&emu, &["resume", "--function", "s3-block-public-access"]);
    assert!(out.status.success(), "{}", said(&out));

    let out = quell(&emu, &enforce);
    assert!(out.status.success(), "{}", said(&out));
    for b in [
        "quell-sweep-new",
        "quell-sweep-notified",
        "quell-sweep-config",
    ] {
        assert!(
            seed::fully_blocked(&seed::public_access_block(&member, b).await),
            "{b}: {}",
            said(&out)
        );
    }
    assert!(
        seed::public_access_block(&member, "quell-sweep-resolved")
            .await
            .is_none(),
        "not swept: untouched"
    );
    assert_eq!(seed::workflow(&central, &new).await.unwrap().0, "RESOLVED");
    assert_eq!(
        seed::workflow(&central, &notified).await.unwrap().0,
        "RESOLVED"
    );
    assert_eq!(
        seed::workflow(&central, &elsewhere).await.unwrap().0,
        "NEW",
        "outside --account"
    );

    // Once resolved, nothing is left to sweep.
    let out = quell(&emu, &args);
    assert!(out.status.success(), "{}", said(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let left: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["from"] == "securityhub")
        .collect();
    assert!(left.is_empty(), "{report}");
}
