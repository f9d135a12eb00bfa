use super::*;
use aws_sdk_rds::operation::describe_db_cluster_snapshot_attributes::DescribeDbClusterSnapshotAttributesOutput;
use aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_sdk_rds::operation::describe_db_snapshot_attributes::DescribeDbSnapshotAttributesOutput;
use aws_sdk_rds::operation::describe_db_snapshots::{
    DescribeDBSnapshotsError, DescribeDbSnapshotsOutput,
};
use aws_sdk_rds::operation::modify_db_cluster_snapshot_attribute::ModifyDbClusterSnapshotAttributeOutput;
use aws_sdk_rds::operation::modify_db_snapshot_attribute::{
    ModifyDBSnapshotAttributeError, ModifyDbSnapshotAttributeOutput,
};
use aws_sdk_rds::types::{
    DbClusterSnapshot, DbClusterSnapshotAttribute, DbClusterSnapshotAttributesResult, DbSnapshot,
    DbSnapshotAttribute, DbSnapshotAttributesResult, Tag,
};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

fn snapshots(exempt: bool) -> Rule {
    let mut s = DbSnapshot::builder().db_snapshot_identifier("orders-final");
    if exempt {
        s = s.tag_list(Tag::builder().key("quell:exempt").value("true").build());
    }
    let s = s.build();
    mock!(Client::describe_db_snapshots)
        .match_requests(|r| r.db_snapshot_identifier() == Some("orders-final"))
        .then_output(move || {
            DescribeDbSnapshotsOutput::builder()
                .db_snapshots(s.clone())
                .build()
        })
}

fn attributes(values: &[&str]) -> DescribeDbSnapshotAttributesOutput {
    DescribeDbSnapshotAttributesOutput::builder()
        .db_snapshot_attributes_result(
            DbSnapshotAttributesResult::builder()
                .db_snapshot_identifier("orders-final")
                .db_snapshot_attributes(
                    DbSnapshotAttribute::builder()
                        .attribute_name("restore")
                        .set_attribute_values(Some(values.iter().map(|v| v.to_string()).collect()))
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The restore attribute's values: `first` read, then `then`.
fn restore(first: &'static [&'static str], then: &'static [&'static str]) -> Rule {
    mock!(Client::describe_db_snapshot_attributes)
        .match_requests(|r| r.db_snapshot_identifier() == Some("orders-final"))
        .sequence()
        .output(move || attributes(first))
        .output(move || attributes(then))
        .build()
}

/// ModifyDBSnapshotAttribute on `restore`, adding (`public`) or removing `all`, nothing else.
fn modify(public: bool) -> Rule {
    mock!(Client::modify_db_snapshot_attribute)
        .match_requests(move |r| {
            let all = ["all".to_string()];
            let (add, remove) = if public {
                (&all[..], &[][..])
            } else {
                (&[][..], &all[..])
            };
            r.db_snapshot_identifier() == Some("orders-final")
                && r.attribute_name() == Some("restore")
                && r.values_to_add() == add
                && r.values_to_remove() == remove
        })
        .then_output(|| ModifyDbSnapshotAttributeOutput::builder().build())
}

async fn run(rules: &[&Rule], mode: Mode) -> Outcome {
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules);
    let t = Snapshot::new(Kind::Snapshot, "orders-final", "111111111111", "us-east-1");
    execute(&RdsSnapshotPrivate, &rds, &t, mode, "quell:exempt").await
}

#[tokio::test]
async fn a_public_snapshot_loses_all_and_keeps_its_accounts() {
    let (d, m) = (snapshots(false), modify(false));
    let a = restore(&["all", "222222222222"], &["222222222222"]);
    let out = run(&[&d, &a, &m], Mode::Enforce).await;
    match &out {
        Outcome::Remediated { steps } => {
            let text = steps[0].to_string();
            assert!(
                text.contains("restore -all") && text.contains("shared with 222222222222 kept"),
                "{text}"
            );
        }
        other => panic!("expected REMEDIATED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 1);
    assert_eq!(a.num_calls(), 2, "read, then read back");

    // Still public when read back: not said to be gone.
    let (d, m) = (snapshots(false), modify(false));
    let a = restore(&["all"], &["all"]);
    assert_eq!(run(&[&d, &a, &m], Mode::Enforce).await.name(), "FAILED");
}

#[tokio::test]
async fn private_exempt_dry_run_denied_and_missing() {
    let (d, m) = (snapshots(false), modify(false));
    let a = restore(&["222222222222"], &["222222222222"]);
    assert_eq!(
        run(&[&d, &a, &m], Mode::Enforce).await.name(),
        "ALREADY_COMPLIANT"
    );
    let (d, a) = (snapshots(true), restore(&["all"], &["all"]));
    assert_eq!(run(&[&d, &a, &m], Mode::Enforce).await.name(), "EXEMPT");
    let (d, a) = (snapshots(false), restore(&["all"], &["all"]));
    assert_eq!(run(&[&d, &a, &m], Mode::DryRun).await.name(), "PLANNED");
    assert_eq!(m.num_calls(), 0);

    let denied = mock!(Client::modify_db_snapshot_attribute).then_error(|| {
        ModifyDBSnapshotAttributeError::generic(
            ErrorMetadata::builder().code("AccessDenied").build(),
        )
    });
    let (d, a) = (snapshots(false), restore(&["all"], &["all"]));
    let out = run(&[&d, &a, &denied], Mode::Enforce).await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());

    let missing = mock!(Client::describe_db_snapshots).then_error(|| {
        DescribeDBSnapshotsError::generic(
            ErrorMetadata::builder().code("DBSnapshotNotFound").build(),
        )
    });
    let out = run(&[&missing, &m], Mode::Enforce).await;
    match &out {
        Outcome::Failed { error, .. } => {
            assert!(error.to_string().contains("has no DB snapshot"), "{error}")
        }
        other => panic!("expected FAILED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 0);
}

#[tokio::test]
async fn a_public_cluster_snapshot_is_made_private() {
    let d = mock!(Client::describe_db_cluster_snapshots)
        .match_requests(|r| r.db_cluster_snapshot_identifier() == Some("orders-final"))
        .then_output(|| {
            DescribeDbClusterSnapshotsOutput::builder()
                .db_cluster_snapshots(
                    DbClusterSnapshot::builder()
                        .db_cluster_snapshot_identifier("orders-final")
                        .build(),
                )
                .build()
        });
    let out = |values: &'static [&'static str]| {
        DescribeDbClusterSnapshotAttributesOutput::builder()
            .db_cluster_snapshot_attributes_result(
                DbClusterSnapshotAttributesResult::builder()
                    .db_cluster_snapshot_attributes(
                        DbClusterSnapshotAttribute::builder()
                            .attribute_name("restore")
                            .set_attribute_values(Some(
                                values.iter().map(|v| v.to_string()).collect(),
                            ))
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let a = mock!(Client::describe_db_cluster_snapshot_attributes)
        .sequence()
        .output(move || out(&["all"]))
        .output(move || out(&[]))
        .build();
    let m = mock!(Client::modify_db_cluster_snapshot_attribute)
        .match_requests(|r| {
            r.db_cluster_snapshot_identifier() == Some("orders-final")
                && r.attribute_name() == Some("restore")
                && r.values_to_remove() == ["all".to_string()]
                && r.values_to_add().is_empty()
        })
        .then_output(|| ModifyDbClusterSnapshotAttributeOutput::builder().build());
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &a, &m]);
    let t = Snapshot::new(
        Kind::ClusterSnapshot,
        "orders-final",
        "111111111111",
        "us-east-1",
    );
    let outcome = execute(&RdsSnapshotPrivate, &rds, &t, Mode::Enforce, "quell:exempt").await;
    assert_eq!(outcome.name(), "REMEDIATED", "{outcome:?}");
    assert_eq!(m.num_calls(), 1);
}

#[tokio::test]
async fn undo_makes_it_public_again_only_if_it_is_there_and_private() {
    let t = Snapshot::new(Kind::Snapshot, "orders-final", "111111111111", "us-east-1");
    let none = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let prior = RdsSnapshotPrivate.prior(&none, &t).await.unwrap().unwrap();
    for (now, calls, says) in [
        (&["222222222222"][..], 1, "public again"),
        (&["all"][..], 0, "left as it is"),
    ] {
        let d = snapshots(false);
        let a = mock!(Client::describe_db_snapshot_attributes).then_output(move || attributes(now));
        let m = modify(true);
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &a, &m]);
        let steps = RdsSnapshotPrivate.restore(&rds, &prior).await.unwrap();
        assert!(steps[0].to_string().contains(says), "{steps:?}");
        assert_eq!(m.num_calls(), calls);
    }
    let gone = mock!(Client::describe_db_snapshots)
        .then_output(|| DescribeDbSnapshotsOutput::builder().build());
    let m = modify(true);
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&gone, &m]);
    let steps = RdsSnapshotPrivate.restore(&rds, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("is gone"), "{steps:?}");

    let mut private = prior.clone();
    private["public"] = false.into();
    let mut kind = prior.clone();
    kind["kind"] = "volume".into();
    let mut bad = prior.clone();
    bad["identifier"] = "orders; x".into();
    for p in [private, kind, bad, serde_json::json!({})] {
        assert_eq!(
            RdsSnapshotPrivate
                .restore(&rds, &p)
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
fn the_target_is_the_finding_accounts_snapshot() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "RDS.1".into(),
        "RDS.1".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbSnapshot,
        "arn:aws:rds:us-east-1:111111111111:snapshot:orders-final",
    )];
    let t = RdsSnapshotPrivate.target(&f).unwrap();
    assert_eq!((t.kind, t.id.as_str()), (Kind::Snapshot, "orders-final"));
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbClusterSnapshot,
        "arn:aws:rds:us-east-1:111111111111:cluster-snapshot:orders-final",
    )];
    let t = RdsSnapshotPrivate.target(&f).unwrap();
    assert_eq!(
        (t.kind, t.id.as_str()),
        (Kind::ClusterSnapshot, "orders-final")
    );
    for (bad, named) in [
        (
            "arn:aws:rds:us-east-1:222222222222:snapshot:orders-final",
            "222222222222",
        ),
        (
            "arn:aws:rds:eu-west-1:111111111111:snapshot:orders-final",
            "eu-west-1",
        ),
    ] {
        f.resources = vec![Resource::from_arn(ResourceKind::RdsDbSnapshot, bad)];
        let NotApplicable(why) = RdsSnapshotPrivate.target(&f).unwrap_err();
        assert!(why.contains(named), "{why}");
    }
    for bad in ["1orders", "orders--x", "a b", "orders-", "rds:"] {
        f.resources = vec![Resource::new(ResourceKind::RdsDbSnapshot, bad)];
        assert!(RdsSnapshotPrivate.target(&f).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn undo_leaves_a_later_snapshot_of_the_same_name() {
    let t = Snapshot::new(Kind::Snapshot, "orders-final", "111111111111", "us-east-1");
    t.read.set(State {
        created: Some("100".into()),
        restore: vec!["all".into()],
        ..State::default()
    });
    let none = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let prior = RdsSnapshotPrivate.prior(&none, &t).await.unwrap().unwrap();
    assert_eq!(prior["created"], "100");
    for (made, calls, says) in [(100, 1, "public again"), (200, 0, "made since")] {
        let d = mock!(Client::describe_db_snapshots).then_output(move || {
            DescribeDbSnapshotsOutput::builder()
                .db_snapshots(
                    DbSnapshot::builder()
                        .db_snapshot_identifier("orders-final")
                        .snapshot_create_time(aws_sdk_rds::primitives::DateTime::from_secs(made))
                        .build(),
                )
                .build()
        });
        let a = mock!(Client::describe_db_snapshot_attributes).then_output(|| attributes(&[]));
        let m = modify(true);
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &a, &m]);
        let steps = RdsSnapshotPrivate.restore(&rds, &prior).await.unwrap();
        assert!(steps[0].to_string().contains(says), "{steps:?}");
        assert_eq!(m.num_calls(), calls, "{says}");
    }
}
