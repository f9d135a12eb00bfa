//! Sessions in member accounts: AssumeRole into the account where the problem is, cached per
//! (account, region) while the container is warm and refreshed before the credentials expire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::error::{AwsError, AwsResultExt};

/// The member role `quell undo` assumes: it may put back any remediation's change, and trusts an
/// operator's role, never a function.
pub const UNDO_ROLE: &str = "quell-undo";

/// The role org/trail.yaml creates in the account that owns the organization trail's log group:
/// it may read that group and the metric filters on it, nothing else, and it trusts only the
/// alarm responder's function role. The responder reads there the events that fired an alarm.
pub const TRAIL_READER_ROLE: &str = "quell-trail-reader";

/// Everything [`TRAIL_READER_ROLE`] may do: find the alarm's metric filter (its pattern and log
/// group), and read the log group's events with that pattern.
pub const TRAIL_READER_PERMISSIONS: &[&str] =
    &["logs:DescribeMetricFilters", "logs:FilterLogEvents"];

/// quell's forwarding rules, by name, each on the default event bus of its account and Region:
/// member/regional.yaml's and org/trail.yaml's (a test holds this list equal to the names the
/// templates give them). tamper-restore enables one again when a call disabled it, and answers a
/// call on no other rule.
pub const FORWARD_RULES: &[&str] = &[
    "quell-ForwardConfig",
    "quell-ForwardAlarms",
    "quell-ForwardApiCalls",
    "quell-ForwardGuardDutyFindings",
    "quell-ForwardAccessAnalyzerFindings",
    "quell-ForwardSecurityHubFindings",
    "quell-ForwardTrailAlarms",
];

/// org/trail.yaml's forwarding rule, made only where the member stacks (and so quell's roles) are
/// not: the one of [`FORWARD_RULES`] tamper-restore never puts back.
pub const TRAIL_FORWARD_RULE: &str = "quell-ForwardTrailAlarms";

/// member/regional.yaml's forwarding rules, the ones tamper-restore may put back (a test holds
/// them equal to the template's): every one of [`FORWARD_RULES`] but [`TRAIL_FORWARD_RULE`].
pub fn regional_forward_rules() -> impl Iterator<Item = &'static str> {
    FORWARD_RULES
        .iter()
        .copied()
        .filter(|r| *r != TRAIL_FORWARD_RULE)
}

/// The role quell's forwarding rules deliver with (member/roles.yaml's, and org/trail.yaml's in
/// the trail's account): the central bus admits only it.
pub const FORWARD_ROLE: &str = "quell-forward";

/// The CloudTrail calls quell reacts to, every Spec's `cloudtrail_events` (a test holds this
/// list equal to them): what quell-ForwardApiCalls forwards.
pub const API_CALLS: &[&str] = &[
    "access-analyzer:DeleteAnalyzer",
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "cloudwatch:DeleteAlarms",
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "config:StopConfigurationRecorder",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteFlowLogs",
    "events:DeleteRule",
    "events:DisableRule",
    "events:RemoveTargets",
    "guardduty:DeleteDetector",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount",
    "guardduty:UpdateDetector",
    "logs:DeleteLogGroup",
    "logs:DeleteMetricFilter",
    "securityhub:BatchDisableStandards",
    "securityhub:DisableImportFindingsForProduct",
    "securityhub:DisableSecurityHub",
];

/// One of quell's forwarding rules as the member stacks define it, in one account and Region:
/// what tamper-restore puts back when a call deleted it or removed its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Forwarder {
    pub name: &'static str,
    pub description: String,
    pub pattern: serde_json::Value,
    /// The one target, `quell`: the quell bus, or (in the security account's other Regions) the
    /// account's default bus in quell's home Region.
    pub target_arn: String,
    /// [`FORWARD_ROLE`] in the account.
    pub role_arn: String,
}

/// The id of the one target each forwarding rule has.
pub const FORWARD_TARGET_ID: &str = "quell";

/// What a forwarding rule forwards, and its pattern (member/regional.yaml and org/trail.yaml:
/// a test holds each equal to the templates'). `None`: not one of quell's rules.
pub fn forward_pattern(name: &str) -> Option<(&'static str, serde_json::Value)> {
    use serde_json::json;
    Some(match name {
        "quell-ForwardConfig" => (
            "Config compliance changes",
            json!({"source": ["aws.config"], "detail-type": ["Config Rules Compliance Change"]}),
        ),
        "quell-ForwardAlarms" => (
            "CloudWatch alarm state changes",
            json!({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}),
        ),
        "quell-ForwardApiCalls" => (
            "the CloudTrail API calls quell reacts to",
            crate::routing::cloudtrail_pattern(API_CALLS),
        ),
        "quell-ForwardGuardDutyFindings" => (
            "GuardDuty findings",
            json!({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}),
        ),
        "quell-ForwardAccessAnalyzerFindings" => (
            "IAM Access Analyzer findings",
            json!({"source": ["aws.access-analyzer"], "detail-type": ["Access Analyzer Finding"]}),
        ),
        "quell-ForwardSecurityHubFindings" => (
            "Security Hub findings (both generations)",
            json!({"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported", "Findings Imported V2"]}),
        ),
        "quell-ForwardTrailAlarms" => (
            "the CIS alarms' state changes",
            json!({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": {"alarmName": [{"prefix": crate::cis::ALARM_PREFIX}]}}),
        ),
        _ => return None,
    })
}

/// The quell bus's partition, home Region and security account, where `bus` is an event bus ARN
/// (`arn:<partition>:events:<Region>:<account>:event-bus/<name>`): QUELL_OUTCOME_BUS_ARN, the
/// member stacks' CentralEventBusArn.
pub fn quell_bus(bus: &str) -> Option<(&str, &str, &str)> {
    use crate::finding::validate;
    let parts: Vec<&str> = bus.splitn(6, ':').collect();
    let ["arn", partition, "events", home, security, res] = parts[..] else {
        return None;
    };
    (partition.starts_with("aws")
        && validate::region(home)
        && validate::account_id(security)
        && res
            .strip_prefix("event-bus/")
            .is_some_and(|n| !n.is_empty()))
    .then_some((partition, home, security))
}

/// The forwarding rule `name` as member/regional.yaml makes it in `account` and `region`, given the
/// quell bus (`arn:<partition>:events:<home Region>:<security account>:event-bus/<name>`), or why
/// that stack makes no rule of that name there: a member's own events (Config, alarms, API calls)
/// go to the quell bus; the security account's other Regions forward its findings and events to
/// its default bus in the home Region; its home Region has none. org/trail.yaml's
/// quell-ForwardTrailAlarms is made only where the member stacks are not, so never here.
pub fn forwarder(name: &str, account: &str, region: &str, bus: &str) -> Result<Forwarder, String> {
    let (what, pattern) = forward_pattern(name)
        .ok_or_else(|| format!("{name} is not one of quell's forwarding rules"))?;
    let (partition, home, security) = quell_bus(bus).ok_or_else(|| {
        format!(
            "the quell bus `{bus}` is not an event bus ARN (arn:<partition>:events:<Region>:<account>:event-bus/<name>)"
        )
    })?;
    let Some(name) = regional_forward_rules().find(|r| *r == name) else {
        return Err(format!(
            "org/trail.yaml makes {name} only in an account without the member stacks, where no quell role is"
        ));
    };
    let own = matches!(
        name,
        "quell-ForwardConfig" | "quell-ForwardAlarms" | "quell-ForwardApiCalls"
    );
    let target_arn = if account != security {
        if !own {
            return Err(format!(
                "the member stacks make {name} only in the security account {security}, not in {account}"
            ));
        }
        bus.to_string()
    } else if region == home {
        return Err(format!(
            "the member stacks make no forwarding rule in the security account's home Region {home}, where the central stack watches the default bus"
        ));
    } else {
        format!("arn:{partition}:events:{home}:{account}:event-bus/default")
    };
    Ok(Forwarder {
        name,
        description: format!("quell: forwards {what} to quell's home Region"),
        pattern,
        target_arn,
        role_arn: format!("arn:{partition}:iam::{account}:role/{FORWARD_ROLE}"),
    })
}

/// Every quell function, by id: their member roles (`quell-<id>`) are the ones member/roles.yaml
/// creates. A test holds this list equal to the registry.
pub const FUNCTION_IDS: &[&str] = &[
    "cloudtrail-alarm-response",
    "cloudtrail-restore-logging",
    "dynamodb-deletion-protection",
    "ebs-encryption-by-default",
    "ebs-snapshot-private",
    "ec2-close-default-sg",
    "ec2-isolate-instance",
    "ec2-require-imdsv2",
    "ec2-revoke-open-ingress",
    "ec2-subnet-no-public-ip",
    "guardduty-escalate",
    "iam-disable-access-key",
    "iam-password-policy",
    "iam-restrict-role-trust",
    "iam-revoke-role-sessions",
    "kms-enable-key-rotation",
    "lambda-contain-function",
    "lambda-remove-public-access",
    "rds-deletion-protection",
    "rds-instance-private",
    "rds-snapshot-private",
    "s3-account-public-access-block",
    "s3-block-public-access",
    "s3-enable-default-encryption",
    "s3-require-tls",
    "s3-restrict-bucket-policy",
    "sns-encrypt-topic",
    "sqs-encrypt-queue",
    "ssm-document-private",
    "tamper-restore",
];

/// Whether a role name is one of quell's member roles (a function's, or the undo role). Not the
/// trail reader: it exists only in the trail's account, so elsewhere a member could make a role of
/// that name and pass its own changes off as quell's.
pub fn is_quell_role_name(name: &str) -> bool {
    name == UNDO_ROLE
        || name
            .strip_prefix("quell-")
            .is_some_and(|id| FUNCTION_IDS.contains(&id))
}

/// Whether an ARN is one of quell's own member roles or a session of one:
/// `arn:aws:sts::111111111111:assumed-role/quell-x/session`, `arn:aws:iam::111111111111:role/quell-x`
/// (a role named as quell's member roles are, `quell-<function id>` or `quell-undo`; member/roles.yaml
/// creates them, so no one else holds those names in the account: a member's own `quell-ops` is
/// not quell).
pub fn is_quell_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some(service), Some(_region), Some(_account), Some(res)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    match service {
        // An assumed-role ARN names the role without its path.
        "sts" => res
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
            .is_some_and(is_quell_role_name),
        "iam" => res.strip_prefix("role/").is_some_and(is_quell_role_name),
        _ => false,
    }
}

/// Credentials closer than this to expiry are not used for a new finding.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A session in one member account and region.
#[derive(Debug, Clone)]
pub struct Member {
    pub account: String,
    pub region: String,
    pub partition: String,
    config: SdkConfig,
    /// The function's own (central account) configuration, in the member's region: for calls
    /// that belong to the security account, such as an organization analyzer's findings.
    central: SdkConfig,
    expires: SystemTime,
}

impl Member {
    /// A member session over an SDK configuration that already holds its credentials (tests,
    /// and a single-account run where no role is assumed).
    pub fn from_config(account: &str, region: &str, config: SdkConfig) -> Member {
        Member {
            account: account.to_string(),
            region: region.to_string(),
            partition: crate::finding::validate::partition_of(region).to_string(),
            central: config.clone(),
            config,
            expires: SystemTime::now() + Duration::from_secs(3600),
        }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// The central account's configuration in this member's region.
    pub fn central(&self) -> &SdkConfig {
        &self.central
    }

    /// A member session whose central configuration is `central` (tests of cross-account calls).
    pub fn with_central(mut self, central: SdkConfig) -> Member {
        self.central = central;
        self
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.config)
    }

    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        s3control_client(&self.config)
    }

    pub fn securityhub(&self) -> aws_sdk_securityhub::Client {
        aws_sdk_securityhub::Client::new(&self.config)
    }

    fn fresh(&self) -> bool {
        self.expires
            .duration_since(SystemTime::now())
            .map(|left| left > REFRESH_BEFORE)
            .unwrap_or(false)
    }
}

/// An S3 client; path-style addressing where an endpoint is configured (a local emulator has no
/// wildcard DNS for virtual-hosted buckets).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// An S3 Control client. S3 Control puts the account id in the host name
/// (`111122223333.s3-control…`); against a configured endpoint (a local emulator) that name does
/// not resolve, so the endpoint is used as it is and the account id travels in its header only.
pub fn s3control_client(config: &SdkConfig) -> aws_sdk_s3control::Client {
    let mut b = aws_sdk_s3control::config::Builder::from(config);
    if let Some(url) = config.endpoint_url() {
        b = b.endpoint_resolver(FixedEndpoint(url.to_string()));
    }
    aws_sdk_s3control::Client::from_conf(b.build())
}

#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// A bucket's tags; a bucket with none has none (S3 answers NoSuchTagSet). `owner` is the account
/// expected to own the bucket.
pub async fn bucket_tags(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<crate::remediation::Tags, AwsError> {
    match s3
        .get_bucket_tagging()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
        Err(e) if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchTagSet") => {
            Ok(Vec::new())
        }
        Err(e) => Err(e).aws(|| format!("could not read the tags of bucket {bucket}")),
    }
}

/// The bucket's policy text; `None` when it has none. `owner` is the account expected to own the
/// bucket.
pub async fn bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<String>, AwsError> {
    match s3
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucketPolicy") =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read the policy of bucket {bucket}")),
    }
}

/// Undo of a bucket policy change: the recorded text put back, or the policy deleted when the
/// bucket had none. `owner` is the account expected to own the bucket. Returns the step taken.
pub async fn put_back_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    text: Option<&str>,
) -> Result<crate::outcome::Step, AwsError> {
    match text {
        Some(text) => {
            s3.put_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .policy(text)
                .send()
                .await
                .aws(|| format!("could not put back the policy of bucket {bucket}"))?;
            Ok(crate::outcome::Step::new(
                "s3:PutBucketPolicy",
                format!("bucket={bucket} policy put back as it was"),
            ))
        }
        None => {
            s3.delete_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .send()
                .await
                .aws(|| format!("could not delete the policy of bucket {bucket}"))?;
            Ok(crate::outcome::Step::new(
                "s3:DeleteBucketPolicy",
                format!("bucket={bucket} had no policy: deleted"),
            ))
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Member>>>>;

/// Assumes the member role and caches the sessions.
pub struct Members {
    sts: aws_sdk_sts::Client,
    base: SdkConfig,
    role: String,
    external_id: Option<String>,
    function: String,
    cache: Mutex<HashMap<(String, String), Slot>>,
    assumed: AtomicUsize,
}

impl Members {
    pub fn new(base: &SdkConfig, role: &str, external_id: Option<String>, function: &str) -> Self {
        Members {
            sts: aws_sdk_sts::Client::new(base),
            base: base.clone(),
            role: role.to_string(),
            external_id,
            function: function.to_string(),
            cache: Mutex::new(HashMap::new()),
            assumed: AtomicUsize::new(0),
        }
    }

    /// How many AssumeRole calls this cache has made.
    pub fn assume_count(&self) -> usize {
        self.assumed.load(Ordering::Relaxed)
    }

    /// The ARN of the member role in `account`.
    pub fn role_arn(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.role)
    }

    /// A session in `account`/`region`, from the cache while its credentials are fresh.
    /// Concurrent findings for the same account wait for one AssumeRole instead of making many.
    pub async fn session(
        &self,
        partition: &str,
        account: &str,
        region: &str,
    ) -> Result<Arc<Member>, AwsError> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry((account.to_string(), region.to_string()))
                .or_default()
                .clone()
        };
        let mut held = slot.lock().await;
        if let Some(m) = held.as_ref().filter(|m| m.fresh()) {
            return Ok(m.clone());
        }
        let member = Arc::new(self.assume(partition, account, region).await?);
        *held = Some(member.clone());
        Ok(member)
    }

    /// Drops a cached session (after ExpiredToken), so the next finding assumes afresh.
    pub fn forget(&self, account: &str, region: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(&(account.to_string(), region.to_string()));
    }

    async fn assume(
        &self,
        partition: &str,
        account: &str,
        region: &str,
    ) -> Result<Member, AwsError> {
        let arn = self.role_arn(partition, account);
        let action = || format!("could not assume role {} in {account}", self.role);
        self.assumed.fetch_add(1, Ordering::Relaxed);
        let out = self
            .sts
            .assume_role()
            .role_arn(&arn)
            .role_session_name(session_name(&self.function))
            .set_external_id(self.external_id.clone())
            .duration_seconds(3600)
            .send()
            .await
            .aws(action)?;
        let c = out.credentials.ok_or_else(|| {
            AwsError::other(
                action(),
                "NoCredentials",
                "AssumeRole returned no credentials",
                true,
            )
        })?;
        let expires = SystemTime::try_from(c.expiration).unwrap_or_else(|_| SystemTime::now());
        let creds = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expires),
            "quell-assume-role",
        );
        let config = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Ok(Member {
            account: account.to_string(),
            region: region.to_string(),
            partition: partition.to_string(),
            central: self
                .base
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build(),
            config,
            expires,
        })
    }
}

/// `quell-<function>`: a cached session serves many findings, so the session names the function
/// (CloudTrail in the member account ties every call to it) and the finding is named in the log
/// line and the note. At most 64 characters of `[\w+=,.@-]`.
pub fn session_name(function: &str) -> String {
    let mut name: String = format!("quell-{function}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_name_the_function_only() {
        assert_eq!(
            session_name("s3-block-public-access"),
            "quell-s3-block-public-access"
        );
        let long = session_name(&"x/y".repeat(40));
        assert_eq!(long.len(), 64);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)));
    }
}
