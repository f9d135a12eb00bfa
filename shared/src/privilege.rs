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

/// The one action quell may hold only on some resources: iam:PassRole, on the service-linked roles
/// of [`PASSED_ROLES`] alone (which AWS makes, only their own service can assume, and no one can
/// edit). quell passes the role a service needs to make its sensor again (AWS Config's recorder),
/// never a role a person made.
const PASS_ROLE: &str = "iam:PassRole";

/// The roles quell may pass, by their path and name in the account.
pub const PASSED_ROLES: &[&str] =
    &["aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"];

/// The Allow statements for `actions`: iam:PassRole apart, on service-linked roles only; the rest
/// on every resource, as `sid`.
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
        let roles: Vec<String> = PASSED_ROLES
            .iter()
            .map(|r| format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{r}"))
            .collect();
        v.push(json!({
            "Sid": "PassOnlyServiceLinkedRoles",
            "Effect": "Allow",
            "Action": [PASS_ROLE],
            "Resource": roles
        }));
    }
    v
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
        // Nothing quell undoes passes a role (a recorder quell made again is not undone).
        .filter(|a| *a != PASS_ROLE)
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

/// A policy as it is in force in `account`: the template's `${AWS::Partition}` and
/// `${AWS::AccountId}` filled in.
pub fn rendered(policy: &Value, partition: &str, account: &str) -> String {
    policy
        .to_string()
        .replace("${AWS::Partition}", partition)
        .replace("${AWS::AccountId}", account)
}
