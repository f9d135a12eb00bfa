use super::*;
use aws_sdk_iam::operation::create_login_profile::CreateLoginProfileOutput;
use aws_sdk_iam::operation::delete_login_profile::{
    DeleteLoginProfileError, DeleteLoginProfileOutput,
};
use aws_sdk_iam::operation::delete_user_policy::DeleteUserPolicyOutput;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::get_login_profile::{GetLoginProfileError, GetLoginProfileOutput};
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::get_user_policy::{GetUserPolicyError, GetUserPolicyOutput};
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysError;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput;
use aws_sdk_iam::operation::tag_user::TagUserOutput;
use aws_sdk_iam::operation::update_access_key::{UpdateAccessKeyError, UpdateAccessKeyOutput};
use aws_sdk_iam::types::{AccessKeyLastUsed, AccessKeyMetadata, LoginProfile};
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
    // Never used: not in production use, so the rotation rule deactivates it.
    let never = never_used();
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&users, &t, &l, &u, &g, &never]
    );
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
    let p = no_password();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &p]);
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
    assert_eq!(p.num_calls(), 1, "the console password was looked for");
}

/// The user has no console password: GetLoginProfile says NoSuchEntity.
fn no_password() -> MockRule {
    mock!(Client::get_login_profile).then_error(|| {
        GetLoginProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
    })
}

/// Alice's login profile, made `created` days ago.
fn profile_made(created: u64) -> GetLoginProfileOutput {
    GetLoginProfileOutput::builder()
        .login_profile(
            LoginProfile::builder()
                .user_name("alice")
                .create_date(days_ago(created))
                .build()
                .unwrap(),
        )
        .build()
}

/// A console password (login profile) made `created` days ago.
fn password_made(created: u64) -> MockRule {
    mock!(Client::get_login_profile)
        .match_requests(|r| r.user_name() == Some("alice"))
        .then_output(move || profile_made(created))
}

/// A login profile made `created` days ago, gone at every read after the first.
fn password_made_then_gone(created: u64) -> MockRule {
    mock!(Client::get_login_profile)
        .sequence()
        .output(move || profile_made(created))
        .error(|| {
            GetLoginProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .repeatedly()
        .build()
}

fn delete_password_ok() -> MockRule {
    mock!(Client::delete_login_profile)
        .match_requests(|r| r.user_name() == Some("alice"))
        .then_output(|| DeleteLoginProfileOutput::builder().build())
}

/// CreateLoginProfile of alice, reset required; the password sent is kept for the test to check.
fn create_password_ok() -> (MockRule, std::sync::Arc<std::sync::Mutex<Option<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let stash = seen.clone();
    let rule = mock!(Client::create_login_profile)
        .match_requests(move |r| {
            if let Some(p) = r.password() {
                *stash.lock().unwrap() = Some(p.to_string());
            }
            r.user_name() == Some("alice") && r.password_reset_required() == Some(true)
        })
        .then_output(|| {
            CreateLoginProfileOutput::builder()
                .login_profile(
                    LoginProfile::builder()
                        .user_name("alice")
                        .create_date(days_ago(0))
                        .password_reset_required(true)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    (rule, seen)
}

/// QUELL_DELETE_UNUSED_PASSWORDS=false: passwords are reported, never deleted.
fn keeping_passwords() -> IamDisableAccessKey {
    IamDisableAccessKey {
        delete_unused_passwords: false,
        ..IamDisableAccessKey::default()
    }
}

/// GetUser of alice: her password last used `used` days ago (`None`: never).
fn password_used(used: Option<u64>) -> MockRule {
    mock!(Client::get_user)
        .match_requests(|r| r.user_name() == Some("alice"))
        .then_output(move || {
            GetUserOutput::builder()
                .user(
                    aws_sdk_iam::types::User::builder()
                        .user_name("alice")
                        .user_id("AIDAW6MN5QPJPMC7R4QBE")
                        .arn("arn:aws:iam::1:user/alice")
                        .path("/")
                        .create_date(days_ago(400))
                        .set_password_last_used(used.map(days_ago))
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

/// Alice's one key, 400 days old and used 3 days ago: in use, nothing to deactivate.
fn a_used_key() -> (MockRule, MockRule) {
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(KEY, true, 400))
            .build()
            .unwrap()
    });
    (l, used_days_ago(3))
}

fn unused_target() -> Target {
    Target::new(
        Some(User::Name("alice".into())),
        Rule::UnusedFor(90),
        "finding-1".into(),
    )
}

#[tokio::test]
async fn an_unused_password_is_deleted_verified_and_resolved() {
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made_then_gone(300), password_used(Some(200)));
    let (d, u, tag) = (delete_password_ok(), update_ok(), tag_ok());
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &last, &p, &g, &d, &u, &tag]
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("the password is deleted and the re-read finds no login profile: {out:?}")
    };
    assert_eq!(steps[0].action, DELETE_LOGIN_PROFILE, "{steps:?}");
    assert!(
        steps[0].detail.contains("user=alice")
            && steps[0]
                .detail
                .contains("console password unused 200 days, over 90"),
        "{}",
        steps[0].detail
    );
    assert_eq!(steps[1].action, TAG);
    assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Resolved));
    assert_eq!(d.num_calls(), 1);
    assert_eq!(
        p.num_calls(),
        2,
        "read, then re-read after the change: NoSuchEntity"
    );
    assert_eq!((u.num_calls(), tag.num_calls()), (0, 1));
}

#[tokio::test]
async fn a_login_profile_that_cannot_be_deleted_fails_and_is_not_resolved() {
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(300), password_used(Some(200)));
    let d = mock!(Client::delete_login_profile).then_error(|| {
        DeleteLoginProfileError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let tag = tag_ok();
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &last, &p, &g, &d, &tag]
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Failed { retryable: false, code: Some(c), .. } if c == "AccessDenied"),
        "{out:?}"
    );
    assert_eq!(tag.num_calls(), 0);
}

#[tokio::test]
async fn with_deletion_off_a_password_unused_too_long_is_unconfirmed_and_kept() {
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(300), password_used(Some(200)));
    let (d, u, tag) = (delete_password_ok(), update_ok(), tag_ok());
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &last, &p, &g, &d, &u, &tag]
    );
    let out = execute(
        &keeping_passwords(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("the keys are fine but the password is not: {out:?}")
    };
    assert!(
        unchecked.contains("console password of alice is unused for 200 days (over 90)")
            && unchecked.contains("QUELL_DELETE_UNUSED_PASSWORDS=false")
            && unchecked.contains("a person must delete the login profile"),
        "{unchecked}"
    );
    assert_eq!(out.workflow(), Some(quell::outcome::Workflow::Notified));
    assert_eq!((p.num_calls(), g.num_calls()), (1, 1));
    // Nothing is written: no key, no tag, no login profile deleted.
    assert_eq!((u.num_calls(), tag.num_calls(), d.num_calls()), (0, 0, 0));
}

#[tokio::test]
async fn a_never_used_password_is_judged_from_its_login_profile() {
    // Dry run: the plan shows the deletion, and nothing is deleted.
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(150), password_used(None));
    let (d, tag) = (delete_password_ok(), tag_ok());
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &last, &p, &g, &d, &tag]
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps[0].action, DELETE_LOGIN_PROFILE, "{steps:?}");
    assert!(
        steps[0].detail.contains("unused 150 days, over 90"),
        "{}",
        steps[0].detail
    );
    assert_eq!((d.num_calls(), tag.num_calls()), (0, 0));

    // Made 10 days ago, after a last use 200 days ago (a login profile made again): unused for
    // 10 days only.
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(10), password_used(Some(200)));
    let d = delete_password_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &p, &g, &d]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
    assert_eq!(d.num_calls(), 0);

    // Made 10 days ago and never used: not yet over the days.
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(10), password_used(None));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &p, &g]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
}

#[tokio::test]
async fn a_password_used_recently_is_already_compliant() {
    let t = no_tags();
    let (l, last) = a_used_key();
    let (p, g) = (password_made(300), password_used(Some(1)));
    let d = delete_password_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &p, &g, &d]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
    assert_eq!(g.num_calls(), 1, "the password's last use was read");
    assert_eq!(d.num_calls(), 0, "a password in use is left");
}

#[tokio::test]
async fn a_login_profile_that_cannot_be_read_fails_and_is_not_resolved() {
    let t = no_tags();
    let (l, last) = a_used_key();
    let p = mock!(Client::get_login_profile).then_error(|| {
        GetLoginProfileError::generic(ErrorMetadata::builder().code("AccessDenied").build())
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &p]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Failed { retryable: false, code: Some(c), .. } if c == "AccessDenied"),
        "{out:?}"
    );
}

#[tokio::test]
async fn with_deletion_off_unused_keys_are_deactivated_and_the_note_says_the_password_was_left() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys)
        .sequence()
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, true, 200))
                .build()
                .unwrap()
        })
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, false, 200))
                .build()
                .unwrap()
        })
        .repeatedly()
        .build();
    let last = never_used();
    let (p, g) = (password_made(300), password_used(Some(200)));
    let (u, tag, d) = (update_ok(), tag_ok(), delete_password_ok());
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &last, &p, &g, &u, &tag, &d]
    );
    let out = execute(
        &keeping_passwords(),
        &iam,
        &unused_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    // The key is deactivated (the change stands), but the password still fails the control:
    // UNCONFIRMED, never RESOLVED; the note says what was done and what was left.
    let Outcome::Unconfirmed { checked, unchecked } = &out else {
        panic!("{out:?}")
    };
    assert!(
        checked.contains("iam:UpdateAccessKey") && checked.contains("status=Inactive"),
        "{checked}"
    );
    assert!(
        unchecked.contains("unused for 200 days (over 90)"),
        "{unchecked}"
    );
    let note = out.note("iam-disable-access-key", "access keys of alice");
    assert!(
        note.contains("a person must delete the login profile"),
        "{note}"
    );
    assert_eq!((u.num_calls(), tag.num_calls(), d.num_calls()), (1, 1, 0));
}

#[tokio::test]
async fn prior_records_the_keys_and_the_login_profile_and_undo_puts_both_back() {
    let r = IamDisableAccessKey::default();
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(KEY, true, 200))
            .build()
            .unwrap()
    });
    let last = never_used();
    let (p, g) = (password_made(300), password_used(Some(200)));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&l, &last, &p, &g]);
    let target = unused_target();
    let prior = r.prior(&iam, &target).await.unwrap().unwrap();
    assert_eq!(prior["user"], "alice");
    assert_eq!(prior["active_keys"], serde_json::json!([KEY]));
    let profile = &prior["login_profile"];
    assert_eq!(profile["user_name"], "alice", "{prior}");
    assert_eq!(profile["password_reset_required"], false, "{prior}");
    assert!(
        profile["create_date"]
            .as_str()
            .is_some_and(|d| DateTime::from_str(d, Format::DateTime).is_ok()),
        "{prior}"
    );

    let up = mock!(Client::update_access_key)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.access_key_id() == Some(KEY)
                && r.status() == Some(&StatusType::Active)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let none = no_password();
    let (c, sent) = create_password_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&up, &none, &c]);
    let steps = r.restore(&iam, &prior).await.unwrap();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(
        (steps[0].action, steps[1].action),
        (UPDATE, CREATE_LOGIN_PROFILE)
    );
    let text = &steps[1].detail;
    assert!(
        text.contains("no one can sign in until a person sets one")
            && text.contains("the old password cannot be restored")
            && text.contains(
                "aws iam update-login-profile --user-name alice --password ... --password-reset-required"
            ),
        "{text}"
    );
    assert_eq!((up.num_calls(), none.num_calls(), c.num_calls()), (1, 1, 1));
    // A fresh password, strong enough for any policy, that nothing quell returns repeats.
    let password = sent.lock().unwrap().clone().expect("a password was sent");
    assert!(password.len() >= 32 && every_class(&password));
    assert!(
        steps.iter().all(|s| !s.detail.contains(&password))
            && !prior.to_string().contains(&password)
    );
}

#[tokio::test]
async fn undo_of_an_older_record_restores_keys_alone_and_a_login_profile_made_since_is_kept() {
    let r = IamDisableAccessKey::default();
    let up = mock!(Client::update_access_key)
        .match_requests(|r| r.status() == Some(&StatusType::Active))
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let p = password_made(1);
    let (c, sent) = create_password_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&up, &p, &c]);

    // Recorded before quell deleted passwords: no `login_profile`, and none is looked at.
    let steps = r
        .restore(
            &iam,
            &serde_json::json!({"user": "alice", "active_keys": [KEY]}),
        )
        .await
        .unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, UPDATE);
    assert_eq!((up.num_calls(), p.num_calls(), c.num_calls()), (1, 0, 0));

    // Alice has a login profile again (made since): left as it is, no password set.
    let deleted = serde_json::json!({
        "user": "alice",
        "active_keys": [],
        "login_profile": {"user_name": "alice", "create_date": "2026-01-01T00:00:00Z", "password_reset_required": false}
    });
    let steps = r.restore(&iam, &deleted).await.unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, GET_LOGIN_PROFILE);
    assert!(
        steps[0].detail.contains("left as it is"),
        "{}",
        steps[0].detail
    );
    assert_eq!((p.num_calls(), c.num_calls()), (1, 0));
    assert!(sent.lock().unwrap().is_none());

    // A login profile of another user, or no login profile at all, is refused before any call.
    for bad in [
        serde_json::json!({"user": "alice", "active_keys": [KEY], "login_profile": {"user_name": "bob"}}),
        serde_json::json!({"user": "alice", "active_keys": [KEY], "login_profile": "yes"}),
    ] {
        let err = r.restore(&iam, &bad).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("InvalidPriorState"), "{bad}");
    }
    assert_eq!(
        (up.num_calls(), p.num_calls()),
        (1, 1),
        "nothing is called for a bad record"
    );
}

#[test]
fn generated_passwords_are_long_random_and_of_every_class() {
    let passwords: Vec<String> = (0..20).map(|_| random_password().unwrap()).collect();
    for p in &passwords {
        assert!(p.len() >= 32 && p.len() == PASSWORD_LENGTH, "{}", p.len());
        assert!(p.bytes().any(|b| b.is_ascii_uppercase()));
        assert!(p.bytes().any(|b| b.is_ascii_lowercase()));
        assert!(p.bytes().any(|b| b.is_ascii_digit()));
        assert!(p.bytes().any(|b| b"!@#$%^&*()_+-=[]{}|'".contains(&b)));
        assert!(
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!@#$%^&*()_+-=[]{}|'".contains(&b)),
            "only what IAM accepts"
        );
    }
    let distinct: std::collections::BTreeSet<&String> = passwords.iter().collect();
    assert_eq!(distinct.len(), passwords.len(), "a password came twice");
    // Every character of the alphabet turns up (each about 31 times in 2,560).
    let seen: std::collections::BTreeSet<u8> = passwords.iter().flat_map(|p| p.bytes()).collect();
    assert_eq!(seen.len(), 26 + 26 + 10 + PASSWORD_SYMBOLS.len());
    assert!(!every_class("abcABC123"), "no symbol");
    assert!(every_class("aA1!"));
}

#[test]
fn password_deletion_is_on_by_default_and_configurable() {
    let mut r = IamDisableAccessKey::default();
    assert!(r.delete_unused_passwords);
    r.configure(&|k| (k == "QUELL_DELETE_UNUSED_PASSWORDS").then(|| "false".to_string()))
        .unwrap();
    assert!(!r.delete_unused_passwords);
    r.configure(&|k| (k == "QUELL_DELETE_UNUSED_PASSWORDS").then(|| " true ".to_string()))
        .unwrap();
    assert!(r.delete_unused_passwords);
    let err = r
        .configure(&|k| (k == "QUELL_DELETE_UNUSED_PASSWORDS").then(|| "no".to_string()))
        .unwrap_err();
    assert_eq!(err.var, "QUELL_DELETE_UNUSED_PASSWORDS");
    assert!(err.reason.contains("`no`"), "{}", err.reason);
    let spec = IamDisableAccessKey::SPEC;
    assert!(spec.permissions.contains(&DELETE_LOGIN_PROFILE));
    assert!(
        spec.undo_permissions.contains(&CREATE_LOGIN_PROFILE)
            && !spec.permissions.contains(&CREATE_LOGIN_PROFILE),
        "only an undo makes a login profile"
    );
}

#[tokio::test]
async fn only_the_unused_rules_read_the_password() {
    let (t, l, u, g) = (no_tags(), keys_then_inactive(), update_ok(), tag_ok());
    let (p, user) = (password_made(300), password_used(Some(200)));
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g, &p, &user]);
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
    assert!(
        steps.iter().all(|s| !s.detail.contains("password")),
        "{steps:?}"
    );
    assert_eq!(
        (p.num_calls(), user.num_calls()),
        (0, 0),
        "a leaked key's finding is not about the password"
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
    assert_eq!(t.severity, Some(Severity::Medium));

    // A temporary key of the user's: the user's older sessions, not a key in ListAccessKeys.
    let mut session = stolen.clone();
    session.principal.as_mut().unwrap().access_key_id = Some("ASIAQUELLDEMOTEMP001".into());
    let t = r.target(&session).unwrap();
    assert_eq!(
        t.rule,
        Rule::Sessions {
            key: "ASIAQUELLDEMOTEMP001".into(),
            since: at("2026-11-28T10:05:00Z")
        }
    );
    assert_eq!(t.user, Some(User::Name("ci-deployer".into())));
    assert_eq!(r.describe(&t), "sessions of user ci-deployer");
    session.principal.as_mut().unwrap().user_name = None;
    assert!(r
        .target(&session)
        .unwrap_err()
        .0
        .contains("names no IAM user"));

    let role = parse("guardduty-iam-instancecredentialexfiltration-outsideaws.json");
    assert!(
        !IamDisableAccessKey::SPEC.matches(&role),
        "assumed-role credentials are iam-revoke-role-sessions'"
    );
    // Should one reach it all the same, it is a role's session, not a user's key.
    assert_eq!(
        r.target(&role).unwrap().rule,
        Rule::RoleSession {
            role: "app-server-role".into(),
            key: "ASIAQUELLDEMOSTOLEN1".into()
        }
    );

    let rotated = parse("securityhub-imported-fsbp-iam-3.json");
    assert!(IamDisableAccessKey::SPEC.matches(&rotated));
    let t = r.target(&rotated).unwrap();
    assert_eq!(
        (t.rule.clone(), t.rotation, t.severity),
        (Rule::OlderThan(90), true, None),
        "a posture finding is not held to the GuardDuty severity"
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

    let mut r = IamDisableAccessKey::default();
    assert_eq!((r.in_use_days, r.min_severity), (7, Severity::Medium));
    r.configure(&|k| match k {
        "QUELL_KEY_IN_USE_DAYS" => Some("14".to_string()),
        "QUELL_KEY_MIN_SEVERITY" => Some("high".to_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!((r.in_use_days, r.min_severity), (14, Severity::High));
    let err = r
        .configure(&|k| (k == "QUELL_KEY_MIN_SEVERITY").then(|| "urgent".to_string()))
        .unwrap_err();
    assert_eq!(err.var, "QUELL_KEY_MIN_SEVERITY");
}

fn at(s: &str) -> DateTime {
    DateTime::from_str(s, Format::DateTime).unwrap()
}

fn never_used() -> MockRule {
    mock!(Client::get_access_key_last_used)
        .then_output(|| GetAccessKeyLastUsedOutput::builder().build())
}

fn used_days_ago(d: u64) -> MockRule {
    mock!(Client::get_access_key_last_used).then_output(move || {
        GetAccessKeyLastUsedOutput::builder()
            .access_key_last_used(
                AccessKeyLastUsed::builder()
                    .last_used_date(days_ago(d))
                    .service_name("s3")
                    .region("us-east-1")
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

#[tokio::test]
async fn an_old_key_in_daily_use_is_planned_not_deactivated() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(KEY, true, 200))
            .access_key_metadata(key(OTHER, true, 5))
            .build()
            .unwrap()
    });
    let last = used_days_ago(1);
    let (u, g) = (update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &u, &g]);
    let target = Target::new(
        Some(User::Name("alice".into())),
        Rule::OlderThan(90),
        "finding-1".into(),
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, reason } = &out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("daily use")
            && reason.contains(KEY)
            && reason.contains("breaks production"),
        "{reason}"
    );
    assert!(
        steps[0].detail.contains(KEY) && steps[0].detail.contains("last used 1 days ago"),
        "{steps:?}"
    );
    assert_eq!(last.num_calls(), 1, "only the old key's use is read");
    assert_eq!((u.num_calls(), g.num_calls()), (0, 0));
}

#[tokio::test]
async fn an_old_key_used_before_the_in_use_window_is_deactivated() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys)
        .sequence()
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, true, 200))
                .build()
                .unwrap()
        })
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, false, 200))
                .build()
                .unwrap()
        })
        .build();
    let last = used_days_ago(30);
    let u = update_ok();
    let g = mock!(Client::tag_user).then_output(|| TagUserOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &last, &u, &g]);
    let target = Target::new(
        Some(User::Name("alice".into())),
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
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(u.num_calls(), 1);
}

#[tokio::test]
async fn a_guardduty_finding_below_the_minimum_severity_is_planned() {
    let (t, l, u, g) = (no_tags(), keys_then_inactive(), update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g]);
    let mut low = target();
    low.severity = Some(Severity::Low);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &low,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Planned { steps, reason } = &out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("LOW is below QUELL_KEY_MIN_SEVERITY MEDIUM"),
        "{reason}"
    );
    assert_eq!(steps[0].action, UPDATE);
    assert_eq!((u.num_calls(), g.num_calls()), (0, 0));

    // At the minimum, it acts.
    let (t, l, u, g) = (no_tags(), keys_then_inactive(), update_ok(), tag_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u, &g]);
    let mut medium = target();
    medium.severity = Some(Severity::Medium);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &medium,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
}

#[tokio::test]
async fn a_named_key_the_user_does_not_have_is_unconfirmed_not_resolved() {
    let t = no_tags();
    let l = mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .access_key_metadata(key(OTHER, true, 10))
            .build()
            .unwrap()
    });
    let u = update_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l, &u]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains(KEY) && unchecked.contains("not among the keys of alice"),
        "{unchecked}"
    );
    assert_eq!(u.num_calls(), 0);
}

fn session_target() -> Target {
    Target::new(
        Some(User::Name("alice".into())),
        Rule::Sessions {
            key: "ASIAQUELLDEMOTEMP001".into(),
            since: at("2026-11-28T10:05:00Z"),
        },
        "finding-1".into(),
    )
}

fn user_policy_with(cut: &'static str) -> GetUserPolicyOutput {
    // As IAM returns it: URL-encoded.
    let doc = sessions_policy(&at(cut))
        .to_string()
        .replace(':', "%3A")
        .replace('"', "%22")
        .replace('{', "%7B")
        .replace('}', "%7D");
    GetUserPolicyOutput::builder()
        .user_name("alice")
        .policy_name(SESSIONS_POLICY)
        .policy_document(doc)
        .build()
        .unwrap()
}

fn put_user_policy_ok() -> MockRule {
    mock!(Client::put_user_policy)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.policy_name() == Some(SESSIONS_POLICY)
                && r.policy_document()
                    .is_some_and(|d| d.contains("aws:TokenIssueTime") && d.contains("\"Deny\""))
        })
        .then_output(|| PutUserPolicyOutput::builder().build())
}

#[tokio::test]
async fn a_users_temporary_key_denies_the_users_older_sessions() {
    let t = no_tags();
    let g = mock!(Client::get_user_policy)
        .sequence()
        .error(|| {
            GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .output(|| user_policy_with("2099-01-01T00:00:00Z"))
        .build();
    let p = put_user_policy_ok();
    // ListAccessKeys never shows a temporary key: it is not read, and no key is touched.
    let (l, u) = (keys_then_inactive(), update_ok());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p, &l, &u]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &session_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, PUT_POLICY);
    assert!(
        steps[0].detail.contains("ASIAQUELLDEMOTEMP001"),
        "{}",
        steps[0].detail
    );
    assert_eq!(p.num_calls(), 1);
    assert_eq!((l.num_calls(), u.num_calls()), (0, 0));
}

#[tokio::test]
async fn a_session_cutoff_after_the_theft_holds_and_an_older_one_moves_forward() {
    let t = no_tags();
    let g = mock!(Client::get_user_policy).then_output(|| user_policy_with("2026-11-28T11:00:00Z"));
    let p = put_user_policy_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &session_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(matches!(out, Outcome::AlreadyCompliant { .. }), "{out:?}");
    assert_eq!(p.num_calls(), 0);

    let t = no_tags();
    let g = mock!(Client::get_user_policy)
        .sequence()
        .output(|| user_policy_with("2026-01-01T00:00:00Z"))
        .output(|| user_policy_with("2099-01-01T00:00:00Z"))
        .build();
    let p = put_user_policy_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &session_target(),
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert!(
        steps[0]
            .detail
            .contains("the cut-off moves from 2026-01-01T00:00:00Z"),
        "{}",
        steps[0].detail
    );
    assert_eq!(p.num_calls(), 1, "one policy, replaced");
}

#[tokio::test]
async fn a_low_severity_session_theft_is_planned() {
    let t = no_tags();
    let g = mock!(Client::get_user_policy).then_error(|| {
        GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
    });
    let p = put_user_policy_ok();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &g, &p]);
    let mut low = session_target();
    low.severity = Some(Severity::Low);
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &low,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert!(
        matches!(&out, Outcome::Planned { steps, .. } if steps[0].action == PUT_POLICY),
        "{out:?}"
    );
    assert_eq!(p.num_calls(), 0);
}

#[tokio::test]
async fn a_role_sessions_key_is_unconfirmed_with_no_call() {
    let (t, l) = (no_tags(), keys_then_inactive());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&t, &l]);
    let target = Target::new(
        None,
        Rule::RoleSession {
            role: "app-server-role".into(),
            key: "ASIAQUELLDEMOSTOLEN1".into(),
        },
        "finding-1".into(),
    );
    let out = execute(
        &IamDisableAccessKey::default(),
        &iam,
        &target,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("iam-revoke-role-sessions") && unchecked.contains("app-server-role"),
        "{unchecked}"
    );
    assert_eq!((t.num_calls(), l.num_calls()), (0, 0));
}

#[tokio::test]
async fn undo_puts_back_the_session_policy_or_removes_it() {
    let r = IamDisableAccessKey::default();
    let d = mock!(Client::delete_user_policy)
        .match_requests(|r| {
            r.user_name() == Some("alice") && r.policy_name() == Some(SESSIONS_POLICY)
        })
        .then_output(|| DeleteUserPolicyOutput::builder().build());
    let p = mock!(Client::put_user_policy)
        .match_requests(|r| r.policy_document() == Some("{\"old\":1}"))
        .then_output(|| PutUserPolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&d, &p]);

    let steps = r
        .restore(&iam, &serde_json::json!({"user": "alice", "policy": null}))
        .await
        .unwrap();
    assert_eq!(steps[0].action, DELETE_POLICY);
    let steps = r
        .restore(
            &iam,
            &serde_json::json!({"user": "alice", "policy": "{\"old\":1}"}),
        )
        .await
        .unwrap();
    assert_eq!(steps[0].action, PUT_POLICY);
    assert_eq!((d.num_calls(), p.num_calls()), (1, 1));

    let bad = r
        .restore(&iam, &serde_json::json!({"user": "../x", "policy": null}))
        .await
        .unwrap_err();
    assert_eq!(bad.code.as_deref(), Some("InvalidPriorState"));
    assert_eq!(d.num_calls(), 1, "nothing is called for a bad record");
}

#[test]
fn session_policies_read_back_their_cutoff() {
    let p = sessions_policy(&at("2026-11-28T10:05:00Z")).to_string();
    assert_eq!(
        cutoff(&p).unwrap().secs(),
        at("2026-11-28T10:05:00Z").secs()
    );
    assert!(cutoff("{\"Statement\":[]}").is_none());
}

/// A contained user's keys: both active at first, both inactive after.
fn both_keys_then_inactive() -> MockRule {
    mock!(Client::list_access_keys)
        .sequence()
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, true, 10))
                .access_key_metadata(key(OTHER, true, 10))
                .build()
                .unwrap()
        })
        .times(1)
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(KEY, false, 10))
                .access_key_metadata(key(OTHER, false, 10))
                .build()
                .unwrap()
        })
        .repeatedly()
        .build()
}

/// GetUserPolicy quell-contain-user: none at first, then the deny-all.
fn contain_policy_then_put() -> MockRule {
    mock!(Client::get_user_policy)
        .match_requests(|r| r.policy_name() == Some(CONTAIN_POLICY))
        .sequence()
        .error(|| {
            GetUserPolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .times(1)
        .output(|| {
            GetUserPolicyOutput::builder()
                .user_name("alice")
                .policy_name(CONTAIN_POLICY)
                .policy_document(contain_policy().to_string())
                .build()
                .unwrap()
        })
        .repeatedly()
        .build()
}

fn contained_target() -> Target {
    let mut t = target();
    t.contain = true;
    t
}

#[tokio::test]
async fn a_contained_user_loses_every_key_its_console_access_and_everything_else() {
    let (t, l, g) = (no_tags(), both_keys_then_inactive(), tag_ok());
    let u = mock!(Client::update_access_key)
        .match_requests(|r| r.status() == Some(&StatusType::Inactive))
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    // Read by the plan, deleted, then gone at the re-read.
    let lp = mock!(Client::get_login_profile)
        .sequence()
        .output(|| profile_made(30))
        .times(1)
        .error(|| {
            GetLoginProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .repeatedly()
        .build();
    let (d, p) = (
        delete_password_ok(),
        mock!(Client::put_user_policy)
            .match_requests(|r| {
                r.policy_name() == Some(CONTAIN_POLICY)
                    && r.policy_document()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                        == Some(contain_policy())
            })
            .then_output(|| PutUserPolicyOutput::builder().build()),
    );
    let cp = contain_policy_then_put();
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&t, &l, &u, &g, &lp, &d, &p, &cp]
    );
    let r = IamDisableAccessKey::default();
    let target = contained_target();
    let out = execute(&r, &iam, &target, Mode::Enforce, "quell:exempt").await;
    let Outcome::Remediated { steps } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(
        steps.iter().filter(|s| s.action == UPDATE).count(),
        2,
        "{steps:?}"
    );
    assert_eq!(
        (u.num_calls(), d.num_calls(), p.num_calls(), g.num_calls()),
        (2, 1, 1, 1)
    );
}

#[tokio::test]
async fn the_contained_users_prior_is_what_undo_puts_back() {
    let (l, lp, cp) = (
        both_keys_then_inactive(),
        password_made(30),
        contain_policy_then_put(),
    );
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&l, &lp, &cp]);
    let r = IamDisableAccessKey::default();
    let target = contained_target();
    let prior = r.prior(&iam, &target).await.unwrap().unwrap();
    assert_eq!(prior["active_keys"], serde_json::json!([KEY, OTHER]));
    assert_eq!(prior["login_profile"]["user_name"], "alice");
    assert_eq!(prior["contain_policy"], serde_json::json!({"was": null}));

    let react = mock!(Client::update_access_key)
        .match_requests(|r| r.status() == Some(&StatusType::Active))
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let (create, _) = create_password_ok();
    let lift = mock!(Client::delete_user_policy)
        .match_requests(|r| {
            r.policy_name() == Some(CONTAIN_POLICY) && r.user_name() == Some("alice")
        })
        .then_output(|| DeleteUserPolicyOutput::builder().build());
    let gone = no_password();
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&react, &create, &lift, &gone]
    );
    let steps = r.restore(&iam, &prior).await.unwrap();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert_eq!((react.num_calls(), lift.num_calls()), (2, 1));

    // A record whose policy is not a document or null changes nothing.
    let mut bad = prior.clone();
    bad["contain_policy"] = serde_json::json!({"was": 7});
    assert_eq!(
        r.restore(&iam, &bad).await.unwrap_err().code.as_deref(),
        Some("InvalidPriorState")
    );
    assert_eq!(react.num_calls(), 2);
}

#[test]
fn only_a_finding_at_or_over_the_containment_severity_contains_the_user() {
    let event = |severity: f64| {
        let mut e: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/guardduty-iam-unauthorizedaccess-maliciousipcaller.json"
        ))
        .unwrap();
        e["detail"]["severity"] = serde_json::json!(severity);
        quell::event::Envelope::parse(e)
            .unwrap()
            .findings
            .remove(0)
            .unwrap()
    };
    let r = IamDisableAccessKey::default();
    assert!(
        !r.target(&event(5.0)).unwrap().contain,
        "MEDIUM: the named key only"
    );
    assert!(r.target(&event(8.0)).unwrap().contain, "HIGH: the user");
    let mut critical_only = IamDisableAccessKey::default();
    critical_only
        .configure(&|k| (k == "QUELL_CONTAIN_USER_MIN_SEVERITY").then(|| "critical".into()))
        .unwrap();
    assert!(!critical_only.target(&event(8.0)).unwrap().contain);
    assert!(IamDisableAccessKey::default()
        .configure(&|k| (k == "QUELL_CONTAIN_USER_MIN_SEVERITY").then(|| "severe".into()))
        .is_err());
}

#[tokio::test]
async fn undo_goes_on_past_a_key_deleted_since() {
    let prior = serde_json::json!({
        "user": "alice",
        "active_keys": [KEY, OTHER],
        "contain_policy": {"was": null},
    });
    let react = mock!(Client::update_access_key)
        .sequence()
        .error(|| {
            UpdateAccessKeyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())
        })
        .output(|| UpdateAccessKeyOutput::builder().build())
        .build();
    let lift = mock!(Client::delete_user_policy)
        .match_requests(|r| r.policy_name() == Some(CONTAIN_POLICY))
        .then_output(|| DeleteUserPolicyOutput::builder().build());
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&react, &lift]);
    let steps = IamDisableAccessKey::default()
        .restore(&iam, &prior)
        .await
        .unwrap();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(steps[0].detail.contains("deleted since"), "{steps:?}");
    assert_eq!((react.num_calls(), lift.num_calls()), (2, 1));
}
