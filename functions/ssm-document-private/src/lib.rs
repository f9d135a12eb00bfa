//! `ssm-document-private`: a Systems Manager document of the account's that anyone may use
//! (SSM.4, ssm-document-not-public) stops being shared publicly: ModifyDocumentPermission
//! removes `All` from its Share permission. Accounts it is shared with by id keep their access:
//! sharing with a named account is not exposure.
//!
//! A public document can carry scripts, commands, parameters and the names of the account's
//! resources; anyone who read it while it was public keeps what they read: the note says so. The
//! guard for good is Systems Manager's "block public sharing" setting (one per Region), which the
//! note names.

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "ssm:ModifyDocumentPermission";
/// The account id that stands for everyone (matched case-insensitively, as SSM does).
const PUBLIC: &str = "all";

#[derive(Debug, Clone, Copy, Default)]
pub struct SsmDocumentPrivate;

/// Whom a document is shared with: (account id or `all`, the version shared, where SSM says).
pub type Shares = Vec<(String, Option<String>)>;

/// What Systems Manager says of the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub tags: Tags,
    pub shared: Shares,
}

impl State {
    /// `Some(version shared at)` when the document is public.
    fn public(&self) -> Option<Option<String>> {
        public_version(&self.shared)
    }
}

/// The version `all` is shared at, when the document is public.
fn public_version(s: &Shares) -> Option<Option<String>> {
    s.iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(PUBLIC))
        .map(|(_, v)| v.clone())
}

/// The accounts it is shared with by id, sorted.
fn named(s: &Shares) -> Vec<String> {
    let mut v: Vec<String> = s
        .iter()
        .filter(|(a, _)| !a.eq_ignore_ascii_case(PUBLIC))
        .map(|(a, _)| a.clone())
        .collect();
    v.sort();
    v
}

/// The document in the finding's account and Region.
#[derive(Debug, Default)]
pub struct Document {
    pub name: String,
    pub account: String,
    pub region: String,
    /// The read that `tags` and `plan` share; `apply` clears it so that the check reads afresh.
    read: Cached<State>,
}

impl Document {
    pub fn new(name: &str, account: &str, region: &str) -> Document {
        Document {
            name: name.into(),
            account: account.into(),
            region: region.into(),
            read: Cached::default(),
        }
    }
}

/// Whom the document is shared with, every page.
async fn shared(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Shares, AwsError> {
    let mut all = Shares::new();
    let mut token: Option<String> = None;
    loop {
        let out = ssm
            .describe_document_permission()
            .name(name)
            .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
            .set_next_token(token.take())
            .send()
            .await
            .aws(|| format!("could not read the sharing of SSM document {name}"))?;
        let versions = out.account_sharing_info_list();
        for id in out.account_ids() {
            let version = versions
                .iter()
                .find(|i| i.account_id() == Some(id.as_str()))
                .and_then(|i| i.shared_document_version())
                .map(str::to_string);
            all.push((id.clone(), version));
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(all),
        }
    }
}

/// When the document was made: tells it from a later one of the same name.
async fn created(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>, AwsError> {
    let out = ssm
        .describe_document()
        .name(name)
        .send()
        .await
        .aws(|| format!("could not describe SSM document {name}"))?;
    Ok(out
        .document()
        .and_then(|d| d.created_date())
        .map(|d| d.secs().to_string()))
}

async fn read(ssm: &aws_sdk_ssm::Client, t: &Document) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let shared = shared(ssm, &t.name).await?;
    let tags = ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Document)
        .resource_id(&t.name)
        .send()
        .await
        .aws(|| format!("could not read the tags of SSM document {}", t.name))?
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let state = State { tags, shared };
    t.read.set(state.clone());
    Ok(state)
}

/// Adds `all` (at `version`, as it was shared) or removes it; named accounts are untouched.
async fn set_public(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    public: bool,
    version: Option<&str>,
) -> Result<(), AwsError> {
    let call = ssm
        .modify_document_permission()
        .name(name)
        .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share);
    let call = if public {
        call.account_ids_to_add(PUBLIC)
            .set_shared_document_version(version.map(str::to_string))
    } else {
        call.account_ids_to_remove(PUBLIC)
    };
    call.send().await.aws(|| {
        format!(
            "could not make SSM document {name} {}",
            if public { "public" } else { "private" }
        )
    })?;
    Ok(())
}

/// Whether an error says the document is not there (deleted since, or never the account's).
fn gone(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidDocument")
}

impl Remediation for SsmDocumentPrivate {
    const SPEC: Spec = Spec {
        id: "ssm-document-private",
        summary: "Stops a Systems Manager document from being shared publicly (ModifyDocumentPermission removes All)",
        resolved: "SSM.4, ssm-document-not-public: DescribeDocumentPermission (Share) re-read lists no `All`. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Removes only the public share: accounts the document is shared with by id keep it, and the document, its versions and content are untouched. What anyone read while it was public stays read: the note says so; Systems Manager's setting /ssm/documents/console/public-sharing-permission=Disable (one per Region) blocks public sharing for good. A document tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo shares the same document (its creation date) with everyone again at the version it was shared at, only if it is not public already and its named accounts are as they were. Default enforce.",
        triggers: Triggers {
            config_rules: &["ssm-document-not-public"],
            securityhub_controls: &["SSM.4"],
            ..Triggers::NONE
        },
        permissions: &[
            "ssm:DescribeDocumentPermission",
            "ssm:DescribeDocument",
            "ssm:ListTagsForResource",
            MODIFY,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Document;
    type Clients = aws_sdk_ssm::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Document, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::SsmDocument,
            validate::ssm_document_name,
            "SSM document",
        )?;
        Ok(Document::new(&r.id, &f.account, &f.region))
    }

    fn describe(&self, t: &Document) -> String {
        format!("SSM document {}", t.name)
    }

    async fn tags(&self, ssm: &aws_sdk_ssm::Client, t: &Document) -> Result<Tags, AwsError> {
        Ok(read(ssm, t).await?.tags)
    }

    async fn plan(&self, ssm: &aws_sdk_ssm::Client, t: &Document) -> Result<Vec<Step>, AwsError> {
        let s = read(ssm, t).await?;
        if s.public().is_none() {
            return Ok(Vec::new());
        }
        let kept = named(&s.shared);
        Ok(vec![Step::new(
            MODIFY,
            format!(
                "document={} Share -All{}; what was read while it was public stays read; to block public sharing in this Region: aws ssm update-service-setting --setting-id /ssm/documents/console/public-sharing-permission --setting-value Disable",
                t.name,
                if kept.is_empty() {
                    String::new()
                } else {
                    format!(" (shared with {} kept)", kept.join(", "))
                }
            ),
        )])
    }

    async fn prior(
        &self,
        ssm: &aws_sdk_ssm::Client,
        t: &Document,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it public: apply only runs on a public document.
        let s = t.read.get().unwrap_or_default();
        Ok(Some(serde_json::json!({
            "document": t.name,
            "account": t.account,
            "region": t.region,
            "public": true,
            "version": s.public().flatten(),
            "accounts": named(&s.shared),
            "created": created(ssm, &t.name).await?,
        })))
    }

    async fn restore(
        &self,
        ssm: &aws_sdk_ssm::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let name = quell::remediation::prior_field(prior, "document", validate::ssm_document_name)?;
        if prior["public"] != serde_json::Value::Bool(true) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `public` is not true: nothing of quell's to undo",
            ));
        }
        let version = match &prior["version"] {
            serde_json::Value::Null => None,
            serde_json::Value::String(v)
                if ["$DEFAULT", "$LATEST", "$ALL"].contains(&v.as_str())
                    || (!v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_digit())) =>
            {
                Some(v.clone())
            }
            other => {
                return Err(quell::remediation::invalid_prior(format!(
                    "the recorded `version` is not a document version: {other}"
                )))
            }
        };
        let recorded: Vec<String> = prior["accounts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let step = |what: String| vec![Step::new(MODIFY, what)];
        // Only the document quell made private: made when the recorded one was.
        let made = match created(ssm, &name).await {
            Err(e) if gone(&e) => {
                return Ok(step(format!(
                    "SSM document {name} is gone: nothing to undo"
                )))
            }
            other => other?,
        };
        if let Some(c) = prior["created"].as_str() {
            if made.as_deref() != Some(c) {
                return Ok(step(format!(
                    "SSM document {name} is another document of the same name, made since: left as it is"
                )));
            }
        }
        let now = shared(ssm, &name).await?;
        if public_version(&now).is_some() {
            return Ok(step(format!(
                "SSM document {name} is public already: left as it is"
            )));
        }
        if named(&now) != recorded {
            // Its sharing changed since: a person decided it; making it public again is theirs.
            return Ok(step(format!(
                "SSM document {name} is shared with [{}] since, not [{}]: left as it is",
                named(&now).join(", "),
                recorded.join(", ")
            )));
        }
        set_public(ssm, &name, true, version.as_deref()).await?;
        Ok(step(format!(
            "document={name} Share +All{}: public again, as it was",
            version.map(|v| format!(" at {v}")).unwrap_or_default()
        )))
    }

    async fn apply(
        &self,
        ssm: &aws_sdk_ssm::Client,
        t: &Document,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        t.read.clear();
        set_public(ssm, &t.name, false, None).await
    }
}

#[cfg(test)]
mod tests;
