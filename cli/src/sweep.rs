//! `quell sweep`: the findings that are still open, fetched from AWS and put through the same
//! code as the Lambda functions. Dry-run marks findings NOTIFIED, the Security Hub rules match only
//! `Workflow NEW`, and Config emits an event only when compliance changes: after a function is
//! switched to enforce, its planned findings never come back by themselves. A sweep brings them.
//!
//! - Security Hub (the administrator's aggregated view): GetFindings for the remediations'
//!   controls, FAILED, ACTIVE, workflow NEW or NOTIFIED. Each finding is run as a person would
//!   send it from the console — a "Security Hub Findings - Custom Action" event for quell's own
//!   `QuellRemediate` action target in this account and region — so that a NOTIFIED finding is
//!   taken, and the same trust checks apply (AWS's own product for a control finding).
//! - AWS Config (an aggregator in this account): the rules that are NON_COMPLIANT in each
//!   account and region, and their non-compliant resources, each run as the "Config Rules
//!   Compliance Change" event Config would have sent.
//!
//! Every event is routed by the generated rules, so only the remediations the deployed rules would
//! send it to run; caps and the loop breaker apply as in the Lambda (they live in the state table).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::{json, Map, Value};

/// What to sweep.
#[derive(Default, Clone)]
pub struct Scope {
    /// Remediation ids; empty: all.
    pub functions: Vec<String>,
    /// Member accounts; empty: all the administrator sees.
    pub accounts: Vec<String>,
    /// The findings' own regions; empty: all.
    pub regions: Vec<String>,
    /// The Config aggregator to read non-compliant resources from; none: Security Hub alone.
    pub aggregator: Option<String>,
    /// At most this many events.
    pub limit: usize,
}

/// One event a sweep will run, and where it came from.
pub struct Candidate {
    /// `securityhub` or `config`.
    pub from: &'static str,
    /// The finding's id, or the Config rule/resource.
    pub label: String,
    pub event: Value,
}

fn sdk_err<E: std::error::Error + 'static>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", DisplayErrorContext(e))
}

/// An EventBridge event id (a UUID's shape), unique to this sweep and finding: the claim that
/// keeps a retried delivery from acting twice is keyed on it, so a finding swept twice is run
/// twice (each run re-reads the resource), but never twice within one sweep.
fn event_id(n: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let hex = format!("{:032x}", nanos ^ ((n as u128) << 96));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub fn now_iso() -> String {
    aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn eq(v: &str) -> StringFilter {
    StringFilter::builder()
        .value(v)
        .comparison(StringFilterComparison::Equals)
        .build()
}

/// The Security Hub control ids the remediations name (`S3.8`; CIS numbers are found through
/// their consolidated control id).
pub fn controls(specs: &[quell::Spec], scope: &Scope) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = specs
        .iter()
        .filter(|s| scope.functions.is_empty() || scope.functions.iter().any(|f| f == s.id))
        .flat_map(|s| s.triggers.securityhub_controls.iter().copied())
        .filter(|c| !c.starts_with("cis-"))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The fields of an ASFF finding quell reads, as the event carries them.
pub fn asff(f: &AwsSecurityFinding) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    put("SchemaVersion", json!(f.schema_version()));
    put("Id", json!(f.id()));
    put("ProductArn", json!(f.product_arn()));
    put("GeneratorId", json!(f.generator_id()));
    put("AwsAccountId", json!(f.aws_account_id()));
    put("Region", json!(f.region()));
    put("Types", json!(f.types()));
    put("CreatedAt", json!(f.created_at()));
    put("UpdatedAt", json!(f.updated_at()));
    put("Title", json!(f.title()));
    put("Description", json!(f.description()));
    if let Some(s) = f.severity() {
        put(
            "Severity",
            json!({"Label": s.label().map(|l| l.as_str()), "Normalized": s.normalized()}),
        );
    }
    put(
        "Resources",
        Value::Array(
            f.resources()
                .iter()
                .map(|r| {
                    json!({
                        "Type": r.r#type(),
                        "Id": r.id(),
                        "Partition": r.partition().map(|p| p.as_str()),
                        "Region": r.region(),
                    })
                })
                .collect(),
        ),
    );
    if let Some(p) = f.product_fields() {
        put("ProductFields", json!(p));
    }
    if let Some(c) = f.compliance() {
        put(
            "Compliance",
            json!({
                "Status": c.status().map(|s| s.as_str()),
                "SecurityControlId": c.security_control_id(),
            }),
        );
    }
    if let Some(w) = f.workflow() {
        put(
            "Workflow",
            json!({"Status": w.status().map(|s| s.as_str())}),
        );
    }
    put("RecordState", json!(f.record_state().map(|s| s.as_str())));
    Value::Object(m)
}

/// `findings` (AWS's own copies) as the "Remediate with quell" custom action event a person would
/// send from the console of the administrator `hub` (account, region, partition), addressed to
/// quell's own action target there.
pub fn custom_action_event(n: usize, hub: (&str, &str, &str), findings: Vec<Value>) -> Value {
    let (account, region, partition) = hub;
    let action = format!(
        "arn:{partition}:securityhub:{region}:{account}:action/custom/{}",
        quell::routing::CUSTOM_ACTION_ID
    );
    json!({
        "version": "0",
        "id": event_id(n),
        "detail-type": "Security Hub Findings - Custom Action",
        "source": "aws.securityhub",
        "account": account,
        "time": now_iso(),
        "region": region,
        "resources": [action],
        "detail": {
            "actionName": quell::routing::CUSTOM_ACTION_NAME,
            "actionDescription": "Sent by quell's CLI (sweep or redrive): a finding still open, re-read from Security Hub.",
            "findings": findings,
        },
    })
}

/// The open control findings of the remediations' controls, each as the custom action event a
/// person would send for it. `account`/`region`/`partition`: the administrator's, where quell's
/// action target is.
pub async fn hub_candidates(
    sdk: &SdkConfig,
    specs: &[quell::Spec],
    scope: &Scope,
    hub: (&str, &str, &str),
    mut seen: impl FnMut(usize),
) -> anyhow::Result<Vec<Candidate>> {
    let client = aws_sdk_securityhub::Client::new(sdk);
    let mut out = Vec::new();
    // GetFindings takes at most 20 values in a filter.
    for chunk in controls(specs, scope).chunks(20) {
        let mut filters = AwsSecurityFindingFilters::builder()
            .compliance_status(eq("FAILED"))
            .record_state(eq("ACTIVE"))
            .workflow_status(eq("NEW"))
            .workflow_status(eq("NOTIFIED"));
        for c in chunk {
            filters = filters.compliance_security_control_id(eq(c));
        }
        for a in &scope.accounts {
            filters = filters.aws_account_id(eq(a));
        }
        for r in &scope.regions {
            filters = filters.region(eq(r));
        }
        let filters = filters.build();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .get_findings()
                .filters(filters.clone())
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(sdk_err)
                .context("could not read the findings (securityhub:GetFindings)")?;
            for f in page.findings() {
                // Only Security Hub's own control findings: a member may import findings under
                // its own product with any control id (they would be refused, and count).
                if !quell::event::is_security_hub_product(f.product_arn().unwrap_or_default()) {
                    continue;
                }
                if out.len() >= scope.limit {
                    return Ok(out);
                }
                let n = out.len();
                out.push(Candidate {
                    from: "securityhub",
                    label: f.id().unwrap_or_default().to_string(),
                    event: custom_action_event(n, hub, vec![asff(f)]),
                });
                seen(out.len());
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The Config event for one evaluation, as Config sends it from the member account.
fn config_event(
    n: usize,
    account: &str,
    region: &str,
    rule: &str,
    kind: &str,
    id: &str,
    recorded: &str,
) -> Value {
    json!({
        "version": "0",
        "id": event_id(n),
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": account,
        "time": now_iso(),
        "region": region,
        "resources": [],
        "detail": {
            "resourceId": id,
            "awsRegion": region,
            "awsAccountId": account,
            "configRuleName": rule,
            "recordVersion": "1.0",
            "messageType": "ComplianceChangeNotification",
            "resourceType": kind,
            "newEvaluationResult": {
                "evaluationResultIdentifier": {
                    "evaluationResultQualifier": {
                        "configRuleName": rule,
                        "resourceType": kind,
                        "resourceId": id,
                    },
                },
                "complianceType": "NON_COMPLIANT",
                "resultRecordedTime": recorded,
            },
            "notificationCreationTime": now_iso(),
        },
    })
}

/// The non-compliant resources of the rules the remediations take, from the aggregator.
/// `takes` says whether any remediation asked for would take a rule's event.
pub async fn config_candidates(
    sdk: &SdkConfig,
    aggregator: &str,
    scope: &Scope,
    already: usize,
    takes: impl Fn(&Value) -> bool,
    mut seen: impl FnMut(usize),
) -> anyhow::Result<Vec<Candidate>> {
    use aws_sdk_config::types::{ComplianceType, ConfigRuleComplianceFilters};
    let client = aws_sdk_config::Client::new(sdk);
    let mut filters =
        ConfigRuleComplianceFilters::builder().compliance_type(ComplianceType::NonCompliant);
    if let [one] = scope.accounts.as_slice() {
        filters = filters.account_id(one);
    }
    if let [one] = scope.regions.as_slice() {
        filters = filters.aws_region(one);
    }
    let filters = filters.build();
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_aggregate_compliance_by_config_rules()
            .configuration_aggregator_name(aggregator)
            .filters(filters.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(sdk_err)
            .with_context(|| format!("could not read the rules' compliance from aggregator {aggregator} (config:DescribeAggregateComplianceByConfigRules)"))?;
        for r in page.aggregate_compliance_by_config_rules() {
            let (Some(rule), Some(account), Some(region)) =
                (r.config_rule_name(), r.account_id(), r.aws_region())
            else {
                continue;
            };
            if !scope.accounts.is_empty() && !scope.accounts.iter().any(|a| a == account) {
                continue;
            }
            if !scope.regions.is_empty() && !scope.regions.iter().any(|g| g == region) {
                continue;
            }
            // Only the rules a remediation takes: a probe event of the rule decides, by the rules.
            if takes(&config_event(
                0,
                account,
                region,
                rule,
                "AWS::Probe",
                "probe",
                "",
            )) {
                rules.push((rule.to_string(), account.to_string(), region.to_string()));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let mut out = Vec::new();
    for (rule, account, region) in rules {
        let mut token: Option<String> = None;
        loop {
            let page = client
                .get_aggregate_compliance_details_by_config_rule()
                .configuration_aggregator_name(aggregator)
                .config_rule_name(&rule)
                .account_id(&account)
                .aws_region(&region)
                .compliance_type(ComplianceType::NonCompliant)
                .limit(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(sdk_err)
                .with_context(|| format!("could not read the non-compliant resources of {rule} in {account}/{region} (config:GetAggregateComplianceDetailsByConfigRule)"))?;
            for e in page.aggregate_evaluation_results() {
                let Some(q) = e
                    .evaluation_result_identifier()
                    .and_then(|i| i.evaluation_result_qualifier())
                else {
                    continue;
                };
                let (Some(kind), Some(id)) = (q.resource_type(), q.resource_id()) else {
                    continue;
                };
                if already + out.len() >= scope.limit {
                    return Ok(out);
                }
                let recorded = e
                    .result_recorded_time()
                    .and_then(|t| t.fmt(Format::DateTime).ok())
                    .unwrap_or_default();
                out.push(Candidate {
                    from: "config",
                    label: format!("{rule}/{kind}/{id} in {account}/{region}"),
                    event: config_event(
                        already + out.len(),
                        &account,
                        &region,
                        &rule,
                        kind,
                        id,
                        &recorded,
                    ),
                });
                seen(already + out.len());
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// Counts of outcomes per remediation, for the summary table.
#[derive(Default)]
pub struct Summary {
    rows: std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, usize>>,
}

impl Summary {
    pub fn add(&mut self, function: &str, outcome: &'static str) {
        *self
            .rows
            .entry(function.to_string())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    pub fn json(&self) -> Value {
        json!(self.rows)
    }

    /// One line per remediation: `s3-block-public-access  PLANNED 3, FAILED 1`.
    pub fn table(&self) -> String {
        let mut out = format!("{:<32} OUTCOMES\n", "REMEDIATION");
        for (f, counts) in &self.rows {
            let text: Vec<String> = counts.iter().map(|(o, n)| format!("{o} {n}")).collect();
            out.push_str(&format!("{f:<32} {}\n", text.join(", ")));
        }
        if self.rows.is_empty() {
            out.push_str("(nothing to run)\n");
        }
        out
    }
}

/// A progress bar on standard error, drawn only when it is a terminal.
pub struct Progress {
    on: bool,
    total: usize,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        use std::io::IsTerminal;
        Progress {
            on: std::io::stderr().is_terminal(),
            total,
        }
    }

    pub fn set_total(&mut self, total: usize) {
        self.total = total;
    }

    pub fn show(&self, done: usize, what: &str) {
        if !self.on {
            return;
        }
        let width = 30;
        let filled = (done * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width);
        let what: String = what.chars().take(60).collect();
        eprint!(
            "\r\x1b[2K[{}{}] {done}/{} {what}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.total
        );
    }

    pub fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}
