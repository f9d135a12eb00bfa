//! The member stacks deployed as an organization deploys them, through the emulator's
//! CloudFormation, IAM in force: member/roles.yaml once per account, member/regional.yaml in every
//! Region of it, and each stack's resources read back from IAM and EventBridge themselves, never
//! from CloudFormation's report. The emulator's IAM is global per account as AWS's is, so a
//! stack that made a named role a second time fails here as it does in a StackSet's second Region.
//!
//! Not deployed here: template.yaml (the emulator has no SAM transform; cfn-lint, `sam validate`
//! and tests/emulator/stack_limits.py check it in `make test`), and org/trail.yaml's metric
//! filters and alarms (the emulator's CloudFormation has no AWS::Logs::MetricFilter or
//! AWS::CloudWatch::Alarm: it would skip them and report the stack complete). Its forwarding role
//! and rule are deployed and read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use quell_tests::{Emulator, CENTRAL, MEMBER, REGION};

const ORG: &str = "o-quelltest01";
const SECOND_REGION: &str = "eu-west-1";
const THIRD_REGION: &str = "ap-southeast-2";

fn bus() -> String {
    format!("arn:aws:events:{REGION}:{CENTRAL}:event-bus/quell")
}

fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

fn template(path: &str) -> String {
    std::fs::read_to_string(quell_tests::emulator::project_root().join(path)).expect(path)
}

/// Creates `name` from `path` with `params` and returns its final status and reason.
async fn create_stack(
    config: &SdkConfig,
    name: &str,
    path: &str,
    params: &[(&str, &str)],
) -> (StackStatus, String) {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    let mut req = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template(path))
        .capabilities(Capability::CapabilityNamedIam);
    for (k, v) in params {
        req = req.parameters(
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build(),
        );
    }
    if let Err(e) = req.send().await {
        return (
            StackStatus::CreateFailed,
            format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(e)),
        );
    }
    for _ in 0..100 {
        let out = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe the stack");
        let stack = out.stacks().first().expect("the stack");
        let status = stack.stack_status().cloned().expect("a status");
        if !status.as_str().ends_with("_IN_PROGRESS") {
            return (
                status,
                stack.stack_status_reason().unwrap_or_default().to_string(),
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} is still in progress");
}

async fn roles(config: &SdkConfig) -> BTreeSet<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let mut out = BTreeSet::new();
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        for r in page.expect("list roles").roles() {
            out.insert(r.role_name().to_string());
        }
    }
    out
}

/// quell's rules in this account and Region, each with its one target: (rule, target ARN, role).
async fn rules(config: &SdkConfig) -> Vec<(String, String, String)> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let listed = events
        .list_rules()
        .name_prefix("quell-")
        .send()
        .await
        .expect("list rules");
    let mut out = Vec::new();
    for r in listed.rules() {
        let name = r.name().unwrap_or_default().to_string();
        let targets = events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .expect("targets");
        assert_eq!(targets.targets().len(), 1, "{name}: {targets:?}");
        let t = &targets.targets()[0];
        out.push((
            name,
            t.arn().to_string(),
            t.role_arn().unwrap_or_default().to_string(),
        ));
    }
    out.sort();
    out
}

fn names(rules: &[(String, String, String)]) -> Vec<&str> {
    rules.iter().map(|(n, ..)| n.as_str()).collect()
}

fn common() -> Vec<(&'static str, String)> {
    vec![
        ("SecurityAccountId", CENTRAL.to_string()),
        ("CentralEventBusArn", bus()),
    ]
}

fn params<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn member_stacks_deploy_once_per_account_and_once_per_region() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    let before = roles(&member).await;

    // member/roles.yaml, once: every function's role, the undo role, the forwarding role.
    let mut p = common();
    p.push(("OrganizationId", ORG.to_string()));
    p.push((
        "OperatorRoleArn",
        format!("arn:aws:iam::{CENTRAL}:role/quell-operator"),
    ));
    let (status, why) =
        create_stack(&member, "quell-roles", "member/roles.yaml", &params(&p)).await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    let made: BTreeSet<String> = roles(&member).await.difference(&before).cloned().collect();
    let mut expected: BTreeSet<String> = quell_tests::specs()
        .iter()
        .map(|s| format!("quell-{}", s.id))
        .collect();
    expected.insert("quell-undo".into());
    expected.insert("quell-forward".into());
    assert_eq!(made, expected);
    // Each role holds exactly its generated policy's actions, and the guard against changing
    // quell itself with its ARNs resolved in this account.
    let iam = aws_sdk_iam::Client::new(&member);
    for spec in quell_tests::specs() {
        let role = format!("quell-{}", spec.id);
        let doc = iam
            .get_role_policy()
            .role_name(&role)
            .policy_name(&role)
            .send()
            .await
            .expect("the role's policy")
            .policy_document;
        let doc: serde_json::Value = serde_json::from_str(&policy_json(&doc)).expect(&doc);
        let generated = quell::privilege::member_policy(&spec);
        let statements = doc["Statement"].as_array().expect("statements");
        assert_eq!(
            statements.len(),
            generated["Statement"].as_array().unwrap().len(),
            "{role}"
        );
        for (got, want) in statements
            .iter()
            .zip(generated["Statement"].as_array().unwrap())
        {
            assert_eq!(got["Sid"], want["Sid"], "{role}");
            assert_eq!(got["Effect"], want["Effect"], "{role}");
            assert_eq!(got["Action"], want["Action"], "{role}");
        }
        assert!(statements[1]["Resource"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(format!(
                "arn:aws:iam::{MEMBER}:role/quell-*"
            ))));
    }

    // The same global stack in a second Region fails as a StackSet's second Region would: the
    // roles exist once per account. This is what a single member stack did.
    let (status, why) = create_stack(
        &in_region(&member, SECOND_REGION),
        "quell-roles",
        "member/roles.yaml",
        &params(&p),
    )
    .await;
    assert_ne!(status, StackStatus::CreateComplete);
    assert!(
        why.contains("already exists") || why.contains("EntityAlreadyExists"),
        "{why}"
    );

    // member/regional.yaml in the home Region and in a second one: each forwards Config, alarms
    // and quell's CloudTrail calls to the quell bus in the home Region, with quell-forward, and
    // creates no role.
    let p = common();
    let after_roles = roles(&member).await;
    for region in [REGION, SECOND_REGION] {
        let here = in_region(&member, region);
        let (status, why) =
            create_stack(&here, "quell-regional", "member/regional.yaml", &params(&p)).await;
        assert_eq!(status, StackStatus::CreateComplete, "{region}: {why}");
        let rules = rules(&here).await;
        assert_eq!(
            names(&rules),
            [
                "quell-ForwardAlarms",
                "quell-ForwardApiCalls",
                "quell-ForwardConfig"
            ],
            "{region}"
        );
        for (name, target, role) in &rules {
            assert_eq!(target, &bus(), "{region} {name}");
            assert_eq!(
                role,
                &format!("arn:aws:iam::{MEMBER}:role/quell-forward"),
                "{region} {name}"
            );
        }
    }
    assert_eq!(
        roles(&member).await,
        after_roles,
        "a regional stack made a role"
    );
}

#[tokio::test]
async fn the_security_account_forwards_its_other_regions_findings_home() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let mut p = common();
    p.push(("OrganizationId", ORG.to_string()));
    let (status, why) =
        create_stack(&central, "quell-roles", "member/roles.yaml", &params(&p)).await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    let home_default = format!("arn:aws:events:{REGION}:{CENTRAL}:event-bus/default");
    let forward = format!("arn:aws:iam::{CENTRAL}:role/quell-forward");
    // The forwarding role may put on the quell bus and on its own default bus at home, no more.
    let iam = aws_sdk_iam::Client::new(&central);
    let doc = iam
        .get_role_policy()
        .role_name("quell-forward")
        .policy_name("put-on-the-quell-bus")
        .send()
        .await
        .expect("the forwarding policy")
        .policy_document;
    let doc: serde_json::Value = serde_json::from_str(&policy_json(&doc)).expect(&doc);
    assert_eq!(
        doc["Statement"][0]["Resource"],
        serde_json::json!([bus(), home_default])
    );

    // Home Region: the central stack's own rules on the default bus take everything; no forwarder.
    let p = common();
    let (status, why) = create_stack(
        &central,
        "quell-regional",
        "member/regional.yaml",
        &params(&p),
    )
    .await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    assert!(rules(&central).await.is_empty());

    // Another Region: its findings and its own events go to the default bus at home.
    let here = in_region(&central, SECOND_REGION);
    let (status, why) =
        create_stack(&here, "quell-regional", "member/regional.yaml", &params(&p)).await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    let got = rules(&here).await;
    assert_eq!(
        names(&got),
        [
            "quell-ForwardAccessAnalyzerFindings",
            "quell-ForwardAlarms",
            "quell-ForwardApiCalls",
            "quell-ForwardConfig",
            "quell-ForwardGuardDutyFindings",
            "quell-ForwardSecurityHubFindings",
        ]
    );
    for (name, target, role) in &got {
        assert_eq!(target, &home_default, "{name}");
        assert_eq!(role, &forward, "{name}");
    }

    // Where Security Hub aggregates into the home Region, its findings are not sent twice.
    let mut p = common();
    p.push(("SecurityHubAggregated", "true".into()));
    let third = in_region(&central, THIRD_REGION);
    let (status, why) = create_stack(
        &third,
        "quell-regional",
        "member/regional.yaml",
        &params(&p),
    )
    .await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    assert!(!names(&rules(&third).await).contains(&"quell-ForwardSecurityHubFindings"));
    assert_eq!(rules(&third).await.len(), 5);
}

#[tokio::test]
async fn the_trail_account_forwards_quells_alarms_where_no_member_stack_is() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    // The management account, which service-managed StackSets leave out.
    let management = emu.account_config("999999999999").await;
    let bus = bus();
    let (status, why) = create_stack(
        &management,
        "quell-trail",
        "org/trail.yaml",
        &[
            ("CloudTrailLogGroupName", "aws-cloudtrail-logs-organization"),
            ("CentralEventBusArn", bus.as_str()),
            ("OrganizationId", ORG),
            ("ForwardAlarms", "true"),
        ],
    )
    .await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    trail_reader_reads_the_trails_group_alone(&management, "999999999999").await;
    let got = rules(&management).await;
    assert_eq!(
        got,
        [(
            "quell-ForwardTrailAlarms".to_string(),
            bus.clone(),
            "arn:aws:iam::999999999999:role/quell-forward".to_string()
        )]
    );
    let pattern = aws_sdk_eventbridge::Client::new(&management)
        .describe_rule()
        .name("quell-ForwardTrailAlarms")
        .send()
        .await
        .unwrap()
        .event_pattern
        .unwrap();
    let pattern: serde_json::Value = serde_json::from_str(&pattern).unwrap();
    assert_eq!(
        pattern["detail"]["alarmName"],
        serde_json::json!([{"prefix": "quell-cis-"}])
    );
    assert!(roles(&management).await.contains("quell-forward"));

    // In a log archive account, which has the member stacks, it makes no rule and no role but the
    // trail reader.
    let archive = emu.account_config(MEMBER).await;
    let mut before = roles(&archive).await;
    let (status, why) = create_stack(
        &archive,
        "quell-trail",
        "org/trail.yaml",
        &[
            ("CloudTrailLogGroupName", "aws-cloudtrail-logs-organization"),
            ("CentralEventBusArn", bus.as_str()),
            ("OrganizationId", ORG),
        ],
    )
    .await;
    assert_eq!(status, StackStatus::CreateComplete, "{why}");
    assert!(rules(&archive).await.is_empty());
    before.insert(quell::member::TRAIL_READER_ROLE.to_string());
    assert_eq!(roles(&archive).await, before);
    trail_reader_reads_the_trails_group_alone(&archive, MEMBER).await;
}

/// The trail reader as the trail stack made it, read back from IAM: the alarm responder's
/// function role alone may assume it, and it may read the trail's log group and no other.
async fn trail_reader_reads_the_trails_group_alone(config: &SdkConfig, account: &str) {
    let iam = aws_sdk_iam::Client::new(config);
    let name = quell::member::TRAIL_READER_ROLE;
    let role = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust: serde_json::Value =
        serde_json::from_str(&policy_json(role.assume_role_policy_document().unwrap())).unwrap();
    let s = &trust["Statement"][0];
    assert_eq!(
        s["Principal"]["AWS"],
        format!("arn:aws:iam::{CENTRAL}:root"),
        "{trust}"
    );
    assert_eq!(
        s["Condition"]["ArnLike"]["aws:PrincipalArn"],
        format!("arn:aws:iam::{CENTRAL}:role/quell/cloudtrail-alarm-response/*"),
        "{trust}"
    );
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:PrincipalOrgID"], ORG,
        "{trust}"
    );
    let doc = iam
        .get_role_policy()
        .role_name(name)
        .policy_name(name)
        .send()
        .await
        .unwrap()
        .policy_document;
    let policy: serde_json::Value = serde_json::from_str(&policy_json(&doc)).unwrap();
    let group =
        format!("arn:aws:logs:{REGION}:{account}:log-group:aws-cloudtrail-logs-organization");
    assert_eq!(
        policy["Statement"][1]["Resource"],
        serde_json::json!([group, format!("{group}:*")]),
        "{policy}"
    );
    let allowed: BTreeSet<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|a| a.as_str())
        })
        .collect();
    assert_eq!(
        allowed,
        quell::member::TRAIL_READER_PERMISSIONS
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
    );
}

/// An inline policy as JSON. IAM returns it URL-encoded JSON; the emulator returns a policy its
/// CloudFormation made as the Python repr of the document (single quotes), which for quell's
/// policies (no quote or apostrophe in any value) differs from JSON only in its quotes.
fn policy_json(doc: &str) -> String {
    let doc = quell::policy::percent_decode(doc);
    if doc.starts_with("{'") {
        assert!(!doc.contains('"'), "{doc}");
        doc.replace('\'', "\"")
    } else {
        doc
    }
}
