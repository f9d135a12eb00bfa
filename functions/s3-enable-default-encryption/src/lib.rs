//! `s3-enable-default-encryption`: a bucket with no default encryption gets SSE-S3, or SSE-KMS
//! with the configured key. A bucket that has any default encryption is left as it is.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use quell::config::ConfigError;
use quell::finding::validate;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const PUT: &str = "s3:PutEncryptionConfiguration";

#[derive(Debug, Clone, Default)]
pub struct S3EnableDefaultEncryption {
    /// SSE-KMS with this key (id, ARN or alias) when set; SSE-S3 otherwise.
    pub kms_key: Option<String>,
}

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

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

impl Remediation for S3EnableDefaultEncryption {
    const SPEC: Spec = Spec {
        id: "s3-enable-default-encryption",
        summary: "Sets default encryption (SSE-S3, or SSE-KMS with a configured key) on a bucket that has none",
        triggers: Triggers {
            config_rules: &["s3-bucket-server-side-encryption-enabled"],
            securityhub_controls: &["S3.4"],
            ..Triggers::NONE
        },
        permissions: &["s3:GetBucketTagging", "s3:GetEncryptionConfiguration", PUT],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Bucket;
    type Clients = aws_sdk_s3::Client;

    fn clients(&self, member: &Member) -> aws_sdk_s3::Client {
        member.s3()
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(k) = get("QUELL_S3_KMS_KEY_ID")
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
        {
            if k.len() > 2048 || k.contains(char::is_whitespace) {
                return Err(ConfigError {
                    var: "QUELL_S3_KMS_KEY_ID",
                    reason: format!("`{k}` is not a KMS key id, ARN or alias"),
                });
            }
            self.kms_key = Some(k);
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Bucket, NotApplicable> {
        let r = f
            .resource(&ResourceKind::S3Bucket)
            .ok_or_else(|| NotApplicable("the finding names no S3 bucket".into()))?;
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
        let has = match s3
            .get_bucket_encryption()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .send()
            .await
        {
            Ok(out) => out.server_side_encryption_configuration().is_some_and(|c| {
                c.rules()
                    .iter()
                    .any(|r| r.apply_server_side_encryption_by_default().is_some())
            }),
            Err(e) if code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => false,
            Err(e) => {
                return Err(e)
                    .aws(|| format!("could not read the default encryption of bucket {}", t.name))
            }
        };
        if has {
            return Ok(Vec::new());
        }
        let how = match &self.kms_key {
            Some(k) => format!("SSE-KMS with key {k}"),
            None => "SSE-S3 (AES256)".into(),
        };
        Ok(vec![Step::new(
            PUT,
            format!("bucket={} default encryption {how}", t.name),
        )])
    }

    /// It acts only on a bucket without default encryption: that is the prior state.
    async fn prior(
        &self,
        _s3: &aws_sdk_s3::Client,
        t: &Bucket,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        Ok(Some(
            serde_json::json!({"bucket": t.name, "account": t.account, "default_encryption": null}),
        ))
    }

    /// DeleteBucketEncryption (authorized by s3:PutEncryptionConfiguration).
    async fn restore(
        &self,
        s3: &aws_sdk_s3::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let bucket = quell::remediation::prior_field(prior, "bucket", validate::bucket_name)?;
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        if !prior["default_encryption"].is_null() {
            return Err(quell::remediation::invalid_prior(
                "quell records only buckets that had no default encryption",
            ));
        }
        s3.delete_bucket_encryption()
            .bucket(&bucket)
            .expected_bucket_owner(&account)
            .send()
            .await
            .aws(|| format!("could not remove the default encryption of bucket {bucket}"))?;
        Ok(vec![Step::new(
            PUT,
            format!("bucket={bucket} default encryption removed, as it was"),
        )])
    }

    async fn apply(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let by_default = match &self.kms_key {
            Some(k) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(k),
            None => {
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
            }
        }
        .build()
        .map_err(|e| {
            AwsError::other(
                "could not build the encryption rule",
                "InvalidRule",
                e.to_string(),
                false,
            )
        })?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(self.kms_key.is_some())
            .build();
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| {
                AwsError::other(
                    "could not build the encryption configuration",
                    "InvalidRule",
                    e.to_string(),
                    false,
                )
            })?;
        s3.put_bucket_encryption()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .aws(|| format!("could not set the default encryption of bucket {}", t.name))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_bucket_encryption::{
        GetBucketEncryptionError, GetBucketEncryptionOutput,
    };
    use aws_sdk_s3::operation::get_bucket_tagging::{
        GetBucketTaggingError, GetBucketTaggingOutput,
    };
    use aws_sdk_s3::operation::put_bucket_encryption::{
        PutBucketEncryptionError, PutBucketEncryptionOutput,
    };
    use aws_sdk_s3::types::Tag;
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    fn no_tags() -> Rule {
        mock!(Client::get_bucket_tagging).then_error(|| {
            GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
        })
    }
    fn none() -> GetBucketEncryptionError {
        GetBucketEncryptionError::generic(
            ErrorMetadata::builder()
                .code("ServerSideEncryptionConfigurationNotFoundError")
                .build(),
        )
    }
    fn sse_s3() -> GetBucketEncryptionOutput {
        let r = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            )
            .build();
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(r)
                    .build()
                    .unwrap(),
            )
            .build()
    }
    fn b() -> Bucket {
        Bucket::new("member-data", "111111111111")
    }

    #[tokio::test]
    async fn sets_kms_encryption_when_configured_and_verifies() {
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption)
            .sequence()
            .error(none)
            .output(sse_s3)
            .build();
        let p = mock!(Client::put_bucket_encryption)
            .match_requests(|r| {
                let d = r.server_side_encryption_configuration().unwrap().rules()[0]
                    .apply_server_side_encryption_by_default()
                    .unwrap();
                r.expected_bucket_owner() == Some("111111111111")
                    && d.sse_algorithm() == &ServerSideEncryption::AwsKms
                    && d.kms_master_key_id() == Some("alias/data")
            })
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let r = S3EnableDefaultEncryption {
            kms_key: Some("alias/data".into()),
        };
        let out = execute(&r, &s3, &b(), Mode::Enforce, "quell:exempt").await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
        assert_eq!(p.num_calls(), 1);
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let p = mock!(Client::put_bucket_encryption)
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_output(sse_s3),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "ALREADY_COMPLIANT"
        );
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_error(none),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::DryRun,
                "quell:exempt"
            )
            .await
            .name(),
            "PLANNED"
        );
        let t = mock!(Client::get_bucket_tagging).then_output(|| {
            GetBucketTaggingOutput::builder()
                .tag_set(
                    Tag::builder()
                        .key("quell:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "EXEMPT"
        );
        assert_eq!(p.num_calls(), 0);
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_error(none),
        );
        let deny = mock!(Client::put_bucket_encryption).then_error(|| {
            PutBucketEncryptionError::generic(ErrorMetadata::builder().code("AccessDenied").build())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &deny]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "FAILED"
        );
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption).then_error(|| {
            GetBucketEncryptionError::generic(ErrorMetadata::builder().code("SlowDown").build())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g]);
        assert!(execute(
            &S3EnableDefaultEncryption::default(),
            &s3,
            &b(),
            Mode::Enforce,
            "quell:exempt"
        )
        .await
        .is_retryable());
    }
}
