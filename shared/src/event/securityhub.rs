//! Security Hub findings (`aws.securityhub`): "Security Hub Findings - Imported" and "Security Hub
//! Findings - Custom Action", in ASFF. The member account is each finding's `AwsAccountId`
//! (Security Hub only imports a finding into its own account). A control finding counts only from
//! Security Hub's own product (`product/aws/securityhub`): a member may import findings under its
//! own product with any `ControlId`. A custom action counts only when the event's `resources`
//! name quell's own action target.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    checked_account, checked_partition, checked_region, typed, untrusted, Envelope, EventError,
    Trust,
};
use crate::finding::{Finding, HubRef, Resource, ResourceKind, Severity, Source};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityHubDetail {
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

pub(super) fn findings(
    env: &Envelope,
    trust: &Trust,
) -> Result<Vec<Result<Finding, EventError>>, EventError> {
    let d: SecurityHubDetail = typed(env.detail.clone(), "detail")?;
    let action = if env.detail_type == "Security Hub Findings - Custom Action" {
        Some(action_target(env, trust)?)
    } else {
        None
    };
    if d.findings.is_empty() {
        return Err(EventError::Empty("detail.findings".into()));
    }
    Ok(d.findings
        .into_iter()
        .enumerate()
        .map(|(i, f)| asff(env, f, i, action.clone()))
        .collect())
}

/// The id of quell's action target a custom action event names (`QuellRemediate`), or why it
/// names none: a team's own action ("Send to Jira") must not run a fix.
fn action_target(env: &Envelope, trust: &Trust) -> Result<String, EventError> {
    let ours = |arn: &str| -> Option<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, account, resource] = parts.as_slice() else {
            return None;
        };
        let id = resource.strip_prefix("action/custom/")?;
        if *service != "securityhub" || !arn.starts_with("arn:") {
            return None;
        }
        let trusted = match &trust.action_targets {
            Some(set) => set.contains(arn),
            None => *account == env.account && crate::routing::is_action_id(id),
        };
        trusted.then(|| id.to_string())
    };
    env.resources.iter().find_map(|r| ours(r)).ok_or_else(|| {
        untrusted(
            "resources",
            env.resources.first().map(String::as_str).unwrap_or("[]"),
            "a custom action counts only when it is one of quell's own action targets",
        )
    })
}

/// The CIS AWS Foundations Benchmark version a standard's ARN (or a generator id) names:
/// `…/cis-aws-foundations-benchmark/v/1.4.0…` → `1.4.0`.
pub fn cis_version(standard: &str) -> Option<&str> {
    let rest = standard.split("cis-aws-foundations-benchmark/v/").nth(1)?;
    let v = rest.split('/').next()?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then_some(v)
}

/// Whether a product ARN is Security Hub's own: `arn:aws:securityhub:us-east-1::product/aws/securityhub`
/// (CSPM, ASFF) or `…::productv2/aws/securityhub` (the new Security Hub, OCSF).
pub fn is_security_hub_product(product_arn: &str) -> bool {
    security_hub_product(product_arn).is_some()
}

/// `product` (CSPM) or `productv2` (the new Security Hub) when the ARN is Security Hub's own
/// product; each generation's parser takes only its own.
pub(super) fn security_hub_product(product_arn: &str) -> Option<&'static str> {
    let parts: Vec<&str> = product_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "securityhub", _, "", "product/aws/securityhub"] => Some("product"),
        ["arn", _, "securityhub", _, "", "productv2/aws/securityhub"] => Some("productv2"),
        _ => None,
    }
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
    // The control id: the consolidated SecurityControlId (unique across standards), else the
    // standard's own ControlId / RuleId — which for CIS means different controls in different
    // versions (4.1 is "no SSH from anywhere" in CIS 1.2.0, "unauthorized API calls" in 1.4.0), so
    // it is qualified with the standard and version: `cis-1.2.0/4.1`.
    let consolidated = f
        .compliance
        .as_ref()
        .and_then(|c| c.security_control_id.clone());
    let claimed = consolidated.or_else(|| {
        let id = field("ControlId").or_else(|| field("RuleId"))?;
        let standard = field("StandardsArn")
            .or_else(|| field("StandardsGuideArn"))
            .or_else(|| f.generator_id.clone())
            .unwrap_or_default();
        Some(match cis_version(&standard) {
            Some(v) => format!("cis-{v}/{id}"),
            None => id,
        })
    });
    let control = match claimed {
        Some(c) if security_hub_product(&f.product_arn) != Some("product") => {
            return Err(untrusted(
                &format!("{at}.ProductArn"),
                &f.product_arn,
                &format!("control {c} findings come only from Security Hub's own product (product/aws/securityhub)"),
            ))
        }
        other => other,
    };
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
    let mut finding = Finding::new(
        Source::SecurityHub,
        f.id.clone(),
        kind.clone(),
        f.title.clone().unwrap_or_else(|| kind.clone()),
        account,
        region,
    );
    finding.hub = Some(HubRef::asff(f.id, f.product_arn));
    finding.partition = partition;
    finding.severity = severity;
    finding.resources = resources;
    finding.action = action;
    finding.status = f.compliance.and_then(|c| c.status);
    finding.aliases = aliases;
    finding.observed_at = f.updated_at;
    Ok(finding)
}
