//! `iam-disable-access-key`: a leaked or misused long-term access key is set Inactive — never
//! deleted, so it can be examined and restored — and its user tagged with the finding.

use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::{StatusType, Tag};
use quell::config::ConfigError;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Source, Spec, Step, Tags, Triggers,
};

const UPDATE: &str = "iam:UpdateAccessKey";
const TAG: &str = "iam:TagUser";
/// The tag that ties a deactivated key's user to the finding.
pub const FINDING_TAG: &str = "quell:finding";

#[derive(Debug, Clone)]
pub struct IamDisableAccessKey {
    /// Config access-keys-rotated / IAM.3: keys older than this are deactivated.
    pub max_key_age_days: u64,
    /// iam-user-unused-credentials-check / IAM.8: keys unused this long are deactivated.
    pub unused_days: u64,
    /// IAM.22: keys unused this long are deactivated.
    pub unused_days_iam22: u64,
}

impl Default for IamDisableAccessKey {
    fn default() -> Self {
        IamDisableAccessKey {
            max_key_age_days: 90,
            unused_days: 90,
            unused_days_iam22: 45,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: Option<User>,
    pub rule: Rule,
    pub finding: String,
    /// The user's name once looked up, so one finding lists users at most once.
    pub resolved: std::sync::OnceLock<String>,
}

impl Target {
    pub fn new(user: Option<User>, rule: Rule, finding: String) -> Self {
        Target {
            user,
            rule,
            finding,
            resolved: std::sync::OnceLock::new(),
        }
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

impl Remediation for IamDisableAccessKey {
    const SPEC: Spec = Spec {
        id: "iam-disable-access-key",
        summary: "Deactivates (never deletes) a leaked, misused, stale or unused IAM user access key and tags the user with the finding",
        triggers: Triggers {
            guardduty: &[
                "UnauthorizedAccess:IAMUser/*",
                "Recon:IAMUser/*",
                "PenTest:IAMUser/*",
                "CredentialAccess:IAMUser/*",
                "Exfiltration:IAMUser/*",
                "Impact:IAMUser/*",
                "Persistence:IAMUser/*",
                "Policy:IAMUser/RootCredentialUsage",
            ],
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
            UPDATE,
            TAG,
        ],
        undo_permissions: &[],
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
                let user = p
                    .user_name
                    .clone()
                    .filter(|u| valid_user_name(u))
                    .map(User::Name);
                Ok(Target::new(user, Rule::Key(key), finding))
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
                if let Some(key) = f
                    .resource(&ResourceKind::IamAccessKey)
                    .filter(|r| valid_key_id(&r.id))
                {
                    let user = f
                        .resource(&ResourceKind::IamUser)
                        .map(|u| User::Name(u.id.clone()));
                    return Ok(Target::new(user, Rule::Key(key.id.clone()), finding));
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
        }
    }

    async fn tags(&self, iam: &aws_sdk_iam::Client, t: &Target) -> Result<Tags, AwsError> {
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
        let user = user_name(iam, t).await?;
        let keys = iam
            .list_access_keys()
            .user_name(&user)
            .send()
            .await
            .aws(|| format!("could not list the access keys of user {user}"))?
            .access_key_metadata;
        let mut steps = Vec::new();
        for k in keys {
            let (Some(id), Some(StatusType::Active)) = (k.access_key_id.clone(), k.status.clone())
            else {
                continue;
            };
            let why = match &t.rule {
                Rule::Key(want) if *want == id => Some("named by the finding".to_string()),
                Rule::Key(_) => None,
                Rule::OlderThan(max) => {
                    let age = k.create_date.as_ref().map(age_days).unwrap_or(0);
                    (age > *max).then(|| format!("{age} days old, over {max}"))
                }
                Rule::UnusedFor(max) => {
                    let last = iam
                        .get_access_key_last_used()
                        .access_key_id(&id)
                        .send()
                        .await
                        .aws(|| format!("could not read when access key {id} was last used"))?
                        .access_key_last_used
                        .and_then(|u| u.last_used_date);
                    let idle = last
                        .as_ref()
                        .or(k.create_date.as_ref())
                        .map(age_days)
                        .unwrap_or(0);
                    (idle > *max).then(|| format!("unused for {idle} days, over {max}"))
                }
            };
            if let Some(why) = why {
                steps.push(Step::new(
                    UPDATE,
                    format!("user={user} key={id} status=Inactive ({why})"),
                ));
            }
        }
        if !steps.is_empty() {
            steps.push(Step::new(
                TAG,
                format!("user={user} {FINDING_TAG}={}", tag_value(&t.finding)),
            ));
        }
        Ok(steps)
    }

    async fn prior(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let user = user_name(iam, t).await?;
        let keys: Vec<String> = self
            .plan(iam, t)
            .await?
            .iter()
            .filter(|s| s.action == UPDATE)
            .filter_map(|s| {
                s.detail
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("key="))
                    .map(str::to_string)
            })
            .collect();
        Ok(Some(serde_json::json!({"user": user, "active_keys": keys})))
    }

    async fn restore(
        &self,
        iam: &aws_sdk_iam::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let user = prior["user"].as_str().unwrap_or_default().to_string();
        if !valid_user_name(&user) {
            return Err(AwsError::other(
                "could not undo",
                "InvalidPriorState",
                format!("`{user}` is not a user name"),
                false,
            ));
        }
        let mut steps = Vec::new();
        for key in prior["active_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str())
        {
            iam.update_access_key()
                .user_name(&user)
                .access_key_id(key)
                .status(StatusType::Active)
                .send()
                .await
                .aws(|| format!("could not reactivate access key {key} of user {user}"))?;
            steps.push(Step::new(
                UPDATE,
                format!("user={user} key={key} status=Active, as it was"),
            ));
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
