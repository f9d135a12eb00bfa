//! `ec2-subnet-no-public-ip`: a subnet that gives every new instance a public IPv4 address
//! (`MapPublicIpOnLaunch`) stops doing so (EC2.15, subnet-auto-assign-public-ip-disabled).
//! Instances already running keep their addresses; only launches from now on are affected.
//!
//! That is also why it is dry-run by default: an Auto Scaling group, ECS service or launch
//! template in a public subnet that relies on the subnet's setting (no NAT gateway, no explicit
//! `AssociatePublicIpAddress`) launches its next instances without internet access. A person turns
//! enforcement on (QUELL_MODE=enforce) once the subnets that must hand out addresses are tagged
//! exempt.
//!
//! Config's rule also fails a subnet that assigns IPv6 addresses on creation. quell leaves that
//! setting: an IPv6-only subnet cannot work without it, and an IPv6 address behind an
//! egress-only internet gateway is not reachable from the internet. Such a subnet is UNCONFIRMED
//! (NOTIFIED), never RESOLVED.

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "ec2:ModifySubnetAttribute";

#[derive(Debug, Clone, Copy, Default)]
pub struct Ec2SubnetNoPublicIp;

/// What DescribeSubnets says of the subnet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub tags: Tags,
    pub map_public_ip: bool,
    pub assign_ipv6: bool,
    pub vpc: String,
    pub default_for_az: bool,
}

/// A subnet in the finding's account and Region.
#[derive(Debug, Default)]
pub struct Subnet {
    pub id: String,
    pub account: String,
    pub region: String,
    /// The read that `tags` and `plan` share; `apply` clears it so that the check reads afresh.
    read: Cached<State>,
}

impl Subnet {
    pub fn new(
        id: impl Into<String>,
        account: impl Into<String>,
        region: impl Into<String>,
    ) -> Subnet {
        Subnet {
            id: id.into(),
            account: account.into(),
            region: region.into(),
            read: Cached::default(),
        }
    }
}

async fn read(ec2: &aws_sdk_ec2::Client, t: &Subnet) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let out = ec2
        .describe_subnets()
        .subnet_ids(&t.id)
        .send()
        .await
        .aws(|| format!("could not describe subnet {}", t.id))?;
    let Some(s) = out.subnets().iter().find(|s| s.subnet_id() == Some(&t.id)) else {
        return Err(AwsError::other(
            format!("could not describe subnet {}", t.id),
            "InvalidSubnetID.NotFound",
            format!("subnet {} is not in account {}", t.id, t.account),
            false,
        ));
    };
    let state = State {
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
        map_public_ip: s.map_public_ip_on_launch() == Some(true),
        assign_ipv6: s.assign_ipv6_address_on_creation() == Some(true),
        vpc: s.vpc_id().unwrap_or("unknown").to_string(),
        default_for_az: s.default_for_az() == Some(true),
    };
    t.read.set(state.clone());
    Ok(state)
}

async fn set_map_public_ip(
    ec2: &aws_sdk_ec2::Client,
    subnet: &str,
    on: bool,
) -> Result<(), AwsError> {
    ec2.modify_subnet_attribute()
        .subnet_id(subnet)
        .map_public_ip_on_launch(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(on)
                .build(),
        )
        .send()
        .await
        .aws(|| {
            format!(
                "could not turn MapPublicIpOnLaunch {} on subnet {subnet}",
                if on { "on" } else { "off" }
            )
        })?;
    Ok(())
}

impl Remediation for Ec2SubnetNoPublicIp {
    const SPEC: Spec = Spec {
        id: "ec2-subnet-no-public-ip",
        summary: "Stops a subnet from giving new instances a public IPv4 address (MapPublicIpOnLaunch off); running instances keep theirs. Dry-run by default",
        resolved: "EC2.15, subnet-auto-assign-public-ip-disabled: DescribeSubnets re-read has MapPublicIpOnLaunch false and AssignIpv6AddressOnCreation false. A subnet that still assigns IPv6 addresses on creation is UNCONFIRMED (NOTIFIED): quell never changes that setting.",
        untouched: "Changes only MapPublicIpOnLaunch: never a running instance's address, the route table, a launch template or the IPv6 setting (an IPv6-only subnet needs it). Default dry-run: a group or service that launches into a public subnet without asking for a public address would start instances without internet access; tag the subnets that must hand out addresses QUELL_EXEMPT_TAG (quell:exempt)=true (EXEMPT), then set QUELL_MODE=enforce. Undo turns MapPublicIpOnLaunch on again.",
        triggers: Triggers {
            config_rules: &["subnet-auto-assign-public-ip-disabled"],
            securityhub_controls: &["EC2.15"],
            ..Triggers::NONE
        },
        permissions: &["ec2:DescribeSubnets", MODIFY],
        undo_permissions: &[],
        default_mode: Mode::DryRun,
    };
    type Target = Subnet;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Subnet, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::Ec2Subnet,
            validate::subnet_id,
            "subnet",
        )?;
        Ok(Subnet::new(
            r.id.clone(),
            f.account.clone(),
            f.region.clone(),
        ))
    }

    fn describe(&self, t: &Subnet) -> String {
        format!("subnet {}", t.id)
    }

    fn dry_run_reason(&self) -> String {
        "dry-run by default: instances launched later into this subnet without an explicit public address would have no internet access; tag the subnets that must keep the setting exempt, then enforce".into()
    }

    async fn tags(&self, ec2: &aws_sdk_ec2::Client, t: &Subnet) -> Result<Tags, AwsError> {
        Ok(read(ec2, t).await?.tags)
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Subnet) -> Result<Vec<Step>, AwsError> {
        let s = read(ec2, t).await?;
        Ok(if s.map_public_ip {
            vec![Step::new(
                MODIFY,
                format!(
                    "subnet={} (vpc {}{}) MapPublicIpOnLaunch=false",
                    t.id,
                    s.vpc,
                    if s.default_for_az {
                        ", the default subnet of its zone"
                    } else {
                        ""
                    }
                ),
            )]
        } else {
            Vec::new()
        })
    }

    fn unchecked(&self, t: &Subnet) -> Option<String> {
        t.read.get().filter(|s| s.assign_ipv6).map(|_| {
            format!(
                "subnet {} still assigns an IPv6 address to every new network interface (AssignIpv6AddressOnCreation), which Config's rule also fails; quell leaves it (an IPv6-only subnet needs it). If the subnet routes ::/0 to an internet gateway rather than an egress-only one, a person turns it off: aws ec2 modify-subnet-attribute --subnet-id {} --no-assign-ipv6-address-on-creation",
                t.id, t.id
            )
        })
    }

    async fn prior(
        &self,
        _ec2: &aws_sdk_ec2::Client,
        t: &Subnet,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it on: apply only runs on a subnet that maps public addresses.
        Ok(Some(serde_json::json!({
            "subnet": t.id,
            "account": t.account,
            "region": t.region,
            "MapPublicIpOnLaunch": true,
        })))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let subnet = quell::remediation::prior_field(prior, "subnet", validate::subnet_id)?;
        if prior["MapPublicIpOnLaunch"] != serde_json::Value::Bool(true) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `MapPublicIpOnLaunch` is not true: nothing of quell's to undo",
            ));
        }
        set_map_public_ip(ec2, &subnet, true).await?;
        Ok(vec![Step::new(
            MODIFY,
            format!("subnet={subnet} MapPublicIpOnLaunch=true, as it was"),
        )])
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Subnet,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        t.read.clear();
        set_map_public_ip(ec2, &t.id, false).await
    }
}

#[cfg(test)]
mod tests;
