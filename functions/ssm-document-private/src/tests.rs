use super::*;
use aws_sdk_ssm::operation::describe_document::{DescribeDocumentError, DescribeDocumentOutput};
use aws_sdk_ssm::operation::describe_document_permission::DescribeDocumentPermissionOutput;
use aws_sdk_ssm::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_ssm::operation::modify_document_permission::{
    ModifyDocumentPermissionError, ModifyDocumentPermissionOutput,
};
use aws_sdk_ssm::types::Tag;
use aws_sdk_ssm::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

fn permission(ids: &'static [&'static str]) -> DescribeDocumentPermissionOutput {
    DescribeDocumentPermissionOutput::builder()
        .set_account_ids(Some(ids.iter().map(|a| a.to_string()).collect()))
        .set_account_sharing_info_list(Some(
            ids.iter()
                .map(|a| {
                    aws_sdk_ssm::types::AccountSharingInfo::builder()
                        .account_id(*a)
                        .shared_document_version("$LATEST")
                        .build()
                })
                .collect(),
        ))
        .build()
}

/// DescribeDocument: the document made at `secs`.
fn described(secs: i64) -> Rule {
    mock!(Client::describe_document)
        .match_requests(|r| r.name() == Some("quell-demo-runbook"))
        .then_output(move || {
            DescribeDocumentOutput::builder()
                .document(
                    aws_sdk_ssm::types::DocumentDescription::builder()
                        .name("quell-demo-runbook")
                        .created_date(aws_sdk_ssm::primitives::DateTime::from_secs(secs))
                        .build(),
                )
                .build()
        })
}

/// DescribeDocumentPermission (Share) of the document: `first`, then `then`.
fn shares(first: &'static [&'static str], then: &'static [&'static str]) -> Rule {
    mock!(Client::describe_document_permission)
        .match_requests(|r| {
            r.name() == Some("quell-demo-runbook")
                && r.permission_type() == Some(&aws_sdk_ssm::types::DocumentPermissionType::Share)
        })
        .sequence()
        .output(move || permission(first))
        .output(move || permission(then))
        .build()
}

fn tags(exempt: bool) -> Rule {
    mock!(Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_id() == Some("quell-demo-runbook")
                && r.resource_type() == Some(&aws_sdk_ssm::types::ResourceTypeForTagging::Document)
        })
        .then_output(move || {
            let mut b = ListTagsForResourceOutput::builder();
            if exempt {
                b = b.tag_list(
                    Tag::builder()
                        .key("quell:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                );
            }
            b.build()
        })
}

/// ModifyDocumentPermission (Share) adding (`public`) or removing `all`, nothing else.
fn modify(public: bool) -> Rule {
    mock!(Client::modify_document_permission)
        .match_requests(move |r| {
            let all = ["all".to_string()];
            let (add, remove) = if public {
                (&all[..], &[][..])
            } else {
                (&[][..], &all[..])
            };
            r.name() == Some("quell-demo-runbook")
                && r.permission_type() == Some(&aws_sdk_ssm::types::DocumentPermissionType::Share)
                && r.account_ids_to_add() == add
                && r.account_ids_to_remove() == remove
        })
        .then_output(|| ModifyDocumentPermissionOutput::builder().build())
}

async fn run(rules: &[&Rule], mode: Mode) -> Outcome {
    let d = described(100);
    let mut rules = rules.to_vec();
    rules.push(&d);
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules);
    let t = Document::new("quell-demo-runbook", "111111111111", "us-east-1");
    execute(&SsmDocumentPrivate, &ssm, &t, mode, "quell:exempt").await
}

#[tokio::test]
async fn a_public_document_stops_being_shared_and_is_read_back() {
    // SSM answers `All` as the caller wrote it: matched whatever its case.
    let (s, t, m) = (shares(&["All"], &[]), tags(false), modify(false));
    let out = run(&[&s, &t, &m], Mode::Enforce).await;
    match &out {
        Outcome::Remediated { steps } => {
            assert!(steps[0].to_string().contains("Share -All"), "{steps:?}")
        }
        other => panic!("expected REMEDIATED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 1);
    assert_eq!(s.num_calls(), 2, "read, then read back");

    let (s, t, m) = (shares(&["all"], &["all"]), tags(false), modify(false));
    assert_eq!(
        run(&[&s, &t, &m], Mode::Enforce).await.name(),
        "FAILED",
        "still public when read back"
    );
}

#[tokio::test]
async fn shared_with_accounts_exempt_dry_run_and_denied() {
    let m = modify(false);
    let (s, t) = (shares(&["222222222222"], &["222222222222"]), tags(false));
    assert_eq!(
        run(&[&s, &t, &m], Mode::Enforce).await.name(),
        "ALREADY_COMPLIANT"
    );
    let (s, t) = (shares(&["all"], &["all"]), tags(true));
    assert_eq!(run(&[&s, &t, &m], Mode::Enforce).await.name(), "EXEMPT");
    let (s, t) = (shares(&["all"], &["all"]), tags(false));
    assert_eq!(run(&[&s, &t, &m], Mode::DryRun).await.name(), "PLANNED");
    assert_eq!(m.num_calls(), 0);

    let denied = mock!(Client::modify_document_permission).then_error(|| {
        ModifyDocumentPermissionError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        )
    });
    let (s, t) = (shares(&["all"], &["all"]), tags(false));
    let out = run(&[&s, &t, &denied], Mode::Enforce).await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn a_public_document_keeps_its_named_accounts_and_undo_puts_back_exactly_that() {
    // Public and shared with a partner: only `all` goes; the prior records the partner, the
    // version shared and the document's creation.
    let (s, t, m) = (
        shares(&["all", "222222222222"], &["222222222222"]),
        tags(false),
        modify(false),
    );
    let d = described(100);
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&s, &t, &m, &d]);
    let doc = Document::new("quell-demo-runbook", "111111111111", "us-east-1");
    let out = execute(
        &SsmDocumentPrivate,
        &ssm,
        &doc,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    match &out {
        Outcome::Remediated { steps } => assert!(
            steps[0]
                .to_string()
                .contains("shared with 222222222222 kept"),
            "{steps:?}"
        ),
        other => panic!("expected REMEDIATED: {other:?}"),
    }
    // What the runtime records before it applies: `plan`'s read, then `prior`.
    let (s, t, d) = (
        shares(&["all", "222222222222"], &["222222222222"]),
        tags(false),
        described(100),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&s, &t, &d]);
    let doc = Document::new("quell-demo-runbook", "111111111111", "us-east-1");
    SsmDocumentPrivate.plan(&ssm, &doc).await.unwrap();
    let prior = SsmDocumentPrivate.prior(&ssm, &doc).await.unwrap().unwrap();
    assert_eq!(prior["version"], "$LATEST");
    assert_eq!(prior["accounts"], serde_json::json!(["222222222222"]));
    assert_eq!(prior["created"], "100");

    // Undo: the same document, its partner as recorded → public again at the recorded version.
    // Public already, shared otherwise since, or another document of the same name → left.
    for (now, made, calls, says) in [
        (&["222222222222"][..], 100, 1, "public again"),
        (&["all", "222222222222"][..], 100, 0, "public already"),
        (
            &["333333333333"][..],
            100,
            0,
            "shared with [333333333333] since",
        ),
        (&["222222222222"][..], 200, 0, "made since"),
    ] {
        let s = mock!(Client::describe_document_permission).then_output(move || permission(now));
        let d = described(made);
        let m = mock!(Client::modify_document_permission)
            .match_requests(|r| {
                r.account_ids_to_add() == ["all".to_string()]
                    && r.shared_document_version() == Some("$LATEST")
            })
            .then_output(|| ModifyDocumentPermissionOutput::builder().build());
        let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&s, &d, &m]);
        let steps = SsmDocumentPrivate.restore(&ssm, &prior).await.unwrap();
        assert!(steps[0].to_string().contains(says), "{steps:?}");
        assert_eq!(m.num_calls(), calls, "{says}");
    }
    let gone = mock!(Client::describe_document).then_error(|| {
        DescribeDocumentError::generic(ErrorMetadata::builder().code("InvalidDocument").build())
    });
    let m = modify(true);
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&gone, &m]);
    let steps = SsmDocumentPrivate.restore(&ssm, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("is gone"), "{steps:?}");

    let mut private = prior.clone();
    private["public"] = false.into();
    let mut bad = prior.clone();
    bad["document"] = "a b/c".into();
    let mut version = prior.clone();
    version["version"] = "latest; rm".into();
    for p in [private, bad, version, serde_json::json!({})] {
        assert_eq!(
            SsmDocumentPrivate
                .restore(&ssm, &p)
                .await
                .unwrap_err()
                .code
                .as_deref(),
            Some("InvalidPriorState"),
            "{p}"
        );
    }
    assert_eq!(m.num_calls(), 0);
}

#[test]
fn the_target_is_the_finding_accounts_document() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "SSM.4".into(),
        "SSM.4".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![Resource::from_arn(
        ResourceKind::SsmDocument,
        "arn:aws:ssm:us-east-1:111111111111:document/quell-demo-runbook",
    )];
    assert_eq!(
        SsmDocumentPrivate.target(&f).unwrap().name,
        "quell-demo-runbook"
    );
    f.resources = vec![Resource::from_arn(
        ResourceKind::SsmDocument,
        "arn:aws:ssm:us-east-1:222222222222:document/quell-demo-runbook",
    )];
    let NotApplicable(why) = SsmDocumentPrivate.target(&f).unwrap_err();
    assert!(why.contains("222222222222"), "{why}");
    for bad in ["ab", "a b", "x/y", "doc;rm"] {
        f.resources = vec![Resource::new(ResourceKind::SsmDocument, bad)];
        assert!(SsmDocumentPrivate.target(&f).is_err(), "{bad}");
    }
}
