//! `make demo`: the main job on an embedded default. Starts the local AWS emulator, seeds a member
//! account with public buckets, replays the sample events in events/ through the functions (the
//! same code Lambda runs), and shows what was fixed.

use std::process::ExitCode;

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use s3_block_public_access::S3BlockPublicAccess;

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
    let emu = Emulator::start()?;
    println!("quell demo: local AWS emulator (moto) at {}", emu.endpoint);
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
    println!(
        "{:<3} {:<62} {:<16} {:<24} {:<18} {:<11} {:<26} {}",
        "#",
        "EVENT (why)",
        "SOURCE",
        "FUNCTION",
        "OUTCOME",
        "WORKFLOW",
        "BUCKET",
        "BEFORE -> AFTER"
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
        "\n{} AWS calls served by the emulator; {} AssumeRole (one for seeding, then one per function context and member: sessions are cached per account and region); S3 writes in the central account: {}",
        calls.len(),
        assumes,
        central_untouched
    );
    if failed > 0 {
        return Err(format!("{failed} event(s) failed"));
    }
    Ok(())
}
