use super::*;
use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
use aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput;
use aws_sdk_iam::operation::put_role_policy::{PutRolePolicyError, PutRolePolicyOutput};
use aws_sdk_iam::Client;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

fn at(s: &str) -> DateTime {
    DateTime::from_str(s, Format::DateTime).unwrap()
}

fn target() -> Target {
    Target {
        role: "app-server-role".into(),
        compromised_at: at("2026-11-28T10:05:00Z"),
        severity: Severity::High,
        caller: None,
    }
}

fn no_tags() -> MockRule {
    mock!(Client::list_role_tags).then_output(|| {
        ListRoleTagsOutput::builder()
            .set_tags(Some(vec![]))
            .build()
            .unwrap()
    })
}

fn policy_with(cut: &'static str) -> GetRolePolicyOutput {
    // As IAM returns it: URL-encoded.
    let doc = policy(&at(cut))
        .to_string()
        .replace(':', "%3A")
        .replace('"', "%22")
        .replace('{', "%7B")
        .replace('}', "%7D");
    GetRolePolicyOutput::builder()
        .role_name("app-server-role")
        .policy_name(POLICY_NAME)
        .policy_document(doc)
        .build()
        .unwrap()
}

fn none_then(cut: &'static str) -> MockRule {
    mock!(Client::get_role_policy)
        .sequence()
        .error(|| {
            GetRolePolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .output(move || policy_with(cut))
        .build()
}

fn put_ok() -> MockRule {
    mock!(Client::put_role_policy)
        .match_requests(|r| {
            r.role_name() == Some("app-server-role")
                && r.policy_name() == Some(POLICY_NAME)
                && r.policy_document()
                    .is_some_and(|d| d.contains("aws:TokenIssueTime") && d.contains("\"Deny\""))
        })
        .then_output(|| PutRolePolicyOutput::builder().build())
}

#[tokio::test]
async fn puts_the_revocation_policy_and_verifies_it() {
    let (t, g, p) = (no_tags(), none_then("2099-01-01T00:00:00Z"), put_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Remediated { steps } if steps[0].action == PUT),
        "{out:?}"
    );
    assert_eq!(p.num_calls(), 1);
}

#[tokio::test]
async fn a_cutoff_after_the_compromise_is_already_compliant() {
    let t = no_tags();
    let g = mock!(Client::get_role_policy).then_output(|| policy_with("2026-11-28T11:00:00Z"));
    let p = put_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
    assert_eq!(p.num_calls(), 0);
}

#[tokio::test]
async fn an_older_cutoff_is_moved_forward_not_stacked() {
    let t = no_tags();
    let g = mock!(Client::get_role_policy)
        .sequence()
        .output(|| policy_with("2026-01-01T00:00:00Z"))
        .output(|| policy_with("2099-01-01T00:00:00Z"))
        .build();
    let p = put_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert!(
        steps[0]
            .detail
            .contains("the cut-off moves from 2026-01-01T00:00:00Z"),
        "{}",
        steps[0].detail
    );
    assert_eq!(p.num_calls(), 1, "one policy, replaced");
}

#[tokio::test]
async fn failures_dry_run_and_exemption() {
    let (t, g) = (no_tags(), none_then("2099-01-01T00:00:00Z"));
    let p = mock!(Client::put_role_policy).then_error(|| {
        PutRolePolicyError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(
            &out,
            Outcome::Failed {
                retryable: false,
                ..
            }
        ),
        "{out:?}"
    );

    let t = no_tags();
    let g = mock!(Client::get_role_policy).then_error(|| {
        GetRolePolicyError::generic(ErrorMetadata::builder().code("Throttling").build())
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g]);
    assert!(execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt"
    )
    .await
    .is_retryable());

    let (t, g, p) = (no_tags(), none_then("2099-01-01T00:00:00Z"), put_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Planned { .. }), "{out:?}");
    assert_eq!(p.num_calls(), 0);

    let t = mock!(Client::list_role_tags).then_output(|| {
        ListRoleTagsOutput::builder()
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("quell:exempt")
                    .value("true")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let (g, p) = (none_then("2099-01-01T00:00:00Z"), put_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Exempt { .. }), "{out:?}");
    assert_eq!((g.num_calls(), p.num_calls()), (0, 0));
}

#[test]
fn targets_the_role_of_stolen_session_credentials_only() {
    let parse = |name: &str| {
        let text = std::fs::read_to_string(format!(
            "{}/../../events/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        quell::event::Envelope::parse_slice(text.as_bytes())
            .unwrap()
            .findings
            .remove(0)
            .unwrap()
    };
    let r = IamRevokeRoleSessions::default();
    let f = parse("guardduty-iam-instancecredentialexfiltration-outsideaws.json");
    assert!(IamRevokeRoleSessions::SPEC.matches(&f));
    assert_eq!(
        r.target(&f).unwrap(),
        Target {
            role: "app-server-role".into(),
            compromised_at: at("2026-11-28T10:05:00Z"),
            severity: Severity::High,
            caller: None,
        }
    );
    let user = parse("guardduty-iam-unauthorizedaccess-maliciousipcaller.json");
    assert!(
        !IamRevokeRoleSessions::SPEC.matches(&user),
        "a user's key is iam-disable-access-key's"
    );
    let mut own = f.clone();
    own.principal.as_mut().unwrap().user_name = Some("quell-remediation".into());
    assert!(r.target(&own).unwrap_err().0.contains("quell's own"));
    // Every function's member role and the undo role, whatever QUELL_MEMBER_ROLE says.
    for role in [
        "quell-iam-revoke-role-sessions",
        "quell-ec2-isolate-instance",
        "quell-undo",
    ] {
        let mut own = f.clone();
        own.principal.as_mut().unwrap().user_name = Some(role.into());
        assert!(
            r.target(&own).unwrap_err().0.contains("quell's own"),
            "{role}"
        );
    }

    // An IAM Identity Center role: escalated with what a person must do in Identity Center.
    let mut sso = f.clone();
    let p = sso.principal.as_mut().unwrap();
    p.user_name = Some("AWSReservedSSO_AdministratorAccess_0123456789abcdef".into());
    p.principal_id = Some("AROAQUELLDEMOSSOROLE1:alice@example.com".into());
    let why = r.target(&sso).unwrap_err().0;
    assert!(
        why.starts_with("escalated")
            && why.contains("IAM Identity Center")
            && why.contains("delete their active sessions")
            && why.contains("user alice@example.com"),
        "{why}"
    );
}

#[tokio::test]
async fn a_finding_below_the_minimum_severity_is_planned() {
    let (t, g, p) = (no_tags(), none_then("2099-01-01T00:00:00Z"), put_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let low = Target {
        severity: Severity::Low,
        ..target()
    };
    let out = execute(
        &IamRevokeRoleSessions::default(),
        &iam,
        &low,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, reason } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps[0].action, PUT);
    assert!(
        reason.contains("LOW is below QUELL_SESSION_MIN_SEVERITY MEDIUM"),
        "{reason}"
    );
    assert_eq!(p.num_calls(), 0);
}

#[test]
fn minimum_severity_is_configurable() {
    let mut r = IamRevokeRoleSessions::default();
    assert_eq!(r.min_severity, Severity::Medium);
    r.configure(&|k| (k == "QUELL_SESSION_MIN_SEVERITY").then(|| "CRITICAL".to_string()))
        .unwrap();
    assert_eq!(r.min_severity, Severity::Critical);
    let err = r
        .configure(&|k| (k == "QUELL_SESSION_MIN_SEVERITY").then(|| "loud".to_string()))
        .unwrap_err();
    assert_eq!(err.var, "QUELL_SESSION_MIN_SEVERITY");
}

#[test]
fn policies_decode_and_cutoffs_read_back() {
    let doc = percent_decode("%7B%22a%22%3A1%7D");
    assert_eq!(doc, "{\"a\":1}");
    let p = policy(&at("2026-11-28T10:05:00Z")).to_string();
    assert_eq!(
        cutoff(&p).unwrap().secs(),
        at("2026-11-28T10:05:00Z").secs()
    );
    assert!(cutoff("{\"Statement\":[]}").is_none());
}

#[tokio::test]
async fn undo_leaves_a_later_revocation_standing() {
    use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
    let del =
        mock!(Client::delete_role_policy).then_output(|| DeleteRolePolicyOutput::builder().build());
    let put = put_ok();
    // Recorded at 10:00 (the role had no policy); since then another finding moved the cut-off
    // to 11:00: its sessions may be stolen too, so undoing the 10:00 change leaves it.
    let recorded = at("2026-11-28T10:00:00Z").secs();
    let prior =
        serde_json::json!({"role": "app-server-role", "policy": null, "recorded_at": recorded});
    let later = mock!(Client::get_role_policy).then_output(|| policy_with("2026-11-28T11:00:00Z"));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&later, &del, &put]);
    let steps = IamRevokeRoleSessions::default()
        .restore(&iam, &prior)
        .await
        .unwrap();
    assert!(
        steps[0]
            .detail
            .contains("a later revocation (sessions before 2026-11-28T11:00:00Z) stands"),
        "{steps:?}"
    );
    assert_eq!((del.num_calls(), put.num_calls()), (0, 0));

    // The cut-off this change wrote (a minute after recording): undone, the policy removed.
    let own = mock!(Client::get_role_policy).then_output(|| policy_with("2026-11-28T10:01:00Z"));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&own, &del, &put]);
    let steps = IamRevokeRoleSessions::default()
        .restore(&iam, &prior)
        .await
        .unwrap();
    assert_eq!(steps[0].action, "iam:DeleteRolePolicy", "{steps:?}");
    assert_eq!(del.num_calls(), 1);
}

/// GuardDuty says the calls came from another account: only the role whose id the session names
/// (this account's credentials used elsewhere) is revoked; a role that merely shares its name is
/// left, the finding failed with why (NOTIFIED).
#[tokio::test]
async fn a_session_from_another_account_touches_only_the_role_it_names() {
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::types::Role;
    for (id, want, puts) in [("AROAOTHER", "FAILED", 0), ("AROAHERE", "REMEDIATED", 1)] {
        let (t, g, p) = (no_tags(), none_then("2099-01-01T00:00:00Z"), put_ok());
        let r = mock!(Client::get_role)
            .match_requests(|r| r.role_name() == Some("app-server-role"))
            .then_output(|| {
                GetRoleOutput::builder()
                    .role(
                        Role::builder()
                            .role_name("app-server-role")
                            .role_id("AROAHERE")
                            .path("/")
                            .arn("arn:aws:iam::111111111111:role/app-server-role")
                            .create_date(DateTime::from_secs(0))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p, &r]);
        let from_elsewhere = Target {
            caller: Some(("222222222222".into(), id.into())),
            ..target()
        };
        let out = execute(
            &IamRevokeRoleSessions::default(),
            &iam,
            &from_elsewhere,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), want, "{id}: {out:?}");
        assert_eq!(p.num_calls(), puts, "{id}");
        if want == "FAILED" {
            assert!(format!("{out:?}").contains("222222222222"), "{out:?}");
        }
    }
}
