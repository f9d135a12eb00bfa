//! One SNS message per outcome, from where the team's Slack channel hears it, and the whole
//! outcome as a `quell Outcome` event on the quell bus, for ticketing and SIEMs.

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::error::{AwsError, AwsResultExt};
use crate::outcome::{truncate, Report};

pub struct Notifier {
    client: Option<(aws_sdk_sns::Client, String)>,
    events: Option<(aws_sdk_eventbridge::Client, String)>,
}

/// The `source` of quell's outcome events (EventBridge keeps `aws.` sources for AWS).
pub const OUTCOME_SOURCE: &str = "quell";
/// The `detail-type` of quell's outcome events; their `detail` is the whole [`Report`].
pub const OUTCOME_DETAIL_TYPE: &str = "quell Outcome";

impl Notifier {
    /// `topic_arn` None: notifications are off (outcomes are still logged).
    pub fn new(base: &SdkConfig, topic_arn: Option<String>) -> Self {
        Notifier {
            client: topic_arn.map(|arn| {
                let conf = aws_sdk_sns::config::Builder::from(base)
                    .region(region_of(&arn))
                    .build();
                (aws_sdk_sns::Client::from_conf(conf), arn)
            }),
            events: None,
        }
    }

    /// Also puts every outcome on `bus_arn` (the quell bus) as a `quell Outcome` event; `None`
    /// leaves it off.
    pub fn with_outcome_bus(mut self, base: &SdkConfig, bus_arn: Option<String>) -> Self {
        self.events = bus_arn.map(|arn| {
            let conf = aws_sdk_eventbridge::config::Builder::from(base)
                .region(region_of(&arn))
                .build();
            (aws_sdk_eventbridge::Client::from_conf(conf), arn)
        });
        self
    }

    /// Puts the whole report on the quell bus: source `quell`, detail-type `quell Outcome`, the
    /// resource's ARN as the event's resource. `Ok(None)` when no bus is set; `Ok(Some(event
    /// id))` else. An entry EventBridge did not take is an error, like a call that failed.
    pub async fn emit(&self, report: &Report) -> Result<Option<String>, AwsError> {
        let Some((client, bus)) = &self.events else {
            return Ok(None);
        };
        let detail = outcome_detail(report)?;
        let mut entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(OUTCOME_SOURCE)
            .detail_type(OUTCOME_DETAIL_TYPE)
            .detail(detail);
        if let Some(arn) = report.resource.as_deref().filter(|r| r.starts_with("arn:")) {
            entry = entry.resources(arn);
        }
        let out = client
            .put_events()
            .entries(entry.build())
            .send()
            .await
            .aws(|| format!("could not put the outcome on {bus}"))?;
        let first = out.entries().first();
        if out.failed_entry_count() > 0 || first.and_then(|e| e.error_code()).is_some() {
            let code = first.and_then(|e| e.error_code()).unwrap_or("FailedEntry");
            let message = first.and_then(|e| e.error_message()).unwrap_or_default();
            return Err(AwsError::other(
                format!("could not put the outcome on {bus}"),
                code,
                message,
                code == "ThrottlingException" || code == "InternalFailure",
            ));
        }
        Ok(first.and_then(|e| e.event_id()).map(str::to_string))
    }

    pub fn enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Publishes an escalation that is not one finding's outcome (a cap reached).
    pub async fn escalate(&self, subject: &str, message: &str) -> Result<(), AwsError> {
        let Some((client, topic)) = &self.client else {
            return Ok(());
        };
        client
            .publish()
            .topic_arn(topic)
            .subject(truncate(subject, 100))
            .message(message)
            .send()
            .await
            .aws(|| format!("could not publish an escalation to {topic}"))?;
        Ok(())
    }

    /// Publishes the report. `Ok(None)` when notifications are off; `Ok(Some(message id))` else.
    pub async fn publish(&self, report: &Report) -> Result<Option<String>, AwsError> {
        let Some((client, topic)) = &self.client else {
            return Ok(None);
        };
        let message = chatbot_message(report).to_string();
        let subject: String = format!(
            "quell {}: {} {} in {}",
            report.function,
            report.outcome.name(),
            report.kind,
            report.account
        )
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        let mut req = client
            .publish()
            .topic_arn(topic)
            .subject(truncate(&subject, 100))
            .message(message);
        for (k, v) in [
            ("outcome", report.outcome.name()),
            ("function", report.function.as_str()),
            ("account", report.account.as_str()),
        ] {
            if let Ok(a) = attr(v) {
                req = req.message_attributes(k, a);
            }
        }
        let out = req
            .send()
            .await
            .aws(|| format!("could not publish the outcome to {topic}"))?;
        Ok(out.message_id)
    }
}

/// The Region an ARN names (a topic's or a bus's own, whatever the function's).
fn region_of(arn: &str) -> aws_config::Region {
    aws_config::Region::new(arn.split(':').nth(3).unwrap_or_default().to_string())
}

/// EventBridge takes an entry of at most 256 KB; the detail stays well under it.
const MAX_DETAIL_BYTES: usize = 200_000;

/// The report as an event's detail. A report too large for an entry (a very long list of steps
/// or record errors) keeps its first steps and errors and says how many were left out.
fn outcome_detail(report: &Report) -> Result<String, AwsError> {
    let ser = |r: &Report| {
        serde_json::to_string(r)
            .map_err(|e| AwsError::other("events:PutEvents", "Serialization", e.to_string(), false))
    };
    let detail = ser(report)?;
    if detail.len() <= MAX_DETAIL_BYTES {
        return Ok(detail);
    }
    let mut r = report.clone();
    let left_out = r.record_errors.len().saturating_sub(5);
    r.record_errors.truncate(5);
    let mut n = 0;
    if let crate::outcome::Outcome::Remediated { steps } = &mut r.outcome {
        n = steps.len().saturating_sub(20);
        steps.truncate(20);
    }
    r.note = truncate(
        &format!(
            "{} ({n} steps and {left_out} record errors left out of this event for its size)",
            r.note
        ),
        1024,
    );
    let detail = ser(&r)?;
    if detail.len() <= MAX_DETAIL_BYTES {
        Ok(detail)
    } else {
        Err(AwsError::other(
            "events:PutEvents",
            "DetailTooLarge",
            format!(
                "the outcome is {} bytes, past an event's size",
                detail.len()
            ),
            false,
        ))
    }
}

/// Text a sender controls (alarm names, titles, user names, notes that quote them), made inert for
/// Slack markdown: `&`, `<` and `>` escaped, formatting characters and backticks taken out of play.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '*' | '_' | '~' | '|' => {
                out.push('\u{200b}');
                out.push(c);
                out.push('\u{200b}');
            }
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The console page of a finding, in its region.
fn console_link(report: &Report) -> String {
    let id: String = report
        .finding_id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "https://{region}.console.aws.amazon.com/securityhub/home?region={region}#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A{id}",
        region = report.region
    )
}

/// The message in AWS Chatbot's custom-notification schema (`version`, `source: custom`,
/// `content.description` required): title = outcome, remediation and resource; description =
/// account, region, what was done or planned, a console link; `threadId` = the finding, so one
/// finding's story is one Slack thread.
pub fn chatbot_message(report: &Report) -> serde_json::Value {
    let outcome = report.outcome.name();
    let resource = report.resource.as_deref().unwrap_or("the finding");
    let title = format!(
        "{outcome} · {} · {}",
        report.function,
        slack_escape(resource)
    );
    let workflow = report.workflow.map(|w| w.as_str()).unwrap_or("unchanged");
    let description = truncate(
        &format!(
            "*Account* {} · *Region* {} · *Finding* {} · *Workflow* {workflow}\n{}\n<{}|Open the finding in Security Hub>",
            report.account,
            report.region,
            slack_escape(&report.kind),
            slack_escape(&report.note),
            console_link(report)
        ),
        3500,
    );
    serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "id": report.finding_id,
        "content": {
            "textType": "client-markdown",
            "title": truncate(&title, 250),
            "description": description,
        },
        "metadata": {
            "threadId": truncate(&report.finding_id, 128),
            "summary": truncate(&format!("quell {}: {outcome} {} in {}", report.function, report.kind, report.account), 250),
            "eventType": format!("quell.{outcome}"),
            "relatedResources": [resource],
            "additionalContext": {
                "outcome": outcome,
                "function": report.function,
                "account": report.account,
                "region": report.region,
                "finding": report.finding_id,
                "workflow": workflow,
                "mode": report.mode.as_str(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn report(note: &str, resource: &str) -> Report {
        Report {
            function: "s3-block-public-access".into(),
            source: crate::finding::Source::Config,
            finding_id: "arn:aws:securityhub:us-east-1:111111111111:finding/x y".into(),
            kind: "S3.8".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            resource: Some(resource.into()),
            mode: crate::config::Mode::Enforce,
            outcome: Outcome::Remediated { steps: vec![] },
            workflow: Some(crate::outcome::Workflow::Resolved),
            note: note.into(),
            hub: None,
            record_errors: vec![],
        }
    }

    #[test]
    fn the_message_has_what_chatbot_requires_and_one_thread_per_finding() {
        let m = chatbot_message(&report("fixed", "AWS::S3::Bucket b"));
        assert_eq!(m["version"], "1.0");
        assert_eq!(m["source"], "custom");
        let d = m["content"]["description"].as_str().unwrap();
        assert!(!d.is_empty() && d.contains("111111111111") && d.contains("us-east-1"));
        assert!(d.contains("https://us-east-1.console.aws.amazon.com/securityhub/"));
        assert!(d.contains("x%20y"), "the link encodes the id: {d}");
        assert!(m["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with("REMEDIATED"));
        assert_eq!(m["metadata"]["threadId"], m["id"]);
        assert_eq!(m["metadata"]["additionalContext"]["outcome"], "REMEDIATED");
    }

    #[test]
    fn what_a_sender_controls_cannot_format_or_link() {
        let m = chatbot_message(&report(
            "alarm <https://evil.example|click> *urgent* `x` & more",
            "alarm <!channel>",
        ));
        let d = m["content"]["description"].as_str().unwrap();
        assert!(!d.contains("<https://evil"), "{d}");
        assert!(d.contains("&lt;https://evil.example"), "{d}");
        assert!(!d.contains("`x`") && !d.contains("*urgent*"), "{d}");
        let t = m["content"]["title"].as_str().unwrap();
        assert!(
            !t.contains("<!channel>") && t.contains("&lt;!channel&gt;"),
            "{t}"
        );
    }

    fn notifier(client: aws_sdk_eventbridge::Client) -> Notifier {
        Notifier {
            client: None,
            events: Some((
                client,
                "arn:aws:events:us-east-1:123456789012:event-bus/quell".into(),
            )),
        }
    }

    #[tokio::test]
    async fn the_whole_outcome_goes_on_the_bus_and_a_refused_entry_is_an_error() {
        use aws_sdk_eventbridge::types::PutEventsResultEntry;
        use aws_smithy_mocks::{mock, mock_client};
        let r = report("fixed", "arn:aws:s3:::b");
        let put = mock!(aws_sdk_eventbridge::Client::put_events)
            .match_requests(|req| {
                let e = &req.entries()[0];
                let detail: serde_json::Value =
                    serde_json::from_str(e.detail().unwrap_or_default()).unwrap_or_default();
                e.source() == Some("quell")
                    && e.detail_type() == Some("quell Outcome")
                    && e.event_bus_name()
                        == Some("arn:aws:events:us-east-1:123456789012:event-bus/quell")
                    && e.resources() == ["arn:aws:s3:::b"]
                    && detail["outcome"] == "REMEDIATED"
                    && detail["account"] == "111111111111"
                    && detail["note"] == "fixed"
            })
            .then_output(|| {
                aws_sdk_eventbridge::operation::put_events::PutEventsOutput::builder()
                    .failed_entry_count(0)
                    .entries(PutEventsResultEntry::builder().event_id("e-1").build())
                    .build()
            });
        let ok = notifier(mock_client!(aws_sdk_eventbridge, [&put]));
        assert_eq!(ok.emit(&r).await.unwrap().as_deref(), Some("e-1"));
        assert_eq!(put.num_calls(), 1);

        let refused = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
            aws_sdk_eventbridge::operation::put_events::PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("AccessDeniedException")
                        .error_message("not allowed")
                        .build(),
                )
                .build()
        });
        let e = notifier(mock_client!(aws_sdk_eventbridge, [&refused]))
            .emit(&r)
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));
        assert!(e.to_string().contains("not allowed"), "{e}");

        // No bus: nothing is put, nothing fails.
        let off = Notifier {
            client: None,
            events: None,
        };
        assert_eq!(off.emit(&r).await.unwrap(), None);
    }

    #[test]
    fn an_outcome_too_large_for_an_event_keeps_its_first_steps_and_says_so() {
        let mut r = report("fixed", "arn:aws:s3:::b");
        r.outcome = Outcome::Remediated {
            steps: (0..5000)
                .map(|i| crate::outcome::Step::new("s3:PutBucketPolicy", format!("{i:0>100}")))
                .collect(),
        };
        let d: serde_json::Value = serde_json::from_str(&outcome_detail(&r).unwrap()).unwrap();
        assert_eq!(d["steps"].as_array().unwrap().len(), 20);
        assert!(d["note"].as_str().unwrap().contains("4980 steps"), "{d}");
        // A small one goes whole.
        let small = report("fixed", "arn:aws:s3:::b");
        assert_eq!(
            outcome_detail(&small).unwrap(),
            serde_json::to_string(&small).unwrap()
        );
    }
}
