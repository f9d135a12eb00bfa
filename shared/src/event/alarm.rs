//! CloudWatch alarm state changes (`aws.cloudwatch`, "CloudWatch Alarm State Change"), forwarded
//! by the member from its own bus: the account is the envelope's.
//!
//! The window the responder searches is bounded here, by what AWS stamped rather than what the
//! alarm says of itself: a principal with `SetAlarmState` writes any `reasonData` it likes. The
//! window ends at the envelope's `time` and spans the alarm's own period times the datapoints it
//! evaluated, at most an hour.

use serde::Deserialize;
use serde_json::Value;

use super::{checked_region, epoch_of, rfc3339, typed, Envelope, EventError};
use crate::finding::{Finding, Resource, ResourceKind, Severity, Source};

/// The longest window the alarm responder searches.
pub const MAX_WINDOW_SECS: i64 = 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmState,
    #[serde(default)]
    configuration: Option<AlarmConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmState {
    value: String,
    #[serde(default)]
    reason_data: Option<String>,
}

#[derive(Deserialize)]
struct AlarmConfiguration {
    #[serde(default)]
    metrics: Vec<AlarmMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmMetric {
    #[serde(default)]
    metric_stat: Option<MetricStat>,
}

#[derive(Deserialize)]
struct MetricStat {
    metric: Metric,
    #[serde(default)]
    period: Option<i64>,
}

#[derive(Deserialize)]
struct Metric {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

pub(super) fn finding(env: &Envelope) -> Result<Finding, EventError> {
    let d: AlarmDetail = typed(env.detail.clone(), "detail")?;
    let account = env.account()?;
    let region = checked_region("region", &env.region)?;
    let end = env.epoch.ok_or_else(|| EventError::Field {
        path: "time".into(),
        message: "an alarm event needs the time EventBridge stamped on it".into(),
    })?;
    // What the alarm says of its evaluation: its start, and how many datapoints it evaluated.
    let (mut start, mut datapoints, mut reason_period) = (None, 1i64, None);
    if let Some(raw) = &d.state.reason_data {
        let reason = serde_json::from_str::<Value>(raw).map_err(|e| EventError::Field {
            path: "detail.state.reasonData".into(),
            message: format!("not JSON inside the string: {e}"),
        })?;
        start = reason
            .get("startDate")
            .and_then(Value::as_str)
            .and_then(epoch_of);
        datapoints = reason
            .get("recentDatapoints")
            .or_else(|| reason.get("evaluatedDatapoints"))
            .and_then(Value::as_array)
            .map(|a| a.len().max(1) as i64)
            .unwrap_or(1);
        reason_period = reason.get("period").and_then(Value::as_i64);
    }
    let stat = d
        .configuration
        .iter()
        .flat_map(|c| c.metrics.iter())
        .find_map(|m| m.metric_stat.as_ref());
    let period = stat
        .and_then(|s| s.period)
        .or(reason_period)
        .unwrap_or(300)
        .clamp(1, MAX_WINDOW_SECS);
    let span = (period * datapoints).min(MAX_WINDOW_SECS);
    let start = start
        .filter(|s| *s <= end)
        .map(|s| s.max(end - span))
        .unwrap_or(end - span);
    let metric = stat.map(|s| s.metric.name.clone());
    let arn = env
        .resources
        .first()
        .cloned()
        .filter(|r| r.starts_with("arn:"));
    let mut f = Finding::new(
        Source::CloudWatchAlarm,
        format!("{}/{}", d.alarm_name, env.id),
        metric.clone().unwrap_or_else(|| d.alarm_name.clone()),
        format!("CloudWatch alarm {} is {}", d.alarm_name, d.state.value),
        account,
        region,
    );
    // Root account usage is CRITICAL, whatever else the alarm watches.
    if metric
        .as_deref()
        .unwrap_or(&d.alarm_name)
        .to_ascii_lowercase()
        .contains("root")
    {
        f.severity = Severity::Critical;
    }
    f.resources = vec![Resource::new(ResourceKind::CloudWatchAlarm, d.alarm_name).with_arn(arn)];
    f.status = Some(d.state.value);
    f.observed_at = rfc3339(end);
    f.window_start = rfc3339(start);
    f.alarm_namespace = stat.and_then(|s| s.metric.namespace.clone());
    Ok(f)
}
