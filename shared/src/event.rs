//! Event intake: an EventBridge event, as AWS emits it, parsed into typed details and normalized
//! into [`Finding`]s. Bad input is an [`EventError`] that names the field; nothing here calls AWS.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::finding::{
    short_id, validate, Finding, HubRef, Principal, Resource, ResourceKind, Severity, Source,
};

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
}

/// The EventBridge envelope, common to every source.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    #[serde(default)]
    pub time: Option<String>,
    pub region: String,
    #[serde(default)]
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

impl Envelope {
    /// Parses raw bytes (a file, a request body).
    pub fn parse_slice(bytes: &[u8]) -> Result<Intake, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::Json(e.to_string()))?;
        Self::parse(value)
    }

    /// Parses an event already decoded as JSON (what the Lambda runtime hands over).
    pub fn parse(value: Value) -> Result<Intake, EventError> {
        if !value.is_object() {
            return Err(EventError::Field {
                path: "(event)".into(),
                message: "an EventBridge event is a JSON object".into(),
            });
        }
        let env: Envelope = typed(value, "")?;
        if !env.detail.is_object() {
            return Err(EventError::Field {
                path: "detail".into(),
                message: "expected a JSON object".into(),
            });
        }
        let source = match (env.source.as_str(), env.detail_type.as_str()) {
            ("aws.guardduty", "GuardDuty Finding") => Source::GuardDuty,
            ("aws.config", "Config Rules Compliance Change") => Source::Config,
            ("aws.access-analyzer", "Access Analyzer Finding") => Source::AccessAnalyzer,
            ("aws.cloudwatch", "CloudWatch Alarm State Change") => Source::CloudWatchAlarm,
            ("aws.securityhub", "Security Hub Findings - Imported")
            | ("aws.securityhub", "Security Hub Findings - Custom Action") => Source::SecurityHub,
            (_, "AWS API Call via CloudTrail") => Source::CloudTrail,
            _ => {
                return Err(EventError::Unsupported {
                    event_source: env.source,
                    detail_type: env.detail_type,
                })
            }
        };
        let findings = match source {
            Source::GuardDuty => vec![guardduty(&env)],
            Source::Config => vec![config(&env)],
            Source::AccessAnalyzer => vec![access_analyzer(&env)],
            Source::CloudWatchAlarm => vec![alarm(&env)],
            Source::CloudTrail => vec![cloudtrail(&env)],
            Source::SecurityHub => securityhub(&env)?,
        };
        let findings = findings
            .into_iter()
            .map(|f| {
                f.map(|mut f| {
                    f.event_id = env.id.clone();
                    f
                })
            })
            .collect();
        Ok(Intake {
            event_id: env.id,
            source,
            detail_type: env.detail_type,
            findings,
        })
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

fn invalid(field: &str, what: &'static str, value: &str) -> EventError {
    // Untrusted text goes into an error message: keep it short and printable.
    let value: String = value
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    EventError::Invalid {
        field: field.to_string(),
        what,
        value,
    }
}

// ---------------------------------------------------------------- GuardDuty

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GuardDutyDetail {
    account_id: String,
    region: String,
    #[serde(default)]
    partition: Option<String>,
    id: String,
    #[serde(default)]
    arn: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    severity: f64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    resource: GdResource,
    #[serde(default)]
    service: Option<GdService>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdResource {
    resource_type: String,
    #[serde(default)]
    access_key_details: Option<GdAccessKey>,
    #[serde(default)]
    s3_bucket_details: Option<Vec<GdBucket>>,
    #[serde(default)]
    instance_details: Option<GdInstance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdAccessKey {
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    principal_id: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
}

#[derive(Deserialize)]
struct GdBucket {
    name: String,
    #[serde(default)]
    arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdInstance {
    #[serde(default)]
    instance_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdService {
    #[serde(default)]
    additional_info: Option<Value>,
    #[serde(default)]
    resource_role: Option<String>,
    #[serde(default)]
    action: Option<Value>,
}

fn guardduty(env: &Envelope) -> Result<Finding, EventError> {
    let d: GuardDutyDetail = typed(env.detail.clone(), "detail")?;
    let account = checked_account("detail.accountId", &d.account_id)?;
    let region = checked_region("detail.region", &d.region)?;
    let partition = checked_partition("detail.partition", d.partition.as_deref(), &region)?;

    let mut resources = Vec::new();
    let mut buckets = Vec::new();
    for b in d.resource.s3_bucket_details.iter().flatten() {
        if !validate::bucket_name(&b.name) {
            return Err(invalid(
                "detail.resource.s3BucketDetails.name",
                "bucket name",
                &b.name,
            ));
        }
        buckets.push(Resource::new(ResourceKind::S3Bucket, &b.name).with_arn(b.arn.clone()));
    }
    let instance = d
        .resource
        .instance_details
        .as_ref()
        .and_then(|i| i.instance_id.clone())
        .map(|id| Resource::new(ResourceKind::Ec2Instance, id));
    let key = d
        .resource
        .access_key_details
        .as_ref()
        .and_then(|k| k.access_key_id.clone())
        .map(|id| Resource::new(ResourceKind::IamAccessKey, id));
    // The primary resource first, as resourceType names it; the others after.
    match d.resource.resource_type.as_str() {
        "S3Bucket" => {
            resources.extend(buckets);
            resources.extend(key);
            resources.extend(instance);
        }
        "Instance" => {
            resources.extend(instance);
            resources.extend(key);
            resources.extend(buckets);
        }
        _ => {
            resources.extend(key);
            resources.extend(buckets);
            resources.extend(instance);
        }
    }

    // Resources an API call touched (a trail whose logging was stopped).
    if let Some(affected) = d
        .service
        .as_ref()
        .and_then(|s| s.action.as_ref())
        .and_then(|a| a.get("awsApiCallAction"))
        .and_then(|a| a.get("affectedResources"))
        .and_then(Value::as_object)
    {
        for (kind, id) in affected {
            if kind == "AWS::CloudTrail::Trail" {
                if let Some(id) = id.as_str() {
                    let kind = ResourceKind::CloudTrailTrail;
                    resources.push(
                        Resource::new(kind.clone(), short_id(&kind, id))
                            .with_arn(Some(id.to_string()).filter(|i| i.starts_with("arn:"))),
                    );
                }
            }
        }
    }
    let sample = d
        .service
        .as_ref()
        .and_then(|s| s.additional_info.as_ref())
        .and_then(|i| i.get("sample"))
        .map(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
        .unwrap_or(false);
    // Security Hub's copy of a GuardDuty finding has the finding's ARN as its Id.
    let hub = d.arn.clone().map(|arn| HubRef {
        id: arn,
        product_arn: format!("arn:{partition}:securityhub:{region}::product/aws/guardduty"),
    });
    let principal = d.resource.access_key_details.map(|k| Principal {
        access_key_id: k.access_key_id,
        user_type: k.user_type,
        user_name: k.user_name,
        principal_id: k.principal_id,
    });
    Ok(Finding {
        source: Source::GuardDuty,
        id: d.id,
        title: d.title.unwrap_or_else(|| d.kind.clone()),
        kind: d.kind,
        account,
        region,
        partition,
        severity: Severity::from_guardduty(d.severity),
        resources,
        hub,
        sample,
        action: None,
        principal,
        status: None,
        aliases: Vec::new(),
        resource_role: d.service.as_ref().and_then(|s| s.resource_role.clone()),
        observed_at: d.updated_at,
        window_start: None,
        is_public: None,
        event_id: String::new(),
        principals: Vec::new(),
        analyzer: None,
        sources: Vec::new(),
    })
}

// ---------------------------------------------------------------- Config

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigDetail {
    aws_account_id: String,
    aws_region: String,
    config_rule_name: String,
    resource_type: String,
    resource_id: String,
    #[serde(default)]
    new_evaluation_result: Option<ConfigEvaluation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigEvaluation {
    #[serde(default)]
    compliance_type: Option<String>,
}

fn config(env: &Envelope) -> Result<Finding, EventError> {
    let d: ConfigDetail = typed(env.detail.clone(), "detail")?;
    let account = checked_account("detail.awsAccountId", &d.aws_account_id)?;
    let region = checked_region("detail.awsRegion", &d.aws_region)?;
    if d.resource_id.is_empty() {
        return Err(EventError::Empty("detail.resourceId".into()));
    }
    let kind = ResourceKind::from_cfn(&d.resource_type);
    let status = d.new_evaluation_result.and_then(|r| r.compliance_type);
    Ok(Finding {
        source: Source::Config,
        id: format!(
            "{}/{}/{}",
            d.config_rule_name, d.resource_type, d.resource_id
        ),
        title: format!(
            "Config rule {} reports {} {} as {}",
            d.config_rule_name,
            d.resource_type,
            d.resource_id,
            status.as_deref().unwrap_or("changed")
        ),
        kind: d.config_rule_name,
        partition: validate::partition_of(&region).to_string(),
        account,
        region,
        severity: Severity::Medium,
        resources: vec![Resource::new(kind, d.resource_id)],
        hub: None,
        sample: false,
        action: None,
        principal: None,
        status,
        aliases: Vec::new(),
        resource_role: None,
        observed_at: None,
        window_start: None,
        is_public: None,
        event_id: String::new(),
        principals: Vec::new(),
        analyzer: None,
        sources: Vec::new(),
    })
}

// ---------------------------------------------------------------- Access Analyzer

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessAnalyzerDetail {
    account_id: String,
    region: String,
    id: String,
    resource_type: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    is_public: Option<bool>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    principal: Option<Value>,
    #[serde(default)]
    sources: Option<Vec<AccessSource>>,
}

#[derive(Deserialize)]
struct AccessSource {
    #[serde(rename = "type")]
    kind: String,
}

fn access_analyzer(env: &Envelope) -> Result<Finding, EventError> {
    let d: AccessAnalyzerDetail = typed(env.detail.clone(), "detail")?;
    let analyzer = env
        .resources
        .iter()
        .find(|r| r.contains(":access-analyzer:"))
        .cloned();
    if let Some(a) = analyzer.as_deref().filter(|a| !validate::analyzer_arn(a)) {
        return Err(invalid("resources", "analyzer ARN", a));
    }
    let account = checked_account("detail.accountId", &d.account_id)?;
    let region = checked_region("detail.region", &d.region)?;
    let kind = ResourceKind::from_cfn(&d.resource_type);
    let resources = match d.resource.as_deref() {
        Some(r) if !r.is_empty() => vec![Resource::from_arn(kind, r)],
        // Error findings (`error: ACCESS_DENIED`) may name no resource: recorded, not acted on.
        _ if d.error.is_some() => Vec::new(),
        _ => return Err(EventError::Empty("detail.resource".into())),
    };
    if let Some(r) = resources.first() {
        if r.kind == ResourceKind::S3Bucket && !validate::bucket_name(&r.id) {
            return Err(invalid("detail.resource", "bucket ARN", &r.id));
        }
    }
    let status = match (&d.error, &d.status) {
        (Some(e), _) => Some(format!("ERROR:{e}")),
        (None, s) => s.clone(),
    };
    Ok(Finding {
        source: Source::AccessAnalyzer,
        title: format!(
            "IAM Access Analyzer: {} {} is shared {}",
            d.resource_type,
            resources
                .first()
                .map(|r| r.id.as_str())
                .unwrap_or("(unknown)"),
            if d.is_public == Some(true) {
                "publicly"
            } else {
                "outside the zone of trust"
            }
        ),
        id: d.id,
        kind: d.resource_type,
        partition: validate::partition_of(&region).to_string(),
        account,
        region,
        severity: if d.is_public == Some(true) {
            Severity::High
        } else {
            Severity::Medium
        },
        resources,
        hub: None,
        sample: false,
        action: None,
        principal: None,
        status,
        aliases: Vec::new(),
        resource_role: None,
        observed_at: None,
        window_start: None,
        is_public: d.is_public,
        event_id: String::new(),
        principals: d
            .principal
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.values())
            .flat_map(|v| match v {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            })
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        analyzer,
        sources: d
            .sources
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.kind)
            .collect(),
    })
}

// ---------------------------------------------------------------- CloudWatch alarms

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmState,
    #[serde(default)]
    configuration: Option<AlarmConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmState {
    value: String,
    #[serde(default)]
    reason_data: Option<String>,
}

#[derive(Deserialize)]
struct AlarmConfiguration {
    #[serde(default)]
    metrics: Vec<AlarmMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmMetric {
    #[serde(default)]
    metric_stat: Option<MetricStat>,
}

#[derive(Deserialize)]
struct MetricStat {
    metric: Metric,
}

#[derive(Deserialize)]
struct Metric {
    name: String,
}

fn alarm(env: &Envelope) -> Result<Finding, EventError> {
    let d: AlarmDetail = typed(env.detail.clone(), "detail")?;
    // Alarms are forwarded from the member's bus: the envelope names the member account.
    let account = checked_account("account", &env.account)?;
    let region = checked_region("region", &env.region)?;
    // The evaluation window, from the JSON inside reasonData (`+0000` offsets, as CloudWatch
    // writes them).
    let mut window = (None, None);
    if let Some(raw) = &d.state.reason_data {
        let reason = serde_json::from_str::<Value>(raw).map_err(|e| EventError::Field {
            path: "detail.state.reasonData".into(),
            message: format!("not JSON inside the string: {e}"),
        })?;
        let t = |k: &str| {
            reason
                .get(k)
                .and_then(Value::as_str)
                .map(|s| s.replace("+0000", "Z"))
        };
        window = (t("startDate"), t("queryDate"));
    }
    let metric = d
        .configuration
        .iter()
        .flat_map(|c| c.metrics.iter())
        .find_map(|m| m.metric_stat.as_ref().map(|s| s.metric.name.clone()));
    let arn = env
        .resources
        .first()
        .cloned()
        .filter(|r| r.starts_with("arn:"));
    Ok(Finding {
        source: Source::CloudWatchAlarm,
        id: format!("{}/{}", d.alarm_name, env.id),
        title: format!("CloudWatch alarm {} is {}", d.alarm_name, d.state.value),
        // Root account usage is CRITICAL, whatever else the alarm watches.
        severity: if metric
            .as_deref()
            .unwrap_or(&d.alarm_name)
            .to_ascii_lowercase()
            .contains("root")
        {
            Severity::Critical
        } else {
            Severity::Medium
        },
        kind: metric.unwrap_or_else(|| d.alarm_name.clone()),
        partition: validate::partition_of(&region).to_string(),
        account,
        region,

        resources: vec![Resource::new(ResourceKind::CloudWatchAlarm, d.alarm_name).with_arn(arn)],
        hub: None,
        sample: false,
        action: None,
        principal: None,
        status: Some(d.state.value),
        aliases: Vec::new(),
        resource_role: None,
        observed_at: window.1.or_else(|| env.time.clone()),
        window_start: window.0,
        is_public: None,
        event_id: String::new(),
        principals: Vec::new(),
        analyzer: None,
        sources: Vec::new(),
    })
}

// ---------------------------------------------------------------- CloudTrail API calls

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CloudTrailDetail {
    event_name: String,
    #[serde(default)]
    event_source: Option<String>,
    aws_region: String,
    #[serde(rename = "eventID", default)]
    event_id: Option<String>,
    #[serde(default)]
    recipient_account_id: Option<String>,
    #[serde(default)]
    request_parameters: Option<Value>,
    #[serde(default)]
    event_time: Option<String>,
}

fn cloudtrail(env: &Envelope) -> Result<Finding, EventError> {
    let d: CloudTrailDetail = typed(env.detail.clone(), "detail")?;
    let (field, account) = match &d.recipient_account_id {
        Some(a) => ("detail.recipientAccountId", a.as_str()),
        None => ("account", env.account.as_str()),
    };
    let account = checked_account(field, account)?;
    let region = checked_region("detail.awsRegion", &d.aws_region)?;
    let params = d.request_parameters.unwrap_or(Value::Null);
    let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let mut resources = Vec::new();
    match d.event_source.as_deref() {
        Some("cloudtrail.amazonaws.com") => {
            if let Some(name) = text("name") {
                let r = Resource::new(
                    ResourceKind::CloudTrailTrail,
                    short_id(&ResourceKind::CloudTrailTrail, &name),
                );
                resources.push(r.with_arn(Some(name).filter(|n| n.starts_with("arn:"))));
            }
        }
        Some("ec2.amazonaws.com") => {
            if let Some(id) = text("groupId") {
                resources.push(Resource::new(ResourceKind::Ec2SecurityGroup, id));
            }
        }
        Some("s3.amazonaws.com") => {
            if let Some(b) = text("bucketName") {
                resources.push(Resource::new(ResourceKind::S3Bucket, b));
            }
        }
        _ => {}
    }
    Ok(Finding {
        source: Source::CloudTrail,
        id: d.event_id.unwrap_or_else(|| env.id.clone()),
        title: format!("CloudTrail: {} was called", d.event_name),
        kind: d.event_name,
        partition: validate::partition_of(&region).to_string(),
        account,
        region,
        severity: Severity::Medium,
        resources,
        hub: None,
        sample: false,
        action: None,
        principal: None,
        status: None,
        aliases: Vec::new(),
        resource_role: None,
        observed_at: d.event_time,
        window_start: None,
        is_public: None,
        event_id: String::new(),
        principals: Vec::new(),
        analyzer: None,
        sources: Vec::new(),
    })
}

// ---------------------------------------------------------------- Security Hub

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityHubDetail {
    #[serde(default)]
    action_name: Option<String>,
    findings: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Asff {
    id: String,
    product_arn: String,
    aws_account_id: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    generator_id: Option<String>,
    #[serde(default)]
    severity: Option<AsffSeverity>,
    #[serde(default)]
    resources: Vec<AsffResource>,
    #[serde(default)]
    product_fields: HashMap<String, Value>,
    #[serde(default)]
    compliance: Option<AsffCompliance>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffSeverity {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    normalized: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffResource {
    #[serde(rename = "Type")]
    kind: String,
    id: String,
    #[serde(default)]
    partition: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffCompliance {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    security_control_id: Option<String>,
}

fn securityhub(env: &Envelope) -> Result<Vec<Result<Finding, EventError>>, EventError> {
    let d: SecurityHubDetail = typed(env.detail.clone(), "detail")?;
    if d.findings.is_empty() {
        return Err(EventError::Empty("detail.findings".into()));
    }
    let action = d.action_name.map(|a| a.trim().to_string());
    Ok(d.findings
        .into_iter()
        .enumerate()
        .map(|(i, f)| asff(env, f, i, action.clone()))
        .collect())
}

fn asff(
    env: &Envelope,
    value: Value,
    i: usize,
    action: Option<String>,
) -> Result<Finding, EventError> {
    let at = format!("detail.findings[{i}]");
    let f: Asff = typed(value, &at)?;
    let account = checked_account(&format!("{at}.AwsAccountId"), &f.aws_account_id)?;
    // Older ASFF findings have no top-level Region: the resource's, then the product ARN's.
    let region = f
        .region
        .clone()
        .or_else(|| f.resources.iter().find_map(|r| r.region.clone()))
        .or_else(|| {
            f.product_arn
                .split(':')
                .nth(3)
                .map(str::to_string)
                .filter(|r| !r.is_empty())
        })
        .unwrap_or_else(|| env.region.clone());
    let region = checked_region(&format!("{at}.Region"), &region)?;
    let partition = checked_partition(
        &format!("{at}.Resources[0].Partition"),
        f.resources.first().and_then(|r| r.partition.as_deref()),
        &region,
    )?;
    let field = |k: &str| {
        f.product_fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // The control id: the consolidated SecurityControlId, the FSBP ControlId, the CIS RuleId.
    let control = f
        .compliance
        .as_ref()
        .and_then(|c| c.security_control_id.clone())
        .or_else(|| field("ControlId"))
        .or_else(|| field("RuleId"));
    let mut aliases = Vec::new();
    if let Some(rule) = field("RelatedAWSResources:0/name") {
        aliases.push(rule);
    }
    if let Some(g) = &f.generator_id {
        aliases.push(g.clone());
    }
    let kind = control
        .or_else(|| f.generator_id.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let resources = f
        .resources
        .iter()
        .map(|r| Resource::from_arn(ResourceKind::from_asff(&r.kind), &r.id))
        .collect();
    let severity = f
        .severity
        .as_ref()
        .and_then(|s| {
            s.label
                .as_deref()
                .and_then(Severity::from_label)
                .or(s.normalized.map(Severity::from_normalized))
        })
        .unwrap_or(Severity::Medium);
    Ok(Finding {
        source: Source::SecurityHub,
        title: f.title.clone().unwrap_or_else(|| kind.clone()),
        hub: Some(HubRef {
            id: f.id.clone(),
            product_arn: f.product_arn.clone(),
        }),
        id: f.id,
        kind,
        account,
        region,
        partition,
        severity,
        resources,
        sample: false,
        action,
        principal: None,
        status: f.compliance.and_then(|c| c.status),
        aliases,
        resource_role: None,
        observed_at: f.updated_at,
        window_start: None,
        is_public: None,
        event_id: String::new(),
        principals: Vec::new(),
        analyzer: None,
        sources: Vec::new(),
    })
}
