//! `dynamodb-deletion-protection`: a DynamoDB table without deletion protection gets it
//! (DynamoDB.6, dynamodb-table-deletion-protection-enabled). Reads and writes are unaffected; only
//! DeleteTable is refused until someone turns the protection off, which is the point.
//!
//! A pipeline that deletes its own tables (test environments) must turn the protection off first,
//! or tag its tables with the exemption tag: quell then leaves them as they are (EXEMPT).

use quell::finding::validate;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const UPDATE: &str = "dynamodb:UpdateTable";

#[derive(Debug, Clone, Copy, Default)]
pub struct DynamodbDeletionProtection;

/// A table in the finding's account and Region.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub arn: String,
    pub account: String,
}

/// Whether the table is protected; a table being created or updated (an index backfill) is a
/// retryable error: UpdateTable would refuse it (ResourceInUseException) until it is ACTIVE.
async fn protected(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<bool, AwsError> {
    use aws_sdk_dynamodb::types::TableStatus;
    let out = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .aws(|| format!("could not describe DynamoDB table {name}"))?;
    let table = out.table();
    let on = table
        .and_then(|t| t.deletion_protection_enabled())
        .unwrap_or(false);
    match table.and_then(|t| t.table_status()) {
        Some(TableStatus::Active) | None => Ok(on),
        // Already protected: nothing to wait for.
        Some(_) if on => Ok(true),
        Some(status) => Err(AwsError::other(
            format!("could not protect DynamoDB table {name}"),
            "TableNotActive",
            format!(
                "the table is {}: UpdateTable waits until it is ACTIVE",
                status.as_str()
            ),
            true,
        )),
    }
}

async fn set_protection(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    on: bool,
) -> Result<(), AwsError> {
    ddb.update_table()
        .table_name(name)
        .deletion_protection_enabled(on)
        .send()
        .await
        .aws(|| {
            format!(
                "could not turn the deletion protection of DynamoDB table {name} {}",
                if on { "on" } else { "off" }
            )
        })?;
    Ok(())
}

impl Remediation for DynamodbDeletionProtection {
    const SPEC: Spec = Spec {
        id: "dynamodb-deletion-protection",
        summary: "Turns on deletion protection of a DynamoDB table (reads, writes and schema changes are unaffected; DeleteTable is refused while it is on)",
        resolved: "DynamoDB.6, dynamodb-table-deletion-protection-enabled: DescribeTable re-read says DeletionProtectionEnabled. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Changes only the deletion protection: never the table's capacity, keys, streams or items. A table tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (a pipeline's own short-lived tables). A table being created or updated is retried until it is ACTIVE. A table whose template (Terraform, CloudFormation) says no protection is turned back off at its next deployment, and a protected table blocks its stack's deletion or replacement: set it in the template, or tag the table exempt. Undo turns the protection off again, unless someone turned it off since. Default enforce.",
        triggers: Triggers {
            config_rules: &["dynamodb-table-deletion-protection-enabled"],
            securityhub_controls: &["DynamoDB.6"],
            ..Triggers::NONE
        },
        permissions: &[
            "dynamodb:ListTagsOfResource",
            "dynamodb:DescribeTable",
            UPDATE,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Table;
    type Clients = aws_sdk_dynamodb::Client;

    fn clients(&self, member: &Member) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Table, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::DynamoDbTable,
            validate::table_name,
            "DynamoDB table",
        )?;
        Ok(Table {
            arn: format!(
                "arn:{}:dynamodb:{}:{}:table/{}",
                f.partition, f.region, f.account, r.id
            ),
            name: r.id.clone(),
            account: f.account.clone(),
        })
    }

    fn describe(&self, t: &Table) -> String {
        format!("DynamoDB table {}", t.name)
    }

    async fn tags(&self, ddb: &aws_sdk_dynamodb::Client, t: &Table) -> Result<Tags, AwsError> {
        let mut tags = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = ddb
                .list_tags_of_resource()
                .resource_arn(&t.arn)
                .set_next_token(token.take())
                .send()
                .await
                .aws(|| format!("could not read the tags of DynamoDB table {}", t.name))?;
            tags.extend(
                out.tags()
                    .iter()
                    .map(|tag| (tag.key().to_string(), tag.value().to_string())),
            );
            match out.next_token() {
                Some(n) if !n.is_empty() => token = Some(n.to_string()),
                _ => break,
            }
        }
        Ok(tags)
    }

    async fn plan(&self, ddb: &aws_sdk_dynamodb::Client, t: &Table) -> Result<Vec<Step>, AwsError> {
        Ok(if protected(ddb, &t.name).await? {
            Vec::new()
        } else {
            vec![Step::new(
                UPDATE,
                format!("table={} DeletionProtectionEnabled=true", t.name),
            )]
        })
    }

    async fn prior(
        &self,
        _ddb: &aws_sdk_dynamodb::Client,
        t: &Table,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it off: apply only runs on an unprotected table.
        Ok(Some(serde_json::json!({
            "table": t.name,
            "account": t.account,
            "deletion_protection": false,
        })))
    }

    async fn restore(
        &self,
        ddb: &aws_sdk_dynamodb::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let name = quell::remediation::prior_field(prior, "table", validate::table_name)?;
        if prior["deletion_protection"] != serde_json::Value::Bool(false) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `deletion_protection` is not false: nothing of quell's to undo",
            ));
        }
        // A protection someone turned off since is left as it is.
        if !protected(ddb, &name).await? {
            return Ok(vec![Step::new(
                UPDATE,
                format!("table={name} is unprotected already: left as it is"),
            )]);
        }
        set_protection(ddb, &name, false).await?;
        Ok(vec![Step::new(
            UPDATE,
            format!("table={name} DeletionProtectionEnabled=false, as it was"),
        )])
    }

    async fn apply(
        &self,
        ddb: &aws_sdk_dynamodb::Client,
        t: &Table,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        set_protection(ddb, &t.name, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
    use aws_sdk_dynamodb::operation::update_table::{UpdateTableError, UpdateTableOutput};
    use aws_sdk_dynamodb::types::{TableDescription, Tag};
    use aws_sdk_dynamodb::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::{Outcome, Resource, Source};

    fn table() -> Table {
        Table {
            name: "orders".into(),
            arn: "arn:aws:dynamodb:us-east-1:111111111111:table/orders".into(),
            account: "111111111111".into(),
        }
    }

    fn tags(exempt: bool) -> Rule {
        mock!(Client::list_tags_of_resource)
            .match_requests(|r| {
                r.resource_arn() == Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders")
            })
            .then_output(move || {
                let b = ListTagsOfResourceOutput::builder();
                if exempt {
                    b.tags(
                        Tag::builder()
                            .key("quell:exempt")
                            .value("true")
                            .build()
                            .unwrap(),
                    )
                    .build()
                } else {
                    b.build()
                }
            })
    }

    fn described(first: bool, then: bool) -> Rule {
        let out = |on: bool| {
            DescribeTableOutput::builder()
                .table(
                    TableDescription::builder()
                        .table_name("orders")
                        .deletion_protection_enabled(on)
                        .build(),
                )
                .build()
        };
        mock!(Client::describe_table)
            .sequence()
            .output(move || out(first))
            .output(move || out(then))
            .build()
    }

    fn update(on: bool) -> Rule {
        mock!(Client::update_table)
            .match_requests(move |r| {
                r.table_name() == Some("orders") && r.deletion_protection_enabled() == Some(on)
            })
            .then_output(|| UpdateTableOutput::builder().build())
    }

    #[tokio::test]
    async fn protects_the_table_and_reads_it_back() {
        let (t, d, u) = (tags(false), described(false, true), update(true));
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&t, &d, &u]);
        let out = execute(
            &DynamodbDeletionProtection,
            &ddb,
            &table(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
        assert_eq!((u.num_calls(), d.num_calls()), (1, 2));

        let (t, d, u) = (tags(false), described(false, false), update(true));
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&t, &d, &u]);
        let out = execute(
            &DynamodbDeletionProtection,
            &ddb,
            &table(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), "FAILED", "not read back on: {out:?}");
    }

    #[tokio::test]
    async fn compliant_exempt_dry_run_and_denied() {
        let run = |t: Rule, d: Rule, u: Rule, mode: Mode| async move {
            let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&t, &d, &u]);
            let out = execute(
                &DynamodbDeletionProtection,
                &ddb,
                &table(),
                mode,
                "quell:exempt",
            )
            .await;
            (out, u.num_calls())
        };
        let (out, writes) = run(
            tags(false),
            described(true, true),
            update(true),
            Mode::Enforce,
        )
        .await;
        assert_eq!((out.name(), writes), ("ALREADY_COMPLIANT", 0));
        let (out, writes) = run(
            tags(true),
            described(false, true),
            update(true),
            Mode::Enforce,
        )
        .await;
        assert_eq!((out.name(), writes), ("EXEMPT", 0));
        let (out, writes) = run(
            tags(false),
            described(false, true),
            update(true),
            Mode::DryRun,
        )
        .await;
        assert_eq!((out.name(), writes), ("PLANNED", 0));
        let denied = mock!(Client::update_table).then_error(|| {
            UpdateTableError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let (out, _) = run(tags(false), described(false, false), denied, Mode::Enforce).await;
        assert_eq!(out.name(), "FAILED");
        assert!(!out.is_retryable());
    }

    #[tokio::test]
    async fn a_table_being_updated_is_retried_not_failed() {
        use aws_sdk_dynamodb::types::TableStatus;
        let d = mock!(Client::describe_table).then_output(|| {
            DescribeTableOutput::builder()
                .table(
                    TableDescription::builder()
                        .table_name("orders")
                        .table_status(TableStatus::Updating)
                        .deletion_protection_enabled(false)
                        .build(),
                )
                .build()
        });
        let (t, u) = (tags(false), update(true));
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&t, &d, &u]);
        let out = execute(
            &DynamodbDeletionProtection,
            &ddb,
            &table(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(out.is_retryable(), "{out:?}");
        assert_eq!(u.num_calls(), 0);
    }

    #[tokio::test]
    async fn undo_turns_the_protection_off_and_a_bad_prior_calls_nothing() {
        let u = update(false);
        // Protected when undone, unprotected (by someone) at the second undo.
        let d = described(true, false);
        let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&u, &d]);
        let r = DynamodbDeletionProtection;
        let prior = r.prior(&ddb, &table()).await.unwrap().unwrap();
        assert_eq!(r.restore(&ddb, &prior).await.unwrap().len(), 1);
        assert_eq!(u.num_calls(), 1);
        let again = r.restore(&ddb, &prior).await.unwrap();
        assert!(again[0].to_string().contains("left as it is"), "{again:?}");
        assert_eq!(u.num_calls(), 1);
        for bad in [
            serde_json::json!({"table": "orders", "deletion_protection": true}),
            serde_json::json!({"table": "a b", "deletion_protection": false}),
            serde_json::json!({"deletion_protection": false}),
        ] {
            assert_eq!(
                r.restore(&ddb, &bad).await.unwrap_err().code.as_deref(),
                Some("InvalidPriorState"),
                "{bad}"
            );
        }
        assert_eq!(u.num_calls(), 1);
    }

    #[test]
    fn the_target_is_the_finding_accounts_table() {
        let r = DynamodbDeletionProtection;
        let mut f = Finding::new(
            Source::SecurityHub,
            "f".into(),
            "DynamoDB.6".into(),
            "DynamoDB.6".into(),
            "111111111111".into(),
            "us-east-1".into(),
        );
        f.resources = vec![Resource::from_arn(
            ResourceKind::DynamoDbTable,
            "arn:aws:dynamodb:us-east-1:111111111111:table/orders",
        )];
        let t = r.target(&f).unwrap();
        assert_eq!(t.name, "orders");
        assert_eq!(t.arn, table().arn);
        f.resources = vec![Resource::new(ResourceKind::DynamoDbTable, "orders")];
        assert_eq!(r.target(&f).unwrap().arn, table().arn);
        f.resources = vec![Resource::from_arn(
            ResourceKind::DynamoDbTable,
            "arn:aws:dynamodb:us-east-1:222222222222:table/orders",
        )];
        assert!(r.target(&f).unwrap_err().0.contains("222222222222"));
        f.resources = vec![Resource::from_arn(
            ResourceKind::DynamoDbTable,
            "arn:aws:dynamodb:eu-west-1:111111111111:table/orders",
        )];
        assert!(r.target(&f).unwrap_err().0.contains("eu-west-1"));
        for bad in ["ab", "a table", "orders;rm"] {
            f.resources = vec![Resource::new(ResourceKind::DynamoDbTable, bad)];
            assert!(r.target(&f).is_err(), "{bad}");
        }
    }
}
