//! `s3-block-public-access`: turns on all four S3 Block Public Access settings on a bucket that a
//! finding says is, or may become, public.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use quell::finding::validate;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

pub struct S3BlockPublicAccess;

/// The bucket to block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// The finding's account: the expected owner of the bucket.
    pub account: String,
}

impl Bucket {
    pub fn new(name: impl Into<String>, account: impl Into<String>) -> Bucket {
        Bucket {
            name: name.into(),
            account: account.into(),
        }
    }
}

const PUT: &str = "s3:PutBucketPublicAccessBlock";

impl Remediation for S3BlockPublicAccess {
    const SPEC: Spec = Spec {
        id: "s3-block-public-access",
        summary: "Turns on all four S3 Block Public Access settings on the bucket",
        resolved: "Policy:S3/BucketBlockPublicAccessDisabled, Policy:S3/BucketAnonymousAccessGranted, Policy:S3/BucketPublicAccessGranted, s3-bucket-public-read-prohibited, s3-bucket-public-write-prohibited, s3-bucket-level-public-access-prohibited, S3.2, S3.3, S3.8, cis-1.4.0/2.1.5.2, Access Analyzer AWS::S3::Bucket (isPublic only): GetPublicAccessBlock on the bucket (expected owner the finding's account) reads all four settings true. Never UNCONFIRMED: this check is the finding's whole check; policy and ACL are not read.",
        untouched: "Never edits the bucket policy or ACL, only the bucket's Block Public Access; cross-account (non-public) Access Analyzer findings are not its trigger. Refuses a finding naming no valid bucket. A bucket tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (SUPPRESSED for posture, NOTIFIED for GuardDuty). No plan_only; default enforce.",
        triggers: Triggers {
            guardduty: &[
                "Policy:S3/BucketBlockPublicAccessDisabled",
                "Policy:S3/BucketAnonymousAccessGranted",
                "Policy:S3/BucketPublicAccessGranted",
            ],
            config_rules: &[
                "s3-bucket-public-read-prohibited",
                "s3-bucket-public-write-prohibited",
                "s3-bucket-level-public-access-prohibited",
            ],
            securityhub_controls: &["S3.2", "S3.3", "S3.8", "cis-1.4.0/2.1.5.2"],
            access_analyzer: &["AWS::S3::Bucket"],
            // Block Public Access stops public access, not a grant to another account.
            access_analyzer_public_only: true,
            ..Triggers::NONE
        },
        permissions: &["s3:GetBucketTagging", "s3:GetBucketPublicAccessBlock", PUT],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Bucket;
    type Clients = aws_sdk_s3::Client;

    fn clients(&self, member: &Member) -> Self::Clients {
        member.s3()
    }

    fn target(&self, f: &Finding) -> Result<Bucket, NotApplicable> {
        let r = f.resource(&ResourceKind::S3Bucket).ok_or_else(|| {
            NotApplicable(format!(
                "the finding names no S3 bucket (resources: {})",
                labels(f)
            ))
        })?;
        if !validate::bucket_name(&r.id) {
            return Err(NotApplicable(format!(
                "`{}` is not a valid bucket name",
                r.id
            )));
        }
        Ok(Bucket::new(r.id.clone(), f.account.clone()))
    }

    fn describe(&self, t: &Bucket) -> String {
        format!("bucket {}", t.name)
    }

    async fn tags(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Tags, AwsError> {
        quell::member::bucket_tags(s3, &t.name, &t.account).await
    }

    async fn plan(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Vec<Step>, AwsError> {
        let current = match s3
            .get_public_access_block()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .send()
            .await
        {
            Ok(out) => out.public_access_block_configuration,
            Err(e) if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => None,
            Err(e) => {
                return Err(e).aws(|| {
                    format!(
                        "could not read the public access block of bucket {}",
                        t.name
                    )
                })
            }
        };
        let c = current.unwrap_or_else(|| PublicAccessBlockConfiguration::builder().build());
        let settings = [
            ("BlockPublicAcls", c.block_public_acls),
            ("IgnorePublicAcls", c.ignore_public_acls),
            ("BlockPublicPolicy", c.block_public_policy),
            ("RestrictPublicBuckets", c.restrict_public_buckets),
        ];
        let off: Vec<&str> = settings
            .iter()
            .filter(|(_, on)| *on != Some(true))
            .map(|(name, _)| *name)
            .collect();
        if off.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Step::new(
            PUT,
            format!(
                "bucket={} all four settings true (were off: {})",
                t.name,
                off.join(", ")
            ),
        )])
    }

    async fn prior(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let current = match s3
            .get_public_access_block()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .send()
            .await
        {
            Ok(out) => out.public_access_block_configuration.map(|c| {
                serde_json::json!({
                    "BlockPublicAcls": c.block_public_acls,
                    "IgnorePublicAcls": c.ignore_public_acls,
                    "BlockPublicPolicy": c.block_public_policy,
                    "RestrictPublicBuckets": c.restrict_public_buckets,
                })
            }),
            Err(e) if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => None,
            Err(e) => {
                return Err(e).aws(|| {
                    format!(
                        "could not read the public access block of bucket {}",
                        t.name
                    )
                })
            }
        };
        Ok(Some(
            serde_json::json!({"bucket": t.name, "account": t.account, "public_access_block": current}),
        ))
    }

    async fn restore(
        &self,
        s3: &aws_sdk_s3::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let bucket = prior["bucket"].as_str().unwrap_or_default().to_string();
        if !validate::bucket_name(&bucket) {
            return Err(AwsError::other(
                "could not undo",
                "InvalidPriorState",
                format!("`{bucket}` is not a bucket name"),
                false,
            ));
        }
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        let c = &prior["public_access_block"];
        if c.is_null() {
            s3.delete_public_access_block()
                .bucket(&bucket)
                .expected_bucket_owner(&account)
                .send()
                .await
                .aws(|| format!("could not remove the public access block of bucket {bucket}"))?;
            return Ok(vec![Step::new(
                PUT,
                format!("bucket={bucket} public access block removed, as it was"),
            )]);
        }
        let b = |k: &str| c[k].as_bool();
        s3.put_public_access_block()
            .bucket(&bucket)
            .expected_bucket_owner(&account)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .set_block_public_acls(b("BlockPublicAcls"))
                    .set_ignore_public_acls(b("IgnorePublicAcls"))
                    .set_block_public_policy(b("BlockPublicPolicy"))
                    .set_restrict_public_buckets(b("RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .aws(|| format!("could not put back the public access block of bucket {bucket}"))?;
        Ok(vec![Step::new(
            PUT,
            format!("bucket={bucket} public access block restored to {c}"),
        )])
    }

    async fn apply(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        s3.put_public_access_block()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .aws(|| format!("could not put the public access block on bucket {}", t.name))?;
        Ok(())
    }
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<&str> {
    match e {
        aws_sdk_s3::error::SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

fn labels(f: &Finding) -> String {
    if f.resources.is_empty() {
        return "none".into();
    }
    f.resources
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_bucket_tagging::{
        GetBucketTaggingError, GetBucketTaggingOutput,
    };
    use aws_sdk_s3::operation::get_public_access_block::{
        GetPublicAccessBlockError, GetPublicAccessBlockOutput,
    };
    use aws_sdk_s3::operation::put_public_access_block::{
        PutPublicAccessBlockError, PutPublicAccessBlockOutput,
    };
    use aws_sdk_s3::types::Tag;
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    const TAG: &str = "quell:exempt";
    fn bucket() -> Bucket {
        Bucket::new("member-public", "111111111111")
    }

    fn no_tags() -> Rule {
        mock!(Client::get_bucket_tagging).then_error(|| {
            GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
        })
    }

    fn tags(k: &'static str, v: &'static str) -> Rule {
        mock!(Client::get_bucket_tagging).then_output(move || {
            GetBucketTaggingOutput::builder()
                .tag_set(Tag::builder().key(k).value(v).build().unwrap())
                .build()
                .unwrap()
        })
    }

    fn block(on: bool) -> PublicAccessBlockConfiguration {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(on)
            .ignore_public_acls(on)
            .block_public_policy(on)
            .restrict_public_buckets(on)
            .build()
    }

    /// First read says open (or absent), second (verification) says blocked.
    fn open_then_blocked() -> Rule {
        mock!(Client::get_public_access_block)
            .sequence()
            .error(|| {
                GetPublicAccessBlockError::generic(
                    ErrorMetadata::builder()
                        .code("NoSuchPublicAccessBlockConfiguration")
                        .build(),
                )
            })
            .output(|| {
                GetPublicAccessBlockOutput::builder()
                    .public_access_block_configuration(block(true))
                    .build()
            })
            .build()
    }

    fn put_ok() -> Rule {
        mock!(Client::put_public_access_block)
            .match_requests(|r| {
                let c = r.public_access_block_configuration().unwrap();
                r.bucket() == Some("member-public")
                    && r.expected_bucket_owner() == Some("111111111111")
                    && c.block_public_acls == Some(true)
                    && c.ignore_public_acls == Some(true)
                    && c.block_public_policy == Some(true)
                    && c.restrict_public_buckets == Some(true)
            })
            .then_output(|| PutPublicAccessBlockOutput::builder().build())
    }

    #[tokio::test]
    async fn blocks_an_open_bucket_and_verifies() {
        let (t, g, p) = (no_tags(), open_then_blocked(), put_ok());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        match &out {
            Outcome::Remediated { steps } => assert_eq!(steps[0].action, PUT),
            other => panic!("expected Remediated, got {other:?}"),
        }
        assert_eq!(p.num_calls(), 1);
        assert_eq!(g.num_calls(), 2, "one read, one verifying read");
    }

    #[tokio::test]
    async fn already_compliant_makes_no_put_call() {
        let t = no_tags();
        let g = mock!(Client::get_public_access_block).then_output(|| {
            GetPublicAccessBlockOutput::builder()
                .public_access_block_configuration(block(true))
                .build()
        });
        let p = put_ok();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
        assert_eq!(p.num_calls(), 0);
    }

    #[tokio::test]
    async fn partially_blocked_bucket_is_completed() {
        let t = no_tags();
        let partial = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(false)
            .build();
        let g = mock!(Client::get_public_access_block)
            .sequence()
            .output(move || {
                GetPublicAccessBlockOutput::builder()
                    .public_access_block_configuration(partial.clone())
                    .build()
            })
            .output(|| {
                GetPublicAccessBlockOutput::builder()
                    .public_access_block_configuration(block(true))
                    .build()
            })
            .build();
        let p = put_ok();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        let Outcome::Remediated { steps } = out else {
            panic!("{out:?}")
        };
        assert!(
            steps[0]
                .detail
                .contains("BlockPublicPolicy, RestrictPublicBuckets"),
            "{}",
            steps[0].detail
        );
        assert!(!steps[0].detail.contains("BlockPublicAcls,"));
    }

    #[tokio::test]
    async fn access_denied_is_a_permanent_failure() {
        let t = no_tags();
        let g = open_then_blocked();
        let p = mock!(Client::put_public_access_block).then_error(|| {
            PutPublicAccessBlockError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        match &out {
            Outcome::Failed {
                code,
                retryable,
                error,
            } => {
                assert_eq!(code.as_deref(), Some("AccessDenied"));
                assert!(!retryable);
                assert!(
                    error.contains("could not put the public access block on bucket member-public"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Notified));
    }

    #[tokio::test]
    async fn throttling_is_retryable() {
        let t = no_tags();
        let g = mock!(Client::get_public_access_block).then_error(|| {
            GetPublicAccessBlockError::generic(
                ErrorMetadata::builder()
                    .code("SlowDown")
                    .message("Please reduce your request rate.")
                    .build(),
            )
        });
        let p = put_ok();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        assert!(out.is_retryable(), "{out:?}");
        assert_eq!(
            out.workflow(),
            None,
            "a retryable failure leaves the workflow unchanged"
        );
        assert_eq!(p.num_calls(), 0);
    }

    #[tokio::test]
    async fn server_errors_are_retryable() {
        let t = no_tags();
        let g = mock!(Client::get_public_access_block).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(503).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<Error><Code>ServiceUnavailable</Code></Error>",
                ),
            )
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        assert!(out.is_retryable(), "{out:?}");
    }

    #[tokio::test]
    async fn dry_run_makes_no_write_call_and_records_the_plan() {
        let (t, g, p) = (no_tags(), open_then_blocked(), put_ok());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::DryRun, TAG).await;
        let Outcome::Planned { steps, reason } = out else {
            panic!("{out:?}")
        };
        assert_eq!(reason, "dry-run");
        assert_eq!(steps[0].action, PUT);
        assert!(steps[0].detail.contains("bucket=member-public"));
        assert_eq!(p.num_calls(), 0);
    }

    #[tokio::test]
    async fn exempt_tag_makes_no_read_or_write_call() {
        let (t, g, p) = (tags(TAG, "true"), open_then_blocked(), put_ok());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        assert!(
            matches!(&out, Outcome::Exempt { reason } if reason.contains("quell:exempt=true")),
            "{out:?}"
        );
        assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Suppressed));
        assert_eq!((g.num_calls(), p.num_calls()), (0, 0));
    }

    #[tokio::test]
    async fn a_tag_other_than_true_does_not_exempt() {
        let (t, g, p) = (tags(TAG, "no"), open_then_blocked(), put_ok());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&S3BlockPublicAccess, &s3, &bucket(), Mode::Enforce, TAG).await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    }

    #[test]
    fn target_takes_the_bucket_and_refuses_others() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/guardduty-s3-policy-bucketblockpublicaccessdisabled.json"
        ))
        .unwrap();
        let intake = quell::event::Envelope::parse_slice(text.as_bytes()).unwrap();
        let f = intake.findings[0].as_ref().unwrap();
        assert!(S3BlockPublicAccess::SPEC.matches(f));
        assert_eq!(
            S3BlockPublicAccess.target(f).unwrap(),
            Bucket::new("test-gd-324237984731208478901374", "123456789012")
        );

        let mut no_bucket = f.clone();
        no_bucket
            .resources
            .retain(|r| r.kind != ResourceKind::S3Bucket);
        let err = S3BlockPublicAccess.target(&no_bucket).unwrap_err();
        assert!(err.0.contains("names no S3 bucket"), "{err}");
    }
}
