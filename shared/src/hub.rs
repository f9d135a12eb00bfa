//! Recording outcomes on Security Hub: the finding's workflow status and a note, updated from the
//! central (administrator) account; or, for a source with no Security Hub finding, an ASFF finding
//! of quell's own imported in the member account and then updated the same way.

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingIdentifier, NoteUpdate, Resource as AsffResource,
    Severity as AsffSeverity, WorkflowStatus, WorkflowUpdate,
};
use serde::Serialize;

use crate::error::{AwsError, AwsResultExt};
use crate::finding::{Finding, HubRef};
use crate::member::Member;
use crate::outcome::{truncate, Outcome, Workflow};

/// What was recorded on Security Hub for one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hub", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HubRecord {
    /// The source's Security Hub finding was updated.
    Updated { id: String, workflow: Workflow },
    /// quell imported a finding of its own, then set its workflow.
    Imported { id: String, workflow: Workflow },
    /// Nothing was written, and why (a retryable failure leaves the workflow unchanged).
    NotRecorded { reason: String },
}

impl HubRecord {
    pub fn workflow(&self) -> Option<Workflow> {
        match self {
            HubRecord::Updated { workflow, .. } | HubRecord::Imported { workflow, .. } => {
                Some(*workflow)
            }
            HubRecord::NotRecorded { .. } => None,
        }
    }
}

/// IAM actions the shared core needs in member accounts, whatever the remediation: importing
/// quell's own finding where the source has none.
pub const MEMBER_PERMISSIONS: &[&str] = &["securityhub:BatchImportFindings"];

/// IAM actions the shared core needs in the central account (besides sts:AssumeRole on the member
/// role and sns:Publish on the outcome topic, which name their resources).
pub const CENTRAL_PERMISSIONS: &[&str] = &["securityhub:BatchUpdateFindings"];

pub struct Hub {
    base: SdkConfig,
    hub_region: Option<String>,
    function: String,
}

fn status(w: Workflow) -> WorkflowStatus {
    match w {
        Workflow::Resolved => WorkflowStatus::Resolved,
        Workflow::Suppressed => WorkflowStatus::Suppressed,
        Workflow::Notified => WorkflowStatus::Notified,
    }
}

impl Hub {
    pub fn new(base: &SdkConfig, hub_region: Option<String>, function: &str) -> Self {
        Hub {
            base: base.clone(),
            hub_region,
            function: function.to_string(),
        }
    }

    fn central(&self, region: &str) -> aws_sdk_securityhub::Client {
        let region = self.hub_region.as_deref().unwrap_or(region).to_string();
        let conf = aws_sdk_securityhub::config::Builder::from(&self.base)
            .region(aws_config::Region::new(region))
            .build();
        aws_sdk_securityhub::Client::from_conf(conf)
    }

    /// The ProductArn of findings an account imports itself.
    pub fn own_product_arn(partition: &str, region: &str, account: &str) -> String {
        format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
    }

    /// Records `outcome` for `finding`. `member` is the session in the finding's account, when
    /// one was opened; without it quell cannot import a finding of its own there.
    pub async fn record(
        &self,
        finding: &Finding,
        outcome: &Outcome,
        note: &str,
        member: Option<&Member>,
    ) -> Result<HubRecord, AwsError> {
        let Some(workflow) = outcome.workflow() else {
            return Ok(HubRecord::NotRecorded {
                reason: "retryable failure: the workflow is left unchanged for the retry".into(),
            });
        };
        // Not (yet) in Security Hub: fall through to a finding of quell's own.
        if let Some(hub) = &finding.hub {
            if self.update(finding, hub, workflow, note).await? {
                return Ok(HubRecord::Updated {
                    id: hub.id.clone(),
                    workflow,
                });
            }
        }
        let Some(member) = member else {
            return Ok(HubRecord::NotRecorded {
                reason: format!(
                    "no Security Hub finding to update and no session in {} to import one",
                    finding.account
                ),
            });
        };
        let own = self.import(finding, outcome, member).await?;
        if !self.update(finding, &own, workflow, note).await? {
            return Err(AwsError::other(
                format!(
                    "could not update quell's finding {} in Security Hub",
                    own.id
                ),
                "FindingNotFound",
                "the imported finding is not visible to the administrator account yet",
                true,
            ));
        }
        Ok(HubRecord::Imported {
            id: own.id,
            workflow,
        })
    }

    /// BatchUpdateFindings from the central account. `Ok(false)`: Security Hub has no such finding.
    async fn update(
        &self,
        finding: &Finding,
        hub: &HubRef,
        workflow: Workflow,
        note: &str,
    ) -> Result<bool, AwsError> {
        let action = || format!("could not update Security Hub finding {}", hub.id);
        let out = self
            .central(&finding.region)
            .batch_update_findings()
            .finding_identifiers(
                AwsSecurityFindingIdentifier::builder()
                    .id(&hub.id)
                    .product_arn(&hub.product_arn)
                    .build(),
            )
            .workflow(WorkflowUpdate::builder().status(status(workflow)).build())
            .note(
                NoteUpdate::builder()
                    .text(truncate(note, crate::outcome::NOTE_LIMIT))
                    .updated_by(format!("quell/{}", self.function))
                    .build(),
            )
            .send()
            .await
            .aws(action)?;
        if let Some(u) = out.unprocessed_findings().first() {
            let code = u.error_code().unwrap_or("Unprocessed");
            if code == "FindingNotFound" {
                return Ok(false);
            }
            return Err(AwsError::other(
                action(),
                code,
                u.error_message().unwrap_or("the finding was not processed"),
                true,
            ));
        }
        if out.processed_findings().is_empty() {
            // An emulator that does not implement the call answers with an empty body.
            return Err(AwsError::other(
                action(),
                "NotProcessed",
                "Security Hub processed no finding",
                true,
            ));
        }
        Ok(true)
    }

    /// BatchImportFindings in the member account: quell's own finding for this problem.
    async fn import(
        &self,
        finding: &Finding,
        outcome: &Outcome,
        member: &Member,
    ) -> Result<HubRef, AwsError> {
        let product_arn =
            Self::own_product_arn(&finding.partition, &finding.region, &finding.account);
        let id = finding.own_id();
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        let resources = if finding.resources.is_empty() {
            vec![AsffResource::builder()
                .r#type("AwsAccount")
                .id(format!("AWS::::Account:{}", finding.account))
                .build()]
        } else {
            finding
                .resources
                .iter()
                .map(|r| {
                    AsffResource::builder()
                        .r#type(r.kind.asff_type())
                        .id(r.arn.clone().unwrap_or_else(|| r.id.clone()))
                        .region(&finding.region)
                        .partition(aws_sdk_securityhub::types::Partition::from(
                            finding.partition.as_str(),
                        ))
                        .build()
                })
                .collect()
        };
        let description = truncate(
            &format!(
                "{} (source: {}, {}). quell {}: {}",
                finding.title,
                finding.source,
                finding.kind,
                self.function,
                outcome.name()
            ),
            1024,
        );
        let asff = AwsSecurityFinding::builder()
            .schema_version("2018-10-08")
            .id(&id)
            .product_arn(&product_arn)
            .generator_id(format!("quell/{}/{}", finding.source, finding.kind))
            .aws_account_id(&finding.account)
            .region(&finding.region)
            .types(match finding.source {
                crate::finding::Source::CloudWatchAlarm | crate::finding::Source::CloudTrail => {
                    "Unusual Behaviors/User".to_string()
                }
                _ => "Software and Configuration Checks/AWS Security Best Practices".to_string(),
            })
            .created_at(&now)
            .updated_at(&now)
            .severity(
                AsffSeverity::builder()
                    .label(finding.severity.label().into())
                    .build(),
            )
            .title(truncate(&finding.title, 256))
            .description(description)
            .set_resources(Some(resources))
            .product_fields("quell/Function", &self.function)
            .product_fields("quell/Source", finding.source.name())
            .product_fields("quell/SourceFindingId", truncate(&finding.id, 512))
            .build();
        let action = || {
            format!(
                "could not import quell's finding in Security Hub of {}",
                finding.account
            )
        };
        let out = member
            .securityhub()
            .batch_import_findings()
            .findings(asff)
            .send()
            .await
            .aws(action)?;
        if let Some(f) = out.failed_findings().first() {
            return Err(AwsError::other(
                action(),
                f.error_code().unwrap_or("ImportFailed"),
                f.error_message().unwrap_or("the finding was not imported"),
                false,
            ));
        }
        Ok(HubRef { id, product_arn })
    }
}
