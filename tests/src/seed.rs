//! Real problems in member accounts, and the state read back from them.

use aws_config::SdkConfig;
use aws_sdk_s3::types::{BucketCannedAcl, PublicAccessBlockConfiguration, Tag, Tagging};
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Partition,
    RecordState, Resource, Severity, SeverityLabel, StringFilter, StringFilterComparison, Workflow,
    WorkflowStatus,
};

use crate::emulator::REGION;

/// The member roles quell assumes, as member/roles.yaml creates them: `quell-<function>` for
/// each function with exactly its generated policy, and `quell-undo` with the undo policy; each
/// trusting the central account. With IAM in force (`Emulator::start_enforced`) these policies
/// are what allows or denies each call quell makes in the member.
pub async fn member_role(member: &SdkConfig, central: &str) {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{central}:root")}, "Action": "sts:AssumeRole"}]
    });
    let iam = aws_sdk_iam::Client::new(member);
    let account = aws_sdk_sts::Client::new(member)
        .get_caller_identity()
        .send()
        .await
        .expect("who the member is")
        .account
        .expect("an account");
    let specs = crate::specs();
    let roles = specs
        .iter()
        .map(|s| {
            (
                format!("quell-{}", s.id),
                quell::privilege::member_policy(s),
            )
        })
        .chain(std::iter::once((
            quell::member::UNDO_ROLE.to_string(),
            quell::privilege::undo_policy(&specs),
        )));
    for (name, policy) in roles {
        let _ = iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await;
        iam.put_role_policy()
            .role_name(&name)
            .policy_name(&name)
            .policy_document(quell::privilege::rendered(
                &policy, "aws", &account, central, REGION,
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the policy of {name}: {e:?}"));
    }
}

/// A bucket anyone can read: a public-read ACL and no Block Public Access.
pub async fn public_bucket(cfg: &SdkConfig, name: &str, tags: &[(&str, &str)]) {
    let s3 = quell::member::s3_client(cfg);
    s3.create_bucket()
        .bucket(name)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .expect("create bucket");
    if !tags.is_empty() {
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
            .collect();
        s3.put_bucket_tagging()
            .bucket(name)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(set))
                    .build()
                    .expect("tagging"),
            )
            .send()
            .await
            .expect("tag bucket");
    }
}

/// AWS Config's service-linked role in `cfg`'s account (what `aws configservice` and the
/// console make on first use), which a recorder's roleARN names; its ARN.
pub async fn config_service_role(cfg: &SdkConfig) -> String {
    aws_sdk_iam::Client::new(cfg)
        .create_service_linked_role()
        .aws_service_name("config.amazonaws.com")
        .send()
        .await
        .expect("AWS Config's service-linked role")
        .role
        .expect("role")
        .arn
}

/// A trail's bucket in `cfg`'s account, as [`public_bucket`] makes it, with the bucket policy
/// CloudTrail asks for before it delivers to a bucket (CreateTrail refuses one without it).
pub async fn trail_bucket(cfg: &SdkConfig, name: &str) {
    delivery_bucket(cfg, name, "cloudtrail.amazonaws.com").await;
}

/// A bucket in `cfg`'s account, as [`public_bucket`] makes it, whose policy lets the AWS service
/// `principal` deliver logs to it (`cloudtrail.amazonaws.com`, `delivery.logs.amazonaws.com`).
pub async fn delivery_bucket(cfg: &SdkConfig, name: &str, principal: &str) {
    public_bucket(cfg, name, &[]).await;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AclCheck", "Effect": "Allow",
             "Principal": {"Service": principal},
             "Action": "s3:GetBucketAcl", "Resource": format!("arn:aws:s3:::{name}")},
            {"Sid": "Write", "Effect": "Allow",
             "Principal": {"Service": principal},
             "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{name}/AWSLogs/*"),
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}
        ]
    });
    quell::member::s3_client(cfg)
        .put_bucket_policy()
        .bucket(name)
        .policy(policy.to_string())
        .send()
        .await
        .expect("delivery bucket policy");
}

/// The bucket's Block Public Access, as the emulator holds it (`None`: none configured).
pub async fn public_access_block(
    cfg: &SdkConfig,
    name: &str,
) -> Option<PublicAccessBlockConfiguration> {
    let s3 = quell::member::s3_client(cfg);
    match s3.get_public_access_block().bucket(name).send().await {
        Ok(o) => o.public_access_block_configuration,
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string);
            assert_eq!(
                code.as_deref(),
                Some("NoSuchPublicAccessBlockConfiguration"),
                "{e:?}"
            );
            None
        }
    }
}

pub fn fully_blocked(c: &Option<PublicAccessBlockConfiguration>) -> bool {
    c.as_ref().is_some_and(|c| {
        c.block_public_acls == Some(true)
            && c.ignore_public_acls == Some(true)
            && c.block_public_policy == Some(true)
            && c.restrict_public_buckets == Some(true)
    })
}

/// A Security Hub finding in the member account, as GuardDuty's or Security Hub's own
/// integration would have imported it.
pub async fn hub_finding(
    member: &SdkConfig,
    account: &str,
    id: &str,
    product_arn: &str,
    resource: (&str, &str),
) {
    let f = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(id)
        .product_arn(product_arn)
        .generator_id("seed")
        .aws_account_id(account)
        .types("Software and Configuration Checks")
        .created_at("2026-01-01T00:00:00.000Z")
        .updated_at("2026-01-01T00:00:00.000Z")
        .severity(Severity::builder().label(SeverityLabel::High).build())
        .title("seeded finding")
        .description("seeded by the quell test harness")
        .resources(
            Resource::builder()
                .r#type(resource.0)
                .id(resource.1)
                .build(),
        )
        .workflow(Workflow::builder().status(WorkflowStatus::New).build())
        .build();
    import_as_aws(member, f).await;
}

/// A failed Security Hub control in the member account, as Security Hub CSPM's consolidated
/// control findings look (one finding per control and resource, generated by
/// `security-control/<control>` under Security Hub's own product), with workflow status
/// `workflow` (`NEW`, `NOTIFIED`, …). Returns the finding's id.
pub async fn control_finding(
    member: &SdkConfig,
    account: &str,
    control: &str,
    workflow: &str,
    resource: (&str, &str),
) -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // Unique and shaped as AWS's (a UUID), from the time and a counter of this process.
    let suffix = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (nanos >> 32) as u32,
        (nanos >> 16) as u16,
        (nanos >> 4) as u16 & 0xfff,
        std::process::id() & 0xfff,
        seq,
    );
    let id = format!(
        "arn:aws:securityhub:{REGION}:{account}:security-control/{control}/finding/{suffix}"
    );
    let f = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&id)
        .product_arn(format!(
            "arn:aws:securityhub:{REGION}::product/aws/securityhub"
        ))
        .product_name("Security Hub")
        .company_name("AWS")
        .generator_id(format!("security-control/{control}"))
        .aws_account_id(account)
        .region(REGION)
        .types("Software and Configuration Checks/Industry and Regulatory Standards")
        .created_at("2026-01-01T00:00:00.000Z")
        .updated_at("2026-01-01T00:00:00.000Z")
        .severity(Severity::builder().label(SeverityLabel::High).build())
        .title(format!("{control} failed"))
        .description("seeded by the quell test harness")
        .resources(
            Resource::builder()
                .r#type(resource.0)
                .id(resource.1)
                .partition(Partition::Aws)
                .region(REGION)
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::Failed)
                .security_control_id(control)
                .build(),
        )
        .record_state(RecordState::Active)
        .workflow(
            Workflow::builder()
                .status(WorkflowStatus::from(workflow))
                .build(),
        )
        .build();
    import_as_aws(member, f).await;
    id
}

/// An AWS Config aggregator `name` in the central account, taking in `accounts` in all Regions
/// (one account aggregation source).
pub async fn config_aggregator(central: &SdkConfig, name: &str, accounts: &[&str]) {
    use aws_sdk_config::types::AccountAggregationSource;
    let source = AccountAggregationSource::builder()
        .set_account_ids(Some(accounts.iter().map(|a| a.to_string()).collect()))
        .all_aws_regions(true)
        .build()
        .expect("an account aggregation source");
    aws_sdk_config::Client::new(central)
        .put_configuration_aggregator()
        .configuration_aggregator_name(name)
        .account_aggregation_sources(source)
        .send()
        .await
        .expect("put configuration aggregator");
}

/// A finding's workflow status and note text, read from the central (administrator) account.
pub async fn workflow(central: &SdkConfig, id: &str) -> Option<(String, Option<String>)> {
    let out = aws_sdk_securityhub::Client::new(central)
        .get_findings()
        .filters(
            AwsSecurityFindingFilters::builder()
                .id(StringFilter::builder()
                    .value(id)
                    .comparison(StringFilterComparison::Equals)
                    .build())
                .build(),
        )
        .send()
        .await
        .expect("get findings");
    let f = out.findings().first()?;
    Some((
        f.workflow()
            .and_then(|w| w.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        f.note().and_then(|n| n.text()).map(str::to_string),
    ))
}

/// A finding of the new Security Hub as `account` reads it with GetFindingsV2 (by its
/// `metadata.uid`): the OCSF document, or `None` when the account cannot see it.
pub async fn hub_v2_finding(cfg: &SdkConfig, metadata_uid: &str) -> Option<serde_json::Value> {
    use aws_sdk_securityhub::types::{
        CompositeFilter, OcsfFindingFilters, OcsfStringField, OcsfStringFilter,
    };
    let filter = OcsfStringFilter::builder()
        .field_name(OcsfStringField::MetadataUid)
        .filter(
            StringFilter::builder()
                .value(metadata_uid)
                .comparison(StringFilterComparison::Equals)
                .build(),
        )
        .build();
    let out = aws_sdk_securityhub::Client::new(cfg)
        .get_findings_v2()
        .filters(
            OcsfFindingFilters::builder()
                .composite_filters(CompositeFilter::builder().string_filters(filter).build())
                .build(),
        )
        .send()
        .await
        .expect("get findings v2");
    let [doc] = out.findings() else {
        assert!(out.findings().is_empty(), "one finding per metadata.uid");
        return None;
    };
    Some(document_json(doc))
}

/// An SDK document as JSON.
pub fn document_json(d: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document as D, Number as N};
    match d {
        D::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), document_json(v)))
                .collect(),
        ),
        D::Array(a) => serde_json::Value::Array(a.iter().map(document_json).collect()),
        D::Number(N::PosInt(n)) => serde_json::json!(n),
        D::Number(N::NegInt(n)) => serde_json::json!(n),
        D::Number(N::Float(f)) => serde_json::json!(f),
        D::String(s) => serde_json::json!(s),
        D::Bool(b) => serde_json::json!(b),
        D::Null => serde_json::Value::Null,
    }
}

/// An IAM user with two active access keys: (user id, key ids).
pub async fn user_with_keys(member: &SdkConfig, name: &str) -> (String, Vec<String>) {
    let iam = aws_sdk_iam::Client::new(member);
    let user = iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user")
        .user
        .expect("user");
    let mut keys = Vec::new();
    for _ in 0..2 {
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("create key")
            .access_key
            .expect("key");
        keys.push(k.access_key_id);
    }
    (user.user_id, keys)
}

/// Each access key of a user with its status.
pub async fn key_statuses(member: &SdkConfig, user: &str) -> Vec<(String, String)> {
    aws_sdk_iam::Client::new(member)
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .expect("list keys")
        .access_key_metadata
        .into_iter()
        .map(|k| {
            (
                k.access_key_id.unwrap_or_default(),
                k.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

pub async fn user_tags(member: &SdkConfig, user: &str) -> Vec<(String, String)> {
    aws_sdk_iam::Client::new(member)
        .list_user_tags()
        .user_name(user)
        .send()
        .await
        .expect("list user tags")
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

/// A role an application's instances use.
pub async fn app_role(member: &SdkConfig, name: &str) {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    });
    aws_sdk_iam::Client::new(member)
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create role");
}

/// The role's inline policies: name → decoded document.
pub async fn role_policies(member: &SdkConfig, role: &str) -> Vec<(String, serde_json::Value)> {
    let iam = aws_sdk_iam::Client::new(member);
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("list role policies")
        .policy_names;
    let mut out = Vec::new();
    for n in names {
        let doc = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&n)
            .send()
            .await
            .expect("get role policy")
            .policy_document;
        let doc = iam_revoke_role_sessions::percent_decode(&doc);
        out.push((n, serde_json::from_str(&doc).expect("policy JSON")));
    }
    out
}

/// A running instance in the default VPC with a web security group open to the world and an
/// instance profile: (instance id, security group id).
pub async fn instance(member: &SdkConfig, name: &str) -> (String, String) {
    use aws_sdk_ec2::types::{
        IamInstanceProfileSpecification, InstanceType, IpPermission, IpRange, ResourceType, Tag,
        TagSpecification,
    };
    let ec2 = aws_sdk_ec2::Client::new(member);
    let iam = aws_sdk_iam::Client::new(member);
    let image = ec2
        .describe_images()
        .send()
        .await
        .expect("describe images")
        .images
        .unwrap_or_default()
        .into_iter()
        .find_map(|i| i.image_id)
        .expect("the emulator has an image");
    let vpc = ec2
        .describe_vpcs()
        .send()
        .await
        .expect("describe vpcs")
        .vpcs
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.is_default == Some(true))
        .and_then(|v| v.vpc_id)
        .expect("default vpc");
    let sg = ec2
        .create_security_group()
        .group_name(format!("{name}-web"))
        .description("web")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("create sg")
        .group_id
        .expect("sg id");
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("open ssh");
    let _ = iam
        .create_instance_profile()
        .instance_profile_name(format!("{name}-profile"))
        .send()
        .await;
    let out = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .security_group_ids(&sg)
        .iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(format!("{name}-profile"))
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value(name).build())
                .build(),
        )
        .send()
        .await
        .expect("run instance");
    let id = out
        .instances
        .unwrap_or_default()
        .into_iter()
        .find_map(|i| i.instance_id)
        .expect("instance id");
    (id, sg)
}

/// quell's state table (as template.yaml makes it) in the central account: its name.
pub async fn state_table(central: &SdkConfig) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(central)
        .create_table()
        .table_name("quell-state")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    "quell-state".into()
}

/// A role in the member account with the given trust policy.
pub async fn role_with_trust(member: &SdkConfig, name: &str, trust: &str) {
    aws_sdk_iam::Client::new(member)
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role");
}

/// The role's trust policy, decoded.
pub async fn trust_policy(member: &SdkConfig, name: &str) -> String {
    let role = aws_sdk_iam::Client::new(member)
        .get_role()
        .role_name(name)
        .send()
        .await
        .expect("get role")
        .role
        .expect("a role");
    quell::policy::percent_decode(role.assume_role_policy_document().unwrap_or_default())
}

/// quell's outcome topic in the central account (`quell-outcomes`), as the central stack makes
/// it: its ARN, for `Config::notify_topic_arn`.
pub async fn outcome_topic(central: &SdkConfig) -> String {
    aws_sdk_sns::Client::new(central)
        .create_topic()
        .name("quell-outcomes")
        .send()
        .await
        .expect("create the outcome topic")
        .topic_arn
        .expect("a topic arn")
}

/// Imports `f` as AWS's own integration would (GuardDuty's, Security Hub's): the emulator takes
/// such findings with this marker (tests/emulator/quell_moto.py), which quell never sends.
async fn import_as_aws(member: &SdkConfig, f: AwsSecurityFinding) {
    let out = aws_sdk_securityhub::Client::new(member)
        .batch_import_findings()
        .findings(f)
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("X-Quell-Seed", "aws");
        })
        .send()
        .await
        .expect("import finding");
    assert_eq!(out.failed_count, Some(0), "{out:?}");
}

/// A DynamoDB table in `member` (key `pk`, on demand), with `tags`.
pub async fn table(member: &SdkConfig, name: &str, tags: &[(&str, &str)]) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        Tag as TableTag,
    };
    aws_sdk_dynamodb::Client::new(member)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| TableTag::builder().key(*k).value(*v).build().unwrap())
                .collect(),
        ))
        .send()
        .await
        .unwrap();
}

/// An EBS snapshot in `member` (of a new 8 GiB volume), tagged `Name=quell-test` and `tags`, that
/// the `groups` (`all`: everyone) and `accounts` may restore. Returns its id.
pub async fn snapshot(
    member: &SdkConfig,
    tags: &[(&str, &str)],
    groups: &[&str],
    accounts: &[&str],
) -> String {
    use aws_sdk_ec2::types::{
        OperationType, ResourceType, SnapshotAttributeName, Tag as Ec2Tag, TagSpecification,
    };
    let ec2 = aws_sdk_ec2::Client::new(member);
    let volume = ec2
        .create_volume()
        .availability_zone(format!("{REGION}a"))
        .size(8)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    let mut spec = TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .tags(Ec2Tag::builder().key("Name").value("quell-test").build());
    for (k, v) in tags {
        spec = spec.tags(Ec2Tag::builder().key(*k).value(*v).build());
    }
    let id = ec2
        .create_snapshot()
        .volume_id(volume)
        .tag_specifications(spec.build())
        .send()
        .await
        .unwrap()
        .snapshot_id()
        .unwrap()
        .to_string();
    if !groups.is_empty() || !accounts.is_empty() {
        ec2.modify_snapshot_attribute()
            .snapshot_id(&id)
            .attribute(SnapshotAttributeName::CreateVolumePermission)
            .operation_type(OperationType::Add)
            .set_group_names(
                (!groups.is_empty()).then(|| groups.iter().map(|g| g.to_string()).collect()),
            )
            .set_user_ids(
                (!accounts.is_empty()).then(|| accounts.iter().map(|a| a.to_string()).collect()),
            )
            .send()
            .await
            .unwrap();
    }
    id
}

/// A Lambda function `name` in `member` (an empty deployment package, an execution role of its
/// own), with its reserved concurrency set to `reserved` when given. Returns its ARN.
pub async fn function(member: &SdkConfig, name: &str, reserved: Option<i32>) -> String {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    let role = format!("{name}-role");
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    });
    let role_arn = aws_sdk_iam::Client::new(member)
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create the function's role")
        .role()
        .map(|r| r.arn().to_string())
        .unwrap();
    // The smallest valid zip: an end-of-central-directory record and nothing else.
    let mut empty_zip = b"PK\x05\x06".to_vec();
    empty_zip.extend([0u8; 18]);
    let lambda = aws_sdk_lambda::Client::new(member);
    let arn = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(empty_zip))
                .build(),
        )
        .send()
        .await
        .expect("create the function")
        .function_arn()
        .unwrap()
        .to_string();
    if let Some(n) = reserved {
        lambda
            .put_function_concurrency()
            .function_name(name)
            .reserved_concurrent_executions(n)
            .send()
            .await
            .expect("reserve concurrency");
    }
    arn
}

/// A subnet in a new VPC of `member` (10.20.0.0/16), tagged `tags`, that gives new instances a
/// public IPv4 address when `public`. Returns its id.
pub async fn subnet(member: &SdkConfig, public: bool, tags: &[(&str, &str)]) -> String {
    use aws_sdk_ec2::types::{
        AttributeBooleanValue, ResourceType, Tag as Ec2Tag, TagSpecification,
    };
    let ec2 = aws_sdk_ec2::Client::new(member);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string();
    let mut spec = TagSpecification::builder()
        .resource_type(ResourceType::Subnet)
        .tags(Ec2Tag::builder().key("Name").value("quell-test").build());
    for (k, v) in tags {
        spec = spec.tags(Ec2Tag::builder().key(*k).value(*v).build());
    }
    let id = ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block("10.20.1.0/24")
        .tag_specifications(spec.build())
        .send()
        .await
        .unwrap()
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string();
    if public {
        ec2.modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .unwrap();
    }
    id
}

/// An RDS DB instance in `member` (PostgreSQL, without deletion protection), in `cluster` when
/// given (an Aurora member), tagged `tags`. Returns its resource id (`db-…`), as Config names it.
pub async fn db_instance(
    member: &SdkConfig,
    name: &str,
    cluster: Option<&str>,
    tags: &[(&str, &str)],
) -> String {
    let rds = aws_sdk_rds::Client::new(member);
    let mut call = rds
        .create_db_instance()
        .db_instance_identifier(name)
        .db_instance_class("db.t4g.micro")
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ));
    call = match cluster {
        Some(c) => call.engine("aurora-postgresql").db_cluster_identifier(c),
        None => call
            .engine("postgres")
            .allocated_storage(20)
            .master_username("quell")
            .master_user_password("not-a-real-password-1"),
    };
    call.send()
        .await
        .expect("create the DB instance")
        .db_instance()
        .and_then(|d| d.dbi_resource_id())
        .unwrap()
        .to_string()
}

/// An Aurora PostgreSQL DB cluster in `member`, without deletion protection, available (RDS
/// answers `creating` first, as a waiter sees). Returns its resource id (`cluster-…`).
pub async fn db_cluster(member: &SdkConfig, name: &str) -> String {
    let rds = aws_sdk_rds::Client::new(member);
    rds.create_db_cluster()
        .db_cluster_identifier(name)
        .engine("aurora-postgresql")
        .master_username("quell")
        .master_user_password("not-a-real-password-1")
        .send()
        .await
        .expect("create the DB cluster");
    for _ in 0..100 {
        let out = rds
            .describe_db_clusters()
            .db_cluster_identifier(name)
            .send()
            .await
            .unwrap();
        let c = &out.db_clusters()[0];
        if c.status() == Some("available") {
            return c.db_cluster_resource_id().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("DB cluster {name} did not become available");
}

/// A customer managed KMS key in `member`'s Region under `alias` (`alias/…`). Returns its id.
pub async fn kms_alias(member: &SdkConfig, alias: &str) -> String {
    let kms = aws_sdk_kms::Client::new(member);
    let key_id = kms
        .create_key()
        .description(format!("quell test key {alias}"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    key_id
}

/// A manual snapshot of a DB instance (`cluster` None) or a DB cluster, restorable by `restore`
/// (`all` for everyone, account ids), as ModifyDBSnapshotAttribute leaves it.
pub async fn db_snapshot(
    member: &SdkConfig,
    of: &str,
    cluster: bool,
    name: &str,
    restore: &[&str],
) {
    let rds = aws_sdk_rds::Client::new(member);
    let values: Vec<String> = restore.iter().map(|v| v.to_string()).collect();
    if cluster {
        rds.create_db_cluster_snapshot()
            .db_cluster_identifier(of)
            .db_cluster_snapshot_identifier(name)
            .send()
            .await
            .expect("create the DB cluster snapshot");
        rds.modify_db_cluster_snapshot_attribute()
            .db_cluster_snapshot_identifier(name)
            .attribute_name("restore")
            .set_values_to_add(Some(values))
            .send()
            .await
            .expect("share the DB cluster snapshot");
    } else {
        rds.create_db_snapshot()
            .db_instance_identifier(of)
            .db_snapshot_identifier(name)
            .send()
            .await
            .expect("create the DB snapshot");
        rds.modify_db_snapshot_attribute()
            .db_snapshot_identifier(name)
            .attribute_name("restore")
            .set_values_to_add(Some(values))
            .send()
            .await
            .expect("share the DB snapshot");
    }
}

/// Makes a DB instance publicly accessible, as a console user or a template would.
pub async fn db_instance_public(member: &SdkConfig, name: &str) {
    aws_sdk_rds::Client::new(member)
        .modify_db_instance()
        .db_instance_identifier(name)
        .publicly_accessible(true)
        .send()
        .await
        .expect("make the DB instance publicly accessible");
}

/// A Command document of the account's, shared with `share` (`all` for everyone, account ids).
pub async fn ssm_document(member: &SdkConfig, name: &str, share: &[&str]) {
    let ssm = aws_sdk_ssm::Client::new(member);
    ssm.create_document()
        .name(name)
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .content(
            r#"{"schemaVersion":"2.2","description":"quell demo runbook","mainSteps":[{"action":"aws:runShellScript","name":"hello","inputs":{"runCommand":["echo hello"]}}]}"#,
        )
        .send()
        .await
        .expect("create the SSM document");
    if !share.is_empty() {
        ssm.modify_document_permission()
            .name(name)
            .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
            .set_account_ids_to_add(Some(share.iter().map(|a| a.to_string()).collect()))
            .send()
            .await
            .expect("share the SSM document");
    }
}

/// The organization trail's account, as org/trail.yaml leaves it: the trail's log group with the
/// 14 CIS metric filters on it (quell::cis, the template's own list), and `quell-trail-reader`
/// with its generated policy, trusting the central account. Returns nothing: tests read back.
pub async fn org_trail(trail: &SdkConfig, central: &str, group: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(trail);
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .expect("the trail's log group");
    for (metric, _, pattern) in quell::cis::ALARMS {
        logs.put_metric_filter()
            .log_group_name(group)
            .filter_name(format!("{metric}Filter"))
            .filter_pattern(*pattern)
            .metric_transformations(
                aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                    .metric_name(*metric)
                    .metric_namespace("CISBenchmark")
                    .metric_value("1")
                    .build()
                    .expect("transformation"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("the {metric} filter: {e:?}"));
    }
    let account = aws_sdk_sts::Client::new(trail)
        .get_caller_identity()
        .send()
        .await
        .expect("who the trail account is")
        .account
        .expect("an account");
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{central}:root")}, "Action": "sts:AssumeRole"}]
    });
    let iam = aws_sdk_iam::Client::new(trail);
    let name = quell::member::TRAIL_READER_ROLE;
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("the trail reader");
    let policy = quell::privilege::rendered(
        &quell::privilege::trail_reader_policy(),
        "aws",
        &account,
        central,
        REGION,
    )
    .replace("${AWS::Region}", REGION)
    .replace("${CloudTrailLogGroupName}", group);
    iam.put_role_policy()
        .role_name(name)
        .policy_name(name)
        .policy_document(policy)
        .send()
        .await
        .expect("the trail reader's policy");
}

/// CloudTrail records delivered to the trail's log group (one stream), each at its `eventTime`.
pub async fn trail_log_events(trail: &SdkConfig, group: &str, records: &[serde_json::Value]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(trail);
    let stream = "o-quelltest_CloudTrail_us-east-1";
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let mut events: Vec<(i64, String)> = records
        .iter()
        .map(|r| {
            let t = aws_smithy_types::DateTime::from_str(
                r["eventTime"].as_str().expect("eventTime"),
                aws_smithy_types::date_time::Format::DateTime,
            )
            .expect("an RFC 3339 eventTime");
            (t.secs() * 1000, r.to_string())
        })
        .collect();
    events.sort();
    let mut req = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (t, m) in events {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(t)
                .message(m)
                .build()
                .expect("log event"),
        );
    }
    let out = req.send().await.expect("put the trail's events");
    assert!(out.rejected_log_events_info.is_none(), "{out:?}");
}
