//! Operating quell itself: `quell pause` / `quell resume` (every function's reserved concurrency
//! to 0 and back: Lambda's own kill switch) and `quell redrive` (the dead-letter queue through
//! the functions' code, deleting only what succeeded).

use std::collections::HashSet;

use anyhow::Context as _;
use aws_sdk_lambda::Client as Lambda;
use aws_sdk_sqs::Client as Sqs;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::{json, Value};

use crate::run::{EventRun, Runner, Tally};

/// The tag every quell function carries (template.yaml): its remediation's id.
pub const REMEDIATION_TAG: &str = "quell:remediation";
/// Set by `quell pause`: the reserved concurrency to put back (`unreserved` for none).
pub const PAUSED_TAG: &str = "quell:paused";
/// Set by `quell pause`: when.
pub const PAUSED_AT_TAG: &str = "quell:paused-at";
const UNRESERVED: &str = "unreserved";

fn sdk_err<E: std::error::Error + 'static>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", DisplayErrorContext(e))
}

/// A deployed quell function, as its tags name it.
pub struct QuellFunction {
    pub name: String,
    pub arn: String,
    pub remediation: String,
    /// The `quell:paused` record, when `quell pause` paused it.
    pub paused: Option<String>,
}

/// Every quell function of the account and region, or those of the remediations `only` names:
/// the functions whose description starts `quell ` and whose `quell:remediation` tag names a
/// remediation (ListFunctions, then ListTags on those alone).
pub async fn quell_functions(
    lambda: &Lambda,
    only: &[String],
) -> anyhow::Result<(Vec<QuellFunction>, Vec<String>)> {
    let mut out = Vec::new();
    // A function whose tags cannot be read is reported, and the others still found: a kill
    // switch must not stop at the first function it cannot read.
    let mut unread = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_functions()
            .set_marker(marker.take())
            .max_items(50)
            .send()
            .await
            .map_err(sdk_err)
            .context("could not list the functions (lambda:ListFunctions)")?;
        for f in page.functions() {
            let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else {
                continue;
            };
            if !f.description().unwrap_or_default().starts_with("quell ") {
                continue;
            }
            let tags = match lambda.list_tags().resource(arn).send().await {
                Ok(t) => t,
                Err(e) => {
                    unread.push(format!(
                        "could not read the tags of {name} (lambda:ListTags): {}",
                        DisplayErrorContext(e)
                    ));
                    continue;
                }
            };
            let tags = tags.tags().cloned().unwrap_or_default();
            let Some(remediation) = tags.get(REMEDIATION_TAG) else {
                continue;
            };
            if !only.is_empty() && !only.iter().any(|o| o == remediation) {
                continue;
            }
            out.push(QuellFunction {
                name: name.to_string(),
                arn: arn.to_string(),
                remediation: remediation.clone(),
                paused: tags.get(PAUSED_TAG).cloned(),
            });
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.remediation.cmp(&b.remediation));
    Ok((out, unread))
}

async fn reserved(lambda: &Lambda, name: &str) -> anyhow::Result<Option<i32>> {
    Ok(lambda
        .get_function_concurrency()
        .function_name(name)
        .send()
        .await
        .map_err(sdk_err)
        .with_context(|| format!("could not read the concurrency of {name}"))?
        .reserved_concurrent_executions())
}

fn shown(c: Option<i32>) -> String {
    c.map(|n| n.to_string())
        .unwrap_or_else(|| UNRESERVED.into())
}

/// One function's pause or resume, as printed and returned as JSON.
pub struct Change {
    pub function: QuellFunction,
    pub before: Option<i32>,
    pub after: Option<i32>,
    /// What was done, or why nothing was.
    pub note: String,
    /// The read-back concurrency is not what was meant.
    pub failed: bool,
}

impl Change {
    pub fn line(&self) -> String {
        format!(
            "{:<32} {:<11} -> {:<11} {}",
            self.function.remediation,
            shown(self.before),
            shown(self.after),
            self.note
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "remediation": self.function.remediation,
            "function": self.function.name,
            "before": shown(self.before),
            "after": shown(self.after),
            "note": self.note,
            "failed": self.failed,
        })
    }
}

/// Pauses each function: records its reserved concurrency in the `quell:paused` tag, sets it to
/// 0 (Lambda then invokes nothing: asynchronous events wait and are retried by Lambda for up to
/// the event's maximum age), and reads it back. A function already paused is left as it is.
pub async fn pause(lambda: &Lambda, functions: Vec<QuellFunction>, now: &str) -> Vec<Change> {
    let mut out = Vec::new();
    for f in functions {
        let before = match reserved(lambda, &f.name).await {
            Ok(c) => c,
            Err(e) => {
                out.push(failed(f, None, e));
                continue;
            }
        };
        if before == Some(0) {
            let note = match &f.paused {
                Some(_) => "already paused".to_string(),
                None => "already at 0 (deployed with Paused=true?); nothing recorded".to_string(),
            };
            out.push(Change {
                function: f,
                before,
                after: before,
                note,
                failed: false,
            });
            continue;
        }
        // The record first: a pause cut short leaves a record and a running function, which
        // `quell resume` settles; never a paused function without its record.
        let step = async {
            lambda
                .tag_resource()
                .resource(&f.arn)
                .tags(PAUSED_TAG, shown(before))
                .tags(PAUSED_AT_TAG, now)
                .send()
                .await
                .map_err(sdk_err)
                .context("could not record the pause (lambda:TagResource)")?;
            lambda
                .put_function_concurrency()
                .function_name(&f.name)
                .reserved_concurrent_executions(0)
                .send()
                .await
                .map_err(sdk_err)
                .context("could not set the reserved concurrency to 0")?;
            reserved(lambda, &f.name).await
        }
        .await;
        out.push(match step {
            Ok(Some(0)) => Change {
                function: f,
                before,
                after: Some(0),
                note: format!("paused; {PAUSED_TAG}={} recorded", shown(before)),
                failed: false,
            },
            Ok(after) => Change {
                function: f,
                before,
                after,
                note: "not paused: the concurrency read back is not 0".into(),
                failed: true,
            },
            Err(e) => failed(f, before, e),
        });
    }
    out
}

/// Resumes each function `quell pause` paused: puts back the recorded reserved concurrency (or
/// none), reads it back, then removes the record. A function at 0 without a record (deployed
/// paused) is set to `concurrency` when given; otherwise it is left and reported.
pub async fn resume(
    lambda: &Lambda,
    functions: Vec<QuellFunction>,
    concurrency: Option<i32>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for f in functions {
        let before = match reserved(lambda, &f.name).await {
            Ok(c) => c,
            Err(e) => {
                out.push(failed(f, None, e));
                continue;
            }
        };
        let target: Option<i32> = match (&f.paused, concurrency) {
            (_, Some(n)) => Some(n),
            (Some(rec), None) if rec == UNRESERVED => None,
            (Some(rec), None) => {
                match rec.parse::<i32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        let note = format!("{PAUSED_TAG}={rec:?} is not a concurrency; name one with --concurrency");
                        out.push(Change {
                            function: f,
                            before,
                            after: before,
                            note,
                            failed: true,
                        });
                        continue;
                    }
                }
            }
            (None, None) if before == Some(0) => {
                out.push(Change {
                    function: f,
                    before,
                    after: before,
                    note: "at 0 with no pause recorded (deployed with Paused=true?): update the stack with Paused=false, or name one with --concurrency".into(),
                    failed: true,
                });
                continue;
            }
            (None, None) => {
                out.push(Change {
                    function: f,
                    before,
                    after: before,
                    note: "not paused".into(),
                    failed: false,
                });
                continue;
            }
        };
        let step = async {
            match target {
                Some(n) => {
                    lambda
                        .put_function_concurrency()
                        .function_name(&f.name)
                        .reserved_concurrent_executions(n)
                        .send()
                        .await
                        .map_err(sdk_err)
                        .context("could not put the reserved concurrency back")?;
                }
                None => {
                    lambda
                        .delete_function_concurrency()
                        .function_name(&f.name)
                        .send()
                        .await
                        .map_err(sdk_err)
                        .context("could not remove the reserved concurrency")?;
                }
            }
            let after = reserved(lambda, &f.name).await?;
            if after == target && f.paused.is_some() {
                lambda
                    .untag_resource()
                    .resource(&f.arn)
                    .tag_keys(PAUSED_TAG)
                    .tag_keys(PAUSED_AT_TAG)
                    .send()
                    .await
                    .map_err(sdk_err)
                    .context(
                        "resumed, but could not remove the pause record (lambda:UntagResource)",
                    )?;
            }
            Ok::<_, anyhow::Error>(after)
        }
        .await;
        out.push(match step {
            Ok(after) if after == target => Change {
                function: f,
                before,
                after,
                note: "resumed".into(),
                failed: false,
            },
            Ok(after) => Change {
                function: f,
                before,
                after,
                note: format!(
                    "not resumed: the concurrency read back is not {}",
                    shown(target)
                ),
                failed: true,
            },
            Err(e) => failed(f, before, e),
        });
    }
    out
}

fn failed(function: QuellFunction, before: Option<i32>, e: anyhow::Error) -> Change {
    Change {
        function,
        before,
        after: before,
        note: format!("{e:#}"),
        failed: true,
    }
}

/// One dead letter, as redrive found it and what became of it.
pub struct Letter {
    pub message_id: String,
    /// The function EventBridge could not deliver it to (TARGET_ARN), when it says.
    pub target: Option<String>,
    /// What each remediation did, or why nothing ran.
    pub results: Vec<(String, String)>,
    pub deleted: bool,
    pub tally: Tally,
}

impl Letter {
    pub fn json(&self, reports: Vec<Value>) -> Value {
        json!({
            "message_id": self.message_id,
            "target": self.target,
            "deleted": self.deleted,
            "results": reports,
        })
    }
}

/// The queue's URL: `queue` is a URL already, or a name in this account and region.
pub async fn queue_url(sqs: &Sqs, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_string());
    }
    Ok(sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .map_err(sdk_err)
        .with_context(|| format!("no queue {queue} (sqs:GetQueueUrl)"))?
        .queue_url()
        .unwrap_or_default()
        .to_string())
}

/// The remediation a dead letter was meant for, from its TARGET_ARN (an EventBridge target's
/// dead letter): the target function's `quell:remediation` tag. Lambda's own dead letters name
/// no function; their event is routed by the rules, as the bus routed it.
async fn target_remediation(lambda: &Lambda, target: &str) -> Result<String, String> {
    if target.split(':').nth(2) != Some("lambda") {
        return Err(format!("TARGET_ARN {target} is not a Lambda function"));
    }
    let tags = lambda
        .list_tags()
        .resource(target)
        .send()
        .await
        .map_err(|e| {
            format!(
                "could not read the tags of {target}: {}",
                DisplayErrorContext(e)
            )
        })?;
    tags.tags()
        .and_then(|t| t.get(REMEDIATION_TAG))
        .cloned()
        .ok_or_else(|| format!("{target} is not a quell function (no {REMEDIATION_TAG} tag)"))
}

/// What redrive believes of a dead letter. Anyone who may send to the queue (EventBridge, and each
/// function's role, through which Lambda writes its own dead letters) could have written it, so
/// it is believed only as far as AWS confirms it.
enum Verified {
    /// Security Hub's own copy of every finding in it, re-read by id and product.
    Event(Value),
    /// Nothing here can check it against AWS: planned only, kept for a person.
    Unverified(Value, String),
    /// Refused: kept for a person.
    Refused(String),
}

async fn verify(
    hub: &aws_sdk_securityhub::Client,
    at: (&str, &str, &str),
    event: Value,
) -> Verified {
    use aws_sdk_securityhub::types::{
        AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
    };
    let text = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (source, kind) = (text("source"), text("detail-type"));
    if source != "aws.securityhub" {
        return Verified::Unverified(
            event,
            format!("a {kind} event cannot be checked against AWS from the queue: planned only; check it, then `quell replay --mode enforce` it"),
        );
    }
    if kind != "Security Hub Findings - Imported" {
        return Verified::Refused(format!(
            "a {kind} event is not redriven: a person sends it again from the console"
        ));
    }
    let Some(findings) = event.pointer("/detail/findings").and_then(Value::as_array) else {
        return Verified::Refused("detail.findings is not a list".into());
    };
    let eq = |v: &str| {
        StringFilter::builder()
            .value(v)
            .comparison(StringFilterComparison::Equals)
            .build()
    };
    let mut fresh = Vec::new();
    for f in findings {
        let field = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default();
        let (id, product) = (field("Id"), field("ProductArn"));
        let read = hub
            .get_findings()
            .filters(
                AwsSecurityFindingFilters::builder()
                    .id(eq(id))
                    .product_arn(eq(product))
                    .build(),
            )
            .max_results(1)
            .send()
            .await;
        match read {
            Ok(out) => match out.findings().first() {
                Some(found) => {
                    // Still open: active, not resolved or suppressed, and a failed control.
                    let workflow = found
                        .workflow()
                        .and_then(|w| w.status())
                        .map(|s| s.as_str());
                    let active = found.record_state().map(|r| r.as_str()) == Some("ACTIVE");
                    let failed = found
                        .compliance()
                        .is_none_or(|c| c.status().map(|s| s.as_str()) == Some("FAILED"));
                    if !(active && failed && matches!(workflow, Some("NEW") | Some("NOTIFIED"))) {
                        return Verified::Refused(format!(
                            "finding {id} is no longer open in Security Hub ({}, workflow {}): nothing to redrive",
                            found.record_state().map(|r| r.as_str()).unwrap_or("?"),
                            workflow.unwrap_or("?")
                        ));
                    }
                    fresh.push(crate::sweep::asff(found))
                }
                None => {
                    return Verified::Refused(format!(
                        "finding {id} of {product} is not in Security Hub: not redriven"
                    ))
                }
            },
            Err(e) => {
                return Verified::Refused(format!(
                    "could not re-read finding {id} from Security Hub: {}",
                    DisplayErrorContext(e)
                ))
            }
        }
    }
    // As sweep sends them: the custom action a person would send for findings still open, so a
    // finding quell already marked NOTIFIED (a dry run, a failure) is taken.
    Verified::Event(crate::sweep::custom_action_event(0, at, fresh))
}

/// The outcomes after which a dead letter is settled and may be deleted.
fn settled(outcome: &str) -> bool {
    matches!(outcome, "REMEDIATED" | "ALREADY_COMPLIANT" | "EXEMPT")
}

/// What a redrive read, and why it stopped early, if it did.
pub struct Redriven {
    pub letters: Vec<Letter>,
    pub stopped: Option<String>,
}

/// Reads the dead-letter queue (each message once, up to `max`) and runs each through its
/// remediation with `runner`:
/// - a Security Hub finding event with Security Hub's own copy of its findings (re-read, still
///   open), sent as the custom action a person would send for them;
/// - any other event planned only (dry-run), as nothing here can check it against AWS;
/// - a custom action, or a finding Security Hub does not have, not at all.
///
/// With `delete`, a message is deleted only when every remediation it reached settled it
/// (REMEDIATED, ALREADY_COMPLIANT or EXEMPT, recorded). Messages kept are made visible again at
/// once, so the queue and its alarm show them. `on_letter` sees each.
/// Where redrive reads, and what it checks letters with.
pub struct DeadLetters<'a> {
    pub sqs: &'a Sqs,
    pub lambda: &'a Lambda,
    pub hub: &'a aws_sdk_securityhub::Client,
    /// The administrator (account, region, partition): quell's own action target.
    pub at: (&'a str, &'a str, &'a str),
    pub url: &'a str,
}

pub async fn redrive(
    q: &DeadLetters<'_>,
    runner: &Runner,
    max: usize,
    delete: bool,
    mut on_letter: impl FnMut(&Letter, Vec<Value>),
) -> anyhow::Result<Redriven> {
    let (sqs, lambda, hub, at, url) = (q.sqs, q.lambda, q.hub, q.at, q.url);
    let mut seen = HashSet::new();
    let mut letters = Vec::new();
    let mut keep = Vec::new();
    let mut stopped = None;
    while letters.len() < max {
        let want = (max - letters.len()).min(10) as i32;
        let page = match sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(300)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if letters.is_empty() => {
                return Err(sdk_err(e))
                    .with_context(|| format!("could not read {url} (sqs:ReceiveMessage)"))
            }
            Err(e) => {
                stopped = Some(format!(
                    "could not read {url} further: {}",
                    DisplayErrorContext(e)
                ));
                break;
            }
        };
        let messages = page.messages();
        if messages.is_empty() {
            break;
        }
        let mut again = false;
        for m in messages {
            let id = m.message_id().unwrap_or_default().to_string();
            let receipt = m.receipt_handle().unwrap_or_default().to_string();
            if !seen.insert(id.clone()) {
                // Back within the run (it outlasted the visibility timeout): every message has
                // been read. Kept, with its newest receipt.
                again = true;
                keep.push(receipt);
                continue;
            }
            let target = m
                .message_attributes()
                .and_then(|a| a.get("TARGET_ARN"))
                .and_then(|v| v.string_value())
                .map(str::to_string);
            let mut tally = Tally::default();
            let mut results = Vec::new();
            let mut reports = Vec::new();
            let mut all_settled = false;
            let only = match &target {
                Some(t) => target_remediation(lambda, t).await.map(Some),
                None => Ok(None),
            };
            let ran = match (
                serde_json::from_str::<Value>(m.body().unwrap_or_default()),
                only,
            ) {
                (Err(e), _) => Err(format!("the body is not JSON: {e}")),
                (_, Err(e)) => Err(e),
                (Ok(event), Ok(only)) => {
                    let only: Vec<&str> = only.as_deref().into_iter().collect();
                    match verify(hub, at, event).await {
                        Verified::Event(e) => Ok(runner.run(&e, &only).await),
                        Verified::Unverified(e, why) => {
                            tally.failed = true;
                            results.push(("-".into(), format!("UNVERIFIED  {why}")));
                            Ok(runner.run_planned(&e, &only).await)
                        }
                        Verified::Refused(why) => Err(why),
                    }
                }
            };
            match ran {
                Err(e) | Ok(EventRun::Refused(e)) => {
                    tally.failed = true;
                    results.push(("-".into(), format!("REFUSED  {e}")));
                }
                Ok(EventRun::NoRule { detail_type }) => {
                    tally.failed = true;
                    results.push((
                        "-".into(),
                        format!("NO_RULE  no remediation's rules match this {detail_type} event (resolved since?)"),
                    ));
                }
                Ok(EventRun::Ran(runs)) => {
                    all_settled = !runs.is_empty()
                        && runs.iter().all(|r| settled(r.outcome()) && !r.failed());
                    for r in &runs {
                        tally.add(r);
                        results.push((r.function.to_string(), r.line()));
                        reports.push(r.json());
                    }
                }
            }
            let mut letter = Letter {
                message_id: id,
                target,
                results,
                deleted: false,
                tally,
            };
            if delete && all_settled && !tally.failed {
                match sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                {
                    Ok(_) => letter.deleted = true,
                    Err(e) => {
                        letter.tally.failed = true;
                        letter.results.push((
                            "-".into(),
                            format!("replayed, but not deleted: {}", DisplayErrorContext(e)),
                        ));
                        keep.push(receipt);
                    }
                }
            } else {
                if delete {
                    // Not settled: kept, and a person must look.
                    letter.tally.failed |= !all_settled;
                }
                keep.push(receipt);
            }
            on_letter(&letter, reports);
            letters.push(letter);
        }
        if again {
            break;
        }
    }
    for receipt in keep {
        // Not fatal: the message is kept either way, and shows again when its timeout ends.
        if let Err(e) = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
        {
            eprintln!(
                "warning: a kept message stays hidden until its visibility timeout ends: {}",
                DisplayErrorContext(e)
            );
        }
    }
    Ok(Redriven { letters, stopped })
}
