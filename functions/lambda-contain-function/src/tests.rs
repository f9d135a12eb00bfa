use super::*;
use aws_sdk_lambda::operation::delete_function_concurrency::DeleteFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
use aws_sdk_lambda::operation::list_tags::ListTagsOutput;
use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;
use aws_sdk_lambda::operation::publish_version::{PublishVersionError, PublishVersionOutput};
use aws_sdk_lambda::operation::put_function_concurrency::{
    PutFunctionConcurrencyError, PutFunctionConcurrencyOutput,
};
use aws_sdk_lambda::types::FunctionConfiguration;
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:thumbnailer";

fn function(severity: Severity) -> Function {
    let mut f = finding(Resource::from_arn(ResourceKind::LambdaFunction, ARN));
    f.severity = severity;
    LambdaContainFunction::default().target(&f).unwrap()
}

fn finding(resource: Resource) -> Finding {
    let mut f = Finding::new(
        Source::GuardDuty,
        "b2c3d4e5f60718293a4b5c6d7e8f9a01".into(),
        "Backdoor:Lambda/C&CActivity.B".into(),
        "C&C".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![resource];
    f.severity = Severity::High;
    f
}

fn tags(exempt: bool) -> Rule {
    mock!(Client::list_tags)
        .match_requests(|r| r.resource() == Some(ARN))
        .then_output(move || {
            let b = ListTagsOutput::builder().tags("team", "media");
            if exempt {
                b.tags("quell:exempt", "true").build()
            } else {
                b.build()
            }
        })
}

/// GetFunctionConcurrency answering `first`, then `then`.
fn concurrency(first: Option<i32>, then: Option<i32>) -> Rule {
    let out = |n: Option<i32>| {
        GetFunctionConcurrencyOutput::builder()
            .set_reserved_concurrent_executions(n)
            .build()
    };
    mock!(Client::get_function_concurrency)
        .match_requests(|r| {
            r.function_name()
                .is_some_and(|f| f.ends_with("thumbnailer"))
        })
        .sequence()
        .output(move || out(first))
        .output(move || out(then))
        .build()
}

fn put(n: i32) -> Rule {
    mock!(Client::put_function_concurrency)
        .match_requests(move |r| {
            r.reserved_concurrent_executions() == Some(n)
                && r.function_name()
                    .is_some_and(|f| f.ends_with("thumbnailer"))
        })
        .then_output(move || {
            PutFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(n)
                .build()
        })
}

fn publish() -> Rule {
    mock!(Client::publish_version)
        .match_requests(|r| {
            r.function_name() == Some(ARN)
                && r.description().is_some_and(|d| {
                    d.contains("Backdoor:Lambda/C&CActivity.B") && d.chars().count() <= 256
                })
        })
        .then_output(|| {
            PublishVersionOutput::builder()
                .version("7")
                .code_sha256("abc=")
                .build()
        })
}

/// The published versions: none with $LATEST's code at first (unless `first_kept`); after the
/// publish, one.
fn versions(first_kept: bool) -> Rule {
    let out = |kept: bool| {
        let mut b = ListVersionsByFunctionOutput::builder().versions(
            FunctionConfiguration::builder()
                .version("$LATEST")
                .code_sha256("abc=")
                .build(),
        );
        if kept {
            b = b.versions(
                FunctionConfiguration::builder()
                    .version("7")
                    .code_sha256("abc=")
                    .build(),
            );
        }
        b.build()
    };
    mock!(Client::list_versions_by_function)
        .sequence()
        .output(move || out(first_kept))
        .output(move || out(true))
        .repeatedly()
        .build()
}

fn get_function() -> Rule {
    mock!(Client::get_function).then_output(|| {
        GetFunctionOutput::builder()
            .configuration(
                FunctionConfiguration::builder()
                    .code_sha256("abc=")
                    .revision_id("r-1")
                    .version("$LATEST")
                    .role("arn:aws:iam::111111111111:role/thumbnailer")
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn contains_by_concurrency_zero_keeps_the_code_and_reads_it_back() {
    let (t, c, p, v) = (tags(false), concurrency(None, Some(0)), put(0), publish());
    let (g, l) = (get_function(), versions(false));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&t, &c, &p, &v, &g, &l]);
    let out = execute(
        &LambdaContainFunction::default(),
        &lambda,
        &function(Severity::High),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    // Contained and the code kept; never RESOLVED: the role's sessions are a person's.
    match &out {
        Outcome::Unconfirmed { checked, unchecked } => {
            assert!(
                checked.contains("PutFunctionConcurrency") && checked.contains("abc="),
                "{checked}"
            );
            assert!(unchecked.contains("role/thumbnailer"), "{unchecked}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((p.num_calls(), v.num_calls(), c.num_calls()), (1, 1, 2));

    // Still invocable after the call: FAILED, never RESOLVED.
    let (t, c, p, v) = (
        tags(false),
        concurrency(Some(5), Some(5)),
        put(0),
        publish(),
    );
    let (g, l) = (get_function(), versions(false));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&t, &c, &p, &v, &g, &l]);
    let out = execute(
        &LambdaContainFunction::default(),
        &lambda,
        &function(Severity::High),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[tokio::test]
async fn contained_exempt_dry_run_low_severity_and_failures() {
    let r = LambdaContainFunction::default();
    let run = |tg: Rule, c: Rule, p: Rule, v: Rule, sev: Severity, mode: Mode| {
        let r = r.clone();
        async move {
            let (g, l) = (get_function(), versions(false));
            let lambda = mock_client!(
                aws_sdk_lambda,
                RuleMode::MatchAny,
                [&tg, &c, &p, &v, &g, &l]
            );
            let out = execute(&r, &lambda, &function(sev), mode, "quell:exempt").await;
            (out, p.num_calls() + v.num_calls())
        }
    };
    // Contained before, but the code never kept (a publish that failed): the publish alone.
    let (out, w) = run(
        tags(false),
        concurrency(Some(0), Some(0)),
        put(0),
        publish(),
        Severity::High,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), w), ("UNCONFIRMED", 1));
    let (out, w) = run(
        tags(true),
        concurrency(None, None),
        put(0),
        publish(),
        Severity::High,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), w), ("EXEMPT", 0));
    let (out, w) = run(
        tags(false),
        concurrency(None, None),
        put(0),
        publish(),
        Severity::High,
        Mode::DryRun,
    )
    .await;
    assert_eq!((out.name(), w), ("PLANNED", 0));
    let (out, w) = run(
        tags(false),
        concurrency(None, None),
        put(0),
        publish(),
        Severity::Low,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Planned { reason, .. } => {
            assert!(
                reason.contains(SEVERITY_VAR) && reason.contains("LOW"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w, 0);
    let denied = mock!(Client::put_function_concurrency).then_error(|| {
        PutFunctionConcurrencyError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        )
    });
    let (out, _) = run(
        tags(false),
        concurrency(None, None),
        denied,
        publish(),
        Severity::High,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
    // The evidence cannot be published: FAILED (the containment stands, and says so in the note).
    let quota = mock!(Client::publish_version).then_error(|| {
        PublishVersionError::generic(
            ErrorMetadata::builder()
                .code("CodeStorageExceededException")
                .build(),
        )
    });
    let (out, _) = run(
        tags(false),
        concurrency(None, Some(0)),
        put(0),
        quota,
        Severity::High,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
}

#[tokio::test]
async fn the_prior_records_the_concurrency_and_the_evidence_and_undo_puts_it_back() {
    let r = LambdaContainFunction::default();
    let (c, g, l) = (
        concurrency(Some(25), Some(0)),
        get_function(),
        versions(false),
    );
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&c, &g, &l]);
    let t = function(Severity::High);
    r.plan(&lambda, &t).await.unwrap();
    let prior = r.prior(&lambda, &t).await.unwrap().unwrap();
    assert_eq!(prior["reserved_concurrency"], 25);
    assert_eq!(prior["evidence"]["code_sha256"], "abc=");
    assert_eq!(
        prior["evidence"]["role"],
        "arn:aws:iam::111111111111:role/thumbnailer"
    );

    let (back, zero) = (put(25), concurrency(Some(0), Some(0)));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&back, &zero]);
    assert_eq!(r.restore(&lambda, &prior).await.unwrap().len(), 1);
    assert_eq!(back.num_calls(), 1);
    // Someone set the concurrency since: theirs, left as it is.
    let (back, theirs) = (put(25), concurrency(Some(40), Some(40)));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&back, &theirs]);
    let steps = r.restore(&lambda, &prior).await.unwrap();
    assert!(steps[0].detail.contains("left as it is"), "{steps:?}");
    assert_eq!(back.num_calls(), 0);

    let lift = mock!(Client::delete_function_concurrency)
        .match_requests(|d| d.function_name() == Some("thumbnailer"))
        .then_output(|| DeleteFunctionConcurrencyOutput::builder().build());
    let zero = concurrency(Some(0), Some(0));
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&lift, &zero]);
    let mut unreserved = prior.clone();
    unreserved["reserved_concurrency"] = serde_json::Value::Null;
    r.restore(&lambda, &unreserved).await.unwrap();
    assert_eq!(lift.num_calls(), 1);

    for bad in [
        serde_json::json!({"function": "thumbnailer", "reserved_concurrency": 0}),
        serde_json::json!({"function": "thumbnailer", "reserved_concurrency": "5"}),
        serde_json::json!({"function": "a:b", "reserved_concurrency": null}),
    ] {
        assert_eq!(
            r.restore(&lambda, &bad).await.unwrap_err().code.as_deref(),
            Some("InvalidPriorState"),
            "{bad}"
        );
    }
    assert_eq!(lift.num_calls(), 1, "nothing called for a bad prior");
}

#[test]
fn the_target_is_the_function_in_the_findings_account_and_region() {
    let r = LambdaContainFunction::default();
    let t = function(Severity::High);
    assert_eq!((t.name.as_str(), t.arn.as_str()), ("thumbnailer", ARN));
    // By name alone (no ARN): the ARN is formed from the finding's own parts.
    let t = r
        .target(&finding(Resource::new(
            ResourceKind::LambdaFunction,
            "thumbnailer",
        )))
        .unwrap();
    assert_eq!(t.arn, ARN);
    // A qualified ARN names the function; calls use the unqualified one.
    let t = r
        .target(&finding(Resource::from_arn(
            ResourceKind::LambdaFunction,
            "arn:aws:lambda:us-east-1:111111111111:function:thumbnailer:PROD",
        )))
        .unwrap();
    assert_eq!(t.arn, ARN);
    for elsewhere in [
        "arn:aws:lambda:us-east-1:222222222222:function:thumbnailer",
        "arn:aws:lambda:eu-west-1:111111111111:function:thumbnailer",
    ] {
        let NotApplicable(why) = r
            .target(&finding(Resource::from_arn(
                ResourceKind::LambdaFunction,
                elsewhere,
            )))
            .unwrap_err();
        assert!(why.contains(elsewhere), "{why}");
    }
    for bad in ["a b", "x".repeat(65).as_str(), ""] {
        assert!(r
            .target(&finding(Resource::new(ResourceKind::LambdaFunction, bad)))
            .is_err());
    }
}

#[test]
fn the_severity_setting_is_checked_at_start() {
    let mut r = LambdaContainFunction::default();
    r.configure(&|k| (k == SEVERITY_VAR).then(|| "high".into()))
        .unwrap();
    assert_eq!(r.min_severity, Severity::High);
    let err = LambdaContainFunction::default()
        .configure(&|k| (k == SEVERITY_VAR).then(|| "urgent".into()))
        .unwrap_err();
    assert_eq!(err.var, SEVERITY_VAR);
    assert!(err.reason.contains("urgent"));
}
