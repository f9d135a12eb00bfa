//! `ec2-revoke-open-ingress`: closes exactly the high-risk ports that ingress rules open to the
//! whole internet (0.0.0.0/0 or ::/0), and keeps every other rule — other addresses, other ports,
//! group references and prefix lists in the same rule included.
//!
//! A world-open port range that holds high-risk ports (tcp 0-65535, tcp 20-25) is cut, not
//! dropped: the sub-ranges around the high-risk ports are authorized first (same protocol, same
//! addresses, descriptions kept), then the range is revoked, so only the high-risk ports close and
//! the service behind the other ports never loses its traffic. A rule of every protocol (`-1`) has
//! no port range to cut and is revoked whole. `quell undo` puts the original rule back and revokes
//! the sub-ranges quell added.

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
/// Keeps a cut range's other ports open; `quell undo` puts back what was revoked with it.
const AUTHORIZE: &str = "ec2:AuthorizeSecurityGroupIngress";

#[derive(Debug, Clone)]
pub struct Ec2RevokeOpenIngress {
    pub ports: Vec<u16>,
    /// A world-open range that holds high-risk ports is cut around them (its other ports are
    /// authorized again) rather than revoked whole. Needs `ec2:AuthorizeSecurityGroupIngress`; a
    /// composing remediation without it sets this to `false` and revokes such ranges whole.
    pub keep_other_ports: bool,
}

impl Default for Ec2RevokeOpenIngress {
    fn default() -> Self {
        Ec2RevokeOpenIngress {
            ports: DEFAULT_PORTS.to_vec(),
            keep_other_ports: true,
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

/// The port ranges of `from..=to` left when `ports` are taken out, in order.
pub fn ranges_around(from: i32, to: i32, ports: &[u16]) -> Vec<(i32, i32)> {
    let mut risky: Vec<i32> = ports
        .iter()
        .map(|&p| i32::from(p))
        .filter(|p| (from..=to).contains(p))
        .collect();
    risky.sort_unstable();
    risky.dedup();
    let mut out = Vec::new();
    let mut start = from;
    for p in risky {
        if p > start {
            out.push((start, p - 1));
        }
        start = p + 1;
    }
    if start <= to {
        out.push((start, to));
    }
    out
}

/// What quell changes in a group: the world-open parts it revokes ([`world_open`]), and the
/// sub-ranges it authorizes first so that only the high-risk ports close.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cut {
    pub revoke: Vec<IpPermission>,
    /// The other ports of each revoked tcp or udp range, with the same world-open addresses and
    /// descriptions; none already in the group, none twice.
    pub keep: Vec<IpPermission>,
}

fn same_ports(a: &IpPermission, b: &IpPermission) -> bool {
    a.ip_protocol() == b.ip_protocol()
        && a.from_port() == b.from_port()
        && a.to_port() == b.to_port()
}

/// Adds `p` to `keep`, leaving out every address `existing` or `keep` already holds for the same
/// protocol and ports (authorizing one twice is an error, InvalidPermission.Duplicate).
fn add_kept(keep: &mut Vec<IpPermission>, existing: &[IpPermission], p: IpPermission) {
    let held = |rules: &[IpPermission], v4: Option<&str>, v6: Option<&str>| {
        rules.iter().filter(|r| same_ports(r, &p)).any(|r| {
            (v4.is_some() && r.ip_ranges().iter().any(|x| x.cidr_ip() == v4))
                || (v6.is_some() && r.ipv6_ranges().iter().any(|x| x.cidr_ipv6() == v6))
        })
    };
    let v4: Vec<IpRange> = p
        .ip_ranges()
        .iter()
        .filter(|r| !held(existing, r.cidr_ip(), None) && !held(keep.as_slice(), r.cidr_ip(), None))
        .cloned()
        .collect();
    let v6: Vec<Ipv6Range> = p
        .ipv6_ranges()
        .iter()
        .filter(|r| {
            !held(existing, None, r.cidr_ipv6()) && !held(keep.as_slice(), None, r.cidr_ipv6())
        })
        .cloned()
        .collect();
    if v4.is_empty() && v6.is_empty() {
        return;
    }
    if let Some(i) = keep.iter().position(|k| same_ports(k, &p)) {
        let k = &keep[i];
        let merged = IpPermission::builder()
            .set_ip_protocol(k.ip_protocol().map(str::to_string))
            .set_from_port(k.from_port())
            .set_to_port(k.to_port())
            .set_ip_ranges(
                Some(k.ip_ranges().iter().cloned().chain(v4).collect::<Vec<_>>())
                    .filter(|v| !v.is_empty()),
            )
            .set_ipv6_ranges(
                Some(
                    k.ipv6_ranges()
                        .iter()
                        .cloned()
                        .chain(v6)
                        .collect::<Vec<_>>(),
                )
                .filter(|v| !v.is_empty()),
            )
            .build();
        keep[i] = merged;
        return;
    }
    keep.push(
        IpPermission::builder()
            .set_ip_protocol(p.ip_protocol().map(str::to_string))
            .set_from_port(p.from_port())
            .set_to_port(p.to_port())
            .set_ip_ranges(Some(v4).filter(|v| !v.is_empty()))
            .set_ipv6_ranges(Some(v6).filter(|v| !v.is_empty()))
            .build(),
    );
}

/// The change that closes the high-risk ports `ingress` opens to the world. With
/// `keep_other_ports`, each revoked tcp or udp range has its other ports authorized again; a rule
/// of every protocol (`-1`) is revoked whole (it has no range to cut).
pub fn cut(ingress: &[IpPermission], ports: &[u16], keep_other_ports: bool) -> Cut {
    let revoke = world_open(ingress, ports);
    let mut keep = Vec::new();
    if keep_other_ports {
        for p in &revoke {
            let proto = p.ip_protocol().unwrap_or_default();
            if !matches!(proto, "tcp" | "udp" | "6" | "17") {
                continue;
            }
            let (from, to) = (p.from_port().unwrap_or(0), p.to_port().unwrap_or(65535));
            for (f, t) in ranges_around(from, to, ports) {
                let part = IpPermission::builder()
                    .ip_protocol(proto)
                    .from_port(f)
                    .to_port(t)
                    .set_ip_ranges(Some(p.ip_ranges().to_vec()).filter(|v| !v.is_empty()))
                    .set_ipv6_ranges(Some(p.ipv6_ranges().to_vec()).filter(|v| !v.is_empty()))
                    .build();
                add_kept(&mut keep, ingress, part);
            }
        }
    }
    Cut { revoke, keep }
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

/// The sub-ranges kept open, one step per protocol and addresses: `ports=0-19,24,26-109`.
fn describe_kept(group: &str, keep: &[IpPermission]) -> Vec<Step> {
    let mut kept: Vec<(String, String, Vec<String>)> = Vec::new();
    for p in keep {
        let proto = p.ip_protocol().unwrap_or("?").to_string();
        let cidrs = p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip())
            .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
            .collect::<Vec<_>>()
            .join(",");
        let ports = match (p.from_port(), p.to_port()) {
            (Some(f), Some(t)) if f == t => f.to_string(),
            (Some(f), Some(t)) => format!("{f}-{t}"),
            _ => "?".into(),
        };
        match kept.iter().position(|k| k.0 == proto && k.1 == cidrs) {
            Some(i) => kept[i].2.push(ports),
            None => kept.push((proto, cidrs, vec![ports])),
        }
    }
    kept.into_iter()
        .map(|(proto, cidrs, ports)| {
            Step::new(
                AUTHORIZE,
                format!(
                    "group={group} proto={proto} ports={} from={cidrs} (the range's other ports, kept open)",
                    ports.join(",")
                ),
            )
        })
        .collect()
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
        summary: "Closes only the high-risk ports that ingress rules open to 0.0.0.0/0 or ::/0 (a wider range keeps its other ports); keeps every other rule",
        resolved: "restricted-ssh, restricted-common-ports, EC2.13, EC2.14, EC2.19, cis-1.2.0/4.1, cis-1.2.0/4.2, ec2:AuthorizeSecurityGroupIngress: DescribeSecurityGroups shows no ingress rule of protocol -1/all, or tcp/udp with a range holding a QUELL_HIGH_RISK_PORTS port (default EC2.19's list plus 22, 3389), open to 0.0.0.0/0 or ::/0. vpc-sg-open-only-to-authorized-ports and EC2.18: same check, but UNCONFIRMED, since only the high-risk ports are checked.",
        untouched: "Keeps every other rule: other CIDRs, other ports, group references, prefix lists, egress, ICMP. A world-open tcp/udp range is cut around the high-risk ports (the rest authorized again first); only an all-protocol rule goes whole. Refuses a finding naming no security group id (e.g. a call by group name). A group tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (NOTIFIED for the CloudTrail trigger). No plan_only; default enforce.",
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
        permissions: &["ec2:DescribeSecurityGroups", REVOKE, AUTHORIZE],
        undo_permissions: &[],
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
        let change = cut(&g.ingress, &self.ports, self.keep_other_ports);
        let mut steps: Vec<Step> = change
            .revoke
            .iter()
            .map(|p| Step::new(REVOKE, describe_rule(&t.group, p)))
            .collect();
        steps.extend(describe_kept(&t.group, &change.keep));
        Ok(steps)
    }

    async fn prior(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let g = self.read(ec2, t).await?;
        let change = cut(&g.ingress, &self.ports, self.keep_other_ports);
        Ok(Some(serde_json::json!({
            "group": t.group,
            "revoked": rules_json(&change.revoke),
            "added": rules_json(&change.keep),
        })))
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
        // Recorded before quell cut ranges (none added then): nothing of quell's to take away.
        let added = match prior.get("added") {
            Some(a) => rules_from_json(a)?,
            None => Vec::new(),
        };
        let mut steps: Vec<Step> = perms
            .iter()
            .map(|p| Step::new(AUTHORIZE, describe_rule(&group, p)))
            .collect();
        // The original rules first, then quell's sub-ranges: no port is closed in between.
        if !perms.is_empty() {
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .set_ip_permissions(Some(perms))
                .send()
                .await
                .aws(|| format!("could not put back the ingress rules of {group}"))?;
        }
        if !added.is_empty() {
            steps.extend(added.iter().map(|p| {
                Step::new(
                    REVOKE,
                    format!(
                        "{} (a sub-range quell added, inside the rule put back)",
                        describe_rule(&group, p)
                    ),
                )
            }));
            ec2.revoke_security_group_ingress()
                .group_id(&group)
                .set_ip_permissions(Some(added))
                .send()
                .await
                .aws(|| format!("could not revoke the sub-ranges quell added to {group}"))?;
        }
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
        let Cut { revoke, keep } = cut(&g.ingress, &self.ports, self.keep_other_ports);
        if revoke.is_empty() {
            return Ok(());
        }
        // The other ports first: if this fails (a rule quota, a missing permission), nothing has
        // changed yet, and the group still serves what it served.
        if !keep.is_empty() {
            ec2.authorize_security_group_ingress()
                .group_id(&t.group)
                .set_ip_permissions(Some(keep))
                .send()
                .await
                .aws(|| {
                    format!(
                        "could not keep the other ports of the world-open ranges of {} open (nothing was revoked)",
                        t.group
                    )
                })?;
        }
        ec2.revoke_security_group_ingress()
            .group_id(&t.group)
            .set_ip_permissions(Some(revoke))
            .send()
            .await
            .aws(|| format!("could not revoke the world-open ingress of {}", t.group))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
