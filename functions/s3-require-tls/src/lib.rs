//! `s3-require-tls`: adds to a bucket's policy a statement that denies every request not made over
//! TLS (`aws:SecureTransport` = false). Every existing statement is kept: the policy is merged,
//! never replaced.
//!
//! A bucket that hosts a static website is only planned, never changed: S3 website endpoints serve
//! HTTP only, so a TLS-only policy would take the website down. CloudFront (HTTPS) in front of it
//! first, then the policy, is a person's change.

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use serde_json::{json, Value};

const PUT: &str = "s3:PutBucketPolicy";
const GET_WEBSITE: &str = "s3:GetBucketWebsite";
pub const SID: &str = "QuellDenyInsecureTransport";

#[derive(Debug, Clone, Default)]
pub struct S3RequireTls;

#[derive(Debug, Default)]
pub struct Bucket {
    pub name: String,
    pub partition: String,
    /// The finding's account: the expected owner of the bucket.
    pub account: String,
    /// What `plan` read of the bucket's website configuration, when it found one (its index
    /// document or redirect), for `plan_only` of the same run.
    website: Cached<String>,
}

impl Bucket {
    pub fn new(
        name: impl Into<String>,
        partition: impl Into<String>,
        account: impl Into<String>,
    ) -> Bucket {
        Bucket {
            name: name.into(),
            partition: partition.into(),
            account: account.into(),
            website: Cached::default(),
        }
    }

    fn arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.name)
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Whether a statement denies all S3 actions on the bucket's objects to anyone not using TLS.
pub fn denies_insecure_transport(s: &Value, bucket_arn: &str) -> bool {
    let everyone = match &s["Principal"] {
        Value::String(p) => p == "*",
        Value::Object(o) => o
            .get("AWS")
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .any(|p| p == "*"),
        _ => false,
    };
    let all_actions = as_list(&s["Action"])
        .iter()
        .any(|a| a == "s3:*" || a == "*");
    // Requests on the bucket itself (ListBucket, GetBucketPolicy…) as well as on its objects: an
    // objects-only deny lets plain HTTP reach the bucket, and AWS's rule does not count it.
    let objects = format!("{bucket_arn}/*");
    let resources = as_list(&s["Resource"]);
    let names = |arn: &str| {
        resources
            .iter()
            .any(|r| r == "*" || r.as_str() == Some(arn))
    };
    let covers = names(&objects) && names(bucket_arn);
    let insecure = as_list(&s["Condition"]["Bool"]["aws:SecureTransport"])
        .iter()
        .any(|v| v == "false" || v == &Value::Bool(false));
    s["Effect"] == "Deny" && everyone && all_actions && covers && insecure
}

/// The bucket's policy with quell's statement added; `None` when a statement already does it.
pub fn merged(policy: Option<&str>, bucket_arn: &str) -> Result<Option<Value>, String> {
    let mut doc = match policy {
        Some(p) => serde_json::from_str::<Value>(p)
            .map_err(|e| format!("the bucket policy is not JSON: {e}"))?,
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    let mut statements = as_list(&doc["Statement"]);
    if statements
        .iter()
        .any(|s| denies_insecure_transport(s, bucket_arn))
    {
        return Ok(None);
    }
    statements.push(json!({
        "Sid": SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }));
    doc["Statement"] = Value::Array(statements);
    Ok(Some(doc))
}

async fn policy(s3: &aws_sdk_s3::Client, b: &Bucket) -> Result<Option<String>, AwsError> {
    match s3
        .get_bucket_policy()
        .bucket(&b.name)
        .expected_bucket_owner(&b.account)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucketPolicy") =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read the policy of bucket {}", b.name)),
    }
}

/// The bucket's static website, described (`index document index.html`), or `None` when it has
/// no website configuration.
async fn website(s3: &aws_sdk_s3::Client, b: &Bucket) -> Result<Option<String>, AwsError> {
    match s3
        .get_bucket_website()
        .bucket(&b.name)
        .expected_bucket_owner(&b.account)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            match (out.index_document(), out.redirect_all_requests_to()) {
                (Some(i), _) => format!("index document {}", i.suffix()),
                (None, Some(r)) => format!("redirecting every request to {}", r.host_name()),
                (None, None) => "a website configuration".to_string(),
            },
        )),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e)
                == Some("NoSuchWebsiteConfiguration") =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| {
            format!(
                "could not read the website configuration of bucket {}",
                b.name
            )
        }),
    }
}

impl Remediation for S3RequireTls {
    const SPEC: Spec = Spec {
        id: "s3-require-tls",
        summary: "Adds a statement denying aws:SecureTransport=false to the bucket policy, keeping every existing statement",
        resolved: "s3-bucket-ssl-requests-only, S3.5: GetBucketPolicy holds a statement with Effect Deny, Principal * (or AWS *), Action s3:* or *, Resource * or both <bucket ARN> and <bucket ARN>/*, and Condition Bool aws:SecureTransport false. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Merges, never replaces: every existing statement is kept and QuellDenyInsecureTransport added. A bucket with a website configuration (GetBucketWebsite) is only planned (PLANNED/NOTIFIED), since website endpoints serve HTTP only. A policy that is not JSON fails (MalformedPolicy). A bucket tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Default enforce.",
        triggers: Triggers {
            config_rules: &["s3-bucket-ssl-requests-only"],
            securityhub_controls: &["S3.5"],
            ..Triggers::NONE
        },
        // DeleteBucketPolicy only for undo, when the bucket had no policy before.
        permissions: &["s3:GetBucketTagging", "s3:GetBucketPolicy", GET_WEBSITE, PUT],
        undo_permissions: &["s3:DeleteBucketPolicy"],
        default_mode: Mode::Enforce,
    };
    type Target = Bucket;
    type Clients = aws_sdk_s3::Client;

    fn clients(&self, member: &Member) -> aws_sdk_s3::Client {
        member.s3()
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
        Ok(Bucket::new(
            r.id.clone(),
            f.partition.clone(),
            f.account.clone(),
        ))
    }

    fn describe(&self, t: &Bucket) -> String {
        format!("bucket {}", t.name)
    }

    async fn tags(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Tags, AwsError> {
        quell::member::bucket_tags(s3, &t.name, &t.account).await
    }

    async fn plan(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Vec<Step>, AwsError> {
        let current = policy(s3, t).await?;
        let kept = current
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .map(|d| as_list(&d["Statement"]).len())
            .unwrap_or(0);
        match merged(current.as_deref(), &t.arn()) {
            Ok(None) => Ok(Vec::new()),
            Ok(Some(_)) => {
                // Only a bucket that needs the statement is asked about its website.
                match website(s3, t).await? {
                    Some(w) => t.website.set(w),
                    None => t.website.clear(),
                }
                Ok(vec![Step::new(
                    PUT,
                    format!("bucket={} add statement {SID} (Deny s3:* when aws:SecureTransport=false), keeping the {kept} existing statements", t.name),
                )])
            }
            Err(e) => Err(AwsError::other(
                format!("could not merge the policy of bucket {}", t.name),
                "MalformedPolicy",
                e,
                false,
            )),
        }
    }

    /// A bucket that hosts a static website is not changed: its website endpoint serves HTTP only.
    fn plan_only(&self, t: &Bucket) -> Option<String> {
        t.website.get().map(|w| {
            format!(
                "bucket {} hosts a static website ({w}) and S3 website endpoints serve HTTP only: a TLS-only policy would break the website. Put CloudFront (HTTPS) in front of it first",
                t.name
            )
        })
    }

    async fn prior(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let text = quell::member::bucket_policy(s3, &t.name, &t.account).await?;
        Ok(Some(
            serde_json::json!({"bucket": t.name, "account": t.account, "policy": text}),
        ))
    }

    async fn restore(
        &self,
        s3: &aws_sdk_s3::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let bucket = quell::remediation::prior_field(prior, "bucket", validate::bucket_name)?;
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        Ok(vec![
            quell::member::put_back_bucket_policy(s3, &bucket, &account, prior["policy"].as_str())
                .await?,
        ])
    }

    async fn apply(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        // Merge into the policy as it is now, not as it was when planned.
        let current = policy(s3, t).await?;
        let Some(doc) = merged(current.as_deref(), &t.arn()).map_err(|e| {
            AwsError::other(
                format!("could not merge the policy of bucket {}", t.name),
                "MalformedPolicy",
                e,
                false,
            )
        })?
        else {
            return Ok(());
        };
        s3.put_bucket_policy()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .policy(doc.to_string())
            .send()
            .await
            .aws(|| format!("could not put the policy of bucket {}", t.name))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
    use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingError;
    use aws_sdk_s3::operation::get_bucket_website::{
        GetBucketWebsiteError, GetBucketWebsiteOutput,
    };
    use aws_sdk_s3::operation::put_bucket_policy::{PutBucketPolicyError, PutBucketPolicyOutput};
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    const ARN: &str = "arn:aws:s3:::member-data";
    fn existing() -> String {
        json!({"Version": "2012-10-17", "Statement": {"Sid": "ReadForCdn", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::member-data/*"}}).to_string()
    }

    #[test]
    fn an_objects_only_deny_leaves_the_bucket_itself_open_to_plain_http() {
        let deny = |resource: Value| {
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resource,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        };
        assert!(!denies_insecure_transport(
            &deny(json!("arn:aws:s3:::member-data/*")),
            ARN
        ));
        assert!(!denies_insecure_transport(&deny(json!(ARN)), ARN));
        assert!(denies_insecure_transport(
            &deny(json!([ARN, "arn:aws:s3:::member-data/*"])),
            ARN
        ));
        assert!(denies_insecure_transport(&deny(json!("*")), ARN));
        // So an objects-only deny gets quell's statement beside it.
        let doc = json!({"Version": "2012-10-17", "Statement": [deny(json!("arn:aws:s3:::member-data/*"))]});
        assert!(merged(Some(&doc.to_string()), ARN).unwrap().is_some());
    }

    #[test]
    fn merging_keeps_every_statement_and_adds_one() {
        let doc = merged(Some(&existing()), ARN).unwrap().unwrap();
        let st = doc["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0]["Sid"], "ReadForCdn");
        assert!(denies_insecure_transport(&st[1], ARN));
        assert!(
            merged(Some(&doc.to_string()), ARN).unwrap().is_none(),
            "idempotent"
        );
        assert_eq!(
            merged(None, ARN).unwrap().unwrap()["Statement"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(merged(Some("{not json"), ARN).is_err());
        // An equivalent statement someone else wrote counts.
        let theirs = json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"], "Resource": ["arn:aws:s3:::member-data", "arn:aws:s3:::member-data/*"], "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
        assert!(merged(Some(&theirs.to_string()), ARN).unwrap().is_none());
    }

    fn no_tags() -> Rule {
        mock!(Client::get_bucket_tagging).then_error(|| {
            GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
        })
    }
    fn no_website() -> Rule {
        mock!(Client::get_bucket_website).then_error(|| {
            GetBucketWebsiteError::generic(
                ErrorMetadata::builder()
                    .code("NoSuchWebsiteConfiguration")
                    .build(),
            )
        })
    }
    fn b() -> Bucket {
        Bucket::new("member-data", "aws", "111111111111")
    }

    #[tokio::test]
    async fn puts_the_merged_policy_and_verifies() {
        let t = no_tags();
        let merged_doc = merged(Some(&existing()), ARN).unwrap().unwrap().to_string();
        let g = mock!(Client::get_bucket_policy)
            .sequence()
            .output(|| GetBucketPolicyOutput::builder().policy(existing()).build())
            .times(2)
            .output(move || {
                GetBucketPolicyOutput::builder()
                    .policy(merged_doc.clone())
                    .build()
            })
            .build();
        let p = mock!(Client::put_bucket_policy)
            .match_requests(|r| {
                r.expected_bucket_owner() == Some("111111111111")
                    && r.policy()
                        .is_some_and(|p| p.contains("ReadForCdn") && p.contains(SID))
            })
            .then_output(|| PutBucketPolicyOutput::builder().build());
        let w = no_website();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &w, &p]);
        let out = execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt").await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
        assert_eq!(p.num_calls(), 1);
        // Asked once, when the plan had a statement to add; the verification has none.
        assert_eq!(w.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_bucket_hosting_a_website_is_planned_not_changed() {
        let p = mock!(Client::put_bucket_policy)
            .then_output(|| PutBucketPolicyOutput::builder().build());
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_policy).then_error(|| {
                GetBucketPolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
                )
            }),
        );
        let w = mock!(Client::get_bucket_website).then_output(|| {
            GetBucketWebsiteOutput::builder()
                .index_document(
                    aws_sdk_s3::types::IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &w, &p]);
        let out = execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt").await;
        match &out {
            Outcome::Planned { steps, reason } => {
                assert_eq!(steps.len(), 1);
                assert!(
                    reason.contains("website")
                        && reason.contains("index.html")
                        && reason.contains("CloudFront"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.num_calls(), 0, "the website's bucket is not changed");
        // The website cannot be read: the policy is not put blind.
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_policy).then_error(|| {
                GetBucketPolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
                )
            }),
        );
        let w = mock!(Client::get_bucket_website).then_error(|| {
            GetBucketWebsiteError::generic(ErrorMetadata::builder().code("AccessDenied").build())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &w, &p]);
        assert_eq!(
            execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "FAILED"
        );
        assert_eq!(p.num_calls(), 0);
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let p = mock!(Client::put_bucket_policy)
            .then_output(|| PutBucketPolicyOutput::builder().build());
        let none = || {
            GetBucketPolicyError::generic(
                ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
            )
        };
        let (t, g, w) = (
            no_tags(),
            mock!(Client::get_bucket_policy).then_error(none),
            no_website(),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &w, &p]);
        assert_eq!(
            execute(&S3RequireTls, &s3, &b(), Mode::DryRun, "quell:exempt")
                .await
                .name(),
            "PLANNED"
        );
        assert_eq!(p.num_calls(), 0);
        let done = merged(None, ARN).unwrap().unwrap().to_string();
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_policy).then_output(move || {
                GetBucketPolicyOutput::builder()
                    .policy(done.clone())
                    .build()
            }),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        let (t, g) = (no_tags(), mock!(Client::get_bucket_policy).then_error(none));
        let deny = mock!(Client::put_bucket_policy).then_error(|| {
            PutBucketPolicyError::generic(ErrorMetadata::builder().code("AccessDenied").build())
        });
        let w = no_website();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &w, &deny]);
        assert_eq!(
            execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "FAILED"
        );
        let t = no_tags();
        let g = mock!(Client::get_bucket_policy).then_error(|| {
            GetBucketPolicyError::generic(
                ErrorMetadata::builder().code("ServiceUnavailable").build(),
            )
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g]);
        assert!(
            execute(&S3RequireTls, &s3, &b(), Mode::Enforce, "quell:exempt")
                .await
                .is_retryable()
        );
    }
}
