//! `iam-disable-access-key`: a leaked or misused long-term access key is set Inactive — never
//! deleted, so it can be examined and restored — and its user tagged with the finding.
//!
//! A user's temporary key (`ASIA…`, from GetSessionToken) is not in ListAccessKeys and cannot be
//! deactivated: the user's sessions issued before now are denied instead (an inline policy on
//! `aws:TokenIssueTime`, as iam-revoke-role-sessions does for roles). The user's long-term keys
//! and the sessions started after it keep working. A role session's key is
//! iam-revoke-role-sessions' business, and said so (UNCONFIRMED), never RESOLVED.
//!
//! A console password unused as long (IAM.8, IAM.22, iam-user-unused-credentials-check fail for
//! it too; counted from its last use, else from its login profile's creation) is deleted with its
//! login profile (iam:DeleteLoginProfile), a step of the same plan as the keys, and RESOLVED only
//! once GetLoginProfile says NoSuchEntity. Undo cannot give that password back: IAM never returns
//! one. It makes the login profile again with a fresh random password that is never logged,
//! returned or recorded, to be reset at sign-in: the login profile is back, and a person must set
//! the password (`aws iam update-login-profile`). With QUELL_DELETE_UNUSED_PASSWORDS=false the
//! password is only read and reported: UNCONFIRMED (NOTIFIED), never ALREADY_COMPLIANT or
//! RESOLVED, also when keys were deactivated in the same run.
//!
//! Safe defaults: a key the rotation rule (IAM.3, access-keys-rotated) flags but that was used
//! within QUELL_KEY_IN_USE_DAYS is something's production credential, so it is planned, not
//! deactivated; a GuardDuty finding below QUELL_KEY_MIN_SEVERITY is planned, not acted on.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::{StatusType, Tag};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use quell::config::ConfigError;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Severity, Source, Spec, Step, Tags, Triggers,
};

const UPDATE: &str = "iam:UpdateAccessKey";
const TAG: &str = "iam:TagUser";
const PUT_POLICY: &str = "iam:PutUserPolicy";
const DELETE_POLICY: &str = "iam:DeleteUserPolicy";
const GET_LOGIN_PROFILE: &str = "iam:GetLoginProfile";
const DELETE_LOGIN_PROFILE: &str = "iam:DeleteLoginProfile";
const CREATE_LOGIN_PROFILE: &str = "iam:CreateLoginProfile";
/// The tag that ties a deactivated key's user to the finding.
pub const FINDING_TAG: &str = "quell:finding";
/// The one inline policy quell keeps on a user whose temporary credentials were stolen: replaced,
/// never stacked. (iam-revoke-role-sessions keeps `quell-revoke-older-sessions` on roles.)
pub const SESSIONS_POLICY: &str = "quell-revoke-older-user-sessions";
/// The inline policy that contains a user a GuardDuty finding at or over
/// QUELL_CONTAIN_USER_MIN_SEVERITY names: everything denied, to its keys and every session of its.
pub const CONTAIN_POLICY: &str = "quell-contain-user";

/// The containment policy's document: deny everything. A user's policies govern its
/// GetSessionToken sessions too, so this also ends the sessions it already has.
pub fn contain_policy() -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "QuellContainUser", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    })
}

#[derive(Debug, Clone)]
pub struct IamDisableAccessKey {
    /// Config access-keys-rotated / IAM.3: keys older than this are deactivated.
    pub max_key_age_days: u64,
    /// iam-user-unused-credentials-check / IAM.8: keys unused this long are deactivated.
    pub unused_days: u64,
    /// IAM.22: keys unused this long are deactivated.
    pub unused_days_iam22: u64,
    /// Rotation findings: a key used within this many days is in production use, and is planned
    /// instead of deactivated.
    pub in_use_days: u64,
    /// GuardDuty findings below this severity are planned, not acted on.
    pub min_severity: Severity,
    /// GuardDuty findings at or over this severity contain the user, as AWSSupport-ContainIAMPrincipal
    /// does: every active key deactivated, its console password (login profile) deleted, and a
    /// deny-all inline policy; below it, only the named key is deactivated.
    pub contain_min_severity: Severity,
    /// IAM.8, IAM.22, iam-user-unused-credentials-check: a console password unused over the
    /// rule's days is deleted (its login profile); `false`: read and reported (UNCONFIRMED).
    pub delete_unused_passwords: bool,
}

impl Default for IamDisableAccessKey {
    fn default() -> Self {
        IamDisableAccessKey {
            max_key_age_days: 90,
            unused_days: 90,
            unused_days_iam22: 45,
            in_use_days: 7,
            // GuardDuty's credential findings are mostly MEDIUM (MaliciousIPCaller, anomalous
            // behavior): HIGH would leave most stolen keys working. LOW ones (blocked attempts,
            // policy changes) are planned for a person.
            min_severity: Severity::Medium,
            contain_min_severity: Severity::High,
            delete_unused_passwords: true,
        }
    }
}

/// Who the user is: a name, or the `AIDA…` id Config reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    Name(String),
    Id(String),
}

/// Which keys break the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The key a GuardDuty finding names.
    Key(String),
    /// Every active key older than this many days.
    OlderThan(u64),
    /// Every active key not used (or, never used, created) within this many days.
    UnusedFor(u64),
    /// A temporary key (`ASIA…`) of the user's, seen misused at `since`: the user's sessions
    /// issued before then are denied.
    Sessions { key: String, since: DateTime },
    /// A temporary key of a role's session: not a user's key; iam-revoke-role-sessions' business.
    RoleSession { role: String, key: String },
}

/// What `plan` read, for `plan_only` and `unchecked`; every plan replaces it.
#[derive(Debug, Clone, Default)]
struct Read {
    /// Keys the rule flags that were used within `in_use_days` (rotation findings only).
    in_use: Vec<String>,
    /// Whether the key the finding names is among its user's keys, active or not.
    named_listed: bool,
    /// `UnusedFor` only: the user's console password, when unused over the rule's days (`None`:
    /// no password, or one in use). Deleted with `delete_unused_passwords`, reported without.
    /// A contained user's password, whatever its use, to be deleted.
    unused_password: Option<IdlePassword>,
    /// A contained user: the containment policy as it was before (`None`: none).
    contain_policy_was: Option<String>,
}

/// A console password unused over a rule's days, and what `prior` records of its login profile
/// (IAM never returns the password itself).
#[derive(Debug, Clone)]
struct IdlePassword {
    idle: u64,
    created: DateTime,
    reset_required: bool,
}

#[derive(Debug)]
pub struct Target {
    pub user: Option<User>,
    pub rule: Rule,
    pub finding: String,
    /// A GuardDuty finding's severity, held against `min_severity`.
    pub severity: Option<Severity>,
    /// A rotation finding (IAM.3, access-keys-rotated): keys in daily use are planned only.
    pub rotation: bool,
    /// The user's name once looked up, so one finding lists users at most once.
    pub resolved: OnceLock<String>,
    /// A GuardDuty finding at or over `contain_min_severity`: the whole user is contained.
    pub contain: bool,
    /// The principal id GuardDuty names (an IAM user's `AIDA…` id): proves the user is the one
    /// that acted when the finding's key is no longer among its keys.
    pub principal_id: Option<String>,
    /// The account the calls came from, where GuardDuty says it is another than the finding's.
    pub caller_account: Option<String>,
    read: Cached<Read>,
}

impl PartialEq for Target {
    fn eq(&self, o: &Self) -> bool {
        self.user == o.user
            && self.rule == o.rule
            && self.finding == o.finding
            && self.severity == o.severity
            && self.rotation == o.rotation
    }
}

impl Eq for Target {}

impl Target {
    pub fn new(user: Option<User>, rule: Rule, finding: String) -> Self {
        Target {
            user,
            rotation: matches!(rule, Rule::OlderThan(_)),
            rule,
            finding,
            severity: None,
            resolved: OnceLock::new(),
            contain: false,
            principal_id: None,
            caller_account: None,
            read: Cached::default(),
        }
    }

    fn last_read(&self) -> Read {
        self.read.get().unwrap_or_default()
    }
}

fn age_days(t: &aws_smithy_types::DateTime) -> u64 {
    let then = SystemTime::try_from(*t).unwrap_or(SystemTime::UNIX_EPOCH);
    SystemTime::now()
        .duration_since(then)
        .unwrap_or(Duration::ZERO)
        .as_secs()
        / 86_400
}

use quell::finding::validate::iam_name as valid_user_name;

fn valid_key_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn days(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or(ConfigError {
                var,
                reason: format!("`{v}` is not a number of days from 1 to 3650"),
            }),
    }
}

/// When the finding saw the key misused, never later than now: a clock ahead of ours must not
/// make the fix unverifiable.
fn seen_at(f: &Finding) -> DateTime {
    let now = DateTime::from(SystemTime::now());
    f.observed_at
        .as_deref()
        .and_then(|t| DateTime::from_str(t, Format::DateTime).ok())
        .filter(|t| t.secs() <= now.secs())
        .unwrap_or(now)
}

impl Remediation for IamDisableAccessKey {
    const SPEC: Spec = Spec {
        id: "iam-disable-access-key",
        summary: "Deactivates (never deletes) a leaked, misused, stale or unused IAM user access key, deletes an unused console password, tags the user; contains a user a HIGH GuardDuty finding names (every key, console access, deny-all)",
        resolved: "GuardDuty credential threats (every IAMUser type, and the S3 types whose actor is a key: Discovery, Exfiltration, Impact, PenTest, Stealth, UnauthorizedAccess :S3/*) with userType IAMUser, at or over QUELL_CONTAIN_USER_MIN_SEVERITY (HIGH), the user contained: ListAccessKeys lists no Active key, GetLoginProfile says NoSuchEntity, and GetUserPolicy quell-contain-user is Deny * on *; below it: ListAccessKeys lists the named key, not Active; an ASIA key: GetUserPolicy quell-revoke-older-user-sessions cut-off (aws:TokenIssueTime) at or after the finding's time. IAM.3, access-keys-rotated: no Active key older than QUELL_KEY_MAX_AGE_DAYS (90); IAM.8, iam-user-unused-credentials-check: no Active key unused (last used, else created) over QUELL_KEY_UNUSED_DAYS (90), and no console password unused (GetUser PasswordLastUsed, else the login profile's creation) over it: one that was is deleted, and GetLoginProfile re-read says NoSuchEntity; IAM.22: over QUELL_KEY_UNUSED_DAYS_IAM22 (45); a finding naming a key: that key not Active. UNCONFIRMED: named key not among the user's keys, an AssumedRole key, or, with QUELL_DELETE_UNUSED_PASSWORDS=false, a console password unused over the days (also when keys were deactivated in the same run: the change stands, the finding is not said to be gone).",
        untouched: "Never deletes a key (Inactive only) and, below QUELL_CONTAIN_USER_MIN_SEVERITY, leaves long-term keys alone for a stolen ASIA key. A console password is deleted (its login profile) only when unused over the days, never changed or reset; undo makes the login profile again but cannot give the old password back (IAM never returns it): it sets a new random one, never logged or recorded, to be reset at sign-in, and a person must set the password. QUELL_DELETE_UNUSED_PASSWORDS=false reports an unused password for a person instead. Root credentials (userType Root) are escalated, not acted on (NotApplicable). A contained user (a GuardDuty finding at or over QUELL_CONTAIN_USER_MIN_SEVERITY, HIGH) loses every key, its console access and everything else (inline quell-contain-user, Deny * on *, which also ends its GetSessionToken and GetFederationToken sessions, but not role sessions it already assumed: those are iam-revoke-role-sessions'); its groups, attached policies and the user itself are left; undo reactivates the keys, makes a login profile with a new password to be reset, and removes the policy (or puts back the one it had). Plans only (PLANNED/NOTIFIED) when a GuardDuty finding is below QUELL_KEY_MIN_SEVERITY (MEDIUM) or a rotation finding's key was used within QUELL_KEY_IN_USE_DAYS (7). A user tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Default enforce.",
        triggers: Triggers {
            // Every credential threat (IAMUser types, S3 data events) whose actor is a user.
            guardduty: quell::routing::CREDENTIAL_THREATS,
            guardduty_user_types: &["IAMUser", "Root"],
            config_rules: &["access-keys-rotated", "iam-user-unused-credentials-check"],
            securityhub_controls: &["IAM.3", "IAM.8", "IAM.22"],
            ..Triggers::NONE
        },
        permissions: &[
            "iam:ListUsers",
            "iam:ListUserTags",
            "iam:ListAccessKeys",
            "iam:GetAccessKeyLastUsed",
            // IAM.8, IAM.22, iam-user-unused-credentials-check: the console password's last use;
            // one unused over the days is deleted (QUELL_DELETE_UNUSED_PASSWORDS).
            GET_LOGIN_PROFILE,
            "iam:GetUser",
            DELETE_LOGIN_PROFILE,
            UPDATE,
            TAG,
            "iam:GetUserPolicy",
            PUT_POLICY,
        ],
        // Only for undo: DeleteUserPolicy when the user had no session policy of quell's before;
        // CreateLoginProfile to give console access back after a password was deleted.
        undo_permissions: &[DELETE_POLICY, CREATE_LOGIN_PROFILE],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_iam::Client;

    fn clients(&self, member: &Member) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.max_key_age_days = days(get, "QUELL_KEY_MAX_AGE_DAYS", self.max_key_age_days)?;
        self.unused_days = days(get, "QUELL_KEY_UNUSED_DAYS", self.unused_days)?;
        self.unused_days_iam22 = days(get, "QUELL_KEY_UNUSED_DAYS_IAM22", self.unused_days_iam22)?;
        self.in_use_days = days(get, "QUELL_KEY_IN_USE_DAYS", self.in_use_days)?;
        if let Some(v) = get("QUELL_KEY_MIN_SEVERITY").filter(|v| !v.trim().is_empty()) {
            self.min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: "QUELL_KEY_MIN_SEVERITY",
                reason: format!("`{v}` is not LOW, MEDIUM, HIGH or CRITICAL"),
            })?;
        }
        if let Some(v) = get("QUELL_CONTAIN_USER_MIN_SEVERITY").filter(|v| !v.trim().is_empty()) {
            self.contain_min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: "QUELL_CONTAIN_USER_MIN_SEVERITY",
                reason: format!("`{v}` is not LOW, MEDIUM, HIGH or CRITICAL"),
            })?;
        }
        if let Some(v) = get("QUELL_DELETE_UNUSED_PASSWORDS").filter(|v| !v.trim().is_empty()) {
            self.delete_unused_passwords = match v.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(ConfigError {
                        var: "QUELL_DELETE_UNUSED_PASSWORDS",
                        reason: format!("`{other}` is neither true nor false"),
                    })
                }
            };
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let finding = f.id.clone();
        match f.source {
            Source::GuardDuty => {
                let p = f
                    .principal
                    .as_ref()
                    .ok_or_else(|| NotApplicable("the finding has no accessKeyDetails".into()))?;
                if p.user_type.as_deref() == Some("Root") {
                    return Err(NotApplicable(
                        "escalated: the root user's credentials were used, and no API can remediate them. \
                         A person must sign in as root, rotate its password, delete any root access keys, \
                         check its MFA device and review CloudTrail for the calls made"
                            .into(),
                    ));
                }
                let key = p
                    .access_key_id
                    .clone()
                    .filter(|k| valid_key_id(k))
                    .ok_or_else(|| {
                        NotApplicable(format!(
                            "`{}` is not an access key id",
                            p.access_key_id.as_deref().unwrap_or("")
                        ))
                    })?;
                let name = p.user_name.clone().filter(|u| valid_user_name(u));
                let rule = if p.user_type.as_deref() == Some("AssumedRole") {
                    let role = name.clone().ok_or_else(|| {
                        NotApplicable(format!("temporary key {key} names no valid role"))
                    })?;
                    Rule::RoleSession { role, key }
                } else if key.starts_with("ASIA") {
                    // A session of the user's (GetSessionToken): ListAccessKeys never shows it.
                    if name.is_none() {
                        return Err(NotApplicable(format!(
                            "temporary key {key} names no IAM user: quell cannot tell whose sessions to revoke"
                        )));
                    }
                    Rule::Sessions {
                        key,
                        since: seen_at(f),
                    }
                } else {
                    Rule::Key(key)
                };
                let user = match rule {
                    Rule::RoleSession { .. } => None,
                    _ => name.map(User::Name),
                };
                let contain = matches!(rule, Rule::Key(_) | Rule::Sessions { .. })
                    && f.severity >= self.contain_min_severity;
                let mut t = Target::new(user, rule, finding);
                t.severity = Some(f.severity);
                t.contain = contain;
                t.principal_id = p.principal_id.clone();
                t.caller_account = p.caller_account.clone().filter(|a| *a != f.account);
                Ok(t)
            }
            Source::Config | Source::SecurityHub => {
                let rule = match f.kind.as_str() {
                    "IAM.3" => Rule::OlderThan(self.max_key_age_days),
                    "IAM.22" => Rule::UnusedFor(self.unused_days_iam22),
                    "IAM.8" => Rule::UnusedFor(self.unused_days),
                    k if quell::remediation::config_rule_matches("access-keys-rotated", k) => {
                        Rule::OlderThan(self.max_key_age_days)
                    }
                    _ => Rule::UnusedFor(self.unused_days),
                };
                let rotation = matches!(rule, Rule::OlderThan(_));
                if let Some(key) = f
                    .resource(&ResourceKind::IamAccessKey)
                    .filter(|r| valid_key_id(&r.id))
                {
                    let user = f
                        .resource(&ResourceKind::IamUser)
                        .map(|u| User::Name(u.id.clone()));
                    let mut t = Target::new(user, Rule::Key(key.id.clone()), finding);
                    // A rotation finding that names the key: a key in use is planned all the same.
                    t.rotation = rotation;
                    return Ok(t);
                }
                let r = f
                    .resource(&ResourceKind::IamUser)
                    .ok_or_else(|| NotApplicable("the finding names no IAM user".into()))?;
                // Config names a user by its id (AIDA…), Security Hub by its ARN (a name).
                let user = if f.source == Source::Config
                    && r.id.len() <= 128
                    && r.id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    User::Id(r.id.clone())
                } else if valid_user_name(&r.id) {
                    User::Name(r.id.clone())
                } else {
                    return Err(NotApplicable(format!(
                        "`{}` is not an IAM user name or id",
                        r.id
                    )));
                };
                Ok(Target::new(Some(user), rule, finding))
            }
            _ => Err(NotApplicable(format!(
                "{} findings name no access key",
                f.source
            ))),
        }
    }

    fn describe(&self, t: &Target) -> String {
        let who = match &t.user {
            Some(User::Name(n)) => format!("user {n}"),
            Some(User::Id(id)) => format!("user {id}"),
            None => "its user".into(),
        };
        match &t.rule {
            Rule::Key(k) => format!("access key {k} of {who}"),
            Rule::OlderThan(d) => format!("access keys older than {d} days of {who}"),
            Rule::UnusedFor(d) => format!("access keys unused for {d} days of {who}"),
            // The user, not the key: an undo's hold covers the user's next stolen session too.
            Rule::Sessions { .. } => format!("sessions of {who}"),
            Rule::RoleSession { role, key } => format!("temporary key {key} of role {role}"),
        }
    }

    async fn tags(&self, iam: &aws_sdk_iam::Client, t: &Target) -> Result<Tags, AwsError> {
        if matches!(t.rule, Rule::RoleSession { .. }) {
            // No user, and nothing is done to the role here.
            return Ok(Vec::new());
        }
        let user = user_name(iam, t).await?;
        let out = iam
            .list_user_tags()
            .user_name(&user)
            .send()
            .await
            .aws(|| format!("could not read the tags of user {user}"))?;
        Ok(out.tags.into_iter().map(|t| (t.key, t.value)).collect())
    }

    async fn plan(&self, iam: &aws_sdk_iam::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        match &t.rule {
            Rule::RoleSession { .. } => return Ok(Vec::new()),
            Rule::Sessions { key, since } if !t.contain => {
                return plan_sessions(iam, t, key, since).await
            }
            _ => {}
        }
        let user = user_name(iam, t).await?;
        let keys = iam
            .list_access_keys()
            .user_name(&user)
            .send()
            .await
            .aws(|| format!("could not list the access keys of user {user}"))?
            .access_key_metadata;
        // The whole user is contained only when the finding's key is provably one of its: a key
        // the user does not hold (another account's user of the same name calling into this one,
        // as an S3 data event can show) leaves the user as it is (UNCONFIRMED names the key).
        let named_listed = matches!(&t.rule, Rule::Key(want)
            if keys.iter().any(|k| k.access_key_id.as_deref() == Some(want.as_str())));
        // A key deleted since (an attacker who made another with it) is proven the user's by
        // GuardDuty's principal id, the user's own id.
        let owned = named_listed
            || !matches!(t.rule, Rule::Key(_))
            || (t.contain && same_user(iam, &user, t.principal_id.as_deref()).await?);
        let contain = t.contain && owned;
        let mut read = Read::default();
        let mut steps = Vec::new();
        for k in keys {
            let Some(id) = k.access_key_id.clone() else {
                continue;
            };
            if matches!(&t.rule, Rule::Key(want) if *want == id) {
                read.named_listed = true;
            }
            if k.status != Some(StatusType::Active) {
                continue;
            }
            let why = match &t.rule {
                Rule::Key(want) if *want == id => Some("named by the finding".to_string()),
                Rule::Key(_) | Rule::Sessions { .. } if contain => {
                    Some("the user is contained: every key of its".to_string())
                }
                Rule::Key(_) | Rule::Sessions { .. } | Rule::RoleSession { .. } => None,
                Rule::OlderThan(max) => {
                    let age = k.create_date.as_ref().map(age_days).unwrap_or(0);
                    (age > *max).then(|| format!("{age} days old, over {max}"))
                }
                Rule::UnusedFor(max) => {
                    let last = last_used(iam, &id).await?;
                    let idle = last
                        .as_ref()
                        .or(k.create_date.as_ref())
                        .map(age_days)
                        .unwrap_or(0);
                    (idle > *max).then(|| format!("unused for {idle} days, over {max}"))
                }
            };
            let Some(mut why) = why else {
                continue;
            };
            if t.rotation {
                let ago = last_used(iam, &id).await?.as_ref().map(age_days);
                if let Some(ago) = ago.filter(|d| *d < self.in_use_days) {
                    why = format!("{why}; last used {ago} days ago");
                    read.in_use
                        .push(format!("key {id} (last used {ago} days ago)"));
                }
            }
            steps.push(Step::new(
                UPDATE,
                format!("user={user} key={id} status=Inactive ({why})"),
            ));
        }
        // IAM.8, IAM.22 and iam-user-unused-credentials-check fail for a console password unused
        // as long as a key: its login profile is deleted with the keys, or, with
        // QUELL_DELETE_UNUSED_PASSWORDS=false, read and reported with no step of its own.
        let password = match t.rule {
            Rule::UnusedFor(max) => unused_password(iam, &user, max).await?.map(|p| (p, max)),
            _ => None,
        };
        if let Some((p, max)) = password.as_ref().filter(|_| self.delete_unused_passwords) {
            steps.push(Step::new(
                DELETE_LOGIN_PROFILE,
                format!(
                    "user={user} login profile: console password unused {} days, over {max}",
                    p.idle
                ),
            ));
        }
        read.unused_password = password.as_ref().map(|(p, _)| p.clone());
        if contain {
            // AWSSupport-ContainIAMPrincipal's steps for a user: console access removed, and
            // everything denied (its sessions included), beside the keys above.
            if let Some(p) = login_profile(iam, &user).await? {
                steps.push(Step::new(
                    DELETE_LOGIN_PROFILE,
                    format!("user={user} login profile: console access removed (contained)"),
                ));
                read.unused_password = Some(p);
            }
            let was = policy_of(iam, &user, CONTAIN_POLICY).await?;
            let holds = was
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .is_some_and(|d| d == contain_policy());
            if !holds {
                steps.push(Step::new(
                    PUT_POLICY,
                    format!("user={user} policy={CONTAIN_POLICY} Deny * on * (its keys and every session of its)"),
                ));
            }
            read.contain_policy_was = was;
        }
        t.read.set(read);
        if !steps.is_empty() {
            // The tag step's detail, which the note prints, also says a password was left.
            let left = password
                .filter(|_| !self.delete_unused_passwords)
                .map(|(p, max)| {
                    format!(
                        "; console password unused {} days (over {max}) left as it is: a person must delete the login profile",
                        p.idle
                    )
                })
                .unwrap_or_default();
            steps.push(Step::new(
                TAG,
                format!("user={user} {FINDING_TAG}={}{left}", tag_value(&t.finding)),
            ));
        }
        Ok(steps)
    }

    /// What quell's check does not cover: a key it could not see, a role's session, or, with
    /// QUELL_DELETE_UNUSED_PASSWORDS=false, a console password unused too long (IAM.8, IAM.22,
    /// iam-user-unused-credentials-check) that quell leaves. A password quell deletes is in its
    /// check: the re-read must find no login profile, and the outcome may then be RESOLVED.
    ///
    /// The runtime asks this after a verified change too: when the same run deactivates keys,
    /// the outcome is UNCONFIRMED (NOTIFIED), the keys' change recorded, the password named.
    fn unchecked(&self, t: &Target) -> Option<String> {
        match &t.rule {
            Rule::RoleSession { role, key } => Some(format!(
                "{key} is the temporary key of a session of role {role}, not a user's access key, so there is none to deactivate. \
                 Revoking the role's sessions is iam-revoke-role-sessions' job (it answers AssumedRole findings): check that it did"
            )),
            Rule::Key(key) if !t.last_read().named_listed => Some(format!(
                "access key {key} is not among the keys of {}: deleted, or another user's; quell could not see its status{}",
                t.resolved.get().map(String::as_str).unwrap_or("its user"),
                t.caller_account
                    .as_deref()
                    .map(|a| format!(". The calls came from {a}: if the key is that account's, contain it there"))
                    .unwrap_or_default()
            )),
            Rule::UnusedFor(max) if !self.delete_unused_passwords => {
                t.last_read().unused_password.map(|p| {
                    format!(
                        "the console password of {} is unused for {} days (over {max}): left as it is, as QUELL_DELETE_UNUSED_PASSWORDS=false (undo could not give it back); a person must delete the login profile",
                        t.resolved.get().map(String::as_str).unwrap_or("its user"),
                        p.idle
                    )
                })
            }
            _ => None,
        }
    }

    fn plan_only(&self, t: &Target) -> Option<String> {
        if let Some(s) = t.severity.filter(|s| *s < self.min_severity) {
            return Some(format!(
                "severity {} is below QUELL_KEY_MIN_SEVERITY {}: planned, not applied",
                s.label(),
                self.min_severity.label()
            ));
        }
        let in_use = t.last_read().in_use;
        (!in_use.is_empty()).then(|| {
            format!(
                "in daily use, used within QUELL_KEY_IN_USE_DAYS={}: {}; deactivating breaks production. \
                 Rotate it: create a new key, deploy it, then deactivate the old one",
                self.in_use_days,
                in_use.join(", ")
            )
        })
    }

    async fn prior(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let user = user_name(iam, t).await?;
        if matches!(t.rule, Rule::Sessions { .. }) && !t.contain {
            let doc = sessions_policy_of(iam, &user).await?;
            return Ok(Some(serde_json::json!({"user": user, "policy": doc})));
        }
        let steps = self.plan(iam, t).await?;
        let keys: Vec<String> = steps
            .iter()
            .filter(|s| s.action == UPDATE)
            .filter_map(|s| {
                s.detail
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("key="))
                    .map(str::to_string)
            })
            .collect();
        let mut prior = serde_json::json!({"user": &user, "active_keys": keys});
        // The login profile about to be deleted: that it was there, and what IAM says of it. The
        // password itself is never returned by IAM, so it cannot be recorded or put back.
        let deleted = t
            .last_read()
            .unused_password
            .filter(|_| steps.iter().any(|s| s.action == DELETE_LOGIN_PROFILE));
        if steps
            .iter()
            .any(|s| s.action == PUT_POLICY && s.detail.contains(CONTAIN_POLICY))
        {
            if let Some(o) = prior.as_object_mut() {
                o.insert(
                    "contain_policy".into(),
                    serde_json::json!({"was": t.last_read().contain_policy_was}),
                );
            }
        }
        if let (Some(p), Some(o)) = (deleted, prior.as_object_mut()) {
            o.insert(
                "login_profile".into(),
                serde_json::json!({
                    "user_name": &user,
                    "create_date": fmt(&p.created),
                    "password_reset_required": p.reset_required,
                }),
            );
        }
        Ok(Some(prior))
    }

    /// Keys deactivated are made active again; a session policy is put back as it was, or removed
    /// when the user had none (iam:DeleteUserPolicy is in the undo role for this only). A deleted
    /// login profile is made again (iam:CreateLoginProfile, undo only) with a new random password
    /// to be reset at sign-in: the old one cannot be given back, so a person must set it. A record
    /// made before quell deleted passwords has no `login_profile`, and restores the keys alone.
    async fn restore(
        &self,
        iam: &aws_sdk_iam::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        if prior.get("policy").is_some() {
            return restore_sessions(iam, prior).await;
        }
        let user = prior["user"].as_str().unwrap_or_default().to_string();
        if !valid_user_name(&user) {
            return Err(AwsError::other(
                "could not undo",
                "InvalidPriorState",
                format!("`{user}` is not a user name"),
                false,
            ));
        }
        // Read before any call: a bad record changes nothing.
        let login_profile = recorded_login_profile(prior, &user)?;
        if let Some(c) = prior.get("contain_policy") {
            if !(c["was"].is_null() || c["was"].is_string()) {
                return Err(quell::remediation::invalid_prior(format!(
                    "the recorded `contain_policy` is not one: {c}"
                )));
            }
        }
        let mut steps = Vec::new();
        for key in prior["active_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str())
        {
            match iam
                .update_access_key()
                .user_name(&user)
                .access_key_id(key)
                .status(StatusType::Active)
                .send()
                .await
            {
                Ok(_) => steps.push(Step::new(
                    UPDATE,
                    format!("user={user} key={key} status=Active, as it was"),
                )),
                // Deleted since (a person's response to a leak): nothing to give back, and the
                // rest of the undo goes on.
                Err(e)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                        == Some("NoSuchEntity") =>
                {
                    steps.push(Step::new(
                        UPDATE,
                        format!("user={user} key={key} deleted since: left as it is"),
                    ))
                }
                Err(e) => {
                    return Err(e)
                        .aws(|| format!("could not reactivate access key {key} of user {user}"))
                }
            }
        }
        if let Some(was) = login_profile {
            steps.push(restore_login_profile(iam, &user, &was).await?);
        }
        if let Some(c) = prior.get("contain_policy") {
            steps.push(restore_contain_policy(iam, &user, &c["was"]).await?);
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Target,
        steps: &[Step],
    ) -> Result<(), AwsError> {
        let user = user_name(iam, t).await?;
        if matches!(t.rule, Rule::Sessions { .. }) && !t.contain {
            let now = DateTime::from(SystemTime::now());
            iam.put_user_policy()
                .user_name(&user)
                .policy_name(SESSIONS_POLICY)
                .policy_document(sessions_policy(&now).to_string())
                .send()
                .await
                .aws(|| format!("could not put policy {SESSIONS_POLICY} on user {user}"))?;
            return Ok(());
        }
        if steps
            .iter()
            .any(|s| s.action == PUT_POLICY && s.detail.contains(CONTAIN_POLICY))
        {
            // First: everything the user does is denied before anything else changes.
            iam.put_user_policy()
                .user_name(&user)
                .policy_name(CONTAIN_POLICY)
                .policy_document(contain_policy().to_string())
                .send()
                .await
                .aws(|| format!("could not put policy {CONTAIN_POLICY} on user {user}"))?;
        }
        for s in steps.iter().filter(|s| s.action == UPDATE) {
            let key = s
                .detail
                .split_whitespace()
                .find_map(|w| w.strip_prefix("key="))
                .unwrap_or_default()
                .to_string();
            iam.update_access_key()
                .user_name(&user)
                .access_key_id(&key)
                .status(StatusType::Inactive)
                .send()
                .await
                .aws(|| format!("could not deactivate access key {key} of user {user}"))?;
        }
        if steps.iter().any(|s| s.action == DELETE_LOGIN_PROFILE) {
            match iam.delete_login_profile().user_name(&user).send().await {
                Ok(_) => {}
                // Gone already (a person was quicker): what the step wants, and the re-read
                // checks it.
                Err(e)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                        == Some("NoSuchEntity") => {}
                Err(e) => {
                    return Err(e)
                        .aws(|| format!("could not delete the login profile of user {user}"));
                }
            }
        }
        let tag = Tag::builder()
            .key(FINDING_TAG)
            .value(tag_value(&t.finding))
            .build()
            .map_err(|e| {
                AwsError::other(
                    "could not build the finding tag",
                    "InvalidTag",
                    e.to_string(),
                    false,
                )
            })?;
        iam.tag_user()
            .user_name(&user)
            .tags(tag)
            .send()
            .await
            .aws(|| format!("could not tag user {user} with the finding"))?;
        Ok(())
    }
}

use quell::finding::validate::tag_value;

/// When a key was last used, as IAM says (`None`: never).
async fn last_used(iam: &aws_sdk_iam::Client, id: &str) -> Result<Option<DateTime>, AwsError> {
    Ok(iam
        .get_access_key_last_used()
        .access_key_id(id)
        .send()
        .await
        .aws(|| format!("could not read when access key {id} was last used"))?
        .access_key_last_used
        .and_then(|u| u.last_used_date))
}

/// Whether `user` is the IAM user of id `principal_id` (`AIDA…`): a user of the same name made
/// since, or another account's, is not.
async fn same_user(
    iam: &aws_sdk_iam::Client,
    user: &str,
    principal_id: Option<&str>,
) -> Result<bool, AwsError> {
    let Some(id) = principal_id.filter(|p| p.starts_with("AIDA")) else {
        return Ok(false);
    };
    let user_id = iam
        .get_user()
        .user_name(user)
        .send()
        .await
        .aws(|| format!("could not read the id of user {user}"))?
        .user
        .map(|u| u.user_id);
    Ok(user_id.as_deref() == Some(id))
}

/// The user's console password when unused over `max` days: since its last use (GetUser's
/// PasswordLastUsed) or, never used, since its login profile was made. `None`: no login profile
/// (NoSuchEntity), or a password used within `max` days.
async fn unused_password(
    iam: &aws_sdk_iam::Client,
    user: &str,
    max: u64,
) -> Result<Option<IdlePassword>, AwsError> {
    let Some(profile) = login_profile(iam, user).await? else {
        return Ok(None);
    };
    let last = iam
        .get_user()
        .user_name(user)
        .send()
        .await
        .aws(|| format!("could not read when user {user} last used the console password"))?
        .user
        .and_then(|u| u.password_last_used);
    // A login profile made after the password's last use (made again, by undo or a person) holds
    // a password unused only since it was made.
    let since = last
        .filter(|l| l.secs() > profile.created.secs())
        .unwrap_or(profile.created);
    let idle = age_days(&since);
    Ok((idle > max).then_some(IdlePassword { idle, ..profile }))
}

/// What `prior` recorded of a login profile quell deleted; `None` when it deleted none (or the
/// record is older than password deletion). A record naming another user is refused.
struct DeletedProfile {
    /// When the deleted login profile was made, if the record says so as a date.
    created: Option<String>,
}

fn recorded_login_profile(
    prior: &serde_json::Value,
    user: &str,
) -> Result<Option<DeletedProfile>, AwsError> {
    match &prior["login_profile"] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(p) => {
            match p.get("user_name").and_then(serde_json::Value::as_str) {
                Some(u) if u == user => {}
                other => {
                    return Err(quell::remediation::invalid_prior(format!(
                        "the recorded login profile is of `{}`, not of {user}",
                        other.unwrap_or("(missing)")
                    )))
                }
            }
            Ok(Some(DeletedProfile {
                created: p
                    .get("create_date")
                    .and_then(serde_json::Value::as_str)
                    .filter(|d| DateTime::from_str(d, Format::DateTime).is_ok())
                    .map(str::to_string),
            }))
        }
        other => Err(quell::remediation::invalid_prior(format!(
            "the recorded `login_profile` is not one: {other}"
        ))),
    }
}

/// Makes the user's login profile again, with a fresh random password that must be reset at
/// sign-in; one the user has again (made since) is left as it is.
async fn restore_login_profile(
    iam: &aws_sdk_iam::Client,
    user: &str,
    was: &DeletedProfile,
) -> Result<Step, AwsError> {
    let kept = || {
        Step::new(
            GET_LOGIN_PROFILE,
            format!(
                "user={user} has a login profile again, made since quell deleted the old one: left as it is, no password set"
            ),
        )
    };
    match iam.get_login_profile().user_name(user).send().await {
        Ok(_) => return Ok(kept()),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {}
        Err(e) => {
            return Err(e).aws(|| format!("could not read the login profile of user {user}"));
        }
    }
    // Nobody is told this password: it is not logged, returned or recorded, and only lets the
    // login profile exist until a person sets one.
    let password = random_password().map_err(|e| {
        AwsError::other(
            format!("could not make a password for the login profile of user {user}"),
            "RandomUnavailable",
            e.to_string(),
            false,
        )
    })?;
    match iam
        .create_login_profile()
        .user_name(user)
        .password(password)
        .password_reset_required(true)
        .send()
        .await
    {
        Ok(_) => {}
        // Made between the read and now, by a person: theirs, left as it is.
        Err(e)
            if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                == Some("EntityAlreadyExists") =>
        {
            return Ok(kept());
        }
        Err(e) => {
            return Err(e).aws(|| format!("could not make the login profile of user {user} again"));
        }
    }
    Ok(Step::new(
        CREATE_LOGIN_PROFILE,
        format!(
            "user={user} login profile made again{}: the login profile is back, but the old password cannot be restored (IAM never returns one): it has a new random password nobody knows, so no one can sign in until a person sets one. \
             A person must set the password: aws iam update-login-profile --user-name {user} --password ... --password-reset-required",
            was.created
                .as_deref()
                .map(|d| format!(" (the deleted one was made {d})"))
                .unwrap_or_default()
        ),
    ))
}

/// The symbols IAM accepts in a password.
const PASSWORD_SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";
/// IAM's longest password, so that any account policy's MinimumPasswordLength (at most 128) is
/// met.
const PASSWORD_LENGTH: usize = 128;

/// A fresh password for a login profile quell makes again: PASSWORD_LENGTH characters read from
/// /dev/urandom, each as likely as any other, with at least one upper-case letter, lower-case
/// letter, digit and symbol, so that any account password policy is met.
fn random_password() -> std::io::Result<String> {
    use std::io::Read;
    let alphabet: Vec<u8> = (b'A'..=b'Z')
        .chain(b'a'..=b'z')
        .chain(b'0'..=b'9')
        .chain(PASSWORD_SYMBOLS.bytes())
        .collect();
    // Bytes from the last, partial round of the alphabet are skipped: no character is likelier.
    let usable = 256 - 256 % alphabet.len();
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    let mut bytes = [0u8; 256];
    // A draw lacks a class less than once in ten million (no digit: (72/82)^128).
    for _ in 0..8 {
        let mut password = String::with_capacity(PASSWORD_LENGTH);
        while password.len() < PASSWORD_LENGTH {
            urandom.read_exact(&mut bytes)?;
            let wanted = PASSWORD_LENGTH - password.len();
            for b in bytes
                .iter()
                .map(|b| usize::from(*b))
                .filter(|b| *b < usable)
                .take(wanted)
            {
                password.push(char::from(alphabet[b % alphabet.len()]));
            }
        }
        if every_class(&password) {
            return Ok(password);
        }
    }
    Err(std::io::Error::other(
        "/dev/urandom gave no password with every character class",
    ))
}

/// Whether a password holds an upper-case and a lower-case letter, a digit and a symbol.
fn every_class(p: &str) -> bool {
    p.bytes().any(|b| b.is_ascii_uppercase())
        && p.bytes().any(|b| b.is_ascii_lowercase())
        && p.bytes().any(|b| b.is_ascii_digit())
        && p.bytes().any(|b| PASSWORD_SYMBOLS.as_bytes().contains(&b))
}

/// The user's sessions issued before `since` are to be denied: nothing to do when quell's policy
/// already cuts them off at or after it; otherwise one policy, put or moved forward.
async fn plan_sessions(
    iam: &aws_sdk_iam::Client,
    t: &Target,
    key: &str,
    since: &DateTime,
) -> Result<Vec<Step>, AwsError> {
    let user = user_name(iam, t).await?;
    let current = sessions_policy_of(iam, &user)
        .await?
        .as_deref()
        .and_then(cutoff);
    if current.is_some_and(|c| c.secs() >= since.secs()) {
        return Ok(Vec::new());
    }
    Ok(vec![Step::new(
        PUT_POLICY,
        format!(
            "user={user} policy={SESSIONS_POLICY} deny * to the user's sessions issued before now (aws:TokenIssueTime; temporary key {key} seen at {}{}); long-term keys untouched",
            fmt(since),
            current
                .map(|c| format!("; the cut-off moves from {}", fmt(&c)))
                .unwrap_or_default()
        ),
    )])
}

async fn restore_sessions(
    iam: &aws_sdk_iam::Client,
    prior: &serde_json::Value,
) -> Result<Vec<Step>, AwsError> {
    let user = quell::remediation::prior_field(prior, "user", valid_user_name)?;
    match &prior["policy"] {
        serde_json::Value::String(doc) => {
            iam.put_user_policy()
                .user_name(&user)
                .policy_name(SESSIONS_POLICY)
                .policy_document(doc)
                .send()
                .await
                .aws(|| format!("could not put back policy {SESSIONS_POLICY} on user {user}"))?;
            Ok(vec![Step::new(
                PUT_POLICY,
                format!("user={user} policy={SESSIONS_POLICY} put back as it was"),
            )])
        }
        serde_json::Value::Null => {
            iam.delete_user_policy()
                .user_name(&user)
                .policy_name(SESSIONS_POLICY)
                .send()
                .await
                .aws(|| format!("could not delete policy {SESSIONS_POLICY} of user {user}"))?;
            Ok(vec![Step::new(
                DELETE_POLICY,
                format!("user={user} policy={SESSIONS_POLICY} removed: the user had none"),
            )])
        }
        other => Err(quell::remediation::invalid_prior(format!(
            "the recorded `policy` is not a document: {other}"
        ))),
    }
}

/// quell's session policy on the user, decoded; `None` when there is none.
async fn sessions_policy_of(
    iam: &aws_sdk_iam::Client,
    user: &str,
) -> Result<Option<String>, AwsError> {
    policy_of(iam, user, SESSIONS_POLICY).await
}

/// The user's login profile, as an [`IdlePassword`] for `prior` (`None`: the user has none).
async fn login_profile(
    iam: &aws_sdk_iam::Client,
    user: &str,
) -> Result<Option<IdlePassword>, AwsError> {
    match iam.get_login_profile().user_name(user).send().await {
        Ok(out) => Ok(out.login_profile.map(|p| IdlePassword {
            idle: 0,
            created: p.create_date,
            reset_required: p.password_reset_required,
        })),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read the login profile of user {user}")),
    }
}

/// An inline policy of the user's, decoded (`None`: it has none by that name).
async fn policy_of(
    iam: &aws_sdk_iam::Client,
    user: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    match iam
        .get_user_policy()
        .user_name(user)
        .policy_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(quell::policy::percent_decode(&out.policy_document))),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read policy {name} of user {user}")),
    }
}

/// Puts the containment policy back as it was: removed when the user had none.
async fn restore_contain_policy(
    iam: &aws_sdk_iam::Client,
    user: &str,
    was: &serde_json::Value,
) -> Result<Step, AwsError> {
    match was.as_str() {
        None => {
            match iam
                .delete_user_policy()
                .user_name(user)
                .policy_name(CONTAIN_POLICY)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                        == Some("NoSuchEntity") => {}
                Err(e) => {
                    return Err(e)
                        .aws(|| format!("could not delete policy {CONTAIN_POLICY} of user {user}"))
                }
            }
            Ok(Step::new(
                DELETE_POLICY,
                format!(
                    "user={user} policy={CONTAIN_POLICY} removed: the user is no longer contained"
                ),
            ))
        }
        Some(doc) => {
            iam.put_user_policy()
                .user_name(user)
                .policy_name(CONTAIN_POLICY)
                .policy_document(doc)
                .send()
                .await
                .aws(|| format!("could not put policy {CONTAIN_POLICY} of user {user} back"))?;
            Ok(Step::new(
                PUT_POLICY,
                format!("user={user} policy={CONTAIN_POLICY} as it was"),
            ))
        }
    }
}

/// The policy that denies everything to the user's sessions issued before `cutoff`. Requests
/// signed with a long-term key carry no aws:TokenIssueTime, so the user's keys keep working.
pub fn sessions_policy(cutoff: &DateTime) -> serde_json::Value {
    quell::policy::deny_sessions_before("QuellRevokeOlderUserSessions", cutoff)
}

/// The cut-off in a policy quell wrote, if it is one.
pub use quell::policy::sessions_cutoff as cutoff;
use quell::policy::whole_seconds as fmt;

/// The user's name: as the finding gives it, from the key (GetAccessKeyLastUsed names its
/// user), or from the `AIDA…` id Config reports (looked up in ListUsers).
async fn user_name(iam: &aws_sdk_iam::Client, t: &Target) -> Result<String, AwsError> {
    if let Some(n) = t.resolved.get() {
        return Ok(n.clone());
    }
    let name = lookup_user(iam, t).await?;
    Ok(t.resolved.get_or_init(|| name).clone())
}

async fn lookup_user(iam: &aws_sdk_iam::Client, t: &Target) -> Result<String, AwsError> {
    match (&t.user, &t.rule) {
        (Some(User::Name(n)), _) => Ok(n.clone()),
        (Some(User::Id(id)), _) => {
            let mut pages = iam.list_users().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.aws(|| "could not list IAM users".to_string())?;
                if let Some(u) = page.users.into_iter().find(|u| u.user_id == *id) {
                    return Ok(u.user_name);
                }
            }
            Err(AwsError::other(
                format!("could not find the IAM user with id {id}"),
                "NoSuchEntity",
                "no user has that id (deleted?)",
                false,
            ))
        }
        (None, Rule::Key(key)) => iam
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .aws(|| format!("could not find the user of access key {key}"))?
            .user_name
            .ok_or_else(|| {
                AwsError::other(
                    format!("could not find the user of access key {key}"),
                    "NoSuchEntity",
                    "no user",
                    false,
                )
            }),
        (None, _) => Err(AwsError::other(
            "could not tell which user",
            "NoUser",
            "the finding names no user",
            false,
        )),
    }
}

#[cfg(test)]
mod tests;
