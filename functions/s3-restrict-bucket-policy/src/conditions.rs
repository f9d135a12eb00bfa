//! Whether a statement's `Condition` keeps it from being public. A statement that grants everyone
//! (`"Principal": "*"`, `{"AWS": "*"}`, or an `Allow` with `NotPrincipal`) is still not public when
//! one of its conditions limits the request to:
//! - an organization: `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, and for AWS services acting
//!   for a resource, `aws:SourceOrgID`, `aws:SourceOrgPaths`;
//! - accounts quell trusts (QUELL_TRUSTED_ACCOUNTS) or the bucket owner: `aws:PrincipalAccount`,
//!   `aws:SourceAccount`, `aws:SourceOwner`, `aws:PrincipalArn` (ARNs in those accounts);
//! - a VPC endpoint or a VPC: `aws:SourceVpce`, `aws:SourceVpc`;
//! - access points of those accounts: `s3:DataAccessPointAccount`, `s3:DataAccessPointArn`.
//!
//! Only operators that limit do: `StringEquals`, `StringEqualsIgnoreCase`, `StringLike`, and for
//! ARN keys `ArnEquals`, `ArnLike` (each also as `ForAnyValue:`; the multivalued org paths only as
//! `ForAnyValue:`). What does not limit, and leaves the statement public:
//! - an `…IfExists` operator (a request without the key passes), `Null`, the negated operators
//!   (`StringNotEquals`…: everyone but), `ForAllValues:` (true when the key is absent);
//! - a value with a wildcard where the identity is (`o-*`, `1111*`, `arn:aws:iam::*:root`), an
//!   account quell does not trust, a value that is not a string;
//! - `aws:ResourceOrgID` / `aws:ResourceAccount`: in a bucket policy the resource is the bucket
//!   itself, always in its owner's account and organization, so they limit no one;
//! - any key not listed (`aws:SourceIp`, `aws:SecureTransport`, `aws:UserAgent`…).
//!
//! Conditions are ANDed: one limiting clause is enough. Values of one key are ORed: every value
//! must be one the clause allows. Condition keys and operators are matched ignoring case, as IAM
//! reads keys (an operator IAM would refuse never reaches a stored policy). Pure: no AWS call.

use quell::finding::validate;
use serde_json::Value;

/// Whom a condition may limit a statement to: the bucket owner and the accounts quell is told to
/// trust.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    pub owner: &'a str,
    pub accounts: &'a [String],
}

impl Trust<'_> {
    fn account(&self, a: &str) -> bool {
        validate::account_id(a) && (a == self.owner || self.accounts.iter().any(|t| t == a))
    }
}

/// What the values of a limiting key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An organization id, `o-` and 10 to 32 lowercase letters or digits.
    Org,
    /// An organization path: a fixed organization id, then `/` and anything.
    OrgPath,
    /// A trusted account id, or the bucket owner.
    Account,
    /// An IAM or STS ARN in a trusted account, or the bucket owner's.
    PrincipalArn,
    /// An S3 access point ARN in a trusted account, or the bucket owner's.
    AccessPointArn,
    /// A VPC endpoint id, `vpce-` and hex digits.
    Vpce,
    /// A VPC id, `vpc-` and hex digits.
    Vpc,
}

impl Kind {
    fn is_arn(self) -> bool {
        matches!(self, Kind::PrincipalArn | Kind::AccessPointArn)
    }

    /// What the statement is limited to, for notes.
    fn what(self) -> &'static str {
        match self {
            Kind::Org | Kind::OrgPath => "the organization",
            Kind::Account | Kind::PrincipalArn => "trusted accounts",
            Kind::AccessPointArn => "access points of trusted accounts",
            Kind::Vpce => "a VPC endpoint",
            Kind::Vpc => "a VPC",
        }
    }
}

/// The keys that limit, lowercase: (key, kind, multivalued).
const KEYS: &[(&str, Kind, bool)] = &[
    ("aws:principalorgid", Kind::Org, false),
    ("aws:principalorgpaths", Kind::OrgPath, true),
    ("aws:sourceorgid", Kind::Org, false),
    ("aws:sourceorgpaths", Kind::OrgPath, true),
    ("aws:principalaccount", Kind::Account, false),
    ("aws:sourceaccount", Kind::Account, false),
    ("aws:sourceowner", Kind::Account, false),
    ("aws:principalarn", Kind::PrincipalArn, false),
    ("aws:sourcevpce", Kind::Vpce, false),
    ("aws:sourcevpc", Kind::Vpc, false),
    ("s3:dataaccesspointaccount", Kind::Account, false),
    ("s3:dataaccesspointarn", Kind::AccessPointArn, false),
];

/// A condition operator that limits: whether it is a `ForAnyValue:` one, and whether it compares
/// ARNs. (`…Like` operators read `*` and `?` as wildcards, `…Equals` ones as themselves; the value
/// checks refuse both wherever they would widen the identity, so the two are checked alike.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    any_value: bool,
    arn: bool,
}

/// The operator, when it is one that limits.
fn operator(op: &str) -> Option<Operator> {
    let op = op.to_ascii_lowercase();
    let (any_value, base) = match op.split_once(':') {
        Some(("foranyvalue", base)) => (true, base),
        // `ForAllValues:` is true when the request has no such key: it limits nothing.
        Some(_) => return None,
        None => (false, op.as_str()),
    };
    let arn = match base {
        "stringequals" | "stringequalsignorecase" | "stringlike" => false,
        "arnequals" | "arnlike" => true,
        // `…IfExists`, `Null`, the negated operators and every other comparison.
        _ => return None,
    };
    Some(Operator { any_value, arn })
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() >= 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An ARN's partition, service, region, account and resource, when everything up to and
/// including the account is written out (no wildcard): a wildcard there could match any account.
fn fixed_arn(s: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let head = [*arn, *partition, *service, *region, *account];
    if *arn != "arn" || partition.is_empty() || head.iter().any(|p| has_wildcard(p)) {
        return None;
    }
    Some((*partition, *service, *region, *account, *resource))
}

/// Whether one value of a key of `kind` names only what `trust` allows. IgnoreCase operators
/// compare ignoring case: the ids are checked in lowercase, which is how AWS writes them.
fn value_is_limited(kind: Kind, value: &str, trust: &Trust) -> bool {
    let v = value.to_ascii_lowercase();
    match kind {
        Kind::Org => org_id(&v),
        Kind::OrgPath => v.split('/').next().is_some_and(org_id) && v.contains('/'),
        Kind::Account => trust.account(&v),
        Kind::PrincipalArn => fixed_arn(&v).is_some_and(|(_, service, _, account, _)| {
            matches!(service, "iam" | "sts") && trust.account(account)
        }),
        Kind::AccessPointArn => fixed_arn(&v).is_some_and(|(_, service, _, account, resource)| {
            service == "s3" && trust.account(account) && resource.starts_with("accesspoint/")
        }),
        Kind::Vpce => hex_id(&v, "vpce-"),
        Kind::Vpc => hex_id(&v, "vpc-"),
    }
}

/// Whether one clause (`operator: {key: values}`) limits the request, with what for notes.
fn clause(op: &str, key: &str, values: &Value, trust: &Trust) -> Option<String> {
    let o = operator(op)?;
    let lower = key.to_ascii_lowercase();
    let (_, kind, multivalued) = KEYS.iter().find(|(k, _, _)| *k == lower)?;
    if (*multivalued && !o.any_value) || (o.arn && !kind.is_arn()) {
        return None;
    }
    let values: Vec<&str> = match values {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(Value::as_str).collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    if values.is_empty() {
        return None;
    }
    if !values.iter().all(|v| value_is_limited(*kind, v, trust)) {
        return None;
    }
    let values = values.join(", ");
    Some(format!("limited to {} ({key} {op} {values})", kind.what()))
}

/// Why a statement's `Condition` keeps it from being public, or `None` when it does not (no
/// condition, or none that limits).
pub fn limits(statement: &Value, trust: &Trust) -> Option<String> {
    let ops = statement.get("Condition")?.as_object()?;
    ops.iter().find_map(|(op, keys)| {
        keys.as_object()?
            .iter()
            .find_map(|(key, values)| clause(op, key, values, trust))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "111111111111";
    const PARTNER: &str = "222222222222";
    const STRANGER: &str = "999988887777";
    const ORG: &str = "o-a1b2c3d4e5";

    fn limited(condition: Value) -> Option<String> {
        let trusted = vec![PARTNER.to_string()];
        let st = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*", "Condition": condition});
        limits(
            &st,
            &Trust {
                owner: OWNER,
                accounts: &trusted,
            },
        )
    }

    /// (why, condition, limits?)
    #[rustfmt::skip]
    fn table() -> Vec<(&'static str, Value, bool)> {
        vec![
            // The organization.
            ("org id", json!({"StringEquals": {"aws:PrincipalOrgID": ORG}}), true),
            ("org id, key in any case", json!({"StringEquals": {"AWS:principalorgid": ORG}}), true),
            ("org id, operator in any case", json!({"stringequals": {"aws:PrincipalOrgID": ORG}}), true),
            ("org id as a list", json!({"StringEquals": {"aws:PrincipalOrgID": [ORG, "o-zzzzzzzzzz"]}}), true),
            ("org id, ignoring case", json!({"StringEqualsIgnoreCase": {"aws:PrincipalOrgID": "O-A1B2C3D4E5"}}), true),
            ("org id with StringLike, fixed", json!({"StringLike": {"aws:PrincipalOrgID": ORG}}), true),
            ("org id with a wildcard", json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}}), false),
            ("org id, one value a wildcard", json!({"StringLike": {"aws:PrincipalOrgID": [ORG, "*"]}}), false),
            ("org id, IfExists", json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG}}), false),
            ("org id, negated", json!({"StringNotEquals": {"aws:PrincipalOrgID": ORG}}), false),
            ("org id, Null", json!({"Null": {"aws:PrincipalOrgID": "false"}}), false),
            ("org id, ForAllValues", json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}}), false),
            ("org id, ForAnyValue", json!({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ORG}}), true),
            ("org id, ArnEquals on a string key", json!({"ArnEquals": {"aws:PrincipalOrgID": ORG}}), false),
            ("org id not a string", json!({"StringEquals": {"aws:PrincipalOrgID": 1}}), false),
            ("org id, empty list", json!({"StringEquals": {"aws:PrincipalOrgID": []}}), false),
            ("org path, ForAnyValue:StringLike", json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": format!("{ORG}/r-ab12/ou-ab12-11111111/*")}}), true),
            ("org path without ForAnyValue", json!({"StringLike": {"aws:PrincipalOrgPaths": format!("{ORG}/*")}}), false),
            ("org path, wildcard org", json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}}), false),
            ("org path, ForAllValues", json!({"ForAllValues:StringLike": {"aws:PrincipalOrgPaths": format!("{ORG}/*")}}), false),
            ("source org id", json!({"StringEquals": {"aws:SourceOrgID": ORG}}), true),
            ("resource org id limits no one in a bucket policy", json!({"StringEquals": {"aws:ResourceOrgID": ORG}}), false),
            ("resource account limits no one in a bucket policy", json!({"StringEquals": {"aws:ResourceAccount": OWNER}}), false),
            // Accounts.
            ("the owner's account", json!({"StringEquals": {"aws:PrincipalAccount": OWNER}}), true),
            ("a trusted account", json!({"StringEquals": {"aws:PrincipalAccount": PARTNER}}), true),
            ("an untrusted account", json!({"StringEquals": {"aws:PrincipalAccount": STRANGER}}), false),
            ("trusted and untrusted accounts", json!({"StringEquals": {"aws:PrincipalAccount": [OWNER, STRANGER]}}), false),
            ("an account with a wildcard", json!({"StringLike": {"aws:PrincipalAccount": "1111*"}}), false),
            ("an account, IfExists", json!({"StringEqualsIfExists": {"aws:PrincipalAccount": OWNER}}), false),
            ("source account, the owner", json!({"StringEquals": {"aws:SourceAccount": OWNER}}), true),
            ("source account, untrusted", json!({"StringEquals": {"aws:SourceAccount": STRANGER}}), false),
            ("source owner, trusted", json!({"StringEquals": {"aws:SourceOwner": PARTNER}}), true),
            ("principal ARN in the owner's account", json!({"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{OWNER}:role/app")}}), true),
            ("principal ARN, ArnLike, a role path", json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{PARTNER}:role/cdn/*")}}), true),
            ("principal ARN, StringLike", json!({"StringLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWNER}:*")}}), true),
            ("principal ARN of an assumed role", json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:sts::{OWNER}:assumed-role/app/*")}}), true),
            ("principal ARN in an untrusted account", json!({"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{STRANGER}:root")}}), false),
            ("principal ARN, wildcard account", json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}), false),
            ("principal ARN, wildcard partition", json!({"ArnLike": {"aws:PrincipalArn": format!("arn:*:iam::{OWNER}:root")}}), false),
            ("principal ARN, all wildcard", json!({"StringLike": {"aws:PrincipalArn": "*"}}), false),
            ("principal ARN, not iam", json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:s3:::{OWNER}")}}), false),
            ("principal ARN, ArnLikeIfExists", json!({"ArnLikeIfExists": {"aws:PrincipalArn": format!("arn:aws:iam::{OWNER}:root")}}), false),
            ("principal ARN, ArnNotEquals", json!({"ArnNotEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{OWNER}:root")}}), false),
            // Networks.
            ("a VPC endpoint", json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), true),
            ("VPC endpoints, ForAnyValue", json!({"ForAnyValue:StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d", "vpce-0123456789abcdef0"]}}), true),
            ("a VPC endpoint, IfExists", json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), false),
            ("any VPC endpoint", json!({"StringLike": {"aws:SourceVpce": "vpce-*"}}), false),
            ("not a VPC endpoint", json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), false),
            ("a VPC", json!({"StringEquals": {"aws:SourceVpc": "vpc-0a1b2c3d"}}), true),
            ("any VPC", json!({"StringLike": {"aws:SourceVpc": "*"}}), false),
            ("a VPC endpoint key, a VPC value", json!({"StringEquals": {"aws:SourceVpce": "vpc-0a1b2c3d"}}), false),
            // Access points.
            ("access point account, the owner", json!({"StringEquals": {"s3:DataAccessPointAccount": OWNER}}), true),
            ("access point account, untrusted", json!({"StringEquals": {"s3:DataAccessPointAccount": STRANGER}}), false),
            ("access point ARN, the owner's", json!({"ArnEquals": {"s3:DataAccessPointArn": format!("arn:aws:s3:us-east-1:{OWNER}:accesspoint/app")}}), true),
            ("access point ARNs of the owner, ArnLike", json!({"ArnLike": {"s3:DataAccessPointArn": format!("arn:aws:s3:us-east-1:{OWNER}:accesspoint/*")}}), true),
            ("access point ARN, untrusted", json!({"ArnEquals": {"s3:DataAccessPointArn": format!("arn:aws:s3:us-east-1:{STRANGER}:accesspoint/x")}}), false),
            ("access point ARN, wildcard account", json!({"ArnLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-east-1:*:accesspoint/*"}}), false),
            ("access point ARN, not an access point", json!({"ArnLike": {"s3:DataAccessPointArn": format!("arn:aws:s3:us-east-1:{OWNER}:job/*")}}), false),
            // What does not limit at all, and combinations.
            ("no condition", Value::Null, false),
            ("an empty condition", json!({}), false),
            ("TLS only", json!({"Bool": {"aws:SecureTransport": "true"}}), false),
            ("an IP range", json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), false),
            ("a user agent", json!({"StringEquals": {"aws:UserAgent": "app"}}), false),
            ("TLS and a VPC endpoint: ANDed, one limit is enough", json!({"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), true),
            ("an IfExists org and an exact VPC endpoint", json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG}, "StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), true),
            ("a user agent and an untrusted account", json!({"StringEquals": {"aws:UserAgent": "app", "aws:PrincipalAccount": STRANGER}}), false),
            ("a condition that is not an object", json!("aws:PrincipalOrgID"), false),
        ]
    }

    #[test]
    fn conditions_limit_a_statement_only_as_the_table_says() {
        let mut wrong = Vec::new();
        for (why, condition, want) in table() {
            let got = limited(condition.clone());
            if got.is_some() != want {
                wrong.push(format!(
                    "{why}: {condition} gave {got:?}, want limits={want}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_reason_names_the_key_and_its_values() {
        let why = limited(json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})).unwrap();
        assert!(why.contains("a VPC endpoint"), "{why}");
        assert!(
            why.contains("aws:SourceVpce StringEquals vpce-1a2b3c4d"),
            "{why}"
        );
        let why = limited(json!({"StringEquals": {"aws:PrincipalOrgID": ORG}})).unwrap();
        assert!(why.contains("the organization"), "{why}");
    }

    #[test]
    fn a_statement_without_condition_is_not_limited() {
        let st = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"});
        assert_eq!(
            limits(
                &st,
                &Trust {
                    owner: OWNER,
                    accounts: &[]
                }
            ),
            None
        );
    }
}
