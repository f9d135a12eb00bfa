//! `ebs-encryption-by-default`: turns on EBS encryption by default in the account and region, so
//! every new volume and snapshot copy is encrypted.

use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const ENABLE: &str = "ec2:EnableEbsEncryptionByDefault";
const DISABLE: &str = "ec2:DisableEbsEncryptionByDefault";

#[derive(Debug, Clone, Default)]
pub struct EbsEncryptionByDefault;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account: String,
    pub region: String,
}

impl Remediation for EbsEncryptionByDefault {
    const SPEC: Spec = Spec {
        id: "ebs-encryption-by-default",
        summary: "Enables EBS encryption by default in the account and region",
        resolved: "ec2-ebs-encryption-by-default, EC2.7, cis-1.4.0/2.2.1, cis-3.0.0/2.2.1, cis-5.0.0/5.1.1: GetEbsEncryptionByDefault in the finding's account and region reads true. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Refuses (NotApplicable) a finding whose first resource is neither an account resource nor the account id (or ending with it); only calls EnableEbsEncryptionByDefault, so existing volumes, snapshots and the default KMS key are not touched. An account has no tags: it is kept out only by QUELL_DENY_ACCOUNTS / QUELL_ALLOW_ACCOUNTS (OUT_OF_SCOPE). No plan_only; default enforce.",
        triggers: Triggers {
            config_rules: &["ec2-ebs-encryption-by-default"],
            securityhub_controls: &[
                "EC2.7",
                "cis-1.4.0/2.2.1",
                "cis-3.0.0/2.2.1",
                "cis-5.0.0/5.1.1",
            ],
            ..Triggers::NONE
        },
        // DisableEbsEncryptionByDefault only for undo.
        permissions: &["ec2:GetEbsEncryptionByDefault", ENABLE],
        undo_permissions: &[DISABLE],
        default_mode: Mode::Enforce,
    };
    type Target = Account;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Account, NotApplicable> {
        // An account-level setting: the finding's account and region are the target, whatever
        // resource the source names (AWS::::Account, or the account id).
        if let Some(r) = f.resources.first() {
            if r.kind != ResourceKind::Account && r.id != f.account && !r.id.ends_with(&f.account) {
                return Err(NotApplicable(format!("{} is not an account", r.label())));
            }
        }
        Ok(Account {
            account: f.account.clone(),
            region: f.region.clone(),
        })
    }

    fn describe(&self, t: &Account) -> String {
        format!("account {} in {}", t.account, t.region)
    }

    /// An account setting has no tags: accounts are exempted with QUELL_DENY_ACCOUNTS.
    async fn tags(&self, _ec2: &aws_sdk_ec2::Client, _t: &Account) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Account) -> Result<Vec<Step>, AwsError> {
        let on = ec2
            .get_ebs_encryption_by_default()
            .send()
            .await
            .aws(|| format!("could not read EBS encryption by default in {}", t.region))?
            .ebs_encryption_by_default
            .unwrap_or(false);
        Ok(if on {
            Vec::new()
        } else {
            vec![Step::new(
                ENABLE,
                format!("account={} region={}", t.account, t.region),
            )]
        })
    }

    /// It acts only when encryption by default is off: that is the prior state.
    async fn prior(
        &self,
        _ec2: &aws_sdk_ec2::Client,
        t: &Account,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        Ok(Some(
            serde_json::json!({"account": t.account, "region": t.region, "ebs_encryption_by_default": false}),
        ))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let region =
            quell::remediation::prior_field(prior, "region", quell::finding::validate::region)?;
        if prior["ebs_encryption_by_default"] != false {
            return Err(quell::remediation::invalid_prior(
                "quell records only regions where encryption by default was off",
            ));
        }
        ec2.disable_ebs_encryption_by_default()
            .send()
            .await
            .aws(|| format!("could not disable EBS encryption by default in {region}"))?;
        Ok(vec![Step::new(
            DISABLE,
            format!("region={region} off again, as it was"),
        )])
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Account,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        ec2.enable_ebs_encryption_by_default()
            .send()
            .await
            .aws(|| format!("could not enable EBS encryption by default in {}", t.region))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::enable_ebs_encryption_by_default::{
        EnableEbsEncryptionByDefaultError, EnableEbsEncryptionByDefaultOutput,
    };
    use aws_sdk_ec2::operation::get_ebs_encryption_by_default::{
        GetEbsEncryptionByDefaultError, GetEbsEncryptionByDefaultOutput,
    };
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;

    fn t() -> Account {
        Account {
            account: "111111111111".into(),
            region: "us-east-1".into(),
        }
    }
    fn state(on: bool) -> GetEbsEncryptionByDefaultOutput {
        GetEbsEncryptionByDefaultOutput::builder()
            .ebs_encryption_by_default(on)
            .build()
    }

    #[tokio::test]
    async fn enables_and_verifies_and_a_replay_writes_nothing() {
        let g = mock!(Client::get_ebs_encryption_by_default)
            .sequence()
            .output(|| state(false))
            .output(|| state(true))
            .build();
        let e = mock!(Client::enable_ebs_encryption_by_default).then_output(|| {
            EnableEbsEncryptionByDefaultOutput::builder()
                .ebs_encryption_by_default(true)
                .build()
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&g, &e]);
        assert_eq!(
            execute(
                &EbsEncryptionByDefault,
                &ec2,
                &t(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "REMEDIATED"
        );
        let g = mock!(Client::get_ebs_encryption_by_default).then_output(|| state(true));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&g, &e]);
        assert_eq!(
            execute(
                &EbsEncryptionByDefault,
                &ec2,
                &t(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "ALREADY_COMPLIANT"
        );
        let g = mock!(Client::get_ebs_encryption_by_default).then_output(|| state(false));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&g, &e]);
        assert_eq!(
            execute(
                &EbsEncryptionByDefault,
                &ec2,
                &t(),
                Mode::DryRun,
                "quell:exempt"
            )
            .await
            .name(),
            "PLANNED"
        );
        assert_eq!(e.num_calls(), 1);
    }

    #[tokio::test]
    async fn denied_is_permanent_throttled_is_retryable() {
        let g = mock!(Client::get_ebs_encryption_by_default).then_output(|| state(false));
        let e = mock!(Client::enable_ebs_encryption_by_default).then_error(|| {
            EnableEbsEncryptionByDefaultError::generic(
                ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&g, &e]);
        let out = execute(
            &EbsEncryptionByDefault,
            &ec2,
            &t(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(!out.is_retryable() && out.name() == "FAILED", "{out:?}");
        let g = mock!(Client::get_ebs_encryption_by_default).then_error(|| {
            GetEbsEncryptionByDefaultError::generic(
                ErrorMetadata::builder()
                    .code("RequestLimitExceeded")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&g]);
        assert!(execute(
            &EbsEncryptionByDefault,
            &ec2,
            &t(),
            Mode::Enforce,
            "quell:exempt"
        )
        .await
        .is_retryable());
    }
}
