//! `sns-encrypt-topic`: an SNS topic that keeps its messages unencrypted at rest gets server-side
//! encryption with the KMS key the operator names in `QUELL_SNS_KMS_KEY` (SNS.1,
//! sns-encrypted-kms).
//!
//! The key is the operator's choice, never quell's: every AWS service that publishes to a topic
//! (CloudWatch alarms, EventBridge rules, S3 event notifications, and more) and every other account
//! needs `kms:GenerateDataKey*` and `kms:Decrypt` on it, and publishers without them silently stop
//! delivering. The AWS managed key `alias/aws/sns` cannot grant that (its key policy cannot be
//! changed). So:
//! - without `QUELL_SNS_KMS_KEY`, every topic is planned (NOTIFIED) naming the setting;
//! - with a customer managed key (whose policy lets those publishers use it, as ASR's own
//!   remediation key does), unencrypted topics are encrypted with it;
//! - with `alias/aws/sns`, chosen knowingly, a topic whose policy lets a service, another account
//!   or anyone publish is planned, naming them; the others are encrypted.
//!
//! A topic already encrypted with any key is compliant and left as it is.

use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use serde_json::Value;

const SET: &str = "sns:SetTopicAttributes";
const KMS_KEY: &str = "KmsMasterKeyId";
/// The setting naming the key topics are encrypted with.
pub const KEY_VAR: &str = "QUELL_SNS_KMS_KEY";
/// The AWS managed key for SNS.
pub const AWS_MANAGED: &str = "alias/aws/sns";

#[derive(Debug, Clone, Default)]
pub struct SnsEncryptTopic {
    /// The key topics are encrypted with: a key id, key ARN, alias name or alias ARN.
    pub key: Option<String>,
}

/// A topic in the finding's account and Region, and what the latest `plan` read of it.
#[derive(Debug, Default)]
pub struct Topic {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    /// Who the topic's policy lets publish from outside the account.
    outside: Cached<Vec<String>>,
    /// Why the configured key cannot encrypt this topic, from DescribeKey in its account (empty:
    /// it can).
    key_problem: Cached<String>,
}

/// The member's SNS client, and its KMS client to check the configured key.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sns: aws_sdk_sns::Client,
    pub kms: aws_sdk_kms::Client,
}

impl Topic {
    pub fn new(name: &str, account: &str, region: &str, partition: &str) -> Topic {
        Topic {
            name: name.into(),
            arn: format!("arn:{partition}:sns:{region}:{account}:{name}"),
            account: account.into(),
            region: region.into(),
            partition: partition.into(),
            outside: Cached::default(),
            key_problem: Cached::default(),
        }
    }
}

/// A KMS key as SNS accepts it: a key id, an alias name, or a key or alias ARN.
pub fn key_reference(s: &str) -> bool {
    let alias = |a: &str| {
        a.strip_prefix("alias/").is_some_and(|n| {
            (1..=250).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        })
    };
    if s.starts_with("arn:") {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        return parts.len() == 6
            && validate::partition(parts[1])
            && parts[2] == "kms"
            && validate::region(parts[3])
            && validate::account_id(parts[4])
            && (parts[5]
                .strip_prefix("key/")
                .is_some_and(validate::kms_key_id)
                || alias(parts[5]));
    }
    validate::kms_key_id(s) || alias(s)
}

/// Why `key` cannot encrypt a topic of `t`, read with DescribeKey in the topic's account: it must
/// exist there (or be shared with it), be in the topic's Region, be enabled and be a symmetric
/// encryption key. `None`: it can.
async fn key_problem(
    kms: &aws_sdk_kms::Client,
    key: &str,
    t: &Topic,
) -> Result<Option<String>, AwsError> {
    use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
    if let Some(region) = key.strip_prefix("arn:").and_then(|r| r.split(':').nth(2)) {
        if region != t.region {
            return Ok(Some(format!(
                "the key {key} is in {region}, and SNS uses only a key of the topic's Region {}",
                t.region
            )));
        }
    }
    let meta = match kms.describe_key().key_id(key).send().await {
        Ok(out) => out.key_metadata().cloned(),
        Err(e)
            if aws_sdk_kms::error::ProvideErrorMetadata::code(&e) == Some("NotFoundException") =>
        {
            return Ok(Some(format!(
                "there is no key {key} in account {} and Region {}",
                t.account, t.region
            )))
        }
        // A key of another account whose policy does not let this account use it: SNS could
        // not use it either.
        Err(e)
            if aws_sdk_kms::error::ProvideErrorMetadata::code(&e)
                == Some("AccessDeniedException") =>
        {
            return Ok(Some(format!(
                "account {} may not use the key {key} (DescribeKey is denied)",
                t.account
            )))
        }
        Err(e) => {
            return Err(AwsError::from_sdk(
                format!("could not describe the key {key} for SNS topic {}", t.name),
                e,
            ))
        }
    };
    let Some(meta) = meta else {
        return Ok(Some(format!("DescribeKey returned nothing for {key}")));
    };
    if meta.key_state() != Some(&KeyState::Enabled) {
        return Ok(Some(format!(
            "the key {key} is {}, not Enabled",
            meta.key_state()
                .map(|s| s.as_str())
                .unwrap_or("in no known state")
        )));
    }
    if meta
        .key_spec()
        .is_some_and(|k| *k != KeySpec::SymmetricDefault)
        || meta
            .key_usage()
            .is_some_and(|u| *u != KeyUsageType::EncryptDecrypt)
    {
        return Ok(Some(format!(
            "the key {key} is not a symmetric encryption key, the only kind SNS uses"
        )));
    }
    Ok(None)
}

fn aws_managed(key: &str) -> bool {
    key == AWS_MANAGED || key.ends_with(":alias/aws/sns")
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Who a topic policy lets publish from outside `account`: services, other accounts, everyone.
/// A statement pinned to the account (`aws:SourceOwner`, `aws:SourceAccount`,
/// `aws:PrincipalAccount` equal to it, as SNS's default policy is) is the account's own.
pub fn outside_publishers(policy: &str, account: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return vec!["an unreadable topic policy".into()];
    };
    let statements = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for st in statements {
        if st["Effect"].as_str() != Some("Allow") {
            continue;
        }
        let publishes = strings(&st["Action"]).iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "*" || a == "sns:*" || a == "sns:publish"
        });
        if !publishes {
            continue;
        }
        let pinned = st["Condition"].as_object().is_some_and(|ops| {
            ops.iter().any(|(op, keys)| {
                !op.to_ascii_lowercase().contains("not")
                    && !op.ends_with("IfExists")
                    && keys.as_object().is_some_and(|k| {
                        k.iter().any(|(key, v)| {
                            matches!(
                                key.to_ascii_lowercase().as_str(),
                                "aws:sourceowner" | "aws:sourceaccount" | "aws:principalaccount"
                            ) && !strings(v).is_empty()
                                && strings(v).iter().all(|v| *v == account)
                        })
                    })
            })
        });
        let p = &st["Principal"];
        for service in strings(&p["Service"]) {
            out.push(format!("the service {service}"));
        }
        let mut aws = strings(&p["AWS"]);
        if p.as_str() == Some("*") {
            aws.push("*");
        }
        for who in aws {
            let own = who == account
                || who.starts_with(&format!("arn:aws:iam::{account}:"))
                || quell::finding::arn_account(who) == Some(account);
            if own || (pinned && who.contains('*')) {
                continue;
            }
            out.push(if who.contains('*') {
                "everyone (principal *)".to_string()
            } else {
                format!("the principal {who}")
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn attribute(
    sns: &aws_sdk_sns::Client,
    t: &Topic,
) -> Result<(Option<String>, Option<String>), AwsError> {
    let out = sns
        .get_topic_attributes()
        .topic_arn(&t.arn)
        .send()
        .await
        .aws(|| format!("could not read the attributes of SNS topic {}", t.name))?;
    let attrs = out.attributes();
    let get = |k: &str| {
        attrs
            .and_then(|a| a.get(k))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    Ok((get(KMS_KEY), get("Policy")))
}

async fn set_key(sns: &aws_sdk_sns::Client, arn: &str, key: &str) -> Result<(), AwsError> {
    sns.set_topic_attributes()
        .topic_arn(arn)
        .attribute_name(KMS_KEY)
        .attribute_value(key)
        .send()
        .await
        .aws(|| {
            if key.is_empty() {
                format!("could not turn the encryption of SNS topic {arn} off")
            } else {
                format!("could not encrypt SNS topic {arn} with {key}")
            }
        })?;
    Ok(())
}

impl Remediation for SnsEncryptTopic {
    const SPEC: Spec = Spec {
        id: "sns-encrypt-topic",
        summary: "Encrypts an unencrypted SNS topic at rest with the KMS key named in QUELL_SNS_KMS_KEY; without one it plans, as the key must let the topic's publishers use it",
        resolved: "SNS.1, sns-encrypted-kms: GetTopicAttributes re-read has a KmsMasterKeyId. Never UNCONFIRMED: this check is the finding's whole check (sns-encrypted-kms's optional kmsKeyIds list is not read).",
        untouched: "Never re-keys a topic already encrypted, and never touches its policy, subscriptions or messages. Without QUELL_SNS_KMS_KEY every topic is PLANNED (NOTIFIED): a key that CloudWatch, EventBridge, S3 and other accounts cannot use would silently stop their messages. With QUELL_SNS_KMS_KEY=alias/aws/sns, a topic whose policy lets a service, another account or everyone publish is PLANNED naming them (the AWS managed key's policy cannot grant them), and CloudWatch alarms and EventBridge rules of the same account still cannot publish to it: choose that key only where no AWS service publishes. A topic tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo takes the encryption off again if the topic still has quell's key. Default enforce.",
        triggers: Triggers {
            config_rules: &["sns-encrypted-kms"],
            securityhub_controls: &["SNS.1"],
            ..Triggers::NONE
        },
        permissions: &[
            "sns:ListTagsForResource",
            "sns:GetTopicAttributes",
            "kms:DescribeKey",
            SET,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Topic;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            sns: aws_sdk_sns::Client::new(member.config()),
            kms: aws_sdk_kms::Client::new(member.config()),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get(KEY_VAR).map(|v| v.trim().to_string()) {
            if v.is_empty() {
                return Ok(());
            }
            if !key_reference(&v) {
                return Err(ConfigError {
                    var: KEY_VAR,
                    reason: format!(
                        "`{v}` is not a KMS key id, key ARN, alias name (alias/…) or alias ARN"
                    ),
                });
            }
            self.key = Some(v);
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Topic, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::SnsTopic,
            validate::topic_name,
            "SNS topic",
        )?;
        Ok(Topic::new(&r.id, &f.account, &f.region, &f.partition))
    }

    fn describe(&self, t: &Topic) -> String {
        format!("SNS topic {}", t.name)
    }

    async fn tags(&self, c: &Clients, t: &Topic) -> Result<Tags, AwsError> {
        let out = c
            .sns
            .list_tags_for_resource()
            .resource_arn(&t.arn)
            .send()
            .await
            .aws(|| format!("could not read the tags of SNS topic {}", t.name))?;
        Ok(out
            .tags()
            .iter()
            .map(|tag| (tag.key().to_string(), tag.value().to_string()))
            .collect())
    }

    async fn plan(&self, c: &Clients, t: &Topic) -> Result<Vec<Step>, AwsError> {
        let (key, policy) = attribute(&c.sns, t).await?;
        t.outside.set(
            policy
                .map(|p| outside_publishers(&p, &t.account))
                .unwrap_or_default(),
        );
        if let (None, Some(configured), None) = (&key, &self.key, t.key_problem.get()) {
            if !aws_managed(configured) {
                let problem = key_problem(&c.kms, configured, t).await?;
                t.key_problem.set(problem.unwrap_or_default());
            }
        }
        Ok(match key {
            Some(_) => Vec::new(),
            None => vec![Step::new(
                SET,
                format!(
                    "topic={} {KMS_KEY}={}",
                    t.name,
                    self.key
                        .as_deref()
                        .unwrap_or("(the key QUELL_SNS_KMS_KEY names)")
                ),
            )],
        })
    }

    fn plan_only(&self, t: &Topic) -> Option<String> {
        let Some(key) = &self.key else {
            return Some(format!(
                "no key is configured ({KEY_VAR}): quell encrypts SNS topics only with a key the operator names, a customer managed key whose policy lets the topic's publishers (CloudWatch alarms, EventBridge rules, S3 notifications, other accounts) use it; {AWS_MANAGED} cannot, and publishers without access would stop silently"
            ));
        };
        if let Some(problem) = t.key_problem.get().filter(|p| !p.is_empty()) {
            return Some(format!(
                "{problem}: {KEY_VAR} must name a key the topic's account can use in its Region"
            ));
        }
        let outside = t.outside.get().unwrap_or_default();
        (aws_managed(key) && !outside.is_empty()).then(|| {
            format!(
                "the topic's policy lets {} publish, and the AWS managed key {AWS_MANAGED} cannot be shared with them: encrypt it with a customer managed key whose policy allows them",
                outside.join(", ")
            )
        })
    }

    async fn prior(&self, _c: &Clients, t: &Topic) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it: apply only runs on a topic without a key.
        Ok(Some(serde_json::json!({
            "topic": t.name,
            "account": t.account,
            "region": t.region,
            "partition": t.partition,
            KMS_KEY: null,
            "set": self.key,
        })))
    }

    async fn restore(&self, c: &Clients, prior: &serde_json::Value) -> Result<Vec<Step>, AwsError> {
        let name = quell::remediation::prior_field(prior, "topic", validate::topic_name)?;
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        let region = quell::remediation::prior_field(prior, "region", validate::region)?;
        let partition = quell::remediation::prior_field(prior, "partition", validate::partition)?;
        let set = quell::remediation::prior_field(prior, "set", key_reference)?;
        if !prior[KMS_KEY].is_null() {
            return Err(quell::remediation::invalid_prior(format!(
                "the recorded {KMS_KEY} is not empty: nothing of quell's to undo"
            )));
        }
        let t = Topic::new(&name, &account, &region, &partition);
        // Only quell's own key is taken off: a key someone set since stays.
        let (now, _) = attribute(&c.sns, &t).await?;
        if now.as_deref() != Some(set.as_str()) {
            return Ok(vec![Step::new(
                SET,
                format!(
                    "topic={name} left as it is: its key is now {}, not quell's {set}",
                    now.as_deref().unwrap_or("none")
                ),
            )]);
        }
        set_key(&c.sns, &t.arn, "").await?;
        Ok(vec![Step::new(
            SET,
            format!("topic={name} {KMS_KEY} removed (unencrypted), as it was"),
        )])
    }

    async fn apply(&self, c: &Clients, t: &Topic, _steps: &[Step]) -> Result<(), AwsError> {
        match &self.key {
            Some(key) => set_key(&c.sns, &t.arn, key).await,
            None => Err(AwsError::other(
                format!("could not encrypt SNS topic {}", t.name),
                "NoKeyConfigured",
                format!("{KEY_VAR} names no key"),
                false,
            )),
        }
    }
}

#[cfg(test)]
mod tests;
