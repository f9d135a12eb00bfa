use super::*;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysError;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::operation::tag_user::TagUserOutput;
use aws_sdk_iam::operation::update_access_key::{UpdateAccessKeyError, UpdateAccessKeyOutput};
use aws_sdk_iam::types::{AccessKeyLastUsed, AccessKeyMetadata};
use aws_sdk_iam::Client;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use quell::remediation::execute;
use quell::Outcome;

const KEY: &str = "AKIAEXAMPLELEAKED001";
const OTHER: &str = "AKIAEXAMPLEOTHER0002";

fn days_ago(d: u64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from(SystemTime::now() - Duration::from_secs(d * 86_400))
}

fn key(id: &str, active: bool, age: u64) -> AccessKeyMetadata {
    AccessKeyMetadata::builder()
        .user_name("alice")
        .access_key_id(id)
        .status(if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        })
        .create_date(days_ago(age))
        .build()
}

fn no_tags() -> MockRule {
    mock!(Client::list_user_tags).then_output(|| {
        ListUserTagsOutput::builder()
            .set_tags(Some(vec![]))
            .build()
            .unwrap()
    })
}

/// First listing: the leaked key active; later listings: inactive.
fn keys_then_inactive() -> MockRule {
    mock!(Client::list_access_keys)
        .sequence()
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, true, 10))
                .access_key_metadata(key(OTHER, true, 10))
                .build()
                .unwrap()
        })
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, false, 10))
                .access_key_metadata(key(OTHER, true, 10))
                .build()
                .unwrap()
        })
        .repeatedly()
        .build()
}

fn update_ok() -> MockRule {
    mock!(Client::update_access_key)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.access_key_id() == Some(KEY)
                && r.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build())
}

fn tag_ok() -> MockRule {
    mock!(Client::tag_user)
        .match_requests(|r| {
            r.tags()
                .iter()
                .any(|t| t.key() == FINDING_TAG && t.value() == "finding-1")
        })
        .then_output(|| TagUserOutput::builder().build())
}

fn target() -> Target {
    Target::new(
        Some(User::Name("alice".into())),
        Rule::Key(KEY.into()),
        "finding-1".into(),
    )
}

#[tokio::test]
async fn deactivates_only_the_named_key_and_tags_the_user() {
    let (t, l, u, g) = (no_tags(), keys_then_inactive(), update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        steps.iter().filter(|s| s.action == UPDATE).count(),
        1,
        "{steps:?}"
    );
    assert!(steps[0].detail.contains(KEY) && !steps[0].detail.contains(OTHER));
    assert_eq!((u.num_calls(), g.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_inactive_key_is_already_compliant_with_no_write() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(KEY, false, 10))
            .build()
            .unwrap()
    });
    let (u, g) = (update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
    assert_eq!((u.num_calls(), g.num_calls()), (0, 0));
}

#[tokio::test]
async fn access_denied_is_permanent_and_throttling_retryable() {
    let t = no_tags();
    let l = keys_then_inactive();
    let u = mock!(Client::update_access_key).then_error(|| {
        UpdateAccessKeyError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Failed { retryable: false, code: Some(c), .. } if c == "AccessDenied"),
        "{out:?}"
    );

    let t = no_tags();
    let l = mock!(Client::list_access_keys).then_error(|| {
        ListAccessKeysError::generic(ErrorMetadata::builder().code("Throttling").build())
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(out.is_retryable(), "{out:?}");
}

#[tokio::test]
async fn dry_run_and_exemption_make_no_write() {
    let (t, l, u, g) = (no_tags(), keys_then_inactive(), update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps[0].action, UPDATE);
    assert_eq!((u.num_calls(), g.num_calls()), (0, 0));

    let t = mock!(Client::list_user_tags).then_output(|| {
        ListUserTagsOutput::builder()
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("quell:exempt")
                    .value("true")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let (l, u) = (keys_then_inactive(), update_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Exempt { .. }), "{out:?}");
    assert_eq!((l.num_calls(), u.num_calls()), (0, 0));
}

#[tokio::test]
async fn config_resolves_the_user_id_once_and_deactivates_only_stale_keys() {
    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(
                aws_sdk_iam::types::User::builder()
                    .user_name("bob")
                    .user_id("AIDAOTHERUSER0000001")
                    .arn("arn:aws:iam::1:user/bob")
                    .path("/")
                    .create_date(days_ago(1))
                    .build()
                    .unwrap(),
            )
            .users(
                aws_sdk_iam::types::User::builder()
                    .user_name("alice")
                    .user_id("AIDAW6MN5QPJPMC7R4QBE")
                    .arn("arn:aws:iam::1:user/alice")
                    .path("/")
                    .create_date(days_ago(1))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let t = no_tags();
    let l = mock!(Client::list_access_keys)
        .sequence()
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, true, 200))
                .access_key_metadata(key(OTHER, true, 5))
                .build()
                .unwrap()
        })
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, false, 200))
                .access_key_metadata(key(OTHER, true, 5))
                .build()
                .unwrap()
        })
        .build();
    let u = update_ok();
    let g = mock!(Client::tag_user).then_output(|| TagUserOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&users, &t, &l, &u, &g]);
    let target = Target::new(
        Some(User::Id("AIDAW6MN5QPJPMC7R4QBE".into())),
        Rule::OlderThan(90),
        "f".into(),
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert!(
        steps[0].detail.contains("user=alice") && steps[0].detail.contains("200 days old"),
        "{steps:?}"
    );
    assert_eq!(u.num_calls(), 1, "only the stale key");
    assert_eq!(users.num_calls(), 1, "the id is resolved once per finding");
}

#[tokio::test]
async fn unused_keys_are_judged_by_last_use() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(KEY, true, 400))
            .build()
            .unwrap()
    });
    let last = mock!(Client::get_access_key_last_used).then_output(|| {
        GetAccessKeyLastUsedOutput::builder()
            .access_key_last_used(
                AccessKeyLastUsed::builder()
                    .last_used_date(days_ago(3))
                    .service_name("s3")
                    .region("us-east-1")
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last]);
    let target = Target::new(
        Some(User::Name("alice".into())),
        Rule::UnusedFor(90),
        "f".into(),
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(out, Outcome::AlreadyCompliant { .. }),
        "an old key used 3 days ago is in use: {out:?}"
    );
}

fn parse(name: &str) -> Finding {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    quell::event::Envelope::parse_slice(text.as_bytes())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

#[test]
fn targets_from_each_source() {
    let r = IamDisableAccessKey::default();
    let f = parse("config-compliance-access-keys-rotated.json");
    assert!(IamDisableAccessKey::SPEC.matches(&f));
    assert_eq!(
        r.target(&f).unwrap(),
        Target::new(
            Some(User::Id("AIDAW6MN5QPJPMC7R4QBE".into())),
            Rule::OlderThan(90),
            f.id.clone()
        )
    );

    let root = parse("guardduty-iam-rootcredentialusage.json");
    assert!(IamDisableAccessKey::SPEC.matches(&root));
    let err = r.target(&root).unwrap_err();
    assert!(
        err.0.starts_with("escalated") && err.0.contains("A person must"),
        "{err}"
    );

    let stolen = parse("guardduty-iam-unauthorizedaccess-maliciousipcaller.json");
    assert!(IamDisableAccessKey::SPEC.matches(&stolen));
    let t = r.target(&stolen).unwrap();
    assert_eq!(t.rule, Rule::Key("AKIAQUELLDEMOLEAKED1".into()));

    let role = parse("guardduty-iam-instancecredentialexfiltration-outsideaws.json");
    assert!(
        !IamDisableAccessKey::SPEC.matches(&role),
        "assumed-role credentials are iam-revoke-role-sessions'"
    );
}

#[test]
fn thresholds_are_configurable_and_checked() {
    let mut r = IamDisableAccessKey::default();
    r.configure(&|k| (k == "QUELL_KEY_MAX_AGE_DAYS").then(|| "30".to_string()))
        .unwrap();
    assert_eq!(r.max_key_age_days, 30);
    let err = r
        .configure(&|k| (k == "QUELL_KEY_UNUSED_DAYS").then(|| "soon".to_string()))
        .unwrap_err();
    assert_eq!(err.var, "QUELL_KEY_UNUSED_DAYS");
}
