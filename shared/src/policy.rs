//! IAM policy documents, edited without re-serializing what is not changed: the grants to a set of
//! principals come out of the Allow statements that name them, and every other statement is
//! written back byte-for-byte (spliced from the original text). Used for bucket policies and for
//! role trust policies, which IAM returns URL-encoded ([`percent_decode`]).

use crate::finding::validate;
use serde_json::Value;

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
pub fn names(entry: &str, principals: &[String]) -> bool {
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
    serde_json::from_str::<Value>(policy).map_err(|e| format!("the policy is not JSON: {e}"))?;
    let key = policy
        .find("\"Statement\"")
        .ok_or("the policy has no Statement")?;
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

/// IAM returns policy documents URL-encoded (RFC 3986); a document that is not is returned as is.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `2026-11-28T10:05:00Z`: a time to the second, as IAM conditions and quell's notes write it.
pub fn whole_seconds(t: &aws_smithy_types::DateTime) -> String {
    aws_smithy_types::DateTime::from_secs(t.secs())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The inline policy quell revokes a role's older sessions with, whichever function writes it
/// (iam-revoke-role-sessions, ec2-isolate-instance): one per role, so a later revocation moves
/// the cut-off of the same policy instead of stacking another.
pub const ROLE_SESSIONS_POLICY: &str = "quell-revoke-older-sessions";

/// quell's role-session revocation policy with the cut-off `cutoff`.
pub fn revoke_role_sessions(cutoff: &aws_smithy_types::DateTime) -> Value {
    deny_sessions_before("QuellRevokeOlderSessions", cutoff)
}

/// How long after its prior state was recorded a change writes its cut-off, at most: a cut-off
/// later than that was written by a later revocation.
const REVOCATION_SLACK_SECS: i64 = 600;

/// The cut-off of a later revocation standing in `current` (the role's policy now), when there
/// is one: a change recorded at `recorded_at` (epoch seconds) wrote its cut-off within minutes
/// of it, so a later one is another isolation's or iam-revoke-role-sessions'. Undoing the older
/// change must leave it: the sessions it cuts may be stolen too. `None` for records that did not
/// say when they were made.
pub fn later_revocation(
    current: Option<&str>,
    recorded_at: Option<i64>,
) -> Option<aws_smithy_types::DateTime> {
    let at = recorded_at?;
    current
        .and_then(sessions_cutoff)
        .filter(|c| c.secs() > at + REVOCATION_SLACK_SECS)
}

/// Seconds since the epoch, now: when a revocation's prior state is recorded.
pub fn epoch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The policy AWS's "revoke active sessions" writes: everything denied to sessions issued before
/// `cutoff` (`aws:TokenIssueTime`). Requests signed with a long-term key carry no token issue
/// time, so they are not denied. One statement, named `sid`.
pub fn deny_sessions_before(sid: &str, cutoff: &aws_smithy_types::DateTime) -> Value {
    let at = whole_seconds(cutoff);
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": at}}
        }]
    })
}

/// The cut-off of a [`deny_sessions_before`] policy document, if it is one.
pub fn sessions_cutoff(document: &str) -> Option<aws_smithy_types::DateTime> {
    use aws_smithy_types::date_time::Format;
    let v: Value = serde_json::from_str(document).ok()?;
    let statements = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements.iter().find_map(|s| {
        let t = s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str()?;
        aws_smithy_types::DateTime::from_str(t, Format::DateTime).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_leaves_plain_text_and_decodes_escapes() {
        assert_eq!(percent_decode("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn an_account_matches_its_root_and_arns_in_it_and_star_only_star() {
        let p = vec!["999988887777".to_string()];
        assert!(names("999988887777", &p));
        assert!(names("arn:aws:iam::999988887777:root", &p));
        assert!(names("arn:aws:iam::999988887777:role/x", &p));
        assert!(!names("arn:aws:iam::111111111111:root", &p));
        assert!(!names("*", &p));
        assert!(names("*", &["*".to_string()]));
    }

    #[test]
    fn other_statements_are_kept_byte_for_byte() {
        let policy = r#"{"Version": "2012-10-17",
  "Statement": [
    {"Sid":"Keep",  "Effect":"Allow", "Principal":{"AWS":"arn:aws:iam::111111111111:root"}, "Action":"s3:GetObject", "Resource":"*"},
    {"Sid":"Go","Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"s3:GetObject","Resource":"*"}
  ]}"#;
        let (new, n) = restricted(policy, &["999988887777".into()]).unwrap();
        let new = new.unwrap().unwrap();
        assert_eq!(n, 1);
        assert!(new.contains(r#"{"Sid":"Keep",  "Effect":"Allow", "Principal":{"AWS":"arn:aws:iam::111111111111:root"}, "Action":"s3:GetObject", "Resource":"*"}"#));
        assert!(!new.contains("999988887777"));
        serde_json::from_str::<Value>(&new).unwrap();
    }

    #[test]
    fn malformed_policies_are_named() {
        assert!(restricted("{", &[]).unwrap_err().contains("not JSON"));
        assert!(restricted("{}", &[]).unwrap_err().contains("no Statement"));
    }

    #[test]
    fn a_later_revocation_is_told_from_the_one_a_change_wrote() {
        let at = 1_764_000_000;
        let doc = |secs: i64| {
            revoke_role_sessions(&aws_smithy_types::DateTime::from_secs(secs)).to_string()
        };
        assert_eq!(later_revocation(Some(&doc(at + 5)), Some(at)), None);
        assert_eq!(
            later_revocation(Some(&doc(at + 3600)), Some(at)).map(|c| c.secs()),
            Some(at + 3600)
        );
        assert_eq!(
            later_revocation(Some(&doc(at + 3600)), None),
            None,
            "an old record"
        );
        assert_eq!(later_revocation(None, Some(at)), None);
        assert_eq!(later_revocation(Some("{}"), Some(at)), None);
    }
}
