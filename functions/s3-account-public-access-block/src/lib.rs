//! `s3-account-public-access-block`: turns on all four settings of the account-level S3 Block
//! Public Access, which no bucket policy or ACL in the account can then override.

use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, Spec, Step, Tags,
    Triggers,
};

const PUT: &str = "s3:PutAccountPublicAccessBlock";

#[derive(Debug, Clone, Default)]
pub struct S3AccountPublicAccessBlock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(pub String);

/// The account's Block Public Access; `None` when none is configured.
async fn read(
    c: &aws_sdk_s3control::Client,
    account: &str,
) -> Result<Option<PublicAccessBlockConfiguration>, AwsError> {
    match c.get_public_access_block().account_id(account).send().await {
        Ok(out) => Ok(out.public_access_block_configuration),
        Err(e)
            if aws_sdk_s3control::error::ProvideErrorMetadata::code(&e)
                == Some("NoSuchPublicAccessBlockConfiguration") =>
        {
            Ok(None)
        }
        Err(e) => {
            Err(e).aws(|| format!("could not read the account public access block of {account}"))
        }
    }
}

impl Remediation for S3AccountPublicAccessBlock {
    const SPEC: Spec = Spec {
        id: "s3-account-public-access-block",
        summary: "Turns on the account-level S3 Block Public Access (all four settings)",
        resolved: "s3-account-level-public-access-blocks, s3-account-level-public-access-blocks-periodic, S3.1, cis-1.4.0/2.1.5.1: s3control GetPublicAccessBlock for the finding's account reads BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets all true. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Changes only the account-level Block Public Access of the finding's account (the target is always that account), never a bucket's settings. No tags and no exempt(): an account is kept out only by QUELL_DENY_ACCOUNTS / QUELL_ALLOW_ACCOUNTS (OUT_OF_SCOPE). No plan_only; default enforce.",
        triggers: Triggers {
            config_rules: &[
                "s3-account-level-public-access-blocks",
                "s3-account-level-public-access-blocks-periodic",
            ],
            securityhub_controls: &["S3.1", "cis-1.4.0/2.1.5.1"],
            ..Triggers::NONE
        },
        permissions: &["s3:GetAccountPublicAccessBlock", PUT],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Account;
    type Clients = aws_sdk_s3control::Client;

    fn clients(&self, member: &Member) -> aws_sdk_s3control::Client {
        member.s3control()
    }

    fn target(&self, f: &Finding) -> Result<Account, NotApplicable> {
        Ok(Account(f.account.clone()))
    }

    fn describe(&self, t: &Account) -> String {
        format!("account {}", t.0)
    }

    async fn tags(&self, _c: &aws_sdk_s3control::Client, _t: &Account) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(
        &self,
        c: &aws_sdk_s3control::Client,
        t: &Account,
    ) -> Result<Vec<Step>, AwsError> {
        let conf = read(c, &t.0).await?;
        let c = conf.unwrap_or_else(|| PublicAccessBlockConfiguration::builder().build());
        let off: Vec<&str> = [
            ("BlockPublicAcls", c.block_public_acls),
            ("IgnorePublicAcls", c.ignore_public_acls),
            ("BlockPublicPolicy", c.block_public_policy),
            ("RestrictPublicBuckets", c.restrict_public_buckets),
        ]
        .iter()
        .filter(|(_, on)| *on != Some(true))
        .map(|(n, _)| *n)
        .collect();
        Ok(if off.is_empty() {
            Vec::new()
        } else {
            vec![Step::new(
                PUT,
                format!(
                    "account={} all four settings true (were off: {})",
                    t.0,
                    off.join(", ")
                ),
            )]
        })
    }

    async fn prior(
        &self,
        c: &aws_sdk_s3control::Client,
        t: &Account,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let conf = read(c, &t.0).await?.map(|c| {
            serde_json::json!({
                "BlockPublicAcls": c.block_public_acls,
                "IgnorePublicAcls": c.ignore_public_acls,
                "BlockPublicPolicy": c.block_public_policy,
                "RestrictPublicBuckets": c.restrict_public_buckets,
            })
        });
        Ok(Some(
            serde_json::json!({"account": t.0, "public_access_block": conf}),
        ))
    }

    /// The recorded settings put back, or the configuration deleted when there was none (both
    /// authorized by s3:PutAccountPublicAccessBlock).
    async fn restore(
        &self,
        c: &aws_sdk_s3control::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let account = quell::remediation::prior_field(
            prior,
            "account",
            quell::finding::validate::account_id,
        )?;
        let p = &prior["public_access_block"];
        if p.is_null() {
            c.delete_public_access_block()
                .account_id(&account)
                .send()
                .await
                .aws(|| format!("could not delete the account public access block of {account}"))?;
            return Ok(vec![Step::new(
                PUT,
                format!("account={account} had no Block Public Access: deleted"),
            )]);
        }
        let flag = |k: &str| p[k].as_bool();
        c.put_public_access_block()
            .account_id(&account)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .set_block_public_acls(flag("BlockPublicAcls"))
                    .set_ignore_public_acls(flag("IgnorePublicAcls"))
                    .set_block_public_policy(flag("BlockPublicPolicy"))
                    .set_restrict_public_buckets(flag("RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .aws(|| format!("could not put back the account public access block of {account}"))?;
        Ok(vec![Step::new(
            PUT,
            format!("account={account} Block Public Access put back as it was"),
        )])
    }

    async fn apply(
        &self,
        c: &aws_sdk_s3control::Client,
        t: &Account,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        c.put_public_access_block()
            .account_id(&t.0)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .aws(|| format!("could not put the account public access block of {}", t.0))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3control::operation::get_public_access_block::{
        GetPublicAccessBlockError, GetPublicAccessBlockOutput,
    };
    use aws_sdk_s3control::operation::put_public_access_block::{
        PutPublicAccessBlockError, PutPublicAccessBlockOutput,
    };
    use aws_sdk_s3control::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;

    fn on() -> GetPublicAccessBlockOutput {
        GetPublicAccessBlockOutput::builder()
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .build()
    }
    fn none() -> GetPublicAccessBlockError {
        GetPublicAccessBlockError::generic(
            ErrorMetadata::builder()
                .code("NoSuchPublicAccessBlockConfiguration")
                .build(),
        )
    }
    fn a() -> Account {
        Account("111111111111".into())
    }

    #[tokio::test]
    async fn blocks_the_account_and_verifies() {
        let g = mock!(Client::get_public_access_block)
            .sequence()
            .error(none)
            .output(on)
            .build();
        let p = mock!(Client::put_public_access_block)
            .match_requests(|r| {
                let c = r.public_access_block_configuration().unwrap();
                r.account_id() == Some("111111111111")
                    && c.block_public_acls == Some(true)
                    && c.ignore_public_acls == Some(true)
                    && c.block_public_policy == Some(true)
                    && c.restrict_public_buckets == Some(true)
            })
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let c = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&g, &p]);
        assert_eq!(
            execute(&S3AccountPublicAccessBlock, &c, &a(), Mode::Enforce, "x")
                .await
                .name(),
            "REMEDIATED"
        );
        assert_eq!(p.num_calls(), 1);
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let p = mock!(Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let g = mock!(Client::get_public_access_block).then_output(on);
        let c = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&g, &p]);
        assert_eq!(
            execute(&S3AccountPublicAccessBlock, &c, &a(), Mode::Enforce, "x")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        let g = mock!(Client::get_public_access_block).then_error(none);
        let c = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&g, &p]);
        assert_eq!(
            execute(&S3AccountPublicAccessBlock, &c, &a(), Mode::DryRun, "x")
                .await
                .name(),
            "PLANNED"
        );
        assert_eq!(p.num_calls(), 0);
        let deny = mock!(Client::put_public_access_block).then_error(|| {
            PutPublicAccessBlockError::generic(
                ErrorMetadata::builder().code("AccessDenied").build(),
            )
        });
        let c = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&g, &deny]);
        assert_eq!(
            execute(&S3AccountPublicAccessBlock, &c, &a(), Mode::Enforce, "x")
                .await
                .name(),
            "FAILED"
        );
        let g = mock!(Client::get_public_access_block).then_error(|| {
            GetPublicAccessBlockError::generic(ErrorMetadata::builder().code("SlowDown").build())
        });
        let c = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&g]);
        assert!(
            execute(&S3AccountPublicAccessBlock, &c, &a(), Mode::Enforce, "x")
                .await
                .is_retryable()
        );
    }
}
