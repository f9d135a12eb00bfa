//! `guardduty-escalate`: no GuardDuty finding goes unanswered. Every documented finding type that
//! no quell containment takes (EKS and Kubernetes, Runtime Monitoring, RDS, ECS, S3 malware,
//! attack sequences, reconnaissance…) reaches this function, which changes nothing and
//! tells a person: the finding is NOTIFIED on Security Hub with a note naming the type, the
//! resource, the actor and what to do, and the same goes to the team's channel. Never RESOLVED,
//! never suppressed: a threat is a person's until it is contained.
//!
//! A brute-force finding (`UnauthorizedAccess:EC2/SSHBruteForce`, `/RDPBruteForce`) is this
//! function's when the instance is the TARGET; as the ACTOR, ec2-isolate-instance contains it, and
//! this function's rules do not take it.
//!
//! A credential threat (an IAMUser type, an S3 data event) is contained through its actor: an IAM
//! user's key by iam-disable-access-key, a role session by iam-revoke-role-sessions. Any other
//! actor — a federated user, an AWS service, an anonymous caller, or none named — is this
//! function's (`guardduty_other_actors`), so that no actor falls between them.

use quell::{
    AwsError, Finding, Member, Mode, NotApplicable, Remediation, Spec, Step, Tags, Triggers,
};

/// Every documented GuardDuty finding type no containment takes, as families (`Purpose:Resource/*`)
/// where none of the family is contained, and as single types otherwise. The routing test holds
/// this list, with the containments' lists, against GuardDuty's documented types.
pub const ESCALATED: &[&str] = &[
    "AttackSequence:EC2/*",
    "AttackSequence:ECS/*",
    "AttackSequence:EKS/*",
    "AttackSequence:IAM/*",
    "AttackSequence:S3/*",
    "Backdoor:Runtime/*",
    "Behavior:EC2/*",
    "CredentialAccess:EC2/*",
    "CredentialAccess:Kubernetes/*",
    "CredentialAccess:RDS/*",
    "CryptoCurrency:Runtime/*",
    "DefenseEvasion:EC2/*",
    "DefenseEvasion:Kubernetes/*",
    "DefenseEvasion:Runtime/*",
    "DefenseImpairment:EC2/*",
    "DefenseImpairment:Organizations/*",
    "Discovery:Kubernetes/*",
    "Discovery:RDS/*",
    "Discovery:Runtime/*",
    "Execution:Container/*",
    "Execution:EC2/*",
    "Execution:ECS/*",
    "Execution:Kubernetes/*",
    "Execution:Runtime/*",
    "Execution:S3/*",
    "Impact:Kubernetes/*",
    "Impact:Runtime/*",
    "Object:S3/*",
    "Persistence:Kubernetes/*",
    "Persistence:Runtime/*",
    "Policy:Kubernetes/*",
    "Policy:S3/AccountBlockPublicAccessDisabled",
    "PrivilegeEscalation:Kubernetes/*",
    "PrivilegeEscalation:Runtime/*",
    "Recon:EC2/*",
    "Trojan:Runtime/*",
    "UnauthorizedAccess:Runtime/*",
];

#[derive(Debug, Default, Clone, Copy)]
pub struct GuarddutyEscalate;

/// What the escalation is about, from the trusted finding alone.
#[derive(Debug)]
pub struct Threat {
    pub kind: String,
    /// The resource GuardDuty names (`EKSCluster prod`, `instance i-…`, `key AKIA…`).
    pub subject: String,
    /// The credential or principal that acted, where GuardDuty says.
    pub actor: Option<String>,
    pub severity: String,
}

/// What a person should do, by the finding type's resource family.
pub fn advice(kind: &str) -> &'static str {
    let family = kind
        .split_once(':')
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .unwrap_or_default();
    if kind.starts_with("AttackSequence:") {
        return "an attack sequence joins several signals: open it in GuardDuty, contain each resource and credential it names, then look for what came before the first signal";
    }
    match family {
        "Kubernetes" | "EKS" => "read the cluster's audit log for the user and workload named; cordon the node, isolate or delete the pod (a deny-all NetworkPolicy), and rotate the credentials it used",
        "Runtime" => "look at the process and container Runtime Monitoring names; isolate the host (the \"Isolate instance\" custom action for an EC2 instance) or stop the task, kill the process, rotate the credentials on it",
        "Lambda" => "look at the function's recent code and configuration changes and its network calls; set its reserved concurrency to 0 to stop it, then put back a known-good version",
        "RDS" => "look at the database's logins for the user named; reset that user's password, narrow the instance's security groups, and check what was read",
        "ECS" | "Container" => "stop the task named, look at its image and its task role, and rotate the role's credentials",
        "S3" => "look at who made the calls (the access key and principal named): deactivate the key or revoke the role's sessions, and read the bucket's access logs for what was read or changed",
        "EC2" => "look at the instance's traffic and processes; if it is compromised, isolate it (the \"Isolate instance\" custom action)",
        "IAMUser" | "IAM" => "look at the principal's CloudTrail activity; deactivate its keys or revoke its sessions, and undo what it changed",
        "Organizations" => "look at the organization change and who made it (CloudTrail in the management account), and put it back",
        _ => "read the finding in GuardDuty and contain the resource it names",
    }
}

impl Remediation for GuarddutyEscalate {
    const SPEC: Spec = Spec {
        id: "guardduty-escalate",
        summary: "Escalates to a person every GuardDuty finding type quell has no containment for (EKS, Runtime, RDS, ECS, S3 malware, attack sequences), and every credential threat whose actor no containment takes (a federated user, an AWS service, an anonymous caller): NOTIFIED with the resource, actor and what to do",
        resolved: "Never: an escalation is NOTIFIED (PLANNED, notify-only) with the type, the resource GuardDuty names, the actor where it names one, the severity and what a person should do; the finding stays a person's.",
        untouched: "Changes nothing and calls nothing in the member account. A brute-force finding whose instance is the ACTOR is ec2-isolate-instance's (its rules do not take it). Never suppresses: an exemption tag does not apply (no resource is read).",
        triggers: Triggers {
            guardduty: ESCALATED,
            // ec2-isolate-instance contains these when the instance is the ACTOR.
            guardduty_target_only: quell::routing::ACTOR_CONTAINED,
            // A credential threat whose actor no containment takes: a federated user, an AWS
            // service, an anonymous caller, or none named.
            guardduty_other_actors: quell::routing::CREDENTIAL_THREATS,
            ..Triggers::NONE
        },
        permissions: &[],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Threat;
    type Clients = ();

    fn clients(&self, _member: &Member) {}

    fn target(&self, f: &Finding) -> Result<Threat, NotApplicable> {
        let subject = f
            .subject
            .clone()
            .or_else(|| f.resources.first().map(|r| format!("{} {}", r.kind, r.id)))
            .unwrap_or_else(|| format!("account {}", f.account));
        let actor = f.principal.as_ref().map(|p| {
            let who: String = p
                .user_name
                .as_deref()
                .or(p.principal_id.as_deref())
                .unwrap_or("?")
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect();
            match (&p.user_type, &p.access_key_id) {
                (Some(t), Some(k)) => format!("{t} {who} (key {k})"),
                (Some(t), None) => format!("{t} {who}"),
                (None, Some(k)) => format!("{who} (key {k})"),
                (None, None) => who.to_string(),
            }
        });
        Ok(Threat {
            kind: f.kind.clone(),
            subject,
            actor,
            severity: format!("{:?}", f.severity).to_uppercase(),
        })
    }

    fn describe(&self, t: &Threat) -> String {
        t.subject.clone()
    }

    async fn tags(&self, _c: &(), _t: &Threat) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(&self, _c: &(), t: &Threat) -> Result<Vec<Step>, AwsError> {
        let actor = t
            .actor
            .as_deref()
            .map(|a| format!("; actor {a}"))
            .unwrap_or_default();
        // The kind and the resource are in the note already (the reason, the target): the step
        // is what to do, first, so that Security Hub's 512 characters keep it.
        Ok(vec![Step::new(
            "escalate",
            format!("{} (severity {}{actor})", advice(&t.kind), t.severity),
        )])
    }

    fn plan_only(&self, t: &Threat) -> Option<String> {
        let credential = quell::routing::CREDENTIAL_THREATS.iter().any(|d| {
            d.strip_suffix('*')
                .map_or(*d == t.kind, |p| t.kind.starts_with(p))
        });
        Some(if credential {
            format!(
                "quell contains {} only when the actor is an IAM user's key or a role's session; this actor ({}) is neither: a person must act",
                t.kind,
                t.actor.as_deref().unwrap_or("none named")
            )
        } else {
            format!("quell has no containment for {}: a person must act", t.kind)
        })
    }

    async fn apply(&self, _c: &(), _t: &Threat, _steps: &[Step]) -> Result<(), AwsError> {
        // Never reached: every target is plan-only.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_family_gets_its_own_advice() {
        assert!(advice("PrivilegeEscalation:Kubernetes/PrivilegedContainer").contains("cluster"));
        assert!(advice("Execution:Runtime/NewBinaryExecuted").contains("Runtime Monitoring"));
        assert!(advice("Backdoor:Lambda/C&CActivity.B").contains("reserved concurrency"));
        assert!(
            advice("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin").contains("database")
        );
        assert!(advice("AttackSequence:S3/CompromisedData").contains("attack sequence"));
        assert!(advice("Exfiltration:S3/AnomalousBehavior").contains("access key"));
        assert!(advice("Something:Unknown/New").contains("GuardDuty"));
    }
}
