//! iam-disable-access-key and iam-revoke-role-sessions end to end, in a member account.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use iam_disable_access_key::{IamDisableAccessKey, SESSIONS_POLICY};
use iam_revoke_role_sessions::{IamRevokeRoleSessions, POLICY_NAME};
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};

fn enforce() -> Config {
    Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    }
}

async fn setup() -> (Emulator, aws_config::SdkConfig, aws_config::SdkConfig) {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    (emu, central, member)
}

fn parsed(event: &serde_json::Value) -> quell::Finding {
    quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap()
}

/// The user's inline policies: name → decoded document.
async fn user_policies(
    member: &aws_config::SdkConfig,
    user: &str,
) -> Vec<(String, serde_json::Value)> {
    let iam = aws_sdk_iam::Client::new(member);
    let names = iam
        .list_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .policy_names;
    let mut out = Vec::new();
    for n in names {
        let doc = iam
            .get_user_policy()
            .user_name(user)
            .policy_name(&n)
            .send()
            .await
            .unwrap()
            .policy_document;
        let doc = quell::policy::percent_decode(&doc);
        out.push((n, serde_json::from_str(&doc).unwrap()));
    }
    out
}

/// The calls quell's member roles made in the member account that change something.
async fn member_writes(emu: &Emulator) -> Vec<quell_tests::emulator::Call> {
    emu.calls()
        .await
        .into_iter()
        .filter(|c| {
            c.account == MEMBER
                && c.service == "iam"
                && !c.action.starts_with("List")
                && !c.action.starts_with("Get")
        })
        .collect()
}

fn hub_id(event: &serde_json::Value) -> (String, String) {
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let h = f
        .hub
        .clone()
        .unwrap_or(quell::finding::HubRef::asff(f.own_id(), ""));
    (h.id, h.product_arn)
}

/// The finding's copy on the member's Security Hub, naming `resource`; its id.
async fn seeded_hub(
    member: &aws_config::SdkConfig,
    event: &serde_json::Value,
    resource: (&str, &str),
) -> String {
    let (id, product) = hub_id(event);
    seed::hub_finding(member, MEMBER, &id, &product, resource).await;
    id
}

/// Read back: every key of the user inactive, and quell's deny-all its only inline policy.
async fn assert_contained(member: &aws_config::SdkConfig, user: &str) {
    let statuses = seed::key_statuses(member, user).await;
    assert!(
        statuses.len() == 2 && statuses.iter().all(|(_, s)| s == "Inactive"),
        "{statuses:?}"
    );
    assert_eq!(
        user_policies(member, user).await,
        [(
            iam_disable_access_key::CONTAIN_POLICY.to_string(),
            iam_disable_access_key::contain_policy()
        )]
    );
}

#[tokio::test]
async fn a_leaked_key_is_deactivated_not_deleted_and_the_user_tagged() {
    let (emu, central, member) = setup().await;
    let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    let event = events::load(
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &[("AKIAQUELLDEMOLEAKED1", &keys[0])],
    );
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamAccessKey", &keys[0]),
    )
    .await;
    let seeded = seed::key_statuses(&member, "ci-deployer").await;
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );
    let statuses = seed::key_statuses(&member, "ci-deployer").await;
    assert_eq!(statuses.len(), 2, "the key was deleted: {statuses:?}");
    for (k, s) in &statuses {
        let want = if *k == keys[0] { "Inactive" } else { "Active" };
        assert_eq!(s, want, "{k}");
    }
    let tags = seed::user_tags(&member, "ci-deployer").await;
    assert!(
        tags.contains(&(
            "quell:finding".to_string(),
            "e1a2b3c4d5e6f708192a3b4c5d6e7f80".to_string()
        )),
        "{tags:?}"
    );
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "RESOLVED");

    emu.clear_calls().await;
    // Another delivery of the finding (the same event id would be a DUPLICATE).
    let mut replay = event.clone();
    replay["id"] = serde_json::json!("guardduty-redelivered");
    let again = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, replay)
        .await
        .unwrap();
    assert_eq!(again.reports[0].outcome.name(), "ALREADY_COMPLIANT");
    let calls = emu.calls().await;
    assert!(
        calls
            .iter()
            .any(|c| c.account == MEMBER && c.action == "ListAccessKeys"),
        "the replay read the keys: {calls:?}"
    );
    let writes: Vec<_> = calls
        .into_iter()
        .filter(|c| c.action == "UpdateAccessKey" || c.action == "TagUser")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // `quell undo`: from the record, the key is active again, exactly as seeded; the tag stays,
    // the user's record of what happened.
    let f = quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let steps =
        quell_tests::undo_recorded(&emu, &ctx, &IamDisableAccessKey::default(), &f.id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(seed::key_statuses(&member, "ci-deployer").await, seeded);
}

#[tokio::test]
async fn config_names_the_user_by_id_and_fresh_keys_are_left_active() {
    let (emu, central, member) = setup().await;
    let (user_id, _) = seed::user_with_keys(&member, "ci-deployer").await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    // Keys created a moment ago are neither stale nor unused for 90 days: honest, no change.
    assert_eq!(
        resp.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        resp.reports[0]
    );
    assert!(
        resp.reports[0].note.contains(&user_id),
        "{}",
        resp.reports[0].note
    );
    assert!(seed::key_statuses(&member, "ci-deployer")
        .await
        .iter()
        .all(|(_, s)| s == "Active"));
    assert_eq!(
        seed::workflow(&central, &hub_id(&event).0).await.unwrap().0,
        "RESOLVED"
    );
    assert_eq!(
        emu.calls()
            .await
            .iter()
            .filter(|c| c.action == "ListUsers")
            .count(),
        1,
        "the id is looked up once"
    );
}

#[tokio::test]
async fn an_unused_key_is_deactivated_and_a_used_one_kept() {
    let (emu, central, member) = setup().await;
    let (user_id, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    // Both keys are 120 days old: the first never used, the second used yesterday.
    emu.age_access_key(MEMBER, &keys[0], 120, None).await;
    emu.age_access_key(MEMBER, &keys[1], 120, Some(1)).await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = context(&emu, enforce(), "iam-disable-access-key");

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );
    // Read back in the member account: exactly the unused key is Inactive, none deleted.
    let statuses = seed::key_statuses(&member, "ci-deployer").await;
    assert_eq!(statuses.len(), 2, "a key was deleted: {statuses:?}");
    for (k, s) in &statuses {
        let want = if *k == keys[0] { "Inactive" } else { "Active" };
        assert_eq!(s, want, "{k}: {statuses:?}");
    }
    let tags = seed::user_tags(&member, "ci-deployer").await;
    assert!(tags.iter().any(|(k, _)| k == "quell:finding"), "{tags:?}");
    // The outcome as Security Hub holds it: resolved, naming the deactivated key only.
    let (status, note) = seed::workflow(&central, &hub_id(&event).0).await.unwrap();
    assert_eq!(status, "RESOLVED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains(&keys[0]) && !note.contains(&keys[1]),
        "{note}"
    );

    // A replay re-reads and changes nothing: no IAM write in the member account.
    emu.clear_calls().await;
    let again = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        again.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        again.reports[0]
    );
    let calls = emu.calls().await;
    assert!(
        calls
            .iter()
            .any(|c| c.account == MEMBER && c.action == "GetAccessKeyLastUsed"),
        "the replay did not re-read the key's last use: {calls:?}"
    );
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| {
            c.service == "iam" && !c.action.starts_with("List") && !c.action.starts_with("Get")
        })
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(
        seed::key_statuses(&member, "ci-deployer").await,
        statuses,
        "the replay changed a key"
    );
    assert_eq!(
        seed::workflow(&central, &hub_id(&event).0).await.unwrap().0,
        "RESOLVED"
    );
}

/// A console password for the user, as a person would set one.
async fn login_profile(member: &aws_config::SdkConfig, user: &str) {
    aws_sdk_iam::Client::new(member)
        .create_login_profile()
        .user_name(user)
        .password("Quell-demo-Passw0rd!")
        .send()
        .await
        .expect("create login profile");
}

/// The user's login profile, as IAM answers the test's own identity in the member account
/// (`None`: NoSuchEntity).
async fn login_profile_of(
    member: &aws_config::SdkConfig,
    user: &str,
) -> Option<aws_sdk_iam::types::LoginProfile> {
    match aws_sdk_iam::Client::new(member)
        .get_login_profile()
        .user_name(user)
        .send()
        .await
    {
        Ok(out) => out.login_profile,
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            None
        }
        Err(e) => panic!("get login profile: {e:?}"),
    }
}

/// Whether the user still has a console password, read in the member account.
async fn has_login_profile(member: &aws_config::SdkConfig, user: &str) -> bool {
    login_profile_of(member, user).await.is_some()
}

/// iam-disable-access-key with QUELL_DELETE_UNUSED_PASSWORDS=false, read as the function reads
/// its settings at start-up.
fn keeping_passwords() -> IamDisableAccessKey {
    let mut r = IamDisableAccessKey::default();
    quell::Remediation::configure(&mut r, &|k: &str| {
        (k == "QUELL_DELETE_UNUSED_PASSWORDS").then(|| "false".to_string())
    })
    .unwrap();
    assert!(!r.delete_unused_passwords);
    r
}

#[tokio::test]
async fn a_console_password_unused_too_long_is_deleted_and_undo_makes_a_login_profile_again() {
    let (emu, central, member) = setup().await;
    let (user_id, _) = seed::user_with_keys(&member, "ci-deployer").await;
    // Fresh keys, and a console password made 300 days ago, last used 200 days ago: IAM.8
    // (iam-user-unused-credentials-check) fails for the password alone.
    login_profile(&member, "ci-deployer").await;
    emu.age_password(MEMBER, "ci-deployer", Some(300), Some(200))
        .await;
    let seeded_keys = seed::key_statuses(&member, "ci-deployer").await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    // quell's member role deleted the login profile, then read it again to verify.
    let calls: Vec<_> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.service == "iam")
        .collect();
    let deleted = calls
        .iter()
        .position(|c| c.action == "DeleteLoginProfile")
        .unwrap_or_else(|| panic!("no DeleteLoginProfile: {calls:?}"));
    assert!(
        calls[deleted + 1..]
            .iter()
            .any(|c| c.action == "GetLoginProfile"),
        "the deletion was not verified: {calls:?}"
    );
    let writes: Vec<String> = member_writes(&emu)
        .await
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(
        writes,
        ["DeleteLoginProfile", "TagUser"],
        "only the password"
    );
    // Read back with the test's own identity: no login profile, the fresh keys as they were.
    assert!(
        login_profile_of(&member, "ci-deployer").await.is_none(),
        "the login profile is still there"
    );
    assert_eq!(
        seed::key_statuses(&member, "ci-deployer").await,
        seeded_keys
    );
    // As Security Hub holds it: RESOLVED, naming what was deleted and why.
    let (status, note) = seed::workflow(&central, &hub_id(&event).0).await.unwrap();
    assert_eq!(status, "RESOLVED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("iam:DeleteLoginProfile user=ci-deployer")
            && note.contains("console password unused 200 days, over 90"),
        "{note}"
    );

    // Another delivery: nothing is left to delete, and nothing is written.
    emu.clear_calls().await;
    let mut replay = event.clone();
    replay["id"] = serde_json::json!("config-redelivered");
    let again = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, replay)
        .await
        .unwrap();
    assert_eq!(
        again.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        again.reports[0]
    );
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");

    // `quell undo`: the old password cannot come back (IAM never returns one); the login profile
    // is made again with a new one, to be reset, and the step says a person must set it.
    let f = parsed(&event);
    let steps =
        quell_tests::undo_recorded(&emu, &ctx, &IamDisableAccessKey::default(), &f.id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].action, "iam:CreateLoginProfile");
    assert!(
        steps[0]
            .detail
            .contains("no one can sign in until a person sets one")
            && steps[0].detail.contains("old password cannot be restored")
            && steps[0]
                .detail
                .contains("aws iam update-login-profile --user-name ci-deployer --password"),
        "{}",
        steps[0].detail
    );
    let profile = login_profile_of(&member, "ci-deployer")
        .await
        .expect("undo made no login profile");
    assert!(
        profile.password_reset_required,
        "the new password is not to be reset at sign-in: {profile:?}"
    );
    assert_eq!(
        seed::key_statuses(&member, "ci-deployer").await,
        seeded_keys
    );
}

#[tokio::test]
async fn with_deletion_off_a_console_password_unused_too_long_is_unconfirmed_and_kept() {
    let (emu, central, member) = setup().await;
    let (user_id, _) = seed::user_with_keys(&member, "ci-deployer").await;
    login_profile(&member, "ci-deployer").await;
    emu.age_password(MEMBER, "ci-deployer", Some(300), Some(200))
        .await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    let r = keeping_passwords();
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap();
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "UNCONFIRMED", "{report:?}");
    assert!(
        report
            .note
            .contains("the console password of ci-deployer is unused for 200 days (over 90)")
            && report
                .note
                .contains("a person must delete the login profile"),
        "{}",
        report.note
    );
    let calls = emu.calls().await;
    for action in ["GetLoginProfile", "GetUser"] {
        assert!(
            calls
                .iter()
                .any(|c| c.account == MEMBER && c.service == "iam" && c.action == action),
            "{action} was not called: {calls:?}"
        );
    }
    // Nothing written in the member account: the password is there, the keys are active.
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(
        has_login_profile(&member, "ci-deployer").await,
        "the login profile was deleted"
    );
    assert!(seed::key_statuses(&member, "ci-deployer")
        .await
        .iter()
        .all(|(_, s)| s == "Active"));
    // As Security Hub holds it: NOTIFIED, never RESOLVED, with what a person must do.
    let (status, note) = seed::workflow(&central, &hub_id(&event).0).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(
        note.unwrap_or_default()
            .contains("QUELL_DELETE_UNUSED_PASSWORDS=false"),
        "the note does not say why"
    );

    // Another delivery: read again, still not resolved.
    let again = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        again.reports[0].outcome.name(),
        "UNCONFIRMED",
        "{:?}",
        again.reports[0]
    );
    assert!(has_login_profile(&member, "ci-deployer").await);
    assert_eq!(
        seed::workflow(&central, &hub_id(&event).0).await.unwrap().0,
        "NOTIFIED"
    );
}

#[tokio::test]
async fn a_console_password_used_yesterday_is_resolved_as_before() {
    let (emu, central, member) = setup().await;
    let (user_id, _) = seed::user_with_keys(&member, "ci-deployer").await;
    login_profile(&member, "ci-deployer").await;
    emu.age_password(MEMBER, "ci-deployer", Some(300), Some(1))
        .await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        resp.reports[0]
    );
    assert!(
        emu.calls()
            .await
            .iter()
            .any(|c| c.account == MEMBER && c.action == "GetUser"),
        "the password's last use was not read"
    );
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(has_login_profile(&member, "ci-deployer").await);
    assert_eq!(
        seed::workflow(&central, &hub_id(&event).0).await.unwrap().0,
        "RESOLVED"
    );
}

#[tokio::test]
async fn unused_keys_and_an_unused_password_are_removed_together_and_undone_together() {
    let (emu, central, member) = setup().await;
    let (user_id, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    emu.age_access_key(MEMBER, &keys[0], 120, None).await;
    emu.age_access_key(MEMBER, &keys[1], 120, Some(1)).await;
    login_profile(&member, "ci-deployer").await;
    emu.age_password(MEMBER, "ci-deployer", Some(300), Some(200))
        .await;
    let seeded = seed::key_statuses(&member, "ci-deployer").await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event.clone())
        .await
        .unwrap();
    // Keys and password both checked, both fixed: RESOLVED.
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    let statuses = seed::key_statuses(&member, "ci-deployer").await;
    assert_eq!(statuses.len(), 2, "a key was deleted: {statuses:?}");
    for (k, s) in &statuses {
        let want = if *k == keys[0] { "Inactive" } else { "Active" };
        assert_eq!(s, want, "{k}: {statuses:?}");
    }
    assert!(
        !has_login_profile(&member, "ci-deployer").await,
        "the login profile is still there"
    );
    let (status, note) = seed::workflow(&central, &hub_id(&event).0).await.unwrap();
    assert_eq!(status, "RESOLVED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains(&keys[0])
            && !note.contains(&keys[1])
            && note.contains("iam:DeleteLoginProfile"),
        "{note}"
    );

    // `quell undo`, from the one record: the key active again and a login profile again.
    let f = parsed(&event);
    let steps =
        quell_tests::undo_recorded(&emu, &ctx, &IamDisableAccessKey::default(), &f.id).await;
    let actions: Vec<&str> = steps.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        ["iam:UpdateAccessKey", "iam:CreateLoginProfile"],
        "{steps:?}"
    );
    assert_eq!(seed::key_statuses(&member, "ci-deployer").await, seeded);
    let profile = login_profile_of(&member, "ci-deployer")
        .await
        .expect("undo made no login profile");
    assert!(profile.password_reset_required, "{profile:?}");
}

#[tokio::test]
async fn with_deletion_off_unused_keys_are_deactivated_and_the_note_names_the_password_left() {
    let (emu, central, member) = setup().await;
    let (user_id, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    emu.age_access_key(MEMBER, &keys[0], 120, None).await;
    emu.age_access_key(MEMBER, &keys[1], 120, Some(1)).await;
    login_profile(&member, "ci-deployer").await;
    emu.age_password(MEMBER, "ci-deployer", Some(300), Some(200))
        .await;
    let event = events::load(
        "config-iam-user-unused-credentials-check.json",
        &[("AIDAQUELLDEMOCIDEPL01", &user_id)],
    );
    let ctx = context(&emu, enforce(), "iam-disable-access-key");

    let resp = quell::runtime::handle(&keeping_passwords(), &ctx, event.clone())
        .await
        .unwrap();
    // A key was deactivated (the change stands), but the password still fails the control:
    // UNCONFIRMED, workflow NOTIFIED; the note names both, and the password is still there.
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "UNCONFIRMED", "{report:?}");
    let (status, note) = seed::workflow(&central, &hub_id(&event).0).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains(&keys[0])
            && note.contains("console password unused 200 days (over 90) left as it is"),
        "{note}"
    );
    assert!(has_login_profile(&member, "ci-deployer").await);
    let statuses = seed::key_statuses(&member, "ci-deployer").await;
    for (k, s) in &statuses {
        let want = if *k == keys[0] { "Inactive" } else { "Active" };
        assert_eq!(s, want, "{k}: {statuses:?}");
    }
}

#[tokio::test]
async fn root_credential_use_is_escalated_with_no_member_call() {
    let (emu, central, member) = setup().await;
    let event = events::load("guardduty-iam-rootcredentialusage.json", &[]);
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamAccessKey", "ASIAQUELLDEMOROOT001"),
    )
    .await;
    emu.clear_calls().await;
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event)
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "FAILED");
    let (status, note) = seed::workflow(&central, &id).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap().contains("A person must"));
    assert!(
        emu.calls().await.iter().all(|c| c.account == CENTRAL),
        "no call into the member for root"
    );
}

#[tokio::test]
async fn stolen_role_sessions_are_revoked_and_the_cutoff_moves_forward_without_stacking() {
    let (emu, central, member) = setup().await;
    seed::app_role(&member, "app-server-role").await;
    let event = events::load(
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        &[],
    );
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        (
            "AwsIamRole",
            "arn:aws:iam::111111111111:role/app-server-role",
        ),
    )
    .await;
    let ctx = quell_tests::recording_context(&emu, "iam-revoke-role-sessions").await;
    let r = IamRevokeRoleSessions::default();
    let seeded = seed::role_policies(&member, "app-server-role").await;

    let resp = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );
    let policies = seed::role_policies(&member, "app-server-role").await;
    assert_eq!(policies.len(), 1);
    let (name, doc) = &policies[0];
    assert_eq!(name, POLICY_NAME);
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    let first = doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.as_str() >= "2026-11-28T10:05:00Z", "{first}");
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "RESOLVED");

    let mut redelivered = event.clone();
    redelivered["id"] = serde_json::json!("guardduty-redelivered");
    let again = quell::runtime::handle(&r, &ctx, redelivered).await.unwrap();
    assert_eq!(again.reports[0].outcome.name(), "ALREADY_COMPLIANT");

    // A later compromise of the same role: the cut-off moves forward, still one policy.
    let mut later = event.clone();
    let after_first = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from_str(&first, aws_smithy_types::date_time::Format::DateTime)
            .unwrap()
            .secs()
            + 1,
    );
    later["detail"]["updatedAt"] = serde_json::json!(after_first
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap());
    later["detail"]["id"] = serde_json::json!("e1a2b3c4d5e6f708192a3b4c5d6e7f99");
    later["detail"].as_object_mut().unwrap().remove("arn");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let moved = quell::runtime::handle(&r, &ctx, later).await.unwrap();
    assert_eq!(
        moved.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        moved.reports[0]
    );
    let policies = seed::role_policies(&member, "app-server-role").await;
    assert_eq!(policies.len(), 1, "policies stacked: {policies:?}");
    let second = policies[0].1["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(second > first, "{second} is not after {first}");

    // `quell undo` of the first finding, from what quell recorded before it (no policy): the
    // role's inline policies are as seeded.
    let first_finding = quell::event::Envelope::parse(event)
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &first_finding.id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(
        seed::role_policies(&member, "app-server-role").await,
        seeded
    );
    // A record that is not a role is refused before any call.
    let m = quell_tests::undo_session(&emu, MEMBER).await;
    let bad = quell::Remediation::restore(
        &r,
        &quell::Remediation::clients(&r, &m),
        &serde_json::json!({"role": "../etc", "policy": null}),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code.as_deref(), Some("InvalidPriorState"));
}

/// A temporary key of the user's own (GetSessionToken): not in ListAccessKeys.
const TEMP_KEY: &str = "ASIAQUELLDEMOALICE01";

#[tokio::test]
async fn a_users_stolen_temporary_key_denies_the_users_older_sessions_and_undo_removes_it() {
    let (emu, central, member) = setup().await;
    seed::user_with_keys(&member, "alice").await;
    let seeded_keys = seed::key_statuses(&member, "alice").await;
    let event = events::load(
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &[("AKIAQUELLDEMOLEAKED1", TEMP_KEY), ("ci-deployer", "alice")],
    );
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamAccessKey", TEMP_KEY),
    )
    .await;
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;
    let r = IamDisableAccessKey::default();
    assert!(user_policies(&member, "alice").await.is_empty());

    let resp = quell::runtime::handle(&r, &ctx, event.clone())
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "REMEDIATED",
        "{:?}",
        resp.reports[0]
    );
    // Read back in the member account: one deny of every action to alice's sessions issued
    // before the cut-off, at or after the theft.
    let policies = user_policies(&member, "alice").await;
    assert_eq!(policies.len(), 1, "{policies:?}");
    let (name, doc) = &policies[0];
    assert_eq!(name, SESSIONS_POLICY);
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Action"], serde_json::json!(["*"]));
    assert_eq!(st["Resource"], serde_json::json!(["*"]));
    let cut = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cut.as_str() >= "2026-11-28T10:05:00Z", "{cut}");
    // Her long-term keys are not the stolen credential: untouched.
    assert_eq!(seed::key_statuses(&member, "alice").await, seeded_keys);
    let (status, note) = seed::workflow(&central, &id).await.unwrap();
    assert_eq!(status, "RESOLVED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains(TEMP_KEY) && note.contains(SESSIONS_POLICY),
        "{note}"
    );

    // Another delivery: the cut-off already covers the theft; nothing is written.
    emu.clear_calls().await;
    let mut replay = event.clone();
    replay["id"] = serde_json::json!("guardduty-redelivered");
    let again = quell::runtime::handle(&r, &ctx, replay).await.unwrap();
    assert_eq!(
        again.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{:?}",
        again.reports[0]
    );
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");

    // `quell undo`: alice had no such policy before, so it is removed.
    let f = parsed(&event);
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &f.id).await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(
        user_policies(&member, "alice").await.is_empty(),
        "the undo left a policy"
    );
    assert_eq!(seed::key_statuses(&member, "alice").await, seeded_keys);
}

#[tokio::test]
async fn an_old_key_in_daily_use_is_planned_not_deactivated() {
    let (emu, central, member) = setup().await;
    let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    // 120 days old (over IAM.3's 90) and used yesterday: something in production signs with it.
    emu.age_access_key(MEMBER, &keys[0], 120, Some(1)).await;
    let event = events::load("securityhub-imported-fsbp-iam-3.json", &[]);
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamUser", "arn:aws:iam::111111111111:user/ci-deployer"),
    )
    .await;
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event)
        .await
        .unwrap();
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "PLANNED", "{report:?}");
    assert!(
        report.note.contains("daily use") && report.note.contains(&keys[0]),
        "{}",
        report.note
    );
    assert!(
        emu.calls()
            .await
            .iter()
            .any(|c| c.account == MEMBER && c.action == "GetAccessKeyLastUsed"),
        "the key's last use was not read"
    );
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(
        seed::key_statuses(&member, "ci-deployer")
            .await
            .iter()
            .all(|(_, s)| s == "Active"),
        "a key in use was deactivated"
    );
    let (status, note) = seed::workflow(&central, &id).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    assert!(note.unwrap_or_default().contains("daily use"));
}

#[tokio::test]
async fn a_low_severity_finding_is_planned_and_the_key_left_active() {
    let (emu, central, member) = setup().await;
    let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    let event = events::load(
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &[
            ("AKIAQUELLDEMOLEAKED1", &keys[0]),
            ("\"severity\": 5,", "\"severity\": 2,"),
        ],
    );
    assert_eq!(parsed(&event).severity, quell::Severity::Low);
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamAccessKey", &keys[0]),
    )
    .await;
    let ctx = context(&emu, enforce(), "iam-disable-access-key");
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&IamDisableAccessKey::default(), &ctx, event)
        .await
        .unwrap();
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "PLANNED", "{report:?}");
    assert!(
        report.note.contains("QUELL_KEY_MIN_SEVERITY") && report.note.contains(&keys[0]),
        "{}",
        report.note
    );
    let writes = member_writes(&emu).await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(seed::key_statuses(&member, "ci-deployer")
        .await
        .iter()
        .all(|(_, s)| s == "Active"));
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "NOTIFIED");
}

#[tokio::test]
async fn a_low_severity_role_theft_is_planned_and_no_policy_written() {
    let (emu, central, member) = setup().await;
    seed::app_role(&member, "app-server-role").await;
    let event = events::load(
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        &[("\"severity\": 8,", "\"severity\": 3,")],
    );
    assert_eq!(parsed(&event).severity, quell::Severity::Low);
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        (
            "AwsIamRole",
            "arn:aws:iam::111111111111:role/app-server-role",
        ),
    )
    .await;
    let ctx = context(&emu, enforce(), "iam-revoke-role-sessions");
    let resp = quell::runtime::handle(&IamRevokeRoleSessions::default(), &ctx, event)
        .await
        .unwrap();
    let report = &resp.reports[0];
    assert_eq!(report.outcome.name(), "PLANNED", "{report:?}");
    assert!(
        report.note.contains("QUELL_SESSION_MIN_SEVERITY"),
        "{}",
        report.note
    );
    assert!(seed::role_policies(&member, "app-server-role")
        .await
        .is_empty());
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "NOTIFIED");
}

#[tokio::test]
async fn an_identity_center_role_is_escalated_with_no_write() {
    const SSO_ROLE: &str = "AWSReservedSSO_AdministratorAccess_0123456789abcdef";
    let (emu, central, member) = setup().await;
    // As IAM Identity Center makes it: under /aws-reserved/sso.amazonaws.com/.
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111111111111:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"}, "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"]}]
    });
    aws_sdk_iam::Client::new(&member)
        .create_role()
        .role_name(SSO_ROLE)
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let event = events::load(
        "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
        &[
            ("app-server-role", SSO_ROLE),
            (
                "AROAQUELLDEMOAPPROLE1:i-0a1b2c3d4e5f60718",
                "AROAQUELLDEMOSSOROLE1:alice@example.com",
            ),
        ],
    );
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        (
            "AwsIamRole",
            &format!("arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}"),
        ),
    )
    .await;
    let ctx = context(&emu, enforce(), "iam-revoke-role-sessions");
    emu.clear_calls().await;

    let resp = quell::runtime::handle(&IamRevokeRoleSessions::default(), &ctx, event)
        .await
        .unwrap();
    let report = &resp.reports[0];
    // Escalated: NOTIFIED with what a person must do in Identity Center.
    assert_eq!(report.outcome.name(), "FAILED", "{report:?}");
    let (status, note) = seed::workflow(&central, &id).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("IAM Identity Center")
            && note.contains("delete their active sessions")
            && note.contains("alice@example.com"),
        "{note}"
    );
    assert!(
        emu.calls().await.iter().all(|c| c.account == CENTRAL),
        "no call into the member for an Identity Center role"
    );
    assert!(
        seed::role_policies(&member, SSO_ROLE).await.is_empty(),
        "an inline policy was put on an Identity Center role"
    );
}

/// A HIGH GuardDuty finding on a user's key contains the user as AWSSupport-ContainIAMPrincipal
/// does: every active key deactivated (not only the one named), the console password's login
/// profile deleted, and a deny-all inline policy, each read back from the member; replayed, nothing
/// is written; undone, the keys are active, a login profile is back (a new password to be reset)
/// and the policy is gone.
#[tokio::test]
async fn a_high_severity_finding_contains_the_whole_user_and_undo_lifts_it() {
    let (emu, central, member) = setup().await;
    let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    let iam = aws_sdk_iam::Client::new(&member);
    iam.create_login_profile()
        .user_name("ci-deployer")
        .password("Quell-seeded-password-1!")
        .send()
        .await
        .unwrap();
    let mut event = events::load(
        "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
        &[("AKIAQUELLDEMOLEAKED1", &keys[0])],
    );
    event["detail"]["severity"] = serde_json::json!(8);
    let (id, product) = hub_id(&event);
    seed::hub_finding(
        &member,
        MEMBER,
        &id,
        &product,
        ("AwsIamAccessKey", &keys[0]),
    )
    .await;
    let seeded = seed::key_statuses(&member, "ci-deployer").await;
    assert!(seeded.iter().all(|(_, s)| s == "Active"), "{seeded:?}");
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;
    let r = IamDisableAccessKey::default();
    let report = quell_tests::deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");

    // Read back: no key active, no login profile, everything denied.
    assert_contained(&member, "ci-deployer").await;
    let profile = iam
        .get_login_profile()
        .user_name("ci-deployer")
        .send()
        .await;
    assert!(profile.is_err(), "the login profile is gone");
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "RESOLVED");

    emu.clear_calls().await;
    let replay = quell_tests::deliver(&r, &ctx, quell_tests::again(&event, "again")).await;
    assert_eq!(replay.outcome.name(), "ALREADY_COMPLIANT", "{replay:?}");
    assert!(member_writes(&emu).await.is_empty());

    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(
        steps.len(),
        4,
        "two keys, the login profile, the policy: {steps:?}"
    );
    assert_eq!(seed::key_statuses(&member, "ci-deployer").await, seeded);
    let back = iam
        .get_login_profile()
        .user_name("ci-deployer")
        .send()
        .await
        .unwrap();
    assert!(back.login_profile.unwrap().password_reset_required);
    assert!(user_policies(&member, "ci-deployer").await.is_empty());
}

/// An S3 data-event finding (Exfiltration:S3/AnomalousBehavior, HIGH) names the bucket as its
/// resource and the IAM user's key as the actor: the user is contained, the bucket is not touched.
#[tokio::test]
async fn an_s3_data_event_contains_the_credential_that_made_the_calls_not_the_bucket() {
    let (emu, central, member) = setup().await;
    let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
    let event = events::load(
        "guardduty-s3-exfiltration-anomalousbehavior.json",
        &[("AKIAQUELLDEMOLEAKED1", &keys[0])],
    );
    // The deployed rules send it to this function (the actor is an IAM user).
    let spec = <IamDisableAccessKey as quell::Remediation>::SPEC;
    assert!(spec.matches(&parsed(&event)));
    let id = seeded_hub(
        &member,
        &event,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    let seeded = seed::key_statuses(&member, "ci-deployer").await;
    let ctx = quell_tests::recording_context(&emu, "iam-disable-access-key").await;
    emu.clear_calls().await;
    let r = IamDisableAccessKey::default();
    let report = quell_tests::deliver(&r, &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");

    assert_contained(&member, "ci-deployer").await;
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "RESOLVED");
    let on_s3: Vec<_> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.service == "s3")
        .collect();
    assert!(on_s3.is_empty(), "the bucket is not the culprit: {on_s3:?}");

    // The same finding, the calls from another account: that account's user, not this one. The
    // user here (its keys active again below) is not touched, and the finding is escalated.
    let steps = quell_tests::undo_recorded(&emu, &ctx, &r, &parsed(&event).id).await;
    assert_eq!(steps.len(), 3, "two keys and the policy: {steps:?}");
    // The same finding, the calls from another account's user of the same name (its key is not
    // this user's, its principal id not this user's id): the user here is not touched, and the
    // finding is not said to be gone (UNCONFIRMED, NOTIFIED), naming the key and the account.
    let cross = events::load(
        "guardduty-s3-exfiltration-anomalousbehavior-crossaccount.json",
        &[],
    );
    let cross_id = seeded_hub(
        &member,
        &cross,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    emu.clear_calls().await;
    let out = quell_tests::deliver(&r, &ctx, cross).await;
    assert_eq!(out.outcome.name(), "UNCONFIRMED", "{out:?}");
    let (status, note) = seed::workflow(&central, &cross_id).await.unwrap();
    assert_eq!(status, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("AKIAQUELLDEMOLEAKED1 is not among the keys of ci-deployer")
            && note.contains("222222222222"),
        "{note}"
    );
    assert!(member_writes(&emu).await.is_empty());
    assert_eq!(seed::key_statuses(&member, "ci-deployer").await, seeded);
    assert!(user_policies(&member, "ci-deployer").await.is_empty());
}

/// The same S3 data event with a role session as the actor revokes the role's older sessions.
#[tokio::test]
async fn an_s3_data_event_by_a_role_session_revokes_the_roles_sessions() {
    let (emu, central, member) = setup().await;
    seed::app_role(&member, "app-server-role").await;
    let event = events::load(
        "guardduty-s3-discovery-maliciousipcaller-assumedrole.json",
        &[],
    );
    assert!(<IamRevokeRoleSessions as quell::Remediation>::SPEC.matches(&parsed(&event)));
    assert!(!<IamDisableAccessKey as quell::Remediation>::SPEC.matches(&parsed(&event)));
    let id = seeded_hub(
        &member,
        &event,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    let ctx = quell_tests::recording_context(&emu, "iam-revoke-role-sessions").await;
    let report = quell_tests::deliver(&IamRevokeRoleSessions::default(), &ctx, event.clone()).await;
    assert_eq!(report.outcome.name(), "REMEDIATED", "{report:?}");
    let policies = seed::role_policies(&member, "app-server-role").await;
    assert_eq!(policies.len(), 1, "{policies:?}");
    let (name, doc) = &policies[0];
    assert_eq!(name, POLICY_NAME);
    assert_eq!(doc["Statement"][0]["Effect"], "Deny", "{doc}");
    assert!(
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string(),
        "{doc}"
    );
    assert_eq!(seed::workflow(&central, &id).await.unwrap().0, "RESOLVED");

    // The same calls from another account, by a session of a role of the same name there
    // (GuardDuty's remoteAccountDetails; the role id is not this role's): this role is left.
    let before = seed::role_policies(&member, "app-server-role").await;
    let mut cross = quell_tests::again(&event, "cross-account");
    cross["detail"]["id"] = serde_json::json!("2c3d4e5f60718293a4b5c6d7e8f9a0b1");
    cross["detail"].as_object_mut().unwrap().remove("arn");
    cross["detail"]["service"]["action"]["awsApiCallAction"]["remoteAccountDetails"] =
        serde_json::json!({"accountId": "222222222222", "affiliated": false});
    emu.clear_calls().await;
    let out = quell_tests::deliver(&IamRevokeRoleSessions::default(), &ctx, cross).await;
    assert_eq!(out.outcome.name(), "FAILED", "{out:?}");
    assert!(format!("{out:?}").contains("not that role"), "{out:?}");
    assert_eq!(
        seed::role_policies(&member, "app-server-role").await,
        before
    );
    assert!(member_writes(&emu).await.is_empty());
}
