//! State shared by concurrent invocations, in a DynamoDB table of the central account: duplicate
//! suppression, blast-radius caps and loop breaking. Every write is conditional — no
//! read-then-write — so two invocations racing on the same key cannot both win.
//!
//! One table, one string key `pk`, a TTL attribute `expires`:
//! - `dedupe#<function>#<occurrence>`: a finding occurrence claimed by one invocation;
//! - `cap#<function>#<account|org>#<hour>`: enforced changes counted per hour;
//! - `escalated#<function>#<scope>#<hour>`: the cap's escalation, sent once;
//! - `loop#<function>#<resource>#<window>`: re-fixes of one resource in a window.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{AwsError, AwsResultExt};

/// Limits, from the environment (see `Config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_account_hour: u32,
    pub per_org_hour: u32,
    pub loop_limit: u32,
    pub loop_window_secs: u64,
    pub claim_secs: u64,
    /// After `quell undo`, how long the resource is left as the person put it back.
    pub undo_hold_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_account_hour: 10,
            per_org_hour: 50,
            loop_limit: 3,
            loop_window_secs: 24 * 3600,
            claim_secs: 3600,
            undo_hold_secs: 7 * 24 * 3600,
        }
    }
}

pub struct State {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    pub limits: Limits,
}

/// Whether this invocation may handle an occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Acquired,
    /// Another delivery (or another source) of the same occurrence has it.
    Duplicate,
}

/// Whether an enforced change may go ahead this hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Granted,
    /// The cap of this scope (`account 1111…` or `organization`) is reached.
    Capped(String),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn conditional_failed<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl State {
    pub fn new(ddb: aws_sdk_dynamodb::Client, table: &str, limits: Limits) -> Self {
        State {
            ddb,
            table: table.to_string(),
            limits,
        }
    }

    /// Claims an occurrence for this invocation: the first delivery wins, every later one (a
    /// duplicate delivery, the same finding from another source) is a duplicate.
    pub async fn claim(&self, function: &str, occurrence: &str) -> Result<Claim, AwsError> {
        let r = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("dedupe#{function}#{occurrence}")))
            .item("status", s("started"))
            .item("expires", n(now() + self.limits.claim_secs))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(Claim::Acquired),
            Err(e) if conditional_failed(&e) => Ok(Claim::Duplicate),
            Err(e) => Err(e).aws(|| format!("could not claim {occurrence} in {}", self.table)),
        }
    }

    /// Records how a claimed occurrence ended; a retryable failure gives the claim back, so that
    /// Lambda's retry is not taken for a duplicate.
    pub async fn settle(
        &self,
        function: &str,
        occurrence: &str,
        outcome: &str,
        retryable: bool,
    ) -> Result<(), AwsError> {
        let key = s(format!("dedupe#{function}#{occurrence}"));
        let action = || format!("could not settle {occurrence} in {}", self.table);
        if retryable {
            self.ddb
                .delete_item()
                .table_name(&self.table)
                .key("pk", key)
                .send()
                .await
                .aws(action)?;
        } else {
            self.ddb
                .update_item()
                .table_name(&self.table)
                .key("pk", key)
                .update_expression("SET #s = :o")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":o", s(outcome))
                .send()
                .await
                .aws(action)?;
        }
        Ok(())
    }

    async fn increment_below(&self, pk: String, max: u32, ttl: u64) -> Result<bool, AwsError> {
        let r = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk.clone()))
            .update_expression("SET expires = :ttl ADD changes :one")
            .condition_expression("attribute_not_exists(changes) OR changes < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(u64::from(max)))
            .expression_attribute_values(":ttl", n(ttl))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(e).aws(|| format!("could not count a change in {}", self.table)),
        }
    }

    async fn decrement(&self, pk: String) -> Result<(), AwsError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("ADD changes :minus")
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .send()
            .await
            .aws(|| format!("could not give back a change slot in {}", self.table))?;
        Ok(())
    }

    fn hour() -> u64 {
        now() / 3600
    }

    /// Takes one of this hour's enforced changes, per account and per organization.
    pub async fn take_change_slot(&self, function: &str, account: &str) -> Result<Slot, AwsError> {
        let hour = Self::hour();
        let ttl = (hour + 2) * 3600;
        let acct = format!("cap#{function}#{account}#{hour}");
        if !self
            .increment_below(acct.clone(), self.limits.per_account_hour, ttl)
            .await?
        {
            return Ok(Slot::Capped(format!("account {account}")));
        }
        let org = format!("cap#{function}#org#{hour}");
        if !self
            .increment_below(org, self.limits.per_org_hour, ttl)
            .await?
        {
            self.decrement(acct).await?;
            return Ok(Slot::Capped("organization".into()));
        }
        Ok(Slot::Granted)
    }

    /// Gives a slot back when no change was made after all.
    pub async fn release_change_slot(&self, function: &str, account: &str) -> Result<(), AwsError> {
        let hour = Self::hour();
        self.decrement(format!("cap#{function}#{account}#{hour}"))
            .await?;
        self.decrement(format!("cap#{function}#org#{hour}")).await
    }

    /// True the first time a cap is escalated this hour, false after: one escalation, not one per
    /// finding.
    pub async fn escalate_once(&self, function: &str, scope: &str) -> Result<bool, AwsError> {
        let hour = Self::hour();
        let r = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("escalated#{function}#{scope}#{hour}")))
            .item("expires", n((hour + 2) * 3600))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(e).aws(|| format!("could not record an escalation in {}", self.table)),
        }
    }

    fn loop_key(&self, function: &str, resource: &str) -> String {
        let window = now() / self.limits.loop_window_secs.max(1);
        format!("loop#{function}#{resource}#{window}")
    }

    /// How many times this resource was fixed in the current window.
    pub async fn fixes(&self, function: &str, resource: &str) -> Result<u32, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(self.loop_key(function, resource)))
            .consistent_read(true)
            .send()
            .await
            .aws(|| format!("could not read the fixes of {resource} in {}", self.table))?;
        Ok(out
            .item
            .and_then(|i| {
                i.get("fixes")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0))
    }

    /// Counts one more fix of this resource in the current window.
    pub async fn record_fix(&self, function: &str, resource: &str) -> Result<(), AwsError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(self.loop_key(function, resource)))
            .update_expression("SET expires = :ttl ADD fixes :one")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(now() + 2 * self.limits.loop_window_secs))
            .send()
            .await
            .aws(|| format!("could not count a fix of {resource} in {}", self.table))?;
        Ok(())
    }
}

/// What `quell undo` needs: the function, where, and the state to put back.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorState {
    pub function: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub target: String,
    pub prior: serde_json::Value,
    pub undone_at: Option<String>,
}

impl State {
    /// Records, before a change, the exact state it replaces, keyed by finding. Kept 90 days.
    pub async fn record_prior(
        &self,
        function: &str,
        f: &crate::finding::Finding,
        target: &str,
        prior: &serde_json::Value,
    ) -> Result<(), AwsError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("undo#{}", f.id)))
            .item("function", s(function))
            .item("account", s(&f.account))
            .item("region", s(&f.region))
            .item("partition", s(&f.partition))
            .item("target", s(target))
            .item("prior", s(prior.to_string()))
            .item("recorded_at", n(now()))
            .item("expires", n(now() + 90 * 86_400))
            .send()
            .await
            .aws(|| {
                format!(
                    "could not record the prior state of {target} in {}",
                    self.table
                )
            })?;
        Ok(())
    }

    /// The prior state recorded for a finding.
    pub async fn prior_state(&self, finding_id: &str) -> Result<Option<PriorState>, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("undo#{finding_id}")))
            .consistent_read(true)
            .send()
            .await
            .aws(|| format!("could not read the prior state of finding {finding_id}"))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        Ok(Some(PriorState {
            function: text("function"),
            account: text("account"),
            region: text("region"),
            partition: text("partition"),
            target: text("target"),
            prior: serde_json::from_str(&text("prior")).unwrap_or(serde_json::Value::Null),
            undone_at: item.get("undone_at").and_then(|v| v.as_s().ok()).cloned(),
        }))
    }

    /// Records that a finding's change was undone.
    fn hold_key(function: &str, resource: &str) -> String {
        format!("hold#{function}#{resource}")
    }

    /// After an undo: quell leaves `resource` as the person put it back until the hold expires.
    pub async fn hold(&self, function: &str, resource: &str, when: &str) -> Result<(), AwsError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(Self::hold_key(function, resource)))
            .item("undone_at", s(when))
            .item("expires", n(now() + self.limits.undo_hold_secs))
            .send()
            .await
            .aws(|| format!("could not record the hold of {resource} in {}", self.table))?;
        Ok(())
    }

    /// When a person undid quell's change to `resource`, if the hold has not expired (the table's
    /// TTL deletes late: the expiry is checked here too).
    pub async fn held(&self, function: &str, resource: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(Self::hold_key(function, resource)))
            .consistent_read(true)
            .send()
            .await
            .aws(|| format!("could not read the hold of {resource} in {}", self.table))?;
        Ok(out.item.and_then(|i| {
            let expires: u64 = i.get("expires")?.as_n().ok()?.parse().ok()?;
            (expires > now()).then(|| {
                i.get("undone_at")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            })
        }))
    }

    pub async fn mark_undone(&self, finding_id: &str, when: &str) -> Result<(), AwsError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("undo#{finding_id}")))
            .update_expression("SET undone_at = :w")
            .expression_attribute_values(":w", s(when))
            .send()
            .await
            .aws(|| format!("could not record the undo of finding {finding_id}"))?;
        Ok(())
    }
}
