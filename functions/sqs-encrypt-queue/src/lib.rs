//! `sqs-encrypt-queue`: an SQS queue that keeps its messages unencrypted gets SQS-managed
//! server-side encryption (SSE-SQS) (SQS.1). SSE-SQS is transparent to every producer and
//! consumer, AWS services included, so the change is safe to enforce.
//!
//! A KMS key (SSE-KMS) is a person's choice, never quell's: every producer (SNS topics, S3 event
//! notifications, EventBridge rules) would then need kms:GenerateDataKey on that key, and those
//! without it would silently stop delivering. A queue already on SSE-KMS is compliant and left as
//! it is.

use quell::finding::validate;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const SET: &str = "sqs:SetQueueAttributes";
const SSE_SQS: &str = "SqsManagedSseEnabled";
const KMS_KEY: &str = "KmsMasterKeyId";

#[derive(Debug, Clone, Copy, Default)]
pub struct SqsEncryptQueue;

/// A queue in the finding's account and Region.
#[derive(Debug)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub account: String,
    pub region: String,
    pub partition: String,
}

/// The queue's name from what a finding names it by: its ARN's last part, its URL's last path
/// segment (the URL must be the one SQS forms for the finding's account and Region), or the name
/// itself.
fn queue_name(id: &str, f: &Finding) -> Result<String, NotApplicable> {
    let name = match id.strip_prefix("https://") {
        Some(rest) => {
            let name = rest.rsplit('/').next().unwrap_or_default();
            if id != queue_url(&f.partition, &f.region, &f.account, name) {
                return Err(NotApplicable(format!(
                    "queue {id} is not in the finding's account {} and Region {}",
                    f.account, f.region
                )));
            }
            name.to_string()
        }
        None => id.to_string(),
    };
    if !validate::queue_name(&name) {
        return Err(NotApplicable(format!("`{name}` is not an SQS queue name")));
    }
    Ok(name)
}

/// The queue's URL as SQS forms it.
pub fn queue_url(partition: &str, region: &str, account: &str, name: &str) -> String {
    let domain = if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sqs.{region}.{domain}/{account}/{name}")
}

/// Whether the queue keeps its messages encrypted, and how.
async fn encryption(sqs: &aws_sdk_sqs::Client, q: &Queue) -> Result<Option<String>, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let out = sqs
        .get_queue_attributes()
        .queue_url(&q.url)
        .attribute_names(QueueAttributeName::SqsManagedSseEnabled)
        .attribute_names(QueueAttributeName::KmsMasterKeyId)
        .send()
        .await
        .aws(|| format!("could not read the encryption of SQS queue {}", q.name))?;
    let attrs = out.attributes();
    let get = |name: QueueAttributeName| attrs.and_then(|a| a.get(&name)).map(String::as_str);
    if let Some(key) = get(QueueAttributeName::KmsMasterKeyId).filter(|k| !k.is_empty()) {
        return Ok(Some(format!("SSE-KMS with {key}")));
    }
    Ok(
        (get(QueueAttributeName::SqsManagedSseEnabled) == Some("true"))
            .then(|| "SSE-SQS".to_string()),
    )
}

async fn set_sse_sqs(sqs: &aws_sdk_sqs::Client, url: &str, on: bool) -> Result<(), AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::SqsManagedSseEnabled, on.to_string())
        .send()
        .await
        .aws(|| {
            format!(
                "could not turn SSE-SQS {} on queue {url}",
                if on { "on" } else { "off" }
            )
        })?;
    Ok(())
}

impl Remediation for SqsEncryptQueue {
    const SPEC: Spec = Spec {
        id: "sqs-encrypt-queue",
        summary: "Turns on SQS-managed server-side encryption (SSE-SQS) of an unencrypted SQS queue, transparent to its producers and consumers; a queue on SSE-KMS is left as it is",
        resolved: "SQS.1, sqs-queue-encrypted: GetQueueAttributes re-read has SqsManagedSseEnabled true or a KmsMasterKeyId. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Never picks a KMS key (SSE-KMS would stop every producer without kms:GenerateDataKey on it) and never changes a queue already encrypted either way; never touches its messages, policy or other attributes. A queue tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo turns SSE-SQS off again, unless the queue is unencrypted or on a KMS key since (left as it is). Default enforce.",
        triggers: Triggers {
            config_rules: &["sqs-queue-encrypted"],
            securityhub_controls: &["SQS.1"],
            ..Triggers::NONE
        },
        permissions: &["sqs:ListQueueTags", "sqs:GetQueueAttributes", SET],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Queue;
    type Clients = aws_sdk_sqs::Client;

    fn clients(&self, member: &Member) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Queue, NotApplicable> {
        let r = f
            .resource(&ResourceKind::SqsQueue)
            .ok_or_else(|| NotApplicable("the finding names no SQS queue".into()))?;
        if let Some(arn) = r.arn.as_deref().filter(|a| a.starts_with("arn:")) {
            quell::finding::arn_in(arn, &f.account, &f.region)
                .map_err(|why| NotApplicable(format!("queue {}: {why}", r.id)))?;
        }
        let name = queue_name(&r.id, f)?;
        Ok(Queue {
            url: queue_url(&f.partition, &f.region, &f.account, &name),
            name,
            account: f.account.clone(),
            region: f.region.clone(),
            partition: f.partition.clone(),
        })
    }

    fn describe(&self, t: &Queue) -> String {
        format!("SQS queue {}", t.name)
    }

    async fn tags(&self, sqs: &aws_sdk_sqs::Client, t: &Queue) -> Result<Tags, AwsError> {
        let out = sqs
            .list_queue_tags()
            .queue_url(&t.url)
            .send()
            .await
            .aws(|| format!("could not read the tags of SQS queue {}", t.name))?;
        Ok(out
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn plan(&self, sqs: &aws_sdk_sqs::Client, t: &Queue) -> Result<Vec<Step>, AwsError> {
        Ok(match encryption(sqs, t).await? {
            Some(_) => Vec::new(),
            None => vec![Step::new(
                SET,
                format!("queue={} {SSE_SQS}=true (SSE-SQS)", t.name),
            )],
        })
    }

    async fn prior(
        &self,
        _sqs: &aws_sdk_sqs::Client,
        t: &Queue,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it: apply only runs on a queue with neither SSE-SQS nor a KMS key.
        Ok(Some(serde_json::json!({
            "queue": t.name,
            "url": t.url,
            "account": t.account,
            "region": t.region,
            "partition": t.partition,
            SSE_SQS: false,
            KMS_KEY: null,
        })))
    }

    async fn restore(
        &self,
        sqs: &aws_sdk_sqs::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        let name = quell::remediation::prior_field(prior, "queue", validate::queue_name)?;
        let region = quell::remediation::prior_field(prior, "region", validate::region)?;
        let partition = quell::remediation::prior_field(prior, "partition", validate::partition)?;
        let url = prior["url"].as_str().unwrap_or_default();
        // The URL is only ever the one SQS forms for this account, Region and name.
        let formed = url == queue_url(&partition, &region, &account, &name);
        if !formed || prior[SSE_SQS] != serde_json::Value::Bool(false) {
            return Err(quell::remediation::invalid_prior(format!(
                "the recorded queue `{url}` or its {SSE_SQS} is not one quell changed"
            )));
        }
        // Only quell's SSE-SQS is taken off: a queue unencrypted or on a KMS key since is left.
        let q = Queue {
            name: name.clone(),
            url: url.to_string(),
            account,
            region,
            partition,
        };
        match encryption(sqs, &q).await?.as_deref() {
            Some("SSE-SQS") => {}
            now => {
                return Ok(vec![Step::new(
                    SET,
                    format!(
                        "queue={name} is {} now: left as it is",
                        now.unwrap_or("unencrypted")
                    ),
                )])
            }
        }
        set_sse_sqs(sqs, url, false).await?;
        Ok(vec![Step::new(
            SET,
            format!("queue={name} {SSE_SQS}=false, as it was"),
        )])
    }

    async fn apply(
        &self,
        sqs: &aws_sdk_sqs::Client,
        t: &Queue,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        set_sse_sqs(sqs, &t.url, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsOutput;
    use aws_sdk_sqs::operation::set_queue_attributes::{
        SetQueueAttributesError, SetQueueAttributesOutput,
    };
    use aws_sdk_sqs::types::QueueAttributeName;
    use aws_sdk_sqs::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::{Outcome, Resource, Source};

    const URL: &str = "https://sqs.us-east-1.amazonaws.com/111111111111/orders";

    fn queue() -> Queue {
        Queue {
            name: "orders".into(),
            url: URL.into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        }
    }

    fn tags(exempt: bool) -> Rule {
        mock!(Client::list_queue_tags)
            .match_requests(|r| r.queue_url() == Some(URL))
            .then_output(move || {
                let b = ListQueueTagsOutput::builder();
                if exempt {
                    b.tags("quell:exempt", "true").build()
                } else {
                    b.build()
                }
            })
    }

    type Attrs = &'static [(&'static str, &'static str)];

    fn attributes(first: Attrs, then: Attrs) -> Rule {
        let out = |a: Attrs| {
            let mut b = GetQueueAttributesOutput::builder();
            for (k, v) in a {
                b = b.attributes(QueueAttributeName::from(*k), *v);
            }
            b.build()
        };
        mock!(Client::get_queue_attributes)
            .sequence()
            .output(move || out(first))
            .output(move || out(then))
            .build()
    }

    fn set(on: bool) -> Rule {
        mock!(Client::set_queue_attributes)
            .match_requests(move |r| {
                r.queue_url() == Some(URL)
                    && r.attributes()
                        .and_then(|a| a.get(&QueueAttributeName::SqsManagedSseEnabled))
                        .map(String::as_str)
                        == Some(if on { "true" } else { "false" })
                    && r.attributes().map(|a| a.len()) == Some(1)
            })
            .then_output(|| SetQueueAttributesOutput::builder().build())
    }

    async fn run(t: Rule, g: Rule, s: &Rule, mode: Mode) -> Outcome {
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&t, &g, s]);
        execute(&SqsEncryptQueue, &sqs, &queue(), mode, "quell:exempt").await
    }

    #[tokio::test]
    async fn sse_sqs_is_turned_on_and_read_back() {
        let s = set(true);
        let out = run(
            tags(false),
            attributes(&[(SSE_SQS, "false")], &[(SSE_SQS, "true")]),
            &s,
            Mode::Enforce,
        )
        .await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
        assert_eq!(s.num_calls(), 1);
        let s = set(true);
        let out = run(
            tags(false),
            attributes(&[(SSE_SQS, "false")], &[(SSE_SQS, "false")]),
            &s,
            Mode::Enforce,
        )
        .await;
        assert_eq!(out.name(), "FAILED", "not read back on: {out:?}");
    }

    #[tokio::test]
    async fn encrypted_either_way_exempt_dry_run_and_denied() {
        for attrs in [
            &[(SSE_SQS, "true")][..],
            &[(SSE_SQS, "false"), (KMS_KEY, "alias/team-key")][..],
            &[(KMS_KEY, "arn:aws:kms:us-east-1:111111111111:key/k")][..],
        ] {
            let s = set(true);
            let out = run(tags(false), attributes(attrs, attrs), &s, Mode::Enforce).await;
            assert_eq!(out.name(), "ALREADY_COMPLIANT", "{attrs:?}");
            assert_eq!(s.num_calls(), 0, "a KMS key is never replaced");
        }
        let s = set(true);
        let out = run(tags(true), attributes(&[], &[]), &s, Mode::Enforce).await;
        assert_eq!((out.name(), s.num_calls()), ("EXEMPT", 0));
        let out = run(tags(false), attributes(&[], &[]), &s, Mode::DryRun).await;
        assert_eq!((out.name(), s.num_calls()), ("PLANNED", 0));
        let denied = mock!(Client::set_queue_attributes).then_error(|| {
            SetQueueAttributesError::generic(ErrorMetadata::builder().code("AccessDenied").build())
        });
        let out = run(tags(false), attributes(&[], &[]), &denied, Mode::Enforce).await;
        assert_eq!(out.name(), "FAILED");
        assert!(!out.is_retryable());
    }

    #[tokio::test]
    async fn undo_turns_sse_sqs_off_and_a_bad_prior_calls_nothing() {
        let s = set(false);
        // SSE-SQS when undone; on a KMS key (set by someone) at the second undo.
        let a = attributes(&[(SSE_SQS, "true")], &[(KMS_KEY, "alias/team-key")]);
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&s, &a]);
        let prior = SqsEncryptQueue
            .prior(&sqs, &queue())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            SqsEncryptQueue.restore(&sqs, &prior).await.unwrap().len(),
            1
        );
        assert_eq!(s.num_calls(), 1);
        let again = SqsEncryptQueue.restore(&sqs, &prior).await.unwrap();
        assert!(
            again[0]
                .to_string()
                .contains("SSE-KMS with alias/team-key now: left as it is"),
            "{again:?}"
        );
        assert_eq!(s.num_calls(), 1);
        let mut elsewhere = prior.clone();
        elsewhere["url"] = "https://sqs.evil.example/111111111111/orders".into();
        let mut other_region = prior.clone();
        other_region["region"] = "eu-west-1".into();
        let mut on = prior.clone();
        on[SSE_SQS] = true.into();
        for bad in [
            elsewhere,
            other_region,
            on,
            serde_json::json!({"queue": "orders"}),
        ] {
            assert_eq!(
                SqsEncryptQueue
                    .restore(&sqs, &bad)
                    .await
                    .unwrap_err()
                    .code
                    .as_deref(),
                Some("InvalidPriorState"),
                "{bad}"
            );
        }
        assert_eq!(s.num_calls(), 1);
    }

    #[test]
    fn the_target_is_the_finding_accounts_queue_by_arn_url_or_name() {
        let mut f = Finding::new(
            Source::SecurityHub,
            "f".into(),
            "SQS.1".into(),
            "SQS.1".into(),
            "111111111111".into(),
            "us-east-1".into(),
        );
        for id in ["arn:aws:sqs:us-east-1:111111111111:orders", URL, "orders"] {
            f.resources = vec![Resource::from_arn(ResourceKind::SqsQueue, id)];
            let t = SqsEncryptQueue.target(&f).unwrap();
            assert_eq!((t.name.as_str(), t.url.as_str()), ("orders", URL), "{id}");
        }
        for (other, named) in [
            ("arn:aws:sqs:us-east-1:222222222222:orders", "222222222222"),
            (
                "https://sqs.us-east-1.amazonaws.com/222222222222/orders",
                "222222222222",
            ),
            ("arn:aws:sqs:eu-west-1:111111111111:orders", "eu-west-1"),
            (
                "https://sqs.eu-west-1.amazonaws.com/111111111111/orders",
                "eu-west-1",
            ),
            ("https://sqs.evil.example/111111111111/orders", "orders"),
        ] {
            f.resources = vec![Resource::from_arn(ResourceKind::SqsQueue, other)];
            let NotApplicable(why) = SqsEncryptQueue.target(&f).unwrap_err();
            assert!(why.contains(named), "{why}");
        }
        for bad in ["a queue", "https://sqs.x/y", "q".repeat(81).as_str()] {
            f.resources = vec![Resource::new(ResourceKind::SqsQueue, bad)];
            assert!(SqsEncryptQueue.target(&f).is_err(), "{bad}");
        }
    }
}
