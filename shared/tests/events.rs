//! Every sample and reference event parses to the expected finding; malformed input gets an
//! error that names what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use quell::event::{Envelope, EventError};
use quell::{ResourceKind, Severity, Source};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (file, source, account, region, kind, primary resource kind, resource id)
const EXPECTED: &[(&str, Source, &str, &str, &str, ResourceKind, &str)] = &[
    // GuardDuty names no resource quell can act on (an EKS cluster): none, and the subject.
    (
        "guardduty-eks-privilegedcontainer.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
        ResourceKind::Other(String::new()),
        "",
    ),
    (
        "accessanalyzer-s3-bucket-cross-account.json",
        Source::AccessAnalyzer,
        "111122223333",
        "us-west-2",
        "AWS::S3::Bucket",
        ResourceKind::S3Bucket,
        "my-bucket",
    ),
    (
        "accessanalyzer-iam-role-cross-account.json",
        Source::AccessAnalyzer,
        "111111111111",
        "us-east-1",
        "AWS::IAM::Role",
        ResourceKind::IamRole,
        "vendor-access",
    ),
    (
        "accessanalyzer-s3-bucket-acl-public.json",
        Source::AccessAnalyzer,
        "111111111111",
        "us-east-1",
        "AWS::S3::Bucket",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "accessanalyzer-s3-bucket-error.json",
        Source::AccessAnalyzer,
        "111111111111",
        "us-east-1",
        "AWS::S3::Bucket",
        ResourceKind::S3Bucket,
        "quell-demo-private-logs",
    ),
    (
        "accessanalyzer-s3-bucket-public.json",
        Source::AccessAnalyzer,
        "111111111111",
        "us-east-1",
        "AWS::S3::Bucket",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "cloudtrail-stoplogging.json",
        Source::CloudTrail,
        "000000000000",
        "us-east-1",
        "cloudtrail:StopLogging",
        ResourceKind::CloudTrailTrail,
        "test-trail",
    ),
    (
        "cloudwatch-alarm-single-metric.json",
        Source::CloudWatchAlarm,
        "123456789012",
        "us-east-1",
        "CPUUtilization",
        ResourceKind::CloudWatchAlarm,
        "ServerCpuTooHigh",
    ),
    (
        "config-compliance-access-keys-rotated.json",
        Source::Config,
        "477575873490",
        "us-east-1",
        "access-keys-rotated",
        ResourceKind::IamUser,
        "AIDAW6MN5QPJPMC7R4QBE",
    ),
    (
        "config-s3-bucket-public-read-prohibited.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "s3-bucket-public-read-prohibited",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "config-securityhub-s3-bucket-level-public-access-prohibited.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-s3-bucket-level-public-access-prohibited-727dd3b1",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-ec2-backdoor-ccactivity-b.json",
        Source::GuardDuty,
        "973743533182",
        "us-east-2",
        "Backdoor:EC2/C&CActivity.B",
        ResourceKind::Ec2Instance,
        "i-99999999",
    ),
    (
        "guardduty-iam-recon-maliciousipcaller-custom.json",
        Source::GuardDuty,
        "123456789012",
        "us-east-1",
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        ResourceKind::IamAccessKey,
        "GeneratedFindingAccessKeyId",
    ),
    (
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        ResourceKind::IamAccessKey,
        "AKIAQUELLDEMOLEAKED1",
    ),
    (
        "guardduty-iam-rootcredentialusage.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Policy:IAMUser/RootCredentialUsage",
        ResourceKind::IamAccessKey,
        "ASIAQUELLDEMOROOT001",
    ),
    (
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        ResourceKind::IamAccessKey,
        "ASIAQUELLDEMOSTOLEN1",
    ),
    (
        "securityhub-imported-fsbp-iam-3.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.3",
        ResourceKind::IamUser,
        "ci-deployer",
    ),
    (
        "config-iam-user-unused-credentials-check.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-iam-user-unused-credentials-check-3a4b5c6d",
        ResourceKind::IamUser,
        "AIDAQUELLDEMOCIDEPL01",
    ),
    (
        "securityhub-custom-action-s3-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.8",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "securityhub-custom-action-iam-3.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.3",
        ResourceKind::IamUser,
        "ci-deployer",
    ),
    (
        "securityhub-custom-action-isolate-instance.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "arn:aws:guardduty:us-east-1:111111111111:detector/5ac5d2f1e0b94c3d8a7b6c5d4e3f2a1b",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "guardduty-ec2-sshbruteforce-target.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "UnauthorizedAccess:EC2/SSHBruteForce",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "config-restricted-ssh.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "restricted-ssh",
        ResourceKind::Ec2SecurityGroup,
        "sg-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-imported-fsbp-ec2-13.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.13",
        ResourceKind::Ec2SecurityGroup,
        "sg-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-custom-action-ec2-13.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.13",
        ResourceKind::Ec2SecurityGroup,
        "sg-0a1b2c3d4e5f60718",
    ),
    (
        "config-securityhub-vpc-default-security-group-closed-6c5f2e1d.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-vpc-default-security-group-closed-6c5f2e1d",
        ResourceKind::Ec2SecurityGroup,
        "sg-0d0e0f0a0b0c0d0e0",
    ),
    (
        "securityhub-imported-fsbp-ec2-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.2",
        ResourceKind::Ec2SecurityGroup,
        "sg-0d0e0f0a0b0c0d0e0",
    ),
    (
        "securityhub-custom-action-ec2-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.2",
        ResourceKind::Ec2SecurityGroup,
        "sg-0d0e0f0a0b0c0d0e0",
    ),
    (
        "config-s3-bucket-server-side-encryption-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "s3-bucket-server-side-encryption-enabled",
        ResourceKind::S3Bucket,
        "quell-demo-unencrypted",
    ),
    (
        "securityhub-imported-fsbp-s3-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.4",
        ResourceKind::S3Bucket,
        "quell-demo-unencrypted",
    ),
    (
        "securityhub-custom-action-s3-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.4",
        ResourceKind::S3Bucket,
        "quell-demo-unencrypted",
    ),
    (
        "config-s3-bucket-ssl-requests-only.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "s3-bucket-ssl-requests-only",
        ResourceKind::S3Bucket,
        "quell-demo-no-tls",
    ),
    (
        "securityhub-imported-fsbp-s3-5.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.5",
        ResourceKind::S3Bucket,
        "quell-demo-no-tls",
    ),
    (
        "securityhub-custom-action-s3-5.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.5",
        ResourceKind::S3Bucket,
        "quell-demo-no-tls",
    ),
    (
        "config-subnet-auto-assign-public-ip-disabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-subnet-auto-assign-public-ip-disabled-5f3a9c1e",
        ResourceKind::Ec2Subnet,
        "subnet-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-imported-fsbp-ec2-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.15",
        ResourceKind::Ec2Subnet,
        "subnet-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.15",
        ResourceKind::Ec2Subnet,
        "subnet-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-custom-action-ec2-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.15",
        ResourceKind::Ec2Subnet,
        "subnet-0a1b2c3d4e5f60718",
    ),
    (
        "config-lambda-function-public-access-prohibited.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "lambda-function-public-access-prohibited",
        ResourceKind::LambdaFunction,
        "quell-demo-webhook",
    ),
    (
        "securityhub-imported-fsbp-lambda-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "Lambda.1",
        ResourceKind::LambdaFunction,
        "quell-demo-webhook",
    ),
    (
        "securityhub-v2-imported-fsbp-lambda-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "Lambda.1",
        ResourceKind::LambdaFunction,
        "quell-demo-webhook",
    ),
    (
        "securityhub-custom-action-lambda-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "Lambda.1",
        ResourceKind::LambdaFunction,
        "quell-demo-webhook",
    ),
    (
        "config-sns-encrypted-kms.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-sns-encrypted-kms-5f3a9c1e",
        ResourceKind::SnsTopic,
        "quell-demo-alerts",
    ),
    (
        "securityhub-imported-nist-sns-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SNS.1",
        ResourceKind::SnsTopic,
        "quell-demo-alerts",
    ),
    (
        "securityhub-v2-imported-nist-sns-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SNS.1",
        ResourceKind::SnsTopic,
        "quell-demo-alerts",
    ),
    (
        "securityhub-custom-action-sns-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SNS.1",
        ResourceKind::SnsTopic,
        "quell-demo-alerts",
    ),
    (
        "config-rds-snapshots-public-prohibited.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "rds-snapshots-public-prohibited",
        ResourceKind::RdsDbSnapshot,
        "quell-demo-orders-final",
    ),
    (
        "securityhub-imported-fsbp-rds-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.1",
        ResourceKind::RdsDbSnapshot,
        "quell-demo-orders-final",
    ),
    (
        "securityhub-v2-imported-fsbp-rds-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.1",
        ResourceKind::RdsDbClusterSnapshot,
        "quell-demo-orders-final",
    ),
    (
        "securityhub-custom-action-rds-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.1",
        ResourceKind::RdsDbSnapshot,
        "quell-demo-orders-final",
    ),
    (
        "config-rds-instance-public-access-check.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "rds-instance-public-access-check",
        ResourceKind::RdsDbInstance,
        "db-ABCDEFGHIJKLMNOPQRSTUVWXY2",
    ),
    (
        "securityhub-imported-fsbp-rds-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.2",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "securityhub-v2-imported-fsbp-rds-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.2",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "securityhub-custom-action-rds-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.2",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "config-ssm-document-not-public.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "ssm-document-not-public",
        ResourceKind::SsmDocument,
        "quell-demo-runbook",
    ),
    (
        "securityhub-imported-fsbp-ssm-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SSM.4",
        ResourceKind::SsmDocument,
        "quell-demo-runbook",
    ),
    (
        "securityhub-v2-imported-fsbp-ssm-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SSM.4",
        ResourceKind::SsmDocument,
        "quell-demo-runbook",
    ),
    (
        "securityhub-custom-action-ssm-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SSM.4",
        ResourceKind::SsmDocument,
        "quell-demo-runbook",
    ),
    (
        "config-rds-instance-deletion-protection-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "rds-instance-deletion-protection-enabled",
        ResourceKind::RdsDbInstance,
        "db-ABCDEFGHIJKLMNOPQRSTUVWXY2",
    ),
    (
        "securityhub-imported-fsbp-rds-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.8",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "securityhub-v2-imported-fsbp-rds-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.8",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "securityhub-custom-action-rds-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.8",
        ResourceKind::RdsDbInstance,
        "quell-demo-orders",
    ),
    (
        "config-rds-cluster-deletion-protection-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "rds-cluster-deletion-protection-enabled",
        ResourceKind::RdsDbCluster,
        "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2",
    ),
    (
        "securityhub-imported-fsbp-rds-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.7",
        ResourceKind::RdsDbCluster,
        "quell-demo-orders",
    ),
    (
        "securityhub-v2-imported-fsbp-rds-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.7",
        ResourceKind::RdsDbCluster,
        "quell-demo-orders",
    ),
    (
        "securityhub-custom-action-rds-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "RDS.7",
        ResourceKind::RdsDbCluster,
        "quell-demo-orders",
    ),
    (
        "config-cmk-backing-key-rotation-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "cmk-backing-key-rotation-enabled",
        ResourceKind::KmsKey,
        "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
    ),
    (
        "securityhub-imported-fsbp-kms-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "KMS.4",
        ResourceKind::KmsKey,
        "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
    ),
    (
        "securityhub-v2-imported-fsbp-kms-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "KMS.4",
        ResourceKind::KmsKey,
        "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
    ),
    (
        "config-sqs-queue-encrypted.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "securityhub-sqs-queue-encrypted-5f3a9c1e",
        ResourceKind::SqsQueue,
        "https://sqs.us-east-1.amazonaws.com/111111111111/quell-demo-orders",
    ),
    (
        "securityhub-imported-fsbp-sqs-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SQS.1",
        ResourceKind::SqsQueue,
        "quell-demo-orders",
    ),
    (
        "securityhub-v2-imported-fsbp-sqs-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SQS.1",
        ResourceKind::SqsQueue,
        "quell-demo-orders",
    ),
    (
        "config-dynamodb-table-deletion-protection-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "dynamodb-table-deletion-protection-enabled",
        ResourceKind::DynamoDbTable,
        "quell-demo-orders",
    ),
    (
        "securityhub-imported-fsbp-dynamodb-6.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "DynamoDB.6",
        ResourceKind::DynamoDbTable,
        "quell-demo-orders",
    ),
    (
        "securityhub-v2-imported-fsbp-dynamodb-6.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "DynamoDB.6",
        ResourceKind::DynamoDbTable,
        "quell-demo-orders",
    ),
    (
        "config-ebs-snapshot-public-restorable-check.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "ebs-snapshot-public-restorable-check",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-imported-fsbp-ec2-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-custom-action-kms-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "KMS.4",
        ResourceKind::KmsKey,
        "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
    ),
    (
        "securityhub-custom-action-sqs-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "SQS.1",
        ResourceKind::SqsQueue,
        "quell-demo-orders",
    ),
    (
        "securityhub-custom-action-dynamodb-6.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "DynamoDB.6",
        ResourceKind::DynamoDbTable,
        "quell-demo-orders",
    ),
    (
        "securityhub-custom-action-ec2-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "guardduty-lambda-backdoor-ccactivity-b.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Backdoor:Lambda/C&CActivity.B",
        ResourceKind::LambdaFunction,
        "quell-demo-thumbnailer",
    ),
    (
        "config-ec2-ebs-encryption-by-default.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "ec2-ebs-encryption-by-default",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-imported-fsbp-ec2-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.7",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-custom-action-ec2-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.7",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "config-ec2-imdsv2-check.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "ec2-imdsv2-check",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-imported-fsbp-ec2-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.8",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-custom-action-ec2-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.8",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "config-iam-password-policy.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "iam-password-policy",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-imported-fsbp-iam-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.15",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-custom-action-iam-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.15",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "config-multi-region-cloudtrail-enabled.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "multi-region-cloudtrail-enabled",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-imported-fsbp-cloudtrail-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "CloudTrail.1",
        ResourceKind::CloudTrailTrail,
        "org-audit",
    ),
    (
        "securityhub-custom-action-cloudtrail-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "CloudTrail.1",
        ResourceKind::CloudTrailTrail,
        "org-audit",
    ),
    (
        "config-s3-account-level-public-access-blocks.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "s3-account-level-public-access-blocks",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-imported-fsbp-s3-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-custom-action-s3-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "cloudtrail-authorizesecuritygroupingress.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "ec2:AuthorizeSecurityGroupIngress",
        ResourceKind::Ec2SecurityGroup,
        "sg-0a1b2c3d4e5f60718",
    ),
    (
        "guardduty-stealth-cloudtrailloggingdisabled.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
        ResourceKind::IamAccessKey,
        "AKIAQUELLDEMODEVELOP1",
    ),
    (
        "cloudwatch-alarm-consolesigninwithoutmfa.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "ConsoleSigninWithoutMFA",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-ConsoleSigninWithoutMFA",
    ),
    (
        "cloudwatch-alarm-rootaccountusage.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "RootAccountUsage",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-RootAccountUsage",
    ),
    (
        "cloudwatch-alarm-cloudtrailconfigchanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "CloudTrailConfigChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-CloudTrailConfigChanges",
    ),
    (
        "cloudwatch-alarm-disableordeletecmk.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "DisableOrDeleteCMK",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-DisableOrDeleteCMK",
    ),
    (
        "cloudwatch-alarm-awsconfigchanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "AWSConfigChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-AWSConfigChanges",
    ),
    (
        "cloudwatch-alarm-unauthorizedapicalls.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "UnauthorizedAPICalls",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-UnauthorizedAPICalls",
    ),
    (
        "cloudwatch-alarm-iampolicychanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "IAMPolicyChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-IAMPolicyChanges",
    ),
    (
        "cloudwatch-alarm-naclchanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "NACLChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-NACLChanges",
    ),
    (
        "cloudwatch-alarm-networkgatewaychanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "NetworkGatewayChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-NetworkGatewayChanges",
    ),
    (
        "cloudwatch-alarm-routetablechanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "RouteTableChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-RouteTableChanges",
    ),
    (
        "cloudwatch-alarm-vpcchanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "VPCChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-VPCChanges",
    ),
    (
        "cloudwatch-alarm-consoleauthenticationfailures.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "ConsoleAuthenticationFailures",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-ConsoleAuthenticationFailures",
    ),
    (
        "cloudwatch-alarm-securitygroupchanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "SecurityGroupChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-SecurityGroupChanges",
    ),
    (
        "cloudwatch-alarm-s3bucketpolicychanges.json",
        Source::CloudWatchAlarm,
        "111111111111",
        "us-east-1",
        "S3BucketPolicyChanges",
        ResourceKind::CloudWatchAlarm,
        "quell-cis-S3BucketPolicyChanges",
    ),
    (
        "guardduty-s3-bucketanonymousaccessgranted.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Policy:S3/BucketAnonymousAccessGranted",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-s3-exfiltration-anomalousbehavior.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Exfiltration:S3/AnomalousBehavior",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-s3-exfiltration-anomalousbehavior-crossaccount.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Exfiltration:S3/AnomalousBehavior",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-s3-discovery-maliciousipcaller-assumedrole.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Discovery:S3/MaliciousIPCaller",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-s3-exfiltration-anomalousbehavior-federated.json",
        Source::GuardDuty,
        "111111111111",
        "us-east-1",
        "Exfiltration:S3/AnomalousBehavior",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "guardduty-s3-policy-bucketblockpublicaccessdisabled.json",
        Source::GuardDuty,
        "123456789012",
        "eu-west-2",
        "Policy:S3/BucketBlockPublicAccessDisabled",
        ResourceKind::IamAccessKey,
        "ASIAUN7WV6J25JBV2AW4",
    ),
    (
        "securityhub-imported-fsbp-s3-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.2",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "securityhub-imported-fsbp-s3-8-member.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.8",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "securityhub-imported-fsbp-s3-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.8",
        ResourceKind::S3Bucket,
        "example",
    ),
    (
        "securityhub-v2-imported-fsbp-cloudtrail-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "CloudTrail.1",
        ResourceKind::CloudTrailTrail,
        "org-audit",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-13.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.13",
        ResourceKind::Ec2SecurityGroup,
        "sg-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-2.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.2",
        ResourceKind::Ec2SecurityGroup,
        "sg-0d0e0f0a0b0c0d0e0",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-7.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.7",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "EC2.8",
        ResourceKind::Ec2Instance,
        "i-0a1b2c3d4e5f60718",
    ),
    (
        "securityhub-v2-imported-fsbp-iam-15.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.15",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-v2-imported-fsbp-iam-3.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "IAM.3",
        ResourceKind::IamUser,
        "ci-deployer",
    ),
    (
        "securityhub-v2-imported-fsbp-s3-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-v2-imported-fsbp-s3-4.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.4",
        ResourceKind::S3Bucket,
        "quell-demo-unencrypted",
    ),
    (
        "securityhub-v2-imported-fsbp-s3-5.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.5",
        ResourceKind::S3Bucket,
        "quell-demo-no-tls",
    ),
    (
        "securityhub-v2-imported-fsbp-s3-8.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "S3.8",
        ResourceKind::S3Bucket,
        "quell-demo-public-assets",
    ),
    (
        "cloudtrail-guardduty-deletedetector.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "guardduty:DeleteDetector",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-guardduty-updatedetector.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "guardduty:UpdateDetector",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-config-stopconfigurationrecorder.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "config:StopConfigurationRecorder",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-securityhub-disablesecurityhub.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "securityhub:DisableSecurityHub",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-securityhub-batchdisablestandards.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "securityhub:BatchDisableStandards",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-securityhub-disableimportfindingsforproduct.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "securityhub:DisableImportFindingsForProduct",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-config-deletedeliverychannel.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "config:DeleteDeliveryChannel",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-config-deleteconfigurationrecorder.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "config:DeleteConfigurationRecorder",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-access-analyzer-deleteanalyzer.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "access-analyzer:DeleteAnalyzer",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-cloudwatch-deletealarms.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "cloudwatch:DeleteAlarms",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-ec2-deleteflowlogs.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "ec2:DeleteFlowLogs",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-logs-deleteloggroup.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "logs:DeleteLogGroup",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-events-disablerule.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "events:DisableRule",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-guardduty-disassociatefromadministratoraccount.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "guardduty:DisassociateFromAdministratorAccount",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-events-deleterule.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "events:DeleteRule",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-events-removetargets.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "events:RemoveTargets",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-logs-deletemetricfilter.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "logs:DeleteMetricFilter",
        ResourceKind::Account,
        "",
    ),
    (
        "cloudtrail-cloudtrail-deletetrail.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "cloudtrail:DeleteTrail",
        ResourceKind::CloudTrailTrail,
        "stratus-red-team-cloudtraild-trail-kvrwohmiai",
    ),
    (
        "securityhub-imported-fsbp-guardduty-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "GuardDuty.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-imported-cis-cloudwatch-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "CloudWatch.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "securityhub-custom-action-guardduty-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "GuardDuty.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "config-guardduty-enabled-centralized.json",
        Source::Config,
        "111111111111",
        "us-east-1",
        "guardduty-enabled-centralized",
        ResourceKind::Account,
        "111111111111",
    ),
    (
        "securityhub-v2-imported-fsbp-config-1.json",
        Source::SecurityHub,
        "111111111111",
        "us-east-1",
        "Config.1",
        ResourceKind::Account,
        "AWS::::Account:111111111111",
    ),
    (
        "cloudtrail-cloudtrail-updatetrail.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "cloudtrail:UpdateTrail",
        ResourceKind::CloudTrailTrail,
        "org-audit",
    ),
    (
        "cloudtrail-cloudtrail-puteventselectors.json",
        Source::CloudTrail,
        "111111111111",
        "us-east-1",
        "cloudtrail:PutEventSelectors",
        ResourceKind::CloudTrailTrail,
        "org-audit",
    ),
    // The new Security Hub's real events (OCSF), as AWS and its partners publish them.
    (
        "securityhub-v2-imported-fsbp-ssm-1-ec2-instance.json",
        Source::SecurityHub,
        "123456789012",
        "us-east-2",
        "SSM.1",
        ResourceKind::Ec2Instance,
        "i-abcd1235cdef1234",
    ),
];

fn parse_file(path: &Path) -> quell::event::Intake {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Envelope::parse_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Real events quell refuses, and the field each refusal names: a team's own custom action, and the
/// reference set's anonymised account ids and regions (not valid ones).
const REFUSED: &[(&str, &str)] = &[
    ("securityhub-custom-action-fsbp-ec2-8.json", "resources"),
    // Suppressed by a person: not New, so not quell's to act on.
    (
        "securityhub-v2-imported-guardduty-stealth-cloudtrailloggingdisabled.json",
        "detail.findings[0].status_id",
    ),
];

/// Reference events refused for their anonymised accounts and regions; events/ holds copies
/// retargeted at the demo's member, which parse.
const REFUSED_AS_ANONYMISED: &[(&str, &str)] = &[
    ("cloudtrail-cloudtrail-deletetrail.json", "detail.awsRegion"),
    (
        "cloudtrail-cloudtrail-puteventselectors.json",
        "detail.awsRegion",
    ),
    (
        "cloudtrail-config-stopconfigurationrecorder.json",
        "account",
    ),
    ("cloudtrail-ec2-deleteflowlogs.json", "account"),
    ("cloudtrail-guardduty-deletedetector.json", "account"),
    ("cloudtrail-logs-deleteloggroup.json", "account"),
];

/// Events whose finding a test of its own checks field by field (a resource kind quell has no
/// name for cannot sit in the EXPECTED table).
const CHECKED_ELSEWHERE: &[&str] =
    &["securityhub-v2-imported-inspector-lambda-cve-2025-47906.json"];

fn check(dir: &Path, name: &str) {
    let anonymised: &[(&str, &str)] = if dir.ends_with("reference") {
        REFUSED_AS_ANONYMISED
    } else {
        &[]
    };
    if let Some((_, field)) = REFUSED.iter().chain(anonymised).find(|r| r.0 == name) {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let err = match Envelope::parse_slice(&bytes) {
            Err(e) => e,
            Ok(i) => i
                .findings
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{name}: accepted, but it must be refused")),
        };
        assert!(err.to_string().contains(field), "{name}: {err}");
        return;
    }
    if CHECKED_ELSEWHERE.contains(&name) {
        return;
    }
    let (_, source, account, region, kind, rkind, rid) =
        EXPECTED.iter().find(|e| e.0 == name).unwrap_or_else(|| {
            panic!("{name} has no expected finding in this test: add it to EXPECTED")
        });
    let intake = parse_file(&dir.join(name));
    assert_eq!(intake.source, *source, "{name}");
    assert_eq!(intake.findings.len(), 1, "{name}");
    let f = intake.findings[0]
        .as_ref()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        (f.account.as_str(), f.region.as_str(), f.kind.as_str()),
        (*account, *region, *kind),
        "{name}"
    );
    if rid.is_empty() {
        assert!(f.resources.is_empty(), "{name}: {:?}", f.resources);
        if f.source == Source::GuardDuty {
            assert!(f.subject.is_some(), "{name}: GuardDuty names a resource");
        } else {
            // A CloudTrail call: who made it, from where, and what it asked.
            let c = f
                .caller
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no caller"));
            assert!(c.arn.is_some() && c.ip.is_some(), "{name}: {c:?}");
            assert!(f.request.is_some(), "{name}: no requestParameters");
        }
        return;
    }
    let r = f
        .resources
        .first()
        .unwrap_or_else(|| panic!("{name}: no resource"));
    assert_eq!((&r.kind, r.id.as_str()), (rkind, *rid), "{name}");
}

#[test]
fn every_sample_event_parses_to_its_finding() {
    let dir = root().join("events");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") {
            check(&dir, &name);
            n += 1;
        }
    }
    assert_eq!(n, 163, "events/ holds 163 sample events, each checked");
}

#[test]
fn every_reference_event_parses_as_it_is() {
    // A copy of the reference set, in the repository: the test never depends on what lies beside it.
    let dir = root().join("events/reference");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") {
            check(&dir, &name);
            n += 1;
        }
    }
    assert_eq!(n, 18, "the reference set has 18 events");
}

#[test]
fn member_account_comes_from_the_detail_never_the_envelope() {
    let intake = parse_file(&root().join("events/guardduty-s3-bucketanonymousaccessgranted.json"));
    let f = intake.findings[0].as_ref().unwrap();
    assert_eq!(f.account, "111111111111");
    assert_eq!(f.severity, Severity::High);
    let hub = f.hub.as_ref().unwrap();
    assert!(hub
        .id
        .starts_with("arn:aws:guardduty:us-east-1:111111111111:detector/"));
    assert_eq!(
        hub.product_arn,
        "arn:aws:securityhub:us-east-1::product/aws/guardduty"
    );

    let raw = std::fs::read_to_string(
        root().join("events/guardduty-s3-bucketanonymousaccessgranted.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        v["account"], "123456789012",
        "the envelope names the administrator account"
    );
}

#[test]
fn reference_quirks_are_taken_in_stride() {
    // GuardDuty S3 finding with resourceType AccessKey: the bucket is still found.
    let f =
        parse_file(&root().join("events/guardduty-s3-policy-bucketblockpublicaccessdisabled.json"))
            .findings
            .remove(0)
            .unwrap();
    assert_eq!(
        f.resource(&ResourceKind::S3Bucket).unwrap().id,
        "test-gd-324237984731208478901374"
    );
    assert_eq!(
        f.principal.as_ref().unwrap().user_type.as_deref(),
        Some("AssumedRole")
    );
    assert!(!f.sample);
    // Samples are flagged.
    let f = parse_file(&root().join("events/guardduty-iam-recon-maliciousipcaller-custom.json"))
        .findings
        .remove(0)
        .unwrap();
    assert!(f.sample);
    // Custom action: quell's action target (by ARN, not the display name); the finding keeps its
    // Security Hub reference.
    let f = parse_file(&root().join("events/securityhub-custom-action-ec2-8.json"))
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(f.action.as_deref(), Some("QuellRemediate"));
    assert_eq!(
        f.hub.as_ref().unwrap().product_arn,
        "arn:aws:securityhub:us-east-1::product/aws/securityhub"
    );
    // Alarm: the window is JSON inside a string, and it parses.
    let f = parse_file(&root().join("events/cloudwatch-alarm-single-metric.json"))
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(f.status.as_deref(), Some("ALARM"));
}

fn reference() -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(root().join("events/securityhub-imported-fsbp-s3-8.json")).unwrap(),
    )
    .unwrap()
}

fn gd() -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(root().join("events/guardduty-s3-bucketanonymousaccessgranted.json"))
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn malformed_input_gets_an_error_naming_the_field() {
    use serde_json::json;
    let mut cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("not an object", json!([1, 2]), "(event)"),
        (
            "no detail-type",
            json!({"id": "x", "source": "aws.guardduty", "account": "1", "region": "r", "detail": {}}),
            "detail-type",
        ),
        (
            "unknown source",
            json!({"id": "x", "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012", "region": "us-east-1", "detail": {}}),
            "unsupported event: source `aws.s3` with detail-type `Object Created`",
        ),
    ];
    let mut v = gd();
    v["detail"]["accountId"] = json!("12345");
    cases.push(("short account", v, "detail.accountId"));
    let mut v = gd();
    v["detail"]["region"] = json!("us-east-1/../../etc");
    cases.push(("bad region", v, "detail.region"));
    let mut v = gd();
    v["detail"].as_object_mut().unwrap().remove("type");
    cases.push(("no type", v, "missing field `type`"));
    let mut v = gd();
    v["detail"]["severity"] = json!("high");
    cases.push(("severity not a number", v, "detail.severity"));
    let mut v = gd();
    v["detail"]["resource"]["s3BucketDetails"][0]["name"] = json!("Not_A_Bucket");
    cases.push(("bad bucket name", v, "bucket name"));
    let mut v = reference();
    v["detail"]["findings"][0]["Resources"][0]["Id"] = json!("arn:aws:s3:::../../etc");
    cases.push((
        "a resource id no remediation may call with",
        v,
        "detail.findings[0].Resources[0]` is not a valid S3 bucket name",
    ));
    let mut v = reference();
    v["detail"]["findings"][0]["Resources"][0]["Type"] = json!("AwsEc2Instance");
    v["detail"]["findings"][0]["Resources"][0]["Id"] =
        json!("arn:aws:ec2:us-east-1:111111111111:instance/i-0abc;reboot");
    cases.push(("a forged instance id", v, "not a valid EC2 instance id"));
    let mut v = reference();
    v["detail"]["findings"][0]["Resources"][0]["Type"] = json!("AwsEc2Instance");
    v["detail"]["findings"][0]["Resources"][0]["Id"] =
        json!("arn:aws:ec2:us-east-1:11111111111x:instance/i-0abc1234");
    cases.push(("an ARN with a bad account", v, "not a valid ARN"));
    let mut v = reference();
    v["detail"]["findings"] = json!([]);
    cases.push(("no findings", v, "detail.findings"));
    let mut v = reference();
    v["detail"]["findings"][0]["ProductArn"] =
        json!("arn:aws:securityhub:us-east-1::productv2/aws/securityhub");
    cases.push((
        "a control under the new Security Hub's product in an ASFF finding",
        v,
        "detail.findings[0].ProductArn",
    ));
    let mut v = reference();
    v["detail"]["findings"][0]["Resources"] = json!("nope");
    cases.push(("resources not a list", v, "detail.findings[0].Resources"));

    for (what, value, expect) in cases {
        let err = match Envelope::parse(value) {
            Err(e) => e,
            Ok(intake) => intake
                .findings
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{what}: accepted")),
        };
        assert!(
            err.to_string().contains(expect),
            "{what}: `{err}` does not name `{expect}`"
        );
    }
    assert!(matches!(
        Envelope::parse_slice(b"{not json"),
        Err(EventError::Json(_))
    ));
}

#[test]
fn one_bad_finding_does_not_hide_the_others() {
    let mut v = reference();
    let good = v["detail"]["findings"][0].clone();
    let mut bad = good.clone();
    bad["AwsAccountId"] = serde_json::json!("not-an-account");
    v["detail"]["findings"] = serde_json::json!([bad, good]);
    let intake = Envelope::parse(v).unwrap();
    assert_eq!(intake.findings.len(), 2);
    let err = intake.findings[0].as_ref().unwrap_err();
    assert!(
        err.to_string().contains("detail.findings[0].AwsAccountId"),
        "{err}"
    );
    assert_eq!(intake.findings[1].as_ref().unwrap().account, "111111111111");
}

#[test]
fn old_asff_without_region_falls_back_to_the_resource_region() {
    let mut v = reference();
    v["detail"]["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("Region");
    v["detail"]["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("Workflow");
    v["detail"]["findings"][0]["Resources"][0]["Region"] = serde_json::json!("eu-central-1");
    let f = Envelope::parse(v).unwrap().findings.remove(0).unwrap();
    assert_eq!(f.region, "eu-central-1");
}

/// The resource a GuardDuty finding names, for an escalation's note: the resource itself, never the
/// caller's user in `accessKeyDetails` (an S3 finding names both); the Kubernetes workload and user.
#[test]
fn a_guardduty_findings_subject_is_its_resource_not_its_caller() {
    let dir = root().join("events");
    let subject = |name: &str| {
        parse_file(&dir.join(name)).findings[0]
            .as_ref()
            .unwrap()
            .subject
            .clone()
    };
    assert_eq!(
        subject("guardduty-s3-bucketanonymousaccessgranted.json").as_deref(),
        Some("S3Bucket quell-demo-public-assets")
    );
    assert_eq!(
        subject("guardduty-eks-privilegedcontainer.json").as_deref(),
        Some("EKSCluster prod-cluster, workload default/debug-shell, Kubernetes user dev-user")
    );
    assert_eq!(
        subject("guardduty-ec2-sshbruteforce-target.json").as_deref(),
        Some("Instance i-0a1b2c3d4e5f60718")
    );
}

fn v2(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root().join("events").join(name)).unwrap()).unwrap()
}

/// The new Security Hub's OCSF findings give every field the Finding needs: the account, region and
/// partition, the control or the threat's type, the resources, severity, compliance status, the
/// identifiers BatchUpdateFindingsV2 takes, and for a credential the principal.
#[test]
fn ocsf_findings_give_every_field_the_finding_needs() {
    // A real compliance finding (SSM.1), as AWS publishes it.
    let f = parse_file(&root().join("events/securityhub-v2-imported-fsbp-ssm-1-ec2-instance.json"))
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(
        (f.account.as_str(), f.region.as_str(), f.partition.as_str()),
        ("123456789012", "us-east-2", "aws")
    );
    assert_eq!(f.kind, "SSM.1");
    assert_eq!(
        f.title,
        "EC2 instances should be managed by AWS Systems Manager"
    );
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.status.as_deref(), Some("FAILED"));
    assert!(f
        .aliases
        .iter()
        .any(|a| a == "securityhub-ec2-instance-managed-by-ssm-ab123467"));
    assert_eq!(f.observed_at.as_deref(), Some("2025-09-26T08:27:00.981Z"));
    let r = &f.resources[0];
    assert_eq!(
        r.arn.as_deref(),
        Some("arn:aws:ec2:us-east-2:123456789012:instance/i-abcd1235cdef1234")
    );
    let h = f.hub.as_ref().unwrap();
    assert_eq!(
        h.id,
        "arn:aws:securityhub:us-east-2:123456789012:security-control/SSM.1/finding/cabc123e-1235-ef12-abcd-6123456abcd1"
    );
    assert_eq!(
        h.product_arn,
        "arn:aws:securityhub:us-east-2::productv2/aws/securityhub"
    );
    let o = h
        .ocsf
        .as_ref()
        .expect("recorded with BatchUpdateFindingsV2");
    assert_eq!(
        o.metadata_uid,
        "d1bc4b01234567890123456789abc123456def5bcdefabcdef123456"
    );
    assert_eq!(o.account, "123456789012");
    assert!(!f.is_threat(), "a control of Security Hub's own is posture");

    // A real GuardDuty finding through the new Security Hub (as it was before a person suppressed
    // it): the type, and the credential.
    let mut v = v2("securityhub-v2-imported-guardduty-stealth-cloudtrailloggingdisabled.json");
    v["detail"]["findings"][0]["status_id"] = serde_json::json!(1);
    v["detail"]["findings"][0]["status"] = serde_json::json!("New");
    let f = Envelope::parse(v).unwrap().findings.remove(0).unwrap();
    assert_eq!(f.kind, "Stealth:IAMUser/CloudTrailLoggingDisabled");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.status, None, "a threat has no compliance status");
    let p = f.principal.as_ref().unwrap();
    assert_eq!(
        (
            p.user_name.as_deref(),
            p.user_type.as_deref(),
            p.access_key_id.as_deref()
        ),
        (
            Some("cis_automation"),
            Some("AssumedRole"),
            Some("ASIA4U76YS3TB3MEOA3O")
        )
    );
    assert!(
        f.is_threat(),
        "GuardDuty's product is a threat's: never suppressed"
    );

    // A real Inspector finding on a Lambda function: the function, by its name (a kind quell acts
    // on for GuardDuty's Lambda findings).
    let f = parse_file(
        &root()
            .join("events/reference/securityhub-v2-imported-inspector-lambda-cve-2025-47906.json"),
    )
    .findings
    .remove(0)
    .unwrap();
    assert_eq!(
        f.kind,
        "Software and Configuration Checks/Vulnerabilities/CVE"
    );
    assert_eq!(
        (&f.resources[0].kind, f.resources[0].id.as_str()),
        (
            &ResourceKind::LambdaFunction,
            "cloudtrail-test-ab-LambdaFunction-jVHJUsdbdkj6"
        )
    );
    assert!(f.is_threat());

    // A bucket and an account, as the derived samples name them.
    let f = Envelope::parse(v2("securityhub-v2-imported-fsbp-s3-8.json"))
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(
        f.resources[0].arn.as_deref(),
        Some("arn:aws:s3:::quell-demo-public-assets")
    );
    assert_eq!(f.severity, Severity::High);
}

/// Malformed or forged OCSF findings: each refused with an error naming the field, before any call.
#[test]
fn malformed_ocsf_findings_get_an_error_naming_the_field() {
    use serde_json::json;
    let base = || v2("securityhub-v2-imported-fsbp-s3-8.json");
    let mut cases: Vec<(&str, serde_json::Value, &str)> = Vec::new();
    let mut v = base();
    v["detail"]["findings"][0]["cloud"]["account"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    cases.push(("no account", v, "detail.findings[0].cloud.account"));
    let mut v = base();
    v["detail"]["findings"][0]["cloud"]["account"]["uid"] = json!("12345");
    cases.push(("short account", v, "detail.findings[0].cloud.account.uid"));
    let mut v = base();
    v["detail"]["findings"][0]["cloud"]["region"] = json!("us-east-1/../x");
    cases.push(("bad region", v, "detail.findings[0].cloud.region"));
    let mut v = base();
    v["detail"]["findings"][0]["cloud"]["cloud_partition"] = json!("mars");
    cases.push((
        "bad partition",
        v,
        "detail.findings[0].cloud.cloud_partition",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["metadata"]["product"]["uid"] =
        json!("arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default");
    cases.push((
        "a control claimed by the member's own product",
        v,
        "detail.findings[0].metadata.product.uid",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["metadata"]["uid"] = json!("");
    cases.push((
        "no metadata.uid to record with",
        v,
        "detail.findings[0].metadata.uid",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    cases.push(("metadata.uid missing", v, "detail.findings[0].metadata"));
    let mut v = base();
    v["detail"]["findings"][0]["finding_info"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    cases.push((
        "finding_info.uid missing",
        v,
        "detail.findings[0].finding_info",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["resources"][0]["uid"] = json!("Not_A_Bucket");
    v["detail"]["findings"][0]["resources"][0]
        .as_object_mut()
        .unwrap()
        .remove("uid_alt");
    cases.push((
        "a bucket name no remediation may call with",
        v,
        "detail.findings[0].resources[0]` is not a valid S3 bucket name",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["resources"][0]["uid_alt"] = json!("arn:aws:s3:::../../etc");
    cases.push(("a forged bucket ARN", v, "detail.findings[0].resources[0]"));
    let mut v = base();
    v["detail"]["findings"][0]["resources"] = json!("nope");
    cases.push(("resources not a list", v, "detail.findings[0].resources"));
    let mut v = base();
    v["detail"]["findings"][0]["severity_id"] = json!("high");
    cases.push((
        "severity_id not a number",
        v,
        "detail.findings[0].severity_id",
    ));
    let mut v = base();
    v["detail"]["findings"] = json!([]);
    cases.push(("no findings", v, "detail.findings"));
    for (status, name) in [(2, "In Progress"), (3, "Suppressed"), (4, "Resolved")] {
        let mut v = base();
        v["detail"]["findings"][0]["status_id"] = json!(status);
        v["detail"]["findings"][0]["status"] = json!(name);
        cases.push((
            "a finding already answered",
            v,
            "detail.findings[0].status_id",
        ));
    }
    let mut v = base();
    v["detail"]["findings"][0]["resources"][0]["owner"]["account"]["uid"] = json!("222222222222");
    cases.push((
        "a resource of another account",
        v,
        "detail.findings[0].resources[0].owner.account.uid",
    ));
    let mut v = v2("securityhub-v2-imported-fsbp-ec2-8.json");
    v["detail"]["findings"][0]["resources"][0]["uid_alt"] =
        json!("arn:aws:ec2:us-east-1:222222222222:instance/i-0a1b2c3d4e5f60718");
    cases.push((
        "an instance ARN of another account",
        v,
        "detail.findings[0].resources[0].uid_alt",
    ));
    let mut v = base();
    v["detail"]["findings"][0]["metadata"]["product"]["uid"] =
        json!("arn:aws:securityhub:us-east-1::product/aws/securityhub");
    cases.push((
        "a control under CSPM's product in an OCSF finding",
        v,
        "detail.findings[0].metadata.product.uid",
    ));
    let mut v = base();
    v["source"] = json!("acme.securityhub");
    cases.push((
        "a source that is not Security Hub's",
        v,
        "`Findings Imported V2` events come only from `aws.securityhub`",
    ));
    for (what, value, expect) in cases {
        let err = match Envelope::parse(value) {
            Err(e) => e,
            Ok(intake) => intake
                .findings
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{what}: accepted")),
        };
        assert!(
            err.to_string().contains(expect),
            "{what}: `{err}` does not name `{expect}`"
        );
    }
    // Outside the organization: refused by the account Security Hub names.
    let trust = quell::event::Trust {
        organization: Some(["222222222222".to_string()].into_iter().collect()),
        ..Default::default()
    };
    let err = Envelope::parse_trusted(base(), &trust)
        .unwrap()
        .findings
        .remove(0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("detail.findings[0].cloud.account.uid"),
        "{err}"
    );
}

/// An S3 data-event finding names the bucket as its resource and the credential that made the
/// calls as its principal: the culprit the credential containments act on.
#[test]
fn an_s3_data_event_finding_names_the_credential_that_acted() {
    for (name, key, user_type, user) in [
        (
            "guardduty-s3-exfiltration-anomalousbehavior.json",
            "AKIAQUELLDEMOLEAKED1",
            "IAMUser",
            "ci-deployer",
        ),
        (
            "guardduty-s3-discovery-maliciousipcaller-assumedrole.json",
            "ASIAQUELLDEMOSTOLEN1",
            "AssumedRole",
            "app-server-role",
        ),
        (
            "guardduty-s3-exfiltration-anomalousbehavior-federated.json",
            "ASIAQUELLDEMOFEDER01",
            "FederatedUser",
            "contractor",
        ),
    ] {
        let intake = parse_file(&root().join("events").join(name));
        let f = intake.findings[0].as_ref().expect(name);
        let p = f.principal.as_ref().expect(name);
        assert_eq!(p.access_key_id.as_deref(), Some(key), "{name}");
        assert_eq!(p.user_type.as_deref(), Some(user_type), "{name}");
        assert_eq!(p.user_name.as_deref(), Some(user), "{name}");
        assert_eq!(f.severity, Severity::High, "{name}");
        assert!(
            f.resource(&ResourceKind::S3Bucket).is_some(),
            "{name}: the bucket"
        );
    }
}
