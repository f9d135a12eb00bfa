//! `iam-revoke-role-sessions`: a role's temporary credentials were stolen. An inline policy denies
//! everything to sessions issued before now (`aws:TokenIssueTime`), the console's "revoke active
//! sessions": the stolen credentials stop working, new legitimate sessions keep working.
//!
//! A finding below QUELL_SESSION_MIN_SEVERITY is planned, not acted on. An IAM Identity Center
//! role (`AWSReservedSSO_…`) is Identity Center's: IAM refuses an inline policy on it, and the
//! sessions are revoked in Identity Center, so a person is told how, and nothing is written.

use std::time::SystemTime;

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use quell::config::ConfigError;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, Severity, Source,
    Spec, Step, Tags, Triggers,
};

/// The one inline policy quell keeps on a role: replaced, never stacked.
pub use quell::policy::ROLE_SESSIONS_POLICY as POLICY_NAME;
const PUT: &str = "iam:PutRolePolicy";
const DELETE: &str = "iam:DeleteRolePolicy";

#[derive(Debug, Clone)]
pub struct IamRevokeRoleSessions {
    /// quell's own member role: revoking its sessions would lock quell out.
    pub protected_role: String,
    /// Findings below this severity are planned, not acted on.
    pub min_severity: Severity,
}

impl Default for IamRevokeRoleSessions {
    fn default() -> Self {
        IamRevokeRoleSessions {
            protected_role: "quell-remediation".into(),
            // As iam-disable-access-key: most credential findings are MEDIUM, and a revocation
            // only cuts off sessions issued before now (new ones keep working).
            min_severity: Severity::Medium,
        }
    }
}

/// IAM Identity Center's permission-set roles.
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub role: String,
    /// Sessions issued before this instant are the ones that may be stolen.
    pub compromised_at: DateTime,
    /// The finding's severity, held against `min_severity`.
    pub severity: Severity,
    /// When GuardDuty says the calls came from another account: that account, and the role id
    /// (`AROA…`) of the session that made them. The role here is only touched if it is that role.
    pub caller: Option<(String, String)>,
}

impl Remediation for IamRevokeRoleSessions {
    const SPEC: Spec = Spec {
        id: "iam-revoke-role-sessions",
        summary: "Denies everything to a role's sessions issued before now (aws:TokenIssueTime), revoking stolen temporary credentials",
        resolved: "GuardDuty credential threats (every IAMUser type, and the S3 types whose actor is a key: Discovery, Exfiltration, Impact, PenTest, Stealth, UnauthorizedAccess :S3/*) with userType AssumedRole: GetRolePolicy quell-revoke-older-sessions on the role holds a DateLessThan aws:TokenIssueTime cut-off at or after the finding's updatedAt (capped at now). Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Escalates without writing (NotApplicable, NOTIFIED) for quell's own roles (every quell-<function> role, quell-undo, and the last segment of QUELL_MEMBER_ROLE), AWSServiceRole* roles and IAM Identity Center AWSReservedSSO_* roles. Below QUELL_SESSION_MIN_SEVERITY (MEDIUM) it only plans (PLANNED/NOTIFIED). When GuardDuty names another account as the caller (remoteAccountDetails), the role is revoked only if GetRole's RoleId is the session's (this account's credentials used elsewhere); a role that merely shares the name is left (FAILED, NOTIFIED, naming the account). Sessions issued after the cut-off and the role's other policies and trust are untouched. A role tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (NOTIFIED). Default enforce.",
        triggers: Triggers {
            // Every credential threat (IAMUser types, S3 data events) whose actor is a role session.
            guardduty: quell::routing::CREDENTIAL_THREATS,
            guardduty_user_types: &["AssumedRole"],
            ..Triggers::NONE
        },
        // DeleteRolePolicy only for undo, when the role had no revocation policy before.
        // GetRole only when GuardDuty says the calls came from another account.
        permissions: &["iam:ListRoleTags", "iam:GetRolePolicy", "iam:GetRole", PUT],
        undo_permissions: &[DELETE],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_iam::Client;

    fn clients(&self, member: &Member) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(role) = get("QUELL_MEMBER_ROLE").filter(|r| !r.trim().is_empty()) {
            self.protected_role = role.rsplit('/').next().unwrap_or(&role).trim().to_string();
        }
        if let Some(v) = get("QUELL_SESSION_MIN_SEVERITY").filter(|v| !v.trim().is_empty()) {
            self.min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: "QUELL_SESSION_MIN_SEVERITY",
                reason: format!("`{v}` is not LOW, MEDIUM, HIGH or CRITICAL"),
            })?;
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        if f.source != Source::GuardDuty {
            return Err(NotApplicable(format!(
                "{} findings name no role session",
                f.source
            )));
        }
        let p = f
            .principal
            .as_ref()
            .ok_or_else(|| NotApplicable("the finding has no accessKeyDetails".into()))?;
        if p.user_type.as_deref() != Some("AssumedRole") {
            return Err(NotApplicable("the credentials are not a role's".into()));
        }
        let role = p.user_name.clone().unwrap_or_default();
        let valid = (1..=64).contains(&role.len())
            && role
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !valid {
            return Err(NotApplicable(format!("`{role}` is not a role name")));
        }
        // quell's own roles (every function's `quell-<id>` and `quell-undo`, whatever
        // QUELL_MEMBER_ROLE says) and service-linked roles are a person's to rotate.
        if role == self.protected_role
            || quell::member::is_quell_role_name(&role)
            || role.starts_with("AWSServiceRole")
        {
            return Err(NotApplicable(format!(
                "escalated: role {role} is quell's own or a service-linked role; a person must rotate it"
            )));
        }
        if role.starts_with(SSO_ROLE_PREFIX) {
            // Identity Center owns the role (path /aws-reserved/sso.amazonaws.com/): IAM refuses
            // changes to it, and Identity Center would put it back at the next provisioning.
            let who = p
                .principal_id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map(|(_, session)| session)
                .filter(|s| {
                    (1..=128).contains(&s.len())
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
                })
                .map(|s| format!("user {s}"))
                .unwrap_or_else(|| "the user".into());
            return Err(NotApplicable(format!(
                "escalated: role {role} is an IAM Identity Center permission-set role, which quell cannot change. \
                 A person must, in IAM Identity Center, disable {who} or remove their assignment, delete their active sessions, \
                 and deny their aws:userid in the permission set until the role credentials expire"
            )));
        }
        // Never later than now: a clock ahead of ours must not make the fix unverifiable.
        let now = DateTime::from(SystemTime::now());
        let compromised_at = f
            .observed_at
            .as_deref()
            .and_then(|t| DateTime::from_str(t, Format::DateTime).ok())
            .filter(|t| t.secs() <= now.secs())
            .unwrap_or(now);
        let caller = p
            .caller_account
            .clone()
            .filter(|a| *a != f.account)
            .map(|a| {
                let id = p
                    .principal_id
                    .as_deref()
                    .and_then(|id| id.split(':').next())
                    .unwrap_or_default()
                    .to_string();
                (a, id)
            });
        Ok(Target {
            role,
            compromised_at,
            severity: f.severity,
            caller,
        })
    }

    fn describe(&self, t: &Target) -> String {
        format!("role {}", t.role)
    }

    async fn tags(&self, iam: &aws_sdk_iam::Client, t: &Target) -> Result<Tags, AwsError> {
        let out = iam
            .list_role_tags()
            .role_name(&t.role)
            .send()
            .await
            .aws(|| format!("could not read the tags of role {}", t.role))?;
        Ok(out.tags.into_iter().map(|t| (t.key, t.value)).collect())
    }

    async fn plan(&self, iam: &aws_sdk_iam::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        if let Some((account, role_id)) = &t.caller {
            // Called from another account: a role of the same name here is not proof. Only the
            // role whose id GuardDuty names (this account's credentials used from elsewhere, as
            // InstanceCredentialExfiltration.InsideAWS says) is the one whose sessions acted.
            let here = iam
                .get_role()
                .role_name(&t.role)
                .send()
                .await
                .aws(|| format!("could not read the id of role {}", t.role))?
                .role
                .map(|r| r.role_id);
            if here.as_deref() != Some(role_id.as_str()) || role_id.is_empty() {
                return Err(AwsError::other(
                    format!("left role {}", t.role),
                    "NotTheCaller",
                    format!(
                        "the calls came from account {account}, by a session of role id {}; role {} here is not that role, and is left as it is. Revoke the sessions in that account",
                        if role_id.is_empty() { "unknown" } else { role_id },
                        t.role
                    ),
                    false,
                ));
            }
        }
        let current = existing(iam, &t.role).await?.as_deref().and_then(cutoff);
        if current.is_some_and(|c| c.secs() >= t.compromised_at.secs()) {
            return Ok(Vec::new());
        }
        Ok(vec![Step::new(
            PUT,
            format!(
                "role={} policy={POLICY_NAME} deny * to sessions issued before now (aws:TokenIssueTime; the theft was seen at {}{})",
                t.role,
                fmt(&t.compromised_at),
                current.map(|c| format!("; the cut-off moves from {}", fmt(&c))).unwrap_or_default()
            ),
        )])
    }

    fn plan_only(&self, t: &Target) -> Option<String> {
        (t.severity < self.min_severity).then(|| {
            format!(
                "severity {} is below QUELL_SESSION_MIN_SEVERITY {}: planned, not applied",
                t.severity.label(),
                self.min_severity.label()
            )
        })
    }

    async fn prior(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let doc = existing(iam, &t.role).await?;
        Ok(Some(serde_json::json!({
            "role": t.role,
            "policy": doc,
            "recorded_at": quell::policy::epoch_now(),
        })))
    }

    /// quell's policy as it was before, or removed when the role had none (iam:DeleteRolePolicy
    /// is in the member role for this only). Stolen sessions work again: a person decided so.
    async fn restore(
        &self,
        iam: &aws_sdk_iam::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let role = quell::remediation::prior_field(prior, "role", valid_role_name)?;
        // A later revocation (another finding's, an isolation's) stands: its sessions may be
        // stolen too. Records from before this check have no time and are put back as they are.
        if let Some(at) = prior["recorded_at"].as_i64() {
            let now = existing(iam, &role).await?;
            if let Some(later) = quell::policy::later_revocation(now.as_deref(), Some(at)) {
                return Ok(vec![Step::new(
                    "manual",
                    format!(
                        "role={role} policy={POLICY_NAME} left as it is: a later revocation (sessions before {}) stands, and undoing this one does not take it back",
                        fmt(&later)
                    ),
                )]);
            }
        }
        match prior["policy"].as_str() {
            Some(doc) => {
                iam.put_role_policy()
                    .role_name(&role)
                    .policy_name(POLICY_NAME)
                    .policy_document(doc)
                    .send()
                    .await
                    .aws(|| format!("could not put back policy {POLICY_NAME} on role {role}"))?;
                Ok(vec![Step::new(
                    PUT,
                    format!("role={role} policy={POLICY_NAME} put back as it was"),
                )])
            }
            None => {
                iam.delete_role_policy()
                    .role_name(&role)
                    .policy_name(POLICY_NAME)
                    .send()
                    .await
                    .aws(|| format!("could not delete policy {POLICY_NAME} of role {role}"))?;
                Ok(vec![Step::new(
                    DELETE,
                    format!("role={role} policy={POLICY_NAME} removed: the role had none"),
                )])
            }
        }
    }

    async fn apply(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let now = DateTime::from(SystemTime::now());
        iam.put_role_policy()
            .role_name(&t.role)
            .policy_name(POLICY_NAME)
            .policy_document(policy(&now).to_string())
            .send()
            .await
            .aws(|| format!("could not put policy {POLICY_NAME} on role {}", t.role))?;
        Ok(())
    }
}

/// quell's revocation policy on the role, decoded; `None` when there is none.
async fn existing(iam: &aws_sdk_iam::Client, role: &str) -> Result<Option<String>, AwsError> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Ok(Some(percent_decode(&out.policy_document))),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read policy {POLICY_NAME} of role {role}")),
    }
}

use quell::finding::validate::iam_name as valid_role_name;

/// The policy the console's "revoke active sessions" writes, with quell's name.
pub fn policy(cutoff: &DateTime) -> serde_json::Value {
    quell::policy::revoke_role_sessions(cutoff)
}

/// The cut-off in a policy quell wrote, if it is one.
pub use quell::policy::sessions_cutoff as cutoff;
use quell::policy::whole_seconds as fmt;

/// IAM returns policy documents URL-encoded (RFC 3986).
pub use quell::policy::percent_decode;

#[cfg(test)]
mod tests;
