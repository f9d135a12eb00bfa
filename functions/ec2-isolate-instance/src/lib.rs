//! `ec2-isolate-instance`: a compromised instance is contained for investigation without
//! destroying evidence. It is never stopped or terminated (memory is evidence).
//!
//! - an isolation security group of quell's in the instance's VPC, with no rule at all;
//! - every network interface of the instance moved to it;
//! - every attached EBS volume snapshotted once per finding, tagged with it;
//! - the instance profile disassociated (its credentials are the likeliest loot);
//! - termination protection on;
//! - the instance tagged with the finding, its previous groups and instance profile, so a person
//!   can restore it. An instance in an Auto Scaling group is reported and left in the group.

use std::sync::Mutex;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceAttributeName, IpPermission, ResourceType, Tag,
    TagSpecification,
};
use quell::config::ConfigError;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Severity, Source, Spec, Step, Tags, Triggers,
};

pub const ISOLATION_TAG: &str = "quell:isolation";
pub const FINDING_TAG: &str = "quell:finding";
pub const ISOLATED_BY_TAG: &str = "quell:isolated-by";
pub const PREVIOUS_GROUPS_TAG: &str = "quell:previous-groups";
pub const PREVIOUS_PROFILE_TAG: &str = "quell:previous-instance-profile";

#[derive(Debug, Clone)]
pub struct Ec2IsolateInstance {
    /// Findings below this severity are recorded, not acted on.
    pub min_severity: Severity,
    /// Detach an instance from its Auto Scaling group (which then replaces it) instead of only
    /// reporting its membership.
    pub detach_from_asg: bool,
}

impl Default for Ec2IsolateInstance {
    fn default() -> Self {
        Ec2IsolateInstance {
            min_severity: Severity::Medium,
            detach_from_asg: false,
        }
    }
}

pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
}

/// What the instance looks like now, read once per plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub vpc: String,
    /// (interface id, its group ids)
    pub interfaces: Vec<(String, Vec<String>)>,
    pub volumes: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The isolation group of the VPC, and whether it still has any rule.
    pub isolation_group: Option<(String, Vec<IpPermission>, Vec<IpPermission>)>,
    pub snapshotted: Vec<String>,
    /// (association id, instance profile ARN)
    pub profile: Option<(String, String)>,
    pub termination_protected: bool,
    /// The Auto Scaling group the instance is in: from its tag, or (when detaching) as Auto
    /// Scaling itself says.
    pub asg: Option<String>,
}

#[derive(Debug)]
pub struct Target {
    pub instance: String,
    pub finding: String,
    state: Mutex<Option<State>>,
}

impl PartialEq for Target {
    fn eq(&self, o: &Self) -> bool {
        self.instance == o.instance && self.finding == o.finding
    }
}

impl Target {
    pub fn new(instance: &str, finding: &str) -> Self {
        Target {
            instance: instance.into(),
            finding: finding.into(),
            state: Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<State> {
        self.state.lock().ok().and_then(|s| s.clone())
    }

    fn keep(&self, s: Option<State>) {
        if let Ok(mut g) = self.state.lock() {
            *g = s;
        }
    }
}

use quell::finding::validate::tag_value;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(tag_value(v)).build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

impl Ec2IsolateInstance {
    async fn inspect(&self, c: &Clients, t: &Target) -> Result<State, AwsError> {
        let ec2 = &c.ec2;
        let id = &t.instance;
        let out = ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .aws(|| format!("could not describe instance {id}"))?;
        let inst = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id.as_str()))
            .ok_or_else(|| {
                AwsError::other(
                    format!("could not find instance {id}"),
                    "InvalidInstanceID.NotFound",
                    "no such instance",
                    false,
                )
            })?;
        let vpc = inst.vpc_id().unwrap_or_default().to_string();
        // The interfaces' groups as the interfaces hold them (DescribeNetworkInterfaces is the
        // source of truth for an interface's groups).
        let enis = ec2
            .describe_network_interfaces()
            .filters(filter("attachment.instance-id", id))
            .send()
            .await
            .aws(|| format!("could not describe the network interfaces of {id}"))?;
        let interfaces = enis
            .network_interfaces()
            .iter()
            .map(|n| {
                (
                    n.network_interface_id().unwrap_or_default().to_string(),
                    n.groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_string))
                        .collect(),
                )
            })
            .collect();
        let volumes = inst
            .block_device_mappings()
            .iter()
            .filter_map(|b| b.ebs().and_then(|e| e.volume_id()).map(str::to_string))
            .collect();
        let tags: Vec<(String, String)> = inst
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();

        let groups = ec2
            .describe_security_groups()
            .filters(filter("vpc-id", &vpc))
            .filters(filter(&format!("tag:{ISOLATION_TAG}"), "true"))
            .send()
            .await
            .aws(|| format!("could not look for quell's isolation group in {vpc}"))?;
        let isolation_group = groups.security_groups().first().map(|g| {
            (
                g.group_id().unwrap_or_default().to_string(),
                g.ip_permissions().to_vec(),
                g.ip_permissions_egress().to_vec(),
            )
        });

        let snaps = ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(filter(
                &format!("tag:{FINDING_TAG}"),
                &tag_value(&t.finding),
            ))
            .send()
            .await
            .aws(|| format!("could not look for snapshots of finding {}", t.finding))?;
        let snapshotted = snaps
            .snapshots()
            .iter()
            .filter_map(|s| s.volume_id().map(str::to_string))
            .collect();

        let assoc = ec2
            .describe_iam_instance_profile_associations()
            .filters(filter("instance-id", id))
            .filters(filter("state", "associated"))
            .send()
            .await
            .aws(|| format!("could not read the instance profile of {id}"))?;
        let profile = assoc.iam_instance_profile_associations().first().map(|a| {
            (
                a.association_id().unwrap_or_default().to_string(),
                a.iam_instance_profile()
                    .and_then(|p| p.arn())
                    .unwrap_or_default()
                    .to_string(),
            )
        });

        let attr = ec2
            .describe_instance_attribute()
            .instance_id(id)
            .attribute(InstanceAttributeName::DisableApiTermination)
            .send()
            .await
            .aws(|| format!("could not read the termination protection of {id}"))?;
        let termination_protected = attr
            .disable_api_termination()
            .and_then(|v| v.value())
            .unwrap_or(false);

        let tagged_asg = tags
            .iter()
            .find(|(k, _)| k == "aws:autoscaling:groupName")
            .map(|(_, v)| v.clone());
        // When detaching, Auto Scaling itself says whether the instance is in a group.
        let asg = if self.detach_from_asg {
            c.autoscaling
                .describe_auto_scaling_instances()
                .instance_ids(id)
                .send()
                .await
                .aws(|| format!("could not read the Auto Scaling group of {id}"))?
                .auto_scaling_instances()
                .first()
                .and_then(|i| i.auto_scaling_group_name().map(str::to_string))
        } else {
            tagged_asg
        };
        Ok(State {
            vpc,
            interfaces,
            volumes,
            tags,
            isolation_group,
            snapshotted,
            profile,
            termination_protected,
            asg,
        })
    }

    async fn state(&self, c: &Clients, t: &Target) -> Result<State, AwsError> {
        if let Some(s) = t.cached() {
            return Ok(s);
        }
        let s = self.inspect(c, t).await?;
        t.keep(Some(s.clone()));
        Ok(s)
    }
}

/// The steps that turn `s` into an isolated instance; empty when it is one.
pub fn steps(t: &Target, s: &State, detach_from_asg: bool) -> Vec<Step> {
    let mut out = Vec::new();
    let iso = s.isolation_group.as_ref().map(|g| g.0.clone());
    match &s.isolation_group {
        None => {
            out.push(Step::new(
                "ec2:CreateSecurityGroup",
                format!("quell-isolation in {} tagged {ISOLATION_TAG}=true", s.vpc),
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
    let isolated_by = s
        .tags
        .iter()
        .any(|(k, v)| k == ISOLATED_BY_TAG && *v == tag_value(&t.finding));
    if !isolated_by {
        let asg = s.asg.clone().filter(|_| !detach_from_asg);
        out.push(Step::new(
            "ec2:CreateTags",
            format!(
                "{} {ISOLATED_BY_TAG}={} {PREVIOUS_GROUPS_TAG}={} {PREVIOUS_PROFILE_TAG}={}{}",
                t.instance,
                t.finding,
                previous_groups(s),
                s.profile.as_ref().map(|p| p.1.as_str()).unwrap_or("none"),
                asg.map(|g| format!(" (in Auto Scaling group {g}: reported, left in the group)"))
                    .unwrap_or_default()
            ),
        ));
    }
    for v in s.volumes.iter().filter(|v| !s.snapshotted.contains(v)) {
        out.push(Step::new(
            "ec2:CreateSnapshot",
            format!("{v} tagged {FINDING_TAG}={}", t.finding),
        ));
    }
    for (eni, groups) in &s.interfaces {
        let isolated = iso
            .as_ref()
            .is_some_and(|g| groups.len() == 1 && groups[0] == *g);
        if !isolated {
            out.push(Step::new(
                "ec2:ModifyNetworkInterfaceAttribute",
                format!("{eni} groups=isolation (was {})", groups.join(",")),
            ));
        }
    }
    if let Some((assoc, arn)) = &s.profile {
        out.push(Step::new(
            "ec2:DisassociateIamInstanceProfile",
            format!("{assoc} ({arn})"),
        ));
    }
    if !s.termination_protected {
        out.push(Step::new(
            "ec2:ModifyInstanceAttribute",
            format!("{} DisableApiTermination=true", t.instance),
        ));
    }
    if let Some(g) = s.asg.as_ref().filter(|_| detach_from_asg) {
        out.push(Step::new(
            "autoscaling:DetachInstances",
            format!("{} from {g} (ShouldDecrementDesiredCapacity=false: the group launches a replacement)", t.instance),
        ));
    }
    out
}

fn previous_groups(s: &State) -> String {
    s.interfaces
        .iter()
        .map(|(eni, g)| format!("{eni}={}", g.join("+")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Remediation for Ec2IsolateInstance {
    const SPEC: Spec = Spec {
        id: "ec2-isolate-instance",
        summary: "Contains a compromised instance: isolation security group, EBS snapshots, instance profile removed, termination protection; never stops it",
        triggers: Triggers {
            guardduty: &[
                "Backdoor:EC2/*",
                "CryptoCurrency:EC2/*",
                "Trojan:EC2/*",
                "Impact:EC2/*",
                "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
                "UnauthorizedAccess:EC2/MetadataDNSRebind",
                "UnauthorizedAccess:EC2/TorClient",
                "UnauthorizedAccess:EC2/TorRelay",
            ],
            guardduty_actor_only: &["UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce"],
            custom_actions: &["Isolate instance"],
            ..Triggers::NONE
        },
        permissions: &[
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSnapshots",
            "ec2:DescribeIamInstanceProfileAssociations",
            "ec2:DescribeInstanceAttribute",
            "ec2:CreateSecurityGroup",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:CreateSnapshot",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:DisassociateIamInstanceProfile",
            "ec2:ModifyInstanceAttribute",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DetachInstances",
        ],
        undo_permissions: &["autoscaling:AttachInstances"],
        default_mode: Mode::DryRun,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(member.config()),
            autoscaling: aws_sdk_autoscaling::Client::new(member.config()),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("QUELL_ISOLATE_MIN_SEVERITY").filter(|v| !v.trim().is_empty()) {
            self.min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: "QUELL_ISOLATE_MIN_SEVERITY",
                reason: format!("`{v}` is not LOW, MEDIUM, HIGH or CRITICAL"),
            })?;
        }
        if let Some(v) = get("QUELL_ISOLATE_DETACH_FROM_ASG").filter(|v| !v.trim().is_empty()) {
            self.detach_from_asg = match v.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(ConfigError {
                        var: "QUELL_ISOLATE_DETACH_FROM_ASG",
                        reason: format!("`{other}` is neither true nor false"),
                    })
                }
            };
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        if f.severity < self.min_severity && f.source == Source::GuardDuty {
            return Err(NotApplicable(format!(
                "severity {} is below QUELL_ISOLATE_MIN_SEVERITY {}: recorded, not acted on",
                f.severity.label(),
                self.min_severity.label()
            )));
        }
        let r = f
            .resource(&ResourceKind::Ec2Instance)
            .ok_or_else(|| NotApplicable("the finding names no EC2 instance".into()))?;
        if !quell::finding::validate::instance_id(&r.id) {
            return Err(NotApplicable(format!("`{}` is not an instance id", r.id)));
        }
        Ok(Target::new(&r.id, &f.id))
    }

    fn describe(&self, t: &Target) -> String {
        format!("instance {}", t.instance)
    }

    async fn tags(&self, c: &Clients, t: &Target) -> Result<Tags, AwsError> {
        Ok(self.state(c, t).await?.tags)
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        let s = self.state(c, t).await?;
        Ok(steps(t, &s, self.detach_from_asg))
    }

    async fn prior(&self, c: &Clients, t: &Target) -> Result<Option<serde_json::Value>, AwsError> {
        let s = self.state(c, t).await?;
        Ok(Some(serde_json::json!({
            "instance": t.instance,
            "interfaces": s.interfaces.iter().map(|(eni, g)| serde_json::json!({"eni": eni, "groups": g})).collect::<Vec<_>>(),
            "instance_profile": s.profile.as_ref().map(|p| &p.1),
            "termination_protected": s.termination_protected,
            "auto_scaling_group": s.asg.as_ref().filter(|_| self.detach_from_asg),
        })))
    }

    /// The interfaces' groups, termination protection and the Auto Scaling group put back. The
    /// snapshots stay (evidence). The instance profile is not re-associated: that needs
    /// iam:PassRole, which quell's role does not have; the step says which profile to attach.
    async fn restore(&self, c: &Clients, prior: &serde_json::Value) -> Result<Vec<Step>, AwsError> {
        use quell::remediation::{invalid_prior, prior_field};
        let id = prior_field(prior, "instance", quell::finding::validate::instance_id)?;
        let eni_ok = |e: &str| {
            e.strip_prefix("eni-").is_some_and(|h| {
                (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit())
            })
        };
        let mut interfaces = Vec::new();
        for i in prior["interfaces"]
            .as_array()
            .ok_or_else(|| invalid_prior("no recorded interfaces"))?
        {
            let eni = prior_field(i, "eni", eni_ok)?;
            let groups: Vec<String> = i["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect();
            if groups.is_empty()
                || !groups
                    .iter()
                    .all(|g| quell::finding::validate::security_group_id(g))
            {
                return Err(invalid_prior(format!(
                    "{eni}: the recorded groups are not group ids"
                )));
            }
            interfaces.push((eni, groups));
        }
        let mut steps = Vec::new();
        for (eni, groups) in interfaces {
            c.ec2
                .modify_network_interface_attribute()
                .network_interface_id(&eni)
                .set_groups(Some(groups.clone()))
                .send()
                .await
                .aws(|| format!("could not put back the groups of {eni}"))?;
            steps.push(Step::new(
                "ec2:ModifyNetworkInterfaceAttribute",
                format!("{eni} of {id} groups={}", groups.join("+")),
            ));
        }
        if prior["termination_protected"] == false {
            c.ec2
                .modify_instance_attribute()
                .instance_id(&id)
                .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
                .send()
                .await
                .aws(|| format!("could not turn off termination protection of {id}"))?;
            steps.push(Step::new(
                "ec2:ModifyInstanceAttribute",
                format!("{id} termination protection off, as it was"),
            ));
        }
        if let Some(g) = prior["auto_scaling_group"].as_str() {
            if g.is_empty() || g.len() > 255 || g.contains(char::is_control) {
                return Err(invalid_prior(format!(
                    "`{g}` is not an Auto Scaling group name"
                )));
            }
            c.autoscaling
                .attach_instances()
                .auto_scaling_group_name(g)
                .instance_ids(&id)
                .send()
                .await
                .aws(|| format!("could not put {id} back into Auto Scaling group {g}"))?;
            steps.push(Step::new(
                "autoscaling:AttachInstances",
                format!("{id} back in {g}"),
            ));
        }
        if let Some(p) = prior["instance_profile"].as_str() {
            steps.push(Step::new(
                "manual",
                format!("a person must associate instance profile {p} with {id} again (iam:PassRole is not quell's to have)"),
            ));
        }
        Ok(steps)
    }

    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        let ec2 = &c.ec2;
        let s = self.state(c, t).await?;
        // Whatever happens next, verification reads the instance afresh.
        t.keep(None);
        let id = &t.instance;

        // 1. The isolation group, with no rule at all.
        let iso = match &s.isolation_group {
            Some((g, ingress, egress)) => {
                if !ingress.is_empty() {
                    ec2.revoke_security_group_ingress()
                        .group_id(g)
                        .set_ip_permissions(Some(ingress.clone()))
                        .send()
                        .await
                        .aws(|| format!("could not empty the ingress of {g}"))?;
                }
                if !egress.is_empty() {
                    ec2.revoke_security_group_egress()
                        .group_id(g)
                        .set_ip_permissions(Some(egress.clone()))
                        .send()
                        .await
                        .aws(|| format!("could not empty the egress of {g}"))?;
                }
                g.clone()
            }
            None => {
                let g = ec2
                    .create_security_group()
                    .group_name(format!("quell-isolation-{}", s.vpc))
                    .description("quell: isolates compromised instances; no rule on purpose")
                    .vpc_id(&s.vpc)
                    .tag_specifications(
                        TagSpecification::builder()
                            .resource_type(ResourceType::SecurityGroup)
                            .tags(tag(ISOLATION_TAG, "true"))
                            .tags(tag("Name", "quell-isolation"))
                            .build(),
                    )
                    .send()
                    .await
                    .aws(|| format!("could not create the isolation group in {}", s.vpc))?
                    .group_id
                    .unwrap_or_default();
                let rules = ec2
                    .describe_security_groups()
                    .group_ids(&g)
                    .send()
                    .await
                    .aws(|| format!("could not read the new group {g}"))?;
                let egress: Vec<IpPermission> = rules
                    .security_groups()
                    .iter()
                    .flat_map(|x| x.ip_permissions_egress().to_vec())
                    .collect();
                if !egress.is_empty() {
                    ec2.revoke_security_group_egress()
                        .group_id(&g)
                        .set_ip_permissions(Some(egress))
                        .send()
                        .await
                        .aws(|| format!("could not remove the default egress rule of {g}"))?;
                }
                g
            }
        };

        // 2. What a person needs to restore it, recorded before anything about it changes.
        if !s
            .tags
            .iter()
            .any(|(k, v)| k == ISOLATED_BY_TAG && *v == tag_value(&t.finding))
        {
            let mut req = ec2
                .create_tags()
                .resources(id)
                .tags(tag(ISOLATED_BY_TAG, &t.finding));
            if !s.tags.iter().any(|(k, _)| k == PREVIOUS_GROUPS_TAG) {
                req = req
                    .tags(tag(PREVIOUS_GROUPS_TAG, &previous_groups(&s)))
                    .tags(tag(
                        PREVIOUS_PROFILE_TAG,
                        s.profile.as_ref().map(|p| p.1.as_str()).unwrap_or("none"),
                    ));
            }
            req.send()
                .await
                .aws(|| format!("could not tag instance {id}"))?;
        }

        // 3. Evidence first: snapshots, once per finding.
        for v in s.volumes.iter().filter(|v| !s.snapshotted.contains(v)) {
            ec2.create_snapshot()
                .volume_id(v)
                .description(format!(
                    "quell: evidence of {id} for finding {}",
                    tag_value(&t.finding)
                ))
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Snapshot)
                        .tags(tag(FINDING_TAG, &t.finding))
                        .tags(tag("quell:instance", id))
                        .build(),
                )
                .send()
                .await
                .aws(|| format!("could not snapshot {v} of {id}"))?;
        }

        // 4. Cut it off.
        for (eni, groups) in &s.interfaces {
            if groups.len() == 1 && groups[0] == iso {
                continue;
            }
            ec2.modify_network_interface_attribute()
                .network_interface_id(eni)
                .groups(&iso)
                .send()
                .await
                .aws(|| format!("could not move {eni} of {id} to the isolation group"))?;
        }
        if let Some((assoc, _)) = &s.profile {
            ec2.disassociate_iam_instance_profile()
                .association_id(assoc)
                .send()
                .await
                .aws(|| format!("could not disassociate the instance profile of {id}"))?;
        }
        if let Some(g) = s.asg.as_ref().filter(|_| self.detach_from_asg) {
            c.autoscaling
                .detach_instances()
                .auto_scaling_group_name(g)
                .instance_ids(id)
                .should_decrement_desired_capacity(false)
                .send()
                .await
                .aws(|| format!("could not detach {id} from Auto Scaling group {g}"))?;
        }
        if !s.termination_protected {
            ec2.modify_instance_attribute()
                .instance_id(id)
                .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .aws(|| format!("could not turn on termination protection of {id}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
