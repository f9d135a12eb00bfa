//! `iam-password-policy`: the account password policy meets the CIS baseline (configurable).
//! A stricter setting is never weakened: each field takes the stricter of what is set and the
//! baseline.

use quell::config::ConfigError;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, Spec, Step, Tags,
    Triggers,
};

const UPDATE: &str = "iam:UpdateAccountPasswordPolicy";
const DELETE: &str = "iam:DeleteAccountPasswordPolicy";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub min_length: i32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    /// 0: passwords never expire.
    pub max_age: i32,
    /// 0: no reuse prevention.
    pub reuse_prevention: i32,
    pub hard_expiry: bool,
}

/// The CIS AWS Foundations baseline (IAM.7, IAM.11–IAM.17).
pub const BASELINE: Policy = Policy {
    min_length: 14,
    require_symbols: true,
    require_numbers: true,
    require_uppercase: true,
    require_lowercase: true,
    allow_users_to_change: true,
    max_age: 90,
    reuse_prevention: 24,
    hard_expiry: false,
};

/// AWS's defaults when no policy is set.
pub const NONE: Policy = Policy {
    min_length: 8,
    require_symbols: false,
    require_numbers: false,
    require_uppercase: false,
    require_lowercase: false,
    allow_users_to_change: true,
    max_age: 0,
    reuse_prevention: 0,
    hard_expiry: false,
};

/// The stricter of the two, field by field.
pub fn stricter(cur: &Policy, base: &Policy) -> Policy {
    Policy {
        min_length: cur.min_length.max(base.min_length),
        require_symbols: cur.require_symbols || base.require_symbols,
        require_numbers: cur.require_numbers || base.require_numbers,
        require_uppercase: cur.require_uppercase || base.require_uppercase,
        require_lowercase: cur.require_lowercase || base.require_lowercase,
        allow_users_to_change: cur.allow_users_to_change,
        max_age: match (cur.max_age, base.max_age) {
            (0, b) => b,
            (c, 0) => c,
            (c, b) => c.min(b),
        },
        reuse_prevention: cur.reuse_prevention.max(base.reuse_prevention),
        hard_expiry: cur.hard_expiry || base.hard_expiry,
    }
}

fn changes(cur: &Policy, want: &Policy) -> Vec<String> {
    let mut v = Vec::new();
    let mut f = |name: &str, a: String, b: String| {
        if a != b {
            v.push(format!("{name} {a}->{b}"));
        }
    };
    f(
        "MinimumPasswordLength",
        cur.min_length.to_string(),
        want.min_length.to_string(),
    );
    f(
        "RequireSymbols",
        cur.require_symbols.to_string(),
        want.require_symbols.to_string(),
    );
    f(
        "RequireNumbers",
        cur.require_numbers.to_string(),
        want.require_numbers.to_string(),
    );
    f(
        "RequireUppercaseCharacters",
        cur.require_uppercase.to_string(),
        want.require_uppercase.to_string(),
    );
    f(
        "RequireLowercaseCharacters",
        cur.require_lowercase.to_string(),
        want.require_lowercase.to_string(),
    );
    f(
        "MaxPasswordAge",
        cur.max_age.to_string(),
        want.max_age.to_string(),
    );
    f(
        "PasswordReusePrevention",
        cur.reuse_prevention.to_string(),
        want.reuse_prevention.to_string(),
    );
    v
}

#[derive(Debug, Clone)]
pub struct IamPasswordPolicy {
    pub baseline: Policy,
}

impl Default for IamPasswordPolicy {
    fn default() -> Self {
        IamPasswordPolicy { baseline: BASELINE }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(pub String);

/// The account's password policy; `None` when it has none.
async fn existing(iam: &aws_sdk_iam::Client) -> Result<Option<Policy>, AwsError> {
    match iam.get_account_password_policy().send().await {
        Ok(out) => Ok(out.password_policy.map(|p| Policy {
            min_length: p.minimum_password_length.unwrap_or(8),
            require_symbols: p.require_symbols,
            require_numbers: p.require_numbers,
            require_uppercase: p.require_uppercase_characters,
            require_lowercase: p.require_lowercase_characters,
            allow_users_to_change: p.allow_users_to_change_password,
            max_age: p.max_password_age.unwrap_or(0),
            reuse_prevention: p.password_reuse_prevention.unwrap_or(0),
            hard_expiry: p.hard_expiry.unwrap_or(false),
        })),
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| "could not read the account password policy".to_string()),
    }
}

async fn current(iam: &aws_sdk_iam::Client) -> Result<Policy, AwsError> {
    Ok(existing(iam).await?.unwrap_or(NONE))
}

/// UpdateAccountPasswordPolicy replaces the whole policy: every field is given.
async fn put(iam: &aws_sdk_iam::Client, want: &Policy) -> Result<(), AwsError> {
    iam.update_account_password_policy()
        .minimum_password_length(want.min_length)
        .require_symbols(want.require_symbols)
        .require_numbers(want.require_numbers)
        .require_uppercase_characters(want.require_uppercase)
        .require_lowercase_characters(want.require_lowercase)
        .allow_users_to_change_password(want.allow_users_to_change)
        .set_max_password_age(Some(want.max_age).filter(|a| *a > 0))
        .set_password_reuse_prevention(Some(want.reuse_prevention).filter(|r| *r > 0))
        .hard_expiry(want.hard_expiry)
        .send()
        .await
        .aws(|| "could not update the account password policy".to_string())?;
    Ok(())
}

impl Policy {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "min_length": self.min_length, "require_symbols": self.require_symbols,
            "require_numbers": self.require_numbers, "require_uppercase": self.require_uppercase,
            "require_lowercase": self.require_lowercase, "allow_users_to_change": self.allow_users_to_change,
            "max_age": self.max_age, "reuse_prevention": self.reuse_prevention, "hard_expiry": self.hard_expiry,
        })
    }

    /// A recorded policy, every field checked against IAM's ranges.
    pub fn from_json(v: &serde_json::Value) -> Result<Policy, String> {
        let int = |k: &str, r: std::ops::RangeInclusive<i64>| {
            v[k].as_i64()
                .filter(|n| r.contains(n))
                .map(|n| n as i32)
                .ok_or_else(|| format!("`{k}` is not a number in {r:?}"))
        };
        let flag = |k: &str| {
            v[k].as_bool()
                .ok_or_else(|| format!("`{k}` is not true or false"))
        };
        Ok(Policy {
            min_length: int("min_length", 6..=128)?,
            require_symbols: flag("require_symbols")?,
            require_numbers: flag("require_numbers")?,
            require_uppercase: flag("require_uppercase")?,
            require_lowercase: flag("require_lowercase")?,
            allow_users_to_change: flag("allow_users_to_change")?,
            max_age: int("max_age", 0..=1095)?,
            reuse_prevention: int("reuse_prevention", 0..=24)?,
            hard_expiry: flag("hard_expiry")?,
        })
    }
}

fn number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    range: std::ops::RangeInclusive<i32>,
    default: i32,
) -> Result<i32, ConfigError> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or(ConfigError {
                var,
                reason: format!(
                    "`{v}` is not a number from {} to {}",
                    range.start(),
                    range.end()
                ),
            }),
    }
}

impl Remediation for IamPasswordPolicy {
    const SPEC: Spec = Spec {
        id: "iam-password-policy",
        summary: "Sets the account password policy to the CIS baseline (configurable), never weakening a stricter setting",
        resolved: "iam-password-policy, IAM.7, IAM.11, IAM.12, IAM.13, IAM.14, IAM.15, IAM.16, IAM.17 alike: GetAccountPasswordPolicy reads MinimumPasswordLength at least QUELL_PASSWORD_MIN_LENGTH (14), RequireSymbols, RequireNumbers, RequireUppercaseCharacters, RequireLowercaseCharacters true, PasswordReusePrevention at least QUELL_PASSWORD_REUSE_PREVENTION (24), MaxPasswordAge set and at most QUELL_PASSWORD_MAX_AGE_DAYS (90; 0 drops that check). The configured baseline, not the control's own threshold. Never UNCONFIRMED.",
        untouched: "Never weakens a stricter setting: each field becomes the stricter of the current value and the baseline; AllowUsersToChangePassword and HardExpiry are kept as they are and not checked. An account has no tags: it is kept out only by QUELL_DENY_ACCOUNTS / QUELL_ALLOW_ACCOUNTS (OUT_OF_SCOPE). No plan_only; default enforce.",
        triggers: Triggers {
            config_rules: &["iam-password-policy"],
            securityhub_controls: &["IAM.7", "IAM.11", "IAM.12", "IAM.13", "IAM.14", "IAM.15", "IAM.16", "IAM.17"],
            ..Triggers::NONE
        },
        // DeleteAccountPasswordPolicy only for undo, when the account had none before.
        permissions: &["iam:GetAccountPasswordPolicy", UPDATE],
        undo_permissions: &[DELETE],
        default_mode: Mode::Enforce,
    };
    type Target = Account;
    type Clients = aws_sdk_iam::Client;

    fn clients(&self, member: &Member) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.baseline.min_length = number(
            get,
            "QUELL_PASSWORD_MIN_LENGTH",
            6..=128,
            self.baseline.min_length,
        )?;
        self.baseline.reuse_prevention = number(
            get,
            "QUELL_PASSWORD_REUSE_PREVENTION",
            0..=24,
            self.baseline.reuse_prevention,
        )?;
        self.baseline.max_age = number(
            get,
            "QUELL_PASSWORD_MAX_AGE_DAYS",
            0..=1095,
            self.baseline.max_age,
        )?;
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Account, NotApplicable> {
        Ok(Account(f.account.clone()))
    }

    fn describe(&self, t: &Account) -> String {
        format!("the password policy of account {}", t.0)
    }

    async fn tags(&self, _iam: &aws_sdk_iam::Client, _t: &Account) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(&self, iam: &aws_sdk_iam::Client, t: &Account) -> Result<Vec<Step>, AwsError> {
        let cur = current(iam).await?;
        let want = stricter(&cur, &self.baseline);
        let c = changes(&cur, &want);
        Ok(if c.is_empty() {
            Vec::new()
        } else {
            vec![Step::new(
                UPDATE,
                format!("account={} {}", t.0, c.join(", ")),
            )]
        })
    }

    async fn prior(
        &self,
        iam: &aws_sdk_iam::Client,
        t: &Account,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let was = existing(iam).await?;
        Ok(Some(
            serde_json::json!({"account": t.0, "password_policy": was.map(|p| p.to_json())}),
        ))
    }

    /// The recorded policy put back, or deleted when the account had none.
    async fn restore(
        &self,
        iam: &aws_sdk_iam::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let account = quell::remediation::prior_field(
            prior,
            "account",
            quell::finding::validate::account_id,
        )?;
        let was = &prior["password_policy"];
        if was.is_null() {
            iam.delete_account_password_policy()
                .send()
                .await
                .aws(|| "could not delete the account password policy".to_string())?;
            return Ok(vec![Step::new(
                DELETE,
                format!("account={account} had no password policy: deleted"),
            )]);
        }
        let p = Policy::from_json(was).map_err(quell::remediation::invalid_prior)?;
        put(iam, &p).await?;
        Ok(vec![Step::new(
            UPDATE,
            format!("account={account} password policy put back as it was"),
        )])
    }

    async fn apply(
        &self,
        iam: &aws_sdk_iam::Client,
        _t: &Account,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        // Every field from the current policy, each made at least as strict as the baseline.
        put(iam, &stricter(&current(iam).await?, &self.baseline)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::get_account_password_policy::{
        GetAccountPasswordPolicyError, GetAccountPasswordPolicyOutput,
    };
    use aws_sdk_iam::operation::update_account_password_policy::{
        UpdateAccountPasswordPolicyError, UpdateAccountPasswordPolicyOutput,
    };
    use aws_sdk_iam::types::PasswordPolicy;
    use aws_sdk_iam::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;

    #[test]
    fn never_weakens_a_stricter_setting() {
        let strict = Policy {
            min_length: 20,
            max_age: 30,
            reuse_prevention: 24,
            hard_expiry: true,
            ..BASELINE
        };
        assert_eq!(stricter(&strict, &BASELINE), strict);
        let lax = Policy {
            min_length: 8,
            max_age: 0,
            reuse_prevention: 5,
            ..NONE
        };
        let got = stricter(&lax, &BASELINE);
        assert_eq!(
            (got.min_length, got.max_age, got.reuse_prevention),
            (14, 90, 24)
        );
        assert!(
            got.require_symbols
                && got.require_numbers
                && got.require_uppercase
                && got.require_lowercase
        );
    }

    fn policy(min: i32) -> GetAccountPasswordPolicyOutput {
        GetAccountPasswordPolicyOutput::builder()
            .password_policy(
                PasswordPolicy::builder()
                    .minimum_password_length(min)
                    .require_symbols(true)
                    .require_numbers(true)
                    .require_uppercase_characters(true)
                    .require_lowercase_characters(true)
                    .allow_users_to_change_password(true)
                    .max_password_age(90)
                    .password_reuse_prevention(24)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn sets_the_baseline_where_none_is_set_and_verifies() {
        let g = mock!(Client::get_account_password_policy)
            .sequence()
            .error(|| {
                GetAccountPasswordPolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchEntity").build(),
                )
            })
            .times(2)
            .output(|| policy(14))
            .build();
        let u = mock!(Client::update_account_password_policy)
            .match_requests(|r| {
                r.minimum_password_length() == Some(14)
                    && r.password_reuse_prevention() == Some(24)
                    && r.max_password_age() == Some(90)
            })
            .then_output(|| UpdateAccountPasswordPolicyOutput::builder().build());
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &u]);
        let out = execute(
            &IamPasswordPolicy::default(),
            &iam,
            &Account("111111111111".into()),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!(u.num_calls(), 1);
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let u = mock!(Client::update_account_password_policy)
            .then_output(|| UpdateAccountPasswordPolicyOutput::builder().build());
        let g = mock!(Client::get_account_password_policy).then_output(|| policy(16));
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &u]);
        assert_eq!(
            execute(
                &IamPasswordPolicy::default(),
                &iam,
                &Account("1".into()),
                Mode::Enforce,
                "x"
            )
            .await
            .name(),
            "ALREADY_COMPLIANT"
        );
        let g = mock!(Client::get_account_password_policy).then_output(|| policy(8));
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &u]);
        assert_eq!(
            execute(
                &IamPasswordPolicy::default(),
                &iam,
                &Account("1".into()),
                Mode::DryRun,
                "x"
            )
            .await
            .name(),
            "PLANNED"
        );
        assert_eq!(u.num_calls(), 0);
        let deny = mock!(Client::update_account_password_policy).then_error(|| {
            UpdateAccountPasswordPolicyError::generic(
                ErrorMetadata::builder().code("AccessDenied").build(),
            )
        });
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g, &deny]);
        assert_eq!(
            execute(
                &IamPasswordPolicy::default(),
                &iam,
                &Account("1".into()),
                Mode::Enforce,
                "x"
            )
            .await
            .name(),
            "FAILED"
        );
        let g = mock!(Client::get_account_password_policy).then_error(|| {
            GetAccountPasswordPolicyError::generic(
                ErrorMetadata::builder().code("Throttling").build(),
            )
        });
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&g]);
        assert!(execute(
            &IamPasswordPolicy::default(),
            &iam,
            &Account("1".into()),
            Mode::Enforce,
            "x"
        )
        .await
        .is_retryable());
    }

    #[test]
    fn the_baseline_is_configurable() {
        let mut r = IamPasswordPolicy::default();
        r.configure(&|k| (k == "QUELL_PASSWORD_MIN_LENGTH").then(|| "16".into()))
            .unwrap();
        assert_eq!(r.baseline.min_length, 16);
        assert_eq!(
            r.configure(&|_| Some("lots".into())).unwrap_err().var,
            "QUELL_PASSWORD_MIN_LENGTH"
        );
    }
}
