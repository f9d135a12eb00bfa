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
        let message = serde_json::to_string_pretty(report)
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
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
