use super::*;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::modify_subnet_attribute::{
    ModifySubnetAttributeError, ModifySubnetAttributeOutput,
};
use aws_sdk_ec2::types::{Subnet as Ec2Subnet, Tag};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const ID: &str = "subnet-0a1b2c3d4e5f60718";

/// The subnet as DescribeSubnets returns it: (MapPublicIpOnLaunch, AssignIpv6AddressOnCreation).
fn described(map: bool, ipv6: bool, exempt: bool) -> DescribeSubnetsOutput {
    let mut s = Ec2Subnet::builder()
        .subnet_id(ID)
        .vpc_id("vpc-0a1b2c3d")
        .map_public_ip_on_launch(map)
        .assign_ipv6_address_on_creation(ipv6)
        .default_for_az(true);
    if exempt {
        s = s.tags(Tag::builder().key("quell:exempt").value("true").build());
    }
    DescribeSubnetsOutput::builder().subnets(s.build()).build()
}

/// DescribeSubnets for the one subnet: `first` (map, ipv6), then `then`.
fn subnets(first: (bool, bool), then: (bool, bool), exempt: bool) -> Rule {
    mock!(Client::describe_subnets)
        .match_requests(|r| r.subnet_ids() == [ID.to_string()])
        .sequence()
        .output(move || described(first.0, first.1, exempt))
        .output(move || described(then.0, then.1, exempt))
        .build()
}

fn modify(on: bool) -> Rule {
    mock!(Client::modify_subnet_attribute)
        .match_requests(move |r| {
            r.subnet_id() == Some(ID)
                && r.map_public_ip_on_launch().and_then(|v| v.value()) == Some(on)
                && r.assign_ipv6_address_on_creation().is_none()
        })
        .then_output(|| ModifySubnetAttributeOutput::builder().build())
}

async fn run(d: Rule, m: &Rule, mode: Mode) -> Outcome {
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, m]);
    let t = Subnet::new(ID, "111111111111", "us-east-1");
    execute(&Ec2SubnetNoPublicIp, &ec2, &t, mode, "quell:exempt").await
}

#[tokio::test]
async fn public_ipv4_mapping_is_turned_off_and_read_back() {
    let m = modify(false);
    let out = run(
        subnets((true, false), (false, false), false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(m.num_calls(), 1);
    // Still mapping on the re-read: FAILED, never RESOLVED.
    let m = modify(false);
    let out = run(
        subnets((true, false), (true, false), false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[tokio::test]
async fn ipv6_on_creation_is_left_and_never_resolved() {
    // Changed, but the IPv6 setting Config's rule also fails stays: UNCONFIRMED.
    let m = modify(false);
    let out = run(
        subnets((true, true), (false, true), false),
        &m,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Unconfirmed { unchecked, .. } => {
            assert!(
                unchecked.contains("AssignIpv6AddressOnCreation"),
                "{unchecked}"
            )
        }
        other => panic!("expected UNCONFIRMED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 1);
    // Nothing to change on IPv4, IPv6 on: UNCONFIRMED, no write.
    let m = modify(false);
    let out = run(
        subnets((false, true), (false, true), false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), m.num_calls()), ("UNCONFIRMED", 0), "{out:?}");
}

#[tokio::test]
async fn compliant_exempt_dry_run_and_denied() {
    let m = modify(false);
    let out = run(
        subnets((false, false), (false, false), false),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), m.num_calls()), ("ALREADY_COMPLIANT", 0));
    let out = run(
        subnets((true, false), (true, false), true),
        &m,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), m.num_calls()), ("EXEMPT", 0));
    let out = run(
        subnets((true, false), (true, false), false),
        &m,
        Mode::DryRun,
    )
    .await;
    match &out {
        Outcome::Planned { steps, reason } => {
            assert!(steps[0].to_string().contains("MapPublicIpOnLaunch=false"));
            assert!(reason.contains("internet access"), "{reason}");
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(m.num_calls(), 0);
    let denied = mock!(Client::modify_subnet_attribute).then_error(|| {
        ModifySubnetAttributeError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .build(),
        )
    });
    let out = run(
        subnets((true, false), (true, false), false),
        &denied,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn a_subnet_the_account_does_not_have_fails_naming_it() {
    let empty =
        mock!(Client::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build());
    let m = modify(false);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&empty, &m]);
    let t = Subnet::new(ID, "111111111111", "us-east-1");
    let out = execute(
        &Ec2SubnetNoPublicIp,
        &ec2,
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!((out.name(), m.num_calls()), ("FAILED", 0), "{out:?}");
}

#[tokio::test]
async fn undo_turns_mapping_back_on_and_a_bad_prior_calls_nothing() {
    let m = modify(true);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&m]);
    let t = Subnet::new(ID, "111111111111", "us-east-1");
    let prior = Ec2SubnetNoPublicIp.prior(&ec2, &t).await.unwrap().unwrap();
    assert_eq!(
        Ec2SubnetNoPublicIp
            .restore(&ec2, &prior)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(m.num_calls(), 1);
    let mut off = prior.clone();
    off["MapPublicIpOnLaunch"] = false.into();
    let mut bad = prior.clone();
    bad["subnet"] = "subnet-x; rm".into();
    for p in [off, bad, serde_json::json!({})] {
        assert_eq!(
            Ec2SubnetNoPublicIp
                .restore(&ec2, &p)
                .await
                .unwrap_err()
                .code
                .as_deref(),
            Some("InvalidPriorState"),
            "{p}"
        );
    }
    assert_eq!(m.num_calls(), 1);
}

#[test]
fn the_target_is_the_finding_accounts_subnet() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "EC2.15".into(),
        "EC2.15".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    let arn = format!("arn:aws:ec2:us-east-1:111111111111:subnet/{ID}");
    for r in [
        Resource::from_arn(ResourceKind::Ec2Subnet, &arn),
        Resource::new(ResourceKind::Ec2Subnet, ID),
    ] {
        f.resources = vec![r];
        assert_eq!(Ec2SubnetNoPublicIp.target(&f).unwrap().id, ID);
    }
    for (other, named) in [
        (
            format!("arn:aws:ec2:us-east-1:222222222222:subnet/{ID}"),
            "222222222222",
        ),
        (
            format!("arn:aws:ec2:eu-west-1:111111111111:subnet/{ID}"),
            "eu-west-1",
        ),
    ] {
        f.resources = vec![Resource::from_arn(ResourceKind::Ec2Subnet, &other)];
        let NotApplicable(why) = Ec2SubnetNoPublicIp.target(&f).unwrap_err();
        assert!(why.contains(named), "{why}");
    }
    for bad in ["subnet-xyz", "sg-0a1b2c3d", "subnet-0a1b2c3d4"] {
        f.resources = vec![Resource::new(ResourceKind::Ec2Subnet, bad)];
        assert!(Ec2SubnetNoPublicIp.target(&f).is_err(), "{bad}");
    }
    f.resources = vec![Resource::new(ResourceKind::Ec2Instance, "i-0a1b2c3d")];
    assert!(Ec2SubnetNoPublicIp.target(&f).is_err());
}
