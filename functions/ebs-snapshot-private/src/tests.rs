use super::*;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::operation::modify_snapshot_attribute::{
    ModifySnapshotAttributeError, ModifySnapshotAttributeOutput,
};
use aws_sdk_ec2::types::{OperationType, Snapshot, Tag};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const ACCOUNT: &str = "111111111111";

fn snap(id: &str, owner: &str, exempt: bool) -> Snapshot {
    let mut b = Snapshot::builder().snapshot_id(id).owner_id(owner);
    if exempt {
        b = b.tags(Tag::builder().key("quell:exempt").value("TRUE").build());
    }
    b.build()
}

fn page(snaps: Vec<Snapshot>, next: Option<&str>) -> DescribeSnapshotsOutput {
    DescribeSnapshotsOutput::builder()
        .set_snapshots(Some(snaps))
        .set_next_token(next.map(str::to_string))
        .build()
}

/// DescribeSnapshots asked for the account's own public snapshots: `first`, then `then`.
fn listed(first: Vec<Snapshot>, then: Vec<Snapshot>) -> Rule {
    mock!(Client::describe_snapshots)
        .match_requests(|r| {
            r.owner_ids() == ["self".to_string()]
                && r.restorable_by_user_ids() == ["all".to_string()]
        })
        .sequence()
        .output(move || page(first.clone(), None))
        .output(move || page(then.clone(), None))
        .build()
}

fn remove() -> Rule {
    mock!(Client::modify_snapshot_attribute)
        .match_requests(|r| {
            r.operation_type() == Some(&OperationType::Remove)
                && r.group_names() == ["all".to_string()]
        })
        .then_output(|| ModifySnapshotAttributeOutput::builder().build())
}

fn account() -> Account {
    Account::new(ACCOUNT, "us-east-1")
}

#[tokio::test]
async fn every_public_snapshot_is_made_private_and_the_list_read_back_empty() {
    let d = listed(
        vec![
            snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false),
            snap("snap-0b1b2c3d4e5f60718", ACCOUNT, false),
        ],
        vec![],
    );
    let m = remove();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(
        &EbsSnapshotPrivate::default(),
        &ec2,
        &account(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    match &out {
        Outcome::Remediated { steps } => assert_eq!(steps.len(), 2, "{steps:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.num_calls(), 2);

    // Still public after the call: FAILED, never RESOLVED.
    let d = listed(
        vec![snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false)],
        vec![snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false)],
    );
    let m = remove();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(
        &EbsSnapshotPrivate::default(),
        &ec2,
        &account(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[tokio::test]
async fn an_exempt_snapshot_stays_public_and_the_finding_is_not_said_to_be_gone() {
    let d = listed(
        vec![
            snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false),
            snap("snap-0e1b2c3d4e5f60718", ACCOUNT, true),
        ],
        vec![snap("snap-0e1b2c3d4e5f60718", ACCOUNT, true)],
    );
    let m = remove();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(
        &EbsSnapshotPrivate::default(),
        &ec2,
        &account(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    match &out {
        Outcome::Unconfirmed { unchecked, .. } => {
            assert!(unchecked.contains("snap-0e1b2c3d4e5f60718"), "{unchecked}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.num_calls(), 1, "only the snapshot that is not exempt");

    // Only exempt ones: nothing to change, and still not RESOLVED.
    let d = listed(vec![snap("snap-0e1b2c3d4e5f60718", ACCOUNT, true)], vec![]);
    let m = remove();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(
        &EbsSnapshotPrivate::default(),
        &ec2,
        &account(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert_eq!(m.num_calls(), 0);
}

#[tokio::test]
async fn compliant_dry_run_other_owners_pages_and_failures() {
    let m = remove();
    let d = listed(vec![], vec![]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let r = EbsSnapshotPrivate::default();
    assert_eq!(
        execute(&r, &ec2, &account(), Mode::Enforce, "quell:exempt")
            .await
            .name(),
        "ALREADY_COMPLIANT"
    );
    // Another account's public snapshot is not this account's exposure.
    let d = listed(
        vec![snap("snap-0c1b2c3d4e5f60718", "222222222222", false)],
        vec![],
    );
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    assert_eq!(
        execute(&r, &ec2, &account(), Mode::Enforce, "quell:exempt")
            .await
            .name(),
        "ALREADY_COMPLIANT"
    );
    let d = listed(vec![snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false)], vec![]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    assert_eq!(
        execute(&r, &ec2, &account(), Mode::DryRun, "quell:exempt")
            .await
            .name(),
        "PLANNED"
    );
    assert_eq!(m.num_calls(), 0);

    // Every page is read.
    let d = mock!(Client::describe_snapshots)
        .sequence()
        .output(|| {
            page(
                vec![snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false)],
                Some("p2"),
            )
        })
        .output(|| page(vec![snap("snap-0b1b2c3d4e5f60718", ACCOUNT, false)], None))
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d]);
    let t = account();
    assert_eq!(r.plan(&ec2, &t).await.unwrap().len(), 2);

    let denied = mock!(Client::modify_snapshot_attribute).then_error(|| {
        ModifySnapshotAttributeError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .build(),
        )
    });
    let d = listed(vec![snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false)], vec![]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &denied]);
    let out = execute(&r, &ec2, &account(), Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn one_snapshot_failing_or_gone_does_not_leave_the_others_public() {
    let three = || {
        vec![
            snap("snap-0a1b2c3d4e5f60718", ACCOUNT, false),
            snap("snap-0b1b2c3d4e5f60718", ACCOUNT, false),
            snap("snap-0c1b2c3d4e5f60718", ACCOUNT, false),
        ]
    };
    let modify = |middle: &'static str| {
        mock!(Client::modify_snapshot_attribute)
            .sequence()
            .output(|| ModifySnapshotAttributeOutput::builder().build())
            .error(move || {
                ModifySnapshotAttributeError::generic(ErrorMetadata::builder().code(middle).build())
            })
            .output(|| ModifySnapshotAttributeOutput::builder().build())
            .build()
    };
    // The middle one was deleted since the read: the others are made private, and the re-read
    // shows none left.
    let (d, m) = (listed(three(), vec![]), modify("InvalidSnapshot.NotFound"));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let r = EbsSnapshotPrivate::default();
    let out = execute(&r, &ec2, &account(), Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(m.num_calls(), 3);
    // The middle one is refused: the last is still made private, and the outcome is FAILED.
    let (d, m) = (listed(three(), vec![]), modify("UnauthorizedOperation"));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(&r, &ec2, &account(), Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
    assert_eq!(m.num_calls(), 3, "every snapshot was tried");
}

#[tokio::test]
async fn the_exemption_tag_is_the_configured_one() {
    let mut r = EbsSnapshotPrivate::default();
    r.configure(&|k| (k == "QUELL_EXEMPT_TAG").then(|| "team:keep-public".to_string()))
        .unwrap();
    assert_eq!(r.exempt_tag, "team:keep-public");
    // quell:exempt is then an ordinary tag: the snapshot is made private.
    let d = listed(vec![snap("snap-0e1b2c3d4e5f60718", ACCOUNT, true)], vec![]);
    let m = remove();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
    let out = execute(&r, &ec2, &account(), Mode::Enforce, "team:keep-public").await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    let long = "k".repeat(129);
    assert!(EbsSnapshotPrivate::default()
        .configure(&|k| (k == "QUELL_EXEMPT_TAG").then(|| long.clone()))
        .is_err());
}

#[tokio::test]
async fn undo_makes_public_again_exactly_what_was_made_private() {
    let add = mock!(Client::modify_snapshot_attribute)
        .match_requests(|r| {
            r.operation_type() == Some(&OperationType::Add)
                && r.group_names() == ["all".to_string()]
                && r.snapshot_id() == Some("snap-0a1b2c3d4e5f60718")
        })
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&add]);
    let r = EbsSnapshotPrivate::default();
    let t = account();
    t.public.set(vec!["snap-0a1b2c3d4e5f60718".into()]);
    let prior = r.prior(&ec2, &t).await.unwrap().unwrap();
    assert_eq!(r.restore(&ec2, &prior).await.unwrap().len(), 1);
    assert_eq!(add.num_calls(), 1);
    for bad in [
        serde_json::json!({"public_snapshots": ["vol-0a1b2c3d"]}),
        serde_json::json!({"public_snapshots": "snap-0a1b2c3d4e5f60718"}),
        serde_json::json!({}),
    ] {
        assert_eq!(
            r.restore(&ec2, &bad).await.unwrap_err().code.as_deref(),
            Some("InvalidPriorState"),
            "{bad}"
        );
    }
    assert_eq!(add.num_calls(), 1, "nothing called for a bad prior");
}

#[test]
fn the_target_is_the_findings_account() {
    let r = EbsSnapshotPrivate::default();
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "EC2.1".into(),
        "EC2.1".into(),
        ACCOUNT.to_string(),
        "eu-west-1".into(),
    );
    f.resources = vec![Resource::new(
        ResourceKind::Account,
        format!("AWS::::Account:{ACCOUNT}"),
    )];
    let t = r.target(&f).unwrap();
    assert_eq!(
        (t.account.as_str(), t.region.as_str()),
        (ACCOUNT, "eu-west-1")
    );
    f.resources = vec![Resource::new(ResourceKind::S3Bucket, "b")];
    assert!(r.target(&f).is_err());
}
