//! `rds-deletion-protection`: an RDS DB instance (RDS.8, rds-instance-deletion-protection-enabled)
//! or DB cluster (RDS.7, rds-cluster-deletion-protection-enabled) that can be deleted by one call
//! gets deletion protection. RDS applies the setting at once, without a restart and without
//! applying other pending modifications (quell never sets ApplyImmediately); reads, writes and
//! backups are unaffected, so the change is safe to enforce. A pipeline that deletes and recreates
//! its databases tags them exempt.
//!
//! Security Hub names the database by its ARN (`…:db:<identifier>`, `…:cluster:<identifier>`);
//! Config by its resource id (`db-…`, `cluster-…`), which is looked up. A member of a DB cluster
//! (Aurora, Multi-AZ DB cluster) is protected through its cluster: its finding is planned with the
//! cluster's change, or, once the cluster is protected, UNCONFIRMED (RDS still reports the member's
//! own flag false).

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY_INSTANCE: &str = "rds:ModifyDBInstance";
const MODIFY_CLUSTER: &str = "rds:ModifyDBCluster";

#[derive(Debug, Clone, Copy, Default)]
pub struct RdsDeletionProtection;

/// A DB instance or cluster: how the finding names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Instance,
    Cluster,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Instance => "DB instance",
            Kind::Cluster => "DB cluster",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Cluster => "cluster",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Instance => "db-",
            Kind::Cluster => "cluster-",
        }
    }
}

/// What Describe said of the database.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub identifier: String,
    /// Its resource id (`db-…`, `cluster-…`): what tells it from a later one of the same name.
    pub resource_id: String,
    pub protected: bool,
    pub status: String,
    pub tags: Tags,
    /// A cluster member's cluster, and whether that cluster is protected: the member's
    /// protection is the cluster's.
    pub cluster: Option<(String, bool)>,
    /// An instance's PubliclyAccessible (rds-instance-private reads it too).
    pub public: bool,
    /// An instance's engine (`postgres`, `aurora-postgresql`…).
    pub engine: String,
}

/// The database in the finding's account and Region.
#[derive(Debug)]
pub struct Database {
    pub kind: Kind,
    /// Its identifier, or its resource id (`db-…`, `cluster-…`) as Config names it.
    pub id: String,
    pub account: String,
    pub region: String,
    read: Cached<State>,
}

impl Database {
    pub fn new(kind: Kind, id: &str, account: &str, region: &str) -> Database {
        Database {
            kind,
            id: id.into(),
            account: account.into(),
            region: region.into(),
            read: Cached::default(),
        }
    }
}

/// An RDS identifier: 1–63 letters, digits and hyphens, a letter first.
pub fn identifier(s: &str) -> bool {
    validate::rds_identifier(s)
}

/// A resource id as Config names RDS databases: `db-…` or `cluster-…`.
pub fn resource_id(kind: Kind, s: &str) -> bool {
    validate::rds_resource_id(kind.prefix(), s)
}

/// What a database's status means for a change of its deletion protection: `Ok` it can be
/// changed now; `Err((retry, why))` not now: `retry` when the state passes by itself in minutes.
pub fn changeable(status: &str) -> Result<(), (bool, String)> {
    match status {
        "available" | "backing-up" | "storage-optimization" => Ok(()),
        "creating" | "modifying" | "rebooting" | "renaming" | "starting" | "upgrading"
        | "maintenance" | "resetting-master-credentials" | "backtracking" | "migrating" => Err((
            true,
            format!("the database is {status}: it is changed once that is over"),
        )),
        s if s.starts_with("configuring-") => Err((
            true,
            format!("the database is {s}: it is changed once that is over"),
        )),
        other => Err((
            false,
            format!(
                "the database is {}: RDS changes it only when it is available again, which a person decides",
                if other.is_empty() { "in no known state" } else { other }
            ),
        )),
    }
}

fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> Tags {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// The cluster of that identifier: (identifier, resource id, protected, status, tags).
async fn cluster(
    rds: &aws_sdk_rds::Client,
    id: &str,
    by_resource_id: bool,
) -> Result<Option<State>, AwsError> {
    let what = || format!("could not describe DB cluster {id}");
    let mut marker: Option<String> = None;
    loop {
        // DescribeDBClusters takes an identifier; a resource id is found among the clusters.
        let mut call = rds.describe_db_clusters().set_marker(marker.take());
        if !by_resource_id {
            call = call.db_cluster_identifier(id);
        }
        let out = call.send().await.aws(what)?;
        let found = out
            .db_clusters()
            .iter()
            .find(|c| {
                if by_resource_id {
                    c.db_cluster_resource_id() == Some(id)
                } else {
                    c.db_cluster_identifier()
                        .is_some_and(|i| i.eq_ignore_ascii_case(id))
                }
            })
            .map(|c| State {
                identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
                resource_id: c.db_cluster_resource_id().unwrap_or_default().to_string(),
                protected: c.deletion_protection() == Some(true),
                status: c.status().unwrap_or_default().to_string(),
                tags: tags_of(c.tag_list()),
                cluster: None,
                public: c.publicly_accessible() == Some(true),
                engine: c.engine().unwrap_or_default().to_string(),
            });
        marker = out.marker().map(str::to_string);
        if found.is_some() || marker.is_none() {
            return Ok(found);
        }
    }
}

/// The DB instance of that identifier, or of that resource id (`by_resource_id`): `None` when the
/// account has none. Shared with rds-instance-private, which reads the same instance.
pub async fn instance(
    rds: &aws_sdk_rds::Client,
    id: &str,
    by_resource_id: bool,
) -> Result<Option<State>, AwsError> {
    let mut call = rds.describe_db_instances();
    call = if by_resource_id {
        call.filters(
            aws_sdk_rds::types::Filter::builder()
                .name("dbi-resource-id")
                .values(id)
                .build(),
        )
    } else {
        call.db_instance_identifier(id)
    };
    let out = call
        .send()
        .await
        .aws(|| format!("could not describe DB instance {id}"))?;
    // Only the instance asked for: the one of that resource id, or of that identifier.
    let found: Vec<_> = out
        .db_instances()
        .iter()
        .filter(|d| {
            if by_resource_id {
                d.dbi_resource_id() == Some(id)
            } else {
                d.db_instance_identifier()
                    .is_some_and(|i| i.eq_ignore_ascii_case(id))
            }
        })
        .collect();
    let [d] = found.as_slice() else {
        return Ok(None);
    };
    let member = match d.db_cluster_identifier() {
        Some(c) => Some((
            c.to_string(),
            cluster(rds, c, false).await?.is_some_and(|s| s.protected),
        )),
        None => None,
    };
    Ok(Some(State {
        identifier: d.db_instance_identifier().unwrap_or_default().to_string(),
        resource_id: d.dbi_resource_id().unwrap_or_default().to_string(),
        protected: d.deletion_protection() == Some(true),
        status: d.db_instance_status().unwrap_or_default().to_string(),
        tags: tags_of(d.tag_list()),
        cluster: member,
        public: d.publicly_accessible() == Some(true),
        engine: d.engine().unwrap_or_default().to_string(),
    }))
}

async fn read(rds: &aws_sdk_rds::Client, t: &Database) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let by_resource_id = resource_id(t.kind, &t.id);
    let found = match t.kind {
        Kind::Instance => instance(rds, &t.id, by_resource_id).await?,
        Kind::Cluster => cluster(rds, &t.id, by_resource_id).await?,
    };
    let Some(state) = found else {
        return Err(AwsError::other(
            format!("could not describe {} {}", t.kind.noun(), t.id),
            "DBNotFound",
            format!(
                "account {} has no {} {} in {}",
                t.account,
                t.kind.noun(),
                t.id,
                t.region
            ),
            false,
        ));
    };
    t.read.set(state.clone());
    Ok(state)
}

async fn set_protection(
    rds: &aws_sdk_rds::Client,
    kind: Kind,
    identifier: &str,
    on: bool,
) -> Result<(), AwsError> {
    let what = || {
        format!(
            "could not turn deletion protection {} on {} {identifier}",
            if on { "on" } else { "off" },
            kind.noun()
        )
    };
    // ApplyImmediately is never set: deletion protection takes effect at once whatever it says,
    // and with it RDS would also apply any modification pending for the maintenance window.
    match kind {
        Kind::Instance => {
            rds.modify_db_instance()
                .db_instance_identifier(identifier)
                .deletion_protection(on)
                .send()
                .await
                .aws(what)?;
        }
        Kind::Cluster => {
            rds.modify_db_cluster()
                .db_cluster_identifier(identifier)
                .deletion_protection(on)
                .send()
                .await
                .aws(what)?;
        }
    }
    Ok(())
}

impl Remediation for RdsDeletionProtection {
    const SPEC: Spec = Spec {
        id: "rds-deletion-protection",
        summary: "Turns on deletion protection of an RDS DB instance or DB cluster (at once, no restart, nothing pending applied; reads, writes and backups unaffected)",
        resolved: "RDS.8, rds-instance-deletion-protection-enabled: DescribeDBInstances re-read has DeletionProtection true; RDS.7, rds-cluster-deletion-protection-enabled: DescribeDBClusters re-read has DeletionProtection true. A cluster member whose cluster is protected is UNCONFIRMED (RDS reports the member's own flag false).",
        untouched: "Changes only DeletionProtection, without ApplyImmediately (pending modifications stay for the maintenance window). A member of a DB cluster is protected through its cluster: PLANNED (NOTIFIED) with the cluster's change, UNCONFIRMED once the cluster is protected. A database creating, modifying, rebooting or upgrading is retried; one stopped, full, or otherwise unavailable is PLANNED naming its state. A database whose template (Terraform, CloudFormation) says no protection is turned back off at its next deployment: set it there, or tag it exempt. A database tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo turns deletion protection off again, only on the same database (its resource id) and only if still on. Default enforce.",
        triggers: Triggers {
            config_rules: &[
                "rds-instance-deletion-protection-enabled",
                "rds-cluster-deletion-protection-enabled",
            ],
            securityhub_controls: &["RDS.7", "RDS.8"],
            ..Triggers::NONE
        },
        permissions: &[
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
            MODIFY_INSTANCE,
            MODIFY_CLUSTER,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Database;
    type Clients = aws_sdk_rds::Client;

    fn clients(&self, member: &Member) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Database, NotApplicable> {
        let (kind, r) = match f.resource(&ResourceKind::RdsDbCluster) {
            Some(_) => (
                Kind::Cluster,
                quell::remediation::resource_in(
                    f,
                    &ResourceKind::RdsDbCluster,
                    |s| identifier(s) || resource_id(Kind::Cluster, s),
                    "RDS DB cluster",
                )?,
            ),
            None => (
                Kind::Instance,
                quell::remediation::resource_in(
                    f,
                    &ResourceKind::RdsDbInstance,
                    |s| identifier(s) || resource_id(Kind::Instance, s),
                    "RDS DB instance",
                )?,
            ),
        };
        Ok(Database::new(kind, &r.id, &f.account, &f.region))
    }

    fn describe(&self, t: &Database) -> String {
        match t.read.get() {
            Some(s) if s.identifier != t.id => {
                format!("RDS {} {} ({})", t.kind.noun(), s.identifier, t.id)
            }
            _ => format!("RDS {} {}", t.kind.noun(), t.id),
        }
    }

    async fn tags(&self, rds: &aws_sdk_rds::Client, t: &Database) -> Result<Tags, AwsError> {
        Ok(read(rds, t).await?.tags)
    }

    async fn plan(&self, rds: &aws_sdk_rds::Client, t: &Database) -> Result<Vec<Step>, AwsError> {
        let s = read(rds, t).await?;
        if let Some((cluster, protected)) = &s.cluster {
            // The member's protection is its cluster's: the step is the cluster's, and it is
            // only planned (`plan_only`); nothing to plan once the cluster is protected.
            return Ok(if *protected {
                Vec::new()
            } else {
                vec![Step::new(
                    MODIFY_CLUSTER,
                    format!("db-cluster={cluster} DeletionProtection=true (the cluster of DB instance {})", s.identifier),
                )]
            });
        }
        if s.protected {
            return Ok(Vec::new());
        }
        if let Err((true, why)) = changeable(&s.status) {
            return Err(AwsError::other(
                format!("could not protect {} {}", t.kind.noun(), s.identifier),
                "DBNotAvailable",
                why,
                true,
            ));
        }
        Ok(vec![Step::new(
            match t.kind {
                Kind::Instance => MODIFY_INSTANCE,
                Kind::Cluster => MODIFY_CLUSTER,
            },
            format!(
                "db-{}={} DeletionProtection=true",
                t.kind.name(),
                s.identifier
            ),
        )])
    }

    fn plan_only(&self, t: &Database) -> Option<String> {
        let s = t.read.get()?;
        if let Some((c, _)) = &s.cluster {
            return Some(format!(
                "{} is a member of DB cluster {c}: deletion protection is the cluster's (RDS.7); a person, or quell on the cluster's RDS.7 finding, turns it on there: aws rds modify-db-cluster --db-cluster-identifier {c} --deletion-protection",
                s.identifier
            ));
        }
        match changeable(&s.status) {
            Err((false, why)) => Some(why),
            _ => None,
        }
    }

    fn unchecked(&self, t: &Database) -> Option<String> {
        let s = t.read.get()?;
        let (c, _) = s.cluster?;
        Some(format!(
            "{} is a member of DB cluster {c}, which is protected; RDS still reports the member's own DeletionProtection false, and a member can be deleted on its own",
            s.identifier
        ))
    }

    async fn prior(
        &self,
        _rds: &aws_sdk_rds::Client,
        t: &Database,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it off: apply only runs on an unprotected database outside a cluster.
        let s = t.read.get().unwrap_or_default();
        Ok(Some(serde_json::json!({
            "kind": t.kind.name(),
            "identifier": s.identifier,
            "resource_id": s.resource_id,
            "account": t.account,
            "region": t.region,
            "DeletionProtection": false,
        })))
    }

    async fn restore(
        &self,
        rds: &aws_sdk_rds::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let id = quell::remediation::prior_field(prior, "identifier", identifier)?;
        let kind = match prior["kind"].as_str() {
            Some("instance") => Kind::Instance,
            Some("cluster") => Kind::Cluster,
            other => {
                return Err(quell::remediation::invalid_prior(format!(
                    "the recorded `kind` is not instance or cluster: {other:?}"
                )))
            }
        };
        let rid = match prior["resource_id"].as_str() {
            Some(r) if resource_id(kind, r) => r.to_string(),
            other => {
                return Err(quell::remediation::invalid_prior(format!(
                    "the recorded `resource_id` is not a {} resource id: {other:?}",
                    kind.noun()
                )))
            }
        };
        if prior["DeletionProtection"] != serde_json::Value::Bool(false) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `DeletionProtection` is not false: nothing of quell's to undo",
            ));
        }
        let step = |what: String| {
            vec![Step::new(
                match kind {
                    Kind::Instance => MODIFY_INSTANCE,
                    Kind::Cluster => MODIFY_CLUSTER,
                },
                what,
            )]
        };
        // Only the database quell protected: the same resource id, still protected.
        let now = match kind {
            Kind::Instance => instance(rds, &rid, true).await?,
            Kind::Cluster => cluster(rds, &rid, true).await?,
        };
        match now {
            None => Ok(step(format!(
                "{} {id} ({rid}) is gone: nothing to undo",
                kind.noun()
            ))),
            Some(s) if !s.protected => Ok(step(format!(
                "{} {id} is unprotected already: left as it is",
                kind.noun()
            ))),
            Some(s) => {
                set_protection(rds, kind, &s.identifier, false).await?;
                Ok(step(format!(
                    "{} {} DeletionProtection=false, as it was",
                    kind.noun(),
                    s.identifier
                )))
            }
        }
    }

    async fn apply(
        &self,
        rds: &aws_sdk_rds::Client,
        t: &Database,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let s = read(rds, t).await?;
        t.read.clear();
        set_protection(rds, t.kind, &s.identifier, true).await
    }
}

#[cfg(test)]
mod tests;
