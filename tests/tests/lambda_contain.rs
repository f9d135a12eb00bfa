//! A Lambda function GuardDuty says talks to a command-and-control server, contained end to end
//! with IAM in force: planned by default (dry-run), then, enforced, its reserved concurrency read
//! back as 0 and the code that ran published as an evidence version, the finding NOTIFIED naming
//! the role whose sessions a person must revoke; replayed without a write; undone to unreserved,
//! as it was. A function of the same name in another account is never
//! touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_contain_function::LambdaContainFunction;
use quell::{Config, Remediation};
use quell_tests::{
    again, context, deliver, events, hub_id, parsed, seed, seed_hub_finding, Emulator, CENTRAL,
    MEMBER,
};

const NAME: &str = "quell-demo-thumbnailer";
/// A third account of the organization, whose function of the same name nothing may touch.
const OTHER: &str = "222222222222";

async fn reserved(cfg: &aws_config::SdkConfig) -> Option<i32> {
    aws_sdk_lambda::Client::new(cfg)
        .get_function_concurrency()
        .function_name(NAME)
        .send()
        .await
        .unwrap()
        .reserved_concurrent_executions()
}

/// The function's published versions (not $LATEST): (version, description, code hash).
async fn versions(cfg: &aws_config::SdkConfig) -> Vec<(String, String, String)> {
    aws_sdk_lambda::Client::new(cfg)
        .list_versions_by_function()
        .function_name(NAME)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .filter(|v| v.version() != Some("$LATEST"))
        .map(|v| {
            (
                v.version().unwrap_or_default().to_string(),
                v.description().unwrap_or_default().to_string(),
                v.code_sha256().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_compromised_function_is_contained_its_code_kept_and_undo_gives_its_concurrency_back() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::function(&member, NAME, None).await;
    let other = emu.account_config(OTHER).await;
    seed::function(&other, NAME, None).await;
    let event = events::load("guardduty-lambda-backdoor-ccactivity-b.json", &[]);
    seed_hub_finding(&member, &event).await;
    let r = LambdaContainFunction::default();

    // Its own default is dry-run: planned, nothing changed.
    let planned = deliver(
        &r,
        &context(&emu, Config::default(), LambdaContainFunction::SPEC.id),
        again(&event, "dry"),
    )
    .await;
    assert_eq!(planned.outcome.name(), "PLANNED", "{planned:?}");
    assert_eq!(reserved(&member).await, None);
    assert!(versions(&member).await.is_empty());

    let ctx = quell_tests::recording_context(&emu, LambdaContainFunction::SPEC.id).await;
    let report = deliver(&r, &ctx, event.clone()).await;
    // Contained, never RESOLVED: the role's sessions are named for a person.
    assert_eq!(report.outcome.name(), "UNCONFIRMED", "{report:?}");
    assert_eq!(
        reserved(&member).await,
        Some(0),
        "read back from the member"
    );
    let kept = versions(&member).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].1.contains("Backdoor:Lambda/C&CActivity.B")
            && kept[0].1.contains(&parsed(&event).id),
        "{kept:?}"
    );
    assert_eq!(
        reserved(&other).await,
        None,
        "the other account's function is untouched"
    );
    assert!(versions(&other).await.is_empty());
    let (status, note) = seed::workflow(&central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("lambda:PutFunctionConcurrency") && note.contains(&kept[0].2),
        "{note}"
    );
    match &report.outcome {
        quell::Outcome::Unconfirmed { unchecked, .. } => {
            assert!(
                unchecked.contains("quell-demo-thumbnailer-role"),
                "{unchecked}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Replayed: contained already, and not one write.
    emu.clear_calls().await;
    let replay = deliver(&r, &ctx, again(&event, "replay")).await;
    assert_eq!(replay.outcome.name(), "UNCONFIRMED", "{replay:?}");
    let writes: Vec<String> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.service == "lambda" && c.method != "GET")
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // Undo: unreserved, as it was; the evidence version stays.
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(reserved(&member).await, None);
    assert_eq!(versions(&member).await, kept);
}
