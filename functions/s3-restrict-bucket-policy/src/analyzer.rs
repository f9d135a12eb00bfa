//! Archiving an Access Analyzer finding whose access quell's configuration trusts: the finding is
//! closed where it was raised, with the reason in quell's note, instead of reappearing on every
//! scan. An account analyzer lives in the member account (the member session archives); an
//! organization analyzer lives in the delegated administrator, which is quell's own security
//! account (the function's own credentials archive).

use aws_sdk_accessanalyzer::types::FindingStatusUpdate;
use quell::finding::validate;
use quell::{AwsError, AwsResultExt, Finding, Member};

pub const UPDATE_FINDINGS: &str = "access-analyzer:UpdateFindings";

/// The analyzer and id of an Access Analyzer finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerFinding {
    pub analyzer: String,
    pub id: String,
}

impl AnalyzerFinding {
    /// From a parsed finding; `None` when the event named no analyzer.
    pub fn of(f: &Finding) -> Option<AnalyzerFinding> {
        f.analyzer.as_ref().map(|a| AnalyzerFinding {
            analyzer: a.clone(),
            id: f.id.clone(),
        })
    }

    /// The account the analyzer belongs to (validated when the event was parsed).
    pub fn account(&self) -> &str {
        self.analyzer.split(':').nth(4).unwrap_or_default()
    }
}

/// Access Analyzer clients in the member account and in the security account.
#[derive(Clone, Debug)]
pub struct Analyzers {
    pub member_account: String,
    pub member: aws_sdk_accessanalyzer::Client,
    pub central: aws_sdk_accessanalyzer::Client,
}

impl Analyzers {
    pub fn new(m: &Member) -> Analyzers {
        Analyzers {
            member_account: m.account.clone(),
            member: aws_sdk_accessanalyzer::Client::new(m.config()),
            central: aws_sdk_accessanalyzer::Client::new(m.central()),
        }
    }

    fn client_for(&self, f: &AnalyzerFinding) -> &aws_sdk_accessanalyzer::Client {
        if f.account() == self.member_account {
            &self.member
        } else {
            &self.central
        }
    }
}

/// Archives the finding; returns what was done, for the note.
pub async fn archive(a: &Analyzers, f: &AnalyzerFinding) -> Result<String, AwsError> {
    if !validate::account_id(f.account()) {
        return Err(AwsError::other(
            format!("could not archive Access Analyzer finding {}", f.id),
            "InvalidAnalyzerArn",
            format!("`{}` is not an analyzer ARN", f.analyzer),
            false,
        ));
    }
    a.client_for(f)
        .update_findings()
        .analyzer_arn(&f.analyzer)
        .ids(&f.id)
        .status(FindingStatusUpdate::Archived)
        .send()
        .await
        .aws(|| format!("could not archive Access Analyzer finding {}", f.id))?;
    Ok(format!(
        "the Access Analyzer finding is archived ({})",
        f.analyzer
    ))
}

/// Archives the finding when the event named its analyzer; `None` when it did not.
pub async fn archive_if_known(
    a: &Analyzers,
    f: Option<&AnalyzerFinding>,
) -> Result<Option<String>, AwsError> {
    match f {
        Some(f) => archive(a, f).await.map(Some),
        None => Ok(None),
    }
}
