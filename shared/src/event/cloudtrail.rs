//! CloudTrail API calls ("AWS API Call via CloudTrail"), forwarded by the member from its own bus.
//!
//! The envelope is read through the runtime's own model (`aws_lambda_events`); the record through a
//! model of the fields quell uses. `aws_lambda_events`' `AWSAPICall` refuses real records — a console
//! user's `"sessionIssuer": {}` lacks the fields it requires — so it cannot be the parser of a tool
//! that must not drop a real call. Trust: the
//! event's `source` must be the service the record names (`aws.ec2` for `ec2.amazonaws.com`), and
//! the account is the envelope's — a `recipientAccountId` that names another account is refused.

use serde::Deserialize;
use serde_json::Value;

use super::{checked_region, invalid, typed, untrusted, Envelope, EventError};
use crate::finding::{short_id, Finding, Resource, ResourceKind, Source};

/// The IAM service prefix of a CloudTrail `eventSource`: `ec2.amazonaws.com` → `ec2`. CloudWatch
/// is the one service whose endpoint name differs (`monitoring`).
pub fn service_of(event_source: &str) -> Option<&str> {
    let service = event_source.strip_suffix(".amazonaws.com")?;
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    Some(match service {
        "monitoring" => "cloudwatch",
        other => other,
    })
}

/// The EventBridge `source` AWS gives a service's CloudTrail events (`aws.<service>`), from the
/// qualified event name quell's Specs use (`ec2:AuthorizeSecurityGroupIngress`).
pub fn event_source_of(qualified: &str) -> (String, String, &str) {
    let (service, name) = qualified.split_once(':').unwrap_or(("", qualified));
    let endpoint = match service {
        "cloudwatch" => "monitoring",
        other => other,
    };
    (
        format!("aws.{service}"),
        format!("{endpoint}.amazonaws.com"),
        name,
    )
}

/// The parts of a CloudTrail record quell reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCall {
    event_source: String,
    event_name: String,
    aws_region: String,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(rename = "eventID", default)]
    event_id: String,
    #[serde(default)]
    request_parameters: Value,
}

pub(super) fn finding(env: &Envelope) -> Result<Finding, EventError> {
    let d: ApiCall = typed(env.detail.clone(), "detail")?;
    let service = service_of(&d.event_source).ok_or_else(|| {
        invalid(
            "detail.eventSource",
            "AWS service endpoint",
            &d.event_source,
        )
    })?;
    let expected = format!("aws.{service}");
    if env.source != expected {
        return Err(untrusted(
            "source",
            &env.source,
            &format!("a call to {} is reported by `{expected}`", d.event_source),
        ));
    }
    let account = env.account()?;
    if let Some(recipient) = env.detail.get("recipientAccountId").and_then(Value::as_str) {
        env.same_account("detail.recipientAccountId", recipient)?;
    }
    let region = checked_region("detail.awsRegion", &d.aws_region)?;
    let params = &d.request_parameters;
    let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let mut resources = Vec::new();
    match service {
        "cloudtrail" => {
            if let Some(name) = text("name").or_else(|| text("trailName")) {
                let r = Resource::new(
                    ResourceKind::CloudTrailTrail,
                    short_id(&ResourceKind::CloudTrailTrail, &name),
                );
                resources.push(r.with_arn(Some(name).filter(|n| n.starts_with("arn:"))));
            }
        }
        "ec2" => {
            if let Some(id) = text("groupId") {
                resources.push(Resource::new(ResourceKind::Ec2SecurityGroup, id));
            }
        }
        "s3" => {
            if let Some(b) = text("bucketName") {
                resources.push(Resource::new(ResourceKind::S3Bucket, b));
            }
        }
        _ => {}
    }
    let mut f = Finding::new(
        Source::CloudTrail,
        if d.event_id.is_empty() {
            env.id.clone()
        } else {
            d.event_id.clone()
        },
        format!("{service}:{}", d.event_name),
        format!("CloudTrail: {} was called", d.event_name),
        account,
        region,
    );
    f.resources = resources;
    f.observed_at = d.event_time.clone();
    let record = &env.detail;
    let bounded = |v: &Value| v.as_str().map(|s| super::bounded(s, 256));
    let ident = &record["userIdentity"];
    f.caller = Some(crate::finding::Caller {
        arn: bounded(&ident["arn"]),
        identity_type: bounded(&ident["type"]),
        ip: bounded(&record["sourceIPAddress"]),
        user_agent: bounded(&record["userAgent"]),
    });
    f.by_quell = [
        &ident["arn"],
        &ident["sessionContext"]["sessionIssuer"]["arn"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .any(crate::member::is_quell_role_arn);
    if params.is_object() {
        f.request = Some(params.clone());
    }
    // A call that failed changed nothing: its error code is what the source reports.
    f.status = env
        .detail
        .get("errorCode")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_sources_agree() {
        assert_eq!(service_of("ec2.amazonaws.com"), Some("ec2"));
        assert_eq!(service_of("monitoring.amazonaws.com"), Some("cloudwatch"));
        assert_eq!(service_of("evil.example.com"), None);
        assert_eq!(service_of("EC2.amazonaws.com"), None);
        let (source, endpoint, name) = event_source_of("cloudwatch:DeleteAlarms");
        assert_eq!(
            (source.as_str(), endpoint.as_str(), name),
            ("aws.cloudwatch", "monitoring.amazonaws.com", "DeleteAlarms")
        );
    }
}
