//! `ec2-close-default-sg`: a VPC's default security group should allow nothing (CIS 5.4, EC2.2):
//! every ingress and egress rule is revoked. Resources should use groups of their own.
//!
//! Before it acts, it looks for network interfaces that still use the group
//! (DescribeNetworkInterfaces, `group-id`): closing the group would cut their traffic, so then it
//! only plans (NOTIFIED), naming the interfaces and what a person should do — move them to a
//! group of their own — and closes the group once none is left.

use aws_sdk_ec2::types::Filter;
pub use ec2_revoke_open_ingress::{
    describe_group, rules_from_json, rules_json, valid_group_id, Group,
};
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

#[derive(Debug, Clone, Default)]
pub struct Ec2CloseDefaultSg;

/// How many interface ids a note names; the rest are counted.
const NAMED_INTERFACES: usize = 3;

#[derive(Debug, Default)]
pub struct Target {
    pub group: String,
    read: Cached<Group>,
    /// The network interfaces that use the group, as `plan` read them (read once per finding).
    interfaces: Cached<Vec<String>>,
}

impl Target {
    pub fn new(group: &str) -> Self {
        Target {
            group: group.into(),
            read: Cached::default(),
            interfaces: Cached::default(),
        }
    }
}

/// The ids of the network interfaces (of instances, load balancers, Lambda functions, endpoints)
/// that use `group`, every page.
pub async fn interfaces_using(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
) -> Result<Vec<String>, AwsError> {
    let mut ids = Vec::new();
    let mut pages = ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name("group-id").values(group).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.aws(|| format!("could not list the network interfaces that use {group}"))?;
        ids.extend(
            page.network_interfaces()
                .iter()
                .map(|n| n.network_interface_id().unwrap_or("?").to_string()),
        );
    }
    Ok(ids)
}

/// Why a group in use is planned, not closed: the interfaces (a few by id, and the count) and
/// what a person should do.
pub fn in_use_reason(group: &str, ids: &[String]) -> String {
    let named: Vec<&str> = ids
        .iter()
        .take(NAMED_INTERFACES)
        .map(String::as_str)
        .collect();
    let more = match ids.len().saturating_sub(NAMED_INTERFACES) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "{group} is still used by {} network interface(s) ({}{more}); removing its rules would cut their traffic. Move them to a dedicated security group first; quell closes the group once none uses it",
        ids.len(),
        named.join(", ")
    )
}

async fn read(ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Group, AwsError> {
    if let Some(g) = t.read.get() {
        return Ok(g);
    }
    let g = describe_group(ec2, &t.group).await?;
    t.read.set(g.clone());
    Ok(g)
}

impl Remediation for Ec2CloseDefaultSg {
    const SPEC: Spec = Spec {
        id: "ec2-close-default-sg",
        summary: "Removes every ingress and egress rule of a VPC's default security group; only plans while network interfaces use it",
        resolved: "vpc-default-security-group-closed, EC2.2, cis-1.2.0/4.3, cis-1.4.0/5.3, cis-3.0.0/5.4, cis-5.0.0/5.5: DescribeSecurityGroups on the group reads name default with no ingress and no egress rule. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Refuses a group not named default (NotTheDefaultGroup failure, NOTIFIED) and a finding with no valid security group id. While DescribeNetworkInterfaces (filter group-id) finds interfaces using the group it only plans (PLANNED/NOTIFIED, naming them) and revokes nothing. A group tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (SUPPRESSED). Default enforce.",
        triggers: Triggers {
            config_rules: &["vpc-default-security-group-closed"],
            securityhub_controls: &[
                "EC2.2",
                "cis-1.2.0/4.3",
                "cis-1.4.0/5.3",
                "cis-3.0.0/5.4",
                "cis-5.0.0/5.5",
            ],
            ..Triggers::NONE
        },
        permissions: &[
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
        ],
        undo_permissions: &[
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
        ],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let r = f
            .resource(&ResourceKind::Ec2SecurityGroup)
            .ok_or_else(|| NotApplicable("the finding names no security group".into()))?;
        if !quell::finding::validate::security_group_id(&r.id) {
            return Err(NotApplicable(format!(
                "`{}` is not a security group id",
                r.id
            )));
        }
        Ok(Target::new(&r.id))
    }

    fn describe(&self, t: &Target) -> String {
        format!("default security group {}", t.group)
    }

    async fn tags(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Tags, AwsError> {
        Ok(read(ec2, t).await?.tags)
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        let g = read(ec2, t).await?;
        if g.name != "default" {
            return Err(AwsError::other(
                format!("will not close security group {}", t.group),
                "NotTheDefaultGroup",
                format!("it is `{}`, not a VPC's default group", g.name),
                false,
            ));
        }
        let mut steps = Vec::new();
        if !g.ingress.is_empty() {
            steps.push(Step::new(
                "ec2:RevokeSecurityGroupIngress",
                format!("group={} all {} ingress rules", t.group, g.ingress.len()),
            ));
        }
        if !g.egress.is_empty() {
            steps.push(Step::new(
                "ec2:RevokeSecurityGroupEgress",
                format!("group={} all {} egress rules", t.group, g.egress.len()),
            ));
        }
        // Only when there is something to close: who would lose their traffic.
        if !steps.is_empty() && t.interfaces.get().is_none() {
            t.interfaces.set(interfaces_using(ec2, &t.group).await?);
        }
        Ok(steps)
    }

    fn plan_only(&self, t: &Target) -> Option<String> {
        t.interfaces
            .get()
            .filter(|ids| !ids.is_empty())
            .map(|ids| in_use_reason(&t.group, &ids))
    }

    async fn prior(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let g = read(ec2, t).await?;
        Ok(Some(serde_json::json!({
            "group": t.group,
            "ingress": rules_json(&g.ingress),
            "egress": rules_json(&g.egress),
        })))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let group = quell::remediation::prior_field(prior, "group", valid_group_id)?;
        let ingress = rules_from_json(&prior["ingress"])?;
        let egress = rules_from_json(&prior["egress"])?;
        let mut steps = Vec::new();
        if !ingress.is_empty() {
            let n = ingress.len();
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .set_ip_permissions(Some(ingress))
                .send()
                .await
                .aws(|| format!("could not put back the ingress of {group}"))?;
            steps.push(Step::new(
                "ec2:AuthorizeSecurityGroupIngress",
                format!("{group} {n} ingress rules put back"),
            ));
        }
        if !egress.is_empty() {
            let n = egress.len();
            ec2.authorize_security_group_egress()
                .group_id(&group)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .aws(|| format!("could not put back the egress of {group}"))?;
            steps.push(Step::new(
                "ec2:AuthorizeSecurityGroupEgress",
                format!("{group} {n} egress rules put back"),
            ));
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let g = read(ec2, t).await?;
        t.read.clear();
        if !g.ingress.is_empty() {
            ec2.revoke_security_group_ingress()
                .group_id(&t.group)
                .set_ip_permissions(Some(g.ingress))
                .send()
                .await
                .aws(|| format!("could not revoke the ingress of {}", t.group))?;
        }
        if !g.egress.is_empty() {
            ec2.revoke_security_group_egress()
                .group_id(&t.group)
                .set_ip_permissions(Some(g.egress))
                .send()
                .await
                .aws(|| format!("could not revoke the egress of {}", t.group))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::operation::describe_security_groups::{
        DescribeSecurityGroupsError, DescribeSecurityGroupsOutput,
    };
    use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
    use aws_sdk_ec2::operation::revoke_security_group_ingress::{
        RevokeSecurityGroupIngressError, RevokeSecurityGroupIngressOutput,
    };
    use aws_sdk_ec2::types::{
        IpPermission, IpRange, NetworkInterface, SecurityGroup, Tag, UserIdGroupPair,
    };
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    /// The default group's own ingress rule: all traffic from members of the group.
    fn ingress() -> IpPermission {
        IpPermission::builder()
            .ip_protocol("-1")
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-0a1b2c3d4e5f60718")
                    .build(),
            )
            .build()
    }

    /// The default group's own egress rule: all traffic to anywhere.
    fn egress() -> IpPermission {
        IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()
    }

    fn group(name: &str, open: bool, tags: &[(&str, &str)]) -> DescribeSecurityGroupsOutput {
        let mut sg = SecurityGroup::builder()
            .group_id("sg-0a1b2c3d4e5f60718")
            .group_name(name);
        if open {
            sg = sg.ip_permissions(ingress()).ip_permissions_egress(egress());
        }
        for (k, v) in tags {
            sg = sg.tags(Tag::builder().key(*k).value(*v).build());
        }
        DescribeSecurityGroupsOutput::builder()
            .security_groups(sg.build())
            .build()
    }

    /// `n` network interfaces that use the group.
    fn interfaces(n: usize) -> DescribeNetworkInterfacesOutput {
        let mut out = DescribeNetworkInterfacesOutput::builder();
        for i in 0..n {
            out = out.network_interfaces(
                NetworkInterface::builder()
                    .network_interface_id(format!("eni-0000000000000000{i}"))
                    .build(),
            );
        }
        out.build()
    }

    /// DescribeNetworkInterfaces, only with the filter `group-id` = the group.
    fn enis(n: usize) -> aws_smithy_mocks::Rule {
        mock!(Client::describe_network_interfaces)
            .match_requests(|r| {
                r.filters().len() == 1
                    && r.filters()[0].name() == Some("group-id")
                    && r.filters()[0].values() == ["sg-0a1b2c3d4e5f60718"]
            })
            .then_output(move || interfaces(n))
    }

    #[tokio::test]
    async fn closes_the_default_group() {
        let d = mock!(Client::describe_security_groups)
            .sequence()
            .output(|| group("default", true, &[]))
            .output(|| group("default", false, &[]))
            .build();
        let i = mock!(Client::revoke_security_group_ingress)
            .match_requests(|r| {
                r.group_id() == Some("sg-0a1b2c3d4e5f60718") && r.ip_permissions() == [ingress()]
            })
            .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
        let e = mock!(Client::revoke_security_group_egress)
            .match_requests(|r| {
                r.group_id() == Some("sg-0a1b2c3d4e5f60718") && r.ip_permissions() == [egress()]
            })
            .then_output(|| RevokeSecurityGroupEgressOutput::builder().build());
        let n = enis(0);
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &i, &e, &n]);
        let out = execute(
            &Ec2CloseDefaultSg,
            &ec2,
            &Target::new("sg-0a1b2c3d4e5f60718"),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(
            matches!(&out, Outcome::Remediated { steps } if steps.len() == 2),
            "{out:?}"
        );
        assert_eq!((i.num_calls(), e.num_calls()), (1, 1));
        assert_eq!(n.num_calls(), 1, "read once, before the change");
    }

    #[tokio::test]
    async fn a_default_group_in_use_is_planned_not_closed() {
        let d = mock!(Client::describe_security_groups).then_output(|| group("default", true, &[]));
        let i = mock!(Client::revoke_security_group_ingress)
            .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
        let e = mock!(Client::revoke_security_group_egress)
            .then_output(|| RevokeSecurityGroupEgressOutput::builder().build());
        let n = enis(5);
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &i, &e, &n]);
        let out = execute(
            &Ec2CloseDefaultSg,
            &ec2,
            &Target::new("sg-0a1b2c3d4e5f60718"),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        let Outcome::Planned { steps, reason } = &out else {
            panic!("{out:?}")
        };
        assert_eq!(steps.len(), 2, "the calls it would make: {steps:?}");
        assert!(
            reason.contains("5 network interface(s)")
                && reason.contains("eni-00000000000000000, eni-00000000000000001")
                && reason.contains("and 2 more")
                && reason.contains("dedicated security group"),
            "{reason}"
        );
        assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Notified));
        assert_eq!((i.num_calls(), e.num_calls()), (0, 0), "nothing is revoked");
        assert!(
            out.note(
                "ec2-close-default-sg",
                "default security group sg-0a1b2c3d4e5f60718"
            )
            .contains("eni-00000000000000000"),
            "the note names the interfaces"
        );
    }

    #[tokio::test]
    async fn refuses_other_groups_and_honours_the_usual_guards() {
        let i = mock!(Client::revoke_security_group_ingress)
            .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
        let cases: Vec<(DescribeSecurityGroupsOutput, Mode, &str)> = vec![
            (group("web", true, &[]), Mode::Enforce, "FAILED"),
            (
                group("default", false, &[]),
                Mode::Enforce,
                "ALREADY_COMPLIANT",
            ),
            (group("default", true, &[]), Mode::DryRun, "PLANNED"),
            (
                group("default", true, &[("quell:exempt", "true")]),
                Mode::Enforce,
                "EXEMPT",
            ),
        ];
        let n = enis(0);
        for (g, mode, want) in cases {
            let d = mock!(Client::describe_security_groups).then_output(move || g.clone());
            let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &i, &n]);
            let out = execute(
                &Ec2CloseDefaultSg,
                &ec2,
                &Target::new("sg-0a1b2c3d4e5f60718"),
                mode,
                "quell:exempt",
            )
            .await;
            assert_eq!(out.name(), want, "{out:?}");
        }
        assert_eq!(i.num_calls(), 0);
        let d = mock!(Client::describe_security_groups).then_output(|| group("default", true, &[]));
        let deny = mock!(Client::revoke_security_group_ingress).then_error(|| {
            RevokeSecurityGroupIngressError::generic(
                ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &deny, &n]);
        let out = execute(
            &Ec2CloseDefaultSg,
            &ec2,
            &Target::new("sg-0a1b2c3d4e5f60718"),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(matches!(
            out,
            Outcome::Failed {
                retryable: false,
                ..
            }
        ));
        let d = mock!(Client::describe_security_groups).then_error(|| {
            DescribeSecurityGroupsError::generic(
                ErrorMetadata::builder()
                    .code("RequestLimitExceeded")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d]);
        assert!(execute(
            &Ec2CloseDefaultSg,
            &ec2,
            &Target::new("sg-0a1b2c3d4e5f60718"),
            Mode::Enforce,
            "quell:exempt"
        )
        .await
        .is_retryable());
    }
}
