//! The new Security Hub's findings (`aws.securityhub`, "Findings Imported V2"): OCSF documents,
//! one per finding, normalized into the same [`Finding`] as the ASFF path. The member account is
//! each finding's `cloud.account.uid` (Security Hub keeps a finding in the account it is about);
//! a control finding counts only from Security Hub's own product (`productv2/aws/securityhub`),
//! as on the ASFF path; the outcome is recorded with BatchUpdateFindingsV2 by `metadata.uid`.
//!
//! OCSF's own enumerations are read by their ids (`status_id`, `severity_id`,
//! `compliance.status_id`) and fall back to the captions where an id is missing.

use serde::Deserialize;
use serde_json::Value;

use super::{
    checked_account, checked_partition, checked_region, typed, untrusted, Envelope, EventError,
};
use crate::finding::{Finding, HubRef, Ocsf, Principal, Resource, ResourceKind, Severity, Source};

/// The detail-type of the new Security Hub's finding events.
pub const DETAIL_TYPE: &str = "Findings Imported V2";

#[derive(Deserialize)]
struct Detail {
    findings: Vec<Value>,
}

#[derive(Deserialize)]
struct Finding2 {
    cloud: Cloud,
    finding_info: Info,
    metadata: Metadata,
    #[serde(default)]
    compliance: Option<Compliance>,
    #[serde(default)]
    resources: Vec<Res>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    severity_id: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_id: Option<i64>,
    #[serde(default)]
    time_dt: Option<String>,
}

#[derive(Deserialize)]
struct Cloud {
    account: Uid,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    cloud_partition: Option<String>,
}

#[derive(Deserialize)]
struct Uid {
    uid: String,
}

#[derive(Deserialize)]
struct Info {
    uid: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    analytic: Option<Analytic>,
    #[serde(default)]
    modified_time_dt: Option<String>,
}

#[derive(Deserialize)]
struct Analytic {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    uid: String,
    product: Uid,
}

#[derive(Deserialize)]
struct Compliance {
    #[serde(default)]
    control: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_id: Option<i64>,
}

#[derive(Deserialize)]
struct Res {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    uid_alt: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    cloud_partition: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    owner: Option<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    #[serde(default)]
    account: Option<Uid>,
}

pub(super) fn findings(env: &Envelope) -> Result<Vec<Result<Finding, EventError>>, EventError> {
    let d: Detail = typed(env.detail.clone(), "detail")?;
    if d.findings.is_empty() {
        return Err(EventError::Empty("detail.findings".into()));
    }
    Ok(d.findings
        .into_iter()
        .enumerate()
        .map(|(i, f)| finding(env, f, i))
        .collect())
}

/// OCSF `compliance.status_id` (or its caption) in the words of the ASFF path, which the
/// remediations read: `FAILED`, `PASSED`, `WARNING`, `NOT_AVAILABLE`.
fn compliance_status(c: &Compliance) -> String {
    match (
        c.status_id,
        c.status.as_deref().map(str::to_ascii_lowercase).as_deref(),
    ) {
        (Some(1), _) | (None, Some("pass")) => "PASSED",
        (Some(2), _) | (None, Some("warning")) => "WARNING",
        (Some(3), _) | (None, Some("fail")) => "FAILED",
        _ => "NOT_AVAILABLE",
    }
    .to_string()
}

/// OCSF `severity_id`: 1 Informational … 5 Critical, 6 Fatal; else the caption.
fn severity(id: Option<i64>, caption: Option<&str>) -> Severity {
    match id {
        Some(1) => Severity::Informational,
        Some(2) => Severity::Low,
        Some(3) => Severity::Medium,
        Some(4) => Severity::High,
        Some(5) | Some(6) => Severity::Critical,
        _ => caption
            .and_then(Severity::from_label)
            .or_else(|| {
                caption
                    .filter(|c| c.eq_ignore_ascii_case("fatal"))
                    .map(|_| Severity::Critical)
            })
            .unwrap_or(Severity::Medium),
    }
}

/// A resource: its CloudFormation-style type, and its ARN where `uid` or `uid_alt` is one (the
/// short id taken from it), else `uid` as the id.
fn resource(r: &Res) -> Option<Resource> {
    let kind = ResourceKind::from_cfn(r.kind.as_deref().unwrap_or("Other"));
    let arn = [&r.uid, &r.uid_alt]
        .into_iter()
        .flatten()
        .find(|u| u.starts_with("arn:"));
    match (arn, &r.uid) {
        (Some(arn), _) => Some(Resource::from_arn(kind, arn)),
        (None, Some(uid)) => Some(Resource::new(kind, uid.clone())),
        (None, None) => None,
    }
}

/// The credential a threat finding names: a resource of type `AWS::IAM::AccessKey` with the
/// principal in its `data` (as GuardDuty's findings carry `accessKeyDetails`).
fn principal(resources: &[Res]) -> Option<Principal> {
    let r = resources
        .iter()
        .find(|r| r.kind.as_deref() == Some("AWS::IAM::AccessKey"))?;
    let data = r.data.as_ref()?;
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .map(|s| super::bounded(s, 256))
    };
    Some(Principal {
        access_key_id: text("access_key_id").or_else(|| r.uid.clone()),
        user_type: text("user_type"),
        user_name: text("user_name"),
        principal_id: text("principal_id"),
        caller_account: None,
    })
}

fn finding(env: &Envelope, value: Value, i: usize) -> Result<Finding, EventError> {
    let at = format!("detail.findings[{i}]");
    let f: Finding2 = typed(value, &at)?;
    let account = checked_account(&format!("{at}.cloud.account.uid"), &f.cloud.account.uid)?;
    let region = f
        .cloud
        .region
        .clone()
        .or_else(|| f.resources.iter().find_map(|r| r.region.clone()))
        .unwrap_or_else(|| env.region.clone());
    let region = checked_region(&format!("{at}.cloud.region"), &region)?;
    let partition = checked_partition(
        &format!("{at}.cloud.cloud_partition"),
        f.cloud.cloud_partition.as_deref().or_else(|| {
            f.resources
                .first()
                .and_then(|r| r.cloud_partition.as_deref())
        }),
        &region,
    )?;
    let product = f.metadata.product.uid.clone();
    let control = f
        .compliance
        .as_ref()
        .and_then(|c| c.control.clone())
        .filter(|c| !c.is_empty());
    // Only New findings: quell's own update moves a finding out of New, and a finding a person
    // suppressed, resolved or is working on is theirs (set it back to New to ask quell again).
    if let Some(id) = f.status_id.filter(|id| *id != 1) {
        return Err(EventError::Field {
            path: format!("{at}.status_id"),
            message: format!(
                "the finding is {} ({id}), not New (1): quell acts only on New findings of the new Security Hub",
                f.status.as_deref().map(super::printable).unwrap_or_else(|| "not New".into())
            ),
        });
    }
    // Every resource is the finding's account's: Security Hub keeps a finding in the account it
    // is about.
    for (j, r) in f.resources.iter().enumerate() {
        let owner = r
            .owner
            .as_ref()
            .and_then(|o| o.account.as_ref())
            .map(|a| a.uid.as_str());
        let arn_account = [&r.uid, &r.uid_alt]
            .into_iter()
            .flatten()
            .filter(|u| u.starts_with("arn:"))
            .filter_map(|u| u.split(':').nth(4))
            .find(|a| !a.is_empty());
        for (field, other) in [("owner.account.uid", owner), ("uid_alt", arn_account)] {
            if let Some(other) = other.filter(|o| *o != account) {
                return Err(untrusted(
                    &format!("{at}.resources[{j}].{field}"),
                    other,
                    &format!("the finding is about account {account} (cloud.account.uid): its resources are that account's"),
                ));
            }
        }
    }
    if let Some(c) = &control {
        if super::securityhub::security_hub_product(&product) != Some("productv2") {
            return Err(untrusted(
                &format!("{at}.metadata.product.uid"),
                &product,
                &format!("control {c} findings come only from Security Hub's own product (productv2/aws/securityhub)"),
            ));
        }
    }
    if f.metadata.uid.is_empty() || f.finding_info.uid.is_empty() {
        return Err(EventError::Empty(format!(
            "{at}.{}",
            if f.metadata.uid.is_empty() {
                "metadata.uid"
            } else {
                "finding_info.uid"
            }
        )));
    }
    // What is wrong: the control, else the finding's type (a GuardDuty type reads
    // `Stealth:IAMUser/CloudTrailLoggingDisabled`), else the analytic.
    let analytic = f
        .finding_info
        .analytic
        .as_ref()
        .and_then(|a| a.name.clone());
    let kind = control
        .clone()
        .or_else(|| {
            f.finding_info
                .types
                .iter()
                .find(|t| t.contains(':') && t.contains('/'))
                .or(f.finding_info.types.first())
                .cloned()
        })
        .or_else(|| analytic.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let mut aliases: Vec<String> = analytic.into_iter().collect();
    aliases.extend(f.finding_info.types.iter().filter(|t| **t != kind).cloned());
    let mut finding = Finding::new(
        Source::SecurityHub,
        f.finding_info.uid.clone(),
        kind.clone(),
        f.finding_info.title.clone().unwrap_or_else(|| kind.clone()),
        account.clone(),
        region,
    );
    finding.hub = Some(HubRef {
        id: f.finding_info.uid,
        product_arn: product,
        ocsf: Some(Ocsf {
            metadata_uid: f.metadata.uid,
            account,
        }),
    });
    finding.partition = partition;
    finding.severity = severity(f.severity_id, f.severity.as_deref());
    finding.resources = f.resources.iter().filter_map(resource).collect();
    finding.principal = principal(&f.resources);
    finding.status = f.compliance.as_ref().map(compliance_status);
    finding.aliases = aliases;
    finding.observed_at = f.finding_info.modified_time_dt.or(f.time_dt);
    Ok(finding)
}
