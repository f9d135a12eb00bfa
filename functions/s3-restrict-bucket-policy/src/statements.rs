//! A bucket policy without the grants a finding names, condition-aware. For each `Allow`:
//! - a grant to a principal the finding names (an account, an ARN, a canonical user) leaves the
//!   statement; a statement left with no principal goes;
//! - a grant to everyone (`"*"`, `{"AWS": "*"}`) leaves it only when the finding names everyone
//!   (`*`) and the statement's conditions do not limit it ([`crate::conditions`]): a statement
//!   limited to the organization, trusted accounts, a VPC endpoint or access points is not public
//!   and is kept, and said so;
//! - an `Allow` with `NotPrincipal` grants everyone but the principals it names: when the finding
//!   names everyone it goes as a whole, unless its conditions limit it;
//! - every statement the finding does not concern is written back byte-for-byte.
//!
//! Pure: no AWS call.

use crate::conditions::{limits, Trust};
use quell::policy::{array_elements, names};
use serde_json::Value;

/// What taking a finding's principals out of a policy does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cut {
    /// `None`: nothing changes; `Some(None)`: no statement is left; `Some(Some(text))`: the new
    /// policy.
    pub policy: Option<Option<String>>,
    /// Each statement removed or changed, and how, for the steps.
    pub changed: Vec<String>,
    /// Each statement that grants what the finding names but is kept because its conditions
    /// limit it, and to what.
    pub kept: Vec<String>,
    /// For each statement in `kept`, in the same order: its `Condition` block when it was kept
    /// as limited by it (`Null`: none); `None` when it was kept because its condition names a
    /// principal of the finding (always what the finding is about).
    pub kept_conditions: Vec<Option<Value>>,
}

/// What becomes of one statement.
#[derive(Debug, Default)]
struct Decision {
    /// `None`: as it is; `Some(None)`: removed; `Some(Some(text))`: rewritten.
    edit: Option<Option<String>>,
    done: Option<String>,
    kept: Option<String>,
    /// Kept because the condition names the finding's principal, not because it limits.
    names_principal: bool,
}

/// The statement's `Condition` block, `Null` when it has none.
fn condition_of(raw: &str) -> Value {
    serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|st| st.get("Condition").cloned())
        .unwrap_or(Value::Null)
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Every principal a `Principal` or `NotPrincipal` element names, as text.
fn entries(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Object(m) => m
            .values()
            .flat_map(as_list)
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// How a statement is named in notes: its Sid, or its place in the policy.
fn label(st: &Value, n: usize) -> String {
    match st.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("statement {sid:?}"),
        _ => format!("statement #{n}"),
    }
}

/// The statement without the grants to `cut`: `None` when it grants none of them, `Some(None)`
/// when no principal is left, `Some(Some(statement))` otherwise.
fn without(st: &Value, cut: &[String]) -> Option<Option<Value>> {
    match st.get("Principal")? {
        Value::String(p) if names(p, cut) => Some(None),
        Value::Object(m) => {
            let mut m = m.clone();
            let mut changed = false;
            for v in m.values_mut() {
                let before = as_list(v);
                let kept: Vec<Value> = before
                    .iter()
                    .filter(|e| !e.as_str().is_some_and(|e| names(e, cut)))
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
                return None;
            }
            m.retain(|_, v| !as_list(v).is_empty());
            if m.is_empty() {
                return Some(None);
            }
            let mut st = st.clone();
            if let Some(o) = st.as_object_mut() {
                o.insert("Principal".into(), Value::Object(m));
            }
            Some(Some(st))
        }
        _ => None,
    }
}

/// One statement, the `n`th of the policy.
fn decide(raw: &str, n: usize, cut: &[String], trust: &Trust) -> Result<Decision, String> {
    let st: Value =
        serde_json::from_str(raw).map_err(|e| format!("a statement is not JSON: {e}"))?;
    if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Ok(Decision::default());
    }
    let everyone = cut.iter().any(|p| p == "*");
    let label = label(&st, n);
    if let Some(np) = st.get("NotPrincipal") {
        // Everyone but the named: public, unless it names everyone (then it grants no one).
        let except = entries(np);
        if !everyone || except.iter().any(|e| e == "*") {
            return Ok(Decision::default());
        }
        return Ok(match limits(&st, trust) {
            Some(why) => Decision {
                kept: Some(format!("{label} (an Allow with NotPrincipal) {why}")),
                ..Decision::default()
            },
            None => Decision {
                edit: Some(None),
                done: Some(format!(
                    "{label} removed (an Allow with NotPrincipal grants everyone but {})",
                    except.join(", ")
                )),
                kept: None,
                names_principal: false,
            },
        });
    }
    let wildcard = st
        .get("Principal")
        .is_some_and(|p| entries(p).iter().any(|e| e == "*"));
    if !everyone && wildcard {
        // A cross-account finding about a grant to everyone that a condition narrows to the
        // finding's account (`aws:PrincipalAccount`, `aws:SourceAccount`…): quell does not
        // rewrite conditions, so the grant is kept and said, never called gone.
        let condition = st
            .get("Condition")
            .map(Value::to_string)
            .unwrap_or_default();
        let named: Vec<&String> = cut
            .iter()
            .filter(|p| {
                let account = p.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or(p);
                condition.contains(account)
            })
            .collect();
        if !named.is_empty() {
            return Ok(Decision {
                names_principal: true,
                kept: Some(format!(
                    "{label} grants everyone under a condition that names {}: quell does not \
                     rewrite conditions; a person must narrow it",
                    named
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                ..Decision::default()
            });
        }
    }
    let public = everyone && wildcard;
    let limited = if public { limits(&st, trust) } else { None };
    // A limited statement is not public: only the named principals, not `*`, leave it.
    let cut: Vec<String> = match limited {
        Some(_) => cut.iter().filter(|p| *p != "*").cloned().collect(),
        None => cut.to_vec(),
    };
    let kept = limited.map(|why| format!("{label} {why}"));
    Ok(match without(&st, &cut) {
        None => Decision {
            kept,
            ..Decision::default()
        },
        Some(None) => Decision {
            edit: Some(None),
            done: Some(format!("{label} removed")),
            kept,
            names_principal: false,
        },
        Some(Some(new)) => Decision {
            edit: Some(Some(new.to_string())),
            done: Some(format!("{label} no longer grants {}", cut.join(", "))),
            kept,
            names_principal: false,
        },
    })
}

/// Whether a statement with this `Condition` block is what a finding reporting access under
/// `condition` is about: every key/value the finding names appears in the block, under any
/// operator (keys compared as IAM does, without case). A finding under no condition is about no
/// conditioned statement.
pub fn is_about(condition: &[(String, String)], block: &Value) -> bool {
    if condition.is_empty() {
        return false;
    }
    let pairs: Vec<(String, &Value)> = block
        .as_object()
        .into_iter()
        .flat_map(|ops| ops.values())
        .filter_map(Value::as_object)
        .flat_map(|m| m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v)))
        .collect();
    condition.iter().all(|(k, v)| {
        let k = k.to_ascii_lowercase();
        pairs.iter().any(|(pk, pv)| {
            *pk == k
                && match pv {
                    Value::String(s) => same_value(s, v),
                    Value::Array(a) => a.iter().filter_map(Value::as_str).any(|s| same_value(s, v)),
                    _ => false,
                }
        })
    })
}

/// Whether a statement's condition value may be the one a finding names: equal without case
/// (`…IgnoreCase` operators, and ARNs whose case Access Analyzer may write otherwise), or a
/// `…Like` pattern with wildcards. When in doubt the statement is taken to be the finding's, which
/// only ever makes the outcome UNCONFIRMED, never RESOLVED.
fn same_value(statement: &str, finding: &str) -> bool {
    statement.eq_ignore_ascii_case(finding) || statement.contains(['*', '?'])
}

/// The index of the `}` that closes the object opening at `text[start]`.
fn object_end(text: &str, start: usize) -> Option<usize> {
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

/// Where the value of the top-level `Statement` key starts: the first `"Statement"` followed by a
/// colon, then its `[` or `{`.
fn statement_value(policy: &str) -> Option<usize> {
    let key = "\"Statement\"";
    let mut from = 0;
    while let Some(at) = policy[from..].find(key) {
        let after = from + at + key.len();
        let rest = &policy[after..];
        if let Some(value) = rest.trim_start().strip_prefix(':') {
            let value = value.trim_start();
            if value.starts_with(['[', '{']) {
                return Some(policy.len() - value.len());
            }
            return None;
        }
        from = after;
    }
    None
}

/// The policy without the grants to `cut` that are not limited by their conditions (module doc).
pub fn cut(policy: &str, principals: &[String], trust: &Trust) -> Result<Cut, String> {
    serde_json::from_str::<Value>(policy).map_err(|e| format!("the policy is not JSON: {e}"))?;
    let open = statement_value(policy).ok_or("the policy has no Statement list or object")?;
    // A single statement object is a one-element list.
    let (spans, end) = if policy.as_bytes().get(open) == Some(&b'[') {
        array_elements(policy, open).ok_or("the Statement list is not closed")?
    } else {
        let end = object_end(policy, open).ok_or("the Statement is not closed")?;
        (vec![(open, end + 1)], end)
    };
    let mut out = Cut::default();
    let mut kept = Vec::new();
    for (n, (s, e)) in spans.into_iter().enumerate() {
        let raw = &policy[s..e];
        let d = decide(raw, n + 1, principals, trust)?;
        out.changed.extend(d.done);
        if let Some(k) = d.kept {
            out.kept.push(k);
            out.kept_conditions
                .push((!d.names_principal).then(|| condition_of(raw)));
        }
        match d.edit {
            None => kept.push(raw.to_string()),
            Some(None) => {}
            Some(Some(text)) => kept.push(text),
        }
    }
    if out.changed.is_empty() {
        return Ok(out);
    }
    if kept.is_empty() {
        out.policy = Some(None);
    } else {
        let (head, tail) = (&policy[..open], &policy[end + 1..]);
        out.policy = Some(Some(format!("{head}[{}]{tail}", kept.join(","))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "111111111111";
    const TLS: &str = r#"{"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Want {
        /// Not the finding's concern: the same bytes, nothing said.
        Untouched,
        /// Grants what the finding names, limited by its conditions: the same bytes, said so.
        Kept,
        /// Gone.
        Removed,
        /// Stays with fewer principals.
        Rewritten,
    }

    /// (why, statement, the finding's principals comma-separated, what becomes of it)
    #[rustfmt::skip]
    fn table() -> Vec<(&'static str, &'static str, &'static str, Want)> {
        vec![
            ("a world read", r#"{"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Removed),
            ("a world read, AWS form", r#"{"Sid": "World", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Removed),
            ("a world read with a condition that does not limit", r#"{"Sid": "Ip", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}"#, "*", Want::Removed),
            ("an org-scoped read", r#"{"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#, "*", Want::Kept),
            ("a VPC endpoint's read", r#"{"Sid": "Vpce", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#, "*", Want::Kept),
            ("a VPC endpoint's read, IfExists", r#"{"Sid": "Vpce", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#, "*", Want::Removed),
            ("the owner's own principals", r#"{"Sid": "Own", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "111111111111"}}}"#, "*", Want::Kept),
            ("a stranger's account by condition", r#"{"Sid": "Acct", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}"#, "*", Want::Removed),
            ("everyone and a partner", r#"{"Sid": "Both", "Effect": "Allow", "Principal": {"AWS": ["*", "arn:aws:iam::222222222222:root"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Rewritten),
            ("an org-scoped read that also names the stranger", r#"{"Sid": "OrgAndStranger", "Effect": "Allow", "Principal": {"AWS": ["*", "999988887777"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#, "*,999988887777", Want::Rewritten),
            ("NotPrincipal: everyone but an auditor", r#"{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Removed),
            ("NotPrincipal limited to a VPC endpoint", r#"{"Sid": "AllButVpce", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}"#, "*", Want::Kept),
            ("NotPrincipal, IfExists org", r#"{"Sid": "AllButOrg", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#, "*", Want::Removed),
            ("NotPrincipal naming everyone grants no one", r#"{"Sid": "NoOne", "Effect": "Allow", "NotPrincipal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Untouched),
            ("NotPrincipal, a cross-account finding: a public finding's concern", r#"{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/auditor"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "999988887777", Want::Untouched),
            ("a Deny with NotPrincipal", r#"{"Sid": "DenyAllBut", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Untouched),
            ("a world read, a cross-account finding", r#"{"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "999988887777", Want::Untouched),
            ("everyone narrowed by a condition to the finding's account", r#"{"Sid": "ByCondition", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}"#, "999988887777", Want::Kept),
            ("everyone narrowed by a condition to the finding's account, by ARN", r#"{"Sid": "ByCondition", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "999988887777"}}}"#, "arn:aws:iam::999988887777:root", Want::Kept),
            ("the stranger alone", r#"{"Sid": "Stranger", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "999988887777", Want::Removed),
            ("the stranger and a partner", r#"{"Sid": "Two", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "arn:aws:iam::222222222222:root"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "999988887777", Want::Rewritten),
            ("a partner, a public finding", r#"{"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, "*", Want::Untouched),
            ("a service", r#"{"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}}"#, "*", Want::Untouched),
        ]
    }

    #[test]
    fn each_statement_is_cut_kept_or_left_as_the_table_says() {
        let trusted = vec!["222222222222".to_string()];
        let trust = Trust {
            owner: OWNER,
            accounts: &trusted,
        };
        let mut wrong = Vec::new();
        for (why, statement, principals, want) in table() {
            let policy =
                format!(r#"{{"Version": "2012-10-17", "Statement": [{TLS}, {statement}]}}"#);
            let principals: Vec<String> = principals.split(',').map(str::to_string).collect();
            let c = cut(&policy, &principals, &trust).unwrap();
            let got = match &c.policy {
                None if c.kept.is_empty() => Want::Untouched,
                None => Want::Kept,
                Some(Some(text)) if text.contains(statement) => {
                    wrong.push(format!(
                        "{why}: changed, yet the statement is there: {text}"
                    ));
                    continue;
                }
                Some(Some(text)) => {
                    assert!(
                        text.contains(TLS),
                        "{why}: the Deny is the same bytes: {text}"
                    );
                    let doc: Value = serde_json::from_str(text).unwrap();
                    match doc["Statement"].as_array().map(Vec::len) {
                        Some(1) => Want::Removed,
                        Some(2) => Want::Rewritten,
                        other => {
                            wrong.push(format!("{why}: {other:?} statements in {text}"));
                            continue;
                        }
                    }
                }
                Some(None) => {
                    wrong.push(format!("{why}: the Deny went too"));
                    continue;
                }
            };
            if got != want {
                wrong.push(format!("{why}: {got:?}, want {want:?} ({c:?})"));
            }
            if matches!(want, Want::Removed | Want::Rewritten) && c.changed.len() != 1 {
                wrong.push(format!("{why}: the steps do not say what changed: {c:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_limited_statement_stays_byte_for_byte_beside_the_world_one_that_goes() {
        let org = r#"{"Sid": "OrgReads",  "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#;
        let world = r#"{"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#;
        let policy = [
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    ",
            org,
            ",\n    ",
            world,
            "\n  ]\n}",
        ]
        .concat();
        let trust = Trust {
            owner: OWNER,
            accounts: &[],
        };
        let c = cut(&policy, &["*".to_string()], &trust).unwrap();
        let text = c.policy.clone().unwrap().unwrap();
        assert!(text.contains(org), "{text}");
        assert!(!text.contains("\"World\""), "{text}");
        assert!(text.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": ["));
        assert_eq!(c.changed, [r#"statement "World" removed"#]);
        assert_eq!(c.kept.len(), 1);
        assert!(c.kept[0].contains("\"OrgReads\""), "{c:?}");
        assert!(c.kept[0].contains("the organization"), "{c:?}");
    }

    #[test]
    fn a_not_principal_allow_goes_whole_and_the_step_says_why() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:role/auditor","arn:aws:iam::111111111111:root"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let trust = Trust {
            owner: OWNER,
            accounts: &[],
        };
        let c = cut(policy, &["*".to_string()], &trust).unwrap();
        assert_eq!(c.policy, Some(None), "no statement is left: {c:?}");
        assert_eq!(c.changed.len(), 1);
        assert!(c.changed[0].contains("statement #1 removed"), "{c:?}");
        assert!(c.changed[0].contains("NotPrincipal"), "{c:?}");
        assert!(c.changed[0].contains("role/auditor"), "{c:?}");
    }

    #[test]
    fn what_is_not_a_policy_is_named() {
        let trust = Trust {
            owner: OWNER,
            accounts: &[],
        };
        let star = ["*".to_string()];
        assert!(cut("{", &star, &trust).unwrap_err().contains("not JSON"));
        assert!(cut("{}", &star, &trust)
            .unwrap_err()
            .contains("no Statement"));
        let sid_named_statement = r#"{"Id": "Statement", "Statement": []}"#;
        assert_eq!(
            cut(sid_named_statement, &star, &trust).unwrap(),
            Cut::default()
        );
    }

    #[test]
    fn a_statement_is_what_the_finding_is_about_when_it_holds_the_finding_condition() {
        let block: Value = serde_json::from_str(
            r#"{"StringEquals": {"AWS:SourceVpce": ["vpce-1a2b3c4d", "vpce-9"]}, "Bool": {"aws:SecureTransport": "true"}}"#,
        )
        .unwrap();
        let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(is_about(&pair("aws:SourceVpce", "vpce-1a2b3c4d"), &block));
        assert!(!is_about(&pair("aws:SourceVpce", "vpce-0"), &block));
        assert!(!is_about(&pair("aws:PrincipalOrgID", "o-1"), &block));
        assert!(!is_about(&[], &block), "a finding under no condition");
        assert!(!is_about(
            &pair("aws:SourceVpce", "vpce-1a2b3c4d"),
            &Value::Null
        ));
        let both = vec![
            ("aws:SourceVpce".to_string(), "vpce-9".to_string()),
            ("aws:SecureTransport".to_string(), "true".to_string()),
        ];
        assert!(is_about(&both, &block));
        // Case and wildcards: when in doubt, it is the finding's statement.
        assert!(is_about(&pair("aws:sourcevpce", "VPCE-1A2B3C4D"), &block));
        let like: Value =
            serde_json::from_str(r#"{"StringLike": {"aws:SourceVpce": "vpce-1*"}}"#).unwrap();
        assert!(is_about(&pair("aws:SourceVpce", "vpce-1a2b3c4d"), &like));
    }
}
