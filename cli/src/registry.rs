//! Every remediation quell ships. Templates, policies, docs and routing tests read this list; a
//! remediation that is not here is not deployed.

use quell::remediation::Spec;
use quell::runtime::Handler;

/// Each remediation, as a handler the replay can run in-process with the Lambda's code.
pub fn handlers() -> Vec<Box<dyn Handler>> {
    let get = |k: &str| std::env::var(k).ok();
    let mut disable = iam_disable_access_key::IamDisableAccessKey::default();
    let mut revoke = iam_revoke_role_sessions::IamRevokeRoleSessions::default();
    // Settings are read as the functions read them; a bad one keeps the defaults here and fails
    // the function itself at start-up.
    let _ = quell::Remediation::configure(&mut disable, &get);
    let _ = quell::Remediation::configure(&mut revoke, &get);
    let mut isolate = ec2_isolate_instance::Ec2IsolateInstance::default();
    let _ = quell::Remediation::configure(&mut isolate, &get);
    let mut revoke_ingress = ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default();
    let _ = quell::Remediation::configure(&mut revoke_ingress, &get);
    let mut encryption = s3_enable_default_encryption::S3EnableDefaultEncryption::default();
    let _ = quell::Remediation::configure(&mut encryption, &get);
    let mut passwords = iam_password_policy::IamPasswordPolicy::default();
    let _ = quell::Remediation::configure(&mut passwords, &get);
    let mut restrict = s3_restrict_bucket_policy::S3RestrictBucketPolicy::default();
    let _ = quell::Remediation::configure(&mut restrict, &get);
    let mut trust = iam_restrict_role_trust::IamRestrictRoleTrust::default();
    let _ = quell::Remediation::configure(&mut trust, &get);
    let mut imds = ec2_require_imdsv2::Ec2RequireImdsv2::default();
    let _ = quell::Remediation::configure(&mut imds, &get);
    let mut alarms = cloudtrail_alarm_response::CloudtrailAlarmResponse::default();
    let _ = quell::Remediation::configure(&mut alarms, &get);
    let mut tamper = tamper_restore::TamperRestore::default();
    let _ = quell::Remediation::configure(&mut tamper, &get);
    let mut rotation = kms_enable_key_rotation::KmsEnableKeyRotation::default();
    let _ = quell::Remediation::configure(&mut rotation, &get);
    let mut contain = lambda_contain_function::LambdaContainFunction::default();
    let _ = quell::Remediation::configure(&mut contain, &get);
    let mut snapshots = ebs_snapshot_private::EbsSnapshotPrivate::default();
    let _ = quell::Remediation::configure(&mut snapshots, &get);
    let mut topics = sns_encrypt_topic::SnsEncryptTopic::default();
    let _ = quell::Remediation::configure(&mut topics, &get);
    vec![
        Box::new(s3_block_public_access::S3BlockPublicAccess),
        Box::new(disable),
        Box::new(revoke),
        Box::new(isolate),
        Box::new(revoke_ingress),
        Box::new(ec2_close_default_sg::Ec2CloseDefaultSg),
        Box::new(encryption),
        Box::new(s3_require_tls::S3RequireTls),
        Box::new(ebs_encryption_by_default::EbsEncryptionByDefault),
        Box::new(imds),
        Box::new(passwords),
        Box::new(cloudtrail_restore_logging::CloudtrailRestoreLogging),
        Box::new(s3_account_public_access_block::S3AccountPublicAccessBlock),
        Box::new(alarms),
        Box::new(restrict),
        Box::new(trust),
        Box::new(guardduty_escalate::GuarddutyEscalate),
        Box::new(tamper),
        Box::new(rotation),
        Box::new(snapshots),
        Box::new(contain),
        Box::new(sqs_encrypt_queue::SqsEncryptQueue),
        Box::new(topics),
        Box::new(lambda_remove_public_access::LambdaRemovePublicAccess),
        Box::new(ec2_subnet_no_public_ip::Ec2SubnetNoPublicIp),
        Box::new(rds_deletion_protection::RdsDeletionProtection),
        Box::new(rds_snapshot_private::RdsSnapshotPrivate),
        Box::new(rds_instance_private::RdsInstancePrivate),
        Box::new(ssm_document_private::SsmDocumentPrivate),
        Box::new(dynamodb_deletion_protection::DynamodbDeletionProtection),
    ]
}

pub fn specs() -> Vec<Spec> {
    handlers().iter().map(|h| h.spec()).collect()
}

/// `s3-block-public-access` → `S3BlockPublicAccess`: CloudFormation logical ids.
pub fn logical_id(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
