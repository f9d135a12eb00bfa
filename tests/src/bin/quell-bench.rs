//! `make bench`: figures, not assertions. Cold start and peak memory of each release function
//! binary under a Lambda Runtime API on 127.0.0.1, the warm path against the local emulator with
//! its AWS calls counted, artifact sizes, and event parsing throughput.
//!
//! Usage: quell-bench [--bin-dir DIR] [--lambda-dir DIR] [--custodian PATH] [--runs N] [--events N]
//!                    [--only parse,sizes,calls,cold,warm,custodian]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quell::{Config, Mode};
use quell_tests::runtime_api::{Answer, FunctionProcess, RuntimeApi};
use quell_tests::{
    context, emulator::project_root, events, seed, Emulator, CENTRAL, MEMBER, REGION,
};
use serde_json::Value;

struct Args {
    custodian: Option<PathBuf>,
    bin_dir: PathBuf,
    lambda_dir: PathBuf,
    runs: usize,
    events: usize,
    /// The sections to run (all by default): parse, sizes, calls, cold, warm, custodian.
    only: Option<Vec<String>>,
}

impl Args {
    fn runs(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }
}

const SECTIONS: [&str; 6] = ["parse", "sizes", "calls", "cold", "warm", "custodian"];

fn args() -> Result<Args, String> {
    let mut a = Args {
        custodian: None,
        bin_dir: project_root().join("target/x86_64-unknown-linux-gnu/release"),
        lambda_dir: project_root().join("target/lambda"),
        runs: 15,
        events: 200,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--bin-dir" => a.bin_dir = PathBuf::from(v),
            "--lambda-dir" => a.lambda_dir = PathBuf::from(v),
            "--custodian" => a.custodian = Some(PathBuf::from(v)),
            "--runs" => {
                a.runs = v
                    .parse()
                    .map_err(|_| format!("--runs: `{v}` is not a number"))?
            }
            "--only" => {
                let o: Vec<String> = v.split(',').map(str::to_string).collect();
                if let Some(bad) = o.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(format!("--only: no section `{bad}` (one of {SECTIONS:?})"));
                }
                a.only = Some(o)
            }
            "--events" => {
                a.events = v
                    .parse()
                    .map_err(|_| format!("--events: `{v}` is not a number"))?
            }
            _ => {
                return Err(format!(
                    "unknown option {k} (--bin-dir, --lambda-dir, --custodian, --runs, --events, --only)"
                ))
            }
        }
    }
    Ok(a)
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), v[0], v[v.len() - 1], pct(0.99))
}

/// A line of a live process's /proc status, in kB (VmHWM: peak resident memory; RssAnon: its heap
/// and stacks now; RssFile: the pages of its binary and libraries it has touched).
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmHWM")
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quell-bench: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let a = args()?;
    println!(
        "quell benchmarks — {} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        machine()
    );
    if a.runs("parse") {
        parsing();
    }
    if a.runs("sizes") {
        sizes(&a.lambda_dir);
    }
    let emu = Emulator::start()?;
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    // First, while every seeded problem is still there: one fix per remediation, its calls counted.
    if a.runs("calls") {
        calls_per_remediation(&emu, &member).await?;
    }
    if a.runs("cold") {
        cold_start(&emu, &member, &a).await?;
    }
    if a.runs("warm") {
        warm_path(&emu, &member, a.events).await?;
    }
    if a.runs("custodian") {
        side_by_side(&emu, &a).await?;
    }
    Ok(())
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown cpu".into())
}

/// 4. Event parsing and normalization throughput.
fn parsing() {
    let files: Vec<(String, Vec<u8>)> = events::names()
        .into_iter()
        .map(|n| {
            let b = events::text(&n).into_bytes();
            (n, b)
        })
        .collect();
    // Warm-up, then as many passes as fit in one second.
    for (_, b) in &files {
        let _ = quell::event::Envelope::parse_slice(b);
    }
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(1) {
        for (_, b) in &files {
            let r = quell::event::Envelope::parse_slice(b);
            std::hint::black_box(&r);
            n += 1;
            bytes += b.len() as u64;
        }
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "\n## event parsing and normalization ({} sample events, this build's profile)",
        files.len()
    );
    println!(
        "  {:.0} events/s, {:.1} MB/s, {:.1} µs/event",
        n as f64 / s,
        bytes as f64 / s / 1e6,
        s * 1e6 / n as f64
    );
}

/// 3. Artifact sizes, as deployed.
fn sizes(dir: &Path) {
    println!("\n## artifacts (make build)");
    let mut found = false;
    for f in functions() {
        let zip = dir.join(&f).join("bootstrap.zip");
        if let Ok(m) = std::fs::metadata(&zip) {
            found = true;
            println!("  {:<26} {:>6.2} MB zip", f, m.len() as f64 / 1e6);
        }
    }
    if !found {
        println!("  no zips under {}: run `make build` first", dir.display());
    }
}

fn functions() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(project_root().join("functions"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// An event per function that it handles for real, with what to seed for it.
async fn event_for(f: &str, member: &aws_config::SdkConfig, tag: &str) -> Option<Value> {
    match f {
        "s3-block-public-access" => {
            let b = format!("bench-cold-{tag}");
            seed::public_bucket(member, &b, &[]).await;
            Some(events::load(
                "config-s3-bucket-public-read-prohibited.json",
                &[("quell-demo-public-assets", &b)],
            ))
        }
        "iam-disable-access-key" => {
            let user = format!("bench-{tag}");
            let (_, keys) = seed::user_with_keys(member, &user).await;
            Some(events::load(
                "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
                &[("AKIAQUELLDEMOLEAKED1", &keys[0]), ("ci-deployer", &user)],
            ))
        }
        "iam-revoke-role-sessions" => {
            let role = format!("bench-{tag}");
            seed::app_role(member, &role).await;
            Some(events::load(
                "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
                &[("app-server-role", &role)],
            ))
        }
        "ec2-isolate-instance" => {
            let (id, _) = seed::instance(member, &format!("bench-{tag}")).await;
            Some(events::load(
                "guardduty-ec2-cryptocurrency-bitcointool.json",
                &[("i-0a1b2c3d4e5f60718", &id)],
            ))
        }
        "ec2-revoke-open-ingress" => {
            let (_, sg) = seed::instance(member, &format!("bench-sg-{tag}")).await;
            Some(events::load(
                "config-restricted-ssh.json",
                &[("sg-0a1b2c3d4e5f60718", &sg)],
            ))
        }
        "ec2-require-imdsv2" => {
            let (id, _) = seed::instance(member, &format!("bench-imds-{tag}")).await;
            Some(events::load(
                "config-ec2-imdsv2-check.json",
                &[("i-0a1b2c3d4e5f60718", &id)],
            ))
        }
        "iam-restrict-role-trust" => {
            let role = format!("bench-trust-{tag}");
            seed::role_with_trust(
                member,
                &role,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .await;
            Some(events::load(
                "accessanalyzer-iam-role-cross-account.json",
                &[("vendor-access", &role)],
            ))
        }
        "ec2-close-default-sg" => {
            let ec2 = aws_sdk_ec2::Client::new(member);
            let out = ec2
                .describe_security_groups()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("group-name")
                        .values("default")
                        .build(),
                )
                .send()
                .await
                .ok()?;
            let sg = out.security_groups().first()?.group_id()?.to_string();
            Some(events::load(
                "config-securityhub-vpc-default-security-group-closed-6c5f2e1d.json",
                &[("sg-0d0e0f0a0b0c0d0e0", &sg)],
            ))
        }
        "cloudtrail-restore-logging" => {
            let b = format!("bench-trail-{tag}");
            seed::trail_bucket(member, &b).await;
            let trail = format!("bench-{tag}");
            let _ = aws_sdk_cloudtrail::Client::new(member)
                .create_trail()
                .name(&trail)
                .s3_bucket_name(&b)
                .send()
                .await;
            Some(events::load(
                "guardduty-stealth-cloudtrailloggingdisabled.json",
                &[("trail/org-audit", &format!("trail/{trail}"))],
            ))
        }
        // The others on their sample event as it is: the resource it names is seeded where one
        // bucket does, otherwise the outcome column says what the first invocation met.
        other => {
            let routed;
            let file: &str = match other {
                "ec2-revoke-open-ingress" => "config-restricted-ssh.json",
                "ec2-close-default-sg" => {
                    "config-securityhub-vpc-default-security-group-closed-6c5f2e1d.json"
                }
                "s3-enable-default-encryption" => {
                    "config-s3-bucket-server-side-encryption-enabled.json"
                }
                "s3-require-tls" => "config-s3-bucket-ssl-requests-only.json",
                "ebs-encryption-by-default" => "config-ec2-ebs-encryption-by-default.json",
                "ec2-require-imdsv2" => "config-ec2-imdsv2-check.json",
                "iam-password-policy" => "config-iam-password-policy.json",
                "cloudtrail-restore-logging" => "guardduty-stealth-cloudtrailloggingdisabled.json",
                "s3-account-public-access-block" => {
                    "config-s3-account-level-public-access-blocks.json"
                }
                "cloudtrail-alarm-response" => "cloudwatch-alarm-securitygroupchanges.json",
                "s3-restrict-bucket-policy" => "accessanalyzer-s3-bucket-public.json",
                "iam-restrict-role-trust" => "accessanalyzer-iam-role-cross-account.json",
                // The rest: the first sample event its generated rules route to it, as the
                // deployed rules would (the resource it names need not exist: the outcome
                // column says what the function met).
                _ => {
                    routed = routed_sample(other)?;
                    &routed
                }
            };
            let event = events::load(file, &[]);
            // A bucket the event names is created (public), once.
            let bucket = quell::event::Envelope::parse(event.clone())
                .ok()
                .and_then(|mut e| e.findings.pop()?.ok())
                .and_then(|f| {
                    f.resource(&quell::ResourceKind::S3Bucket)
                        .map(|r| r.id.clone())
                });
            if let Some(b) = bucket {
                let s3 = quell::member::s3_client(member);
                if s3.head_bucket().bucket(&b).send().await.is_err() {
                    seed::public_bucket(member, &b, &[]).await;
                }
            }
            Some(event)
        }
    }
}

/// The first sample event in events/ that `f`'s generated EventBridge rules match.
fn routed_sample(f: &str) -> Option<String> {
    let spec = handler(f)?.spec();
    events::names().into_iter().find(|name| {
        let event = events::load(name, &[]);
        let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
        let actions = quell::routing::LocalActionTargets {
            partition: quell::finding::validate::partition_of(text("region")).to_string(),
            region: text("region").to_string(),
            account: text("account").to_string(),
        };
        quell::routing::rules(&spec, &actions)
            .iter()
            .any(|r| quell::routing::matches(&r.pattern, &event))
    })
}

fn lambda_env(emu: &Emulator) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "central"),
        ("AWS_SECRET_ACCESS_KEY", "central-secret"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent"),
        ("QUELL_MODE", "enforce"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        (
            "QUELL_ACTION_TARGETS",
            "arn:aws:securityhub:us-east-1:123456789012:action/custom/QuellRemediate",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One cold run of a release binary under a fresh Runtime API.
struct Cold {
    /// Process start → its first poll of `/invocation/next` (the end of init).
    init_ms: f64,
    /// Process start → its first answer posted.
    first_ms: f64,
    /// The emulator's own time for the calls the run made.
    emulator_ms: f64,
    calls: usize,
    rss_mb: f64,
    /// Of the resident memory after the answer: anonymous (heap, stacks) and file-backed (code).
    anon_mb: f64,
    file_mb: f64,
    outcome: String,
}

impl Cold {
    /// What the function spent of its first invocation beyond the emulator's time for its calls:
    /// signing, connections, parsing, its own logic.
    fn overhead_ms(&self) -> f64 {
        self.first_ms - self.init_ms - self.emulator_ms
    }
}

async fn cold_once(
    emu: &Emulator,
    bin: &Path,
    f: &str,
    env: &[(String, String)],
    event: &Value,
) -> Result<Cold, String> {
    emu.clear_calls().await;
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let proc = FunctionProcess::spawn(bin, &api, f, env).map_err(|e| e.to_string())?;
    let pid = proc.child.id().unwrap_or(0);
    let answer = api.invoke(event.clone(), Duration::from_secs(30)).await?;
    let rss_mb = peak_rss_kb(pid).unwrap_or(0) as f64 / 1024.0;
    let anon_mb = status_kb(pid, "RssAnon").unwrap_or(0) as f64 / 1024.0;
    let file_mb = status_kb(pid, "RssFile").unwrap_or(0) as f64 / 1024.0;
    let since = |t: Option<Instant>| {
        t.map(|t| t.duration_since(proc.started).as_secs_f64() * 1e3)
            .ok_or_else(|| format!("{f}: the runtime API saw no poll or no answer"))
    };
    let (init_ms, first_ms) = (since(api.first_poll())?, since(api.first_answer())?);
    let outcome = match &answer {
        Answer::Response(v) => v["reports"][0]["outcome"]
            .as_str()
            .unwrap_or("-")
            .to_string(),
        other => format!("{other:?}"),
    };
    let _ = proc.stop().await;
    let calls = emu.calls().await;
    Ok(Cold {
        init_ms,
        first_ms,
        emulator_ms: calls.iter().filter_map(|c| c.ms).sum(),
        calls: calls.len(),
        rss_mb,
        anon_mb,
        file_mb,
        outcome,
    })
}

fn median(v: impl Iterator<Item = f64>) -> f64 {
    stats(v.collect()).0
}

/// 1. Cold start: init (process start → first poll of the Runtime API) and first response, each
///    function alternated run by run with quell-floor (lambda_runtime alone, same profile), so a
///    busy machine weighs on both alike; peak RSS beside the floor's.
async fn cold_start(
    emu: &Emulator,
    member: &aws_config::SdkConfig,
    a: &Args,
) -> Result<(), String> {
    println!(
        "\n## cold start: release binaries under a Runtime API on 127.0.0.1, {} runs each after 1 warm-up, alternated with quell-floor (lambda_runtime alone)",
        a.runs
    );
    println!("  init = process start → first poll of /invocation/next; first = → first answer; emu = the emulator's own time for the run's calls; over = first − init − emu");
    let env = lambda_env(emu);
    let floor = a.bin_dir.join("quell-floor");
    if !floor.exists() {
        println!(
            "  quell-floor not built at {} (make bench builds it)",
            floor.display()
        );
        return Ok(());
    }
    let idle = serde_json::json!({"source": "bench", "detail-type": "floor"});
    println!(
        "  {:<31} {:>7} {:>6} {:>5} {:>8} {:>7} {:>5} {:>6} {:>7} {:>6} {:>5} {:>10} {:>10}  outcome",
        "function", "init ms", "floor", "×", "first ms", "emu ms", "calls", "over", "RSS MB", "floor", "×", "anon/file", "floor's"
    );
    let (mut worst_init, mut worst_rss, mut worst_over) = (0f64, 0f64, 0f64);
    for f in functions() {
        let bin = a.bin_dir.join(&f);
        if !bin.exists() {
            println!("  {f:<31} not built at {} (make build)", bin.display());
            continue;
        }
        let Some(event) = event_for(&f, member, "cold").await else {
            continue;
        };
        let (mut runs, mut floors, mut last) = (Vec::new(), Vec::new(), String::new());
        for i in 0..=a.runs {
            let fl = cold_once(emu, &floor, "quell-floor", &env, &idle).await?;
            let c = cold_once(emu, &bin, &f, &env, &event).await?;
            last = c.outcome.clone();
            if i > 0 {
                runs.push(c);
                floors.push(fl);
            }
        }
        let init = median(runs.iter().map(|c| c.init_ms));
        let finit = median(floors.iter().map(|c| c.init_ms));
        let rss = median(runs.iter().map(|c| c.rss_mb));
        let frss = median(floors.iter().map(|c| c.rss_mb));
        let over = median(runs.iter().map(Cold::overhead_ms));
        let (ir, rr) = (init / finit, rss / frss);
        (worst_init, worst_rss, worst_over) =
            (worst_init.max(ir), worst_rss.max(rr), worst_over.max(over));
        println!(
            "  {f:<31} {init:>7.2} {finit:>6.2} {ir:>5.2} {:>8.1} {:>7.1} {:>5} {over:>6.2} {rss:>7.1} {frss:>6.1} {rr:>5.2} {:>10} {:>10}  {last}",
            median(runs.iter().map(|c| c.first_ms)),
            median(runs.iter().map(|c| c.emulator_ms)),
            runs.last().map(|c| c.calls).unwrap_or(0),
            format!("{:.1}/{:.1}", median(runs.iter().map(|c| c.anon_mb)), median(runs.iter().map(|c| c.file_mb))),
            format!("{:.1}/{:.1}", median(floors.iter().map(|c| c.anon_mb)), median(floors.iter().map(|c| c.file_mb))),
        );
    }
    println!(
        "  worst: init {worst_init:.2}× the floor (goal ≤ 1.5), peak RSS {worst_rss:.2}× (goal ≤ 2), first response {worst_over:.2} ms beyond the emulator's time (goal ≤ 2)"
    );
    Ok(())
}

/// 2. Warm path: per-event latency in one warm context, and the AWS calls each remediation makes.
async fn warm_path(emu: &Emulator, member: &aws_config::SdkConfig, n: usize) -> Result<(), String> {
    println!("\n## warm path: s3-block-public-access, {n} distinct public buckets, one warm context (in-process, same code as the Lambda)");
    let ctx = context(
        emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "s3-block-public-access",
    );
    let mut evs = Vec::new();
    for i in 0..n {
        let b = format!("bench-warm-{i}");
        seed::public_bucket(member, &b, &[]).await;
        evs.push(events::load(
            "config-s3-bucket-public-read-prohibited.json",
            &[("quell-demo-public-assets", &b)],
        ));
    }
    // One to warm the session cache, then the measured ones.
    let warm = events::load(
        "config-s3-bucket-public-read-prohibited.json",
        &[("quell-demo-public-assets", "bench-warm-0")],
    );
    let _ = quell::runtime::handle(&s3_block_public_access::S3BlockPublicAccess, &ctx, warm).await;
    emu.clear_calls().await;
    let mut ms = Vec::new();
    for e in evs.iter().skip(1) {
        let t = Instant::now();
        let r = quell::runtime::handle(
            &s3_block_public_access::S3BlockPublicAccess,
            &ctx,
            e.clone(),
        )
        .await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if let Err(e) = r {
            return Err(format!("warm path failed: {e}"));
        }
    }
    let calls = emu.calls().await;
    let per = calls.len() as f64 / ms.len() as f64;
    let (p50, min, max, p99) = stats(ms);
    println!("  latency ms: p50 {p50:.2}  p99 {p99:.2}  min {min:.2}  max {max:.2}");
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &calls {
        *by.entry(format!("{} {}", c.service, c.action)).or_default() += 1;
    }
    println!(
        "  AWS calls per finding: {per:.2} (AssumeRole: {} for {} findings: the session is cached)",
        by.get("sts AssumeRole").copied().unwrap_or(0),
        n - 1
    );
    for (k, v) in &by {
        println!("    {:<40} {:.2}/finding", k, *v as f64 / (n - 1) as f64);
    }
    println!("  minimum for this source (a Config event has no Security Hub finding): tags read 1, state read 1, write 1, verifying read 1, import 1, workflow update 1 = 6");
    Ok(())
}

fn handler(name: &str) -> Option<Box<dyn quell::runtime::Handler>> {
    Some(match name {
        "s3-block-public-access" => Box::new(s3_block_public_access::S3BlockPublicAccess),
        "iam-disable-access-key" => {
            Box::new(iam_disable_access_key::IamDisableAccessKey::default())
        }
        "iam-revoke-role-sessions" => {
            Box::new(iam_revoke_role_sessions::IamRevokeRoleSessions::default())
        }
        "ec2-isolate-instance" => Box::new(ec2_isolate_instance::Ec2IsolateInstance::default()),
        "ec2-revoke-open-ingress" => {
            Box::new(ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default())
        }
        "ec2-close-default-sg" => Box::new(ec2_close_default_sg::Ec2CloseDefaultSg),
        "s3-enable-default-encryption" => {
            Box::new(s3_enable_default_encryption::S3EnableDefaultEncryption::default())
        }
        "s3-require-tls" => Box::new(s3_require_tls::S3RequireTls),
        "ebs-encryption-by-default" => Box::new(ebs_encryption_by_default::EbsEncryptionByDefault),
        "ec2-require-imdsv2" => Box::new(ec2_require_imdsv2::Ec2RequireImdsv2),
        "iam-password-policy" => Box::new(iam_password_policy::IamPasswordPolicy::default()),
        "cloudtrail-restore-logging" => {
            Box::new(cloudtrail_restore_logging::CloudtrailRestoreLogging)
        }
        "s3-account-public-access-block" => {
            Box::new(s3_account_public_access_block::S3AccountPublicAccessBlock)
        }
        "cloudtrail-alarm-response" => {
            Box::new(cloudtrail_alarm_response::CloudtrailAlarmResponse::default())
        }
        "s3-restrict-bucket-policy" => {
            Box::new(s3_restrict_bucket_policy::S3RestrictBucketPolicy::default())
        }
        "iam-restrict-role-trust" => {
            Box::new(iam_restrict_role_trust::IamRestrictRoleTrust::default())
        }
        "guardduty-escalate" => Box::new(guardduty_escalate::GuarddutyEscalate),
        "tamper-restore" => Box::new(tamper_restore::TamperRestore::default()),
        "kms-enable-key-rotation" => {
            Box::new(kms_enable_key_rotation::KmsEnableKeyRotation::default())
        }
        "ebs-snapshot-private" => Box::new(ebs_snapshot_private::EbsSnapshotPrivate::default()),
        "lambda-contain-function" => {
            Box::new(lambda_contain_function::LambdaContainFunction::default())
        }
        "sqs-encrypt-queue" => Box::new(sqs_encrypt_queue::SqsEncryptQueue),
        "sns-encrypt-topic" => Box::new(sns_encrypt_topic::SnsEncryptTopic::default()),
        "lambda-remove-public-access" => {
            Box::new(lambda_remove_public_access::LambdaRemovePublicAccess)
        }
        "ec2-subnet-no-public-ip" => Box::new(ec2_subnet_no_public_ip::Ec2SubnetNoPublicIp),
        "rds-deletion-protection" => Box::new(rds_deletion_protection::RdsDeletionProtection),
        "rds-snapshot-private" => Box::new(rds_snapshot_private::RdsSnapshotPrivate),
        "rds-instance-private" => Box::new(rds_instance_private::RdsInstancePrivate),
        "ssm-document-private" => Box::new(ssm_document_private::SsmDocumentPrivate),
        "dynamodb-deletion-protection" => {
            Box::new(dynamodb_deletion_protection::DynamodbDeletionProtection)
        }
        _ => return None,
    })
}

/// 2b. The AWS calls of one finding per remediation, warm (the member session already cached),
///     beside the minimum its outcome needs: one read to decide, each write, one verifying read,
///     the Security Hub record (an import first where the source has no Security Hub finding).
async fn calls_per_remediation(
    emu: &Emulator,
    member: &aws_config::SdkConfig,
) -> Result<(), String> {
    println!("\n## AWS calls per remediation: one finding each, warm session, enforce (in-process, same code as the Lambda)");
    println!(
        "  {:<31} {:>17} {:>5} {:>5} {:>6} {:>4} {:>5} {:>5}",
        "function", "outcome", "reads", "writes", "hub", "sts", "total", "min"
    );
    for f in functions() {
        let Some(h) = handler(&f) else { continue };
        let ctx = context(
            emu,
            Config {
                mode: Some(Mode::Enforce),
                ..Config::default()
            },
            &f,
        );
        // Warm the session cache on the account, then count one fresh finding.
        ctx.members
            .session("aws", MEMBER, REGION)
            .await
            .map_err(|e| e.to_string())?;
        let Some(event) = event_for(&f, member, "calls").await else {
            continue;
        };
        let Ok(intake) = quell::event::Envelope::parse(event) else {
            continue;
        };
        let Some(Ok(finding)) = intake.findings.into_iter().next() else {
            continue;
        };
        emu.clear_calls().await;
        let Some(report) = h.handle(&ctx, &finding).await.into_iter().next() else {
            continue;
        };
        let calls = emu.calls().await;
        let is_read = |a: &str| {
            [
                "Describe",
                "Get",
                "List",
                "Head",
                "GET ",
                "HEAD ",
                "LookupEvents",
            ]
            .iter()
            .any(|p| a.starts_with(p))
        };
        let hub = calls.iter().filter(|c| c.service == "securityhub").count();
        let sts = calls.iter().filter(|c| c.service == "sts").count();
        let reads = calls
            .iter()
            .filter(|c| {
                !["securityhub", "sts", "sns"].contains(&c.service.as_str()) && is_read(&c.action)
            })
            .count();
        let writes = calls
            .iter()
            .filter(|c| {
                !["securityhub", "sts", "sns"].contains(&c.service.as_str()) && !is_read(&c.action)
            })
            .count();
        let name = report.outcome.name();
        let hub_min = if finding.hub.is_some() { 1 } else { 2 };
        let min = match name {
            "REMEDIATED" => 1 + writes + 1 + hub_min,
            "ALREADY_COMPLIANT" | "PLANNED" => 1 + hub_min,
            _ => hub,
        };
        println!(
            "  {f:<31} {name:>17} {reads:>5} {writes:>5} {hub:>6} {sts:>4} {:>5} {min:>5}",
            calls.len()
        );
    }
    println!("  (min: one read to decide, each write made, one verifying read, the Security Hub record; reads above it are the exemption-tag read and per-resource reads of composite remediations)");
    Ok(())
}

/// 5. Side by side with Cloud Custodian: the same three remediations on the same emulator, each
///    tool on its own copy of each problem, one process per event as each is meant to run.
async fn side_by_side(emu: &Emulator, a: &Args) -> Result<(), String> {
    println!("\n## side by side with Cloud Custodian (c7n 0.9.53, pull mode narrowed to the event's resource)");
    let Some(custodian) = &a.custodian else {
        println!("  skipped: no --custodian (make bench installs it in .venv-c7n)");
        return Ok(());
    };
    const OTHER: &str = "222222222222";
    let member = emu.account_config(OTHER).await;
    seed::member_role(&member, CENTRAL).await;
    let env = lambda_env(emu);
    let python = project_root().join(".venv/bin/python");
    let role = format!("arn:aws:iam::{OTHER}:role/quell-s3-block-public-access");
    println!(
        "  {:<24} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7} {:>7} {:>7}",
        "remediation",
        "quell ms",
        "c7n ms",
        "ratio",
        "quell MB",
        "c7n MB",
        "ratio",
        "quell#",
        "c7n#"
    );
    for case in [
        "s3-block-public-access",
        "ec2-revoke-open-ingress",
        "iam-disable-access-key",
    ] {
        // quell's copy of the problem, and its event.
        let (event, policy) = match case {
            "s3-block-public-access" => {
                seed::public_bucket(&member, "side-quell", &[]).await;
                seed::public_bucket(&member, "side-c7n", &[]).await;
                (
                    events::load(
                        "config-s3-bucket-public-read-prohibited.json",
                        &[("quell-demo-public-assets", "side-quell"), (MEMBER, OTHER)],
                    ),
                    serde_json::json!({"policies": [{"name": "s3-block-public-access", "resource": "aws.s3",
                        "filters": [{"Name": "side-c7n"}], "actions": [{"type": "set-public-block"}]}]}),
                )
            }
            "ec2-revoke-open-ingress" => {
                let q = open_ssh_group(&member, "side-quell").await;
                let c = open_ssh_group(&member, "side-c7n").await;
                (
                    events::load(
                        "config-restricted-ssh.json",
                        &[("sg-0a1b2c3d4e5f60718", &q), (MEMBER, OTHER)],
                    ),
                    serde_json::json!({"policies": [{"name": "ec2-revoke-open-ingress", "resource": "aws.security-group",
                        "filters": [{"GroupId": c}, {"type": "ingress", "Ports": [22], "Cidr": {"value": "0.0.0.0/0"}}],
                        "actions": [{"type": "remove-permissions", "ingress": "matched"}]}]}),
                )
            }
            _ => {
                let (_, qk) = seed::user_with_keys(&member, "side-quell").await;
                let (_, ck) = seed::user_with_keys(&member, "side-c7n").await;
                (
                    events::load(
                        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
                        &[
                            ("AKIAQUELLDEMOLEAKED1", &qk[0]),
                            ("ci-deployer", "side-quell"),
                            (MEMBER, OTHER),
                        ],
                    ),
                    serde_json::json!({"policies": [{"name": "iam-disable-access-key", "resource": "aws.iam-user",
                        "filters": [{"UserName": "side-c7n"}, {"type": "access-key", "key": "AccessKeyId", "value": ck[0]}],
                        "actions": [{"type": "remove-keys", "disable": true, "matched": true}]}]}),
                )
            }
        };
        let bin = a.bin_dir.join(case);
        if !bin.exists() {
            println!("  {case:<24} not built at {}", bin.display());
            continue;
        }
        let q = cold_once(emu, &bin, case, &env, &event).await?;
        let (q_ms, q_mb, outcome, q_calls) = (q.first_ms, q.rss_mb, q.outcome, q.calls);
        if outcome != "REMEDIATED" {
            println!("  {case:<24} quell said {outcome}");
        }

        let dir = std::env::temp_dir().join(format!("quell-c7n-{}-{case}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let policy_file = dir.join("policy.json");
        std::fs::write(&policy_file, policy.to_string()).map_err(|e| e.to_string())?;
        emu.clear_calls().await;
        let out = tokio::process::Command::new(&python)
            .arg(project_root().join("bench/custodian_run.py"))
            .arg(custodian)
            .arg(&policy_file)
            .arg(dir.join("out"))
            .arg(&role)
            .arg(REGION)
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_ACCESS_KEY_ID", "central")
            .env("AWS_SECRET_ACCESS_KEY", "central-secret")
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .await
            .map_err(|e| format!("could not run custodian: {e}"))?;
        let c_calls = emu.calls().await.len();
        let r: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "custodian_run.py said: {e}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let c_ms = r["seconds"].as_f64().unwrap_or(0.0) * 1e3;
        let c_mb = r["maxrss_kb"].as_f64().unwrap_or(0.0) / 1024.0;
        if r["rc"] != 0 || r["resources"] != 1 {
            println!(
                "  {case:<24} custodian rc={} resources={}: {}",
                r["rc"],
                r["resources"],
                r["stderr"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "  {case:<24} {q_ms:>9.1} {c_ms:>9.1} {:>7.3} {q_mb:>9.1} {c_mb:>9.1} {:>7.3} {q_calls:>7} {c_calls:>7}",
            q_ms / c_ms,
            q_mb / c_mb,
        );
    }
    println!("  (ratio = quell / Custodian; # = AWS calls the emulator served for the run, quell's Security Hub record included)");
    Ok(())
}

/// A security group with SSH open to the world, in the member's default VPC.
async fn open_ssh_group(member: &aws_config::SdkConfig, name: &str) -> String {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let ec2 = aws_sdk_ec2::Client::new(member);
    let vpc = ec2
        .describe_vpcs()
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.vpcs
                .unwrap_or_default()
                .into_iter()
                .find(|v| v.is_default == Some(true))
        })
        .and_then(|v| v.vpc_id)
        .unwrap_or_default();
    let id = ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc)
        .send()
        .await
        .ok()
        .and_then(|o| o.group_id)
        .unwrap_or_default();
    let _ = ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await;
    id
}
