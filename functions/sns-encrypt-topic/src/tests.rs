use super::*;
use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesOutput;
use aws_sdk_sns::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_sns::operation::set_topic_attributes::{
    SetTopicAttributesError, SetTopicAttributesOutput,
};
use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};
use serde_json::json;

const ACCOUNT: &str = "111111111111";
const ARN: &str = "arn:aws:sns:us-east-1:111111111111:alerts";
const KEY: &str = "arn:aws:kms:us-east-1:111111111111:alias/quell-sns";

/// SNS's default topic policy: the account's own principals (AWS:SourceOwner).
fn default_policy() -> String {
    json!({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                   "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                   "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": ARN, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]})
    .to_string()
}

/// The default policy and a statement letting EventBridge publish, as the console adds it.
fn events_policy() -> String {
    let mut p: Value = serde_json::from_str(&default_policy()).unwrap();
    p["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "AWSEvents_rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": ARN}));
    p.to_string()
}

#[test]
fn who_publishes_from_outside_the_account() {
    assert!(outside_publishers(&default_policy(), ACCOUNT).is_empty());
    assert_eq!(
        outside_publishers(&events_policy(), ACCOUNT),
        ["the service events.amazonaws.com"]
    );
    let open = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish"}});
    assert_eq!(
        outside_publishers(&open.to_string(), ACCOUNT),
        ["everyone (principal *)"]
    );
    let partner = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::222222222222:root", "111111111111"]},
         "Action": "SNS:*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
         "Action": "sns:Subscribe"},
        {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish"}]});
    assert_eq!(
        outside_publishers(&partner.to_string(), ACCOUNT),
        ["the principal arn:aws:iam::222222222222:root"]
    );
    // Pinned to another account, or by a negation: not the account's own.
    let other = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
        "Condition": {"StringNotEquals": {"AWS:SourceOwner": ACCOUNT}}}});
    assert_eq!(outside_publishers(&other.to_string(), ACCOUNT).len(), 1);
    assert_eq!(outside_publishers("not json", ACCOUNT).len(), 1);
}

#[test]
fn the_key_setting_is_checked_at_start_up() {
    for good in [
        "alias/aws/sns",
        "alias/quell-sns",
        KEY,
        "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
        "arn:aws:kms:us-east-1:111111111111:key/0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30",
    ] {
        let mut r = SnsEncryptTopic::default();
        r.configure(&|_| Some(good.to_string())).unwrap();
        assert_eq!(r.key.as_deref(), Some(good));
    }
    for bad in [
        "quell-sns",
        "alias/",
        "arn:aws:kms:us-east-1:1111:alias/x",
        "key/abc",
    ] {
        let e = SnsEncryptTopic::default()
            .configure(&|_| Some(bad.to_string()))
            .unwrap_err();
        assert_eq!(e.var, KEY_VAR);
        assert!(e.reason.contains(bad), "{}", e.reason);
    }
    let mut r = SnsEncryptTopic::default();
    r.configure(&|_| None).unwrap();
    assert_eq!(r.key, None);
}

fn attrs(key: Option<&str>, policy: String) -> GetTopicAttributesOutput {
    let mut b = GetTopicAttributesOutput::builder()
        .attributes("TopicArn", ARN)
        .attributes("Policy", policy);
    if let Some(k) = key {
        b = b.attributes(KMS_KEY, k);
    }
    b.build()
}

fn read(first: Option<&'static str>, then: Option<&'static str>, policy: fn() -> String) -> Rule {
    mock!(Client::get_topic_attributes)
        .match_requests(|r| r.topic_arn() == Some(ARN))
        .sequence()
        .output(move || attrs(first, policy()))
        .output(move || attrs(then, policy()))
        .build()
}

fn tags(exempt: bool) -> Rule {
    mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(ARN))
        .then_output(move || {
            let mut b = ListTagsForResourceOutput::builder();
            if exempt {
                b = b.tags(
                    Tag::builder()
                        .key("quell:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                );
            }
            b.build()
        })
}

fn set(value: &'static str) -> Rule {
    mock!(Client::set_topic_attributes)
        .match_requests(move |r| {
            r.topic_arn() == Some(ARN)
                && r.attribute_name() == Some(KMS_KEY)
                && r.attribute_value() == Some(value)
        })
        .then_output(|| SetTopicAttributesOutput::builder().build())
}

fn topic() -> Topic {
    Topic::new("alerts", ACCOUNT, "us-east-1", "aws")
}

/// DescribeKey of the configured key: an enabled symmetric key, or (`None`) no such key.
fn described(state: Option<aws_sdk_kms::types::KeyState>) -> Rule {
    use aws_sdk_kms::operation::describe_key::{DescribeKeyError, DescribeKeyOutput};
    use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyUsageType};
    let rule = mock!(aws_sdk_kms::Client::describe_key).match_requests(|r| r.key_id() == Some(KEY));
    match state {
        Some(state) => rule.then_output(move || {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30")
                        .key_state(state.clone())
                        .key_spec(KeySpec::SymmetricDefault)
                        .key_usage(KeyUsageType::EncryptDecrypt)
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        None => rule.then_error(|| {
            DescribeKeyError::generic(ErrorMetadata::builder().code("NotFoundException").build())
        }),
    }
}

fn clients(sns: aws_sdk_sns::Client, key: &Rule) -> Clients {
    Clients {
        sns,
        kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, [key]),
    }
}

async fn run(key: Option<&str>, t: Rule, g: Rule, s: &Rule, mode: Mode) -> Outcome {
    let k = described(Some(aws_sdk_kms::types::KeyState::Enabled));
    run_with(key, &k, t, g, s, mode).await
}

async fn run_with(key: Option<&str>, k: &Rule, t: Rule, g: Rule, s: &Rule, mode: Mode) -> Outcome {
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&t, &g, s]);
    let r = SnsEncryptTopic {
        key: key.map(str::to_string),
    };
    execute(&r, &clients(sns, k), &topic(), mode, "quell:exempt").await
}

#[tokio::test]
async fn a_configured_key_the_account_cannot_use_is_planned_naming_it() {
    use aws_sdk_kms::types::KeyState;
    for (state, named) in [
        (None, "there is no key"),
        (Some(KeyState::Disabled), "Disabled"),
    ] {
        let k = described(state);
        let s = set(KEY);
        let out = run_with(
            Some(KEY),
            &k,
            tags(false),
            read(None, None, default_policy),
            &s,
            Mode::Enforce,
        )
        .await;
        match &out {
            Outcome::Planned { reason, .. } => assert!(reason.contains(named), "{reason}"),
            other => panic!("expected PLANNED: {other:?}"),
        }
        assert_eq!((s.num_calls(), k.num_calls()), (0, 1));
    }
    // A key of another Region: planned without a call.
    let k = described(None);
    let s = set(KEY);
    let sns = mock_client!(
        aws_sdk_sns,
        RuleMode::MatchAny,
        [&tags(false), &read(None, None, default_policy), &s]
    );
    let r = SnsEncryptTopic {
        key: Some("arn:aws:kms:eu-west-1:111111111111:alias/quell-sns".into()),
    };
    let out = execute(
        &r,
        &clients(sns, &k),
        &topic(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(
        (out.name(), k.num_calls(), s.num_calls()),
        ("PLANNED", 0, 0),
        "{out:?}"
    );
}

#[tokio::test]
async fn the_configured_key_is_set_and_read_back() {
    let s = set(KEY);
    let out = run(
        Some(KEY),
        tags(false),
        read(None, Some(KEY), events_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(s.num_calls(), 1);
    let s = set(KEY);
    let out = run(
        Some(KEY),
        tags(false),
        read(None, None, default_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED", "not read back: {out:?}");
}

#[tokio::test]
async fn without_a_key_or_with_the_aws_managed_one_and_outside_publishers_it_plans() {
    let s = set(AWS_MANAGED);
    let out = run(
        None,
        tags(false),
        read(None, None, default_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Planned { reason, .. } => assert!(reason.contains(KEY_VAR), "{reason}"),
        other => panic!("expected PLANNED: {other:?}"),
    }
    let out = run(
        Some(AWS_MANAGED),
        tags(false),
        read(None, None, events_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    match &out {
        Outcome::Planned { reason, .. } => {
            assert!(reason.contains("events.amazonaws.com"), "{reason}")
        }
        other => panic!("expected PLANNED: {other:?}"),
    }
    assert_eq!(s.num_calls(), 0);
    // The account's own publishers only: the AWS managed key, chosen, is set.
    let out = run(
        Some(AWS_MANAGED),
        tags(false),
        read(None, Some("alias/aws/sns"), default_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), s.num_calls()), ("REMEDIATED", 1), "{out:?}");
}

#[tokio::test]
async fn encrypted_exempt_dry_run_and_denied() {
    let s = set(KEY);
    let out = run(
        Some(KEY),
        tags(false),
        read(Some("alias/team"), Some("alias/team"), default_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), s.num_calls()), ("ALREADY_COMPLIANT", 0));
    let out = run(
        Some(KEY),
        tags(true),
        read(None, None, default_policy),
        &s,
        Mode::Enforce,
    )
    .await;
    assert_eq!((out.name(), s.num_calls()), ("EXEMPT", 0));
    let out = run(
        Some(KEY),
        tags(false),
        read(None, None, default_policy),
        &s,
        Mode::DryRun,
    )
    .await;
    assert_eq!((out.name(), s.num_calls()), ("PLANNED", 0));
    let denied = mock!(Client::set_topic_attributes).then_error(|| {
        SetTopicAttributesError::generic(
            ErrorMetadata::builder().code("AuthorizationError").build(),
        )
    });
    let out = run(
        Some(KEY),
        tags(false),
        read(None, None, default_policy),
        &denied,
        Mode::Enforce,
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());
}

#[tokio::test]
async fn undo_takes_only_quells_key_off_and_a_bad_prior_calls_nothing() {
    let r = SnsEncryptTopic {
        key: Some(KEY.into()),
    };
    let off = set("");
    let g = read(Some(KEY), Some("alias/team"), default_policy);
    let k = described(None);
    let sns = clients(
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&off, &g]),
        &k,
    );
    let prior = r.prior(&sns, &topic()).await.unwrap().unwrap();
    let steps = r.restore(&sns, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("removed"), "{steps:?}");
    assert_eq!(off.num_calls(), 1);
    // A key someone set since stays.
    let steps = r.restore(&sns, &prior).await.unwrap();
    assert!(steps[0].to_string().contains("left as it is"), "{steps:?}");
    assert_eq!(off.num_calls(), 1);
    let mut region = prior.clone();
    region["region"] = json!("us-east-1; x");
    let mut had = prior.clone();
    had[KMS_KEY] = json!("alias/old");
    let mut none = prior.clone();
    none["set"] = json!(null);
    for bad in [region, had, none, json!({"topic": "alerts"})] {
        assert_eq!(
            r.restore(&sns, &bad).await.unwrap_err().code.as_deref(),
            Some("InvalidPriorState"),
            "{bad}"
        );
    }
    assert_eq!(off.num_calls(), 1);
}

#[test]
fn the_target_is_the_finding_accounts_topic() {
    let mut f = Finding::new(
        Source::Config,
        "f".into(),
        "sns-encrypted-kms".into(),
        "SNS.1".into(),
        ACCOUNT.into(),
        "us-east-1".into(),
    );
    for r in [
        Resource::from_arn(ResourceKind::SnsTopic, ARN),
        Resource::new(ResourceKind::SnsTopic, "alerts"),
    ] {
        f.resources = vec![r];
        let t = SnsEncryptTopic::default().target(&f).unwrap();
        assert_eq!((t.name.as_str(), t.arn.as_str()), ("alerts", ARN));
    }
    for (other, named) in [
        ("arn:aws:sns:us-east-1:222222222222:alerts", "222222222222"),
        ("arn:aws:sns:eu-west-1:111111111111:alerts", "eu-west-1"),
    ] {
        f.resources = vec![Resource::from_arn(ResourceKind::SnsTopic, other)];
        let NotApplicable(why) = SnsEncryptTopic::default().target(&f).unwrap_err();
        assert!(why.contains(named), "{why}");
    }
    f.resources = vec![Resource::new(ResourceKind::SnsTopic, "a b")];
    assert!(SnsEncryptTopic::default().target(&f).is_err());
}
