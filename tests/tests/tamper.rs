//! tamper-restore end to end, IAM in force: each tampering is done in the member account, the
//! CloudTrail event of the call is replayed in its real shape, and the sensor is read back
//! restored (or, for what quell cannot put back, the escalation read back with its command), with
//! who did it and from where on the record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};
use quell::{Config, Mode, Remediation};
use quell_tests::{context, events, seed, Emulator, CENTRAL, MEMBER};
use serde_json::{json, Value};
use tamper_restore::TamperRestore;

const FUNCTION: &str = "tamper-restore";

struct Setup {
    emu: Emulator,
    central: aws_config::SdkConfig,
    member: aws_config::SdkConfig,
    ctx: quell::runtime::Context,
}

async fn setup() -> Setup {
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
        FUNCTION,
    );
    Setup {
        emu,
        central,
        member,
        ctx,
    }
}

/// Replays `event` and returns the outcome's name, after checking that quell's own finding in the
/// member's Security Hub and the channel's message both name the caller and where it called from.
async fn replay(s: &Setup, event: Value) -> (String, String) {
    replay_with(s, &TamperRestore::default(), event).await
}

/// As [`replay`], with `r` configured as a deployment would.
async fn replay_with(s: &Setup, r: &TamperRestore, event: Value) -> (String, String) {
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let caller = event["detail"]["userIdentity"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let ip = event["detail"]["sourceIPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let before = s.emu.sns_messages().await.len();
    let resp = quell::runtime::handle(r, &s.ctx, event)
        .await
        .expect("handled");
    let report = &resp.reports[0];
    let (_, note) = seed::workflow(&s.central, &f.own_id())
        .await
        .expect("quell's own finding for the call");
    let note = note.unwrap_or_default();
    let sent = s.emu.sns_messages().await;
    assert_eq!(sent.len(), before + 1, "one message per outcome");
    let text = sent[before]["message"].as_str().unwrap().to_string();
    for (what, seen) in [("note", &note), ("message", &text)] {
        assert!(
            seen.contains(caller.as_str()) && seen.contains(ip.as_str()),
            "{what} does not say who and from where: {seen}"
        );
    }
    (report.outcome.name().to_string(), note)
}

fn features(
    d: &aws_sdk_guardduty::operation::get_detector::GetDetectorOutput,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = d
        .features()
        .iter()
        .map(|f| {
            (
                f.name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                f.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn feature(name: DetectorFeature, status: FeatureStatus) -> DetectorFeatureConfiguration {
    DetectorFeatureConfiguration::builder()
        .name(name)
        .status(status)
        .build()
}

#[tokio::test]
async fn a_detector_turned_off_is_enabled_again_with_the_plan_it_lost_and_the_others_kept() {
    let s = setup().await;
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    let id = gd
        .create_detector()
        .enable(true)
        .features(feature(
            DetectorFeature::S3DataEvents,
            FeatureStatus::Enabled,
        ))
        .features(feature(
            DetectorFeature::EksAuditLogs,
            FeatureStatus::Enabled,
        ))
        .send()
        .await
        .unwrap()
        .detector_id
        .unwrap();
    // The tampering, in the member.
    gd.update_detector()
        .detector_id(&id)
        .enable(false)
        .features(feature(
            DetectorFeature::S3DataEvents,
            FeatureStatus::Disabled,
        ))
        .send()
        .await
        .unwrap();
    let event = events::load(
        "cloudtrail-guardduty-updatedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    );
    let (outcome, note) = replay(&s, event.clone()).await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    let d = gd.get_detector().detector_id(&id).send().await.unwrap();
    assert_eq!(d.status().map(|s| s.as_str()), Some("ENABLED"));
    assert_eq!(
        features(&d),
        [
            ("EKS_AUDIT_LOGS".to_string(), "ENABLED".to_string()),
            ("S3_DATA_EVENTS".to_string(), "ENABLED".to_string())
        ]
    );

    // Replayed: nothing to put back, and no write.
    s.emu.clear_calls().await;
    let mut again = event;
    again["id"] = json!("00000000-0000-0000-0000-00000000aa01");
    let (outcome, _) = replay(&s, again).await;
    assert_eq!(outcome, "ALREADY_COMPLIANT");
    assert!(!s
        .emu
        .calls()
        .await
        .iter()
        .any(|c| c.service == "guardduty" && c.method == "POST" && c.account == MEMBER));
}

#[tokio::test]
async fn a_deleted_detector_is_made_again_and_its_association_put_before_a_person() {
    let s = setup().await;
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    let id = gd
        .create_detector()
        .enable(true)
        .send()
        .await
        .unwrap()
        .detector_id
        .unwrap();
    gd.delete_detector().detector_id(&id).send().await.unwrap();
    assert!(gd
        .list_detectors()
        .send()
        .await
        .unwrap()
        .detector_ids()
        .is_empty());
    let event = events::load(
        "cloudtrail-guardduty-deletedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    );
    let (outcome, note) = replay(&s, event).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(note.contains("create-members"), "{note}");
    let ids = gd
        .list_detectors()
        .send()
        .await
        .unwrap()
        .detector_ids()
        .to_vec();
    assert_eq!(ids.len(), 1);
    let d = gd.get_detector().detector_id(&ids[0]).send().await.unwrap();
    assert_eq!(d.status().map(|s| s.as_str()), Some("ENABLED"));
}

/// A Config recorder `default` in the member, with its delivery channel, started then stopped.
async fn stopped_recorder(member: &aws_config::SdkConfig) {
    let config = aws_sdk_config::Client::new(member);
    use aws_sdk_config::types::{ConfigurationRecorder, DeliveryChannel, RecordingGroup};
    aws_sdk_s3::Client::new(member)
        .create_bucket()
        .bucket("member-config-bucket")
        .send()
        .await
        .unwrap();
    let role = seed::config_service_role(member).await;
    config
        .put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name("default")
                .role_arn(role)
                .recording_group(RecordingGroup::builder().all_supported(true).include_global_resource_types(true).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    config
        .put_delivery_channel()
        .delivery_channel(
            DeliveryChannel::builder()
                .name("default")
                .s3_bucket_name("member-config-bucket")
                .build(),
        )
        .send()
        .await
        .unwrap();
    config
        .start_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    config
        .stop_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stopped_recorder_records_again() {
    let s = setup().await;
    let config = aws_sdk_config::Client::new(&s.member);
    stopped_recorder(&s.member).await;
    let recording = || async {
        config
            .describe_configuration_recorder_status()
            .configuration_recorder_names("default")
            .send()
            .await
            .unwrap()
            .configuration_recorders_status()[0]
            .recording()
    };
    assert!(!recording().await);
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-config-stopconfigurationrecorder.json", &[]),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    assert!(recording().await);
}

#[tokio::test]
async fn a_disabled_security_hub_is_enabled_again_and_its_standards_put_before_a_person() {
    let s = setup().await;
    let hub = aws_sdk_securityhub::Client::new(&s.member);
    hub.enable_security_hub().send().await.unwrap();
    hub.disable_security_hub().send().await.unwrap();
    assert!(hub.describe_hub().send().await.is_err());
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-securityhub-disablesecurityhub.json", &[]),
    )
    .await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(note.contains("get-enabled-standards"), "{note}");
    hub.describe_hub()
        .send()
        .await
        .expect("Security Hub is on again");
}

/// The member's standards subscriptions and their status, as GetEnabledStandards reads them.
async fn standards(hub: &aws_sdk_securityhub::Client) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = hub
        .get_enabled_standards()
        .max_results(100)
        .send()
        .await
        .unwrap()
        .standards_subscriptions()
        .iter()
        .map(|s| {
            (
                s.standards_subscription_arn().unwrap_or_default().to_string(),
                s.standards_status()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn imports(hub: &aws_sdk_securityhub::Client) -> Vec<String> {
    hub.list_enabled_products_for_import()
        .max_results(100)
        .send()
        .await
        .unwrap()
        .product_subscriptions()
        .to_vec()
}

/// The sample `name` delivered again as a new event (its id `id` changed), found ALREADY_COMPLIANT.
async fn redelivered(s: &Setup, name: &str, id: &str) {
    let again = events::load(name, &[(id, "00000000-0000-0000-0000-0000000000ff")]);
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, again)
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "ALREADY_COMPLIANT",
        "{name}: {:?}",
        resp.reports[0]
    );
}

#[tokio::test]
async fn disabled_standards_and_an_integrations_import_are_enabled_again() {
    let s = setup().await;
    let hub = aws_sdk_securityhub::Client::new(&s.member);
    // As a member's Security Hub is: the default standards and AWS's integrations on.
    hub.enable_security_hub().send().await.unwrap();
    let fsbp = format!(
        "arn:aws:securityhub:us-east-1:{MEMBER}:subscription/aws-foundational-security-best-practices/v/1.0.0"
    );
    let cis =
        format!("arn:aws:securityhub:us-east-1:{MEMBER}:subscription/cis-aws-foundations-benchmark/v/1.2.0");
    let both = |status: &str| {
        vec![
            (fsbp.clone(), status.to_string()),
            (cis.clone(), status.to_string()),
        ]
    };
    // Security Hub takes minutes to enable a standard: the first read finds them PENDING.
    assert_eq!(standards(&hub).await, both("PENDING"));
    assert_eq!(standards(&hub).await, both("READY"));
    hub.batch_disable_standards()
        .standards_subscription_arns(&fsbp)
        .send()
        .await
        .unwrap();
    let event = events::load("cloudtrail-securityhub-batchdisablestandards.json", &[]);
    // Answered while Security Hub is still disabling it: retried, nothing written.
    s.emu.clear_calls().await;
    let first = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event.clone()).await;
    assert!(first.is_err(), "a standard still DELETING is retried: {first:?}");
    assert!(!s
        .emu
        .calls()
        .await
        .iter()
        .any(|c| c.action.starts_with("BatchEnableStandards")));
    // The retry: FSBP is gone now, enabled again, and read back PENDING: not yet proven on.
    let (outcome, note) = replay(&s, event).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(note.contains("Security Hub reports"), "{note}");
    assert_eq!(standards(&hub).await, both("READY"), "FSBP on again, CIS kept");
    // A later delivery finds it READY: now proven.
    redelivered(
        &s,
        "cloudtrail-securityhub-batchdisablestandards.json",
        "00000000-0000-0000-0000-000000000033",
    )
    .await;

    let guardduty = format!(
        "arn:aws:securityhub:us-east-1:{MEMBER}:product-subscription/aws/guardduty"
    );
    hub.disable_import_findings_for_product()
        .product_subscription_arn(&guardduty)
        .send()
        .await
        .unwrap();
    let before = imports(&hub).await;
    assert!(!before.contains(&guardduty), "{before:?}");
    let (outcome, note) = replay(
        &s,
        events::load(
            "cloudtrail-securityhub-disableimportfindingsforproduct.json",
            &[],
        ),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    let after = imports(&hub).await;
    assert!(after.contains(&guardduty), "{after:?}");
    assert_eq!(after.len(), before.len() + 1, "only GuardDuty's import: {after:?}");

    // Replayed again, now that both are on: nothing to do, no write.
    s.emu.clear_calls().await;
    redelivered(
        &s,
        "cloudtrail-securityhub-disableimportfindingsforproduct.json",
        "00000000-0000-0000-0000-000000000034",
    )
    .await;
    let writes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.action.starts_with("EnableImport"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

/// tamper-restore as a deployment with the organization's Config bucket `bucket` configures it.
fn with_config_bucket(bucket: &str) -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_CONFIG_BUCKET").then(|| bucket.to_string()))
        .unwrap();
    r
}

#[tokio::test]
async fn a_deleted_delivery_channel_is_made_again_to_the_organizations_bucket() {
    let s = setup().await;
    let config = aws_sdk_config::Client::new(&s.member);
    // The organization's Config bucket, in another account (the central one here).
    aws_sdk_s3::Client::new(&s.central)
        .create_bucket()
        .bucket("org-config-bucket")
        .send()
        .await
        .unwrap();
    // The member's recorder and channel; the tampering: recording stopped, the channel deleted.
    stopped_recorder(&s.member).await;
    config
        .delete_delivery_channel()
        .delivery_channel_name("default")
        .send()
        .await
        .unwrap();
    let r = with_config_bucket("org-config-bucket");
    let (outcome, note) = replay_with(
        &s,
        &r,
        events::load("cloudtrail-config-deletedeliverychannel.json", &[]),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    let channels = config.describe_delivery_channels().send().await.unwrap();
    let read: Vec<_> = channels
        .delivery_channels()
        .iter()
        .map(|c| (c.name().unwrap_or_default(), c.s3_bucket_name().unwrap_or_default()))
        .collect();
    assert_eq!(read, vec![("default", "org-config-bucket")]);
    let status = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    assert!(
        status.configuration_recorders_status()[0].recording(),
        "{status:?}"
    );

    // A bucket no account has: AWS Config refuses the channel, and the failure is recorded.
    config
        .stop_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    config
        .delete_delivery_channel()
        .delivery_channel_name("default")
        .send()
        .await
        .unwrap();
    let gone = with_config_bucket("no-such-config-bucket");
    let again = events::load(
        "cloudtrail-config-deletedeliverychannel.json",
        &[("00000000-0000-0000-0000-000000000036", "00000000-0000-0000-0000-0000000000fd")],
    );
    let (outcome, note) = replay_with(&s, &gone, again).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("NoSuchBucket"), "{note}");
    assert!(config
        .describe_delivery_channels()
        .send()
        .await
        .unwrap()
        .delivery_channels()
        .is_empty());
}

/// tamper-restore as a deployment with the organization's trail bucket `bucket` configures it.
fn with_trail_bucket(bucket: &str) -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_TRAIL_BUCKET").then(|| bucket.to_string()))
        .unwrap();
    r
}

/// The member's trails as DescribeTrails reads them: (name, bucket, multi-Region, validation,
/// logging).
async fn trails_of(ct: &aws_sdk_cloudtrail::Client) -> Vec<(String, String, bool, bool, bool)> {
    let out = ct.describe_trails().send().await.unwrap();
    let mut v = Vec::new();
    for t in out.trail_list() {
        let name = t.name().unwrap_or_default().to_string();
        let logging = ct
            .get_trail_status()
            .name(&name)
            .send()
            .await
            .unwrap()
            .is_logging()
            .unwrap_or(false);
        v.push((
            name,
            t.s3_bucket_name().unwrap_or_default().to_string(),
            t.is_multi_region_trail().unwrap_or(false),
            t.log_file_validation_enabled().unwrap_or(false),
            logging,
        ));
    }
    v.sort();
    v
}

/// No CloudTrail call but reads since the call log was last cleared.
async fn assert_no_trail_write(s: &Setup) {
    let writes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| {
            c.service == "cloudtrail"
                && !["DescribeTrails", "GetTrailStatus"].contains(&c.action.as_str())
        })
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn a_deleted_trail_is_made_again_to_the_organizations_bucket_where_nothing_else_logs_the_account(
) {
    const EVENT: &str = "cloudtrail-cloudtrail-deletetrail.json";
    const NAME: &str = "stratus-red-team-cloudtraild-trail-kvrwohmiai";
    let s = setup().await;
    let ct = aws_sdk_cloudtrail::Client::new(&s.member);
    // The organization's trail bucket, in another account (the central one here), with the
    // policy CloudTrail asks for; and one without it.
    seed::trail_bucket(&s.central, "org-trail-bucket").await;
    seed::public_bucket(&s.central, "no-trail-policy", &[]).await;
    // The member's own trail, logging; the tampering: deleted.
    ct.create_trail()
        .name(NAME)
        .s3_bucket_name("org-trail-bucket")
        .send()
        .await
        .unwrap();
    ct.start_logging().name(NAME).send().await.unwrap();
    ct.delete_trail().name(NAME).send().await.unwrap();
    assert!(trails_of(&ct).await.is_empty());

    // A bucket CloudTrail may not write to: refused at CreateTrail, the failure recorded, and
    // nothing made.
    let (outcome, note) = replay_with(&s, &with_trail_bucket("no-trail-policy"), events::load(EVENT, &[])).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("InsufficientS3BucketPolicy"), "{note}");
    assert!(trails_of(&ct).await.is_empty());

    // Made again by its name, everywhere, validated, to the organization's bucket, and logging;
    // UNCONFIRMED: the deleted trail's key, log group and selectors are not in the call.
    let r = with_trail_bucket("org-trail-bucket");
    let second = events::load(EVENT, &[("00000000-0000-0000-0000-000000000018", "00000000-0000-0000-0000-0000000000fc")]);
    let (outcome, note) = replay_with(&s, &r, second).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert_eq!(
        trails_of(&ct).await,
        vec![(NAME.into(), "org-trail-bucket".into(), true, true, true)]
    );
    // A later delivery finds it there: nothing written.
    s.emu.clear_calls().await;
    let third = events::load(EVENT, &[("00000000-0000-0000-0000-000000000018", "00000000-0000-0000-0000-0000000000fd")]);
    let resp = quell::runtime::handle(&r, &s.ctx, third).await.expect("handled");
    assert_eq!(resp.reports[0].outcome.name(), "UNCONFIRMED", "{:?}", resp.reports[0]);
    assert_no_trail_write(&s).await;

    // Deleted again beside another multi-Region trail that still logs the account: the deleted
    // one was a second trail, whose settings the call does not hold. Escalated, nothing made.
    ct.create_trail()
        .name("team-audit")
        .s3_bucket_name("org-trail-bucket")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("team-audit").send().await.unwrap();
    ct.delete_trail().name(NAME).send().await.unwrap();
    s.emu.clear_calls().await;
    let fourth = events::load(EVENT, &[("00000000-0000-0000-0000-000000000018", "00000000-0000-0000-0000-0000000000fe")]);
    let (outcome, note) = replay_with(&s, &r, fourth).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("ManualActionRequired") && note.contains("'team-audit' still logs"),
        "{note}"
    );
    // The channel's message carries the whole command (Security Hub's note is cut at 512).
    let sent = s.emu.sns_messages().await;
    let message = sent.last().unwrap()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("aws cloudtrail create-trail --region us-east-1 --name '{NAME}'")),
        "{message}"
    );
    assert_no_trail_write(&s).await;
    assert_eq!(
        trails_of(&ct).await,
        vec![("team-audit".into(), "org-trail-bucket".into(), true, false, true)]
    );
}

/// The member's VPC flow logs: (VPC, destination, traffic type), active ones only.
async fn vpc_flow_logs(ec2: &aws_sdk_ec2::Client) -> Vec<(String, String, String)> {
    let out = ec2.describe_flow_logs().send().await.unwrap();
    let mut v: Vec<_> = out
        .flow_logs()
        .iter()
        .filter(|f| f.flow_log_status() == Some("ACTIVE"))
        .map(|f| {
            (
                f.resource_id().unwrap_or_default().to_string(),
                f.log_destination().unwrap_or_default().to_string(),
                f.traffic_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn deleted_flow_logs_give_every_vpc_left_without_one_a_flow_log_to_the_organizations_bucket() {
    use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, Tag, TagSpecification, TrafficType};
    const EVENT: &str = "cloudtrail-ec2-deleteflowlogs.json";
    const TO: &str = "arn:aws:s3:::org-flow-logs";
    let s = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&s.member);
    // The organization's flow log bucket, in another account (the central one here), whose
    // policy lets log delivery write; and one whose policy does not.
    seed::delivery_bucket(&s.central, "org-flow-logs", "delivery.logs.amazonaws.com").await;
    seed::public_bucket(&s.central, "no-flow-log-policy", &[]).await;
    // Two VPCs beside the member's default one, and a third tagged exempt.
    let mut made = Vec::new();
    for (cidr, exempt) in [("10.1.0.0/16", false), ("10.2.0.0/16", false), ("10.3.0.0/16", true)] {
        let mut req = ec2.create_vpc().cidr_block(cidr);
        if exempt {
            req = req.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Vpc)
                    .tags(Tag::builder().key("quell:exempt").value("true").build())
                    .build(),
            );
        }
        made.push(req.send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string());
    }
    let (lost, exempt) = (made[0].clone(), made[2].clone());
    let all: Vec<String> = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    assert_eq!(all.len(), 4, "{all:?}");
    // Every VPC but the exempt one logs to the bucket; the tampering: one VPC's flow log deleted.
    let logged: Vec<String> = all.iter().filter(|v| **v != exempt).cloned().collect();
    let out = ec2
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .set_resource_ids(Some(logged.clone()))
        .traffic_type(TrafficType::All)
        .log_destination_type(LogDestinationType::S3)
        .log_destination(TO)
        .send()
        .await
        .unwrap();
    assert!(out.unsuccessful().is_empty(), "{out:?}");
    let gone = ec2
        .describe_flow_logs()
        .send()
        .await
        .unwrap()
        .flow_logs()
        .iter()
        .find(|f| f.resource_id() == Some(lost.as_str()))
        .and_then(|f| f.flow_log_id())
        .unwrap()
        .to_string();
    ec2.delete_flow_logs().flow_log_ids(&gone).send().await.unwrap();
    let expected: Vec<(String, String, String)> = {
        let mut v: Vec<_> = logged
            .iter()
            .map(|id| (id.clone(), TO.to_string(), "ALL".to_string()))
            .collect();
        v.sort();
        v
    };
    let before: Vec<_> = expected.iter().filter(|(id, _, _)| *id != lost).cloned().collect();
    assert_eq!(vpc_flow_logs(&ec2).await, before);

    // A bucket log delivery may not write to: EC2 reports the VPC unsuccessful, the failure is
    // recorded, and nothing is made.
    let (outcome, note) = replay_with(&s, &with_flow_log_bucket("no-flow-log-policy"), events::load(EVENT, &[])).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("Access Denied for LogDestination"), "{note}");
    assert_eq!(vpc_flow_logs(&ec2).await, before);

    // The organization's bucket: the VPC that lost its flow log has one again, all traffic; the
    // exempt one is left. UNCONFIRMED: the call names only the deleted flow log's id.
    let again = events::load(EVENT, &[("00000000-0000-0000-0000-000000000022", "00000000-0000-0000-0000-0000000000fb")]);
    let (outcome, note) = replay_with(&s, &with_flow_log_bucket("org-flow-logs"), again).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert_eq!(vpc_flow_logs(&ec2).await, expected);

    // A flow log to S3 sets up a log delivery, which AWS authorizes at the same call: a member
    // user allowed all of EC2 but not logs:CreateLogDelivery is refused, as quell's role would be.
    let as_user = member_user(&s, "flow-logger", "ec2:*").await;
    let refused = aws_sdk_ec2::Client::new(&as_user)
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(&exempt)
        .traffic_type(TrafficType::All)
        .log_destination_type(LogDestinationType::S3)
        .log_destination(TO)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&refused),
        Some("UnauthorizedOperation"),
        "{refused:?}"
    );
    assert!(format!("{refused:?}").contains("logs:CreateLogDelivery"), "{refused:?}");
    assert_eq!(vpc_flow_logs(&ec2).await, expected);
}

/// A member IAM user allowed `action` (and nothing else) on every resource, as an SDK
/// configuration: to show the emulator holds a caller to the actions AWS authorizes beside a
/// call's own, as it holds quell's roles.
async fn member_user(s: &Setup, name: &str, action: &str) -> aws_config::SdkConfig {
    let iam = aws_sdk_iam::Client::new(&s.member);
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("only")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    quell_tests::emulator::sdk_config(
        &s.emu.endpoint,
        aws_credential_types::Credentials::new(key.access_key_id, key.secret_access_key, None, None, "test"),
    )
}

#[tokio::test]
async fn a_deleted_recorder_is_made_again_with_configs_service_linked_role_and_records() {
    use aws_sdk_config::types::ConfigurationRecorder;
    const EVENT: &str = "cloudtrail-config-deleteconfigurationrecorder.json";
    let s = setup().await;
    let config = aws_sdk_config::Client::new(&s.member);
    // The member's recorder (AWS Config's service-linked role) and channel; the tampering:
    // recording stopped, the recorder deleted.
    stopped_recorder(&s.member).await;
    config
        .delete_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    let (outcome, note) = replay(&s, events::load(EVENT, &[])).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    let recorders = config.describe_configuration_recorders().send().await.unwrap();
    let read: Vec<_> = recorders
        .configuration_recorders()
        .iter()
        .map(|r| {
            (
                r.name().unwrap_or_default(),
                r.role_arn().unwrap_or_default(),
                r.recording_group().is_some_and(|g| g.all_supported()),
            )
        })
        .collect();
    assert_eq!(
        read,
        vec![(
            "default",
            format!("arn:aws:iam::{MEMBER}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig").as_str(),
            true
        )]
    );
    let status = config.describe_configuration_recorder_status().send().await.unwrap();
    assert!(status.configuration_recorders_status()[0].recording(), "{status:?}");

    // Passing a role is iam:PassRole's to allow: a member user allowed all of AWS Config but not
    // that is refused, as quell's role would be (it may pass service-linked roles only).
    let as_user = member_user(&s, "config-admin", "config:*").await;
    let refused = aws_sdk_config::Client::new(&as_user)
        .put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name("default")
                .role_arn(read[0].1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(format!("{refused:?}").contains("iam:PassRole"), "{refused:?}");

    // Deleted again, with AWS Config's service-linked role gone too: quell may not make that
    // role, so AWS Config refuses the recorder; the failure is recorded and nothing is made.
    config
        .stop_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    config
        .delete_configuration_recorder()
        .configuration_recorder_name("default")
        .send()
        .await
        .unwrap();
    aws_sdk_iam::Client::new(&s.member)
        .delete_service_linked_role()
        .role_name("AWSServiceRoleForConfig")
        .send()
        .await
        .unwrap();
    let again = events::load(EVENT, &[("00000000-0000-0000-0000-000000000037", "00000000-0000-0000-0000-0000000000fa")]);
    let (outcome, note) = replay(&s, again).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("InvalidRole"), "{note}");
    assert!(config
        .describe_configuration_recorders()
        .send()
        .await
        .unwrap()
        .configuration_recorders()
        .is_empty());
}

/// EC2.6 (Security Hub CSPM) on a member VPC without flow logs, where the deployment names the
/// organization's flow log bucket: a flow log of all traffic to it, read back, and the control's
/// finding RESOLVED.
#[tokio::test]
async fn ec2_6_gives_the_vpc_a_flow_log_to_the_organizations_bucket_and_resolves() {
    let s = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&s.member);
    seed::delivery_bucket(&s.central, "org-flow-logs", "delivery.logs.amazonaws.com").await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let arn = format!("arn:aws:ec2:us-east-1:{MEMBER}:vpc/{vpc}");
    // The sample GuardDuty.1 finding, made EC2.6's on the VPC (same shape, AWS's own product).
    let mut event = events::load(
        "securityhub-imported-fsbp-guardduty-1.json",
        &[
            ("GuardDuty.1", "EC2.6"),
            ("guardduty-enabled-centralized", "vpc-flow-logs-enabled"),
            ("\"AwsAccount\"", "\"AwsEc2Vpc\""),
            ("AWS::::Account:111111111111", &arn),
        ],
    );
    let id = seed::control_finding(&s.member, MEMBER, "EC2.6", "NEW", ("AwsEc2Vpc", &arn)).await;
    event["detail"]["findings"][0]["Id"] = json!(id);
    let resp = quell::runtime::handle(&with_flow_log_bucket("org-flow-logs"), &s.ctx, event)
        .await
        .expect("handled");
    assert_eq!(resp.reports[0].outcome.name(), "REMEDIATED", "{:?}", resp.reports[0]);
    assert!(vpc_flow_logs(&ec2)
        .await
        .contains(&(vpc, "arn:aws:s3:::org-flow-logs".to_string(), "ALL".to_string())));
    let (workflow, _) = seed::workflow(&s.central, &id).await.unwrap();
    assert_eq!(workflow, "RESOLVED");
}

/// tamper-restore as a deployment with the organization's flow log bucket `bucket` configures it.
fn with_flow_log_bucket(bucket: &str) -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_FLOW_LOG_BUCKET").then(|| bucket.to_string()))
        .unwrap();
    r
}

/// The member's Security Hub control finding `control` on its account, seeded NEW, and `event`'s
/// finding made that one (its Id), so quell's record lands on a finding the member has.
async fn on_member_control(s: &Setup, event: &mut Value, control: &str) -> String {
    let id = seed::control_finding(
        &s.member,
        MEMBER,
        control,
        "NEW",
        ("AwsAccount", &format!("AWS::::Account:{MEMBER}")),
    )
    .await;
    event["detail"]["findings"][0]["Id"] = json!(id);
    id
}

/// Every analyzer of the member in us-east-1: (name, type, status).
async fn analyzers_of(aa: &aws_sdk_accessanalyzer::Client) -> Vec<(String, String, String)> {
    let mut all: Vec<(String, String, String)> = aa
        .list_analyzers()
        .send()
        .await
        .unwrap()
        .analyzers()
        .iter()
        .map(|a| {
            (
                a.name().to_string(),
                a.r#type().as_str().to_string(),
                a.status().as_str().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

/// No Access Analyzer call but reads since the call log was last cleared.
async fn assert_no_analyzer_write(s: &Setup) {
    let writes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service == "access-analyzer" && c.method != "GET")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

fn analyzer(name: &str, kind: &str, status: &str) -> (String, String, String) {
    (name.into(), kind.into(), status.into())
}

#[tokio::test]
async fn a_deleted_analyzer_is_made_again_where_nothing_else_analyzes_external_access() {
    use aws_sdk_accessanalyzer::types::Type;
    const EVENT: &str = "cloudtrail-access-analyzer-deleteanalyzer.json";
    let s = setup().await;
    let aa = aws_sdk_accessanalyzer::Client::new(&s.member);
    // The member's external access analyzer, and an unused-access one beside it.
    for (name, kind) in [
        ("org-external-access", Type::Account),
        ("unused", Type::AccountUnusedAccess),
    ] {
        aa.create_analyzer()
            .analyzer_name(name)
            .r#type(kind)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        analyzers_of(&aa).await,
        vec![
            analyzer("org-external-access", "ACCOUNT", "CREATING"),
            analyzer("unused", "ACCOUNT_UNUSED_ACCESS", "CREATING"),
        ]
    );
    aa.delete_analyzer()
        .analyzer_name("org-external-access")
        .send()
        .await
        .unwrap();

    // Made again; Access Analyzer reads it CREATING at first: not yet proven on.
    let (outcome, note) = replay(&s, events::load(EVENT, &[])).await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(note.contains("CREATING"), "{note}");
    assert_eq!(
        analyzers_of(&aa).await,
        vec![
            analyzer("org-external-access", "ACCOUNT", "ACTIVE"),
            analyzer("unused", "ACCOUNT_UNUSED_ACCESS", "ACTIVE"),
        ],
        "the external access analyzer back by its name, the other kept"
    );
    // A later delivery finds it ACTIVE: proven, and nothing written.
    s.emu.clear_calls().await;
    redelivered(&s, EVENT, "00000000-0000-0000-0000-000000000035").await;
    assert_no_analyzer_write(&s).await;

    // Deleted again, and another external access analyzer made in its place: the deleted one's
    // type is not in the call, so a person is told and nothing is made.
    aa.delete_analyzer()
        .analyzer_name("org-external-access")
        .send()
        .await
        .unwrap();
    aa.create_analyzer()
        .analyzer_name("account-external")
        .r#type(Type::Account)
        .send()
        .await
        .unwrap();
    s.emu.clear_calls().await;
    let again = events::load(EVENT, &[("00000000-0000-0000-0000-000000000035", "00000000-0000-0000-0000-0000000000fe")]);
    let (outcome, note) = replay(&s, again).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("ManualActionRequired") && note.contains("account-external (ACCOUNT)") && note.contains("create-analyzer"),
        "{note}"
    );
    assert_no_analyzer_write(&s).await;
    assert_eq!(
        analyzers_of(&aa).await,
        vec![
            analyzer("account-external", "ACCOUNT", "ACTIVE"),
            analyzer("unused", "ACCOUNT_UNUSED_ACCESS", "ACTIVE"),
        ]
    );
}

/// Alarms on RootAccountUsage named `names`, made and then deleted (as the replayed call did).
async fn alarms_deleted(cw: &aws_sdk_cloudwatch::Client, names: &[&str]) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    for name in names {
        cw.put_metric_alarm()
            .alarm_name(*name)
            .namespace("CISBenchmark")
            .metric_name("RootAccountUsage")
            .statistic(Statistic::Sum)
            .period(300)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .send()
            .await
            .unwrap();
    }
    cw.delete_alarms()
        .set_alarm_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deleted_cis_alarm_is_made_again_as_the_member_stack_defines_it() {
    let s = setup().await;
    let cw = aws_sdk_cloudwatch::Client::new(&s.member);
    alarms_deleted(&cw, &["quell-cis-RootAccountUsage", "team-billing"]).await;
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-cloudwatch-deletealarms.json", &[]),
    )
    .await;
    // Made again and read back; no metric filter of the member feeds it, so it cannot fire.
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(
        note.contains("RootAccountUsage") && note.contains("cannot fire"),
        "{note}"
    );
    let alarms = cw.describe_alarms().send().await.unwrap();
    let found: Vec<_> = alarms
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.namespace().unwrap_or_default().to_string(),
                a.metric_name().unwrap_or_default().to_string(),
                a.period(),
                a.threshold(),
            )
        })
        .collect();
    // quell's alarm is back, as org/trail.yaml defines it; the team's own is not quell's.
    assert_eq!(
        found,
        [(
            "quell-cis-RootAccountUsage".to_string(),
            "CISBenchmark".to_string(),
            "RootAccountUsage".to_string(),
            Some(300),
            Some(1.0)
        )]
    );
}

/// Each metric filter of `group`: (name, pattern, metric, namespace).
async fn metric_filters(
    member: &aws_config::SdkConfig,
    group: &str,
) -> Vec<(String, String, String, String)> {
    let out = aws_sdk_cloudwatchlogs::Client::new(member)
        .describe_metric_filters()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .metric_filters()
        .iter()
        .flat_map(|f| {
            f.metric_transformations().iter().map(move |m| {
                (
                    f.filter_name().unwrap_or_default().to_string(),
                    f.filter_pattern().unwrap_or_default().to_string(),
                    m.metric_name().to_string(),
                    m.metric_namespace().to_string(),
                )
            })
        })
        .collect();
    v.sort();
    v
}

/// A trail's log group as org/trail.yaml and a team leave it: quell's RootAccountUsage filter
/// (named `cis`, the CIS `pattern`) and a team's filter of its own, both in CISBenchmark.
async fn trail_group(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, cis: &str, pattern: &str) {
    use aws_sdk_cloudwatchlogs::types::MetricTransformation;
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    for (name, pattern, metric) in [
        (cis, pattern, "RootAccountUsage"),
        ("team-errors", "{ $.errorCode = \"*\" }", "TeamErrors"),
    ] {
        logs.put_metric_filter()
            .log_group_name(group)
            .filter_name(name)
            .filter_pattern(pattern)
            .metric_transformations(
                MetricTransformation::builder()
                    .metric_name(metric)
                    .metric_namespace("CISBenchmark")
                    .metric_value("1")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_deleted_cis_metric_filter_is_made_again_on_the_trails_group_and_its_alarm_resolves() {
    let s = setup().await;
    let group = "aws-cloudtrail-logs-111111111111";
    let cis = "quell-trail-RootAccountUsageFilter-1A2B3C4D";
    let (_, _, pattern) = quell::cis::alarm("quell-cis-RootAccountUsage").unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.member);
    trail_group(&logs, group, cis, pattern).await;
    let seeded = metric_filters(&s.member, group).await;
    logs.delete_metric_filter()
        .log_group_name(group)
        .filter_name(cis)
        .send()
        .await
        .unwrap();
    assert_eq!(metric_filters(&s.member, group).await.len(), 1);
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-logs-deletemetricfilter.json", &[]),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    // Read back: the CIS filter is as it was, by its name, and the team's is untouched.
    assert_eq!(metric_filters(&s.member, group).await, seeded);

    // Its alarm, deleted now, comes back fed by that filter: RESOLVED, not UNCONFIRMED.
    let cw = aws_sdk_cloudwatch::Client::new(&s.member);
    alarms_deleted(&cw, &["quell-cis-RootAccountUsage"]).await;
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-cloudwatch-deletealarms.json", &[]),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");

    // A filter on the trail's group that is not a CIS one is escalated, and not made again.
    logs.delete_metric_filter()
        .log_group_name(group)
        .filter_name("team-errors")
        .send()
        .await
        .unwrap();
    let (outcome, note) = replay(
        &s,
        events::load(
            "cloudtrail-logs-deletemetricfilter.json",
            &[
                (cis, "team-errors"),
                (
                    "00000000-0000-0000-0000-000000000021",
                    "00000000-0000-0000-0000-000000000022",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("put-metric-filter") && note.contains("ManualActionRequired"),
        "{note}"
    );
    assert_eq!(metric_filters(&s.member, group).await.len(), 1);
}

#[tokio::test]
async fn a_deleted_trail_log_group_is_made_again_with_the_filters_of_quells_alarms() {
    let s = setup().await;
    // The sample's group: a trail's (its name says so), with quell's RootAccountUsage filter and
    // a team's filter on it; quell's RootAccountUsage alarm in the account.
    let group = "cloudtrail-log-group-test";
    let cis = "quell-trail-RootAccountUsageFilter-1A2B3C4D";
    let (_, _, pattern) = quell::cis::alarm("quell-cis-RootAccountUsage").unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.member);
    trail_group(&logs, group, cis, pattern).await;
    let cw = aws_sdk_cloudwatch::Client::new(&s.member);
    cw.put_metric_alarm()
        .alarm_name("quell-cis-RootAccountUsage")
        .namespace("CISBenchmark")
        .metric_name("RootAccountUsage")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(
            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .send()
        .await
        .unwrap();
    logs.delete_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    // As CloudWatch Logs: the filters went with the group.
    let filters = logs.describe_metric_filters().send().await.unwrap();
    assert!(filters.metric_filters().is_empty(), "{filters:?}");

    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-logs-deleteloggroup.json", &[]),
    )
    .await;
    // Made again and read back, but the trail's delivery and the old group's settings are not
    // known to quell: NOTIFIED, never RESOLVED.
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    assert!(note.contains("the trail's delivery to cloudtrail-log"), "{note}");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups
            .log_groups()
            .iter()
            .filter_map(|g| g.log_group_name())
            .collect::<Vec<_>>(),
        [group]
    );
    // The CIS filter quell's alarm needs is on it again; the team's, not quell's to know, is not.
    assert_eq!(
        metric_filters(&s.member, group).await,
        [(
            "quell-cis-RootAccountUsageFilter".to_string(),
            pattern.to_string(),
            "RootAccountUsage".to_string(),
            "CISBenchmark".to_string()
        )]
    );
    // Another delivery finds the group and the filter there: nothing is made twice.
    s.emu.clear_calls().await;
    let (outcome, note) = replay(
        &s,
        events::load(
            "cloudtrail-logs-deleteloggroup.json",
            &[(
                "00000000-0000-0000-0000-000000000020",
                "00000000-0000-0000-0000-000000000062",
            )],
        ),
    )
    .await;
    assert_eq!(outcome, "UNCONFIRMED", "{note}");
    let writes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && (c.action.contains("Create") || c.action.contains("Put")))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn a_disabled_forwarding_rule_is_enabled_again() {
    use aws_sdk_eventbridge::types::RuleState;
    let s = setup().await;
    let rule = "quell-ForwardGuardDutyFindings";
    let events_client = aws_sdk_eventbridge::Client::new(&s.member);
    events_client
        .put_rule()
        .name(rule)
        .event_pattern(r#"{"detail-type":["GuardDuty Finding"],"source":["aws.guardduty"]}"#)
        .state(RuleState::Enabled)
        .send()
        .await
        .unwrap();
    events_client.disable_rule().name(rule).send().await.unwrap();
    let state = |o: aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput| {
        o.state().map(|s| s.as_str().to_string())
    };
    assert_eq!(
        state(events_client.describe_rule().name(rule).send().await.unwrap()).as_deref(),
        Some("DISABLED")
    );
    let (outcome, note) = replay(
        &s,
        events::load("cloudtrail-events-disablerule.json", &[]),
    )
    .await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    assert_eq!(
        state(events_client.describe_rule().name(rule).send().await.unwrap()).as_deref(),
        Some("ENABLED")
    );

    // Deleted, not disabled: nothing is made up, the stack that puts it back is named.
    events_client.delete_rule().name(rule).send().await.unwrap();
    let (outcome, note) = replay(
        &s,
        events::load(
            "cloudtrail-events-disablerule.json",
            &[(
                "00000000-0000-0000-0000-000000000060",
                "00000000-0000-0000-0000-000000000061",
            )],
        ),
    )
    .await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("ManualActionRequired") && note.contains("member/regional.yaml"),
        "{note}"
    );
    assert!(events_client.describe_rule().name(rule).send().await.is_err());
}

/// The member's detector leaves its GuardDuty administrator (either call's name): the
/// association is the administrator's to make again, so the command is escalated, no GuardDuty
/// write is made, and the member is read back still without its administrator.
#[tokio::test]
async fn a_detector_that_left_its_administrator_is_escalated_with_the_administrators_command() {
    const EVENT: &str = "cloudtrail-guardduty-disassociatefromadministratoraccount.json";
    let s = setup().await;
    let (gd, admin, id, admin_id) = detectors(&s).await;
    let administrator = || administrator_of(&gd, &id);
    for (call, event_id) in [
        ("DisassociateFromAdministratorAccount", "00000000-0000-0000-0000-000000000061"),
        ("DisassociateFromMasterAccount", "00000000-0000-0000-0000-0000000000f9"),
    ] {
        add_member(&admin, &admin_id).await;
        assert_eq!(administrator().await.as_deref(), Some(CENTRAL));
        // The tampering, in the member.
        leave_administrator(&gd, &id, call).await;
        assert_eq!(administrator().await, None);
        s.emu.clear_calls().await;
        let event = events::load(
            EVENT,
            &[
                ("00000000-0000-0000-0000-000000000061", event_id),
                ("DisassociateFromAdministratorAccount", call),
            ],
        );
        let (outcome, note) = replay(&s, event).await;
        assert_eq!(outcome, "FAILED", "{call}: {note}");
        assert!(
            note.contains("ManualActionRequired") && note.contains("create-members"),
            "{call}: {note}"
        );
        let writes = member_calls(&s, "guardduty").await;
        assert!(writes.is_empty(), "{call}: {writes:?}");
        assert_eq!(administrator().await, None, "{call}");
    }
}

/// The member's detector leaves the security account's GuardDuty (either call's name), where the
/// deployment names the quell bus: the security account, its administrator, associates it again
/// (its member list keeps the email), and the member reads its administrator back; the member
/// makes no GuardDuty write of its own.
#[tokio::test]
async fn a_detector_that_left_the_security_accounts_guardduty_is_associated_again_from_there() {
    const EVENT: &str = "cloudtrail-guardduty-disassociatefromadministratoraccount.json";
    let s = setup().await;
    let r = with_the_quell_bus();
    let (gd, admin, id, admin_id) = detectors(&s).await;
    let administrator = || administrator_of(&gd, &id);
    add_member(&admin, &admin_id).await;
    for (call, event_id) in [
        ("DisassociateFromAdministratorAccount", "00000000-0000-0000-0000-0000000000fc"),
        ("DisassociateFromMasterAccount", "00000000-0000-0000-0000-0000000000fd"),
    ] {
        assert_eq!(administrator().await.as_deref(), Some(CENTRAL));
        leave_administrator(&gd, &id, call).await;
        assert_eq!(administrator().await, None);
        let status = |admin: aws_sdk_guardduty::Client, admin_id: String| async move {
            let m = admin.get_members().detector_id(admin_id).account_ids(MEMBER).send().await.unwrap();
            m.members()[0].relationship_status().unwrap_or_default().to_string()
        };
        assert_eq!(status(admin.clone(), admin_id.clone()).await, "Removed");
        s.emu.clear_calls().await;
        let event = events::load(
            EVENT,
            &[
                ("00000000-0000-0000-0000-000000000061", event_id),
                ("DisassociateFromAdministratorAccount", call),
                ("82c919daa523bc69d203c24868c06849", &id),
            ],
        );
        let (outcome, note) = replay_with(&s, &r, event).await;
        assert_eq!(outcome, "REMEDIATED", "{call}: {note}");
        assert_eq!(administrator().await.as_deref(), Some(CENTRAL), "{call}");
        assert_eq!(status(admin.clone(), admin_id.clone()).await, "Enabled");
        let writes: Vec<_> = member_calls(&s, "guardduty")
            .await
            .into_iter()
            .filter(|c| c.method == "POST")
            .collect();
        assert!(writes.is_empty(), "{call}: {writes:?}");
    }
}

/// An invited member (not one of the organization's) that left the security account's GuardDuty:
/// only an invitation it accepts associates it again, and quell accepts none for it, so both
/// commands are escalated, no GuardDuty write is made in the member, and it is read back still
/// without its administrator; the person's two commands then associate it.
#[tokio::test]
async fn an_invited_member_that_left_is_escalated_with_the_invitation_and_its_acceptance() {
    const EVENT: &str = "cloudtrail-guardduty-disassociatefromadministratoraccount.json";
    let s = setup().await;
    let r = with_the_quell_bus();
    let (gd, admin, id, admin_id) = detectors(&s).await;
    add_member(&admin, &admin_id).await;
    let accept = || async {
        admin.invite_members().detector_id(&admin_id).account_ids(MEMBER).send().await.unwrap();
        let invitations = gd.list_invitations().send().await.unwrap();
        let invitation = invitations.invitations()[0].invitation_id().unwrap().to_string();
        gd.accept_administrator_invitation()
            .detector_id(&id)
            .administrator_id(CENTRAL)
            .invitation_id(invitation)
            .send()
            .await
            .unwrap();
    };
    gd.disassociate_from_administrator_account().detector_id(&id).send().await.unwrap();
    accept().await;
    assert_eq!(administrator_of(&gd, &id).await.as_deref(), Some(CENTRAL));
    gd.disassociate_from_administrator_account().detector_id(&id).send().await.unwrap();
    s.emu.clear_calls().await;
    let event = events::load(EVENT, &[("82c919daa523bc69d203c24868c06849", &id)]);
    let (outcome, note) = replay_with(&s, &r, event).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("ManualActionRequired") && note.contains("invite-members"),
        "{note}"
    );
    let writes: Vec<_> = s
        .emu
        .calls()
        .await
        .into_iter()
        // GetMembers is a POST that reads.
        .filter(|c| c.service == "guardduty" && c.method == "POST" && !c.path.ends_with("/member/get"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(administrator_of(&gd, &id).await, None);
    // The person's two commands.
    accept().await;
    assert_eq!(administrator_of(&gd, &id).await.as_deref(), Some(CENTRAL));
}

/// A detector in the member and one in the central account (its GuardDuty administrator to be):
/// their clients and ids.
async fn detectors(
    s: &Setup,
) -> (aws_sdk_guardduty::Client, aws_sdk_guardduty::Client, String, String) {
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    let admin = aws_sdk_guardduty::Client::new(&s.central);
    let id = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let admin_id = admin.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    (gd, admin, id, admin_id)
}

/// The central account's GuardDuty makes the member a member (CreateMembers, with its email).
async fn add_member(admin: &aws_sdk_guardduty::Client, admin_id: &str) {
    admin
        .create_members()
        .detector_id(admin_id)
        .account_details(
            aws_sdk_guardduty::types::AccountDetail::builder()
                .account_id(MEMBER)
                .email("member@example.com")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The member's detector leaves its GuardDuty administrator, by the call named `call`
/// (DisassociateFromAdministratorAccount, or the older DisassociateFromMasterAccount).
async fn leave_administrator(gd: &aws_sdk_guardduty::Client, id: &str, call: &str) {
    if call == "DisassociateFromAdministratorAccount" {
        gd.disassociate_from_administrator_account().detector_id(id).send().await.unwrap();
    } else {
        #[allow(deprecated)]
        gd.disassociate_from_master_account().detector_id(id).send().await.unwrap();
    }
}

/// The member detector's administrator account, as the member reads it.
async fn administrator_of(gd: &aws_sdk_guardduty::Client, id: &str) -> Option<String> {
    gd.get_administrator_account()
        .detector_id(id)
        .send()
        .await
        .unwrap()
        .administrator
        .and_then(|a| a.account_id)
}

/// The member's calls to `service` since the call log was last cleared.
async fn member_calls(s: &Setup, service: &str) -> Vec<quell_tests::emulator::Call> {
    s.emu
        .calls()
        .await
        .into_iter()
        .filter(|c| c.account == MEMBER && c.service == service)
        .collect()
}

/// quell's forwarding rule in the member, as member/regional.yaml makes it there: Config
/// compliance changes to the quell bus, with the member's quell-forward role.
const FORWARD_CONFIG: &str = "quell-ForwardConfig";
const FORWARD_CONFIG_PATTERN: &str =
    r#"{"detail-type":["Config Rules Compliance Change"],"source":["aws.config"]}"#;

fn quell_bus() -> String {
    format!("arn:aws:events:us-east-1:{CENTRAL}:event-bus/quell")
}

/// tamper-restore as the central stack deploys it: QUELL_OUTCOME_BUS_ARN names the quell bus.
fn with_the_quell_bus() -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_OUTCOME_BUS_ARN").then(quell_bus))
        .unwrap();
    r
}

/// The rule's state, pattern (as JSON) and targets (id, ARN, role), read back from the member.
async fn forward_rule_read(
    eb: &aws_sdk_eventbridge::Client,
    rule: &str,
) -> Option<(String, Value, Vec<(String, String, Option<String>)>)> {
    let r = eb.describe_rule().name(rule).send().await.ok()?;
    let targets = eb.list_targets_by_rule().rule(rule).send().await.unwrap();
    Some((
        r.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        serde_json::from_str(r.event_pattern().unwrap_or("null")).unwrap(),
        targets
            .targets()
            .iter()
            .map(|t| (t.id().to_string(), t.arn().to_string(), t.role_arn().map(str::to_string)))
            .collect(),
    ))
}

/// quell's forwarding rule emptied (RemoveTargets), then deleted (DeleteRule), in the member:
/// each time the rule is read back as member/regional.yaml makes it in a member account (its
/// pattern, ENABLED, one target `quell` on the quell bus with the member's quell-forward role),
/// put back by quell-tamper-restore under its own policy with IAM in force.
#[tokio::test]
async fn a_forwarding_rule_deleted_or_emptied_is_put_back_as_the_member_stack_makes_it() {
    let s = setup().await;
    let r = with_the_quell_bus();
    let eb = aws_sdk_eventbridge::Client::new(&s.member);
    let role = format!("arn:aws:iam::{MEMBER}:role/quell-forward");
    let made = (
        "ENABLED".to_string(),
        serde_json::from_str::<Value>(FORWARD_CONFIG_PATTERN).unwrap(),
        vec![("quell".to_string(), quell_bus(), Some(role.clone()))],
    );
    eb.put_rule()
        .name(FORWARD_CONFIG)
        .event_pattern(FORWARD_CONFIG_PATTERN)
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("quell")
        .arn(quell_bus())
        .role_arn(&role)
        .build()
        .unwrap();
    eb.put_targets().rule(FORWARD_CONFIG).targets(target).send().await.unwrap();
    assert_eq!(forward_rule_read(&eb, FORWARD_CONFIG).await.as_ref(), Some(&made));
    let named = |file: &str| {
        events::load(
            file,
            &[("quell-ForwardGuardDutyFindings", FORWARD_CONFIG)],
        )
    };

    // RemoveTargets: the rule stays, forwarding nowhere; quell gives it its target back.
    eb.remove_targets().rule(FORWARD_CONFIG).ids("quell").send().await.unwrap();
    assert!(forward_rule_read(&eb, FORWARD_CONFIG).await.unwrap().2.is_empty());
    let (outcome, note) = replay_with(&s, &r, named("cloudtrail-events-removetargets.json")).await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    assert_eq!(forward_rule_read(&eb, FORWARD_CONFIG).await.as_ref(), Some(&made));

    // DeleteRule (its targets removed first, as EventBridge requires): made again.
    eb.remove_targets().rule(FORWARD_CONFIG).ids("quell").send().await.unwrap();
    eb.delete_rule().name(FORWARD_CONFIG).send().await.unwrap();
    assert!(forward_rule_read(&eb, FORWARD_CONFIG).await.is_none());
    let (outcome, note) = replay_with(&s, &r, named("cloudtrail-events-deleterule.json")).await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    assert_eq!(forward_rule_read(&eb, FORWARD_CONFIG).await.as_ref(), Some(&made));
    let described = eb.describe_rule().name(FORWARD_CONFIG).send().await.unwrap();
    assert_eq!(
        described.description(),
        Some("quell: forwards Config compliance changes to quell's home Region")
    );

    // Delivered again: the rule as the stack makes it, nothing written.
    s.emu.clear_calls().await;
    let mut again = named("cloudtrail-events-deleterule.json");
    again["id"] = json!("00000000-0000-0000-0000-0000000000fa");
    again["detail"]["eventID"] = json!("5b2f3c1e-8d4a-4f6b-9c7e-2a1d0e9f8bfa");
    let (outcome, note) = replay_with(&s, &r, again).await;
    assert_eq!(outcome, "ALREADY_COMPLIANT", "{note}");
    let writes: Vec<_> = member_calls(&s, "events")
        .await
        .into_iter()
        .filter(|c| c.action.starts_with("Put") || c.action.starts_with("Enable"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // DisableRule: enabled again, read back whole.
    eb.disable_rule().name(FORWARD_CONFIG).send().await.unwrap();
    let (outcome, note) = replay_with(&s, &r, named("cloudtrail-events-disablerule.json")).await;
    assert_eq!(outcome, "REMEDIATED", "{note}");
    assert_eq!(forward_rule_read(&eb, FORWARD_CONFIG).await.as_ref(), Some(&made));
}

/// What quell-tamper-restore's policy lets a role do to quell's forwarding rules, asked of the
/// emulator with IAM in force: give quell-ForwardConfig its target on the quell bus with
/// quell-forward, and nothing else — no other target, no other rule, no other role passed, no
/// deletion. The probe holds exactly that policy under another name, so the permission audit
/// (which holds quell's own roles to calls their policy grants) sees no refused call of quell's.
#[tokio::test]
async fn tamper_restores_policy_may_put_back_only_quells_forwarding_rules_towards_quell() {
    use aws_sdk_eventbridge::types::Target;
    const PROBE: &str = "probe-tamper-restore";
    let s = setup().await;
    let eb = aws_sdk_eventbridge::Client::new(&s.member);
    eb.put_rule()
        .name(FORWARD_CONFIG)
        .event_pattern(FORWARD_CONFIG_PATTERN)
        .send()
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::new(&s.member);
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{CENTRAL}:root")}, "Action": "sts:AssumeRole"}]
    });
    iam.create_role()
        .role_name(PROBE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let policy = quell::privilege::member_policy(&TamperRestore::SPEC);
    iam.put_role_policy()
        .role_name(PROBE)
        .policy_name(PROBE)
        .policy_document(quell::privilege::rendered(&policy, "aws", MEMBER, CENTRAL, quell_tests::REGION))
        .send()
        .await
        .unwrap();
    let session = quell::member::Members::new(&s.central, PROBE, None, FUNCTION)
        .session("aws", MEMBER, quell_tests::emulator::REGION)
        .await
        .unwrap();
    let as_quell = aws_sdk_eventbridge::Client::new(session.config());
    let target = |arn: &str, role: &str| {
        Target::builder()
            .id("quell")
            .arn(arn)
            .role_arn(format!("arn:aws:iam::{MEMBER}:role/{role}"))
            .build()
            .unwrap()
    };
    let denied = |e: &dyn std::fmt::Debug| format!("{e:?}").contains("AccessDenied");
    let put = |targets: Vec<Target>| {
        let c = as_quell.clone();
        async move {
            c.put_targets()
                .rule(FORWARD_CONFIG)
                .set_targets(Some(targets))
                .send()
                .await
        }
    };
    // Allowed: the stack's own target.
    put(vec![target(&quell_bus(), "quell-forward")])
        .await
        .expect("the stack's target");
    let elsewhere = format!("arn:aws:events:us-east-1:{MEMBER}:event-bus/attacker");
    let exfil = Target::builder()
        .id("second")
        .arn("arn:aws:sqs:us-east-1:222222222222:exfil")
        .build()
        .unwrap();
    for (why, targets) in [
        // events:TargetArn: another bus, or another target even beside the quell bus.
        ("another bus", vec![target(&elsewhere, "quell-forward")]),
        ("a second target", vec![target(&quell_bus(), "quell-forward"), exfil]),
        // iam:PassRole only on quell-forward, to EventBridge.
        ("another role", vec![target(&quell_bus(), "quell-undo")]),
        // In a member, not even its own default bus, in any Region: only the quell bus.
        (
            "the member's own default bus",
            vec![target(
                &format!("arn:aws:events:eu-west-1:{MEMBER}:event-bus/default"),
                "quell-forward",
            )],
        ),
    ] {
        let e = put(targets).await.unwrap_err();
        assert!(denied(&e), "{why}: {e:?}");
    }
    // Another rule, by a name like quell's or not: denied (PutRule and PutTargets on quell's
    // forwarding rules only).
    for name in ["quell-persist", "team-rule"] {
        let e = as_quell
            .put_rule()
            .name(name)
            .event_pattern(FORWARD_CONFIG_PATTERN)
            .send()
            .await
            .unwrap_err();
        assert!(denied(&e), "{name}: {e:?}");
    }
    // Turning quell's forwarding off: denied to every quell role.
    let e = as_quell
        .remove_targets()
        .rule(FORWARD_CONFIG)
        .ids("quell")
        .send()
        .await
        .unwrap_err();
    assert!(denied(&e), "{e:?}");
    let e = as_quell.delete_rule().name(FORWARD_CONFIG).send().await.unwrap_err();
    assert!(denied(&e), "{e:?}");
    let e = as_quell.disable_rule().name(FORWARD_CONFIG).send().await.unwrap_err();
    assert!(denied(&e), "{e:?}");
    // Read back: the one target quell was allowed to give.
    let targets = eb.list_targets_by_rule().rule(FORWARD_CONFIG).send().await.unwrap();
    let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
    assert_eq!(arns, [quell_bus().as_str()]);
}

/// A forwarding rule the stacks do not make in a member (the findings rules are the security
/// account's), or any forwarding rule where the deployment names no quell bus: escalated with the
/// stack that puts it back, nothing written, the rule left as the call left it.
#[tokio::test]
async fn a_forwarding_rule_quell_cannot_put_back_is_escalated_and_left_as_the_call_left_it() {
    let s = setup().await;
    let rule = "quell-ForwardGuardDutyFindings";
    let eb = aws_sdk_eventbridge::Client::new(&s.member);
    eb.put_rule()
        .name(rule)
        .event_pattern(r#"{"detail-type":["GuardDuty Finding"],"source":["aws.guardduty"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule(rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("quell")
                .arn(quell_bus())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    eb.remove_targets().rule(rule).ids("quell").send().await.unwrap();
    for r in [TamperRestore::default(), with_the_quell_bus()] {
        s.emu.clear_calls().await;
        let mut event = events::load("cloudtrail-events-removetargets.json", &[]);
        if r.quell_bus.is_some() {
            event["id"] = json!("00000000-0000-0000-0000-0000000000fb");
            event["detail"]["eventID"] = json!("5b2f3c1e-8d4a-4f6b-9c7e-2a1d0e9f8bfb");
        }
        let (outcome, note) = replay_with(&s, &r, event).await;
        assert_eq!(outcome, "FAILED", "{note}");
        assert!(note.contains("ManualActionRequired") && note.contains(rule), "{note}");
        let writes = member_calls(&s, "events").await;
        assert!(writes.is_empty(), "{writes:?}");
        let targets = eb.list_targets_by_rule().rule(rule).send().await.unwrap();
        assert!(targets.targets().is_empty());
    }
    eb.delete_rule().name(rule).send().await.unwrap();
    s.emu.clear_calls().await;
    let (outcome, note) = replay(&s, events::load("cloudtrail-events-deleterule.json", &[])).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("ManualActionRequired") && note.contains(rule), "{note}");
    let writes = member_calls(&s, "events").await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(eb.describe_rule().name(rule).send().await.is_err());
}

#[tokio::test]
async fn what_quell_cannot_put_back_is_escalated_with_the_command_and_nothing_is_changed() {
    let s = setup().await;
    for (name, command) in [
        ("cloudtrail-ec2-deleteflowlogs.json", "create-flow-logs"),
        ("cloudtrail-cloudtrail-deletetrail.json", "create-trail"),
    ] {
        s.emu.clear_calls().await;
        let (outcome, note) = replay(&s, events::load(name, &[])).await;
        assert_eq!(outcome, "FAILED", "{name}: {note}");
        assert!(
            note.contains(command) && note.contains("ManualActionRequired"),
            "{name}: {note}"
        );
        let writes: Vec<_> = s
            .emu
            .calls()
            .await
            .into_iter()
            .filter(|c| c.account == MEMBER && !matches!(c.service.as_str(), "sts" | "securityhub"))
            .collect();
        assert!(writes.is_empty(), "{name}: {writes:?}");
    }
}

#[tokio::test]
async fn an_attempt_that_failed_is_escalated_and_quells_own_undo_is_left_alone() {
    let s = setup().await;
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    let id = gd
        .create_detector()
        .enable(true)
        .send()
        .await
        .unwrap()
        .detector_id
        .unwrap();
    // Someone tried, and was denied: nothing changed, but a person must know.
    let mut tried = events::load(
        "cloudtrail-guardduty-deletedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    );
    tried["detail"]["errorCode"] = json!("AccessDenied");
    tried["detail"]["errorMessage"] = json!("explicit deny in a service control policy");
    let (outcome, note) = replay(&s, tried).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(
        note.contains("attempted") && note.contains("AccessDenied"),
        "{note}"
    );

    // A call through quell's own undo role turning a sensor off: escalated (an undo a person ran,
    // or someone holding the role), and no GuardDuty call.
    let mut undo = events::load(
        "cloudtrail-guardduty-updatedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    );
    undo["id"] = json!("00000000-0000-0000-0000-00000000aa02");
    undo["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{MEMBER}:assumed-role/quell-undo/alice"),
        "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{MEMBER}:role/quell-undo")}}
    });
    s.emu.clear_calls().await;
    let (outcome, note) = replay(&s, undo.clone()).await;
    assert_eq!(outcome, "FAILED", "{note}");
    assert!(note.contains("quell's own roles"), "{note}");
    assert!(!s.emu.calls().await.iter().any(|c| c.service == "guardduty"));

    // quell's own restore coming back through CloudTrail: let go, no message, no call.
    let mut own = undo;
    own["id"] = json!("00000000-0000-0000-0000-00000000aa03");
    own["detail"]["requestParameters"] = json!({"detectorId": id, "enable": true});
    own["detail"]["userIdentity"]["arn"] = json!(format!(
        "arn:aws:sts::{MEMBER}:assumed-role/quell-tamper-restore/quell"
    ));
    own["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!(format!("arn:aws:iam::{MEMBER}:role/quell-tamper-restore"));
    let before = s.emu.sns_messages().await.len();
    s.emu.clear_calls().await;
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, own)
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "OUT_OF_SCOPE",
        "{:?}",
        resp.reports[0]
    );
    assert_eq!(s.emu.sns_messages().await.len(), before);
    assert!(s
        .emu
        .calls()
        .await
        .iter()
        .all(|c| c.service != "guardduty" && c.service != "sts"));
}

/// The same sensors' posture controls: GuardDuty.1 (Security Hub CSPM) makes the account's detector
/// where there is none; Config.1 on the new Security Hub starts the stopped recorder, and its
/// finding is left In Progress (the recorder's role is not checked), read back with GetFindingsV2.
#[tokio::test]
async fn the_sensors_posture_controls_put_the_detector_and_the_recorder_back() {
    let s = setup().await;
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    assert!(gd
        .list_detectors()
        .send()
        .await
        .unwrap()
        .detector_ids()
        .is_empty());
    let mut event = events::load("securityhub-imported-fsbp-guardduty-1.json", &[]);
    let control = on_member_control(&s, &mut event, "GuardDuty.1").await;
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event)
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "UNCONFIRMED",
        "{:?}",
        resp.reports[0]
    );
    let ids = gd
        .list_detectors()
        .send()
        .await
        .unwrap()
        .detector_ids()
        .to_vec();
    assert_eq!(ids.len(), 1);
    let d = gd.get_detector().detector_id(&ids[0]).send().await.unwrap();
    assert_eq!(d.status().map(|s| s.as_str()), Some("ENABLED"));
    let (workflow, note) = seed::workflow(&s.central, &control).await.unwrap();
    assert_eq!(workflow, "NOTIFIED");
    assert!(note.unwrap_or_default().contains("create-members"));

    // Config.1 through the new Security Hub.
    let config = aws_sdk_config::Client::new(&s.member);
    stopped_recorder(&s.member).await;
    let event = events::load("securityhub-v2-imported-fsbp-config-1.json", &[]);
    s.emu.seed_hub_v2(event["detail"]["findings"].clone()).await;
    let uid = event["detail"]["findings"][0]["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event)
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "UNCONFIRMED",
        "{:?}",
        resp.reports[0]
    );
    let status = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    assert!(status
        .configuration_recorders_status()
        .iter()
        .all(|r| r.recording()));
    let doc = seed::hub_v2_finding(&s.central, &uid).await.unwrap();
    assert_eq!(doc["status_id"], json!(2), "{doc}");
    assert!(
        doc["comment"]
            .as_str()
            .unwrap_or_default()
            .contains("StartConfigurationRecorder"),
        "{doc}"
    );
}

/// A detector a person keeps turned off on purpose, tagged with the exemption tag: left as it is,
/// and the finding is a threat's, so it is NOTIFIED with the reason, never suppressed.
#[tokio::test]
async fn a_detector_tagged_exempt_is_left_as_the_person_put_it() {
    let s = setup().await;
    let gd = aws_sdk_guardduty::Client::new(&s.member);
    let id = gd
        .create_detector()
        .enable(true)
        .tags("quell:exempt", "true")
        .send()
        .await
        .unwrap()
        .detector_id
        .unwrap();
    gd.update_detector()
        .detector_id(&id)
        .enable(false)
        .send()
        .await
        .unwrap();
    let event = events::load(
        "cloudtrail-guardduty-updatedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    );
    let (outcome, note) = replay(&s, event).await;
    assert_eq!(outcome, "EXEMPT", "{note}");
    let d = gd.get_detector().detector_id(&id).send().await.unwrap();
    assert_eq!(
        d.status().map(|s| s.as_str()),
        Some("DISABLED"),
        "left alone"
    );
    let f = quell::event::Envelope::parse(events::load(
        "cloudtrail-guardduty-updatedetector.json",
        &[("82c919daa523bc69d203c24868c06849", &id)],
    ))
    .unwrap()
    .findings
    .remove(0)
    .unwrap();
    let (workflow, _) = seed::workflow(&s.central, &f.own_id()).await.unwrap();
    assert_eq!(workflow, "NOTIFIED", "a threat is never suppressed");
}

/// CloudWatch.1-14: where the trail's group has quell's CIS filter, the missing alarm is made as
/// org/trail.yaml defines it and read back (UNCONFIRMED: the control also asks for an SNS
/// subscriber); where no filter feeds the metric, nothing is made and a person is told.
#[tokio::test]
async fn a_cloudwatch_control_makes_quells_alarm_only_where_a_filter_feeds_it() {
    let s = setup().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.member);
    let cw = aws_sdk_cloudwatch::Client::new(&s.member);
    let (_, _, pattern) = quell::cis::ALARMS[0];
    trail_group(
        &logs,
        "aws-cloudtrail-logs-111111111111",
        "quell-trail-RootAccountUsageFilter-1A2B3C4D",
        pattern,
    )
    .await;
    let alarm = |name: &'static str| {
        let cw = cw.clone();
        async move {
            cw.describe_alarms()
                .alarm_names(name)
                .send()
                .await
                .unwrap()
                .metric_alarms()
                .iter()
                .map(|a| {
                    (
                        a.metric_name().unwrap_or_default().to_string(),
                        a.namespace().unwrap_or_default().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert!(alarm("quell-cis-RootAccountUsage").await.is_empty());
    let mut event = events::load("securityhub-imported-cis-cloudwatch-1.json", &[]);
    let id = on_member_control(&s, &mut event, "CloudWatch.1").await;
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event.clone())
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "UNCONFIRMED",
        "{:?}",
        resp.reports[0]
    );
    assert_eq!(
        alarm("quell-cis-RootAccountUsage").await,
        vec![("RootAccountUsage".to_string(), "CISBenchmark".to_string())]
    );
    let (workflow, note) = seed::workflow(&s.central, &id).await.unwrap();
    assert_eq!(workflow, "NOTIFIED");
    assert!(note.unwrap_or_default().contains("SNS"));

    // CloudWatch.3: no filter of the member feeds ConsoleSigninWithoutMFA, so no alarm is made.
    let text = serde_json::to_string(&event)
        .unwrap()
        .replace("CloudWatch.1", "CloudWatch.3")
        .replace("3c2b1a09-8f7e-4d6c-b5a4-93827160f551", "3c2b1a09-8f7e-4d6c-b5a4-93827160f553");
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let id = on_member_control(&s, &mut event, "CloudWatch.3").await;
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event.clone())
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "FAILED",
        "{:?}",
        resp.reports[0]
    );
    assert!(alarm("quell-cis-ConsoleSigninWithoutMFA").await.is_empty());
    let (_, note) = seed::workflow(&s.central, &id).await.unwrap();
    assert!(
        note.unwrap_or_default().contains("ManualActionRequired"),
        "the note says a person acts"
    );

    // The member's own multi-Region trail, logging, delivers to the group: the filter is missing,
    // so quell puts the CIS filter on the trail's group, then the alarm, and both read back.
    let group = "aws-cloudtrail-logs-111111111111";
    seed::trail_bucket(&s.member, "member-trail-bucket").await;
    let ct = aws_sdk_cloudtrail::Client::new(&s.member);
    ct.create_trail()
        .name("audit")
        .s3_bucket_name("member-trail-bucket")
        .is_multi_region_trail(true)
        .cloud_watch_logs_log_group_arn(format!(
            "arn:aws:logs:us-east-1:{MEMBER}:log-group:{group}:*"
        ))
        .cloud_watch_logs_role_arn(format!("arn:aws:iam::{MEMBER}:role/trail-to-logs"))
        .send()
        .await
        .unwrap();
    ct.start_logging().name("audit").send().await.unwrap();
    let text = serde_json::to_string(&event)
        .unwrap()
        .replace("3c2b1a09-8f7e-4d6c-b5a4-93827160f553", "3c2b1a09-8f7e-4d6c-b5a4-93827160f554");
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let id = on_member_control(&s, &mut event, "CloudWatch.3").await;
    let resp = quell::runtime::handle(&TamperRestore::default(), &s.ctx, event)
        .await
        .expect("handled");
    assert_eq!(
        resp.reports[0].outcome.name(),
        "UNCONFIRMED",
        "{:?}",
        resp.reports[0]
    );
    let (metric, _, pattern) = quell::cis::ALARMS[2];
    let filters = logs
        .describe_metric_filters()
        .log_group_name(group)
        .filter_name_prefix("quell-cis-")
        .send()
        .await
        .unwrap();
    let made: Vec<_> = filters
        .metric_filters()
        .iter()
        .map(|f| {
            let t = &f.metric_transformations()[0];
            (
                f.filter_name().unwrap_or_default().to_string(),
                f.filter_pattern().unwrap_or_default().to_string(),
                t.metric_name().to_string(),
                t.metric_namespace().to_string(),
            )
        })
        .collect();
    assert_eq!(
        made,
        vec![(
            format!("quell-cis-{metric}Filter"),
            pattern.to_string(),
            metric.to_string(),
            "CISBenchmark".to_string()
        )]
    );
    assert_eq!(
        alarm("quell-cis-ConsoleSigninWithoutMFA").await,
        vec![(metric.to_string(), "CISBenchmark".to_string())]
    );
    let (workflow, _) = seed::workflow(&s.central, &id).await.unwrap();
    assert_eq!(workflow, "NOTIFIED");
}
