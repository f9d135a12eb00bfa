use super::*;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::disable_key_rotation::DisableKeyRotationOutput;
use aws_sdk_kms::operation::enable_key_rotation::{
    EnableKeyRotationError, EnableKeyRotationOutput,
};
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput;
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, OriginType, Tag};
use aws_sdk_kms::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::{Outcome, Resource, Source};

const ID: &str = "0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30";

fn key() -> Key {
    Key::new(ID, "111111111111")
}

fn tags(pairs: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Client::list_resource_tags).then_output(move || {
        ListResourceTagsOutput::builder()
            .set_tags(Some(
                pairs
                    .iter()
                    .map(|(k, v)| Tag::builder().tag_key(*k).tag_value(*v).build().unwrap())
                    .collect(),
            ))
            .build()
    })
}

fn described(spec: KeySpec, origin: OriginType, state: KeyState) -> Rule {
    mock!(Client::describe_key).then_output(move || {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id(ID)
                    .key_spec(spec.clone())
                    .origin(origin.clone())
                    .key_state(state.clone())
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

/// A multi-Region replica whose primary is in eu-west-1.
fn replica() -> Rule {
    use aws_sdk_kms::types::{MultiRegionConfiguration, MultiRegionKey, MultiRegionKeyType};
    mock!(Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("mrk-1234abcd12ab34cd56ef1234567890ab")
                    .key_spec(KeySpec::SymmetricDefault)
                    .origin(OriginType::AwsKms)
                    .key_state(KeyState::Enabled)
                    .multi_region_configuration(
                        MultiRegionConfiguration::builder()
                            .multi_region_key_type(MultiRegionKeyType::Replica)
                            .primary_key(
                                MultiRegionKey::builder()
                                    .arn("arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab")
                                    .region("eu-west-1")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

fn symmetric() -> Rule {
    described(
        KeySpec::SymmetricDefault,
        OriginType::AwsKms,
        KeyState::Enabled,
    )
}

/// GetKeyRotationStatus answering `first`, then `then` for every later read.
fn rotation(first: bool, then: bool) -> Rule {
    mock!(Client::get_key_rotation_status)
        .sequence()
        .output(move || {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(first)
                .build()
        })
        .output(move || {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(then)
                .build()
        })
        .build()
}

fn enable() -> Rule {
    mock!(Client::enable_key_rotation).then_output(|| EnableKeyRotationOutput::builder().build())
}

#[tokio::test]
async fn turns_rotation_on_and_reads_it_back() {
    let (t, d, g, e) = (tags(&[]), symmetric(), rotation(false, true), enable());
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(e.num_calls(), 1);
    assert_eq!(g.num_calls(), 2, "read, then read back");
    assert_eq!(d.num_calls(), 1, "the key is described once");

    // The rotation still reads off after the call: FAILED, never RESOLVED.
    let (t, d, g, e) = (tags(&[]), symmetric(), rotation(false, false), enable());
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "FAILED", "{out:?}");
}

#[tokio::test]
async fn the_configured_period_is_asked_for() {
    let mut r = KmsEnableKeyRotation::default();
    r.configure(&|k| (k == PERIOD_VAR).then(|| "180".to_string()))
        .unwrap();
    let e = mock!(Client::enable_key_rotation)
        .match_requests(|req| {
            req.key_id() == Some(ID) && req.rotation_period_in_days() == Some(180)
        })
        .then_output(|| EnableKeyRotationOutput::builder().build());
    let (t, d, g) = (tags(&[]), symmetric(), rotation(false, true));
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(&r, &kms, &key(), Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(e.num_calls(), 1);
}

#[test]
fn a_bad_period_is_refused_at_start_naming_the_variable() {
    for bad in ["30", "3000", "yearly", "-1"] {
        let err = KmsEnableKeyRotation::default()
            .configure(&|k| (k == PERIOD_VAR).then(|| bad.to_string()))
            .unwrap_err();
        assert_eq!(err.var, PERIOD_VAR);
        assert!(err.reason.contains(bad), "{}", err.reason);
    }
    let mut r = KmsEnableKeyRotation::default();
    r.configure(&|_| None).unwrap();
    assert_eq!(r.period_days, None, "unset: KMS's own default");
}

#[tokio::test]
async fn a_rotating_key_is_already_compliant_and_nothing_is_written() {
    let (t, d, g, e) = (tags(&[]), symmetric(), rotation(true, true), enable());
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "ALREADY_COMPLIANT", "{out:?}");
    assert_eq!(e.num_calls(), 0);
}

#[tokio::test]
async fn keys_that_cannot_rotate_are_planned_with_the_reason() {
    for (d, words) in [
        (
            described(KeySpec::Rsa2048, OriginType::AwsKms, KeyState::Enabled),
            "RSA_2048",
        ),
        (
            described(
                KeySpec::SymmetricDefault,
                OriginType::External,
                KeyState::Enabled,
            ),
            "EXTERNAL",
        ),
        (
            described(
                KeySpec::SymmetricDefault,
                OriginType::AwsCloudhsm,
                KeyState::Enabled,
            ),
            "AWS_CLOUDHSM",
        ),
        (
            described(
                KeySpec::SymmetricDefault,
                OriginType::AwsKms,
                KeyState::PendingDeletion,
            ),
            "PendingDeletion",
        ),
        (
            described(
                KeySpec::SymmetricDefault,
                OriginType::AwsKms,
                KeyState::Disabled,
            ),
            "Disabled",
        ),
        (replica(), "primary key (arn:aws:kms:eu-west-1"),
    ] {
        let (t, g, e) = (tags(&[]), rotation(false, false), enable());
        let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
        let out = execute(
            &KmsEnableKeyRotation::default(),
            &kms,
            &key(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        match &out {
            Outcome::Planned { reason, steps } => {
                assert!(reason.contains(words), "{reason}");
                assert_eq!(steps.len(), 1);
            }
            other => panic!("{words}: {other:?}"),
        }
        assert_eq!(e.num_calls(), 0);
        assert_eq!(g.num_calls(), 0, "its rotation status is not asked for");
    }
}

#[tokio::test]
async fn exempt_dry_run_and_failures() {
    // Tagged exempt: nothing is read or written beyond the tags.
    let (t, d, g, e) = (
        tags(&[("quell:exempt", "true")]),
        symmetric(),
        rotation(false, true),
        enable(),
    );
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "EXEMPT");
    assert_eq!(e.num_calls() + g.num_calls(), 0);

    // Dry run: planned, not written.
    let (t, d, g, e) = (tags(&[]), symmetric(), rotation(false, true), enable());
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &e]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "PLANNED");
    assert_eq!(e.num_calls(), 0);

    // Denied: a permanent failure.
    let denied = mock!(Client::enable_key_rotation).then_error(|| {
        EnableKeyRotationError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        )
    });
    let (t, d, g) = (tags(&[]), symmetric(), rotation(false, false));
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &denied]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "FAILED");
    assert!(!out.is_retryable());

    // Throttled: retried.
    let throttled = mock!(Client::enable_key_rotation).then_error(|| {
        EnableKeyRotationError::generic(
            ErrorMetadata::builder().code("ThrottlingException").build(),
        )
    });
    let (t, d, g) = (tags(&[]), symmetric(), rotation(false, false));
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&t, &d, &g, &throttled]);
    let out = execute(
        &KmsEnableKeyRotation::default(),
        &kms,
        &key(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(out.is_retryable(), "{out:?}");
}

#[tokio::test]
async fn undo_turns_rotation_off_and_a_bad_prior_calls_nothing() {
    let off = mock!(Client::disable_key_rotation)
        .match_requests(|r| r.key_id() == Some(ID))
        .then_output(|| DisableKeyRotationOutput::builder().build());
    // On when undone; off (by someone) at the second undo.
    let status = rotation(true, false);
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&off, &status]);
    let r = KmsEnableKeyRotation::default();
    let prior = r.prior(&kms, &key()).await.unwrap().unwrap();
    let steps = r.restore(&kms, &prior).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(off.num_calls(), 1);
    let again = r.restore(&kms, &prior).await.unwrap();
    assert!(again[0].to_string().contains("left as it is"), "{again:?}");
    assert_eq!(off.num_calls(), 1);
    for bad in [
        serde_json::json!({"key": "alias/aws/s3", "rotation": false}),
        serde_json::json!({"key": ID, "rotation": true}),
        serde_json::json!({"rotation": false}),
    ] {
        let err = r.restore(&kms, &bad).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("InvalidPriorState"), "{bad}");
    }
    assert_eq!(off.num_calls(), 1, "nothing called for a bad prior");
}

fn finding(resource: Resource) -> Finding {
    let mut f = Finding::new(
        Source::SecurityHub,
        "f".into(),
        "KMS.4".into(),
        "KMS.4".into(),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![resource];
    f
}

#[test]
fn the_target_is_the_finding_accounts_key_by_id_or_arn() {
    let r = KmsEnableKeyRotation::default();
    let arn = format!("arn:aws:kms:us-east-1:111111111111:key/{ID}");
    let t = r
        .target(&finding(Resource::from_arn(ResourceKind::KmsKey, &arn)))
        .unwrap();
    assert_eq!((t.id.as_str(), t.account.as_str()), (ID, "111111111111"));
    let t = r
        .target(&finding(Resource::new(ResourceKind::KmsKey, ID)))
        .unwrap();
    assert_eq!(t.id, ID);
    let other = format!("arn:aws:kms:us-east-1:222222222222:key/{ID}");
    let NotApplicable(why) = r
        .target(&finding(Resource::from_arn(ResourceKind::KmsKey, &other)))
        .unwrap_err();
    assert!(why.contains("222222222222"), "{why}");
    // The same id in another Region is another key.
    let elsewhere = format!("arn:aws:kms:eu-west-1:111111111111:key/{ID}");
    let NotApplicable(why) = r
        .target(&finding(Resource::from_arn(
            ResourceKind::KmsKey,
            &elsewhere,
        )))
        .unwrap_err();
    assert!(why.contains("eu-west-1"), "{why}");
    for bad in ["alias/prod", "key id", "0f6a4c52-8e3b-4f6e-9d21", ""] {
        assert!(
            r.target(&finding(Resource::new(ResourceKind::KmsKey, bad)))
                .is_err(),
            "{bad}"
        );
    }
    assert!(r
        .target(&finding(Resource::new(ResourceKind::S3Bucket, "b")))
        .is_err());
}
