//! One SNS message per outcome, from where the team's Slack channel hears it.

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::error::{AwsError, AwsResultExt};
use crate::outcome::{truncate, Report};

pub struct Notifier {
    client: Option<(aws_sdk_sns::Client, String)>,
}

impl Notifier {
    /// `topic_arn` None: notifications are off (outcomes are still logged).
    pub fn new(base: &SdkConfig, topic_arn: Option<String>) -> Self {
        Notifier {
            client: topic_arn.map(|arn| {
                // The topic's own region, whatever the function's.
                let region = arn.split(':').nth(3).unwrap_or_default().to_string();
                let conf = aws_sdk_sns::config::Builder::from(base)
                    .region(aws_config::Region::new(region))
                    .build();
                (aws_sdk_sns::Client::from_conf(conf), arn)
            }),
        }
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
}
