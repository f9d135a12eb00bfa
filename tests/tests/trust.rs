//! A forged event makes no AWS call: the Lambda handler refuses it before assuming any role. The
//! call log is first seen to record a known call, so an empty log cannot pass for "no call".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::{Config, Mode};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::json;

#[tokio::test]
async fn forged_events_are_refused_before_any_aws_call() {
    let emu = Emulator::start().expect("emulator");
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
