//! A forged event makes no AWS call: the Lambda handler refuses it before assuming any role. The
//! call log is first seen to record a known call, so an empty log cannot pass for "no call".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::json;

#[tokio::test]
async fn forged_events_are_refused_before_any_aws_call() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let config = Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    };
    let revoke = ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default();
    let ctx = context(&emu, config, "ec2-revoke-open-ingress");

    let mut wrong_source = events::load("cloudtrail-authorizesecuritygroupingress.json", &[]);
    wrong_source["source"] = json!("x");
    let mut other_account = events::load("cloudtrail-authorizesecuritygroupingress.json", &[]);
    other_account["detail"]["recipientAccountId"] = json!("222222222222");
    let mut member_product = events::load("securityhub-imported-fsbp-ec2-13.json", &[]);
    member_product["detail"]["findings"][0]["ProductArn"] =
        json!("arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default");
    let mut foreign_action = events::load("securityhub-custom-action-ec2-13.json", &[]);
    foreign_action["resources"] =
        json!(["arn:aws:securityhub:us-east-1:123456789012:action/custom/SendToJira"]);

    for (what, forged) in [
        ("wrong source", wrong_source),
        ("another account", other_account),
        ("a member's product", member_product),
        ("a team's custom action", foreign_action),
    ] {
        emu.clear_calls().await;
        aws_sdk_sts::Client::new(&emu.central_config())
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        let err = quell::runtime::handle(&revoke, &ctx, forged)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("untrusted event"), "{what}: {err}");
        let calls = emu.calls().await;
        let actions: Vec<&str> = calls.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(actions, ["GetCallerIdentity"], "{what}: {actions:?}");
    }
}

/// IAM in force: the member role holds exactly its Spec's actions, so a Spec missing one fails
/// with AccessDenied, as in AWS — and the bucket, read back, is as public as it was.
#[tokio::test]
async fn a_spec_missing_an_action_is_denied_by_the_emulator() {
    use quell::Remediation;
    use s3_block_public_access::S3BlockPublicAccess;
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let bucket = "quell-demo-public-assets";
    seed::public_bucket(&member, bucket, &[]).await;
    let event = events::load("accessanalyzer-s3-bucket-public.json", &[]);
    let config = Config {
        mode: Some(Mode::Enforce),
        ..Config::default()
    };

    // The Spec without its write: the role quell assumes gets the policy generated from it.
    let mut spec = S3BlockPublicAccess::SPEC;
    let kept: Vec<&'static str> = spec
        .permissions
        .iter()
        .copied()
        .filter(|p| *p != "s3:PutBucketPublicAccessBlock")
        .collect();
    spec.permissions = Box::leak(kept.into_boxed_slice());
    aws_sdk_iam::Client::new(&member)
        .put_role_policy()
        .role_name("quell-s3-block-public-access")
        .policy_name("quell-s3-block-public-access")
        .policy_document(quell::privilege::rendered(
            &quell::privilege::member_policy(&spec),
            "aws",
            MEMBER,
        ))
        .send()
        .await
        .unwrap();
    let ctx = context(&emu, config.clone(), "s3-block-public-access");
    let report = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event.clone())
        .await
        .map(|r| r.reports)
        .unwrap_or_default();
    assert!(
        matches!(&report[0].outcome, quell::Outcome::Failed { code: Some(c), .. } if c.contains("AccessDenied")),
        "{:?}",
        report[0].outcome
    );
    assert!(
        seed::public_access_block(&member, bucket).await.is_none(),
        "nothing changed"
    );

    // The generated policy put back: the same event fixes the bucket.
    seed::member_role(&member, CENTRAL).await;
    let ctx = context(&emu, config, "s3-block-public-access");
    let report = quell::runtime::handle(&S3BlockPublicAccess, &ctx, event)
        .await
        .unwrap()
        .reports;
    assert_eq!(report[0].outcome.name(), "REMEDIATED");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, bucket).await
    ));
}
