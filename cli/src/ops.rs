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
) -> anyhow::Result<Vec<QuellFunction>> {
    let mut out = Vec::new();
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
            let tags = lambda
                .list_tags()
                .resource(arn)
                .send()
                .await
                .map_err(sdk_err)
                .with_context(|| format!("could not read the tags of {name} (lambda:ListTags)"))?;
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
    Ok(out)
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

/// Reads the dead-letter queue (each message once, up to `max`), runs each through its
/// remediation with `runner`, and — `delete` — deletes a message only when every remediation it
/// reached succeeded (no failure, nothing retryable, every outcome recorded). Messages kept are
/// made visible again at once, so the queue and its alarm show them. `on_letter` sees each.
pub async fn redrive(
    sqs: &Sqs,
    lambda: &Lambda,
    url: &str,
    runner: &Runner,
    max: usize,
    delete: bool,
    mut on_letter: impl FnMut(&Letter, Vec<Value>),
) -> anyhow::Result<Vec<Letter>> {
    let mut seen = HashSet::new();
    let mut letters = Vec::new();
    let mut keep = Vec::new();
    'receive: while letters.len() < max {
        let want = (max - letters.len()).min(10) as i32;
        let page = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(300)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(sdk_err)
            .with_context(|| format!("could not read {url} (sqs:ReceiveMessage)"))?;
        let messages = page.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let id = m.message_id().unwrap_or_default().to_string();
            let receipt = m.receipt_handle().unwrap_or_default().to_string();
            if !seen.insert(id.clone()) {
                // Back again within the run (it took longer than the visibility timeout): every
                // message has been read.
                break 'receive;
            }
            let target = m
                .message_attributes()
                .and_then(|a| a.get("TARGET_ARN"))
                .and_then(|v| v.string_value())
                .map(str::to_string);
            let mut tally = Tally::default();
            let mut results = Vec::new();
            let mut reports = Vec::new();
            let ran = match serde_json::from_str::<Value>(m.body().unwrap_or_default()) {
                Err(e) => Err(format!("the body is not JSON: {e}")),
                Ok(event) => {
                    let only = match &target {
                        Some(t) => target_remediation(lambda, t).await.map(Some),
                        None => Ok(None),
                    };
                    match only {
                        Err(e) => Err(e),
                        Ok(only) => {
                            let only: Vec<&str> = only.as_deref().into_iter().collect();
                            Ok(runner.run(&event, &only).await)
                        }
                    }
                }
            };
            match ran {
                Err(e) => {
                    tally.failed = true;
                    results.push(("-".into(), format!("REFUSED  {e}")));
                }
                Ok(EventRun::Refused(e)) => {
                    tally.failed = true;
                    results.push(("-".into(), format!("REFUSED  {e}")));
                }
                Ok(EventRun::NoRule { detail_type }) => {
                    tally.failed = true;
                    results.push((
                        "-".into(),
                        format!("NO_RULE  no remediation's rules match this {detail_type} event"),
                    ));
                }
                Ok(EventRun::Ran(runs)) => {
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
            if delete && tally.code() == 0 {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .map_err(sdk_err)
                    .with_context(|| {
                        format!("replayed {}, but could not delete it", letter.message_id)
                    })?;
                letter.deleted = true;
            } else {
                keep.push(receipt);
            }
            on_letter(&letter, reports);
            letters.push(letter);
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
    Ok(letters)
}
