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
pub const CENTRAL_PERMISSIONS: &[&str] = &[
    "securityhub:BatchUpdateFindings",
    "securityhub:BatchUpdateFindingsV2",
];

/// DESIGN.md's workflow on the new Security Hub (OCSF `status_id`): RESOLVED is Resolved (4),
/// SUPPRESSED is Suppressed (3), NOTIFIED is In Progress (2): a person was told and is to act, as
/// CSPM's NOTIFIED says. Not New: quell's rules take New findings, and a New finding quell already
/// answered could not be told from a new failure without a mark in the comment that a later
/// failure would keep (hiding it for good) and that the member could write itself.
pub fn ocsf_status(w: Workflow) -> i32 {
    match w {
        Workflow::Resolved => 4,
        Workflow::Suppressed => 3,
        Workflow::Notified => 2,
    }
}

/// The Comment BatchUpdateFindingsV2 gets: the note (1 to 512 characters).
pub fn ocsf_comment(note: &str) -> String {
    let text = if note.trim().is_empty() {
        "quell"
    } else {
        note
    };
    // The limit is in characters; bytes are never fewer.
    truncate(text, crate::outcome::NOTE_LIMIT)
}

/// Up to 100 findings a call, for both batch APIs.
pub const BATCH: usize = 100;

/// One outcome to record.
pub struct Pending<'a> {
    pub finding: &'a Finding,
    pub outcome: &'a Outcome,
    pub note: String,
    pub member: Option<&'a Member>,
}

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
        let one = Pending {
            finding,
            outcome,
            note: note.to_string(),
            member,
        };
        self.record_all(&[one]).await.pop().unwrap_or_else(|| {
            Ok(HubRecord::NotRecorded {
                reason: "nothing to record".into(),
            })
        })
    }

    /// Records many outcomes with as few calls as the API allows: BatchUpdateFindings takes up to
    /// 100 findings that get the same update (workflow and note), BatchImportFindings up to 100
    /// findings of one account. One result per item, in order.
    pub async fn record_all(&self, items: &[Pending<'_>]) -> Vec<Result<HubRecord, AwsError>> {
        let mut out: Vec<Option<Result<HubRecord, AwsError>>> =
            (0..items.len()).map(|_| None).collect();
        // 1. The source's own Security Hub findings.
        let mut direct = Vec::new();
        let mut own = Vec::new();
        for (i, it) in items.iter().enumerate() {
            match (
                it.outcome.workflow_for(it.finding.is_threat()),
                &it.finding.hub,
            ) {
                (None, _) => {
                    out[i] = Some(Ok(HubRecord::NotRecorded {
                        reason: "retryable failure: the workflow is left unchanged for the retry"
                            .into(),
                    }))
                }
                (Some(w), Some(h)) => direct.push((i, h.clone(), w)),
                (Some(w), None) => own.push((i, w)),
            }
        }
        for (i, res) in self.update_all(items, &direct).await {
            match res {
                Ok(true) => {
                    out[i] = Some(Ok(HubRecord::Updated {
                        id: direct
                            .iter()
                            .find(|d| d.0 == i)
                            .map(|d| d.1.id.clone())
                            .unwrap_or_default(),
                        workflow: direct
                            .iter()
                            .find(|d| d.0 == i)
                            .map(|d| d.2)
                            .unwrap_or(Workflow::Notified),
                    }))
                }
                // Not (yet) in Security Hub CSPM: fall through to a finding of quell's own. On
                // the new Security Hub the finding came from Security Hub itself: not finding it
                // is the central account's setup (not the administrator, or not its home Region),
                // which an import in the member would hide.
                Ok(false) => {
                    if let Some(d) = direct.iter().find(|d| d.0 == i) {
                        if d.1.ocsf.is_some() {
                            out[i] = Some(Err(AwsError::other(
                                format!("could not update Security Hub finding {} (BatchUpdateFindingsV2)", d.1.id),
                                "ResourceNotFoundException",
                                "the central account cannot see this finding of the new Security Hub: it must be the delegated administrator, and QUELL_HUB_REGION its home Region",
                                false,
                            )));
                        } else {
                            own.push((i, d.2));
                        }
                    }
                }
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        // 2. quell's own findings: imported in the member account, then updated centrally.
        let mut imported = Vec::new();
        let mut by_account: Vec<(String, Vec<(usize, Workflow)>)> = Vec::new();
        for (i, w) in own {
            let it = &items[i];
            if it.member.is_none() {
                out[i] = Some(Ok(HubRecord::NotRecorded {
                    reason: format!(
                        "no Security Hub finding to update and no session in {} to import one",
                        it.finding.account
                    ),
                }));
                continue;
            }
            let key = format!("{}#{}", it.finding.account, it.finding.region);
            match by_account.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push((i, w)),
                None => by_account.push((key, vec![(i, w)])),
            }
        }
        for (_, group) in by_account {
            for chunk in group.chunks(BATCH) {
                for (i, res) in self.import_all(items, chunk).await {
                    match res {
                        Ok(h) => imported.push((
                            i,
                            h,
                            chunk
                                .iter()
                                .find(|c| c.0 == i)
                                .map(|c| c.1)
                                .unwrap_or(Workflow::Notified),
                        )),
                        Err(e) => out[i] = Some(Err(e)),
                    }
                }
            }
        }
        for (i, res) in self.update_all(items, &imported).await {
            let (_, h, w) = imported.iter().find(|d| d.0 == i).cloned().unwrap_or((
                i,
                HubRef::asff("", ""),
                Workflow::Notified,
            ));
            out[i] = Some(match res {
                Ok(true) => Ok(HubRecord::Imported {
                    id: h.id,
                    workflow: w,
                }),
                Ok(false) => Err(AwsError::other(
                    format!("could not update quell's finding {} in Security Hub", h.id),
                    "FindingNotFound",
                    "the imported finding is not visible to the administrator account yet",
                    true,
                )),
                Err(e) => Err(e),
            });
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Ok(HubRecord::NotRecorded {
                        reason: "not recorded".into(),
                    })
                })
            })
            .collect()
    }

    /// BatchUpdateFindings from the central account for `which` (item index, finding, workflow):
    /// findings that get the same update in the same region share calls of up to 100. Per item:
    /// `Ok(false)` when Security Hub has no such finding.
    async fn update_all(
        &self,
        items: &[Pending<'_>],
        which: &[(usize, HubRef, Workflow)],
    ) -> Vec<(usize, Result<bool, AwsError>)> {
        // (region, generation, workflow, note) → the findings that get exactly that update.
        type Update<'n> = (String, bool, Workflow, &'n str);
        let mut groups: Vec<(Update<'_>, Vec<(usize, &HubRef)>)> = Vec::new();
        for (i, h, w) in which {
            let region = self
                .hub_region
                .clone()
                .unwrap_or_else(|| items[*i].finding.region.clone());
            let key = (region, h.ocsf.is_some(), *w, items[*i].note.as_str());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push((*i, h)),
                None => groups.push((key, vec![(*i, h)])),
            }
        }
        let mut out = Vec::new();
        for ((region, v2, workflow, note), members) in groups {
            for chunk in members.chunks(BATCH) {
                out.extend(if v2 {
                    self.update_chunk_v2(&region, workflow, note, chunk).await
                } else {
                    self.update_chunk(&region, workflow, note, chunk).await
                });
            }
        }
        out
    }

    /// BatchUpdateFindingsV2 for findings of the new Security Hub, each named by its account,
    /// `finding_info.uid` and product (FindingIdentifiers: the account the finding is about binds
    /// the update to it, where a `metadata.uid` alone would not): StatusId and Comment
    /// ([`ocsf_status`], [`ocsf_comment`]). Per item: `Ok(false)` when Security Hub has no such
    /// finding the central account may update (ResourceNotFoundException).
    async fn update_chunk_v2(
        &self,
        region: &str,
        workflow: Workflow,
        note: &str,
        chunk: &[(usize, &HubRef)],
    ) -> Vec<(usize, Result<bool, AwsError>)> {
        use aws_sdk_securityhub::types::OcsfFindingIdentifier;
        let action = |id: &str| {
            format!("could not update Security Hub finding {id} (BatchUpdateFindingsV2)")
        };
        let ident = |h: &HubRef| {
            OcsfFindingIdentifier::builder()
                .cloud_account_uid(
                    h.ocsf
                        .as_ref()
                        .map(|o| o.account.as_str())
                        .unwrap_or_default(),
                )
                .finding_info_uid(&h.id)
                .metadata_product_uid(&h.product_arn)
                .build()
        };
        let mut req = self
            .central(region)
            .batch_update_findings_v2()
            .status_id(ocsf_status(workflow))
            .comment(ocsf_comment(note));
        for (_, h) in chunk {
            req = req.finding_identifiers(ident(h));
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => {
                let Err(first) = Err::<(), _>(e).aws(|| action(&chunk[0].1.id)) else {
                    return Vec::new();
                };
                return chunk
                    .iter()
                    .map(|(i, h)| (*i, Err(first.copy_for(action(&h.id)))))
                    .collect();
            }
        };
        chunk
            .iter()
            .map(|(i, h)| {
                // The finding and its account, whatever else Security Hub echoes back.
                let account = h.ocsf.as_ref().map(|o| o.account.as_str());
                let mine = |f: Option<&OcsfFindingIdentifier>| {
                    f.is_some_and(|f| {
                        f.finding_info_uid() == Some(h.id.as_str())
                            && f.cloud_account_uid() == account
                    })
                };
                if let Some(u) = out
                    .unprocessed_findings()
                    .iter()
                    .find(|u| mine(u.finding_identifier()))
                {
                    let code = u.error_code().map(|c| c.as_str()).unwrap_or("Unprocessed");
                    if code == "ResourceNotFoundException" {
                        return (*i, Ok(false));
                    }
                    return (
                        *i,
                        Err(AwsError::other(
                            action(&h.id),
                            code,
                            u.error_message().unwrap_or("the finding was not processed"),
                            code != "ValidationException",
                        )),
                    );
                }
                if out
                    .processed_findings()
                    .iter()
                    .any(|p| mine(p.finding_identifier()))
                {
                    (*i, Ok(true))
                } else {
                    (
                        *i,
                        Err(AwsError::other(
                            action(&h.id),
                            "NotProcessed",
                            "Security Hub processed no finding",
                            true,
                        )),
                    )
                }
            })
            .collect()
    }

    async fn update_chunk(
        &self,
        region: &str,
        workflow: Workflow,
        note: &str,
        chunk: &[(usize, &HubRef)],
    ) -> Vec<(usize, Result<bool, AwsError>)> {
        let action = |id: &str| format!("could not update Security Hub finding {id}");
        let mut req = self
            .central(region)
            .batch_update_findings()
            .workflow(WorkflowUpdate::builder().status(status(workflow)).build())
            .note(
                NoteUpdate::builder()
                    .text(truncate(note, crate::outcome::NOTE_LIMIT))
                    .updated_by(format!("quell/{}", self.function))
                    .build(),
            );
        for (_, h) in chunk {
            req = req.finding_identifiers(
                AwsSecurityFindingIdentifier::builder()
                    .id(&h.id)
                    .product_arn(&h.product_arn)
                    .build(),
            );
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => {
                let Err(first) = Err::<(), _>(e).aws(|| action(&chunk[0].1.id)) else {
                    return Vec::new();
                };
                let n = chunk.len();
                return chunk
                    .iter()
                    .map(|(i, h)| {
                        let what = if n > 1 {
                            format!("{} (one call for {n} findings)", action(&h.id))
                        } else {
                            action(&h.id)
                        };
                        (*i, Err(first.copy_for(what)))
                    })
                    .collect();
            }
        };
        let processed = |h: &HubRef| {
            out.processed_findings().iter().any(|p| {
                p.id() == Some(h.id.as_str()) && p.product_arn() == Some(h.product_arn.as_str())
            })
        };
        chunk
            .iter()
            .map(|(i, h)| {
                if let Some(u) = out.unprocessed_findings().iter().find(|u| {
                    u.finding_identifier()
                        .is_some_and(|f| f.id() == Some(h.id.as_str()))
                }) {
                    let code = u.error_code().unwrap_or("Unprocessed");
                    if code == "FindingNotFound" {
                        return (*i, Ok(false));
                    }
                    return (
                        *i,
                        Err(AwsError::other(
                            action(&h.id),
                            code,
                            u.error_message().unwrap_or("the finding was not processed"),
                            true,
                        )),
                    );
                }
                if processed(h) {
                    (*i, Ok(true))
                } else {
                    // An emulator that does not implement the call answers with an empty body.
                    (
                        *i,
                        Err(AwsError::other(
                            action(&h.id),
                            "NotProcessed",
                            "Security Hub processed no finding",
                            true,
                        )),
                    )
                }
            })
            .collect()
    }

    /// BatchImportFindings in one member account for up to 100 items: quell's own findings.
    async fn import_all(
        &self,
        items: &[Pending<'_>],
        chunk: &[(usize, Workflow)],
    ) -> Vec<(usize, Result<HubRef, AwsError>)> {
        let Some(member) = chunk.first().and_then(|(i, _)| items[*i].member) else {
            return Vec::new();
        };
        let account = items[chunk[0].0].finding.account.clone();
        let action = || format!("could not import quell's finding in Security Hub of {account}");
        let mut req = member.securityhub().batch_import_findings();
        let mut refs = Vec::new();
        for (i, _) in chunk {
            let (asff, h) = self.asff(items[*i].finding, items[*i].outcome);
            req = req.findings(asff);
            refs.push((*i, h));
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => {
                let Err(first) = Err::<(), _>(e).aws(action) else {
                    return Vec::new();
                };
                return refs
                    .into_iter()
                    .map(|(i, _)| (i, Err(first.copy_for(action()))))
                    .collect();
            }
        };
        refs.into_iter()
            .map(|(i, h)| {
                match out
                    .failed_findings()
                    .iter()
                    .find(|f| f.id() == Some(h.id.as_str()))
                {
                    Some(f) => (
                        i,
                        Err(AwsError::other(
                            action(),
                            f.error_code().unwrap_or("ImportFailed"),
                            f.error_message().unwrap_or("the finding was not imported"),
                            false,
                        )),
                    ),
                    None => (i, Ok(h)),
                }
            })
            .collect()
    }

    /// quell's own ASFF finding for a problem whose source has none in Security Hub.
    fn asff(&self, finding: &Finding, outcome: &Outcome) -> (AwsSecurityFinding, HubRef) {
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
        (asff, HubRef::asff(id, product_arn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_maps_onto_ocsf_status_ids_and_comments() {
        assert_eq!(ocsf_status(Workflow::Resolved), 4);
        assert_eq!(ocsf_status(Workflow::Suppressed), 3);
        assert_eq!(ocsf_status(Workflow::Notified), 2);
        let note = "quell s3-block-public-access would call s3:PutBucketPublicAccessBlock";
        assert_eq!(ocsf_comment(note), note);
        // Security Hub takes 1 to 512 characters, not only spaces.
        let c = ocsf_comment(&"é".repeat(600));
        assert!(c.chars().count() <= 512);
        assert_eq!(ocsf_comment("  "), "quell");
    }
}
