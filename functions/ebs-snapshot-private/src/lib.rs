//! `ebs-snapshot-private`: the EBS snapshots an account owns that anyone may restore (EC2.1,
//! ebs-snapshot-public-restorable-check, an account-level check) lose their public permission
//! (`createVolumePermission` group `all`). Accounts the snapshot is shared with by id keep their
//! permission: sharing with a named account is not exposure.
//!
//! A public snapshot tagged with the exemption tag stays public, and the finding is not said to be
//! gone while it does (UNCONFIRMED, NOTIFIED). Undo makes public again exactly the snapshots quell
//! made private.

use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "ec2:ModifySnapshotAttribute";
/// One DescribeSnapshots page (AWS's maximum is 1000).
const PAGE: i32 = 1000;

#[derive(Debug, Clone)]
pub struct EbsSnapshotPrivate {
    /// The exemption tag (QUELL_EXEMPT_TAG), read on each snapshot: the account itself has none.
    pub exempt_tag: String,
}

impl Default for EbsSnapshotPrivate {
    fn default() -> Self {
        EbsSnapshotPrivate {
            exempt_tag: "quell:exempt".into(),
        }
    }
}

/// The account and Region whose snapshots are checked, and what `plan` read.
#[derive(Debug, Default)]
pub struct Account {
    pub account: String,
    pub region: String,
    /// The public snapshots to make private, from the latest `plan`.
    public: Cached<Vec<String>>,
    /// The public snapshots kept public because they are tagged exempt.
    exempt: Cached<Vec<String>>,
}

impl Account {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Account {
        Account {
            account: account.into(),
            region: region.into(),
            public: Cached::default(),
            exempt: Cached::default(),
        }
    }
}

/// The account's own snapshots anyone may restore: (id, tagged exempt).
async fn public_snapshots(
    ec2: &aws_sdk_ec2::Client,
    t: &Account,
    exempt_tag: &str,
) -> Result<Vec<(String, bool)>, AwsError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ec2
            .describe_snapshots()
            .owner_ids("self")
            .restorable_by_user_ids("all")
            .max_results(PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .aws(|| {
                format!(
                    "could not list the public snapshots of account {}",
                    t.account
                )
            })?;
        for s in out.snapshots() {
            let Some(id) = s.snapshot_id() else { continue };
            // Only our own: a public snapshot of another account is not this account's exposure.
            if s.owner_id().is_some_and(|o| o != t.account) {
                continue;
            }
            let exempt = s.tags().iter().any(|tag| {
                tag.key() == Some(exempt_tag)
                    && tag.value().is_some_and(|v| v.eq_ignore_ascii_case("true"))
            });
            found.push((id.to_string(), exempt));
        }
        match out.next_token() {
            Some(n) if !n.is_empty() => token = Some(n.to_string()),
            _ => break,
        }
    }
    Ok(found)
}

/// A snapshot deleted between the read and the write.
fn gone(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidSnapshot.NotFound")
}

async fn set_public(
    ec2: &aws_sdk_ec2::Client,
    snapshot: &str,
    public: bool,
) -> Result<(), AwsError> {
    use aws_sdk_ec2::types::{OperationType, SnapshotAttributeName};
    ec2.modify_snapshot_attribute()
        .snapshot_id(snapshot)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(if public {
            OperationType::Add
        } else {
            OperationType::Remove
        })
        .group_names("all")
        .send()
        .await
        .aws(|| {
            format!(
                "could not make snapshot {snapshot} {}",
                if public { "public again" } else { "private" }
            )
        })?;
    Ok(())
}

impl Remediation for EbsSnapshotPrivate {
    const SPEC: Spec = Spec {
        id: "ebs-snapshot-private",
        summary: "Removes the public restore permission (group all) from every EBS snapshot the account owns in the Region; snapshots shared with named accounts keep that sharing",
        resolved: "EC2.1, ebs-snapshot-public-restorable-check: DescribeSnapshots (OwnerIds self, RestorableByUserIds all) re-read lists none of the account's snapshots. UNCONFIRMED when a public snapshot is tagged QUELL_EXEMPT_TAG (quell:exempt)=true and so stays public.",
        untouched: "Removes only the public permission: never deletes or copies a snapshot, and keeps its sharing with named accounts. A public snapshot tagged QUELL_EXEMPT_TAG (quell:exempt)=true stays public and the finding stays open (UNCONFIRMED, NOTIFIED); accounts are exempted with QUELL_DENY_ACCOUNTS. Undo makes public again exactly the snapshots quell made private. Default enforce.",
        triggers: Triggers {
            config_rules: &["ebs-snapshot-public-restorable-check"],
            securityhub_controls: &["EC2.1"],
            ..Triggers::NONE
        },
        permissions: &["ec2:DescribeSnapshots", MODIFY],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Account;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        // The same variable, with the same check, as every function's exemption tag.
        let config = quell::Config::from_lookup(get)?;
        self.exempt_tag = config.exempt_tag;
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Account, NotApplicable> {
        // An account-level check: the finding's account and Region, whatever resource it names
        // (AWS::::Account, or the account id).
        if let Some(r) = f.resources.first() {
            if r.kind != ResourceKind::Account && r.id != f.account && !r.id.ends_with(&f.account) {
                return Err(NotApplicable(format!("{} is not an account", r.label())));
            }
        }
        Ok(Account::new(f.account.clone(), f.region.clone()))
    }

    fn describe(&self, t: &Account) -> String {
        format!("the EBS snapshots of account {} in {}", t.account, t.region)
    }

    /// An account has no tags: each public snapshot's own tags are read by `plan`.
    async fn tags(&self, _ec2: &aws_sdk_ec2::Client, _t: &Account) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Account) -> Result<Vec<Step>, AwsError> {
        let found = public_snapshots(ec2, t, &self.exempt_tag).await?;
        let (exempt, public): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, e)| *e);
        let public: Vec<String> = public.into_iter().map(|(id, _)| id).collect();
        t.exempt.set(exempt.into_iter().map(|(id, _)| id).collect());
        let steps = public
            .iter()
            .map(|id| {
                Step::new(
                    MODIFY,
                    format!("snapshot={id} remove createVolumePermission group=all (public)"),
                )
            })
            .collect();
        t.public.set(public);
        Ok(steps)
    }

    fn unchecked(&self, t: &Account) -> Option<String> {
        let exempt = t.exempt.get().unwrap_or_default();
        (!exempt.is_empty()).then(|| {
            format!(
                "{} public snapshot(s) tagged {}=true kept public: {}",
                exempt.len(),
                self.exempt_tag,
                exempt.join(", ")
            )
        })
    }

    async fn prior(
        &self,
        _ec2: &aws_sdk_ec2::Client,
        t: &Account,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        Ok(Some(serde_json::json!({
            "account": t.account,
            "region": t.region,
            "public_snapshots": t.public.get().unwrap_or_default(),
        })))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let ids: Vec<String> = prior["public_snapshots"]
            .as_array()
            .ok_or_else(|| {
                quell::remediation::invalid_prior("the recorded `public_snapshots` is not a list")
            })?
            .iter()
            .map(|v| match v.as_str() {
                Some(id) if validate::snapshot_id(id) => Ok(id.to_string()),
                _ => Err(quell::remediation::invalid_prior(format!(
                    "the recorded snapshot `{v}` is not a snapshot id"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let mut steps = Vec::new();
        let mut first_error = None;
        for id in ids {
            // One snapshot gone since does not keep the others from being put back.
            match set_public(ec2, &id, true).await {
                Ok(()) => steps.push(Step::new(
                    MODIFY,
                    format!(
                        "snapshot={id} add createVolumePermission group=all (public, as it was)"
                    ),
                )),
                Err(e) if gone(&e) => steps.push(Step::new(
                    MODIFY,
                    format!("snapshot={id} no longer exists: nothing to put back"),
                )),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Account,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        // Every snapshot is tried: one that fails (or was deleted since the plan) does not leave
        // the others public. The first failure is returned after the loop; a deleted one is not a
        // failure (the re-read shows what is left).
        let mut first_error = None;
        for id in t.public.get().unwrap_or_default() {
            match set_public(ec2, &id, false).await {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests;
