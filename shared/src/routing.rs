//! Routing: the EventBridge patterns generated from a remediation's [`Spec`], and an EventBridge
//! pattern matcher held to AWS's documented semantics, so the rules that deploy and the replay that
//! runs locally route an event the same way.

use serde_json::{json, Map, Value};

use crate::remediation::Spec;

/// One EventBridge rule of a remediation: a short name and its pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: &'static str,
    pub pattern: Value,
}

/// The name of the Security Hub custom action every remediation with control triggers answers:
/// a person selects findings in the console and sends them to quell.
pub const CUSTOM_ACTION_ID: &str = "QuellRemediate";
pub const CUSTOM_ACTION_NAME: &str = "Remediate with quell";

/// GuardDuty brute-force types that ec2-isolate-instance contains only when the instance is the
/// ACTOR; as the TARGET (an instance being attacked) guardduty-escalate answers them.
pub const ACTOR_CONTAINED: &[&str] = &[
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "UnauthorizedAccess:EC2/RDPBruteForce",
];

/// The GuardDuty types whose culprit is the credential that made the calls
/// (`resource.accessKeyDetails`): every IAMUser type, and the S3 types that S3 data events and
/// bucket-logging changes raise (Discovery, Exfiltration, Impact, PenTest, Stealth,
/// UnauthorizedAccess), whose resource is the bucket but whose actor is the key. The credential
/// containments take them by `userType` ([`CONTAINED_USER_TYPES`]); guardduty-escalate takes the
/// rest (`guardduty_other_actors`), so that no actor falls between them.
pub const CREDENTIAL_THREATS: &[&str] = &[
    "CredentialAccess:IAMUser/*",
    "DefenseEvasion:IAMUser/*",
    "Discovery:IAMUser/*",
    "Exfiltration:IAMUser/*",
    "Impact:IAMUser/*",
    "InitialAccess:IAMUser/*",
    "PenTest:IAMUser/*",
    "Persistence:IAMUser/*",
    "Policy:IAMUser/*",
    "PrivilegeEscalation:IAMUser/*",
    "Recon:IAMUser/*",
    "Stealth:IAMUser/*",
    "UnauthorizedAccess:IAMUser/*",
    "Discovery:S3/*",
    "Exfiltration:S3/*",
    "Impact:S3/*",
    "PenTest:S3/*",
    "Stealth:S3/*",
    "UnauthorizedAccess:S3/*",
];

/// The `userType`s a credential containment takes: iam-disable-access-key an IAM user's key (and
/// escalates the root user's, which no API can contain), iam-revoke-role-sessions a role's
/// session. A federated user's, an AWS service's or an anonymous caller's is escalated.
pub const CONTAINED_USER_TYPES: &[&str] = &["IAMUser", "Root", "AssumedRole"];

/// A custom action's id: `Quell` and the name's letters and digits, at most 20 characters.
pub fn action_id(name: &str) -> String {
    let mut id: String = "Quell"
        .chars()
        .chain(name.chars().filter(|c| c.is_ascii_alphanumeric()))
        .collect();
    id.truncate(20);
    id
}

/// Whether an action target id is of quell's making ([`action_id`], [`CUSTOM_ACTION_ID`]).
pub fn is_action_id(id: &str) -> bool {
    id.len() <= 20 && id.starts_with("Quell") && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Where quell's action targets are: the template puts `!GetAtt <Id>Action.ActionTargetArn` in
/// the patterns; a local replay or a test gives the ARNs of one account and region.
pub trait ActionTargets {
    /// The pattern value that stands for the ARN of the action target `id`.
    fn arn(&self, id: &str) -> Value;
}

/// The action targets of one central account and region (local runs, tests).
#[derive(Debug, Clone)]
pub struct LocalActionTargets {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl ActionTargets for LocalActionTargets {
    fn arn(&self, id: &str) -> Value {
        json!(format!(
            "arn:{}:securityhub:{}:{}:action/custom/{id}",
            self.partition, self.region, self.account
        ))
    }
}

/// The Security Hub product of control findings, in any partition and region.
const SECURITY_HUB_PRODUCT: &str = "arn:*:securityhub:*::product/aws/securityhub";

/// The Security Hub product of control findings on the new Security Hub (OCSF).
const SECURITY_HUB_PRODUCT_V2: &str = "arn:*:securityhub:*::productv2/aws/securityhub";

/// The pattern of the new Security Hub's control findings (OCSF, "Findings Imported V2") for
/// `controls`: Security Hub's own product, a failed control (`compliance.status_id` 3), status New
/// (`status_id` 1) — quell's own update moves a finding out of New ([`crate::hub::ocsf_status`]),
/// so it does not loop. The new Security Hub names only consolidated control ids: a CIS number
/// (`cis-1.2.0/4.1`) has no V2 form and is left out.
fn v2_control_pattern(controls: &[&str]) -> Option<Value> {
    let plain: Vec<&str> = controls
        .iter()
        .copied()
        .filter(|c| !c.starts_with("cis-"))
        .collect();
    if plain.is_empty() {
        return None;
    }
    Some(json!({
        "source": ["aws.securityhub"],
        "detail-type": [crate::event::SECURITY_HUB_V2_DETAIL_TYPE],
        "detail": {"findings": {
            "metadata": {"product": {"uid": [{"wildcard": SECURITY_HUB_PRODUCT_V2}]}},
            "status_id": [1],
            "compliance": {"status_id": [3], "control": plain}
        }}
    }))
}

/// The `$or` branches that match a finding of any of `controls`: consolidated control ids, a
/// standard's own ControlId/RuleId, and CIS requirements only with their standard and version
/// (`cis-1.2.0/4.1`: CIS numbers mean different controls in different versions).
fn control_branches(controls: &[&str]) -> Value {
    let (cis, plain): (Vec<&str>, Vec<&str>) = controls.iter().partition(|c| c.starts_with("cis-"));
    let mut branches = Vec::new();
    if !plain.is_empty() {
        branches.push(json!({"Compliance": {"SecurityControlId": plain}}));
        branches.push(json!({"ProductFields": {"ControlId": plain}}));
        branches.push(json!({"ProductFields": {"RuleId": plain}}));
    }
    for c in cis {
        let Some((version, id)) = c.trim_start_matches("cis-").split_once('/') else {
            continue;
        };
        let standard = format!("cis-aws-foundations-benchmark/v/{version}");
        branches.push(
            json!({"ProductFields": {"RuleId": [id], "StandardsGuideArn": [{"suffix": standard}]}}),
        );
        branches.push(
            json!({"ProductFields": {"ControlId": [id], "StandardsArn": [{"suffix": standard}]}}),
        );
    }
    Value::Array(branches)
}

/// GuardDuty types as pattern matchers: a trailing `*` is a prefix.
fn type_matchers(types: &[&str]) -> Vec<Value> {
    types
        .iter()
        .map(|g| match g.strip_suffix('*') {
            Some(prefix) => json!({ "prefix": prefix }),
            None => json!(g),
        })
        .collect()
}

/// Every rule a remediation's triggers call for. Every pattern names its `source`, so an event a
/// principal put on a bus under another source matches none.
pub fn rules(spec: &Spec, actions: &dyn ActionTargets) -> Vec<Rule> {
    let t = &spec.triggers;
    let mut out = Vec::new();
    if !t.guardduty.is_empty()
        || !t.guardduty_actor_only.is_empty()
        || !t.guardduty_target_only.is_empty()
    {
        let types = type_matchers(t.guardduty);
        let mut branches = Vec::new();
        if !types.is_empty() {
            branches.push(json!({ "type": types }));
        }
        for (only, role) in [
            (t.guardduty_actor_only, "ACTOR"),
            (t.guardduty_target_only, "TARGET"),
        ] {
            if !only.is_empty() {
                branches.push(json!({"type": only, "service": {"resourceRole": [role]}}));
            }
        }
        let mut detail = if branches.len() == 1 {
            branches.remove(0)
        } else {
            json!({ "$or": branches })
        };
        if !t.guardduty_user_types.is_empty() {
            detail["resource"] = json!({"accessKeyDetails": {"userType": t.guardduty_user_types}});
        }
        out.push(Rule {
            name: "GuardDuty",
            pattern: json!({
                "source": ["aws.guardduty"],
                "detail-type": ["GuardDuty Finding"],
                "detail": detail
            }),
        });
    }
    if !t.guardduty_other_actors.is_empty() {
        let types = type_matchers(t.guardduty_other_actors);
        // A userType none of the containments take, or none at all (`exists: false` matches an
        // absent accessKeyDetails as well).
        out.push(Rule {
            name: "GuardDutyOtherActor",
            pattern: json!({
                "source": ["aws.guardduty"],
                "detail-type": ["GuardDuty Finding"],
                "detail": {
                    "type": types,
                    "$or": [
                        {"resource": {"accessKeyDetails": {"userType": [{"anything-but": CONTAINED_USER_TYPES}]}}},
                        {"resource": {"accessKeyDetails": {"userType": [{"exists": false}]}}}
                    ]
                }
            }),
        });
    }
    if !t.config_rules.is_empty() {
        let mut names: Vec<Value> = Vec::new();
        for r in t.config_rules {
            names.push(json!(r));
            names.push(json!({ "prefix": format!("securityhub-{r}-") }));
        }
        out.push(Rule {
            name: "Config",
            pattern: json!({
                "source": ["aws.config"],
                "detail-type": ["Config Rules Compliance Change"],
                "detail": {
                    "messageType": ["ComplianceChangeNotification"],
                    "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
                    "configRuleName": names
                }
            }),
        });
    }
    if !t.securityhub_controls.is_empty() {
        // Only NEW findings: quell's own workflow update re-emits the finding, and must not loop.
        out.push(Rule {
            name: "SecurityHub",
            pattern: json!({
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"wildcard": SECURITY_HUB_PRODUCT}],
                    "RecordState": ["ACTIVE"],
                    "Workflow": {"Status": ["NEW"]},
                    "Compliance": {"Status": ["FAILED"]},
                    "$or": control_branches(t.securityhub_controls)
                }}
            }),
        });
        if let Some(pattern) = v2_control_pattern(t.securityhub_controls) {
            out.push(Rule {
                name: "SecurityHubV2",
                pattern,
            });
        }
        out.push(Rule {
            name: "SecurityHubAction",
            pattern: json!({
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Custom Action"],
                "resources": [actions.arn(CUSTOM_ACTION_ID)],
                "detail": {"findings": {
                    "ProductArn": [{"wildcard": SECURITY_HUB_PRODUCT}],
                    "$or": control_branches(t.securityhub_controls)
                }}
            }),
        });
    }
    if !t.custom_actions.is_empty() {
        out.push(Rule {
            name: "NamedAction",
            pattern: json!({
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Custom Action"],
                "resources": t.custom_actions.iter().map(|a| actions.arn(&action_id(a))).collect::<Vec<_>>()
            }),
        });
    }
    if !t.access_analyzer.is_empty() {
        out.push(Rule {
            name: "AccessAnalyzer",
            pattern: json!({
                "source": ["aws.access-analyzer"],
                "detail-type": ["Access Analyzer Finding"],
                "detail": if t.access_analyzer_public_only {
                    json!({"resourceType": t.access_analyzer, "status": ["ACTIVE"], "isPublic": [true]})
                } else {
                    json!({"resourceType": t.access_analyzer, "status": ["ACTIVE"]})
                }
            }),
        });
    }
    if !t.alarm_metrics.is_empty() {
        out.push(Rule {
            name: "Alarm",
            pattern: json!({
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {
                    "state": {"value": ["ALARM"]},
                    "configuration": {"metrics": {"metricStat": {"metric": {"name": t.alarm_metrics}}}}
                }
            }),
        });
    }
    if !t.cloudtrail_events.is_empty() {
        out.push(Rule {
            name: "CloudTrail",
            pattern: cloudtrail_pattern(t.cloudtrail_events),
        });
    }
    out
}

/// The pattern of CloudTrail calls (`service:EventName`): each service's own `source` and
/// `eventSource` with its event names, one `$or` branch per service.
pub fn cloudtrail_pattern(events: &[&str]) -> Value {
    let mut by_service: std::collections::BTreeMap<(String, String), Vec<&str>> =
        std::collections::BTreeMap::new();
    for e in events {
        let (source, endpoint, name) = crate::event::event_source_of(e);
        by_service.entry((source, endpoint)).or_default().push(name);
    }
    let branches: Vec<Value> = by_service
        .iter()
        .map(|((source, endpoint), names)| {
            json!({"source": [source], "detail": {"eventSource": [endpoint], "eventName": names}})
        })
        .collect();
    if branches.len() == 1 {
        let mut p = branches[0].clone();
        p["detail-type"] = json!(["AWS API Call via CloudTrail"]);
        p
    } else {
        json!({"detail-type": ["AWS API Call via CloudTrail"], "$or": branches})
    }
}

/// A pattern as text with its keys sorted, whatever serde_json's map order is in this build, so
/// generated templates are byte-for-byte stable.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Whether an event matches an EventBridge pattern.
///
/// Semantics, as AWS documents them: every field of the pattern must match; a field's array of
/// matchers matches when any matcher matches any of the event's values there; arrays in the event
/// are flattened (a value inside an array of objects is a value of the path); `$or` matches when
/// any branch does. Matchers: literal strings, numbers and null; `prefix`, `suffix`,
/// `equals-ignore-case`, `wildcard`, `anything-but` (a value, a list, or a prefix/suffix),
/// `exists`, and `numeric` comparisons.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern.as_object() {
        Some(p) => match_object(p, &[event]),
        None => false,
    }
}

fn match_object(pattern: &Map<String, Value>, at: &[&Value]) -> bool {
    pattern.iter().all(|(key, want)| {
        if key == "$or" {
            return want.as_array().is_some_and(|branches| {
                branches
                    .iter()
                    .any(|b| b.as_object().is_some_and(|b| match_object(b, at)))
            });
        }
        let values = children(at, key);
        match want {
            Value::Object(inner) => match_object(inner, &values),
            Value::Array(matchers) => {
                let leaves: Vec<&Value> = values.into_iter().filter(|v| !v.is_object()).collect();
                matchers.iter().any(|m| matcher(m, &leaves))
            }
            _ => false,
        }
    })
}

/// The values under `key` of every object in `at`, arrays flattened.
fn children<'a>(at: &[&'a Value], key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for v in at {
        for obj in flatten(v) {
            if let Some(child) = obj.as_object().and_then(|o| o.get(key)) {
                out.extend(flatten(child));
            }
        }
    }
    out
}

fn flatten(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().flat_map(flatten).collect(),
        other => vec![other],
    }
}

fn matcher(m: &Value, leaves: &[&Value]) -> bool {
    match m {
        Value::Object(op) => {
            let Some((name, arg)) = op.iter().next() else {
                return false;
            };
            match name.as_str() {
                "exists" => arg.as_bool() == Some(!leaves.is_empty()),
                "prefix" => text_op(arg, leaves, |s, p| s.starts_with(p)),
                "suffix" => text_op(arg, leaves, |s, p| s.ends_with(p)),
                "equals-ignore-case" => text_op(arg, leaves, |s, p| s.eq_ignore_ascii_case(p)),
                "wildcard" => text_op(arg, leaves, wildcard),
                "anything-but" => {
                    !leaves.is_empty() && leaves.iter().all(|v| !anything_but_hits(arg, v))
                }
                "numeric" => leaves
                    .iter()
                    .any(|v| v.as_f64().is_some_and(|n| numeric(arg, n))),
                _ => false,
            }
        }
        literal => leaves.iter().any(|v| literal_eq(literal, v)),
    }
}

fn literal_eq(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn text_op(arg: &Value, leaves: &[&Value], f: impl Fn(&str, &str) -> bool) -> bool {
    let Some(p) = arg.as_str() else { return false };
    leaves.iter().any(|v| v.as_str().is_some_and(|s| f(s, p)))
}

/// Whether `v` is one of the values `anything-but` excludes.
fn anything_but_hits(arg: &Value, v: &Value) -> bool {
    match arg {
        Value::Array(list) => list.iter().any(|x| literal_eq(x, v)),
        Value::Object(op) => match op.iter().next() {
            Some((k, Value::String(p))) if k == "prefix" => {
                v.as_str().is_some_and(|s| s.starts_with(p.as_str()))
            }
            Some((k, Value::String(p))) if k == "suffix" => {
                v.as_str().is_some_and(|s| s.ends_with(p.as_str()))
            }
            Some((k, Value::String(p))) if k == "equals-ignore-case" => {
                v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(p))
            }
            _ => false,
        },
        single => literal_eq(single, v),
    }
}

fn numeric(arg: &Value, n: f64) -> bool {
    let Some(parts) = arg.as_array() else {
        return false;
    };
    parts.chunks(2).all(|c| {
        match (
            c.first().and_then(Value::as_str),
            c.get(1).and_then(Value::as_f64),
        ) {
            (Some("="), Some(x)) => n == x,
            (Some("<"), Some(x)) => n < x,
            (Some("<="), Some(x)) => n <= x,
            (Some(">"), Some(x)) => n > x,
            (Some(">="), Some(x)) => n >= x,
            _ => false,
        }
    })
}

fn wildcard(s: &str, pattern: &str) -> bool {
    // `*` matches any run of characters; everything else literally.
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return s == pattern;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first)
        || !s[first.len()..].ends_with(last)
        || s.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_arrays_follow_eventbridge() {
        let e = json!({"source": "aws.ec2", "detail": {"state": "running", "tags": ["a", "b"], "n": 5}});
        assert!(matches(&json!({"source": ["aws.ec2"]}), &e));
        assert!(matches(&json!({"source": ["aws.s3", "aws.ec2"]}), &e));
        assert!(!matches(&json!({"source": ["aws.s3"]}), &e));
        assert!(
            matches(&json!({"detail": {"tags": ["b"]}}), &e),
            "event arrays intersect"
        );
        assert!(
            matches(&json!({"detail": {"n": [5.0]}}), &e),
            "numbers compare as numbers"
        );
        assert!(!matches(&json!({"detail": {"missing": ["x"]}}), &e));
        assert!(
            !matches(&json!({"detail": ["running"]}), &e),
            "a leaf matcher does not match an object"
        );
    }

    #[test]
    fn content_filters_follow_eventbridge() {
        let e = json!({"detail": {"type": "Backdoor:EC2/C&CActivity.B", "sev": 8, "name": "Prod-Bucket"}});
        assert!(matches(
            &json!({"detail": {"type": [{"prefix": "Backdoor:EC2/"}]}}),
            &e
        ));
        assert!(!matches(
            &json!({"detail": {"type": [{"prefix": "Trojan:EC2/"}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"type": [{"suffix": ".B"}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"name": [{"equals-ignore-case": "prod-bucket"}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"type": [{"wildcard": "Backdoor:*/C&C*"}]}}),
            &e
        ));
        assert!(!matches(
            &json!({"detail": {"type": [{"wildcard": "Backdoor:*/X*"}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"type": [{"anything-but": ["x", "y"]}]}}),
            &e
        ));
        assert!(!matches(
            &json!({"detail": {"type": [{"anything-but": {"prefix": "Backdoor"}}]}}),
            &e
        ));
        assert!(
            !matches(&json!({"detail": {"absent": [{"anything-but": "x"}]}}), &e),
            "anything-but needs the field"
        );
        assert!(matches(
            &json!({"detail": {"absent": [{"exists": false}]}}),
            &e
        ));
        assert!(!matches(
            &json!({"detail": {"type": [{"exists": false}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"type": [{"exists": true}]}}),
            &e
        ));
        assert!(matches(
            &json!({"detail": {"sev": [{"numeric": [">=", 7, "<", 9]}]}}),
            &e
        ));
        assert!(!matches(
            &json!({"detail": {"sev": [{"numeric": [">", 8]}]}}),
            &e
        ));
    }

    #[test]
    fn or_and_flattened_arrays_of_objects() {
        let e = json!({"detail": {"findings": [
            {"ProductFields": {"ControlId": "S3.8"}, "Compliance": {"Status": "FAILED"}},
            {"Compliance": {"Status": "PASSED", "SecurityControlId": "EC2.2"}}
        ]}});
        let p = json!({"detail": {"findings": {"$or": [
            {"ProductFields": {"ControlId": ["S3.8"]}},
            {"Compliance": {"SecurityControlId": ["S3.8"]}}
        ]}}});
        assert!(matches(&p, &e));
        let p = json!({"detail": {"findings": {"$or": [
            {"ProductFields": {"ControlId": ["IAM.1"]}},
            {"Compliance": {"SecurityControlId": ["EC2.2"]}}
        ]}}});
        assert!(matches(&p, &e));
        let p =
            json!({"detail": {"findings": {"$or": [{"ProductFields": {"ControlId": ["IAM.1"]}}]}}});
        assert!(!matches(&p, &e));
    }
}
