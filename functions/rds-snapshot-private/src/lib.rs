//! `rds-snapshot-private`: an RDS DB snapshot or DB cluster snapshot anyone may restore (RDS.1,
//! rds-snapshots-public-prohibited) loses its public permission: the value `all` of its `restore`
//! attribute. Accounts the snapshot is shared with by id keep their permission: sharing with a
//! named account is not exposure, and taking it away would break that account's restores.
//!
//! Anyone who copied the snapshot while it was public keeps the copy: the note says so, and
//! says to look at who did (CloudTrail `CopyDBSnapshot`/`RestoreDBInstanceFromDBSnapshot` by
//! other accounts is not in this account's trail; the finding's time bounds the exposure).
//!
//! Security Hub names the snapshot by its ARN (`…:snapshot:<name>`, `…:cluster-snapshot:<name>`);
//! Config by its name.

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "rds:ModifyDBSnapshotAttribute";
const MODIFY_CLUSTER: &str = "rds:ModifyDBClusterSnapshotAttribute";
/// The attribute that lists who may restore (copy) a snapshot; `all` is everyone.
const RESTORE: &str = "restore";
const PUBLIC: &str = "all";

#[derive(Debug, Clone, Copy, Default)]
pub struct RdsSnapshotPrivate;

/// A DB snapshot or a DB cluster snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Snapshot,
    ClusterSnapshot,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Snapshot => "DB snapshot",
            Kind::ClusterSnapshot => "DB cluster snapshot",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Snapshot => "snapshot",
            Kind::ClusterSnapshot => "cluster-snapshot",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Kind::Snapshot => MODIFY,
            Kind::ClusterSnapshot => MODIFY_CLUSTER,
        }
    }
}

/// What Describe said of the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub tags: Tags,
    /// When the snapshot was made: tells it from a later one of the same name.
    pub created: Option<String>,
    /// Who may restore it: account ids, and `all` when anyone may.
    pub restore: Vec<String>,
}

impl State {
    fn public(&self) -> bool {
        self.restore.iter().any(|v| v == PUBLIC)
    }

    /// The accounts it stays shared with.
    fn accounts(&self) -> Vec<&str> {
        self.restore
            .iter()
            .filter(|v| *v != PUBLIC)
            .map(String::as_str)
            .collect()
    }
}

/// The snapshot in the finding's account and Region.
#[derive(Debug)]
pub struct Snapshot {
    pub kind: Kind,
    pub id: String,
    pub account: String,
    pub region: String,
    /// The read that `tags` and `plan` share; `apply` clears it so that the check reads afresh.
    read: Cached<State>,
}

impl Snapshot {
    pub fn new(kind: Kind, id: &str, account: &str, region: &str) -> Snapshot {
        Snapshot {
            kind,
            id: id.into(),
            account: account.into(),
            region: region.into(),
            read: Cached::default(),
        }
    }
}

fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> Tags {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

fn not_found(kind: Kind, id: &str, account: &str, region: &str) -> AwsError {
    AwsError::other(
        format!("could not describe {} {id}", kind.noun()),
        match kind {
            Kind::Snapshot => "DBSnapshotNotFound",
            Kind::ClusterSnapshot => "DBClusterSnapshotNotFoundFault",
        },
        format!("account {account} has no {} {id} in {region}", kind.noun()),
        false,
    )
}

/// The snapshot's tags and `restore` attribute: `None` when the account has no such snapshot.
async fn describe(
    rds: &aws_sdk_rds::Client,
    kind: Kind,
    id: &str,
) -> Result<Option<State>, AwsError> {
    let what = || format!("could not describe {} {id}", kind.noun());
    // RDS answers an unknown identifier with a NotFound fault: no snapshot, not a failure.
    let gone = |e: &AwsError| {
        matches!(
            e.code.as_deref(),
            // moto answers DBSnapshotNotFoundFault where RDS says DBSnapshotNotFound.
            Some(
                "DBSnapshotNotFound" | "DBSnapshotNotFoundFault" | "DBClusterSnapshotNotFoundFault"
            )
        )
    };
    let created = |t: Option<&aws_sdk_rds::primitives::DateTime>| t.map(|t| t.secs().to_string());
    let (tags, attributes, made) = match kind {
        Kind::Snapshot => {
            let out = match rds
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
                .aws(what)
            {
                Err(e) if gone(&e) => return Ok(None),
                other => other?,
            };
            let Some(s) = out
                .db_snapshots()
                .iter()
                .find(|s| s.db_snapshot_identifier() == Some(id))
            else {
                return Ok(None);
            };
            let tags = tags_of(s.tag_list());
            let made = created(s.snapshot_create_time());
            let out = rds
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(id)
                .send()
                .await
                .aws(what)?;
            let values: Vec<String> = out
                .db_snapshot_attributes_result()
                .map(|r| r.db_snapshot_attributes())
                .unwrap_or_default()
                .iter()
                .filter(|a| a.attribute_name() == Some(RESTORE))
                .flat_map(|a| a.attribute_values().iter().cloned())
                .collect();
            (tags, values, made)
        }
        Kind::ClusterSnapshot => {
            let out = match rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
                .aws(what)
            {
                Err(e) if gone(&e) => return Ok(None),
                other => other?,
            };
            let Some(s) = out
                .db_cluster_snapshots()
                .iter()
                .find(|s| s.db_cluster_snapshot_identifier() == Some(id))
            else {
                return Ok(None);
            };
            let tags = tags_of(s.tag_list());
            let made = created(s.snapshot_create_time());
            let out = rds
                .describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
                .aws(what)?;
            let values: Vec<String> = out
                .db_cluster_snapshot_attributes_result()
                .map(|r| r.db_cluster_snapshot_attributes())
                .unwrap_or_default()
                .iter()
                .filter(|a| a.attribute_name() == Some(RESTORE))
                .flat_map(|a| a.attribute_values().iter().cloned())
                .collect();
            (tags, values, made)
        }
    };
    Ok(Some(State {
        tags,
        created: made,
        restore: attributes,
    }))
}

async fn read(rds: &aws_sdk_rds::Client, t: &Snapshot) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let state = describe(rds, t.kind, &t.id)
        .await?
        .ok_or_else(|| not_found(t.kind, &t.id, &t.account, &t.region))?;
    t.read.set(state.clone());
    Ok(state)
}

/// Adds or removes `all` in the snapshot's `restore` attribute; named accounts are untouched.
async fn set_public(
    rds: &aws_sdk_rds::Client,
    kind: Kind,
    id: &str,
    public: bool,
) -> Result<(), AwsError> {
    let what = || {
        format!(
            "could not make {} {id} {}",
            kind.noun(),
            if public { "public" } else { "private" }
        )
    };
    let values = Some(vec![PUBLIC.to_string()]);
    let (add, remove) = if public {
        (values, None)
    } else {
        (None, values)
    };
    match kind {
        Kind::Snapshot => {
            rds.modify_db_snapshot_attribute()
                .db_snapshot_identifier(id)
                .attribute_name(RESTORE)
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .aws(what)?;
        }
        Kind::ClusterSnapshot => {
            rds.modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(id)
                .attribute_name(RESTORE)
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .aws(what)?;
        }
    }
    Ok(())
}

impl Remediation for RdsSnapshotPrivate {
    const SPEC: Spec = Spec {
        id: "rds-snapshot-private",
        summary: "Makes a public RDS DB or DB cluster snapshot private (its restore attribute loses `all`); accounts it is shared with by id keep their access",
        resolved: "RDS.1, rds-snapshots-public-prohibited: DescribeDBSnapshotAttributes (DescribeDBClusterSnapshotAttributes for a cluster snapshot) re-read lists no `all` among the restore attribute's values. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Removes only the value `all` of the restore attribute: accounts the snapshot is shared with by id keep it, and the snapshot itself, its encryption and its tags are untouched. A copy someone made while it was public is beyond any account's reach: the note says so. A snapshot tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo makes the snapshot public again, only the same snapshot (its creation time) and only if it still exists and is not public already. Default enforce.",
        triggers: Triggers {
            config_rules: &["rds-snapshots-public-prohibited"],
            securityhub_controls: &["RDS.1"],
            ..Triggers::NONE
        },
        permissions: &[
            "rds:DescribeDBSnapshots",
            "rds:DescribeDBSnapshotAttributes",
            "rds:DescribeDBClusterSnapshots",
            "rds:DescribeDBClusterSnapshotAttributes",
            MODIFY,
            MODIFY_CLUSTER,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Snapshot;
    type Clients = aws_sdk_rds::Client;

    fn clients(&self, member: &Member) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Snapshot, NotApplicable> {
        let (kind, r) = match f.resource(&ResourceKind::RdsDbClusterSnapshot) {
            Some(_) => (
                Kind::ClusterSnapshot,
                quell::remediation::resource_in(
                    f,
                    &ResourceKind::RdsDbClusterSnapshot,
                    validate::rds_snapshot_identifier,
                    "RDS DB cluster snapshot",
                )?,
            ),
            None => (
                Kind::Snapshot,
                quell::remediation::resource_in(
                    f,
                    &ResourceKind::RdsDbSnapshot,
                    validate::rds_snapshot_identifier,
                    "RDS DB snapshot",
                )?,
            ),
        };
        Ok(Snapshot::new(kind, &r.id, &f.account, &f.region))
    }

    fn describe(&self, t: &Snapshot) -> String {
        format!("RDS {} {}", t.kind.noun(), t.id)
    }

    async fn tags(&self, rds: &aws_sdk_rds::Client, t: &Snapshot) -> Result<Tags, AwsError> {
        Ok(read(rds, t).await?.tags)
    }

    async fn plan(&self, rds: &aws_sdk_rds::Client, t: &Snapshot) -> Result<Vec<Step>, AwsError> {
        let s = read(rds, t).await?;
        if !s.public() {
            return Ok(Vec::new());
        }
        let accounts = s.accounts();
        Ok(vec![Step::new(
            t.kind.action(),
            format!(
                "db-{}={} restore -all{}; a copy made while it was public is out of reach: look for copies and restores by other accounts since the finding",
                t.kind.name(),
                t.id,
                if accounts.is_empty() {
                    String::new()
                } else {
                    format!(" (shared with {} kept)", accounts.join(", "))
                }
            ),
        )])
    }

    async fn prior(
        &self,
        _rds: &aws_sdk_rds::Client,
        t: &Snapshot,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it public: apply only runs on a public snapshot.
        let created = t.read.get().and_then(|s| s.created);
        Ok(Some(serde_json::json!({
            "kind": t.kind.name(),
            "identifier": t.id,
            "created": created,
            "account": t.account,
            "region": t.region,
            "public": true,
        })))
    }

    async fn restore(
        &self,
        rds: &aws_sdk_rds::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let id = quell::remediation::prior_field(
            prior,
            "identifier",
            validate::rds_snapshot_identifier,
        )?;
        let kind = match prior["kind"].as_str() {
            Some("snapshot") => Kind::Snapshot,
            Some("cluster-snapshot") => Kind::ClusterSnapshot,
            other => {
                return Err(quell::remediation::invalid_prior(format!(
                    "the recorded `kind` is not snapshot or cluster-snapshot: {other:?}"
                )))
            }
        };
        if prior["public"] != serde_json::Value::Bool(true) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `public` is not true: nothing of quell's to undo",
            ));
        }
        let step = |what: String| vec![Step::new(kind.action(), what)];
        // Only the snapshot quell made private: made when the recorded one was.
        let created = prior["created"].as_str();
        match describe(rds, kind, &id).await? {
            None => Ok(step(format!(
                "{} {id} is gone: nothing to undo",
                kind.noun()
            ))),
            Some(s) if created.is_some() && s.created.as_deref() != created => Ok(step(format!(
                "{} {id} is another snapshot of the same name, made since: left as it is",
                kind.noun()
            ))),
            Some(s) if s.public() => Ok(step(format!(
                "{} {id} is public already: left as it is",
                kind.noun()
            ))),
            Some(_) => {
                set_public(rds, kind, &id, true).await?;
                Ok(step(format!(
                    "{} {id} restore +all: public again, as it was",
                    kind.noun()
                )))
            }
        }
    }

    async fn apply(
        &self,
        rds: &aws_sdk_rds::Client,
        t: &Snapshot,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        t.read.clear();
        set_public(rds, t.kind, &t.id, false).await
    }
}

#[cfg(test)]
mod tests;
