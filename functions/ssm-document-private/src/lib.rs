//! `ssm-document-private`: a Systems Manager document of the account's that anyone may use
//! (SSM.4, ssm-document-not-public) stops being shared publicly: ModifyDocumentPermission
//! removes `All` from its Share permission. A document is shared either with everyone or with
//! named accounts, never both, so nothing else is taken away.
//!
//! A public document can carry scripts, commands, parameters and the names of the account's
//! resources; anyone who read it while it was public keeps what they read: the note says so. The
//! account-wide guard is Systems Manager's "block public sharing" setting, which the note names.

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

/// What Systems Manager says of the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub tags: Tags,
    /// Whom it is shared with: account ids, or `all`.
    pub shared: Vec<String>,
}

impl State {
    fn public(&self) -> bool {
        self.shared.iter().any(|a| a.eq_ignore_ascii_case(PUBLIC))
    }
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

/// Whom the document is shared with.
async fn shared(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Vec<String>, AwsError> {
    let out = ssm
        .describe_document_permission()
        .name(name)
        .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
        .send()
        .await
        .aws(|| format!("could not read the sharing of SSM document {name}"))?;
    Ok(out.account_ids().to_vec())
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

async fn set_public(ssm: &aws_sdk_ssm::Client, name: &str, public: bool) -> Result<(), AwsError> {
    let call = ssm
        .modify_document_permission()
        .name(name)
        .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share);
    let call = if public {
        call.account_ids_to_add(PUBLIC)
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
        untouched: "Removes only the public share: the document, its versions and content are untouched (a document shared with everyone is shared with no named account besides). What anyone read while it was public stays read: the note says so; Systems Manager's account setting /ssm/documents/console/public-sharing-permission=Disable blocks public sharing for good. A document tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo shares the document with everyone again, only if it still exists and is not public already. Default enforce.",
        triggers: Triggers {
            config_rules: &["ssm-document-not-public"],
            securityhub_controls: &["SSM.4"],
            ..Triggers::NONE
        },
        permissions: &[
            "ssm:DescribeDocumentPermission",
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
        Ok(if s.public() {
            vec![Step::new(
                MODIFY,
                format!(
                    "document={} Share -All; what was read while it was public stays read; to block public sharing in the account: aws ssm update-service-setting --setting-id /ssm/documents/console/public-sharing-permission --setting-value Disable",
                    t.name
                ),
            )]
        } else {
            Vec::new()
        })
    }

    async fn prior(
        &self,
        _ssm: &aws_sdk_ssm::Client,
        t: &Document,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it public: apply only runs on a public document.
        Ok(Some(serde_json::json!({
            "document": t.name,
            "account": t.account,
            "region": t.region,
            "public": true,
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
        let step = |what: String| vec![Step::new(MODIFY, what)];
        let now = match shared(ssm, &name).await {
            Err(e) if gone(&e) => {
                return Ok(step(format!(
                    "SSM document {name} is gone: nothing to undo"
                )))
            }
            other => other?,
        };
        if now.iter().any(|a| a.eq_ignore_ascii_case(PUBLIC)) {
            return Ok(step(format!(
                "SSM document {name} is public already: left as it is"
            )));
        }
        if !now.is_empty() {
            // Shared with named accounts since: making it public would end that sharing.
            return Ok(step(format!(
                "SSM document {name} is shared with {} since: left as it is (public sharing would replace it)",
                now.join(", ")
            )));
        }
        set_public(ssm, &name, true).await?;
        Ok(step(format!(
            "document={name} Share +All: public again, as it was"
        )))
    }

    async fn apply(
        &self,
        ssm: &aws_sdk_ssm::Client,
        t: &Document,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        t.read.clear();
        set_public(ssm, &t.name, false).await
    }
}

#[cfg(test)]
mod tests;
