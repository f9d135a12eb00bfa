//! One event through the remediations, in-process, with the Lambda functions' own code: what
//! `quell replay`, `quell sweep` and `quell redrive` share. The event is parsed with the same
//! trust checks as the Lambda's, routed by the generated rules, and each matching remediation
//! handles each finding in it.

use aws_config::SdkConfig;
use quell::outcome::Report;
use quell::runtime::{Context, Handler};
use quell::Config;
use serde_json::Value;

/// What `quell` exits with, so that scripts can tell the cases apart (README: Exit codes).
pub mod exit {
    /// Something was refused or could not start: an unreadable or refused event, a bad setting,
    /// no record to undo. Nothing was changed on its behalf.
    pub const ERROR: u8 = 1;
    /// Usage: clap's own code for a bad command line.
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

/// Every remediation of this build, each with its context (its member role, the hub, the
/// notifier, the state table), built once for all the events of a run.
pub struct Runner {
    handlers: Vec<Box<dyn Handler>>,
    contexts: Vec<Context>,
    /// The same, in dry-run: for what may be planned but not acted on (an unverified dead letter).
    planning: Vec<Context>,
    config: Config,
    /// Instead of in-process: the deployed function of each remediation, invoked with the event.
    invoke: Option<Deployed>,
    /// Remediations whose deployed function `quell pause` paused: not run until resumed.
    paused: Vec<String>,
}

/// The deployed functions `--invoke` sends events to, by remediation id.
pub struct Deployed {
    pub lambda: aws_sdk_lambda::Client,
    pub functions: std::collections::HashMap<String, String>,
}

/// What one event came to.
pub enum EventRun {
    /// The event, or every finding in it, is refused by the same checks the Lambda makes; nothing
    /// ran for it.
    Refused(String),
    /// No remediation's rules (of those asked for) match it: nothing ran.
    NoRule { detail_type: String },
    /// What each matching remediation did with each finding.
    Ran(Vec<Ran>),
}

/// One remediation's answer to one finding of an event: its report (as the Lambda returns it,
/// JSON), or why the finding was refused.
pub struct Ran {
    pub function: String,
    /// The finding's place in the event (Security Hub events carry several).
    pub index: usize,
    /// The report, or why the finding was refused or the function failed (its siblings still ran).
    pub result: Result<Value, String>,
}

impl Ran {
    /// An in-process report.
    pub fn of(function: &str, index: usize, report: &Report) -> Ran {
        Ran {
            function: function.to_string(),
            index,
            result: Ok(serde_json::to_value(report).unwrap_or(Value::Null)),
        }
    }

    fn report_text(&self, key: &str) -> Option<&str> {
        self.result.as_ref().ok()?.get(key)?.as_str()
    }

    /// Failed for good, refused, or an outcome not recorded: a person must look.
    pub fn failed(&self) -> bool {
        match &self.result {
            Err(_) => true,
            Ok(r) => {
                self.outcome() == "FAILED"
                    || r.get("record_errors")
                        .and_then(Value::as_array)
                        .is_some_and(|e| !e.is_empty())
            }
        }
    }

    pub fn retryable(&self) -> bool {
        self.outcome() == "FAILED_RETRYABLE"
    }

    /// The outcome's name (`Outcome::name`), REFUSED, or PAUSED (not run: `quell pause`).
    pub fn outcome(&self) -> &'static str {
        let Ok(r) = &self.result else {
            return "REFUSED";
        };
        let retryable = r.get("retryable").and_then(Value::as_bool) == Some(true);
        match r.get("outcome").and_then(Value::as_str).unwrap_or_default() {
            "REMEDIATED" => "REMEDIATED",
            "ALREADY_COMPLIANT" => "ALREADY_COMPLIANT",
            "UNCONFIRMED" => "UNCONFIRMED",
            "EXEMPT" => "EXEMPT",
            "OUT_OF_SCOPE" => "OUT_OF_SCOPE",
            "PLANNED" => "PLANNED",
            "DUPLICATE" => "DUPLICATE",
            "PAUSED" => "PAUSED",
            "FAILED" if retryable => "FAILED_RETRYABLE",
            _ => "FAILED",
        }
    }

    /// One line for a person: function, resource, outcome, workflow, note (and any record error).
    pub fn line(&self) -> String {
        match &self.result {
            Ok(r) => {
                let mut line = format!(
                    "{}  {}  {}  workflow={}  {}",
                    self.function,
                    self.report_text("resource").unwrap_or("-"),
                    self.outcome(),
                    self.report_text("workflow").unwrap_or("unchanged"),
                    self.report_text("note")
                        .or(self.report_text("error"))
                        .unwrap_or_default()
                );
                for e in r
                    .get("record_errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    line.push_str(&format!(
                        "\n    record error: {}",
                        e.as_str().unwrap_or_default()
                    ));
                }
                line
            }
            Err(e) => format!("{}  finding {}: REFUSED  {e}", self.function, self.index),
        }
    }

    pub fn json(&self) -> Value {
        match &self.result {
            Ok(r) => r.clone(),
            Err(e) => serde_json::json!({
                "function": self.function,
                "index": self.index,
                "outcome": "REFUSED",
                "error": e,
            }),
        }
    }
}

/// Whether a run as a whole failed, or failed in a way worth retrying: its exit code.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub failed: bool,
    pub retryable: bool,
}

impl Tally {
    pub fn add(&mut self, r: &Ran) {
        self.failed |= r.failed();
        self.retryable |= r.retryable();
    }

    /// 4 when a person must look, 5 when running again may help, 0 otherwise.
    pub fn code(&self) -> u8 {
        if self.failed {
            exit::FAILED
        } else if self.retryable {
            exit::RETRYABLE
        } else {
            0
        }
    }
}

impl Runner {
    /// The registry's remediations with `config` (its mode included), calling AWS with `sdk`.
    pub fn new(sdk: &SdkConfig, config: Config) -> Runner {
        let handlers = crate::registry::handlers();
        let contexts = handlers
            .iter()
            .map(|h| Context::new(sdk, config.clone(), h.spec().id))
            .collect();
        let dry = Config {
            mode: Some(quell::Mode::DryRun),
            ..config.clone()
        };
        let planning = handlers
            .iter()
            .map(|h| Context::new(sdk, dry.clone(), h.spec().id))
            .collect();
        Runner {
            handlers,
            contexts,
            planning,
            config,
            invoke: None,
            paused: Vec::new(),
        }
    }

    /// The remediations paused with `quell pause` (their function's `quell:paused` tag): an
    /// event for one of them is not run, in-process or not, until `quell resume`.
    pub fn pausing(mut self, paused: Vec<String>) -> Runner {
        self.paused = paused;
        self
    }

    /// Sends each event to the deployed function of each remediation it routes to (Lambda Invoke,
    /// RequestResponse) instead of running it here: the function's own role, mode and settings
    /// apply, as they would to the event from EventBridge.
    pub fn invoking(mut self, deployed: Deployed) -> Runner {
        self.invoke = Some(deployed);
        self
    }

    pub fn handlers(&self) -> &[Box<dyn Handler>] {
        &self.handlers
    }

    /// Parses `event` as the Lambda does (refusing it before any AWS call), routes it by the
    /// generated rules — only to the remediations `only` names, when it names any — and runs each
    /// matching remediation on each finding.
    pub async fn run(&self, event: &Value, only: &[&str]) -> EventRun {
        self.run_as(event, only, false).await
    }

    /// As [`Runner::run`], in dry-run whatever the mode: plans, changes nothing.
    pub async fn run_planned(&self, event: &Value, only: &[&str]) -> EventRun {
        self.run_as(event, only, true).await
    }

    async fn run_as(&self, event: &Value, only: &[&str], planned: bool) -> EventRun {
        let intake =
            match quell::event::Envelope::parse_trusted(event.clone(), &self.config.trust()) {
                Ok(i) => i,
                Err(e) => return EventRun::Refused(e.to_string()),
            };
        if intake.findings.iter().all(|f| f.is_err()) {
            if let Some(Err(first)) = intake.findings.first() {
                return EventRun::Refused(first.to_string());
            }
        }
        let matched: Vec<usize> = crate::route_indices(&self.handlers, event)
            .into_iter()
            .filter(|&i| only.is_empty() || only.contains(&self.handlers[i].spec().id))
            .collect();
        if matched.is_empty() {
            return EventRun::NoRule {
                detail_type: intake.detail_type,
            };
        }
        let mut out = Vec::new();
        let (matched, paused): (Vec<usize>, Vec<usize>) = matched
            .into_iter()
            .partition(|&i| !self.paused.iter().any(|p| p == self.handlers[i].spec().id));
        for i in paused {
            let id = self.handlers[i].spec().id;
            out.push(Ran {
                function: id.to_string(),
                index: 0,
                result: Ok(serde_json::json!({
                    "function": id,
                    "outcome": "PAUSED",
                    "note": format!("{id} is paused (quell pause): not run; `quell resume` first"),
                })),
            });
        }
        if let Some(d) = &self.invoke {
            let dry = planned || self.config.mode != Some(quell::Mode::Enforce);
            for i in matched {
                let id = self.handlers[i].spec().id;
                if dry {
                    // The deployed function acts in its own mode: a dry run sends it nothing.
                    let name = d
                        .functions
                        .get(id)
                        .map(String::as_str)
                        .unwrap_or("(none here)");
                    out.push(Ran {
                        function: id.to_string(),
                        index: 0,
                        result: Ok(serde_json::json!({
                            "function": id,
                            "outcome": "PLANNED",
                            "note": format!("would invoke {name} with this event (dry-run: nothing sent)"),
                        })),
                    });
                } else {
                    out.extend(invoke(d, id, event).await);
                }
            }
            return EventRun::Ran(out);
        }
        for i in matched {
            let h = &self.handlers[i];
            let ctx = if planned {
                &self.planning[i]
            } else {
                &self.contexts[i]
            };
            let function = h.spec().id;
            for (index, f) in intake.findings.iter().enumerate() {
                match f {
                    // A finding split by account gives a report per account.
                    Ok(f) => out.extend(
                        h.handle(ctx, f)
                            .await
                            .iter()
                            .map(|rep| Ran::of(function, index, rep)),
                    ),
                    Err(e) => out.push(Ran {
                        function: function.to_string(),
                        index,
                        result: Err(e.to_string()),
                    }),
                }
            }
        }
        EventRun::Ran(out)
    }
}

/// One event through `remediation`'s deployed function: its response's reports, the findings it
/// refused, or why the invocation failed (a function error or a throttle is worth retrying; a
/// refused event is not).
pub async fn invoke(d: &Deployed, remediation: &str, event: &Value) -> Vec<Ran> {
    let failed = |error: String, retryable: bool| Ran {
        function: remediation.to_string(),
        index: 0,
        result: Ok(serde_json::json!({
            "function": remediation,
            "outcome": "FAILED",
            "retryable": retryable,
            "error": error,
        })),
    };
    let Some(name) = d.functions.get(remediation) else {
        return vec![failed(
            format!("no deployed function of {remediation} here (a function tagged quell:remediation={remediation})"),
            false,
        )];
    };
    let payload = serde_json::to_vec(event).unwrap_or_default();
    let out = match d
        .lambda
        .invoke()
        .function_name(name)
        .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
        .payload(aws_smithy_types::Blob::new(payload))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let throttled = e
                .as_service_error()
                .is_some_and(|s| s.is_too_many_requests_exception());
            return vec![failed(
                format!(
                    "could not invoke {name}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                ),
                throttled,
            )];
        }
    };
    let body: Value = out
        .payload()
        .and_then(|b| serde_json::from_slice(b.as_ref()).ok())
        .unwrap_or(Value::Null);
    if let Some(kind) = out.function_error() {
        let kind_of = body
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or(kind);
        let message = body
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return vec![failed(
            format!("{name} answered {kind_of}: {message}"),
            kind_of != "quell.InvalidEvent",
        )];
    }
    let mut ran: Vec<Ran> = body
        .get("reports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, r)| Ran {
            function: remediation.to_string(),
            index,
            result: Ok(r.clone()),
        })
        .collect();
    for (index, why) in body
        .get("rejected")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        ran.push(Ran {
            function: remediation.to_string(),
            index,
            result: Err(why.as_str().unwrap_or_default().to_string()),
        });
    }
    if ran.is_empty() {
        ran.push(failed(format!("{name} answered no report: {body}"), false));
    }
    ran
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn deployed(rules: &[&aws_smithy_mocks::Rule]) -> Deployed {
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::Sequential, rules);
        Deployed {
            lambda,
            functions: [(
                "s3-block-public-access".to_string(),
                "quell-S3BlockPublicAccess-X".to_string(),
            )]
            .into(),
        }
    }

    fn event() -> Value {
        serde_json::json!({"id": "e1", "source": "aws.config"})
    }

    #[tokio::test]
    async fn the_functions_reports_come_back_as_it_answered_them() {
        let ok = mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(|r| {
                r.function_name() == Some("quell-S3BlockPublicAccess-X")
                    && r.invocation_type() == Some(&aws_sdk_lambda::types::InvocationType::RequestResponse)
                    && r.payload().map(|p| p.as_ref().to_vec()) == Some(serde_json::to_vec(&event()).unwrap())
            })
            .then_output(|| {
                InvokeOutput::builder()
                    .status_code(200)
                    .payload(aws_smithy_types::Blob::new(
                        serde_json::json!({"event_id": "e1", "reports": [
                            {"function": "s3-block-public-access", "outcome": "REMEDIATED", "resource": "AWS::S3::Bucket b", "workflow": "RESOLVED", "note": "fixed"}
                        ], "rejected": ["finding 1: no account"]})
                        .to_string(),
                    ))
                    .build()
            });
        let d = deployed(&[&ok]);
        let ran = invoke(&d, "s3-block-public-access", &event()).await;
        assert_eq!(ran.len(), 2);
        assert_eq!(ran[0].outcome(), "REMEDIATED");
        assert!(!ran[0].failed() && !ran[0].retryable());
        assert!(ran[0]
            .line()
            .contains("AWS::S3::Bucket b  REMEDIATED  workflow=RESOLVED"));
        assert_eq!(ran[1].outcome(), "REFUSED");
        assert!(ran[1].failed());
    }

    #[tokio::test]
    async fn a_function_error_is_retryable_unless_the_event_was_refused_and_a_throttle_is_retryable(
    ) {
        let retry = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(aws_smithy_types::Blob::new(
                    r#"{"errorType":"quell.Retryable","errorMessage":"1 finding(s) failed"}"#,
                ))
                .build()
        });
        let refused = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(aws_smithy_types::Blob::new(r#"{"errorType":"quell.InvalidEvent","errorMessage":"invalid event: no detail"}"#))
                .build()
        });
        let throttled = mock!(aws_sdk_lambda::Client::invoke).then_error(|| {
            InvokeError::TooManyRequestsException(
                aws_sdk_lambda::types::error::TooManyRequestsException::builder()
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let d = deployed(&[&retry, &refused, &throttled]);
        let r = invoke(&d, "s3-block-public-access", &event()).await;
        assert!(r[0].retryable() && !r[0].failed(), "{}", r[0].line());
        let r = invoke(&d, "s3-block-public-access", &event()).await;
        assert!(r[0].failed() && !r[0].retryable(), "{}", r[0].line());
        assert!(r[0].json()["error"].as_str().unwrap().contains("no detail"));
        let r = invoke(&d, "s3-block-public-access", &event()).await;
        assert!(r[0].retryable(), "{}", r[0].json());
        // A remediation with no deployed function here: a person must look.
        let r = invoke(&d, "iam-disable-access-key", &event()).await;
        assert!(r[0].failed(), "{}", r[0].json());
    }
}
