use super::*;
use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingError;
use aws_sdk_s3::operation::put_bucket_policy::{PutBucketPolicyError, PutBucketPolicyOutput};
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Cdn",   "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
    {"Sid": "Leak",  "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "arn:aws:iam::333333333333:role/x"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
    {"Sid": "Only",  "Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
    {"Sid": "TLS",   "Effect": "Deny",  "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
  ]
}"#;

#[test]
fn exactly_the_untrusted_grants_go_and_the_rest_is_kept_byte_for_byte() {
    let (new, n) = restricted(POLICY, &["999988887777".into()]).unwrap();
    let text = new.unwrap().unwrap();
    assert_eq!(n, 2);
    // Untouched statements are the very same bytes.
    assert!(text.contains(r#"{"Sid": "Cdn",   "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#), "{text}");
    assert!(
        text.contains(r#""Sid": "TLS",   "Effect": "Deny""#),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    let st = doc["Statement"].as_array().unwrap();
    assert_eq!(
        st.len(),
        3,
        "Only went, Leak stayed with one principal: {text}"
    );
    assert_eq!(
        st[1]["Principal"]["AWS"],
        "arn:aws:iam::333333333333:role/x"
    );
    assert!(!text.contains("999988887777"));
    // Nothing to remove, and everything removed.
    assert!(restricted(POLICY, &["444444444444".into()])
        .unwrap()
        .0
        .is_none());
    let only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    assert_eq!(restricted(only, &["*".into()]).unwrap(), (Some(None), 1));
    assert!(restricted("{not json", &["*".into()]).is_err());
}

#[test]
fn json_arrays_are_split_at_top_level_commas_only() {
    let t = r#"[ {"a": "x,]}"}, [1, 2], "s\"," ]"#;
    let (spans, end) = array_elements(t, 0).unwrap();
    let parts: Vec<&str> = spans.iter().map(|(s, e)| &t[*s..*e]).collect();
    assert_eq!(parts, [r#"{"a": "x,]}"}"#, "[1, 2]", r#""s\",""#]);
    assert_eq!(end, t.len() - 1);
}

fn no_tags() -> Rule {
    mock!(Client::get_bucket_tagging).then_error(|| {
        GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
    })
}
fn t() -> Target {
    Target {
        bucket: "b".into(),
        principals: vec!["999988887777".into()],
    }
}

#[tokio::test]
async fn removes_the_grant_and_verifies() {
    let after = restricted(POLICY, &["999988887777".into()])
        .unwrap()
        .0
        .unwrap()
        .unwrap();
    let g = mock!(Client::get_bucket_policy)
        .sequence()
        .output(|| GetBucketPolicyOutput::builder().policy(POLICY).build())
        .times(2)
        .output(move || {
            GetBucketPolicyOutput::builder()
                .policy(after.clone())
                .build()
        })
        .build();
    let p = mock!(Client::put_bucket_policy)
        .match_requests(|r| {
            r.policy()
                .is_some_and(|p| !p.contains("999988887777") && p.contains("222222222222"))
        })
        .then_output(|| PutBucketPolicyOutput::builder().build());
    let tags = no_tags();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &p]);
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &s3,
        &t(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(p.num_calls(), 1);
}

#[tokio::test]
async fn trusted_access_is_left_alone_and_failures_follow_the_table() {
    let p =
        mock!(Client::put_bucket_policy).then_output(|| PutBucketPolicyOutput::builder().build());
    let g = mock!(Client::get_bucket_policy)
        .then_output(|| GetBucketPolicyOutput::builder().policy(POLICY).build());
    let tags = no_tags();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &p]);
    let trusting = S3RestrictBucketPolicy {
        trusted_accounts: vec!["999988887777".into()],
    };
    let out = execute(&trusting, &s3, &t(), Mode::Enforce, "quell:exempt").await;
    assert!(
        matches!(&out, Outcome::Exempt { reason } if reason.contains("QUELL_TRUSTED_ACCOUNTS")),
        "{out:?}"
    );
    assert_eq!(
        execute(
            &S3RestrictBucketPolicy::default(),
            &s3,
            &t(),
            Mode::DryRun,
            "x"
        )
        .await
        .name(),
        "PLANNED"
    );
    assert_eq!(p.num_calls(), 0);
    let deny = mock!(Client::put_bucket_policy).then_error(|| {
        PutBucketPolicyError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &deny]);
    assert_eq!(
        execute(
            &S3RestrictBucketPolicy::default(),
            &s3,
            &t(),
            Mode::Enforce,
            "x"
        )
        .await
        .name(),
        "FAILED"
    );
    let slow = mock!(Client::get_bucket_policy).then_error(|| {
        GetBucketPolicyError::generic(ErrorMetadata::builder().code("SlowDown").build())
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &slow]);
    assert!(execute(
        &S3RestrictBucketPolicy::default(),
        &s3,
        &t(),
        Mode::Enforce,
        "x"
    )
    .await
    .is_retryable());
}
