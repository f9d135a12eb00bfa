//! The instance role's older sessions, revoked when QUELL_ISOLATE_REVOKE_ROLE_SESSIONS asks: the
//! credentials already taken from the instance keep working after its profile is removed, until
//! the role denies every session issued before the cut-off (`aws:TokenIssueTime`), as the
//! console's "Revoke active sessions" does. The policy is iam-revoke-role-sessions' own (same
//! name), so the two keep one revocation policy on a role: replaced, never stacked.

use std::time::SystemTime;

use aws_smithy_types::DateTime;
use quell::policy::{percent_decode, sessions_cutoff, whole_seconds};
use quell::remediation::{invalid_prior, prior_field};
use quell::{AwsError, AwsResultExt, Step};

/// The same policy iam-revoke-role-sessions writes: one per role, whichever function revokes.
pub use quell::policy::ROLE_SESSIONS_POLICY as SESSIONS_POLICY;
pub const PUT: &str = "iam:PutRolePolicy";
const DELETE: &str = "iam:DeleteRolePolicy";
/// IAM Identity Center's permission-set roles.
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

/// A role of the instance's profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceRole {
    pub name: String,
    /// Why quell leaves the role as it is (quell's own, Identity Center's); `None`: revocable.
    pub left_alone: Option<String>,
    /// quell's revocation policy on it now, decoded; `None` when it has none.
    pub policy: Option<String>,
}

/// A read that failed, kept in the state to be reported with the other steps (an isolation is
/// not given up because its role cannot be read). An [`AwsError`] is not `Clone`: a copy keeps
/// its action, code, message and retryability.
#[derive(Debug)]
pub struct Unread(pub AwsError);

impl Clone for Unread {
    fn clone(&self) -> Self {
        Unread(self.0.copy_for(self.0.action.clone()))
    }
}

impl PartialEq for Unread {
    fn eq(&self, o: &Self) -> bool {
        self.0.to_string() == o.0.to_string()
    }
}

/// Why quell must not change `role`, if it must not.
pub fn left_alone(role: &str) -> Option<String> {
    if quell::member::is_quell_role_name(role) {
        Some(
            "quell's own role, which quell never changes: a person must revoke its sessions".into(),
        )
    } else if role.starts_with(SSO_ROLE_PREFIX) {
        // Identity Center owns the role (path /aws-reserved/sso.amazonaws.com/): IAM refuses
        // changes to it, and Identity Center would put it back at the next provisioning.
        Some(
            "an IAM Identity Center permission-set role, which quell cannot change: IAM Identity \
             Center must revoke its sessions (delete the users' active sessions, and deny their \
             aws:userid in the permission set until the role credentials expire)"
                .into(),
        )
    } else {
        None
    }
}

/// The name of the instance profile an ARN names
/// (`arn:aws:iam::111111111111:instance-profile/<path>/<name>`).
fn profile_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":instance-profile/")?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let valid = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    valid.then_some(name)
}

/// The roles of instance profile `arn`, each with quell's revocation policy as it is now (not
/// read for a role quell leaves alone).
pub async fn read(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Vec<InstanceRole>, AwsError> {
    let name = profile_name(arn).ok_or_else(|| {
        AwsError::other(
            format!("could not read the role of instance profile {arn}"),
            "InvalidInstanceProfileArn",
            "not an instance profile ARN",
            false,
        )
    })?;
    let out = iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .aws(|| format!("could not read the role of instance profile {name}"))?;
    let mut roles = Vec::new();
    for r in out
        .instance_profile()
        .map(|p| p.roles())
        .unwrap_or_default()
    {
        let role = r.role_name().to_string();
        let why = left_alone(&role);
        let policy = match why {
            Some(_) => None,
            None => current(iam, &role).await?,
        };
        roles.push(InstanceRole {
            name: role,
            left_alone: why,
            policy,
        });
    }
    Ok(roles)
}

/// quell's revocation policy on `role`, decoded; `None` when there is none.
async fn current(iam: &aws_sdk_iam::Client, role: &str) -> Result<Option<String>, AwsError> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(SESSIONS_POLICY)
        .send()
        .await
    {
        Ok(out) => Ok(Some(percent_decode(&out.policy_document))),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read policy {SESSIONS_POLICY} of role {role}")),
    }
}

/// Whether a revocation policy denies every session issued before `at`.
pub fn covers(policy: Option<&str>, at: &DateTime) -> bool {
    policy
        .and_then(sessions_cutoff)
        .is_some_and(|c| c.secs() >= at.secs())
}

/// The policy quell puts on the role: everything denied to its sessions issued before `cutoff`.
pub fn policy(cutoff: &DateTime) -> serde_json::Value {
    quell::policy::revoke_role_sessions(cutoff)
}

/// The step that revokes `r`'s older sessions; `seen` is when the finding saw the compromise.
pub fn step(instance: &str, r: &InstanceRole, seen: &DateTime) -> Step {
    Step::new(
        PUT,
        format!(
            "role={} policy={SESSIONS_POLICY} deny * to its sessions issued before now, after the \
             profile is removed (aws:TokenIssueTime; {instance}'s credentials were at risk at \
             {}{}): stolen credentials stop working, and every other older session of the role \
             until it is renewed",
            r.name,
            whole_seconds(seen),
            r.policy
                .as_deref()
                .and_then(sessions_cutoff)
                .map(|c| format!("; the cut-off moves from {}", whole_seconds(&c)))
                .unwrap_or_default()
        ),
    )
}

/// Denies `role`'s sessions issued before now; returns the cut-off.
pub async fn revoke(iam: &aws_sdk_iam::Client, role: &str) -> Result<DateTime, AwsError> {
    let now = DateTime::from(SystemTime::now());
    iam.put_role_policy()
        .role_name(role)
        .policy_name(SESSIONS_POLICY)
        .policy_document(policy(&now).to_string())
        .send()
        .await
        .aws(|| format!("could not put policy {SESSIONS_POLICY} on role {role}"))?;
    Ok(now)
}

/// One role's recorded revocation: its name, its policy as it was (`None`: it had none), and when
/// the record was made (`None` in records from before that was kept).
pub type Recorded = (String, Option<String>, Option<i64>);

/// The roles a recorded prior state names, each with its policy as it was (`None`: it had none);
/// checked before any call. A record without them (the setting off) names none.
pub fn recorded(prior: &serde_json::Value) -> Result<Vec<Recorded>, AwsError> {
    let list = match prior.get("role_sessions") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) => list,
        Some(_) => return Err(invalid_prior("the recorded role sessions are not a list")),
    };
    let mut out = Vec::new();
    for r in list {
        let role = prior_field(r, "role", quell::finding::validate::iam_name)?;
        if let Some(why) = left_alone(&role) {
            return Err(invalid_prior(format!("role {role} is {why}")));
        }
        let policy = match &r["policy"] {
            serde_json::Value::Null => None,
            serde_json::Value::String(doc) => Some(doc.clone()),
            _ => {
                return Err(invalid_prior(format!(
                    "role {role}: the recorded policy is not a document"
                )))
            }
        };
        out.push((role, policy, r["recorded_at"].as_i64()));
    }
    Ok(out)
}

/// quell's revocation policy on `role` as it was before: the previous document put back, or the
/// policy removed when the role had none (iam:DeleteRolePolicy is in the undo role for this
/// only). The role's older sessions work again: a person decided so.
pub async fn put_back(
    iam: &aws_sdk_iam::Client,
    role: &str,
    before: Option<&str>,
    recorded_at: Option<i64>,
) -> Result<Step, AwsError> {
    if recorded_at.is_some() {
        let now = current(iam, role).await?;
        if let Some(later) = quell::policy::later_revocation(now.as_deref(), recorded_at) {
            return Ok(Step::new(
                    "manual",
                format!(
                    "role={role} policy={SESSIONS_POLICY} left as it is: a later revocation (sessions before {}) stands, and undoing this isolation does not take it back",
                    whole_seconds(&later)
                ),
            ));
        }
    }
    match before {
        Some(doc) => {
            iam.put_role_policy()
                .role_name(role)
                .policy_name(SESSIONS_POLICY)
                .policy_document(doc)
                .send()
                .await
                .aws(|| format!("could not put back policy {SESSIONS_POLICY} on role {role}"))?;
            Ok(Step::new(
                PUT,
                format!("role={role} policy={SESSIONS_POLICY} put back as it was"),
            ))
        }
        None => match iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(SESSIONS_POLICY)
            .send()
            .await
        {
            Ok(_) => Ok(Step::new(
                DELETE,
                format!("role={role} policy={SESSIONS_POLICY} removed: the role had none"),
            )),
            // The put had failed, or a person removed it since: as it was already.
            Err(e)
                if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") =>
            {
                Ok(Step::new(
                    DELETE,
                    format!("role={role} policy={SESSIONS_POLICY} already absent, as it was"),
                ))
            }
            Err(e) => {
                Err(e).aws(|| format!("could not delete policy {SESSIONS_POLICY} of role {role}"))
            }
        },
    }
}
