//! Configuration from the environment, read once at start-up. Bad configuration fails there, with
//! a message that names the variable.

use std::collections::BTreeSet;

use crate::finding::validate;

/// What a function does when it finds a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Change the resource.
    Enforce,
    /// Plan, record and notify; change nothing.
    DryRun,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim() {
            "enforce" => Some(Mode::Enforce),
            "dry-run" | "dryrun" => Some(Mode::DryRun),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn bad(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Role name, with its path, assumed in member accounts; `None`: the function's own,
    /// `quell-<function id>`.
    pub member_role: Option<String>,
    pub external_id: Option<String>,
    /// `None` when QUELL_MODE is unset: the remediation's default mode applies.
    pub mode: Option<Mode>,
    pub exempt_tag: String,
    /// `None`: every account is allowed.
    pub allow_accounts: Option<BTreeSet<String>>,
    pub deny_accounts: BTreeSet<String>,
    pub notify_topic_arn: Option<String>,
    /// The quell bus every outcome is put on as a `quell Outcome` event (QUELL_OUTCOME_BUS_ARN).
    pub outcome_bus_arn: Option<String>,
    pub hub_region: Option<String>,
    /// The DynamoDB table of shared state; without it there is no duplicate suppression, cap or
    /// loop breaking (a single invocation still behaves).
    pub state_table: Option<String>,
    pub limits: crate::state::Limits,
    /// quell's own Security Hub action targets (their ARNs); `None`: any `Quell…` action target of
    /// the account the event was delivered in.
    pub action_targets: Option<BTreeSet<String>>,
    /// The organization's accounts; `None`: not listed (the bus and role conditions keep quell
    /// inside the organization).
    pub organization_accounts: Option<BTreeSet<String>>,
    /// The account that owns the organization trail's CloudWatch Logs group, where org/trail.yaml
    /// puts the CIS alarms (QUELL_ORG_TRAIL_ACCOUNT). An alarm of that account is read from the
    /// log group through its `quell-trail-reader` role and answered in each account the events
    /// name; `None`: every alarm is its own account's, looked up with LookupEvents there.
    pub org_trail_account: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            member_role: None,
            external_id: None,
            mode: None,
            exempt_tag: "quell:exempt".into(),
            allow_accounts: None,
            deny_accounts: BTreeSet::new(),
            notify_topic_arn: None,
            outcome_bus_arn: None,
            hub_region: None,
            state_table: None,
            limits: crate::state::Limits::default(),
            action_targets: None,
            organization_accounts: None,
            org_trail_account: None,
        }
    }
}

impl Config {
    /// From the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// From any lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = Config::default();
        if let Some(role) = get("QUELL_MEMBER_ROLE") {
            let ok = role.len() <= 512
                && !role.starts_with("arn:")
                && role.split('/').filter(|p| !p.is_empty()).all(|p| {
                    p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
                })
                && !role.ends_with('/');
            if !ok {
                return Err(bad(
                    "QUELL_MEMBER_ROLE",
                    format!("`{role}` is not a role name (with optional path), e.g. quell-remediation or security/quell-remediation"),
                ));
            }
            c.member_role = Some(role.trim_start_matches('/').to_string());
        }
        if let Some(id) = get("QUELL_EXTERNAL_ID") {
            if !(2..=1224).contains(&id.len()) {
                return Err(bad("QUELL_EXTERNAL_ID", "must be 2 to 1224 characters"));
            }
            c.external_id = Some(id);
        }
        if let Some(mode) = get("QUELL_MODE") {
            c.mode = Some(Mode::parse(&mode).ok_or_else(|| {
                bad(
                    "QUELL_MODE",
                    format!("`{mode}` is neither `enforce` nor `dry-run`"),
                )
            })?);
        }
        if let Some(tag) = get("QUELL_EXEMPT_TAG") {
            if tag.len() > 128 {
                return Err(bad(
                    "QUELL_EXEMPT_TAG",
                    "a tag key has at most 128 characters",
                ));
            }
            c.exempt_tag = tag;
        }
        if let Some(list) = get("QUELL_ALLOW_ACCOUNTS") {
            c.allow_accounts = Some(accounts("QUELL_ALLOW_ACCOUNTS", &list)?);
        }
        if let Some(list) = get("QUELL_DENY_ACCOUNTS") {
            c.deny_accounts = accounts("QUELL_DENY_ACCOUNTS", &list)?;
        }
        if let Some(arn) = get("QUELL_NOTIFY_TOPIC_ARN") {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6
                || parts[0] != "arn"
                || parts[2] != "sns"
                || !validate::account_id(parts[4])
            {
                return Err(bad(
                    "QUELL_NOTIFY_TOPIC_ARN",
                    format!("`{arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
                ));
            }
            c.notify_topic_arn = Some(arn);
        }
        if let Some(arn) = get("QUELL_OUTCOME_BUS_ARN") {
            if crate::member::quell_bus(&arn).is_none() {
                return Err(bad(
                    "QUELL_OUTCOME_BUS_ARN",
                    format!("`{arn}` is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"),
                ));
            }
            c.outcome_bus_arn = Some(arn);
        }
        if let Some(region) = get("QUELL_HUB_REGION") {
            if !validate::region(&region) {
                return Err(bad(
                    "QUELL_HUB_REGION",
                    format!("`{region}` is not a region"),
                ));
            }
            c.hub_region = Some(region);
        }
        if let Some(t) = get("QUELL_STATE_TABLE") {
            let ok = (3..=255).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return Err(bad(
                    "QUELL_STATE_TABLE",
                    format!("`{t}` is not a DynamoDB table name"),
                ));
            }
            c.state_table = Some(t);
        }
        let count = |var: &'static str, default: u32, max: u32| -> Result<u32, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        bad(var, format!("`{v}` is not a whole number from 1 to {max}"))
                    }),
            }
        };
        c.limits.per_account_hour = count(
            "QUELL_MAX_CHANGES_PER_ACCOUNT_HOUR",
            c.limits.per_account_hour,
            100_000,
        )?;
        c.limits.per_org_hour = count(
            "QUELL_MAX_CHANGES_PER_ORG_HOUR",
            c.limits.per_org_hour,
            1_000_000,
        )?;
        c.limits.loop_limit = count("QUELL_LOOP_LIMIT", c.limits.loop_limit, 1000)?;
        c.limits.loop_window_secs = u64::from(count(
            "QUELL_LOOP_WINDOW_HOURS",
            (c.limits.loop_window_secs / 3600) as u32,
            24 * 90,
        )?) * 3600;
        c.limits.undo_hold_secs = u64::from(count(
            "QUELL_UNDO_HOLD_HOURS",
            (c.limits.undo_hold_secs / 3600) as u32,
            24 * 90,
        )?) * 3600;
        c.limits.claim_takeover_secs = u64::from(count(
            "QUELL_FUNCTION_TIMEOUT_SECS",
            c.limits.claim_takeover_secs as u32,
            900,
        )?);
        if let Some(list) = get("QUELL_ORGANIZATION_ACCOUNTS") {
            c.organization_accounts = Some(accounts("QUELL_ORGANIZATION_ACCOUNTS", &list)?);
        }
        if let Some(account) = get("QUELL_ORG_TRAIL_ACCOUNT") {
            if !validate::account_id(&account) {
                return Err(bad(
                    "QUELL_ORG_TRAIL_ACCOUNT",
                    format!("`{account}` is not an account id (12 digits)"),
                ));
            }
            c.org_trail_account = Some(account);
        }
        if let Some(list) = get("QUELL_ACTION_TARGETS") {
            let arns: BTreeSet<String> = list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            for arn in &arns {
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                let ok = matches!(parts.as_slice(), ["arn", _, "securityhub", region, account, resource]
                    if validate::region(region) && validate::account_id(account)
                        && resource.strip_prefix("action/custom/").is_some_and(|id| !id.is_empty()));
                if !ok {
                    return Err(bad(
                        "QUELL_ACTION_TARGETS",
                        format!("`{arn}` is not a Security Hub action target ARN (arn:aws:securityhub:REGION:ACCOUNT:action/custom/ID)"),
                    ));
                }
            }
            c.action_targets = Some(arns);
        }
        Ok(c)
    }

    /// The role assumed in member accounts by `function`.
    pub fn member_role_of(&self, function: &str) -> String {
        self.member_role
            .clone()
            .unwrap_or_else(|| format!("quell-{function}"))
    }

    /// What the event parser believes beyond AWS's own stamps.
    pub fn trust(&self) -> crate::event::Trust {
        crate::event::Trust {
            action_targets: self.action_targets.clone(),
            organization: self.organization_accounts.clone(),
        }
    }

    /// Whether quell may act in this account: the deny list wins over the allow list.
    pub fn account_allowed(&self, account: &str) -> Result<(), String> {
        if self.deny_accounts.contains(account) {
            return Err(format!("account {account} is in QUELL_DENY_ACCOUNTS"));
        }
        match &self.allow_accounts {
            Some(allow) if !allow.contains(account) => {
                Err(format!("account {account} is not in QUELL_ALLOW_ACCOUNTS"))
            }
            _ => Ok(()),
        }
    }
}

fn accounts(var: &'static str, list: &str) -> Result<BTreeSet<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            if validate::account_id(a) {
                Ok(a.to_string())
            } else {
                Err(bad(var, format!("`{a}` is not a 12-digit account id")))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            c.member_role_of("s3-block-public-access"),
            "quell-s3-block-public-access"
        );
        assert_eq!(c.exempt_tag, "quell:exempt");
        assert_eq!(c.mode, None);
        assert!(c.account_allowed("111122223333").is_ok());
    }

    #[test]
    fn the_outcome_bus_is_an_event_bus_arn() {
        let arn = "arn:aws:events:us-east-1:123456789012:event-bus/quell";
        let c = cfg(&[("QUELL_OUTCOME_BUS_ARN", arn)]).unwrap();
        assert_eq!(c.outcome_bus_arn.as_deref(), Some(arn));
        assert_eq!(cfg(&[]).unwrap().outcome_bus_arn, None);
    }

    #[test]
    fn the_organization_trail_account_is_one_account_id() {
        let c = cfg(&[("QUELL_ORG_TRAIL_ACCOUNT", " 999999999999 ")]).unwrap();
        assert_eq!(c.org_trail_account.as_deref(), Some("999999999999"));
        assert_eq!(cfg(&[]).unwrap().org_trail_account, None);
    }

    #[test]
    fn every_bad_variable_is_named() {
        for (var, value) in [
            ("QUELL_MODE", "yolo"),
            ("QUELL_MEMBER_ROLE", "arn:aws:iam::1:role/x"),
            ("QUELL_MEMBER_ROLE", "bad role"),
            ("QUELL_ALLOW_ACCOUNTS", "1234"),
            ("QUELL_DENY_ACCOUNTS", "111122223333,abc"),
            (
                "QUELL_NOTIFY_TOPIC_ARN",
                "arn:aws:sqs:us-east-1:111122223333:q",
            ),
            ("QUELL_HUB_REGION", "mars-1"),
            (
                "QUELL_OUTCOME_BUS_ARN",
                "arn:aws:sns:us-east-1:111122223333:event-bus/quell",
            ),
            ("QUELL_OUTCOME_BUS_ARN", "quell"),
            ("QUELL_EXTERNAL_ID", "x"),
            ("QUELL_STATE_TABLE", "no spaces allowed"),
            ("QUELL_LOOP_LIMIT", "0"),
            ("QUELL_MAX_CHANGES_PER_ACCOUNT_HOUR", "many"),
            ("QUELL_UNDO_HOLD_HOURS", "forever"),
            ("QUELL_FUNCTION_TIMEOUT_SECS", "0"),
            ("QUELL_ORGANIZATION_ACCOUNTS", "111111111111,nope"),
            ("QUELL_ORG_TRAIL_ACCOUNT", "12345"),
            ("QUELL_ORG_TRAIL_ACCOUNT", "111111111111,222222222222"),
            ("QUELL_ACTION_TARGETS", "QuellRemediate"),
            (
                "QUELL_ACTION_TARGETS",
                "arn:aws:securityhub:us-east-1:123456789012:product/aws/securityhub",
            ),
        ] {
            let err = cfg(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn deny_wins_over_allow() {
        let c = cfg(&[
            ("QUELL_ALLOW_ACCOUNTS", "111122223333, 222233334444"),
            ("QUELL_DENY_ACCOUNTS", "222233334444"),
            ("QUELL_MODE", "dry-run"),
        ])
        .unwrap();
        assert_eq!(c.mode, Some(Mode::DryRun));
        assert!(c.account_allowed("111122223333").is_ok());
        assert!(c
            .account_allowed("222233334444")
            .unwrap_err()
            .contains("DENY"));
        assert!(c
            .account_allowed("333344445555")
            .unwrap_err()
            .contains("ALLOW"));
    }
}
