//! The remediation trait, its declared [`Spec`], and the one driver every remediation runs
//! through: exemption, check-then-act, dry-run and verification live here, once.

use std::future::Future;

use crate::config::Mode;
use crate::error::{AwsError, Error};
use crate::finding::{Finding, Source};
use crate::member::Member;
use crate::outcome::{Outcome, Step};

/// What a remediation reacts to. Names are matched exactly, except where noted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Triggers {
    /// GuardDuty finding types; a trailing `*` matches a prefix (`Backdoor:EC2/*`).
    pub guardduty: &'static [&'static str],
    /// When not empty, only GuardDuty findings whose `resource.accessKeyDetails.userType` is one
    /// of these (`IAMUser`, `AssumedRole`, `Root`).
    pub guardduty_user_types: &'static [&'static str],
    /// GuardDuty finding types that trigger only when the resource is the ACTOR (an instance
    /// brute-forcing others), not the TARGET (an instance being brute-forced).
    pub guardduty_actor_only: &'static [&'static str],
    /// GuardDuty finding types that trigger only when the resource is the TARGET (an instance
    /// being brute-forced), not the ACTOR.
    pub guardduty_target_only: &'static [&'static str],
    /// GuardDuty finding types (a trailing `*` is a prefix) that trigger only when the acting
    /// credential is none the credential containments take: its `userType` none of
    /// [`crate::routing::CONTAINED_USER_TYPES`] (a federated user, an AWS service, an anonymous
    /// caller), or no `userType` at all.
    pub guardduty_other_actors: &'static [&'static str],
    /// Config managed-rule identifiers; Security Hub's service-linked forms
    /// (`securityhub-<rule>-<8 hex>`) match as well.
    pub config_rules: &'static [&'static str],
    /// Security Hub control ids (`S3.8`), and CIS requirements with their version
    /// (`cis-1.2.0/4.1`): a bare CIS number means different controls in different versions.
    pub securityhub_controls: &'static [&'static str],
    /// Security Hub custom action names (each gets its own action target, [`crate::routing::action_id`]).
    pub custom_actions: &'static [&'static str],
    /// Access Analyzer resource types (`AWS::S3::Bucket`).
    pub access_analyzer: &'static [&'static str],
    /// Only Access Analyzer findings of public access (`isPublic: true`), not cross-account ones.
    pub access_analyzer_public_only: bool,
    /// CloudWatch alarm metric names.
    pub alarm_metrics: &'static [&'static str],
    /// CloudTrail calls as `service:EventName` (`ec2:AuthorizeSecurityGroupIngress`), the service
    /// as IAM names it: the event's `source` must be `aws.<service>`.
    pub cloudtrail_events: &'static [&'static str],
}

impl Triggers {
    /// No trigger at all: `Triggers { guardduty: &[...], ..Triggers::NONE }`.
    pub const NONE: Triggers = Triggers {
        guardduty: &[],
        guardduty_user_types: &[],
        guardduty_actor_only: &[],
        guardduty_target_only: &[],
        guardduty_other_actors: &[],
        config_rules: &[],
        securityhub_controls: &[],
        custom_actions: &[],
        access_analyzer: &[],
        access_analyzer_public_only: false,
        alarm_metrics: &[],
        cloudtrail_events: &[],
    };
}

/// A remediation's declaration, in one place: what it reacts to and the IAM actions it needs in
/// member accounts. Templates and policies are generated from, or checked against, these.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// kebab-case; the crate, the binary and the `cargo lambda` name.
    pub id: &'static str,
    pub summary: &'static str,
    /// Per trigger, what quell re-reads that lets it say RESOLVED, and when the same trigger ends
    /// UNCONFIRMED instead (docs/remediations.md prints it).
    pub resolved: &'static str,
    /// What quell will not touch, and when it plans or notifies instead of acting.
    pub untouched: &'static str,
    pub triggers: Triggers,
    /// IAM actions the function's member role (`quell-<id>`) must allow, nothing more.
    pub permissions: &'static [&'static str],
    /// IAM actions only `quell undo` needs to put back what this remediation changed (stop a trail
    /// that was not logging, delete a policy it added). They live in the member's `quell-undo`
    /// role, which trusts an operator's role and never a function.
    pub undo_permissions: &'static [&'static str],
    /// The mode when QUELL_MODE is not set.
    pub default_mode: Mode,
}

/// `securityhub-restricted-ssh-9412a869` is Security Hub's service-linked form of `restricted-ssh`.
pub fn config_rule_matches(declared: &str, actual: &str) -> bool {
    if declared == actual {
        return true;
    }
    let Some(rest) = actual.strip_prefix("securityhub-") else {
        return false;
    };
    let Some((base, hash)) = rest.rsplit_once('-') else {
        return false;
    };
    base == declared && hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

fn type_matches(declared: &str, actual: &str) -> bool {
    match declared.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => declared == actual,
    }
}

impl Spec {
    /// Whether a finding is one this remediation is meant for.
    pub fn matches(&self, f: &Finding) -> bool {
        let t = &self.triggers;
        match f.source {
            Source::GuardDuty => {
                ((t.guardduty.iter().any(|d| type_matches(d, &f.kind))
                    || (t.guardduty_actor_only.contains(&f.kind.as_str())
                        && f.resource_role.as_deref() == Some("ACTOR"))
                    || (t.guardduty_target_only.contains(&f.kind.as_str())
                        && f.resource_role.as_deref() == Some("TARGET")))
                    && (t.guardduty_user_types.is_empty()
                        || f.principal
                            .as_ref()
                            .and_then(|p| p.user_type.as_deref())
                            .is_some_and(|u| t.guardduty_user_types.contains(&u))))
                    || (t
                        .guardduty_other_actors
                        .iter()
                        .any(|d| type_matches(d, &f.kind))
                        && !f
                            .principal
                            .as_ref()
                            .and_then(|p| p.user_type.as_deref())
                            .is_some_and(|u| crate::routing::CONTAINED_USER_TYPES.contains(&u)))
            }
            Source::Config => t
                .config_rules
                .iter()
                .any(|d| config_rule_matches(d, &f.kind)),
            Source::SecurityHub => match f.action.as_deref() {
                // Imported, or sent with quell's "Remediate with quell": the control decides.
                // Only Security Hub's own product reports controls.
                None | Some(crate::routing::CUSTOM_ACTION_ID) => {
                    f.hub
                        .as_ref()
                        .is_some_and(|h| crate::event::is_security_hub_product(&h.product_arn))
                        && t.securityhub_controls.iter().any(|c| *c == f.kind)
                }
                // A named action of quell's: the remediation that declares it.
                Some(id) => t
                    .custom_actions
                    .iter()
                    .any(|a| crate::routing::action_id(a) == id),
            },
            Source::AccessAnalyzer => {
                t.access_analyzer.contains(&f.kind.as_str())
                    && (!t.access_analyzer_public_only || f.is_public == Some(true))
            }
            Source::CloudWatchAlarm => t.alarm_metrics.contains(&f.kind.as_str()),
            Source::CloudTrail => t.cloudtrail_events.contains(&f.kind.as_str()),
        }
    }
}

/// Why a finding names nothing this remediation can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotApplicable(pub String);

/// A read that `tags` and `plan` share within one finding; `apply` clears it so that the
/// verification reads the resource afresh.
#[derive(Debug, Default)]
pub struct Cached<T>(std::sync::Mutex<Option<T>>);

impl<T: Clone> Cached<T> {
    pub fn get(&self) -> Option<T> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    pub fn set(&self, v: T) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(v);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut g) = self.0.lock() {
            *g = None;
        }
    }
}

/// What [`Remediation::split`] made of an organization-level finding.
#[derive(Debug)]
pub struct Split {
    /// The findings it stands for, each in its own account and Region.
    pub parts: Vec<Finding>,
    /// What no part answers (events past the read's limit, events of an account quell only
    /// reads): the organization finding's own outcome, notified.
    pub left: Option<AwsError>,
}

/// The tags of a resource, for the exemption check.
pub type Tags = Vec<(String, String)>;

/// One remediation. A unit struct; its clients are the narrow set of SDK clients it needs, built
/// from a member session (or from mocks, in unit tests).
pub trait Remediation: Send + Sync + 'static {
    const SPEC: Spec;
    type Target: std::fmt::Debug + Send + Sync;
    type Clients: Send + Sync;

    fn clients(&self, member: &Member) -> Self::Clients;

    /// Reads the remediation's own settings (thresholds, lists) once at start-up; a bad value
    /// fails there, naming the variable.
    fn configure(
        &mut self,
        _get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), crate::config::ConfigError> {
        Ok(())
    }

    /// Why a finding its rules take is none of this remediation's business after all (another
    /// team's alarm, quell's own restore coming back through CloudTrail): OUT_OF_SCOPE, one log
    /// line, no message and no record. Never for a finding that says something is wrong with a
    /// resource the remediation answers for. No AWS call.
    fn ignore(&self, _finding: &Finding) -> Option<String> {
        None
    }

    /// Which resource to act on, or why there is none. No AWS call.
    fn target(&self, finding: &Finding) -> Result<Self::Target, NotApplicable>;

    /// Whether `finding` is an organization-level finding that stands for findings in other
    /// accounts, which [`Remediation::split`] finds: an alarm of the organization trail, raised
    /// in the account that owns the trail's log group. Asked only of findings of that account
    /// ([`crate::Config::org_trail_account`]). No AWS call.
    fn splits(&self, _finding: &Finding) -> bool {
        false
    }

    /// The findings `finding` stands for, each in its own account and Region, handled in its
    /// place; `trail` is a session in the trail's account through
    /// [`crate::member::TRAIL_READER_ROLE`]. What the split could not hand to a part (`left`),
    /// and an error, are the outcome of `finding` itself: notified (there is no finding to record
    /// it on) and retried when the error is.
    fn split(
        &self,
        _trail: &Member,
        finding: &Finding,
    ) -> impl Future<Output = Result<Split, AwsError>> + Send {
        let same = Split {
            parts: vec![finding.clone()],
            left: None,
        };
        async move { Ok(same) }
    }

    /// A display form of the target for notes and logs.
    fn describe(&self, target: &Self::Target) -> String;

    /// The target's tags.
    fn tags(
        &self,
        c: &Self::Clients,
        target: &Self::Target,
    ) -> impl Future<Output = Result<Tags, AwsError>> + Send;

    /// Reads the current state and returns the steps that would fix it; empty when compliant.
    /// Also the verification: after `apply`, it must return no step.
    fn plan(
        &self,
        c: &Self::Clients,
        target: &Self::Target,
    ) -> impl Future<Output = Result<Vec<Step>, AwsError>> + Send;

    /// Why this target is exempt by the remediation's own configuration (trusted access), before
    /// anything is read.
    fn exempt(&self, _target: &Self::Target) -> Option<String> {
        None
    }

    /// Closes a finding whose target `exempt` trusts, at its source (an Access Analyzer finding is
    /// archived); returns what it did, for the note. Enforce mode only: a dry run changes nothing.
    fn on_exempt(
        &self,
        _c: &Self::Clients,
        _target: &Self::Target,
        _reason: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send {
        async { Ok(None) }
    }

    /// What this remediation's check does not cover of what the finding asserts, if anything (a
    /// port outside its list, events CloudTrail has not shown yet). When it is `Some` and there is
    /// nothing to change, the outcome is UNCONFIRMED (NOTIFIED), never ALREADY_COMPLIANT
    /// (RESOLVED): RESOLVED is said only where the re-read state proves the problem is gone.
    /// Called after `plan`, so it may use what `plan` read.
    fn unchecked(&self, _target: &Self::Target) -> Option<String> {
        None
    }

    /// What a dry run's note says: why this remediation plans instead of acting.
    fn dry_run_reason(&self) -> String {
        "dry-run".into()
    }

    /// Why this target is only to be planned, whatever the mode (a notify-only setting).
    fn plan_only(&self, _target: &Self::Target) -> Option<String> {
        None
    }

    /// The exact state `apply` is about to replace, for `quell undo`; `None`: this remediation
    /// cannot be undone by quell.
    fn prior(
        &self,
        _c: &Self::Clients,
        _target: &Self::Target,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, AwsError>> + Send {
        async { Ok(None) }
    }

    /// Puts back what `prior` recorded; returns the steps taken.
    fn restore(
        &self,
        _c: &Self::Clients,
        _prior: &serde_json::Value,
    ) -> impl Future<Output = Result<Vec<Step>, AwsError>> + Send {
        async {
            Err(AwsError::other(
                format!("could not undo {}", Self::SPEC.id),
                "UndoNotSupported",
                "this remediation records no prior state",
                false,
            ))
        }
    }

    /// Makes the change the steps describe.
    fn apply(
        &self,
        c: &Self::Clients,
        target: &Self::Target,
        steps: &[Step],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The finding's resource of `kind` that a remediation acts on: its ARN, where the source gave
/// one, in the finding's own account and Region (a name is unique only there), and its id held to
/// `valid`. `what` names the kind in the reasons (`SNS topic`). No AWS call.
pub fn resource_in<'f>(
    f: &'f Finding,
    kind: &crate::finding::ResourceKind,
    valid: fn(&str) -> bool,
    what: &str,
) -> Result<&'f crate::finding::Resource, NotApplicable> {
    let r = f
        .resource(kind)
        .ok_or_else(|| NotApplicable(format!("the finding names no {what}")))?;
    if let Some(arn) = r.arn.as_deref().filter(|a| a.starts_with("arn:")) {
        crate::finding::arn_in(arn, &f.account, &f.region)
            .map_err(|why| NotApplicable(format!("{what} {}: {why}", r.id)))?;
    }
    if !valid(&r.id) {
        return Err(NotApplicable(format!(
            "`{}` is not a valid {what} id",
            r.id
        )));
    }
    Ok(r)
}

/// A recorded prior state that cannot be put back as it is: named, and nothing is called.
pub fn invalid_prior(why: impl Into<String>) -> AwsError {
    AwsError::other("could not undo", "InvalidPriorState", why.into(), false)
}

/// A recorded prior state's string field, checked with `valid` before it reaches an API call.
pub fn prior_field(
    prior: &serde_json::Value,
    field: &str,
    valid: fn(&str) -> bool,
) -> Result<String, AwsError> {
    match prior[field].as_str() {
        Some(v) if valid(v) => Ok(v.to_string()),
        other => Err(invalid_prior(format!(
            "the recorded `{field}` is not valid: {}",
            other.unwrap_or("(missing)")
        ))),
    }
}

/// Check-then-act on one target: exemption tag, read, (dry-run stops here), write, re-read.
pub async fn execute<R: Remediation>(
    r: &R,
    c: &R::Clients,
    target: &R::Target,
    mode: Mode,
    exempt_tag: &str,
) -> Outcome {
    execute_recording(r, c, target, mode, exempt_tag, None).await
}

/// Where the prior state of a change is recorded before the change, for `quell undo`.
pub struct UndoLog<'a> {
    pub state: &'a crate::state::State,
    pub function: &'a str,
    pub finding: &'a crate::finding::Finding,
}

/// As [`execute`], recording the prior state in `undo` before any change is made.
pub async fn execute_recording<R: Remediation>(
    r: &R,
    c: &R::Clients,
    target: &R::Target,
    mode: Mode,
    exempt_tag: &str,
    undo: Option<UndoLog<'_>>,
) -> Outcome {
    match try_execute(r, c, target, mode, exempt_tag, undo).await {
        Ok(o) => o,
        Err(e) => Outcome::failed(&e),
    }
}

async fn try_execute<R: Remediation>(
    r: &R,
    c: &R::Clients,
    target: &R::Target,
    mode: Mode,
    exempt_tag: &str,
    undo: Option<UndoLog<'_>>,
) -> Result<Outcome, Error> {
    if let Some(reason) = r.exempt(target) {
        let done = match mode {
            Mode::Enforce => r.on_exempt(c, target, &reason).await?,
            Mode::DryRun => None,
        };
        return Ok(Outcome::Exempt {
            reason: match done {
                Some(d) => format!("{reason}; {d}"),
                None => reason,
            },
        });
    }
    let tags = r.tags(c, target).await?;
    if let Some((k, v)) = tags.iter().find(|(k, _)| k == exempt_tag) {
        if v.eq_ignore_ascii_case("true") {
            return Ok(Outcome::Exempt {
                reason: format!("tagged {k}={v}"),
            });
        }
    }
    let steps = r.plan(c, target).await?;
    if steps.is_empty() {
        if let Some(unchecked) = r.unchecked(target) {
            return Ok(Outcome::Unconfirmed {
                checked: format!(
                    "nothing to change, {} meets what quell checks",
                    r.describe(target)
                ),
                unchecked,
            });
        }
        return Ok(Outcome::AlreadyCompliant {
            detail: format!("{} already meets the rule", r.describe(target)),
        });
    }
    if mode == Mode::DryRun {
        return Ok(Outcome::Planned {
            steps,
            reason: r.dry_run_reason(),
        });
    }
    if let Some(reason) = r.plan_only(target) {
        return Ok(Outcome::Planned { steps, reason });
    }
    if let Some(log) = undo {
        if let Some(prior) = r.prior(c, target).await? {
            log.state
                .record_prior(log.function, log.finding, &r.describe(target), &prior)
                .await?;
        }
    }
    r.apply(c, target, &steps).await?;
    let left = r.plan(c, target).await?;
    if !left.is_empty() {
        let left: Vec<String> = left.iter().map(Step::to_string).collect();
        return Err(Error::NotVerified(format!(
            "after the change {} still needs: {}",
            r.describe(target),
            left.join("; ")
        )));
    }
    // Changed and verified, but quell's check is narrower than the finding (a port outside its
    // list, a password it never deletes, a statement kept for its conditions): the change stands
    // and is recorded for undo, yet the finding is not said to be gone.
    if let Some(unchecked) = r.unchecked(target) {
        let done: Vec<String> = steps.iter().map(Step::to_string).collect();
        return Ok(Outcome::Unconfirmed {
            checked: format!(
                "changed ({}), and it now meets what quell checks",
                done.join("; ")
            ),
            unchecked,
        });
    }
    Ok(Outcome::Remediated { steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_linked_config_rules_match_their_managed_names() {
        assert!(config_rule_matches("restricted-ssh", "restricted-ssh"));
        assert!(config_rule_matches(
            "restricted-ssh",
            "securityhub-restricted-ssh-9412a869"
        ));
        assert!(config_rule_matches(
            "s3-bucket-level-public-access-prohibited",
            "securityhub-s3-bucket-level-public-access-prohibited-727dd3b1"
        ));
        assert!(!config_rule_matches(
            "restricted-ssh",
            "securityhub-restricted-ssh-xyz"
        ));
        assert!(!config_rule_matches(
            "restricted-ssh",
            "restricted-ssh-9412a869"
        ));
        assert!(!config_rule_matches(
            "restricted-ssh",
            "securityhub-restricted-common-ports-9412a869"
        ));
    }

    #[test]
    fn guardduty_types_match_exactly_or_by_declared_prefix() {
        assert!(type_matches("Backdoor:EC2/*", "Backdoor:EC2/C&CActivity.B"));
        assert!(!type_matches(
            "Backdoor:EC2/*",
            "Backdoor:Lambda/C&CActivity.B"
        ));
        assert!(type_matches(
            "Policy:S3/BucketBlockPublicAccessDisabled",
            "Policy:S3/BucketBlockPublicAccessDisabled"
        ));
        assert!(!type_matches(
            "Policy:S3/BucketBlockPublicAccessDisabled",
            "Policy:S3/BucketBlockPublicAccessDisabledX"
        ));
    }
}
