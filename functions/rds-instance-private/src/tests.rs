use super::*;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::modify_db_instance::{ModifyDBInstanceError, ModifyDbInstanceOutput};
use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const RESOURCE_ID: &str = "db-ABCDEFGHIJKLMNOPQRSTUVWXY2";

/// (public, status, cluster and engine, exempt)
fn instance(public: bool, status: &str, cluster: Option<(&str, &str)>, exempt: bool) -> DbInstance {
    let mut b = DbInstance::builder()
        .db_instance_identifier("orders")
        .dbi_resource_id(RESOURCE_ID)
        .publicly_accessible(public)
        .db_instance_status(status)
        .engine(cluster.map_or("postgres", |(_, e)| e))
        .set_db_cluster_identifier(cluster.map(|(c, _)| c.to_string()));
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

fn unchanged(public: bool, status: &str, cluster: Option<(&str, &str)>, exempt: bool) -> Rule {
    let i = instance(public, status, cluster, exempt);
    instances(i.clone(), i)
}

fn clusters() -> Rule {
    mock!(Client::describe_db_clusters).then_output(|| {
        DescribeDbClustersOutput::builder()
            .db_clusters(
                DbCluster::builder()
                    .db_cluster_identifier("orders-cluster")
                    .status("available")
                    .build(),
            )
            .build()
    })
}

fn modify(public: bool) -> Rule {
    mock!(Client::modify_db_instance)
        .match_requests(move |r| {
            r.db_instance_identifier() == Some("orders")
                && r.publicly_accessible() == Some(public)
                // Never ApplyImmediately: it would apply pending modifications too.
                && r.apply_immediately().is_none()
                && r.deletion_protection().is_none()
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build())
}

async fn run(id: &str, d: Rule, m: &Rule, mode: Mode) -> Outcome {
    let c = clusters();
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &c, m]);
    let t = Instance::new(id, "111111111111", "us-east-1");
    execute(&RdsInstancePrivate, &rds, &t, mode, "quell:exempt").await
}

#[tokio::test]
async fn a_public_instance_by_identifier_or_resource_id_is_made_private_and_read_back() {
    for id in ["orders", RESOURCE_ID] {
        let m = modify(false);
        let out = run(
            id,
            instances(
                instance(true, "available", None, false),
                instance(false, "available", None, false),
            ),
            &m,
            Mode::Enforce,
        )
        .await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{id}: {out:?}");
        assert_eq!(m.num_calls(), 1, "{id}: modified by identifier");
    }
    let m = modify(false);
    let out = run(
        "orders",
        unchanged(true, "available", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED", "not read back: {out:?}");
}

#[tokio::test]
async fn an_aurora_instance_is_changed_on_its_own_a_multi_az_member_is_planned_on_its_cluster() {
    let m = modify(false);
    let out = run(
        "orders",
        instances(
            instance(
                true,
                "available",
                Some(("orders-cluster", "aurora-postgresql")),
                false,
            ),
            instance(
                false,
                "available",
                Some(("orders-cluster", "aurora-postgresql")),
                false,
            ),
        ),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    let m = modify(false);
    let out = run(
        "orders",
        unchanged(
            true,
            "available",
            Some(("orders-cluster", "postgres")),
            false,
        ),
        &m,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Planned { reason, .. } => assert!(
            reason.contains("Multi-AZ DB cluster orders-cluster"),
            "{reason}"
        ),
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 0);
}

#[tokio::test]
async fn default_dry_run_busy_stopped_private_exempt_and_denied() {
    let m = modify(false);
    assert_eq!(RdsInstancePrivate::SPEC.default_mode, Mode::DryRun);
    let out = run(
        "orders",
        unchanged(true, "available", None, false),
        &m,
        Mode::DryRun,
    )
    .await;
    assert_eq!(out.name(), "PLANNED");
    let out = run(
        "orders",
        unchanged(true, "modifying", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED_RETRYABLE", "{out:?}");
    let out = run(
        "orders",
        unchanged(true, "stopped", None, false),
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
        unchanged(false, "available", None, false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "ALREADY_COMPLIANT");
    let out = run(
        "orders",
        unchanged(true, "available", None, true),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "EXEMPT");
    assert_eq!(m.num_calls(), 0);
    let denied = mock!(Client::modify_db_instance).then_error(|| {
        ModifyDBInstanceError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let out = run(
        "orders",
        unchanged(true, "available", None, false),
        &denied,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn undo_makes_public_again_only_the_same_instance_still_private() {
    let t = Instance::new(RESOURCE_ID, "111111111111", "us-east-1");
    t.read.set(State {
        identifier: "orders".into(),
        resource_id: RESOURCE_ID.into(),
        status: "available".into(),
        public: true,
        ..State::default()
    });
    let none = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let prior = RdsInstancePrivate.prior(&none, &t).await.unwrap().unwrap();
    assert_eq!(prior["identifier"], "orders");
    assert_eq!(prior["resource_id"], RESOURCE_ID);
    for (public_now, calls, says) in [(false, 1, "as it was"), (true, 0, "left as it is")] {
        let d = unchanged(public_now, "available", None, false);
        let m = modify(true);
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&d, &m]);
        let steps = RdsInstancePrivate.restore(&rds, &prior).await.unwrap();
        assert!(steps[0].to_string().contains(says), "{steps:?}");
        assert_eq!(m.num_calls(), calls);
    }
    let other = mock!(Client::describe_db_instances)
        .then_output(|| DescribeDbInstancesOutput::builder().build());
    let m = modify(true);
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&other, &m]);
    let steps = RdsInstancePrivate.restore(&rds, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("is gone"), "{steps:?}");

    let mut private = prior.clone();
    private["PubliclyAccessible"] = false.into();
    let mut bad = prior.clone();
    bad["identifier"] = "orders; x".into();
    let mut rid = prior.clone();
    rid["resource_id"] = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2".into();
    for p in [private, bad, rid, serde_json::json!({})] {
        assert_eq!(
            RdsInstancePrivate
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
fn the_target_is_the_finding_accounts_instance() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "RDS.2".into(),
        "RDS.2".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbInstance,
        "arn:aws:rds:us-east-1:111111111111:db:orders",
    )];
    assert_eq!(RdsInstancePrivate.target(&f).unwrap().id, "orders");
    f.resources = vec![Resource::new(ResourceKind::RdsDbInstance, RESOURCE_ID)];
    assert_eq!(RdsInstancePrivate.target(&f).unwrap().id, RESOURCE_ID);
    f.resources = vec![Resource::from_arn(
        ResourceKind::RdsDbInstance,
        "arn:aws:rds:us-east-1:222222222222:db:orders",
    )];
    let NotApplicable(why) = RdsInstancePrivate.target(&f).unwrap_err();
    assert!(why.contains("222222222222"), "{why}");
    for bad in ["1orders", "orders--x", "a b", "orders-"] {
        f.resources = vec![Resource::new(ResourceKind::RdsDbInstance, bad)];
        assert!(RdsInstancePrivate.target(&f).is_err(), "{bad}");
    }
}
