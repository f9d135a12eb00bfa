//! The CIS AWS Foundations Benchmark's CloudTrail metric filters and alarms, as org/trail.yaml
//! creates them (`quell-cis-<metric>` on the trail's log group, in the `AlarmNamespace`): one list
//! for the template that creates them and for the function that restores one that was deleted.

/// The prefix of quell's alarm names.
pub const ALARM_PREFIX: &str = "quell-cis-";

/// How org/trail.yaml sets every alarm: Sum over 300 s, one period, at least 1, missing data
/// not breaching.
pub const PERIOD_SECS: i32 = 300;

/// The CIS benchmark's CloudTrail metric filters and the alarms on them (Security Hub
/// CloudWatch.1–14): (metric name, what it watches, filter pattern).
pub const ALARMS: &[(&str, &str, &str)] = &[
    ("RootAccountUsage", "root account usage", r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#),
    ("UnauthorizedAPICalls", "unauthorized API calls", r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#),
    ("ConsoleSigninWithoutMFA", "console sign-in without MFA", r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#),
    ("IAMPolicyChanges", "IAM policy changes", "{ ($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || ($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || ($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || ($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) }"),
    ("CloudTrailConfigChanges", "CloudTrail configuration changes", "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }"),
    ("ConsoleAuthenticationFailures", "console authentication failures", r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#),
    ("DisableOrDeleteCMK", "KMS key disabling or scheduled deletion", "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"),
    ("S3BucketPolicyChanges", "S3 bucket policy changes", "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }"),
    ("AWSConfigChanges", "AWS Config changes", "{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || ($.eventName = DeleteDeliveryChannel) || ($.eventName = PutDeliveryChannel) || ($.eventName = PutConfigurationRecorder)) }"),
    ("SecurityGroupChanges", "security group changes", "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }"),
    ("NACLChanges", "network ACL changes", "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }"),
    ("NetworkGatewayChanges", "network gateway changes", "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }"),
    ("RouteTableChanges", "route table changes", "{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }"),
    ("VPCChanges", "VPC changes", "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }"),
];

/// The filter pattern and description of quell's alarm `quell-cis-<metric>`, if it is one.
pub fn alarm(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let metric = name.strip_prefix(ALARM_PREFIX)?;
    ALARMS.iter().copied().find(|(m, _, _)| *m == metric)
}
