//! `tamper-restore`: the CloudTrail calls that blind the organization, answered in the member
//! account that made them. What quell can put back from what it knows, it puts back and verifies;
//! the rest is escalated with the exact command a person runs. Every answer names who made the call
//! and from where (the record's `userIdentity`, `sourceIPAddress` and `userAgent`).
//!
//! | call | answer |
//! |---|---|
//! | guardduty:DeleteDetector | a detector is created again, enabled; the association with the GuardDuty administrator is escalated with its command (UNCONFIRMED) |
//! | guardduty:UpdateDetector | the detector enabled again, and every protection plan the call turned off (`features`, or the older `dataSources`) enabled again, verified with GetDetector |
//! | config:StopConfigurationRecorder | the recorder started again, verified with DescribeConfigurationRecorderStatus |
//! | securityhub:DisableSecurityHub | Security Hub enabled again (without default standards), verified with DescribeHub; the standards and integrations enabled before are not known to quell: UNCONFIRMED, with the commands that list them |
//! | cloudwatch:DeleteAlarms | each of quell's CIS alarms (`quell-cis-<metric>`) the call deleted made again as org/trail.yaml defines it, verified with DescribeAlarms; the metric filter that feeds it read with DescribeMetricFilters |
//! | logs:DeleteMetricFilter | a CIS metric filter (org/trail.yaml's `<metric>Filter`, by its name) made again on the same log group with the same name, the CIS pattern and metric, verified with DescribeMetricFilters; another filter on a trail's log group is escalated with the command |
//! | logs:DeleteLogGroup (a trail's group, by its name) | the log group made again by its name, and on it a CIS metric filter (`quell-cis-<metric>Filter`, the CIS pattern) for each of quell's CIS alarms in the account and Region, verified with DescribeLogGroups and DescribeMetricFilters on that group; UNCONFIRMED, as the trail's delivery to it and the deleted group's retention and key are not in the call |
//! | events:DisableRule (quell's forwarding rules, [`quell::member::FORWARD_RULES`], on the default bus) | the rule enabled again, verified with DescribeRule (with QUELL_OUTCOME_BUS_ARN set, and a rule the stacks make in that account and Region, put back whole as DeleteRule's is: deleted since, or emptied, it is made again); quell-ForwardApiCalls itself forwards the DisableRule calls, so its own disabling reaches quell only where another path forwards it: the SCP is what keeps it on |
//! | securityhub:BatchDisableStandards | each standard the call disabled enabled again (BatchEnableStandards with the standard its subscription ARN names, the call's own request), verified with GetEnabledStandards: READY; PENDING or INCOMPLETE is UNCONFIRMED, DELETING retried; a disable AWS made itself (Security Hub's central configuration) is escalated, not fought |
//! | securityhub:DisableImportFindingsForProduct (one of AWS's integrations, `product-subscription/aws/<name>`) | the import enabled again (EnableImportFindingsForProduct), verified with ListEnabledProductsForImport; a partner's product is escalated (its product ARN holds the vendor's account, which the call does not) |
//! | config:DeleteDeliveryChannel, where the deployment names the organization's Config bucket (QUELL_CONFIG_BUCKET) | the channel made again by its name, delivering to that bucket, and every recorder the deletion left stopped started again, verified with DescribeDeliveryChannels and DescribeConfigurationRecorderStatus; without the setting, escalated with the command |
//! | cloudtrail:DeleteTrail, where the deployment names the organization's trail bucket (QUELL_TRAIL_BUCKET) and no other multi-Region trail still logs the account | the trail made again by its name, multi-Region, with log file validation, delivering to that bucket, and started, verified with DescribeTrails and GetTrailStatus; UNCONFIRMED, as the deleted trail's key, CloudWatch Logs delivery and event selectors are not in the call; without the setting, or where another trail still covers the account, escalated with the command |
//! | ec2:DeleteFlowLogs, where the deployment names the organization's flow log bucket (QUELL_FLOW_LOG_BUCKET) | a flow log (every traffic type, to that bucket) made on each VPC of the account and Region left with none, verified with DescribeFlowLogs; UNCONFIRMED, as the deleted flow logs' resources (a subnet's, an interface's) and settings are not in the call; without the setting, escalated with the command |
//! | config:DeleteConfigurationRecorder | where the account and Region are left with no recorder of their own, the recorder made again by its name with AWS Config's service-linked role (AWSServiceRoleForConfig), recording every supported resource type, a delivery channel to QUELL_CONFIG_BUCKET made where there is none, and started, verified with DescribeConfigurationRecorderStatus; UNCONFIRMED, as the deleted one's recording group and role are not in the call; with no channel and no QUELL_CONFIG_BUCKET, escalated with the command |
//! | access-analyzer:DeleteAnalyzer | where the account and Region are left with no external access analyzer, one made again with the deleted one's name (type ACCOUNT), verified with ListAnalyzers; UNCONFIRMED, as the deleted one's type is not in the call; where one remains, the deleted analyzer was of another type, which the call does not hold: escalated with the command |
//! | events:DeleteRule, events:RemoveTargets (quell's forwarding rules, by their exact names, on the default bus), where the deployment names the quell bus (QUELL_OUTCOME_BUS_ARN, always set by the template) | the rule put back as the member stacks make it in that account and Region ([`quell::member::forwarder`]): the rule made again where it is gone (its pattern and description, ENABLED), its one target `quell` to the quell bus (or, in the security account's other Regions, the account's default bus in the home Region) with the `quell-forward` role, and the rule enabled, verified with DescribeRule and ListTargetsByRule; another pattern, or targets the stack does not give it, are left and make it UNCONFIRMED; a name the stacks make not there (a findings rule in a member) is escalated. quell-ForwardApiCalls forwards these calls, so its own deletion reaches quell only where another path forwards it: the SCP is what keeps it |
//! | GuardDuty.1, guardduty-enabled-centralized (posture) | as DeleteDetector / UpdateDetector: a detector made where there is none, a disabled one enabled |
//! | Config.1 (posture) | every stopped recorder of the account's own started; where it has none, `default` made as a deleted one is (UNCONFIRMED), escalated with the command where there is no channel and no QUELL_CONFIG_BUCKET |
//! | CloudWatch.1–14 (posture) | where a metric filter of the account and Region feeds the control's CIS metric, quell's alarm on it (`quell-cis-<metric>`) made if missing, verified with DescribeAlarms; where the filter is missing and a multi-Region trail reading logging delivers to a log group of the account and Region, the CIS filter (`quell-cis-<metric>Filter`) put on that group first; UNCONFIRMED, as the control also asks for an SNS subscriber (quell's alarms reach the team through EventBridge) and a filter on a multi-Region trail's group; no filter at all (a member account under an organization trail) is escalated, and no alarm made |
//! | EC2.6, vpc-flow-logs-enabled (posture), with QUELL_FLOW_LOG_BUCKET set | a flow log on the VPC to that bucket, verified with DescribeFlowLogs; a VPC tagged with the exemption tag is left as it is |
//! | CloudTrail.2, CloudTrail.5, EC2.6 without QUELL_FLOW_LOG_BUCKET (posture) | escalated with the command: a KMS key, a log group and role, a flow log destination are the organization's to choose |
//! | guardduty:DisassociateFromAdministratorAccount, guardduty:DisassociateFromMasterAccount | where the security account (the quell bus's, QUELL_OUTCOME_BUS_ARN) is the member's GuardDuty administrator, an organization member is associated again from there by the function's own role (GetMembers gives the email its member list kept, CreateMembers), verified with the member's GetAdministratorAccount; an invited member (its record has invitedAt: only an invitation it accepts associates it again, and quell accepts none on its behalf), or where the security account is not the administrator (no detector there, the account not among its members), or another administrator has the detector now, escalated (ManualActionRequired, NOTIFIED) with the exact commands |
//!
//! Whom it believes: the call comes as CloudTrail recorded it, forwarded by the member (the parser
//! holds the record's account to the envelope's and its `source` to the service's). Every value
//! taken from `requestParameters` is validated before it reaches an API call or a command. A call
//! that failed (`errorCode`) changed nothing and is escalated as an attempt; a call made through
//! one of quell's own roles (an undo a person ran) is not answered.

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, Spec, Step, Tags,
    Triggers,
};
use serde_json::Value;

const CREATE_DETECTOR: &str = "guardduty:CreateDetector";
const UPDATE_DETECTOR: &str = "guardduty:UpdateDetector";
const START_RECORDER: &str = "config:StartConfigurationRecorder";
const ENABLE_HUB: &str = "securityhub:EnableSecurityHub";
const PUT_ALARM: &str = "cloudwatch:PutMetricAlarm";
const PUT_FILTER: &str = "logs:PutMetricFilter";
const CREATE_GROUP: &str = "logs:CreateLogGroup";
const ENABLE_RULE: &str = "events:EnableRule";
const PUT_RULE: &str = "events:PutRule";
const PUT_TARGETS: &str = "events:PutTargets";
const ENABLE_STANDARDS: &str = "securityhub:BatchEnableStandards";
const ENABLE_IMPORT: &str = "securityhub:EnableImportFindingsForProduct";
const CREATE_ANALYZER: &str = "access-analyzer:CreateAnalyzer";
const PUT_CHANNEL: &str = "config:PutDeliveryChannel";
const CREATE_TRAIL: &str = "cloudtrail:CreateTrail";
const START_LOGGING: &str = "cloudtrail:StartLogging";
const CREATE_FLOW_LOGS: &str = "ec2:CreateFlowLogs";
const PUT_RECORDER: &str = "config:PutConfigurationRecorder";
/// In the security account, as the GuardDuty administrator (the function's own role, not a
/// member role): [`quell::privilege::ADMINISTRATOR_PERMISSIONS`].
const CREATE_MEMBERS: &str = "guardduty:CreateMembers";

/// Every call this function answers: the first [`RESTORED_COUNT`] are put back ([`RESTORED`]),
/// the rest escalated with the command a person runs ([`ESCALATED`]).
pub const CALLS: &[&str] = &[
    "guardduty:DeleteDetector",
    "guardduty:UpdateDetector",
    "config:StopConfigurationRecorder",
    "securityhub:DisableSecurityHub",
    "cloudwatch:DeleteAlarms",
    "logs:DeleteMetricFilter",
    "logs:DeleteLogGroup",
    "events:DisableRule",
    "securityhub:BatchDisableStandards",
    "securityhub:DisableImportFindingsForProduct",
    "access-analyzer:DeleteAnalyzer",
    "config:DeleteDeliveryChannel",
    "cloudtrail:DeleteTrail",
    "ec2:DeleteFlowLogs",
    "config:DeleteConfigurationRecorder",
    "events:DeleteRule",
    "events:RemoveTargets",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount",
];
// Every call is restored where the deployment's settings allow: ESCALATED is empty.
/// config:DeleteDeliveryChannel is restored only where QUELL_CONFIG_BUCKET is set,
/// cloudtrail:DeleteTrail where QUELL_TRAIL_BUCKET is, and ec2:DeleteFlowLogs where
/// QUELL_FLOW_LOG_BUCKET is, and events:DeleteRule and events:RemoveTargets where the deployment
/// names the quell bus (QUELL_OUTCOME_BUS_ARN, which the template always sets), and the GuardDuty
/// disassociations where the security account (the quell bus's) is the member's administrator;
/// without them, they are escalated with the command.
const RESTORED_COUNT: usize = 19;
/// The calls quell restores from.
pub const RESTORED: &[&str] = CALLS.split_at(RESTORED_COUNT).0;
/// The calls quell escalates with the command a person runs.
pub const ESCALATED: &[&str] = CALLS.split_at(RESTORED_COUNT).1;

/// GuardDuty's older `dataSources` switches, as the protection plans (`features`) they are now.
const DATA_SOURCE_FEATURES: &[(&str, &str)] = &[
    ("/s3Logs/enable", "S3_DATA_EVENTS"),
    ("/kubernetes/auditLogs/enable", "EKS_AUDIT_LOGS"),
    (
        "/malwareProtection/scanEc2InstanceWithFindings/ebsVolumes",
        "EBS_MALWARE_PROTECTION",
    ),
];

#[derive(Debug, Clone)]
pub struct TamperRestore {
    /// The namespace of quell's CIS metrics (QUELL_ALARM_NAMESPACE, org/trail.yaml's
    /// AlarmNamespace).
    pub namespace: String,
    /// The account that owns the organization trail's log group, where org/trail.yaml puts the
    /// CIS filters and alarms (QUELL_ORG_TRAIL_ACCOUNT). Set, CloudWatch.1-14 of any other account
    /// are none of quell's business: a member under an organization trail fails them by design.
    pub trail_account: Option<String>,
    /// The organization's AWS Config bucket, where every account's delivery channel delivers
    /// (QUELL_CONFIG_BUCKET): a deleted channel is made again to it. None: escalated.
    pub config_bucket: Option<String>,
    /// The organization's CloudTrail bucket, where the accounts' own trails deliver
    /// (QUELL_TRAIL_BUCKET): a deleted trail that left the account with no multi-Region trail is
    /// made again to it. None: escalated.
    pub trail_bucket: Option<String>,
    /// The organization's VPC flow log bucket (QUELL_FLOW_LOG_BUCKET): deleted flow logs, and a
    /// VPC without any (EC2.6), get a flow log to it. None: escalated.
    pub flow_log_bucket: Option<String>,
    /// The exemption tag (QUELL_EXEMPT_TAG): a VPC tagged with it `true` gets no flow log.
    pub exempt_tag: String,
    /// The quell bus (QUELL_OUTCOME_BUS_ARN, the central stack's EventBusArn, which the member
    /// stacks' CentralEventBusArn names): where a forwarding rule put back delivers. None: a
    /// deleted forwarding rule, or its removed target, is escalated.
    pub quell_bus: Option<String>,
}

impl Default for TamperRestore {
    fn default() -> Self {
        TamperRestore {
            namespace: "CISBenchmark".into(),
            trail_account: None,
            config_bucket: None,
            trail_bucket: None,
            flow_log_bucket: None,
            quell_bus: None,
            exempt_tag: "quell:exempt".into(),
        }
    }
}

/// What the call turned off, and who made it.
#[derive(Debug)]
pub struct Target {
    pub account: String,
    pub region: String,
    /// `arn (type) from ip with agent`.
    pub by: String,
    pub what: What,
}

#[derive(Debug)]
pub enum What {
    /// The account's detector: deleted (a new one is made), or the protection plans `features`
    /// turned off (plan enables the detector whenever it reads it disabled).
    Detector {
        deleted: bool,
        features: Vec<String>,
        /// The detector plan found, for apply.
        found: Cached<Option<String>>,
        /// Whether apply made a new detector (not yet associated with the administrator).
        made: Cached<bool>,
        /// Whether plan could read every feature the call turned off.
        unread: Cached<Vec<String>>,
    },
    Recorder(String),
    /// Every recorder of the account and Region (Config.1: AWS Config should be enabled); where
    /// the account has none of its own, `default` is made as a deleted one is.
    Recorders {
        partition: String,
        /// Whether apply made one.
        made: Cached<bool>,
    },
    Hub,
    /// quell's CIS alarms the call deleted; plan records the metrics no filter feeds.
    Alarms(Vec<String>, Cached<Vec<String>>),
    /// A CIS metric filter the call deleted: its log group, its name, and the CIS metric its name
    /// names.
    MetricFilter {
        group: String,
        filter: String,
        metric: &'static str,
        pattern: &'static str,
    },
    /// A trail's log group the call deleted, with its metric filters: the group is made again,
    /// and on it the CIS filter of each of quell's alarms in the account and Region.
    LogGroup {
        group: String,
        /// What the first plan read, kept for the verification and the note: the group someone
        /// made again since the deletion (its retention and key), or "" where there was none; and
        /// the metrics of quell's CIS alarms in the account and Region.
        found: Cached<(String, Vec<&'static str>)>,
    },
    /// One of quell's forwarding rules the call disabled, on its event bus (`None`: the default).
    Rule {
        name: String,
        bus: Option<String>,
    },
    /// One of quell's forwarding rules the call deleted, or whose target it removed, on the
    /// account's default bus: put back as the member stacks make it there. Plan records what it
    /// found that the stacks do not make and quell leaves as it is (another pattern, other
    /// targets), for the note.
    Forwarder {
        rule: quell::member::Forwarder,
        differs: Cached<Vec<String>>,
    },
    /// Security Hub standards the call disabled, from the call's own request: each subscription's
    /// ARN and the standard's ARN it names. Plan records those Security Hub reports PENDING (being
    /// enabled, not yet READY).
    Standards(Vec<(String, String)>, Cached<Vec<String>>),
    /// One of AWS's own integrations whose findings the call stopped importing: its product
    /// subscription's ARN (from the call) and the product's ARN.
    ProductImport {
        subscription: String,
        product: String,
    },
    /// The AWS Config delivery channel the call deleted, by its name, made again to `bucket` (the
    /// deployment's QUELL_CONFIG_BUCKET), and the recorders it left stopped.
    DeliveryChannel {
        name: String,
        bucket: String,
        partition: String,
    },
    /// A CloudTrail trail the call deleted, by its name, made again to `bucket` (the deployment's
    /// QUELL_TRAIL_BUCKET) where no other multi-Region trail still logs the account.
    Trail {
        name: String,
        bucket: String,
        /// Whether apply made it (the deleted one's settings are not in the call).
        made: Cached<bool>,
        /// The trail's last delivery error to the bucket, as GetTrailStatus reads it
        /// (LatestDeliveryError), when it reports one: logging, and not delivering.
        delivery: Cached<Option<String>>,
    },
    /// VPC flow logs to `bucket` (the deployment's QUELL_FLOW_LOG_BUCKET): on the one VPC an
    /// EC2.6 finding names, or (`vpc` None, after DeleteFlowLogs, whose call names only the
    /// deleted flow logs' ids) on every VPC of the account and Region left with none. Plan records
    /// the VPCs it leaves for their exemption tag.
    FlowLogs {
        vpc: Option<String>,
        bucket: String,
        partition: String,
        /// The deleted flow logs' ids, for the note.
        deleted: Vec<String>,
        exempt: Cached<Vec<String>>,
    },
    /// The AWS Config recorder the call deleted, by its name: made again with the service-linked
    /// role where the account and Region have no recorder of their own left, and started.
    NewRecorder {
        name: String,
        partition: String,
        /// Whether apply made it (the deleted one's recording group and role are not in the call).
        made: Cached<bool>,
    },
    /// An IAM Access Analyzer analyzer the call deleted, by its name. Plan records the status of
    /// one it finds by that name that is not yet ACTIVE (CREATING).
    Analyzer {
        name: String,
        not_active: Cached<Option<String>>,
        /// Whether apply made it (as ACCOUNT: the deleted one's type is not in the call).
        made: Cached<bool>,
    },
    /// CloudWatch.1–14 (posture): quell's CIS alarm on the control's metric
    /// (`quell-cis-<metric>`), where a metric filter of the account and Region feeds that metric.
    CisAlarm {
        control: String,
        metric: &'static str,
        /// Where no filter fed the metric, the multi-Region trail logging to a log group of the
        /// account and Region, and that group, on which plan put the CIS filter (for the note).
        on: Cached<Option<(String, String)>>,
    },
    /// A member's detector that left its GuardDuty administrator: associated again from the
    /// security account (`administrator`, the quell bus's), where that account is the member's
    /// administrator (its member list keeps the account). Plan records the member's email and the
    /// administrator's detector, for apply.
    Reassociate {
        detector: String,
        administrator: String,
        found: Cached<(String, String)>,
    },
    /// Nothing quell can put back by itself: the change and the command a person runs.
    Escalate {
        what: String,
        command: String,
    },
}

pub struct Clients {
    pub guardduty: aws_sdk_guardduty::Client,
    /// GuardDuty in the security account (the function's own role), in the member's Region: the
    /// organization's GuardDuty administrator, which associates a member again.
    pub admin_guardduty: aws_sdk_guardduty::Client,
    pub config: aws_sdk_config::Client,
    pub hub: aws_sdk_securityhub::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub analyzer: aws_sdk_accessanalyzer::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub ec2: aws_sdk_ec2::Client,
}

/// A name from `requestParameters`: 1 to 256 of letters, digits and `._-:/@+=,` (detector ids,
/// recorder, rule, alarm, log group, filter and analyzer names, ARNs).
fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 512 && !s.chars().any(char::is_control)
}

/// A value from the call, quoted for a POSIX shell: a person pastes the escalation's command, and a
/// name AWS accepts (`#`, `;`, spaces, quotes) must stay one argument.
pub fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether a log group is a trail's (the names the SCP protects, see `quell template scp`): any
/// name with `cloudtrail` in it, whatever the case (the console's `aws-cloudtrail-logs-…`, Control
/// Tower's `aws-controltower/CloudTrailLogs`), or quell's own.
fn trail_log_group(name: &str) -> bool {
    name.to_ascii_lowercase().contains("cloudtrail") || name.starts_with("quell-")
}

/// A CloudWatch Logs log group name: 1 to 512 of letters, digits and `._-/#`.
fn log_group_ok(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
}

/// Where an EventBridge call names its rule: RemoveTargets takes `Rule`, the others `Name`.
fn rule_pointer(kind: &str) -> &'static str {
    if kind == "events:RemoveTargets" {
        "/rule"
    } else {
        "/name"
    }
}

/// Whether CloudFormation made the call (a stack's own change, a StackSet's included: `invokedBy`,
/// which CloudTrail shows as the source address and agent `cloudformation.amazonaws.com`).
fn by_cloudformation(f: &Finding) -> bool {
    let Some(c) = f.caller.as_ref() else {
        return false;
    };
    let service = "cloudformation.amazonaws.com";
    // Only what AWS stamps: a role's name (stacksets-exec-…) is a member admin's to choose where
    // the SCP is not attached.
    c.ip.as_deref() == Some(service) || c.user_agent.as_deref() == Some(service)
}

/// An EventBridge rule name: 1 to 64 of letters, digits and `._-`.
fn rule_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// An S3 bucket name: 3 to 63 of lower-case letters, digits, `.` and `-`, starting and ending
/// with a letter or digit, no `..`.
fn bucket_name_ok(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !b.contains("..")
}

/// An AWS Config recorder or channel name from the call: as [`named`], at most AWS Config's 256.
fn config_named(request: &Value, pointer: &str, kind: &str) -> Result<String, NotApplicable> {
    let name = named(request, pointer, kind)?;
    if name.len() > 256 {
        return Err(NotApplicable(format!(
            "the call's {kind} `{}…` is longer than AWS Config's 256",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(name)
}

/// The flow logs a DeleteFlowLogs call names, each `fl-` and 8 to 17 hexadecimal digits.
fn flow_log_ids(request: &Value) -> Result<Vec<String>, NotApplicable> {
    let ids = names(request, "/DeleteFlowLogsRequest/FlowLogId", "flow log id")?;
    if let Some(bad) = ids.iter().find(|i| {
        !i.strip_prefix("fl-").is_some_and(|h| {
            (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit())
        })
    }) {
        return Err(NotApplicable(format!(
            "the call's flow log id `{}` is not a flow log id",
            bad.chars().take(80).collect::<String>()
        )));
    }
    Ok(ids)
}

/// The AWS Config recorders of the account's own in the Region: a service-linked one is its
/// service's to run.
async fn own_recorders(
    c: &Clients,
    t: &Target,
) -> Result<Vec<aws_sdk_config::types::ConfigurationRecorderStatus>, AwsError> {
    let out = c
        .config
        .describe_configuration_recorder_status()
        .send()
        .await
        .aws(|| format!("could not read the Config recorders in {}", t.region))?;
    Ok(out
        .configuration_recorders_status()
        .iter()
        .filter(|s| s.service_principal().is_none())
        .cloned()
        .collect())
}

/// A start for each stopped recorder of `recorders`.
fn start_stopped(recorders: &[aws_sdk_config::types::ConfigurationRecorderStatus]) -> Vec<Step> {
    recorders
        .iter()
        .filter(|s| !s.recording())
        .filter_map(|s| s.name())
        .filter(|n| name_ok(n))
        .map(|n| Step::new(START_RECORDER, format!("recorder={n}")))
        .collect()
}

/// Makes the recorder `name` (AWS Config's service-linked role, every supported type), the
/// channel and the start that [`TamperRestore::make_recorder`] planned, and starts those
/// [`start_stopped`] did.
async fn apply_recorder(
    c: &Clients,
    t: &Target,
    name: &str,
    partition: &str,
    made: &Cached<bool>,
    steps: &[Step],
) -> Result<(), AwsError> {
    for s in steps {
        if s.action == PUT_RECORDER {
            let recorder = aws_sdk_config::types::ConfigurationRecorder::builder()
                .name(name)
                .role_arn(config_role(partition, &t.account))
                .recording_group(
                    aws_sdk_config::types::RecordingGroup::builder()
                        .all_supported(true)
                        // Global types (IAM) are recorded in one Region only, as AWS advises:
                        // recording them in every Region records each IAM change in each.
                        .include_global_resource_types(false)
                        .build(),
                )
                .build();
            c.config
                .put_configuration_recorder()
                .configuration_recorder(recorder)
                .send()
                .await
                .aws(|| format!("could not make the Config recorder {name}"))?;
            made.set(true);
        } else if let Some(bucket) = s
            .detail
            .strip_prefix("channel=default bucket=")
            .filter(|_| s.action == PUT_CHANNEL)
        {
            put_channel(c, "default", bucket).await?;
        } else if let Some(recorder) = s.detail.strip_prefix("recorder=") {
            start_recorder(c, recorder).await?;
        }
    }
    Ok(())
}

/// The delivery channel `name` to `bucket`, made (PutDeliveryChannel).
async fn put_channel(c: &Clients, name: &str, bucket: &str) -> Result<(), AwsError> {
    let channel = aws_sdk_config::types::DeliveryChannel::builder()
        .name(name)
        .s3_bucket_name(bucket)
        .build();
    c.config
        .put_delivery_channel()
        .delivery_channel(channel)
        .send()
        .await
        .aws(|| format!("could not make the Config delivery channel {name}"))?;
    Ok(())
}

/// The recorder `name` started.
async fn start_recorder(c: &Clients, name: &str) -> Result<(), AwsError> {
    c.config
        .start_configuration_recorder()
        .configuration_recorder_name(name)
        .send()
        .await
        .aws(|| format!("could not start the Config recorder {name}"))?;
    Ok(())
}

/// AWS Config's service-linked role in `account`, the role quell gives a recorder it makes.
fn config_role(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
}

/// A VPC id: `vpc-` and 8 or 17 hexadecimal digits.
fn vpc_id_ok(id: &str) -> bool {
    id.strip_prefix("vpc-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A CloudTrail trail name: 3 to 128 of letters, digits and `._-`, starting and ending with a
/// letter or digit.
fn trail_name_ok(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The name of the trail a DeleteTrail call deleted: its `name`, a trail name or the trail's ARN,
/// which must be of the account and Region the call was made in (a trail is deleted in its home
/// Region, by its owner).
fn deleted_trail(request: &Value, account: &str, region: &str) -> Result<String, NotApplicable> {
    let given = named(request, "/name", "trail")?;
    let name = if given.starts_with("arn:") {
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", p, "cloudtrail", r, a, res]
                if p.starts_with("aws") && *r == region && *a == account =>
            {
                res.strip_prefix("trail/").unwrap_or_default().to_string()
            }
            _ => {
                return Err(NotApplicable(format!(
                    "the call's trail `{}` is not a trail of account {account} in {region}",
                    given.chars().take(160).collect::<String>()
                )))
            }
        }
    } else {
        given
    };
    if !trail_name_ok(&name) {
        return Err(NotApplicable(format!(
            "the call's trail `{}` is not a trail name",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(name)
}

/// A setting naming an S3 bucket (the organization's Config or trail bucket), checked at start;
/// unset or empty: None.
fn bucket_setting(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<String>, quell::config::ConfigError> {
    let Some(b) = get(var)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if !bucket_name_ok(&b) {
        return Err(quell::config::ConfigError {
            var,
            reason: format!(
                "`{b}` is not an S3 bucket name (3 to 63 of lower-case letters, digits, . and -, starting and ending with a letter or digit)"
            ),
        });
    }
    Ok(Some(b))
}

/// An IAM Access Analyzer analyzer name: a letter, then letters, digits and `_.-`, 1 to 255.
fn analyzer_name_ok(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The analyzer types that analyze external access, the sensor the Config rule
/// iam-external-access-analyzer-enabled asks of every account and Region.
const EXTERNAL_ACCESS: &[&str] = &["ACCOUNT", "ORGANIZATION"];

/// The default event bus of `account` in `region`, by name or ARN.
fn default_bus(bus: &str, account: &str, region: &str) -> bool {
    if bus == "default" {
        return true;
    }
    let parts: Vec<&str> = bus.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "events", r, a, "event-bus/default"]
            if partition.starts_with("aws") && *r == region && *a == account
    )
}

/// The name quell gives a CIS metric filter it makes again on a log group made again (one the
/// DeleteMetricFilter path recognises: it names `<metric>Filter`).
pub fn cis_filter_name(metric: &str) -> String {
    format!("{}{metric}Filter", quell::cis::ALARM_PREFIX)
}

/// The CIS metric a metric filter's name names (org/trail.yaml's `<metric>Filter`, in the
/// name CloudFormation gives it), if any.
fn cis_filter(filter: &str) -> Option<(&'static str, &'static str, &'static str)> {
    quell::cis::ALARMS
        .iter()
        .copied()
        .find(|(m, _, _)| filter.contains(&format!("{m}Filter")) || filter == *m)
}

/// The role of an assumed-role or role ARN: `arn:aws:sts::1:assumed-role/quell-x/s` → `quell-x`.
fn role_of(arn: &str) -> Option<&str> {
    let res = arn.splitn(6, ':').nth(5)?;
    res.strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next())
        .or_else(|| {
            res.strip_prefix("role/")
                .map(|r| r.rsplit('/').next().unwrap_or(r))
        })
}

fn text<'a>(request: &'a Value, pointer: &str) -> Option<&'a str> {
    request.pointer(pointer).and_then(Value::as_str)
}

/// A validated name from the call, or why the call names none.
fn named(request: &Value, pointer: &str, kind: &str) -> Result<String, NotApplicable> {
    match text(request, pointer) {
        Some(n) if name_ok(n) => Ok(n.to_string()),
        Some(n) => Err(NotApplicable(format!(
            "the call's {kind} `{}` is not a valid name",
            n.chars().take(80).collect::<String>()
        ))),
        None => Err(NotApplicable(format!(
            "the call names no {kind} (requestParameters{pointer})"
        ))),
    }
}

/// Every string under `pointer` (a string or a list of strings, as CloudTrail records either),
/// each validated.
fn names(request: &Value, pointer: &str, kind: &str) -> Result<Vec<String>, NotApplicable> {
    let values: Vec<&Value> = match request.pointer(pointer) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    values
        .into_iter()
        .map(|v| {
            // EC2's query protocol records a list item as {"content": …, "tag": n}.
            let s = v
                .as_str()
                .or_else(|| v.get("content").and_then(Value::as_str))
                .unwrap_or_default();
            if name_ok(s) {
                Ok(s.to_string())
            } else {
                Err(NotApplicable(format!(
                    "the call's {kind} `{s}` is not valid"
                )))
            }
        })
        .collect()
}

/// The first of `pointers` the request holds (or the first, to name it in a refusal): Security
/// Hub's CloudTrail records name a request's members as its API does (`StandardsSubscriptionArns`,
/// `ProductSubscriptionArn`); the camel-case spelling other services' records use is read too.
fn present(request: &Value, pointers: &[&'static str]) -> &'static str {
    pointers
        .iter()
        .copied()
        .find(|p| request.pointer(p).is_some())
        .unwrap_or(pointers[0])
}

/// A Security Hub ARN of `account` in `region`: its resource (`subscription/…`), if the ARN is
/// one and is that account's and Region's.
fn hub_resource<'a>(arn: &'a str, account: &str, region: &str) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "securityhub", r, a, resource]
            if partition.starts_with("aws") && *r == region && *a == account =>
        {
            Some((partition, resource))
        }
        _ => None,
    }
}

/// A standard's path as Security Hub names them (`cis-aws-foundations-benchmark/v/1.4.0`).
fn standard_path_ok(path: &str) -> bool {
    (1..=200).contains(&path.len())
        && !path.contains("..")
        && !path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-./".contains(c))
}

/// `arn:aws:securityhub:R:A:subscription/aws-foundational-security-best-practices/v/1.0.0` of
/// `account` in `region` → the standard's ARN BatchEnableStandards takes
/// (`arn:aws:securityhub:R::standards/…`; CIS 1.2.0's is `arn:aws:securityhub:::ruleset/…`).
/// None for another account's or Region's subscription, or one that is not a standard's.
pub fn standards_arn(subscription: &str, account: &str, region: &str) -> Option<String> {
    let (partition, resource) = hub_resource(subscription, account, region)?;
    let standard = resource.strip_prefix("subscription/")?;
    if !standard_path_ok(standard) {
        return None;
    }
    Some(if standard == "cis-aws-foundations-benchmark/v/1.2.0" {
        format!("arn:{partition}:securityhub:::ruleset/{standard}")
    } else {
        format!("arn:{partition}:securityhub:{region}::standards/{standard}")
    })
}

/// `arn:aws:securityhub:R:A:product-subscription/aws/guardduty` of `account` in `region` → the
/// product's ARN (`arn:aws:securityhub:R::product/aws/guardduty`): AWS's own integrations only
/// (`aws/<name>`), whose product ARNs hold no account. A partner's product ARN holds its vendor's
/// account, which the subscription does not: None, and the call is escalated.
pub fn aws_product_arn(subscription: &str, account: &str, region: &str) -> Option<String> {
    let (partition, resource) = hub_resource(subscription, account, region)?;
    let name = resource.strip_prefix("product-subscription/aws/")?;
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then(|| format!("arn:{partition}:securityhub:{region}::product/aws/{name}"))
}

impl TamperRestore {
    /// Starts for the stopped recorders of `ours`; a recorder starts only with a delivery channel,
    /// so where none is left one to QUELL_CONFIG_BUCKET comes first (a restore that made the
    /// recorder and could not make the channel converges here), or the whole is escalated.
    async fn start_with_channel(
        &self,
        c: &Clients,
        t: &Target,
        ours: &[aws_sdk_config::types::ConfigurationRecorderStatus],
    ) -> Result<Vec<Step>, AwsError> {
        let mut steps = start_stopped(ours);
        if steps.is_empty() {
            return Ok(steps);
        }
        let channels = c.config.describe_delivery_channels().send().await.aws(|| {
            format!(
                "could not read the Config delivery channels in {}",
                t.region
            )
        })?;
        if channels.delivery_channels().is_empty() {
            let Some(bucket) = &self.config_bucket else {
                return Err(AwsError::other(
                    "escalated",
                    "ManualActionRequired",
                    format!(
                        "the AWS Config recorder of account {a} in {r} is stopped and has no delivery channel to deliver to; a person runs: aws configservice put-delivery-channel --region {r} --delivery-channel {json}, then start-configuration-recorder (or set QUELL_CONFIG_BUCKET)",
                        a = t.account,
                        r = t.region,
                        json = q(&serde_json::json!({"name": "default", "s3BucketName": "<THE_ORGANIZATION_CONFIG_BUCKET>"}).to_string())
                    ),
                    false,
                ));
            };
            steps.insert(
                0,
                Step::new(PUT_CHANNEL, format!("channel=default bucket={bucket}")),
            );
        }
        Ok(steps)
    }

    /// The steps that make the recorder `name` with AWS Config's service-linked role, a delivery
    /// channel to QUELL_CONFIG_BUCKET where the account has none, and start it; escalated where
    /// there is no channel and no bucket to make one to.
    async fn make_recorder(
        &self,
        c: &Clients,
        t: &Target,
        name: &str,
        partition: &str,
    ) -> Result<Vec<Step>, AwsError> {
        let channels = c.config.describe_delivery_channels().send().await.aws(|| {
            format!(
                "could not read the Config delivery channels in {}",
                t.region
            )
        })?;
        let mut steps = vec![Step::new(
            PUT_RECORDER,
            format!("recorder={name} role=AWSServiceRoleForConfig allSupported=true"),
        )];
        if let Some(other) = self.config_bucket.as_deref().and_then(|b| {
            channels
                .delivery_channels()
                .iter()
                .find(|c| c.s3_bucket_name() != Some(b))
        }) {
            // Recording everything into a channel that delivers elsewhere than the
            // organization's bucket is a person's to judge.
            return Err(AwsError::other(
                "escalated",
                "ManualActionRequired",
                format!(
                    "account {} has no AWS Config recorder of its own in {}, and its delivery channel {} delivers to {}, not the organization's bucket: a person checks who made it, then makes the recorder (aws configservice put-configuration-recorder --region {})",
                    t.account,
                    t.region,
                    q(other.name().unwrap_or_default()),
                    q(other.s3_bucket_name().unwrap_or_default()),
                    t.region
                ),
                false,
            ));
        }
        if channels.delivery_channels().is_empty() {
            // A recorder starts only with a channel (NoAvailableDeliveryChannelException).
            let Some(bucket) = &self.config_bucket else {
                return Err(AwsError::other(
                            "escalated",
                            "ManualActionRequired",
                            format!(
                                "account {a} has no AWS Config recorder of its own in {r}, and no delivery channel; a person runs: aws configservice put-configuration-recorder --region {r} --configuration-recorder {rec} --recording-group allSupported=true,includeGlobalResourceTypes=true && aws configservice put-delivery-channel --region {r} --delivery-channel {json} && aws configservice start-configuration-recorder --region {r} --configuration-recorder-name {n} (or set QUELL_CONFIG_BUCKET)",
                                a = t.account,
                                r = t.region,
                                rec = q(&serde_json::json!({"name": name, "roleARN": config_role(partition, &t.account)}).to_string()),
                                json = q(&serde_json::json!({"name": "default", "s3BucketName": "<THE_ORGANIZATION_CONFIG_BUCKET>"}).to_string()),
                                n = q(name)
                            ),
                            false,
                        ));
            };
            steps.push(Step::new(
                PUT_CHANNEL,
                format!("channel=default bucket={bucket}"),
            ));
        }
        steps.push(Step::new(START_RECORDER, format!("recorder={name}")));
        Ok(steps)
    }

    /// The VPCs of the account and Region (`only`: that one), with their tags, page by page.
    async fn vpcs(
        &self,
        c: &Clients,
        t: &Target,
        only: Option<&str>,
    ) -> Result<Vec<(String, Tags)>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = c.ec2.describe_vpcs().set_next_token(token.take());
            req = match only {
                Some(id) => req.vpc_ids(id),
                None => req.max_results(1000),
            };
            let page = req
                .send()
                .await
                .aws(|| format!("could not list the VPCs of {} in {}", t.account, t.region))?;
            for v in page.vpcs() {
                // A VPC shared in by its owner is the owner's to log (a participant's CreateFlowLogs
                // on it is refused).
                if v.owner_id().is_some_and(|o| o != t.account) {
                    continue;
                }
                let Some(id) = v.vpc_id() else { continue };
                let tags: Tags = v
                    .tags()
                    .iter()
                    .map(|x| {
                        (
                            x.key().unwrap_or_default().to_string(),
                            x.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                all.push((id.to_string(), tags));
            }
            match page.next_token() {
                Some(n) if !n.is_empty() => token = Some(n.to_string()),
                _ => break,
            }
        }
        Ok(all)
    }

    /// The VPCs of the account and Region that have an active flow log (to any destination) of
    /// rejected traffic (ALL or REJECT, what EC2.6 asks), whose delivery has not failed: a flow of
    /// accepted traffic only, or one that cannot deliver, proves nothing.
    async fn flow_logged(
        &self,
        c: &Clients,
        t: &Target,
    ) -> Result<std::collections::BTreeSet<String>, AwsError> {
        let mut on = std::collections::BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let page = c
                .ec2
                .describe_flow_logs()
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .aws(|| {
                    format!(
                        "could not read the flow logs of {} in {}",
                        t.account, t.region
                    )
                })?;
            for fl in page.flow_logs() {
                let rejects = matches!(
                    fl.traffic_type(),
                    Some(
                        aws_sdk_ec2::types::TrafficType::All
                            | aws_sdk_ec2::types::TrafficType::Reject
                    )
                );
                if fl.flow_log_status() == Some("ACTIVE")
                    && rejects
                    && fl.deliver_logs_status() != Some("FAILED")
                {
                    if let Some(r) = fl.resource_id().filter(|r| r.starts_with("vpc-")) {
                        on.insert(r.to_string());
                    }
                }
            }
            match page.next_token() {
                Some(n) if !n.is_empty() => token = Some(n.to_string()),
                _ => break,
            }
        }
        Ok(on)
    }

    /// Puts the CIS metric filter `filter` on `group`: `metric` in quell's namespace, 1 per match.
    async fn put_filter(
        &self,
        c: &Clients,
        group: &str,
        filter: &str,
        metric: &str,
        pattern: &str,
    ) -> Result<(), AwsError> {
        let transformation = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
            .metric_name(metric)
            .metric_namespace(&self.namespace)
            .metric_value("1")
            .build()
            .map_err(|e| {
                AwsError::other(
                    format!("could not make the metric filter {filter} again"),
                    "InvalidParameter",
                    e.to_string(),
                    false,
                )
            })?;
        c.logs
            .put_metric_filter()
            .log_group_name(group)
            .filter_name(filter)
            .filter_pattern(pattern)
            .metric_transformations(transformation)
            .send()
            .await
            .aws(|| format!("could not make the metric filter {filter} on {group} again"))?;
        Ok(())
    }

    /// Whether a metric filter of the account and Region feeds `metric` in quell's namespace.
    async fn fed(&self, c: &Clients, metric: &str) -> Result<bool, AwsError> {
        let out = c
            .logs
            .describe_metric_filters()
            .metric_name(metric)
            .metric_namespace(&self.namespace)
            .send()
            .await
            .aws(|| format!("could not read the metric filters of {metric}"))?;
        Ok(!out.metric_filters().is_empty())
    }

    /// The first multi-Region trail that reads logging and delivers to a CloudWatch Logs group of
    /// `account` in `region`, and that group's name (from the trail's CloudWatchLogsLogGroupArn,
    /// `arn:<partition>:logs:<Region>:<account>:log-group:<name>:*`).
    async fn trail_group(
        &self,
        c: &Clients,
        account: &str,
        region: &str,
    ) -> Result<Option<(String, String)>, AwsError> {
        let out = c
            .cloudtrail
            .describe_trails()
            .send()
            .await
            .aws(|| "could not read the trails".to_string())?;
        for trail in out.trail_list() {
            if trail.is_multi_region_trail() != Some(true) {
                continue;
            }
            let Some(arn) = trail.cloud_watch_logs_log_group_arn() else {
                continue;
            };
            let parts: Vec<&str> = arn.splitn(7, ':').collect();
            let ["arn", _, "logs", r, a, "log-group", rest] = parts[..] else {
                continue;
            };
            let group = rest.strip_suffix(":*").unwrap_or(rest);
            if r != region || a != account || !log_group_ok(group) {
                continue;
            }
            let Some(name) = trail.trail_arn().or(trail.name()) else {
                continue;
            };
            // One trail's status unread proves nothing about it: the next is tried.
            let Ok(status) = c.cloudtrail.get_trail_status().name(name).send().await else {
                continue;
            };
            if status.is_logging() == Some(true) {
                let shown = trail.name().unwrap_or(name).to_string();
                return Ok(Some((shown, group.to_string())));
            }
        }
        Ok(None)
    }

    /// The security account: the quell bus's (QUELL_OUTCOME_BUS_ARN), where quell runs.
    fn security_account(&self) -> Option<String> {
        self.quell_bus
            .as_deref()
            .and_then(quell::member::quell_bus)
            .map(|(_, _, security)| security.to_string())
    }

    /// A step making each of quell's CIS alarms `names` that DescribeAlarms does not list by its
    /// name, on its metric and in quell's namespace.
    async fn missing_alarms(&self, c: &Clients, names: &[String]) -> Result<Vec<Step>, AwsError> {
        let out = c
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
            .aws(|| format!("could not read the alarms {}", names.join(", ")))?;
        let ok = |n: &str| {
            let metric = quell::cis::alarm(n).map(|a| a.0);
            out.metric_alarms().iter().any(|a| {
                a.alarm_name() == Some(n)
                    && a.metric_name() == metric
                    && a.namespace() == Some(self.namespace.as_str())
            })
        };
        Ok(names
            .iter()
            .filter(|n| !ok(n))
            .map(|n| Step::new(PUT_ALARM, format!("alarm={n} namespace={}", self.namespace)))
            .collect())
    }

    /// The metrics of quell's CIS alarms in the account and Region: alarms by quell's name, on
    /// the metric that name names, in quell's namespace.
    async fn alarm_metrics(&self, c: &Clients) -> Result<Vec<&'static str>, AwsError> {
        let alarms = c
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(quell::cis::ALARM_PREFIX)
            .send()
            .await
            .aws(|| "could not read quell's CIS alarms".to_string())?;
        let mut metrics: Vec<&'static str> = alarms
            .metric_alarms()
            .iter()
            .filter(|a| a.namespace() == Some(self.namespace.as_str()))
            .filter_map(|a| {
                let (m, _, _) = quell::cis::alarm(a.alarm_name()?)?;
                (a.metric_name() == Some(m)).then_some(m)
            })
            .collect();
        metrics.sort_unstable();
        metrics.dedup();
        Ok(metrics)
    }

    /// The CIS metrics a filter on `group` feeds: the CIS pattern, to the metric in quell's
    /// namespace (whatever the filter's name: CloudFormation names org/trail.yaml's), page by page.
    async fn cis_filters_on(
        &self,
        c: &Clients,
        group: &str,
    ) -> Result<Vec<&'static str>, AwsError> {
        let mut on = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = c
                .logs
                .describe_metric_filters()
                .log_group_name(group)
                .set_next_token(token.take())
                .send()
                .await
                .aws(|| format!("could not read the metric filters of {group}"))?;
            for f in page.metric_filters() {
                for (metric, _, pattern) in quell::cis::ALARMS.iter().copied() {
                    if f.filter_pattern() == Some(pattern)
                        && f.metric_transformations().iter().any(|m| {
                            m.metric_name() == metric && m.metric_namespace() == self.namespace
                        })
                    {
                        on.push(metric);
                    }
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(on)
    }

    /// The escalation for a call quell does not put back itself.
    fn escalation(&self, f: &Finding, request: &Value) -> Result<(String, String), NotApplicable> {
        let (a, r) = (&f.account, &f.region);
        Ok(match f.kind.as_str() {
            "guardduty:DisassociateFromAdministratorAccount"
            | "guardduty:DisassociateFromMasterAccount" => (
                format!("account {a} left its GuardDuty administrator in {r}: its findings no longer reach the organization"),
                format!("from the GuardDuty administrator account: aws guardduty create-members --region {r} --detector-id <ADMINISTRATOR_DETECTOR_ID> --account-details AccountId={a} (in an organization with auto-enable, the administrator's console associates it again)"),
            ),
            "config:DeleteDeliveryChannel" => {
                let n = named(request, "/deliveryChannelName", "delivery channel")?;
                let json = q(&serde_json::json!({"name": n, "s3BucketName": "<THE_ORGANIZATION_CONFIG_BUCKET>"}).to_string());
                let n = &q(&n);
                (
                    format!("the AWS Config delivery channel {n} of account {a} in {r} was deleted: the recorder cannot deliver"),
                    format!("aws configservice put-delivery-channel --region {r} --delivery-channel {json} && aws configservice start-configuration-recorder --region {r} --configuration-recorder-name <RECORDER> (or set QUELL_CONFIG_BUCKET, and quell makes it again)"),
                )
            }
            "cloudtrail:DeleteTrail" => {
                let n = named(request, "/name", "trail")?;
                let n = &q(&n);
                (
                    format!("the CloudTrail trail {n} of account {a} was deleted (in {r})"),
                    format!("aws cloudtrail create-trail --region {r} --name {n} --s3-bucket-name <THE_TRAIL_BUCKET> --is-multi-region-trail --enable-log-file-validation && aws cloudtrail start-logging --region {r} --name {n} (or set QUELL_TRAIL_BUCKET, and quell makes it again; the organization trail lives in the management account, which a member cannot delete)"),
                )
            }
            "logs:DeleteMetricFilter" => {
                let group = named(request, "/logGroupName", "log group")?;
                let filter = named(request, "/filterName", "metric filter")?;
                let cis = cis_filter(&filter);
                let (group, filter) = (&q(&group), &q(&filter));
                let command = match cis {
                    Some((metric, _, pattern)) => format!(
                        "aws logs put-metric-filter --region {r} --log-group-name {group} --filter-name {filter} --filter-pattern '{pattern}' --metric-transformations metricName={metric},metricNamespace={ns},metricValue=1 (or update the trail stack, org/trail.yaml, which made it)",
                        ns = self.namespace
                    ),
                    None => format!("aws logs put-metric-filter --region {r} --log-group-name {group} --filter-name {filter} --filter-pattern <PATTERN> --metric-transformations <…> (the pattern is not in the call)"),
                };
                (
                    format!("the metric filter {filter} on {group} of account {a} in {r} was deleted: its alarm can no longer fire"),
                    command,
                )
            }
            "ec2:DeleteFlowLogs" => {
                let ids: Vec<String> = names(request, "/DeleteFlowLogsRequest/FlowLogId", "flow log id")?
                    .iter()
                    .map(|i| q(i))
                    .collect();
                (
                    format!("VPC flow logs {} of account {a} in {r} were deleted", ids.join(", ")),
                    format!("aws ec2 create-flow-logs --region {r} --resource-type VPC --resource-ids <VPC_ID> --traffic-type ALL --log-destination-type s3 --log-destination <THE_FLOW_LOG_BUCKET_ARN> (the deleted flow logs' settings are not in the call)"),
                )
            }
            "events:DeleteRule" | "events:RemoveTargets" => {
                let rule = named(request, rule_pointer(&f.kind), "rule")?;
                let command = format!("put the rule back as member/regional.yaml defines it (aws events put-rule and put-targets with its pattern and the quell bus), then update the member/regional.yaml stack instance in account {a} and {r} so CloudFormation sees it again");
                (
                    format!("quell's forwarding rule {rule} in account {a} in {r} was changed ({}): the account's findings may no longer reach quell", f.kind),
                    command,
                )
            }
            other => return Err(NotApplicable(format!("{other} is not a call tamper-restore answers"))),
        })
    }
}

/// quell's CIS alarms among the names a DeleteAlarms call gives (others' names, whatever they
/// hold, are not read further).
fn quell_alarms(request: &Value) -> Vec<String> {
    let values: Vec<&Value> = match request.pointer("/alarmNames") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    values
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|n| quell::cis::alarm(n).is_some())
        .map(str::to_string)
        .collect()
}

/// The CIS metric of a CloudWatch.1–14 control: CloudWatch.N is the Nth of [`quell::cis::ALARMS`]
/// (root usage, unauthorized API calls, … VPC changes), as Security Hub numbers them.
pub fn cloudwatch_control(name: &str) -> Option<&'static str> {
    let n: usize = name.strip_prefix("CloudWatch.")?.parse().ok()?;
    (n >= 1).then(|| quell::cis::ALARMS.get(n - 1).map(|a| a.0))?
}

/// The controls on a sensor's configuration that need what quell does not hold (a KMS key, a
/// role, a destination): the control, its Config rule, what it asks, and the command a person
/// runs with the resource's id.
const ESCALATED_POSTURE: &[(&str, &str, &str, &str)] = &[
    (
        "CloudTrail.2",
        "cloud-trail-encryption-enabled",
        "the trail's logs encrypted with a KMS key",
        "aws cloudtrail update-trail --region {r} --name {id} --kms-key-id <KEY_ARN> (a key whose policy lets CloudTrail encrypt: quell neither chooses nor makes one)",
    ),
    (
        "CloudTrail.5",
        "cloud-trail-cloud-watch-logs-enabled",
        "the trail delivering to CloudWatch Logs",
        "aws cloudtrail update-trail --region {r} --name {id} --cloud-watch-logs-log-group-arn <LOG_GROUP_ARN> --cloud-watch-logs-role-arn <ROLE_ARN>, then org/trail.yaml's CIS filters on that group (CloudTrailLogGroupName)",
    ),
    (
        "EC2.6",
        "vpc-flow-logs-enabled",
        "flow logs on the VPC",
        "aws ec2 create-flow-logs --region {r} --resource-type VPC --resource-ids {id} --traffic-type ALL --log-destination-type s3 --log-destination <FLOW_LOG_BUCKET_ARN> (the destination and its retention are the organization's to choose)",
    ),
];

/// A posture finding on the same sensors (a Security Hub control, its Config rule): the account's
/// detector (GuardDuty.1), its recorders (Config.1), quell's CIS alarms (CloudWatch.1–14); the
/// trail's encryption and delivery (CloudTrail.2, CloudTrail.5) and a VPC's flow logs (EC2.6) are
/// escalated with the command.
fn posture(f: &Finding, flow_log_bucket: Option<&str>) -> Result<Target, NotApplicable> {
    let is = |control: &str, rule: &str| {
        f.names()
            .any(|n| n == control || quell::remediation::config_rule_matches(rule, n))
    };
    if let Some(bucket) = flow_log_bucket.filter(|_| is("EC2.6", "vpc-flow-logs-enabled")) {
        let Some(r) = f.resources.first() else {
            return Err(NotApplicable("EC2.6: the finding names no resource".into()));
        };
        if !vpc_id_ok(&r.id) {
            return Err(NotApplicable(format!(
                "EC2.6: `{}` is not a VPC",
                r.label()
            )));
        }
        return Ok(Target {
            account: f.account.clone(),
            region: f.region.clone(),
            by: format!("{} reports it: {}", f.source, f.kind),
            what: What::FlowLogs {
                vpc: Some(r.id.clone()),
                bucket: bucket.to_string(),
                partition: f.partition.clone(),
                deleted: Vec::new(),
                exempt: Cached::default(),
            },
        });
    }
    if let Some((control, _, asks, command)) = ESCALATED_POSTURE
        .iter()
        .find(|(control, rule, _, _)| is(control, rule))
    {
        let Some(r) = f.resources.first() else {
            return Err(NotApplicable(format!(
                "{control}: the finding names no resource"
            )));
        };
        let (region, id, owner) = if control.starts_with("CloudTrail.") {
            // arn:aws:cloudtrail:HOME:OWNER:trail/NAME: the command runs in the trail's home
            // Region, from the account that owns it (an organization trail's is the management
            // account, not the member the finding is in).
            let arn = r.arn.as_deref().unwrap_or(r.id.as_str());
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let name = match (&r.kind, parts.as_slice()) {
                (
                    quell::ResourceKind::CloudTrailTrail,
                    ["arn", _, "cloudtrail", home, owner, trail],
                ) if quell::finding::validate::account_id(owner)
                    && quell::finding::validate::region(home) =>
                {
                    trail
                        .strip_prefix("trail/")
                        .filter(|n| {
                            (3..=128).contains(&n.len())
                                && n.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                        })
                        .map(|n| (home.to_string(), n.to_string(), owner.to_string()))
                }
                _ => None,
            };
            let Some(name) = name else {
                return Err(NotApplicable(format!(
                    "{control}: `{}` is not a trail's ARN",
                    r.label()
                )));
            };
            name
        } else {
            let vpc = r.id.as_str();
            if !vpc_id_ok(vpc) {
                return Err(NotApplicable(format!(
                    "{control}: `{}` is not a VPC",
                    r.label()
                )));
            }
            (f.region.clone(), vpc.to_string(), f.account.clone())
        };
        let from = if owner == f.account {
            String::new()
        } else {
            format!(" (from account {owner}, which owns it)")
        };
        return Ok(Target {
            account: f.account.clone(),
            region: f.region.clone(),
            by: format!("{} reports it: {}", f.source, f.kind),
            what: What::Escalate {
                what: format!("{control}: {} asks for {asks}", r.label()),
                command: format!(
                    "{}{from}",
                    command.replace("{r}", &region).replace("{id}", &q(&id))
                ),
            },
        });
    }
    if let Some(r) = f.resources.first() {
        if r.kind != quell::ResourceKind::Account
            && r.id != f.account
            && !r.id.ends_with(&f.account)
        {
            return Err(NotApplicable(format!("{} is not an account", r.label())));
        }
    }
    let what = if is("GuardDuty.1", "guardduty-enabled-centralized") {
        What::Detector {
            deleted: false,
            features: Vec::new(),
            found: Cached::default(),
            made: Cached::default(),
            unread: Cached::default(),
        }
    } else if is("Config.1", "config-enabled") {
        What::Recorders {
            partition: f.partition.clone(),
            made: Cached::default(),
        }
    } else if let Some((control, metric)) = f
        .names()
        .find_map(|n| cloudwatch_control(n).map(|m| (n.to_string(), m)))
    {
        What::CisAlarm {
            control,
            metric,
            on: Cached::default(),
        }
    } else {
        return Err(NotApplicable(format!(
            "{} is not a sensor control tamper-restore answers",
            f.kind
        )));
    };
    Ok(Target {
        account: f.account.clone(),
        region: f.region.clone(),
        by: format!("{} reports it: {}", f.source, f.kind),
        what,
    })
}

impl Remediation for TamperRestore {
    const SPEC: Spec = Spec {
        id: "tamper-restore",
        summary: "Puts back the sensors a CloudTrail call turned off (GuardDuty detector and protection plans, Config recorder (stopped or deleted) and delivery channel, a deleted trail, deleted VPC flow logs, Security Hub, its standards and AWS integrations' imports, the account's IAM Access Analyzer analyzer, quell's CIS alarms and metric filters, a trail's log group, quell's forwarding rules) and escalates who did it; escalates with the exact command what it cannot put back. The same sensors' posture controls: GuardDuty.1, Config.1, CloudWatch.1-14, EC2.6 (with the organization's flow log bucket, else escalated), and CloudTrail.2/.5 escalated",
        resolved: "guardduty:UpdateDetector: GetDetector reads ENABLED and every protection plan the call turned off ENABLED (one GetDetector does not report: UNCONFIRMED). guardduty:DeleteDetector, and GuardDuty.1 / guardduty-enabled-centralized when quell had to make a detector: a detector of the account reads ENABLED — UNCONFIRMED, as its association with the administrator is not checked from the member. config:StopConfigurationRecorder: DescribeConfigurationRecorderStatus reads recording. config:DeleteConfigurationRecorder: DescribeConfigurationRecorderStatus reads a recorder of the account's own (not a service-linked one) recording — UNCONFIRMED, as the deleted one's recording group, mode and role are not in the call. Config.1: every recorder of the account's own in the Region reads recording — UNCONFIRMED, as its role and recording group are not checked (where there was none, quell made default as it makes a deleted one again: UNCONFIRMED too). securityhub:DisableSecurityHub: DescribeHub answers — UNCONFIRMED, as the standards and integrations enabled before are not known. cloudwatch:DeleteAlarms: DescribeAlarms lists each quell-cis alarm the call deleted, on its metric and namespace, and DescribeMetricFilters a filter feeding each (none: UNCONFIRMED, naming the metrics). logs:DeleteMetricFilter of a CIS filter (named <metric>Filter): DescribeMetricFilters lists it again on its log group, by its name, with the CIS pattern, metric and namespace. logs:DeleteLogGroup of a trail's group (by its name): DescribeLogGroups lists it again and DescribeMetricFilters on it a filter with the CIS pattern, metric and namespace for each of quell's CIS alarms of the account and Region — UNCONFIRMED, as the trail's delivery to it, and the deleted group's retention and KMS key, are not in the call. guardduty:DisassociateFromAdministratorAccount and DisassociateFromMasterAccount, with QUELL_OUTCOME_BUS_ARN set and the security account the member's administrator: the member's GetAdministratorAccount reads the security account, Enabled. events:DisableRule of one of quell's forwarding rules (by its exact name, on the default bus): DescribeRule reads it ENABLED (with QUELL_OUTCOME_BUS_ARN set and a rule the stacks make in that account and Region, read back whole as after DeleteRule below). events:DeleteRule and events:RemoveTargets of one of quell's forwarding rules (by its exact name, on the default bus) with QUELL_OUTCOME_BUS_ARN set: DescribeRule reads it ENABLED with the pattern the member stacks give it, and ListTargetsByRule lists its target quell on the quell bus (in the security account's other Regions, the account's default bus in the home Region) with the quell-forward role — UNCONFIRMED where it reads another pattern or has targets the stack does not give it (left as they are); that quell-forward itself can still put events on the quell bus is not checked (no quell role may read or change it). securityhub:BatchDisableStandards: GetEnabledStandards reads each subscription the call named READY (PENDING or INCOMPLETE: UNCONFIRMED, with Security Hub's reason; DELETING: retried once Security Hub has finished disabling it). securityhub:DisableImportFindingsForProduct of one of AWS's integrations (product-subscription/aws/<name>): ListEnabledProductsForImport lists the subscription again. config:DeleteDeliveryChannel with QUELL_CONFIG_BUCKET set: DescribeDeliveryChannels lists a channel of the account and Region delivering to that bucket and DescribeConfigurationRecorderStatus reads every recorder of the account's (not a service-linked one) recording. cloudtrail:DeleteTrail with QUELL_TRAIL_BUCKET set, where no other multi-Region trail reading logging was left (a stopped one, or one whose status cannot be read, proves nothing): DescribeTrails lists a trail of the account by the deleted one's name, homed in the Region, multi-Region, delivering to that bucket, and GetTrailStatus reads it logging — UNCONFIRMED, as the deleted trail's KMS key, CloudWatch Logs delivery, event selectors, key prefix and tags are not in the call (and where GetTrailStatus reports a LatestDeliveryError, the note leads with it: logging, not delivering). ec2:DeleteFlowLogs with QUELL_FLOW_LOG_BUCKET set: DescribeFlowLogs lists an ACTIVE flow log of ALL or REJECT traffic, its delivery not FAILED, on every VPC the account owns in the Region that is not tagged with the exemption tag — UNCONFIRMED, as the call names only the deleted flow logs' ids (a subnet's or a network interface's flow log, and the deleted ones' traffic type, format and destination, are not checked). EC2.6 and vpc-flow-logs-enabled with QUELL_FLOW_LOG_BUCKET set: DescribeFlowLogs lists such a flow log on the VPC. access-analyzer:DeleteAnalyzer, where the account and Region had no external access analyzer left (ACCOUNT or ORGANIZATION): ListAnalyzers lists an analyzer by the deleted one's name, of an external access type, ACTIVE — UNCONFIRMED when quell made it (as ACCOUNT: the deleted one's type is not in the call) or it reads CREATING. CloudWatch.1-14: DescribeAlarms lists quell-cis-<metric> on the control's metric and namespace, where DescribeMetricFilters finds a filter feeding it (where none did, quell put its CIS filter quell-cis-<metric>Filter on the log group of a multi-Region trail that reads logging (DescribeTrails, GetTrailStatus) and delivers to a group of the account and Region) — UNCONFIRMED, as the control also asks for an SNS subscriber on the alarm and a filter on a multi-Region trail's log group.",
        untouched: "Config.1 where the account has no recorder of its own and no delivery channel, with QUELL_CONFIG_BUCKET not set, or a channel delivering elsewhere than that bucket, is escalated with the command, and so is a stopped recorder left with no channel and no bucket; a GuardDuty.1 finding makes a detector only where there is none, and enables a disabled one. CloudWatch.1-14 of an account other than the organization trail's (QUELL_ORG_TRAIL_ACCOUNT, when set) are OUT_OF_SCOPE: a member under an organization trail fails them by design; where no metric filter of the account and Region feeds the metric and no multi-Region trail logging there delivers to a log group of the account and Region, the control is escalated and no alarm is made (it could never fire); quell's alarm gets no SNS action. CloudTrail.2 and CloudTrail.5 are escalated with the command (the KMS key, the log group and role are the organization's to choose), and so is EC2.6 where QUELL_FLOW_LOG_BUCKET is not set (the flow logs' destination is). Escalated, never changed (ManualActionRequired, NOTIFIED), with the exact command: GuardDuty disassociation where QUELL_OUTCOME_BUS_ARN is not set, the security account is not the member's administrator, another administrator has the detector now, or the member is the security account itself (a member associated again is as the administrator's CreateMembers makes it: in an organization, its auto-enable settings apply; a detector tagged with the exemption tag is left out), and an invited member of the security account's GuardDuty, with invite-members and accept-administrator-invitation (quell's role accepts no invitation: it could then accept anyone's), a deleted Config recorder where no delivery channel is left and QUELL_CONFIG_BUCKET is not set, a deleted delivery channel where QUELL_CONFIG_BUCKET is not set or the account has no recorder left, a partner's product import turned off (its product ARN holds the vendor's account, which the call does not), a deleted trail where QUELL_TRAIL_BUCKET is not set or another multi-Region trail (the account's own, or the organization's) reads logging (the deleted one was a second trail, whose settings the call does not hold), a deleted metric filter that is not a CIS one (by its name), deleted flow logs where QUELL_FLOW_LOG_BUCKET is not set, and a deleted quell forwarding rule or its removed targets where QUELL_OUTCOME_BUS_ARN is not set, or of a name the member stacks do not make in that account and Region (a findings rule in a member account; any rule in the security account's home Region). quell's forwarding rules are known by their exact names; another rule, or one of those names on another bus, is not applicable; quell-ForwardApiCalls disabled or deleted is answered only where another path forwards the call: the SCP keeps it. A forwarding rule put back is as the member stacks of this version make it: its pattern, description, ENABLED, and the one target quell with the quell-forward role (tamper-restore may pass that role to EventBridge alone, write only quell's forwarding rules by their names, and give them no target but the one member/regional.yaml gives them in that account, the quell bus in a member and the home Region's default bus in the security account: its role's policy denies the rest); a rule that is still there keeps its pattern, and targets the stack does not give it are not removed (UNCONFIRMED, named in the note); the stack's tags on the rule are not put back; that quell-forward itself can still deliver is not checked. A call CloudFormation made (a StackSet instance removed, SecurityHubAggregated set to true) is escalated, not undone. Where the generated SCP is attached, no one but the deployers may delete or empty a forwarding rule, and quell's PutRule and PutTargets are refused too (FAILED, AccessDenied): the SCP is the first line there. A delivery channel made again delivers to QUELL_CONFIG_BUCKET with Config's defaults: the deleted one's key prefix, KMS key, SNS topic and snapshot frequency are not in the call (AWS Config checks at PutDeliveryChannel that the bucket's policy lets it deliver); where a channel to that bucket is there already (by any name) none is made (Config keeps one per account and Region) and only the recorders are started, and one delivering elsewhere is escalated, the recorders left as they are. A trail made again is multi-Region, with log file validation, global service events and CloudTrail's default selectors (every management event), delivering to QUELL_TRAIL_BUCKET with no key prefix (CloudTrail checks at CreateTrail that the bucket's policy lets it write); a trail by that name back since, delivering elsewhere or single-Region, is escalated, not changed, and one made between quell's read and its CreateTrail (TrailAlreadyExists) is not started but read back; one back and stopped is started. A recorder made again has the deleted one's name, AWS Config's service-linked role (AWSServiceRoleForConfig, which quell's role may pass to AWS Config alone) and records every supported resource type but the global ones (IAM, which AWS advises recording in one Region only: the note says so); where that role was deleted too, PutConfigurationRecorder is refused (quell may not make it) and the failure is recorded; where a recorder of the account's own is there already (Config keeps one per Region) none is made and a stopped one is started; a channel made for it is named default and delivers to QUELL_CONFIG_BUCKET. A flow log quell makes is on the VPC, for every traffic type (ALL), in AWS's default format and aggregation, delivering to QUELL_FLOW_LOG_BUCKET; a VPC with an active flow log of ALL or REJECT traffic whose delivery has not failed, to any destination, is left as it is (one of accepted traffic only, or failing, does not count), a VPC shared in by another account is its owner's, and one tagged with the exemption tag gets none (EXEMPT for EC2.6; named in the note after a DeleteFlowLogs); after a DeleteFlowLogs every VPC of the account and Region left without one gets one, as EC2.6 asks, since the call does not say which VPC lost its own; making a flow log to S3 needs logs:CreateLogDelivery and logs:DeleteLogDelivery beside ec2:CreateFlowLogs, and a bucket of another account must let delivery.logs.amazonaws.com write (CreateFlowLogs reports it unsuccessful otherwise, and the failure is recorded). An analyzer made again is an account external access analyzer (type ACCOUNT) with the deleted one's name, without the deleted one's archive rules and tags (not in the call: findings its rules archived come back ACTIVE); the deleted analyzer's type is not in the call either, so a restore quell made is UNCONFIRMED, naming the command for another type; where the account still has an external access analyzer (or an ACCOUNT one in any state, which leaves no room for another) the deleted one was of another type (unused or internal access, a second organization analyzer) and is escalated with the command; the name back as a type that does not analyze external access, with no other that does, is escalated; an ORGANIZATION analyzer deleted from the delegated administrator account, with no other left there, is made again as an ACCOUNT one (its organization-wide view is the administrator's to make again: aws accessanalyzer create-analyzer --type ORGANIZATION); an analyzer of that name reading FAILED or DISABLED is escalated; making one needs the service-linked role AWSServiceRoleForAccessAnalyzer: where it was deleted too, CreateAnalyzer is refused (quell's role may not make it) and the failure is recorded with Access Analyzer's reason. A log group made again has no retention setting and no KMS key (the deleted group's are not in the call), and only the CIS filters of quell's own alarms are put on it. A call that failed (errorCode) is escalated as an attempt; a call through one of quell's roles that turns a sensor off (an undo, or someone holding the role) is escalated; this function's own restore coming back is OUT_OF_SCOPE, as are another team's alarms, rules, log groups and filters. Only the alarms named quell-cis-<metric> that org/trail.yaml defines are made again. A standard enabled again is as Security Hub enables it: the per-control settings it had (controls a person disabled in it) are not in the call and not checked; a standards subscription of another account or Region is not applicable; a standard or import that AWS itself turned off (userIdentity AWSService: Security Hub applying the delegated administrator's central configuration) is escalated, not turned back on. No undo: what was there before the call is the blind state, which quell does not put back. A detector tagged with the exemption tag (quell:exempt=true) is left as it is (EXEMPT, NOTIFIED with the reason); the other sensors are account settings, kept out with QUELL_DENY_ACCOUNTS. Default enforce.",
        triggers: Triggers {
            cloudtrail_events: CALLS,
            securityhub_controls: &[
                "GuardDuty.1",
                "Config.1",
                "CloudWatch.1",
                "CloudWatch.2",
                "CloudWatch.3",
                "CloudWatch.4",
                "CloudWatch.5",
                "CloudWatch.6",
                "CloudWatch.7",
                "CloudWatch.8",
                "CloudWatch.9",
                "CloudWatch.10",
                "CloudWatch.11",
                "CloudWatch.12",
                "CloudWatch.13",
                "CloudWatch.14",
                "CloudTrail.2",
                "CloudTrail.5",
                "EC2.6",
            ],
            config_rules: &[
                "guardduty-enabled-centralized",
                "cloud-trail-encryption-enabled",
                "cloud-trail-cloud-watch-logs-enabled",
                "vpc-flow-logs-enabled",
            ],
            ..Triggers::NONE
        },
        permissions: &[
            "guardduty:ListDetectors",
            "guardduty:GetDetector",
            "guardduty:GetAdministratorAccount",
            CREATE_DETECTOR,
            UPDATE_DETECTOR,
            "config:DescribeConfigurationRecorderStatus",
            START_RECORDER,
            "securityhub:DescribeHub",
            ENABLE_HUB,
            "securityhub:GetEnabledStandards",
            ENABLE_STANDARDS,
            "securityhub:ListEnabledProductsForImport",
            ENABLE_IMPORT,
            "cloudwatch:DescribeAlarms",
            PUT_ALARM,
            "logs:DescribeMetricFilters",
            PUT_FILTER,
            "logs:DescribeLogGroups",
            CREATE_GROUP,
            "events:DescribeRule",
            ENABLE_RULE,
            "events:ListTargetsByRule",
            PUT_RULE,
            PUT_TARGETS,
            "access-analyzer:ListAnalyzers",
            CREATE_ANALYZER,
            "config:DescribeDeliveryChannels",
            PUT_CHANNEL,
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            CREATE_TRAIL,
            START_LOGGING,
            "ec2:DescribeVpcs",
            "ec2:DescribeFlowLogs",
            CREATE_FLOW_LOGS,
            // AWS authorizes these at CreateFlowLogs to an S3 destination (the log delivery it
            // sets up); quell never calls them itself.
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            PUT_RECORDER,
            // Only on the roles of quell::privilege::PASSED_ROLES, each to its service: AWS Config's
            // service-linked role for the recorder, quell-forward for a forwarding rule's target.
            "iam:PassRole",
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        let c = member.config();
        Clients {
            guardduty: aws_sdk_guardduty::Client::new(c),
            admin_guardduty: aws_sdk_guardduty::Client::new(member.central()),
            config: aws_sdk_config::Client::new(c),
            hub: aws_sdk_securityhub::Client::new(c),
            cloudwatch: aws_sdk_cloudwatch::Client::new(c),
            logs: aws_sdk_cloudwatchlogs::Client::new(c),
            events: aws_sdk_eventbridge::Client::new(c),
            analyzer: aws_sdk_accessanalyzer::Client::new(c),
            cloudtrail: aws_sdk_cloudtrail::Client::new(c),
            ec2: aws_sdk_ec2::Client::new(c),
        }
    }

    fn configure(
        &mut self,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), quell::config::ConfigError> {
        if let Some(ns) = get("QUELL_ALARM_NAMESPACE").filter(|v| !v.trim().is_empty()) {
            let ns = ns.trim().to_string();
            if !name_ok(&ns) || ns.contains(':') {
                return Err(quell::config::ConfigError {
                    var: "QUELL_ALARM_NAMESPACE",
                    reason: format!(
                        "`{ns}` is not a CloudWatch namespace (letters, digits and ._-/#)"
                    ),
                });
            }
            self.namespace = ns;
        }
        if let Some(a) = get("QUELL_ORG_TRAIL_ACCOUNT").filter(|v| !v.trim().is_empty()) {
            let a = a.trim().to_string();
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(quell::config::ConfigError {
                    var: "QUELL_ORG_TRAIL_ACCOUNT",
                    reason: format!("`{a}` is not an account id (12 digits)"),
                });
            }
            self.trail_account = Some(a);
        }
        self.config_bucket = bucket_setting(get, "QUELL_CONFIG_BUCKET")?;
        self.trail_bucket = bucket_setting(get, "QUELL_TRAIL_BUCKET")?;
        self.flow_log_bucket = bucket_setting(get, "QUELL_FLOW_LOG_BUCKET")?;
        if let Some(bus) = get("QUELL_OUTCOME_BUS_ARN").filter(|v| !v.trim().is_empty()) {
            let bus = bus.trim().to_string();
            // Checked as the member stacks' CentralEventBusArn is: a rule put back delivers there.
            if quell::member::quell_bus(&bus).is_none() {
                return Err(quell::config::ConfigError {
                    var: "QUELL_OUTCOME_BUS_ARN",
                    reason: format!("`{bus}` is not an event bus ARN (arn:<partition>:events:<Region>:<account>:event-bus/<name>)"),
                });
            }
            self.quell_bus = Some(bus);
        }
        if let Some(tag) = get("QUELL_EXEMPT_TAG").filter(|v| !v.trim().is_empty()) {
            self.exempt_tag = tag.trim().to_string();
        }
        Ok(())
    }

    /// Calls that are none of quell's business: another team's alarm, rule, log group or metric
    /// filter; quell's own restore coming back through CloudTrail (quell-tamper-restore turning a
    /// sensor on).
    fn ignore(&self, f: &Finding) -> Option<String> {
        if f.source != quell::Source::CloudTrail {
            // CloudWatch.1-14 outside the organization trail's account: failed by design (the
            // CIS filters and alarms are on the trail's group, in its account), and AWS suggests
            // disabling them there. Answering each would be 14 escalations per account and Region.
            let trail = self.trail_account.as_deref()?;
            let control = f.names().find(|n| cloudwatch_control(n).is_some())?;
            return (f.account != trail).then(|| {
                format!(
                    "{control} in account {}, not the organization trail's ({trail}, QUELL_ORG_TRAIL_ACCOUNT): its CIS filters and alarms are on the trail's log group there; disable CloudWatch.1-14 in member accounts (aws securityhub update-standards-control, or a central configuration policy)",
                    f.account
                )
            });
        }
        if f.status.is_some() {
            return None;
        }
        let empty = Value::Null;
        let request = f.request.as_ref().unwrap_or(&empty);
        let role = f
            .caller
            .as_ref()
            .and_then(|c| c.arn.as_deref())
            .and_then(role_of);
        if f.by_quell && role == Some("quell-tamper-restore") {
            let turns_off = request.get("enable").and_then(Value::as_bool) == Some(false)
                || request
                    .get("features")
                    .and_then(Value::as_array)
                    .is_some_and(|l| {
                        l.iter()
                            .any(|x| x.get("status").and_then(Value::as_str) == Some("DISABLED"))
                    });
            if f.kind == "guardduty:UpdateDetector" && !turns_off {
                return Some("quell's own restore of the detector".into());
            }
        }
        let text = |k: &str| text(request, k).unwrap_or_default();
        match f.kind.as_str() {
            "cloudwatch:DeleteAlarms" if quell_alarms(request).is_empty() => Some(
                "none of the deleted alarms is one of quell's CIS alarms (quell-cis-<metric>)"
                    .into(),
            ),
            "events:DisableRule" | "events:DeleteRule" | "events:RemoveTargets"
                if !quell::member::FORWARD_RULES.contains(&text(rule_pointer(&f.kind))) =>
            {
                Some(
                    "not one of quell's forwarding rules (member/regional.yaml, org/trail.yaml)"
                        .into(),
                )
            }
            "logs:DeleteLogGroup" if !trail_log_group(text("/logGroupName")) => {
                Some("not a log group of the organization trail".into())
            }
            "logs:DeleteMetricFilter"
                if !trail_log_group(text("/logGroupName"))
                    && cis_filter(text("/filterName")).is_none() =>
            {
                Some("not a CIS metric filter, nor on a log group of the organization trail".into())
            }
            _ => None,
        }
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        if f.source != quell::Source::CloudTrail {
            return posture(f, self.flow_log_bucket.as_deref());
        }
        let by_quell_role = f.by_quell;
        let by = f
            .caller
            .as_ref()
            .map(|c| c.describe())
            .unwrap_or_else(|| "an unknown caller".into());
        let empty = Value::Null;
        let request = f.request.as_ref().unwrap_or(&empty);
        let target = |what| Target {
            account: f.account.clone(),
            region: f.region.clone(),
            by: by.clone(),
            what,
        };
        if by_quell_role {
            // Not quell's own restore (ignore() lets that go): quell's undo, or someone holding
            // one of quell's roles, turned a sensor off.
            let what = format!(
                "{} was made in account {} in {} through one of quell's own roles: an undo a person ran (`quell undo`), or someone holding that role",
                f.kind, f.account, f.region
            );
            return Ok(target(What::Escalate {
                what,
                command: "confirm the undo was intended (quell undo --list), or revoke the role's sessions".into(),
            }));
        }
        if let Some(code) = &f.status {
            // A failed call changed nothing, but someone tried: a person must know.
            let what = format!(
                "{} was attempted in account {} in {} and failed ({code}): nothing was changed",
                f.kind, f.account, f.region
            );
            return Ok(target(What::Escalate {
                what,
                command: "check who holds these credentials and why they tried".into(),
            }));
        }
        Ok(target(match f.kind.as_str() {
            "guardduty:DisassociateFromAdministratorAccount"
            | "guardduty:DisassociateFromMasterAccount"
                if self.security_account().is_some_and(|a| a != f.account) =>
            {
                let detector = named(request, "/detectorId", "detector")?;
                if detector.len() > 300 || !detector.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(NotApplicable(format!(
                        "the call's detector `{}` is not a detector id",
                        detector.chars().take(80).collect::<String>()
                    )));
                }
                What::Reassociate {
                    detector,
                    administrator: self.security_account().unwrap_or_default(),
                    found: Cached::default(),
                }
            }
            "guardduty:DeleteDetector" => What::Detector {
                deleted: true,
                features: Vec::new(),
                found: Cached::default(),
                made: Cached::default(),
                unread: Cached::default(),
            },
            "guardduty:UpdateDetector" => {
                let mut features: Vec<String> = Vec::new();
                if let Some(list) = request.get("features").and_then(Value::as_array) {
                    for feat in list {
                        if feat.get("status").and_then(Value::as_str) == Some("DISABLED") {
                            let n = feat.get("name").and_then(Value::as_str).unwrap_or_default();
                            if !name_ok(n) {
                                return Err(NotApplicable(format!(
                                    "the call's feature `{}` is not valid",
                                    n.chars().take(80).collect::<String>()
                                )));
                            }
                            features.push(n.to_string());
                        }
                    }
                }
                if let Some(ds) = request.get("dataSources") {
                    for (pointer, feature) in DATA_SOURCE_FEATURES {
                        if ds.pointer(pointer).and_then(Value::as_bool) == Some(false)
                            && !features.iter().any(|f| f == feature)
                        {
                            features.push(feature.to_string());
                        }
                    }
                }
                What::Detector {
                    deleted: false,
                    features,
                    found: Cached::default(),
                    made: Cached::default(),
                    unread: Cached::default(),
                }
            }
            "config:StopConfigurationRecorder" => What::Recorder(config_named(
                request,
                "/configurationRecorderName",
                "recorder",
            )?),
            "securityhub:DisableSecurityHub" => What::Hub,
            "securityhub:BatchDisableStandards" | "securityhub:DisableImportFindingsForProduct"
                if f.caller.as_ref().is_some_and(|c| {
                    c.identity_type.as_deref() == Some("AWSService")
                        || c.ip
                            .as_deref()
                            .is_some_and(|ip| ip.ends_with(".amazonaws.com"))
                }) =>
            {
                // Security Hub itself, applying the delegated administrator's central
                // configuration: the organization's choice, which quell does not fight.
                What::Escalate {
                    what: format!(
                        "{} was made by AWS in account {} in {} (Security Hub applying a central configuration policy, or another service)",
                        f.kind, f.account, f.region
                    ),
                    command: format!(
                        "from the Security Hub delegated administrator: aws securityhub get-configuration-policy-association --region {} --target AccountId={} (check the policy meant it)",
                        f.region, f.account
                    ),
                }
            }
            "securityhub:BatchDisableStandards" => {
                let p = present(
                    request,
                    &["/StandardsSubscriptionArns", "/standardsSubscriptionArns"],
                );
                let subs = names(request, p, "standards subscription")?;
                if !(1..=25).contains(&subs.len()) {
                    return Err(NotApplicable(format!(
                        "the call names {} standards subscriptions (requestParameters{p}): Security Hub takes 1 to 25",
                        subs.len()
                    )));
                }
                let mut standards = Vec::new();
                for sub in subs {
                    let Some(arn) = standards_arn(&sub, &f.account, &f.region) else {
                        return Err(NotApplicable(format!(
                            "the call's standards subscription `{}` is not a standard's subscription of account {} in {}",
                            sub.chars().take(120).collect::<String>(),
                            f.account,
                            f.region
                        )));
                    };
                    if !standards.iter().any(|(s, _)| *s == sub) {
                        standards.push((sub, arn));
                    }
                }
                What::Standards(standards, Cached::default())
            }
            "securityhub:DisableImportFindingsForProduct" => {
                let p = present(
                    request,
                    &["/ProductSubscriptionArn", "/productSubscriptionArn"],
                );
                let sub = named(request, p, "product subscription")?;
                if hub_resource(&sub, &f.account, &f.region)
                    .is_none_or(|(_, r)| !r.starts_with("product-subscription/"))
                {
                    return Err(NotApplicable(format!(
                        "the call's product subscription `{}` is not one of account {} in {}",
                        sub.chars().take(120).collect::<String>(),
                        f.account,
                        f.region
                    )));
                }
                match aws_product_arn(&sub, &f.account, &f.region) {
                    Some(product) => What::ProductImport {
                        subscription: sub,
                        product,
                    },
                    // A partner's: its product ARN holds the vendor's account, not in the call.
                    None => What::Escalate {
                        what: format!(
                            "Security Hub stopped importing {sub} in account {} in {}",
                            f.account, f.region
                        ),
                        command: format!(
                            "aws securityhub describe-products --region {r} (the product's ARN, which holds its vendor's account), then aws securityhub enable-import-findings-for-product --region {r} --product-arn <PRODUCT_ARN>",
                            r = f.region
                        ),
                    },
                }
            }
            "cloudwatch:DeleteAlarms" => {
                let ours = quell_alarms(request);
                if ours.is_empty() {
                    return Err(NotApplicable(
                        "none of the deleted alarms is one of quell's CIS alarms (quell-cis-<metric>)".into(),
                    ));
                }
                What::Alarms(ours, Cached::default())
            }
            "logs:DeleteMetricFilter"
                if cis_filter(text(request, "/filterName").unwrap_or_default()).is_some() =>
            {
                let group = named(request, "/logGroupName", "log group")?;
                let filter = named(request, "/filterName", "metric filter")?;
                // As CloudWatch Logs names them: checked here, so no call is made for a bad one.
                if !log_group_ok(&group) {
                    return Err(NotApplicable(format!(
                        "the call's log group `{}` is not a log group name",
                        group.chars().take(80).collect::<String>()
                    )));
                }
                if filter.len() > 512 || filter.contains([':', '*']) {
                    return Err(NotApplicable(format!(
                        "the call's metric filter `{}` is not a filter name",
                        filter.chars().take(80).collect::<String>()
                    )));
                }
                let Some((metric, _, pattern)) = cis_filter(&filter) else {
                    return Err(NotApplicable(format!(
                        "{filter} is not a CIS metric filter"
                    )));
                };
                What::MetricFilter {
                    group,
                    filter,
                    metric,
                    pattern,
                }
            }
            "logs:DeleteLogGroup" => {
                let group = named(request, "/logGroupName", "log group")?;
                // As CloudWatch Logs names them: checked here, so no call is made for a bad one.
                if !log_group_ok(&group) {
                    return Err(NotApplicable(format!(
                        "the call's log group `{}` is not a log group name",
                        group.chars().take(80).collect::<String>()
                    )));
                }
                What::LogGroup {
                    group,
                    found: Cached::default(),
                }
            }
            "config:DeleteDeliveryChannel" if self.config_bucket.is_some() => {
                What::DeliveryChannel {
                    name: config_named(request, "/deliveryChannelName", "delivery channel")?,
                    bucket: self.config_bucket.clone().unwrap_or_default(),
                    partition: f.partition.clone(),
                }
            }
            "cloudtrail:DeleteTrail" if self.trail_bucket.is_some() => What::Trail {
                name: deleted_trail(request, &f.account, &f.region)?,
                bucket: self.trail_bucket.clone().unwrap_or_default(),
                made: Cached::default(),
                delivery: Cached::default(),
            },
            "config:DeleteConfigurationRecorder" => What::NewRecorder {
                name: config_named(request, "/configurationRecorderName", "recorder")?,
                partition: f.partition.clone(),
                made: Cached::default(),
            },
            "ec2:DeleteFlowLogs" if self.flow_log_bucket.is_some() => What::FlowLogs {
                vpc: None,
                bucket: self.flow_log_bucket.clone().unwrap_or_default(),
                partition: f.partition.clone(),
                deleted: flow_log_ids(request)?,
                exempt: Cached::default(),
            },
            "access-analyzer:DeleteAnalyzer" => {
                let name = named(request, "/analyzerName", "analyzer")?;
                if !analyzer_name_ok(&name) {
                    return Err(NotApplicable(format!(
                        "the call's analyzer `{}` is not an analyzer name",
                        name.chars().take(80).collect::<String>()
                    )));
                }
                What::Analyzer {
                    name,
                    not_active: Cached::default(),
                    made: Cached::default(),
                }
            }
            "events:DisableRule" | "events:DeleteRule" | "events:RemoveTargets" => {
                let name = named(request, rule_pointer(&f.kind), "rule")?;
                if !rule_name_ok(&name) {
                    return Err(NotApplicable(format!(
                        "the call's rule `{}` is not a rule name",
                        name.chars().take(80).collect::<String>()
                    )));
                }
                // quell's forwarding rules are on the account's default bus: a rule of that name
                // on another bus is someone else's.
                let bus = match text(request, "/eventBusName") {
                    None => None,
                    Some(b) if default_bus(b, &f.account, &f.region) => Some(b.to_string()),
                    Some(b) => {
                        return Err(NotApplicable(format!(
                            "the call's event bus `{}` is not the default bus of account {} in {}, where quell's forwarding rules are",
                            b.chars().take(80).collect::<String>(),
                            f.account,
                            f.region
                        )))
                    }
                };
                // A stack's own change (a StackSet instance removed, SecurityHubAggregated set to
                // true) is the deployment's: told, not undone.
                if by_cloudformation(f) {
                    return Ok(Target {
                        account: f.account.clone(),
                        region: f.region.clone(),
                        by: by.clone(),
                        what: What::Escalate {
                            what: format!(
                                "quell's forwarding rule {name} in account {} in {} was changed by CloudFormation ({}): a stack update or a StackSet instance removed, which quell does not undo",
                                f.account, f.region, f.kind
                            ),
                            command: format!(
                                "if it was not meant: update the member/regional.yaml stack instance in account {} and {}, which puts it back",
                                f.account, f.region
                            ),
                        },
                    });
                }
                let stack = self
                    .quell_bus
                    .as_deref()
                    .map(|b| quell::member::forwarder(&name, &f.account, &f.region, b));
                if f.kind == "events:DisableRule" {
                    // Enabled again; and where the stacks make it here, put back whole (a rule
                    // deleted since, or emptied of its target, as the stack makes it).
                    match stack {
                        Some(Ok(rule)) => What::Forwarder {
                            rule,
                            differs: Cached::default(),
                        },
                        _ => What::Rule { name, bus },
                    }
                } else {
                    match stack {
                        Some(Ok(rule)) => What::Forwarder {
                            rule,
                            differs: Cached::default(),
                        },
                        Some(Err(why)) => {
                            let (what, command) = self.escalation(f, request)?;
                            What::Escalate {
                                what: format!("{what}; quell does not put it back: {why}"),
                                command,
                            }
                        }
                        None => {
                            let (what, command) = self.escalation(f, request)?;
                            What::Escalate { what, command }
                        }
                    }
                }
            }
            _ => {
                let (what, command) = self.escalation(f, request)?;
                What::Escalate { what, command }
            }
        }))
    }

    fn describe(&self, t: &Target) -> String {
        let what = match &t.what {
            What::Detector { deleted: true, .. } => "the GuardDuty detector (deleted)".to_string(),
            What::Detector { features, .. } if features.is_empty() => {
                "the GuardDuty detector".to_string()
            }
            What::Detector { features, .. } => {
                format!("the GuardDuty detector ({})", features.join(", "))
            }
            What::Recorder(n) => format!("the AWS Config recorder {n}"),
            What::Recorders { .. } => "the AWS Config recorders".to_string(),
            What::NewRecorder { name, .. } => format!("the AWS Config recorder {name} (deleted)"),
            What::Hub => "Security Hub".to_string(),
            What::Alarms(a, _) => format!("the alarms {}", a.join(", ")),
            What::MetricFilter { group, filter, .. } => {
                format!("the metric filter {filter} on {group}")
            }
            What::LogGroup { group, .. } => {
                format!("the log group {group} and its CIS metric filters")
            }
            What::Rule { name, bus: None } => format!("quell's forwarding rule {name}"),
            What::Rule {
                name,
                bus: Some(bus),
            } => format!("quell's forwarding rule {name} on {bus}"),
            What::Forwarder { rule, .. } => format!("quell's forwarding rule {}", rule.name),
            What::Reassociate {
                detector,
                administrator,
                ..
            } => format!(
                "the GuardDuty detector {detector}'s association with its administrator {administrator}"
            ),
            What::Standards(standards, _) => format!(
                "the Security Hub standards {}",
                standards
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            What::ProductImport { product, .. } => {
                format!("Security Hub's import of {product}'s findings")
            }
            What::Analyzer { name, .. } => format!("the IAM Access Analyzer analyzer {name}"),
            What::Trail { name, bucket, .. } => {
                format!("the CloudTrail trail {name} (to s3://{bucket})")
            }
            What::FlowLogs {
                vpc: Some(vpc),
                bucket,
                ..
            } => format!("the flow logs of {vpc} (to s3://{bucket})"),
            What::FlowLogs {
                vpc: None,
                bucket,
                deleted,
                ..
            } => format!(
                "the VPC flow logs (deleted: {}; every VPC's, to s3://{bucket})",
                deleted.join(", ")
            ),
            What::DeliveryChannel { name, bucket, .. } => {
                format!("the AWS Config delivery channel {name} (to s3://{bucket})")
            }
            What::CisAlarm {
                control, metric, ..
            } => format!(
                "{control}: quell's CIS alarm {}{metric} and the filter feeding it",
                quell::cis::ALARM_PREFIX
            ),
            What::Escalate { .. } => "a sensor".to_string(),
        };
        format!("{what} of {} in {} (by {})", t.account, t.region, t.by)
    }

    /// The detector's tags (GetDetector returns them): a detector tagged with the exemption tag
    /// is one a person keeps as it is (EXEMPT: a threat's, so NOTIFIED with the reason, never
    /// suppressed). The other sensors are account settings, kept out with QUELL_DENY_ACCOUNTS.
    async fn tags(&self, c: &Clients, t: &Target) -> Result<Tags, AwsError> {
        if let What::FlowLogs { vpc: Some(vpc), .. } = &t.what {
            let mut tags: Tags = self
                .vpcs(c, t, Some(vpc))
                .await?
                .into_iter()
                .flat_map(|(_, tags)| tags)
                .collect();
            tags.sort();
            return Ok(tags);
        }
        let id =
            match &t.what {
                // A detector someone tagged to be left alone stays out of its administrator too.
                What::Reassociate { detector, .. } => detector.clone(),
                What::Detector { .. } => {
                    let listed =
                        c.guardduty.list_detectors().send().await.aws(|| {
                            format!("could not list GuardDuty detectors in {}", t.region)
                        })?;
                    let Some(id) = listed.detector_ids().first() else {
                        return Ok(Vec::new());
                    };
                    id.clone()
                }
                _ => return Ok(Vec::new()),
            };
        let id = &id;
        let d = c
            .guardduty
            .get_detector()
            .detector_id(id)
            .send()
            .await
            .aws(|| format!("could not read GuardDuty detector {id}"))?;
        let mut tags: Tags = d
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        match &t.what {
            What::Escalate { what, command } => Err(AwsError::other(
                "escalated",
                "ManualActionRequired",
                format!("{what}; a person runs: {command}"),
                false,
            )),
            What::Detector {
                features,
                found,
                unread,
                ..
            } => {
                let listed = c
                    .guardduty
                    .list_detectors()
                    .send()
                    .await
                    .aws(|| format!("could not list GuardDuty detectors in {}", t.region))?;
                let Some(id) = listed.detector_ids().first().cloned() else {
                    found.set(None);
                    return Ok(vec![Step::new(
                        CREATE_DETECTOR,
                        format!("enable=true in account {} {}", t.account, t.region),
                    )]);
                };
                found.set(Some(id.clone()));
                let d = c
                    .guardduty
                    .get_detector()
                    .detector_id(&id)
                    .send()
                    .await
                    .aws(|| format!("could not read GuardDuty detector {id}"))?;
                let mut steps = Vec::new();
                if d.status().map(|s| s.as_str()) != Some("ENABLED") {
                    steps.push(Step::new(
                        UPDATE_DETECTOR,
                        format!("detector={id} enable=true"),
                    ));
                }
                let mut off = Vec::new();
                let mut missing = Vec::new();
                for name in features {
                    match d
                        .features()
                        .iter()
                        .find(|x| x.name().map(|n| n.as_str()) == Some(name.as_str()))
                    {
                        Some(x) if x.status().map(|s| s.as_str()) == Some("ENABLED") => {}
                        Some(_) => off.push(name.clone()),
                        None => missing.push(name.clone()),
                    }
                }
                unread.set(missing);
                if !off.is_empty() {
                    steps.push(Step::new(
                        UPDATE_DETECTOR,
                        format!("detector={id} features={} ENABLED", off.join(",")),
                    ));
                }
                Ok(steps)
            }
            What::Recorder(name) => {
                let out = c
                    .config
                    .describe_configuration_recorder_status()
                    .configuration_recorder_names(name)
                    .send()
                    .await
                    .aws(|| format!("could not read the status of the Config recorder {name}"))?;
                let recording = out
                    .configuration_recorders_status()
                    .iter()
                    .any(|s| s.name() == Some(name.as_str()) && s.recording());
                Ok(if recording {
                    Vec::new()
                } else {
                    vec![Step::new(START_RECORDER, format!("recorder={name}"))]
                })
            }
            What::Recorders { partition, .. } => {
                let ours = own_recorders(c, t).await?;
                if ours.is_empty() {
                    return self.make_recorder(c, t, "default", partition).await;
                }
                self.start_with_channel(c, t, &ours).await
            }
            What::Hub => match c.hub.describe_hub().send().await {
                Ok(_) => Ok(Vec::new()),
                Err(e) => {
                    let code = aws_sdk_securityhub::error::ProvideErrorMetadata::code(&e)
                        .map(str::to_string);
                    if matches!(
                        code.as_deref(),
                        Some("InvalidAccessException" | "ResourceNotFoundException")
                    ) {
                        Ok(vec![Step::new(
                            ENABLE_HUB,
                            format!(
                                "account={} region={} (no default standards)",
                                t.account, t.region
                            ),
                        )])
                    } else {
                        Err(e).aws(|| format!("could not read Security Hub in {}", t.region))
                    }
                }
            },
            What::Standards(standards, pending) => {
                // Every subscription of the account and Region, matched here: what GetEnabledStandards
                // answers for a subscription ARN that is not enabled is not documented.
                let mut read: Vec<(String, String, String)> = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let page = c
                        .hub
                        .get_enabled_standards()
                        .max_results(100)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .aws(|| {
                            format!("could not read the Security Hub standards in {}", t.region)
                        })?;
                    for s in page.standards_subscriptions() {
                        if let (Some(arn), Some(status)) =
                            (s.standards_subscription_arn(), s.standards_status())
                        {
                            let reason = s
                                .standards_status_reason()
                                .and_then(|r| r.status_reason_code())
                                .map(|c| c.as_str().to_string())
                                .unwrap_or_default();
                            read.push((arn.to_string(), status.as_str().to_string(), reason));
                        }
                    }
                    match page.next_token() {
                        Some(t) if !t.is_empty() => token = Some(t.to_string()),
                        _ => break,
                    }
                }
                let mut steps = Vec::new();
                let mut waiting = Vec::new();
                for (sub, arn) in standards {
                    match read
                        .iter()
                        .find(|(a, _, _)| a == sub)
                        .map(|(_, s, r)| (s.as_str(), r.as_str()))
                    {
                        Some(("READY", _)) => {}
                        // Being enabled, or partly (some controls failed, or a disable that
                        // stopped half way): not proven on.
                        Some((status @ ("PENDING" | "INCOMPLETE"), reason)) => {
                            waiting.push(if reason.is_empty() {
                                format!("{sub} {status}")
                            } else {
                                format!("{sub} {status} ({reason})")
                            })
                        }
                        // Still being disabled: enabling it now may be refused. Retried later.
                        Some(("DELETING", _)) => {
                            return Err(AwsError::other(
                                format!("could not enable the Security Hub standard {sub} yet"),
                                "StandardDeleting",
                                format!(
                                "Security Hub is still disabling {sub}: retried once it is gone"
                            ),
                                true,
                            ))
                        }
                        // Gone, or FAILED: enabled again.
                        _ => steps.push(Step::new(ENABLE_STANDARDS, format!("standard={arn}"))),
                    }
                }
                pending.set(waiting);
                Ok(steps)
            }
            What::DeliveryChannel {
                name,
                bucket,
                partition,
            } => {
                let channels = c.config.describe_delivery_channels().send().await.aws(|| {
                    format!(
                        "could not read the Config delivery channels in {}",
                        t.region
                    )
                })?;
                let ours = own_recorders(c, t).await?;
                if ours.is_empty() {
                    // A channel needs a recorder (NoAvailableConfigurationRecorderException).
                    return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!(
                            "the AWS Config delivery channel {n} of account {a} in {r} was deleted, and the account has no recorder either; a person runs: aws configservice put-configuration-recorder --region {r} --configuration-recorder name=default,roleARN=arn:{p}:iam::{a}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig --recording-group allSupported=true,includeGlobalResourceTypes=true && aws configservice put-delivery-channel --region {r} --delivery-channel {json} && aws configservice start-configuration-recorder --region {r} --configuration-recorder-name default",
                            n = q(name),
                            a = t.account,
                            r = t.region,
                            p = partition,
                            json = q(&serde_json::json!({"name": name, "s3BucketName": bucket}).to_string())
                        ),
                        false,
                    ));
                }
                let mut steps = Vec::new();
                // Config keeps one channel per account and Region: one there already (a person
                // made it again, by any name) is kept, and a second would be refused. One that
                // delivers elsewhere than the organization's bucket is a person's to judge.
                if let Some(other) = channels
                    .delivery_channels()
                    .iter()
                    .find(|c| c.s3_bucket_name() != Some(bucket.as_str()))
                {
                    return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!(
                            "the AWS Config delivery channel {n} of account {a} in {r} was deleted, and the account's channel now is {o}, delivering to {ob}, not the organization's bucket {b}; a person checks who made it, then: aws configservice put-delivery-channel --region {r} --delivery-channel {json}",
                            n = q(name),
                            a = t.account,
                            r = t.region,
                            o = q(other.name().unwrap_or_default()),
                            ob = q(other.s3_bucket_name().unwrap_or_default()),
                            b = q(bucket),
                            json = q(&serde_json::json!({"name": other.name().unwrap_or_default(), "s3BucketName": bucket}).to_string())
                        ),
                        false,
                    ));
                }
                if channels.delivery_channels().is_empty() {
                    steps.push(Step::new(
                        PUT_CHANNEL,
                        format!("channel={name} bucket={bucket}"),
                    ));
                }
                steps.extend(start_stopped(&ours));
                Ok(steps)
            }
            What::NewRecorder {
                name, partition, ..
            } => {
                let ours = own_recorders(c, t).await?;
                if !ours.is_empty() {
                    // Config keeps one recorder of the account's own per Region: one there (the
                    // deleted one made again, or another) is kept, and started if stopped.
                    return self.start_with_channel(c, t, &ours).await;
                }
                self.make_recorder(c, t, name, partition).await
            }
            What::FlowLogs {
                vpc,
                bucket,
                exempt,
                ..
            } => {
                let on = self.flow_logged(c, t).await?;
                let mut left = Vec::new();
                let mut missing = Vec::new();
                for (id, tags) in self.vpcs(c, t, vpc.as_deref()).await? {
                    if on.contains(&id) {
                        continue;
                    }
                    // One EC2.6 names is judged by the runtime from tags(); the rest here.
                    if vpc.is_none()
                        && tags
                            .iter()
                            .any(|(k, v)| *k == self.exempt_tag && v.eq_ignore_ascii_case("true"))
                    {
                        left.push(id);
                    } else {
                        missing.push(id);
                    }
                }
                exempt.set(left);
                // CreateFlowLogs takes up to 1000 VPCs a call.
                Ok(missing
                    .chunks(1000)
                    .map(|ids| {
                        Step::new(
                            CREATE_FLOW_LOGS,
                            format!("vpcs={} to=s3://{bucket} traffic=ALL", ids.join(",")),
                        )
                    })
                    .collect())
            }
            What::Trail {
                name,
                bucket,
                delivery,
                ..
            } => {
                let trails = c
                    .cloudtrail
                    .describe_trails()
                    .include_shadow_trails(true)
                    .send()
                    .await
                    .aws(|| format!("could not read the CloudTrail trails in {}", t.region))?;
                let own = format!(":{}:trail/{name}", t.account);
                let mine = trails.trail_list().iter().find(|tr| {
                    tr.name() == Some(name.as_str())
                        && tr.home_region() == Some(t.region.as_str())
                        && tr.trail_arn().is_some_and(|a| a.ends_with(&own))
                });
                let (n, r) = (q(name), &t.region);
                // The note names the trail, the account and the caller before this: the reason
                // and the command come first, as Security Hub keeps 512 characters of it.
                let escalate = |why: String| {
                    Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        why,
                        false,
                    ))
                };
                match mine {
                    Some(tr) => {
                        // Made again since the deletion (a person, a pipeline): kept as it is
                        // where it logs the account everywhere to the organization's bucket.
                        let to = tr.s3_bucket_name().unwrap_or_default();
                        if to != bucket || tr.is_multi_region_trail() != Some(true) {
                            return escalate(format!(
                                "a trail by that name is back, {}; a person checks who made it, then: aws cloudtrail update-trail --region {r} --name {n} --s3-bucket-name {b} --is-multi-region-trail --enable-log-file-validation",
                                if to != bucket {
                                    format!("delivering to {}, not the organization's bucket {}", q(to), q(bucket))
                                } else {
                                    "logging this Region only".to_string()
                                },
                                b = q(bucket)
                            ));
                        }
                        let status = c
                            .cloudtrail
                            .get_trail_status()
                            .name(tr.trail_arn().unwrap_or(name))
                            .send()
                            .await
                            .aws(|| format!("could not read the status of trail {name}"))?;
                        delivery.set(
                            status
                                .latest_delivery_error()
                                .filter(|e| !e.trim().is_empty())
                                .map(|e| e.chars().take(120).collect()),
                        );
                        Ok(if status.is_logging() == Some(true) {
                            Vec::new()
                        } else {
                            vec![Step::new(START_LOGGING, format!("trail={name}"))]
                        })
                    }
                    None => {
                        // Another multi-Region trail (the account's own, homed anywhere, or the
                        // organization's) that reads logging still logs the account: the deleted
                        // one was a second trail, whose bucket, selectors and key the call does
                        // not hold. One stopped, or whose status cannot be read, proves nothing
                        // (a decoy made before the deletion): the trail is made again.
                        let mut other = None;
                        for tr in trails
                            .trail_list()
                            .iter()
                            .filter(|tr| tr.is_multi_region_trail() == Some(true))
                        {
                            let Some(arn) = tr.trail_arn() else { continue };
                            let logging = c
                                .cloudtrail
                                .get_trail_status()
                                .name(arn)
                                .send()
                                .await
                                .ok()
                                .and_then(|s| s.is_logging())
                                == Some(true);
                            if logging {
                                other = Some(tr);
                                break;
                            }
                        }
                        if let Some(other) = other {
                            return escalate(format!(
                                "trail {} still logs the account (multi-Region, logging), and the deleted one's settings are not in the call; a person runs: aws cloudtrail create-trail --region {r} --name {n} --s3-bucket-name <ITS_BUCKET> --is-multi-region-trail --enable-log-file-validation && aws cloudtrail start-logging --region {r} --name {n} (the trail still logging: {})",
                                q(other.name().unwrap_or_default()),
                                q(other.trail_arn().unwrap_or_default())
                            ));
                        }
                        Ok(vec![
                            Step::new(
                                CREATE_TRAIL,
                                format!("trail={name} bucket={bucket} multi-Region, log file validation"),
                            ),
                            Step::new(START_LOGGING, format!("trail={name}")),
                        ])
                    }
                }
            }
            What::Analyzer {
                name, not_active, ..
            } => {
                // Every analyzer of the account and Region, page by page: (name, type, status).
                let mut all: Vec<(String, String, String, String)> = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let page = c
                        .analyzer
                        .list_analyzers()
                        .set_next_token(token.take())
                        .send()
                        .await
                        .aws(|| {
                            format!(
                                "could not list the IAM Access Analyzer analyzers in {}",
                                t.region
                            )
                        })?;
                    for a in page.analyzers() {
                        let reason = a
                            .status_reason()
                            .map(|r| r.code().as_str().to_string())
                            .unwrap_or_default();
                        all.push((
                            a.name().to_string(),
                            a.r#type().as_str().to_string(),
                            a.status().as_str().to_string(),
                            reason,
                        ));
                    }
                    match page.next_token() {
                        Some(t) if !t.is_empty() => token = Some(t.to_string()),
                        _ => break,
                    }
                }
                not_active.set(None);
                let command = |kind: &str| {
                    format!(
                        "aws accessanalyzer create-analyzer --region {} --analyzer-name {} --type {kind}",
                        t.region,
                        q(name)
                    )
                };
                let external = |kind: &str| EXTERNAL_ACCESS.contains(&kind);
                // What else keeps the account analyzing external access, or would make Access
                // Analyzer refuse a new ACCOUNT analyzer (one per type per account and Region,
                // whatever its status).
                let left: Vec<String> = all
                    .iter()
                    .filter(|(n, kind, status, _)| {
                        n != name
                            && (kind == "ACCOUNT"
                                || (external(kind)
                                    && matches!(status.as_str(), "ACTIVE" | "CREATING")))
                    })
                    .map(|(n, kind, status, _)| {
                        if matches!(status.as_str(), "ACTIVE" | "CREATING") {
                            format!("{n} ({kind})")
                        } else {
                            format!("{n} ({kind}, {status})")
                        }
                    })
                    .collect();
                if let Some((_, kind, status, reason)) = all.iter().find(|(n, ..)| n == name) {
                    if !external(kind) && left.is_empty() {
                        // Back by its name, but as a kind that does not analyze external access,
                        // and nothing else does.
                        return Err(AwsError::other(
                            "escalated",
                            "ManualActionRequired",
                            format!(
                                "the IAM Access Analyzer analyzer {name} of account {a} in {r} is back as {kind}, and no analyzer of the account analyzes external access; a person runs: aws accessanalyzer create-analyzer --region {r} --analyzer-name <NAME> --type ACCOUNT",
                                a = t.account,
                                r = t.region,
                            ),
                            false,
                        ));
                    }
                    return match status.as_str() {
                        "ACTIVE" => Ok(Vec::new()),
                        "CREATING" => {
                            not_active.set(Some(status.clone()));
                            Ok(Vec::new())
                        }
                        // FAILED, or DISABLED (Access Analyzer's trusted access removed from the
                        // organization): its name is taken, so nothing quell makes can help.
                        _ => Err(AwsError::other(
                            "escalated",
                            "ManualActionRequired",
                            format!(
                                "the IAM Access Analyzer analyzer {name} ({kind}) of account {} in {} reads {status}{}; a person checks why, then: aws accessanalyzer delete-analyzer --region {} --analyzer-name {} && {}",
                                t.account,
                                t.region,
                                if reason.is_empty() { String::new() } else { format!(" ({reason})") },
                                t.region,
                                q(name),
                                command(kind)
                            ),
                            false,
                        )),
                    };
                }
                if !left.is_empty() {
                    // The account still analyzes external access: the deleted analyzer was of a
                    // type the call does not name (unused or internal access, a second
                    // organization analyzer). Making an ACCOUNT one would not bring it back.
                    return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!(
                            "a person runs: {}; {name} of account {} in {} was deleted while {} remains, so it was of another type, which the call does not hold (ACCOUNT_UNUSED_ACCESS, ACCOUNT_INTERNAL_ACCESS, or an ORGANIZATION type from the delegated administrator account; one ACCOUNT analyzer per account and Region)",
                            command("<TYPE>"),
                            t.account,
                            t.region,
                            left.join(", "),
                        ),
                        false,
                    ));
                }
                Ok(vec![Step::new(
                    CREATE_ANALYZER,
                    format!("analyzer={name} type=ACCOUNT"),
                )])
            }
            What::ProductImport {
                subscription,
                product,
            } => {
                let mut token: Option<String> = None;
                loop {
                    let page = c
                        .hub
                        .list_enabled_products_for_import()
                        .set_next_token(token.take())
                        .send()
                        .await
                        .aws(|| {
                            format!(
                                "could not read Security Hub's product integrations in {}",
                                t.region
                            )
                        })?;
                    if page
                        .product_subscriptions()
                        .iter()
                        .any(|p| p == subscription)
                    {
                        return Ok(Vec::new());
                    }
                    match page.next_token() {
                        Some(t) if !t.is_empty() => token = Some(t.to_string()),
                        _ => break,
                    }
                }
                Ok(vec![Step::new(ENABLE_IMPORT, format!("product={product}"))])
            }
            What::MetricFilter {
                group,
                filter,
                metric,
                pattern,
            } => {
                let out = match c
                    .logs
                    .describe_metric_filters()
                    .log_group_name(group)
                    .filter_name_prefix(filter)
                    .send()
                    .await
                {
                    Ok(o) => o,
                    Err(e)
                        if aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::code(&e)
                            == Some("ResourceNotFoundException") =>
                    {
                        return Err(AwsError::other(
                            format!("could not make the metric filter {filter} again"),
                            "ResourceNotFoundException",
                            format!("the log group {group} of account {} in {} is gone too: aws logs create-log-group --region {} --log-group-name {}, then update the trail stack, org/trail.yaml", t.account, t.region, t.region, q(group)),
                            false,
                        ))
                    }
                    Err(e) => {
                        return Err(e).aws(|| format!("could not read the metric filters of {group}"))
                    }
                };
                let there = out.metric_filters().iter().any(|m| {
                    m.filter_name() == Some(filter.as_str())
                        && m.filter_pattern() == Some(*pattern)
                        && m.metric_transformations().iter().any(|x| {
                            x.metric_name() == *metric && x.metric_namespace() == self.namespace
                        })
                });
                Ok(if there {
                    Vec::new()
                } else {
                    vec![Step::new(
                        PUT_FILTER,
                        format!(
                            "filter={filter} group={group} metric={metric} namespace={}",
                            self.namespace
                        ),
                    )]
                })
            }
            What::LogGroup { group, found } => {
                let listed = c
                    .logs
                    .describe_log_groups()
                    .log_group_name_prefix(group)
                    .send()
                    .await
                    .aws(|| format!("could not read the log group {group}"))?;
                let existing = listed
                    .log_groups()
                    .iter()
                    .find(|g| g.log_group_name() == Some(group.as_str()));
                let exists = existing.is_some();
                // What was on it: the filters that fed quell's CIS alarms here, which went with the
                // group. Only a filter on this group, with the CIS pattern, metric and namespace,
                // counts: one elsewhere does not read this trail's events. The alarms are read
                // once; the verification reads the group and its filters again.
                let metrics = match found.get() {
                    Some((_, metrics)) => metrics,
                    None => {
                        let metrics = self.alarm_metrics(c).await?;
                        // A group someone made again since the deletion is named with its
                        // settings, for a person to check.
                        let before = existing
                            .map(|g| {
                                format!(
                                    "retentionInDays {}, kmsKeyId {}",
                                    g.retention_in_days()
                                        .map_or("none (never expires)".to_string(), |d| {
                                            d.to_string()
                                        }),
                                    g.kms_key_id().unwrap_or("none")
                                )
                            })
                            .unwrap_or_default();
                        found.set((before, metrics.clone()));
                        metrics
                    }
                };
                let on = if exists && !metrics.is_empty() {
                    self.cis_filters_on(c, group).await?
                } else {
                    Vec::new()
                };
                let mut steps = Vec::new();
                if !exists {
                    steps.push(Step::new(CREATE_GROUP, format!("group={group}")));
                }
                for metric in metrics.into_iter().filter(|m| !on.contains(m)) {
                    steps.push(Step::new(
                        PUT_FILTER,
                        format!(
                            "metric={metric} filter={} group={group} namespace={}",
                            cis_filter_name(metric),
                            self.namespace
                        ),
                    ));
                }
                Ok(steps)
            }
            What::Rule { name, bus } => {
                let out = match c
                    .events
                    .describe_rule()
                    .name(name)
                    .set_event_bus_name(bus.clone())
                    .send()
                    .await
                {
                    Ok(o) => o,
                    Err(e)
                        if e
                            .as_service_error()
                            .is_some_and(|x| x.is_resource_not_found_exception()) =>
                    {
                        return Err(AwsError::other(
                            "escalated",
                            "ManualActionRequired",
                            format!("quell's forwarding rule {name} of account {a} in {r} is gone, not disabled; a person runs: update the member/regional.yaml stack instance in account {a} and {r}, which puts it back", a = t.account, r = t.region),
                            false,
                        ))
                    }
                    Err(e) => return Err(e).aws(|| format!("could not read the rule {name}")),
                };
                let on = out
                    .state()
                    .is_some_and(|s| s.as_str().starts_with("ENABLED"));
                Ok(if on {
                    Vec::new()
                } else {
                    vec![Step::new(ENABLE_RULE, format!("rule={name}"))]
                })
            }
            What::Reassociate {
                detector,
                administrator,
                found,
            } => {
                let (a, r) = (&t.account, &t.region);
                let command = format!("from the GuardDuty administrator account: aws guardduty create-members --region {r} --detector-id <ADMINISTRATOR_DETECTOR_ID> --account-details AccountId={a},Email=<ITS_EMAIL> (an organization member), or invite-members --account-ids {a} and, in account {a}, accept-administrator-invitation (an invited one)");
                let escalate = |why: String| {
                    Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!("{why}; a person runs, {command}"),
                        false,
                    ))
                };
                let now = match c
                    .guardduty
                    .get_administrator_account()
                    .detector_id(detector)
                    .send()
                    .await
                {
                    Ok(o) => o,
                    // A member stack older than this function's role: told, as before.
                    Err(e)
                        if aws_sdk_guardduty::error::ProvideErrorMetadata::code(&e)
                            == Some("AccessDeniedException") =>
                    {
                        return escalate(format!(
                            "quell's role in account {a} may not read its GuardDuty administrator yet (update the member/roles.yaml stack instance)"
                        ));
                    }
                    Err(e) => {
                        return Err(e).aws(|| {
                            format!(
                                "could not read the GuardDuty administrator of detector {detector}"
                            )
                        })
                    }
                };
                if let Some(admin) = now.administrator() {
                    match admin.account_id() {
                        Some(x)
                            if x == administrator.as_str()
                                && admin.relationship_status() == Some("Enabled") =>
                        {
                            return Ok(Vec::new());
                        }
                        // Ours, not Enabled (Removed, Created): the member record decides below.
                        Some(x) if x == administrator.as_str() => {}
                        Some(other) => {
                            return escalate(format!(
                                "detector {detector} of account {a} in {r} is now associated with another administrator, {other}: not quell's to change; a person checks who did it"
                            ))
                        }
                        None => {}
                    }
                }
                let detectors = c.admin_guardduty.list_detectors().send().await.aws(|| {
                    format!("could not list the security account's GuardDuty detectors in {r}")
                })?;
                let Some(admin_detector) = detectors.detector_ids().first() else {
                    return escalate(format!(
                        "the security account {administrator} has no GuardDuty detector in {r}, so it is not account {a}'s administrator there"
                    ));
                };
                let members = c
                    .admin_guardduty
                    .get_members()
                    .detector_id(admin_detector)
                    .account_ids(a.as_str())
                    .send()
                    .await
                    .aws(|| format!("could not read account {a} among the security account's GuardDuty members in {r}"))?;
                let Some(member) = members
                    .members()
                    .iter()
                    .find(|m| m.account_id() == Some(a.as_str()))
                else {
                    return escalate(format!(
                        "account {a} is not a member of the security account {administrator}'s GuardDuty in {r}: its administrator is another account, which associates it again"
                    ));
                };
                // An invited member (not one of the organization's): only an invitation it accepts
                // associates it again, and quell accepts none on a member's behalf (its role could
                // then accept anyone's).
                if member.invited_at().is_some() {
                    return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!(
                            "account {a} is an invited member of the security account {administrator}'s GuardDuty in {r}, which only an invitation it accepts associates again; a person runs, from {administrator}: aws guardduty invite-members --region {r} --detector-id {} --account-ids {a}, then in account {a}: aws guardduty accept-administrator-invitation --region {r} --detector-id {} --administrator-id {administrator} --invitation-id <ID> (aws guardduty list-invitations)",
                            q(admin_detector),
                            q(detector)
                        ),
                        false,
                    ));
                }
                let Some(email) = member.email().filter(|e| !e.is_empty()) else {
                    return escalate(format!(
                        "the security account's GuardDuty keeps no email for account {a} in {r}, which CreateMembers needs"
                    ));
                };
                found.set((email.to_string(), admin_detector.clone()));
                Ok(vec![Step::new(
                    CREATE_MEMBERS,
                    format!("account={a} administrator={administrator} detector={admin_detector}"),
                )])
            }
            What::Forwarder { rule, differs } => {
                let name = rule.name;
                let found = match c.events.describe_rule().name(name).send().await {
                    Ok(o) => Some(o),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|x| x.is_resource_not_found_exception()) =>
                    {
                        None
                    }
                    Err(e) => return Err(e).aws(|| format!("could not read the rule {name}")),
                };
                let target = format!(
                    "rule={name} target={} arn={} role={}",
                    quell::member::FORWARD_TARGET_ID,
                    rule.target_arn,
                    rule.role_arn
                );
                let Some(found) = found else {
                    differs.set(Vec::new());
                    return Ok(vec![
                        Step::new(PUT_RULE, format!("rule={name} state=ENABLED")),
                        Step::new(PUT_TARGETS, target),
                    ]);
                };
                let mut steps = Vec::new();
                let mut other = Vec::new();
                let pattern: Option<Value> = found
                    .event_pattern()
                    .and_then(|p| serde_json::from_str(p).ok());
                if pattern.as_ref() != Some(&rule.pattern) {
                    other.push(format!(
                        "its pattern is not the one this version of the member stack gives it (an older stack, or changed since): {}",
                        found.event_pattern().unwrap_or("none").chars().take(200).collect::<String>()
                    ));
                }
                if !found
                    .state()
                    .is_some_and(|s| s.as_str().starts_with("ENABLED"))
                {
                    steps.push(Step::new(ENABLE_RULE, format!("rule={name}")));
                }
                let targets = c
                    .events
                    .list_targets_by_rule()
                    .rule(name)
                    .send()
                    .await
                    .aws(|| format!("could not read the targets of the rule {name}"))?;
                // As the stack makes it: its ARN and role, and nothing that reshapes or diverts
                // what it delivers (PutTargets replaces all of it).
                let ours = targets.targets().iter().any(|x| {
                    x.id() == quell::member::FORWARD_TARGET_ID
                        && x.arn() == rule.target_arn
                        && x.role_arn() == Some(rule.role_arn.as_str())
                        && x.input().is_none()
                        && x.input_path().is_none()
                        && x.input_transformer().is_none()
                        && x.dead_letter_config().is_none()
                        && x.retry_policy().is_none()
                });
                if !ours {
                    steps.push(Step::new(PUT_TARGETS, target));
                }
                let others: Vec<String> = targets
                    .targets()
                    .iter()
                    .filter(|x| x.id() != quell::member::FORWARD_TARGET_ID)
                    .map(|x| format!("{} ({})", x.id(), x.arn()))
                    .collect();
                if !others.is_empty() {
                    other.push(format!(
                        "it has targets the stack does not give it, left as they are: {}",
                        others.join(", ")
                    ));
                }
                differs.set(other);
                Ok(steps)
            }
            What::CisAlarm {
                control,
                metric,
                on,
            } => {
                let alarm = format!("{}{metric}", quell::cis::ALARM_PREFIX);
                if self.fed(c, metric).await? {
                    return self.missing_alarms(c, &[alarm]).await;
                }
                // No filter feeds the metric: where a multi-Region trail logging here delivers to
                // a log group of this account and Region, the CIS filter goes on that group, as
                // org/trail.yaml puts it, and the alarm beside it.
                let Some((trail, group)) = self.trail_group(c, &t.account, &t.region).await? else {
                    // No trail's group here: an alarm made here could never fire, so none is made.
                    return Err(AwsError::other(
                        "escalated",
                        "ManualActionRequired",
                        format!(
                            "{control}: no metric filter of account {a} in {r} feeds {metric} in {ns}, and no multi-Region trail logging here delivers to a log group of this account and Region, so quell makes no alarm that could never fire. The organization trail's log group, with org/trail.yaml's CIS filters and alarms, is in the account and Region that hold the trail: a member account fails CloudWatch.1-14 by design of an organization trail, and AWS suggests disabling them there; a person runs, where the trail's group is in this account and Region: aws cloudformation deploy --region {r} --template-file org/trail.yaml --stack-name quell-trail --parameter-overrides CloudTrailLogGroupName=<LOG_GROUP> AlarmNamespace={ns} …",
                            a = t.account,
                            r = t.region,
                            ns = self.namespace
                        ),
                        false,
                    ));
                };
                let mut steps = vec![Step::new(
                    PUT_FILTER,
                    format!(
                        "metric={metric} filter={} group={group} namespace={}",
                        cis_filter_name(metric),
                        self.namespace
                    ),
                )];
                on.set(Some((trail, group)));
                steps.extend(self.missing_alarms(c, &[alarm]).await?);
                Ok(steps)
            }
            What::Alarms(names, unfed) => {
                // The metrics no filter of this account and Region feeds: an alarm on one of
                // them is back, and cannot fire.
                let mut missing = Vec::new();
                for n in names {
                    let Some((metric, _, _)) = quell::cis::alarm(n) else {
                        continue;
                    };
                    if !self.fed(c, metric).await? {
                        missing.push(metric.to_string());
                    }
                }
                unfed.set(missing);
                self.missing_alarms(c, names).await
            }
        }
    }

    fn unchecked(&self, t: &Target) -> Option<String> {
        match &t.what {
            What::Detector { deleted, made, .. } if *deleted || made.get() == Some(true) => Some(format!(
                "a new detector is not associated with the GuardDuty administrator, and the deleted one's protection plans are not known: from the administrator account, aws guardduty create-members --region {} --detector-id <ADMINISTRATOR_DETECTOR_ID> --account-details AccountId={}",
                t.region, t.account
            )),
            What::Detector { unread, .. } => {
                let missing = unread.get().unwrap_or_default();
                (!missing.is_empty()).then(|| {
                    format!(
                        "GetDetector does not report the protection plans {}: their state is not checked",
                        missing.join(", ")
                    )
                })
            }
            What::Forwarder { differs, .. } => {
                let d = differs.get().unwrap_or_default();
                (!d.is_empty()).then(|| d.join("; "))
            }
            What::Alarms(_, unfed) => {
                let unfed = unfed.get().unwrap_or_default();
                (!unfed.is_empty()).then(|| {
                    format!(
                        "no metric filter of account {} in {} feeds {} in {}: the alarm is back and cannot fire until its filter is (org/trail.yaml puts them on the trail's log group)",
                        t.account,
                        t.region,
                        unfed.join(", "),
                        self.namespace
                    )
                })
            }
            What::Recorders { made, .. } if made.get() == Some(true) => Some(format!(
                "quell made the recorder default with AWS Config's service-linked role, recording every supported resource type but the global ones (IAM: record them in one Region only, includeGlobalResourceTypes=true there), and started it (aws configservice describe-configuration-recorders --region {})",
                t.region
            )),
            What::Recorders { .. } => Some(
                "Config.1 also asks that the recorder use the service-linked role and record every resource type: quell does not check that (aws configservice describe-configuration-recorders)".into(),
            ),
            What::LogGroup { group, found } => {
                let (before, metrics) = found.get().unwrap_or_default();
                let mut said = format!(
                    "the trail's delivery to {group} is not checked (aws cloudtrail get-trail-status --region {r} --name <TRAIL>: LatestCloudWatchLogsDeliveryError), nor the deleted group's retention and KMS key, which the call does not hold (aws logs put-retention-policy / associate-kms-key --region {r} --log-group-name {g}); what was logged between the deletion and now is lost",
                    r = t.region,
                    g = q(group)
                );
                if !before.is_empty() {
                    said.push_str(&format!(
                        ". The group was there when quell first read it: someone made it since the deletion ({before}); check who, and that it is the trail's"
                    ));
                }
                if !metrics.is_empty() {
                    said.push_str(". The filters quell made are named quell-cis-<metric>Filter: when the org/trail.yaml stack is updated and makes its own again, delete quell's, or each match counts twice");
                } else {
                    said.push_str(". None of quell's CIS alarms (quell-cis-<metric>) is in this account and Region, so no CIS filter was put on the group: if they were deleted too, their restore puts them back, then replay this call");
                }
                Some(said)
            }
            What::CisAlarm { control, on, .. } => {
                let mut said = format!(
                    "{control} also asks that the alarm notify an SNS topic with a subscriber, and that its filter be on a multi-Region trail's log group: quell's CIS alarms reach the team through EventBridge and quell's channel, not SNS, so Security Hub may keep {control} FAILED (to satisfy it: aws cloudwatch put-metric-alarm --region {} … --alarm-actions <SNS_TOPIC_ARN>, or update org/trail.yaml with the topic)",
                    t.region
                );
                match on.get().flatten() {
                    Some((trail, group)) => said.push_str(&format!(
                        ". quell put its CIS filter on {group}, the log group of the multi-Region trail {trail} (read logging): when org/trail.yaml is deployed there and makes its own, delete quell's, or each match counts twice"
                    )),
                    None => said.push_str(
                        ". The filter that feeds it is not checked to be on a multi-Region trail's group",
                    ),
                }
                Some(said)
            }
            What::Analyzer {
                name,
                not_active,
                made,
            } => {
                let mut said = Vec::new();
                if let Some(status) = not_active.get().flatten() {
                    said.push(format!(
                        "Access Analyzer reports the analyzer {name} {status}: not yet ACTIVE, so not proven on (aws accessanalyzer get-analyzer --region {} --analyzer-name {})",
                        t.region,
                        q(name)
                    ));
                }
                if made.get() == Some(true) {
                    said.push(format!(
                        "quell made {name} an external access analyzer (type ACCOUNT), the sensor every account keeps: the deleted one's type, archive rules and tags are not in the call; if it was another type (unused or internal access, or the organization's from the delegated administrator account), delete quell's and make it as it was: aws accessanalyzer create-analyzer --region {} --analyzer-name {} --type <TYPE>",
                        t.region,
                        q(name)
                    ));
                }
                (!said.is_empty()).then(|| said.join("; "))
            }
            What::NewRecorder { name, made, .. } => Some(if made.get() == Some(true) {
                format!(
                    "quell made the recorder {name} again with AWS Config's service-linked role, recording every supported resource type but the global ones (IAM: record them in one Region only, includeGlobalResourceTypes=true there): the deleted one's recording group, recording mode and role are not in the call (aws configservice describe-configuration-recorders --region {}); what changed between the deletion and now was not recorded",
                    t.region
                )
            } else {
                format!(
                    "a recorder of the account's own is there in {} (made again since the deletion): its role and recording group are not checked (aws configservice describe-configuration-recorders --region {})",
                    t.region, t.region
                )
            }),
            What::FlowLogs {
                vpc: None,
                deleted,
                exempt,
                ..
            } => {
                let mut said = format!(
                    "the call names only the deleted flow logs ({}), not their resources or settings: every VPC of account {} in {} now has a flow log, but a subnet's or a network interface's, and the deleted ones' traffic type, format and destination, are not checked (aws ec2 describe-flow-logs --region {})",
                    deleted.join(", "),
                    t.account,
                    t.region,
                    t.region
                );
                let left = exempt.get().unwrap_or_default();
                if !left.is_empty() {
                    said.push_str(&format!(
                        "; left without one, tagged {}=true: {}",
                        self.exempt_tag,
                        left.join(", ")
                    ));
                }
                Some(said)
            }
            What::Trail {
                name,
                bucket,
                delivery,
                ..
            } if delivery.get().flatten().is_some() => Some(format!(
                "the trail {name} logs, but CloudTrail reports its last delivery to s3://{bucket} failed ({}): the bucket's policy or key refuses it, and nothing reaches the bucket until it is fixed (aws cloudtrail get-trail-status --region {} --name {})",
                delivery.get().flatten().unwrap_or_default(),
                t.region,
                q(name)
            )),
            What::Trail {
                name, bucket, made, ..
            } => Some(if made.get() == Some(true) {
                format!(
                    "quell made the trail {name} again, multi-Region with log file validation and every management event, delivering to s3://{bucket}: the deleted one's KMS key, CloudWatch Logs delivery (the CIS alarms' group), data events, key prefix, SNS topic and tags are not in the call (aws cloudtrail update-trail / put-event-selectors --region {r} --name {n}); what happened between the deletion and now was not logged by it",
                    r = t.region,
                    n = q(name)
                )
            } else {
                format!(
                    "a trail {name} is back, multi-Region and logging to s3://{bucket}: its event selectors, KMS key and CloudWatch Logs delivery are not read here (aws cloudtrail get-event-selectors --region {} --trail-name {})",
                    t.region,
                    q(name)
                )
            }),
            What::Standards(_, pending) => {
                let waiting = pending.get().unwrap_or_default();
                (!waiting.is_empty()).then(|| {
                    format!(
                        "Security Hub reports {}: not yet READY, so not proven on (aws securityhub get-enabled-standards --region {})",
                        waiting.join(", "),
                        t.region
                    )
                })
            }
            What::Hub => Some(format!(
                "the association with the Security Hub administrator, the standards and the product integrations enabled before are not known to quell: aws securityhub get-enabled-standards --region {r}; aws securityhub list-enabled-products-for-import --region {r}",
                r = t.region
            )),
            _ => None,
        }
    }

    async fn apply(&self, c: &Clients, t: &Target, steps: &[Step]) -> Result<(), AwsError> {
        match &t.what {
            What::Escalate { .. } => Ok(()),
            What::Detector {
                features,
                found,
                made,
                ..
            } => {
                match found.get().flatten() {
                    None => {
                        c.guardduty
                            .create_detector()
                            .enable(true)
                            .send()
                            .await
                            .aws(|| {
                                format!("could not create a GuardDuty detector in {}", t.region)
                            })?;
                        made.set(true);
                    }
                    Some(id) => {
                        let mut req = c.guardduty.update_detector().detector_id(&id);
                        if steps.iter().any(|s| s.detail.ends_with("enable=true")) {
                            req = req.enable(true);
                        }
                        if steps.iter().any(|s| s.detail.contains(" features=")) {
                            for name in features {
                                req = req.features(
                                    DetectorFeatureConfiguration::builder()
                                        .name(DetectorFeature::from(name.as_str()))
                                        .status(FeatureStatus::Enabled)
                                        .build(),
                                );
                            }
                        }
                        req.send()
                            .await
                            .aws(|| format!("could not update GuardDuty detector {id}"))?;
                    }
                }
                found.clear();
                Ok(())
            }
            What::Recorder(name) => {
                c.config
                    .start_configuration_recorder()
                    .configuration_recorder_name(name)
                    .send()
                    .await
                    .aws(|| format!("could not start the Config recorder {name}"))?;
                Ok(())
            }
            What::Recorders { partition, made } => {
                apply_recorder(c, t, "default", partition, made, steps).await
            }
            What::Hub => {
                c.hub
                    .enable_security_hub()
                    .enable_default_standards(false)
                    .send()
                    .await
                    .aws(|| format!("could not enable Security Hub in {}", t.region))?;
                Ok(())
            }
            What::Standards(..) => {
                let requests: Vec<aws_sdk_securityhub::types::StandardsSubscriptionRequest> = steps
                    .iter()
                    .filter_map(|s| s.detail.strip_prefix("standard="))
                    .map(|arn| {
                        aws_sdk_securityhub::types::StandardsSubscriptionRequest::builder()
                            .standards_arn(arn)
                            .build()
                    })
                    .collect();
                if requests.is_empty() {
                    return Ok(());
                }
                let out = c
                    .hub
                    .batch_enable_standards()
                    .set_standards_subscription_requests(Some(requests))
                    .send()
                    .await
                    .aws(|| {
                        format!(
                            "could not enable the Security Hub standards in {}",
                            t.region
                        )
                    })?;
                // A standard refused in the batch is reported in the answer, not as an error.
                let failed: Vec<String> = out
                    .standards_subscriptions()
                    .iter()
                    .filter(|s| s.standards_status().map(|x| x.as_str()) == Some("FAILED"))
                    .filter_map(|s| s.standards_arn().map(str::to_string))
                    .collect();
                if !failed.is_empty() {
                    return Err(AwsError::other(
                        format!(
                            "could not enable the Security Hub standards in {}",
                            t.region
                        ),
                        "StandardsFailed",
                        format!("Security Hub reports {} FAILED", failed.join(", ")),
                        false,
                    ));
                }
                Ok(())
            }
            What::ProductImport { product, .. } => {
                match c
                    .hub
                    .enable_import_findings_for_product()
                    .product_arn(product)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    // Enabled meanwhile (a person, the console): the verification reads it.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|x| x.is_resource_conflict_exception()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e)
                        .aws(|| format!("could not enable the import of {product}'s findings")),
                }
            }
            What::DeliveryChannel { name, bucket, .. } => {
                for s in steps {
                    if s.action == PUT_CHANNEL {
                        put_channel(c, name, bucket).await?;
                    } else if let Some(recorder) = s.detail.strip_prefix("recorder=") {
                        start_recorder(c, recorder).await?;
                    }
                }
                Ok(())
            }
            What::NewRecorder {
                name,
                partition,
                made,
            } => apply_recorder(c, t, name, partition, made, steps).await,
            What::FlowLogs {
                bucket, partition, ..
            } => {
                let destination = format!("arn:{partition}:s3:::{bucket}");
                for s in steps {
                    let Some(ids) = s
                        .detail
                        .strip_prefix("vpcs=")
                        .and_then(|d| d.split(' ').next())
                    else {
                        continue;
                    };
                    let ids: Vec<String> = ids.split(',').map(str::to_string).collect();
                    let out = c
                        .ec2
                        .create_flow_logs()
                        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
                        .set_resource_ids(Some(ids.clone()))
                        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
                        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
                        .log_destination(&destination)
                        .send()
                        .await
                        .aws(|| format!("could not make flow logs on {}", ids.join(", ")))?;
                    // CreateFlowLogs answers 200 with the resources it could not log.
                    if let Some(u) = out.unsuccessful().first() {
                        let e = u.error();
                        return Err(AwsError::other(
                            format!(
                                "could not make a flow log on {}",
                                u.resource_id().unwrap_or_default()
                            ),
                            e.and_then(|e| e.code()).unwrap_or("Unsuccessful"),
                            e.and_then(|e| e.message()).unwrap_or_default(),
                            false,
                        ));
                    }
                }
                Ok(())
            }
            What::Trail {
                name, bucket, made, ..
            } => {
                for s in steps {
                    if s.action == CREATE_TRAIL {
                        match c
                            .cloudtrail
                            .create_trail()
                            .name(name)
                            .s3_bucket_name(bucket)
                            .is_multi_region_trail(true)
                            .enable_log_file_validation(true)
                            .include_global_service_events(true)
                            .send()
                            .await
                        {
                            Ok(_) => made.set(true),
                            // Made meanwhile (a person, a pipeline): not started blind; the
                            // verification reads it, and escalates one delivering elsewhere.
                            Err(e)
                                if e.as_service_error()
                                    .is_some_and(|x| x.is_trail_already_exists_exception()) =>
                            {
                                return Ok(())
                            }
                            Err(e) => {
                                return Err(e).aws(|| {
                                    format!("could not make the CloudTrail trail {name} again")
                                })
                            }
                        }
                    } else if s.action == START_LOGGING {
                        c.cloudtrail
                            .start_logging()
                            .name(name)
                            .send()
                            .await
                            .aws(|| format!("could not start the CloudTrail trail {name}"))?;
                    }
                }
                Ok(())
            }
            What::Analyzer { name, made, .. } => {
                match c
                    .analyzer
                    .create_analyzer()
                    .analyzer_name(name)
                    .r#type(aws_sdk_accessanalyzer::types::Type::Account)
                    .send()
                    .await
                {
                    Ok(_) => {
                        made.set(true);
                        Ok(())
                    }
                    // Made meanwhile (a person, the console): the verification reads it.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|x| x.is_conflict_exception()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e).aws(|| {
                        format!("could not make the IAM Access Analyzer analyzer {name} again")
                    }),
                }
            }
            What::MetricFilter {
                group,
                filter,
                metric,
                pattern,
            } => self.put_filter(c, group, filter, metric, pattern).await,
            What::LogGroup { group, .. } => {
                for s in steps {
                    match s.action {
                        CREATE_GROUP => {
                            match c.logs.create_log_group().log_group_name(group).send().await {
                                Ok(_) => {}
                                // Made meanwhile (the trail stack, a person): the filters still go on.
                                Err(e)
                                    if aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::code(&e)
                                        == Some("ResourceAlreadyExistsException") => {}
                                Err(e) => {
                                    return Err(e).aws(|| {
                                        format!("could not make the log group {group} again")
                                    })
                                }
                            }
                        }
                        PUT_FILTER => {
                            let Some(metric) = s
                                .detail
                                .strip_prefix("metric=")
                                .and_then(|d| d.split(' ').next())
                            else {
                                continue;
                            };
                            let Some((metric, _, pattern)) = quell::cis::ALARMS
                                .iter()
                                .copied()
                                .find(|(m, _, _)| *m == metric)
                            else {
                                continue;
                            };
                            self.put_filter(c, group, &cis_filter_name(metric), metric, pattern)
                                .await?;
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            What::Reassociate { found, .. } => {
                let Some((email, admin_detector)) = found.get() else {
                    return Err(AwsError::other(
                        "could not associate the member again",
                        "NotPlanned",
                        "the plan read no member record",
                        false,
                    ));
                };
                let detail = aws_sdk_guardduty::types::AccountDetail::builder()
                    .account_id(&t.account)
                    .email(email)
                    .build();
                let out = c
                    .admin_guardduty
                    .create_members()
                    .detector_id(&admin_detector)
                    .account_details(detail)
                    .send()
                    .await
                    .aws(|| format!("could not associate account {} again", t.account))?;
                if let Some(u) = out.unprocessed_accounts().first() {
                    return Err(AwsError::other(
                        format!("could not associate account {} again", t.account),
                        "UnprocessedAccount",
                        u.result()
                            .unwrap_or("GuardDuty did not process it")
                            .to_string(),
                        false,
                    ));
                }
                Ok(())
            }
            What::Forwarder { rule, .. } => {
                let name = rule.name;
                for step in steps {
                    match step.action {
                        PUT_RULE => {
                            c.events
                                .put_rule()
                                .name(name)
                                .event_pattern(quell::routing::canonical(&rule.pattern))
                                .description(&rule.description)
                                .state(aws_sdk_eventbridge::types::RuleState::Enabled)
                                .send()
                                .await
                                .aws(|| format!("could not make the rule {name} again"))?;
                        }
                        PUT_TARGETS => {
                            let target = aws_sdk_eventbridge::types::Target::builder()
                                .id(quell::member::FORWARD_TARGET_ID)
                                .arn(&rule.target_arn)
                                .role_arn(&rule.role_arn)
                                .build()
                                .map_err(|e| {
                                    AwsError::other(
                                        format!("could not give the rule {name} its target"),
                                        "InvalidTarget",
                                        e.to_string(),
                                        false,
                                    )
                                })?;
                            let out = c
                                .events
                                .put_targets()
                                .rule(name)
                                .targets(target)
                                .send()
                                .await
                                .aws(|| format!("could not give the rule {name} its target"))?;
                            // PutTargets answers 200 with the targets it refused.
                            if let Some(failed) = out.failed_entries().first() {
                                return Err(AwsError::other(
                                    format!("could not give the rule {name} its target"),
                                    failed.error_code().unwrap_or("FailedEntry"),
                                    failed
                                        .error_message()
                                        .unwrap_or("EventBridge refused the target")
                                        .to_string(),
                                    false,
                                ));
                            }
                        }
                        ENABLE_RULE => {
                            c.events
                                .enable_rule()
                                .name(name)
                                .send()
                                .await
                                .aws(|| format!("could not enable the rule {name}"))?;
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            What::Rule { name, bus } => {
                c.events
                    .enable_rule()
                    .name(name)
                    .set_event_bus_name(bus.clone())
                    .send()
                    .await
                    .aws(|| format!("could not enable the rule {name}"))?;
                Ok(())
            }
            What::Alarms(..) | What::CisAlarm { .. } => {
                for s in steps.iter().filter(|s| s.action == PUT_FILTER) {
                    // The CIS filter on the trail's group (CisAlarm, where none fed the metric).
                    let field = |k: &str| {
                        s.detail
                            .split(' ')
                            .find_map(|w| w.strip_prefix(k))
                            .unwrap_or_default()
                    };
                    let (metric, group) = (field("metric="), field("group="));
                    let Some((metric, _, pattern)) = quell::cis::ALARMS
                        .iter()
                        .copied()
                        .find(|(m, _, _)| *m == metric)
                    else {
                        continue;
                    };
                    self.put_filter(c, group, &cis_filter_name(metric), metric, pattern)
                        .await?;
                }
                for s in steps {
                    let Some(name) = s
                        .detail
                        .strip_prefix("alarm=")
                        .and_then(|d| d.split(' ').next())
                    else {
                        continue;
                    };
                    let Some((metric, what, _)) = quell::cis::alarm(name) else {
                        continue;
                    };
                    c.cloudwatch
                        .put_metric_alarm()
                        .alarm_name(name)
                        .alarm_description(format!("CIS: {what}"))
                        .namespace(&self.namespace)
                        .metric_name(metric)
                        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
                        .period(quell::cis::PERIOD_SECS)
                        .evaluation_periods(1)
                        .threshold(1.0)
                        .comparison_operator(
                            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
                        )
                        .treat_missing_data("notBreaching")
                        .send()
                        .await
                        .aws(|| format!("could not make the alarm {name} again"))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
