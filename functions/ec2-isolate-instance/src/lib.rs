//! `ec2-isolate-instance`: a compromised instance is contained for investigation without
//! destroying evidence. It is never stopped or terminated (memory is evidence).
//!
//! - the instance tagged with the finding, its previous groups and instance profile, so a person
//!   can restore it;
//! - every attached EBS volume snapshotted once per finding, tagged with it;
//! - every network interface moved first to quell's untracking group (all traffic allowed, so its
//!   tracked connections become untracked), then at once to quell's isolation group (no rule at
//!   all), which cuts them: AWS's own containment runbook, since a tracked connection survives a
//!   move straight to a group with no rule;
//! - the instance profile disassociated (its credentials are the likeliest loot);
//! - with QUELL_ISOLATE_REVOKE_ROLE_SESSIONS=true (off by default), the older sessions of the
//!   profile's role revoked once the profile is gone: an inline policy denies everything to the
//!   role's sessions issued before then (`aws:TokenIssueTime`), so credentials already taken from
//!   the instance stop working. Every other older session of the role is cut too (other instances
//!   that share it, until their credentials are renewed), hence the opt-in. Never quell's own
//!   roles, nor an IAM Identity Center role (Identity Center must revoke those: the outcome says
//!   so and is NOTIFIED, not RESOLVED);
//! - detached from its Auto Scaling group, kept running (the group launches a replacement and can
//!   no longer terminate the evidence as unhealthy);
//! - termination protection on.
//!
//! Each step is attempted and reported on its own: one failing (an interface, a snapshot, the
//! role's revocation) does not skip the others, and the outcome names what was done and what
//! failed.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceAttributeName, ResourceType, Tag, TagSpecification,
};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use quell::config::ConfigError;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Severity, Source, Spec, Step, Tags, Triggers,
};

pub mod groups;
mod progress;
pub mod sessions;

pub use groups::{ISOLATION_VALUE, UNTRACK_VALUE};
use progress::Progress;
pub use sessions::{InstanceRole, Unread, SESSIONS_POLICY};

/// Tags quell's two groups: `true` on the isolation group, `untrack` on the untracking group.
pub const ISOLATION_TAG: &str = "quell:isolation";
pub const FINDING_TAG: &str = "quell:finding";
pub const ISOLATED_BY_TAG: &str = "quell:isolated-by";
pub const PREVIOUS_GROUPS_TAG: &str = "quell:previous-groups";
pub const PREVIOUS_PROFILE_TAG: &str = "quell:previous-instance-profile";

const MODIFY_ENI: &str = "ec2:ModifyNetworkInterfaceAttribute";

#[derive(Debug, Clone)]
pub struct Ec2IsolateInstance {
    /// Findings below this severity are recorded, not acted on.
    pub min_severity: Severity,
    /// Detach an instance from its Auto Scaling group (ShouldDecrementDesiredCapacity=false: the
    /// group launches a replacement, and the instance is kept, running). On by default: left in
    /// the group, an isolated instance fails its health checks and the group terminates it, and
    /// the evidence with it. `QUELL_ISOLATE_DETACH_FROM_ASG=false` only reports the membership.
    pub detach_from_asg: bool,
    /// Revoke the older sessions of the instance profile's role once the profile is removed
    /// (credentials already taken from the instance keep working until then). Off by default: it
    /// writes a policy on a role that is not quell's, and cuts every older session of the role,
    /// other instances' too. `QUELL_ISOLATE_REVOKE_ROLE_SESSIONS=true` turns it on.
    pub revoke_role_sessions: bool,
}

impl Default for Ec2IsolateInstance {
    fn default() -> Self {
        Ec2IsolateInstance {
            min_severity: Severity::Medium,
            detach_from_asg: true,
            revoke_role_sessions: false,
        }
    }
}

pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Called only when revoking the role's sessions.
    pub iam: aws_sdk_iam::Client,
}

/// What the instance looks like now, read once per plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub vpc: String,
    /// (interface id, its group ids)
    pub interfaces: Vec<(String, Vec<String>)>,
    pub volumes: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The isolation group of the VPC (`quell:isolation=true`), with its rules.
    pub isolation_group: Option<groups::Rules>,
    /// The untracking group of the VPC (`quell:isolation=untrack`), with its rules.
    pub untrack_group: Option<groups::Rules>,
    pub snapshotted: Vec<String>,
    /// (association id, instance profile ARN)
    pub profile: Option<(String, String)>,
    pub termination_protected: bool,
    /// The Auto Scaling group the instance is in: as Auto Scaling itself says when detaching (the
    /// default), from the instance's tag otherwise.
    pub asg: Option<String>,
    /// The roles of the instance's profile (the associated one, or the one this run removed):
    /// read only when revoking their sessions.
    pub roles: Vec<InstanceRole>,
    /// Why the roles could not be read, when they could not: the isolation goes on, and the
    /// revocation is reported failed.
    pub roles_unread: Option<Unread>,
}

#[derive(Debug)]
pub struct Target {
    pub instance: String,
    pub finding: String,
    /// When the finding saw the compromise (never later than now): a revocation of the role's
    /// sessions must cover it.
    pub observed_at: DateTime,
    state: Mutex<Option<State>>,
    /// The instance profile found associated in this run, so that the verification after its
    /// removal still knows the role. Never read back from the instance's tags: anyone who may
    /// tag an instance could then choose the role whose sessions quell cuts.
    profile_seen: quell::remediation::Cached<String>,
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
            observed_at: DateTime::from(SystemTime::now()),
            state: Mutex::new(None),
            profile_seen: quell::remediation::Cached::default(),
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

        let isolation_group = groups::find(ec2, &vpc, ISOLATION_VALUE).await?;
        let untrack_group = groups::find(ec2, &vpc, UNTRACK_VALUE).await?;

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

        // The role whose sessions the instance held: of the profile it has, or of the one this
        // run removed, so that the verification after the removal still finds it. A later
        // delivery, the profile long gone, revokes nothing again: the cut-off is not moved at
        // every update of the finding, cutting the role's other instances each time.
        let mut roles = Vec::new();
        let mut roles_unread = None;
        if self.revoke_role_sessions {
            if let Some(p) = &profile {
                t.profile_seen.set(p.1.clone());
            }
            let arn = profile
                .as_ref()
                .map(|p| p.1.clone())
                .or_else(|| t.profile_seen.get())
                .filter(|a| !a.is_empty() && a != "none");
            if let Some(arn) = arn {
                match sessions::read(&c.iam, &arn).await {
                    Ok(r) => roles = r,
                    Err(e) => roles_unread = Some(Unread(e)),
                }
            }
        }
        Ok(State {
            vpc,
            interfaces,
            volumes,
            tags,
            isolation_group,
            untrack_group,
            snapshotted,
            profile,
            termination_protected,
            asg,
            roles,
            roles_unread,
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

/// Whether an interface's groups are exactly `group`.
fn only_in(groups: &[String], group: Option<&str>) -> bool {
    group.is_some_and(|g| groups.len() == 1 && groups[0] == g)
}

/// The steps that turn `s` into an isolated instance, in the order `apply` takes them; empty
/// when it is one.
pub fn steps(t: &Target, s: &State, detach_from_asg: bool) -> Vec<Step> {
    let iso = s.isolation_group.as_ref().map(|g| g.0.as_str());
    let untrack = s.untrack_group.as_ref().map(|g| g.0.as_str());
    let moving: Vec<&(String, Vec<String>)> = s
        .interfaces
        .iter()
        .filter(|(_, groups)| !only_in(groups, iso))
        .collect();
    let mut out = groups::isolation_steps(&s.vpc, s.isolation_group.as_ref());
    // The untracking group matters only on the way: an isolated instance does not need it.
    if !moving.is_empty() {
        out.extend(groups::untrack_steps(&s.vpc, s.untrack_group.as_ref()));
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
    let passing = !moving.is_empty();
    for (eni, groups) in moving {
        if !only_in(groups, untrack) {
            out.push(Step::new(
                MODIFY_ENI,
                format!(
                    "{eni} groups=untracking (all traffic, so its tracked connections become \
                     untracked; was {})",
                    groups.join(",")
                ),
            ));
        }
        out.push(Step::new(
            MODIFY_ENI,
            format!("{eni} groups=isolation, at once (cuts every connection)"),
        ));
    }
    if passing {
        out.push(Step::new(
            "ec2:RevokeSecurityGroupIngress",
            "the untracking group's all-traffic rules, in and out, once the interfaces are through",
        ));
    }
    if let Some((assoc, arn)) = &s.profile {
        out.push(Step::new(
            "ec2:DisassociateIamInstanceProfile",
            format!("{assoc} ({arn}){}", left_alone_text(s)),
        ));
    }
    for r in to_revoke(t, s) {
        out.push(sessions::step(&t.instance, r, &t.observed_at));
    }
    if let Some(u) = &s.roles_unread {
        out.push(Step::new(
            sessions::PUT,
            format!(
                "the older sessions of {}'s role denied, once the role is read ({})",
                t.instance, u.0
            ),
        ));
    }
    if let Some(g) = s.asg.as_ref().filter(|_| detach_from_asg) {
        out.push(Step::new(
            "autoscaling:DetachInstances",
            format!(
                "{} from {g} (ShouldDecrementDesiredCapacity=false: the group launches a \
                 replacement; the instance is kept, running, for investigation)",
                t.instance
            ),
        ));
    }
    if !s.termination_protected {
        out.push(Step::new(
            "ec2:ModifyInstanceAttribute",
            format!("{} DisableApiTermination=true", t.instance),
        ));
    }
    out
}

/// The roles whose older sessions are to be revoked: those quell may change whose revocation does
/// not cover the finding's time, and all of them while the profile is still associated (it hands
/// out new credentials until it is removed, so the cut-off must come after).
fn to_revoke<'a>(t: &Target, s: &'a State) -> Vec<&'a InstanceRole> {
    s.roles
        .iter()
        .filter(|r| r.left_alone.is_none())
        .filter(|r| s.profile.is_some() || !sessions::covers(r.policy.as_deref(), &t.observed_at))
        .collect()
}

/// The roles quell leaves alone, and why; empty when there are none.
fn roles_left_alone(s: &State) -> Vec<String> {
    s.roles
        .iter()
        .filter_map(|r| {
            r.left_alone
                .as_ref()
                .map(|why| format!("role {} is {why}", r.name))
        })
        .collect()
}

fn left_alone_text(s: &State) -> String {
    roles_left_alone(s)
        .iter()
        .map(|l| format!("; its older sessions are not revoked: {l}"))
        .collect()
}

/// A true/false setting; `None` when it is not set.
fn flag(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ConfigError {
            var,
            reason: format!("`{other}` is neither true nor false"),
        }),
    }
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
        summary: "Contains a compromised instance: interfaces via an untracking group to an isolation group, EBS snapshots, profile removed (opt-in: its role's older sessions revoked), Auto Scaling detach, termination protection; never stops it",
        resolved: "GuardDuty Backdoor:EC2/*, CryptoCurrency:EC2/*, Trojan:EC2/*, Impact:EC2/*, UnauthorizedAccess:EC2/MaliciousIPCaller.Custom, /MetadataDNSRebind, /TorClient, /TorRelay, /SSHBruteForce and /RDPBruteForce as ACTOR, custom action Isolate instance: re-read shows the VPC's quell:isolation=true group with no rule, every interface in only that group, the instance tagged quell:isolated-by=<finding>, each EBS volume with a snapshot tagged quell:finding=<finding>, no associated instance profile, no Auto Scaling group (when detaching), DisableApiTermination true; with QUELL_ISOLATE_REVOKE_ROLE_SESSIONS=true, GetRolePolicy quell-revoke-older-sessions on each role of the instance profile (the associated one, or the one named by quell:previous-instance-profile) holds a DateLessThan aws:TokenIssueTime cut-off at or after the finding's updatedAt (capped at now), written after the profile was removed. UNCONFIRMED only when that role is quell's own or an IAM Identity Center AWSReservedSSO_* role, which quell leaves alone: the note says Identity Center (or a person) must revoke its sessions.",
        untouched: "Never stops or terminates the instance. Dry-run by default: PLANNED/NOTIFIED until QUELL_MODE=enforce. GuardDuty findings below QUELL_ISOLATE_MIN_SEVERITY (MEDIUM) are NotApplicable (recorded, not acted on); with QUELL_ISOLATE_DETACH_FROM_ASG=false the Auto Scaling group is only reported. QUELL_ISOLATE_REVOKE_ROLE_SESSIONS is false by default: the role of the instance profile is not read or changed; when true, an inline policy quell-revoke-older-sessions on that role denies everything to its sessions issued before the profile's removal, other instances' sessions of the role too until they are renewed (sessions issued after, the role's other policies and its trust are untouched), and never on quell's own roles nor on IAM Identity Center AWSReservedSSO_* roles (UNCONFIRMED, NOTIFIED). An instance tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (NOTIFIED). Undo keeps the snapshots, does not re-associate the profile, and removes the revocation policy (or puts back the one the role had).",
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
            guardduty_actor_only: quell::routing::ACTOR_CONTAINED,
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
            // The untracking group's all-traffic rules.
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:CreateSnapshot",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:DisassociateIamInstanceProfile",
            "ec2:ModifyInstanceAttribute",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DetachInstances",
            // The instance role's older sessions, with QUELL_ISOLATE_REVOKE_ROLE_SESSIONS.
            "iam:GetInstanceProfile",
            "iam:GetRolePolicy",
            sessions::PUT,
        ],
        // DeleteRolePolicy only for undo, when the role had no revocation policy before (a
        // previous one is put back with PutRolePolicy, which the undo role has from above).
        undo_permissions: &["autoscaling:AttachInstances", "iam:DeleteRolePolicy"],
        default_mode: Mode::DryRun,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(member.config()),
            autoscaling: aws_sdk_autoscaling::Client::new(member.config()),
            iam: aws_sdk_iam::Client::new(member.config()),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("QUELL_ISOLATE_MIN_SEVERITY").filter(|v| !v.trim().is_empty()) {
            self.min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: "QUELL_ISOLATE_MIN_SEVERITY",
                reason: format!("`{v}` is not LOW, MEDIUM, HIGH or CRITICAL"),
            })?;
        }
        if let Some(on) = flag(get, "QUELL_ISOLATE_DETACH_FROM_ASG")? {
            self.detach_from_asg = on;
        }
        if let Some(on) = flag(get, "QUELL_ISOLATE_REVOKE_ROLE_SESSIONS")? {
            self.revoke_role_sessions = on;
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
        let mut t = Target::new(&r.id, &f.id);
        // Never later than now: a clock ahead of ours must not make the revocation unverifiable.
        if let Some(seen) = f
            .observed_at
            .as_deref()
            .and_then(|at| DateTime::from_str(at, Format::DateTime).ok())
            .filter(|at| at.secs() <= t.observed_at.secs())
        {
            t.observed_at = seen;
        }
        Ok(t)
    }

    fn describe(&self, t: &Target) -> String {
        format!("instance {}", t.instance)
    }

    /// A role of the instance quell leaves alone keeps its older sessions: a person must revoke
    /// them, so the finding is not said to be gone.
    fn unchecked(&self, t: &Target) -> Option<String> {
        let left = roles_left_alone(&t.cached()?);
        (!left.is_empty()).then(|| {
            format!(
                "the older sessions of {}'s role are not revoked: {}",
                t.instance,
                left.join("; ")
            )
        })
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
            // The roles whose revocation policy apply writes, each with the one it had.
            "role_sessions": self.revoke_role_sessions.then(|| {
                to_revoke(t, &s)
                    .iter()
                    .map(|r| serde_json::json!({"role": r.name, "policy": r.policy, "recorded_at": quell::policy::epoch_now()}))
                    .collect::<Vec<_>>()
            }),
        })))
    }

    /// The interfaces' groups, termination protection, the Auto Scaling group and the role's
    /// revocation policy (removed, or the previous one put back) put back. The snapshots stay
    /// (evidence). The instance profile is not re-associated: that needs iam:PassRole on the
    /// instance's role, which quell's roles do not have (they may pass AWS Config's service-linked
    /// role only); the step says which profile to attach.
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
        let role_sessions = sessions::recorded(prior)?;
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
        for (role, before, recorded_at) in &role_sessions {
            steps.push(sessions::put_back(&c.iam, role, before.as_deref(), *recorded_at).await?);
        }
        if let Some(p) = prior["instance_profile"].as_str() {
            steps.push(Step::new(
                "manual",
                format!("a person must associate instance profile {p} with {id} again (quell may pass no role a person made)"),
            ));
        }
        Ok(steps)
    }

    /// Each step is attempted on its own and every failure is reported with what was done
    /// ([`Progress`]): an interface, a snapshot or the tag failing skips nothing else. Two
    /// dependencies only: no interface moves without the isolation group ready, and none enters
    /// the untracking group without the isolation group ready to follow it.
    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        let ec2 = &c.ec2;
        let s = self.state(c, t).await?;
        // Whatever happens next, verification reads the instance afresh.
        t.keep(None);
        let id = &t.instance;
        let mut p = Progress::default();
        let known_iso = s.isolation_group.as_ref().map(|g| g.0.as_str());
        let moving: Vec<&(String, Vec<String>)> = s
            .interfaces
            .iter()
            .filter(|(_, groups)| !only_in(groups, known_iso))
            .collect();

        // 1. The isolation group, with no rule at all.
        let iso = match groups::ensure_isolation(ec2, &s.vpc, s.isolation_group.as_ref()).await {
            Ok(g) => {
                p.done(format!("isolation group {g} without rules"));
                Some(g)
            }
            Err(e) if moving.is_empty() => {
                p.failed(&e, true);
                None
            }
            Err(e) => {
                let enis: Vec<&str> = moving.iter().map(|(eni, _)| eni.as_str()).collect();
                let so = format!("{} not moved, still in their own groups", enis.join(", "));
                p.failed_so(&e, true, &so);
                None
            }
        };

        // 2. The untracking group, only on the way to a ready isolation group.
        let mut untrack_error = None;
        let untrack = match &iso {
            Some(_) if !moving.is_empty() => {
                match groups::ensure_untrack(ec2, &s.vpc, s.untrack_group.as_ref()).await {
                    Ok(g) => {
                        p.done(format!("untracking group {g} allowing all traffic"));
                        Some(g)
                    }
                    Err(e) => {
                        untrack_error = Some(e);
                        None
                    }
                }
            }
            _ => None,
        };

        // 3. What a person needs to restore it, recorded before anything about it changes.
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
                        s.profile.as_ref().map(|x| x.1.as_str()).unwrap_or("none"),
                    ));
            }
            match req
                .send()
                .await
                .aws(|| format!("could not tag instance {id}"))
            {
                Ok(_) => p.done(format!(
                    "{id} tagged {ISOLATED_BY_TAG} and its previous groups"
                )),
                Err(e) => p.failed(&e, true),
            }
        }

        // 4. Evidence first: snapshots, once per finding.
        for v in s.volumes.iter().filter(|v| !s.snapshotted.contains(v)) {
            let made = ec2
                .create_snapshot()
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
                .aws(|| format!("could not snapshot {v} of {id}"));
            match made {
                Ok(out) => p.done(format!(
                    "snapshot {} of {v}",
                    out.snapshot_id().unwrap_or("(no id)")
                )),
                Err(e) => p.failed(&e, true),
            }
        }

        // 5. Cut it off, interface by interface.
        let mut all_contained = iso.is_some() || moving.is_empty();
        if let Some(iso) = iso.as_deref() {
            let found_untrack = s.untrack_group.as_ref().map(|g| g.0.as_str());
            for nic in &moving {
                let way = (untrack.as_deref(), found_untrack, iso);
                all_contained &= contain(ec2, id, nic, way, &mut p).await;
            }
        }
        if let Some(g) = untrack.as_deref().filter(|_| !moving.is_empty()) {
            match groups::close_untrack(ec2, g).await {
                Ok(()) => p.done(format!(
                    "untracking group {g} closed again (open only while interfaces pass through)"
                )),
                // A retry sees the instance isolated and would not come back to the group.
                Err(e) => p.failed_so(
                    &e,
                    false,
                    "the untracking group, which holds no interface, still allows all traffic",
                ),
            }
        }
        if let Some(e) = untrack_error {
            // A retry takes the untracking step again only for an interface not isolated yet.
            let so = "interfaces moved straight to the isolation group: connections tracked \
                      before may survive it";
            p.failed_so(&e, !all_contained, so);
        }
        if let Some((assoc, arn)) = &s.profile {
            let out = ec2
                .disassociate_iam_instance_profile()
                .association_id(assoc)
                .send()
                .await
                .aws(|| format!("could not disassociate the instance profile of {id}"));
            match out {
                Ok(_) => p.done(format!("instance profile {arn} disassociated")),
                Err(e) => p.failed(&e, true),
            }
        }
        // 6. The role's older sessions, once the profile is gone (or failed to go): the cut-off
        // then comes after every credential the instance was given.
        if let Some(u) = &s.roles_unread {
            p.failed(&u.0, true);
        }
        for r in to_revoke(t, &s) {
            match sessions::revoke(&c.iam, &r.name).await {
                Ok(cutoff) => p.done(format!(
                    "role {} denies its sessions issued before {}",
                    r.name,
                    quell::policy::whole_seconds(&cutoff)
                )),
                Err(e) => p.failed(&e, true),
            }
        }
        if let Some(g) = s.asg.as_ref().filter(|_| self.detach_from_asg) {
            let out = c
                .autoscaling
                .detach_instances()
                .auto_scaling_group_name(g)
                .instance_ids(id)
                .should_decrement_desired_capacity(false)
                .send()
                .await
                .aws(|| format!("could not detach {id} from Auto Scaling group {g}"));
            match out {
                Ok(_) => p.done(format!(
                    "detached from Auto Scaling group {g}, kept running"
                )),
                Err(e) => p.failed(&e, true),
            }
        }
        if !s.termination_protected {
            let out = ec2
                .modify_instance_attribute()
                .instance_id(id)
                .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .aws(|| format!("could not turn on termination protection of {id}"));
            match out {
                Ok(_) => p.done("termination protection on"),
                Err(e) => p.failed(&e, true),
            }
        }
        p.into_result(&format!("instance {id}"))
    }
}

async fn set_groups(
    ec2: &aws_sdk_ec2::Client,
    eni: &str,
    groups: &[String],
    what: impl FnOnce() -> String,
) -> Result<(), AwsError> {
    ec2.modify_network_interface_attribute()
        .network_interface_id(eni)
        .set_groups(Some(groups.to_vec()))
        .send()
        .await
        .aws(what)?;
    Ok(())
}

/// Moves one interface to the untracking group, then at once to the isolation group. The
/// untracking group allows all traffic, in and out: it opens the instance for as long as the
/// interface is in it, which AWS's runbook accepts only because the interface moves on at once.
/// So nothing comes between the two moves (not even the report of the first), and should the
/// second fail, the interface goes back to its own groups rather than stay in the open one.
/// Without an untracking group (it could not be made ready, or this interface's move to it
/// failed) the interface moves straight to the isolation group: contained, though connections
/// tracked before may survive.
///
/// `way`: the untracking group when it is ready to pass through, the untracking group as it was
/// found (an interface alone in it is open already), the isolation group. Returns whether the
/// interface ended in the isolation group.
async fn contain(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    (eni, groups): &(String, Vec<String>),
    (untrack, found_untrack, iso): (Option<&str>, Option<&str>, &str),
    p: &mut Progress,
) -> bool {
    let u = untrack.or(found_untrack).unwrap_or_default();
    // Alone in the untracking group already: a run that stopped between the two moves.
    let was_open = only_in(groups, untrack.or(found_untrack));
    let mut opened = false;
    let mut untrack_failed = None;
    if let Some(u) = untrack.filter(|_| !was_open) {
        let moved = set_groups(ec2, eni, &[u.to_string()], || {
            format!("could not move {eni} of {id} to the untracking group {u}")
        })
        .await;
        match moved {
            Ok(()) => opened = true,
            Err(e) => untrack_failed = Some(e),
        }
    }
    let isolated = set_groups(ec2, eni, &[iso.to_string()], || {
        format!("could not move {eni} of {id} to the isolation group {iso}")
    })
    .await;
    let contained = isolated.is_ok();
    if let Some(e) = untrack_failed {
        // A retry moves it again only if it is not isolated yet.
        let so = "moved straight to the isolation group: connections tracked before may \
                  survive it";
        p.failed_so(&e, !contained, so);
    }
    match isolated {
        Ok(()) if opened || was_open => p.done(format!("{eni} untracked, then isolated")),
        Ok(()) => p.done(format!("{eni} isolated")),
        Err(e) => {
            p.failed(&e, true);
            if opened && !groups.is_empty() {
                let back = set_groups(ec2, eni, groups, || {
                    format!(
                        "could not put {eni} back in its groups {}",
                        groups.join("+")
                    )
                })
                .await;
                match back {
                    Ok(()) => p.done(format!(
                        "{eni} put back in its own groups {}, not left in the allow-all \
                         untracking group",
                        groups.join("+")
                    )),
                    Err(e) => p.open(format!(
                        "{eni} of {id} is left in the untracking group {u}, which allows all \
                         traffic: a person must move it to {iso} now ({e})"
                    )),
                }
            } else if opened || was_open {
                p.open(format!(
                    "{eni} of {id} is in the untracking group {u}, which allows all traffic: a \
                     person must move it to {iso} now"
                ));
            }
        }
    }
    contained
}

#[cfg(test)]
mod tests;
