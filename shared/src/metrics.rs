//! One CloudWatch Embedded Metric Format record per outcome: a JSON line on stdout that
//! CloudWatch Logs turns into metrics in the `quell` namespace, with no call from the function.
//!
//! - `Outcomes` (Count, 1) and `RemediationLatency` (Milliseconds: from the finding's intake to
//!   its outcome recorded and sent), by `remediation` and `outcome`, and by `outcome` alone (one
//!   alarm on every permanent failure, whichever function); `CapsReached` (Count, 1 when the
//!   finding was planned only because the blast-radius cap was reached, else 0), by the same;
//! - properties, not dimensions: `account`, `region`, `resource`, `finding`, `mode`, `workflow`
//!   (a dimension per account would make a metric per account; the saved Logs Insights queries
//!   read them).
//!
//! Written only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME`) or with `QUELL_METRICS=emf`: the replay
//! tool's output stays the report.

use serde_json::{json, Value};

use crate::outcome::Report;

/// The CloudWatch namespace of quell's own metrics.
pub const NAMESPACE: &str = "quell";

/// The EMF record of one outcome, at `timestamp_ms` (milliseconds since the epoch).
pub fn record(report: &Report, latency: std::time::Duration, timestamp_ms: u64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["remediation", "outcome"], ["outcome"]],
                "Metrics": [
                    {"Name": "Outcomes", "Unit": "Count"},
                    {"Name": "RemediationLatency", "Unit": "Milliseconds"},
                    {"Name": "CapsReached", "Unit": "Count"}
                ]
            }]
        },
        "remediation": report.function,
        "outcome": report.outcome.name(),
        "Outcomes": 1,
        "RemediationLatency": latency.as_secs_f64() * 1000.0,
        "CapsReached": u8::from(report.outcome.capped()),
        "account": report.account,
        "region": report.region,
        "resource": report.resource.as_deref().unwrap_or("-"),
        "finding": report.finding_id,
        "mode": report.mode.as_str(),
        "workflow": report.workflow.map(|w| w.as_str()).unwrap_or("unchanged"),
    })
}

fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var("QUELL_METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("emf"))
    })
}

/// Writes the outcome's record to stdout, where Lambda sends it to CloudWatch Logs.
pub fn emit(report: &Report, latency: std::time::Duration) {
    if !enabled() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    println!("{}", record(report, latency, now));
}
