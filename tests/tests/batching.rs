//! Security Hub records are batched where the API allows: BatchUpdateFindings takes up to 100
//! findings that get the same update, so identical updates share calls; different notes cannot.
//! Against the emulator, counting the calls it received.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quell::hub::{Hub, HubRecord, Pending};
use quell::{Config, Mode, Outcome, Step};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};

async fn update_calls(emu: &Emulator) -> usize {
    emu.calls()
        .await
        .iter()
        .filter(|c| c.service == "securityhub" && c.path.contains("/findings/batchupdate"))
        .count()
}

#[tokio::test]
async fn identical_updates_share_calls_of_at_most_a_hundred() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    let base =
        quell::event::Envelope::parse(events::load("securityhub-imported-fsbp-ec2-7.json", &[]))
            .unwrap()
            .findings
            .remove(0)
            .unwrap();
    let hub = base.hub.clone().unwrap();
    let mut findings = Vec::new();
    for i in 0..250 {
        let mut f = base.clone();
        let id = format!("{}-{i}", hub.id);
        seed::hub_finding(
            &member,
            MEMBER,
            &id,
            &hub.product_arn,
            ("AwsAccount", "AWS::::Account:111111111111"),
        )
        .await;
        f.hub.as_mut().unwrap().id = id;
        f.id = format!("{}-{i}", f.id);
        findings.push(f);
    }
    let fixed = Outcome::Remediated {
        steps: vec![Step::new(
            "ec2:EnableEbsEncryptionByDefault",
            "account=111111111111 region=us-east-1",
        )],
    };
    let note = fixed.note(
        "ebs-encryption-by-default",
        "account 111111111111 in us-east-1",
    );
    let other = "a different note".to_string();
    let items: Vec<Pending<'_>> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| Pending {
            finding: f,
            outcome: &fixed,
            // The last ten get a note of their own.
            note: if i < 240 { note.clone() } else { other.clone() },
            member: None,
        })
        .collect();
    emu.clear_calls().await;
    let hub = Hub::new(&central, None, "ebs-encryption-by-default");
    let out = hub.record_all(&items).await;
    assert_eq!(out.len(), 250);
    assert!(out
        .iter()
        .all(|r| matches!(r, Ok(HubRecord::Updated { .. }))));
    // 240 identical updates: 100 + 100 + 40; ten with another note: one more.
    assert_eq!(update_calls(&emu).await, 4);
    for f in [&findings[0], &findings[150], &findings[245]] {
        let (status, text) = seed::workflow(&central, &f.hub.as_ref().unwrap().id)
            .await
            .unwrap();
        assert_eq!(status, "RESOLVED");
        assert!(text.is_some());
    }
    assert_eq!(
        seed::workflow(&central, &findings[245].hub.as_ref().unwrap().id)
            .await
            .unwrap()
            .1
            .as_deref(),
        Some("a different note")
    );
}

#[tokio::test]
async fn one_event_with_a_control_from_two_standards_is_one_update() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    // Without consolidated control findings, each standard reports EC2.7 (FSBP) and 2.2.1 (CIS)
    // as a finding of its own, for the same account setting.
    let mut event = events::load("securityhub-imported-fsbp-ec2-7.json", &[]);
    let mut cis = event["detail"]["findings"][0].clone();
    cis["Id"] = serde_json::json!(
        "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.4.0/2.2.1/finding/0f3c"
    );
    // As the CIS v1.4.0 standard reports it: its own ControlId and StandardsArn.
    cis["Compliance"] = serde_json::json!({"Status": "FAILED"});
    cis["ProductFields"]["ControlId"] = serde_json::json!("2.2.1");
    cis["ProductFields"]["StandardsArn"] =
        serde_json::json!("arn:aws:securityhub:::standards/cis-aws-foundations-benchmark/v/1.4.0");
    event["detail"]["findings"]
        .as_array_mut()
        .unwrap()
        .push(cis.clone());
    for f in event["detail"]["findings"].as_array().unwrap() {
        seed::hub_finding(
            &member,
            MEMBER,
            f["Id"].as_str().unwrap(),
            f["ProductArn"].as_str().unwrap(),
            ("AwsAccount", "AWS::::Account:111111111111"),
        )
        .await;
    }
    // Encryption by default is already on: both findings get the same outcome and note.
    aws_sdk_ec2::Client::new(&member)
        .enable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();
    let ctx = context(
        &emu,
        Config {
            mode: Some(Mode::Enforce),
            ..Config::default()
        },
        "ebs-encryption-by-default",
    );
    emu.clear_calls().await;
    let r = quell::runtime::handle(
        &ebs_encryption_by_default::EbsEncryptionByDefault,
        &ctx,
        event.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.reports.len(), 2);
    assert!(r
        .reports
        .iter()
        .all(|rep| rep.outcome.name() == "ALREADY_COMPLIANT"));
    assert_eq!(r.reports[0].note, r.reports[1].note);
    assert_eq!(update_calls(&emu).await, 1, "one call for both findings");
    for f in event["detail"]["findings"].as_array().unwrap() {
        assert_eq!(
            seed::workflow(&central, f["Id"].as_str().unwrap())
                .await
                .unwrap()
                .0,
            "RESOLVED"
        );
    }
}
