//! `quell`: for the people who operate it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use quell::runtime::Context;
use quell::{Config, Mode};
use quell_cli::{registry, route, template};

/// What `quell` exits with, so that scripts can tell the cases apart (README: Exit codes).
mod exit {
    /// Something was refused or could not start: an unreadable or refused event, a bad setting,
    /// no record to undo. Nothing was changed on its behalf.
    pub const ERROR: u8 = 1;
    /// Usage: clap's own code for a bad command line.
    #[allow(dead_code)]
    pub const USAGE: u8 = 2;
    /// No remediation's rules match the event: nothing ran.
    pub const NO_RULE: u8 = 3;
    /// A remediation FAILED for good (AccessDenied, not verified), a finding in the event was
    /// refused, or an outcome could not be recorded: a person must look.
    pub const FAILED: u8 = 4;
    /// A remediation failed with an error worth retrying (throttling, a timeout, a 5xx): run it
    /// again.
    pub const RETRYABLE: u8 = 5;
}

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
    /// The AWS region to call (replay, undo); otherwise AWS_REGION or the profile's.
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile to call with (replay, undo); otherwise AWS_PROFILE or the default chain.
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
    },
    /// The member roles' policies (`quell-<function>` and `quell-undo`), or one function's: what
    /// member/member.yaml grants, as JSON.
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    /// template.yaml, the central account's stack.
    Central,
    /// member/member.yaml, every member account's stack.
    Member,
    /// The Markdown table of remediations.
    Docs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Enforce,
    DryRun,
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
        Cmd::List { output } => match output {
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
            Which::Member => print!("{}", template::member(&specs)),
            Which::Docs => print!("{}", template::docs_table(&specs)),
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
            // Bad input is refused here, before any AWS call.
            let intake = quell::event::Envelope::parse_trusted(value.clone(), &config.trust())
                .with_context(|| format!("{} is refused", event.display()))?;
            if intake.findings.iter().all(|f| f.is_err()) {
                if let Some(Err(first)) = intake.findings.first() {
                    bail!("{} is refused: {first}", event.display());
                }
            }
            config.mode = Some(match mode {
                ModeArg::Enforce => Mode::Enforce,
                ModeArg::DryRun => Mode::DryRun,
            });
            let handlers = registry::handlers();
            let matched = route(&handlers, &value);
            if matched.is_empty() {
                eprintln!(
                    "error: no remediation's rules match this {} event",
                    intake.detail_type
                );
                return Ok(ExitCode::from(exit::NO_RULE));
            }
            if matches!(mode, ModeArg::DryRun) {
                eprintln!("quell replay: dry-run, nothing is changed (--mode enforce acts)");
            }
            let sdk = load_sdk(endpoint, cli.region, cli.profile).await;
            let (mut failed, mut retryable) = (false, false);
            for h in matched {
                let spec = h.spec();
                let ctx = Context::new(&sdk, config.clone(), spec.id);
                for (i, f) in intake.findings.iter().enumerate() {
                    let f = match f {
                        Ok(f) => f,
                        Err(e) => {
                            println!("{}  finding {i}: REFUSED  {e}", spec.id);
                            failed = true;
                            continue;
                        }
                    };
                    let report = h.handle(&ctx, f).await;
                    retryable |= report.outcome.is_retryable();
                    failed |= matches!(
                        report.outcome,
                        quell::Outcome::Failed {
                            retryable: false,
                            ..
                        }
                    ) || !report.record_errors.is_empty();
                    if json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        println!(
                            "{}  {}  {}  workflow={}  {}",
                            spec.id,
                            report.resource.as_deref().unwrap_or("-"),
                            report.outcome.name(),
                            report.workflow.map(|w| w.as_str()).unwrap_or("unchanged"),
                            report.note
                        );
                        for e in &report.record_errors {
                            println!("    record error: {e}");
                        }
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(exit::FAILED));
            }
            if retryable {
                return Ok(ExitCode::from(exit::RETRYABLE));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn load_sdk(
    endpoint: Option<String>,
    region: Option<String>,
    profile: Option<String>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
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
            "guardduty_user_types": t.guardduty_user_types,
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
