//! Event intake: an EventBridge event, as AWS emits it, parsed into typed details and normalized
//! into [`Finding`]s. Bad input is an [`EventError`] that names the field; nothing here calls AWS.
//!
//! Whom to believe (DESIGN.md): an event is a finding only when its `source` is the AWS service
//! itself; where the member forwarded the event (CloudTrail calls, Config, alarms), the account
//! the detail names must be the account AWS stamped on the envelope; control findings come only
//! from Security Hub's own product; a custom action counts only with quell's own action target.
//! One file per source, each with its typed detail and its own trust check; this module
//! dispatches. The envelope is the runtime's own model (`aws_lambda_events::eventbridge`); each
//! source's detail is modelled here, as the crate has none of them (see cloudtrail.rs for why its
//! CloudTrail model is not used).

mod access_analyzer;
mod alarm;
mod cloudtrail;
mod config;
mod guardduty;
mod ocsf;
mod securityhub;

use std::collections::BTreeSet;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::finding::{validate, Finding, Source};

pub use cloudtrail::{event_source_of, service_of};
pub use ocsf::DETAIL_TYPE as SECURITY_HUB_V2_DETAIL_TYPE;
pub use securityhub::is_security_hub_product;

/// Why an event, or one finding in it, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not valid JSON: {0}")]
    Json(String),
    #[error("event field `{path}`: {message}")]
    Field { path: String, message: String },
    #[error("event field `{field}` is not a valid {what}: `{value}`")]
    Invalid {
        field: String,
        what: &'static str,
        value: String,
    },
    #[error("unsupported event: source `{event_source}` with detail-type `{detail_type}`")]
    Unsupported {
        event_source: String,
        detail_type: String,
    },
    #[error("event field `{0}` is empty: there is nothing to act on")]
    Empty(String),
    /// The event says something AWS did not vouch for: a `source` that is not the service's, an
    /// account the envelope does not carry, a product or action target that is not quell's.
    #[error("untrusted event: field `{field}` is `{value}`: {why}")]
    Untrusted {
        field: String,
        value: String,
        why: String,
    },
}

/// What the parser believes beyond what AWS stamps on every event: quell's own Security Hub
/// action targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The ARNs of quell's custom action targets (the template's, QUELL_ACTION_TARGETS). `None`:
    /// an action target of quell's (`action/custom/Quell…`) in the envelope's own account.
    pub action_targets: Option<BTreeSet<String>>,
    /// The organization's accounts (QUELL_ORGANIZATION_ACCOUNTS): a finding naming any other
    /// account is refused. `None`: the bus policy and the central roles' `aws:ResourceOrgID` are
    /// what keep quell inside the organization.
    pub organization: Option<BTreeSet<String>>,
}

/// The EventBridge envelope, common to every source.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    /// RFC 3339, as EventBridge stamped it.
    pub time: Option<String>,
    /// `time` in seconds since the epoch.
    pub epoch: Option<i64>,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

/// A parsed event: its envelope facts and one result per finding it carries. A Security Hub event
/// may carry several; one malformed finding does not hide the others.
#[derive(Debug, Clone)]
pub struct Intake {
    pub event_id: String,
    pub source: Source,
    pub detail_type: String,
    pub findings: Vec<Result<Finding, EventError>>,
}

/// The detail-types quell takes, and the one `source` each may come from.
const SOURCES: &[(&str, &str, Source)] = &[
    ("GuardDuty Finding", "aws.guardduty", Source::GuardDuty),
    (
        "Config Rules Compliance Change",
        "aws.config",
        Source::Config,
    ),
    (
        "Access Analyzer Finding",
        "aws.access-analyzer",
        Source::AccessAnalyzer,
    ),
    (
        "CloudWatch Alarm State Change",
        "aws.cloudwatch",
        Source::CloudWatchAlarm,
    ),
    (
        "Security Hub Findings - Imported",
        "aws.securityhub",
        Source::SecurityHub,
    ),
    (
        "Security Hub Findings - Custom Action",
        "aws.securityhub",
        Source::SecurityHub,
    ),
    (ocsf::DETAIL_TYPE, "aws.securityhub", Source::SecurityHub),
];

pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

impl Envelope {
    /// Parses raw bytes (a file, a request body).
    pub fn parse_slice(bytes: &[u8]) -> Result<Intake, EventError> {
        Self::parse_slice_trusted(bytes, &Trust::default())
    }

    pub fn parse_slice_trusted(bytes: &[u8], trust: &Trust) -> Result<Intake, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::Json(e.to_string()))?;
        Self::parse_trusted(value, trust)
    }

    /// Parses an event already decoded as JSON (what the Lambda runtime hands over).
    pub fn parse(value: Value) -> Result<Intake, EventError> {
        Self::parse_trusted(value, &Trust::default())
    }

    /// As [`Envelope::parse`], with quell's configured action targets.
    pub fn parse_trusted(value: Value, trust: &Trust) -> Result<Intake, EventError> {
        let env = Envelope::read(value)?;
        let source = env.source_kind()?;
        let findings = match source {
            Source::GuardDuty => vec![guardduty::finding(&env)],
            Source::Config => vec![config::finding(&env)],
            Source::AccessAnalyzer => vec![access_analyzer::finding(&env)],
            Source::CloudWatchAlarm => vec![alarm::finding(&env)],
            Source::CloudTrail => vec![Ok(cloudtrail::finding(&env)?)],
            Source::SecurityHub if env.detail_type == ocsf::DETAIL_TYPE => ocsf::findings(&env)?,
            Source::SecurityHub => securityhub::findings(&env, trust)?,
        };
        let v2 = env.detail_type == ocsf::DETAIL_TYPE;
        let findings = findings
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let mut f = f?;
                if let Some(org) = &trust.organization {
                    if !org.contains(&f.account) {
                        return Err(untrusted(
                            &account_field(source, v2, i),
                            &f.account,
                            "not an account of the organization (QUELL_ORGANIZATION_ACCOUNTS): quell acts only inside it",
                        ));
                    }
                }
                check_resources(&f, source, v2, i)?;
                f.event_id = env.id.clone();
                Ok(f)
            })
            .collect();
        Ok(Intake {
            event_id: env.id,
            source,
            detail_type: env.detail_type,
            findings,
        })
    }

    /// The envelope, through the runtime's own EventBridge model; the fields quell needs present.
    fn read(value: Value) -> Result<Envelope, EventError> {
        if !value.is_object() {
            return Err(EventError::Field {
                path: "(event)".into(),
                message: "an EventBridge event is a JSON object".into(),
            });
        }
        let e: EventBridgeEvent<Value> = typed(value, "")?;
        let required = |v: Option<String>, k: &str| {
            v.ok_or_else(|| EventError::Field {
                path: k.into(),
                message: format!("missing field `{k}`"),
            })
        };
        if !e.detail.is_object() {
            return Err(EventError::Field {
                path: "detail".into(),
                message: "expected a JSON object".into(),
            });
        }
        let epoch = e.time.map(|t| t.timestamp());
        Ok(Envelope {
            id: required(e.id, "id")?,
            account: required(e.account, "account")?,
            region: required(e.region, "region")?,
            time: epoch.and_then(rfc3339),
            epoch,
            resources: e.resources.unwrap_or_default(),
            detail_type: e.detail_type,
            source: e.source,
            detail: e.detail,
        })
    }

    /// Which source the event is, believing only AWS's own `source`.
    fn source_kind(&self) -> Result<Source, EventError> {
        if self.detail_type == CLOUDTRAIL_DETAIL_TYPE {
            // The service is checked against the detail's eventSource in cloudtrail.rs.
            return if self.source.starts_with("aws.") {
                Ok(Source::CloudTrail)
            } else {
                Err(untrusted(
                    "source",
                    &self.source,
                    "CloudTrail API calls come only from the AWS service called (`aws.<service>`)",
                ))
            };
        }
        let known: Vec<&(&str, &str, Source)> = SOURCES
            .iter()
            .filter(|(dt, _, _)| *dt == self.detail_type)
            .collect();
        match known.iter().find(|(_, src, _)| *src == self.source) {
            Some((_, _, s)) => Ok(*s),
            None => match known.first() {
                Some((dt, src, _)) => Err(untrusted(
                    "source",
                    &self.source,
                    &format!("`{dt}` events come only from `{src}`"),
                )),
                None => Err(EventError::Unsupported {
                    event_source: self.source.clone(),
                    detail_type: self.detail_type.clone(),
                }),
            },
        }
    }

    /// The envelope's account: the account AWS delivered the event in.
    fn account(&self) -> Result<String, EventError> {
        checked_account("account", &self.account)
    }

    /// For an event the member forwarded: the account its detail names must be the envelope's.
    fn same_account(&self, field: &str, detail_account: &str) -> Result<String, EventError> {
        let account = checked_account(field, detail_account)?;
        if account != self.account {
            return Err(untrusted(
                field,
                &account,
                &format!(
                    "the event was delivered by account {} (`account`): a member's event can make quell act in that account only",
                    self.account
                ),
            ));
        }
        Ok(account)
    }
}

/// Seconds since the epoch as RFC 3339 (`2024-01-01T00:00:00Z`).
pub(crate) fn rfc3339(secs: i64) -> Option<String> {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

/// RFC 3339 (or CloudWatch's `+0000` offset form) as seconds since the epoch.
pub(crate) fn epoch_of(text: &str) -> Option<i64> {
    let text = text.replace("+0000", "Z");
    aws_smithy_types::DateTime::from_str(&text, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .map(|t| t.secs())
}

/// Where a source's event names the account quell acts in.
/// Where a finding's resources come from in each source's event, for error messages.
fn resource_field(source: Source, v2: bool, i: usize, j: usize) -> String {
    match source {
        Source::SecurityHub if v2 => format!("detail.findings[{i}].resources[{j}]"),
        Source::GuardDuty => "detail.resource".into(),
        Source::Config => "detail.resourceId".into(),
        Source::AccessAnalyzer => "detail.resource".into(),
        Source::CloudWatchAlarm => "detail.alarmName".into(),
        Source::CloudTrail => "detail.requestParameters".into(),
        Source::SecurityHub => format!("detail.findings[{i}].Resources[{j}]"),
    }
}

/// Every resource of an accepted finding passes the validators the remediations use before
/// quell puts it in an ARN or an API call: the id of each kind quell acts on, and any ARN's
/// partition, region and account. A malformed id is no finding AWS wrote: the finding is refused,
/// naming the field.
fn check_resources(f: &Finding, source: Source, v2: bool, i: usize) -> Result<(), EventError> {
    use crate::finding::ResourceKind as K;
    for (j, r) in f.resources.iter().enumerate() {
        let field = || resource_field(source, v2, i, j);
        let (ok, what) = match &r.kind {
            K::S3Bucket => (validate::bucket_name(&r.id), "S3 bucket name"),
            K::Ec2Instance => (validate::instance_id(&r.id), "EC2 instance id"),
            K::Ec2SecurityGroup => (validate::security_group_id(&r.id), "security group id"),
            K::IamUser | K::IamRole => (validate::iam_name(&r.id), "IAM user or role name"),
            K::IamAccessKey => (validate::access_key_id(&r.id), "access key id"),
            K::CloudTrailTrail => (validate::trail_name(&r.id), "trail name"),
            K::KmsKey => (validate::kms_key_id(&r.id), "KMS key id"),
            // Config names a queue by its URL, Security Hub by its ARN (whose last part is kept).
            K::SqsQueue => (
                validate::queue_name(r.id.rsplit('/').next().unwrap_or_default())
                    && (!r.id.contains('/') || r.id.starts_with("https://sqs.")),
                "SQS queue name or URL",
            ),
            K::DynamoDbTable => (validate::table_name(&r.id), "DynamoDB table name"),
            K::LambdaFunction => (validate::function_name(&r.id), "Lambda function name"),
            K::SnsTopic => (validate::topic_name(&r.id), "SNS topic name"),
            K::Ec2Subnet => (validate::subnet_id(&r.id), "subnet id"),
            // Security Hub names a database by its identifier (in the ARN), Config by its resource id.
            K::RdsDbInstance => (
                validate::rds_identifier(&r.id) || validate::rds_resource_id("db-", &r.id),
                "RDS DB instance identifier or resource id",
            ),
            K::RdsDbCluster => (
                validate::rds_identifier(&r.id) || validate::rds_resource_id("cluster-", &r.id),
                "RDS DB cluster identifier or resource id",
            ),
            K::SsmDocument => (validate::ssm_document_name(&r.id), "SSM document name"),
            K::RdsDbSnapshot | K::RdsDbClusterSnapshot => (
                validate::rds_snapshot_identifier(&r.id),
                "RDS snapshot identifier",
            ),
            // Security Hub names an account `AWS::::Account:<id>`.
            K::Account => (
                validate::account_id(r.id.strip_prefix("AWS::::Account:").unwrap_or(&r.id)),
                "account id",
            ),
            K::CloudWatchAlarm | K::Other(_) => (
                !r.id.is_empty() && r.id.len() <= 2048 && !r.id.chars().any(char::is_control),
                "resource id",
            ),
        };
        if !ok {
            return Err(invalid(&field(), what, &r.id));
        }
        // Security Hub's resource Id is an ARN, or for some types another name (an account's
        // `AWS::::Account:<id>`), which is held to the id's rules above.
        if let Some(arn) = r
            .arn
            .as_ref()
            .filter(|a| a.starts_with("arn:") || **a != r.id)
        {
            if !(validate::arn(arn) || (r.kind == K::Account && arn.ends_with(&r.id))) {
                return Err(invalid(&field(), "ARN", arn));
            }
        }
    }
    Ok(())
}

fn account_field(source: Source, v2: bool, i: usize) -> String {
    match source {
        Source::SecurityHub if v2 => format!("detail.findings[{i}].cloud.account.uid"),
        Source::GuardDuty | Source::AccessAnalyzer => "detail.accountId".into(),
        Source::Config => "detail.awsAccountId".into(),
        Source::CloudWatchAlarm | Source::CloudTrail => "account".into(),
        Source::SecurityHub => format!("detail.findings[{i}].AwsAccountId"),
    }
}

/// Deserializes `value` into `T`, naming the failing field by its path under `prefix`.
fn typed<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, ".") => "(event)".to_string(),
            (true, _) => inner,
            (false, ".") => prefix.to_string(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        EventError::Field {
            path,
            message: e.into_inner().to_string(),
        }
    })
}

fn checked_account(field: &str, value: &str) -> Result<String, EventError> {
    if validate::account_id(value) {
        Ok(value.to_string())
    } else {
        Err(invalid(field, "account id (12 digits)", value))
    }
}

fn checked_region(field: &str, value: &str) -> Result<String, EventError> {
    if validate::region(value) {
        Ok(value.to_string())
    } else {
        Err(invalid(field, "region", value))
    }
}

fn checked_partition(field: &str, value: Option<&str>, region: &str) -> Result<String, EventError> {
    match value {
        None => Ok(validate::partition_of(region).to_string()),
        Some(p) if validate::partition(p) => Ok(p.to_string()),
        Some(p) => Err(invalid(field, "partition", p)),
    }
}

/// Text from an event for a note, never an API call: at most `max` bytes, control characters
/// replaced.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    crate::outcome::truncate(&clean, max)
}

/// Untrusted text goes into an error message: keep it short and printable.
fn printable(value: &str) -> String {
    value
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn invalid(field: &str, what: &'static str, value: &str) -> EventError {
    EventError::Invalid {
        field: field.to_string(),
        what,
        value: printable(value),
    }
}

fn untrusted(field: &str, value: &str, why: &str) -> EventError {
    EventError::Untrusted {
        field: field.to_string(),
        value: printable(value),
        why: why.to_string(),
    }
}
