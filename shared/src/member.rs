//! Sessions in member accounts: AssumeRole into the account where the problem is, cached per
//! (account, region) while the container is warm and refreshed before the credentials expire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::error::{AwsError, AwsResultExt};

/// Credentials closer than this to expiry are not used for a new finding.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A session in one member account and region.
#[derive(Debug, Clone)]
pub struct Member {
    pub account: String,
    pub region: String,
    pub partition: String,
    config: SdkConfig,
    /// The function's own (central account) configuration, in the member's region: for calls
    /// that belong to the security account, such as an organization analyzer's findings.
    central: SdkConfig,
    expires: SystemTime,
}

impl Member {
    /// A member session over an SDK configuration that already holds its credentials (tests,
    /// and a single-account run where no role is assumed).
    pub fn from_config(account: &str, region: &str, config: SdkConfig) -> Member {
        Member {
            account: account.to_string(),
            region: region.to_string(),
            partition: crate::finding::validate::partition_of(region).to_string(),
            central: config.clone(),
            config,
            expires: SystemTime::now() + Duration::from_secs(3600),
        }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// The central account's configuration in this member's region.
    pub fn central(&self) -> &SdkConfig {
        &self.central
    }

    /// A member session whose central configuration is `central` (tests of cross-account calls).
    pub fn with_central(mut self, central: SdkConfig) -> Member {
        self.central = central;
        self
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.config)
    }

    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        s3control_client(&self.config)
    }

    pub fn securityhub(&self) -> aws_sdk_securityhub::Client {
        aws_sdk_securityhub::Client::new(&self.config)
    }

    fn fresh(&self) -> bool {
        self.expires
            .duration_since(SystemTime::now())
            .map(|left| left > REFRESH_BEFORE)
            .unwrap_or(false)
    }
}

/// An S3 client; path-style addressing where an endpoint is configured (a local emulator has no
/// wildcard DNS for virtual-hosted buckets).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// An S3 Control client. S3 Control puts the account id in the host name
/// (`111122223333.s3-control…`); against a configured endpoint (a local emulator) that name does
/// not resolve, so the endpoint is used as it is and the account id travels in its header only.
pub fn s3control_client(config: &SdkConfig) -> aws_sdk_s3control::Client {
    let mut b = aws_sdk_s3control::config::Builder::from(config);
    if let Some(url) = config.endpoint_url() {
        b = b.endpoint_resolver(FixedEndpoint(url.to_string()));
    }
    aws_sdk_s3control::Client::from_conf(b.build())
}

#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// A bucket's tags; a bucket with none has none (S3 answers NoSuchTagSet).
pub async fn bucket_tags(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<crate::remediation::Tags, AwsError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
        Err(e) if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchTagSet") => {
            Ok(Vec::new())
        }
        Err(e) => Err(e).aws(|| format!("could not read the tags of bucket {bucket}")),
    }
}

/// The bucket's policy text; `None` when it has none.
pub async fn bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<String>, AwsError> {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(out.policy),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucketPolicy") =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read the policy of bucket {bucket}")),
    }
}

/// Undo of a bucket policy change: the recorded text put back, or the policy deleted when the
/// bucket had none. Returns the step taken.
pub async fn put_back_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    text: Option<&str>,
) -> Result<crate::outcome::Step, AwsError> {
    match text {
        Some(text) => {
            s3.put_bucket_policy()
                .bucket(bucket)
                .policy(text)
                .send()
                .await
                .aws(|| format!("could not put back the policy of bucket {bucket}"))?;
            Ok(crate::outcome::Step::new(
                "s3:PutBucketPolicy",
                format!("bucket={bucket} policy put back as it was"),
            ))
        }
        None => {
            s3.delete_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .aws(|| format!("could not delete the policy of bucket {bucket}"))?;
            Ok(crate::outcome::Step::new(
                "s3:DeleteBucketPolicy",
                format!("bucket={bucket} had no policy: deleted"),
            ))
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Member>>>>;

/// Assumes the member role and caches the sessions.
pub struct Members {
    sts: aws_sdk_sts::Client,
    base: SdkConfig,
    role: String,
    external_id: Option<String>,
    function: String,
    cache: Mutex<HashMap<(String, String), Slot>>,
    assumed: AtomicUsize,
}

impl Members {
    pub fn new(base: &SdkConfig, role: &str, external_id: Option<String>, function: &str) -> Self {
        Members {
            sts: aws_sdk_sts::Client::new(base),
            base: base.clone(),
            role: role.to_string(),
            external_id,
            function: function.to_string(),
            cache: Mutex::new(HashMap::new()),
            assumed: AtomicUsize::new(0),
        }
    }

    /// How many AssumeRole calls this cache has made.
    pub fn assume_count(&self) -> usize {
        self.assumed.load(Ordering::Relaxed)
    }

    /// The ARN of the member role in `account`.
    pub fn role_arn(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.role)
    }

    /// A session in `account`/`region`, from the cache while its credentials are fresh.
    /// Concurrent findings for the same account wait for one AssumeRole instead of making many.
    pub async fn session(
        &self,
        partition: &str,
        account: &str,
        region: &str,
        finding_id: &str,
    ) -> Result<Arc<Member>, AwsError> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry((account.to_string(), region.to_string()))
                .or_default()
                .clone()
        };
        let mut held = slot.lock().await;
        if let Some(m) = held.as_ref().filter(|m| m.fresh()) {
            return Ok(m.clone());
        }
        let member = Arc::new(self.assume(partition, account, region, finding_id).await?);
        *held = Some(member.clone());
        Ok(member)
    }

    /// Drops a cached session (after ExpiredToken), so the next finding assumes afresh.
    pub fn forget(&self, account: &str, region: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(&(account.to_string(), region.to_string()));
    }

    async fn assume(
        &self,
        partition: &str,
        account: &str,
        region: &str,
        finding_id: &str,
    ) -> Result<Member, AwsError> {
        let arn = self.role_arn(partition, account);
        let action = || format!("could not assume role {} in {account}", self.role);
        self.assumed.fetch_add(1, Ordering::Relaxed);
        let out = self
            .sts
            .assume_role()
            .role_arn(&arn)
            .role_session_name(session_name(&self.function, finding_id))
            .set_external_id(self.external_id.clone())
            .duration_seconds(3600)
            .send()
            .await
            .aws(action)?;
        let c = out.credentials.ok_or_else(|| {
            AwsError::other(
                action(),
                "NoCredentials",
                "AssumeRole returned no credentials",
                true,
            )
        })?;
        let expires = SystemTime::try_from(c.expiration).unwrap_or_else(|_| SystemTime::now());
        let creds = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expires),
            "quell-assume-role",
        );
        let config = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Ok(Member {
            account: account.to_string(),
            region: region.to_string(),
            partition: partition.to_string(),
            central: self
                .base
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build(),
            config,
            expires,
        })
    }
}

/// `quell-<function>-<finding>`: CloudTrail in the member account ties every call to the function
/// and the finding that caused it. At most 64 characters of `[\w+=,.@-]`.
pub fn session_name(function: &str, finding_id: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    // The end of a finding id is its most specific part (GuardDuty ids, ARNs' last segment).
    let finding = clean(finding_id);
    let head = format!("quell-{}-", clean(function));
    let room = 64usize.saturating_sub(head.len());
    let tail = if finding.len() > room {
        &finding[finding.len() - room..]
    } else {
        finding.as_str()
    };
    let mut name = format!("{head}{tail}");
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_valid_and_tie_function_to_finding() {
        let n = session_name("s3-block-public-access", "a6bfa2f07893be4f3c3174d5af7e2f80");
        assert_eq!(
            n,
            "quell-s3-block-public-access-a6bfa2f07893be4f3c3174d5af7e2f80"
        );
        let long = session_name(
            "s3-block-public-access",
            "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.8/finding/e0182181-9218-420f-bef2-ed09ed230c59",
        );
        assert!(long.len() <= 64, "{long}");
        assert!(long.starts_with("quell-s3-block-public-access-"));
        assert!(long.ends_with("ed230c59"));
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)));
    }
}
