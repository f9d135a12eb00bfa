//! `iam-restrict-role-trust`: an IAM Access Analyzer finding says a role can be assumed from
//! outside the zone of trust (another account, a federated provider, or anyone). The principal
//! leaves the role's trust policy — a statement that trusts only it goes, a statement that also
//! trusts others loses only it — and every other statement is written back byte-for-byte (IAM
//! returns the policy URL-encoded; it is decoded first). If no statement would be left, the trust
//! policy becomes one statement that denies assuming the role to everyone: a role must keep a
//! valid trust policy, and an empty one is not.
//!
//! Breaking a cross-account integration is worse than most findings, so this remediation is
//! dry-run unless its mode is set to enforce, and its note says so. Principals trusted by
//! configuration (QUELL_TRUSTED_ACCOUNTS) are not touched: the finding is archived in Access
//! Analyzer with the reason.

use quell::config::ConfigError;
use quell::policy::{percent_decode, restricted};
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use s3_restrict_bucket_policy::{
    archive_if_known, check_analyzer_finding, trusted_accounts, trusted_reason, untrusted,
    AnalyzerFinding, Analyzers, UPDATE_FINDINGS,
};
use serde_json::{json, Value};

const UPDATE: &str = "iam:UpdateAssumeRolePolicy";

/// What a role trusts when every principal it trusted was outside the zone of trust.
pub const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"QuellNoTrustedPrincipalLeft","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithWebIdentity","sts:AssumeRoleWithSAML","sts:TagSession"]}]}"#;

#[derive(Debug, Clone, Default)]
pub struct IamRestrictRoleTrust {
    pub trusted_accounts: Vec<String>,
}

#[derive(Debug)]
pub struct Target {
    pub role: String,
    /// The principals the finding says can assume the role.
    pub principals: Vec<String>,
    pub analyzer: Option<AnalyzerFinding>,
    /// The trust policy last read (decoded), for the next step of the same run.
    read: Cached<String>,
}

impl Target {
    pub fn new(role: &str, principals: &[&str]) -> Target {
        Target {
            role: role.to_string(),
            principals: principals.iter().map(|p| p.to_string()).collect(),
            analyzer: None,
            read: Cached::default(),
        }
    }
}

pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub analyzer: Analyzers,
}

pub use quell::finding::validate::iam_name as valid_role_name;

/// The role's tags and its trust policy, decoded.
async fn read_role(iam: &aws_sdk_iam::Client, role: &str) -> Result<(Tags, String), AwsError> {
    let out = iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .aws(|| format!("could not read role {role}"))?;
    let r = out.role.ok_or_else(|| {
        AwsError::other(
            format!("could not read role {role}"),
            "NoSuchEntity",
            "GetRole returned no role",
            false,
        )
    })?;
    let tags = r
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let doc = percent_decode(r.assume_role_policy_document().unwrap_or_default());
    Ok((tags, doc))
}

impl IamRestrictRoleTrust {
    fn untrusted(&self, t: &Target) -> Vec<String> {
        untrusted(&t.principals, &self.trusted_accounts)
    }

    /// The trust policy the role should have, or `None` when it trusts none of the untrusted
    /// principals; and how many statements change.
    fn wanted(&self, t: &Target, doc: &str) -> Result<Option<(String, usize)>, AwsError> {
        let untrusted = self.untrusted(t);
        let (new, n) = restricted(doc, &untrusted).map_err(|e| {
            AwsError::other(
                format!("could not read the trust policy of role {}", t.role),
                "MalformedPolicy",
                e,
                false,
            )
        })?;
        Ok(new.map(|text| (text.unwrap_or_else(|| DENY_ALL.to_string()), n)))
    }

    async fn current(&self, c: &Clients, t: &Target) -> Result<String, AwsError> {
        if let Some(doc) = t.read.get() {
            t.read.clear();
            return Ok(doc);
        }
        Ok(read_role(&c.iam, &t.role).await?.1)
    }
}

impl Remediation for IamRestrictRoleTrust {
    const SPEC: Spec = Spec {
        id: "iam-restrict-role-trust",
        summary: "Removes from a role's trust policy the principals outside the zone of trust, keeping the rest byte-for-byte (dry-run unless enforced); archives trusted findings",
        resolved: "Access Analyzer AWS::IAM::Role: GetRole's URL-decoded trust policy has no Allow statement whose Principal (any key) names a finding principal not in QUELL_TRUSTED_ACCOUNTS (an account id matches its root and any ARN in it; conditions are not read). Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Dry-run by default: PLANNED/NOTIFIED until QUELL_MODE=enforce. When every finding principal is in QUELL_TRUSTED_ACCOUNTS it is EXEMPT (SUPPRESSED) and, in enforce, the Access Analyzer finding archived; ARCHIVED, RESOLVED or ERROR findings, or ones naming no principal, are NotApplicable. Other statements kept byte-for-byte, Deny ones untouched; if none would be left it writes a deny-all trust policy. A role tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT.",
        triggers: Triggers {
            access_analyzer: &["AWS::IAM::Role"],
            ..Triggers::NONE
        },
        permissions: &["iam:GetRole", UPDATE, UPDATE_FINDINGS],
        undo_permissions: &[],
        default_mode: Mode::DryRun,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            iam: aws_sdk_iam::Client::new(member.config()),
            analyzer: Analyzers::new(member),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.trusted_accounts = trusted_accounts(get)?.unwrap_or_default();
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        check_analyzer_finding(f)?;
        let r = f
            .resource(&ResourceKind::IamRole)
            .ok_or_else(|| NotApplicable("the finding names no role".into()))?;
        if !valid_role_name(&r.id) {
            return Err(NotApplicable(format!(
                "`{}` is not a role name",
                quell::finding::validate::tag_value(&r.id)
            )));
        }
        Ok(Target {
            role: r.id.clone(),
            principals: f.principals.clone(),
            analyzer: AnalyzerFinding::of(f),
            read: Cached::default(),
        })
    }

    fn describe(&self, t: &Target) -> String {
        format!("role {}", t.role)
    }

    fn exempt(&self, t: &Target) -> Option<String> {
        trusted_reason(&t.principals, &self.trusted_accounts)
    }

    async fn on_exempt(
        &self,
        c: &Clients,
        t: &Target,
        _reason: &str,
    ) -> Result<Option<String>, AwsError> {
        archive_if_known(&c.analyzer, t.analyzer.as_ref()).await
    }

    fn dry_run_reason(&self) -> String {
        "dry-run: iam-restrict-role-trust plans only unless its mode is set to enforce, because \
         removing a trusted principal breaks whatever integration assumes the role; confirm the \
         principal is unintended, then set QUELL_MODE=enforce (or the template's Mode parameter)"
            .into()
    }

    /// One GetRole gives the tags and the trust policy; the policy is kept for `plan`.
    async fn tags(&self, c: &Clients, t: &Target) -> Result<Tags, AwsError> {
        let (tags, doc) = read_role(&c.iam, &t.role).await?;
        t.read.set(doc);
        Ok(tags)
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        let doc = self.current(c, t).await?;
        let wanted = self.wanted(t, &doc)?;
        let Some((new, n)) = wanted else {
            return Ok(Vec::new());
        };
        let untrusted = self.untrusted(t).join(", ");
        let detail = if new == DENY_ALL {
            format!(
                "role={} every statement trusted only {untrusted}: the trust policy becomes one that denies assuming the role",
                t.role
            )
        } else {
            format!(
                "role={} {n} statements stop trusting {untrusted}; every other statement kept byte-for-byte",
                t.role
            )
        };
        // Kept for `apply`, which writes what was planned.
        t.read.set(doc);
        Ok(vec![Step::new(UPDATE, detail)])
    }

    async fn prior(&self, c: &Clients, t: &Target) -> Result<Option<Value>, AwsError> {
        let doc = match t.read.get() {
            Some(d) => d,
            None => read_role(&c.iam, &t.role).await?.1,
        };
        Ok(Some(json!({"role": t.role, "trust_policy": doc})))
    }

    async fn restore(&self, c: &Clients, prior: &Value) -> Result<Vec<Step>, AwsError> {
        let role = prior["role"].as_str().unwrap_or_default();
        let doc = prior["trust_policy"].as_str().unwrap_or_default();
        if !valid_role_name(role) || serde_json::from_str::<Value>(doc).is_err() {
            return Err(AwsError::other(
                "could not undo",
                "InvalidPriorState",
                format!("the recorded state of role `{role}` is not a role and a trust policy"),
                false,
            ));
        }
        c.iam
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(doc)
            .send()
            .await
            .aws(|| format!("could not put back the trust policy of role {role}"))?;
        Ok(vec![Step::new(
            UPDATE,
            format!("role={role} trust policy put back as it was"),
        )])
    }

    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        let doc = self.current(c, t).await?;
        let Some((new, _)) = self.wanted(t, &doc)? else {
            return Ok(());
        };
        c.iam
            .update_assume_role_policy()
            .role_name(&t.role)
            .policy_document(new)
            .send()
            .await
            .aws(|| format!("could not update the trust policy of role {}", t.role))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
