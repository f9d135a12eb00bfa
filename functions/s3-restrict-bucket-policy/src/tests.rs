use super::*;
use aws_sdk_accessanalyzer::operation::update_findings::{
    UpdateFindingsError, UpdateFindingsOutput,
};
use aws_sdk_s3::operation::delete_bucket_policy::DeleteBucketPolicyOutput;
use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingError;
use aws_sdk_s3::operation::put_bucket_policy::{PutBucketPolicyError, PutBucketPolicyOutput};
use aws_sdk_s3::types::{Grant, Grantee, Owner, Permission, Type};
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
    Target::new("b", &["999988887777"])
}

fn with(s3: Client) -> Clients {
    let none = mock!(aws_sdk_accessanalyzer::Client::update_findings).then_error(|| {
        UpdateFindingsError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    let aa = mock_client!(aws_sdk_accessanalyzer, [&none]);
    Clients {
        s3,
        analyzer: Analyzers {
            member_account: "111111111111".into(),
            member: aa.clone(),
            central: aa,
        },
        account: "111111111111".into(),
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
            r.expected_bucket_owner() == Some("111111111111")
                && r.policy()
                    .is_some_and(|p| !p.contains("999988887777") && p.contains("222222222222"))
        })
        .then_output(|| PutBucketPolicyOutput::builder().build());
    let tags = no_tags();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &p]);
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3.clone()),
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
    let out = execute(
        &trusting,
        &with(s3.clone()),
        &t(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Exempt { reason } if reason.contains("QUELL_TRUSTED_ACCOUNTS")),
        "{out:?}"
    );
    assert_eq!(
        execute(
            &S3RestrictBucketPolicy::default(),
            &with(s3.clone()),
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
            &with(s3.clone()),
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
        &with(s3.clone()),
        &t(),
        Mode::Enforce,
        "x"
    )
    .await
    .is_retryable());
}

fn acl_with(grants: Vec<Grant>) -> aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput {
    aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput::builder()
        .owner(Owner::builder().id("owner-canonical").build())
        .set_grants(Some(grants))
        .build()
}

fn grant(kind: Type, id: Option<&str>, uri: Option<&str>, perm: Permission) -> Grant {
    Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(kind)
                .set_id(id.map(str::to_string))
                .set_uri(uri.map(str::to_string))
                .build()
                .unwrap(),
        )
        .permission(perm)
        .build()
}

#[tokio::test]
async fn a_public_acl_grant_goes_and_the_owner_and_log_delivery_stay() {
    let owner = grant(
        Type::CanonicalUser,
        Some("owner-canonical"),
        None,
        Permission::FullControl,
    );
    let logs = grant(
        Type::Group,
        None,
        Some("http://acs.amazonaws.com/groups/s3/LogDelivery"),
        Permission::Write,
    );
    let public = grant(Type::Group, None, Some(ALL_USERS), Permission::Read);
    let (o2, l2, o3, l3) = (owner.clone(), logs.clone(), owner.clone(), logs.clone());
    let get_acl = mock!(Client::get_bucket_acl)
        .sequence()
        .output(move || acl_with(vec![owner.clone(), logs.clone(), public.clone()]))
        .times(2)
        .output(move || acl_with(vec![o2.clone(), l2.clone()]))
        .build();
    let put_acl = mock!(Client::put_bucket_acl)
        .match_requests(move |r| {
            let g = r
                .access_control_policy()
                .map(|p| p.grants())
                .unwrap_or_default();
            r.expected_bucket_owner() == Some("111111111111")
                && g.len() == 2
                && g.contains(&o3)
                && g.contains(&l3)
        })
        .then_output(|| {
            aws_sdk_s3::operation::put_bucket_acl::PutBucketAclOutput::builder().build()
        });
    let no_policy = mock!(Client::get_bucket_policy).then_error(|| {
        GetBucketPolicyError::generic(ErrorMetadata::builder().code("NoSuchBucketPolicy").build())
    });
    let tags = no_tags();
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&tags, &no_policy, &get_acl, &put_acl]
    );
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3),
        &Target::new("b", &["*"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert!(
        out.note("x", "b").contains("AllUsers READ"),
        "{}",
        out.note("x", "b")
    );
    assert_eq!(put_acl.num_calls(), 1);
}

#[test]
fn acl_grants_are_untrusted_only_as_the_finding_says() {
    let other = grant(
        Type::CanonicalUser,
        Some("other-canonical"),
        None,
        Permission::Read,
    );
    let owner = grant(
        Type::CanonicalUser,
        Some("owner-canonical"),
        None,
        Permission::FullControl,
    );
    let auth = grant(
        Type::Group,
        None,
        Some(AUTHENTICATED_USERS),
        Permission::Read,
    );
    let acct = vec!["999988887777".to_string()];
    let star = vec!["*".to_string()];
    let o = Some("owner-canonical");
    assert!(
        !grant_is_untrusted(&other, o, &acct, false),
        "not from the ACL: left alone"
    );
    assert!(grant_is_untrusted(&other, o, &acct, true));
    assert!(
        !grant_is_untrusted(&owner, o, &acct, true),
        "the owner's grant stays"
    );
    assert!(grant_is_untrusted(&auth, o, &star, false));
    assert!(
        !grant_is_untrusted(&auth, o, &acct, true),
        "a group is not another account"
    );
    assert!(grant_is_untrusted(
        &other,
        o,
        &["other-canonical".to_string()],
        false
    ));
}

#[tokio::test]
async fn trusted_access_is_archived_where_the_analyzer_lives_in_enforce_only() {
    let tags = no_tags();
    let untouched =
        mock!(Client::put_bucket_policy).then_output(|| PutBucketPolicyOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &untouched]);
    let archive = mock!(aws_sdk_accessanalyzer::Client::update_findings)
        .match_requests(|r| {
            r.ids() == ["f-1"]
                && r.status() == Some(&aws_sdk_accessanalyzer::types::FindingStatusUpdate::Archived)
                && r.analyzer_arn()
                    == Some("arn:aws:access-analyzer:us-east-1:123456789012:analyzer/org")
        })
        .then_output(|| UpdateFindingsOutput::builder().build());
    let central = mock_client!(aws_sdk_accessanalyzer, [&archive]);
    let mut c = with(s3);
    c.analyzer.central = central;
    let mut target = t();
    target.analyzer = Some(AnalyzerFinding {
        analyzer: "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/org".into(),
        id: "f-1".into(),
    });
    let trusting = S3RestrictBucketPolicy {
        trusted_accounts: vec!["999988887777".into()],
    };
    let dry = execute(&trusting, &c, &target, Mode::DryRun, "quell:exempt").await;
    assert_eq!(dry.name(), "EXEMPT");
    assert_eq!(archive.num_calls(), 0, "a dry run archives nothing");
    let out = execute(&trusting, &c, &target, Mode::Enforce, "quell:exempt").await;
    assert!(
        matches!(&out, Outcome::Exempt { reason } if reason.contains("QUELL_TRUSTED_ACCOUNTS") && reason.contains("archived")),
        "{out:?}"
    );
    assert_eq!(archive.num_calls(), 1);
    assert_eq!(untouched.num_calls(), 0);
    // An analyzer in the member account is archived by the member session (here: the mock that
    // refuses), and the failure is the outcome, not lost.
    target.analyzer = Some(AnalyzerFinding {
        analyzer: "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/acct".into(),
        id: "f-1".into(),
    });
    let out = execute(&trusting, &c, &target, Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[test]
fn error_and_archived_findings_are_recorded_not_acted_on() {
    let ev = |detail: serde_json::Value| {
        serde_json::json!({
            "version": "0", "id": "e", "detail-type": "Access Analyzer Finding",
            "source": "aws.access-analyzer", "account": "111111111111", "time": "2026-11-28T09:25:00Z",
            "region": "us-east-1", "resources": ["arn:aws:access-analyzer:us-east-1:111111111111:analyzer/a"],
            "detail": detail
        })
    };
    let base = serde_json::json!({"accountId": "111111111111", "region": "us-east-1", "id": "f",
        "resourceType": "AWS::S3::Bucket", "resource": "arn:aws:s3:::quell-b", "status": "ACTIVE",
        "principal": {"AWS": "999988887777"}, "isPublic": false, "sources": [{"type": "BUCKET_ACL"}]});
    let parse = |d: serde_json::Value| {
        quell::event::Envelope::parse(ev(d))
            .unwrap()
            .findings
            .remove(0)
            .unwrap()
    };
    let r = S3RestrictBucketPolicy::default();
    let ok = r.target(&parse(base.clone())).unwrap();
    assert!(ok.from_acl);
    assert_eq!(ok.analyzer.unwrap().account(), "111111111111");
    let mut err = base.clone();
    err["error"] = "ACCESS_DENIED".into();
    err.as_object_mut().unwrap().remove("principal");
    assert!(r
        .target(&parse(err))
        .unwrap_err()
        .0
        .contains("ACCESS_DENIED"));
    let mut archived = base;
    archived["status"] = "ARCHIVED".into();
    assert!(r
        .target(&parse(archived))
        .unwrap_err()
        .0
        .contains("ARCHIVED"));
}

const ORG_READS: &str = r#"{"Sid": "OrgReads", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#;
const WORLD: &str = r#"{"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#;
const VPCE: &str = r#"{"Sid": "Vpce", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#;
const ALL_BUT: &str = r#"{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#;

fn doc(statements: &[&str]) -> String {
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(", ")
    )
}

/// The owner's grant only: nothing public in the ACL.
fn private_acl() -> Rule {
    mock!(Client::get_bucket_acl).then_output(|| {
        acl_with(vec![grant(
            Type::CanonicalUser,
            Some("owner-canonical"),
            None,
            Permission::FullControl,
        )])
    })
}

const NO_ACCOUNTS: &[String] = &[];

fn trust() -> Trust<'static> {
    Trust {
        owner: "111111111111",
        accounts: NO_ACCOUNTS,
    }
}

#[tokio::test]
async fn an_org_scoped_grant_to_everyone_stays_and_the_world_one_goes() {
    let before = doc(&[ORG_READS, WORLD]);
    let cut = statements::cut(&before, &["*".into()], &trust()).unwrap();
    let after = cut.policy.unwrap().unwrap();
    assert_eq!(after, doc(&[ORG_READS]), "the org statement, byte-for-byte");
    let g = mock!(Client::get_bucket_policy)
        .sequence()
        .output(move || {
            GetBucketPolicyOutput::builder()
                .policy(before.clone())
                .build()
        })
        .times(2)
        .output(move || {
            GetBucketPolicyOutput::builder()
                .policy(after.clone())
                .build()
        })
        .build();
    let p = mock!(Client::put_bucket_policy)
        .match_requests(|r| r.policy() == Some(doc(&[ORG_READS]).as_str()))
        .then_output(|| PutBucketPolicyOutput::builder().build());
    let (tags, acl) = (no_tags(), private_acl());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &acl, &p]);
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3),
        &Target::new("b", &["*"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    // The world statement is gone, the org one kept: the finding may be about it, so UNCONFIRMED.
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert_eq!(p.num_calls(), 1);
    let note = out.note("s3-restrict-bucket-policy", "bucket b");
    assert!(note.contains(r#"statement "World" removed"#), "{note}");
}

#[tokio::test]
async fn a_grant_kept_for_its_conditions_is_never_called_resolved() {
    let policy = doc(&[VPCE]);
    let g = mock!(Client::get_bucket_policy).then_output(move || {
        GetBucketPolicyOutput::builder()
            .policy(policy.clone())
            .build()
    });
    let p =
        mock!(Client::put_bucket_policy).then_output(|| PutBucketPolicyOutput::builder().build());
    let (tags, acl) = (no_tags(), private_acl());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &acl, &p]);
    let target = Target::new("b", &["*"]);
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3),
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert_eq!(p.num_calls(), 0, "nothing to change");
    let note = out.note("s3-restrict-bucket-policy", "bucket b");
    assert!(note.contains("vpce-1a2b3c4d"), "{note}");
    assert!(note.contains(r#"statement "Vpce""#), "{note}");
    assert_eq!(target.kept().len(), 1);
}

#[tokio::test]
async fn an_allow_with_not_principal_is_public_and_goes() {
    let policy = doc(&[ALL_BUT]);
    let g = mock!(Client::get_bucket_policy)
        .sequence()
        .output(move || {
            GetBucketPolicyOutput::builder()
                .policy(policy.clone())
                .build()
        })
        .times(2)
        .error(|| {
            GetBucketPolicyError::generic(
                ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
            )
        })
        .build();
    let d = mock!(Client::delete_bucket_policy)
        .match_requests(|r| r.expected_bucket_owner() == Some("111111111111"))
        .then_output(|| DeleteBucketPolicyOutput::builder().build());
    let (tags, acl) = (no_tags(), private_acl());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &g, &acl, &d]);
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3),
        &Target::new("b", &["*"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(d.num_calls(), 1);
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps[0].action, "s3:DeleteBucketPolicy");
    assert!(steps[0].detail.contains("NotPrincipal"), "{steps:?}");
    assert!(
        steps[0].detail.contains(r#"statement "AllBut" removed"#),
        "{steps:?}"
    );
}

#[test]
fn aws_log_delivery_grants_stay_and_public_groups_go() {
    let cloudfront = grant(
        Type::CanonicalUser,
        Some(CLOUDFRONT_LOG_DELIVERY),
        None,
        Permission::FullControl,
    );
    let logs = grant(Type::Group, None, Some(LOG_DELIVERY), Permission::Write);
    let public = grant(Type::Group, None, Some(ALL_USERS), Permission::Read);
    let auth = grant(
        Type::Group,
        None,
        Some(AUTHENTICATED_USERS),
        Permission::Read,
    );
    let other = grant(
        Type::CanonicalUser,
        Some("other-canonical"),
        None,
        Permission::Read,
    );
    let o = Some("owner-canonical");
    let acct = vec!["999988887777".to_string()];
    let star = vec!["*".to_string()];
    let named = vec![CLOUDFRONT_LOG_DELIVERY.to_string()];
    // (grant, the finding's principals, from the ACL, removed, kept as log delivery)
    let table = [
        (&cloudfront, &acct, true, false, true),
        (&cloudfront, &named, false, false, true),
        (&cloudfront, &star, false, false, false),
        (&logs, &star, true, false, false),
        (&logs, &acct, true, false, false),
        (&public, &star, false, true, false),
        (&auth, &star, true, true, false),
        (&other, &acct, true, true, false),
    ];
    for (i, (g, untrusted, from_acl, removed, kept)) in table.into_iter().enumerate() {
        assert_eq!(
            grant_is_untrusted(g, o, untrusted, from_acl),
            removed,
            "row {i}: {}",
            grantee_label(g)
        );
        assert_eq!(
            log_delivery_kept(g, o, untrusted, from_acl),
            kept,
            "row {i}: {}",
            grantee_label(g)
        );
    }
    assert_eq!(
        grantee_label(&cloudfront),
        "CloudFront log delivery (awslogsdelivery) FULL_CONTROL"
    );
}

#[tokio::test]
async fn a_kept_log_delivery_grant_the_finding_may_be_about_is_not_resolved() {
    let cloudfront = grant(
        Type::CanonicalUser,
        Some(CLOUDFRONT_LOG_DELIVERY),
        None,
        Permission::FullControl,
    );
    let owner = grant(
        Type::CanonicalUser,
        Some("owner-canonical"),
        None,
        Permission::FullControl,
    );
    let get_acl = mock!(Client::get_bucket_acl)
        .then_output(move || acl_with(vec![owner.clone(), cloudfront.clone()]));
    let put_acl = mock!(Client::put_bucket_acl).then_output(|| {
        aws_sdk_s3::operation::put_bucket_acl::PutBucketAclOutput::builder().build()
    });
    let no_policy = mock!(Client::get_bucket_policy).then_error(|| {
        GetBucketPolicyError::generic(ErrorMetadata::builder().code("NoSuchBucketPolicy").build())
    });
    let tags = no_tags();
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&tags, &no_policy, &get_acl, &put_acl]
    );
    let mut target = t();
    target.from_acl = true;
    let out = execute(
        &S3RestrictBucketPolicy::default(),
        &with(s3),
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert_eq!(put_acl.num_calls(), 0, "CloudFront's log delivery stays");
    let note = out.note("s3-restrict-bucket-policy", "bucket b");
    assert!(note.contains("awslogsdelivery"), "{note}");
}
