//! The Lambda side: configuration and clients loaded once per cold start, one span and one
//! outcome line per finding, the Security Hub record and the SNS message, and the mapping of
//! outcomes to the Lambda result.

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::config::{Config, ConfigError, Mode};
use crate::event::{Envelope, EventError};
use crate::finding::Finding;
use crate::hub::{Hub, HubRecord};
use crate::member::{Member, Members};
use crate::notify::Notifier;
use crate::outcome::{Outcome, Report};
use crate::remediation::{execute, Remediation};

/// Everything a function holds across warm invocations.
pub struct Context {
    pub config: Config,
    pub function: String,
    pub members: Members,
    /// Sessions through [`crate::member::TRAIL_READER_ROLE`], when QUELL_ORG_TRAIL_ACCOUNT names
    /// the account that owns the organization trail's log group.
    pub trail_reader: Option<Members>,
    pub hub: Hub,
    pub notifier: Notifier,
    /// Shared state across invocations, when QUELL_STATE_TABLE names a table.
    pub state: Option<crate::state::State>,
}

impl Context {
    pub fn new(sdk: &SdkConfig, config: Config, function: &str) -> Self {
        Context {
            members: Members::new(
                sdk,
                &config.member_role_of(function),
                config.external_id.clone(),
                function,
            ),
            trail_reader: config.org_trail_account.as_ref().map(|_| {
                Members::new(
                    sdk,
                    crate::member::TRAIL_READER_ROLE,
                    config.external_id.clone(),
                    function,
                )
            }),
            hub: Hub::new(sdk, config.hub_region.clone(), function),
            notifier: Notifier::new(sdk, config.notify_topic_arn.clone())
                .with_outcome_bus(sdk, config.outcome_bus_arn.clone()),
            state: config.state_table.as_deref().map(|t| {
                crate::state::State::new(aws_sdk_dynamodb::Client::new(sdk), t, config.limits)
            }),
            function: function.to_string(),
            config,
        }
    }

    /// Reads the configuration (failing on the first bad variable) and the SDK configuration,
    /// with [`timeouts`]: a hung call fails the finding in time for a retry, instead of holding
    /// the invocation to the Lambda timeout.
    pub async fn from_env(function: &str) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let timeouts = timeouts(config.limits.claim_takeover_secs);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::http::https_client(
                timeouts.connect_timeout().unwrap_or(CONNECT_TIMEOUT),
            ))
            .timeout_config(timeouts);
        // Lambda gives a function its role's credentials in the environment, the first source of
        // the default chain: read them there, without building the rest of the chain (web
        // identity, ECS, IMDS, profile files: 1.4 of the 13 million instructions of a cold init).
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        let sdk = loader.load().await;
        Ok(Self::new(&sdk, config, function))
    }

    pub fn mode<R: Remediation>(&self) -> Mode {
        self.config.mode.unwrap_or(R::SPEC.default_mode)
    }
}

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The SDK's timeouts, from one place: an attempt at most 10 s (connect 3 s), an operation with
/// its retries at most a third of the function's timeout, so that a hung call fails its finding
/// with room left for the others and for Lambda's retry.
pub fn timeouts(function_timeout_secs: u64) -> aws_config::timeout::TimeoutConfig {
    let operation = (function_timeout_secs / 3).clamp(5, 60);
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(std::time::Duration::from_secs(operation.min(10)))
        .operation_timeout(std::time::Duration::from_secs(operation))
        .build()
}

/// What one invocation returns.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub event_id: String,
    pub reports: Vec<Report>,
    /// Findings of the event that could not be read, each with its error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

/// Why an invocation fails. Either way the event is not lost: Lambda retries it, then sends it to
/// the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The event, or a finding in it, could not be read. No AWS call was made for it.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A remediation, record or notification failed in a way a retry can fix.
    #[error("{count} finding(s) failed in a way a retry can fix: {first}")]
    Retryable { count: usize, first: String },
}

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Self {
        let error_type = match &f {
            Failure::InvalidEvent(_) => "quell.InvalidEvent",
            Failure::Retryable { .. } => "quell.Retryable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: f.to_string(),
        }
    }
}

/// Handles one EventBridge event: every finding in it, each independently.
pub async fn handle<R: Remediation>(
    r: &R,
    ctx: &Context,
    event: Value,
) -> Result<Response, Failure> {
    let intake = Envelope::parse_trusted(event, &ctx.config.trust()).map_err(|e| {
        tracing::error!(remediation = R::SPEC.id, error = %e, "event refused");
        Failure::InvalidEvent(e.to_string())
    })?;
    tracing::debug!(event_id = %intake.event_id, detail_type = %intake.detail_type, findings = intake.findings.len(), "event");
    let mut findings = Vec::new();
    let mut rejected = Vec::new();
    for (i, parsed) in intake.findings.into_iter().enumerate() {
        match parsed {
            Ok(f) => findings.push(f),
            Err(e) => {
                tracing::error!(remediation = R::SPEC.id, event_id = %intake.event_id, index = i, error = %e, "finding refused");
                rejected.push(e.to_string());
            }
        }
    }
    let reports = handle_findings(r, ctx, &findings).await;
    let response = Response {
        event_id: intake.event_id,
        reports,
        rejected,
    };
    let retry: Vec<&Report> = response
        .reports
        .iter()
        .filter(|rep| rep.outcome.is_retryable() || !rep.record_errors.is_empty())
        .collect();
    if let Some(first) = retry.first() {
        let why = match &first.outcome {
            Outcome::Failed { error, .. } if first.outcome.is_retryable() => error.clone(),
            _ => first.record_errors.join("; "),
        };
        return Err(Failure::Retryable {
            count: retry.len(),
            first: why,
        });
    }
    if !response.rejected.is_empty() {
        return Err(Failure::InvalidEvent(response.rejected.join("; ")));
    }
    Ok(response)
}

/// One finding, from guards to notification. Always yields a report: the last, when the finding
/// was split by account ([`Handler::handle`] gives them all).
pub async fn handle_finding<R: Remediation>(r: &R, ctx: &Context, f: &Finding) -> Report {
    let mut reports = handle_findings(r, ctx, std::slice::from_ref(f)).await;
    reports.pop().unwrap_or_else(|| unreachable_report::<R>(f))
}

fn unreachable_report<R: Remediation>(f: &Finding) -> Report {
    Report {
        function: R::SPEC.id.to_string(),
        source: f.source,
        finding_id: f.id.clone(),
        kind: f.kind.clone(),
        account: f.account.clone(),
        region: f.region.clone(),
        resource: None,
        mode: Mode::DryRun,
        workflow: None,
        note: String::new(),
        hub: None,
        record_errors: vec!["no report was produced".into()],
        outcome: Outcome::not_applicable("no report was produced"),
    }
}

/// How many findings of one event are remediated at once.
const CONCURRENCY: usize = 8;

/// A finding between its remediation and its records.
struct Pending {
    report: Report,
    /// Decided before any remediation (a duplicate, or no claim): no record, no notification.
    early: bool,
    member: Option<std::sync::Arc<Member>>,
    occurrence: String,
    /// Whether the occurrence was claimed in the state table (and is settled there at the end).
    claimed: bool,
    span: tracing::Span,
    /// When the finding was taken in: the remediation latency's start.
    started: std::time::Instant,
}

/// The findings of one event: remediated concurrently (at most [`CONCURRENCY`] at once), their
/// Security Hub records batched (identical updates share a call; imports share a call per
/// account), then each notified and settled. One report per finding, in order.
pub async fn handle_findings<R: Remediation>(
    r: &R,
    ctx: &Context,
    findings: &[Finding],
) -> Vec<Report> {
    let (findings, decided) = split_all(r, ctx, findings).await;
    let gate = tokio::sync::Semaphore::new(CONCURRENCY);
    let gate = &gate;
    let pending: Vec<Pending> = futures_util::future::join_all(findings.iter().zip(decided).map(
        |(f, decided)| async move {
            let _permit = gate.acquire().await.ok();
            begin(r, ctx, f, decided).await
        },
    ))
    .await;
    let index: Vec<usize> = (0..pending.len()).filter(|i| !pending[*i].early).collect();
    let records = {
        let batch: Vec<crate::hub::Pending<'_>> = index
            .iter()
            .map(|&i| crate::hub::Pending {
                finding: &findings[i],
                outcome: &pending[i].report.outcome,
                note: pending[i].report.note.clone(),
                member: pending[i].member.as_deref(),
            })
            .collect();
        ctx.hub.record_all(&batch).await
    };
    let mut recs: Vec<Option<Result<HubRecord, crate::error::AwsError>>> =
        (0..pending.len()).map(|_| None).collect();
    for (i, rec) in index.into_iter().zip(records) {
        recs[i] = Some(rec);
    }
    futures_util::future::join_all(pending.into_iter().zip(recs).map(|(p, rec)| async {
        let _permit = gate.acquire().await.ok();
        finish::<R>(ctx, p, rec).await
    }))
    .await
}

/// Each finding of the organization trail's account that stands for findings in other accounts
/// (an alarm of the organization trail), replaced by them; the others as they are. A finding whose
/// split failed stays, with the failure as its outcome. The trail's account may be one quell never
/// acts in (the management account): the split only reads there, through the trail reader role,
/// and each finding it yields is held to the account lists on its own.
async fn split_all<R: Remediation>(
    r: &R,
    ctx: &Context,
    findings: &[Finding],
) -> (Vec<Finding>, Vec<Option<Outcome>>) {
    let mut out = Vec::with_capacity(findings.len());
    let mut decided = Vec::with_capacity(findings.len());
    for f in findings {
        let reader = ctx
            .trail_reader
            .as_ref()
            .filter(|_| ctx.config.org_trail_account.as_deref() == Some(f.account.as_str()))
            .filter(|_| R::SPEC.matches(f) && r.splits(f));
        let Some(reader) = reader else {
            out.push(f.clone());
            decided.push(None);
            continue;
        };
        let split = match reader.session(&f.partition, &f.account, &f.region).await {
            Ok(trail) => r.split(&trail, f).await,
            Err(e) => Err(e),
        };
        let mut left = Vec::new();
        match split {
            Ok(split) => {
                tracing::info!(remediation = R::SPEC.id, finding = %f.id, account = %f.account, parts = split.parts.len(), "organization finding split by account");
                for part in split.parts {
                    // The parser holds an event's account to the organization's; a part's account
                    // comes from the trail's events, and is held to it here.
                    match &ctx.config.organization_accounts {
                        Some(org) if !org.contains(&part.account) => left.push(format!(
                            "events name account {}, which is not one of the organization's (QUELL_ORGANIZATION_ACCOUNTS): not answered",
                            part.account
                        )),
                        _ => {
                            out.push(part);
                            decided.push(None);
                        }
                    }
                }
                if let Some(e) = split.left {
                    left.insert(0, e.to_string());
                    if e.retryable {
                        out.push(f.clone());
                        decided.push(Some(Outcome::failed(&e.into())));
                        continue;
                    }
                }
            }
            Err(e) => {
                tracing::error!(remediation = R::SPEC.id, finding = %f.id, account = %f.account, error = %e, "organization finding not split");
                if e.code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("ExpiredToken"))
                {
                    reader.forget(&f.account, &f.region);
                }
                out.push(f.clone());
                decided.push(Some(Outcome::failed(&e.into())));
                continue;
            }
        }
        if !left.is_empty() {
            out.push(f.clone());
            decided.push(Some(Outcome::Failed {
                error: left.join("; "),
                code: Some("ManualActionRequired".into()),
                retryable: false,
            }));
        }
    }
    (out, decided)
}

/// Claim and remediate one finding; the report without its records. `decided`: the outcome of an
/// organization finding whose split failed, notified as it is (it has no finding of its own to be
/// recorded on, and the trail's account is only read, whatever the account lists say), retried
/// when the error is.
async fn begin<R: Remediation>(
    r: &R,
    ctx: &Context,
    f: &Finding,
    decided: Option<Outcome>,
) -> Pending {
    let resource = f.resources.first().map(|res| res.label());
    let span = tracing::info_span!(
        "finding",
        remediation = R::SPEC.id,
        finding = %f.id,
        source = %f.source,
        account = %f.account,
        region = %f.region,
        resource = resource.as_deref().unwrap_or("-"),
    );
    let inner = span.clone();
    let started = std::time::Instant::now();
    async move {
        let mode = ctx.mode::<R>();
        let occurrence = f.occurrence();
        let report = |outcome: Outcome, target: &str| Report {
            function: R::SPEC.id.to_string(),
            source: f.source,
            finding_id: f.id.clone(),
            kind: f.kind.clone(),
            account: f.account.clone(),
            region: f.region.clone(),
            resource: resource.clone(),
            mode,
            workflow: None,
            note: outcome.note(R::SPEC.id, target),
            hub: None,
            record_errors: Vec::new(),
            outcome,
        };
        // An outcome decided before any remediation: recorded in the report and the log only.
        let early = |outcome: Outcome| Pending {
            report: report(outcome, resource.as_deref().unwrap_or("the finding")),
            early: true,
            member: None,
            occurrence: occurrence.clone(),
            claimed: false,
            span: inner.clone(),
            started,
        };
        if let Some(outcome) = decided {
            return Pending {
                early: false,
                ..early(outcome)
            };
        }
        if let Some(reason) = out_of_scope::<R>(ctx, f).or_else(|| r.ignore(f)) {
            tracing::info!(outcome = "OUT_OF_SCOPE", reason = %reason, "outcome");
            return early(Outcome::OutOfScope { reason });
        }
        if let Some(st) = &ctx.state {
            match st.claim(R::SPEC.id, &occurrence).await {
                Ok(crate::state::Claim::Acquired) => {}
                Ok(crate::state::Claim::Duplicate) => {
                    tracing::info!(outcome = "DUPLICATE", occurrence = %occurrence, "outcome");
                    return early(Outcome::Duplicate {
                        of: occurrence.clone(),
                    });
                }
                Err(e) => {
                    // Without the claim, acting could act twice: the invocation is retried instead.
                    tracing::error!(error = %e, "could not claim the finding");
                    return early(Outcome::failed(&e.into()));
                }
            }
        }
        let (outcome, target, member) = decide(r, ctx, f, mode).await;
        if let Outcome::Failed {
            code: Some(code), ..
        } = &outcome
        {
            if code.starts_with("ExpiredToken") || code == "RequestExpired" {
                ctx.members.forget(&f.account, &f.region);
            }
        }
        Pending {
            report: report(outcome, &target),
            early: false,
            member,
            occurrence: occurrence.clone(),
            claimed: true,
            span: inner.clone(),
            started,
        }
    }
    .instrument(span)
    .await
}

/// The Security Hub record's result, the SNS message, the claim settled, the outcome logged.
async fn finish<R: Remediation>(
    ctx: &Context,
    p: Pending,
    record: Option<Result<HubRecord, crate::error::AwsError>>,
) -> Report {
    let Pending {
        mut report,
        early,
        occurrence,
        claimed,
        span,
        started,
        ..
    } = p;
    if early {
        return report;
    }
    async move {
        match record {
            Some(Ok(h)) => {
                report.workflow = h.workflow();
                report.hub = Some(h);
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, code = e.code.as_deref().unwrap_or("-"), "security hub record failed");
                report.record_errors.push(e.to_string());
            }
            None => {}
        }
        if let Err(e) = ctx.notifier.publish(&report).await {
            tracing::error!(error = %e, code = e.code.as_deref().unwrap_or("-"), "notification failed");
            report.record_errors.push(e.to_string());
        }
        // The event is a copy of an outcome already recorded on the finding and sent to the
        // channel: its failure is logged with the outcome it carried, never a reason to run the
        // finding again (a re-run after a fix would report ALREADY_COMPLIANT in its place).
        if let Err(e) = ctx.notifier.emit(&report).await {
            tracing::error!(
                error = %e,
                code = e.code.as_deref().unwrap_or("-"),
                outcome = report.outcome.name(),
                finding = %report.finding_id,
                account = %report.account,
                "the outcome event was not put on the bus"
            );
        }
        if let Some(st) = ctx.state.as_ref().filter(|_| claimed) {
            // A retry must not meet its own claim: give it back when the invocation will fail.
            let retry = report.outcome.is_retryable() || !report.record_errors.is_empty();
            if let Err(e) = st
                .settle(R::SPEC.id, &occurrence, report.outcome.name(), retry)
                .await
            {
                tracing::error!(error = %e, "could not settle the claim");
                report.record_errors.push(e.to_string());
            }
        }
        let o = &report.outcome;
        match o {
            Outcome::Failed {
                error,
                code,
                retryable,
            } => tracing::error!(
                outcome = o.name(),
                workflow = report.workflow.map(|w| w.as_str()).unwrap_or("unchanged"),
                code = code.as_deref().unwrap_or("-"),
                retryable,
                error = %error,
                "outcome"
            ),
            _ => tracing::info!(
                outcome = o.name(),
                workflow = report.workflow.map(|w| w.as_str()).unwrap_or("unchanged"),
                mode = report.mode.as_str(),
                "outcome"
            ),
        }
        crate::metrics::emit(&report, started.elapsed());
        report
    }
    .instrument(span)
    .await
}

/// Why a finding is not this function's business, if it is not: not its trigger (another
/// function answers it), or an account another team owns. Decided before anything is claimed,
/// recorded or sent.
fn out_of_scope<R: Remediation>(ctx: &Context, f: &Finding) -> Option<String> {
    if !R::SPEC.matches(f) {
        return Some(format!(
            "{} finding {} is not a trigger of {}",
            f.source,
            f.kind,
            R::SPEC.id
        ));
    }
    ctx.config.account_allowed(&f.account).err()
}

/// The guards, then the remediation. Returns the outcome, the target's description and the member
/// session if one was opened.
async fn decide<R: Remediation>(
    r: &R,
    ctx: &Context,
    f: &Finding,
    mode: Mode,
) -> (Outcome, String, Option<std::sync::Arc<Member>>) {
    let fallback = f
        .resources
        .first()
        .map(|res| res.label())
        .unwrap_or_else(|| format!("account {}", f.account));
    if f.sample {
        return (
            Outcome::Planned {
                steps: Vec::new(),
                reason: "a generated sample finding names placeholder resources: never acted on"
                    .into(),
            },
            fallback,
            None,
        );
    }
    let target = match r.target(f) {
        Ok(t) => t,
        Err(na) => return (Outcome::not_applicable(na.0), fallback, None),
    };
    let desc = r.describe(&target);
    let member = match ctx
        .members
        .session(&f.partition, &f.account, &f.region)
        .await
    {
        Ok(m) => m,
        Err(e) => return (Outcome::failed(&e.into()), desc, None),
    };
    let clients = r.clients(&member);
    let Some(st) = ctx.state.as_ref().filter(|_| mode == Mode::Enforce) else {
        let outcome = execute(r, &clients, &target, mode, &ctx.config.exempt_tag).await;
        return (outcome, desc, Some(member));
    };
    // Loop breaking: a resource fixed again and again is being reverted by something.
    let resource_key = format!("{}#{}#{}", f.account, f.region, desc);
    // A person undid quell's change here: their decision holds, whatever the findings say.
    match st.held(R::SPEC.id, &resource_key).await {
        Ok(Some(when)) => {
            let reason = format!(
                "a person undid quell's change to {desc} at {when}: left as they put it for {} h; tag it {}=true to keep it so",
                st.limits.undo_hold_secs / 3600,
                ctx.config.exempt_tag
            );
            return (Outcome::Exempt { reason }, desc, Some(member));
        }
        Ok(None) => {}
        Err(e) => return (Outcome::failed(&e.into()), desc, Some(member)),
    }
    match st.fixes(R::SPEC.id, &resource_key).await {
        Ok(n) if n >= st.limits.loop_limit => {
            let outcome = Outcome::Failed {
                error: format!(
                    "loop: {desc} was fixed {n} times within {} h and broke the rule again; something keeps reverting it. \
                     quell stops re-fixing it: a person must find what reverts it",
                    st.limits.loop_window_secs / 3600
                ),
                code: Some("RemediationLoop".into()),
                retryable: false,
            };
            return (outcome, desc, Some(member));
        }
        Ok(_) => {}
        Err(e) => return (Outcome::failed(&e.into()), desc, Some(member)),
    }
    // Blast radius: past the cap, plan instead of changing, and escalate once.
    let capped = match st.take_change_slot(R::SPEC.id, &f.account).await {
        Ok(crate::state::Slot::Granted) => None,
        Ok(crate::state::Slot::Capped(scope)) => Some(scope),
        Err(e) => return (Outcome::failed(&e.into()), desc, Some(member)),
    };
    let run_mode = if capped.is_some() {
        Mode::DryRun
    } else {
        Mode::Enforce
    };
    let undo = crate::remediation::UndoLog {
        state: st,
        function: R::SPEC.id,
        finding: f,
    };
    let mut outcome = crate::remediation::execute_recording(
        r,
        &clients,
        &target,
        run_mode,
        &ctx.config.exempt_tag,
        Some(undo),
    )
    .await;
    match (&mut outcome, &capped) {
        (Outcome::Planned { reason, .. }, Some(scope)) => {
            let limit = if scope == "organization" {
                st.limits.per_org_hour
            } else {
                st.limits.per_account_hour
            };
            *reason = format!(
                "{} of {scope} reached ({limit} changes an hour): planned, not applied",
                crate::outcome::CAP_REACHED
            );
            if matches!(st.escalate_once(R::SPEC.id, scope).await, Ok(true)) {
                let subject = format!("quell {}: blast-radius cap of {scope} reached", R::SPEC.id);
                let message = format!(
                    "quell {} reached its cap of {limit} enforced changes an hour for {scope}. Further findings this hour are planned, not applied, until the next hour. If this is expected, raise QUELL_MAX_CHANGES_PER_ACCOUNT_HOUR / QUELL_MAX_CHANGES_PER_ORG_HOUR.",
                    R::SPEC.id
                );
                if let Err(e) = ctx.notifier.escalate(&subject, &message).await {
                    tracing::error!(error = %e, "could not publish the cap escalation");
                }
            }
        }
        (Outcome::Remediated { .. }, None) => {
            if let Err(e) = st.record_fix(R::SPEC.id, &resource_key).await {
                tracing::error!(error = %e, "could not count the fix");
            }
        }
        (_, None) => {
            if let Err(e) = st.release_change_slot(R::SPEC.id, &f.account).await {
                tracing::error!(error = %e, "could not give back the change slot");
            }
        }
        (_, Some(_)) => {}
    }
    (outcome, desc, Some(member))
}

/// `quell undo`: puts back the state recorded before quell's change for a finding, records that
/// it was undone, and holds the resource as the person put it back for QUELL_UNDO_HOLD_HOURS
/// (findings about it would otherwise re-fix it at once; the undo's own CloudTrail call is one).
///
/// The record must have been read under its key ([`crate::state::State::prior_state`] refuses one
/// whose fields do not match it), and its account must be one quell may act in now: the account
/// lists apply to an undo as to a fix.
pub async fn undo_finding(
    h: &dyn Handler,
    ctx: &Context,
    prior: &crate::state::PriorState,
    key: &crate::state::UndoKey,
) -> Result<Vec<crate::outcome::Step>, crate::error::AwsError> {
    let state = ctx.state.as_ref().ok_or_else(|| {
        crate::error::AwsError::other(
            "could not undo",
            "NoStateTable",
            "QUELL_STATE_TABLE is not set",
            false,
        )
    })?;
    if let Err(why) = ctx.config.account_allowed(&prior.account) {
        return Err(crate::error::AwsError::other(
            format!("could not undo {key}"),
            "OutOfScope",
            why,
            false,
        ));
    }
    if h.spec().id != key.function || prior.function != key.function {
        return Err(crate::error::AwsError::other(
            format!("could not undo {key}"),
            "InvalidPriorState",
            format!("the record is {}'s, not {}'s", key.function, h.spec().id),
            false,
        ));
    }
    // The mark first (conditional): of two operators undoing at once, one puts the state back.
    let when = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    state.mark_undone(key, &when).await?;
    let steps = match h.undo(ctx, prior).await {
        Ok(steps) => steps,
        Err(e) => {
            if let Err(back) = state.unmark_undone(key).await {
                tracing::error!(error = %back, "could not give back the undo mark");
            }
            return Err(e);
        }
    };
    let resource = format!("{}#{}#{}", prior.account, prior.region, prior.target);
    state.hold(&prior.function, &resource, &when).await?;
    Ok(steps)
}

/// The whole of a function's `main`: `quell::runtime::run(TheRemediation)`.
pub async fn run<R: Remediation>(mut r: R) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    if let Err(e) = r.configure(&|k| std::env::var(k).ok()) {
        tracing::error!(remediation = R::SPEC.id, error = %e, "start-up failed");
        return Err(Box::new(e));
    }
    let ctx = match Context::from_env(R::SPEC.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(remediation = R::SPEC.id, error = %e, "start-up failed");
            return Err(Box::new(e));
        }
    };
    // A deployed function that takes Security Hub findings believes a custom action only by
    // quell's own action target ARNs: without them it would believe an action by its id alone.
    let t = &R::SPEC.triggers;
    let takes_actions = !t.securityhub_controls.is_empty() || !t.custom_actions.is_empty();
    if takes_actions && ctx.config.action_targets.is_none() {
        let e = ConfigError {
            var: "QUELL_ACTION_TARGETS",
            reason: "not set: a function that takes Security Hub custom actions needs quell's action target ARNs (the template sets them)".into(),
        };
        tracing::error!(remediation = R::SPEC.id, error = %e, "start-up failed");
        return Err(Box::new(e));
    }
    tracing::info!(
        remediation = R::SPEC.id,
        mode = ctx.mode::<R>().as_str(),
        "ready"
    );
    let (r, ctx) = (&r, &ctx);
    // Boxed: the handler's future is deep, and a box keeps the runtime's types shallow.
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| {
        Box::pin(handle(r, ctx, ev.payload))
    }))
    .await
}

/// `EventError` is also a refusal when it comes from a caller outside Lambda (the replay tool).
impl From<EventError> for Failure {
    fn from(e: EventError) -> Self {
        Failure::InvalidEvent(e.to_string())
    }
}

/// A remediation behind a trait object, for tools that hold every remediation at once (the
/// replay CLI, the registry tests).
pub trait Handler: Send + Sync {
    fn spec(&self) -> crate::remediation::Spec;
    /// Puts back the prior state recorded for a finding, in its member account.
    fn undo<'a>(
        &'a self,
        ctx: &'a Context,
        p: &'a crate::state::PriorState,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Vec<crate::outcome::Step>, crate::error::AwsError>,
                > + Send
                + 'a,
        >,
    >;
    fn handle<'a>(
        &'a self,
        ctx: &'a Context,
        f: &'a Finding,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Report>> + Send + 'a>>;
}

impl<R: Remediation> Handler for R {
    fn spec(&self) -> crate::remediation::Spec {
        R::SPEC
    }

    fn undo<'a>(
        &'a self,
        ctx: &'a Context,
        p: &'a crate::state::PriorState,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Vec<crate::outcome::Step>, crate::error::AwsError>,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            let member = ctx
                .members
                .session(&p.partition, &p.account, &p.region)
                .await?;
            let clients = self.clients(&member);
            self.restore(&clients, &p.prior).await
        })
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a Context,
        f: &'a Finding,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Report>> + Send + 'a>> {
        Box::pin(handle_findings(self, ctx, std::slice::from_ref(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::timeouts;
    use std::time::Duration;

    #[test]
    fn a_hung_call_fails_well_inside_the_function_timeout() {
        let t = timeouts(70);
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(23)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert!(t.connect_timeout() <= Some(Duration::from_secs(3)));
        assert!(timeouts(1).operation_timeout() >= Some(Duration::from_secs(5)));
    }
}
