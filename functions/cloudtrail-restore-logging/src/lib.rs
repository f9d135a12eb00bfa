//! `cloudtrail-restore-logging`: a trail that was stopped logs again; multi-region and log file
//! validation are turned back on where they were turned off. For an account-level finding, every
//! trail the account owns in the region is checked.

use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const START: &str = "cloudtrail:StartLogging";
const UPDATE: &str = "cloudtrail:UpdateTrail";
const STOP: &str = "cloudtrail:StopLogging";

#[derive(Debug, Clone, Default)]
pub struct CloudtrailRestoreLogging;

#[derive(Debug, Default)]
pub struct Target {
    /// The trail a finding names; `None`: every trail of the account in the region.
    pub trail: Option<String>,
    pub account: String,
    pub region: String,
    /// The trails `tags` read, for `plan` and `apply` of the same run; `apply` clears it so that
    /// the verification reads afresh.
    read: Cached<Vec<Trail>>,
}

impl Target {
    pub fn new(trail: Option<String>, account: &str, region: &str) -> Target {
        Target {
            trail,
            account: account.to_string(),
            region: region.to_string(),
            read: Cached::default(),
        }
    }
}

#[derive(Debug, Clone)]
struct Trail {
    name: String,
    arn: String,
    multi_region: bool,
    validation: bool,
    logging: bool,
}

fn valid_trail_name(s: &str) -> bool {
    (3..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The trails, from the run's cache when `tags` or `plan` read them already.
async fn trails(ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Vec<Trail>, AwsError> {
    if let Some(v) = t.read.get() {
        return Ok(v);
    }
    let v = read_trails(ct, t).await?;
    t.read.set(v.clone());
    Ok(v)
}

async fn read_trails(ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Vec<Trail>, AwsError> {
    let mut req = ct.describe_trails().include_shadow_trails(false);
    if let Some(name) = &t.trail {
        req = req.trail_name_list(name);
    }
    let out = req
        .send()
        .await
        .aws(|| format!("could not describe the trails of {}", t.account))?;
    let mut v = Vec::new();
    for tr in out.trail_list() {
        let arn = tr.trail_arn().unwrap_or_default().to_string();
        // Only trails this account owns and manages here (an organization trail is the
        // management account's to change).
        let owned = arn.split(':').nth(4) == Some(t.account.as_str());
        if !owned || tr.home_region().is_some_and(|h| h != t.region) {
            continue;
        }
        let name = tr.name().unwrap_or_default().to_string();
        let status = ct
            .get_trail_status()
            .name(&arn)
            .send()
            .await
            .aws(|| format!("could not read the status of trail {name}"))?;
        v.push(Trail {
            multi_region: tr.is_multi_region_trail().unwrap_or(false),
            validation: tr.log_file_validation_enabled().unwrap_or(false),
            logging: status.is_logging().unwrap_or(false),
            name,
            arn,
        });
    }
    Ok(v)
}

impl Remediation for CloudtrailRestoreLogging {
    const SPEC: Spec = Spec {
        id: "cloudtrail-restore-logging",
        summary: "Starts logging on a stopped trail and re-enables multi-region and log file validation where turned off",
        triggers: Triggers {
            guardduty: &["Stealth:IAMUser/CloudTrailLoggingDisabled"],
            config_rules: &["cloudtrail-enabled", "multi-region-cloudtrail-enabled"],
            securityhub_controls: &[
                "CloudTrail.1",
                "CloudTrail.4",
                "cis-1.2.0/2.1",
                "cis-1.2.0/2.2",
                "cis-1.4.0/3.1",
                "cis-1.4.0/3.2",
                "cis-3.0.0/3.1",
                "cis-3.0.0/3.2",
                "cis-5.0.0/3.1",
                "cis-5.0.0/3.2",
            ],
            cloudtrail_events: &["cloudtrail:StopLogging"],
            ..Triggers::NONE
        },
        // StopLogging only for undo, when the trail was not logging before.
        permissions: &["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:ListTags", START, UPDATE],
        undo_permissions: &[STOP],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_cloudtrail::Client;

    fn clients(&self, member: &Member) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let trail = match f.resource(&ResourceKind::CloudTrailTrail) {
            Some(r) if valid_trail_name(&r.id) => Some(r.id.clone()),
            Some(r) => return Err(NotApplicable(format!("`{}` is not a trail name", r.id))),
            None => None,
        };
        Ok(Target::new(trail, &f.account, &f.region))
    }

    fn describe(&self, t: &Target) -> String {
        match &t.trail {
            Some(n) => format!("trail {n}"),
            None => format!("the trails of {} in {}", t.account, t.region),
        }
    }

    async fn tags(&self, ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Tags, AwsError> {
        let Some(name) = &t.trail else {
            return Ok(Vec::new());
        };
        let arns: Vec<String> = trails(ct, t).await?.into_iter().map(|tr| tr.arn).collect();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let out = ct
            .list_tags()
            .set_resource_id_list(Some(arns))
            .send()
            .await
            .aws(|| format!("could not read the tags of trail {name}"))?;
        Ok(out
            .resource_tag_list()
            .iter()
            .flat_map(|r| r.tags_list())
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    async fn plan(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
    ) -> Result<Vec<Step>, AwsError> {
        let all = trails(ct, t).await?;
        if all.is_empty() {
            return Err(AwsError::other(
                format!("could not restore {}", self.describe(t)),
                "TrailNotFound",
                "there is no trail of this account here: creating one needs a bucket and its policy, which a person must choose",
                false,
            ));
        }
        let mut steps = Vec::new();
        for tr in all {
            if !tr.logging {
                steps.push(Step::new(START, format!("trail={}", tr.name)));
            }
            let mut changes = Vec::new();
            if !tr.multi_region {
                changes.push("IsMultiRegionTrail=true");
            }
            if !tr.validation {
                changes.push("EnableLogFileValidation=true");
            }
            if !changes.is_empty() {
                steps.push(Step::new(
                    UPDATE,
                    format!("trail={} {}", tr.name, changes.join(" ")),
                ));
            }
        }
        Ok(steps)
    }

    async fn prior(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let all: Vec<serde_json::Value> = trails(ct, t)
            .await?
            .into_iter()
            .map(|tr| {
                serde_json::json!({"arn": tr.arn, "name": tr.name, "multi_region": tr.multi_region,
                    "validation": tr.validation, "logging": tr.logging})
            })
            .collect();
        Ok(Some(
            serde_json::json!({"account": t.account, "region": t.region, "trails": all}),
        ))
    }

    /// Each trail's recorded settings put back; a trail that was not logging is stopped again
    /// (cloudtrail:StopLogging is in the member role for this only).
    async fn restore(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let trails = prior["trails"]
            .as_array()
            .ok_or_else(|| quell::remediation::invalid_prior("no recorded trails"))?;
        let mut steps = Vec::new();
        for tr in trails {
            let arn = quell::remediation::prior_field(tr, "arn", |a| {
                a.starts_with("arn:")
                    && a.split(':').nth(2) == Some("cloudtrail")
                    && a.rsplit_once(":trail/")
                        .is_some_and(|(_, n)| valid_trail_name(n))
            })?;
            let (Some(multi), Some(validation), Some(logging)) = (
                tr["multi_region"].as_bool(),
                tr["validation"].as_bool(),
                tr["logging"].as_bool(),
            ) else {
                return Err(quell::remediation::invalid_prior(format!(
                    "trail {arn}: settings missing"
                )));
            };
            ct.update_trail()
                .name(&arn)
                .is_multi_region_trail(multi)
                .enable_log_file_validation(validation)
                .send()
                .await
                .aws(|| format!("could not put back trail {arn}"))?;
            steps.push(Step::new(
                UPDATE,
                format!("trail={arn} IsMultiRegionTrail={multi} EnableLogFileValidation={validation}, as it was"),
            ));
            if !logging {
                ct.stop_logging()
                    .name(&arn)
                    .send()
                    .await
                    .aws(|| format!("could not stop logging on trail {arn}"))?;
                steps.push(Step::new(
                    STOP,
                    format!("trail={arn} not logging, as it was"),
                ));
            }
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let all = trails(ct, t).await?;
        // Whatever happens next, verification reads the trails afresh.
        t.read.clear();
        for tr in all {
            if !tr.multi_region || !tr.validation {
                ct.update_trail()
                    .name(&tr.arn)
                    .set_is_multi_region_trail(Some(true).filter(|_| !tr.multi_region))
                    .set_enable_log_file_validation(Some(true).filter(|_| !tr.validation))
                    .send()
                    .await
                    .aws(|| format!("could not update trail {}", tr.name))?;
            }
            if !tr.logging {
                ct.start_logging()
                    .name(&tr.arn)
                    .send()
                    .await
                    .aws(|| format!("could not start logging on trail {}", tr.name))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::describe_trails::{
        DescribeTrailsError, DescribeTrailsOutput,
    };
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::operation::list_tags::ListTagsOutput;
    use aws_sdk_cloudtrail::operation::start_logging::{StartLoggingError, StartLoggingOutput};
    use aws_sdk_cloudtrail::operation::update_trail::UpdateTrailOutput;
    use aws_sdk_cloudtrail::types::{ResourceTag, Tag, Trail as SdkTrail};
    use aws_sdk_cloudtrail::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;

    const ARN: &str = "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-audit";

    fn described(multi: bool, validation: bool) -> DescribeTrailsOutput {
        DescribeTrailsOutput::builder()
            .trail_list(
                SdkTrail::builder()
                    .name("org-audit")
                    .trail_arn(ARN)
                    .home_region("us-east-1")
                    .is_multi_region_trail(multi)
                    .log_file_validation_enabled(validation)
                    .build(),
            )
            .build()
    }
    fn status(on: bool) -> GetTrailStatusOutput {
        GetTrailStatusOutput::builder().is_logging(on).build()
    }
    fn no_tags() -> Rule {
        mock!(Client::list_tags).then_output(|| {
            ListTagsOutput::builder()
                .resource_tag_list(ResourceTag::builder().resource_id(ARN).build())
                .build()
        })
    }
    fn t() -> Target {
        Target::new(Some("org-audit".into()), "111111111111", "us-east-1")
    }

    #[tokio::test]
    async fn restarts_and_repairs_then_verifies() {
        let d = mock!(Client::describe_trails)
            .sequence()
            .output(|| described(false, false))
            .output(|| described(true, true))
            .build();
        let s = mock!(Client::get_trail_status)
            .sequence()
            .output(|| status(false))
            .output(|| status(true))
            .build();
        let start =
            mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
        let upd = mock!(Client::update_trail)
            .match_requests(|r| {
                r.is_multi_region_trail() == Some(true)
                    && r.enable_log_file_validation() == Some(true)
            })
            .then_output(|| UpdateTrailOutput::builder().build());
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &start, &upd, &tags]
        );
        let out = execute(
            &CloudtrailRestoreLogging,
            &ct,
            &t(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!((start.num_calls(), upd.num_calls()), (1, 1));
        // Read once (shared by the tag check, the plan and the change), once to verify.
        assert_eq!((d.num_calls(), s.num_calls()), (2, 2));
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let start =
            mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
        let d = mock!(Client::describe_trails).then_output(|| described(true, true));
        let s = mock!(Client::get_trail_status).then_output(|| status(true));
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &start]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        let s = mock!(Client::get_trail_status).then_output(|| status(false));
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &start]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::DryRun, "x")
                .await
                .name(),
            "PLANNED"
        );
        let exempt = mock!(Client::list_tags).then_output(|| {
            ListTagsOutput::builder()
                .resource_tag_list(
                    ResourceTag::builder()
                        .resource_id(ARN)
                        .tags_list(
                            Tag::builder()
                                .key("quell:exempt")
                                .value("true")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
        });
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &exempt, &start]
        );
        assert_eq!(
            execute(
                &CloudtrailRestoreLogging,
                &ct,
                &t(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "EXEMPT"
        );
        assert_eq!(start.num_calls(), 0);
        let deny = mock!(Client::start_logging).then_error(|| {
            StartLoggingError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &deny]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .name(),
            "FAILED"
        );
        let d = mock!(Client::describe_trails).then_error(|| {
            DescribeTrailsError::generic(
                ErrorMetadata::builder().code("ThrottlingException").build(),
            )
        });
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&d]);
        assert!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .is_retryable()
        );
        // No trail at all: a person must create one.
        let d =
            mock!(Client::describe_trails).then_output(|| DescribeTrailsOutput::builder().build());
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&d]);
        let all = Target { trail: None, ..t() };
        let out = execute(&CloudtrailRestoreLogging, &ct, &all, Mode::Enforce, "x").await;
        assert!(
            matches!(&out, quell::Outcome::Failed { code: Some(c), retryable: false, .. } if c == "TrailNotFound"),
            "{out:?}"
        );
    }
}
