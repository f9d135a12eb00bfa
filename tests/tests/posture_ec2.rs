//! Safe defaults on EC2 end to end: each remediation looks at what its change would break before
//! it acts, and plans (NOTIFIED) instead of breaking, or changes only what the finding is about.
//! State is seeded in a member account with IAM in force, read back through the SDK, and every
//! change is undone through the member's quell-undo role from the prior recorded in DynamoDB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, UserIdGroupPair};
use quell::Remediation;
use quell_tests::probe::Probe;
use quell_tests::{events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::Value;

struct Member {
    emu: Emulator,
    central: aws_config::SdkConfig,
    cfg: aws_config::SdkConfig,
}

async fn member() -> Member {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let cfg = emu.account_config(MEMBER).await;
    seed::member_role(&cfg, CENTRAL).await;
    Member { emu, central, cfg }
}

fn parsed(event: &Value) -> quell::Finding {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

/// The Security Hub finding's id: the hub's own, or the one quell imports for other sources.
fn hub_id(event: &Value) -> String {
    let f = parsed(event);
    f.hub.clone().map(|h| h.id).unwrap_or_else(|| f.own_id())
}

/// A Security Hub event's finding, as Security Hub's own integration would have imported it.
async fn seed_hub(m: &Member, event: &Value) {
    let f = parsed(event);
    if let Some(h) = &f.hub {
        let r = f.resources.first().unwrap();
        let arn = r.arn.clone().unwrap_or_else(|| r.id.clone());
        let resource = (r.kind.asff_type(), arn.as_str());
        seed::hub_finding(&m.cfg, MEMBER, &h.id, &h.product_arn, resource).await;
    }
}

/// The same finding delivered again (a new event id: the same one is a DUPLICATE).
fn again(event: &Value, n: u32) -> Value {
    let mut e = event.clone();
    let id = e["id"].as_str().unwrap_or("event").to_string();
    e["id"] = Value::String(format!("{id}-again-{n}"));
    e
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn default_vpc(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id())
        .expect("default vpc")
        .to_string()
}

#[tokio::test]
async fn a_default_group_an_interface_uses_is_planned_not_closed_until_none_does() {
    use ec2_close_default_sg::Ec2CloseDefaultSg;
    let m = member().await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    let vpc = default_vpc(&ec2).await;
    let groups = ec2
        .describe_security_groups()
        .filters(filter("group-name", "default"))
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    let sg = groups.security_groups()[0].clone();
    let id = sg.group_id().unwrap().to_string();
    // As AWS creates it: all traffic from the group's own members, besides the open egress.
    if sg.ip_permissions().is_empty() {
        ec2.authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id(&id).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    // An interface (an application's, launched without a group of its own) uses the group.
    let subnet = ec2
        .describe_subnets()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .find_map(|s| s.subnet_id().map(str::to_string))
        .expect("a default subnet");
    let eni = ec2
        .create_network_interface()
        .subnet_id(&subnet)
        .groups(&id)
        .description("app server")
        .send()
        .await
        .unwrap()
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .unwrap()
        .to_string();

    let event = events::load(
        "securityhub-imported-fsbp-ec2-2.json",
        &[("sg-0d0e0f0a0b0c0d0e0", &id)],
    );
    seed_hub(&m, &event).await;
    let seeded = Probe::Rules(id.clone()).read(&m.cfg).await;
    assert_ne!(seeded, "in[] out[]", "the default group starts open");
    let ctx = quell_tests::recording_context(&m.emu, Ec2CloseDefaultSg::SPEC.id).await;
    let first = quell::runtime::handle(&Ec2CloseDefaultSg, &ctx, event.clone())
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(first.outcome.name(), "PLANNED", "{first:?}");
    assert_eq!(
        Probe::Rules(id.clone()).read(&m.cfg).await,
        seeded,
        "a group in use keeps its rules"
    );
    let (status, note) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    let note = note.unwrap_or_default();
    assert_eq!(status, "NOTIFIED", "{note}");
    assert!(
        note.contains(&eni) && note.contains("dedicated security group"),
        "the note names the interface and what to do: {note}"
    );

    // The interface moved away: the next delivery closes the group, and undo opens it again.
    ec2.delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    let second = quell::runtime::handle(&Ec2CloseDefaultSg, &ctx, again(&event, 1))
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(second.outcome.name(), "REMEDIATED", "{second:?}");
    assert_eq!(Probe::Rules(id.clone()).read(&m.cfg).await, "in[] out[]");
    let (status, _) = seed::workflow(&m.central, &hub_id(&event)).await.unwrap();
    assert_eq!(status, "RESOLVED");
    let steps =
        quell_tests::undo_recorded(&m.emu, &ctx, &Ec2CloseDefaultSg, &parsed(&event).id).await;
    assert!(!steps.is_empty());
    assert_eq!(Probe::Rules(id).read(&m.cfg).await, seeded);
}

/// The world-open tcp port ranges of a group's ingress (IPv4), with their descriptions.
async fn world_open_tcp(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<(i32, i32, String)> {
    let out = ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(i32, i32, String)> = out.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter(|p| p.ip_protocol() == Some("tcp"))
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .filter(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                .map(|r| {
                    (
                        p.from_port().unwrap(),
                        p.to_port().unwrap(),
                        r.description().unwrap_or_default().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_world_open_port_range_loses_only_its_high_risk_ports_and_undo_puts_it_back() {
    use ec2_revoke_open_ingress::{Ec2RevokeOpenIngress, DEFAULT_PORTS};
    let m = member().await;
    let ec2 = aws_sdk_ec2::Client::new(&m.cfg);
    // The web group: ssh open to the world (seeded), and every tcp port open to the world (for a
    // partner's feed) and to the VPC.
    let (_, web) = seed::instance(&m.cfg, "wide-1").await;
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(0)
                .to_port(65535)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("partner feed")
                        .build(),
                )
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let probe = Probe::Rules(web.clone());
    let seeded = probe.read(&m.cfg).await;
    assert!(seeded.contains("tcp:0-65535:0.0.0.0/0"), "{seeded}");

    let event = events::load(
        "config-restricted-ssh.json",
        &[("sg-0a1b2c3d4e5f60718", &web)],
    );
    let r = Ec2RevokeOpenIngress::default();
    let ctx = quell_tests::recording_context(&m.emu, Ec2RevokeOpenIngress::SPEC.id).await;
    let first = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(first.outcome.name(), "REMEDIATED", "{first:?}");
    let (status, _) = seed::workflow(&m.central, &hub_id(&event))
        .await
        .expect("finding recorded");
    assert_eq!(status, "RESOLVED");

    // Read back: no high-risk port is open to the world, and every other port still is, with the
    // rule's description.
    let open = world_open_tcp(&ec2, &web).await;
    for (from, to, _) in &open {
        let risky: Vec<&u16> = DEFAULT_PORTS
            .iter()
            .filter(|p| (*from..=*to).contains(&i32::from(**p)))
            .collect();
        assert!(risky.is_empty(), "{from}-{to} still opens {risky:?}");
    }
    for port in 0..=65535 {
        let risky = DEFAULT_PORTS.iter().any(|p| i32::from(*p) == port);
        let covered = open.iter().any(|(f, t, _)| (*f..=*t).contains(&port));
        assert_eq!(covered, !risky, "port {port}");
    }
    assert!(
        open.iter().all(|(_, _, d)| d == "partner feed"),
        "the description is kept: {open:?}"
    );
    let fixed = probe.read(&m.cfg).await;
    for rule in [
        "tcp:0-19:0.0.0.0/0",
        "tcp:24-24:0.0.0.0/0",
        "tcp:26-109:0.0.0.0/0",
        "tcp:9301-65535:0.0.0.0/0",
        "tcp:0-65535:10.0.0.0/8",
    ] {
        assert!(fixed.contains(rule), "{rule} is missing: {fixed}");
    }
    for gone in ["tcp:0-65535:0.0.0.0/0", "tcp:22-22:0.0.0.0/0"] {
        assert!(!fixed.contains(gone), "{gone} is still there: {fixed}");
    }

    // Another delivery finds nothing to do.
    let replay = quell::runtime::handle(&r, &ctx, again(&event, 1))
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert_eq!(probe.read(&m.cfg).await, fixed);

    // Undo: the wide rule and the ssh rule back, quell's sub-ranges gone.
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert!(!steps.is_empty());
    assert_eq!(probe.read(&m.cfg).await, seeded, "{steps:?}");
    let open = world_open_tcp(&ec2, &web).await;
    assert_eq!(
        format!("{open:?}"),
        r#"[(0, 65535, "partner feed"), (22, 22, "")]"#
    );
}

#[tokio::test]
async fn imdsv2_raises_a_hop_limit_of_1_for_containers_and_undo_puts_it_back() {
    use ec2_require_imdsv2::Ec2RequireImdsv2;
    let m = member().await;
    let (id, _) = seed::instance(&m.cfg, "containers-1").await;
    let probe = Probe::Metadata(id.clone());
    let seeded = probe.read(&m.cfg).await;
    assert!(
        seeded.starts_with("tokens=Some(Optional) hops=Some(1)"),
        "{seeded}"
    );
    let event = events::load(
        "config-ec2-imdsv2-check.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let ctx = quell_tests::recording_context(&m.emu, Ec2RequireImdsv2::SPEC.id).await;
    let r = Ec2RequireImdsv2::default();
    let first = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(first.outcome.name(), "REMEDIATED", "{first:?}");
    let fixed = probe.read(&m.cfg).await;
    assert!(
        fixed.starts_with("tokens=Some(Required) hops=Some(2)"),
        "{fixed}"
    );
    let steps = quell_tests::undo_recorded(&m.emu, &ctx, &r, &parsed(&event).id).await;
    assert!(!steps.is_empty());
    assert_eq!(probe.read(&m.cfg).await, seeded, "{steps:?}");

    // QUELL_IMDS_HOP_LIMIT=1: the hop limit is left as it is.
    let (id, _) = seed::instance(&m.cfg, "containers-2").await;
    let mut r = Ec2RequireImdsv2::default();
    r.configure(&|k| (k == "QUELL_IMDS_HOP_LIMIT").then(|| "1".to_string()))
        .unwrap();
    let event = events::load(
        "config-ec2-imdsv2-check.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let out = quell::runtime::handle(&r, &ctx, event)
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(out.outcome.name(), "REMEDIATED", "{out:?}");
    let fixed = Probe::Metadata(id).read(&m.cfg).await;
    assert!(
        fixed.starts_with("tokens=Some(Required) hops=Some(1)"),
        "{fixed}"
    );
}

/// `MetadataNoToken` calls on an instance, as EC2 reports them to CloudWatch in `account`.
async fn token_less_calls(cfg: &aws_config::SdkConfig, instance: &str, calls: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    aws_sdk_cloudwatch::Client::new(cfg)
        .put_metric_data()
        .namespace("AWS/EC2")
        .metric_data(
            MetricDatum::builder()
                .metric_name("MetadataNoToken")
                .dimensions(
                    Dimension::builder()
                        .name("InstanceId")
                        .value(instance)
                        .build(),
                )
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(an_hour_ago))
                .value(calls)
                .unit(StandardUnit::Count)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
}

#[tokio::test]
async fn imdsv2_is_planned_while_cloudwatch_counts_metadata_calls_without_a_token() {
    use ec2_require_imdsv2::Ec2RequireImdsv2;
    let m = member().await;
    let (id, _) = seed::instance(&m.cfg, "imdsv1-caller").await;
    let probe = Probe::Metadata(id.clone());
    let seeded = probe.read(&m.cfg).await;
    // The same instance id's calls counted in another account are not this instance's: quell
    // reads the metric in the member account only, as CloudWatch scopes it.
    token_less_calls(&m.central, &id, 5.0).await;
    let event = events::load(
        "config-ec2-imdsv2-check.json",
        &[("i-0a1b2c3d4e5f60718", &id)],
    );
    let ctx = quell_tests::recording_context(&m.emu, Ec2RequireImdsv2::SPEC.id).await;
    let r = Ec2RequireImdsv2::default();

    // Software on the instance still calls IMDSv1: requiring tokens would break it. Planned,
    // with the count, and the instance is as it was (read back from EC2).
    token_less_calls(&m.cfg, &id, 3.0).await;
    m.emu.clear_calls().await;
    let rep = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(rep.outcome.name(), "PLANNED", "{rep:?}");
    assert!(
        rep.note.contains("MetadataNoToken counts 3"),
        "{}",
        rep.note
    );
    assert_eq!(probe.read(&m.cfg).await, seeded);
    assert!(
        m.emu
            .calls()
            .await
            .iter()
            .any(|c| c.service == "monitoring" && c.action == "GetMetricStatistics"),
        "the metric was read through the member session"
    );
    assert_eq!(
        seed::workflow(&m.central, &hub_id(&event)).await.unwrap().0,
        "NOTIFIED"
    );

    // A second instance with no token-less call (only the other account's figure for the first
    // one exists): tokens are required.
    let (quiet, _) = seed::instance(&m.cfg, "imdsv2-only").await;
    token_less_calls(&m.central, &quiet, 7.0).await;
    let event = events::load(
        "config-ec2-imdsv2-check.json",
        &[("i-0a1b2c3d4e5f60718", &quiet)],
    );
    let rep = quell::runtime::handle(&r, &ctx, event)
        .await
        .unwrap()
        .reports
        .remove(0);
    assert_eq!(rep.outcome.name(), "REMEDIATED", "{rep:?}");
    let fixed = Probe::Metadata(quiet).read(&m.cfg).await;
    assert!(fixed.starts_with("tokens=Some(Required)"), "{fixed}");
}
