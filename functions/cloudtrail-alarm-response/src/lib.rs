//! `cloudtrail-alarm-response`: a CIS alarm says only that a CloudTrail metric crossed a threshold.
//! This finds out what happened — the CloudTrail events of the alarm's evaluation window: who, from
//! where, which calls — and responds per alarm, reusing the other remediations where one exists.
//!
//! Where the events are read:
//! - **An alarm of the organization trail** (raised in QUELL_ORG_TRAIL_ACCOUNT, where org/trail.yaml
//!   puts the alarms on the trail's log group): through that account's `quell-trail-reader` role,
//!   the alarm's own metric filter (DescribeMetricFilters: its log group and pattern), then the
//!   events of the alarm's window that the pattern matches, or that the response acts on beside
//!   them (FilterLogEvents) — the exact events that fired it, of every account and Region, with no
//!   event-history lag. The alarm is split into one finding per account and Region the events
//!   name (`recipientAccountId`, `awsRegion`), each answered there through that account's own role
//!   and recorded in its Security Hub, escalations included. The trail's own account is only
//!   read: its events, and any past the read's limit (500 events or 20 s), are told in the
//!   alarm's own outcome (FAILED, NOTIFIED).
//! - **Any other alarm** (a member's own trail and alarms): LookupEvents in the alarm's account
//!   and Region.
//!
//! | alarm metric (default) | response |
//! |---|---|
//! | ConsoleSigninWithoutMFA | each IAM user who signed in without MFA gets a policy denying all but managing their own MFA (or notify only) |
//! | RootAccountUsage | escalated: a CRITICAL finding naming the source addresses and calls |
//! | CloudTrailConfigChanges | the changed trails log again (as cloudtrail-restore-logging) |
//! | SecurityGroupChanges | the changed groups lose world-open high-risk rules (as ec2-revoke-open-ingress) |
//! | S3BucketPolicyChanges | the changed buckets get Block Public Access (as s3-block-public-access) |
//! | DisableOrDeleteCMK | the keys' scheduled deletion is cancelled and the keys are enabled again |
//! | AWSConfigChanges | the configuration recorders the window's calls stopped are started again |
//! | UnauthorizedAPICalls, IAMPolicyChanges, NACLChanges, NetworkGatewayChanges, RouteTableChanges, VPCChanges, ConsoleAuthenticationFailures | escalated: a finding that says who changed what, from where |
//!
//! What it believes (a member account can create, rename and set the state of its own alarms):
//! - Only quell's own alarms are acted on: the alarm's name starts with `QUELL_ALARM_NAME_PREFIX`
//!   (default `quell-cis-`, the names org/trail.yaml gives its alarms) and the metric it
//!   watches is in `QUELL_ALARM_NAMESPACE` (default `CISBenchmark`). Any other alarm is not
//!   applicable, whatever its metric is called, and no call is made for it.
//! - The organization trail's log group is believed for the account and Region each event names:
//!   only CloudTrail and the trail account's own administrators write there, and the reader role
//!   may read that group alone (org/trail.yaml). A member's own log group, which the member can
//!   write to, is never read: its alarms are looked up in its event history, which AWS alone
//!   writes. Each account an event names is held to QUELL_ALLOW_ACCOUNTS / QUELL_DENY_ACCOUNTS on
//!   its own; the trail's account (often the management account) is only read.
//! - The window is at most one hour. The parser already bounds it by the envelope's `time`
//!   (AWS's timestamp, not the alarm's own reasonData); here, defensively, a window longer than
//!   3600 s, one whose end is missing, or one whose start is after its end becomes at most the
//!   last 3600 s ending at its end (or now). The lookup widens it a little for CloudTrail's
//!   delivery delay, and the LookupEvents request never spans more than 3600 s.
//! - A CloudTrail record with an `errorCode` is a call that failed: evidence, never a change.
//!   Every response that acts on what the window's calls changed (users, trails, groups, buckets,
//!   keys, recorders) ignores such records; they are still shown in the evidence and the
//!   escalations (UnauthorizedAPICalls is about failed calls only).
//! - A record made by one of quell's own roles (`userIdentity.arn` or its session issuer's ARN is
//!   a role named `quell-…`, or a role under path `/quell/`) is not acted on again, so quell's
//!   own writes cannot cascade; it is shown in the evidence as "quell's own change".

use std::collections::BTreeSet;
use std::time::SystemTime;

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use cloudtrail_restore_logging::CloudtrailRestoreLogging;
use ec2_revoke_open_ingress::Ec2RevokeOpenIngress;
use quell::config::ConfigError;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, Source, Spec, Step,
    Tags, Triggers,
};
use s3_block_public_access::S3BlockPublicAccess;
use serde_json::Value;

pub const MFA_POLICY: &str = "quell-deny-without-mfa";
/// The prefix of quell's own alarm names (org/trail.yaml: `quell-cis-{metric}`).
pub const DEFAULT_ALARM_NAME_PREFIX: &str = "quell-cis-";
/// The namespace of the metrics quell's alarms watch (org/trail.yaml's `AlarmNamespace`).
pub const DEFAULT_ALARM_NAMESPACE: &str = "CISBenchmark";
/// The longest window looked up in CloudTrail, whatever the finding says: one hour.
pub const MAX_WINDOW_SECS: i64 = 3600;
/// The window when the finding gives no start: one CIS alarm period.
const DEFAULT_PERIOD_SECS: i64 = 300;
/// How much earlier the lookup starts and later it ends than the alarm's window, for CloudTrail's
/// delivery delay.
const WIDEN_BEFORE_SECS: i64 = 600;
const WIDEN_AFTER_SECS: i64 = 60;
const PUT_USER_POLICY: &str = "iam:PutUserPolicy";
const CANCEL_DELETION: &str = "kms:CancelKeyDeletion";
const ENABLE_KEY: &str = "kms:EnableKey";
const START_RECORDER: &str = "config:StartConfigurationRecorder";
// For undo only.
const DELETE_USER_POLICY: &str = "iam:DeleteUserPolicy";
const DISABLE_KEY: &str = "kms:DisableKey";
const STOP_RECORDER: &str = "config:StopConfigurationRecorder";

/// What an alarm is about, by its metric name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConsoleWithoutMfa,
    RootUsage,
    TrailChanges,
    SecurityGroupChanges,
    BucketPolicyChanges,
    KmsKeyChanges,
    ConfigChanges,
    UnauthorizedCalls,
    IamPolicyChanges,
    NaclChanges,
    GatewayChanges,
    RouteTableChanges,
    VpcChanges,
    ConsoleAuthFailures,
}

/// Every alarm: the CIS benchmark's metric name (the default), the variable that renames it, and
/// its kind.
pub const ALARMS: &[(&str, &str, Kind)] = &[
    (
        "ConsoleSigninWithoutMFA",
        "QUELL_ALARM_CONSOLE_WITHOUT_MFA",
        Kind::ConsoleWithoutMfa,
    ),
    (
        "RootAccountUsage",
        "QUELL_ALARM_ROOT_USAGE",
        Kind::RootUsage,
    ),
    (
        "CloudTrailConfigChanges",
        "QUELL_ALARM_TRAIL_CHANGES",
        Kind::TrailChanges,
    ),
    (
        "SecurityGroupChanges",
        "QUELL_ALARM_SECURITY_GROUP_CHANGES",
        Kind::SecurityGroupChanges,
    ),
    (
        "S3BucketPolicyChanges",
        "QUELL_ALARM_BUCKET_POLICY_CHANGES",
        Kind::BucketPolicyChanges,
    ),
    (
        "DisableOrDeleteCMK",
        "QUELL_ALARM_KMS_CHANGES",
        Kind::KmsKeyChanges,
    ),
    (
        "AWSConfigChanges",
        "QUELL_ALARM_CONFIG_CHANGES",
        Kind::ConfigChanges,
    ),
    (
        "UnauthorizedAPICalls",
        "QUELL_ALARM_UNAUTHORIZED_CALLS",
        Kind::UnauthorizedCalls,
    ),
    (
        "IAMPolicyChanges",
        "QUELL_ALARM_IAM_POLICY_CHANGES",
        Kind::IamPolicyChanges,
    ),
    ("NACLChanges", "QUELL_ALARM_NACL_CHANGES", Kind::NaclChanges),
    (
        "NetworkGatewayChanges",
        "QUELL_ALARM_GATEWAY_CHANGES",
        Kind::GatewayChanges,
    ),
    (
        "RouteTableChanges",
        "QUELL_ALARM_ROUTE_TABLE_CHANGES",
        Kind::RouteTableChanges,
    ),
    ("VPCChanges", "QUELL_ALARM_VPC_CHANGES", Kind::VpcChanges),
    (
        "ConsoleAuthenticationFailures",
        "QUELL_ALARM_CONSOLE_AUTH_FAILURES",
        Kind::ConsoleAuthFailures,
    ),
];

/// The calls each CIS metric filter counts (as org/trail.yaml's filters do).
pub const IAM_POLICY_CALLS: &[&str] = &[
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
];
pub const NACL_CALLS: &[&str] = &[
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "DeleteNetworkAcl",
    "DeleteNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "ReplaceNetworkAclAssociation",
];
pub const GATEWAY_CALLS: &[&str] = &[
    "CreateCustomerGateway",
    "DeleteCustomerGateway",
    "AttachInternetGateway",
    "CreateInternetGateway",
    "DeleteInternetGateway",
    "DetachInternetGateway",
];
pub const ROUTE_TABLE_CALLS: &[&str] = &[
    "CreateRoute",
    "CreateRouteTable",
    "ReplaceRoute",
    "ReplaceRouteTableAssociation",
    "DeleteRouteTable",
    "DeleteRoute",
    "DisassociateRouteTable",
];
pub const VPC_CALLS: &[&str] = &[
    "CreateVpc",
    "DeleteVpc",
    "ModifyVpcAttribute",
    "AcceptVpcPeeringConnection",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "AttachClassicLinkVpc",
    "DetachClassicLinkVpc",
    "DisableVpcClassicLink",
    "EnableVpcClassicLink",
];
pub const KMS_CALLS: &[&str] = &["DisableKey", "ScheduleKeyDeletion"];
pub const CONFIG_CALLS: &[&str] = &[
    "StopConfigurationRecorder",
    "DeleteDeliveryChannel",
    "PutDeliveryChannel",
    "PutConfigurationRecorder",
];

/// What an escalated alarm watches, and whether a call is one of those.
type Watch = (&'static str, fn(&Call) -> bool);

impl Kind {
    /// The one LookupEvents attribute that narrows the window's events to this alarm's (none: all
    /// of the window's events, filtered here).
    fn lookup(self) -> Option<(LookupAttributeKey, &'static str)> {
        Some(match self {
            Kind::ConsoleWithoutMfa | Kind::ConsoleAuthFailures => {
                (LookupAttributeKey::EventName, "ConsoleLogin")
            }
            Kind::RootUsage => (LookupAttributeKey::Username, "root"),
            Kind::TrailChanges => (LookupAttributeKey::EventSource, "cloudtrail.amazonaws.com"),
            Kind::SecurityGroupChanges
            | Kind::NaclChanges
            | Kind::GatewayChanges
            | Kind::RouteTableChanges
            | Kind::VpcChanges => (LookupAttributeKey::EventSource, "ec2.amazonaws.com"),
            Kind::BucketPolicyChanges => (LookupAttributeKey::EventSource, "s3.amazonaws.com"),
            Kind::KmsKeyChanges => (LookupAttributeKey::EventSource, "kms.amazonaws.com"),
            Kind::ConfigChanges => (LookupAttributeKey::EventSource, "config.amazonaws.com"),
            Kind::IamPolicyChanges => (LookupAttributeKey::EventSource, "iam.amazonaws.com"),
            Kind::UnauthorizedCalls => return None,
        })
    }

    /// For the alarms that are escalated: what they watch, and whether a call is one of them.
    fn escalation(self) -> Option<Watch> {
        fn named(c: &Call, names: &[&str]) -> bool {
            names.contains(&c.name.as_str())
        }
        Some(match self {
            Kind::UnauthorizedCalls => ("unauthorized API calls", |c| {
                let code = c.record["errorCode"].as_str().unwrap_or_default();
                code.ends_with("UnauthorizedOperation") || code.starts_with("AccessDenied")
            }),
            Kind::IamPolicyChanges => ("IAM policy changes", |c| named(c, IAM_POLICY_CALLS)),
            Kind::NaclChanges => ("network ACL changes", |c| named(c, NACL_CALLS)),
            Kind::GatewayChanges => ("network gateway changes", |c| named(c, GATEWAY_CALLS)),
            Kind::RouteTableChanges => ("route table changes", |c| named(c, ROUTE_TABLE_CALLS)),
            Kind::VpcChanges => ("VPC changes", |c| named(c, VPC_CALLS)),
            Kind::ConsoleAuthFailures => ("console authentication failures", |c| {
                c.name == "ConsoleLogin" && c.record["errorMessage"] == "Failed authentication"
            }),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CloudtrailAlarmResponse {
    /// Metric name → kind; the CIS benchmark's names unless configured.
    pub metrics: Vec<(String, Kind)>,
    /// Console sign-in without MFA: notify only, no policy.
    pub mfa_notify_only: bool,
    /// KMS keys disabled or scheduled for deletion in the window: enabled again and their deletion
    /// cancelled only when this is set (QUELL_ALARM_KMS_RESTORE=true). By default they are planned
    /// and notified: a responder may have disabled a key on purpose, and quell must not undo a
    /// containment.
    pub kms_restore: bool,
    pub ingress: Ec2RevokeOpenIngress,
    /// The exemption tag, checked on each resource an alarm leads to.
    pub exempt_tag: String,
    /// Only alarms whose name starts with this are quell's (QUELL_ALARM_NAME_PREFIX).
    pub alarm_name_prefix: String,
    /// Only alarms on metrics of this namespace are quell's (QUELL_ALARM_NAMESPACE).
    pub alarm_namespace: String,
}

impl CloudtrailAlarmResponse {
    /// Whether a resource an alarm leads to carries the exemption tag (`<tag>=true`).
    fn tagged_exempt(&self, tags: &Tags) -> bool {
        tags.iter()
            .any(|(k, v)| *k == self.exempt_tag && v.eq_ignore_ascii_case("true"))
    }
}

impl Default for CloudtrailAlarmResponse {
    fn default() -> Self {
        CloudtrailAlarmResponse {
            metrics: ALARMS.iter().map(|(m, _, k)| (m.to_string(), *k)).collect(),
            mfa_notify_only: false,
            kms_restore: false,
            ingress: Ec2RevokeOpenIngress::default(),
            exempt_tag: "quell:exempt".into(),
            alarm_name_prefix: DEFAULT_ALARM_NAME_PREFIX.into(),
            alarm_namespace: DEFAULT_ALARM_NAMESPACE.into(),
        }
    }
}

/// One CloudTrail record of the window, the parts the responses read.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub source_ip: String,
    pub who: String,
    pub user_type: String,
    pub record: Value,
}

impl Call {
    /// A CloudTrail record, as LookupEvents or the trail's log group gives it.
    pub fn from_record(record: Value) -> Call {
        let ident = &record["userIdentity"];
        Call {
            name: record["eventName"].as_str().unwrap_or_default().to_string(),
            source_ip: record["sourceIPAddress"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
            who: ident["userName"]
                .as_str()
                .or(ident["arn"].as_str())
                .unwrap_or("?")
                .to_string(),
            user_type: ident["type"].as_str().unwrap_or("?").to_string(),
            record,
        }
    }

    /// The call failed (its record has an `errorCode`): evidence, not a change.
    pub fn failed(&self) -> bool {
        self.record
            .get("errorCode")
            .is_some_and(|code| !code.is_null())
    }

    /// The call was made by one of quell's own roles.
    pub fn by_quell(&self) -> bool {
        let ident = &self.record["userIdentity"];
        [
            &ident["arn"],
            &ident["sessionContext"]["sessionIssuer"]["arn"],
        ]
        .into_iter()
        .filter_map(Value::as_str)
        .any(quell_role_arn)
    }

    /// A change quell may act on: it succeeded, and quell did not make it.
    pub fn acted_on(&self) -> bool {
        !self.failed() && !self.by_quell()
    }
}

/// Whether an ARN is one of quell's own roles or a session of one ([`quell::member::is_quell_role_arn`]).
pub use quell::member::is_quell_role_arn as quell_role_arn;

#[derive(Debug)]
pub struct Target {
    pub alarm: String,
    pub kind: Kind,
    pub start: DateTime,
    pub end: DateTime,
    pub account: String,
    pub region: String,
    pub partition: String,
    calls: Cached<Vec<Call>>,
    /// Where the calls came from when the finding carried them (an organization trail's alarm,
    /// split by account): the log group, and whether every matching event was read.
    evidence: Option<(String, bool)>,
}

/// The organization trail: the alarm's events read from the trail's log group, in the account
/// that owns it, through its `quell-trail-reader` role.
pub mod org {
    use std::collections::BTreeMap;

    use aws_smithy_types::DateTime;
    use quell::finding::validate;
    use quell::{AwsError, AwsResultExt};

    use super::Call;

    /// The most events read from the log group for one alarm.
    pub const MAX_EVENTS: usize = 500;
    /// The longest the read may take: a third of the function's timeout, so that the parts have
    /// the rest.
    pub const MAX_READ: std::time::Duration = std::time::Duration::from_secs(20);

    /// The pattern the log group is read with: the alarm's filter pattern, or any of `calls`
    /// (the response's own calls). A pattern that is not a JSON one is read as it is.
    pub fn read_pattern(pattern: &str, calls: &[&str]) -> String {
        let inner = pattern
            .trim()
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'));
        match inner {
            Some(inner) if !calls.is_empty() => format!(
                "{{ ({}) || {} }}",
                inner.trim(),
                calls
                    .iter()
                    .map(|c| format!("($.eventName = \"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ")
            ),
            _ => pattern.to_string(),
        }
    }

    /// The alarm's metric filter: the log group it watches and its pattern. Exactly one filter
    /// must feed the alarm's metric; none, or several that disagree, is an error naming them.
    pub async fn metric_filter(
        logs: &aws_sdk_cloudwatchlogs::Client,
        alarm: &str,
        metric: &str,
        namespace: &str,
    ) -> Result<(String, String), AwsError> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut pages = logs
            .describe_metric_filters()
            .metric_name(metric)
            .metric_namespace(namespace)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| {
                format!("could not read the metric filters of metric {namespace}/{metric}")
            })?;
            for mf in page.metric_filters() {
                // The metric and the namespace in the same transformation.
                let feeds = mf
                    .metric_transformations()
                    .iter()
                    .any(|m| m.metric_name() == metric && m.metric_namespace() == namespace);
                if let (true, Some(group), Some(pattern)) =
                    (feeds, mf.log_group_name(), mf.filter_pattern())
                {
                    let entry = (group.to_string(), pattern.to_string());
                    if !found.contains(&entry) {
                        found.push(entry);
                    }
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(AwsError::other(
                format!("could not trace alarm {alarm} to its events"),
                "NoMetricFilter",
                format!(
                    "no metric filter feeds metric {namespace}/{metric} in the trail's account"
                ),
                false,
            )),
            n => Err(AwsError::other(
                format!("could not trace alarm {alarm} to its events"),
                "AmbiguousMetricFilter",
                format!(
                    "{n} metric filters feed metric {namespace}/{metric}: {}",
                    found
                        .iter()
                        .map(|(g, _)| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                false,
            )),
        }
    }

    /// The events of `group` between `start` and `end` that `pattern` matches, at most
    /// [`MAX_EVENTS`] and for at most [`MAX_READ`], and whether that was all of them. A message
    /// that is not a CloudTrail record naming its account and Region is left out, and the read is
    /// then not complete either.
    pub async fn events(
        logs: &aws_sdk_cloudwatchlogs::Client,
        group: &str,
        pattern: &str,
        start: DateTime,
        end: DateTime,
    ) -> Result<(Vec<Call>, bool), AwsError> {
        let mut out = Vec::new();
        let mut skipped = 0usize;
        let started = std::time::Instant::now();
        let mut pages = logs
            .filter_log_events()
            .log_group_name(group)
            .filter_pattern(pattern)
            .start_time(start.secs() * 1000)
            .end_time(end.secs() * 1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| format!("could not read the events of log group {group}"))?;
            if started.elapsed() > MAX_READ {
                return Ok((out, false));
            }
            for e in page.events() {
                match e
                    .message()
                    .and_then(|m| serde_json::from_str(m).ok())
                    .map(Call::from_record)
                {
                    Some(call) if origin(&call).is_some() => {
                        if out.len() == MAX_EVENTS {
                            return Ok((out, false));
                        }
                        out.push(call);
                    }
                    _ => skipped += 1,
                }
            }
        }
        if skipped > 0 {
            tracing::warn!(
                group,
                skipped,
                "log events that are not CloudTrail records were left out"
            );
        }
        Ok((out, skipped == 0))
    }

    /// The account and Region a record was delivered for (`recipientAccountId`, `awsRegion`).
    pub fn origin(c: &Call) -> Option<(String, String)> {
        let account = c.record["recipientAccountId"].as_str()?;
        let region = c.record["awsRegion"].as_str()?;
        (validate::account_id(account) && validate::region(region))
            .then(|| (account.to_string(), region.to_string()))
    }

    /// The events by the account and Region they were delivered for.
    pub fn by_account(calls: Vec<Call>) -> BTreeMap<(String, String), Vec<Call>> {
        let mut out: BTreeMap<(String, String), Vec<Call>> = BTreeMap::new();
        for c in calls {
            if let Some(key) = origin(&c) {
                out.entry(key).or_default().push(c);
            }
        }
        out
    }
}

pub struct Clients {
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub iam: aws_sdk_iam::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub config: aws_sdk_config::Client,
}

fn parse_time(s: &str) -> Option<DateTime> {
    DateTime::from_str(s, Format::DateTime).ok()
}

fn fmt(t: &DateTime) -> String {
    DateTime::from_secs(t.secs())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The span looked up in CloudTrail: the alarm's window (`start`, `end`), at most
/// [`MAX_WINDOW_SECS`] long, widened for CloudTrail's delivery delay, and never more than
/// [`MAX_WINDOW_SECS`] in all. A window that is longer, has no end, or starts after its end
/// becomes at most the last hour ending at its end (or `now`).
pub fn window(
    start: Option<DateTime>,
    end: Option<DateTime>,
    now: DateTime,
) -> (DateTime, DateTime) {
    let end = end.unwrap_or(now).secs();
    let start = match start.map(|s| s.secs()) {
        Some(s) if s <= end => s.max(end - MAX_WINDOW_SECS),
        Some(_) => end - MAX_WINDOW_SECS,
        None => end - DEFAULT_PERIOD_SECS,
    };
    let end = end + WIDEN_AFTER_SECS;
    let start = (start - WIDEN_BEFORE_SECS).max(end - MAX_WINDOW_SECS);
    (DateTime::from_secs(start), DateTime::from_secs(end))
}

/// The window's events, from LookupEvents (one attribute per lookup, as the API allows).
async fn calls(c: &Clients, t: &Target) -> Result<Vec<Call>, AwsError> {
    if let Some(v) = t.calls.get() {
        return Ok(v);
    }
    let mut out = Vec::new();
    let mut req = c
        .cloudtrail
        .lookup_events()
        .start_time(t.start)
        .end_time(t.end);
    if let Some((key, value)) = t.kind.lookup() {
        req = req.lookup_attributes(
            LookupAttribute::builder()
                .attribute_key(key)
                .attribute_value(value)
                .build()
                .map_err(|e| {
                    AwsError::other(
                        "could not build the CloudTrail lookup",
                        "InvalidLookup",
                        e.to_string(),
                        false,
                    )
                })?,
        );
    }
    let mut pages = req.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(|| {
            format!(
                "could not look up the CloudTrail events of alarm {}",
                t.alarm
            )
        })?;
        for e in page.events() {
            let record: Value = e
                .cloud_trail_event()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or(Value::Null);
            let mut call = Call::from_record(record);
            call.name = e.event_name().unwrap_or_default().to_string();
            out.push(call);
        }
        if out.len() >= 500 {
            break;
        }
    }
    t.calls.set(out.clone());
    Ok(out)
}

/// IAM users who signed in to the console without MFA in the window (failed sign-ins and quell's
/// own records are not counted).
pub fn without_mfa(calls: &[Call]) -> BTreeSet<String> {
    calls
        .iter()
        .filter(|c| c.acted_on())
        .filter(|c| {
            c.name == "ConsoleLogin"
                && c.user_type == "IAMUser"
                && c.record["responseElements"]["ConsoleLogin"] == "Success"
                && c.record["additionalEventData"]["MFAUsed"] != "Yes"
        })
        .map(|c| c.who.clone())
        .collect()
}

/// Names of what the window's calls changed: `requestParameters.<field>` of the named calls.
/// A call that failed (`errorCode`) changed nothing, and quell's own changes are not acted on
/// again: neither is counted.
pub fn changed(calls: &[Call], names: &[&str], field: &str) -> BTreeSet<String> {
    calls
        .iter()
        .filter(|c| c.acted_on())
        .filter(|c| names.contains(&c.name.as_str()))
        .filter_map(|c| {
            c.record["requestParameters"][field]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

const TRAIL_CALLS: &[&str] = &[
    "StopLogging",
    "UpdateTrail",
    "DeleteTrail",
    "CreateTrail",
    "PutEventSelectors",
];
const SG_CALLS: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "ModifySecurityGroupRules",
    "CreateSecurityGroup",
];
const S3_CALLS: &[&str] = &[
    "PutBucketPolicy",
    "PutBucketAcl",
    "DeleteBucketPolicy",
    "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
];

/// The inline policy an IAM user gets after a console sign-in without MFA: everything is denied
/// until MFA is used, except what it takes to set up MFA (AWS's documented pattern).
pub fn mfa_policy() -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "QuellDenyAllButMfaSetupWithoutMfa",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "iam:ChangePassword", "sts:GetSessionToken"
            ],
            "Resource": "*",
            // `Bool`, not `BoolIfExists`: a request signed with a long-term access key carries no
            // aws:MultiFactorAuthPresent, and `BoolIfExists` would deny it too (breaking the user's
            // automation); the console session that signed in without MFA carries `false`.
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}
        }]
    })
}

/// Configuration recorders the window's calls stopped or replaced (StopConfigurationRecorder,
/// PutConfigurationRecorder), failed calls and quell's own not counted.
pub fn recorders_changed(calls: &[Call]) -> BTreeSet<String> {
    calls
        .iter()
        .filter(|c| c.acted_on())
        .filter_map(|c| {
            let params = &c.record["requestParameters"];
            match c.name.as_str() {
                "StopConfigurationRecorder" => params["configurationRecorderName"].as_str(),
                "PutConfigurationRecorder" => params["configurationRecorder"]["name"].as_str(),
                _ => None,
            }
        })
        .map(str::to_string)
        .collect()
}

/// The window's records quell does not act on: calls that failed (evidence only), quell's own
/// changes.
fn not_acted_on(calls: &[Call]) -> Option<String> {
    let ignored: Vec<Call> = calls.iter().filter(|c| !c.acted_on()).cloned().collect();
    // Each entry says why: its error code, or "quell's own change".
    (!ignored.is_empty()).then(|| format!("not acted on: {}", changes(&ignored)))
}

fn evidence(calls: &[Call]) -> String {
    let ips: BTreeSet<&str> = calls.iter().map(|c| c.source_ip.as_str()).collect();
    let names: BTreeSet<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    let who: BTreeSet<&str> = calls.iter().map(|c| c.who.as_str()).collect();
    let mut text = format!(
        "{} calls by {} from {}: {}",
        calls.len(),
        who.into_iter().collect::<Vec<_>>().join(", "),
        ips.into_iter().collect::<Vec<_>>().join(", "),
        names.into_iter().collect::<Vec<_>>().join(", ")
    );
    if let Some(ignored) = not_acted_on(calls) {
        text = format!("{text}; {ignored}");
    }
    text
}

/// A KMS key reference as DisableKey and ScheduleKeyDeletion take it: a key id or a key ARN.
pub fn valid_key_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 2048
        && (s.starts_with("arn:") || s.len() <= 64)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/-_".contains(c))
}

/// A key's id and state; `None` for a key that is gone or that AWS manages (quell changes only
/// customer managed keys).
async fn key_state(
    c: &Clients,
    key: &str,
) -> Result<Option<(String, aws_sdk_kms::types::KeyState)>, AwsError> {
    let out = match c.kms.describe_key().key_id(key).send().await {
        Ok(o) => o,
        Err(e)
            if aws_sdk_kms::error::ProvideErrorMetadata::code(&e) == Some("NotFoundException") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e).aws(|| format!("could not describe KMS key {key}")),
    };
    let Some(m) = out.key_metadata else {
        return Ok(None);
    };
    if m.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
        return Ok(None);
    }
    Ok(m.key_state().cloned().map(|s| (m.key_id().to_string(), s)))
}

async fn key_tags(c: &Clients, key_id: &str) -> Result<Tags, AwsError> {
    let out = c
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .aws(|| format!("could not read the tags of KMS key {key_id}"))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect())
}

/// The recorders to start again: those the window's calls stopped or replaced and that are not
/// recording now. A recorder no call of the window touched is left as it is (it may be off on
/// purpose), and so is one only a failed call or quell itself touched.
async fn recorders_to_start(c: &Clients, calls: &[Call]) -> Result<Vec<String>, AwsError> {
    let named = recorders_changed(calls);
    if named.is_empty() {
        return Ok(Vec::new());
    }
    Ok(stopped_recorders(c)
        .await?
        .into_iter()
        .filter(|r| named.contains(r))
        .collect())
}

/// Configuration recorders that are not recording.
async fn stopped_recorders(c: &Clients) -> Result<Vec<String>, AwsError> {
    let out = c
        .config
        .describe_configuration_recorder_status()
        .send()
        .await
        .aws(|| "could not read the configuration recorders' status".to_string())?;
    Ok(out
        .configuration_recorders_status()
        .iter()
        .filter(|r| !r.recording())
        .filter_map(|r| r.name().map(str::to_string))
        .collect())
}

/// What a call changed: the ids, names and ARNs among its request parameters.
fn call_target(c: &Call) -> String {
    let Some(params) = c.record["requestParameters"].as_object() else {
        return String::new();
    };
    let mut keys: Vec<&String> = params
        .keys()
        .filter(|k| k.ends_with("Id") || k.ends_with("Name") || k.ends_with("Arn"))
        .collect();
    keys.sort();
    keys.iter()
        .filter_map(|k| params[k.as_str()].as_str())
        .take(3)
        .collect::<Vec<_>>()
        .join(",")
}

/// Who changed what, from where: one entry per call, the first few.
pub fn changes(calls: &[Call]) -> String {
    const SHOWN: usize = 6;
    let mut parts: Vec<String> = calls
        .iter()
        .take(SHOWN)
        .map(|c| {
            let what = call_target(c);
            let mut code = c.record["errorCode"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            if c.by_quell() {
                code.push_str(" (quell's own change)");
            }
            if what.is_empty() {
                format!("{}{code} by {} from {}", c.name, c.who, c.source_ip)
            } else {
                format!("{} {what}{code} by {} from {}", c.name, c.who, c.source_ip)
            }
        })
        .collect();
    if calls.len() > SHOWN {
        parts.push(format!("and {} more", calls.len() - SHOWN));
    }
    parts.join("; ")
}

impl CloudtrailAlarmResponse {
    async fn has_mfa_policy(&self, c: &Clients, user: &str) -> Result<bool, AwsError> {
        match c
            .iam
            .get_user_policy()
            .user_name(user)
            .policy_name(MFA_POLICY)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") =>
            {
                Ok(false)
            }
            Err(e) => Err(e).aws(|| format!("could not read policy {MFA_POLICY} of user {user}")),
        }
    }

    /// The sub-remediations' targets that are not exempt, with their steps.
    async fn sub_plans(
        &self,
        c: &Clients,
        t: &Target,
        exempt_tag: &str,
    ) -> Result<Vec<Step>, AwsError> {
        let calls = calls(c, t).await?;
        let is_exempt = |tags: &Tags| {
            tags.iter()
                .any(|(k, v)| k == exempt_tag && v.eq_ignore_ascii_case("true"))
        };
        if let Some((what, hit)) = t.kind.escalation() {
            let seen: Vec<Call> = calls.iter().filter(|c| hit(c)).cloned().collect();
            let text = if seen.is_empty() {
                "CloudTrail shows none of them in the window yet (it can lag by 15 minutes): look them up".to_string()
            } else {
                format!("{} calls: {}", seen.len(), changes(&seen))
            };
            return Err(AwsError::other(
                "escalated",
                "ManualActionRequired",
                format!(
                    "{what} in account {}: {text}. A person must confirm they were intended",
                    t.account
                ),
                false,
            ));
        }
        let mut steps = Vec::new();
        match t.kind {
            Kind::ConsoleWithoutMfa => {
                for user in without_mfa(&calls) {
                    if !self.has_mfa_policy(c, &user).await? {
                        steps.push(Step::new(
                            PUT_USER_POLICY,
                            format!("user={user} policy={MFA_POLICY} (signed in without MFA)"),
                        ));
                    }
                }
            }
            Kind::RootUsage if !calls.is_empty() => {
                return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!("CRITICAL: the root user was used: {}. A person must confirm it was expected, rotate the root password and keys, and check its MFA", evidence(&calls)),
                        false,
                    ));
            }
            Kind::TrailChanges => {
                let r = CloudtrailRestoreLogging;
                for name in changed(&calls, TRAIL_CALLS, "name") {
                    let trail =
                        quell::finding::short_id(&quell::ResourceKind::CloudTrailTrail, &name);
                    let sub =
                        cloudtrail_restore_logging::Target::new(Some(trail), &t.account, &t.region);
                    if !is_exempt(&r.tags(&c.cloudtrail, &sub).await?) {
                        steps.extend(r.plan(&c.cloudtrail, &sub).await?);
                    }
                }
            }
            Kind::SecurityGroupChanges => {
                for group in changed(&calls, SG_CALLS, "groupId") {
                    if !ec2_revoke_open_ingress::valid_group_id(&group) {
                        continue;
                    }
                    let sub = ec2_revoke_open_ingress::Target::new(&group);
                    if !is_exempt(&self.ingress.tags(&c.ec2, &sub).await?) {
                        steps.extend(self.ingress.plan(&c.ec2, &sub).await?);
                    }
                }
            }
            Kind::BucketPolicyChanges => {
                for bucket in changed(&calls, S3_CALLS, "bucketName") {
                    if !quell::finding::validate::bucket_name(&bucket) {
                        continue;
                    }
                    let sub = s3_block_public_access::Bucket::new(bucket, &t.account);
                    if !is_exempt(&S3BlockPublicAccess.tags(&c.s3, &sub).await?) {
                        steps.extend(S3BlockPublicAccess.plan(&c.s3, &sub).await?);
                    }
                }
            }
            Kind::KmsKeyChanges => {
                for key in changed(&calls, KMS_CALLS, "keyId") {
                    if !valid_key_ref(&key) {
                        continue;
                    }
                    let Some((id, state)) = key_state(c, &key).await? else {
                        continue;
                    };
                    if is_exempt(&key_tags(c, &id).await?) {
                        continue;
                    }
                    use aws_sdk_kms::types::KeyState;
                    if state == KeyState::PendingDeletion {
                        steps.push(Step::new(
                            CANCEL_DELETION,
                            format!("key={id} was scheduled for deletion"),
                        ));
                    }
                    if matches!(state, KeyState::PendingDeletion | KeyState::Disabled) {
                        steps.push(Step::new(ENABLE_KEY, format!("key={id} enabled again")));
                    }
                }
            }
            Kind::ConfigChanges => {
                for name in recorders_to_start(c, &calls).await? {
                    steps.push(Step::new(
                        START_RECORDER,
                        format!("recorder={name} was not recording"),
                    ));
                }
            }
            // Escalated above.
            _ => {}
        }
        // Every step carries what the alarm's window showed: who, from where, which calls.
        let seen = evidence(&calls);
        for s in &mut steps {
            s.detail = format!("{} [alarm window: {seen}]", s.detail);
        }
        Ok(steps)
    }
}

impl CloudtrailAlarmResponse {
    /// [`Remediation::split`], with the trail account's CloudWatch Logs client.
    pub async fn split_with(
        &self,
        logs: &aws_sdk_cloudwatchlogs::Client,
        f: &Finding,
    ) -> Result<quell::remediation::Split, AwsError> {
        let t = self.target(f).map_err(|na| {
            AwsError::other("could not read the alarm", "NotApplicable", na.0, false)
        })?;
        let (group, pattern) =
            org::metric_filter(logs, &t.alarm, &f.kind, &self.alarm_namespace).await?;
        let read = org::read_pattern(&pattern, response_calls(t.kind));
        let (records, complete) = org::events(logs, &group, &read, t.start, t.end).await?;
        let mut by_account = org::by_account(records);
        let window = format!("{} to {}", fmt(&t.start), fmt(&t.end));
        // The trail's own account is only read: its events are told, never acted on.
        let own: Vec<Call> = by_account
            .keys()
            .filter(|(a, _)| *a == f.account)
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|k| by_account.remove(&k).unwrap_or_default())
            .collect();
        let mut left = Vec::new();
        if !own.is_empty() {
            left.push(format!(
                "{} events in the trail's own account {}, where quell only reads: {}",
                own.len(),
                f.account,
                changes(&own)
            ));
        }
        if !complete {
            left.push(format!(
                "only the first {} events of log group {group} between {window} were read (at most {} or {} s): an account whose events came later is not answered; a person must read the rest of the window",
                org::MAX_EVENTS.min(by_account.values().map(Vec::len).sum::<usize>() + own.len()),
                org::MAX_EVENTS,
                org::MAX_READ.as_secs()
            ));
        }
        if by_account.is_empty() && left.is_empty() {
            return Err(AwsError::other(
                "no event of the alarm was found",
                "NoEvidence",
                format!(
                    "no event of log group {group} (account {}) matched the filter pattern of metric {} between {window}: a person must find what fired alarm {}",
                    f.account, f.kind, t.alarm
                ),
                false,
            ));
        }
        let parts = by_account
            .into_iter()
            .map(|((account, region), records)| {
                let mut part = f.clone();
                part.id = format!("{}/{account}/{region}", f.id);
                part.partition = quell::finding::validate::partition_of(&region).to_string();
                part.account = account;
                part.region = region;
                part.evidence = Some(quell::finding::Evidence {
                    log_group: group.clone(),
                    records: records.into_iter().map(|c| c.record).collect(),
                    complete,
                });
                part
            })
            .collect();
        let left = (!left.is_empty()).then(|| {
            AwsError::other(
                format!("alarm {} of the organization trail", t.alarm),
                "ManualActionRequired",
                left.join("; "),
                false,
            )
        });
        Ok(quell::remediation::Split { parts, left })
    }
}

/// The calls a response acts on, beyond what the CIS filter counts (ModifySecurityGroupRules,
/// PutEventSelectors, the Block Public Access calls…): read from the log group with the filter's
/// own pattern, so that a part sees every change its response would.
fn response_calls(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::TrailChanges => TRAIL_CALLS,
        Kind::SecurityGroupChanges => SG_CALLS,
        Kind::BucketPolicyChanges => S3_CALLS,
        Kind::KmsKeyChanges => KMS_CALLS,
        Kind::ConfigChanges => CONFIG_CALLS,
        _ => &[],
    }
}

impl Remediation for CloudtrailAlarmResponse {
    const SPEC: Spec = Spec {
        id: "cloudtrail-alarm-response",
        summary: "Finds what a CIS CloudTrail alarm saw (the organization trail's log group with the alarm's own filter pattern, or LookupEvents in a member's own trail) and responds per alarm in each account, reusing the other remediations",
        resolved: "The alarm window's events (an organization trail's alarm: FilterLogEvents with its metric filter's pattern, one finding per account and Region they name; otherwise LookupEvents), succeeded non-quell calls: ConsoleSigninWithoutMFA: each user signed in without MFA has inline policy quell-deny-without-mfa; CloudTrailConfigChanges: each named trail logging, multi-region, log file validation on; SecurityGroupChanges: each changed group has no world-open high-risk port; S3BucketPolicyChanges: each bucket's Block Public Access all four true; DisableOrDeleteCMK: each key neither Disabled nor PendingDeletion; AWSConfigChanges: each stopped or replaced recorder recording. UNCONFIRMED when the window shows no call (RootAccountUsage too) or 500+. An organization trail's alarm whose log group shows no matching event, or whose metric filter is missing or ambiguous, FAILED (NOTIFIED), naming them.",
        untouched: "Only alarms named with QUELL_ALARM_NAME_PREFIX (quell-cis-) on a QUELL_ALARM_NAMESPACE (CISBenchmark) metric, in state ALARM. Escalated, never changed (ManualActionRequired, NOTIFIED): RootAccountUsage with calls, UnauthorizedAPICalls, IAMPolicyChanges, NACLChanges, NetworkGatewayChanges, RouteTableChanges, VPCChanges, ConsoleAuthenticationFailures. Plans only: MFA policies with QUELL_MFA_NOTIFY_ONLY=true, keys unless QUELL_ALARM_KMS_RESTORE=true. Exempt-tagged trails, groups, buckets and keys are left as they are (checked again before each change); users' tags are not read. The organization trail's own account (QUELL_ORG_TRAIL_ACCOUNT) is only read: its events, and those past 500 events or 20 s of reading, are told in the alarm's own outcome (FAILED, NOTIFIED), never acted on.",
        triggers: Triggers {
            alarm_metrics: &[
                "ConsoleSigninWithoutMFA",
                "RootAccountUsage",
                "CloudTrailConfigChanges",
                "SecurityGroupChanges",
                "S3BucketPolicyChanges",
                "DisableOrDeleteCMK",
                "AWSConfigChanges",
                "UnauthorizedAPICalls",
                "IAMPolicyChanges",
                "NACLChanges",
                "NetworkGatewayChanges",
                "RouteTableChanges",
                "VPCChanges",
                "ConsoleAuthenticationFailures",
            ],
            ..Triggers::NONE
        },
        permissions: &[
            "cloudtrail:LookupEvents",
            "iam:GetUserPolicy",
            PUT_USER_POLICY,
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:ListTags",
            "cloudtrail:StartLogging",
            "cloudtrail:UpdateTrail",
            "ec2:DescribeSecurityGroups",
            "ec2:RevokeSecurityGroupIngress",
            // The other ports of a world-open range with high-risk ports inside stay open.
            "ec2:AuthorizeSecurityGroupIngress",
            "s3:GetBucketTagging",
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            "kms:DescribeKey",
            "kms:ListResourceTags",
            CANCEL_DELETION,
            ENABLE_KEY,
            "config:DescribeConfigurationRecorderStatus",
            START_RECORDER,
        ],
        undo_permissions: &[
            DELETE_USER_POLICY,
            DISABLE_KEY,
            STOP_RECORDER,
            "cloudtrail:StopLogging",
        ],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            cloudtrail: aws_sdk_cloudtrail::Client::new(member.config()),
            iam: aws_sdk_iam::Client::new(member.config()),
            ec2: aws_sdk_ec2::Client::new(member.config()),
            s3: member.s3(),
            kms: aws_sdk_kms::Client::new(member.config()),
            config: aws_sdk_config::Client::new(member.config()),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for &(_, var, kind) in ALARMS {
            if let Some(v) = get(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
            {
                if v.len() > 255 || v.contains(char::is_whitespace) {
                    return Err(ConfigError {
                        var,
                        reason: format!("`{v}` is not a metric name"),
                    });
                }
                self.metrics.retain(|(_, k)| *k != kind);
                self.metrics.push((v, kind));
            }
        }
        for (var, slot) in [
            ("QUELL_MFA_NOTIFY_ONLY", &mut self.mfa_notify_only),
            ("QUELL_ALARM_KMS_RESTORE", &mut self.kms_restore),
        ] {
            if let Some(v) = get(var).filter(|v| !v.trim().is_empty()) {
                *slot = match v.trim() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(ConfigError {
                            var,
                            reason: format!("`{other}` is neither true nor false"),
                        })
                    }
                };
            }
        }
        if let Some(tag) = get("QUELL_EXEMPT_TAG")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
        {
            self.exempt_tag = tag;
        }
        if let Some(prefix) = get("QUELL_ALARM_NAME_PREFIX")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            if prefix.len() > 255 || !prefix.chars().all(|c| c.is_ascii_graphic()) {
                return Err(ConfigError {
                    var: "QUELL_ALARM_NAME_PREFIX",
                    reason: format!("`{prefix}` is not an alarm name prefix"),
                });
            }
            self.alarm_name_prefix = prefix;
        }
        if let Some(namespace) = get("QUELL_ALARM_NAMESPACE")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            // CloudWatch's namespace characters.
            if namespace.len() > 255
                || !namespace
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/#: ".contains(c))
            {
                return Err(ConfigError {
                    var: "QUELL_ALARM_NAMESPACE",
                    reason: format!("`{namespace}` is not a metric namespace"),
                });
            }
            self.alarm_namespace = namespace;
        }
        self.ingress.configure(get)
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        if f.source != Source::CloudWatchAlarm {
            return Err(NotApplicable(format!(
                "{} findings are not alarms",
                f.source
            )));
        }
        // Only quell's own alarms: a member can create or set the state of any alarm it likes.
        let alarm = f
            .resources
            .iter()
            .find(|r| r.kind == quell::ResourceKind::CloudWatchAlarm)
            .map(|r| r.id.clone())
            .ok_or_else(|| NotApplicable("the finding names no alarm".to_string()))?;
        if !alarm.starts_with(&self.alarm_name_prefix) {
            return Err(NotApplicable(format!(
                "alarm `{alarm}` is not one of quell's (name prefix `{}`)",
                self.alarm_name_prefix
            )));
        }
        match f.alarm_namespace.as_deref() {
            Some(ns) if ns == self.alarm_namespace => {}
            Some(ns) => {
                return Err(NotApplicable(format!(
                    "alarm `{alarm}` is not one of quell's: namespace `{ns}` is not `{}`",
                    self.alarm_namespace
                )))
            }
            None => {
                return Err(NotApplicable(format!(
                    "alarm `{alarm}` is not one of quell's: it names no metric namespace, not `{}`",
                    self.alarm_namespace
                )))
            }
        }
        if f.status.as_deref() != Some("ALARM") {
            return Err(NotApplicable(format!(
                "recorded, not acted on: the alarm is {}",
                f.status.as_deref().unwrap_or("in no state")
            )));
        }
        let kind = self
            .metrics
            .iter()
            .find(|(m, _)| *m == f.kind)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                NotApplicable(format!(
                    "no response is configured for alarm metric {}",
                    f.kind
                ))
            })?;
        let (start, end) = window(
            f.window_start.as_deref().and_then(parse_time),
            f.observed_at.as_deref().and_then(parse_time),
            DateTime::from(SystemTime::now()),
        );
        let calls = Cached::default();
        // An organization trail's alarm, split by account: its events were read from the trail's
        // log group with the alarm's own filter pattern, and are not looked up again.
        let evidence = f.evidence.as_ref().map(|e| {
            calls.set(e.records.iter().cloned().map(Call::from_record).collect());
            (e.log_group.clone(), e.complete)
        });
        Ok(Target {
            alarm,
            kind,
            start,
            end,
            account: f.account.clone(),
            region: f.region.clone(),
            partition: f.partition.clone(),
            calls,
            evidence,
        })
    }

    /// An alarm of the organization trail, in the account that owns the trail: its events are
    /// in the trail's log group, for every account and Region.
    fn splits(&self, f: &Finding) -> bool {
        f.evidence.is_none() && self.target(f).is_ok()
    }

    /// The alarm's own metric filter (DescribeMetricFilters: its pattern and log group), the
    /// events of its window that the pattern matches, or that the response acts on
    /// (FilterLogEvents), and one finding per account and Region they name, each carrying its
    /// events and answered there like a member's own alarm (escalated ones too, each recorded in
    /// its account). The trail's own account's events, and events past the read's limit, are
    /// told in the alarm's own outcome.
    async fn split(
        &self,
        trail: &Member,
        f: &Finding,
    ) -> Result<quell::remediation::Split, AwsError> {
        self.split_with(&aws_sdk_cloudwatchlogs::Client::new(trail.config()), f)
            .await
    }

    /// The alarm and its window. Only what `target` decided: the runtime keys its loop breaking
    /// and undo hold on this text, so it must not change once the window is looked up.
    fn describe(&self, t: &Target) -> String {
        format!("alarm {} ({} to {})", t.alarm, fmt(&t.start), fmt(&t.end))
    }

    /// An alarm has no tags; the resources it leads to are checked for the exemption tag one by
    /// one in `plan`.
    async fn tags(&self, _c: &Clients, _t: &Target) -> Result<Tags, AwsError> {
        Ok(Vec::new())
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        self.sub_plans(c, t, &self.exempt_tag).await
    }

    /// What each response is about to replace: the sub-remediations' own prior states, the users
    /// about to get the MFA policy, the keys' and recorders' states.
    async fn prior(&self, c: &Clients, t: &Target) -> Result<Option<Value>, AwsError> {
        let calls = calls(c, t).await?;
        let mut subs = Vec::new();
        match t.kind {
            Kind::ConsoleWithoutMfa => {
                let mut users = Vec::new();
                for user in without_mfa(&calls) {
                    if !self.has_mfa_policy(c, &user).await? {
                        users.push(user);
                    }
                }
                subs.push(serde_json::json!({"mfa_policy_added_to": users}));
            }
            Kind::TrailChanges => {
                for name in changed(&calls, TRAIL_CALLS, "name") {
                    let sub = cloudtrail_restore_logging::Target::new(
                        Some(quell::finding::short_id(
                            &quell::ResourceKind::CloudTrailTrail,
                            &name,
                        )),
                        &t.account,
                        &t.region,
                    );
                    // Only what apply will change: a trail that needs it and is not exempt.
                    if CloudtrailRestoreLogging
                        .plan(&c.cloudtrail, &sub)
                        .await?
                        .is_empty()
                        || self.tagged_exempt(
                            &CloudtrailRestoreLogging.tags(&c.cloudtrail, &sub).await?,
                        )
                    {
                        continue;
                    }
                    if let Some(p) = CloudtrailRestoreLogging.prior(&c.cloudtrail, &sub).await? {
                        subs.push(serde_json::json!({"trail": p}));
                    }
                }
            }
            Kind::SecurityGroupChanges => {
                for group in changed(&calls, SG_CALLS, "groupId")
                    .into_iter()
                    .filter(|g| ec2_revoke_open_ingress::valid_group_id(g))
                {
                    let sub = ec2_revoke_open_ingress::Target::new(&group);
                    if self.ingress.plan(&c.ec2, &sub).await?.is_empty()
                        || self.tagged_exempt(&self.ingress.tags(&c.ec2, &sub).await?)
                    {
                        continue;
                    }
                    if let Some(p) = self.ingress.prior(&c.ec2, &sub).await? {
                        subs.push(serde_json::json!({"security_group": p}));
                    }
                }
            }
            Kind::BucketPolicyChanges => {
                for bucket in changed(&calls, S3_CALLS, "bucketName")
                    .into_iter()
                    .filter(|b| quell::finding::validate::bucket_name(b))
                {
                    let sub = s3_block_public_access::Bucket::new(bucket, &t.account);
                    if S3BlockPublicAccess.plan(&c.s3, &sub).await?.is_empty()
                        || self.tagged_exempt(&S3BlockPublicAccess.tags(&c.s3, &sub).await?)
                    {
                        continue;
                    }
                    if let Some(p) = S3BlockPublicAccess.prior(&c.s3, &sub).await? {
                        subs.push(serde_json::json!({"bucket": p}));
                    }
                }
            }
            Kind::KmsKeyChanges => {
                for key in changed(&calls, KMS_CALLS, "keyId")
                    .into_iter()
                    .filter(|k| valid_key_ref(k))
                {
                    if let Some((id, state)) = key_state(c, &key).await? {
                        // An exempt key is never changed, so nothing of it is to put back.
                        if self.tagged_exempt(&key_tags(c, &id).await?) {
                            continue;
                        }
                        subs.push(
                            serde_json::json!({"kms_key": {"key": id, "state": state.as_str()}}),
                        );
                    }
                }
            }
            Kind::ConfigChanges => {
                subs.push(
                    serde_json::json!({"recorders_started": recorders_to_start(c, &calls).await?}),
                );
            }
            _ => {}
        }
        Ok(Some(
            serde_json::json!({"alarm": t.alarm, "account": t.account, "region": t.region, "responses": subs}),
        ))
    }

    /// Each response's prior state put back by the remediation that made it. A key that was
    /// scheduled for deletion is left enabled: scheduling a deletion is a person's decision.
    async fn restore(&self, c: &Clients, prior: &Value) -> Result<Vec<Step>, AwsError> {
        use quell::remediation::invalid_prior;
        let subs = prior["responses"]
            .as_array()
            .ok_or_else(|| invalid_prior("no recorded responses"))?;
        let mut steps = Vec::new();
        for sub in subs {
            if let Some(users) = sub["mfa_policy_added_to"].as_array() {
                for user in users.iter().filter_map(Value::as_str) {
                    if user.is_empty()
                        || user.len() > 64
                        || !user
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
                    {
                        return Err(invalid_prior(format!("`{user}` is not a user name")));
                    }
                    c.iam
                        .delete_user_policy()
                        .user_name(user)
                        .policy_name(MFA_POLICY)
                        .send()
                        .await
                        .aws(|| format!("could not delete policy {MFA_POLICY} of user {user}"))?;
                    steps.push(Step::new(
                        DELETE_USER_POLICY,
                        format!("user={user} policy={MFA_POLICY} removed"),
                    ));
                }
            } else if let Some(p) = sub.get("trail") {
                steps.extend(CloudtrailRestoreLogging.restore(&c.cloudtrail, p).await?);
            } else if let Some(p) = sub.get("security_group") {
                steps.extend(self.ingress.restore(&c.ec2, p).await?);
            } else if let Some(p) = sub.get("bucket") {
                steps.extend(S3BlockPublicAccess.restore(&c.s3, p).await?);
            } else if let Some(k) = sub.get("kms_key") {
                let key = quell::remediation::prior_field(k, "key", valid_key_ref)?;
                match k["state"].as_str() {
                    Some("Disabled") => {
                        c.kms.disable_key().key_id(&key).send().await.aws(|| format!("could not disable KMS key {key}"))?;
                        steps.push(Step::new(DISABLE_KEY, format!("key={key} disabled, as it was")));
                    }
                    Some("PendingDeletion") => steps.push(Step::new(
                        "manual",
                        format!("key={key} was scheduled for deletion: left enabled; a person schedules the deletion again if it is wanted"),
                    )),
                    _ => {}
                }
            } else if let Some(names) = sub["recorders_started"].as_array() {
                for name in names.iter().filter_map(Value::as_str) {
                    if name.is_empty() || name.len() > 256 {
                        return Err(invalid_prior(format!("`{name}` is not a recorder name")));
                    }
                    c.config
                        .stop_configuration_recorder()
                        .configuration_recorder_name(name)
                        .send()
                        .await
                        .aws(|| format!("could not stop configuration recorder {name}"))?;
                    steps.push(Step::new(
                        STOP_RECORDER,
                        format!("recorder={name} stopped, as it was"),
                    ));
                }
            } else {
                return Err(invalid_prior(format!(
                    "an unknown recorded response: {sub}"
                )));
            }
        }
        Ok(steps)
    }

    /// The alarm says something happened; an empty or capped window says only what CloudTrail's
    /// event history showed so far, in this account and region. Nothing to change is then never
    /// "resolved".
    fn unchecked(&self, t: &Target) -> Option<String> {
        let calls = t.calls.get()?;
        if let Some((group, false)) = &t.evidence {
            Some(format!(
                "only the first {} events of log group {group} were read",
                org::MAX_EVENTS
            ))
        } else if calls.is_empty() {
            Some("CloudTrail showed no call of the alarm's window: event history can lag the alarm by 15 minutes, and LookupEvents searches only this account and region (an organization trail's log group sees every account and region)".into())
        } else if calls.len() >= 500 {
            Some("only the window's first 500 calls were read".into())
        } else {
            None
        }
    }

    fn plan_only(&self, t: &Target) -> Option<String> {
        match t.kind {
            Kind::ConsoleWithoutMfa if self.mfa_notify_only => {
                Some("QUELL_MFA_NOTIFY_ONLY: notify only".to_string())
            }
            Kind::KmsKeyChanges if !self.kms_restore => Some(
                "a key disabled or scheduled for deletion may be a responder's containment: quell \
                 re-enables keys only with QUELL_ALARM_KMS_RESTORE=true; a person must confirm the \
                 change was not intended before cancelling the deletion"
                    .to_string(),
            ),
            _ => None,
        }
    }

    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        let calls = calls(c, t).await?;
        match t.kind {
            Kind::ConsoleWithoutMfa => {
                for user in without_mfa(&calls) {
                    if !self.has_mfa_policy(c, &user).await? {
                        c.iam
                            .put_user_policy()
                            .user_name(&user)
                            .policy_name(MFA_POLICY)
                            .policy_document(mfa_policy().to_string())
                            .send()
                            .await
                            .aws(|| format!("could not put policy {MFA_POLICY} on user {user}"))?;
                    }
                }
            }
            Kind::RootUsage => {}
            Kind::TrailChanges => {
                for name in changed(&calls, TRAIL_CALLS, "name") {
                    let trail =
                        quell::finding::short_id(&quell::ResourceKind::CloudTrailTrail, &name);
                    let sub =
                        cloudtrail_restore_logging::Target::new(Some(trail), &t.account, &t.region);
                    let steps = CloudtrailRestoreLogging.plan(&c.cloudtrail, &sub).await?;
                    // As in plan: an exempt resource is left as it is, here too.
                    if !steps.is_empty()
                        && !self.tagged_exempt(
                            &CloudtrailRestoreLogging.tags(&c.cloudtrail, &sub).await?,
                        )
                    {
                        CloudtrailRestoreLogging
                            .apply(&c.cloudtrail, &sub, &steps)
                            .await?;
                    }
                }
            }
            Kind::SecurityGroupChanges => {
                for group in changed(&calls, SG_CALLS, "groupId")
                    .into_iter()
                    .filter(|g| ec2_revoke_open_ingress::valid_group_id(g))
                {
                    let sub = ec2_revoke_open_ingress::Target::new(&group);
                    let steps = self.ingress.plan(&c.ec2, &sub).await?;
                    if !steps.is_empty()
                        && !self.tagged_exempt(&self.ingress.tags(&c.ec2, &sub).await?)
                    {
                        self.ingress.apply(&c.ec2, &sub, &steps).await?;
                    }
                }
            }
            Kind::BucketPolicyChanges => {
                for bucket in changed(&calls, S3_CALLS, "bucketName")
                    .into_iter()
                    .filter(|b| quell::finding::validate::bucket_name(b))
                {
                    let sub = s3_block_public_access::Bucket::new(bucket, &t.account);
                    let steps = S3BlockPublicAccess.plan(&c.s3, &sub).await?;
                    if !steps.is_empty()
                        && !self.tagged_exempt(&S3BlockPublicAccess.tags(&c.s3, &sub).await?)
                    {
                        S3BlockPublicAccess.apply(&c.s3, &sub, &steps).await?;
                    }
                }
            }
            Kind::KmsKeyChanges => {
                use aws_sdk_kms::types::KeyState;
                for key in changed(&calls, KMS_CALLS, "keyId")
                    .into_iter()
                    .filter(|k| valid_key_ref(k))
                {
                    let Some((id, state)) = key_state(c, &key).await? else {
                        continue;
                    };
                    if key_tags(c, &id)
                        .await?
                        .iter()
                        .any(|(k, v)| *k == self.exempt_tag && v.eq_ignore_ascii_case("true"))
                    {
                        continue;
                    }
                    if state == KeyState::PendingDeletion {
                        c.kms
                            .cancel_key_deletion()
                            .key_id(&id)
                            .send()
                            .await
                            .aws(|| format!("could not cancel the deletion of KMS key {id}"))?;
                    }
                    if matches!(state, KeyState::PendingDeletion | KeyState::Disabled) {
                        c.kms
                            .enable_key()
                            .key_id(&id)
                            .send()
                            .await
                            .aws(|| format!("could not enable KMS key {id}"))?;
                    }
                }
            }
            Kind::ConfigChanges => {
                for name in recorders_to_start(c, &calls).await? {
                    c.config
                        .start_configuration_recorder()
                        .configuration_recorder_name(&name)
                        .send()
                        .await
                        .aws(|| format!("could not start configuration recorder {name}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
