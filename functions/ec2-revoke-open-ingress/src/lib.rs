//! `ec2-revoke-open-ingress`: revokes exactly the ingress rules that open high-risk ports to the
//! whole internet (0.0.0.0/0 or ::/0), and keeps every other rule — other addresses, other ports,
//! group references and prefix lists in the same rule included.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use quell::config::ConfigError;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

/// Security Hub EC2.19's high-risk ports, with 22 and 3389.
pub const DEFAULT_PORTS: &[u16] = &[
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];
const REVOKE: &str = "ec2:RevokeSecurityGroupIngress";
/// Used only by `quell undo`, to put back what was revoked.
const AUTHORIZE: &str = "ec2:AuthorizeSecurityGroupIngress";

#[derive(Debug, Clone)]
pub struct Ec2RevokeOpenIngress {
    pub ports: Vec<u16>,
}

impl Default for Ec2RevokeOpenIngress {
    fn default() -> Self {
        Ec2RevokeOpenIngress {
            ports: DEFAULT_PORTS.to_vec(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub ingress: Vec<IpPermission>,
    pub egress: Vec<IpPermission>,
}

/// A security group as the remediations on groups read it (this one and ec2-close-default-sg).
pub async fn describe_group(ec2: &aws_sdk_ec2::Client, group: &str) -> Result<Group, AwsError> {
    let out = ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .aws(|| format!("could not describe security group {group}"))?;
    let sg = out.security_groups().first().ok_or_else(|| {
        AwsError::other(
            format!("could not find security group {group}"),
            "InvalidGroup.NotFound",
            "no such group",
            false,
        )
    })?;
    Ok(Group {
        name: sg.group_name().unwrap_or_default().to_string(),
        tags: sg
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        ingress: sg.ip_permissions().to_vec(),
        egress: sg.ip_permissions_egress().to_vec(),
    })
}

#[derive(Debug, Default)]
pub struct Target {
    pub group: String,
    read: Cached<Group>,
    /// The finding asks about more ports than quell's list (EC2.18: every port but the
    /// authorized ones).
    pub every_port: bool,
}

impl Target {
    pub fn new(group: &str) -> Self {
        Target {
            every_port: false,
            group: group.into(),
            read: Cached::default(),
        }
    }
}

pub use quell::finding::validate::security_group_id as valid_group_id;

/// The part of each rule that opens a high-risk port to the world: the rule's protocol and ports
/// with only its world-open ranges. Empty when nothing is open.
pub fn world_open(ingress: &[IpPermission], ports: &[u16]) -> Vec<IpPermission> {
    let mut out = Vec::new();
    for p in ingress {
        let proto = p.ip_protocol().unwrap_or_default();
        let risky = match proto {
            "-1" | "all" => true,
            "tcp" | "udp" | "6" | "17" => {
                let (from, to) = (p.from_port().unwrap_or(0), p.to_port().unwrap_or(65535));
                ports
                    .iter()
                    .any(|&port| (from..=to).contains(&i32::from(port)))
            }
            _ => false,
        };
        if !risky {
            continue;
        }
        let v4: Vec<IpRange> = p
            .ip_ranges()
            .iter()
            .filter(|r| r.cidr_ip() == Some("0.0.0.0/0"))
            .cloned()
            .collect();
        let v6: Vec<Ipv6Range> = p
            .ipv6_ranges()
            .iter()
            .filter(|r| r.cidr_ipv6() == Some("::/0"))
            .cloned()
            .collect();
        if v4.is_empty() && v6.is_empty() {
            continue;
        }
        out.push(
            IpPermission::builder()
                .ip_protocol(proto)
                .set_from_port(p.from_port())
                .set_to_port(p.to_port())
                .set_ip_ranges(Some(v4).filter(|v| !v.is_empty()))
                .set_ipv6_ranges(Some(v6).filter(|v| !v.is_empty()))
                .build(),
        );
    }
    out
}

/// Security group rules as recorded for undo: every part of each rule (protocol, ports, IPv4 and
/// IPv6 ranges, referenced groups, prefix lists, descriptions).
pub fn rules_json(rules: &[IpPermission]) -> serde_json::Value {
    serde_json::Value::Array(
        rules
            .iter()
            .map(|p| {
                serde_json::json!({
                    "proto": p.ip_protocol(),
                    "from": p.from_port(),
                    "to": p.to_port(),
                    "v4": p.ip_ranges().iter().map(|r| serde_json::json!({"cidr": r.cidr_ip(), "description": r.description()})).collect::<Vec<_>>(),
                    "v6": p.ipv6_ranges().iter().map(|r| serde_json::json!({"cidr": r.cidr_ipv6(), "description": r.description()})).collect::<Vec<_>>(),
                    "groups": p.user_id_group_pairs().iter().map(|g| serde_json::json!({"group": g.group_id(), "user": g.user_id(), "description": g.description()})).collect::<Vec<_>>(),
                    "prefix_lists": p.prefix_list_ids().iter().map(|l| serde_json::json!({"id": l.prefix_list_id(), "description": l.description()})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The rules [`rules_json`] recorded; a malformed record is refused before any call.
pub fn rules_from_json(v: &serde_json::Value) -> Result<Vec<IpPermission>, AwsError> {
    use aws_sdk_ec2::types::{PrefixListId, UserIdGroupPair};
    let bad = |why: String| quell::remediation::invalid_prior(why);
    let list = |r: &serde_json::Value, k: &str| r[k].as_array().cloned().unwrap_or_default();
    let text = |x: &serde_json::Value, k: &str| x[k].as_str().map(str::to_string);
    let mut out = Vec::new();
    for r in v
        .as_array()
        .ok_or_else(|| bad("the recorded rules are not a list".into()))?
    {
        let proto = r["proto"]
            .as_str()
            .filter(|p| p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .ok_or_else(|| bad(format!("a recorded rule has no protocol: {r}")))?;
        let port = |k: &str| r[k].as_i64().and_then(|v| i32::try_from(v).ok());
        let mut b = IpPermission::builder()
            .ip_protocol(proto)
            .set_from_port(port("from"))
            .set_to_port(port("to"));
        for x in list(r, "v4") {
            b = b.ip_ranges(
                IpRange::builder()
                    .set_cidr_ip(text(&x, "cidr"))
                    .set_description(text(&x, "description"))
                    .build(),
            );
        }
        for x in list(r, "v6") {
            b = b.ipv6_ranges(
                Ipv6Range::builder()
                    .set_cidr_ipv6(text(&x, "cidr"))
                    .set_description(text(&x, "description"))
                    .build(),
            );
        }
        for x in list(r, "groups") {
            let g = text(&x, "group").filter(|g| valid_group_id(g));
            if g.is_none() {
                return Err(bad(format!("a recorded rule names no valid group: {x}")));
            }
            b = b.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .set_group_id(g)
                    .set_user_id(text(&x, "user"))
                    .set_description(text(&x, "description"))
                    .build(),
            );
        }
        for x in list(r, "prefix_lists") {
            b = b.prefix_list_ids(
                PrefixListId::builder()
                    .set_prefix_list_id(text(&x, "id"))
                    .set_description(text(&x, "description"))
                    .build(),
            );
        }
        out.push(b.build());
    }
    Ok(out)
}

fn describe_rule(group: &str, p: &IpPermission) -> String {
    let ports = match (p.from_port(), p.to_port()) {
        (Some(f), Some(t)) if f == t => f.to_string(),
        (Some(f), Some(t)) if f >= 0 => format!("{f}-{t}"),
        _ => "all".into(),
    };
    let cidrs: Vec<&str> = p
        .ip_ranges()
        .iter()
        .filter_map(|r| r.cidr_ip())
        .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
        .collect();
    format!(
        "group={group} proto={} ports={ports} from={}",
        p.ip_protocol().unwrap_or("?"),
        cidrs.join(",")
    )
}

impl Ec2RevokeOpenIngress {
    async fn read(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Group, AwsError> {
        if let Some(g) = t.read.get() {
            return Ok(g);
        }
        let g = describe_group(ec2, &t.group).await?;
        t.read.set(g.clone());
        Ok(g)
    }
}

impl Remediation for Ec2RevokeOpenIngress {
    const SPEC: Spec = Spec {
        id: "ec2-revoke-open-ingress",
        summary: "Revokes only the ingress rules that open high-risk ports to 0.0.0.0/0 or ::/0; keeps every other rule",
        triggers: Triggers {
            config_rules: &["restricted-ssh", "restricted-common-ports", "vpc-sg-open-only-to-authorized-ports"],
            securityhub_controls: &[
                "EC2.13",
                "EC2.14",
                "EC2.18",
                "EC2.19",
                "cis-1.2.0/4.1",
                "cis-1.2.0/4.2",
            ],
            cloudtrail_events: &["ec2:AuthorizeSecurityGroupIngress"],
            ..Triggers::NONE
        },
        permissions: &["ec2:DescribeSecurityGroups", REVOKE],
        undo_permissions: &[AUTHORIZE],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("QUELL_HIGH_RISK_PORTS").filter(|v| !v.trim().is_empty()) {
            let ports: Result<Vec<u16>, _> =
                v.split(',').map(|p| p.trim().parse::<u16>()).collect();
            self.ports = ports.ok().filter(|p| !p.is_empty()).ok_or(ConfigError {
                var: "QUELL_HIGH_RISK_PORTS",
                reason: format!("`{v}` is not a comma-separated list of ports"),
            })?;
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let r = f
            .resource(&ResourceKind::Ec2SecurityGroup)
            .ok_or_else(|| NotApplicable("the finding names no security group (by id)".into()))?;
        if !valid_group_id(&r.id) {
            return Err(NotApplicable(format!(
                "`{}` is not a security group id",
                r.id
            )));
        }
        let mut t = Target::new(&r.id);
        t.every_port = f.kind == "EC2.18"
            || quell::remediation::config_rule_matches(
                "vpc-sg-open-only-to-authorized-ports",
                &f.kind,
            );
        Ok(t)
    }

    fn unchecked(&self, t: &Target) -> Option<String> {
        t.every_port.then(|| {
            format!(
                "the finding flags any port open to the world but the authorized ones (80 and 443 by default); quell checks only its high-risk ports ({})",
                self.ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    fn describe(&self, t: &Target) -> String {
        format!("security group {}", t.group)
    }

    async fn tags(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Tags, AwsError> {
        Ok(self.read(ec2, t).await?.tags)
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        let g = self.read(ec2, t).await?;
        Ok(world_open(&g.ingress, &self.ports)
            .iter()
            .map(|p| Step::new(REVOKE, describe_rule(&t.group, p)))
            .collect())
    }

    async fn prior(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let g = self.read(ec2, t).await?;
        let revoked = rules_json(&world_open(&g.ingress, &self.ports));
        Ok(Some(
            serde_json::json!({"group": t.group, "revoked": revoked}),
        ))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let group = prior["group"].as_str().unwrap_or_default().to_string();
        if !valid_group_id(&group) {
            return Err(AwsError::other(
                "could not undo",
                "InvalidPriorState",
                format!("`{group}` is not a group id"),
                false,
            ));
        }
        let perms = rules_from_json(&prior["revoked"])?;
        if perms.is_empty() {
            return Ok(Vec::new());
        }
        let steps = perms
            .iter()
            .map(|p| Step::new(AUTHORIZE, describe_rule(&group, p)))
            .collect();
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .aws(|| format!("could not put back the ingress rules of {group}"))?;
        Ok(steps)
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let g = self.read(ec2, t).await?;
        t.read.clear();
        let open = world_open(&g.ingress, &self.ports);
        if open.is_empty() {
            return Ok(());
        }
        ec2.revoke_security_group_ingress()
            .group_id(&t.group)
            .set_ip_permissions(Some(open))
            .send()
            .await
            .aws(|| format!("could not revoke the world-open ingress of {}", t.group))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
