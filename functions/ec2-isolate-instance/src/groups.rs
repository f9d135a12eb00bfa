//! quell's two security groups in an instance's VPC, found by their tag (only quell's tagged
//! groups are trusted) and put right before each use:
//!
//! - the isolation group (`quell:isolation=true`): no rule at all;
//! - the untracking group (`quell:isolation=untrack`): all traffic in and out, from and to any
//!   IPv4 and IPv6 address, and nothing else. Security groups are stateful: a connection the
//!   instance's own groups tracked survives a move to a group with no rule. A flow allowed by
//!   all-traffic rules to 0.0.0.0/0 or ::/0 in both directions is not tracked, so an interface
//!   moved here first has its connections untracked, and the isolation group then cuts them.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroup, TagSpecification,
};
use quell::{AwsError, AwsResultExt, Step};

use crate::{tag, ISOLATION_TAG};

/// `quell:isolation` of the group with no rule.
pub const ISOLATION_VALUE: &str = "true";
/// `quell:isolation` of the group that allows all traffic.
pub const UNTRACK_VALUE: &str = "untrack";

const ANY_V4: &str = "0.0.0.0/0";
const ANY_V6: &str = "::/0";
const ALL_PROTOCOLS: &str = "-1";

/// A group of quell's as EC2 describes it: (id, ingress rules, egress rules).
pub type Rules = (String, Vec<IpPermission>, Vec<IpPermission>);

fn rules(g: &SecurityGroup) -> Rules {
    (
        g.group_id().unwrap_or_default().to_string(),
        g.ip_permissions().to_vec(),
        g.ip_permissions_egress().to_vec(),
    )
}

/// quell's group tagged `quell:isolation=value` in `vpc`, if there is one.
pub async fn find(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    value: &str,
) -> Result<Option<Rules>, AwsError> {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{ISOLATION_TAG}"))
                .values(value)
                .build(),
        )
        .send()
        .await
        .aws(|| format!("could not look for quell's {ISOLATION_TAG}={value} group in {vpc}"))?;
    Ok(out.security_groups().first().map(rules))
}

/// Creates quell's group tagged `quell:isolation=value` in `vpc` and reads back the rules EC2
/// gave it (a new group's default egress).
async fn create(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    value: &str,
    name: &str,
    description: &str,
) -> Result<Rules, AwsError> {
    let id = ec2
        .create_security_group()
        .group_name(format!("{name}-{vpc}"))
        .description(description)
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(tag(ISOLATION_TAG, value))
                .tags(tag("Name", name))
                .build(),
        )
        .send()
        .await
        .aws(|| format!("could not create the {name} group in {vpc}"))?
        .group_id
        .unwrap_or_default();
    let out = ec2
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .aws(|| format!("could not read the new group {id}"))?;
    Ok(out
        .security_groups()
        .first()
        .map(rules)
        .unwrap_or((id, Vec::new(), Vec::new())))
}

async fn revoke(
    ec2: &aws_sdk_ec2::Client,
    g: &str,
    ingress: Vec<IpPermission>,
    egress: Vec<IpPermission>,
) -> Result<(), AwsError> {
    if !ingress.is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(g)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .aws(|| format!("could not revoke ingress rules of {g}"))?;
    }
    if !egress.is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(g)
            .set_ip_permissions(Some(egress))
            .send()
            .await
            .aws(|| format!("could not revoke egress rules of {g}"))?;
    }
    Ok(())
}

/// The isolation group of the VPC, with no rule at all: the one found, emptied of what someone
/// added, or a new one without its default egress rule. Returns its id.
pub async fn ensure_isolation(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    found: Option<&Rules>,
) -> Result<String, AwsError> {
    let (id, ingress, egress) = match found {
        Some(g) => g.clone(),
        None => {
            create(
                ec2,
                vpc,
                ISOLATION_VALUE,
                "quell-isolation",
                "quell: isolates compromised instances; no rule on purpose",
            )
            .await?
        }
    };
    revoke(ec2, &id, ingress, egress).await?;
    Ok(id)
}

/// The untracking group of the VPC, allowing all traffic in and out and nothing else: the one
/// found, put right (missing rules authorized, others revoked), or a new one. Returns its id.
pub async fn ensure_untrack(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    found: Option<&Rules>,
) -> Result<String, AwsError> {
    let (id, ingress, egress) = match found {
        Some(g) => g.clone(),
        None => {
            create(
                ec2,
                vpc,
                UNTRACK_VALUE,
                "quell-untrack",
                "quell: all traffic in and out, so that tracked connections become untracked; \
                 interfaces pass through it on their way to isolation, never stay",
            )
            .await?
        }
    };
    let (din, dout) = (Drift::of(&ingress), Drift::of(&egress));
    revoke(ec2, &id, din.extra.clone(), dout.extra.clone()).await?;
    if let Some(p) = din.missing() {
        ec2.authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(p)
            .send()
            .await
            .aws(|| format!("could not allow all traffic into the untracking group {id}"))?;
    }
    if let Some(p) = dout.missing() {
        ec2.authorize_security_group_egress()
            .group_id(&id)
            .ip_permissions(p)
            .send()
            .await
            .aws(|| format!("could not allow all traffic out of the untracking group {id}"))?;
    }
    Ok(id)
}

/// Takes the untracking group's all-traffic rules away once the interfaces have passed through:
/// between isolations it holds no interface and allows nothing, so it is no standing allow-all
/// group for someone to attach or for Security Hub to flag. The next isolation puts the rules back.
/// The rules are read first and revoked as read: EC2 stores a rule authorized in parts (the
/// default IPv4 egress, the IPv6 one added) as separate rules, and a revoke must name each.
pub async fn close_untrack(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), AwsError> {
    let out = ec2
        .describe_security_groups()
        .group_ids(id)
        .send()
        .await
        .aws(|| format!("could not read the untracking group {id}"))?;
    let Some((_, ingress, egress)) = out.security_groups().first().map(rules) else {
        return Ok(());
    };
    revoke(ec2, id, ingress, egress).await
}

/// How one direction of the untracking group differs from "all traffic, any IPv4 and any IPv6
/// address": which of the two all-traffic rules is missing, and every rule beyond them.
#[derive(Debug, Default, PartialEq)]
pub struct Drift {
    pub missing_v4: bool,
    pub missing_v6: bool,
    pub extra: Vec<IpPermission>,
}

impl Drift {
    pub fn of(rules: &[IpPermission]) -> Drift {
        let (mut v4, mut v6) = (false, false);
        let mut extra = Vec::new();
        for p in rules {
            if p.ip_protocol() != Some(ALL_PROTOCOLS) {
                extra.push(p.clone());
                continue;
            }
            let other_v4: Vec<IpRange> = p
                .ip_ranges()
                .iter()
                .filter(|r| r.cidr_ip() != Some(ANY_V4))
                .cloned()
                .collect();
            let other_v6: Vec<Ipv6Range> = p
                .ipv6_ranges()
                .iter()
                .filter(|r| r.cidr_ipv6() != Some(ANY_V6))
                .cloned()
                .collect();
            v4 |= other_v4.len() < p.ip_ranges().len();
            v6 |= other_v6.len() < p.ipv6_ranges().len();
            let pairs = p.user_id_group_pairs();
            let lists = p.prefix_list_ids();
            if !other_v4.is_empty()
                || !other_v6.is_empty()
                || !pairs.is_empty()
                || !lists.is_empty()
            {
                extra.push(
                    IpPermission::builder()
                        .ip_protocol(ALL_PROTOCOLS)
                        .set_ip_ranges((!other_v4.is_empty()).then_some(other_v4))
                        .set_ipv6_ranges((!other_v6.is_empty()).then_some(other_v6))
                        .set_user_id_group_pairs((!pairs.is_empty()).then(|| pairs.to_vec()))
                        .set_prefix_list_ids((!lists.is_empty()).then(|| lists.to_vec()))
                        .build(),
                );
            }
        }
        Drift {
            missing_v4: !v4,
            missing_v6: !v6,
            extra,
        }
    }

    /// The all-traffic rule to authorize for what is missing, if anything is.
    pub fn missing(&self) -> Option<IpPermission> {
        if !self.missing_v4 && !self.missing_v6 {
            return None;
        }
        let mut p = IpPermission::builder().ip_protocol(ALL_PROTOCOLS);
        if self.missing_v4 {
            p = p.ip_ranges(IpRange::builder().cidr_ip(ANY_V4).build());
        }
        if self.missing_v6 {
            p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(ANY_V6).build());
        }
        Some(p.build())
    }

    fn what_is_missing(&self) -> &'static str {
        match (self.missing_v4, self.missing_v6) {
            (true, true) => "0.0.0.0/0 and ::/0",
            (true, false) => "0.0.0.0/0",
            _ => "::/0",
        }
    }
}

/// The steps that make the isolation group ready: created, or emptied.
pub fn isolation_steps(vpc: &str, found: Option<&Rules>) -> Vec<Step> {
    let mut out = Vec::new();
    match found {
        None => {
            out.push(Step::new(
                "ec2:CreateSecurityGroup",
                format!("quell-isolation in {vpc} tagged {ISOLATION_TAG}={ISOLATION_VALUE}"),
            ));
            out.push(Step::new(
                "ec2:RevokeSecurityGroupEgress",
                "the new group's default allow-all egress rule",
            ));
        }
        Some((id, ingress, egress)) => {
            if !ingress.is_empty() {
                out.push(Step::new(
                    "ec2:RevokeSecurityGroupIngress",
                    format!("every ingress rule of {id}"),
                ));
            }
            if !egress.is_empty() {
                out.push(Step::new(
                    "ec2:RevokeSecurityGroupEgress",
                    format!("every egress rule of {id}"),
                ));
            }
        }
    }
    out
}

/// The steps that make the untracking group ready: created with all traffic allowed, or put
/// right.
pub fn untrack_steps(vpc: &str, found: Option<&Rules>) -> Vec<Step> {
    let mut out = Vec::new();
    let Some((id, ingress, egress)) = found else {
        out.push(Step::new(
            "ec2:CreateSecurityGroup",
            format!(
                "quell-untrack in {vpc} tagged {ISOLATION_TAG}={UNTRACK_VALUE} (all traffic in \
                 and out, so that tracked connections become untracked; each interface passes \
                 through it to the isolation group at once)"
            ),
        ));
        out.push(Step::new(
            "ec2:AuthorizeSecurityGroupIngress",
            "all traffic from 0.0.0.0/0 and ::/0 into the new group",
        ));
        out.push(Step::new(
            "ec2:AuthorizeSecurityGroupEgress",
            "all traffic to 0.0.0.0/0 and ::/0 from the new group, what its default egress lacks",
        ));
        return out;
    };
    let (din, dout) = (Drift::of(ingress), Drift::of(egress));
    if !din.extra.is_empty() {
        out.push(Step::new(
            "ec2:RevokeSecurityGroupIngress",
            format!("the ingress rules of {id} beyond all traffic"),
        ));
    }
    if !dout.extra.is_empty() {
        out.push(Step::new(
            "ec2:RevokeSecurityGroupEgress",
            format!("the egress rules of {id} beyond all traffic"),
        ));
    }
    if din.missing().is_some() {
        out.push(Step::new(
            "ec2:AuthorizeSecurityGroupIngress",
            format!("all traffic from {} into {id}", din.what_is_missing()),
        ));
    }
    if dout.missing().is_some() {
        out.push(Step::new(
            "ec2:AuthorizeSecurityGroupEgress",
            format!("all traffic to {} from {id}", dout.what_is_missing()),
        ));
    }
    out
}
