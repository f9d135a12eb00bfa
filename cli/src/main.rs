//! `quell`: for the people who operate it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use quell::runtime::Context;
use quell::{Config, Mode};
use quell_cli::{registry, route, template};

#[derive(Parser)]
#[command(
    name = "quell",
    version,
    about = "Closes the loop on AWS security findings."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The remediations: their triggers, member permissions and default mode.
    List,
    /// The member roles' policies (`quell-<function>` and `quell-undo`), or one function's.
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
        finding_id: String,
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
    /// with the same code as the Lambda functions.
    Replay {
        /// An EventBridge event, as JSON.
        event: PathBuf,
        /// Overrides QUELL_MODE for this run.
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
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
    /// The member role's policy document (JSON).
    MemberPolicy,
    /// The Markdown table of remediations.
    Docs,
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
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let specs = registry::specs();
    match cli.cmd {
        Cmd::List => {
            for s in &specs {
                println!("{}  ({})", s.id, s.default_mode.as_str());
                println!("    {}", s.summary);
                for r in quell::routing::rules(s, &template::TemplateActionTargets) {
                    println!("    rule {}: {}", r.name, r.pattern);
                }
                println!("    permissions: {}", s.permissions.join(", "));
            }
        }
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
            Which::MemberPolicy => println!(
                "{}",
                serde_json::to_string_pretty(&template::member_policies(&specs))?
            ),
            Which::Docs => print!("{}", template::docs_table(&specs)),
        },
        Cmd::Undo {
            finding_id,
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
            let sdk = load_sdk(endpoint).await;
            let handlers = registry::handlers();
            let ctx = Context::new(&sdk, config, template::UNDO_ROLE);
            let state = ctx.state.as_ref().context("no state table")?;
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
            if let Some(m) = mode {
                config.mode = Some(match m {
                    ModeArg::Enforce => Mode::Enforce,
                    ModeArg::DryRun => Mode::DryRun,
                });
            }
            let handlers = registry::handlers();
            let matched = route(&handlers, &value);
            if matched.is_empty() {
                bail!(
                    "no remediation's rules match this {} event",
                    intake.detail_type
                );
            }
            let sdk = load_sdk(endpoint).await;
            let mut failed = false;
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
                    failed |= report.outcome.is_retryable() || !report.record_errors.is_empty();
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
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn load_sdk(endpoint: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
