//! A burst: 1,000 findings across 20 member accounts, handled concurrently by one warm context
//! against the emulator. Every finding gets exactly one outcome, every bucket is fixed, and the
//! role is assumed once per account while its credentials are valid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL};
use s3_block_public_access::S3BlockPublicAccess;
use tokio::sync::Semaphore;

const ACCOUNTS: usize = 20;
const PER_ACCOUNT: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_findings_across_twenty_accounts() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("3000000000{i:02}")).collect();
    let mut seeded = Vec::new();
    for a in &accounts {
        let member = emu.account_config(a).await;
        seed::member_role(&member, CENTRAL).await;
        let s3 = quell::member::s3_client(&member);
        for j in 0..PER_ACCOUNT {
            let b = format!("burst-{a}-{j}");
            s3.create_bucket().bucket(&b).send().await.unwrap();
            seeded.push((a.clone(), b));
        }
    }
    emu.clear_calls().await;
    let ctx = Arc::new(context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "s3-block-public-access",
    ));
    let gate = Arc::new(Semaphore::new(32));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (account, bucket)) in seeded.iter().enumerate() {
        let mut e = events::load(
            "config-s3-bucket-public-read-prohibited.json",
            &[
                ("quell-demo-public-assets", bucket),
                ("111111111111", account),
            ],
        );
        e["id"] = serde_json::Value::String(format!("burst-{i}"));
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let r = quell::runtime::handle(&S3BlockPublicAccess, &ctx, e)
                .await
                .expect("handled");
            assert_eq!(r.reports.len(), 1);
            r.reports[0].outcome.name().to_string()
        });
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(o) = tasks.join_next().await {
        *outcomes.entry(o.unwrap()).or_default() += 1;
    }
    let took = started.elapsed();
    eprintln!("burst: {} findings in {took:?}: {outcomes:?}", seeded.len());
    assert_eq!(
        outcomes.get("REMEDIATED"),
        Some(&(ACCOUNTS * PER_ACCOUNT)),
        "{outcomes:?}"
    );
    assert_eq!(
        ctx.members.assume_count(),
        ACCOUNTS,
        "one AssumeRole per account"
    );
    let calls = emu.calls().await;
    assert_eq!(
        calls.iter().filter(|c| c.action == "AssumeRole").count(),
        ACCOUNTS
    );
    // Spot-check the state in a few accounts.
    for (a, b) in seeded.iter().step_by(97) {
        let member = emu.account_config(a).await;
        assert!(
            seed::fully_blocked(&seed::public_access_block(&member, b).await),
            "{a} {b}"
        );
    }
}
