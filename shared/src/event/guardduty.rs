//! GuardDuty findings (`aws.guardduty`, "GuardDuty Finding"). The member account is the
//! detail's `accountId`: GuardDuty's administrator receives its members' findings, so the envelope
//! names the administrator. Sample findings are recognised before anything else is checked.

use serde::Deserialize;
use serde_json::Value;

use super::{
    checked_account, checked_partition, checked_region, invalid, typed, Envelope, EventError,
};
use crate::finding::{
    short_id, validate, Finding, HubRef, Principal, Resource, ResourceKind, Severity, Source,
};

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
    #[serde(default)]
    lambda_details: Option<GdLambda>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GdLambda {
    #[serde(default)]
    function_arn: Option<String>,
    #[serde(default)]
    function_name: Option<String>,
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

pub(super) fn finding(env: &Envelope) -> Result<Finding, EventError> {
    let d: GuardDutyDetail = typed(env.detail.clone(), "detail")?;
    let account = checked_account("detail.accountId", &d.account_id)?;
    let region = checked_region("detail.region", &d.region)?;
    let partition = checked_partition("detail.partition", d.partition.as_deref(), &region)?;

    // A sample ("Generate sample findings") carries placeholder names: recognised first, so
    // that it is planned, not refused and dead-lettered.
    let sample = d
        .service
        .as_ref()
        .and_then(|s| s.additional_info.as_ref())
        .and_then(|i| i.get("sample"))
        .map(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
        .unwrap_or(false);
    let mut resources = Vec::new();
    let mut buckets = Vec::new();
    for b in d.resource.s3_bucket_details.iter().flatten() {
        if !validate::bucket_name(&b.name) {
            if sample {
                continue;
            }
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
    // A Lambda function: by its name, and its ARN when GuardDuty gives it (the name is the last
    // part of the ARN; a finding whose two disagree is refused).
    let function = match d.resource.lambda_details.as_ref() {
        Some(l) => {
            let from_arn = l
                .function_arn
                .as_deref()
                .map(|a| short_id(&ResourceKind::LambdaFunction, a));
            match (l.function_name.clone(), from_arn) {
                (Some(n), Some(a)) if n != a => {
                    return Err(invalid(
                        "detail.resource.lambdaDetails.functionArn",
                        "ARN of the function named in functionName",
                        l.function_arn.as_deref().unwrap_or_default(),
                    ))
                }
                (Some(n), _) | (None, Some(n)) => Some(
                    Resource::new(ResourceKind::LambdaFunction, n).with_arn(l.function_arn.clone()),
                ),
                (None, None) => None,
            }
        }
        None => None,
    };
    resources.extend(function);
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
    // Security Hub's copy of a GuardDuty finding has the finding's ARN as its Id.
    let hub = d.arn.clone().map(|arn| {
        HubRef::asff(
            arn,
            format!("arn:{partition}:securityhub:{region}::product/aws/guardduty"),
        )
    });
    let caller_account = d
        .service
        .as_ref()
        .and_then(|s| s.action.as_ref())
        .and_then(|a| a.get("awsApiCallAction"))
        .and_then(|a| a.get("remoteAccountDetails"))
        .and_then(|r| r.get("accountId"))
        .and_then(Value::as_str)
        // Malformed: still another account's, named as such, never put in a call.
        .map(|a| {
            if crate::finding::validate::account_id(a) {
                a.to_string()
            } else {
                "an account with a malformed id".to_string()
            }
        });
    let principal = d.resource.access_key_details.map(|k| Principal {
        access_key_id: k.access_key_id,
        user_type: k.user_type,
        user_name: k.user_name,
        principal_id: k.principal_id,
        caller_account,
    });
    let mut f = Finding::new(
        Source::GuardDuty,
        d.id,
        d.kind.clone(),
        d.title.unwrap_or_else(|| d.kind.clone()),
        account,
        region,
    );
    f.partition = partition;
    f.severity = Severity::from_guardduty(d.severity);
    f.resources = resources;
    f.hub = hub;
    f.sample = sample;
    f.principal = principal;
    f.resource_role = d.service.as_ref().and_then(|s| s.resource_role.clone());
    f.observed_at = d.updated_at;
    f.subject = subject(&env.detail);
    Ok(f)
}

/// The resource a GuardDuty finding names, as `<resourceType> <name>`, from the detail object of
/// its type, with the Kubernetes workload and user where it names them (text for a person's note;
/// no remediation acts on it). Control characters are dropped and each part is cut at 128
/// characters.
fn subject(detail: &Value) -> Option<String> {
    let r = detail.get("resource")?;
    let text = |v: Option<&Value>| -> Option<String> {
        let t = v?.as_str()?;
        Some(t.chars().filter(|c| !c.is_control()).take(128).collect())
    };
    let kind = text(r.get("resourceType")).unwrap_or_else(|| "resource".into());
    // The resource itself first: an S3 finding also names the caller's user in accessKeyDetails.
    const NAMES: &[(&str, &str)] = &[
        ("eksClusterDetails", "name"),
        ("ecsClusterDetails", "name"),
        ("lambdaDetails", "functionName"),
        ("rdsDbInstanceDetails", "dbInstanceIdentifier"),
        ("rdsLimitlessDbDetails", "dbShardGroupIdentifier"),
        ("containerDetails", "name"),
        ("instanceDetails", "instanceId"),
    ];
    let name = NAMES
        .iter()
        .find_map(|(obj, key)| text(r.get(*obj)?.get(*key)))
        .or_else(|| text(r.get("s3BucketDetails")?.as_array()?.first()?.get("name")))
        .or_else(|| text(r.get("accessKeyDetails")?.get("userName")))?;
    let mut out = format!("{kind} {name}");
    if let Some(k) = r.get("kubernetesDetails") {
        let workload = k.get("kubernetesWorkloadDetails");
        if let (Some(ns), Some(w)) = (
            text(workload.and_then(|w| w.get("namespace"))),
            text(workload.and_then(|w| w.get("name"))),
        ) {
            out.push_str(&format!(", workload {ns}/{w}"));
        }
        if let Some(u) = text(
            k.get("kubernetesUserDetails")
                .and_then(|u| u.get("username")),
        ) {
            out.push_str(&format!(", Kubernetes user {u}"));
        }
    }
    Some(out)
}
