//! IAM Access Analyzer findings (`aws.access-analyzer`, "Access Analyzer Finding"). An
//! organization analyzer reports its members' resources: the account is the detail's `accountId`.

use serde::Deserialize;
use serde_json::Value;

use super::{checked_account, checked_region, invalid, typed, Envelope, EventError};
use crate::finding::{validate, Finding, Resource, ResourceKind, Severity, Source};

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
    /// The statement's condition the access comes from: condition key → value, as Access
    /// Analyzer reports it (`{}`: none).
    #[serde(default)]
    condition: Option<Value>,
}

#[derive(Deserialize)]
struct AccessSource {
    #[serde(rename = "type")]
    kind: String,
}

pub(super) fn finding(env: &Envelope) -> Result<Finding, EventError> {
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
    // Access Analyzer writes the condition as key → string. Any other shape is taken as "not
    // said" (`None`), which only ever makes s3-restrict-bucket-policy's outcome UNCONFIRMED: the
    // finding itself is still acted on.
    let condition = d
        .condition
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|m| {
            m.iter()
                .map(|(k, v)| {
                    Some((k.clone(), v.as_str()?.to_string())).filter(|_| !k.trim().is_empty())
                })
                .collect::<Option<Vec<_>>>()
        });
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
    let title = format!(
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
    );
    let mut f = Finding::new(
        Source::AccessAnalyzer,
        d.id,
        d.resource_type,
        title,
        account,
        region,
    );
    f.severity = if d.is_public == Some(true) {
        Severity::High
    } else {
        Severity::Medium
    };
    f.resources = resources;
    f.status = status;
    f.is_public = d.is_public;
    f.principals = d
        .principal
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.values())
        .flat_map(|v| match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        })
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    f.analyzer = analyzer;
    f.condition = condition;
    f.sources = d
        .sources
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.kind)
        .collect();
    Ok(f)
}
