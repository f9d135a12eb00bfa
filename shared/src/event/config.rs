//! AWS Config compliance changes (`aws.config`, "Config Rules Compliance Change"). The member
//! forwards them from its own bus: the detail's `awsAccountId` must be the envelope's account.

use serde::Deserialize;

use super::{checked_region, typed, Envelope, EventError};
use crate::finding::{Finding, Resource, ResourceKind, Source};

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

pub(super) fn finding(env: &Envelope) -> Result<Finding, EventError> {
    let d: ConfigDetail = typed(env.detail.clone(), "detail")?;
    let account = env.same_account("detail.awsAccountId", &d.aws_account_id)?;
    let region = checked_region("detail.awsRegion", &d.aws_region)?;
    if d.resource_id.is_empty() {
        return Err(EventError::Empty("detail.resourceId".into()));
    }
    let kind = ResourceKind::from_cfn(&d.resource_type);
    let status = d.new_evaluation_result.and_then(|r| r.compliance_type);
    let mut f = Finding::new(
        Source::Config,
        format!(
            "{}/{}/{}",
            d.config_rule_name, d.resource_type, d.resource_id
        ),
        d.config_rule_name.clone(),
        format!(
            "Config rule {} reports {} {} as {}",
            d.config_rule_name,
            d.resource_type,
            d.resource_id,
            status.as_deref().unwrap_or("changed")
        ),
        account,
        region,
    );
    // Config names some resources by ARN (an SNS topic): the short id is taken from it.
    f.resources = vec![if d.resource_id.starts_with("arn:") {
        Resource::from_arn(kind, &d.resource_id)
    } else {
        Resource::new(kind, d.resource_id)
    }];
    f.status = status;
    Ok(f)
}
