//! Privilege, generated from the Specs: each function's member role holds exactly its Spec's
//! actions; the undo role what putting any change back needs; every quell role an explicit deny on
//! changing quell itself. The templates (`quell template member`) and the tests' emulator roles
//! use these same documents.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::remediation::Spec;

/// What no quell role may do: change quell's own roles or its forwarding rules, or the roles
/// through which the organization administers the account (a function that edits trust or role
/// policies could otherwise backdoor them). An explicit deny
/// wins over any allow, so a remediation that edits role policies (iam-revoke-role-sessions)
/// cannot reach quell's.
pub fn guard_statement() -> Value {
    json!({
        "Sid": "NeverChangeQuellItself",
        "Effect": "Deny",
        "Action": [
            "iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
            "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole", "iam:UpdateRoleDescription",
            "events:DeleteRule", "events:DisableRule", "events:PutRule", "events:PutTargets",
            "events:RemoveTargets"
        ],
        "Resource": [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/quell-*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/quell/*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/OrganizationAccountAccessRole",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/AWSCloudFormationStackSetExecutionRole",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stacksets-exec-*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-reserved/*",
            "arn:${AWS::Partition}:events:*:${AWS::AccountId}:rule/quell-*"
        ]
    })
}

/// The one action quell may hold only on some resources: iam:PassRole, on the roles of
/// [`PASSED_ROLES`] alone, each to its one service. quell passes the role a sensor needs to be made
/// again (AWS Config's recorder, quell's own forwarding rule), never a role a person made.
const PASS_ROLE: &str = "iam:PassRole";

/// The roles quell may pass, by their path and name in the account, and the one service each is
/// passed to (`iam:PassedToService`): AWS Config's service-linked role (which AWS makes, only
/// Config can assume, and no one can edit), and quell's forwarding role (member/roles.yaml's,
/// which may only put events on the quell bus, and which no quell role may change).
pub const PASSED_ROLES: &[(&str, &str)] = &[
    (
        "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
        "config.amazonaws.com",
    ),
    (crate::member::FORWARD_ROLE, "events.amazonaws.com"),
];

/// What a role needs only to put back quell's own forwarding rules (tamper-restore): the guard
/// denies them on quell's rules to every other role, and the undo role never holds them.
const FORWARDER_WRITES: &[&str] = &["events:PutRule", "events:PutTargets"];

/// What a function's own role may do in the security account beyond recording outcomes, by
/// function id: tamper-restore, as the organization's GuardDuty administrator there, reads a
/// member's record (GetMembers, on its own detectors) and associates a member that left again
/// (CreateMembers). ListDetectors has no resource; the rest are held to the account's detectors.
pub const ADMINISTRATOR_PERMISSIONS: &[(&str, &[&str])] = &[(
    "tamper-restore",
    &["guardduty:GetMembers", "guardduty:CreateMembers"],
)];

/// The quell bus's name in the security account (template.yaml's QuellEventBus).
pub const QUELL_BUS_NAME: &str = "quell";

/// The Allow statements for `actions`: iam:PassRole apart, on [`PASSED_ROLES`] only, each to its
/// service; the rest on every resource, as `sid`.
fn allows(sid: &str, actions: BTreeSet<&str>) -> Vec<Value> {
    let pass = actions.contains(PASS_ROLE);
    let rest: Vec<&str> = actions.into_iter().filter(|a| *a != PASS_ROLE).collect();
    let mut v = vec![json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": rest,
        "Resource": "*"
    })];
    if pass {
        for (role, service) in PASSED_ROLES {
            let short = service.split('.').next().unwrap_or(service);
            let mut chars = short.chars();
            let title: String = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            v.push(json!({
                "Sid": format!("PassOnlyTo{title}"),
                "Effect": "Allow",
                "Action": [PASS_ROLE],
                "Resource": [format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role}")],
                "Condition": {"StringEquals": {"iam:PassedToService": service}}
            }));
        }
    }
    v
}

/// The one target a forwarding rule has in the account the policy is in force in: the quell bus
/// in a member account, the account's own default bus in quell's home Region in the security
/// account. member/roles.yaml writes it as an `!If [IsSecurityAccount, …]` of the two
/// ([`rendered`] fills it in for the tests' emulator); `quell policy` shows this placeholder.
pub const FORWARD_TARGET: &str = "${QuellForwardTarget}";

/// The guard of a role that puts quell's forwarding rules back (holds [`FORWARDER_WRITES`]): the
/// same, but PutRule and PutTargets on member/regional.yaml's forwarding rules by their names, and
/// no target but [`FORWARD_TARGET`], as that stack makes them. What IAM cannot hold it to (a rule's
/// pattern and state: no condition key names them) the SCP does, where it is attached.
fn forwarder_guard() -> Vec<Value> {
    let mut guard = guard_statement();
    if let Some(actions) = guard["Action"].as_array_mut() {
        actions.retain(|a| !FORWARDER_WRITES.iter().any(|w| a == w));
    }
    let rules: Vec<String> = crate::member::regional_forward_rules()
        .map(|r| format!("arn:${{AWS::Partition}}:events:*:${{AWS::AccountId}}:rule/{r}"))
        .collect();
    vec![
        guard,
        json!({
            "Sid": "PutBackOnlyQuellsForwardingRules",
            "Effect": "Deny",
            "Action": FORWARDER_WRITES,
            "NotResource": rules
        }),
        // Every target's ARN must be the stack's; a request without one names no target.
        json!({
            "Sid": "ForwardOnlyToQuell",
            "Effect": "Deny",
            "Action": ["events:PutTargets"],
            "Resource": "*",
            "Condition": {"ForAnyValue:ArnNotEquals": {"events:TargetArn": [FORWARD_TARGET]}}
        }),
        json!({
            "Sid": "ForwardOnlyWithATarget",
            "Effect": "Deny",
            "Action": ["events:PutTargets"],
            "Resource": "*",
            "Condition": {"Null": {"events:TargetArn": "true"}}
        }),
    ]
}

/// A policy of `allows` and the guard, the guard second (where the templates' readers look).
fn with_guard(mut statements: Vec<Value>) -> Value {
    statements.insert(1, guard_statement());
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A function's member role policy: exactly its Spec's actions and the shared core's, and the
/// guard.
pub fn member_policy(s: &Spec) -> Value {
    let actions: BTreeSet<&str> = s
        .permissions
        .iter()
        .copied()
        .chain(crate::hub::MEMBER_PERMISSIONS.iter().copied())
        .collect();
    if FORWARDER_WRITES.iter().any(|w| actions.contains(w)) {
        let mut statements = allows("QuellRemediation", actions);
        for (i, g) in forwarder_guard().into_iter().enumerate() {
            statements.insert(1 + i, g);
        }
        return json!({"Version": "2012-10-17", "Statement": statements});
    }
    with_guard(allows("QuellRemediation", actions))
}

/// The undo role's policy: what putting back any remediation's change needs (its actions and its
/// undo-only actions), and the guard.
pub fn undo_policy(specs: &[Spec]) -> Value {
    let actions: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| {
            s.permissions
                .iter()
                .chain(s.undo_permissions.iter())
                .copied()
        })
        // Nothing quell undoes passes a role (a recorder quell made again is not undone), or
        // writes quell's forwarding rules (a rule put back is not undone).
        .filter(|a| *a != PASS_ROLE && !FORWARDER_WRITES.contains(a))
        .collect();
    with_guard(allows("QuellUndo", actions))
}

/// The trail reader's policy (org/trail.yaml's `quell-trail-reader`, in the account that owns the
/// organization trail's log group): find a metric filter, and read the trail's log group alone
/// (`${CloudTrailLogGroupName}`, the stack's parameter), and the guard.
pub fn trail_reader_policy() -> Value {
    let group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${CloudTrailLogGroupName}";
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "FindTheAlarmsMetricFilter",
            "Effect": "Allow",
            "Action": ["logs:DescribeMetricFilters"],
            "Resource": "*"
        }, {
            "Sid": "ReadTheTrailsLogGroupOnly",
            "Effect": "Allow",
            "Action": ["logs:FilterLogEvents"],
            "Resource": [group, format!("{group}:*")]
        }, guard_statement()]
    })
}

/// A policy as it is in force in `account`, whose quell runs in `security` with its bus in `home`
/// (`arn:<partition>:events:<home>:<security>:event-bus/quell`): the template's
/// `${AWS::Partition}`, `${AWS::AccountId}`, `${SecurityAccountId}` and [`FORWARD_TARGET`] filled
/// in, as member/roles.yaml's are.
pub fn rendered(
    policy: &Value,
    partition: &str,
    account: &str,
    security: &str,
    home: &str,
) -> String {
    let target = if account == security {
        format!("arn:{partition}:events:{home}:{account}:event-bus/default")
    } else {
        format!("arn:{partition}:events:{home}:{security}:event-bus/{QUELL_BUS_NAME}")
    };
    policy
        .to_string()
        .replace(FORWARD_TARGET, &target)
        .replace("${AWS::Partition}", partition)
        .replace("${AWS::AccountId}", account)
        .replace("${SecurityAccountId}", security)
}
