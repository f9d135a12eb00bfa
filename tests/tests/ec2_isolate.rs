//! ec2-isolate-instance end to end: a running instance in a member account is contained, its
//! evidence kept, and a replay changes nothing more; each interface passes through the untracking
//! group to the isolation group, and one interface failing to move stops nothing else; an
//! isolation group someone opened is emptied before use; an instance in an Auto Scaling group is
//! detached by default, kept running, and attached back by undo; with
//! QUELL_ISOLATE_REVOKE_ROLE_SESSIONS the role of the instance's profile denies its older sessions,
//! and undo takes that off again (or puts back the revocation the role had), while without it the
//! role is neither read nor changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ec2_isolate_instance::{
    Ec2IsolateInstance, FINDING_TAG, ISOLATED_BY_TAG, ISOLATION_TAG, PREVIOUS_GROUPS_TAG,
    SESSIONS_POLICY, UNTRACK_VALUE,
};
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};

/// quell's isolation groups in `vpc` (tagged quell:isolation=true), as EC2 describes them.
async fn isolation_groups(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    use aws_sdk_ec2::types::Filter;
    ec2.describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{ISOLATION_TAG}"))
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups
        .unwrap_or_default()
}

/// quell's untracking group in `vpc` (tagged quell:isolation=untrack), as EC2 describes it.
async fn untrack_groups(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    use aws_sdk_ec2::types::Filter;
    ec2.describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{ISOLATION_TAG}"))
                .values(UNTRACK_VALUE)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups
        .unwrap_or_default()
}

/// The instance's interfaces with their groups, as DescribeNetworkInterfaces gives them (the
/// order the function reads them in).
async fn interfaces(ec2: &aws_sdk_ec2::Client, id: &str) -> Vec<(String, Vec<String>)> {
    use aws_sdk_ec2::types::Filter;
    ec2.describe_network_interfaces()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .network_interfaces()
        .iter()
        .map(|n| {
            (
                n.network_interface_id().unwrap().to_string(),
                n.groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect(),
            )
        })
        .collect()
}

/// The instance's VPC, subnet and EBS volumes.
async fn placement(ec2: &aws_sdk_ec2::Client, id: &str) -> (String, String, Vec<String>) {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    let inst = &out.reservations()[0].instances()[0];
    let volumes = inst
        .block_device_mappings()
        .iter()
        .filter_map(|b| b.ebs()?.volume_id().map(str::to_string))
        .collect();
    (
        inst.vpc_id().unwrap().to_string(),
        inst.subnet_id().unwrap().to_string(),
        volumes,
    )
}

/// A compromised instance with two interfaces, both in its own group: (instance, its group).
async fn two_interface_instance(member: &aws_config::SdkConfig, name: &str) -> (String, String) {
    let (id, web_sg) = seed::instance(member, name).await;
    let ec2 = aws_sdk_ec2::Client::new(member);
    let (_, subnet, _) = placement(&ec2, &id).await;
    let eni = ec2
        .create_network_interface()
        .subnet_id(subnet)
        .groups(&web_sg)
        .send()
        .await
        .unwrap()
        .network_interface
        .unwrap()
        .network_interface_id
        .unwrap();
    ec2.attach_network_interface()
        .network_interface_id(&eni)
        .instance_id(&id)
        .device_index(1)
        .send()
        .await
        .unwrap();
    let enis = interfaces(&ec2, &id).await;
    assert_eq!(enis.len(), 2, "{enis:?}");
    assert!(
        enis.iter()
            .all(|(_, g)| g.as_slice() == std::slice::from_ref(&web_sg)),
        "{enis:?}"
    );
    (id, web_sg)
}

fn finding(id: &str) -> quell::Finding {
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", id)],
    );
    quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

#[tokio::test]
async fn a_compromised_instance_is_isolated_snapshotted_and_kept_running() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (id, web_sg) = seed::instance(&member, "app-server-1").await;
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let hub = f.hub.clone().unwrap();
    seed::hub_finding(
        &member,
        MEMBER,
        &hub.id,
        &hub.product_arn,
        ("AwsEc2Instance", &id),
    )
    .await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );

    let resp = quell::runtime::handle(&Ec2IsolateInstance::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );

    let ec2 = aws_sdk_ec2::Client::new(&member);
    let inst = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let inst = inst.reservations()[0].instances()[0].clone();
    assert_eq!(
        inst.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("running"),
        "never stopped"
    );
    let iso = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{ISOLATION_TAG}"))
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let iso = iso.security_groups()[0].clone();
    assert!(
        iso.ip_permissions().is_empty() && iso.ip_permissions_egress().is_empty(),
        "the isolation group has rules: {iso:?}"
    );
    let enis = ec2
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.instance-id")
                .values(&id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(!enis.network_interfaces().is_empty());
    for eni in enis.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(
            groups,
            [iso.group_id().unwrap()],
            "interface {:?}",
            eni.network_interface_id()
        );
    }
    let tags: Vec<(String, String)> = inst
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    assert!(
        tags.iter().any(|(k, v)| k == ISOLATED_BY_TAG && v == &f.id),
        "{tags:?}"
    );
    assert!(
        tags.iter()
            .any(|(k, v)| k == PREVIOUS_GROUPS_TAG && v.contains(&web_sg)),
        "{tags:?}"
    );
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-id")
                .values(&id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        assoc
            .iam_instance_profile_associations()
            .iter()
            .all(|a| a.state().map(|s| s.as_str()) != Some("associated")),
        "{assoc:?}"
    );
    let prot = ec2
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(
        prot.disable_api_termination().and_then(|v| v.value()),
        Some(true)
    );
    let volumes: Vec<String> = inst
        .block_device_mappings()
        .iter()
        .filter_map(|b| b.ebs()?.volume_id().map(str::to_string))
        .collect();
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{FINDING_TAG}"))
                .values(&f.id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        snaps.snapshots().len(),
        volumes.len(),
        "one snapshot per volume: {volumes:?}"
    );
    assert!(!volumes.is_empty());
    assert_eq!(
        seed::workflow(&central, &hub.id).await.unwrap().0,
        "RESOLVED"
    );

    emu.clear_calls().await;
    let again = quell::runtime::handle(&Ec2IsolateInstance::default(), &ctx, event)
        .await
        .unwrap();
    assert_eq!(
        again.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        again.reports[0]
    );
    let writes: Vec<_> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "ec2" && !c.action.starts_with("Describe"))
        .collect();
    assert!(writes.is_empty(), "a replay wrote: {writes:?}");
}

#[tokio::test]
async fn the_default_mode_is_dry_run_and_changes_nothing() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (id, web_sg) = seed::instance(&member, "app-server-2").await;
    let event = events::load(
        "guardduty-ec2-backdoor-ccactivity-b.json",
        &[
            ("i-99999999", &id),
            ("973743533182", MEMBER),
            ("us-east-2", "us-east-1"),
        ],
    );
    // The reference sample is marked as a sample: make it a real finding for this test.
    let mut event = event;
    event["detail"]["service"]["additionalInfo"] = serde_json::json!({});
    let ctx = context(&emu, Config::default(), "ec2-isolate-instance");
    let resp = quell::runtime::handle(&Ec2IsolateInstance::default(), &ctx, event)
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "PLANNED",
        "{:?}",
        resp.reports[0]
    );
    let quell::Outcome::Planned { steps, .. } = &resp.reports[0].outcome else {
        panic!()
    };
    assert!(
        steps.iter().any(|s| s.action == "ec2:CreateSnapshot"),
        "{steps:?}"
    );
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let inst = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let groups: Vec<String> = inst.reservations()[0].instances()[0]
        .network_interfaces()
        .iter()
        .flat_map(|n| {
            n.groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
        })
        .collect();
    assert_eq!(groups, [web_sg]);
}

#[tokio::test]
async fn an_auto_scaling_instance_is_detached_by_default_kept_running_and_undo_attaches_it() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let asg = aws_sdk_autoscaling::Client::new(&member);
    let image = ec2.describe_images().send().await.unwrap().images.unwrap()[0]
        .image_id
        .clone()
        .unwrap();
    asg.create_launch_configuration()
        .launch_configuration_name("web")
        .image_id(image)
        .instance_type("t3.micro")
        .send()
        .await
        .unwrap();
    let zone = ec2
        .describe_availability_zones()
        .send()
        .await
        .unwrap()
        .availability_zones
        .unwrap()[0]
        .zone_name
        .clone()
        .unwrap();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("web-asg")
        .launch_configuration_name("web")
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .availability_zones(zone)
        .send()
        .await
        .unwrap();
    let id = asg
        .describe_auto_scaling_instances()
        .send()
        .await
        .unwrap()
        .auto_scaling_instances
        .unwrap()[0]
        .instance_id
        .clone()
        .unwrap();
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    // The default: detached (the group would otherwise terminate the unhealthy evidence).
    let isolate = Ec2IsolateInstance::default();
    // Enforced, with the prior state recorded for undo.
    let ctx = quell_tests::recording_context(&emu, "ec2-isolate-instance").await;
    let resp = quell::runtime::handle(&isolate, &ctx, event).await.unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );
    let left = asg
        .describe_auto_scaling_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    assert!(
        left.auto_scaling_instances().is_empty(),
        "still in the group: {left:?}"
    );
    let kept = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str()),
        Some("running"),
        "the evidence is kept"
    );

    // `quell undo`: from the record, through the member's quell-undo role, back in its group.
    let steps = quell_tests::undo_recorded(&emu, &ctx, &isolate, &f.id).await;
    assert!(
        steps
            .iter()
            .any(|s| s.action == "autoscaling:AttachInstances"),
        "{steps:?}"
    );
    let back = asg
        .describe_auto_scaling_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let groups: Vec<&str> = back
        .auto_scaling_instances()
        .iter()
        .filter_map(|i| i.auto_scaling_group_name())
        .collect();
    assert_eq!(groups, ["web-asg"], "back in its group: {back:?}");
}

#[tokio::test]
async fn an_isolation_group_someone_opened_is_emptied_before_it_is_used() {
    use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, Tag, TagSpecification};
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (id, _web_sg) = seed::instance(&member, "app-server-3").await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let vpc = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap()
        .reservations()[0]
        .instances()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    // quell's isolation group of the VPC, as an earlier isolation left it (tagged, its default
    // egress rule), and then opened by someone: RDP from anywhere.
    let iso = ec2
        .create_security_group()
        .group_name(format!("quell-isolation-{vpc}"))
        .description("quell: isolates compromised instances; no rule on purpose")
        .vpc_id(&vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key(ISOLATION_TAG).value("true").build())
                .tags(Tag::builder().key("Name").value("quell-isolation").build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(&iso)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3389)
                .to_port(3389)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let seeded = isolation_groups(&ec2, &vpc).await;
    assert_eq!(seeded.len(), 1, "{seeded:?}");
    assert!(!seeded[0].ip_permissions().is_empty(), "{seeded:?}");

    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );
    let resp = quell::runtime::handle(&Ec2IsolateInstance::default(), &ctx, event)
        .await
        .unwrap();
    let rep = &resp.reports[0];
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let quell::Outcome::Remediated { steps } = &rep.outcome else {
        panic!("{rep:?}")
    };
    assert!(
        steps
            .iter()
            .any(|s| s.action == "ec2:RevokeSecurityGroupIngress"),
        "{steps:?}"
    );

    // The same group, with no rule at all, and the instance in it alone.
    let now = isolation_groups(&ec2, &vpc).await;
    let ids: Vec<&str> = now.iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(ids, [iso.as_str()], "no second isolation group");
    assert!(
        now[0].ip_permissions().is_empty() && now[0].ip_permissions_egress().is_empty(),
        "the isolation group has rules: {:?}",
        now[0]
    );
    let enis = ec2
        .describe_network_interfaces()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(&id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(!enis.network_interfaces().is_empty());
    for eni in enis.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(
            groups,
            [iso.as_str()],
            "interface {:?}",
            eni.network_interface_id()
        );
    }
}

#[tokio::test]
async fn an_isolation_is_undone_from_its_record_and_then_held() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (id, web_sg) = seed::instance(&member, "app-server-2").await;
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let table = seed::state_table(&central).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            state_table: Some(table),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );
    let r = Ec2IsolateInstance::default();
    let resp = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );

    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let prior = ctx
        .state
        .as_ref()
        .unwrap()
        .prior_state(&quell::state::UndoKey::of("ec2-isolate-instance", &f))
        .await
        .unwrap()
        .expect("recorded before the change");
    // As `quell undo` does it: through the member's undo role, not the function's.
    let undo = quell_tests::undo_context(&emu, ctx.config.clone());
    let steps = quell::runtime::undo_finding(
        &r,
        &undo,
        &prior,
        &quell::state::UndoKey::of("ec2-isolate-instance", &f),
    )
    .await
    .unwrap();
    let text: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert!(
        text.iter().any(|s| s.contains("instance profile")),
        "the profile is a person's step: {text:?}"
    );

    let ec2 = aws_sdk_ec2::Client::new(&member);
    let inst = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let inst = inst.reservations()[0].instances()[0].clone();
    for eni in inst.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, [web_sg.as_str()], "back in its own group");
    }
    let prot = ec2
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(
        prot.disable_api_termination().and_then(|v| v.value()),
        Some(false)
    );

    // Another finding about the same instance: the person's undo holds.
    let mut later = event.clone();
    later["id"] = serde_json::json!("a-later-delivery");
    later["detail"]["id"] = serde_json::json!("feedfacefeedfacefeedfacefeedface");
    later["detail"]["updatedAt"] = serde_json::json!("2026-11-29T01:00:00.000Z");
    let held = quell::runtime::handle(&r, &ctx, later).await.unwrap();
    let rep = &held.reports[0];
    assert_eq!(rep.outcome.name(), "EXEMPT", "{rep:?}");
    assert!(rep.note.contains("undid"), "{}", rep.note);
    let inst = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let groups: Vec<String> = inst.reservations()[0].instances()[0]
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    assert_eq!(groups, [web_sg], "not isolated again");
    // Undoing twice is refused by the CLI (the record says when it was undone).
    let again = ctx
        .state
        .as_ref()
        .unwrap()
        .prior_state(&quell::state::UndoKey::of("ec2-isolate-instance", &f))
        .await
        .unwrap()
        .unwrap();
    assert!(again.undone_at.is_some());
}

#[tokio::test]
async fn every_interface_passes_through_the_untracking_group_to_the_isolation_group() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let (id, web_sg) = two_interface_instance(&member, "app-server-5").await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let (vpc, _, volumes) = placement(&ec2, &id).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );

    emu.clear_calls().await;
    let rep =
        quell::runtime::handle_finding(&Ec2IsolateInstance::default(), &ctx, &finding(&id)).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let writes: Vec<String> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.service == "ec2" && !c.action.starts_with("Describe"))
        .map(|c| c.action)
        .collect();

    // Both groups ready first (the untracking group made with all traffic allowed: in, and out to
    // IPv6 beside the default IPv4 egress), the evidence, then each interface moved twice in a
    // row, nothing between: to the untracking group, then to the isolation group. Which group
    // each move names is held call by call in the next test.
    let mut want = vec![
        "CreateSecurityGroup",
        "RevokeSecurityGroupEgress",
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "CreateTags",
    ];
    want.extend(volumes.iter().map(|_| "CreateSnapshot"));
    want.extend(["ModifyNetworkInterfaceAttribute"; 4]);
    // Then the untracking group allows nothing again.
    want.extend(["RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"]);
    want.extend(["DisassociateIamInstanceProfile", "ModifyInstanceAttribute"]);
    assert_eq!(writes, want);

    // Every interface ends in the isolation group alone, read back from the interfaces.
    let iso = isolation_groups(&ec2, &vpc).await;
    assert_eq!(iso.len(), 1, "{iso:?}");
    let iso = iso[0].group_id().unwrap().to_string();
    let enis = interfaces(&ec2, &id).await;
    assert_eq!(enis.len(), 2);
    for (eni, groups) in &enis {
        assert_eq!(
            groups.as_slice(),
            std::slice::from_ref(&iso),
            "interface {eni}"
        );
    }
    // The untracking group, once the interfaces are through: no rule either way (no standing
    // allow-all group between isolations), and nobody left in it.
    let untrack = untrack_groups(&ec2, &vpc).await;
    assert_eq!(untrack.len(), 1, "{untrack:?}");
    let u = &untrack[0];
    assert!(
        u.ip_permissions().is_empty() && u.ip_permissions_egress().is_empty(),
        "the untracking group still allows traffic: {u:?}"
    );
    let in_untrack = ec2
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(u.group_id().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        in_untrack.network_interfaces().is_empty(),
        "left in the untracking group: {in_untrack:?}"
    );
    let tags = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap()
        .reservations()[0]
        .instances()[0]
        .tags()
        .to_vec();
    assert!(
        tags.iter().any(|t| t.key() == Some(PREVIOUS_GROUPS_TAG)
            && t.value().is_some_and(|v| v.contains(&web_sg))),
        "{tags:?}"
    );

    // Isolated: a replay neither moves an interface nor touches the untracking group.
    emu.clear_calls().await;
    let again =
        quell::runtime::handle_finding(&Ec2IsolateInstance::default(), &ctx, &finding(&id)).await;
    assert_eq!(again.outcome.name(), "ALREADY_COMPLIANT", "{again:?}");
    let writes: Vec<_> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "ec2" && !c.action.starts_with("Describe"))
        .collect();
    assert!(writes.is_empty(), "a replay wrote: {writes:?}");
}

/// Call k of ModifyNetworkInterfaceAttribute refused, for k = 0..3 (a new instance each time):
/// call 2i moves interface i to the untracking group, call 2i+1 moves it on to the isolation
/// group. A refused move stops nothing else: the other interface, the snapshot and termination
/// protection are still done, and the outcome (FAILED, a person told) names the failure and what
/// was done. An interface that cannot reach the isolation group goes back to its own groups, never
/// left in the open one; the retry then finishes the isolation.
#[tokio::test]
async fn one_interface_failing_to_move_stops_nothing_else_and_is_reported() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );
    let r = Ec2IsolateInstance::default();
    for k in 0..4usize {
        let (id, web_sg) = two_interface_instance(&member, &format!("app-server-k{k}")).await;
        let (vpc, _, _) = placement(&ec2, &id).await;
        let order: Vec<String> = interfaces(&ec2, &id)
            .await
            .into_iter()
            .map(|(eni, _)| eni)
            .collect();
        let (eni, other) = (&order[k / 2], &order[1 - k / 2]);
        emu.inject(serde_json::json!([{
            "service": "ec2",
            "action": "ModifyNetworkInterfaceAttribute",
            "account": MEMBER,
            "skip": k,
            "count": 1,
            "status": 403,
            "code": "UnauthorizedOperation"
        }]))
        .await;
        emu.clear_calls().await;
        let rep = quell::runtime::handle_finding(&r, &ctx, &finding(&id)).await;
        let moves = emu
            .calls()
            .await
            .iter()
            .filter(|c| c.account == MEMBER && c.action == "ModifyNetworkInterfaceAttribute")
            .count();
        emu.clear_faults().await;

        let quell::Outcome::Failed {
            error, retryable, ..
        } = &rep.outcome
        else {
            panic!("call {k}: {rep:?}")
        };
        // FAILED, not retried quietly: the finding is NOTIFIED with what was done and what not.
        assert!(!retryable, "call {k}: {rep:?}");
        assert_eq!(rep.outcome.name(), "FAILED", "call {k}");
        let group = if k % 2 == 0 {
            "untracking"
        } else {
            "isolation"
        };
        let refused = format!("could not move {eni} of {id} to the {group} group");
        assert!(
            error.contains(&refused),
            "call {k}: `{refused}` not in {error}"
        );
        for done in [
            format!("{other} untracked, then isolated"),
            "snapshot snap-".to_string(),
            "termination protection on".to_string(),
        ] {
            assert!(error.contains(&done), "call {k}: `{done}` not in {error}");
        }
        let iso = isolation_groups(&ec2, &vpc).await[0]
            .group_id()
            .unwrap()
            .to_string();
        if k % 2 == 0 {
            // Not untracked, but isolated all the same; a person hears that connections open
            // before may survive.
            assert_eq!(moves, 4, "call {k}");
            assert!(
                error.contains("connections tracked before may survive"),
                "call {k}: {error}"
            );
            for (e, groups) in interfaces(&ec2, &id).await {
                assert_eq!(
                    groups.as_slice(),
                    std::slice::from_ref(&iso),
                    "call {k}: interface {e}"
                );
            }
        } else {
            // Back in its own groups: one more move.
            assert_eq!(moves, 5, "call {k}");
            let back = format!("{eni} put back in its own groups {web_sg}");
            assert!(error.contains(&back), "call {k}: `{back}` not in {error}");
        }
        if k == 1 {
            // The retry (a person's, or the next delivery) finishes it.
            let rep = quell::runtime::handle_finding(&r, &ctx, &finding(&id)).await;
            assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
            for (e, groups) in interfaces(&ec2, &id).await {
                assert_eq!(
                    groups.as_slice(),
                    std::slice::from_ref(&iso),
                    "after the retry: interface {e}"
                );
            }
        }
    }
}

/// The role `role`, made in the member and put in the instance profile `seed::instance` gave the
/// instance `name` (`<name>-profile`).
async fn profile_role(member: &aws_config::SdkConfig, name: &str, role: &str) {
    seed::app_role(member, role).await;
    aws_sdk_iam::Client::new(member)
        .add_role_to_instance_profile()
        .instance_profile_name(format!("{name}-profile"))
        .role_name(role)
        .send()
        .await
        .unwrap();
}

/// The revocation policy on `role`, as IAM gives it to the test's own admin, decoded; `None` when
/// the role has none.
async fn revocation(member: &aws_config::SdkConfig, role: &str) -> Option<String> {
    match aws_sdk_iam::Client::new(member)
        .get_role_policy()
        .role_name(role)
        .policy_name(SESSIONS_POLICY)
        .send()
        .await
    {
        Ok(out) => Some(quell::policy::percent_decode(&out.policy_document)),
        Err(e) => {
            assert_eq!(
                aws_sdk_iam::error::ProvideErrorMetadata::code(&e),
                Some("NoSuchEntity"),
                "{e:?}"
            );
            None
        }
    }
}

/// The function with QUELL_ISOLATE_REVOKE_ROLE_SESSIONS=true, read as the deployed one reads it.
fn revoking() -> Ec2IsolateInstance {
    let mut r = Ec2IsolateInstance::default();
    quell::Remediation::configure(&mut r, &|k| {
        (k == "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS").then(|| "true".to_string())
    })
    .unwrap();
    assert!(r.revoke_role_sessions);
    r
}

/// Another finding of the same kind about instance `id` (another GuardDuty id, another event).
fn another_finding(id: &str) -> quell::Finding {
    let event = events::load(
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        &[
            ("i-0a1b2c3d4e5f60718", id),
            (
                "f1a2b3c4d5e6f708192a3b4c5d6e7f90",
                "f1a2b3c4d5e6f708192a3b4c5d6e7f91",
            ),
            (
                "9c2d3e4f-5061-4b7c-8d9e-0f1a2b3c4d01",
                "9c2d3e4f-5061-4b7c-8d9e-0f1a2b3c4d02",
            ),
        ],
    );
    quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

/// With QUELL_ISOLATE_REVOKE_ROLE_SESSIONS=true the role of the instance's profile denies every
/// action to its sessions issued before the cut-off, which covers the finding's time: read back
/// from IAM by the test's own admin, not from quell's report. `quell undo` (from the record,
/// through quell-undo) removes the policy when the role had none, and puts back byte for byte the
/// revocation it had (iam-revoke-role-sessions', say) when it had one.
#[tokio::test]
async fn the_instance_roles_older_sessions_are_revoked_when_asked_and_undo_lifts_it() {
    use aws_smithy_types::date_time::Format;
    use aws_smithy_types::DateTime;
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    // One revocation policy on a role for both functions that revoke sessions: replaced, never
    // stacked.
    assert_eq!(SESSIONS_POLICY, iam_revoke_role_sessions::POLICY_NAME);
    let role = "app-server-7-role";
    let (id, _) = seed::instance(&member, "app-server-7").await;
    profile_role(&member, "app-server-7", role).await;
    assert_eq!(revocation(&member, role).await, None);
    let r = revoking();
    let ctx = quell_tests::recording_context(&emu, "ec2-isolate-instance").await;
    let f = finding(&id);

    let before = DateTime::from(std::time::SystemTime::now());
    let rep = quell::runtime::handle_finding(&r, &ctx, &f).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let quell::Outcome::Remediated { steps } = &rep.outcome else {
        panic!("{rep:?}")
    };
    assert!(
        steps
            .iter()
            .any(|s| s.action == "iam:PutRolePolicy" && s.detail.contains(role)),
        "{steps:?}"
    );

    // Read back from IAM: one policy on the role, denying everything to the sessions issued
    // before a cut-off taken during this isolation, so after the finding saw the compromise.
    let policies = seed::role_policies(&member, role).await;
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(policies[0].0, SESSIONS_POLICY);
    let doc = revocation(&member, role)
        .await
        .expect("the revocation policy");
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["Statement"][0]["Effect"], "Deny", "{doc}");
    assert_eq!(
        v["Statement"][0]["Action"],
        serde_json::json!(["*"]),
        "{doc}"
    );
    let cutoff = quell::policy::sessions_cutoff(&doc).expect("a cut-off");
    let seen = DateTime::from_str(f.observed_at.as_deref().unwrap(), Format::DateTime).unwrap();
    assert!(cutoff.secs() >= before.secs(), "{doc}");
    assert!(cutoff.secs() >= seen.secs().min(before.secs()), "{doc}");
    assert!(cutoff.secs() <= DateTime::from(std::time::SystemTime::now()).secs());

    // `quell undo`: the role had no revocation, so the policy is gone again.
    let undone = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert!(
        undone
            .iter()
            .any(|s| s.action == "iam:DeleteRolePolicy" && s.detail.contains(role)),
        "{undone:?}"
    );
    assert_eq!(
        revocation(&member, role).await,
        None,
        "the deny policy is gone"
    );
    assert!(seed::role_policies(&member, role).await.is_empty());

    // A role that already had a revocation, with an older cut-off and its own spacing: the
    // cut-off moves forward (one policy still), and undo puts back exactly the one it had.
    let role = "app-server-8-role";
    let (id, _) = seed::instance(&member, "app-server-8").await;
    profile_role(&member, "app-server-8", role).await;
    let old = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Earlier", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}}}]}"#;
    aws_sdk_iam::Client::new(&member)
        .put_role_policy()
        .role_name(role)
        .policy_name(SESSIONS_POLICY)
        .policy_document(old)
        .send()
        .await
        .unwrap();
    assert_eq!(revocation(&member, role).await.as_deref(), Some(old));
    let f = another_finding(&id);
    let rep = quell::runtime::handle_finding(&r, &ctx, &f).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let moved = revocation(&member, role)
        .await
        .expect("the revocation policy");
    assert_ne!(moved, old);
    let cutoff = quell::policy::sessions_cutoff(&moved).expect("a cut-off");
    assert!(cutoff.secs() >= before.secs(), "{moved}");
    assert_eq!(
        seed::role_policies(&member, role).await.len(),
        1,
        "replaced, not stacked"
    );
    let undone = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert!(
        undone
            .iter()
            .any(|s| s.action == "iam:PutRolePolicy" && s.detail.contains("put back as it was")),
        "{undone:?}"
    );
    assert_eq!(
        revocation(&member, role).await.as_deref(),
        Some(old),
        "the earlier revocation, byte for byte"
    );
}

/// Without the setting (the default) the role of the instance's profile is neither read nor
/// changed: the profile is removed, and IAM sees no call from quell in the member.
#[tokio::test]
async fn without_the_setting_the_instance_role_is_not_read_or_changed() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let role = "app-server-9-role";
    let (id, _) = seed::instance(&member, "app-server-9").await;
    profile_role(&member, "app-server-9", role).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ec2-isolate-instance",
    );
    let r = Ec2IsolateInstance::default();
    assert!(!r.revoke_role_sessions, "off unless the operator opts in");

    emu.clear_calls().await;
    let rep = quell::runtime::handle_finding(&r, &ctx, &finding(&id)).await;
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let calls = emu.calls().await;
    assert!(
        calls
            .iter()
            .any(|c| c.account == MEMBER && c.action == "DisassociateIamInstanceProfile"),
        "the profile is removed: {calls:?}"
    );
    let iam: Vec<_> = calls
        .iter()
        .filter(|c| c.account == MEMBER && c.service == "iam")
        .collect();
    assert!(iam.is_empty(), "IAM called without the setting: {iam:?}");
    assert!(seed::role_policies(&member, role).await.is_empty());
    assert_eq!(revocation(&member, role).await, None);
}
