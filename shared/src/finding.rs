//! One model for every source: what is wrong, where, on which resource.

use serde::Serialize;

/// Where a finding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    GuardDuty,
    Config,
    AccessAnalyzer,
    CloudWatchAlarm,
    SecurityHub,
    CloudTrail,
}

impl Source {
    /// The EventBridge `source` of events of this kind.
    pub fn event_source(self) -> &'static str {
        match self {
            Source::GuardDuty => "aws.guardduty",
            Source::Config => "aws.config",
            Source::AccessAnalyzer => "aws.access-analyzer",
            Source::CloudWatchAlarm => "aws.cloudwatch",
            Source::SecurityHub => "aws.securityhub",
            Source::CloudTrail => "aws.cloudtrail",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::GuardDuty => "guardduty",
            Source::Config => "config",
            Source::AccessAnalyzer => "access-analyzer",
            Source::CloudWatchAlarm => "cloudwatch-alarm",
            Source::SecurityHub => "securityhub",
            Source::CloudTrail => "cloudtrail",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kinds of resource quell knows by name; anything else keeps the type the source gave.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum ResourceKind {
    S3Bucket,
    Ec2Instance,
    Ec2SecurityGroup,
    IamAccessKey,
    IamUser,
    IamRole,
    CloudTrailTrail,
    CloudWatchAlarm,
    KmsKey,
    SqsQueue,
    DynamoDbTable,
    LambdaFunction,
    SnsTopic,
    Ec2Subnet,
    RdsDbInstance,
    RdsDbCluster,
    RdsDbSnapshot,
    RdsDbClusterSnapshot,
    SsmDocument,
    Account,
    Other(String),
}

const KINDS: &[(ResourceKind, &str, &str)] = &[
    (ResourceKind::S3Bucket, "AWS::S3::Bucket", "AwsS3Bucket"),
    (
        ResourceKind::Ec2Instance,
        "AWS::EC2::Instance",
        "AwsEc2Instance",
    ),
    (
        ResourceKind::Ec2SecurityGroup,
        "AWS::EC2::SecurityGroup",
        "AwsEc2SecurityGroup",
    ),
    (
        ResourceKind::IamAccessKey,
        "AWS::IAM::AccessKey",
        "AwsIamAccessKey",
    ),
    (ResourceKind::IamUser, "AWS::IAM::User", "AwsIamUser"),
    (ResourceKind::IamRole, "AWS::IAM::Role", "AwsIamRole"),
    (
        ResourceKind::CloudTrailTrail,
        "AWS::CloudTrail::Trail",
        "AwsCloudTrailTrail",
    ),
    (
        ResourceKind::CloudWatchAlarm,
        "AWS::CloudWatch::Alarm",
        "AwsCloudWatchAlarm",
    ),
    (ResourceKind::KmsKey, "AWS::KMS::Key", "AwsKmsKey"),
    (ResourceKind::SqsQueue, "AWS::SQS::Queue", "AwsSqsQueue"),
    (
        ResourceKind::DynamoDbTable,
        "AWS::DynamoDB::Table",
        "AwsDynamoDbTable",
    ),
    (
        ResourceKind::LambdaFunction,
        "AWS::Lambda::Function",
        "AwsLambdaFunction",
    ),
    (ResourceKind::SnsTopic, "AWS::SNS::Topic", "AwsSnsTopic"),
    (ResourceKind::Ec2Subnet, "AWS::EC2::Subnet", "AwsEc2Subnet"),
    (
        ResourceKind::RdsDbInstance,
        "AWS::RDS::DBInstance",
        "AwsRdsDbInstance",
    ),
    (
        ResourceKind::RdsDbCluster,
        "AWS::RDS::DBCluster",
        "AwsRdsDbCluster",
    ),
    (
        ResourceKind::RdsDbSnapshot,
        "AWS::RDS::DBSnapshot",
        "AwsRdsDbSnapshot",
    ),
    (
        ResourceKind::RdsDbClusterSnapshot,
        "AWS::RDS::DBClusterSnapshot",
        "AwsRdsDbClusterSnapshot",
    ),
    (
        ResourceKind::SsmDocument,
        "AWS::SSM::Document",
        "AwsSsmDocument",
    ),
    (ResourceKind::Account, "AWS::::Account", "AwsAccount"),
];

impl ResourceKind {
    /// From a CloudFormation-style type (`AWS::S3::Bucket`), as Config and Access Analyzer name it.
    pub fn from_cfn(t: &str) -> Self {
        KINDS
            .iter()
            .find(|(_, cfn, _)| *cfn == t)
            .map(|(k, _, _)| k.clone())
            .unwrap_or_else(|| ResourceKind::Other(t.to_string()))
    }

    /// From an ASFF resource type (`AwsS3Bucket`), as Security Hub names it.
    pub fn from_asff(t: &str) -> Self {
        KINDS
            .iter()
            .find(|(_, _, asff)| *asff == t)
            .map(|(k, _, _)| k.clone())
            .unwrap_or_else(|| ResourceKind::Other(t.to_string()))
    }

    pub fn cfn_type(&self) -> &str {
        match self {
            ResourceKind::Other(t) => t,
            known => KINDS
                .iter()
                .find(|(k, _, _)| k == known)
                .map(|(_, cfn, _)| *cfn)
                .unwrap_or("Other"),
        }
    }

    pub fn asff_type(&self) -> &str {
        match self {
            ResourceKind::Other(_) => "Other",
            known => KINDS
                .iter()
                .find(|(k, _, _)| k == known)
                .map(|(_, _, asff)| *asff)
                .unwrap_or("Other"),
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cfn_type())
    }
}

/// A resource a finding is about: its kind, its short identifier (bucket name, instance id,
/// access key id, user name) and its ARN where the source gave or implies one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl Resource {
    pub fn new(kind: ResourceKind, id: impl Into<String>) -> Self {
        Resource {
            kind,
            id: id.into(),
            arn: None,
        }
    }

    pub fn with_arn(mut self, arn: Option<String>) -> Self {
        self.arn = arn;
        self
    }

    /// From an ARN, with the short id taken from it the way each service writes its ARNs.
    pub fn from_arn(kind: ResourceKind, arn: &str) -> Self {
        let id = short_id(&kind, arn);
        Resource::new(kind, id).with_arn(Some(arn.to_string()))
    }

    /// A display form: `AWS::S3::Bucket my-bucket`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.id)
    }
}

/// The short identifier inside an ARN: `arn:aws:s3:::bucket` → `bucket`,
/// `arn:aws:ec2:r:a:instance/i-1` → `i-1`, `arn:aws:iam::a:user/path/name` → `name`.
/// A value that is not an ARN is returned as it is.
pub fn short_id(kind: &ResourceKind, arn: &str) -> String {
    if !arn.starts_with("arn:") {
        return arn.to_string();
    }
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    match kind {
        ResourceKind::S3Bucket => resource.split('/').next().unwrap_or(resource).to_string(),
        // `function:name` or `function:name:qualifier` (a version or alias): the name.
        ResourceKind::LambdaFunction => resource
            .strip_prefix("function:")
            .and_then(|r| r.split(':').next())
            .unwrap_or(resource)
            .to_string(),
        // `snapshot:name`, `cluster-snapshot:name`; an automated one's name has a colon of its
        // own (`rds:orders-2026-12-01-00-00`).
        ResourceKind::RdsDbSnapshot | ResourceKind::RdsDbClusterSnapshot => resource
            .split_once(':')
            .map_or(resource, |(_, name)| name)
            .to_string(),
        _ => resource
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(resource)
            .to_string(),
    }
}

/// The account an ARN names (`arn:aws:kms:r:111111111111:key/…` → `111111111111`); `None` for an
/// ARN without one (an S3 bucket's) or a value that is not an ARN.
pub fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    validate::account_id(account).then_some(account)
}

/// Whether an ARN names a resource of `account` in `region` (an ARN with no Region, a global
/// resource's, passes the Region check); `Err` says which part differs. Names are unique only
/// within an account and Region: a resource elsewhere is never the finding's.
pub fn arn_in(arn: &str, account: &str, region: &str) -> Result<(), String> {
    let Some(r) = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(2))
    else {
        return Err(format!("`{arn}` is not an ARN"));
    };
    match arn_account(arn) {
        Some(a) if a == account => {}
        Some(a) => {
            return Err(format!(
                "{arn} belongs to account {a}, not the finding's account {account}"
            ))
        }
        None => return Err(format!("{arn} names no account")),
    }
    if !r.is_empty() && r != region {
        return Err(format!(
            "{arn} is in {r}, not the finding's Region {region}"
        ));
    }
    Ok(())
}

/// Severity, as Security Hub labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// GuardDuty's numeric scale: 1–3.9 low, 4–6.9 medium, 7–8.9 high, 9+ critical.
    pub fn from_guardduty(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Informational,
        }
    }

    /// Security Hub's normalized 0–100 scale.
    pub fn from_normalized(n: i64) -> Self {
        match n {
            n if n >= 90 => Severity::Critical,
            n if n >= 70 => Severity::High,
            n if n >= 40 => Severity::Medium,
            n if n >= 1 => Severity::Low,
            _ => Severity::Informational,
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Some(match label.to_ascii_uppercase().as_str() {
            "INFORMATIONAL" => Severity::Informational,
            "LOW" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// The Security Hub finding a source finding corresponds to: the pair BatchUpdateFindings takes
/// (ASFF `Id` and `ProductArn`), or for a finding of the new Security Hub (OCSF) its
/// `finding_info.uid` and `metadata.product.uid`, with what BatchUpdateFindingsV2 takes in [`Ocsf`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubRef {
    pub id: String,
    pub product_arn: String,
    /// Set when the finding came as OCSF ("Findings Imported V2"): its outcome is recorded there,
    /// with BatchUpdateFindingsV2, in the generation it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsf: Option<Ocsf>,
}

impl HubRef {
    /// A finding of Security Hub CSPM (ASFF).
    pub fn asff(id: impl Into<String>, product_arn: impl Into<String>) -> Self {
        HubRef {
            id: id.into(),
            product_arn: product_arn.into(),
            ocsf: None,
        }
    }
}

/// What identifies a finding of the new Security Hub: its `metadata.uid` (BatchUpdateFindingsV2's
/// `MetadataUids`) and `cloud.account.uid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ocsf {
    pub metadata_uid: String,
    pub account: String,
}

/// The principal a credential finding is about (GuardDuty accessKeyDetails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub access_key_id: Option<String>,
    pub user_type: Option<String>,
    pub user_name: Option<String>,
    pub principal_id: Option<String>,
    /// The account the calls came from, where GuardDuty names one
    /// (`service.action.awsApiCallAction.remoteAccountDetails.accountId`): another account's
    /// principal, or this account's credentials used from another account (InsideAWS); the
    /// containments act only on what they prove is the acting principal.
    pub caller_account: Option<String>,
}

/// One finding, whatever its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub source: Source,
    /// The source's own id for the finding (GuardDuty finding id, Security Hub Id, event id…).
    pub id: String,
    /// What is wrong: GuardDuty type, Config rule name, Security Hub control id, Access Analyzer
    /// resource type, alarm metric name, or CloudTrail event name.
    pub kind: String,
    pub title: String,
    /// The member account to act in: always from the detail, never the envelope's where the
    /// detail names one.
    pub account: String,
    pub region: String,
    pub partition: String,
    pub severity: Severity,
    /// The resources, the primary one first.
    pub resources: Vec<Resource>,
    pub hub: Option<HubRef>,
    /// A generated sample (GuardDuty `additionalInfo.sample`): never acted on.
    pub sample: bool,
    /// The Security Hub custom action's name, for Custom Action events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// Compliance or state the source reported (NON_COMPLIANT, FAILED, ALARM, ACTIVE…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Extra names the routing matches on: the Config rule behind a Security Hub control, the
    /// GeneratorId of a Security Hub finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// GuardDuty's `service.resourceRole`: whether the resource was the TARGET or the ACTOR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_role: Option<String>,
    /// When the source last saw the problem (RFC 3339), where it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// For an Access Analyzer finding: the principals the resource is shared with (account ids,
    /// ARNs, `*`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// The EventBridge event that carried the finding.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    /// For an Access Analyzer finding: whether the access is public (not only cross-account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_public: Option<bool>,
    /// For an alarm: the start of the evaluation window that crossed the threshold (RFC 3339);
    /// `observed_at` is its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start: Option<String>,
    /// For an Access Analyzer finding: the analyzer that reported it (from the event's
    /// `resources`), where archiving a trusted finding goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
    /// For an Access Analyzer finding: how the access is granted (`POLICY`, `BUCKET_ACL`,
    /// `S3_ACCESS_POINT`…), where the event says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// For an Access Analyzer finding: the condition of the policy statement the access comes
    /// from (`aws:SourceVpce` → `vpce-…`), as key/value pairs; empty: access under no condition;
    /// `None`: the event did not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Vec<(String, String)>>,
    /// For an alarm: the namespace of the metric it watches (`CISBenchmark`), as the alarm's
    /// configuration in the event says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_namespace: Option<String>,
    /// For a GuardDuty finding: the resource it names, as `<resourceType> <name>` (an EKS
    /// cluster, an RDS instance, a Lambda function…), for an escalation's note; text only, never
    /// acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// For a CloudTrail call: who made it and from where, for an escalation's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
    /// For a CloudTrail call: its `requestParameters` as the record gives them (what was deleted or
    /// changed). Read by the remediation that answers the call, each field validated there; never
    /// serialized, so never logged.
    #[serde(skip)]
    pub request: Option<serde_json::Value>,
    /// For a CloudTrail call that carried quell's own role (`userIdentity` or its session issuer):
    /// quell's own change, or an undo a person made through `quell-undo`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_quell: bool,
    /// For an alarm of the organization trail, split by account: the CloudTrail records of the
    /// alarm's window in this finding's account and Region, as the trail's log group holds them
    /// (read with the alarm's own metric filter pattern). Never serialized, so never logged.
    #[serde(skip)]
    pub evidence: Option<Evidence>,
}

/// The CloudTrail records an organization trail's alarm was raised on, for one account and Region
/// ([`Finding::evidence`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The log group they were read from, in the account that owns the trail.
    pub log_group: String,
    /// The records, as CloudTrail wrote them.
    pub records: Vec<serde_json::Value>,
    /// Whether every matching record of the window was read (false: the read stopped at its cap).
    pub complete: bool,
}

/// Who made a CloudTrail call, and from where: the record's `userIdentity` ARN and type, its
/// `sourceIPAddress` and `userAgent`, each bounded text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Caller {
    /// `arn:aws:iam::1:user/mallory from 203.0.113.7`: short enough to fit a note with the rest.
    pub fn describe(&self) -> String {
        let mut s = self
            .arn
            .clone()
            .unwrap_or_else(|| "an unknown caller".into());
        if let Some(ip) = &self.ip {
            s.push_str(&format!(" from {ip}"));
        }
        s
    }

    /// [`Caller::describe`] with the identity type and the client (its first 60 bytes), for a
    /// message that has room.
    pub fn describe_long(&self) -> String {
        let mut s = self.describe();
        if let Some(t) = &self.identity_type {
            s.push_str(&format!(" ({t})"));
        }
        if let Some(a) = &self.user_agent {
            s.push_str(&format!(" with {}", crate::outcome::truncate(a, 60)));
        }
        s
    }
}

impl Finding {
    /// A finding with what every source gives; the source-specific fields empty.
    pub fn new(
        source: Source,
        id: String,
        kind: String,
        title: String,
        account: String,
        region: String,
    ) -> Finding {
        Finding {
            source,
            id,
            kind,
            title,
            partition: validate::partition_of(&region).to_string(),
            account,
            region,
            severity: Severity::Medium,
            resources: Vec::new(),
            hub: None,
            sample: false,
            action: None,
            principal: None,
            status: None,
            aliases: Vec::new(),
            resource_role: None,
            observed_at: None,
            principals: Vec::new(),
            event_id: String::new(),
            is_public: None,
            window_start: None,
            analyzer: None,
            sources: Vec::new(),
            condition: None,
            alarm_namespace: None,
            subject: None,
            caller: None,
            request: None,
            by_quell: false,
            evidence: None,
        }
    }

    /// Whether the finding reports a threat (an actor, an event) rather than posture (a setting):
    /// GuardDuty, alarms and CloudTrail calls, and Security Hub findings of products other than
    /// Security Hub's own controls. quell never suppresses a threat.
    pub fn is_threat(&self) -> bool {
        match self.source {
            Source::GuardDuty | Source::CloudWatchAlarm | Source::CloudTrail => true,
            Source::Config | Source::AccessAnalyzer => false,
            Source::SecurityHub => !self
                .hub
                .as_ref()
                .is_some_and(|h| crate::event::is_security_hub_product(&h.product_arn)),
        }
    }

    /// The first resource of a kind.
    pub fn resource(&self, kind: &ResourceKind) -> Option<&Resource> {
        self.resources.iter().find(|r| &r.kind == kind)
    }

    /// Every name this finding answers to when routing: its kind and its aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.kind.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// What identifies this delivery of the finding: the EventBridge event that carried it, the
    /// trigger and the finding. A second delivery of the same event (EventBridge's or Lambda's
    /// retry) is a duplicate; a person's custom action or a sweep is a new event, so a finding
    /// quell planned or left NOTIFIED can always be asked again. (The same problem reported by a
    /// second source is not a duplicate: the fix is idempotent and answers ALREADY_COMPLIANT.)
    pub fn occurrence(&self) -> String {
        let id = self
            .hub
            .as_ref()
            .map(|h| h.id.clone())
            .unwrap_or_else(|| self.own_id());
        let event = if self.event_id.is_empty() {
            self.observed_at.clone().unwrap_or_default()
        } else {
            self.event_id.clone()
        };
        format!("{event}#{}#{id}", self.kind)
    }

    /// A stable id for quell's own ASFF finding: the same problem on the same resource maps to
    /// the same Security Hub finding, so a replay updates it instead of adding another.
    pub fn own_id(&self) -> String {
        let resource = self
            .resources
            .first()
            .map(|r| r.id.as_str())
            .unwrap_or("account");
        format!(
            "quell/{}/{}/{}/{}/{}",
            self.source.name(),
            self.account,
            self.region,
            self.kind,
            resource
        )
    }
}

/// Validation of identifiers that come from events, before they reach an ARN or an API call.
pub mod validate {
    pub fn account_id(s: &str) -> bool {
        s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
    }

    /// `us-east-1`, `eu-west-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-2`…
    pub fn region(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        (3..=5).contains(&parts.len())
            && s.len() <= 25
            && parts[0].len() == 2
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
    }

    pub fn partition(s: &str) -> bool {
        matches!(
            s,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f"
        )
    }

    /// S3 bucket naming rules (general purpose buckets).
    pub fn bucket_name(s: &str) -> bool {
        (3..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
            && !s.contains("..")
    }

    /// `i-` and 8 or 17 hex digits.
    pub fn instance_id(s: &str) -> bool {
        s.strip_prefix("i-").is_some_and(|h| {
            (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// `sg-` and 8 or 17 hex digits.
    pub fn security_group_id(s: &str) -> bool {
        s.strip_prefix("sg-").is_some_and(|h| {
            (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// An IAM user or role name: 1–64 of `[A-Za-z0-9+=,.@_-]`.
    pub fn iam_name(s: &str) -> bool {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    }

    /// An access key id: 16 to 128 letters and digits (`AKIA…`, `ASIA…`; GuardDuty's samples
    /// name theirs in words).
    pub fn access_key_id(s: &str) -> bool {
        (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    /// A CloudTrail trail name (3–128 of `[A-Za-z0-9._-]`, starting and ending with a letter or
    /// digit) or a trail ARN.
    pub fn trail_name(s: &str) -> bool {
        if s.starts_with("arn:") {
            return arn(s) && s.contains(":trail/");
        }
        (3..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
    }

    /// A KMS key id: a UUID, or a multi-Region key's `mrk-` and 32 hex digits.
    pub fn kms_key_id(s: &str) -> bool {
        if let Some(h) = s.strip_prefix("mrk-") {
            return h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit());
        }
        let groups: Vec<&str> = s.split('-').collect();
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// An SQS queue name: 1–80 of `[A-Za-z0-9_-]`, and `.fifo` at the end of a FIFO queue's.
    pub fn queue_name(s: &str) -> bool {
        let base = s.strip_suffix(".fifo").unwrap_or(s);
        (1..=80).contains(&s.len())
            && !base.is_empty()
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    /// A DynamoDB table name: 3–255 of `[A-Za-z0-9_.-]`.
    pub fn table_name(s: &str) -> bool {
        (3..=255).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    }

    /// A Lambda function name: 1–64 of `[A-Za-z0-9_-]`.
    pub fn function_name(s: &str) -> bool {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    /// An SNS topic name: 1–256 of `[A-Za-z0-9_-]`, and `.fifo` at the end of a FIFO topic's.
    pub fn topic_name(s: &str) -> bool {
        let base = s.strip_suffix(".fifo").unwrap_or(s);
        (1..=256).contains(&s.len())
            && !base.is_empty()
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    /// An RDS identifier (DB instance, cluster, snapshot): 1–63 letters, digits and hyphens, a
    /// letter first, no `--`, no `-` last.
    pub fn rds_identifier(s: &str) -> bool {
        (1..=63).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphabetic()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.contains("--")
            && !s.ends_with('-')
    }

    /// An RDS DB or DB cluster snapshot identifier: 1–255 letters, digits and hyphens, a letter
    /// first, no two hyphens together nor one last; an automated or AWS Backup snapshot's with its
    /// `rds:` or `awsbackup:` prefix.
    pub fn rds_snapshot_identifier(s: &str) -> bool {
        let name = s
            .strip_prefix("rds:")
            .or_else(|| s.strip_prefix("awsbackup:"))
            .unwrap_or(s);
        (1..=255).contains(&name.len())
            && name.as_bytes()[0].is_ascii_alphabetic()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.contains("--")
            && !name.ends_with('-')
    }

    /// A Systems Manager document name: 3–128 letters, digits, `_`, `-` and `.`.
    pub fn ssm_document_name(s: &str) -> bool {
        (3..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    }

    /// An RDS resource id as Config names databases: `db-` (an instance) or `cluster-` and 26
    /// upper-case letters and digits.
    pub fn rds_resource_id(prefix: &str, s: &str) -> bool {
        s.strip_prefix(prefix).is_some_and(|r| {
            r.len() == 26
                && r.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
    }

    /// A subnet id: `subnet-` and 8 or 17 hex digits.
    pub fn subnet_id(s: &str) -> bool {
        s.strip_prefix("subnet-").is_some_and(|h| {
            (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// An EBS snapshot id: `snap-` and 8 or 17 hex digits.
    pub fn snapshot_id(s: &str) -> bool {
        s.strip_prefix("snap-").is_some_and(|h| {
            (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// `arn:<partition>:<service>:<region or empty>:<account, empty or aws>:<resource>`: the parts
    /// quell reads from an ARN are well formed, and nothing in it is a control character.
    pub fn arn(s: &str) -> bool {
        let p: Vec<&str> = s.splitn(6, ':').collect();
        let [a, partition_, service, region_, account, resource] = p[..] else {
            return false;
        };
        a == "arn"
            && s.len() <= 2048
            && partition(partition_)
            && !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && (region_.is_empty() || region(region_))
            && (account.is_empty() || account == "aws" || account_id(account))
            && !resource.is_empty()
            && !s.chars().any(char::is_control)
    }

    /// `arn:<partition>:access-analyzer:<region>:<account>:analyzer/<name>`.
    pub fn analyzer_arn(s: &str) -> bool {
        let p: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition_, service, region_, account, resource] = p[..] else {
            return false;
        };
        let Some(name) = resource.strip_prefix("analyzer/") else {
            return false;
        };
        arn == "arn"
            && partition(partition_)
            && service == "access-analyzer"
            && region(region_)
            && account_id(account)
            && !name.is_empty()
            && name.len() <= 255
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    }

    /// A tag value as AWS takes it: at most 256 of `[A-Za-z0-9 _.:/=+\-@,]`, keeping the end
    /// (the most specific part of a finding id).
    pub fn tag_value(s: &str) -> String {
        let clean: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.:/=+-@ ".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        clean[clean.len().saturating_sub(256)..].to_string()
    }

    /// The partition a region belongs to.
    pub fn partition_of(region: &str) -> &'static str {
        if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_come_out_of_arns() {
        assert_eq!(
            short_id(
                &ResourceKind::RdsDbSnapshot,
                "arn:aws:rds:us-east-1:111111111111:snapshot:rds:orders-2026-12-01-00-00"
            ),
            "rds:orders-2026-12-01-00-00"
        );
        assert_eq!(
            short_id(
                &ResourceKind::RdsDbClusterSnapshot,
                "arn:aws:rds:us-east-1:111111111111:cluster-snapshot:orders-final"
            ),
            "orders-final"
        );
        assert_eq!(
            short_id(&ResourceKind::S3Bucket, "arn:aws:s3:::example"),
            "example"
        );
        assert_eq!(
            short_id(
                &ResourceKind::Ec2Instance,
                "arn:aws:ec2:ap-southeast-2:123456789012:instance/i-0bf2bf6b175654c6e"
            ),
            "i-0bf2bf6b175654c6e"
        );
        assert_eq!(
            short_id(
                &ResourceKind::IamUser,
                "arn:aws:iam::123456789012:user/ops/alice"
            ),
            "alice"
        );
        assert_eq!(
            short_id(&ResourceKind::S3Bucket, "plain-name"),
            "plain-name"
        );
    }

    #[test]
    fn kinds_round_trip_between_namings() {
        for (kind, cfn, asff) in KINDS {
            assert_eq!(&ResourceKind::from_cfn(cfn), kind);
            assert_eq!(&ResourceKind::from_asff(asff), kind);
            assert_eq!(kind.cfn_type(), *cfn);
            assert_eq!(kind.asff_type(), *asff);
        }
        assert_eq!(
            ResourceKind::from_cfn("AWS::EKS::Cluster"),
            ResourceKind::Other("AWS::EKS::Cluster".into())
        );
    }

    #[test]
    fn an_arn_is_in_the_findings_account_and_region_or_says_which_differs() {
        let a = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";
        assert!(arn_in(a, "111111111111", "us-east-1").is_ok());
        assert!(arn_in(a, "222222222222", "us-east-1")
            .unwrap_err()
            .contains("222222222222"));
        assert!(arn_in(a, "111111111111", "eu-west-1")
            .unwrap_err()
            .contains("us-east-1"));
        assert!(arn_in(
            "arn:aws:iam::111111111111:role/r",
            "111111111111",
            "eu-west-1"
        )
        .is_ok());
        assert!(arn_in("arn:aws:s3:::bucket", "111111111111", "us-east-1").is_err());
        assert!(arn_in("orders", "111111111111", "us-east-1").is_err());
    }

    #[test]
    fn the_account_of_an_arn_and_the_new_identifiers() {
        assert_eq!(
            arn_account("arn:aws:kms:us-east-1:111111111111:key/k"),
            Some("111111111111")
        );
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("arn:aws:iam::aws:policy/x"), None);
        assert_eq!(arn_account("111111111111"), None);
        assert_eq!(arn_account("arn:aws:sqs:us-east-1:1111:q"), None);
        use validate as v;
        assert!(v::kms_key_id("0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30"));
        assert!(v::kms_key_id("mrk-1234abcd12ab34cd56ef1234567890ab"));
        for bad in [
            "alias/x",
            "0f6a4c52-8e3b-4f6e-9d21",
            "mrk-12",
            "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f3g",
        ] {
            assert!(!v::kms_key_id(bad), "{bad}");
        }
        assert!(v::queue_name("orders") && v::queue_name("orders.fifo") && v::queue_name("a_b-1"));
        for bad in ["", ".fifo", "a b", "a/b", &"q".repeat(81)] {
            assert!(!v::queue_name(bad), "{bad}");
        }
        assert!(v::table_name("orders.v2_x-1") && !v::table_name("ab") && !v::table_name("a b c"));
        assert!(v::snapshot_id("snap-0a1b2c3d") && v::snapshot_id("snap-0a1b2c3d4e5f60718"));
        assert!(!v::snapshot_id("vol-0a1b2c3d") && !v::snapshot_id("snap-xyz12345"));
        assert_eq!(ResourceKind::from_asff("AwsKmsKey"), ResourceKind::KmsKey);
        assert_eq!(
            ResourceKind::from_cfn("AWS::SQS::Queue"),
            ResourceKind::SqsQueue
        );
        assert_eq!(ResourceKind::DynamoDbTable.asff_type(), "AwsDynamoDbTable");
    }

    #[test]
    fn identifiers_are_validated() {
        assert!(validate::account_id("111122223333"));
        assert!(!validate::account_id("11112222333"));
        assert!(!validate::account_id("11112222333a"));
        for good in [
            "us-east-1",
            "eu-west-2",
            "us-gov-west-1",
            "ap-southeast-2",
            "cn-north-1",
        ] {
            assert!(validate::region(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1/../x",
            "us_east_1",
            "a-b-1",
        ] {
            assert!(!validate::region(bad), "{bad}");
        }
        assert!(validate::bucket_name("test-gd-324237984731208478901374"));
        assert!(!validate::bucket_name("Bad_Bucket"));
        assert!(!validate::bucket_name("a..b"));
        assert!(!validate::bucket_name("-ab"));
    }

    #[test]
    fn severity_scales() {
        assert_eq!(Severity::from_guardduty(2.0), Severity::Low);
        assert_eq!(Severity::from_guardduty(5.0), Severity::Medium);
        assert_eq!(Severity::from_guardduty(8.0), Severity::High);
        assert_eq!(Severity::from_guardduty(9.5), Severity::Critical);
        assert_eq!(Severity::from_normalized(70), Severity::High);
        assert_eq!(Severity::from_label("high"), Some(Severity::High));
    }
}
