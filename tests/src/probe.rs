//! [`Probe`]: what a test reads back of the resource a remediation changes.

use aws_config::SdkConfig;
use serde_json::Value;

use crate::MEMBER;

/// What a test reads of the resource a remediation changes, through the SDK in the member
/// account, field by field: the seeded state, the fixed state and the state after undo are
/// compared as these readings, never through quell's own `plan`.
pub enum Probe {
    /// A security group's rules, ingress and egress.
    Rules(String),
    Encryption(&'static str),
    Policy(&'static str),
    Ebs,
    PasswordPolicy,
    AccountBlock,
    Metadata(String),
    Trail(&'static str),
    /// A user's access keys with their status, `KEY=Status`, sorted.
    AccessKeys(String),
    /// A user's inline policies, `NAME=DOCUMENT`, one a line.
    UserPolicies(String),
    /// A role's inline policies, `NAME=DOCUMENT`, one a line.
    RolePolicies(String),
    /// A role's trust policy, decoded.
    Trust(String),
    /// The security groups of an instance's network interfaces, sorted, each once.
    InstanceGroups(String),
    /// A bucket's Block Public Access, its four settings (`none`: none configured).
    BucketBlock(String),
    /// The account's GuardDuty detector: its status and protection plans, `none` without one.
    Detector,
    /// A KMS key's automatic rotation: `rotation=true|false`.
    KeyRotation(String),
    /// A queue's encryption (by URL): `sse-sqs=… kms=…`.
    QueueEncryption(String),
    /// A DynamoDB table's deletion protection: `deletion-protection=…`.
    TableProtection(&'static str),
    /// Who may restore a snapshot (`all` for the public, and account ids), sorted.
    SnapshotPermissions(String),
    /// A Lambda function's reserved concurrency: `reserved=None|Some(n)`.
    Concurrency(&'static str),
    /// A subnet's address settings: `map-public-ip=… assign-ipv6=…`.
    SubnetMapping(String),
    /// The statement ids of a function's policy, sorted: `policy=[…]`.
    FunctionPolicy(&'static str),
    /// A topic's KMS key (by ARN): `kms=…`, `kms=none` unencrypted.
    TopicKey(String),
    /// An RDS DB instance's deletion protection: `deletion-protection=…`.
    InstanceProtection(&'static str),
    /// An RDS DB cluster's deletion protection: `deletion-protection=…`.
    ClusterProtection(&'static str),
    /// Whom a Systems Manager document is shared with: `shared=[…]` sorted, `all` for everyone.
    DocumentShare(&'static str),
    /// An RDS DB instance's public accessibility: `publicly-accessible=…`.
    InstancePublic(&'static str),
    /// Who may restore an RDS DB snapshot: `restore=[…]` sorted, `all` for everyone.
    SnapshotRestore(&'static str),
    /// Who may restore an RDS DB cluster snapshot: `restore=[…]` sorted.
    ClusterSnapshotRestore(&'static str),
}

impl Probe {
    pub async fn read(&self, cfg: &SdkConfig) -> String {
        match self {
            Probe::Rules(group) => {
                let out = aws_sdk_ec2::Client::new(cfg)
                    .describe_security_groups()
                    .group_ids(group)
                    .send()
                    .await
                    .unwrap();
                let g = &out.security_groups()[0];
                let rules = |perms: &[aws_sdk_ec2::types::IpPermission]| {
                    let mut v: Vec<String> = perms
                        .iter()
                        .flat_map(|p| {
                            let head = format!(
                                "{}:{}-{}",
                                p.ip_protocol().unwrap_or(""),
                                p.from_port().unwrap_or(-1),
                                p.to_port().unwrap_or(-1)
                            );
                            p.ip_ranges()
                                .iter()
                                .map(|r| r.cidr_ip().unwrap_or("").to_string())
                                .chain(
                                    p.ipv6_ranges()
                                        .iter()
                                        .map(|r| r.cidr_ipv6().unwrap_or("").to_string()),
                                )
                                .chain(
                                    p.user_id_group_pairs()
                                        .iter()
                                        .map(|u| u.group_id().unwrap_or("").to_string()),
                                )
                                .map(move |to| format!("{head}:{to}"))
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    v.sort();
                    v.join(",")
                };
                format!(
                    "in[{}] out[{}]",
                    rules(g.ip_permissions()),
                    rules(g.ip_permissions_egress())
                )
            }
            Probe::Encryption(bucket) => {
                match quell::member::s3_client(cfg)
                    .get_bucket_encryption()
                    .bucket(*bucket)
                    .send()
                    .await
                {
                    Ok(out) => {
                        let rules: Vec<String> = out
                            .server_side_encryption_configuration()
                            .map(|c| c.rules())
                            .unwrap_or_default()
                            .iter()
                            .map(|r| {
                                let d = r.apply_server_side_encryption_by_default();
                                format!(
                                    "{}/{}/{:?}",
                                    d.map(|d| d.sse_algorithm().as_str()).unwrap_or(""),
                                    d.and_then(|d| d.kms_master_key_id()).unwrap_or(""),
                                    r.bucket_key_enabled()
                                )
                            })
                            .collect();
                        rules.join(",")
                    }
                    Err(e) => format!(
                        "none ({})",
                        e.into_service_error().meta().code().unwrap_or("?")
                    ),
                }
            }
            Probe::Policy(bucket) => {
                match quell::member::s3_client(cfg)
                    .get_bucket_policy()
                    .bucket(*bucket)
                    .send()
                    .await
                {
                    Ok(out) => serde_json::from_str::<Value>(out.policy().unwrap())
                        .unwrap()
                        .to_string(),
                    Err(e) => format!(
                        "none ({})",
                        e.into_service_error().meta().code().unwrap_or("?")
                    ),
                }
            }
            Probe::Ebs => format!(
                "{:?}",
                aws_sdk_ec2::Client::new(cfg)
                    .get_ebs_encryption_by_default()
                    .send()
                    .await
                    .unwrap()
                    .ebs_encryption_by_default
            ),
            Probe::PasswordPolicy => {
                match aws_sdk_iam::Client::new(cfg)
                    .get_account_password_policy()
                    .send()
                    .await
                {
                    Ok(out) => {
                        let p = out.password_policy.unwrap();
                        format!(
                            "len={:?} symbols={} numbers={} upper={} lower={} change={} age={:?} reuse={:?} hard={:?}",
                            p.minimum_password_length,
                            p.require_symbols,
                            p.require_numbers,
                            p.require_uppercase_characters,
                            p.require_lowercase_characters,
                            p.allow_users_to_change_password,
                            p.max_password_age,
                            p.password_reuse_prevention,
                            p.hard_expiry
                        )
                    }
                    Err(e) => format!(
                        "none ({})",
                        e.into_service_error().meta().code().unwrap_or("?")
                    ),
                }
            }
            Probe::AccountBlock => {
                match quell::member::s3control_client(cfg)
                    .get_public_access_block()
                    .account_id(MEMBER)
                    .send()
                    .await
                {
                    Ok(out) => {
                        let c = out.public_access_block_configuration.unwrap();
                        format!(
                            "{:?}/{:?}/{:?}/{:?}",
                            c.block_public_acls,
                            c.ignore_public_acls,
                            c.block_public_policy,
                            c.restrict_public_buckets
                        )
                    }
                    Err(e) => format!(
                        "none ({})",
                        e.into_service_error().meta().code().unwrap_or("?")
                    ),
                }
            }
            Probe::Metadata(id) => {
                let out = aws_sdk_ec2::Client::new(cfg)
                    .describe_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .unwrap();
                let md = out.reservations()[0].instances()[0]
                    .metadata_options()
                    .unwrap()
                    .clone();
                format!(
                    "tokens={:?} hops={:?} endpoint={:?}",
                    md.http_tokens(),
                    md.http_put_response_hop_limit(),
                    md.http_endpoint()
                )
            }
            Probe::KeyRotation(key) => {
                let out = aws_sdk_kms::Client::new(cfg)
                    .get_key_rotation_status()
                    .key_id(key)
                    .send()
                    .await
                    .unwrap();
                format!("rotation={}", out.key_rotation_enabled())
            }
            Probe::QueueEncryption(url) => {
                use aws_sdk_sqs::types::QueueAttributeName as A;
                let out = aws_sdk_sqs::Client::new(cfg)
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(A::SqsManagedSseEnabled)
                    .attribute_names(A::KmsMasterKeyId)
                    .send()
                    .await
                    .unwrap();
                let get = |a: A| {
                    out.attributes()
                        .and_then(|m| m.get(&a).cloned())
                        .unwrap_or_else(|| "none".into())
                };
                format!(
                    "sse-sqs={} kms={}",
                    get(A::SqsManagedSseEnabled),
                    get(A::KmsMasterKeyId)
                )
            }
            Probe::TableProtection(name) => {
                let out = aws_sdk_dynamodb::Client::new(cfg)
                    .describe_table()
                    .table_name(*name)
                    .send()
                    .await
                    .unwrap();
                format!(
                    "deletion-protection={:?}",
                    out.table().and_then(|t| t.deletion_protection_enabled())
                )
            }
            Probe::SnapshotPermissions(id) => {
                let out = aws_sdk_ec2::Client::new(cfg)
                    .describe_snapshot_attribute()
                    .snapshot_id(id)
                    .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
                    .send()
                    .await
                    .unwrap();
                let mut who: Vec<String> = out
                    .create_volume_permissions()
                    .iter()
                    .filter_map(|p| {
                        p.group()
                            .map(|g| g.as_str().to_string())
                            .or(p.user_id().map(str::to_string))
                    })
                    .collect();
                who.sort();
                format!("restorable-by=[{}]", who.join(","))
            }
            Probe::InstanceProtection(name) => {
                let out = aws_sdk_rds::Client::new(cfg)
                    .describe_db_instances()
                    .db_instance_identifier(*name)
                    .send()
                    .await
                    .unwrap();
                format!(
                    "deletion-protection={:?}",
                    out.db_instances()[0].deletion_protection()
                )
            }
            Probe::DocumentShare(name) => {
                let out = aws_sdk_ssm::Client::new(cfg)
                    .describe_document_permission()
                    .name(*name)
                    .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
                    .send()
                    .await
                    .unwrap();
                let mut who = out.account_ids().to_vec();
                who.sort();
                format!("shared=[{}]", who.join(","))
            }
            Probe::InstancePublic(name) => {
                let out = aws_sdk_rds::Client::new(cfg)
                    .describe_db_instances()
                    .db_instance_identifier(*name)
                    .send()
                    .await
                    .unwrap();
                format!(
                    "publicly-accessible={:?}",
                    out.db_instances()[0].publicly_accessible()
                )
            }
            Probe::SnapshotRestore(name) => {
                let out = aws_sdk_rds::Client::new(cfg)
                    .describe_db_snapshot_attributes()
                    .db_snapshot_identifier(*name)
                    .send()
                    .await
                    .unwrap();
                let mut who: Vec<String> = out
                    .db_snapshot_attributes_result()
                    .map(|r| r.db_snapshot_attributes())
                    .unwrap_or_default()
                    .iter()
                    .filter(|a| a.attribute_name() == Some("restore"))
                    .flat_map(|a| a.attribute_values().iter().cloned())
                    .collect();
                who.sort();
                format!("restore=[{}]", who.join(","))
            }
            Probe::ClusterSnapshotRestore(name) => {
                let out = aws_sdk_rds::Client::new(cfg)
                    .describe_db_cluster_snapshot_attributes()
                    .db_cluster_snapshot_identifier(*name)
                    .send()
                    .await
                    .unwrap();
                let mut who: Vec<String> = out
                    .db_cluster_snapshot_attributes_result()
                    .map(|r| r.db_cluster_snapshot_attributes())
                    .unwrap_or_default()
                    .iter()
                    .filter(|a| a.attribute_name() == Some("restore"))
                    .flat_map(|a| a.attribute_values().iter().cloned())
                    .collect();
                who.sort();
                format!("restore=[{}]", who.join(","))
            }
            Probe::ClusterProtection(name) => {
                let out = aws_sdk_rds::Client::new(cfg)
                    .describe_db_clusters()
                    .db_cluster_identifier(*name)
                    .send()
                    .await
                    .unwrap();
                format!(
                    "deletion-protection={:?}",
                    out.db_clusters()[0].deletion_protection()
                )
            }
            Probe::SubnetMapping(id) => {
                let out = aws_sdk_ec2::Client::new(cfg)
                    .describe_subnets()
                    .subnet_ids(id)
                    .send()
                    .await
                    .unwrap();
                let s = &out.subnets()[0];
                format!(
                    "map-public-ip={:?} assign-ipv6={:?}",
                    s.map_public_ip_on_launch(),
                    s.assign_ipv6_address_on_creation()
                )
            }
            Probe::FunctionPolicy(name) => {
                let lambda = aws_sdk_lambda::Client::new(cfg);
                let sids = match lambda.get_policy().function_name(*name).send().await {
                    Ok(out) => {
                        let doc: serde_json::Value =
                            serde_json::from_str(out.policy().unwrap()).unwrap();
                        let mut sids: Vec<String> = doc["Statement"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s["Sid"].as_str().unwrap().to_string())
                            .collect();
                        sids.sort();
                        sids
                    }
                    Err(e) => {
                        assert_eq!(
                            aws_sdk_lambda::error::ProvideErrorMetadata::code(&e),
                            Some("ResourceNotFoundException"),
                            "{e:?}"
                        );
                        Vec::new()
                    }
                };
                format!("policy=[{}]", sids.join(","))
            }
            Probe::TopicKey(arn) => {
                let out = aws_sdk_sns::Client::new(cfg)
                    .get_topic_attributes()
                    .topic_arn(arn)
                    .send()
                    .await
                    .unwrap();
                format!(
                    "kms={}",
                    out.attributes()
                        .and_then(|a| a.get("KmsMasterKeyId"))
                        .filter(|k| !k.is_empty())
                        .map(String::as_str)
                        .unwrap_or("none")
                )
            }
            Probe::Concurrency(name) => {
                let out = aws_sdk_lambda::Client::new(cfg)
                    .get_function_concurrency()
                    .function_name(*name)
                    .send()
                    .await
                    .unwrap();
                format!("reserved={:?}", out.reserved_concurrent_executions())
            }
            Probe::Detector => {
                let gd = aws_sdk_guardduty::Client::new(cfg);
                let ids = gd.list_detectors().send().await.unwrap();
                let Some(id) = ids.detector_ids().first() else {
                    return "none".into();
                };
                let d = gd.get_detector().detector_id(id).send().await.unwrap();
                let mut features: Vec<String> = d
                    .features()
                    .iter()
                    .map(|f| {
                        format!(
                            "{}={}",
                            f.name().map(|n| n.as_str()).unwrap_or("?"),
                            f.status().map(|s| s.as_str()).unwrap_or("?")
                        )
                    })
                    .collect();
                features.sort();
                format!(
                    "status={} {}",
                    d.status().map(|s| s.as_str()).unwrap_or("?"),
                    features.join(",")
                )
            }
            Probe::Trail(name) => {
                let ct = aws_sdk_cloudtrail::Client::new(cfg);
                let status = ct.get_trail_status().name(*name).send().await.unwrap();
                let t = ct
                    .describe_trails()
                    .trail_name_list(*name)
                    .send()
                    .await
                    .unwrap();
                let t = &t.trail_list()[0];
                format!(
                    "logging={:?} multi_region={:?} validation={:?} global={:?}",
                    status.is_logging,
                    t.is_multi_region_trail,
                    t.log_file_validation_enabled,
                    t.include_global_service_events
                )
            }
            Probe::AccessKeys(user) => {
                let mut keys: Vec<String> = crate::seed::key_statuses(cfg, user)
                    .await
                    .into_iter()
                    .map(|(key, status)| format!("{key}={status}"))
                    .collect();
                keys.sort();
                keys.join(",")
            }
            Probe::UserPolicies(user) => {
                let iam = aws_sdk_iam::Client::new(cfg);
                let names = iam
                    .list_user_policies()
                    .user_name(user)
                    .send()
                    .await
                    .unwrap()
                    .policy_names;
                let mut out = Vec::new();
                for name in names {
                    let doc = iam
                        .get_user_policy()
                        .user_name(user)
                        .policy_name(&name)
                        .send()
                        .await
                        .unwrap()
                        .policy_document;
                    let doc: Value =
                        serde_json::from_str(&quell::policy::percent_decode(&doc)).unwrap();
                    out.push(format!("{name}={doc}"));
                }
                out.join("\n")
            }
            Probe::RolePolicies(role) => crate::seed::role_policies(cfg, role)
                .await
                .into_iter()
                .map(|(name, doc)| format!("{name}={doc}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Probe::Trust(role) => crate::seed::trust_policy(cfg, role).await,
            Probe::InstanceGroups(instance) => {
                let out = aws_sdk_ec2::Client::new(cfg)
                    .describe_network_interfaces()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("attachment.instance-id")
                            .values(instance)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
                let mut groups: Vec<String> = out
                    .network_interfaces()
                    .iter()
                    .flat_map(|eni| eni.groups().iter().filter_map(|g| g.group_id()))
                    .map(str::to_string)
                    .collect();
                groups.sort();
                groups.dedup();
                groups.join(",")
            }
            Probe::BucketBlock(bucket) => {
                match crate::seed::public_access_block(cfg, bucket).await {
                    Some(c) => format!(
                        "{:?}/{:?}/{:?}/{:?}",
                        c.block_public_acls,
                        c.ignore_public_acls,
                        c.block_public_policy,
                        c.restrict_public_buckets
                    ),
                    None => "none".to_string(),
                }
            }
        }
    }
}
