//! `s3-restrict-bucket-policy`: an IAM Access Analyzer finding says a bucket is shared with a
//! principal outside the zone of trust (another account, or everyone). The grants to exactly those
//! principals are removed from the bucket policy — a statement that grants only to them goes, a
//! statement that also grants to others loses only those principals — and every other statement is
//! kept byte-for-byte ([`statements`]). A grant to everyone is public only when its conditions do
//! not limit it to the organization, trusted accounts, a VPC endpoint or access points
//! ([`conditions`]); an `Allow` with `NotPrincipal` grants everyone but those it names, and goes as
//! a whole when it is public. Where the access comes from the bucket ACL (public groups, or
//! another account's canonical user when the finding says BUCKET_ACL), those grants leave the ACL;
//! the owner's and AWS log delivery's (the S3 log delivery group, CloudFront's awslogsdelivery)
//! stay. Principals trusted by configuration (QUELL_TRUSTED_ACCOUNTS) are not touched: the finding
//! is archived in Access Analyzer and suppressed in Security Hub, with the reason.
//!
//! Access Analyzer says under which condition the access it reports is granted (the event's
//! `condition`: `{}` for none). A statement kept for its conditions is what the finding is about
//! only when it holds that condition; then (and for a kept log delivery grant, or an event that
//! names no condition) the outcome is UNCONFIRMED, naming what was kept, never "resolved". A
//! finding about access under no condition is resolved when no unconditioned grant is left, the
//! limited statements kept beside it are not what it reports.

use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Source, Spec, Step, Tags, Triggers,
};
use serde_json::{json, Value};

pub mod analyzer;
pub mod conditions;
pub mod statements;
pub use analyzer::{archive, archive_if_known, AnalyzerFinding, Analyzers, UPDATE_FINDINGS};
pub use conditions::Trust;
pub use quell::policy::{array_elements, restricted};

const PUT: &str = "s3:PutBucketPolicy";
const DELETE: &str = "s3:DeleteBucketPolicy";
const PUT_ACL: &str = "s3:PutBucketAcl";
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The S3 server access log delivery group.
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
/// CloudFront's standard-log delivery account (awslogsdelivery), by canonical user id.
pub const CLOUDFRONT_LOG_DELIVERY: &str =
    "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0";

#[derive(Debug, Clone, Default)]
pub struct S3RestrictBucketPolicy {
    pub trusted_accounts: Vec<String>,
}

#[derive(Debug)]
pub struct Target {
    pub bucket: String,
    /// The principals the finding says have access: account ids, ARNs, canonical user ids, or `*`.
    pub principals: Vec<String>,
    /// The finding says the access comes (also) from the bucket ACL.
    pub from_acl: bool,
    /// Where the finding is archived when its access is trusted.
    pub analyzer: Option<AnalyzerFinding>,
    /// The condition the finding reports the access under (`None`: the event did not say).
    pub condition: Option<Vec<(String, String)>>,
    /// What the last `plan` kept although it grants what the finding names (a statement limited
    /// by its conditions, a log delivery grant), for [`Remediation::unchecked`].
    kept: Cached<Vec<String>>,
}

impl Target {
    pub fn new(bucket: &str, principals: &[&str]) -> Target {
        Target {
            bucket: bucket.to_string(),
            principals: principals.iter().map(|p| p.to_string()).collect(),
            from_acl: false,
            analyzer: None,
            condition: None,
            kept: Cached::default(),
        }
    }

    /// What the last `plan` kept although it grants what the finding names.
    pub fn kept(&self) -> Vec<String> {
        self.kept.get().unwrap_or_default()
    }
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub analyzer: Analyzers,
    /// The member account: every S3 call names it as the expected bucket owner.
    pub account: String,
}

use quell::member::bucket_policy as policy;

/// The bucket's ACL: its owner and grants. `owner` is the account expected to own the bucket.
pub async fn acl(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<(Option<Owner>, Vec<Grant>), AwsError> {
    let out = s3
        .get_bucket_acl()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .aws(|| format!("could not read the ACL of bucket {bucket}"))?;
    Ok((out.owner, out.grants.unwrap_or_default()))
}

/// A grantee for notes: the group's name, or the canonical user's id.
pub fn grantee_label(g: &Grant) -> String {
    let Some(who) = g.grantee() else {
        return "nobody".into();
    };
    let name = who
        .uri()
        .map(|u| u.rsplit('/').next().unwrap_or(u).to_string())
        .or_else(|| {
            who.id().map(|i| match i {
                CLOUDFRONT_LOG_DELIVERY => "CloudFront log delivery (awslogsdelivery)".to_string(),
                _ => format!("canonical user {i}"),
            })
        })
        .or_else(|| who.email_address().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let perm = g.permission().map(|p| p.as_str()).unwrap_or("?");
    format!("{name} {perm}")
}

/// Whether a grant is an AWS service's log delivery: the S3 log delivery group, or CloudFront's
/// awslogsdelivery account.
pub fn is_log_delivery(g: &Grant) -> bool {
    g.grantee()
        .is_some_and(|w| w.uri() == Some(LOG_DELIVERY) || w.id() == Some(CLOUDFRONT_LOG_DELIVERY))
}

/// Whether an ACL grant gives access to an untrusted principal: a public group when the finding
/// says everyone (`*`), a canonical user the finding names, or any other account's canonical user
/// when the finding says the access comes from the ACL. The owner's grants and AWS log delivery's
/// ([`is_log_delivery`]) are never removed.
pub fn grant_is_untrusted(
    g: &Grant,
    owner: Option<&str>,
    untrusted: &[String],
    from_acl: bool,
) -> bool {
    !is_log_delivery(g) && grant_matches(g, owner, untrusted, from_acl)
}

/// A log delivery grant the finding may be about, kept: what [`grant_is_untrusted`] would have
/// removed were it not AWS log delivery.
pub fn log_delivery_kept(
    g: &Grant,
    owner: Option<&str>,
    untrusted: &[String],
    from_acl: bool,
) -> bool {
    is_log_delivery(g) && grant_matches(g, owner, untrusted, from_acl)
}

/// [`grant_is_untrusted`] before the log delivery exception.
fn grant_matches(g: &Grant, owner: Option<&str>, untrusted: &[String], from_acl: bool) -> bool {
    let Some(who) = g.grantee() else {
        return false;
    };
    if let Some(uri) = who.uri() {
        return untrusted.iter().any(|p| p == "*")
            && (uri == ALL_USERS || uri == AUTHENTICATED_USERS);
    }
    if let Some(id) = who.id() {
        if Some(id) == owner {
            return false;
        }
        return untrusted.iter().any(|p| p == id)
            || (from_acl && untrusted.iter().any(|p| validate::account_id(p)));
    }
    false
}

fn grant_json(g: &Grant) -> Value {
    let who = g.grantee();
    json!({
        "type": who.map(|w| w.r#type().as_str()),
        "id": who.and_then(|w| w.id()),
        "uri": who.and_then(|w| w.uri()),
        "email": who.and_then(|w| w.email_address()),
        "display": who.and_then(|w| w.display_name()),
        "permission": g.permission().map(|p| p.as_str()),
    })
}

fn grant_from_json(v: &Value) -> Result<Grant, String> {
    let kind = v["type"].as_str().ok_or("a grant has no grantee type")?;
    let grantee = Grantee::builder()
        .r#type(Type::from(kind))
        .set_id(v["id"].as_str().map(str::to_string))
        .set_uri(v["uri"].as_str().map(str::to_string))
        .set_email_address(v["email"].as_str().map(str::to_string))
        .set_display_name(v["display"].as_str().map(str::to_string))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Grant::builder()
        .grantee(grantee)
        .set_permission(v["permission"].as_str().map(Permission::from))
        .build())
}

async fn put_acl(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    account: &str,
    owner: Option<Owner>,
    grants: Vec<Grant>,
) -> Result<(), AwsError> {
    s3.put_bucket_acl()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .access_control_policy(
            AccessControlPolicy::builder()
                .set_owner(owner)
                .set_grants(Some(grants))
                .build(),
        )
        .send()
        .await
        .aws(|| format!("could not put the ACL of bucket {bucket}"))?;
    Ok(())
}

fn malformed(bucket: &str, e: String) -> AwsError {
    AwsError::other(
        format!("could not read the policy of bucket {bucket}"),
        "MalformedPolicy",
        e,
        false,
    )
}

impl S3RestrictBucketPolicy {
    fn untrusted(&self, t: &Target) -> Vec<String> {
        untrusted(&t.principals, &self.trusted_accounts)
    }

    /// The ACL is read only when it can be the source: public access, or the finding says so.
    fn reads_acl(&self, t: &Target) -> bool {
        t.from_acl || self.untrusted(t).iter().any(|p| p == "*")
    }

    /// The bucket policy without the grants to the finding's untrusted principals (conditions
    /// read against the bucket owner and QUELL_TRUSTED_ACCOUNTS); `None` when it has no policy.
    async fn cut(&self, c: &Clients, t: &Target) -> Result<Option<statements::Cut>, AwsError> {
        let Some(current) = policy(&c.s3, &t.bucket, &c.account).await? else {
            return Ok(None);
        };
        let trust = Trust {
            owner: &c.account,
            accounts: &self.trusted_accounts,
        };
        statements::cut(&current, &self.untrusted(t), &trust)
            .map(Some)
            .map_err(|e| malformed(&t.bucket, e))
    }
}

impl Remediation for S3RestrictBucketPolicy {
    const SPEC: Spec = Spec {
        id: "s3-restrict-bucket-policy",
        summary: "Removes from a bucket policy and ACL exactly the grants to principals outside the zone of trust, keeping every other statement byte-for-byte; archives trusted findings",
        resolved: "Access Analyzer AWS::S3::Bucket: GetBucketPolicy has no Allow statement whose Principal names a finding principal not in QUELL_TRUSTED_ACCOUNTS (if it names *: Principal * or an Allow with NotPrincipal, unless a condition limits it) and, if it names * or its sources include BUCKET_ACL, GetBucketAcl has no AllUsers or AuthenticatedUsers grant (public), no named canonical user, and with BUCKET_ACL and an account principal no non-owner canonical user. UNCONFIRMED when a statement kept as limited by its conditions holds the finding's condition (any such statement when the event names no condition), or a grant to everyone under a condition naming the finding's account, or a log-delivery ACL grant was kept; a finding under no condition (`condition: {}`) is not about the limited statements kept beside it.",
        untouched: "Keeps every other statement byte-for-byte, Deny statements, the owner's ACL grants and log delivery grants (LogDelivery group, CloudFront awslogsdelivery). All principals in QUELL_TRUSTED_ACCOUNTS: EXEMPT (SUPPRESSED), and in enforce the Access Analyzer finding archived. ARCHIVED, RESOLVED, ERROR or principal-less findings are NotApplicable; a non-JSON policy fails (MalformedPolicy). A bucket tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Default enforce.",
        triggers: Triggers {
            access_analyzer: &["AWS::S3::Bucket"],
            ..Triggers::NONE
        },
        permissions: &[
            "s3:GetBucketTagging",
            "s3:GetBucketPolicy",
            PUT,
            DELETE,
            "s3:GetBucketAcl",
            PUT_ACL,
            UPDATE_FINDINGS,
        ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            s3: member.s3(),
            analyzer: Analyzers::new(member),
            account: member.account.clone(),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        self.trusted_accounts = trusted_accounts(get)?.unwrap_or_default();
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        check_analyzer_finding(f)?;
        let r = f
            .resource(&ResourceKind::S3Bucket)
            .ok_or_else(|| NotApplicable("the finding names no bucket".into()))?;
        Ok(Target {
            bucket: r.id.clone(),
            principals: f.principals.clone(),
            from_acl: f.sources.iter().any(|s| s == "BUCKET_ACL"),
            analyzer: AnalyzerFinding::of(f),
            condition: f.condition.clone(),
            kept: Cached::default(),
        })
    }

    fn describe(&self, t: &Target) -> String {
        format!("bucket {}", t.bucket)
    }

    fn exempt(&self, t: &Target) -> Option<String> {
        trusted_reason(&t.principals, &self.trusted_accounts)
    }

    async fn on_exempt(
        &self,
        c: &Clients,
        t: &Target,
        _reason: &str,
    ) -> Result<Option<String>, AwsError> {
        archive_if_known(&c.analyzer, t.analyzer.as_ref()).await
    }

    async fn tags(&self, c: &Clients, t: &Target) -> Result<Tags, AwsError> {
        quell::member::bucket_tags(&c.s3, &t.bucket, &c.account).await
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        let untrusted = self.untrusted(t);
        let mut steps = Vec::new();
        let mut kept = Vec::new();
        if let Some(cut) = self.cut(c, t).await? {
            let gone = format!(
                "the grants to {} go: {}",
                untrusted.join(", "),
                cut.changed.join("; ")
            );
            match cut.policy {
                None => {}
                Some(None) => steps.push(Step::new(
                    DELETE,
                    format!("bucket={} {gone}; no statement is left", t.bucket),
                )),
                Some(Some(_)) => steps.push(Step::new(
                    PUT,
                    format!(
                        "bucket={} {gone}; every other statement kept byte-for-byte",
                        t.bucket
                    ),
                )),
            }
            // A statement kept for its conditions leaves the finding open only when it is what
            // the finding reports (or the event did not say which condition that is).
            kept.extend(
                cut.kept
                    .into_iter()
                    .zip(cut.kept_conditions)
                    .filter(|(_, block)| match (&t.condition, block) {
                        (Some(c), Some(block)) => statements::is_about(c, block),
                        _ => true,
                    })
                    .map(|(k, _)| k),
            );
        }
        if self.reads_acl(t) {
            let (owner, grants) = acl(&c.s3, &t.bucket, &c.account).await?;
            let owner_id = owner.as_ref().and_then(|o| o.id());
            let gone: Vec<String> = grants
                .iter()
                .filter(|g| grant_is_untrusted(g, owner_id, &untrusted, t.from_acl))
                .map(grantee_label)
                .collect();
            kept.extend(
                grants
                    .iter()
                    .filter(|g| log_delivery_kept(g, owner_id, &untrusted, t.from_acl))
                    .map(|g| format!("ACL grant {} (log delivery)", grantee_label(g))),
            );
            if !gone.is_empty() {
                steps.push(Step::new(
                    PUT_ACL,
                    format!(
                        "bucket={} ACL grants removed: {}; the owner's grants kept",
                        t.bucket,
                        gone.join(", ")
                    ),
                ));
            }
        }
        t.kept.set(kept);
        Ok(steps)
    }

    /// A statement kept as limited by its conditions that holds the finding's condition (or any,
    /// when the event named none), or a log delivery grant kept: nothing to change is then not
    /// "resolved".
    fn unchecked(&self, t: &Target) -> Option<String> {
        let kept = t.kept();
        let under = match &t.condition {
            None => "the event names no condition, so the finding may be about".to_string(),
            Some(c) if c.is_empty() => "the finding may be about".to_string(),
            Some(c) => format!(
                "the finding reports access under {}, and quell keeps",
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        (!kept.is_empty()).then(|| {
            format!(
                "{under} what it kept as not public (a person decides): {}",
                kept.join("; ")
            )
        })
    }

    async fn prior(&self, c: &Clients, t: &Target) -> Result<Option<Value>, AwsError> {
        let text = policy(&c.s3, &t.bucket, &c.account).await?;
        let acl = if self.reads_acl(t) {
            let (owner, grants) = acl(&c.s3, &t.bucket, &c.account).await?;
            json!({
                "owner": owner.as_ref().map(|o| json!({"id": o.id(), "display": o.display_name()})),
                "grants": grants.iter().map(grant_json).collect::<Vec<_>>(),
            })
        } else {
            Value::Null
        };
        Ok(Some(
            json!({"bucket": t.bucket, "policy": text, "acl": acl}),
        ))
    }

    async fn restore(&self, c: &Clients, prior: &Value) -> Result<Vec<Step>, AwsError> {
        let bucket = prior["bucket"].as_str().unwrap_or_default().to_string();
        let bad = |why: String| AwsError::other("could not undo", "InvalidPriorState", why, false);
        if !validate::bucket_name(&bucket) {
            return Err(bad(format!("`{bucket}` is not a bucket name")));
        }
        let mut steps = vec![
            quell::member::put_back_bucket_policy(
                &c.s3,
                &bucket,
                &c.account,
                prior["policy"].as_str(),
            )
            .await?,
        ];
        if let Some(acl) = prior["acl"].as_object() {
            let owner = acl.get("owner").filter(|o| !o.is_null()).map(|o| {
                Owner::builder()
                    .set_id(o["id"].as_str().map(str::to_string))
                    .set_display_name(o["display"].as_str().map(str::to_string))
                    .build()
            });
            let grants = acl
                .get("grants")
                .and_then(Value::as_array)
                .map(|g| g.iter().map(grant_from_json).collect::<Result<Vec<_>, _>>())
                .transpose()
                .map_err(bad)?
                .unwrap_or_default();
            let n = grants.len();
            put_acl(&c.s3, &bucket, &c.account, owner, grants).await?;
            steps.push(Step::new(
                PUT_ACL,
                format!("bucket={bucket} ACL put back ({n} grants)"),
            ));
        }
        Ok(steps)
    }

    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        let untrusted = self.untrusted(t);
        if let Some(cut) = self.cut(c, t).await? {
            match cut.policy {
                None => {}
                Some(None) => {
                    c.s3.delete_bucket_policy()
                        .bucket(&t.bucket)
                        .expected_bucket_owner(&c.account)
                        .send()
                        .await
                        .aws(|| format!("could not delete the policy of bucket {}", t.bucket))?;
                }
                Some(Some(text)) => {
                    c.s3.put_bucket_policy()
                        .bucket(&t.bucket)
                        .expected_bucket_owner(&c.account)
                        .policy(text)
                        .send()
                        .await
                        .aws(|| format!("could not put the policy of bucket {}", t.bucket))?;
                }
            }
        }
        if self.reads_acl(t) {
            let (owner, grants) = acl(&c.s3, &t.bucket, &c.account).await?;
            let owner_id = owner.as_ref().and_then(|o| o.id()).map(str::to_string);
            let (gone, kept): (Vec<Grant>, Vec<Grant>) = grants
                .into_iter()
                .partition(|g| grant_is_untrusted(g, owner_id.as_deref(), &untrusted, t.from_acl));
            if !gone.is_empty() {
                put_acl(&c.s3, &t.bucket, &c.account, owner, kept).await?;
            }
        }
        Ok(())
    }
}

/// QUELL_TRUSTED_ACCOUNTS: the accounts outside the analyzer's zone of trust whose access is
/// intended. `None` when unset.
pub fn trusted_accounts(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = get("QUELL_TRUSTED_ACCOUNTS").filter(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let accounts: Vec<String> = list
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if let Some(bad) = accounts.iter().find(|a| !validate::account_id(a)) {
        return Err(ConfigError {
            var: "QUELL_TRUSTED_ACCOUNTS",
            reason: format!("`{bad}` is not a 12-digit account id"),
        });
    }
    Ok(Some(accounts))
}

/// Whether a principal is trusted: a listed account id, its root, or any ARN in it.
pub fn is_trusted(principal: &str, trusted: &[String]) -> bool {
    quell::policy::names(principal, trusted) || trusted.iter().any(|t| t == principal)
}

/// The principals that are not trusted.
pub fn untrusted(principals: &[String], trusted: &[String]) -> Vec<String> {
    principals
        .iter()
        .filter(|p| !is_trusted(p, trusted))
        .cloned()
        .collect()
}

/// Why access by `principals` is trusted, when every one of them is.
pub fn trusted_reason(principals: &[String], trusted: &[String]) -> Option<String> {
    (!principals.is_empty() && untrusted(principals, trusted).is_empty()).then(|| {
        format!(
            "access by {} is trusted by QUELL_TRUSTED_ACCOUNTS",
            principals.join(", ")
        )
    })
}

/// What an Access Analyzer finding must be for a remediation to act: active, analyzed, and naming
/// whom the resource is shared with.
pub fn check_analyzer_finding(f: &Finding) -> Result<(), NotApplicable> {
    if f.source != Source::AccessAnalyzer {
        return Err(NotApplicable(format!(
            "{} findings name no external principal",
            f.source
        )));
    }
    match f.status.as_deref() {
        Some(s) if s.starts_with("ERROR") => Err(NotApplicable(format!(
            "recorded, not acted on: Access Analyzer could not analyze the resource ({s})"
        ))),
        Some(s @ ("ARCHIVED" | "RESOLVED")) => Err(NotApplicable(format!(
            "recorded, not acted on: the finding is {s}"
        ))),
        _ if f.principals.is_empty() => Err(NotApplicable("the finding names no principal".into())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
