use super::*;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::modify_db_cluster::ModifyDbClusterOutput;
use aws_sdk_rds::operation::modify_db_instance::{ModifyDBInstanceError, ModifyDbInstanceOutput};
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const RESOURCE_ID: &str = "db-ABCDEFGHIJKLMNOPQRSTUVWXY2";

fn instance(protected: bool, status: &str, cluster: Option<&str>, exempt: bool) -> DbInstance {
    let mut b = DbInstance::builder()
        .db_instance_identifier("orders")
        .dbi_resource_id(RESOURCE_ID)
        .deletion_protection(protected)
        .db_instance_status(status)
        .set_db_cluster_identifier(cluster.map(str::to_string));
    if exempt {
        b = b.tag_list(Tag::builder().key("quell:exempt").value("true").build());
    }
    b.build()
}

/// DescribeDBInstances, by identifier or by the resource id filter: `first`, then `then`.
fn instances(first: DbInstance, then: DbInstance) -> Rule {
    mock!(Client::describe_db_instances)
        .match_requests(|r| {
            r.db_instance_identifier() == Some("orders")
                || r.filters().iter().any(|f| {
                    f.name() == Some("dbi-resource-id") && f.values() == [RESOURCE_ID.to_string()]
                })
        })
        .sequence()
        .output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(first.clone())
                .build()
        })
        .output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(then.clone())
                .build()
        })
        .build()
}

/// The same instance on every read: (protected, status, Aurora cluster, exempt).
fn unchanged(protected: bool, status: &str, cluster: Option<&str>, exempt: bool) -> Rule {
    let i = instance(protected, status, cluster, exempt);
    instances(i.clone(), i)
}

fn modify(on: bool) -> Rule {
    mock!(Client::modify_db_instance)
        .match_requests(move |r| {
            r.db_instance_identifier() == Some("orders")
                && r.deletion_protection() == Some(on)
                // Never ApplyImmediately: it would apply pending modifications too.
                && r.apply_immediately().is_none()
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build())
}

async fn run(id: &str, d: Rule, m: &Rule, mode: Mode) -> Outcome {
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, m]);
    let t = Database::new(Kind::Instance, id, "111111111111", "us-east-1");
    execute(&RdsDeletionProtection, &rds, &t, mode, "quell:exempt").await
}

#[tokio::test]
async fn an_instance_by_identifier_or_resource_id_is_protected_and_read_back() {
    for id in ["orders", RESOURCE_ID] {
        let m = modify(true);
        let out = run(
            id,
            instances(
                instance(false, "available", None, false),
                instance(true, "available", None, false),
            ),
            &m,
            Mode::Enforce,
        )
        .await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{id}: {out:?}");
        assert_eq!(m.num_calls(), 1, "{id}: modified by identifier");
    }
    let m = modify(true);
    let out = run(
        "orders",
        unchanged(false, "available", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED", "not read back: {out:?}");
}

#[tokio::test]
async fn aurora_busy_protected_exempt_dry_run_and_denied() {
    let m = modify(true);
    let out = run(
        "orders",
        unchanged(false, "modifying", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(
        out.name(),
        "FAILED_RETRYABLE",
        "a database being modified is retried: {out:?}"
    );
    // Stopped (for up to 7 days): planned, naming the state, not retried into the dead letters.
    let out = run(
        "orders",
        unchanged(false, "stopped", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Planned { reason, .. } => assert!(reason.contains("stopped"), "{reason}"),
        other => panic!("expected PLANNED: {other:?}"),
    }
    let out = run(
        "orders",
        unchanged(true, "available", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "ALREADY_COMPLIANT");
    let out = run(
        "orders",
        unchanged(false, "available", None, true),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "EXEMPT");
    let out = run(
        "orders",
        unchanged(false, "available", None, false),
        &m,
        Mode::DryRun,
    )
    .await;
    assert_eq!(out.name(), "PLANNED");
    assert_eq!(m.num_calls(), 0);
    let denied = mock!(Client::modify_db_instance).then_error(|| {
        ModifyDBInstanceError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let out = run(
        "orders",
        unchanged(false, "available", None, false),
        &denied,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn a_cluster_named_by_resource_id_is_found_across_pages_and_protected() {
    const CLUSTER_ID: &str = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2";
    let cluster = |id: &str, rid: &str, on: bool| {
        DbCluster::builder()
            .db_cluster_identifier(id)
            .db_cluster_resource_id(rid)
            .deletion_protection(on)
            .status("available")
            .build()
    };
    let d = mock!(Client::describe_db_clusters)
        .sequence()
        .output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster(
                    "other",
                    "cluster-ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
                    false,
                ))
                .marker("p2")
                .build()
        })
        .output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster("orders-cluster", CLUSTER_ID, false))
                .build()
        })
        .output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster("orders-cluster", CLUSTER_ID, true))
                .build()
        })
        .build();
    let m = mock!(Client::modify_db_cluster)
        .match_requests(|r| {
            r.db_cluster_identifier() == Some("orders-cluster")
                && r.deletion_protection() == Some(true)
        })
        .then_output(|| ModifyDbClusterOutput::builder().build());
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &m]);
    let t = Database::new(Kind::Cluster, CLUSTER_ID, "111111111111", "us-east-1");
    let out = execute(
        &RdsDeletionProtection,
        &rds,
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((d.num_calls(), m.num_calls()), (3, 1));
}

fn clusters(protected: bool) -> Rule {
    mock!(Client::describe_db_clusters)
        .match_requests(|r| r.db_cluster_identifier() == Some("orders-cluster"))
        .then_output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(
                    DbCluster::builder()
                        .db_cluster_identifier("orders-cluster")
                        .db_cluster_resource_id("cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2")
                        .deletion_protection(protected)
                        .status("available")
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn a_cluster_member_is_planned_on_its_cluster_then_unconfirmed_and_never_modified() {
    for (protected, expected) in [(false, "PLANNED"), (true, "UNCONFIRMED")] {
        let d = unchanged(false, "available", Some("orders-cluster"), false);
        let c = clusters(protected);
        let m = modify(true);
        let mc = mock!(Client::modify_db_cluster)
            .then_output(|| ModifyDbClusterOutput::builder().build());
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &c, &m, &mc]);
        let t = Database::new(Kind::Instance, "orders", "111111111111", "us-east-1");
        let out = execute(
            &RdsDeletionProtection,
            &rds,
            &t,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), expected, "{out:?}");
        let text = format!("{out:?}");
        assert!(text.contains("orders-cluster"), "{text}");
        assert_eq!((m.num_calls(), mc.num_calls()), (0, 0));
    }
}

#[tokio::test]
async fn undo_turns_protection_off_only_on_the_same_database_still_protected() {
    let t = Database::new(Kind::Instance, RESOURCE_ID, "111111111111", "us-east-1");
    t.read.set(State {
        identifier: "orders".into(),
        resource_id: RESOURCE_ID.into(),
        status: "available".into(),
        ..State::default()
    });
    let none = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let prior = RdsDeletionProtection
        .prior(&none, &t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prior["identifier"], "orders");
    assert_eq!(prior["resource_id"], RESOURCE_ID);
    // Still protected: turned off. Unprotected since: left.
    for (now, calls, says) in [(true, 1, "as it was"), (false, 0, "left as it is")] {
        let d = unchanged(now, "available", None, false);
        let m = modify(false);
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &m]);
        let steps = RdsDeletionProtection.restore(&rds, &prior).await.unwrap();
        assert!(steps[0].to_string().contains(says), "{steps:?}");
        assert_eq!(m.num_calls(), calls);
    }
    // A database of the same name but another resource id (made since): not touched.
    let other = mock!(Client::describe_db_instances)
        .then_output(|| DescribeDbInstancesOutput::builder().build());
    let m = modify(false);
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&other, &m]);
    let steps = RdsDeletionProtection.restore(&rds, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("is gone"), "{steps:?}");
    assert_eq!(m.num_calls(), 0);

    let mut on = prior.clone();
    on["DeletionProtection"] = true.into();
    let mut kind = prior.clone();
    kind["kind"] = "table".into();
    let mut bad = prior.clone();
    bad["identifier"] = "orders; x".into();
    let mut rid = prior.clone();
    rid["resource_id"] = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2".into();
    for p in [on, kind, bad, rid, serde_json::json!({})] {
        assert_eq!(
            RdsDeletionProtection
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
fn the_target_is_the_finding_accounts_instance_or_cluster() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "RDS.8".into(),
        "RDS.8".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbInstance,
        "arn:aws:rds:us-east-1:111111111111:db:orders",
    )];
    let t = RdsDeletionProtection.target(&f).unwrap();
    assert_eq!((t.kind, t.id.as_str()), (Kind::Instance, "orders"));
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbCluster,
        "arn:aws:rds:us-east-1:111111111111:cluster:orders-cluster",
    )];
    let t = RdsDeletionProtection.target(&f).unwrap();
    assert_eq!((t.kind, t.id.as_str()), (Kind::Cluster, "orders-cluster"));
    f.resources = vec![Resource::new(ResourceKind::RdsDbInstance, RESOURCE_ID)];
    assert_eq!(RdsDeletionProtection.target(&f).unwrap().id, RESOURCE_ID);
    for (bad, named) in [
        (
            "arn:aws:rds:us-east-1:222222222222:db:orders",
            "222222222222",
        ),
        ("arn:aws:rds:eu-west-1:111111111111:db:orders", "eu-west-1"),
    ] {
        f.resources = vec![Resource::from_arn(ResourceKind::RdsDbInstance, bad)];
        let NotApplicable(why) = RdsDeletionProtection.target(&f).unwrap_err();
        assert!(why.contains(named), "{why}");
    }
    for bad in ["1orders", "orders--x", "db_abc", "a b", "orders-"] {
        f.resources = vec![Resource::new(ResourceKind::RdsDbInstance, bad)];
        assert!(RdsDeletionProtection.target(&f).is_err(), "{bad}");
    }
}
