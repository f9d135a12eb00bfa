//! State shared by concurrent invocations, in a DynamoDB table of the central account: duplicate
//! suppression, blast-radius caps and loop breaking. Every write is conditional — no
//! read-then-write — so two invocations racing on the same key cannot both win.
//!
//! One table, one string key `pk`, a TTL attribute `expires`. Every key starts with the function
//! that owns it, so each function's role may write only its own keys (`dynamodb:LeadingKeys`
//! `<function>#*` in the template):
//! - `<function>#dedupe#<occurrence>`: a finding occurrence claimed by one invocation, with the
//!   time the claim was taken (a claim older than the function's timeout is taken over);
//! - `<function>#cap#<account|org>#<hour>`: enforced changes counted per hour;
//! - `<function>#escalated#<scope>#<hour>`: the cap's escalation, sent once;
//! - `<function>#loop#<resource>#<window>`: re-fixes of one resource in a window;
//! - `<function>#undo#<account>#<region>#<finding>`: the state a change replaced, written only if
//!   absent (the first record is the state before quell);
//! - `<function>#hold#<resource>`: a resource a person put back with `quell undo`.

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
    /// A claim still "started" after this long belongs to an invocation that timed out: a retry
    /// takes it over (the function's timeout).
    pub claim_takeover_secs: u64,
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
            claim_takeover_secs: 60,
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

/// A key of `function`'s own: `<function>#<kind>#<rest>`.
fn key(function: &str, kind: &str, rest: &str) -> String {
    format!("{function}#{kind}#{rest}")
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
    /// duplicate delivery, the same finding from another source) is a duplicate — unless the
    /// claim is still "started" after the function's timeout: its invocation died (a timeout
    /// settles nothing), and this retry takes it over rather than lose the event.
    pub async fn claim(&self, function: &str, occurrence: &str) -> Result<Claim, AwsError> {
        let now = now();
        let r = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(function, "dedupe", occurrence)))
            .item("status", s("started"))
            .item("started_at", n(now))
            .item("expires", n(now + self.limits.claim_secs))
            .condition_expression(
                "attribute_not_exists(pk) OR (#s = :started AND started_at < :stale)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":started", s("started"))
            .expression_attribute_values(
                ":stale",
                n(now.saturating_sub(self.limits.claim_takeover_secs)),
            )
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
        let key = s(key(function, "dedupe", occurrence));
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
        let acct = key(function, "cap", &format!("{account}#{hour}"));
        if !self
            .increment_below(acct.clone(), self.limits.per_account_hour, ttl)
            .await?
        {
            return Ok(Slot::Capped(format!("account {account}")));
        }
        let org = key(function, "cap", &format!("org#{hour}"));
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
        self.decrement(key(function, "cap", &format!("{account}#{hour}")))
            .await?;
        self.decrement(key(function, "cap", &format!("org#{hour}")))
            .await
    }

    /// True the first time a cap is escalated this hour, false after: one escalation, not one per
    /// finding.
    pub async fn escalate_once(&self, function: &str, scope: &str) -> Result<bool, AwsError> {
        let hour = Self::hour();
        let r = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item(
                "pk",
                s(key(function, "escalated", &format!("{scope}#{hour}"))),
            )
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
        key(function, "loop", &format!("{resource}#{window}"))
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

/// Where an undo record is: the function that made the change, the account and region, the finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoKey {
    pub function: String,
    pub account: String,
    pub region: String,
    pub finding: String,
}

impl UndoKey {
    /// The key `function`'s change for this finding is recorded under.
    pub fn of(function: &str, f: &crate::finding::Finding) -> UndoKey {
        UndoKey {
            function: function.to_string(),
            account: f.account.clone(),
            region: f.region.clone(),
            finding: f.id.clone(),
        }
    }

    pub fn pk(&self) -> String {
        key(
            &self.function,
            "undo",
            &format!("{}#{}#{}", self.account, self.region, self.finding),
        )
    }

    /// From a `pk`; `None` when it is not an undo record's.
    pub fn parse(pk: &str) -> Option<UndoKey> {
        let mut parts = pk.splitn(5, '#');
        let function = parts.next()?;
        (parts.next()? == "undo").then_some(())?;
        let (account, region, finding) = (parts.next()?, parts.next()?, parts.next()?);
        Some(UndoKey {
            function: function.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            finding: finding.to_string(),
        })
    }
}

impl std::fmt::Display for UndoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in {}/{} (finding {})",
            self.function, self.account, self.region, self.finding
        )
    }
}

impl State {
    /// Records, before a change, the exact state it replaces, keyed by function, account, region
    /// and finding. Written only if absent (or undone): a second change for the same finding (a
    /// re-fix) keeps the first record, the state before quell. Kept 90 days.
    pub async fn record_prior(
        &self,
        function: &str,
        f: &crate::finding::Finding,
        target: &str,
        prior: &serde_json::Value,
    ) -> Result<(), AwsError> {
        let k = UndoKey::of(function, f);
        let r = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(k.pk()))
            .item("function", s(function))
            .item("account", s(&f.account))
            .item("region", s(&f.region))
            .item("partition", s(&f.partition))
            .item("finding", s(&f.id))
            .item("target", s(target))
            .item("prior", s(prior.to_string()))
            .item("recorded_at", n(now()))
            .item("expires", n(now() + 90 * 86_400))
            .condition_expression("attribute_not_exists(pk) OR attribute_exists(undone_at)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(e).aws(|| {
                format!(
                    "could not record the prior state of {target} in {}",
                    self.table
                )
            }),
        }
    }

    /// The prior state recorded under one key. A record whose own fields do not match its key
    /// (account, region, function) is refused: it was not written by quell's `record_prior`.
    pub async fn prior_state(&self, k: &UndoKey) -> Result<Option<PriorState>, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(k.pk()))
            .consistent_read(true)
            .send()
            .await
            .aws(|| format!("could not read the prior state of {k}"))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        Self::prior_of(k, &item).map(Some)
    }

    fn prior_of(
        k: &UndoKey,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<PriorState, AwsError> {
        let text = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let p = PriorState {
            function: text("function"),
            account: text("account"),
            region: text("region"),
            partition: text("partition"),
            target: text("target"),
            prior: serde_json::from_str(&text("prior")).unwrap_or(serde_json::Value::Null),
            undone_at: item.get("undone_at").and_then(|v| v.as_s().ok()).cloned(),
        };
        let recorded_account = p.prior.get("account").and_then(serde_json::Value::as_str);
        let mismatch = if p.function != k.function {
            Some(format!("function {}", p.function))
        } else if p.account != k.account || recorded_account.is_some_and(|a| a != k.account) {
            Some(format!("account {}", p.account))
        } else if p.region != k.region {
            Some(format!("region {}", p.region))
        } else if p.target.is_empty() || p.prior.is_null() {
            Some("no resource or prior state".to_string())
        } else {
            None
        };
        match mismatch {
            Some(what) => Err(AwsError::other(
                format!("could not undo {k}"),
                "InvalidPriorState",
                format!("the record names {what}, which does not match its key"),
                false,
            )),
            None => Ok(p),
        }
    }

    /// Every undo record of a finding, whichever function made the change (a finding two
    /// functions acted on has two). A scan: an operator's command, on a table TTL keeps small.
    pub async fn priors_of_finding(&self, finding: &str) -> Result<Vec<UndoKey>, AwsError> {
        Ok(self
            .undo_records(|k| k.finding == finding)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Every undo record whose key `keep` accepts, with its state, or why the record cannot be
    /// undone (its fields do not match its key), sorted by key. A scan, as above.
    pub async fn undo_records(
        &self,
        keep: impl Fn(&UndoKey) -> bool,
    ) -> Result<Vec<(UndoKey, Result<PriorState, AwsError>)>, AwsError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .scan()
                .table_name(&self.table)
                .filter_expression("contains(pk, :f) AND attribute_exists(#p)")
                .expression_attribute_names("#p", "prior")
                .expression_attribute_values(":f", s("#undo#"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .aws(|| format!("could not list the undo records in {}", self.table))?;
            for item in out.items() {
                if let Some(k) = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| UndoKey::parse(pk))
                    .filter(|k| keep(k))
                {
                    let prior = Self::prior_of(&k, item);
                    records.push((k, prior));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        records.sort_by_key(|(k, _)| k.pk());
        Ok(records)
    }

    /// Records that a finding's change was undone.
    fn hold_key(function: &str, resource: &str) -> String {
        key(function, "hold", resource)
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

    /// Gives back an undo mark when putting the state back failed, so that it can be tried again.
    pub async fn unmark_undone(&self, k: &UndoKey) -> Result<(), AwsError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(k.pk()))
            .update_expression("REMOVE undone_at")
            .send()
            .await
            .aws(|| format!("could not give back the undo mark of {k}"))?;
        Ok(())
    }

    /// Records that a change was undone; a second undo of the same record is refused.
    pub async fn mark_undone(&self, k: &UndoKey, when: &str) -> Result<(), AwsError> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(k.pk()))
            .update_expression("SET undone_at = :w")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(undone_at)")
            .expression_attribute_values(":w", s(when))
            .send()
            .await
            .aws(|| format!("could not record the undo of {k}"))?;
        Ok(())
    }
}
