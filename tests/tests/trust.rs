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
        // The log is seen to work: clear_calls makes a known call, which calls() requires.
        emu.clear_calls().await;
        let err = quell::runtime::handle(&revoke, &ctx, forged)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("untrusted event"), "{what}: {err}");
        let calls = emu.calls().await;
        assert!(calls.is_empty(), "{what}: {calls:?}");
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
            CENTRAL,
            quell_tests::REGION,
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

/// Security Hub scoping, as AWS has it: a member imports only into itself under its own product
/// and updates only its own findings; the administrator updates any member's.
#[tokio::test]
async fn security_hub_is_scoped_by_account_as_in_aws() {
    use aws_sdk_securityhub::types::{
        AwsSecurityFinding, AwsSecurityFindingIdentifier, Resource, Severity, SeverityLabel,
        WorkflowStatus, WorkflowUpdate,
    };
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    let other = emu.account_config("222222222222").await;
    let id = "arn:aws:securityhub:us-east-1:111111111111:security-control/S3.8/finding/scoped";
    let product = "arn:aws:securityhub:us-east-1::product/aws/securityhub";
    seed::hub_finding(
        &member,
        MEMBER,
        id,
        product,
        ("AwsS3Bucket", "arn:aws:s3:::b"),
    )
    .await;

    let finding = |account: &str, product: &str| {
        AwsSecurityFinding::builder()
            .schema_version("2018-10-08")
            .id(format!("quell-test-{account}"))
            .product_arn(product)
            .generator_id("quell")
            .aws_account_id(account)
            .types("Software and Configuration Checks")
            .created_at("2026-01-01T00:00:00.000Z")
            .updated_at("2026-01-01T00:00:00.000Z")
            .severity(Severity::builder().label(SeverityLabel::High).build())
            .title("t")
            .description("d")
            .resources(Resource::builder().r#type("Other").id("x").build())
            .build()
    };
    let import = |cfg: aws_config::SdkConfig, f: AwsSecurityFinding| async move {
        aws_sdk_securityhub::Client::new(&cfg)
            .batch_import_findings()
            .findings(f)
            .send()
            .await
            .unwrap()
            .failed_count
    };
    // Into its own account under its own product: taken.
    let own = "arn:aws:securityhub:us-east-1:222222222222:product/222222222222/default";
    assert_eq!(
        import(other.clone(), finding("222222222222", own)).await,
        Some(0)
    );
    // Into another account, or under AWS's product, or another's product: refused.
    assert_eq!(import(other.clone(), finding(MEMBER, own)).await, Some(1));
    assert_eq!(
        import(other.clone(), finding("222222222222", product)).await,
        Some(1)
    );
    let theirs = "arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default";
    assert_eq!(
        import(other.clone(), finding("222222222222", theirs)).await,
        Some(1)
    );

    // Another member cannot update the finding, nor see it; the administrator can.
    let update = |cfg: aws_config::SdkConfig| async move {
        aws_sdk_securityhub::Client::new(&cfg)
            .batch_update_findings()
            .finding_identifiers(
                AwsSecurityFindingIdentifier::builder()
                    .id(id)
                    .product_arn(product)
                    .build(),
            )
            .workflow(
                WorkflowUpdate::builder()
                    .status(WorkflowStatus::Suppressed)
                    .build(),
            )
            .send()
            .await
            .unwrap()
    };
    let denied = update(other.clone()).await;
    assert_eq!(denied.processed_findings().len(), 0);
    assert_eq!(
        denied.unprocessed_findings()[0].error_code(),
        Some("AccessDeniedException")
    );
    assert_eq!(
        seed::workflow(&other, id).await,
        None,
        "a member sees only its own"
    );
    assert_eq!(
        seed::workflow(&emu.central_config(), id).await.unwrap().0,
        "NEW"
    );
    assert_eq!(
        update(emu.central_config())
            .await
            .processed_findings()
            .len(),
        1
    );
    assert_eq!(
        seed::workflow(&emu.central_config(), id).await.unwrap().0,
        "SUPPRESSED"
    );
}
