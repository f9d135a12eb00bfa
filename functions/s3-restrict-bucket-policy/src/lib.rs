//! `s3-restrict-bucket-policy`: an IAM Access Analyzer finding says a bucket is shared with a
//! principal outside the zone of trust (another account, or everyone). The grants to exactly those
//! principals are removed from the bucket policy — a statement that grants only to them goes, a
//! statement that also grants to others loses only those principals — and every other statement is
//! kept byte-for-byte. Principals trusted by configuration (QUELL_TRUSTED_ACCOUNTS) are not touched:
//! the finding is suppressed with the reason.

use quell::config::ConfigError;
use quell::finding::validate;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Source, Spec, Step, Tags, Triggers,
};
use serde_json::Value;

const PUT: &str = "s3:PutBucketPolicy";
const DELETE: &str = "s3:DeleteBucketPolicy";

#[derive(Debug, Clone, Default)]
pub struct S3RestrictBucketPolicy {
    pub trusted_accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    /// The principals the finding says have access: account ids, ARNs, or `*`.
    pub principals: Vec<String>,
}

/// The top-level elements of the JSON array that starts at `text[start]` (`[`), as byte ranges
/// of the original text: what is not changed is written back exactly as it was.
pub fn array_elements(text: &str, start: usize) -> Option<(Vec<(usize, usize)>, usize)> {
    let b = text.as_bytes();
    if b.get(start) != Some(&b'[') {
        return None;
    }
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    let mut elems = Vec::new();
    let mut elem_start: Option<usize> = None;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                if depth == 1 && elem_start.is_none() {
                    elem_start = Some(i);
                }
            }
            b'[' | b'{' => {
                if depth == 1 && elem_start.is_none() {
                    elem_start = Some(i);
                }
                depth += 1;
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = elem_start.take() {
                        elems.push((s, text[..i].trim_end().len()));
                    }
                    return Some((elems, i));
                }
            }
            b',' if depth == 1 => {
                if let Some(s) = elem_start.take() {
                    elems.push((s, text[..i].trim_end().len()));
                }
            }
            c if depth == 1 && elem_start.is_none() && !c.is_ascii_whitespace() => {
                elem_start = Some(i)
            }
            _ => {}
        }
    }
    None
}

/// The index of the `}` or `]` that closes the object or array opening at `text[start]`.
fn value_end(text: &str, start: usize) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    for (i, &c) in text.as_bytes().iter().enumerate().skip(start) {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a policy principal entry names one of `principals` (an account id matches the
/// account's root, the id itself and any ARN in that account; `*` matches `*`).
fn names(entry: &str, principals: &[String]) -> bool {
    principals.iter().any(|p| {
        if p == "*" {
            entry == "*"
        } else if validate::account_id(p) {
            entry == p || entry.split(':').nth(4) == Some(p.as_str())
        } else {
            entry == p
        }
    })
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// One statement with the grants to `principals` taken out: `None` when nothing changes,
/// `Some(None)` when the statement goes, `Some(Some(text))` when it stays with fewer principals.
fn restrict_statement(raw: &str, principals: &[String]) -> Result<Option<Option<String>>, String> {
    let mut st: Value =
        serde_json::from_str(raw).map_err(|e| format!("a statement is not JSON: {e}"))?;
    if st["Effect"] != "Allow" {
        return Ok(None);
    }
    match st["Principal"].clone() {
        Value::String(p) if names(&p, principals) => Ok(Some(None)),
        Value::Object(mut m) => {
            let mut changed = false;
            for (_, v) in m.iter_mut() {
                let before = as_list(v);
                let kept: Vec<Value> = before
                    .iter()
                    .filter(|e| !e.as_str().is_some_and(|e| names(e, principals)))
                    .cloned()
                    .collect();
                if kept.len() != before.len() {
                    changed = true;
                    *v = if kept.len() == 1 {
                        kept[0].clone()
                    } else {
                        Value::Array(kept)
                    };
                }
            }
            if !changed {
                return Ok(None);
            }
            m.retain(|_, v| !as_list(v).is_empty());
            if m.is_empty() {
                return Ok(Some(None));
            }
            st["Principal"] = Value::Object(m);
            Ok(Some(Some(st.to_string())))
        }
        _ => Ok(None),
    }
}

/// The policy without the grants to `principals`: `None` when it grants them nothing,
/// `Some(None)` when no statement is left, `Some(Some(text))` otherwise; and how many
/// statements were changed or removed.
pub fn restricted(
    policy: &str,
    principals: &[String],
) -> Result<(Option<Option<String>>, usize), String> {
    serde_json::from_str::<Value>(policy)
        .map_err(|e| format!("the bucket policy is not JSON: {e}"))?;
    let key = policy
        .find("\"Statement\"")
        .ok_or("the bucket policy has no Statement")?;
    let after = key + "\"Statement\"".len();
    let open = after
        + policy[after..]
            .find(['[', '{'])
            .ok_or("the Statement has no value")?;
    // A single statement object is a one-element list.
    let (spans, end) = if policy.as_bytes()[open] == b'[' {
        array_elements(policy, open).ok_or("the Statement list is not closed")?
    } else {
        let end = value_end(policy, open).ok_or("the Statement is not closed")?;
        (vec![(open, end + 1)], end)
    };
    let mut kept = Vec::new();
    let mut changed = 0;
    for (s, e) in spans {
        match restrict_statement(&policy[s..e], principals)? {
            None => kept.push(policy[s..e].to_string()),
            Some(None) => changed += 1,
            Some(Some(t)) => {
                changed += 1;
                kept.push(t);
            }
        }
    }
    if changed == 0 {
        return Ok((None, 0));
    }
    if kept.is_empty() {
        return Ok((Some(None), changed));
    }
    let text = format!(
        "{}[{}]{}",
        &policy[..open],
        kept.join(","),
        &policy[end + 1..]
    );
    Ok((Some(Some(text)), changed))
}

async fn policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<String>, AwsError> {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(out.policy),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucketPolicy") =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("could not read the policy of bucket {bucket}")),
    }
}

impl Remediation for S3RestrictBucketPolicy {
    const SPEC: Spec = Spec {
        id: "s3-restrict-bucket-policy",
        summary: "Removes from a bucket policy exactly the grants to principals outside the zone of trust, keeping every other statement byte-for-byte",
        triggers: Triggers {
            access_analyzer: &["AWS::S3::Bucket"],
            ..Triggers::NONE
        },
        permissions: &["s3:GetBucketTagging", "s3:GetBucketPolicy", PUT, DELETE],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_s3::Client;

    fn clients(&self, member: &Member) -> aws_sdk_s3::Client {
        member.s3()
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(list) = get("QUELL_TRUSTED_ACCOUNTS").filter(|l| !l.trim().is_empty()) {
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
            self.trusted_accounts = accounts;
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        if f.source != Source::AccessAnalyzer {
            return Err(NotApplicable(format!(
                "{} findings name no external principal",
                f.source
            )));
        }
        if f.status.as_deref().is_some_and(|s| s.starts_with("ERROR")) {
            return Err(NotApplicable(format!(
                "recorded, not acted on: Access Analyzer could not analyze the bucket ({})",
                f.status.as_deref().unwrap_or("")
            )));
        }
        let r = f
            .resource(&ResourceKind::S3Bucket)
            .ok_or_else(|| NotApplicable("the finding names no bucket".into()))?;
        if f.principals.is_empty() {
            return Err(NotApplicable("the finding names no principal".into()));
        }
        Ok(Target {
            bucket: r.id.clone(),
            principals: f.principals.clone(),
        })
    }

    fn describe(&self, t: &Target) -> String {
        format!("bucket {}", t.bucket)
    }

    fn exempt(&self, t: &Target) -> Option<String> {
        let untrusted: Vec<&String> = t
            .principals
            .iter()
            .filter(|p| !self.trusted_accounts.contains(p))
            .collect();
        untrusted.is_empty().then(|| {
            format!(
                "access by {} is trusted by QUELL_TRUSTED_ACCOUNTS",
                t.principals.join(", ")
            )
        })
    }

    async fn tags(&self, s3: &aws_sdk_s3::Client, t: &Target) -> Result<Tags, AwsError> {
        quell::member::bucket_tags(s3, &t.bucket).await
    }

    async fn plan(&self, s3: &aws_sdk_s3::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        let untrusted: Vec<String> = t
            .principals
            .iter()
            .filter(|p| !self.trusted_accounts.contains(p))
            .cloned()
            .collect();
        let Some(current) = policy(s3, &t.bucket).await? else {
            return Ok(Vec::new());
        };
        match restricted(&current, &untrusted) {
            Ok((None, _)) => Ok(Vec::new()),
            Ok((Some(None), n)) => Ok(vec![Step::new(
                DELETE,
                format!("bucket={} its {n} statements granted only to {}", t.bucket, untrusted.join(", ")),
            )]),
            Ok((Some(Some(_)), n)) => Ok(vec![Step::new(
                PUT,
                format!("bucket={} {n} statements lose their grants to {}; every other statement kept byte-for-byte", t.bucket, untrusted.join(", ")),
            )]),
            Err(e) => Err(AwsError::other(format!("could not read the policy of bucket {}", t.bucket), "MalformedPolicy", e, false)),
        }
    }

    async fn apply(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let untrusted: Vec<String> = t
            .principals
            .iter()
            .filter(|p| !self.trusted_accounts.contains(p))
            .cloned()
            .collect();
        let Some(current) = policy(s3, &t.bucket).await? else {
            return Ok(());
        };
        let (new, _) = restricted(&current, &untrusted).map_err(|e| {
            AwsError::other(
                format!("could not read the policy of bucket {}", t.bucket),
                "MalformedPolicy",
                e,
                false,
            )
        })?;
        match new {
            None => Ok(()),
            Some(None) => {
                s3.delete_bucket_policy()
                    .bucket(&t.bucket)
                    .send()
                    .await
                    .aws(|| format!("could not delete the policy of bucket {}", t.bucket))?;
                Ok(())
            }
            Some(Some(text)) => {
                s3.put_bucket_policy()
                    .bucket(&t.bucket)
                    .policy(text)
                    .send()
                    .await
                    .aws(|| format!("could not put the policy of bucket {}", t.bucket))?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
