use super::*;
use aws_sdk_accessanalyzer::operation::update_findings::{
    UpdateFindingsError, UpdateFindingsOutput,
};
use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::update_assume_role_policy::UpdateAssumeRolePolicyOutput;
use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

const TRUST: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Ci",      "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"},
    {"Sid": "Vendor",  "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "arn:aws:iam::333333333333:root"]}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x"}}},
    {"Sid": "Lambda",  "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
  ]
}"#;

/// As IAM returns it: URL-encoded.
fn encoded(doc: &str) -> String {
    doc.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn role(doc: &str, tags: &[(&str, &str)]) -> GetRoleOutput {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    GetRoleOutput::builder()
        .role(
            Role::builder()
                .role_name("vendor-access")
                .path("/")
                .role_id("AROAEXAMPLE")
                .arn("arn:aws:iam::111111111111:role/vendor-access")
                .create_date(aws_smithy_types::DateTime::from_secs(0))
                .assume_role_policy_document(encoded(doc))
                .set_tags(Some(tags))
                .build()
                .unwrap(),
        )
        .build()
}

fn with(iam: Client) -> Clients {
    let refuse = mock!(aws_sdk_accessanalyzer::Client::update_findings).then_error(|| {
        UpdateFindingsError::generic(ErrorMetadata::builder().code("NotExpected").build())
    });
    let aa = mock_client!(aws_sdk_accessanalyzer, [&refuse]);
    Clients {
        iam,
        analyzer: Analyzers {
            member_account: "111111111111".into(),
            member: aa.clone(),
            central: aa,
        },
    }
}

#[test]
fn role_names_are_checked() {
    assert!(valid_role_name("vendor-access"));
    assert!(valid_role_name("a+b=c,d.e@f_g"));
    assert!(!valid_role_name(""));
    assert!(!valid_role_name("a/b"));
    assert!(!valid_role_name(&"x".repeat(65)));
}

#[tokio::test]
async fn dry_run_is_the_default_and_its_note_says_why() {
    assert_eq!(IamRestrictRoleTrust::SPEC.default_mode, Mode::DryRun);
    let get = mock!(Client::get_role).then_output(|| role(TRUST, &[]));
    let update = mock!(Client::update_assume_role_policy)
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &update]);
    let out = execute(
        &IamRestrictRoleTrust::default(),
        &with(iam),
        &Target::new("vendor-access", &["999988887777"]),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    let note = out.note("iam-restrict-role-trust", "role vendor-access");
    assert_eq!(out.name(), "PLANNED", "{note}");
    assert!(
        note.contains("enforce") && note.contains("breaks"),
        "{note}"
    );
    assert!(note.contains("999988887777"), "{note}");
    assert_eq!(update.num_calls(), 0);
    assert_eq!(get.num_calls(), 1, "one GetRole gives tags and policy");
}

#[tokio::test]
async fn enforced_it_removes_exactly_the_principal_and_verifies() {
    let (new, _) = restricted(TRUST, &["999988887777".into()]).unwrap();
    let after = new.unwrap().unwrap();
    let written = after.clone();
    let get = mock!(Client::get_role)
        .sequence()
        .output(|| role(TRUST, &[("team", "platform")]))
        .output(move || role(&after, &[]))
        .build();
    let update = mock!(Client::update_assume_role_policy)
        .match_requests(move |r| {
            r.role_name() == Some("vendor-access") && r.policy_document() == Some(written.as_str())
        })
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &update]);
    let out = execute(
        &IamRestrictRoleTrust::default(),
        &with(iam),
        &Target::new("vendor-access", &["999988887777"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(get.num_calls(), 2, "read once, verify once");
    let doc: Value = serde_json::from_str(
        &restricted(TRUST, &["999988887777".into()])
            .unwrap()
            .0
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc["Statement"][1]["Principal"]["AWS"],
        "arn:aws:iam::333333333333:root"
    );
    assert_eq!(
        doc["Statement"][1]["Condition"]["StringEquals"]["sts:ExternalId"],
        "x"
    );
}

#[tokio::test]
async fn a_role_trusting_only_the_outsider_is_left_denying_everyone() {
    let only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    let get = mock!(Client::get_role)
        .sequence()
        .output(move || role(only, &[]))
        .output(|| role(DENY_ALL, &[]))
        .build();
    let update = mock!(Client::update_assume_role_policy)
        .match_requests(|r| r.policy_document() == Some(DENY_ALL))
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &update]);
    let out = execute(
        &IamRestrictRoleTrust::default(),
        &with(iam),
        &Target::new("vendor-access", &["*"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert!(out.note("x", "y").contains("denies assuming the role"));
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn exempt_tags_and_trusted_accounts_leave_the_role_alone() {
    let get = mock!(Client::get_role).then_output(|| role(TRUST, &[("quell:exempt", "true")]));
    let update = mock!(Client::update_assume_role_policy)
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &update]);
    let out = execute(
        &IamRestrictRoleTrust::default(),
        &with(iam.clone()),
        &Target::new("vendor-access", &["999988887777"]),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "EXEMPT");
    let archive = mock!(aws_sdk_accessanalyzer::Client::update_findings)
        .then_output(|| UpdateFindingsOutput::builder().build());
    let mut c = with(iam);
    c.analyzer.member = mock_client!(aws_sdk_accessanalyzer, [&archive]);
    let mut t = Target::new("vendor-access", &["arn:aws:iam::999988887777:role/ci"]);
    t.analyzer = Some(AnalyzerFinding {
        analyzer: "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/acct".into(),
        id: "f-2".into(),
    });
    let trusting = IamRestrictRoleTrust {
        trusted_accounts: vec!["999988887777".into()],
    };
    let out = execute(&trusting, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(
        matches!(&out, Outcome::Exempt { reason } if reason.contains("archived")),
        "{out:?}"
    );
    assert_eq!(archive.num_calls(), 1);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn undo_puts_the_recorded_trust_policy_back() {
    let update = mock!(Client::update_assume_role_policy)
        .match_requests(|r| r.policy_document() == Some(TRUST))
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, [&update]);
    let r = IamRestrictRoleTrust::default();
    let steps = r
        .restore(
            &with(iam.clone()),
            &json!({"role": "vendor-access", "trust_policy": TRUST}),
        )
        .await
        .unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(update.num_calls(), 1);
    let bad = r
        .restore(&with(iam), &json!({"role": "a/b", "trust_policy": TRUST}))
        .await
        .unwrap_err();
    assert_eq!(bad.code.as_deref(), Some("InvalidPriorState"));
}
