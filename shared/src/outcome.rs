//! What happened to a finding, and what that means for Security Hub and for Lambda.

use serde::Serialize;

/// One step of a remediation: the IAM action it calls and on what, exactly as it is (or would
/// be, in dry-run) made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: &'static str,
    pub detail: String,
}

impl Step {
    pub fn new(action: &'static str, detail: impl Into<String>) -> Self {
        Step {
            action,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.action, self.detail)
    }
}

/// How the reason of a finding planned past the blast-radius cap begins.
pub const CAP_REACHED: &str = "blast-radius cap";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Changed, and the re-read state shows the fix.
    Remediated { steps: Vec<Step> },
    /// Nothing to change: replayed, or already fixed — and quell's check covers everything the
    /// finding asserts.
    AlreadyCompliant { detail: String },
    /// quell found nothing it can change, but its check is narrower than the finding: what it
    /// could not check is said, and a person must look (NOTIFIED, never RESOLVED).
    Unconfirmed { checked: String, unchecked: String },
    /// Left alone on purpose: an exemption tag, a trusted account, an undo hold.
    Exempt { reason: String },
    /// Not this function's business: an account outside QUELL_ALLOW_ACCOUNTS / inside
    /// QUELL_DENY_ACCOUNTS (another team owns it), or a finding that is not this function's
    /// trigger (another function answers it). The workflow is left as it is and no message is
    /// sent: one log line.
    OutOfScope { reason: String },
    /// Dry-run, or not to be acted on: the exact steps it would take.
    Planned { steps: Vec<Step>, reason: String },
    /// Another delivery, or another source, of the same occurrence was already handled: nothing
    /// is done, nothing is recorded again.
    Duplicate { of: String },
    /// Could not be remediated. Retryable failures make the invocation fail, so Lambda retries.
    Failed {
        error: String,
        code: Option<String>,
        retryable: bool,
    },
}

/// Security Hub workflow statuses quell sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Workflow {
    Resolved,
    Suppressed,
    Notified,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Workflow::Resolved => "RESOLVED",
            Workflow::Suppressed => "SUPPRESSED",
            Workflow::Notified => "NOTIFIED",
        }
    }
}

impl Outcome {
    pub fn failed(err: &crate::error::Error) -> Outcome {
        Outcome::Failed {
            error: err.to_string(),
            code: err.code().map(str::to_string),
            retryable: err.retryable(),
        }
    }

    pub fn not_applicable(why: impl Into<String>) -> Outcome {
        Outcome::Failed {
            error: format!("not applicable: {}", why.into()),
            code: Some("NotApplicable".into()),
            retryable: false,
        }
    }

    /// The workflow status DESIGN.md's table gives for a posture finding; `None` leaves the
    /// finding unchanged. [`Outcome::workflow_for`] is the one for a finding of either kind.
    pub fn workflow(&self) -> Option<Workflow> {
        self.workflow_for(false)
    }

    /// The workflow status for a threat finding (`threat`) or a posture finding: quell never
    /// suppresses a threat, so an exempt threat is NOTIFIED with the reason.
    pub fn workflow_for(&self, threat: bool) -> Option<Workflow> {
        match self {
            Outcome::Remediated { .. } | Outcome::AlreadyCompliant { .. } => {
                Some(Workflow::Resolved)
            }
            Outcome::Unconfirmed { .. } => Some(Workflow::Notified),
            Outcome::Exempt { .. } if threat => Some(Workflow::Notified),
            Outcome::Exempt { .. } => Some(Workflow::Suppressed),
            Outcome::OutOfScope { .. } => None,
            Outcome::Planned { .. } => Some(Workflow::Notified),
            Outcome::Failed {
                retryable: false, ..
            } => Some(Workflow::Notified),
            Outcome::Failed {
                retryable: true, ..
            } => None,
            Outcome::Duplicate { .. } => None,
        }
    }

    /// Planned only because the blast-radius cap was reached ([`CAP_REACHED`]).
    pub fn capped(&self) -> bool {
        matches!(self, Outcome::Planned { reason, .. } if reason.starts_with(CAP_REACHED))
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Remediated { .. } => "REMEDIATED",
            Outcome::AlreadyCompliant { .. } => "ALREADY_COMPLIANT",
            Outcome::Unconfirmed { .. } => "UNCONFIRMED",
            Outcome::Exempt { .. } => "EXEMPT",
            Outcome::OutOfScope { .. } => "OUT_OF_SCOPE",
            Outcome::Planned { .. } => "PLANNED",
            Outcome::Failed {
                retryable: true, ..
            } => "FAILED_RETRYABLE",
            Outcome::Failed { .. } => "FAILED",
            Outcome::Duplicate { .. } => "DUPLICATE",
        }
    }

    /// The Security Hub note: what was done, by which function, and why. Security Hub takes at
    /// most 512 characters.
    pub fn note(&self, function: &str, target: &str) -> String {
        let steps = |s: &[Step]| s.iter().map(Step::to_string).collect::<Vec<_>>().join("; ");
        let text = match self {
            Outcome::Remediated { steps: s } => {
                format!("quell {function} remediated {target}: {}. Verified by re-reading the resource.", steps(s))
            }
            Outcome::AlreadyCompliant { detail } => {
                format!("quell {function} found {target} already compliant: {detail}. Nothing was changed.")
            }
            Outcome::Unconfirmed { checked, unchecked } => {
                format!("quell {function} on {target}: {checked}; it cannot confirm the finding is gone: {unchecked}. A person must look at it.")
            }
            Outcome::Exempt { reason } => {
                format!("quell {function} left {target} alone: {reason}.")
            }
            Outcome::OutOfScope { reason } => {
                format!("quell {function} did nothing for {target}: {reason}.")
            }
            Outcome::Planned { steps: s, reason } => {
                format!(
                    "quell {function} planned for {target} ({reason}), nothing changed: {}.",
                    steps(s)
                )
            }
            Outcome::Duplicate { of } => {
                format!("quell {function} did nothing for {target}: a duplicate of {of}, handled once already.")
            }
            Outcome::Failed { error, .. } => {
                format!(
                    "quell {function} could not remediate {target}: {}. A person must look at it.",
                    error.trim_end_matches('.')
                )
            }
        };
        truncate(&text, NOTE_LIMIT)
    }
}

/// Security Hub's limit on Note.Text.
pub const NOTE_LIMIT: usize = 512;

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_follows_the_design_table() {
        let cases = [
            (
                Outcome::Remediated { steps: vec![] },
                Some(Workflow::Resolved),
            ),
            (
                Outcome::AlreadyCompliant { detail: "x".into() },
                Some(Workflow::Resolved),
            ),
            (
                Outcome::Exempt { reason: "x".into() },
                Some(Workflow::Suppressed),
            ),
            (Outcome::OutOfScope { reason: "x".into() }, None),
            (
                Outcome::Unconfirmed {
                    checked: "x".into(),
                    unchecked: "y".into(),
                },
                Some(Workflow::Notified),
            ),
            (
                Outcome::Planned {
                    steps: vec![],
                    reason: "dry-run".into(),
                },
                Some(Workflow::Notified),
            ),
            (
                Outcome::Failed {
                    error: "x".into(),
                    code: None,
                    retryable: false,
                },
                Some(Workflow::Notified),
            ),
            (
                Outcome::Failed {
                    error: "x".into(),
                    code: None,
                    retryable: true,
                },
                None,
            ),
        ];
        for (outcome, workflow) in cases {
            assert_eq!(outcome.workflow(), workflow, "{outcome:?}");
            // A threat is never suppressed: an exempt threat is NOTIFIED.
            let threat = outcome.workflow_for(true);
            match &outcome {
                Outcome::Exempt { .. } => assert_eq!(threat, Some(Workflow::Notified)),
                _ => assert_eq!(threat, workflow, "{outcome:?}"),
            }
        }
    }

    #[test]
    fn notes_fit_security_hub() {
        let long = Outcome::Failed {
            error: "é".repeat(600),
            code: None,
            retryable: false,
        };
        let note = long.note("s3-block-public-access", "AWS::S3::Bucket b");
        assert!(note.len() <= NOTE_LIMIT);
        assert!(note.ends_with("..."));
        let done = Outcome::Remediated {
            steps: vec![Step::new("s3:PutBucketPublicAccessBlock", "on b")],
        };
        let note = done.note("s3-block-public-access", "AWS::S3::Bucket b");
        assert!(
            note.contains("s3-block-public-access")
                && note.contains("s3:PutBucketPublicAccessBlock")
        );
    }
}

/// The record of one finding's handling: logged, returned by the function, published to SNS.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub function: String,
    pub source: crate::finding::Source,
    pub finding_id: String,
    pub kind: String,
    pub account: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub mode: crate::config::Mode,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub workflow: Option<Workflow>,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<crate::hub::HubRecord>,
    /// Failures to record or notify: the outcome is kept, and the invocation is retried.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub record_errors: Vec<String>,
}
