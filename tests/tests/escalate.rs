//! guardduty-escalate end to end, IAM in force: a threat quell has no containment for (an EKS
//! privileged container) is NOTIFIED on Security Hub with what a person should do and sent to the
//! channel, and nothing is called in the member account; an instance brute-forced (the TARGET) is
//! escalated, while one brute-forcing others (the ACTOR) is ec2-isolate-instance's and out of
//! scope here (no message). Everything is read back from the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use guardduty_escalate::GuarddutyEscalate;
use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::Value;

async fn seeded(member: &aws_config::SdkConfig, event: &Value, resource: (&str, &str)) -> String {
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let hub = f.hub.clone().unwrap();
    seed::hub_finding(member, MEMBER, &hub.id, &hub.product_arn, resource).await;
    hub.id
}

#[tokio::test]
async fn a_threat_quell_cannot_contain_is_put_before_a_person_and_nothing_is_changed() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let topic = seed::outcome_topic(&central).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            notify_topic_arn: Some(topic),
            ..Config::default()
        },
        "guardduty-escalate",
    );

    let eks = events::load("guardduty-eks-privilegedcontainer.json", &[]);
    let eks_id = seeded(
        &member,
        &eks,
        (
            "AwsEksCluster",
            "arn:aws:eks:us-east-1:111111111111:cluster/prod-cluster",
        ),
    )
    .await;
    emu.clear_calls().await;
    let resp = quell::runtime::handle(&GuarddutyEscalate, &ctx, eks)
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "PLANNED",
        "{:?}",
        resp.reports[0]
    );
    let (workflow, note) = seed::workflow(&central, &eks_id).await.unwrap();
    assert_eq!(workflow, "NOTIFIED", "{:?}", resp.reports[0]);
    let note = note.unwrap_or_default();
    assert!(
        note.contains(
            "EKSCluster prod-cluster, workload default/debug-shell, Kubernetes user dev-user"
        ) && note.contains("cordon the node")
            && note.contains("severity MEDIUM"),
        "{note}"
    );
    let sent = emu.sns_messages().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let m: Value = serde_json::from_str(sent[0]["message"].as_str().unwrap()).unwrap();
    let text = m["content"].to_string();
    assert!(
        text.contains("PrivilegeEscalation:Kubernetes/PrivilegedContainer")
            && text.contains("prod-cluster"),
        "{text}"
    );
    let in_member: Vec<_> = emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER)
        .collect();
    assert!(
        in_member.is_empty(),
        "an escalation calls nothing in the member: {in_member:?}"
    );

    // Brute-forced (TARGET): escalated. Brute-forcing others (ACTOR): isolation's, not this one's.
    let target = events::load("guardduty-ec2-sshbruteforce-target.json", &[]);
    let target_id = seeded(&member, &target, ("AwsEc2Instance", "i-0a1b2c3d4e5f60718")).await;
    let resp = quell::runtime::handle(&GuarddutyEscalate, &ctx, target.clone())
        .await
        .unwrap();
    assert_eq!(resp.reports[0].outcome.name(), "PLANNED");
    let (workflow, note) = seed::workflow(&central, &target_id).await.unwrap();
    assert_eq!(workflow, "NOTIFIED");
    assert!(note.unwrap_or_default().contains("Isolate instance"));

    let mut actor = target;
    actor["id"] = "9c2d3e4f-5061-4b7c-8d9e-0f1a2b3c4d99".into();
    actor["detail"]["service"]["resourceRole"] = "ACTOR".into();
    actor["detail"]["id"] = "f1a2b3c4d5e6f708192a3b4c5d6e7f99".into();
    // The rules do not send it here, and the function's own check agrees.
    let f = quell::event::Envelope::parse(actor.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    assert!(!<GuarddutyEscalate as quell::Remediation>::SPEC.matches(&f));
    let before = emu.sns_messages().await.len();
    let resp = quell::runtime::handle(&GuarddutyEscalate, &ctx, actor)
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "OUT_OF_SCOPE",
        "{:?}",
        resp.reports[0]
    );
    assert_eq!(
        emu.sns_messages().await.len(),
        before,
        "no message for what is not its own"
    );
}

/// A credential threat whose actor no containment takes (an S3 data event by a federated user) is
/// escalated with the actor named and nothing called in the member; the same finding by an IAM
/// user is the containment's, not the escalation's.
#[tokio::test]
async fn an_s3_data_event_by_a_federated_user_is_escalated_naming_the_actor() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "guardduty-escalate",
    );
    let federated = events::load(
        "guardduty-s3-exfiltration-anomalousbehavior-federated.json",
        &[],
    );
    let id = seeded(
        &member,
        &federated,
        ("AwsS3Bucket", "arn:aws:s3:::quell-demo-public-assets"),
    )
    .await;
    emu.clear_calls().await;
    let resp = quell::runtime::handle(&GuarddutyEscalate, &ctx, federated)
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "PLANNED",
        "{:?}",
        resp.reports[0]
    );
    let (workflow, note) = seed::workflow(&central, &id).await.unwrap();
    assert_eq!(workflow, "NOTIFIED");
    let note = note.unwrap_or_default();
    assert!(
        note.contains("FederatedUser contractor (key ASIAQUELLDEMOFEDER01)")
            && note.contains("severity HIGH"),
        "{note}"
    );
    assert!(
        emu.calls().await.iter().all(|c| c.account != MEMBER),
        "an escalation calls nothing in the member"
    );

    // By an IAM user: iam-disable-access-key's; the escalation leaves it.
    let by_user = events::load("guardduty-s3-exfiltration-anomalousbehavior.json", &[]);
    let resp = quell::runtime::handle(&GuarddutyEscalate, &ctx, by_user)
        .await
        .unwrap();
    assert_eq!(
        resp.reports[0].outcome.name(),
        "OUT_OF_SCOPE",
        "{:?}",
        resp.reports[0]
    );
}
