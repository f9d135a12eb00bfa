use super::*;
use aws_sdk_ec2::operation::authorize_security_group_ingress::{
    AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
};
use aws_sdk_ec2::operation::describe_security_groups::{
    DescribeSecurityGroupsError, DescribeSecurityGroupsOutput,
};
use aws_sdk_ec2::operation::revoke_security_group_ingress::{
    RevokeSecurityGroupIngressError, RevokeSecurityGroupIngressOutput,
};
use aws_sdk_ec2::types::{SecurityGroup, Tag, UserIdGroupPair};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

fn rule(proto: &str, from: i32, to: i32, cidrs: &[&str]) -> IpPermission {
    let mut b = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(from)
        .to_port(to);
    for c in cidrs {
        b = if c.contains(':') {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(*c).build())
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(*c).build())
        };
    }
    b.build()
}

fn mixed() -> Vec<IpPermission> {
    vec![
        rule("tcp", 22, 22, &["0.0.0.0/0", "10.0.0.0/8"]),
        rule("tcp", 443, 443, &["0.0.0.0/0"]),
        rule("tcp", 3306, 3306, &["::/0"]),
        rule("tcp", 5432, 5432, &["10.1.0.0/16"]),
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(8080)
            .to_port(8080)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-0123456789abcdef0")
                    .build(),
            )
            .build(),
    ]
}

#[test]
fn only_world_open_high_risk_ranges_are_taken() {
    let open = world_open(&mixed(), DEFAULT_PORTS);
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[0].from_port(), Some(22));
    assert_eq!(open[0].ip_ranges().len(), 1, "10.0.0.0/8 stays");
    assert_eq!(open[0].ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
    assert_eq!(open[1].ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
    // All traffic open to the world, and port ranges that cover a risky port.
    assert_eq!(
        world_open(&[rule("-1", -1, -1, &["0.0.0.0/0"])], DEFAULT_PORTS).len(),
        1
    );
    assert_eq!(
        world_open(&[rule("tcp", 1000, 2000, &["0.0.0.0/0"])], DEFAULT_PORTS).len(),
        1,
        "1433 is inside"
    );
    assert!(world_open(&[rule("tcp", 443, 443, &["0.0.0.0/0"])], DEFAULT_PORTS).is_empty());
    assert!(world_open(&[rule("icmp", -1, -1, &["0.0.0.0/0"])], DEFAULT_PORTS).is_empty());
}

fn group(ingress: Vec<IpPermission>, tags: &[(&str, &str)]) -> DescribeSecurityGroupsOutput {
    let mut sg = SecurityGroup::builder()
        .group_id("sg-0a1b2c3d4e5f60718")
        .set_ip_permissions(Some(ingress));
    for (k, v) in tags {
        sg = sg.tags(Tag::builder().key(*k).value(*v).build());
    }
    DescribeSecurityGroupsOutput::builder()
        .security_groups(sg.build())
        .build()
}

fn target() -> Target {
    Target::new("sg-0a1b2c3d4e5f60718")
}

#[tokio::test]
async fn revokes_the_open_part_and_verifies() {
    let d = mock!(Client::describe_security_groups)
        .sequence()
        .output(|| group(mixed(), &[]))
        .output(|| {
            group(
                vec![
                    rule("tcp", 22, 22, &["10.0.0.0/8"]),
                    rule("tcp", 443, 443, &["0.0.0.0/0"]),
                ],
                &[],
            )
        })
        .build();
    let r = mock!(Client::revoke_security_group_ingress)
        .match_requests(|req| {
            req.ip_permissions().len() == 2 && req.group_id() == Some("sg-0a1b2c3d4e5f60718")
        })
        .then_output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps.len(), 2);
    assert!(
        steps[0].detail.contains("ports=22 from=0.0.0.0/0"),
        "{}",
        steps[0].detail
    );
    assert_eq!(
        (d.num_calls(), r.num_calls()),
        (2, 1),
        "one read shared by tags and plan, one verifying read"
    );
}

#[tokio::test]
async fn compliant_dry_run_exempt_and_errors() {
    let d = mock!(Client::describe_security_groups)
        .then_output(|| group(vec![rule("tcp", 443, 443, &["0.0.0.0/0"])], &[]));
    let r = mock!(Client::revoke_security_group_ingress)
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");

    let d = mock!(Client::describe_security_groups).then_output(|| group(mixed(), &[]));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Planned { .. }), "{out:?}");

    let d = mock!(Client::describe_security_groups)
        .then_output(|| group(mixed(), &[("quell:exempt", "true")]));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Exempt { .. }), "{out:?}");
    assert_eq!(r.num_calls(), 0);

    let d = mock!(Client::describe_security_groups).then_output(|| group(mixed(), &[]));
    let deny = mock!(Client::revoke_security_group_ingress).then_error(|| {
        RevokeSecurityGroupIngressError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .build(),
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &deny]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(
            out,
            Outcome::Failed {
                retryable: false,
                ..
            }
        ),
        "{out:?}"
    );

    let d = mock!(Client::describe_security_groups).then_error(|| {
        DescribeSecurityGroupsError::generic(
            ErrorMetadata::builder()
                .code("RequestLimitExceeded")
                .build(),
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d]);
    assert!(execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt"
    )
    .await
    .is_retryable());
}

#[test]
fn ports_are_configurable() {
    let mut r = Ec2RevokeOpenIngress::default();
    r.configure(&|_| Some("22, 3389".into())).unwrap();
    assert_eq!(r.ports, [22, 3389]);
    assert_eq!(
        r.configure(&|_| Some("ssh".into())).unwrap_err().var,
        "QUELL_HIGH_RISK_PORTS"
    );
}

#[tokio::test]
async fn ec2_18_with_no_high_risk_port_open_is_unconfirmed_not_resolved() {
    // Port 8443 open to the world: EC2.18 flags it (not 80 or 443); quell's list does not hold it.
    let d = mock!(Client::describe_security_groups)
        .then_output(|| group(vec![rule("tcp", 8443, 8443, &["0.0.0.0/0"])], &[]));
    let r = mock!(Client::revoke_security_group_ingress).then_output(|| {
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &r]);
    let mut t = target();
    t.every_port = true;
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(unchecked.contains("authorized"), "{unchecked}");
    assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Notified));
    assert_eq!(r.num_calls(), 0, "nothing is changed");
    // The same group for EC2.13 (port 22 only): quell's check is whole, so it is resolved.
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "ALREADY_COMPLIANT");
}

#[test]
fn ranges_are_cut_around_the_high_risk_ports() {
    let all = ranges_around(0, 65535, DEFAULT_PORTS);
    assert_eq!(all.len(), 21, "{all:?}");
    assert_eq!(all[0], (0, 19));
    assert_eq!(all[1], (24, 24), "20-23 and 25 are high-risk, 24 is not");
    assert_eq!(all[2], (26, 109));
    assert_eq!(all[20], (9301, 65535));
    for (from, to) in &all {
        assert!(
            !DEFAULT_PORTS
                .iter()
                .any(|&p| (*from..=*to).contains(&i32::from(p))),
            "{from}-{to} holds a high-risk port"
        );
    }
    // Every other port is still covered.
    let covered: i32 = all.iter().map(|(f, t)| t - f + 1).sum();
    assert_eq!(covered, 65536 - DEFAULT_PORTS.len() as i32);
    assert_eq!(ranges_around(20, 25, DEFAULT_PORTS), [(24, 24)]);
    assert!(ranges_around(22, 22, DEFAULT_PORTS).is_empty());
    assert_eq!(
        ranges_around(1000, 2000, &[1433, 1434]),
        [(1000, 1432), (1435, 2000)]
    );
    assert_eq!(ranges_around(22, 30, &[22, 30]), [(23, 29)]);
}

/// tcp 0-65535 open to the world (IPv4 with a description, and IPv6) and to 10.0.0.0/8.
fn wide() -> IpPermission {
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
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build()
}

#[test]
fn a_wide_range_keeps_its_other_ports_with_the_same_addresses() {
    let c = cut(&[wide()], DEFAULT_PORTS, true);
    assert_eq!(c.revoke.len(), 1);
    assert_eq!(
        c.revoke[0].ip_ranges().len(),
        1,
        "10.0.0.0/8 is not touched"
    );
    assert_eq!(c.keep.len(), 21);
    let first = &c.keep[0];
    assert_eq!(
        (first.ip_protocol(), first.from_port(), first.to_port()),
        (Some("tcp"), Some(0), Some(19))
    );
    assert_eq!(first.ip_ranges().len(), 1);
    assert_eq!(first.ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
    assert_eq!(first.ip_ranges()[0].description(), Some("partner feed"));
    assert_eq!(first.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
    assert!(
        world_open(&c.keep, DEFAULT_PORTS).is_empty(),
        "what is kept opens no high-risk port"
    );

    // A sub-range already in the group is not authorized twice (InvalidPermission.Duplicate);
    // two wide rules give each sub-range once.
    let c = cut(
        &[
            wide(),
            rule("tcp", 0, 19, &["0.0.0.0/0"]),
            rule("tcp", 0, 30, &["0.0.0.0/0"]),
        ],
        DEFAULT_PORTS,
        true,
    );
    assert_eq!(c.revoke.len(), 2, "0-19 opens no high-risk port");
    let zero: Vec<_> = c
        .keep
        .iter()
        .filter(|k| k.from_port() == Some(0) && k.to_port() == Some(19))
        .collect();
    assert_eq!(zero.len(), 1);
    assert!(zero[0].ip_ranges().is_empty(), "{zero:?}");
    assert_eq!(zero[0].ipv6_ranges().len(), 1);
    let k24: Vec<_> = c
        .keep
        .iter()
        .filter(|k| k.from_port() == Some(24) && k.to_port() == Some(24))
        .collect();
    assert_eq!(k24.len(), 1);
    assert_eq!(k24[0].ip_ranges().len(), 1, "24 once, from both wide rules");
    assert_eq!(
        c.keep
            .iter()
            .filter(|k| k.from_port() == Some(26) && k.to_port() == Some(30))
            .count(),
        1
    );

    // Every protocol has no range to cut: revoked whole. And the switch turns cutting off.
    let c = cut(&[rule("-1", -1, -1, &["0.0.0.0/0"])], DEFAULT_PORTS, true);
    assert_eq!((c.revoke.len(), c.keep.len()), (1, 0));
    let c = cut(&[wide()], DEFAULT_PORTS, false);
    assert_eq!((c.revoke.len(), c.keep.len()), (1, 0));
}

#[tokio::test]
async fn a_wide_range_is_cut_the_other_ports_authorized_first_and_verified() {
    let kept = cut(&[wide()], DEFAULT_PORTS, true).keep;
    let after = kept.clone();
    let d = mock!(Client::describe_security_groups)
        .sequence()
        .output(|| group(vec![wide()], &[]))
        .output(move || {
            let mut rules = after.clone();
            rules.push(rule("tcp", 0, 65535, &["10.0.0.0/8"]));
            group(rules, &[])
        })
        .build();
    let a = mock!(Client::authorize_security_group_ingress)
        .match_requests(move |req| {
            req.group_id() == Some("sg-0a1b2c3d4e5f60718") && req.ip_permissions() == kept
        })
        .then_output(|| {
            AuthorizeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let r = mock!(Client::revoke_security_group_ingress)
        .match_requests(|req| {
            let p = req.ip_permissions();
            p.len() == 1
                && p[0].from_port() == Some(0)
                && p[0].to_port() == Some(65535)
                && p[0].ip_ranges().len() == 1
                && p[0].ip_ranges()[0].cidr_ip() == Some("0.0.0.0/0")
                && p[0].ipv6_ranges().len() == 1
        })
        .then_output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &a, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].action, "ec2:RevokeSecurityGroupIngress");
    assert!(steps[0].detail.contains("ports=0-65535"), "{steps:?}");
    assert_eq!(steps[1].action, "ec2:AuthorizeSecurityGroupIngress");
    assert!(
        steps[1].detail.contains("ports=0-19,24,26-109,"),
        "{}",
        steps[1].detail
    );
    assert_eq!((d.num_calls(), a.num_calls(), r.num_calls()), (2, 1, 1));
}

#[tokio::test]
async fn when_the_other_ports_cannot_be_kept_nothing_is_revoked() {
    let d = mock!(Client::describe_security_groups).then_output(|| group(vec![wide()], &[]));
    let a = mock!(Client::authorize_security_group_ingress).then_error(|| {
        AuthorizeSecurityGroupIngressError::generic(
            ErrorMetadata::builder()
                .code("RulesPerSecurityGroupLimitExceeded")
                .build(),
        )
    });
    let r = mock!(Client::revoke_security_group_ingress)
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &a, &r]);
    let out = execute(
        &Ec2RevokeOpenIngress::default(),
        &ec2,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(error.contains("nothing was revoked"), "{error}");
    assert_eq!((a.num_calls(), r.num_calls()), (1, 0));
}

#[tokio::test]
async fn undo_puts_the_range_back_and_takes_quells_sub_ranges_away() {
    let r = Ec2RevokeOpenIngress::default();
    let change = cut(&[wide()], DEFAULT_PORTS, true);
    let prior = serde_json::json!({
        "group": "sg-0a1b2c3d4e5f60718",
        "revoked": rules_json(&change.revoke),
        "added": rules_json(&change.keep),
    });
    let revoked = change.revoke.clone();
    let added = change.keep.clone();
    let a = mock!(Client::authorize_security_group_ingress)
        .match_requests(move |req| req.ip_permissions() == revoked)
        .then_output(|| AuthorizeSecurityGroupIngressOutput::builder().build());
    let v = mock!(Client::revoke_security_group_ingress)
        .match_requests(move |req| req.ip_permissions() == added)
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&a, &v]);
    let steps = r.restore(&ec2, &prior).await.unwrap();
    assert_eq!(steps.len(), 1 + 21, "{steps:?}");
    assert_eq!(steps[0].action, "ec2:AuthorizeSecurityGroupIngress");
    assert!(
        steps[0]
            .detail
            .contains("ports=0-65535 from=0.0.0.0/0,::/0"),
        "{steps:?}"
    );
    assert_eq!((a.num_calls(), v.num_calls()), (1, 1));

    // A prior recorded before ranges were cut has no `added`: only the rule is put back.
    let prior = serde_json::json!({
        "group": "sg-0a1b2c3d4e5f60718",
        "revoked": rules_json(&change.revoke),
    });
    let steps = r.restore(&ec2, &prior).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!((a.num_calls(), v.num_calls()), (2, 1));
}
