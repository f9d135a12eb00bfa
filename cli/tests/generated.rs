//! The code is the single source of truth: templates, policies and routing are checked against the
//! remediations' Specs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use quell_cli::{registry, route, template};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Fails with the first line that differs, so drift is easy to see.
fn same_or_explain(file: &str, committed: &str, generated: &str) {
    if committed == generated {
        return;
    }
    let line = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    panic!(
        "{file} differs from what the Specs generate, first at line {}:\n  committed: {:?}\n  generated: {:?}\nrun `make generate` and commit",
        line + 1,
        committed.lines().nth(line),
        generated.lines().nth(line)
    );
}

#[test]
fn template_yaml_is_what_the_specs_generate() {
    let committed = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    same_or_explain(
        "template.yaml",
        &committed,
        &template::central(&registry::specs()),
    );
}

#[test]
fn member_and_trail_templates_are_what_the_specs_generate() {
    for (path, generated) in [
        (
            "member/regional.yaml",
            template::member_regional(&registry::specs()),
        ),
        ("org/trail.yaml", template::trail(&registry::specs())),
    ] {
        let committed = std::fs::read_to_string(root().join(path)).expect(path);
        same_or_explain(path, &committed, &generated);
    }
    let committed =
        std::fs::read_to_string(root().join("member/roles.yaml")).expect("member/roles.yaml");
    same_or_explain(
        "member/roles.yaml",
        &committed,
        &template::member_roles(&registry::specs()),
    );
    // Each function's member role trusts only its own central role's path, which the central
    // template sets; each central role may assume only its own member role, in the organization.
    let central = template::central(&registry::specs());
    for s in registry::specs() {
        assert!(
            committed.contains(&format!("RoleName: quell-{}\n", s.id)),
            "{}",
            s.id
        );
        assert!(committed.contains(&format!(":role/quell/{}/*\"", s.id)));
        assert!(central.contains(&format!("RolePath: /quell/{}/\n", s.id)));
        assert!(central.contains(&format!(
            "Resource: !Sub \"arn:${{AWS::Partition}}:iam::*:role/quell-{}\"",
            s.id
        )));
        // Its policy is exactly the generated one.
        assert!(committed.contains(&template::yaml_flow(&template::member_policy(&s))));
    }
    // Each function may assume its own member role; the alarm responder, also the trail reader
    // (org/trail.yaml), and no other function may.
    let readers = registry::specs()
        .iter()
        .filter(|s| !s.triggers.alarm_metrics.is_empty())
        .count();
    assert_eq!(readers, 1);
    assert_eq!(
        central
            .matches("aws:ResourceOrgID: !Ref OrganizationId")
            .count(),
        registry::specs().len() + readers
    );
    assert_eq!(
        central
            .matches(&format!(
                "Resource: !Sub \"arn:${{AWS::Partition}}:iam::${{OrgTrailAccountId}}:role/{}\"",
                quell::member::TRAIL_READER_ROLE
            ))
            .count(),
        readers
    );
    let responder = central
        .split("  CloudtrailAlarmResponseFunction:")
        .nth(1)
        .and_then(|f| f.split("\n  CloudtrailAlarmResponseLogGroup:").next())
        .expect("the alarm responder");
    assert!(responder.contains(quell::member::TRAIL_READER_ROLE));
    assert!(responder.contains("QUELL_ORG_TRAIL_ACCOUNT: !Ref OrgTrailAccountId"));
    // The trail reader: the responder's function role alone, the trail's log group alone.
    let trail = std::fs::read_to_string(root().join("org/trail.yaml")).expect("org/trail.yaml");
    let reader = trail
        .split("  TrailReaderRole:")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .expect("TrailReaderRole");
    assert!(
        reader.contains(":role/quell/cloudtrail-alarm-response/*\""),
        "{reader}"
    );
    assert!(
        reader.contains(&quell::privilege::trail_reader_policy().to_string()),
        "{reader}"
    );
    assert_eq!(
        central.matches("dynamodb:LeadingKeys").count(),
        registry::specs().len()
    );
    // The undo role trusts the operators' role, never a function's.
    let undo = committed
        .split("  UndoRole:")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .expect("UndoRole");
    let trust = undo.split("Policies:").next().unwrap();
    assert!(trust.contains("AWS: !Ref OperatorRoleArn") && !trust.contains(":role/quell/"));
    assert!(
        committed.contains(&template::yaml_flow(&template::undo_policy(
            &registry::specs()
        )))
    );
}

#[test]
fn docs_table_is_what_the_specs_generate() {
    let doc =
        std::fs::read_to_string(root().join("docs/remediations.md")).expect("docs/remediations.md");
    assert!(
        doc.contains(&template::docs_table(&registry::specs())),
        "docs/remediations.md differs from the Specs: run `make generate` and commit"
    );
}

fn well_formed_action(a: &str) -> bool {
    let Some((service, action)) = a.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action.as_bytes()[0].is_ascii_uppercase()
        && action.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn every_spec_declares_well_formed_permissions_and_triggers() {
    let mut ids = BTreeSet::new();
    for s in registry::specs() {
        assert!(ids.insert(s.id), "{} is declared twice", s.id);
        assert!(
            s.id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{} is not kebab-case",
            s.id
        );
        // Only a notify-only remediation (it changes nothing) declares no permission.
        assert_eq!(
            s.permissions.is_empty(),
            s.id == "guardduty-escalate",
            "{} declares no permission",
            s.id
        );
        for p in s.permissions {
            assert!(
                well_formed_action(p),
                "{}: `{p}` is not an IAM action",
                s.id
            );
            assert!(!p.contains('*'), "{}: `{p}` is a wildcard", s.id);
        }
        assert!(
            !quell::routing::rules(&s, &template::TemplateActionTargets).is_empty(),
            "{} has no trigger",
            s.id
        );
    }
    assert!(
        !well_formed_action("s3:*") && !well_formed_action("s3") && !well_formed_action("S3:Get")
    );
}

/// Every action a policy allows, in any of its Allow statements.
fn allowed(policy: &serde_json::Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| st["Effect"] == "Allow")
        .flat_map(|st| st["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_member_role_holds_exactly_its_specs_actions_and_never_quells_own_roles() {
    let specs = registry::specs();
    for s in &specs {
        let policy = template::member_policy(s);
        let expected: BTreeSet<String> = s
            .permissions
            .iter()
            .chain(quell::hub::MEMBER_PERMISSIONS.iter())
            .map(|a| a.to_string())
            .collect();
        assert_eq!(allowed(&policy), expected, "{}", s.id);
        for undo_only in s.undo_permissions {
            assert!(
                !allowed(&policy).contains(*undo_only),
                "{}: {undo_only} is for undo only",
                s.id
            );
        }
        let deny = &policy["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        let denied: Vec<&str> = deny["Action"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        for a in [
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:AttachRolePolicy",
        ] {
            assert!(denied.contains(&a), "{a}");
        }
        assert!(deny["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().ends_with(":role/quell-*")));
    }
    // No function's role can do what only an undo needs.
    let undo_only: BTreeSet<String> = specs
        .iter()
        .flat_map(|s| s.undo_permissions.iter().map(|a| a.to_string()))
        .collect();
    for a in [
        "cloudtrail:StopLogging",
        "kms:DisableKey",
        "config:StopConfigurationRecorder",
    ] {
        assert!(undo_only.contains(a), "{a} is undo-only");
        for s in &specs {
            assert!(
                !allowed(&template::member_policy(s)).contains(a),
                "{}: {a}",
                s.id
            );
        }
    }
    let undo = allowed(&template::undo_policy(&specs));
    assert!(undo_only.is_subset(&undo));
    // iam:PassRole only on the roles quell passes, each to its one service, and never for the
    // undo role; nor may the undo role write quell's forwarding rules.
    assert!(!undo.contains("iam:PassRole"));
    assert!(!undo.contains("events:PutRule") && !undo.contains("events:PutTargets"));
    let mut passed = BTreeSet::new();
    for s in &specs {
        let policy = template::member_policy(s);
        for st in policy["Statement"].as_array().unwrap() {
            let passes = st["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "iam:PassRole");
            if passes && st["Effect"] == "Allow" {
                assert_eq!(st["Action"], serde_json::json!(["iam:PassRole"]), "{}", s.id);
                let service = st["Condition"]["StringEquals"]["iam:PassedToService"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: PassRole to no one service", s.id));
                passed.insert((st["Resource"].to_string(), service.to_string()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig", "config.amazonaws.com"),
        ("quell-forward", "events.amazonaws.com"),
    ]
    .iter()
    .map(|(r, svc)| {
        (
            serde_json::json!([format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{r}")]).to_string(),
            svc.to_string(),
        )
    })
    .collect();
    assert_eq!(passed, expected);
    // Only a role that puts quell's forwarding rules back may write them, and only them, and
    // only towards the quell bus or the account's own default bus.
    for s in &specs {
        let policy = template::member_policy(s);
        let statements = policy["Statement"].as_array().unwrap();
        let guard = statements.iter().find(|st| st["Sid"] == "NeverChangeQuellItself").unwrap();
        let writes = s.permissions.contains(&"events:PutTargets");
        let guarded = |a: &str| guard["Action"].as_array().unwrap().iter().any(|x| x == a);
        assert_eq!(guarded("events:PutTargets"), !writes, "{}", s.id);
        assert!(guarded("events:DeleteRule") && guarded("events:RemoveTargets") && guarded("events:DisableRule"));
        if writes {
            let only = statements.iter().find(|st| st["Sid"] == "PutBackOnlyQuellsForwardingRules").unwrap();
            assert_eq!(only["Effect"], "Deny");
            assert_eq!(
                only["NotResource"].as_array().unwrap().len(),
                quell::member::regional_forward_rules().count()
            );
            let to = statements.iter().find(|st| st["Sid"] == "ForwardOnlyToQuell").unwrap();
            assert_eq!(
                to["Condition"]["ForAnyValue:ArnNotEquals"]["events:TargetArn"],
                serde_json::json!([quell::privilege::FORWARD_TARGET])
            );
            let some = statements.iter().find(|st| st["Sid"] == "ForwardOnlyWithATarget").unwrap();
            assert_eq!(some["Condition"]["Null"]["events:TargetArn"], "true");
            // In the template: the quell bus in a member, the home default bus in the security
            // account.
            let yaml = template::yaml_flow(&policy);
            assert!(!yaml.contains("QuellForwardTarget"));
            assert!(yaml.contains("!If [IsSecurityAccount, !Sub [\"arn:${AWS::Partition}:events:${Home}:${AWS::AccountId}:event-bus/default\", {Home: !Select [3, !Split [\":\", !Ref CentralEventBusArn]]}], !Ref CentralEventBusArn]"));
        }
    }
}

/// The forwarding rules tamper-restore puts back are the templates' own: each rule's pattern and
/// description in member/regional.yaml and org/trail.yaml is quell::member's, and the API calls
/// quell-ForwardApiCalls forwards are every Spec's.
#[test]
fn the_forwarding_rules_put_back_are_the_templates() {
    let specs = registry::specs();
    let calls: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.triggers.cloudtrail_events.iter().copied())
        .collect();
    let shared: BTreeSet<&str> = quell::member::API_CALLS.iter().copied().collect();
    assert_eq!(calls, shared, "the Specs' calls (left), quell::member::API_CALLS (right)");
    let mut seen = 0;
    for path in ["member/regional.yaml", "org/trail.yaml"] {
        let text = std::fs::read_to_string(root().join(path)).expect(path);
        let mut name = None;
        let mut description = None;
        for line in text.lines() {
            let t = line.trim();
            if let Some(n) = t.strip_prefix("Name: quell-Forward") {
                name = Some(format!("quell-Forward{n}"));
            } else if let Some(d) = t.strip_prefix("Description: ").filter(|_| name.is_some()) {
                description = Some(d.trim_matches('"').to_string());
            } else if let Some(p) = t.strip_prefix("EventPattern: ") {
                let n = name.take().expect("a pattern after a rule's name");
                let (what, pattern) = quell::member::forward_pattern(&n).expect(&n);
                let in_template: serde_json::Value = serde_json::from_str(p).unwrap();
                assert_eq!(in_template, pattern, "{path}: {n}");
                assert_eq!(
                    description.take().as_deref(),
                    Some(format!("quell: forwards {what} to quell's home Region").as_str()),
                    "{path}: {n}"
                );
                seen += 1;
            }
        }
    }
    assert_eq!(seen, quell::member::FORWARD_RULES.len());
    // Where member/regional.yaml makes each rule is where tamper-restore puts it back, towards the
    // target it gives it; org/trail.yaml's is put back nowhere (no quell role is where it is made).
    let text = std::fs::read_to_string(root().join("member/regional.yaml")).unwrap();
    let mut placed = Vec::new();
    let mut condition = None;
    for line in text.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("Condition: ") {
            condition = Some(c.to_string());
        } else if let Some(n) = line.strip_prefix("Name: quell-Forward") {
            placed.push((format!("quell-Forward{n}"), condition.take().unwrap()));
        }
    }
    let names: BTreeSet<&str> = placed.iter().map(|(n, _)| n.as_str()).collect();
    let regional: BTreeSet<&str> = quell::member::regional_forward_rules().collect();
    assert_eq!(names, regional);
    let bus = "arn:aws:events:us-east-1:999999999999:event-bus/quell";
    let home_default = "arn:aws:events:us-east-1:999999999999:event-bus/default";
    for (name, condition) in &placed {
        let member = quell::member::forwarder(name, "111111111111", "eu-west-1", bus);
        assert_eq!(member.is_ok(), condition == "ForwardsOwnEvents", "{name} ({condition})");
        if let Ok(f) = member {
            assert_eq!(f.target_arn, bus);
            assert_eq!(f.role_arn, "arn:aws:iam::111111111111:role/quell-forward");
        }
        let security = quell::member::forwarder(name, "999999999999", "eu-west-1", bus).unwrap();
        assert_eq!(security.target_arn, home_default, "{name}");
        assert!(quell::member::forwarder(name, "999999999999", "us-east-1", bus).is_err());
    }
    assert!(quell::member::forwarder(quell::member::TRAIL_FORWARD_RULE, "111111111111", "eu-west-1", bus).is_err());
}

/// Which functions each sample event is meant for. An event no remediation handles yet is
/// listed with none, so that it is reported, never silently dropped.
const MEANT_FOR: &[(&str, &[&str])] = &[
    (
        "config-ssm-document-not-public.json",
        &["ssm-document-private"],
    ),
    (
        "securityhub-imported-fsbp-ssm-4.json",
        &["ssm-document-private"],
    ),
    (
        "securityhub-v2-imported-fsbp-ssm-4.json",
        &["ssm-document-private"],
    ),
    (
        "securityhub-custom-action-ssm-4.json",
        &["ssm-document-private"],
    ),
    (
        "config-rds-instance-public-access-check.json",
        &["rds-instance-private"],
    ),
    (
        "securityhub-imported-fsbp-rds-2.json",
        &["rds-instance-private"],
    ),
    (
        "securityhub-v2-imported-fsbp-rds-2.json",
        &["rds-instance-private"],
    ),
    (
        "securityhub-custom-action-rds-2.json",
        &["rds-instance-private"],
    ),
    (
        "config-rds-snapshots-public-prohibited.json",
        &["rds-snapshot-private"],
    ),
    (
        "securityhub-imported-fsbp-rds-1.json",
        &["rds-snapshot-private"],
    ),
    (
        "securityhub-v2-imported-fsbp-rds-1.json",
        &["rds-snapshot-private"],
    ),
    (
        "securityhub-custom-action-rds-1.json",
        &["rds-snapshot-private"],
    ),
    (
        "config-rds-instance-deletion-protection-enabled.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-imported-fsbp-rds-8.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-v2-imported-fsbp-rds-8.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-custom-action-rds-8.json",
        &["rds-deletion-protection"],
    ),
    (
        "config-rds-cluster-deletion-protection-enabled.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-imported-fsbp-rds-7.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-v2-imported-fsbp-rds-7.json",
        &["rds-deletion-protection"],
    ),
    (
        "securityhub-custom-action-rds-7.json",
        &["rds-deletion-protection"],
    ),
    (
        "config-subnet-auto-assign-public-ip-disabled.json",
        &["ec2-subnet-no-public-ip"],
    ),
    (
        "securityhub-imported-fsbp-ec2-15.json",
        &["ec2-subnet-no-public-ip"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-15.json",
        &["ec2-subnet-no-public-ip"],
    ),
    (
        "securityhub-custom-action-ec2-15.json",
        &["ec2-subnet-no-public-ip"],
    ),
    (
        "config-lambda-function-public-access-prohibited.json",
        &["lambda-remove-public-access"],
    ),
    (
        "securityhub-imported-fsbp-lambda-1.json",
        &["lambda-remove-public-access"],
    ),
    (
        "securityhub-v2-imported-fsbp-lambda-1.json",
        &["lambda-remove-public-access"],
    ),
    (
        "securityhub-custom-action-lambda-1.json",
        &["lambda-remove-public-access"],
    ),
    ("config-sns-encrypted-kms.json", &["sns-encrypt-topic"]),
    (
        "securityhub-imported-nist-sns-1.json",
        &["sns-encrypt-topic"],
    ),
    (
        "securityhub-v2-imported-nist-sns-1.json",
        &["sns-encrypt-topic"],
    ),
    (
        "securityhub-custom-action-sns-1.json",
        &["sns-encrypt-topic"],
    ),
    (
        "guardduty-lambda-backdoor-ccactivity-b.json",
        &["lambda-contain-function"],
    ),
    (
        "securityhub-custom-action-kms-4.json",
        &["kms-enable-key-rotation"],
    ),
    (
        "securityhub-custom-action-sqs-1.json",
        &["sqs-encrypt-queue"],
    ),
    (
        "securityhub-custom-action-dynamodb-6.json",
        &["dynamodb-deletion-protection"],
    ),
    (
        "securityhub-custom-action-ec2-1.json",
        &["ebs-snapshot-private"],
    ),
    (
        "config-cmk-backing-key-rotation-enabled.json",
        &["kms-enable-key-rotation"],
    ),
    (
        "securityhub-imported-fsbp-kms-4.json",
        &["kms-enable-key-rotation"],
    ),
    (
        "securityhub-v2-imported-fsbp-kms-4.json",
        &["kms-enable-key-rotation"],
    ),
    ("config-sqs-queue-encrypted.json", &["sqs-encrypt-queue"]),
    (
        "securityhub-imported-fsbp-sqs-1.json",
        &["sqs-encrypt-queue"],
    ),
    (
        "securityhub-v2-imported-fsbp-sqs-1.json",
        &["sqs-encrypt-queue"],
    ),
    (
        "config-dynamodb-table-deletion-protection-enabled.json",
        &["dynamodb-deletion-protection"],
    ),
    (
        "securityhub-imported-fsbp-dynamodb-6.json",
        &["dynamodb-deletion-protection"],
    ),
    (
        "securityhub-v2-imported-fsbp-dynamodb-6.json",
        &["dynamodb-deletion-protection"],
    ),
    (
        "config-ebs-snapshot-public-restorable-check.json",
        &["ebs-snapshot-private"],
    ),
    (
        "securityhub-imported-fsbp-ec2-1.json",
        &["ebs-snapshot-private"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-1.json",
        &["ebs-snapshot-private"],
    ),
    (
        "cloudwatch-alarm-consolesigninwithoutmfa.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-rootaccountusage.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-cloudtrailconfigchanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-disableordeletecmk.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-awsconfigchanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-unauthorizedapicalls.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-iampolicychanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-naclchanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-networkgatewaychanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-routetablechanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-vpcchanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-consoleauthenticationfailures.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-securitygroupchanges.json",
        &["cloudtrail-alarm-response"],
    ),
    (
        "cloudwatch-alarm-s3bucketpolicychanges.json",
        &["cloudtrail-alarm-response"],
    ),
    ("config-restricted-ssh.json", &["ec2-revoke-open-ingress"]),
    (
        "securityhub-imported-fsbp-ec2-13.json",
        &["ec2-revoke-open-ingress"],
    ),
    (
        "securityhub-custom-action-ec2-13.json",
        &["ec2-revoke-open-ingress"],
    ),
    (
        "config-securityhub-vpc-default-security-group-closed-6c5f2e1d.json",
        &["ec2-close-default-sg"],
    ),
    (
        "securityhub-imported-fsbp-ec2-2.json",
        &["ec2-close-default-sg"],
    ),
    (
        "securityhub-custom-action-ec2-2.json",
        &["ec2-close-default-sg"],
    ),
    (
        "config-s3-bucket-server-side-encryption-enabled.json",
        &["s3-enable-default-encryption"],
    ),
    (
        "securityhub-imported-fsbp-s3-4.json",
        &["s3-enable-default-encryption"],
    ),
    (
        "securityhub-custom-action-s3-4.json",
        &["s3-enable-default-encryption"],
    ),
    (
        "config-s3-bucket-ssl-requests-only.json",
        &["s3-require-tls"],
    ),
    ("securityhub-imported-fsbp-s3-5.json", &["s3-require-tls"]),
    ("securityhub-custom-action-s3-5.json", &["s3-require-tls"]),
    (
        "config-ec2-ebs-encryption-by-default.json",
        &["ebs-encryption-by-default"],
    ),
    (
        "securityhub-imported-fsbp-ec2-7.json",
        &["ebs-encryption-by-default"],
    ),
    (
        "securityhub-custom-action-ec2-7.json",
        &["ebs-encryption-by-default"],
    ),
    ("config-ec2-imdsv2-check.json", &["ec2-require-imdsv2"]),
    (
        "securityhub-imported-fsbp-ec2-8.json",
        &["ec2-require-imdsv2"],
    ),
    (
        "securityhub-custom-action-ec2-8.json",
        &["ec2-require-imdsv2"],
    ),
    ("config-iam-password-policy.json", &["iam-password-policy"]),
    (
        "securityhub-imported-fsbp-iam-15.json",
        &["iam-password-policy"],
    ),
    (
        "securityhub-custom-action-iam-15.json",
        &["iam-password-policy"],
    ),
    (
        "config-multi-region-cloudtrail-enabled.json",
        &["cloudtrail-restore-logging"],
    ),
    (
        "securityhub-imported-fsbp-cloudtrail-1.json",
        &["cloudtrail-restore-logging"],
    ),
    (
        "securityhub-custom-action-cloudtrail-1.json",
        &["cloudtrail-restore-logging"],
    ),
    (
        "config-s3-account-level-public-access-blocks.json",
        &["s3-account-public-access-block"],
    ),
    (
        "securityhub-imported-fsbp-s3-1.json",
        &["s3-account-public-access-block"],
    ),
    (
        "securityhub-custom-action-s3-1.json",
        &["s3-account-public-access-block"],
    ),
    (
        "cloudtrail-authorizesecuritygroupingress.json",
        &["ec2-revoke-open-ingress"],
    ),
    // The trail is restored, and the user who stopped it is contained (planned below MEDIUM).
    (
        "guardduty-stealth-cloudtrailloggingdisabled.json",
        &["cloudtrail-restore-logging", "iam-disable-access-key"],
    ),
    (
        "accessanalyzer-s3-bucket-cross-account.json",
        &["s3-restrict-bucket-policy"],
    ),
    (
        "accessanalyzer-iam-role-cross-account.json",
        &["iam-restrict-role-trust"],
    ),
    (
        "accessanalyzer-s3-bucket-acl-public.json",
        &["s3-block-public-access", "s3-restrict-bucket-policy"],
    ),
    (
        "accessanalyzer-s3-bucket-error.json",
        &["s3-restrict-bucket-policy"],
    ),
    (
        "accessanalyzer-s3-bucket-public.json",
        &["s3-block-public-access", "s3-restrict-bucket-policy"],
    ),
    (
        "cloudtrail-stoplogging.json",
        &["cloudtrail-restore-logging"],
    ),
    ("cloudwatch-alarm-single-metric.json", &[]),
    (
        "config-compliance-access-keys-rotated.json",
        &["iam-disable-access-key"],
    ),
    (
        "config-iam-user-unused-credentials-check.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-iam-rootcredentialusage.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        &["iam-revoke-role-sessions"],
    ),
    (
        "securityhub-imported-fsbp-iam-3.json",
        &["iam-disable-access-key"],
    ),
    (
        "securityhub-custom-action-iam-3.json",
        &["iam-disable-access-key"],
    ),
    (
        "config-s3-bucket-public-read-prohibited.json",
        &["s3-block-public-access"],
    ),
    (
        "config-securityhub-s3-bucket-level-public-access-prohibited.json",
        &["s3-block-public-access"],
    ),
    (
        "guardduty-ec2-backdoor-ccactivity-b.json",
        &["ec2-isolate-instance"],
    ),
    (
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &["ec2-isolate-instance"],
    ),
    // The instance is the TARGET of the brute force: not isolated, escalated to a person.
    (
        "guardduty-ec2-sshbruteforce-target.json",
        &["guardduty-escalate"],
    ),
    (
        "guardduty-eks-privilegedcontainer.json",
        &["guardduty-escalate"],
    ),
    (
        "securityhub-custom-action-isolate-instance.json",
        &["ec2-isolate-instance"],
    ),
    (
        "guardduty-iam-recon-maliciousipcaller-custom.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-s3-bucketanonymousaccessgranted.json",
        &["s3-block-public-access"],
    ),
    (
        "guardduty-s3-policy-bucketblockpublicaccessdisabled.json",
        &["s3-block-public-access"],
    ),
    // S3 data events: the credential that made the calls is contained, by its userType; a
    // federated user's is escalated.
    (
        "guardduty-s3-exfiltration-anomalousbehavior.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-s3-discovery-maliciousipcaller-assumedrole.json",
        &["iam-revoke-role-sessions"],
    ),
    // The caller is another account's user: routed to the containment, which finds the key is
    // not the local user's and leaves that user untouched (UNCONFIRMED, NOTIFIED).
    (
        "guardduty-s3-exfiltration-anomalousbehavior-crossaccount.json",
        &["iam-disable-access-key"],
    ),
    (
        "guardduty-s3-exfiltration-anomalousbehavior-federated.json",
        &["guardduty-escalate"],
    ),
    // A team's own custom action (ForensicTriageAction): not quell's, refused and routed nowhere.
    ("securityhub-custom-action-fsbp-ec2-8.json", &[]),
    (
        "securityhub-custom-action-s3-8.json",
        &["s3-block-public-access"],
    ),
    (
        "securityhub-imported-fsbp-s3-2.json",
        &["s3-block-public-access"],
    ),
    (
        "securityhub-imported-fsbp-s3-8-member.json",
        &["s3-block-public-access"],
    ),
    (
        "securityhub-imported-fsbp-s3-8.json",
        &["s3-block-public-access"],
    ),
    // The calls that blind a trail without stopping it: cloudtrail-restore-logging puts it back.
    (
        "cloudtrail-cloudtrail-updatetrail.json",
        &["cloudtrail-restore-logging"],
    ),
    (
        "cloudtrail-cloudtrail-puteventselectors.json",
        &["cloudtrail-restore-logging"],
    ),
    // The calls that blind the organization: tamper-restore answers each.
    (
        "cloudtrail-guardduty-deletedetector.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-guardduty-updatedetector.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-config-stopconfigurationrecorder.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-securityhub-disablesecurityhub.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-securityhub-batchdisablestandards.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-securityhub-disableimportfindingsforproduct.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-cloudwatch-deletealarms.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-config-deletedeliverychannel.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-config-deleteconfigurationrecorder.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-guardduty-disassociatefromadministratoraccount.json",
        &["tamper-restore"],
    ),
    ("cloudtrail-events-deleterule.json", &["tamper-restore"]),
    ("cloudtrail-events-removetargets.json", &["tamper-restore"]),
    (
        "cloudtrail-access-analyzer-deleteanalyzer.json",
        &["tamper-restore"],
    ),
    ("cloudtrail-ec2-deleteflowlogs.json", &["tamper-restore"]),
    ("cloudtrail-logs-deleteloggroup.json", &["tamper-restore"]),
    ("cloudtrail-events-disablerule.json", &["tamper-restore"]),
    (
        "cloudtrail-logs-deletemetricfilter.json",
        &["tamper-restore"],
    ),
    (
        "cloudtrail-cloudtrail-deletetrail.json",
        &["tamper-restore"],
    ),
    // The same sensors' posture: GuardDuty.1, Config.1 and CloudWatch.1, and GuardDuty's Config rule.
    (
        "securityhub-imported-fsbp-guardduty-1.json",
        &["tamper-restore"],
    ),
    ("securityhub-imported-cis-cloudwatch-1.json", &["tamper-restore"]),
    (
        "securityhub-custom-action-guardduty-1.json",
        &["tamper-restore"],
    ),
    (
        "config-guardduty-enabled-centralized.json",
        &["tamper-restore"],
    ),
    (
        "securityhub-v2-imported-fsbp-config-1.json",
        &["tamper-restore"],
    ),
    // The new Security Hub (OCSF): each control's finding routes as its ASFF twin does.
    (
        "securityhub-v2-imported-fsbp-cloudtrail-1.json",
        &["cloudtrail-restore-logging"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-13.json",
        &["ec2-revoke-open-ingress"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-2.json",
        &["ec2-close-default-sg"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-7.json",
        &["ebs-encryption-by-default"],
    ),
    (
        "securityhub-v2-imported-fsbp-ec2-8.json",
        &["ec2-require-imdsv2"],
    ),
    (
        "securityhub-v2-imported-fsbp-iam-15.json",
        &["iam-password-policy"],
    ),
    (
        "securityhub-v2-imported-fsbp-iam-3.json",
        &["iam-disable-access-key"],
    ),
    (
        "securityhub-v2-imported-fsbp-s3-1.json",
        &["s3-account-public-access-block"],
    ),
    (
        "securityhub-v2-imported-fsbp-s3-4.json",
        &["s3-enable-default-encryption"],
    ),
    (
        "securityhub-v2-imported-fsbp-s3-5.json",
        &["s3-require-tls"],
    ),
    (
        "securityhub-v2-imported-fsbp-s3-8.json",
        &["s3-block-public-access"],
    ),
    // A control no remediation takes, and a GuardDuty finding through Security Hub (GuardDuty's
    // own event is what the containments take): routed nowhere.
    ("securityhub-v2-imported-fsbp-ssm-1-ec2-instance.json", &[]),
    (
        "securityhub-v2-imported-guardduty-stealth-cloudtrailloggingdisabled.json",
        &[],
    ),
];

#[test]
fn every_event_routes_to_exactly_the_functions_meant_for_it_and_every_rule_has_an_event() {
    let handlers = registry::handlers();
    let mut fired: BTreeSet<(String, &str)> = BTreeSet::new();
    let dir = root().join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let (_, meant) = MEANT_FOR
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}: say in MEANT_FOR which functions it is for"));
        let event: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
        let got: BTreeSet<&str> = route(&handlers, &event)
            .iter()
            .map(|h| h.spec().id)
            .collect();
        let want: BTreeSet<&str> = meant.iter().copied().collect();
        assert_eq!(got, want, "{name}");
        // The function's own check agrees with its rules.
        let intake = match quell::event::Envelope::parse(event.clone()) {
            Ok(i) => i,
            Err(e) if want.is_empty() => {
                println!("{name}: refused ({e})");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let actions = quell_cli::local_action_targets(&event);
        for h in &handlers {
            let spec = h.spec();
            for r in quell::routing::rules(&spec, &actions) {
                if quell::routing::matches(&r.pattern, &event) {
                    fired.insert((spec.id.to_string(), r.name));
                }
            }
            let by_code = intake.findings.iter().flatten().any(|f| spec.matches(f));
            assert_eq!(
                by_code,
                want.contains(spec.id),
                "{name}: {} Spec::matches disagrees with its rules",
                spec.id
            );
        }
    }
    assert_eq!(
        seen,
        MEANT_FOR.len(),
        "an event in MEANT_FOR is missing from events/"
    );
    let actions = quell::routing::LocalActionTargets {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
    };
    for h in &handlers {
        let spec = h.spec();
        for r in quell::routing::rules(&spec, &actions) {
            assert!(
                fired.contains(&(spec.id.to_string(), r.name)),
                "{} rule {} has no sample event in events/",
                spec.id,
                r.name
            );
        }
    }
}

#[test]
fn replies_do_not_loop_a_resolved_finding_matches_no_rule() {
    let handlers = registry::handlers();
    let mut event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("events/securityhub-imported-fsbp-s3-8-member.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(route(&handlers, &event).len(), 1);
    event["detail"]["findings"][0]["Workflow"]["Status"] = serde_json::json!("RESOLVED");
    assert!(
        route(&handlers, &event).is_empty(),
        "quell's own update would re-trigger it"
    );
}

/// docs/adding-a-remediation.md names the tests that fail when a place is missed: each is a test
/// of this workspace, so the page cannot send a reader to a test that is gone.
#[test]
fn the_adding_a_remediation_page_names_tests_that_exist() {
    let page = std::fs::read_to_string(root().join("docs/adding-a-remediation.md")).unwrap();
    let mut sources = String::new();
    for dir in ["cli/tests", "tests/tests", "tests/src", "shared/src", "cli/src"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let cited: Vec<&str> = page
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.len() > 20 && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(cited.len() >= 3, "{cited:?}");
    for t in cited {
        assert!(
            sources.contains(&format!("fn {t}(")),
            "docs/adding-a-remediation.md cites `{t}`, no such test"
        );
    }
    for id in quell::member::FUNCTION_IDS {
        assert!(
            root()
                .join("functions")
                .join(id)
                .join("src/main.rs")
                .exists(),
            "{id}"
        );
    }
}

/// The dashboard's body is JSON once CloudFormation substitutes it, and shows what operators
/// watch; the alarms read the metrics `quell::metrics` writes.
#[test]
fn the_dashboard_is_json_and_the_alarms_watch_quells_metrics() {
    let t = quell_cli::template::central(&registry::specs());
    let start =
        t.find("DashboardBody: !Sub |").expect("a dashboard") + "DashboardBody: !Sub |".len();
    let body: String = t[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("        ") || l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    // As !Sub would: each ${…} becomes a value.
    let mut subbed = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        subbed.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closed") + i;
        subbed.push('x');
        rest = &rest[end + 1..];
    }
    subbed.push_str(rest);
    let v: serde_json::Value = serde_json::from_str(&subbed).expect("the dashboard body is JSON");
    let titles: Vec<&str> = v["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for want in [
        "Outcomes",
        "Failures",
        "Planned",
        "Dead-letter",
        "Throttles",
        "p99",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "{want}: {titles:?}"
        );
    }
    assert!(
        t.contains(&format!(
            "Namespace: {}\n      MetricName: Outcomes",
            quell::metrics::NAMESPACE
        )),
        "permanent failures alarm"
    );
    for s in registry::specs() {
        let id = quell_cli::registry::logical_id(s.id);
        assert!(t.contains(&format!("{id}ThrottlesAlarm:")), "{id}");
    }
    assert!(t.contains("Tracing: !Ref Tracing"));
    assert!(
        subbed.contains(r#"["quell", "CapsReached", "outcome", "PLANNED"]"#),
        "caps reached"
    );
}

/// `quell pause`, `resume` and `redrive` find the deployed functions by their tag; the stack can
/// be deployed paused.
#[test]
fn every_function_carries_its_remediation_tag_and_the_stack_can_deploy_paused() {
    let t = quell_cli::template::central(&registry::specs());
    for s in registry::specs() {
        let id = quell_cli::registry::logical_id(s.id);
        let at = t
            .find(&format!("\n  {id}Function:\n"))
            .expect("the function")
            + 1;
        // The function's own resource: up to the next resource (two spaces, then a name).
        let len = t[at..]
            .match_indices("\n  ")
            .map(|(i, _)| i)
            .find(|&i| t[at + i + 3..].starts_with(|c: char| c.is_ascii_alphabetic()))
            .unwrap_or(t.len() - at);
        let resource = &t[at..at + len];
        assert!(
            resource.contains(&format!(
                "\n      Tags:\n        {}: {}\n",
                quell_cli::ops::REMEDIATION_TAG,
                s.id
            )),
            "{id}: {resource}"
        );
    }
    assert!(t.contains("ReservedConcurrentExecutions: !If [IsPaused, 0, !Ref ReservedConcurrency]"));
    assert!(t.contains("IsPaused: !Equals [!Ref Paused, \"true\"]"));
}

#[test]
fn every_function_description_fits_lambdas_limit() {
    // CreateFunction refuses a Description over 256 characters: the stack would not deploy.
    let t = template::central(&registry::specs());
    let mut seen = 0;
    for line in t.lines() {
        if let Some(d) = line.trim().strip_prefix("Description: \"quell ") {
            seen += 1;
            let d = d.trim_end_matches('"');
            assert!(
                "quell ".len() + d.chars().count() <= 256,
                "{} characters: quell {d}",
                "quell ".len() + d.chars().count()
            );
        }
    }
    assert_eq!(seen, registry::specs().len());
    let long = registry::specs()
        .into_iter()
        .find(|s| s.summary.len() > 256)
        .expect("a summary longer than the limit, to check the cut");
    let d = template::function_description(&long);
    assert!(d.chars().count() <= 256 && d.ends_with("..."), "{d}");
    assert!(format!("quell {}: {}", long.id, long.summary).starts_with(d.trim_end_matches("...")));
}

#[test]
fn the_shared_list_of_forwarding_rules_is_what_the_templates_name() {
    // tamper-restore answers a call on these names alone: a rule the templates add must be here.
    let mut named = BTreeSet::new();
    for path in ["member/regional.yaml", "org/trail.yaml"] {
        let text = std::fs::read_to_string(root().join(path)).expect(path);
        let mut in_rule = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("Type: ") {
                in_rule = t == "Type: AWS::Events::Rule";
            } else if let Some(name) = t.strip_prefix("Name: ").filter(|_| in_rule) {
                named.insert(name.trim_matches('"').to_string());
            }
        }
    }
    let shared: BTreeSet<String> = quell::member::FORWARD_RULES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(!named.is_empty());
    assert_eq!(named, shared, "the templates' rules (left), quell::member::FORWARD_RULES (right)");
}

#[test]
fn the_shared_list_of_functions_is_the_registry() {
    let mut registry: Vec<&str> = registry::specs().iter().map(|s| s.id).collect();
    registry.sort();
    assert_eq!(registry, quell::member::FUNCTION_IDS);
    let mut dirs: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    dirs.sort();
    assert_eq!(dirs, quell::member::FUNCTION_IDS);
    let mut harness: Vec<&str> = quell_tests::specs().iter().map(|s| s.id).collect();
    harness.sort();
    assert_eq!(
        harness,
        quell::member::FUNCTION_IDS,
        "tests/src/lib.rs specs()"
    );
}

/// A CIS finding of a standard's own (not consolidated) form, its requirement number and version.
fn cis_finding(version: &str, id: &str) -> serde_json::Value {
    let mut e: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("events/securityhub-imported-fsbp-ec2-13.json")).unwrap(),
    )
    .unwrap();
    let f = &mut e["detail"]["findings"][0];
    f["Compliance"] = serde_json::json!({"Status": "FAILED"});
    f["GeneratorId"] = serde_json::json!(format!(
        "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/{version}/rule/{id}"
    ));
    f["ProductFields"] = if version == "1.2.0" {
        serde_json::json!({"RuleId": id, "StandardsGuideArn": format!("arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/{version}")})
    } else {
        serde_json::json!({"ControlId": id, "StandardsArn": format!("arn:aws:securityhub:::standards/cis-aws-foundations-benchmark/v/{version}")})
    };
    e
}

#[test]
fn cis_numbers_route_only_with_their_standard_and_version() {
    let handlers = registry::handlers();
    let routed = |e: &serde_json::Value| -> Vec<&str> {
        route(&handlers, e).iter().map(|h| h.spec().id).collect()
    };
    // CIS 1.2.0 4.1: no SSH from anywhere.
    let e = cis_finding("1.2.0", "4.1");
    assert_eq!(routed(&e), ["ec2-revoke-open-ingress"]);
    let f = quell::event::Envelope::parse(e)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(f.kind, "cis-1.2.0/4.1");
    // CIS 1.4.0 4.1 is the unauthorized-API-calls metric filter: not a security group fix.
    let e = cis_finding("1.4.0", "4.1");
    assert!(routed(&e).is_empty(), "{:?}", routed(&e));
    let f = quell::event::Envelope::parse(e)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    assert_eq!(f.kind, "cis-1.4.0/4.1");
    assert!(!handlers.iter().any(|h| h.spec().matches(&f)));
    // The same default-security-group requirement under each version's number.
    for (version, id) in [("1.2.0", "4.3"), ("1.4.0", "5.3"), ("3.0.0", "5.4")] {
        assert_eq!(
            routed(&cis_finding(version, id)),
            ["ec2-close-default-sg"],
            "CIS {version} {id}"
        );
    }
    // Every CIS trigger is qualified: a bare number is refused by this test.
    for s in registry::specs() {
        for c in s.triggers.securityhub_controls {
            assert!(
                c.starts_with("cis-")
                    || c.contains('.') && c.chars().next().unwrap().is_ascii_uppercase(),
                "{}: `{c}` is a bare CIS number; write cis-<version>/<number>",
                s.id
            );
        }
    }
}

/// CIS v3.0.0 and v5.0.0 number both S3.1 (account-level block public access) and, in their
/// own numbering, other S3 controls near it: those standards report only consolidated findings,
/// whose SecurityControlId names the control. A consolidated CIS finding routes by that id alone,
/// whatever its requirement number; the number without it is never guessed from.
#[test]
fn consolidated_cis_findings_route_by_their_control_id_not_their_number() {
    let handlers = registry::handlers();
    let routed = |e: &serde_json::Value| -> Vec<&str> {
        route(&handlers, e).iter().map(|h| h.spec().id).collect()
    };
    for version in ["3.0.0", "5.0.0"] {
        for (file, control, want) in [
            (
                "securityhub-imported-fsbp-s3-1.json",
                "S3.1",
                "s3-account-public-access-block",
            ),
            (
                "securityhub-imported-fsbp-s3-8.json",
                "S3.8",
                "s3-block-public-access",
            ),
        ] {
            let mut e: serde_json::Value =
                serde_json::from_slice(&std::fs::read(root().join("events").join(file)).unwrap())
                    .unwrap();
            let f = &mut e["detail"]["findings"][0];
            f["Compliance"] = serde_json::json!({
                "Status": "FAILED",
                "SecurityControlId": control,
                "AssociatedStandards": [{"StandardsId": format!("standards/cis-aws-foundations-benchmark/v/{version}")}]
            });
            f["ProductFields"]["ControlId"] = serde_json::json!("2.1.4");
            f["ProductFields"]["StandardsArn"] = serde_json::json!(format!(
                "arn:aws:securityhub:::standards/cis-aws-foundations-benchmark/v/{version}"
            ));
            assert_eq!(routed(&e), [want], "CIS {version} 2.1.4 as {control}");
            let parsed = quell::event::Envelope::parse(e)
                .unwrap()
                .findings
                .remove(0)
                .unwrap();
            assert_eq!(parsed.kind, control, "the consolidated id, not the number");
        }
        // The number alone (no consolidated id, which these standards never send) reaches no
        // function: 2.1.4 is not taken to mean either control.
        let e = cis_finding(version, "2.1.4");
        assert!(
            routed(&e).is_empty(),
            "CIS {version} 2.1.4: {:?}",
            routed(&e)
        );
    }
}

/// Routing checked against a second, independent implementation: moto's EventBridge matcher
/// (tests/emulator/match_patterns.py), on the subset it supports. Every generated pattern and
/// every sample event, genuine and forged, must be judged the same by both.
#[test]
fn quells_matcher_agrees_with_moto_on_every_pattern_and_event() {
    use std::io::Write;
    let mut events: Vec<serde_json::Value> = Vec::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let e: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            // The same event under a source of the sender's choosing.
            let mut forged = e.clone();
            forged["source"] = serde_json::json!("acme.forged");
            events.push(e);
            events.push(forged);
        }
    }
    let actions = quell::routing::LocalActionTargets {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
    };
    let patterns: Vec<serde_json::Value> = registry::specs()
        .iter()
        .flat_map(|s| quell::routing::rules(s, &actions))
        .map(|r| r.pattern)
        .collect();
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup`",
        python.display()
    );
    let mut child = std::process::Command::new(python)
        .arg(root().join("tests/emulator/match_patterns.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::json!({"patterns": patterns, "events": events}).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let moto: Vec<Vec<Option<bool>>> = serde_json::from_slice(&out.stdout).unwrap();
    let (mut judged, mut matched) = (0, 0);
    for (p, row) in patterns.iter().zip(&moto) {
        for (e, theirs) in events.iter().zip(row) {
            let ours = quell::routing::matches(p, e);
            if let Some(theirs) = theirs {
                judged += 1;
                matched += usize::from(ours);
                assert_eq!(
                    ours, *theirs,
                    "quell and moto disagree on pattern {p} for event {}",
                    e["id"]
                );
            }
        }
    }
    println!("{judged} pattern/event pairs judged by both, {matched} matches");
    assert!(
        judged > 500 && matched > 20,
        "too few pairs judged: {judged}, {matched}"
    );
}

/// Every GuardDuty finding type AWS documents (events/reference/guardduty-finding-types.csv, 200
/// types) has an answer whatever its actor: for each type, each `userType` GuardDuty writes (and
/// none), and each resource role, an event of that shape matches the deployed rules (the patterns
/// the template carries, EventBridge's semantics) of at least one function. The escalation names
/// no type a containment takes (each type one owner, the brute-force TARGET aside), and a
/// credential threat has exactly one answer for its actor: an IAM user's key, a role's sessions,
/// or the escalation.
#[test]
fn every_documented_guardduty_type_has_an_answer() {
    let text = std::fs::read_to_string(root().join("events/reference/guardduty-finding-types.csv"))
        .unwrap();
    let types: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(types.len(), 200, "the documented list");
    let specs = registry::specs();
    let targets = quell::routing::LocalActionTargets {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "111111111111".into(),
    };
    let rules: Vec<(&str, Vec<quell::routing::Rule>)> = specs
        .iter()
        .map(|s| (s.id, quell::routing::rules(s, &targets)))
        .collect();
    let owners_of = |event: &serde_json::Value| -> Vec<&str> {
        rules
            .iter()
            .filter(|(_, rs)| {
                rs.iter()
                    .any(|r| quell::routing::matches(&r.pattern, event))
            })
            .map(|(id, _)| *id)
            .collect()
    };
    let credential = [
        "iam-disable-access-key",
        "iam-revoke-role-sessions",
        "guardduty-escalate",
    ];
    let (mut escalated, mut credential_threats) = (0, 0);
    for t in &types {
        let is_credential =
            quell::routing::CREDENTIAL_THREATS
                .iter()
                .any(|d| match d.strip_suffix('*') {
                    Some(prefix) => t.starts_with(prefix),
                    None => d == t,
                });
        credential_threats += usize::from(is_credential);
        let mut any_escalated = false;
        for user_type in [
            None,
            Some("IAMUser"),
            Some("Root"),
            Some("AssumedRole"),
            Some("FederatedUser"),
            Some("AWSService"),
            Some("AWSAccount"),
        ] {
            for role in ["ACTOR", "TARGET"] {
                let mut resource = serde_json::json!({"resourceType": "AccessKey"});
                if let Some(u) = user_type {
                    resource["accessKeyDetails"] = serde_json::json!({"accessKeyId": "AKIAEXAMPLE", "userType": u, "userName": "who"});
                }
                let event = serde_json::json!({
                    "source": "aws.guardduty",
                    "detail-type": "GuardDuty Finding",
                    "account": "111111111111",
                    "region": "us-east-1",
                    "detail": {"type": t, "resource": resource, "service": {"resourceRole": role}}
                });
                let owners = owners_of(&event);
                assert!(
                    !owners.is_empty(),
                    "{t} (actor {user_type:?}, {role}): no remediation answers it"
                );
                if is_credential {
                    let answers: Vec<&&str> =
                        owners.iter().filter(|o| credential.contains(o)).collect();
                    assert_eq!(
                        answers.len(),
                        1,
                        "{t} (actor {user_type:?}): one credential answer, not {answers:?}"
                    );
                    let want = match user_type {
                        Some("IAMUser" | "Root") => "iam-disable-access-key",
                        Some("AssumedRole") => "iam-revoke-role-sessions",
                        _ => "guardduty-escalate",
                    };
                    assert_eq!(*answers[0], want, "{t} (actor {user_type:?})");
                } else if owners.contains(&"guardduty-escalate") {
                    any_escalated = true;
                    let contained: Vec<&&str> = owners
                        .iter()
                        .filter(|o| **o != "guardduty-escalate")
                        .collect();
                    assert!(
                        contained.is_empty() || quell::routing::ACTOR_CONTAINED.contains(t),
                        "{t}: escalated and contained by {contained:?}"
                    );
                }
            }
        }
        escalated += usize::from(any_escalated);
    }
    assert_eq!(escalated, 118, "types escalated whatever the actor");
    assert_eq!(
        credential_threats, 42,
        "credential threats, answered by their actor"
    );
}

/// docs/scp.json and org/scp.yaml are what the Specs generate, and the policy holds: it fits an
/// SCP's 5,120 characters, names only `service:Action` actions, denies every call tamper-restore
/// answers to an attacker's role, and spares the deployment roles and quell's own restore.
#[test]
fn the_service_control_policy_denies_every_blinding_call_but_to_the_deployers() {
    let specs = registry::specs();
    let policy = template::scp(&specs);
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/scp.json")).unwrap())
            .expect("docs/scp.json is JSON");
    assert_eq!(
        committed, policy,
        "docs/scp.json is stale: run `make generate`"
    );
    same_or_explain(
        "org/scp.yaml",
        &std::fs::read_to_string(root().join("org/scp.yaml")).unwrap(),
        &template::scp_stack(&specs),
    );
    let minified = policy.to_string();
    assert!(
        minified.len() <= 5120,
        "an SCP is at most 5,120 characters: {}",
        minified.len()
    );

    // A small evaluator of the statements as written: Deny when action, resource and the
    // ArnNotLike condition all match.
    let glob = |pattern: &str, s: &str| {
        let parts: Vec<&str> = pattern.split('*').collect();
        if parts.len() == 1 {
            return pattern == s;
        }
        let mut rest = s;
        for (i, p) in parts.iter().enumerate() {
            if i == 0 {
                let Some(r) = rest.strip_prefix(p) else {
                    return false;
                };
                rest = r;
            } else if i == parts.len() - 1 {
                return rest.ends_with(p);
            } else if let Some(at) = rest.find(p) {
                rest = &rest[at + p.len()..];
            } else {
                return false;
            }
        }
        true
    };
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let denied = |principal: &str, action: &str, resource: &str| {
        policy["Statement"].as_array().unwrap().iter().any(|st| {
            assert_eq!(st["Effect"], "Deny");
            let spared = list(&st["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
            assert!(!spared.is_empty(), "every statement spares the deployers");
            list(&st["Action"]).iter().any(|a| a == action)
                && list(&st["Resource"]).iter().any(|r| glob(r, resource))
                && !spared.iter().any(|p| glob(p, principal))
        })
    };
    for st in policy["Statement"].as_array().unwrap() {
        for a in list(&st["Action"]) {
            let (service, name) = a.split_once(':').expect("service:Action");
            assert!(
                !service.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{a}"
            );
        }
    }
    let attacker = "arn:aws:iam::111111111111:role/developer";
    let deployer = "arn:aws:iam::111111111111:role/stacksets-exec-0123456789abcdef";
    let tamper = specs.iter().find(|s| s.id == "tamper-restore").unwrap();
    for call in tamper.triggers.cloudtrail_events {
        let resource = match *call {
            "cloudwatch:DeleteAlarms" => {
                "arn:aws:cloudwatch:us-east-1:111111111111:alarm:quell-cis-RootAccountUsage"
                    .to_string()
            }
            c if c.starts_with("events:") => {
                "arn:aws:events:us-east-1:111111111111:rule/quell-ForwardApiCalls".to_string()
            }
            c if c.starts_with("logs:") => {
                "arn:aws:logs:us-east-1:111111111111:log-group:aws-controltower/CloudTrailLogs"
                    .to_string()
            }
            _ => "arn:aws:guardduty:us-east-1:111111111111:detector/d1".to_string(),
        };
        assert!(
            denied(attacker, call, &resource),
            "{call} is not denied to {attacker}"
        );
        assert!(
            !denied(deployer, call, &resource),
            "{call} is denied to the deployer"
        );
    }
    // quell's own roles change nothing of quell's, but put sensors back, and undo.
    assert!(denied(
        "arn:aws:iam::111111111111:role/quell-tamper-restore",
        "iam:PutRolePolicy",
        "arn:aws:iam::111111111111:role/quell-tamper-restore"
    ));
    assert!(!denied(
        "arn:aws:iam::111111111111:role/quell-tamper-restore",
        "guardduty:UpdateDetector",
        "*"
    ));
    assert!(!denied(
        "arn:aws:iam::111111111111:role/quell-cloudtrail-restore-logging",
        "cloudtrail:UpdateTrail",
        "*"
    ));
    assert!(!denied(
        "arn:aws:iam::111111111111:role/quell-undo",
        "cloudtrail:StopLogging",
        "*"
    ));
    // The undo role only for what an undo needs: tamper-restore has no undo.
    assert!(denied(
        "arn:aws:iam::111111111111:role/quell-undo",
        "guardduty:UpdateDetector",
        "*"
    ));
    // No one but the deployers makes, re-trusts or re-empowers a role the exceptions name.
    for (action, role) in [
        ("iam:CreateRole", "stacksets-exec-evil"),
        (
            "iam:UpdateAssumeRolePolicy",
            "OrganizationAccountAccessRole",
        ),
        ("iam:AttachRolePolicy", "AWSControlTowerExecution"),
        ("iam:CreateRole", "quell-tamper-restore"),
        ("iam:PutRolePolicy", "quell-undo"),
    ] {
        let arn = format!("arn:aws:iam::111111111111:role/{role}");
        assert!(denied(attacker, action, &arn), "{action} on {role}");
        assert!(
            !denied(deployer, action, &arn),
            "{action} on {role} by the deployer"
        );
    }
    // Leaving the organization, trusting an attacker's addresses, archiving findings.
    for action in [
        "organizations:LeaveOrganization",
        "guardduty:CreateIPSet",
        "guardduty:CreateFilter",
        "securityhub:DisassociateFromAdministratorAccount",
    ] {
        assert!(denied(attacker, action, "*"), "{action}");
    }
    // Another team's alarm and log group are theirs.
    assert!(!denied(
        attacker,
        "logs:DeleteLogGroup",
        "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/app"
    ));
    assert!(!denied(
        attacker,
        "cloudwatch:DeleteAlarms",
        "arn:aws:cloudwatch:us-east-1:111111111111:alarm:team-billing"
    ));
}

/// Each resource of a generated template: (logical id, type).
fn resources(template: &str) -> Vec<(String, String)> {
    let body = template
        .split("\nResources:\n")
        .nth(1)
        .expect("Resources")
        .split("\nOutputs:\n")
        .next()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut name = String::new();
    for line in body.lines() {
        if let Some(n) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
            .and_then(|l| l.strip_suffix(':'))
        {
            name = n.to_string();
        } else if let Some(t) = line.strip_prefix("    Type: ") {
            out.push((name.clone(), t.to_string()));
        }
    }
    out
}

#[test]
fn a_member_stack_is_global_or_regional_never_both() {
    let specs = registry::specs();
    // member/roles.yaml: IAM only (once per account): every function's role, undo, forwarding.
    let roles = resources(&template::member_roles(&specs));
    assert_eq!(roles.len(), specs.len() + 2);
    assert!(
        roles.iter().all(|(_, t)| t == "AWS::IAM::Role"),
        "{roles:?}"
    );
    // member/regional.yaml, deployed in every Region: only regional resources, so a second
    // Region's instance makes nothing that exists once per account.
    let text = template::member_regional(&specs);
    let regional = resources(&text);
    assert!(regional.len() >= 6, "{regional:?}");
    for (id, t) in &regional {
        assert!(
            [
                "AWS::Events::Rule",
                "AWS::Oam::Link",
                "AWS::CloudFormation::WaitConditionHandle"
            ]
            .contains(&t.as_str()),
            "{id} is a {t}: member/regional.yaml runs in every Region and must make no global resource"
        );
    }
    // CloudFormation refuses a stack whose every resource is conditioned out (the security
    // account's home Region has no rule): one resource has no condition.
    assert!(text.contains("  Placeholder:\n    Type: AWS::CloudFormation::WaitConditionHandle\n\n"));
    // Every rule forwards with quell-forward, which member/roles.yaml makes once.
    let rules = regional
        .iter()
        .filter(|(_, t)| t == "AWS::Events::Rule")
        .count();
    assert_eq!(
        text.matches(&format!(
            "RoleArn: !Sub \"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{}\"",
            template::FORWARD_ROLE
        ))
        .count(),
        rules
    );
    assert!(
        template::member_roles(&specs).contains(&format!("RoleName: {}\n", template::FORWARD_ROLE))
    );
    // org/trail.yaml: a filter and an alarm for every CIS metric; its one role only where no
    // member stack made it.
    let trail_text = template::trail(&specs);
    let trail = resources(&trail_text);
    for (metric, ..) in template::CIS_ALARMS {
        assert!(trail.contains(&(format!("{metric}Filter"), "AWS::Logs::MetricFilter".into())));
        assert!(trail.contains(&(format!("{metric}Alarm"), "AWS::CloudWatch::Alarm".into())));
    }
    assert!(
        trail_text.contains("  ForwardRole:\n    Type: AWS::IAM::Role\n    Condition: Forwards\n")
    );
}
