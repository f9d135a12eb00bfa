//! `quell`: for the people who operate it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use quell::runtime::Context;
use quell::{Config, Mode};
use quell_cli::ops;
use quell_cli::run::{exit, EventRun, Runner, Tally};
use quell_cli::sweep::{self, Progress, Scope, Summary};
use quell_cli::{registry, route_indices, template};

const EXIT_CODES: &str = "Exit codes: 0 done; 1 refused or could not start (nothing changed); \
2 usage; 3 no remediation's rules match the event; 4 a remediation failed, a finding was refused \
or an outcome not recorded (a person must look); 5 a failure worth retrying (run it again).";

#[derive(Parser)]
#[command(
    name = "quell",
    version,
    about = "Closes the loop on AWS security findings.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// The AWS region to call (replay, sweep, pause, resume, redrive, undo); otherwise AWS_REGION
    /// or the profile's.
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile to call with (replay, sweep, pause, resume, redrive, undo); otherwise
    /// AWS_PROFILE or the default chain.
    #[arg(long, global = true)]
    profile: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The remediations: their triggers, member permissions and default mode.
    List {
        /// `table` (a line each) or `json` (everything, the rules' patterns included).
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// What quell answers: the Security Hub controls beside Automated Security Response's
        /// list, every documented GuardDuty type and its answer, the Config rules and the alarms.
        #[arg(long, conflicts_with = "output")]
        coverage: bool,
    },
    /// The member roles' policies (`quell-<function>` and `quell-undo`), or one function's: what
    /// member/roles.yaml grants, as JSON.
    Policy {
        /// One function's id, or `quell-undo`.
        function: Option<String>,
    },
    /// Prints a generated template or document.
    Template {
        #[arg(value_enum)]
        which: Which,
    },
    /// Puts back what quell changed for a finding, from the prior state it recorded before the
    /// change (QUELL_STATE_TABLE), and records that it did. Assumes the member's `quell-undo`
    /// role (QUELL_MEMBER_ROLE overrides); the account lists apply.
    Undo {
        /// The finding's id, as the report and the Security Hub note name it.
        #[arg(required_unless_present = "list")]
        finding_id: Option<String>,
        /// List the recorded changes that can be undone (not yet undone), and change nothing.
        #[arg(long, conflicts_with = "finding_id")]
        list: bool,
        /// With --list: only this account's.
        #[arg(long, requires = "list")]
        account: Option<String>,
        /// The function whose change to undo, when several changed the finding.
        #[arg(long)]
        function: Option<String>,
        /// Print the record (function, account, region, resource, the state it would put back)
        /// and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Routes an event as the deployed rules would and runs the matching remediations in-process,
    /// with the same code as the Lambda functions. Dry-run unless `--mode enforce`, whatever
    /// QUELL_MODE and the remediations' defaults say.
    Replay {
        /// An EventBridge event, as JSON.
        event: PathBuf,
        /// `dry-run` (the default: plans, changes nothing) or `enforce` (acts).
        #[arg(long, value_enum, default_value = "dry-run")]
        mode: ModeArg,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
        /// Print the full reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Finds the open findings the remediations would act on — Security Hub control findings
    /// (FAILED, ACTIVE, workflow NEW or NOTIFIED) and, with --config-aggregator, Config's
    /// non-compliant resources — and runs them in-process through the same code as the Lambda.
    /// Dry-run unless `--mode enforce`; caps and the loop breaker apply as in the Lambda.
    Sweep {
        /// Only this remediation's findings (repeatable); otherwise every remediation's.
        #[arg(long)]
        function: Vec<String>,
        /// Only this member account's findings (repeatable).
        #[arg(long)]
        account: Vec<String>,
        /// Only findings of this region (repeatable); the Security Hub called is --region's.
        #[arg(long)]
        finding_region: Vec<String>,
        /// The AWS Config aggregator (in this account and region) to read non-compliant
        /// resources from; without it, Security Hub alone is swept.
        #[arg(long)]
        config_aggregator: Option<String>,
        /// Send each finding to the deployed function (Lambda Invoke) instead of running it
        /// here: the function's own role, mode and settings apply. Without `--mode enforce`,
        /// lists what it would send and invokes nothing.
        #[arg(long)]
        invoke: bool,
        /// At most this many findings in one sweep.
        #[arg(long, default_value_t = 500)]
        limit: usize,
        /// `dry-run` (the default: plans, changes nothing) or `enforce` (acts).
        #[arg(long, value_enum, default_value = "dry-run")]
        mode: ModeArg,
        /// `table` (a line per finding, then a summary) or `json`.
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Stops every quell function in this account and region at once: reserved concurrency 0
    /// (Lambda's own kill switch), the previous value recorded in the function's `quell:paused`
    /// tag. Events wait and are retried by Lambda up to their maximum age. `quell resume` undoes it.
    Pause {
        /// Only this remediation's function (repeatable).
        #[arg(long)]
        function: Vec<String>,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Puts back the reserved concurrency `quell pause` recorded on each paused function.
    Resume {
        /// Only this remediation's function (repeatable).
        #[arg(long)]
        function: Vec<String>,
        /// The reserved concurrency to set, whatever was recorded (for a stack deployed with
        /// Paused=true, which records nothing).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        concurrency: Option<i32>,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Reads the dead-letter queue and runs each message in-process through the remediation it
    /// was meant for (its TARGET_ARN's, or the rules'); with `--mode enforce`, deletes a message
    /// only when every remediation it reached succeeded. Dry-run by default: plans, deletes nothing.
    Redrive {
        /// The queue's name or URL.
        #[arg(long, default_value = "quell-dead-letters")]
        queue: String,
        /// Send each message to its deployed function (Lambda Invoke) instead of running it
        /// here. Without `--mode enforce`, lists what it would send and invokes nothing.
        #[arg(long)]
        invoke: bool,
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        max: usize,
        /// `dry-run` (the default) or `enforce` (acts, and deletes what succeeded).
        #[arg(long, value_enum, default_value = "dry-run")]
        mode: ModeArg,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// An AWS endpoint (a local emulator); otherwise AWS_ENDPOINT_URL or AWS itself.
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    /// template.yaml, the central account's stack.
    Central,
    /// member/roles.yaml: global IAM, once in every member account.
    MemberRoles,
    /// member/regional.yaml: forwarding, in every member account and Region.
    MemberRegional,
    /// org/trail.yaml: the CIS alarms on the organization trail's log group, where it lives.
    Trail,
    /// The Markdown table of remediations.
    Docs,
    /// docs/scp.json: the service control policy that keeps members from blinding the
    /// organization.
    Scp,
    /// org/scp.yaml: the management account's stack that attaches it.
    ScpStack,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Enforce,
    DryRun,
}

impl ModeArg {
    fn mode(self) -> Mode {
        match self {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::DryRun => Mode::DryRun,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let specs = registry::specs();
    match cli.cmd {
        Cmd::List { coverage: true, .. } => print!("{}", template::coverage(&specs)),
        Cmd::List { output, .. } => match output {
            Output::Json => {
                let all: Vec<serde_json::Value> = specs.iter().map(spec_json).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            Output::Table => {
                println!("{:<32} {:<8} TRIGGERS", "REMEDIATION", "DEFAULT");
                for s in &specs {
                    println!(
                        "{:<32} {:<8} {}",
                        s.id,
                        s.default_mode.as_str(),
                        template::triggers_summary(&s.triggers)
                    );
                }
            }
        },
        Cmd::Policy { function } => {
            let all = template::member_policies(&specs);
            let out = match function {
                None => all,
                Some(f) => {
                    let role = if f == template::UNDO_ROLE {
                        f
                    } else {
                        format!("quell-{f}")
                    };
                    all.get(&role).cloned().with_context(|| {
                        format!("no member role {role}: `quell list` names the functions")
                    })?
                }
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Cmd::Template { which } => match which {
            Which::Central => print!("{}", template::central(&specs)),
            Which::MemberRoles => print!("{}", template::member_roles(&specs)),
            Which::MemberRegional => print!("{}", template::member_regional(&specs)),
            Which::Trail => print!("{}", template::trail(&specs)),
            Which::Docs => print!("{}", template::docs_table(&specs)),
            Which::Scp => println!(
                "{}",
                serde_json::to_string_pretty(&template::scp(&specs)).unwrap_or_default()
            ),
            Which::ScpStack => print!("{}", template::scp_stack(&specs)),
        },
        Cmd::Undo {
            finding_id,
            list,
            account,
            function,
            dry_run,
            endpoint,
        } => {
            let mut config = Config::from_env()?;
            if config.state_table.is_none() {
                bail!("QUELL_STATE_TABLE is not set: undo reads the prior state recorded there");
            }
            if config.member_role.is_none() {
                config.member_role = Some(template::UNDO_ROLE.to_string());
            }
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            let handlers = registry::handlers();
            let ctx = Context::new(&sdk, config, template::UNDO_ROLE);
            let state = ctx.state.as_ref().context("no state table")?;
            if list {
                let records = state
                    .undo_records(|k| {
                        account.as_deref().is_none_or(|a| k.account == a)
                            && function.as_deref().is_none_or(|f| k.function == f)
                    })
                    .await?;
                let mut shown = 0;
                for (k, prior) in records {
                    match prior {
                        Ok(p) if p.undone_at.is_some() => {}
                        Ok(p) => {
                            shown += 1;
                            println!(
                                "{}  {}  {}/{}  {}",
                                k.finding, k.function, k.account, k.region, p.target
                            );
                        }
                        Err(e) => {
                            shown += 1;
                            println!("{}  {}  cannot be undone: {e}", k.finding, k.function);
                        }
                    }
                }
                if shown == 0 {
                    println!("no recorded change is left to undo");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let finding_id = finding_id.context("name a finding, or --list")?;
            let keys: Vec<_> = state
                .priors_of_finding(&finding_id)
                .await?
                .into_iter()
                .filter(|k| function.as_deref().is_none_or(|f| k.function == f))
                .collect();
            let key =
                match keys.as_slice() {
                    [] => bail!("no change is recorded for finding {finding_id}"),
                    [one] => one.clone(),
                    many => bail!(
                    "several functions changed finding {finding_id}: {}; name one with --function",
                    many.iter().map(|k| k.function.as_str()).collect::<Vec<_>>().join(", ")
                ),
                };
            let Some(prior) = state.prior_state(&key).await? else {
                bail!("no change is recorded for {key}");
            };
            if let Some(when) = &prior.undone_at {
                bail!("the change of {key} was already undone at {when}");
            }
            if dry_run {
                println!(
                    "quell undo --dry-run: {} would put back {} in {}/{} as recorded: {}",
                    key.function, prior.target, prior.account, prior.region, prior.prior
                );
                if let Err(why) = ctx.config.account_allowed(&prior.account) {
                    println!("  (and would refuse: {why})");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let h = handlers
                .iter()
                .find(|h| h.spec().id == key.function)
                .with_context(|| {
                    format!(
                        "finding {finding_id} was changed by {}, which this build does not have",
                        key.function
                    )
                })?;
            let steps = quell::runtime::undo_finding(h.as_ref(), &ctx, &prior, &key).await?;
            let text: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
            let message = format!(
                "quell undo: {} for finding {finding_id} on {} in {}: {}",
                prior.function,
                prior.target,
                prior.account,
                text.join("; ")
            );
            ctx.notifier
                .escalate(&format!("quell undo: {}", prior.function), &message)
                .await?;
            println!("{message}");
        }
        Cmd::Replay {
            event,
            mode,
            endpoint,
            json,
        } => {
            let text = std::fs::read(&event)
                .with_context(|| format!("could not read {}", event.display()))?;
            let value: serde_json::Value = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not JSON", event.display()))?;
            let mut config = Config::from_env()?;
            config.mode = Some(mode.mode());
            // No AWS call is made before the event is parsed and routed.
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            let runner = Runner::new(&sdk, config);
            let runs = match runner.run(&value, &[]).await {
                EventRun::Refused(e) => bail!("{} is refused: {e}", event.display()),
                EventRun::NoRule { detail_type } => {
                    eprintln!("error: no remediation's rules match this {detail_type} event");
                    return Ok(ExitCode::from(exit::NO_RULE));
                }
                EventRun::Ran(runs) => runs,
            };
            if matches!(mode, ModeArg::DryRun) {
                eprintln!("quell replay: dry-run, nothing is changed (--mode enforce acts); plans are recorded and sent as a dry-run function does");
            }
            let mut tally = Tally::default();
            for r in &runs {
                tally.add(r);
                if json {
                    println!("{}", serde_json::to_string_pretty(&r.json())?);
                } else {
                    println!("{}", r.line());
                }
            }
            return Ok(ExitCode::from(tally.code()));
        }
        Cmd::Sweep {
            function,
            account,
            finding_region,
            config_aggregator,
            invoke,
            limit,
            mode,
            output,
            endpoint,
        } => {
            check_functions(&function, &specs)?;
            for a in &account {
                if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("--account {a:?} is not a 12-digit account id");
                }
            }
            // GetFindings takes at most 20 values in a filter.
            if account.len() > 20 || finding_region.len() > 20 {
                bail!("at most 20 --account and 20 --finding-region values: sweep in parts");
            }
            let mut config = Config::from_env()?;
            config.mode = Some(mode.mode());
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            let region = sdk
                .region()
                .map(|r| r.to_string())
                .context("no region: name the Security Hub administrator's with --region")?;
            let (me, partition) = whoami(&sdk, &region).await?;
            let enforce = matches!(mode, ModeArg::Enforce);
            let runner = with_deployed(Runner::new(&sdk, config), &sdk, invoke, enforce).await?;
            let scope = Scope {
                functions: function.clone(),
                accounts: account,
                regions: finding_region,
                aggregator: config_aggregator,
                limit,
            };
            let only: Vec<&str> = function.iter().map(String::as_str).collect();
            let mut progress = Progress::new(0);
            progress.show(0, "reading Security Hub");
            let mut candidates =
                sweep::hub_candidates(&sdk, &specs, &scope, (&me, &region, &partition), |n| {
                    progress.show(n, "reading Security Hub")
                })
                .await?;
            if let Some(agg) = &scope.aggregator {
                let takes = |e: &serde_json::Value| {
                    route_indices(runner.handlers(), e)
                        .iter()
                        .any(|&i| only.is_empty() || only.contains(&runner.handlers()[i].spec().id))
                };
                let more =
                    sweep::config_candidates(&sdk, agg, &scope, candidates.len(), takes, |n| {
                        progress.show(n, "reading AWS Config")
                    })
                    .await?;
                candidates.extend(more);
            }
            progress.set_total(candidates.len());
            if matches!(mode, ModeArg::DryRun) {
                eprintln!("\nquell sweep: dry-run: no resource is changed; as a dry-run function does, each plan is recorded on its finding (NOTIFIED) and sent to the topic (--mode enforce acts)");
            }
            let (mut tally, mut summary, mut found) =
                (Tally::default(), Summary::default(), Vec::new());
            for (n, c) in candidates.iter().enumerate() {
                progress.show(n, &c.label);
                let mut results = Vec::new();
                match runner.run(&c.event, &only).await {
                    EventRun::Refused(e) => {
                        tally.failed = true;
                        summary.add("(refused)", "REFUSED");
                        results.push(serde_json::json!({"outcome": "REFUSED", "error": e}));
                        if output == Output::Table {
                            println!("{}  {}  REFUSED  {e}", c.from, c.label);
                        }
                    }
                    EventRun::NoRule { .. } => {
                        summary.add("(no rule)", "NO_RULE");
                        if output == Output::Table {
                            println!(
                                "{}  {}  NO_RULE  no remediation asked for takes it",
                                c.from, c.label
                            );
                        }
                    }
                    EventRun::Ran(runs) => {
                        for r in &runs {
                            tally.add(r);
                            summary.add(&r.function, r.outcome());
                            results.push(r.json());
                            if output == Output::Table {
                                println!("{}", r.line());
                            }
                        }
                    }
                }
                found.push(
                    serde_json::json!({"from": c.from, "finding": c.label, "results": results}),
                );
            }
            progress.show(candidates.len(), "done");
            progress.done();
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "mode": mode.mode().as_str(),
                        "findings": found,
                        "summary": summary.json(),
                        "limit_reached": candidates.len() >= limit,
                    }))?
                ),
                Output::Table => {
                    println!("\n{}", summary.table());
                    if candidates.len() >= limit {
                        println!("the limit of {limit} findings was reached: sweep again, or raise --limit");
                    }
                }
            }
            return Ok(ExitCode::from(tally.code()));
        }
        Cmd::Pause {
            function,
            output,
            endpoint,
        } => {
            check_functions(&function, &specs)?;
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            return pause_or_resume(&sdk, &function, None, output).await;
        }
        Cmd::Resume {
            function,
            concurrency,
            output,
            endpoint,
        } => {
            check_functions(&function, &specs)?;
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            return pause_or_resume(&sdk, &function, Some(concurrency), output).await;
        }
        Cmd::Redrive {
            queue,
            invoke,
            max,
            mode,
            output,
            endpoint,
        } => {
            let mut config = Config::from_env()?;
            config.mode = Some(mode.mode());
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let lambda = aws_sdk_lambda::Client::new(&sdk);
            let url = ops::queue_url(&sqs, &queue).await?;
            let enforce = matches!(mode, ModeArg::Enforce);
            let runner = with_deployed(Runner::new(&sdk, config), &sdk, invoke, enforce).await?;
            if !enforce {
                eprintln!("quell redrive: dry-run: no resource is changed and no message deleted; plans are recorded and sent as a dry-run function does (--mode enforce acts)");
            }
            let mut all = Vec::new();
            let hub = aws_sdk_securityhub::Client::new(&sdk);
            let region = sdk
                .region()
                .map(|r| r.to_string())
                .context("no region: name the queue's with --region")?;
            let (me, partition) = whoami(&sdk, &region).await?;
            let at = (me.as_str(), region.as_str(), partition.as_str());
            let letters_at = ops::DeadLetters {
                sqs: &sqs,
                lambda: &lambda,
                hub: &hub,
                at,
                url: &url,
            };
            let redriven = ops::redrive(&letters_at, &runner, max, enforce, |l, reports| {
                if output == Output::Table {
                    for (_, line) in &l.results {
                        println!("{}  {line}", l.message_id);
                    }
                    println!(
                        "{}  {}",
                        l.message_id,
                        if l.deleted { "deleted" } else { "kept" }
                    );
                } else {
                    all.push(l.json(reports));
                }
            })
            .await?;
            let letters = redriven.letters;
            let mut tally = Tally::default();
            for l in &letters {
                tally.failed |= l.tally.failed;
                tally.retryable |= l.tally.retryable;
            }
            if let Some(why) = &redriven.stopped {
                eprintln!("error: stopped early: {why}");
                tally.failed = true;
            }
            let deleted = letters.iter().filter(|l| l.deleted).count();
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "mode": mode.mode().as_str(),
                        "messages": all,
                        "read": letters.len(),
                        "deleted": deleted,
                    }))?
                ),
                Output::Table => println!(
                    "\n{} message(s) read, {deleted} replayed and deleted, {} kept",
                    letters.len(),
                    letters.len() - deleted
                ),
            }
            return Ok(ExitCode::from(tally.code()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The caller's account (sts:GetCallerIdentity) and the region's partition: where quell's own
/// Security Hub action target is.
async fn whoami(sdk: &aws_config::SdkConfig, region: &str) -> anyhow::Result<(String, String)> {
    let me = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            )
        })
        .context("who is calling (sts:GetCallerIdentity)")?;
    Ok((
        me.account().unwrap_or_default().to_string(),
        quell::finding::validate::partition_of(region).to_string(),
    ))
}

/// The deployed functions of this account and region: with `--invoke`, the runner sends events
/// to them; acting (enforce), it leaves alone the remediations `quell pause` paused. A dry run
/// without `--invoke` reads nothing.
async fn with_deployed(
    runner: Runner,
    sdk: &aws_config::SdkConfig,
    invoke: bool,
    enforce: bool,
) -> anyhow::Result<Runner> {
    if !invoke && !enforce {
        return Ok(runner);
    }
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let (found, unread) = ops::quell_functions(&lambda, &[]).await?;
    if !unread.is_empty() {
        // A function whose pause cannot be read may be paused: do not act for it blindly.
        bail!("{}", unread.join("; "));
    }
    let paused = found
        .iter()
        .filter(|f| f.paused.is_some())
        .map(|f| f.remediation.clone())
        .collect();
    let runner = runner.pausing(paused);
    if !invoke {
        return Ok(runner);
    }
    let functions = found.into_iter().map(|f| (f.remediation, f.name)).collect();
    Ok(runner.invoking(quell_cli::run::Deployed { lambda, functions }))
}

/// Refuses a `--function` that names no remediation, before any AWS call.
fn check_functions(asked: &[String], specs: &[quell::Spec]) -> anyhow::Result<()> {
    let names: Vec<&str> = specs.iter().map(|s| s.id).collect();
    for f in asked {
        if !names.contains(&f.as_str()) {
            bail!(
                "--function {f:?} is not a remediation: one of {}",
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// `quell pause` (`resume` None) or `quell resume` (`resume` Some: the --concurrency, if any) of
/// the quell functions `only` names (all when empty).
async fn pause_or_resume(
    sdk: &aws_config::SdkConfig,
    only: &[String],
    resume: Option<Option<i32>>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let (found, unread) = ops::quell_functions(&lambda, only).await?;
    for e in &unread {
        eprintln!("error: {e}");
    }
    if found.is_empty() && unread.is_empty() {
        bail!(
            "no quell function here (a function tagged {}): check --region and --profile",
            ops::REMEDIATION_TAG
        );
    }
    let (what, changes) = match resume {
        None => (
            "paused",
            ops::pause(&lambda, found, &sweep::now_iso()).await,
        ),
        Some(c) => ("resumed", ops::resume(&lambda, found, c).await),
    };
    let code = report_changes(sdk, what, &changes, output).await?;
    if unread.is_empty() {
        Ok(code)
    } else {
        Ok(ExitCode::from(exit::FAILED))
    }
}

/// Prints what pause or resume did, publishes it to quell's topic (QUELL_NOTIFY_TOPIC_ARN) so
/// the channel sees who stopped quell, and exits 4 when a function is not as meant.
async fn report_changes(
    sdk: &aws_config::SdkConfig,
    what: &str,
    changes: &[ops::Change],
    output: Output,
) -> anyhow::Result<ExitCode> {
    match output {
        Output::Json => {
            let all: Vec<serde_json::Value> = changes.iter().map(ops::Change::json).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Output::Table => {
            println!(
                "{:<32} {:<11}    {:<11} WHAT",
                "REMEDIATION", "BEFORE", "AFTER"
            );
            for c in changes {
                println!("{}", c.line());
            }
        }
    }
    let failed = changes.iter().any(|c| c.failed);
    let topic = Config::from_env().ok().and_then(|c| c.notify_topic_arn);
    let lines: Vec<String> = changes.iter().map(ops::Change::line).collect();
    let message = format!("quell {what} from the CLI:\n{}", lines.join("\n"));
    if let Err(e) = quell::notify::Notifier::new(sdk, topic)
        .escalate(&format!("quell: functions {what}"), &message)
        .await
    {
        eprintln!("error: {what}, but the channel was not told: {e}");
        return Ok(ExitCode::from(exit::FAILED));
    }
    Ok(ExitCode::from(if failed { exit::FAILED } else { 0 }))
}

async fn load_sdk(
    endpoint: Option<String>,
    region: Option<String>,
    profile: Option<String>,
) -> aws_config::SdkConfig {
    // As in the functions: a hung call fails (and is reported) instead of holding the command.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(quell::runtime::timeouts(60));
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// One remediation for `quell list --output json`: its declaration and the rules generated from it.
fn spec_json(s: &quell::Spec) -> serde_json::Value {
    let t = &s.triggers;
    serde_json::json!({
        "id": s.id,
        "summary": s.summary,
        "default_mode": s.default_mode.as_str(),
        "triggers": {
            "guardduty": t.guardduty,
            "guardduty_actor_only": t.guardduty_actor_only,
            "guardduty_target_only": t.guardduty_target_only,
            "guardduty_user_types": t.guardduty_user_types,
            "guardduty_other_actors": t.guardduty_other_actors,
            "config_rules": t.config_rules,
            "securityhub_controls": t.securityhub_controls,
            "custom_actions": t.custom_actions,
            "access_analyzer": t.access_analyzer,
            "alarm_metrics": t.alarm_metrics,
            "cloudtrail_events": t.cloudtrail_events,
        },
        "rules": quell::routing::rules(s, &template::TemplateActionTargets)
            .into_iter()
            .map(|r| serde_json::json!({"name": r.name, "pattern": r.pattern}))
            .collect::<Vec<_>>(),
        "resolved": s.resolved,
        "untouched": s.untouched,
        "permissions": s.permissions,
        "undo_permissions": s.undo_permissions,
    })
}
