use super::*;
use aws_sdk_lambda::operation::add_permission::AddPermissionOutput;
use aws_sdk_lambda::operation::get_policy::{GetPolicyError, GetPolicyOutput};
use aws_sdk_lambda::operation::list_tags::ListTagsOutput;
use aws_sdk_lambda::operation::remove_permission::{RemovePermissionError, RemovePermissionOutput};
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};
use serde_json::json;

const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:orders";

/// Statements in the shapes GetPolicy returns them.
fn public() -> Value {
    json!({"Sid": "open", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
           "Resource": ARN})
}
fn public_url() -> Value {
    json!({"Sid": "FunctionURLAllowPublicAccess", "Effect": "Allow", "Principal": "*",
           "Action": "lambda:InvokeFunctionUrl", "Resource": ARN,
           "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}})
}
/// Open to everyone: a wildcard in the source ARN pins nothing, and AddPermission writes it back.
fn public_rules() -> Value {
    json!({"Sid": "rules", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
           "Resource": ARN,
           "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:*:rule/*"}}})
}
fn org_only() -> Value {
    json!({"Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
           "Resource": ARN, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}})
}
fn account_principal() -> Value {
    json!({"Sid": "partner", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
           "Action": "lambda:InvokeFunction", "Resource": ARN})
}
fn s3(condition: Value) -> Value {
    json!({"Sid": "s3-trigger", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
           "Action": "lambda:InvokeFunction", "Resource": ARN, "Condition": condition})
}
fn api_gateway() -> Value {
    json!({"Sid": "apigw", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
           "Action": "lambda:InvokeFunction", "Resource": ARN,
           "Condition": {"ArnLike": {"AWS:SourceArn":
               "arn:aws:execute-api:us-east-1:111111111111:a1b2c3/*/GET/orders"}}})
}

#[test]
fn which_statements_are_open_to_everyone() {
    assert_eq!(judge(&public()), Verdict::Public);
    // A public function URL: named and left, never taken down.
    assert!(matches!(judge(&public_url()), Verdict::PublicKept(w) if w.contains("URL")));
    assert_eq!(
        judge(
            &json!({"Sid": "a", "Effect": "Allow", "Principal": {"AWS": "*"},
                      "Action": "lambda:GetFunction"})
        ),
        Verdict::Public
    );
    // A wildcard principal AddPermission never writes: left, named (undo could not be exact).
    assert!(matches!(
        judge(
            &json!({"Sid": "a", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::*:root"]},
                      "Action": "lambda:InvokeFunction"})
        ),
        Verdict::PublicKept(_)
    ));
    // Pinned to the organization, an account or a source in one: not public.
    assert_eq!(judge(&org_only()), Verdict::Private);
    for (op, key, v) in [
        ("StringEquals", "AWS:SourceAccount", "111111111111"),
        ("StringEquals", "aws:PrincipalAccount", "111111111111"),
        (
            "ArnLike",
            "AWS:SourceArn",
            "arn:aws:events:us-east-1:111111111111:rule/nightly",
        ),
    ] {
        let mut st = public();
        st["Condition"] = json!({op: {key: v}});
        assert_eq!(judge(&st), Verdict::Private, "{st}");
    }
    // A condition that pins nothing: a negation, IfExists, a wildcard.
    for (op, key, v) in [
        ("StringNotEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5"),
        ("StringEqualsIfExists", "aws:SourceAccount", "111111111111"),
        ("StringLike", "aws:PrincipalAccount", "*"),
        (
            "ArnLike",
            "AWS:SourceArn",
            "arn:aws:execute-api:us-east-1:*:a1b2c3/*",
        ),
        // Open to everyone, a wildcard in the ARN: Config does not read it as pinned.
        (
            "ArnLike",
            "AWS:SourceArn",
            "arn:aws:events:us-east-1:111111111111:rule/*",
        ),
    ] {
        let mut st = public();
        st["Condition"] = json!({op: {key: v}});
        assert_ne!(judge(&st), Verdict::Private, "{st}");
    }
    // Open, but with a condition AddPermission cannot put back: left, named.
    let mut ip = public();
    ip["Condition"] = json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}});
    assert!(matches!(judge(&ip), Verdict::PublicKept(w) if w.contains("aws:SourceIp")));
    let mut star = public();
    star["Action"] = json!("lambda:*");
    assert!(matches!(judge(&star), Verdict::PublicKept(_)));
    // Named principals and denials are not grants to the public.
    assert_eq!(judge(&account_principal()), Verdict::Private);
    let mut deny = public();
    deny["Effect"] = json!("Deny");
    assert_eq!(judge(&deny), Verdict::Private);
    // Services: a source condition each; S3 needs the account (its ARNs name none).
    assert_eq!(judge(&api_gateway()), Verdict::Private);
    assert_eq!(
        judge(&s3(
            json!({"StringEquals": {"AWS:SourceAccount": "111111111111"}})
        )),
        Verdict::Private
    );
    assert_eq!(
        judge(&s3(
            json!({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::orders-uploads"}})
        )),
        Verdict::Unscoped("s3.amazonaws.com".into())
    );
    assert_eq!(
        judge(&s3(json!({}))),
        Verdict::Unscoped("s3.amazonaws.com".into())
    );
}

fn policy(statements: Vec<Value>) -> GetPolicyOutput {
    GetPolicyOutput::builder()
        .policy(
            json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string(),
        )
        .revision_id("r1")
        .build()
}

fn get(first: Vec<Value>, then: Vec<Value>) -> Rule {
    mock!(Client::get_policy)
        .match_requests(|r| r.function_name() == Some(ARN))
        .sequence()
        .output(move || policy(first.clone()))
        .output(move || policy(then.clone()))
        .build()
}

fn tags(exempt: bool) -> Rule {
    mock!(Client::list_tags)
        .match_requests(|r| r.resource() == Some(ARN))
        .then_output(move || {
            let b = ListTagsOutput::builder();
            if exempt {
                b.tags("quell:exempt", "true").build()
            } else {
                b.build()
            }
        })
}

fn remove(sids: &'static [&'static str]) -> Rule {
    mock!(Client::remove_permission)
        .match_requests(move |r| {
            r.function_name() == Some(ARN) && sids.contains(&r.statement_id().unwrap_or_default())
        })
        .then_output(|| RemovePermissionOutput::builder().build())
}

fn function() -> Function {
    Function::new("orders", "111111111111", "us-east-1", "aws")
}

async fn run(t: Rule, g: Rule, r: &Rule, mode: Mode) -> Outcome {
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&t, &g, r]);
    execute(
        &LambdaRemovePublicAccess,
        &lambda,
        &function(),
        mode,
        "quell:exempt",
    )
    .await
}

#[tokio::test]
async fn public_statements_go_the_others_stay_and_the_policy_is_read_back() {
    let r = remove(&["open", "rules"]);
    let out = run(
        tags(false),
        get(
            vec![public(), public_rules(), org_only(), api_gateway()],
            vec![org_only(), api_gateway()],
        ),
        &r,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Remediated { steps } => {
            assert_eq!(steps.len(), 2, "{steps:?}");
            assert!(steps[1]
                .to_string()
                .contains("ArnLike AWS:SourceArn=arn:aws:events"));
        }
        other => panic!("expected REMEDIATED: {other:?}"),
    }
    assert_eq!(r.num_calls(), 2);
    // Still there on the re-read: FAILED.
    let r = remove(&["open"]);
    let out = run(
        tags(false),
        get(vec![public()], vec![public()]),
        &r,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[tokio::test]
async fn what_quell_leaves_is_named_and_never_resolved() {
    let mut ip = public();
    ip["Sid"] = json!("office");
    ip["Condition"] = json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}});
    let unscoped = s3(json!({}));
    let r = remove(&["open"]);
    let out = run(
        tags(false),
        get(
            vec![public(), ip.clone(), unscoped.clone(), public_url()],
            vec![ip.clone(), unscoped.clone(), public_url()],
        ),
        &r,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Unconfirmed { unchecked, .. } => {
            assert!(unchecked.contains("sid=office"), "{unchecked}");
            assert!(
                unchecked
                    .contains("statement FunctionURLAllowPublicAccess serves the function's URL"),
                "{unchecked}"
            );
            assert!(
                unchecked.contains("--principal s3.amazonaws.com")
                    && unchecked.contains("--source-account 111111111111"),
                "{unchecked}"
            );
        }
        other => panic!("expected UNCONFIRMED: {other:?}"),
    }
    assert_eq!(r.num_calls(), 1, "only the statement quell can put back");
}

#[tokio::test]
async fn no_policy_compliant_exempt_dry_run_and_denied() {
    let none = mock!(Client::get_policy).then_error(|| {
        GetPolicyError::generic(
            ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .build(),
        )
    });
    let r = remove(&["open"]);
    let out = run(tags(false), none, &r, Mode::Enforce).await;
    assert_eq!((out.name(), r.num_calls()), ("ALREADY_COMPLIANT", 0));
    let out = run(
        tags(false),
        get(vec![org_only(), account_principal()], vec![]),
        &r,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), r.num_calls()), ("ALREADY_COMPLIANT", 0));
    let out = run(tags(true), get(vec![public()], vec![]), &r, Mode::Enforce).await;
    assert_eq!((out.name(), r.num_calls()), ("EXEMPT", 0));
    let out = run(tags(false), get(vec![public()], vec![]), &r, Mode::DryRun).await;
    assert_eq!((out.name(), r.num_calls()), ("PLANNED", 0));
    let denied = mock!(Client::remove_permission).then_error(|| {
        RemovePermissionError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        )
    });
    let out = run(
        tags(false),
        get(vec![public()], vec![public()]),
        &denied,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn undo_adds_each_removed_statement_back_and_a_bad_prior_calls_nothing() {
    let add = mock!(Client::add_permission)
        .match_requests(|r| {
            r.function_name() == Some(ARN)
                && r.principal() == Some("*")
                && ((r.statement_id() == Some("open")
                    && r.action() == Some("lambda:InvokeFunction")
                    && r.function_url_auth_type().is_none())
                    || (r.statement_id() == Some("rules")
                        && r.action() == Some("lambda:InvokeFunction")
                        && r.source_arn() == Some("arn:aws:events:us-east-1:*:rule/*")))
        })
        .then_output(|| AddPermissionOutput::builder().build());
    // `open` was put back by someone since: left as it is.
    let g = get(vec![org_only(), public()], vec![]);
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&add, &g]);
    let t = function();
    t.public.set(vec![public(), public_rules()]);
    let prior = LambdaRemovePublicAccess
        .prior(&lambda, &t)
        .await
        .unwrap()
        .unwrap();
    let steps = LambdaRemovePublicAccess
        .restore(&lambda, &prior)
        .await
        .unwrap();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[0].to_string().contains("there again already"),
        "{steps:?}"
    );
    assert_eq!(add.num_calls(), 1);

    let mut pinned = prior.clone();
    pinned["statements"] = json!([org_only()]);
    let mut elsewhere = prior.clone();
    elsewhere["account"] = json!("2222");
    let mut empty = prior.clone();
    empty["statements"] = json!([]);
    for bad in [pinned, elsewhere, empty, json!({"function": "orders"})] {
        assert_eq!(
            LambdaRemovePublicAccess
                .restore(&lambda, &bad)
                .await
                .unwrap_err()
                .code
                .as_deref(),
            Some("InvalidPriorState"),
            "{bad}"
        );
    }
    assert_eq!(add.num_calls(), 1);
}

#[test]
fn the_target_is_the_finding_accounts_function() {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "Lambda.1".into(),
        "Lambda.1".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    for r in [
        Resource::from_arn(ResourceKind::LambdaFunction, ARN),
        Resource::new(ResourceKind::LambdaFunction, "orders"),
    ] {
        f.resources = vec![r];
        let t = LambdaRemovePublicAccess.target(&f).unwrap();
        assert_eq!((t.name.as_str(), t.arn.as_str()), ("orders", ARN));
    }
    for (other, named) in [
        (
            "arn:aws:lambda:us-east-1:222222222222:function:orders",
            "222222222222",
        ),
        (
            "arn:aws:lambda:eu-west-1:111111111111:function:orders",
            "eu-west-1",
        ),
    ] {
        f.resources = vec![Resource::from_arn(ResourceKind::LambdaFunction, other)];
        let NotApplicable(why) = LambdaRemovePublicAccess.target(&f).unwrap_err();
        assert!(why.contains(named), "{why}");
    }
    f.resources = vec![Resource::new(ResourceKind::LambdaFunction, "a b")];
    assert!(LambdaRemovePublicAccess.target(&f).is_err());
}
