//! `rds-instance-private`: an RDS DB instance that is publicly accessible (RDS.2,
//! rds-instance-public-access-check) stops being so: `PubliclyAccessible` false, which RDS applies
//! at once whatever ApplyImmediately says (quell never sets it, so nothing pending is applied).
//! The endpoint's DNS name then resolves to the instance's private address only.
//!
//! That is also why it is dry-run by default: a client that reaches the database from outside
//! its VPC (an analyst's laptop, a SaaS tool, another cloud) loses it at once. A person tags the
//! instances that must stay reachable exempt, then sets QUELL_MODE=enforce.
//!
//! An Aurora instance is changed on its own (Aurora keeps the setting per instance). An instance
//! of a Multi-AZ DB cluster cannot be modified, and its cluster's public access cannot be changed
//! in place: such a finding is planned (NOTIFIED) with what a person can do.
//!
//! Security Hub names the instance by its ARN; Config by its resource id (`db-…`), looked up.

use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use rds_deletion_protection::{changeable, identifier, instance, resource_id, Kind, State};

const MODIFY: &str = "rds:ModifyDBInstance";

#[derive(Debug, Clone, Copy, Default)]
pub struct RdsInstancePrivate;

/// The instance in the finding's account and Region.
#[derive(Debug)]
pub struct Instance {
    /// Its identifier, or its resource id (`db-…`) as Config names it.
    pub id: String,
    pub account: String,
    pub region: String,
    read: quell::remediation::Cached<State>,
}

impl Instance {
    pub fn new(id: &str, account: &str, region: &str) -> Instance {
        Instance {
            id: id.into(),
            account: account.into(),
            region: region.into(),
            read: quell::remediation::Cached::default(),
        }
    }
}

async fn read(rds: &aws_sdk_rds::Client, t: &Instance) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let by_resource_id = resource_id(Kind::Instance, &t.id);
    let state = instance(rds, &t.id, by_resource_id).await?.ok_or_else(|| {
        AwsError::other(
            format!("could not describe DB instance {}", t.id),
            "DBInstanceNotFound",
            format!(
                "account {} has no DB instance {} in {}",
                t.account, t.id, t.region
            ),
            false,
        )
    })?;
    t.read.set(state.clone());
    Ok(state)
}

/// A member of a Multi-AZ DB cluster, whose public access is the cluster's: its cluster.
fn multi_az_cluster(s: &State) -> Option<&str> {
    s.cluster
        .as_ref()
        .filter(|_| !s.engine.starts_with("aurora"))
        .map(|(c, _)| c.as_str())
}

async fn set_public(
    rds: &aws_sdk_rds::Client,
    identifier: &str,
    public: bool,
) -> Result<(), AwsError> {
    // No ApplyImmediately: PubliclyAccessible takes effect at once whatever it says, and with it
    // RDS would also apply any modification pending for the maintenance window.
    rds.modify_db_instance()
        .db_instance_identifier(identifier)
        .publicly_accessible(public)
        .send()
        .await
        .aws(|| {
            format!(
                "could not make DB instance {identifier} {}",
                if public {
                    "publicly accessible"
                } else {
                    "private"
                }
            )
        })?;
    Ok(())
}

impl Remediation for RdsInstancePrivate {
    const SPEC: Spec = Spec {
        id: "rds-instance-private",
        summary: "Makes a publicly accessible RDS DB instance private (PubliclyAccessible false, at once, nothing pending applied). Dry-run by default",
        resolved: "RDS.2, rds-instance-public-access-check: DescribeDBInstances re-read has PubliclyAccessible false. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Changes only PubliclyAccessible, without ApplyImmediately (pending modifications stay for the maintenance window): never the security groups, the subnet group, the endpoint or the data. Default dry-run: a client outside the VPC that connects through the public endpoint loses access at once; tag the instances that must stay reachable QUELL_EXEMPT_TAG (quell:exempt)=true (EXEMPT), then set QUELL_MODE=enforce. An Aurora instance is changed on its own; an instance of a Multi-AZ DB cluster (which RDS cannot make private in place) is PLANNED (NOTIFIED) with what a person can do: restore with --no-publicly-accessible, private subnets, narrower security groups. An instance creating or modifying is retried; one stopped or otherwise unavailable is PLANNED naming its state. A template (Terraform, CloudFormation) that says public puts it back at its next deployment: set it there. Undo makes the instance publicly accessible again, only the same instance (its resource id) and only if still private.",
        triggers: Triggers {
            config_rules: &["rds-instance-public-access-check"],
            securityhub_controls: &["RDS.2"],
            ..Triggers::NONE
        },
        permissions: &["rds:DescribeDBInstances", "rds:DescribeDBClusters", MODIFY],
        undo_permissions: &[],
        default_mode: Mode::DryRun,
    };
    type Target = Instance;
    type Clients = aws_sdk_rds::Client;

    fn clients(&self, member: &Member) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Instance, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::RdsDbInstance,
            |s| identifier(s) || resource_id(Kind::Instance, s),
            "RDS DB instance",
        )?;
        Ok(Instance::new(&r.id, &f.account, &f.region))
    }

    fn describe(&self, t: &Instance) -> String {
        match t.read.get() {
            Some(s) if s.identifier != t.id => {
                format!("RDS DB instance {} ({})", s.identifier, t.id)
            }
            _ => format!("RDS DB instance {}", t.id),
        }
    }

    fn dry_run_reason(&self) -> String {
        "dry-run by default: a client outside the VPC that connects through the public endpoint loses the database at once; tag the instances that must stay reachable exempt, then enforce".into()
    }

    async fn tags(&self, rds: &aws_sdk_rds::Client, t: &Instance) -> Result<Tags, AwsError> {
        Ok(read(rds, t).await?.tags)
    }

    async fn plan(&self, rds: &aws_sdk_rds::Client, t: &Instance) -> Result<Vec<Step>, AwsError> {
        let s = read(rds, t).await?;
        if !s.public {
            return Ok(Vec::new());
        }
        if let Some(c) = multi_az_cluster(&s) {
            // Only planned (`plan_only`): nothing can change it in place.
            return Ok(vec![Step::new(
                "escalate",
                format!(
                    "DB instance {} of the Multi-AZ DB cluster {c}: restore the cluster from a snapshot with --no-publicly-accessible, or put it in private subnets, or narrow its security groups",
                    s.identifier
                ),
            )]);
        }
        if let Err((true, why)) = changeable(&s.status) {
            return Err(AwsError::other(
                format!("could not make DB instance {} private", s.identifier),
                "DBNotAvailable",
                why,
                true,
            ));
        }
        Ok(vec![Step::new(
            MODIFY,
            format!("db-instance={} PubliclyAccessible=false", s.identifier),
        )])
    }

    fn plan_only(&self, t: &Instance) -> Option<String> {
        let s = t.read.get()?;
        if let Some(c) = multi_az_cluster(&s) {
            return Some(format!(
                "{} is an instance of the Multi-AZ DB cluster {c}: RDS modifies neither the instance nor the cluster's public access in place; a person decides how to take it off the internet",
                s.identifier
            ));
        }
        match changeable(&s.status) {
            Err((false, why)) => Some(why),
            _ => None,
        }
    }

    async fn prior(
        &self,
        _rds: &aws_sdk_rds::Client,
        t: &Instance,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it public: apply only runs on a public instance outside a Multi-AZ cluster.
        let s = t.read.get().unwrap_or_default();
        Ok(Some(serde_json::json!({
            "identifier": s.identifier,
            "resource_id": s.resource_id,
            "account": t.account,
            "region": t.region,
            "PubliclyAccessible": true,
        })))
    }

    async fn restore(
        &self,
        rds: &aws_sdk_rds::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let id = quell::remediation::prior_field(prior, "identifier", identifier)?;
        let rid = quell::remediation::prior_field(prior, "resource_id", |r| {
            resource_id(Kind::Instance, r)
        })?;
        if prior["PubliclyAccessible"] != serde_json::Value::Bool(true) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `PubliclyAccessible` is not true: nothing of quell's to undo",
            ));
        }
        let step = |what: String| vec![Step::new(MODIFY, what)];
        // Only the instance quell changed: the same resource id, still private.
        match instance(rds, &rid, true).await? {
            None => Ok(step(format!(
                "DB instance {id} ({rid}) is gone: nothing to undo"
            ))),
            Some(s) if s.public => Ok(step(format!(
                "DB instance {id} is publicly accessible already: left as it is"
            ))),
            Some(s) => {
                set_public(rds, &s.identifier, true).await?;
                Ok(step(format!(
                    "DB instance {} PubliclyAccessible=true, as it was",
                    s.identifier
                )))
            }
        }
    }

    async fn apply(
        &self,
        rds: &aws_sdk_rds::Client,
        t: &Instance,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let s = read(rds, t).await?;
        t.read.clear();
        set_public(rds, &s.identifier, false).await
    }
}

#[cfg(test)]
mod tests;
