use super::*;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::describe_iam_instance_profile_associations::DescribeIamInstanceProfileAssociationsOutput;
use aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput;
use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::types::{
    EbsInstanceBlockDevice, GroupIdentifier, Instance, InstanceBlockDeviceMapping,
    InstanceNetworkInterface, NetworkInterface, Reservation,
};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

const ID: &str = "i-0a1b2c3d4e5f60718";

fn open_state() -> State {
    State {
        vpc: "vpc-1".into(),
        interfaces: vec![("eni-1".into(), vec!["sg-web".into(), "sg-ssh".into()])],
        volumes: vec!["vol-1".into(), "vol-2".into()],
        tags: vec![("Name".into(), "web-1".into())],
        isolation_group: None,
        snapshotted: vec![],
        profile: Some((
            "iip-assoc-1".into(),
            "arn:aws:iam::111111111111:instance-profile/web".into(),
        )),
        termination_protected: false,
        asg: None,
    }
}

fn isolated_state() -> State {
    State {
        interfaces: vec![("eni-1".into(), vec!["sg-iso".into()])],
        tags: vec![
            (ISOLATED_BY_TAG.into(), "f-1".into()),
            (PREVIOUS_GROUPS_TAG.into(), "eni-1=sg-web+sg-ssh".into()),
        ],
        isolation_group: Some(("sg-iso".into(), vec![], vec![])),
        snapshotted: vec!["vol-1".into(), "vol-2".into()],
        profile: None,
        termination_protected: true,
        ..open_state()
    }
}

#[test]
fn an_open_instance_needs_every_step_in_evidence_first_order() {
    let t = Target::new(ID, "f-1");
    let s = steps(&t, &open_state(), false);
    let actions: Vec<&str> = s.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        [
            "ec2:CreateSecurityGroup",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:CreateSnapshot",
            "ec2:CreateSnapshot",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:DisassociateIamInstanceProfile",
            "ec2:ModifyInstanceAttribute",
        ]
    );
    assert!(
        s[2].detail
            .contains("quell:previous-groups=eni-1=sg-web+sg-ssh"),
        "{}",
        s[2].detail
    );
    assert!(!actions
        .iter()
        .any(|a| a.contains("Stop") || a.contains("Terminate")));
}

#[test]
fn an_isolated_instance_needs_nothing_and_a_replay_takes_no_second_snapshot() {
    let t = Target::new(ID, "f-1");
    assert!(steps(&t, &isolated_state(), false).is_empty());
    // A second finding for the same instance: its own snapshots and tag, nothing else.
    let t2 = Target::new(ID, "f-2");
    let s = steps(
        &t2,
        &State {
            snapshotted: vec![],
            ..isolated_state()
        },
        false,
    );
    let actions: Vec<&str> = s.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        ["ec2:CreateTags", "ec2:CreateSnapshot", "ec2:CreateSnapshot"]
    );
}

#[test]
fn an_isolation_group_that_gained_rules_is_emptied_and_asg_members_are_reported() {
    let t = Target::new(ID, "f-1");
    let mut s = isolated_state();
    s.isolation_group = Some((
        "sg-iso".into(),
        vec![IpPermission::builder().ip_protocol("-1").build()],
        vec![],
    ));
    s.tags = vec![("aws:autoscaling:groupName".into(), "web-asg".into())];
    s.asg = Some("web-asg".into());
    let st = steps(&t, &s, false);
    assert!(
        !st.iter().any(|x| x.action == "autoscaling:DetachInstances"),
        "reported only, unless configured"
    );
    let detached = steps(&t, &s, true);
    assert!(detached
        .iter()
        .any(|x| x.action == "autoscaling:DetachInstances" && x.detail.contains("web-asg")));
    assert_eq!(st[0].action, "ec2:RevokeSecurityGroupIngress");
    assert!(
        st[1]
            .detail
            .contains("Auto Scaling group web-asg: reported, left in the group"),
        "{}",
        st[1].detail
    );
}

fn instance_rule() -> MockRule {
    mock!(Client::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(
                        Instance::builder()
                            .instance_id(ID)
                            .vpc_id("vpc-1")
                            .network_interfaces(
                                InstanceNetworkInterface::builder()
                                    .network_interface_id("eni-1")
                                    .groups(GroupIdentifier::builder().group_id("sg-web").build())
                                    .build(),
                            )
                            .block_device_mappings(
                                InstanceBlockDeviceMapping::builder()
                                    .ebs(
                                        EbsInstanceBlockDevice::builder()
                                            .volume_id("vol-1")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn c(ec2: aws_sdk_ec2::Client) -> Clients {
    let conf = aws_sdk_autoscaling::config::Config::builder()
        .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
        .build();
    Clients {
        ec2,
        autoscaling: aws_sdk_autoscaling::Client::from_conf(conf),
    }
}

fn reads() -> Vec<MockRule> {
    vec![
        instance_rule(),
        mock!(Client::describe_network_interfaces).then_output(|| {
            DescribeNetworkInterfacesOutput::builder()
                .network_interfaces(
                    NetworkInterface::builder()
                        .network_interface_id("eni-1")
                        .groups(GroupIdentifier::builder().group_id("sg-web").build())
                        .build(),
                )
                .build()
        }),
        mock!(Client::describe_security_groups)
            .then_output(|| DescribeSecurityGroupsOutput::builder().build()),
        mock!(Client::describe_snapshots)
            .then_output(|| DescribeSnapshotsOutput::builder().build()),
        mock!(Client::describe_iam_instance_profile_associations)
            .then_output(|| DescribeIamInstanceProfileAssociationsOutput::builder().build()),
        mock!(Client::describe_instance_attribute).then_output(|| {
            DescribeInstanceAttributeOutput::builder()
                .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
                .build()
        }),
    ]
}

#[tokio::test]
async fn dry_run_reads_once_and_writes_nothing() {
    let r = reads();
    let create = mock!(Client::create_security_group).then_output(|| {
        CreateSecurityGroupOutput::builder()
            .group_id("sg-iso")
            .build()
    });
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &create]
    );
    let out = execute(
        &Ec2IsolateInstance::default(),
        &c(ec2),
        &Target::new(ID, "f-1"),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(steps.iter().any(|s| s.action == "ec2:CreateSnapshot"));
    assert_eq!(create.num_calls(), 0);
    assert_eq!(r[0].num_calls(), 1, "tags and plan share one read");
}

#[tokio::test]
async fn access_denied_is_permanent_throttling_retryable() {
    for (code, retryable) in [
        ("UnauthorizedOperation", false),
        ("RequestLimitExceeded", true),
    ] {
        let d = mock!(Client::describe_instances).then_error(move || {
            DescribeInstancesError::generic(ErrorMetadata::builder().code(code).build())
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d]);
        let out = execute(
            &Ec2IsolateInstance::default(),
            &c(ec2),
            &Target::new(ID, "f-1"),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.is_retryable(), retryable, "{code}: {out:?}");
        assert!(matches!(out, Outcome::Failed { .. }));
    }
}

#[tokio::test]
async fn an_exempt_instance_is_left_alone() {
    let d = mock!(Client::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(
                        Instance::builder()
                            .instance_id(ID)
                            .vpc_id("vpc-1")
                            .tags(Tag::builder().key("quell:exempt").value("true").build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let r = reads();
    let create = mock!(Client::create_security_group).then_output(|| {
        CreateSecurityGroupOutput::builder()
            .group_id("sg-iso")
            .build()
    });
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&d, &r[1], &r[2], &r[3], &r[4], &r[5], &create]
    );
    let out = execute(
        &Ec2IsolateInstance::default(),
        &c(ec2),
        &Target::new(ID, "f-1"),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Exempt { .. }), "{out:?}");
    assert_eq!(create.num_calls(), 0);
}

fn parse(name: &str) -> Finding {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    quell::event::Envelope::parse_slice(text.as_bytes())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

#[test]
fn brute_force_isolates_the_actor_never_the_target() {
    let f = parse("guardduty-ec2-sshbruteforce-target.json");
    assert!(
        !Ec2IsolateInstance::SPEC.matches(&f),
        "the instance being brute-forced is the victim"
    );
    let mut actor = f.clone();
    actor.resource_role = Some("ACTOR".into());
    assert!(Ec2IsolateInstance::SPEC.matches(&actor));
    let c2 = parse("guardduty-ec2-backdoor-ccactivity-b.json");
    assert!(Ec2IsolateInstance::SPEC.matches(&c2));
}

#[test]
fn minimum_severity_is_configurable() {
    let mut r = Ec2IsolateInstance::default();
    r.configure(&|k| (k == "QUELL_ISOLATE_MIN_SEVERITY").then(|| "CRITICAL".to_string()))
        .unwrap();
    let f = parse("guardduty-ec2-cryptocurrency-bitcointool.json");
    assert!(r
        .target(&f)
        .unwrap_err()
        .0
        .contains("below QUELL_ISOLATE_MIN_SEVERITY"));
    assert_eq!(
        Ec2IsolateInstance::default().target(&f).unwrap().instance,
        "i-0a1b2c3d4e5f60718"
    );
    assert_eq!(
        r.configure(&|_| Some("urgent".into())).unwrap_err().var,
        "QUELL_ISOLATE_MIN_SEVERITY"
    );
}
