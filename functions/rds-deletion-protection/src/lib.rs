//! `rds-deletion-protection`: an RDS DB instance (RDS.8, rds-instance-deletion-protection-enabled)
//! or DB cluster (RDS.7, rds-cluster-deletion-protection-enabled) that can be deleted by one call
//! gets deletion protection. Reads, writes, backups and every other change are unaffected, so the
//! change is safe to enforce; a pipeline that deletes and recreates its databases tags them exempt.
//!
//! Security Hub names the database by its ARN (`…:db:<identifier>`, `…:cluster:<identifier>`);
//! Config by its resource id (`db-…`, `cluster-…`), which is looked up. An Aurora instance is
//! protected through its cluster (RDS.7): its own finding is planned naming the cluster.

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
}

/// What Describe said of the database.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub identifier: String,
    pub protected: bool,
    pub status: String,
    pub tags: Tags,
    /// An Aurora instance's cluster: its deletion protection is the cluster's.
    pub cluster: Option<String>,
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
    validate::rds_resource_id(
        match kind {
            Kind::Instance => "db-",
            Kind::Cluster => "cluster-",
        },
        s,
    )
}

fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> Tags {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

async fn read(rds: &aws_sdk_rds::Client, t: &Database) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let by_resource_id = resource_id(t.kind, &t.id);
    let what = || format!("could not describe {} {}", t.kind.noun(), t.id);
    let found = match t.kind {
        Kind::Instance => {
            let mut call = rds.describe_db_instances();
            call = if by_resource_id {
                call.filters(
                    aws_sdk_rds::types::Filter::builder()
                        .name("dbi-resource-id")
                        .values(&t.id)
                        .build(),
                )
            } else {
                call.db_instance_identifier(&t.id)
            };
            let out = call.send().await.aws(what)?;
            out.db_instances().first().map(|d| State {
                identifier: d.db_instance_identifier().unwrap_or_default().to_string(),
                protected: d.deletion_protection() == Some(true),
                status: d.db_instance_status().unwrap_or_default().to_string(),
                tags: tags_of(d.tag_list()),
                cluster: d.db_cluster_identifier().map(str::to_string),
            })
        }
        Kind::Cluster => {
            // DescribeDBClusters takes an identifier; a resource id is found among the clusters.
            let mut marker: Option<String> = None;
            loop {
                let mut call = rds.describe_db_clusters().set_marker(marker.take());
                if !by_resource_id {
                    call = call.db_cluster_identifier(&t.id);
                }
                let out = call.send().await.aws(what)?;
                let found = out
                    .db_clusters()
                    .iter()
                    .find(|c| {
                        if by_resource_id {
                            c.db_cluster_resource_id() == Some(t.id.as_str())
                        } else {
                            c.db_cluster_identifier()
                                .is_some_and(|i| i.eq_ignore_ascii_case(&t.id))
                        }
                    })
                    .map(|c| State {
                        identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
                        protected: c.deletion_protection() == Some(true),
                        status: c.status().unwrap_or_default().to_string(),
                        tags: tags_of(c.tag_list()),
                        cluster: None,
                    });
                marker = out.marker().map(str::to_string);
                if found.is_some() || marker.is_none() {
                    break found;
                }
            }
        }
    };
    let Some(state) = found else {
        return Err(AwsError::other(
            what(),
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
    match kind {
        Kind::Instance => {
            rds.modify_db_instance()
                .db_instance_identifier(identifier)
                .deletion_protection(on)
                .apply_immediately(true)
                .send()
                .await
                .aws(what)?;
        }
        Kind::Cluster => {
            rds.modify_db_cluster()
                .db_cluster_identifier(identifier)
                .deletion_protection(on)
                .apply_immediately(true)
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
        summary: "Turns on deletion protection of an RDS DB instance or DB cluster (reads, writes, backups and other changes unaffected)",
        resolved: "RDS.8, rds-instance-deletion-protection-enabled: DescribeDBInstances re-read has DeletionProtection true; RDS.7, rds-cluster-deletion-protection-enabled: DescribeDBClusters re-read has DeletionProtection true. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Changes only DeletionProtection (applied at once; no restart, no maintenance window). An Aurora instance is protected through its cluster: its finding is PLANNED (NOTIFIED) naming the cluster. A database that is not available (creating, modifying, backing up) is retried. A database whose template (Terraform, CloudFormation) says no protection is turned back off at its next deployment: set it there, or tag it exempt. A database tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo turns deletion protection off again. Default enforce.",
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
        if s.protected {
            return Ok(Vec::new());
        }
        if s.cluster.is_none() && s.status != "available" {
            return Err(AwsError::other(
                format!("could not protect {} {}", t.kind.noun(), s.identifier),
                "DBNotAvailable",
                format!(
                    "the database is {}: it is changed once it is available",
                    s.status
                ),
                true,
            ));
        }
        Ok(vec![Step::new(
            match t.kind {
                Kind::Instance => MODIFY_INSTANCE,
                Kind::Cluster => MODIFY_CLUSTER,
            },
            format!(
                "{}={} DeletionProtection=true (at once)",
                match t.kind {
                    Kind::Instance => "db-instance",
                    Kind::Cluster => "db-cluster",
                },
                s.identifier
            ),
        )])
    }

    fn plan_only(&self, t: &Database) -> Option<String> {
        let s = t.read.get()?;
        s.cluster.map(|c| {
            format!(
                "{} is an Aurora instance of DB cluster {c}: deletion protection is the cluster's (RDS.7); a person or quell's RDS.7 finding turns it on there: aws rds modify-db-cluster --db-cluster-identifier {c} --deletion-protection --apply-immediately",
                s.identifier
            )
        })
    }

    async fn prior(
        &self,
        _rds: &aws_sdk_rds::Client,
        t: &Database,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it off: apply only runs on an unprotected database.
        let s = t.read.get().unwrap_or_default();
        Ok(Some(serde_json::json!({
            "kind": match t.kind { Kind::Instance => "instance", Kind::Cluster => "cluster" },
            "identifier": s.identifier,
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
        if prior["DeletionProtection"] != serde_json::Value::Bool(false) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `DeletionProtection` is not false: nothing of quell's to undo",
            ));
        }
        set_protection(rds, kind, &id, false).await?;
        Ok(vec![Step::new(
            match kind {
                Kind::Instance => MODIFY_INSTANCE,
                Kind::Cluster => MODIFY_CLUSTER,
            },
            format!("{} {id} DeletionProtection=false, as it was", kind.noun()),
        )])
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
