use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::describe_iam_instance_profile_associations::DescribeIamInstanceProfileAssociationsOutput;
use aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput;
use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::types::{
    EbsInstanceBlockDevice, GroupIdentifier, Instance, InstanceBlockDeviceMapping,
    InstanceNetworkInterface, IpPermission, IpRange, Ipv6Range, NetworkInterface, Reservation,
    SecurityGroup,
};
use aws_sdk_ec2::Client;
use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileError;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

use crate::groups::Drift;
use crate::progress::{Progress, LEFT_OPEN};

const ID: &str = "i-0a1b2c3d4e5f60718";

fn open_state() -> State {
    State {
        vpc: "vpc-1".into(),
        interfaces: vec![("eni-1".into(), vec!["sg-web".into(), "sg-ssh".into()])],
        volumes: vec!["vol-1".into(), "vol-2".into()],
        tags: vec![("Name".into(), "web-1".into())],
        isolation_group: None,
        untrack_group: None,
        snapshotted: vec![],
        profile: Some((
            "iip-assoc-1".into(),
            "arn:aws:iam::111111111111:instance-profile/web".into(),
        )),
        termination_protected: false,
        asg: None,
        roles: vec![],
        roles_unread: None,
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
    let s = steps(&t, &open_state(), true);
    let actions: Vec<&str> = s.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        [
            "ec2:CreateSecurityGroup",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:CreateSnapshot",
            "ec2:CreateSnapshot",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:DisassociateIamInstanceProfile",
            "ec2:ModifyInstanceAttribute",
        ]
    );
    assert!(s[0].detail.contains("quell-isolation"), "{}", s[0].detail);
    assert!(
        s[2].detail.contains("quell-untrack") && s[2].detail.contains("quell:isolation=untrack"),
        "{}",
        s[2].detail
    );
    assert!(
        s[5].detail
            .contains("quell:previous-groups=eni-1=sg-web+sg-ssh"),
        "{}",
        s[5].detail
    );
    // Through the untracking group first, then to the isolation group.
    assert!(
        s[8].detail.contains("eni-1 groups=untracking"),
        "{}",
        s[8].detail
    );
    assert!(
        s[9].detail.contains("eni-1 groups=isolation"),
        "{}",
        s[9].detail
    );
    assert!(!actions
        .iter()
        .any(|a| a.contains("Stop") || a.contains("Terminate")));
}

#[test]
fn an_isolated_instance_needs_nothing_and_a_replay_takes_no_second_snapshot() {
    let t = Target::new(ID, "f-1");
    assert!(steps(&t, &isolated_state(), true).is_empty());
    // The untracking group is only on the way: one someone changed is no reason to act on an
    // isolated instance.
    let drifted = State {
        untrack_group: Some((
            "sg-untrack".into(),
            vec![],
            vec![IpPermission::builder().ip_protocol("tcp").build()],
        )),
        ..isolated_state()
    };
    assert!(steps(&t, &drifted, true).is_empty());
    // A second finding for the same instance: its own snapshots and tag, nothing else.
    let t2 = Target::new(ID, "f-2");
    let s = steps(
        &t2,
        &State {
            snapshotted: vec![],
            ..isolated_state()
        },
        true,
    );
    let actions: Vec<&str> = s.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        ["ec2:CreateTags", "ec2:CreateSnapshot", "ec2:CreateSnapshot"]
    );
}

#[test]
fn an_isolation_group_that_gained_rules_is_emptied_and_asg_members_are_detached_by_default() {
    let t = Target::new(ID, "f-1");
    let mut s = isolated_state();
    s.isolation_group = Some((
        "sg-iso".into(),
        vec![IpPermission::builder().ip_protocol("-1").build()],
        vec![],
    ));
    s.tags = vec![("aws:autoscaling:groupName".into(), "web-asg".into())];
    s.asg = Some("web-asg".into());
    let isolate = Ec2IsolateInstance::default();
    assert!(isolate.detach_from_asg, "the evidence is kept by default");
    let st = steps(&t, &s, isolate.detach_from_asg);
    assert_eq!(st[0].action, "ec2:RevokeSecurityGroupIngress");
    let detach = st
        .iter()
        .find(|x| x.action == "autoscaling:DetachInstances")
        .expect("detached by default");
    assert!(
        detach.detail.contains("web-asg")
            && detach
                .detail
                .contains("ShouldDecrementDesiredCapacity=false")
            && detach.detail.contains("kept"),
        "{}",
        detach.detail
    );
    // Configured off: reported only.
    let mut reported = Ec2IsolateInstance::default();
    reported
        .configure(&|k| (k == "QUELL_ISOLATE_DETACH_FROM_ASG").then(|| "false".to_string()))
        .unwrap();
    let st = steps(&t, &s, reported.detach_from_asg);
    assert!(!st.iter().any(|x| x.action == "autoscaling:DetachInstances"));
    assert!(
        st[1]
            .detail
            .contains("Auto Scaling group web-asg: reported, left in the group"),
        "{}",
        st[1].detail
    );
    assert_eq!(
        reported
            .configure(&|k| (k == "QUELL_ISOLATE_DETACH_FROM_ASG").then(|| "yes".to_string()))
            .unwrap_err()
            .var,
        "QUELL_ISOLATE_DETACH_FROM_ASG"
    );
}

/// A rule of all traffic, as EC2 describes it (an empty list of addresses is no list).
fn all_traffic(v4: &[&str], v6: &[&str]) -> IpPermission {
    let v4: Vec<IpRange> = v4
        .iter()
        .map(|c| IpRange::builder().cidr_ip(*c).build())
        .collect();
    let v6: Vec<Ipv6Range> = v6
        .iter()
        .map(|c| Ipv6Range::builder().cidr_ipv6(*c).build())
        .collect();
    IpPermission::builder()
        .ip_protocol("-1")
        .set_ip_ranges((!v4.is_empty()).then_some(v4))
        .set_ipv6_ranges((!v6.is_empty()).then_some(v6))
        .build()
}

#[test]
fn the_untracking_group_allows_all_traffic_and_nothing_else() {
    // Complete: nothing to do.
    let full = Drift::of(&[all_traffic(&["0.0.0.0/0"], &["::/0"])]);
    assert!(!full.missing_v4 && !full.missing_v6 && full.extra.is_empty());
    assert!(full.missing().is_none());
    // A new group's default egress: IPv6 missing, nothing extra.
    let new = Drift::of(&[all_traffic(&["0.0.0.0/0"], &[])]);
    assert!(!new.missing_v4 && new.missing_v6 && new.extra.is_empty());
    let add = new.missing().unwrap();
    assert_eq!(add.ip_protocol(), Some("-1"));
    assert!(add.ip_ranges().is_empty());
    assert_eq!(add.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
    // Someone added rules: a narrower address in the all-traffic rule, and SSH. Both revoked,
    // the all-traffic addresses kept.
    let ssh = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
        .build();
    let d = Drift::of(&[all_traffic(&["0.0.0.0/0", "10.0.0.0/8"], &[]), ssh.clone()]);
    assert!(!d.missing_v4 && d.missing_v6);
    assert_eq!(d.extra.len(), 2, "{:?}", d.extra);
    let narrower: Vec<&str> = d.extra[0]
        .ip_ranges()
        .iter()
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(narrower, ["10.0.0.0/8"]);
    assert_eq!(d.extra[1], ssh);
    // Empty: both addresses missing.
    let empty = Drift::of(&[]);
    assert!(empty.missing_v4 && empty.missing_v6);
    let add = empty.missing().unwrap();
    assert_eq!(add.ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
    assert_eq!(add.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
}

#[test]
fn a_found_untracking_group_is_put_right_before_an_interface_passes_through() {
    let t = Target::new(ID, "f-1");
    let s = State {
        isolation_group: Some(("sg-iso".into(), vec![], vec![])),
        untrack_group: Some((
            "sg-untrack".into(),
            vec![all_traffic(&["0.0.0.0/0", "10.0.0.0/8"], &[])],
            vec![all_traffic(&["0.0.0.0/0"], &["::/0"])],
        )),
        ..open_state()
    };
    let st = steps(&t, &s, true);
    let actions: Vec<&str> = st.iter().map(|s| s.action).collect();
    assert_eq!(
        &actions[..2],
        [
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupIngress"
        ],
        "{st:?}"
    );
    assert!(st[1].detail.contains("::/0") && !st[1].detail.contains("0.0.0.0/0"));
    // An interface a stopped run left in the untracking group goes on to isolation at once.
    let left = State {
        interfaces: vec![("eni-1".into(), vec!["sg-untrack".into()])],
        ..s
    };
    let moves: Vec<String> = steps(&t, &left, true)
        .into_iter()
        .filter(|s| s.action == "ec2:ModifyNetworkInterfaceAttribute")
        .map(|s| s.detail)
        .collect();
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert!(moves[0].contains("groups=isolation"), "{moves:?}");
}

#[test]
fn failures_are_reported_together_and_retried_only_when_a_retry_redoes_them() {
    let throttled = AwsError::other(
        "could not snapshot vol-1",
        "RequestLimitExceeded",
        "slow down",
        true,
    );
    let denied = AwsError::other(
        "could not move eni-1 to the untracking group sg-u",
        "UnauthorizedOperation",
        "no",
        false,
    );
    let mut p = Progress::default();
    p.done("tagged");
    assert!(Progress::default().into_result("instance i-1").is_ok());
    p.failed(&throttled, true);
    let e = p.into_result("instance i-1").unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.code.as_deref(), Some("RequestLimitExceeded"));

    // A retryable failure a retry would not see again (the interface is isolated by now).
    let mut p = Progress::default();
    p.failed(&throttled, true);
    p.failed_so(&throttled, false, "moved straight to the isolation group");
    let e = p.into_result("instance i-1").unwrap_err();
    assert!(!e.retryable, "a person must hear of it: {e}");

    // Every failure named, the open interface first, then what was done.
    let mut p = Progress::default();
    p.done("snapshot snap-1 of vol-1");
    p.failed(&denied, true);
    p.open("eni-2 of i-1 is left in the untracking group sg-u".into());
    let e = p.into_result("instance i-1").unwrap_err();
    assert!(!e.retryable);
    assert_eq!(e.code.as_deref(), Some(LEFT_OPEN));
    let text = e.to_string();
    let open = text.find("eni-2 of i-1 is left").unwrap();
    let denied_at = text.find("could not move eni-1").unwrap();
    let done = text.find("Done: snapshot snap-1 of vol-1").unwrap();
    assert!(open < denied_at && denied_at < done, "{text}");
    assert!(text.contains("2 steps failed"), "{text}");
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

/// The clients, with an Auto Scaling that knows no group (detaching is the default, so the
/// membership is always read), and an IAM that knows no instance profile (the role's sessions are
/// not revoked by default, so it is never called).
fn c(ec2: aws_sdk_ec2::Client) -> Clients {
    let no_profile = mock!(aws_sdk_iam::Client::get_instance_profile).then_error(|| {
        GetInstanceProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
    });
    c_with(
        ec2,
        mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&no_profile]),
    )
}

fn c_with(ec2: aws_sdk_ec2::Client, iam: aws_sdk_iam::Client) -> Clients {
    let none = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
        .then_output(|| DescribeAutoScalingInstancesOutput::builder().build());
    Clients {
        ec2,
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, [&none]),
        iam,
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

/// An EC2 of one instance, two interfaces and one volume, in a VPC where the isolation group
/// exists (no rule) and the untracking group does not: the rules below answer from it and change
/// it, so that the verification after `apply` reads what `apply` did.
#[derive(Debug, Default)]
struct Fake {
    enis: Vec<(String, Vec<String>)>,
    /// Every interface move, in order: (interface, its new groups).
    moves: Vec<(String, Vec<String>)>,
    /// Moves that fail with UnauthorizedOperation: (interface, group).
    refuse: Vec<(String, String)>,
    untrack: bool,
    /// The all-traffic rules authorized: (ingress?, the rule).
    authorized: Vec<(bool, IpPermission)>,
    /// The untracking group's rules revoked once the interfaces are through: (ingress?, the
    /// rule), and how many moves had been made by then.
    closed: Vec<(bool, IpPermission, usize)>,
    snapshotted: Vec<String>,
    tagged: bool,
    protected: bool,
    /// The instance profile associated with the instance (its ARN), until it is disassociated.
    profile: Option<String>,
    /// The instance's quell:previous-instance-profile tag, once quell wrote it.
    previous_profile: Option<String>,
}

type Shared = std::sync::Arc<std::sync::Mutex<Fake>>;

fn fake(refuse: &[(&str, &str)]) -> Shared {
    std::sync::Arc::new(std::sync::Mutex::new(Fake {
        enis: vec![
            ("eni-1".into(), vec!["sg-web".into()]),
            ("eni-2".into(), vec!["sg-web".into(), "sg-db".into()]),
        ],
        refuse: refuse
            .iter()
            .map(|(e, g)| (e.to_string(), g.to_string()))
            .collect(),
        ..Fake::default()
    }))
}

fn group(id: &str, ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> SecurityGroup {
    SecurityGroup::builder()
        .group_id(id)
        .set_ip_permissions(Some(ingress))
        .set_ip_permissions_egress(Some(egress))
        .build()
}

fn fake_ec2(f: &Shared) -> (aws_sdk_ec2::Client, Vec<MockRule>) {
    use aws_sdk_ec2::operation::authorize_security_group_egress::AuthorizeSecurityGroupEgressOutput;
    use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput;
    use aws_sdk_ec2::operation::create_snapshot::CreateSnapshotOutput;
    use aws_sdk_ec2::operation::create_tags::CreateTagsOutput;
    use aws_sdk_ec2::operation::modify_instance_attribute::ModifyInstanceAttributeOutput;
    use aws_sdk_ec2::operation::modify_network_interface_attribute::{
        ModifyNetworkInterfaceAttributeError, ModifyNetworkInterfaceAttributeOutput,
    };
    use aws_sdk_ec2::types::Snapshot;
    use aws_smithy_mocks::MockResponse;

    let mut rules = Vec::new();
    let st = f.clone();
    rules.push(
        mock!(Client::describe_instances).then_compute_output(move |_| {
            let f = st.lock().unwrap();
            let mut inst = Instance::builder()
                .instance_id(ID)
                .vpc_id("vpc-1")
                .block_device_mappings(
                    InstanceBlockDeviceMapping::builder()
                        .ebs(EbsInstanceBlockDevice::builder().volume_id("vol-1").build())
                        .build(),
                );
            if f.tagged {
                inst = inst.tags(Tag::builder().key(ISOLATED_BY_TAG).value("f-1").build());
            }
            if let Some(p) = &f.previous_profile {
                inst = inst.tags(Tag::builder().key(PREVIOUS_PROFILE_TAG).value(p).build());
            }
            DescribeInstancesOutput::builder()
                .reservations(Reservation::builder().instances(inst.build()).build())
                .build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::describe_network_interfaces).then_compute_output(move |_| {
            let f = st.lock().unwrap();
            let enis = f.enis.iter().map(|(eni, groups)| {
                NetworkInterface::builder()
                    .network_interface_id(eni)
                    .set_groups(Some(
                        groups
                            .iter()
                            .map(|g| GroupIdentifier::builder().group_id(g).build())
                            .collect(),
                    ))
                    .build()
            });
            DescribeNetworkInterfacesOutput::builder()
                .set_network_interfaces(Some(enis.collect()))
                .build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::describe_security_groups).then_compute_output(move |req| {
            let f = st.lock().unwrap();
            let wants = |v: &str| {
                req.filters()
                    .iter()
                    .any(|x| x.values().iter().any(|w| w == v))
            };
            let out = DescribeSecurityGroupsOutput::builder();
            if req.group_ids().iter().any(|g| g == "sg-untrack") {
                // A new group: EC2's default egress, all traffic to any IPv4 address; then what
                // was authorized, each as its own rule.
                let mut egress = vec![all_traffic(&["0.0.0.0/0"], &[])];
                let mut ingress = Vec::new();
                for (inbound, p) in &f.authorized {
                    if *inbound {
                        ingress.push(p.clone())
                    } else {
                        egress.push(p.clone())
                    }
                }
                return out
                    .security_groups(group("sg-untrack", ingress, egress))
                    .build();
            }
            if wants(ISOLATION_VALUE) {
                return out.security_groups(group("sg-iso", vec![], vec![])).build();
            }
            if wants(UNTRACK_VALUE) && f.untrack {
                let all = || vec![all_traffic(&["0.0.0.0/0"], &["::/0"])];
                return out
                    .security_groups(group("sg-untrack", all(), all()))
                    .build();
            }
            out.build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::create_security_group).then_compute_output(move |req| {
            assert_eq!(req.group_name(), Some("quell-untrack-vpc-1"));
            st.lock().unwrap().untrack = true;
            CreateSecurityGroupOutput::builder()
                .group_id("sg-untrack")
                .build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::authorize_security_group_ingress).then_compute_output(move |req| {
            assert_eq!(req.group_id(), Some("sg-untrack"));
            let mut f = st.lock().unwrap();
            for p in req.ip_permissions() {
                f.authorized.push((true, p.clone()));
            }
            AuthorizeSecurityGroupIngressOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::authorize_security_group_egress).then_compute_output(move |req| {
            assert_eq!(req.group_id(), Some("sg-untrack"));
            let mut f = st.lock().unwrap();
            for p in req.ip_permissions() {
                f.authorized.push((false, p.clone()));
            }
            AuthorizeSecurityGroupEgressOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::revoke_security_group_ingress).then_compute_output(move |req| {
            assert_eq!(req.group_id(), Some("sg-untrack"));
            let mut f = st.lock().unwrap();
            let n = f.moves.len();
            for p in req.ip_permissions() {
                f.closed.push((true, p.clone(), n));
            }
            aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::revoke_security_group_egress).then_compute_output(move |req| {
            assert_eq!(req.group_id(), Some("sg-untrack"));
            let mut f = st.lock().unwrap();
            let n = f.moves.len();
            for p in req.ip_permissions() {
                f.closed.push((false, p.clone(), n));
            }
            aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::describe_snapshots).then_compute_output(move |_| {
            let f = st.lock().unwrap();
            let snaps = f
                .snapshotted
                .iter()
                .map(|v| Snapshot::builder().volume_id(v).build());
            DescribeSnapshotsOutput::builder()
                .set_snapshots(Some(snaps.collect()))
                .build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::create_snapshot).then_compute_output(move |req| {
            let v = req.volume_id().unwrap_or_default().to_string();
            st.lock().unwrap().snapshotted.push(v);
            CreateSnapshotOutput::builder()
                .snapshot_id("snap-1")
                .build()
        }),
    );
    let st = f.clone();
    rules.push(mock!(Client::create_tags).then_compute_output(move |req| {
        let mut f = st.lock().unwrap();
        f.tagged = true;
        if let Some(p) = req
            .tags()
            .iter()
            .find(|t| t.key() == Some(PREVIOUS_PROFILE_TAG))
        {
            f.previous_profile = p.value().map(str::to_string);
        }
        CreateTagsOutput::builder().build()
    }));
    let st = f.clone();
    rules.push(
        mock!(Client::describe_iam_instance_profile_associations).then_compute_output(move |_| {
            use aws_sdk_ec2::types::{
                IamInstanceProfile, IamInstanceProfileAssociation,
                IamInstanceProfileAssociationState,
            };
            let f = st.lock().unwrap();
            let out = DescribeIamInstanceProfileAssociationsOutput::builder();
            match &f.profile {
                Some(arn) => out
                    .iam_instance_profile_associations(
                        IamInstanceProfileAssociation::builder()
                            .association_id("iip-assoc-1")
                            .instance_id(ID)
                            .iam_instance_profile(IamInstanceProfile::builder().arn(arn).build())
                            .state(IamInstanceProfileAssociationState::Associated)
                            .build(),
                    )
                    .build(),
                None => out.build(),
            }
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::disassociate_iam_instance_profile).then_compute_output(move |req| {
            assert_eq!(req.association_id(), Some("iip-assoc-1"));
            st.lock().unwrap().profile = None;
            aws_sdk_ec2::operation::disassociate_iam_instance_profile::DisassociateIamInstanceProfileOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::describe_instance_attribute).then_compute_output(move |_| {
            let on = st.lock().unwrap().protected;
            DescribeInstanceAttributeOutput::builder()
                .disable_api_termination(AttributeBooleanValue::builder().value(on).build())
                .build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::modify_instance_attribute).then_compute_output(move |_| {
            st.lock().unwrap().protected = true;
            ModifyInstanceAttributeOutput::builder().build()
        }),
    );
    let st = f.clone();
    rules.push(
        mock!(Client::modify_network_interface_attribute).then_compute_response(move |req| {
            let mut f = st.lock().unwrap();
            let eni = req.network_interface_id().unwrap_or_default().to_string();
            let groups = req.groups().to_vec();
            f.moves.push((eni.clone(), groups.clone()));
            let refused = f
                .refuse
                .iter()
                .any(|(e, g)| *e == eni && groups.len() == 1 && groups[0] == *g);
            if refused {
                return MockResponse::Error(ModifyNetworkInterfaceAttributeError::generic(
                    ErrorMetadata::builder()
                        .code("UnauthorizedOperation")
                        .message("refused by the test")
                        .build(),
                ));
            }
            if let Some(x) = f.enis.iter_mut().find(|(e, _)| *e == eni) {
                x.1 = groups;
            }
            MockResponse::Output(ModifyNetworkInterfaceAttributeOutput::builder().build())
        }),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    (client, rules)
}

fn moves(f: &Shared) -> Vec<(String, String)> {
    f.lock()
        .unwrap()
        .moves
        .iter()
        .map(|(e, g)| (e.clone(), g.join("+")))
        .collect()
}

fn mv(eni: &str, groups: &str) -> (String, String) {
    (eni.to_string(), groups.to_string())
}

async fn isolate(f: &Shared) -> Outcome {
    let (ec2, _rules) = fake_ec2(f);
    execute(
        &Ec2IsolateInstance::default(),
        &c(ec2),
        &Target::new(ID, "f-1"),
        Mode::Enforce,
        "quell:exempt",
    )
    .await
}

#[tokio::test]
async fn each_interface_passes_through_the_untracking_group_to_isolation_at_once() {
    let f = fake(&[]);
    let out = isolate(&f).await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    // Per interface, the untracking group and then at once the isolation group: nothing between.
    assert_eq!(
        moves(&f),
        [
            mv("eni-1", "sg-untrack"),
            mv("eni-1", "sg-iso"),
            mv("eni-2", "sg-untrack"),
            mv("eni-2", "sg-iso"),
        ]
    );
    let g = f.lock().unwrap();
    assert!(g.enis.iter().all(|(_, groups)| groups == &["sg-iso"]));
    // The new untracking group: all traffic in from any address, out to IPv6 too (its default
    // egress has IPv4 already).
    let ingress: Vec<&IpPermission> = g.authorized.iter().filter(|a| a.0).map(|a| &a.1).collect();
    let egress: Vec<&IpPermission> = g.authorized.iter().filter(|a| !a.0).map(|a| &a.1).collect();
    assert_eq!(ingress, [&all_traffic(&["0.0.0.0/0"], &["::/0"])]);
    assert_eq!(egress, [&all_traffic(&[], &["::/0"])]);
    assert_eq!(g.snapshotted, ["vol-1"]);
    assert!(g.tagged && g.protected);
    // Once both interfaces are through, the untracking group allows nothing again: every rule
    // read back is revoked, as it was stored.
    assert_eq!(
        g.closed,
        [
            (true, all_traffic(&["0.0.0.0/0"], &["::/0"]), 4),
            (false, all_traffic(&["0.0.0.0/0"], &[]), 4),
            (false, all_traffic(&[], &["::/0"]), 4),
        ]
    );
}

#[tokio::test]
async fn an_interface_that_cannot_be_isolated_goes_back_to_its_groups_and_stops_nothing_else() {
    let f = fake(&[("eni-1", "sg-iso")]);
    let out = isolate(&f).await;
    let Outcome::Failed {
        error, retryable, ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(!retryable, "UnauthorizedOperation: {out:?}");
    assert_eq!(
        moves(&f),
        [
            mv("eni-1", "sg-untrack"),
            mv("eni-1", "sg-iso"),
            // Never left in the group that allows everything.
            mv("eni-1", "sg-web"),
            mv("eni-2", "sg-untrack"),
            mv("eni-2", "sg-iso"),
        ]
    );
    let g = f.lock().unwrap();
    assert_eq!(
        g.enis,
        [
            ("eni-1".to_string(), vec!["sg-web".to_string()]),
            ("eni-2".to_string(), vec!["sg-iso".to_string()]),
        ]
    );
    // The evidence and the rest were still taken care of.
    assert_eq!(g.snapshotted, ["vol-1"]);
    assert!(g.tagged && g.protected);
    for said in [
        "could not move eni-1 of i-0a1b2c3d4e5f60718 to the isolation group sg-iso",
        "UnauthorizedOperation",
        "eni-1 put back in its own groups sg-web",
        "eni-2 untracked, then isolated",
        "snapshot snap-1 of vol-1",
        "termination protection on",
    ] {
        assert!(error.contains(said), "`{said}` not in: {error}");
    }
}

#[tokio::test]
async fn an_interface_that_cannot_be_untracked_is_still_isolated_and_a_person_is_told() {
    let f = fake(&[("eni-1", "sg-untrack")]);
    let out = isolate(&f).await;
    let Outcome::Failed {
        error, retryable, ..
    } = &out
    else {
        panic!("{out:?}")
    };
    // Contained, but connections tracked before may survive: a retry would not see it.
    assert!(!retryable, "{out:?}");
    assert_eq!(
        moves(&f),
        [
            mv("eni-1", "sg-untrack"),
            mv("eni-1", "sg-iso"),
            mv("eni-2", "sg-untrack"),
            mv("eni-2", "sg-iso"),
        ]
    );
    assert!(f
        .lock()
        .unwrap()
        .enis
        .iter()
        .all(|(_, groups)| groups == &["sg-iso"]));
    assert!(
        error.contains("could not move eni-1 of i-0a1b2c3d4e5f60718 to the untracking group")
            && error.contains("connections tracked before may survive"),
        "{error}"
    );
    assert!(error.contains("eni-1 isolated") && error.contains("eni-2 untracked, then isolated"));
}

#[tokio::test]
async fn an_interface_left_in_the_untracking_group_is_said_first() {
    let f = fake(&[("eni-1", "sg-iso"), ("eni-1", "sg-web")]);
    let out = isolate(&f).await;
    let Outcome::Failed {
        error,
        code,
        retryable,
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(!retryable);
    assert_eq!(code.as_deref(), Some(LEFT_OPEN));
    let first = error
        .find("failed: ")
        .map(|i| &error[i + 8..])
        .unwrap_or("");
    let open = "eni-1 of i-0a1b2c3d4e5f60718 is left in the untracking group sg-untrack";
    assert!(first.starts_with(open), "{error}");
    // The other interface was still isolated.
    assert_eq!(moves(&f).len(), 5);
    assert!(error.contains("eni-2 untracked, then isolated"), "{error}");
}

const PROFILE_ARN: &str = "arn:aws:iam::111111111111:instance-profile/web";

fn at(s: &str) -> DateTime {
    DateTime::from_str(s, Format::DateTime).unwrap()
}

/// IAM with one instance profile, `web`, holding `role`: quell's revocation policy on the role
/// as the rules below read and change it, so that the verification reads what `apply` did.
#[derive(Debug, Default)]
struct FakeIam {
    role: String,
    policy: Option<String>,
    /// Every document put on the role, in order.
    puts: Vec<String>,
    deletes: usize,
    /// PutRolePolicy fails with AccessDenied.
    refuse_put: bool,
    /// GetInstanceProfile fails with AccessDenied.
    refuse_read: bool,
}

type SharedIam = std::sync::Arc<std::sync::Mutex<FakeIam>>;

fn fake_iam(role: &str, policy: Option<String>) -> SharedIam {
    std::sync::Arc::new(std::sync::Mutex::new(FakeIam {
        role: role.into(),
        policy,
        ..FakeIam::default()
    }))
}

/// The IAM client over `iam`; a put is held to come after the instance in `ec2` lost its profile.
fn fake_iam_client(iam: &SharedIam, ec2: &Shared) -> (aws_sdk_iam::Client, Vec<MockRule>) {
    use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
    use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileOutput;
    use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
    use aws_sdk_iam::operation::put_role_policy::{PutRolePolicyError, PutRolePolicyOutput};
    use aws_sdk_iam::types::{InstanceProfile, Role};
    use aws_smithy_mocks::MockResponse;
    type Iam = aws_sdk_iam::Client;

    let mut rules = Vec::new();
    let st = iam.clone();
    rules.push(
        mock!(Iam::get_instance_profile).then_compute_response(move |req| {
            assert_eq!(req.instance_profile_name(), Some("web"));
            let f = st.lock().unwrap();
            if f.refuse_read {
                return MockResponse::Error(GetInstanceProfileError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("refused by the test")
                        .build(),
                ));
            }
            let role = Role::builder()
                .path("/")
                .role_name(&f.role)
                .role_id("AROAEXAMPLE")
                .arn(format!("arn:aws:iam::111111111111:role/{}", f.role))
                .create_date(DateTime::from_secs(0))
                .build()
                .unwrap();
            MockResponse::Output(
                GetInstanceProfileOutput::builder()
                    .instance_profile(
                        InstanceProfile::builder()
                            .path("/")
                            .instance_profile_name("web")
                            .instance_profile_id("AIPAEXAMPLE")
                            .arn(PROFILE_ARN)
                            .create_date(DateTime::from_secs(0))
                            .roles(role)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
        }),
    );
    let st = iam.clone();
    rules.push(
        mock!(Iam::get_role_policy).then_compute_response(move |req| {
            let f = st.lock().unwrap();
            assert_eq!(req.role_name(), Some(f.role.as_str()));
            assert_eq!(req.policy_name(), Some(SESSIONS_POLICY));
            match &f.policy {
                // As IAM returns it: URL-encoded.
                Some(doc) => MockResponse::Output(
                    GetRolePolicyOutput::builder()
                        .role_name(&f.role)
                        .policy_name(SESSIONS_POLICY)
                        .policy_document(
                            doc.replace(':', "%3A")
                                .replace('"', "%22")
                                .replace('{', "%7B")
                                .replace('}', "%7D"),
                        )
                        .build()
                        .unwrap(),
                ),
                None => MockResponse::Error(GetRolePolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchEntity").build(),
                )),
            }
        }),
    );
    let (st, instance) = (iam.clone(), ec2.clone());
    rules.push(
        mock!(Iam::put_role_policy).then_compute_response(move |req| {
            assert!(
                instance.lock().unwrap().profile.is_none(),
                "the role's sessions are revoked once the profile is removed"
            );
            let mut f = st.lock().unwrap();
            assert_eq!(req.role_name(), Some(f.role.as_str()));
            assert_eq!(req.policy_name(), Some(SESSIONS_POLICY));
            if f.refuse_put {
                return MockResponse::Error(PutRolePolicyError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("refused by the test")
                        .build(),
                ));
            }
            let doc = req.policy_document().unwrap_or_default().to_string();
            f.puts.push(doc.clone());
            f.policy = Some(doc);
            MockResponse::Output(PutRolePolicyOutput::builder().build())
        }),
    );
    let st = iam.clone();
    rules.push(
        mock!(Iam::delete_role_policy).then_compute_output(move |req| {
            let mut f = st.lock().unwrap();
            assert_eq!(req.role_name(), Some(f.role.as_str()));
            assert_eq!(req.policy_name(), Some(SESSIONS_POLICY));
            f.deletes += 1;
            f.policy = None;
            DeleteRolePolicyOutput::builder().build()
        }),
    );
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
    (client, rules)
}

/// A recorded prior state cut to the instance and its role (the fakes' interface and group ids
/// are not real ones, which undo refuses).
fn role_record(prior: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "instance": ID,
        "interfaces": [],
        "role_sessions": prior["role_sessions"].clone(),
    })
}

/// An instance with the `web` profile associated, as [`fake`] makes it.
fn fake_with_profile(refuse: &[(&str, &str)]) -> Shared {
    let f = fake(refuse);
    f.lock().unwrap().profile = Some(PROFILE_ARN.into());
    f
}

fn revoking() -> Ec2IsolateInstance {
    let mut r = Ec2IsolateInstance::default();
    r.configure(&|k| (k == "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS").then(|| "true".to_string()))
        .unwrap();
    r
}

/// The finding saw the compromise at 10:05.
fn seen_target() -> Target {
    let mut t = Target::new(ID, "f-1");
    t.observed_at = at("2026-11-28T10:05:00Z");
    t
}

#[test]
fn revoking_role_sessions_is_off_by_default_and_a_bad_value_names_the_variable() {
    assert!(!Ec2IsolateInstance::default().revoke_role_sessions);
    assert!(revoking().revoke_role_sessions);
    let mut r = revoking();
    r.configure(&|k| (k == "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS").then(|| "false".to_string()))
        .unwrap();
    assert!(!r.revoke_role_sessions);
    assert_eq!(
        r.configure(&|k| (k == "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS").then(|| "yes".to_string()))
            .unwrap_err()
            .var,
        "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS"
    );
    // The finding's time (its updatedAt), never later than now.
    let f = parse("guardduty-ec2-cryptocurrency-bitcointool.json");
    let seen = at("2026-11-28T11:00:00Z");
    let before = DateTime::from(SystemTime::now());
    let t = r.target(&f).unwrap();
    if seen.secs() <= before.secs() {
        assert_eq!(t.observed_at.secs(), seen.secs());
    } else {
        assert!(t.observed_at.secs() >= before.secs());
        assert!(t.observed_at.secs() <= DateTime::from(SystemTime::now()).secs());
    }
}

#[test]
fn the_role_is_revoked_while_the_profile_is_on_and_until_the_cutoff_covers_the_finding() {
    let t = seen_target();
    let role = |policy: Option<&str>| InstanceRole {
        name: "web-role".into(),
        left_alone: None,
        policy: policy.map(|c| sessions::policy(&at(c)).to_string()),
    };
    // Isolated already, the role without a revocation: one step, the revocation.
    let s = State {
        roles: vec![role(None)],
        ..isolated_state()
    };
    let st = steps(&t, &s, true);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].action, "iam:PutRolePolicy");
    assert!(
        st[0]
            .detail
            .contains("role=web-role policy=quell-revoke-older-sessions")
            && st[0].detail.contains("2026-11-28T10:05:00Z"),
        "{}",
        st[0].detail
    );
    // A cut-off before the finding moves forward; one at or after it is enough.
    let st = steps(
        &t,
        &State {
            roles: vec![role(Some("2026-01-01T00:00:00Z"))],
            ..isolated_state()
        },
        true,
    );
    assert!(
        st[0]
            .detail
            .contains("the cut-off moves from 2026-01-01T00:00:00Z"),
        "{st:?}"
    );
    let covered = State {
        roles: vec![role(Some("2026-11-28T10:05:00Z"))],
        ..isolated_state()
    };
    assert!(steps(&t, &covered, true).is_empty());
    // While the profile is on, it hands out new credentials: revoked after it is removed,
    // whatever the cut-off says now.
    let st = steps(
        &t,
        &State {
            roles: vec![role(Some("2026-11-28T11:00:00Z"))],
            ..open_state()
        },
        true,
    );
    let actions: Vec<&str> = st.iter().map(|s| s.action).collect();
    let off = actions
        .iter()
        .position(|a| *a == "ec2:DisassociateIamInstanceProfile")
        .unwrap();
    assert_eq!(actions[off + 1], "iam:PutRolePolicy", "{actions:?}");
}

#[tokio::test]
async fn without_the_setting_no_iam_call_is_made() {
    let f = fake_with_profile(&[]);
    let iam = fake_iam("web-role", None);
    let (ec2, _rules) = fake_ec2(&f);
    let (iam_client, iam_rules) = fake_iam_client(&iam, &f);
    let out = execute(
        &Ec2IsolateInstance::default(),
        &c_with(ec2, iam_client),
        &seen_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert!(
        steps.iter().all(|s| !s.action.starts_with("iam:")),
        "{steps:?}"
    );
    assert!(
        f.lock().unwrap().profile.is_none(),
        "the profile is removed"
    );
    for r in &iam_rules {
        assert_eq!(r.num_calls(), 0, "an IAM call without the setting");
    }
}

#[tokio::test]
async fn with_the_setting_the_role_denies_its_sessions_before_the_profile_was_removed() {
    let f = fake_with_profile(&[]);
    let iam = fake_iam("web-role", None);
    let (ec2, _rules) = fake_ec2(&f);
    let (iam_client, _iam_rules) = fake_iam_client(&iam, &f);
    let c = c_with(ec2, iam_client);
    let r = revoking();
    let t = seen_target();
    // What undo will need: the role, which had no revocation policy.
    let mut prior = r.prior(&c, &t).await.unwrap().unwrap();
    // When it was recorded, so that undo can tell a later revocation from its own.
    let recorded_at = prior["role_sessions"][0]["recorded_at"].take();
    assert!(
        recorded_at.as_i64().unwrap() >= quell::policy::epoch_now() - 60,
        "{recorded_at}"
    );
    prior["role_sessions"][0]
        .as_object_mut()
        .unwrap()
        .remove("recorded_at");
    assert_eq!(
        prior["role_sessions"],
        serde_json::json!([{"role": "web-role", "policy": null}])
    );
    prior["role_sessions"][0]["recorded_at"] = recorded_at;
    let before = DateTime::from(SystemTime::now());
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    let actions: Vec<&str> = steps.iter().map(|s| s.action).collect();
    let off = actions
        .iter()
        .position(|a| *a == "ec2:DisassociateIamInstanceProfile")
        .unwrap();
    assert_eq!(actions[off + 1], "iam:PutRolePolicy", "{actions:?}");
    {
        let g = iam.lock().unwrap();
        assert_eq!(g.puts.len(), 1, "{:?}", g.puts);
        let doc: serde_json::Value = serde_json::from_str(&g.puts[0]).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Action"], serde_json::json!(["*"]));
        // The cut-off: now, after the profile is removed; it covers the finding's time.
        let cutoff = quell::policy::sessions_cutoff(&g.puts[0]).unwrap();
        assert!(cutoff.secs() >= before.secs(), "{doc}");
        assert!(cutoff.secs() >= t.observed_at.secs());
        assert!(cutoff.secs() <= DateTime::from(SystemTime::now()).secs());
    }
    // `quell undo`: the policy is removed (the role had none). The fake's interface ids are not
    // real ones, so the record is cut to the instance and its role.
    let undone = r.restore(&c, &role_record(&prior)).await.unwrap();
    assert!(
        undone
            .iter()
            .any(|s| s.action == "iam:DeleteRolePolicy" && s.detail.contains("role=web-role")),
        "{undone:?}"
    );
    let g = iam.lock().unwrap();
    assert_eq!((g.deletes, g.policy.clone()), (1, None));
}

#[tokio::test]
async fn undo_puts_back_the_revocation_the_role_had_exactly() {
    let f = fake_with_profile(&[]);
    let old = sessions::policy(&at("2026-01-01T00:00:00Z")).to_string();
    let iam = fake_iam("web-role", Some(old.clone()));
    let (ec2, _rules) = fake_ec2(&f);
    let (iam_client, _iam_rules) = fake_iam_client(&iam, &f);
    let c = c_with(ec2, iam_client);
    let r = revoking();
    let t = seen_target();
    let prior = r.prior(&c, &t).await.unwrap().unwrap();
    assert_eq!(prior["role_sessions"][0]["policy"], old.as_str());
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_ne!(iam.lock().unwrap().policy.as_deref(), Some(old.as_str()));
    let undone = r.restore(&c, &role_record(&prior)).await.unwrap();
    assert!(
        undone
            .iter()
            .any(|s| s.action == "iam:PutRolePolicy" && s.detail.contains("put back as it was")),
        "{undone:?}"
    );
    {
        let g = iam.lock().unwrap();
        assert_eq!(g.policy.as_deref(), Some(old.as_str()));
        assert_eq!(g.deletes, 0);
    }
    // A record naming a role quell must not change is refused before any call.
    let bad = r
        .restore(
            &c,
            &serde_json::json!({
                "instance": ID,
                "interfaces": [],
                "role_sessions": [{"role": "quell-undo", "policy": null}],
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code.as_deref(), Some("InvalidPriorState"));
}

#[tokio::test]
async fn a_quell_role_or_an_identity_center_role_is_left_alone_and_said() {
    for (role, said) in [
        ("quell-ec2-isolate-instance", "quell's own role"),
        (
            "AWSReservedSSO_Admin_0123456789abcdef",
            "IAM Identity Center must revoke its sessions",
        ),
    ] {
        // Planned: the removal of the profile says the role is left alone, and why.
        let f = fake_with_profile(&[]);
        let iam = fake_iam(role, None);
        let (ec2, _rules) = fake_ec2(&f);
        let (iam_client, iam_rules) = fake_iam_client(&iam, &f);
        let c = c_with(ec2, iam_client);
        let out = execute(
            &revoking(),
            &c,
            &seen_target(),
            Mode::DryRun,
            "quell:exempt",
        )
        .await;
        let Outcome::Planned { steps, .. } = &out else {
            panic!("{role}: {out:?}")
        };
        assert!(
            !steps.iter().any(|s| s.action == "iam:PutRolePolicy"),
            "{steps:?}"
        );
        let off = steps
            .iter()
            .find(|s| s.action == "ec2:DisassociateIamInstanceProfile")
            .unwrap();
        assert!(
            off.detail.contains(role) && off.detail.contains(said),
            "{role}: {}",
            off.detail
        );

        // Enforced: isolated, the role untouched, and NOTIFIED with what a person must do.
        let out = execute(
            &revoking(),
            &c,
            &seen_target(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        let Outcome::Unconfirmed { unchecked, .. } = &out else {
            panic!("{role}: {out:?}")
        };
        assert!(
            unchecked.contains(role) && unchecked.contains(said),
            "{role}: {unchecked}"
        );
        assert!(f.lock().unwrap().profile.is_none());
        let g = iam.lock().unwrap();
        assert!(g.puts.is_empty() && g.policy.is_none(), "{role}: {g:?}");
        // Not even its policy is read.
        assert_eq!(iam_rules[1].num_calls(), 0, "{role}");
    }
}

#[tokio::test]
async fn a_refused_revocation_is_reported_and_every_other_step_still_happens() {
    let f = fake_with_profile(&[]);
    let iam = fake_iam("web-role", None);
    iam.lock().unwrap().refuse_put = true;
    let (ec2, _rules) = fake_ec2(&f);
    let (iam_client, _iam_rules) = fake_iam_client(&iam, &f);
    let out = execute(
        &revoking(),
        &c_with(ec2, iam_client),
        &seen_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Failed {
        error,
        code,
        retryable,
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(!retryable, "AccessDenied: {out:?}");
    assert_eq!(code.as_deref(), Some("AccessDenied"));
    for said in [
        "could not put policy quell-revoke-older-sessions on role web-role",
        "1 step failed",
        "eni-1 untracked, then isolated",
        "eni-2 untracked, then isolated",
        "snapshot snap-1 of vol-1",
        "instance profile arn:aws:iam::111111111111:instance-profile/web disassociated",
        "termination protection on",
    ] {
        assert!(error.contains(said), "`{said}` not in: {error}");
    }
    let g = f.lock().unwrap();
    assert!(g.enis.iter().all(|(_, groups)| groups == &["sg-iso"]));
    assert!(g.tagged && g.protected && g.profile.is_none());
    assert_eq!(g.snapshotted, ["vol-1"]);
}

#[tokio::test]
async fn an_unreadable_role_is_reported_and_the_isolation_goes_on() {
    let f = fake_with_profile(&[]);
    let iam = fake_iam("web-role", None);
    iam.lock().unwrap().refuse_read = true;
    let (ec2, _rules) = fake_ec2(&f);
    let (iam_client, _iam_rules) = fake_iam_client(&iam, &f);
    let out = execute(
        &revoking(),
        &c_with(ec2, iam_client),
        &seen_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Failed { error, code, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("AccessDenied"));
    assert!(
        error.contains("could not read the role of instance profile web"),
        "{error}"
    );
    let g = f.lock().unwrap();
    assert!(g.tagged && g.protected && g.profile.is_none(), "{error}");
    assert!(iam.lock().unwrap().puts.is_empty());
}
