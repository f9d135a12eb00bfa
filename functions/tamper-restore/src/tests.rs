//! Unit tests on the real clients with aws-smithy-mocks: what each family reads, writes and
//! verifies, and what it refuses before any call.

use super::*;
use aws_sdk_guardduty::operation::create_detector::CreateDetectorOutput;
use aws_sdk_guardduty::operation::get_detector::GetDetectorOutput;
use aws_sdk_guardduty::operation::list_detectors::ListDetectorsOutput;
use aws_sdk_guardduty::operation::update_detector::UpdateDetectorOutput;
use aws_sdk_guardduty::types::{
    DetectorFeatureConfigurationResult, DetectorFeatureResult, DetectorStatus,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use quell::remediation::execute;
use quell::{Finding, Outcome, Source};
use serde_json::json;

fn idle_config() -> aws_sdk_config::Client {
    aws_sdk_config::Client::from_conf(
        aws_sdk_config::config::Config::builder()
            .behavior_version(aws_sdk_config::config::BehaviorVersion::latest())
            .build(),
    )
}
fn idle_hub() -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Config::builder()
            .behavior_version(aws_sdk_securityhub::config::BehaviorVersion::latest())
            .build(),
    )
}
fn idle_cloudwatch() -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .build(),
    )
}
fn idle_guardduty() -> aws_sdk_guardduty::Client {
    aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Config::builder()
            .behavior_version(aws_sdk_guardduty::config::BehaviorVersion::latest())
            .build(),
    )
}

fn clients(gd: aws_sdk_guardduty::Client) -> Clients {
    Clients {
        guardduty: gd,
        admin_guardduty: idle_guardduty(),
        config: idle_config(),
        hub: idle_hub(),
        cloudwatch: idle_cloudwatch(),
        logs: idle_logs(),
        events: idle_events(),
        analyzer: idle_analyzer(),
        cloudtrail: idle_cloudtrail(),
        ec2: idle_ec2(),
    }
}

fn idle_ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .build(),
    )
}

fn idle_cloudtrail() -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Config::builder()
            .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
            .build(),
    )
}

fn idle_analyzer() -> aws_sdk_accessanalyzer::Client {
    aws_sdk_accessanalyzer::Client::from_conf(
        aws_sdk_accessanalyzer::config::Config::builder()
            .behavior_version(aws_sdk_accessanalyzer::config::BehaviorVersion::latest())
            .build(),
    )
}

fn idle_events() -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .build(),
    )
}

fn idle_logs() -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .build(),
    )
}

/// A CloudTrail call as the parser gives it.
fn call(kind: &str, request: Value) -> Finding {
    let mut f = Finding::new(
        Source::CloudTrail,
        "e1".into(),
        kind.into(),
        format!("CloudTrail: {kind} was called"),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.request = Some(request);
    f.caller = Some(quell::finding::Caller {
        arn: Some("arn:aws:iam::111111111111:user/mallory".into()),
        identity_type: Some("IAMUser".into()),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("aws-cli/2.15".into()),
    });
    f
}

fn detector(enabled: bool, s3: &str) -> GetDetectorOutput {
    GetDetectorOutput::builder()
        .service_role("r")
        .status(if enabled {
            DetectorStatus::Enabled
        } else {
            DetectorStatus::Disabled
        })
        .features(
            DetectorFeatureConfigurationResult::builder()
                .name(DetectorFeatureResult::S3DataEvents)
                .status(FeatureStatus::from(s3))
                .build(),
        )
        .build()
}

fn listed(ids: &[&str]) -> ListDetectorsOutput {
    ListDetectorsOutput::builder()
        .set_detector_ids(Some(ids.iter().map(|s| s.to_string()).collect()))
        .build()
}

#[tokio::test]
async fn a_detector_turned_off_with_a_protection_plan_is_put_back_and_verified() {
    let f = call(
        "guardduty:UpdateDetector",
        json!({"detectorId": "d1", "enable": false, "features": [{"name": "S3_DATA_EVENTS", "status": "DISABLED"}]}),
    );
    let t = TamperRestore::default().target(&f).unwrap();
    let list = mock!(aws_sdk_guardduty::Client::list_detectors).then_output(|| listed(&["d1"]));
    // Read for the exemption tag, for the plan, then for the verification.
    let get = mock!(aws_sdk_guardduty::Client::get_detector)
        .sequence()
        .output(|| detector(false, "DISABLED"))
        .output(|| detector(false, "DISABLED"))
        .output(|| detector(true, "ENABLED"))
        .build();
    let update = mock!(aws_sdk_guardduty::Client::update_detector)
        .match_requests(|r| {
            r.enable() == Some(true)
                && r.features().len() == 1
                && r.features()[0].name() == Some(&DetectorFeature::S3DataEvents)
                && r.features()[0].status() == Some(&FeatureStatus::Enabled)
        })
        .then_output(|| UpdateDetectorOutput::builder().build());
    let gd = mock_client!(
        aws_sdk_guardduty,
        RuleMode::MatchAny,
        [&list, &get, &update]
    );
    let out = execute(
        &TamperRestore::default(),
        &clients(gd),
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "REMEDIATED", "{out:?}");
    assert_eq!(update.num_calls(), 1);
    assert!(TamperRestore::default().describe(&t).contains("mallory"));
}

#[tokio::test]
async fn a_deleted_detector_is_made_again_and_its_association_left_to_a_person() {
    let f = call("guardduty:DeleteDetector", json!({"detectorId": "d1"}));
    let t = TamperRestore::default().target(&f).unwrap();
    // None for the exemption tag and for the plan; the new one for the verification.
    let list = mock!(aws_sdk_guardduty::Client::list_detectors)
        .sequence()
        .output(|| listed(&[]))
        .output(|| listed(&[]))
        .output(|| listed(&["d2"]))
        .build();
    let get =
        mock!(aws_sdk_guardduty::Client::get_detector).then_output(|| detector(true, "ENABLED"));
    let create = mock!(aws_sdk_guardduty::Client::create_detector)
        .match_requests(|r| r.enable() == Some(true))
        .then_output(|| CreateDetectorOutput::builder().detector_id("d2").build());
    let gd = mock_client!(
        aws_sdk_guardduty,
        RuleMode::MatchAny,
        [&list, &get, &create]
    );
    let out = execute(
        &TamperRestore::default(),
        &clients(gd),
        &t,
        Mode::Enforce,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert_eq!(create.num_calls(), 1);
    let note = out.note("tamper-restore", "x");
    assert!(note.contains("create-members"), "{note}");
}

#[tokio::test]
async fn a_dry_run_reads_and_plans_and_writes_nothing() {
    let f = call(
        "guardduty:UpdateDetector",
        json!({"detectorId": "d1", "enable": false}),
    );
    let t = TamperRestore::default().target(&f).unwrap();
    let list = mock!(aws_sdk_guardduty::Client::list_detectors).then_output(|| listed(&["d1"]));
    let get =
        mock!(aws_sdk_guardduty::Client::get_detector).then_output(|| detector(false, "ENABLED"));
    let gd = mock_client!(aws_sdk_guardduty, RuleMode::MatchAny, [&list, &get]);
    let out = execute(
        &TamperRestore::default(),
        &clients(gd),
        &t,
        Mode::DryRun,
        "quell:exempt",
    )
    .await;
    assert_eq!(out.name(), "PLANNED");
    assert!(out
        .note("tamper-restore", "x")
        .contains("guardduty:UpdateDetector"));
}

#[tokio::test]
async fn what_quell_cannot_put_back_is_escalated_with_the_command_and_no_call() {
    let cases = [
        (
            "config:DeleteDeliveryChannel",
            json!({"deliveryChannelName": "default"}),
            "put-delivery-channel",
        ),
        (
            "securityhub:DisableImportFindingsForProduct",
            json!({"ProductSubscriptionArn": "arn:aws:securityhub:us-east-1:111111111111:product-subscription/crowdstrike/crowdstrike-falcon"}),
            "describe-products",
        ),
        (
            "cloudtrail:DeleteTrail",
            json!({"name": "org-trail"}),
            "create-trail",
        ),
        (
            "logs:DeleteMetricFilter",
            json!({"logGroupName": "aws-cloudtrail-logs", "filterName": "team-errors"}),
            "--filter-pattern <PATTERN>",
        ),
        (
            "ec2:DeleteFlowLogs",
            json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-07a9b55570fe770b6", "tag": 1}}}),
            "create-flow-logs",
        ),
        (
            "events:DeleteRule",
            json!({"name": "quell-ForwardApiCalls"}),
            "member/regional.yaml",
        ),
        (
            "events:RemoveTargets",
            json!({"rule": "quell-ForwardGuardDutyFindings", "ids": ["quell"]}),
            "put-targets",
        ),
        (
            "guardduty:DisassociateFromAdministratorAccount",
            json!({"detectorId": "d1"}),
            "create-members",
        ),
    ];
    for (kind, request, command) in cases {
        let t = TamperRestore::default()
            .target(&call(kind, request))
            .unwrap_or_else(|e| panic!("{kind}: {}", e.0));
        // Idle clients: any call would fail the test with a connection error, not ManualActionRequired.
        let out = execute(
            &TamperRestore::default(),
            &clients(idle_guardduty()),
            &t,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        let Outcome::Failed {
            error,
            code,
            retryable,
        } = &out
        else {
            panic!("{kind}: {out:?}")
        };
        assert_eq!(
            code.as_deref(),
            Some("ManualActionRequired"),
            "{kind}: {error}"
        );
        assert!(!retryable);
        assert!(error.contains(command), "{kind}: {error}");
        let note = out.note("tamper-restore", &TamperRestore::default().describe(&t));
        assert!(
            note.contains("mallory") && note.contains("203.0.113.7"),
            "{kind}: {note}"
        );
    }
}

#[test]
fn calls_that_are_not_tampering_or_not_quells_are_refused_before_any_call() {
    let r = TamperRestore::default();
    // Another team's alarm, rule, log group: none of quell's business (OUT_OF_SCOPE, no message).
    assert!(r
        .ignore(&call(
            "cloudwatch:DeleteAlarms",
            json!({"alarmNames": ["billing", "a\u{7}b"]})
        ))
        .is_some());
    assert!(r
        .ignore(&call("events:DeleteRule", json!({"name": "team-rule"})))
        .is_some());
    assert!(r
        .ignore(&call(
            "logs:DeleteLogGroup",
            json!({"logGroupName": "/aws/lambda/app"})
        ))
        .is_some());
    // quell's alarm is taken even beside a name it would not read.
    let f = call(
        "cloudwatch:DeleteAlarms",
        json!({"alarmNames": ["odd name #1", "quell-cis-RootAccountUsage"]}),
    );
    assert!(r.ignore(&f).is_none());
    assert!(
        matches!(r.target(&f).unwrap().what, What::Alarms(ref a, _) if a == &["quell-cis-RootAccountUsage"])
    );
    // A name with a control character reaches no call.
    assert!(r
        .target(&call(
            "config:StopConfigurationRecorder",
            json!({"configurationRecorderName": "a\u{7}b"})
        ))
        .is_err());
    // quell's own restore coming back is let go; anything else through quell's roles escalated.
    let mut f = call(
        "guardduty:UpdateDetector",
        json!({"detectorId": "d1", "enable": true}),
    );
    f.by_quell = true;
    f.caller.as_mut().unwrap().arn =
        Some("arn:aws:sts::111111111111:assumed-role/quell-tamper-restore/s".into());
    assert!(r.ignore(&f).is_some());
    let mut f = call(
        "config:StopConfigurationRecorder",
        json!({"configurationRecorderName": "default"}),
    );
    f.by_quell = true;
    f.caller.as_mut().unwrap().arn =
        Some("arn:aws:sts::111111111111:assumed-role/quell-undo/alice".into());
    assert!(r.ignore(&f).is_none());
    assert!(matches!(r.target(&f).unwrap().what, What::Escalate { .. }));
    // Shell-quoted: a name AWS accepts stays one argument in the command a person pastes.
    assert_eq!(q("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
    // A failed call is an attempt, escalated.
    let mut f = call("guardduty:DeleteDetector", json!({"detectorId": "d1"}));
    f.status = Some("AccessDenied".into());
    assert!(matches!(r.target(&f).unwrap().what, What::Escalate { .. }));
    // Every call is answered: the restored ones are the ones `target` does not escalate (with
    // the deployment's settings: a deleted delivery channel is restored where the organization's
    // Config bucket is named, a deleted trail where its trail bucket is).
    let mut r = with_bucket();
    r.trail_bucket = with_trail_bucket().trail_bucket;
    r.flow_log_bucket = with_flow_log_bucket().flow_log_bucket;
    r.quell_bus = Some(QUELL_BUS.into());
    for call in CALLS {
        let escalated = matches!(
            r.target(&call_named(call)).map(|t| t.what),
            Ok(What::Escalate { .. })
        );
        assert_eq!(escalated, ESCALATED.contains(call), "{call}");
        assert_eq!(!escalated, RESTORED.contains(call), "{call}");
    }
}

/// A call with every parameter any family reads, valid and quell's own names.
fn call_named(kind: &str) -> Finding {
    call(
        kind,
        json!({
            "detectorId": "d1", "configurationRecorderName": "default", "deliveryChannelName": "default",
            "StandardsSubscriptionArns": ["arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0"],
            "ProductSubscriptionArn": "arn:aws:securityhub:us-east-1:111111111111:product-subscription/aws/guardduty",
            "analyzerName": "org", "name": "quell-ForwardApiCalls", "rule": "quell-ForwardApiCalls", "logGroupName": "trail", "filterName": "quell-trail-RootAccountUsageFilter-ABC",
            "alarmNames": ["quell-cis-RootAccountUsage"],
            "DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-07a9b55570fe770b6", "tag": 1}}
        }),
    )
}

#[test]
fn standards_subscriptions_name_their_standards() {
    let (a, r) = ("111111111111", "eu-west-1");
    assert_eq!(
        standards_arn("arn:aws:securityhub:eu-west-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0", a, r).as_deref(),
        Some("arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0")
    );
    assert_eq!(
        standards_arn("arn:aws:securityhub:eu-west-1:111111111111:subscription/cis-aws-foundations-benchmark/v/3.0.0", a, r).as_deref(),
        Some("arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/3.0.0")
    );
    // Another account's or Region's subscription, not a subscription, a path Security Hub would
    // not give: no standard.
    for bad in [
        "arn:aws:s3:::bucket",
        "arn:aws:securityhub:eu-west-1:222222222222:subscription/pci-dss/v/3.2.1",
        "arn:aws:securityhub:us-east-1:111111111111:subscription/pci-dss/v/3.2.1",
        "arn:aws:securityhub:eu-west-1:111111111111:hub/default",
        "arn:aws:securityhub:eu-west-1:111111111111:subscription/../x",
        "arn:aws:securityhub:eu-west-1:111111111111:subscription/a b",
    ] {
        assert_eq!(standards_arn(bad, a, r), None, "{bad}");
    }
    assert_eq!(
        aws_product_arn(
            "arn:aws:securityhub:eu-west-1:111111111111:product-subscription/aws/guardduty",
            a,
            r
        )
        .as_deref(),
        Some("arn:aws:securityhub:eu-west-1::product/aws/guardduty")
    );
    for partner in [
        "arn:aws:securityhub:eu-west-1:111111111111:product-subscription/crowdstrike/crowdstrike-falcon",
        "arn:aws:securityhub:eu-west-1:222222222222:product-subscription/aws/guardduty",
        "arn:aws:securityhub:eu-west-1:111111111111:product-subscription/aws/Guard Duty",
    ] {
        assert_eq!(aws_product_arn(partner, a, r), None, "{partner}");
    }
}

// ------------------------------------------------------------ Security Hub standards, imports

use aws_sdk_securityhub::operation::batch_enable_standards::BatchEnableStandardsOutput;
use aws_sdk_securityhub::operation::enable_import_findings_for_product::EnableImportFindingsForProductOutput;
use aws_sdk_securityhub::operation::get_enabled_standards::GetEnabledStandardsOutput;
use aws_sdk_securityhub::operation::list_enabled_products_for_import::ListEnabledProductsForImportOutput;
use aws_sdk_securityhub::types::{StandardsStatus, StandardsSubscription};

const FSBP_SUB: &str = "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0";
const FSBP: &str =
    "arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0";
const CIS_SUB: &str =
    "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0";
const CIS: &str = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0";

fn enabled(list: &[(&str, &str, StandardsStatus)]) -> GetEnabledStandardsOutput {
    GetEnabledStandardsOutput::builder()
        .set_standards_subscriptions(Some(
            list.iter()
                .map(|(sub, arn, status)| {
                    StandardsSubscription::builder()
                        .standards_subscription_arn(*sub)
                        .standards_arn(*arn)
                        .standards_status(status.clone())
                        .build()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn disabled_standards_are_enabled_again_from_the_call_and_read_back() {
    let r = TamperRestore::default();
    // As Security Hub's CloudTrail records name the request's members (the API's own names).
    let f = call(
        "securityhub:BatchDisableStandards",
        json!({"StandardsSubscriptionArns": [FSBP_SUB, CIS_SUB]}),
    );
    let t = r.target(&f).unwrap();
    let read = mock!(aws_sdk_securityhub::Client::get_enabled_standards)
        .match_requests(|q| q.standards_subscription_arns().is_empty())
        .sequence()
        // FSBP gone; CIS still on (READY): only FSBP is enabled.
        .output(|| enabled(&[(CIS_SUB, CIS, StandardsStatus::Ready)]))
        .output(|| {
            enabled(&[
                (FSBP_SUB, FSBP, StandardsStatus::Ready),
                (CIS_SUB, CIS, StandardsStatus::Ready),
            ])
        })
        .build();
    let enable = mock!(aws_sdk_securityhub::Client::batch_enable_standards)
        .match_requests(|q| {
            q.standards_subscription_requests()
                .iter()
                .map(|x| x.standards_arn())
                .collect::<Vec<_>>()
                == [Some(FSBP)]
        })
        .then_output(|| BatchEnableStandardsOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.hub = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&read, &enable]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((read.num_calls(), enable.num_calls()), (2, 1));

    // Still PENDING when read back (Security Hub enables a standard over minutes): not proven on.
    let read = mock!(aws_sdk_securityhub::Client::get_enabled_standards)
        .sequence()
        .output(|| enabled(&[]))
        .output(|| enabled(&[(FSBP_SUB, FSBP, StandardsStatus::Pending)]))
        .build();
    let enable = mock!(aws_sdk_securityhub::Client::batch_enable_standards)
        .then_output(|| BatchEnableStandardsOutput::builder().build());
    let f = call(
        "securityhub:BatchDisableStandards",
        json!({"standardsSubscriptionArns": [FSBP_SUB]}),
    );
    let t = r.target(&f).unwrap();
    c.hub = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&read, &enable]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert!(out.note("tamper-restore", "x").contains("PENDING"));

    // Another account's subscription, or more than Security Hub takes, reaches no call.
    for request in [
        json!({"StandardsSubscriptionArns": ["arn:aws:securityhub:us-east-1:222222222222:subscription/pci-dss/v/3.2.1"]}),
        json!({"StandardsSubscriptionArns": []}),
        json!({"StandardsSubscriptionArns": vec![FSBP_SUB; 26]}),
        json!({}),
    ] {
        assert!(
            r.target(&call("securityhub:BatchDisableStandards", request.clone()))
                .is_err(),
            "{request}"
        );
    }
}

#[tokio::test]
async fn an_aws_integrations_import_turned_off_is_enabled_again_and_read_back() {
    const SUB: &str =
        "arn:aws:securityhub:us-east-1:111111111111:product-subscription/aws/guardduty";
    const PRODUCT: &str = "arn:aws:securityhub:us-east-1::product/aws/guardduty";
    let r = TamperRestore::default();
    let t = r
        .target(&call(
            "securityhub:DisableImportFindingsForProduct",
            json!({"ProductSubscriptionArn": SUB}),
        ))
        .unwrap();
    let list = mock!(aws_sdk_securityhub::Client::list_enabled_products_for_import)
        .sequence()
        // Two pages, neither with it; then, after the restore, on the second page.
        .output(|| {
            ListEnabledProductsForImportOutput::builder()
                .product_subscriptions(
                    "arn:aws:securityhub:us-east-1:111111111111:product-subscription/aws/inspector",
                )
                .next_token("p2")
                .build()
        })
        .output(|| ListEnabledProductsForImportOutput::builder().build())
        .output(|| {
            ListEnabledProductsForImportOutput::builder()
                .next_token("p2")
                .build()
        })
        .output(|| {
            ListEnabledProductsForImportOutput::builder()
                .product_subscriptions(SUB)
                .build()
        })
        .build();
    let enable = mock!(aws_sdk_securityhub::Client::enable_import_findings_for_product)
        .match_requests(|q| q.product_arn() == Some(PRODUCT))
        .then_output(|| {
            EnableImportFindingsForProductOutput::builder()
                .product_subscription_arn(SUB)
                .build()
        });
    let mut c = clients(idle_guardduty());
    c.hub = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&list, &enable]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((list.num_calls(), enable.num_calls()), (4, 1));

    // Another account's subscription is not this call's to answer.
    assert!(r
        .target(&call(
            "securityhub:DisableImportFindingsForProduct",
            json!({"ProductSubscriptionArn": "arn:aws:securityhub:us-east-1:222222222222:product-subscription/aws/guardduty"}),
        ))
        .is_err());
}

// ------------------------------------------------------------ CIS metric filters

use aws_sdk_cloudwatchlogs::operation::describe_metric_filters::DescribeMetricFiltersOutput;
use aws_sdk_cloudwatchlogs::operation::put_metric_filter::PutMetricFilterOutput;
use aws_sdk_cloudwatchlogs::types::{MetricFilter, MetricTransformation};

fn filters(name: &str, pattern: &str, metric: &str) -> DescribeMetricFiltersOutput {
    DescribeMetricFiltersOutput::builder()
        .metric_filters(
            MetricFilter::builder()
                .filter_name(name)
                .log_group_name("aws-cloudtrail-logs")
                .filter_pattern(pattern)
                .metric_transformations(
                    MetricTransformation::builder()
                        .metric_name(metric)
                        .metric_namespace("CISBenchmark")
                        .metric_value("1")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_deleted_cis_metric_filter_is_made_again_by_its_name_and_read_back() {
    const NAME: &str = "quell-trail-ConsoleSigninWithoutMFAFilter-1X2Y";
    let (_, _, pattern) = quell::cis::alarm("quell-cis-ConsoleSigninWithoutMFA").unwrap();
    let r = TamperRestore::default();
    let t = r
        .target(&call(
            "logs:DeleteMetricFilter",
            json!({"logGroupName": "aws-cloudtrail-logs", "filterName": NAME}),
        ))
        .unwrap();
    assert!(matches!(
        t.what,
        What::MetricFilter {
            metric: "ConsoleSigninWithoutMFA",
            ..
        }
    ));
    let describe = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|q| {
            q.log_group_name() == Some("aws-cloudtrail-logs")
                && q.filter_name_prefix() == Some(NAME)
        })
        .sequence()
        // A filter of that name with another pattern is not the CIS one.
        .output(move || {
            filters(
                NAME,
                "{ $.eventName = ConsoleLogin }",
                "ConsoleSigninWithoutMFA",
            )
        })
        .output(move || filters(NAME, pattern, "ConsoleSigninWithoutMFA"))
        .build();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_metric_filter)
        .match_requests(move |q| {
            q.log_group_name() == Some("aws-cloudtrail-logs")
                && q.filter_name() == Some(NAME)
                && q.filter_pattern() == Some(pattern)
                && q.metric_transformations().iter().any(|m| {
                    m.metric_name() == "ConsoleSigninWithoutMFA"
                        && m.metric_namespace() == "CISBenchmark"
                        && m.metric_value() == "1"
                })
        })
        .then_output(|| PutMetricFilterOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&describe, &put]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((describe.num_calls(), put.num_calls()), (2, 1));
    // Names a CloudWatch Logs API would refuse reach no call.
    for (group, filter) in [
        ("a b", NAME),
        ("aws-cloudtrail-logs", "x:RootAccountUsageFilter"),
    ] {
        assert!(r
            .target(&call(
                "logs:DeleteMetricFilter",
                json!({"logGroupName": group, "filterName": filter}),
            ))
            .is_err());
    }
}

#[tokio::test]
async fn a_disabled_forwarding_rule_is_enabled_again_on_its_bus_and_read_back() {
    use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput;
    use aws_sdk_eventbridge::operation::enable_rule::EnableRuleOutput;
    use aws_sdk_eventbridge::types::RuleState;
    const RULE: &str = "quell-ForwardGuardDutyFindings";
    let r = TamperRestore::default();
    let f = call("events:DisableRule", json!({"name": RULE}));
    assert!(r.ignore(&f).is_none());
    let t = r.target(&f).unwrap();
    let describe = mock!(aws_sdk_eventbridge::Client::describe_rule)
        .match_requests(|q| q.name() == Some(RULE) && q.event_bus_name().is_none())
        .sequence()
        .output(|| {
            DescribeRuleOutput::builder()
                .name(RULE)
                .state(RuleState::Disabled)
                .build()
        })
        .output(|| {
            DescribeRuleOutput::builder()
                .name(RULE)
                .state(RuleState::Enabled)
                .build()
        })
        .build();
    let enable = mock!(aws_sdk_eventbridge::Client::enable_rule)
        .match_requests(|q| q.name() == Some(RULE))
        .then_output(|| EnableRuleOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.events = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&describe, &enable]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((describe.num_calls(), enable.num_calls()), (2, 1));

    // A rule that is gone is not made up: escalated with the stack that puts it back.
    let gone = mock!(aws_sdk_eventbridge::Client::describe_rule).then_error(|| {
        aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError::ResourceNotFoundException(
            aws_sdk_eventbridge::types::error::ResourceNotFoundException::builder()
                .message("Rule quell-ForwardGuardDutyFindings does not exist.")
                .build(),
        )
    });
    c.events = mock_client!(aws_sdk_eventbridge, [&gone]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{error}");
    assert!(error.contains("member/regional.yaml"), "{error}");

    // Names EventBridge would refuse reach no call; another team's rule is not quell's business.
    for request in [
        json!({"name": "quell-a b"}),
        json!({"name": RULE, "eventBusName": "bus with spaces"}),
        // A rule of that name on another bus, or another account's default bus, is not quell's.
        json!({"name": RULE, "eventBusName": "arn:aws:events:us-east-1:111111111111:event-bus/custom"}),
        json!({"name": RULE, "eventBusName": "arn:aws:events:us-east-1:222222222222:event-bus/default"}),
        json!({}),
    ] {
        assert!(
            r.target(&call("events:DisableRule", request.clone()))
                .is_err(),
            "{request}"
        );
    }
    for bus in [
        "default",
        "arn:aws:events:us-east-1:111111111111:event-bus/default",
    ] {
        let t = r
            .target(&call(
                "events:DisableRule",
                json!({"name": RULE, "eventBusName": bus}),
            ))
            .unwrap();
        assert!(matches!(t.what, What::Rule { bus: Some(ref b), .. } if b == bus));
    }
    // A rule merely named like quell's (one an attacker made, a defender disabled) is not quell's.
    assert!(r
        .ignore(&call(
            "events:DisableRule",
            json!({"name": "quell-persist"})
        ))
        .is_some());
    assert!(r
        .ignore(&call("events:DisableRule", json!({"name": "team-nightly"})))
        .is_some());
    assert!(r
        .ignore(&call(
            "events:RemoveTargets",
            json!({"rule": "team-nightly", "ids": ["a"]})
        ))
        .is_some());
    assert!(r
        .ignore(&call(
            "events:RemoveTargets",
            json!({"rule": RULE, "ids": ["quell"]})
        ))
        .is_none());
}

/// A member's detector that left its administrator, where the security account is that
/// administrator: associated again from there (GetMembers gives the email CreateMembers needs),
/// read back from the member; where the security account is not its administrator, or another
/// administrator has it now, escalated with the command.
#[tokio::test]
async fn a_member_that_left_the_security_accounts_guardduty_is_associated_again_from_there() {
    use aws_sdk_guardduty::operation::create_members::CreateMembersOutput;
    use aws_sdk_guardduty::operation::get_administrator_account::GetAdministratorAccountOutput;
    use aws_sdk_guardduty::operation::get_members::GetMembersOutput;
    use aws_sdk_guardduty::types::{Administrator, Member, UnprocessedAccount};
    let r = with_quell_bus();
    let t = r
        .target(&call(
            "guardduty:DisassociateFromAdministratorAccount",
            json!({"detectorId": "d1"}),
        ))
        .unwrap();
    assert!(matches!(t.what, What::Reassociate { .. }), "{:?}", t.what);
    let admin_of = |who: Option<&str>| {
        let who = who.map(str::to_string);
        move || {
            GetAdministratorAccountOutput::builder()
                .set_administrator(who.clone().map(|a| {
                    Administrator::builder()
                        .account_id(a)
                        .relationship_status("Enabled")
                        .build()
                }))
                .build()
        }
    };
    let tags =
        mock!(aws_sdk_guardduty::Client::get_detector).then_output(|| detector(true, "ENABLED"));
    let member_view = mock!(aws_sdk_guardduty::Client::get_administrator_account)
        .match_requests(|q| q.detector_id() == Some("d1"))
        .sequence()
        .output(admin_of(None))
        .output(admin_of(Some("999999999999")))
        .build();
    let list = mock!(aws_sdk_guardduty::Client::list_detectors).then_output(|| {
        ListDetectorsOutput::builder()
            .detector_ids("admin-d")
            .build()
    });
    let members = mock!(aws_sdk_guardduty::Client::get_members)
        .match_requests(|q| {
            q.detector_id() == Some("admin-d") && q.account_ids() == ["111111111111"]
        })
        .then_output(|| {
            GetMembersOutput::builder()
                .members(
                    Member::builder()
                        .account_id("111111111111")
                        .email("member@example.com")
                        .master_id("999999999999")
                        .relationship_status("Removed")
                        .updated_at("2026-01-01T00:00:00Z")
                        .build(),
                )
                .build()
        });
    let create = mock!(aws_sdk_guardduty::Client::create_members)
        .match_requests(|q| {
            q.detector_id() == Some("admin-d")
                && q.account_details().len() == 1
                && q.account_details()[0].account_id() == Some("111111111111")
                && q.account_details()[0].email() == Some("member@example.com")
        })
        .then_output(|| CreateMembersOutput::builder().build());
    let mut c = clients(mock_client!(
        aws_sdk_guardduty,
        RuleMode::MatchAny,
        [&tags, &member_view]
    ));
    c.admin_guardduty = mock_client!(
        aws_sdk_guardduty,
        RuleMode::MatchAny,
        [&list, &members, &create]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!((create.num_calls(), member_view.num_calls()), (1, 2));

    // Not a member of the security account's GuardDuty, or now another administrator's:
    // escalated with the command, nothing created.
    let unknown = mock!(aws_sdk_guardduty::Client::get_members).then_output(|| {
        GetMembersOutput::builder()
            .set_members(Some(Vec::new()))
            .unprocessed_accounts(
                UnprocessedAccount::builder()
                    .account_id("111111111111")
                    .result("not a member")
                    .build(),
            )
            .build()
    });
    let left =
        mock!(aws_sdk_guardduty::Client::get_administrator_account).then_output(admin_of(None));
    let elsewhere = mock!(aws_sdk_guardduty::Client::get_administrator_account)
        .then_output(admin_of(Some("222222222222")));
    for (view, why) in [
        (&left, "not a member"),
        (&elsewhere, "another administrator, 222222222222"),
    ] {
        let t = r
            .target(&call(
                "guardduty:DisassociateFromMasterAccount",
                json!({"detectorId": "d1"}),
            ))
            .unwrap();
        let mut c = clients(mock_client!(
            aws_sdk_guardduty,
            RuleMode::MatchAny,
            [&tags, view]
        ));
        c.admin_guardduty = mock_client!(aws_sdk_guardduty, RuleMode::MatchAny, [&list, &unknown]);
        let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
        let Outcome::Failed { code, error, .. } = &out else {
            panic!("{out:?}")
        };
        assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{error}");
        assert!(
            error.contains(why) && error.contains("create-members"),
            "{error}"
        );
    }
    // An invited member (its record has invitedAt): only an invitation it accepts associates it
    // again, which quell does not accept for it: escalated with both commands, nothing created.
    let invited = mock!(aws_sdk_guardduty::Client::get_members).then_output(|| {
        GetMembersOutput::builder()
            .members(
                Member::builder()
                    .account_id("111111111111")
                    .email("member@example.com")
                    .relationship_status("Removed")
                    .invited_at("2026-01-01T00:00:00Z")
                    .build(),
            )
            .build()
    });
    let t = r
        .target(&call(
            "guardduty:DisassociateFromAdministratorAccount",
            json!({"detectorId": "d1"}),
        ))
        .unwrap();
    let mut c = clients(mock_client!(
        aws_sdk_guardduty,
        RuleMode::MatchAny,
        [&tags, &left]
    ));
    c.admin_guardduty = mock_client!(aws_sdk_guardduty, RuleMode::MatchAny, [&list, &invited]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{error}");
    assert!(
        error.contains("invite-members") && error.contains("accept-administrator-invitation"),
        "{error}"
    );
    assert_eq!(create.num_calls(), 1);
    // The security account itself, or no quell bus: escalated as before.
    let mut own = call(
        "guardduty:DisassociateFromAdministratorAccount",
        json!({"detectorId": "d1"}),
    );
    own.account = "999999999999".into();
    assert!(matches!(
        r.target(&own).unwrap().what,
        What::Escalate { .. }
    ));
    assert!(matches!(
        TamperRestore::default()
            .target(&call(
                "guardduty:DisassociateFromAdministratorAccount",
                json!({"detectorId": "d1"})
            ))
            .unwrap()
            .what,
        What::Escalate { .. }
    ));
    // A detector id GuardDuty would refuse reaches no call.
    assert!(r
        .target(&call(
            "guardduty:DisassociateFromAdministratorAccount",
            json!({"detectorId": "d1; rm"})
        ))
        .is_err());
}

/// The quell bus of these tests' deployment: the security account 999999999999, home us-east-1.
const QUELL_BUS: &str = "arn:aws:events:us-east-1:999999999999:event-bus/quell";

fn with_quell_bus() -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_OUTCOME_BUS_ARN").then(|| QUELL_BUS.to_string()))
        .unwrap();
    r
}

/// A forwarding rule as DescribeRule reads it.
fn forward_rule_read(
    name: &str,
    pattern: &str,
    state: aws_sdk_eventbridge::types::RuleState,
) -> aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput {
    aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput::builder()
        .name(name)
        .event_pattern(pattern)
        .state(state)
        .build()
}

fn targets_read(
    targets: &[(&str, &str, Option<&str>)],
) -> aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput {
    aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput::builder()
        .set_targets(Some(
            targets
                .iter()
                .map(|(id, arn, role)| {
                    aws_sdk_eventbridge::types::Target::builder()
                        .id(*id)
                        .arn(*arn)
                        .set_role_arn(role.map(str::to_string))
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn a_deleted_forwarding_rule_is_made_again_as_the_member_stack_makes_it_and_read_back() {
    use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError;
    use aws_sdk_eventbridge::operation::put_rule::PutRuleOutput;
    use aws_sdk_eventbridge::operation::put_targets::PutTargetsOutput;
    use aws_sdk_eventbridge::types::RuleState;
    const RULE: &str = "quell-ForwardConfig";
    const ROLE: &str = "arn:aws:iam::111111111111:role/quell-forward";
    let r = with_quell_bus();
    let t = r
        .target(&call(
            "events:DeleteRule",
            json!({"name": RULE, "force": false}),
        ))
        .unwrap();
    let What::Forwarder { rule, .. } = &t.what else {
        panic!("{:?}", t.what)
    };
    let pattern = quell::routing::canonical(&rule.pattern);
    assert_eq!(
        pattern,
        r#"{"detail-type":["Config Rules Compliance Change"],"source":["aws.config"]}"#
    );
    let describe = mock!(aws_sdk_eventbridge::Client::describe_rule)
        .match_requests(|q| q.name() == Some(RULE) && q.event_bus_name().is_none())
        .sequence()
        .error(|| {
            DescribeRuleError::ResourceNotFoundException(
                aws_sdk_eventbridge::types::error::ResourceNotFoundException::builder()
                    .message("Rule quell-ForwardConfig does not exist.")
                    .build(),
            )
        })
        .output({
            let p = pattern.clone();
            move || forward_rule_read(RULE, &p, RuleState::Enabled)
        })
        .build();
    let put_rule = mock!(aws_sdk_eventbridge::Client::put_rule)
        .match_requests({
            let p = pattern.clone();
            move |q| {
                q.name() == Some(RULE)
                    && q.event_pattern() == Some(p.as_str())
                    && q.state() == Some(&RuleState::Enabled)
                    && q.event_bus_name().is_none()
                    && q.description()
                        == Some("quell: forwards Config compliance changes to quell's home Region")
            }
        })
        .then_output(|| PutRuleOutput::builder().build());
    let put_targets = mock!(aws_sdk_eventbridge::Client::put_targets)
        .match_requests(|q| {
            q.rule() == Some(RULE)
                && q.targets().len() == 1
                && q.targets()[0].id() == "quell"
                && q.targets()[0].arn() == QUELL_BUS
                && q.targets()[0].role_arn() == Some(ROLE)
        })
        .then_output(|| PutTargetsOutput::builder().failed_entry_count(0).build());
    let list = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .match_requests(|q| q.rule() == Some(RULE))
        .then_output(|| targets_read(&[("quell", QUELL_BUS, Some(ROLE))]));
    let mut c = clients(idle_guardduty());
    c.events = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&describe, &put_rule, &put_targets, &list]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(
        (
            describe.num_calls(),
            put_rule.num_calls(),
            put_targets.num_calls(),
            list.num_calls()
        ),
        (2, 1, 1, 1)
    );
}

#[tokio::test]
async fn a_removed_forwarding_target_is_put_back_and_what_quell_leaves_is_unconfirmed() {
    use aws_sdk_eventbridge::operation::put_targets::PutTargetsOutput;
    use aws_sdk_eventbridge::types::{PutTargetsResultEntry, RuleState};
    // The security account's other Region: its findings go to its default bus in the home Region.
    const RULE: &str = "quell-ForwardGuardDutyFindings";
    const HOME_DEFAULT: &str = "arn:aws:events:us-east-1:999999999999:event-bus/default";
    const ROLE: &str = "arn:aws:iam::999999999999:role/quell-forward";
    let r = with_quell_bus();
    let mut f = call(
        "events:RemoveTargets",
        json!({"rule": RULE, "ids": ["quell"]}),
    );
    f.account = "999999999999".into();
    f.region = "eu-west-1".into();
    let t = r.target(&f).unwrap();
    let What::Forwarder { rule, .. } = &t.what else {
        panic!("{:?}", t.what)
    };
    assert_eq!(
        (rule.target_arn.as_str(), rule.role_arn.as_str()),
        (HOME_DEFAULT, ROLE)
    );
    let pattern = quell::routing::canonical(&rule.pattern);
    let describe = mock!(aws_sdk_eventbridge::Client::describe_rule).then_output({
        let p = pattern.clone();
        move || forward_rule_read(RULE, &p, RuleState::Enabled)
    });
    // Emptied, then back with quell's target; someone's own target beside it stays.
    let list = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .sequence()
        .output(|| targets_read(&[("mine", "arn:aws:sqs:eu-west-1:999999999999:q", None)]))
        .output(|| {
            targets_read(&[
                ("mine", "arn:aws:sqs:eu-west-1:999999999999:q", None),
                ("quell", HOME_DEFAULT, Some(ROLE)),
            ])
        })
        .build();
    let put_targets = mock!(aws_sdk_eventbridge::Client::put_targets)
        .match_requests(|q| {
            q.targets()[0].arn() == HOME_DEFAULT && q.targets()[0].role_arn() == Some(ROLE)
        })
        .then_output(|| PutTargetsOutput::builder().failed_entry_count(0).build());
    let mut c = clients(idle_guardduty());
    c.events = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&describe, &list, &put_targets]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("mine (arn:aws:sqs:eu-west-1:999999999999:q)"),
        "{unchecked}"
    );
    assert_eq!(put_targets.num_calls(), 1);

    // EventBridge answers 200 with the targets it refused: a failure, with its reason.
    let refused = mock!(aws_sdk_eventbridge::Client::put_targets).then_output(|| {
        PutTargetsOutput::builder()
            .failed_entry_count(1)
            .failed_entries(
                PutTargetsResultEntry::builder()
                    .target_id("quell")
                    .error_code("AccessDeniedException")
                    .error_message("not authorized to pass the role")
                    .build(),
            )
            .build()
    });
    let emptied =
        mock!(aws_sdk_eventbridge::Client::list_targets_by_rule).then_output(|| targets_read(&[]));
    c.events = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&describe, &emptied, &refused]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("AccessDeniedException"), "{error}");
}

/// A forwarding rule that is there, disabled, with another pattern and its `quell` target reshaped
/// (an input transformer, a dead-letter queue elsewhere): enabled, its target put back whole, its
/// pattern left and named (UNCONFIRMED).
#[tokio::test]
async fn a_forwarding_rule_left_disabled_reshaped_or_repatterned_is_enabled_its_target_put_back_and_the_pattern_named(
) {
    use aws_sdk_eventbridge::operation::enable_rule::EnableRuleOutput;
    use aws_sdk_eventbridge::operation::put_targets::PutTargetsOutput;
    use aws_sdk_eventbridge::types::{
        DeadLetterConfig, InputTransformer, RuleState, Target as EbTarget,
    };
    const RULE: &str = "quell-ForwardAlarms";
    const ROLE: &str = "arn:aws:iam::111111111111:role/quell-forward";
    const OTHER: &str = r#"{"source":["aws.cloudwatch"],"detail-type":["nothing"]}"#;
    let r = with_quell_bus();
    let t = r
        .target(&call("events:DisableRule", json!({"name": RULE})))
        .unwrap();
    assert!(matches!(t.what, What::Forwarder { .. }), "{:?}", t.what);
    let describe = mock!(aws_sdk_eventbridge::Client::describe_rule)
        .sequence()
        .output(|| forward_rule_read(RULE, OTHER, RuleState::Disabled))
        .output(|| forward_rule_read(RULE, OTHER, RuleState::Enabled))
        .build();
    let reshaped = || {
        aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput::builder()
            .targets(
                EbTarget::builder()
                    .id("quell")
                    .arn(QUELL_BUS)
                    .role_arn(ROLE)
                    .input_transformer(
                        InputTransformer::builder()
                            .input_template("\"nothing to see\"")
                            .build()
                            .unwrap(),
                    )
                    .dead_letter_config(
                        DeadLetterConfig::builder()
                            .arn("arn:aws:sqs:us-east-1:222222222222:exfil")
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let list = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
        .sequence()
        .output(reshaped)
        .output(|| targets_read(&[("quell", QUELL_BUS, Some(ROLE))]))
        .build();
    let enable = mock!(aws_sdk_eventbridge::Client::enable_rule)
        .match_requests(|q| q.name() == Some(RULE))
        .then_output(|| EnableRuleOutput::builder().build());
    let put_targets = mock!(aws_sdk_eventbridge::Client::put_targets)
        .match_requests(|q| {
            let x = &q.targets()[0];
            x.arn() == QUELL_BUS
                && x.input_transformer().is_none()
                && x.dead_letter_config().is_none()
        })
        .then_output(|| PutTargetsOutput::builder().failed_entry_count(0).build());
    let mut c = clients(idle_guardduty());
    c.events = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&describe, &list, &enable, &put_targets]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("its pattern is not the one"),
        "{unchecked}"
    );
    assert_eq!((enable.num_calls(), put_targets.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_forwarding_rule_the_stacks_do_not_make_there_is_escalated_and_the_bus_setting_is_checked(
) {
    let r = with_quell_bus();
    // A findings rule in a member account, any rule in the security account's home Region: the
    // stacks make none there, so quell makes none.
    let member = call(
        "events:DeleteRule",
        json!({"name": "quell-ForwardGuardDutyFindings"}),
    );
    let mut home = call("events:DeleteRule", json!({"name": "quell-ForwardConfig"}));
    home.account = "999999999999".into();
    for f in [member, home] {
        let t = r.target(&f).unwrap();
        let What::Escalate { what, command } = &t.what else {
            panic!("{:?}", t.what)
        };
        assert!(what.contains("quell does not put it back"), "{what}");
        assert!(command.contains("member/regional.yaml"), "{command}");
        let out = execute(
            &r,
            &clients(idle_guardduty()),
            &t,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert!(matches!(out, Outcome::Failed { .. }), "{out:?}");
    }
    // org/trail.yaml's alarm rule is made only where the member stacks (and quell's roles) are
    // not: one of that name here is not put back.
    let t = r
        .target(&call(
            "events:RemoveTargets",
            json!({"rule": "quell-ForwardTrailAlarms", "ids": ["quell"]}),
        ))
        .unwrap();
    assert!(
        matches!(&t.what, What::Escalate { what, .. } if what.contains("org/trail.yaml")),
        "{:?}",
        t.what
    );
    // CloudFormation's own change (a StackSet instance removed, SecurityHubAggregated set),
    // which CloudTrail stamps with its source address and agent: told, not undone. A session of
    // a role merely named like a StackSet's is a person's: put back.
    for (ip, agent, arn, told) in [
        (
            "cloudformation.amazonaws.com",
            "cloudformation.amazonaws.com",
            "arn:aws:sts::111111111111:assumed-role/stacksets-exec-abc123/1700000000",
            true,
        ),
        (
            "10.0.0.1",
            "aws-sdk-go",
            "arn:aws:sts::111111111111:assumed-role/stacksets-exec-abc123/1700000000",
            false,
        ),
    ] {
        let mut f = call("events:DeleteRule", json!({"name": "quell-ForwardConfig"}));
        let caller = f.caller.as_mut().unwrap();
        caller.ip = Some(ip.into());
        caller.user_agent = Some(agent.into());
        caller.arn = Some(arn.into());
        let t = r.target(&f).unwrap();
        if told {
            assert!(
                matches!(&t.what, What::Escalate { what, command } if what.contains("CloudFormation") && command.contains("member/regional.yaml")),
                "{arn}: {:?}",
                t.what
            );
        } else {
            assert!(
                matches!(&t.what, What::Forwarder { .. }),
                "{arn}: {:?}",
                t.what
            );
        }
    }

    // A bus that is not an event bus ARN names the setting, before any call.
    for bad in [
        "quell",
        "arn:aws:events:us-east-1:99999999999:event-bus/quell",
        "arn:aws:sqs:us-east-1:999999999999:quell",
        "arn:aws:events:us-east-1:999999999999:rule/quell",
        "arn:aws:events:us-east-1:999999999999:event-bus/",
    ] {
        let e = TamperRestore::default()
            .configure(&|k| (k == "QUELL_OUTCOME_BUS_ARN").then(|| bad.to_string()))
            .unwrap_err();
        assert_eq!(e.var, "QUELL_OUTCOME_BUS_ARN", "{bad}");
    }
}

/// A CloudWatch client answering with `rule` (aws-sdk-cloudwatch is built without test-util, so
/// not through `mock_client!`).
fn cloudwatch_with(rule: &aws_smithy_mocks::Rule) -> aws_sdk_cloudwatch::Client {
    cloudwatch_with_rules(&[rule])
}

/// quell's alarms in the account: two CIS ones in its namespace; one by a CIS name in another
/// namespace is not quell's.
fn quells_alarms() -> aws_smithy_mocks::Rule {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::MetricAlarm;
    let alarm = |name: &str, metric: &str, ns: &str| {
        MetricAlarm::builder()
            .alarm_name(name)
            .metric_name(metric)
            .namespace(ns)
            .build()
    };
    mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|q| q.alarm_name_prefix() == Some("quell-cis-"))
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(alarm(
                    "quell-cis-RootAccountUsage",
                    "RootAccountUsage",
                    "CISBenchmark",
                ))
                .metric_alarms(alarm(
                    "quell-cis-IAMPolicyChanges",
                    "IAMPolicyChanges",
                    "CISBenchmark",
                ))
                .metric_alarms(alarm("quell-cis-VPCChanges", "VPCChanges", "Other"))
                .build()
        })
}

/// The filters of a group, as DescribeMetricFilters lists them: (name, pattern, metric).
fn group_filters(list: &[(&str, &str, &str)]) -> DescribeMetricFiltersOutput {
    DescribeMetricFiltersOutput::builder()
        .set_metric_filters(Some(
            list.iter()
                .flat_map(|(n, p, m)| filters(n, p, m).metric_filters.unwrap_or_default())
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn a_deleted_trail_log_group_is_made_again_with_the_filters_of_quells_alarms() {
    use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
    use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use aws_sdk_cloudwatchlogs::types::LogGroup;
    const GROUP: &str = "aws-cloudtrail-logs-111111111111";
    let (_, _, root) = quell::cis::alarm("quell-cis-RootAccountUsage").unwrap();
    let (_, _, iam) = quell::cis::alarm("quell-cis-IAMPolicyChanges").unwrap();
    let r = TamperRestore::default();
    let f = call("logs:DeleteLogGroup", json!({"logGroupName": GROUP}));
    assert!(r.ignore(&f).is_none());
    let t = r.target(&f).unwrap();
    let groups = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|q| q.log_group_name_prefix() == Some(GROUP))
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(LogGroup::builder().log_group_name(GROUP).build())
                .build()
        })
        .build();
    let alarms = quells_alarms();
    // Read on the group only once it is there again: both CIS filters, with their patterns.
    let on_group = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|q| q.log_group_name() == Some(GROUP))
        .then_output(move || {
            group_filters(&[
                ("quell-cis-RootAccountUsageFilter", root, "RootAccountUsage"),
                ("quell-cis-IAMPolicyChangesFilter", iam, "IAMPolicyChanges"),
            ])
        });
    let create = mock!(aws_sdk_cloudwatchlogs::Client::create_log_group)
        .match_requests(|q| q.log_group_name() == Some(GROUP))
        .then_output(|| CreateLogGroupOutput::builder().build());
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_metric_filter)
        .match_requests(move |q| {
            q.log_group_name() == Some(GROUP)
                && [
                    ("quell-cis-RootAccountUsageFilter", root, "RootAccountUsage"),
                    ("quell-cis-IAMPolicyChangesFilter", iam, "IAMPolicyChanges"),
                ]
                .iter()
                .any(|(n, p, m)| {
                    q.filter_name() == Some(*n)
                        && q.filter_pattern() == Some(*p)
                        && q.metric_transformations().iter().any(|x| {
                            x.metric_name() == *m && x.metric_namespace() == "CISBenchmark"
                        })
                })
        })
        .then_output(|| PutMetricFilterOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&groups, &on_group, &create, &put]
    );
    c.cloudwatch = cloudwatch_with(&alarms);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    // Made and read back, but the trail's delivery and the old group's settings are not known.
    let Outcome::Unconfirmed { checked, unchecked } = &out else {
        panic!("{out:?}")
    };
    assert!(
        checked.contains("logs:CreateLogGroup") && checked.contains("logs:PutMetricFilter"),
        "{checked}"
    );
    assert!(unchecked.contains("get-trail-status"), "{unchecked}");
    assert!(unchecked.contains("delete quell's"), "{unchecked}");
    assert!(!unchecked.contains("someone made it"), "{unchecked}");
    assert_eq!(
        (
            groups.num_calls(),
            alarms.num_calls(),
            on_group.num_calls(),
            create.num_calls(),
            put.num_calls()
        ),
        // The alarms are read once: the verification reads the group and its filters alone.
        (2, 1, 1, 1, 2)
    );

    // A group someone made again, with a filter on quell's metric whose pattern is not the CIS
    // one (a decoy that matches nothing), does not feed the alarm: the CIS filter is planned.
    let there = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
        DescribeLogGroupsOutput::builder()
            .log_groups(LogGroup::builder().log_group_name(GROUP).build())
            .build()
    });
    let decoy =
        mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters).then_output(move || {
            group_filters(&[
                (
                    "quell-cis-RootAccountUsageFilter",
                    "{ $.never = 1 }",
                    "RootAccountUsage",
                ),
                ("IAMPolicyChangesFilter", iam, "IAMPolicyChanges"),
            ])
        });
    c.logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&there, &decoy]);
    let steps = r.plan(&c, &t).await.unwrap();
    let planned: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(steps.len(), 1, "{planned:?}");
    assert_eq!(steps[0].action, "logs:PutMetricFilter");
    assert!(
        steps[0].detail.starts_with("metric=RootAccountUsage "),
        "{planned:?}"
    );

    // A group someone made again before quell (a one-day retention, their own key), where quell
    // has no CIS alarm: nothing to put on it, and the note names what it found for a person.
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    let t = r.target(&f).unwrap();
    let theirs = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
        DescribeLogGroupsOutput::builder()
            .log_groups(
                LogGroup::builder()
                    .log_group_name(GROUP)
                    .retention_in_days(1)
                    .kms_key_id("arn:aws:kms:us-east-1:999999999999:key/theirs")
                    .build(),
            )
            .build()
    });
    let none = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .then_output(|| DescribeAlarmsOutput::builder().build());
    c.logs = mock_client!(aws_sdk_cloudwatchlogs, [&theirs]);
    c.cloudwatch = cloudwatch_with(&none);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("someone made it since the deletion (retentionInDays 1, kmsKeyId arn:aws:kms:us-east-1:999999999999:key/theirs)"),
        "{unchecked}"
    );
    assert!(
        unchecked.contains("None of quell's CIS alarms"),
        "{unchecked}"
    );

    // A name CloudWatch Logs would refuse reaches no call; another team's group is not quell's.
    assert!(r
        .target(&call(
            "logs:DeleteLogGroup",
            json!({"logGroupName": "cloudtrail logs"})
        ))
        .is_err());
    assert!(r
        .ignore(&call(
            "logs:DeleteLogGroup",
            json!({"logGroupName": "/aws/lambda/app"})
        ))
        .is_some());
}

// ------------------------------------------------------------ the sensors' posture controls

/// A Security Hub control finding on `resource`.
fn control(name: &str, resource: quell::Resource) -> Finding {
    let mut f = Finding::new(
        Source::SecurityHub,
        "c1".into(),
        name.into(),
        format!("{name} failed"),
        "111111111111".into(),
        "us-east-1".into(),
    );
    f.resources = vec![resource];
    f
}

fn account() -> quell::Resource {
    quell::Resource::new(quell::ResourceKind::Account, "111111111111")
}

/// A CloudWatch client answering with `rules`, as [`cloudwatch_with`].
fn cloudwatch_with_rules(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "test", None, None, "test"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

#[test]
fn cloudwatch_controls_name_the_cis_metric_security_hub_numbers_them_by() {
    assert_eq!(cloudwatch_control("CloudWatch.1"), Some("RootAccountUsage"));
    assert_eq!(
        cloudwatch_control("CloudWatch.3"),
        Some("ConsoleSigninWithoutMFA")
    );
    assert_eq!(cloudwatch_control("CloudWatch.9"), Some("AWSConfigChanges"));
    assert_eq!(cloudwatch_control("CloudWatch.14"), Some("VPCChanges"));
    for other in ["CloudWatch.0", "CloudWatch.15", "CloudWatch.x", "Config.1"] {
        assert_eq!(cloudwatch_control(other), None, "{other}");
    }
    // Every CloudWatch control the Spec routes here names a metric.
    for c in TamperRestore::SPEC.triggers.securityhub_controls {
        if c.starts_with("CloudWatch.") {
            assert!(cloudwatch_control(c).is_some(), "{c}");
        }
    }
}

#[tokio::test]
async fn a_cloudwatch_control_makes_quells_alarm_where_a_filter_feeds_it_and_says_what_it_leaves() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
    use aws_sdk_cloudwatch::types::MetricAlarm;
    let r = TamperRestore::default();
    let t = r.target(&control("CloudWatch.4", account())).unwrap();
    let fed = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|q| {
            q.metric_name() == Some("IAMPolicyChanges")
                && q.metric_namespace() == Some("CISBenchmark")
        })
        .then_output(|| {
            filters(
                "quell-trail-IAMPolicyChangesFilter-1",
                quell::cis::ALARMS[3].2,
                "IAMPolicyChanges",
            )
        });
    let read = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|q| q.alarm_names() == ["quell-cis-IAMPolicyChanges"])
        .sequence()
        .output(|| DescribeAlarmsOutput::builder().build())
        .output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("quell-cis-IAMPolicyChanges")
                        .metric_name("IAMPolicyChanges")
                        .namespace("CISBenchmark")
                        .build(),
                )
                .build()
        })
        .build();
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .match_requests(|q| {
            q.alarm_name() == Some("quell-cis-IAMPolicyChanges")
                && q.metric_name() == Some("IAMPolicyChanges")
                && q.namespace() == Some("CISBenchmark")
        })
        .then_output(|| PutMetricAlarmOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&fed]);
    c.cloudwatch = cloudwatch_with_rules(&[&read, &put]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    // Made and read back, but the control also asks for an SNS subscriber: not RESOLVED.
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert!(out.note("tamper-restore", "x").contains("SNS"));
    assert_eq!((read.num_calls(), put.num_calls()), (2, 1));

    // No filter feeds the metric here, and no multi-Region trail delivers to a group here (a
    // member under an organization trail; a trail whose group is another Region's, or a
    // single-Region one): escalated, and no alarm that could never fire.
    let unfed = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_output(|| DescribeMetricFiltersOutput::builder().build());
    let elsewhere = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(|| {
        with_groups(&[
            (
                "org",
                true,
                "arn:aws:logs:eu-west-1:111111111111:log-group:org-trail:*",
            ),
            (
                "local",
                false,
                "arn:aws:logs:us-east-1:111111111111:log-group:local:*",
            ),
        ])
    });
    c.logs = mock_client!(aws_sdk_cloudwatchlogs, [&unfed]);
    c.cloudwatch = idle_cloudwatch();
    c.cloudtrail = mock_client!(aws_sdk_cloudtrail, [&elsewhere]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{error}");
    assert!(error.contains("org/trail.yaml"), "{error}");
}

/// Trails of account 111111111111 homed in us-east-1: (name, multi-Region, log group ARN).
fn with_groups(
    list: &[(&str, bool, &str)],
) -> aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput {
    aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput::builder()
        .set_trail_list(Some(
            list.iter()
                .map(|(n, multi, group)| {
                    aws_sdk_cloudtrail::types::Trail::builder()
                        .name(*n)
                        .trail_arn(format!(
                            "arn:aws:cloudtrail:us-east-1:111111111111:trail/{n}"
                        ))
                        .is_multi_region_trail(*multi)
                        .cloud_watch_logs_log_group_arn(*group)
                        .build()
                })
                .collect(),
        ))
        .build()
}

/// CloudWatch.x with the filter missing, where a multi-Region trail logging here delivers to a
/// group of the account and Region: the CIS filter goes on that group, then the alarm, and both
/// are read back; a stopped trail's group is not used.
#[tokio::test]
async fn a_cloudwatch_control_without_its_filter_puts_it_on_the_trails_group_then_the_alarm() {
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
    use aws_sdk_cloudwatch::types::MetricAlarm;
    use aws_sdk_cloudwatchlogs::operation::put_metric_filter::PutMetricFilterOutput;
    let r = TamperRestore::default();
    let t = r.target(&control("CloudWatch.4", account())).unwrap();
    let fed = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|q| q.metric_name() == Some("IAMPolicyChanges"))
        .sequence()
        .output(|| DescribeMetricFiltersOutput::builder().build())
        .output(|| {
            filters(
                "quell-cis-IAMPolicyChangesFilter",
                quell::cis::ALARMS[3].2,
                "IAMPolicyChanges",
            )
        })
        .build();
    let put_filter = mock!(aws_sdk_cloudwatchlogs::Client::put_metric_filter)
        .match_requests(|q| {
            q.log_group_name() == Some("aws-cloudtrail-logs-audit")
                && q.filter_name() == Some("quell-cis-IAMPolicyChangesFilter")
                && q.filter_pattern() == Some(quell::cis::ALARMS[3].2)
                && q.metric_transformations().first().is_some_and(|m| {
                    m.metric_name() == "IAMPolicyChanges" && m.metric_namespace() == "CISBenchmark"
                })
        })
        .then_output(|| PutMetricFilterOutput::builder().build());
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(|| {
        with_groups(&[
            (
                "stopped",
                true,
                "arn:aws:logs:us-east-1:111111111111:log-group:stopped-group:*",
            ),
            (
                "audit",
                true,
                "arn:aws:logs:us-east-1:111111111111:log-group:aws-cloudtrail-logs-audit:*",
            ),
        ])
    });
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .sequence()
        .output(|| GetTrailStatusOutput::builder().is_logging(false).build())
        .output(|| GetTrailStatusOutput::builder().is_logging(true).build())
        .build();
    let read = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .sequence()
        .output(|| DescribeAlarmsOutput::builder().build())
        .output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("quell-cis-IAMPolicyChanges")
                        .metric_name("IAMPolicyChanges")
                        .namespace("CISBenchmark")
                        .build(),
                )
                .build()
        })
        .build();
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .then_output(|| PutMetricAlarmOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.logs = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&fed, &put_filter]
    );
    c.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&describe, &status]);
    c.cloudwatch = cloudwatch_with_rules(&[&read, &put]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("SNS") && unchecked.contains("aws-cloudtrail-logs-audit"),
        "{unchecked}"
    );
    assert_eq!(
        (put_filter.num_calls(), put.num_calls(), status.num_calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_trails_encryption_delivery_and_a_vpcs_flow_logs_are_escalated_with_the_command() {
    let r = TamperRestore::default();
    let trail = quell::Resource::new(
        quell::ResourceKind::CloudTrailTrail,
        "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-audit",
    );
    let org_trail = quell::Resource::new(
        quell::ResourceKind::CloudTrailTrail,
        "arn:aws:cloudtrail:eu-west-1:999999999999:trail/org-trail",
    );
    for (name, resource, command) in [
        (
            "CloudTrail.2",
            trail.clone(),
            "update-trail --region us-east-1 --name 'org-audit' --kms-key-id <KEY_ARN>",
        ),
        ("CloudTrail.5", trail, "--cloud-watch-logs-log-group-arn"),
        // An organization trail: its home Region, from the account that owns it.
        (
            "CloudTrail.2",
            org_trail,
            "--region eu-west-1 --name 'org-trail'",
        ),
        (
            "EC2.6",
            quell::Resource::new(
                quell::ResourceKind::Other("AwsEc2Vpc".into()),
                "vpc-0a1b2c3d",
            ),
            "create-flow-logs --region us-east-1 --resource-type VPC --resource-ids 'vpc-0a1b2c3d'",
        ),
    ] {
        let t = r.target(&control(name, resource)).unwrap();
        // Idle clients: any call would fail with a connection error, not ManualActionRequired.
        let out = execute(
            &r,
            &clients(idle_guardduty()),
            &t,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        let Outcome::Failed { code, error, .. } = &out else {
            panic!("{name}: {out:?}")
        };
        assert_eq!(
            code.as_deref(),
            Some("ManualActionRequired"),
            "{name}: {error}"
        );
        assert!(error.contains(command), "{name}: {error}");
        if command.contains("org-trail") {
            assert!(error.contains("from account 999999999999"), "{error}");
        }
    }
    // Not a trail, not a VPC: no command is made of it.
    for (name, resource) in [
        ("CloudTrail.2", account()),
        (
            "EC2.6",
            quell::Resource::new(quell::ResourceKind::Other("AwsEc2Vpc".into()), "vpc-x; rm"),
        ),
    ] {
        assert!(r.target(&control(name, resource)).is_err(), "{name}");
    }
}

#[test]
fn cloudwatch_controls_outside_the_organization_trails_account_are_let_go() {
    let mut r = TamperRestore::default();
    let f = control("CloudWatch.7", account());
    // Unset: answered everywhere.
    assert!(r.ignore(&f).is_none());
    let env = |k: &str| (k == "QUELL_ORG_TRAIL_ACCOUNT").then(|| "999999999999".to_string());
    r.configure(&env).unwrap();
    let why = r.ignore(&f).expect("a member's CloudWatch.7 is let go");
    assert!(why.contains("999999999999"), "{why}");
    // The trail's own account, and every other control, still answered.
    let mut own = f.clone();
    own.account = "999999999999".into();
    assert!(r.ignore(&own).is_none());
    assert!(r.ignore(&control("GuardDuty.1", account())).is_none());
    let bad = |k: &str| (k == "QUELL_ORG_TRAIL_ACCOUNT").then(|| "12345".to_string());
    let err = TamperRestore::default().configure(&bad).unwrap_err();
    assert_eq!(err.var, "QUELL_ORG_TRAIL_ACCOUNT");
}

#[tokio::test]
async fn a_standard_half_on_is_unconfirmed_one_being_disabled_is_retried_and_aws_own_is_escalated()
{
    let r = TamperRestore::default();
    let f = call(
        "securityhub:BatchDisableStandards",
        json!({"StandardsSubscriptionArns": [FSBP_SUB]}),
    );
    let t = r.target(&f).unwrap();
    // INCOMPLETE (some controls did not follow): nothing to enable, and not proven on.
    let read = mock!(aws_sdk_securityhub::Client::get_enabled_standards).then_output(|| {
        GetEnabledStandardsOutput::builder()
            .standards_subscriptions(
                StandardsSubscription::builder()
                    .standards_subscription_arn(FSBP_SUB)
                    .standards_arn(FSBP)
                    .standards_status(StandardsStatus::Incomplete)
                    .standards_status_reason(
                        aws_sdk_securityhub::types::StandardsStatusReason::builder()
                            .status_reason_code(
                                aws_sdk_securityhub::types::StatusReasonCode::InternalError,
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let mut c = clients(idle_guardduty());
    c.hub = mock_client!(aws_sdk_securityhub, [&read]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert_eq!(out.name(), "UNCONFIRMED", "{out:?}");
    assert!(out
        .note("tamper-restore", "x")
        .contains("INCOMPLETE (INTERNAL_ERROR)"));

    // Still DELETING: enabling now may be refused; a retryable failure, nothing written.
    let read = mock!(aws_sdk_securityhub::Client::get_enabled_standards)
        .then_output(|| enabled(&[(FSBP_SUB, FSBP, StandardsStatus::Deleting)]));
    c.hub = mock_client!(aws_sdk_securityhub, [&read]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed {
        code, retryable, ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("StandardDeleting"));
    assert!(*retryable);

    // Security Hub itself (a central configuration policy) turned it off: escalated, not fought.
    let mut by_aws = f.clone();
    by_aws.caller = Some(quell::finding::Caller {
        arn: None,
        identity_type: Some("AWSService".into()),
        ip: Some("securityhub.amazonaws.com".into()),
        user_agent: Some("securityhub.amazonaws.com".into()),
    });
    assert!(matches!(
        r.target(&by_aws).unwrap().what,
        What::Escalate { ref command, .. } if command.contains("configuration-policy")
    ));
}

#[tokio::test]
async fn an_import_enabled_meanwhile_is_read_back_not_failed() {
    const SUB: &str =
        "arn:aws:securityhub:us-east-1:111111111111:product-subscription/aws/inspector";
    let r = TamperRestore::default();
    let t = r
        .target(&call(
            "securityhub:DisableImportFindingsForProduct",
            json!({"productSubscriptionArn": SUB}),
        ))
        .unwrap();
    let list = mock!(aws_sdk_securityhub::Client::list_enabled_products_for_import)
        .sequence()
        .output(|| ListEnabledProductsForImportOutput::builder().build())
        .output(|| {
            ListEnabledProductsForImportOutput::builder()
                .product_subscriptions(SUB)
                .build()
        })
        .build();
    let conflict = mock!(aws_sdk_securityhub::Client::enable_import_findings_for_product)
        .then_error(|| {
            aws_sdk_securityhub::operation::enable_import_findings_for_product::EnableImportFindingsForProductError::ResourceConflictException(
                aws_sdk_securityhub::types::error::ResourceConflictException::builder()
                    .message("already subscribed")
                    .build(),
            )
        });
    let mut c = clients(idle_guardduty());
    c.hub = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&list, &conflict]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(list.num_calls(), 2);
}

// ------------------------------------------------------------ IAM Access Analyzer

use aws_sdk_accessanalyzer::operation::create_analyzer::{
    CreateAnalyzerError, CreateAnalyzerOutput,
};
use aws_sdk_accessanalyzer::operation::list_analyzers::ListAnalyzersOutput;
use aws_sdk_accessanalyzer::types::{AnalyzerStatus, AnalyzerSummary, Type};

fn analyzer(name: &str, kind: Type, status: AnalyzerStatus) -> AnalyzerSummary {
    AnalyzerSummary::builder()
        .arn(format!(
            "arn:aws:access-analyzer:us-east-1:111111111111:analyzer/{name}"
        ))
        .name(name)
        .r#type(kind)
        .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .status(status)
        .build()
        .unwrap()
}

fn analyzers(list: Vec<AnalyzerSummary>, next: Option<&str>) -> ListAnalyzersOutput {
    ListAnalyzersOutput::builder()
        .set_analyzers(Some(list))
        .set_next_token(next.map(str::to_string))
        .build()
        .unwrap()
}

fn deleted(name: &str) -> Finding {
    call(
        "access-analyzer:DeleteAnalyzer",
        json!({"analyzerName": name}),
    )
}

#[tokio::test]
async fn a_deleted_analyzer_is_made_again_where_nothing_analyzes_external_access_and_read_back() {
    let r = TamperRestore::default();
    let t = r.target(&deleted("org-external")).unwrap();
    // Plan: two pages, an unused-access analyzer only. Verification: the new one ACTIVE.
    let list = mock!(aws_sdk_accessanalyzer::Client::list_analyzers)
        .sequence()
        .output(|| {
            analyzers(
                vec![analyzer(
                    "unused",
                    Type::AccountUnusedAccess,
                    AnalyzerStatus::Active,
                )],
                Some("p2"),
            )
        })
        .output(|| analyzers(Vec::new(), None))
        .output(|| {
            analyzers(
                vec![
                    analyzer("org-external", Type::Account, AnalyzerStatus::Active),
                    analyzer("unused", Type::AccountUnusedAccess, AnalyzerStatus::Active),
                ],
                None,
            )
        })
        .build();
    let create = mock!(aws_sdk_accessanalyzer::Client::create_analyzer)
        .match_requests(|q| {
            q.analyzer_name() == Some("org-external") && q.r#type() == Some(&Type::Account)
        })
        .then_output(|| CreateAnalyzerOutput::builder().arn("arn:x").build());
    let mut c = clients(idle_guardduty());
    c.analyzer = mock_client!(aws_sdk_accessanalyzer, RuleMode::MatchAny, [&list, &create]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    // Read back ACTIVE, but its type was quell's guess: said, not claimed.
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("type ACCOUNT") && unchecked.contains("--type <TYPE>"),
        "{unchecked}"
    );
    assert!(!unchecked.contains("CREATING"), "{unchecked}");
    assert_eq!((list.num_calls(), create.num_calls()), (3, 1));
}

#[tokio::test]
async fn an_analyzer_still_creating_is_unconfirmed_and_one_made_meanwhile_is_read_back() {
    let r = TamperRestore::default();
    let t = r.target(&deleted("org-external")).unwrap();
    let list = mock!(aws_sdk_accessanalyzer::Client::list_analyzers)
        .sequence()
        .output(|| analyzers(Vec::new(), None))
        .output(|| {
            analyzers(
                vec![analyzer(
                    "org-external",
                    Type::Account,
                    AnalyzerStatus::Creating,
                )],
                None,
            )
        })
        .build();
    // A person made it between quell's read and its write: ConflictException, then read back.
    let conflict = mock!(aws_sdk_accessanalyzer::Client::create_analyzer).then_error(|| {
        CreateAnalyzerError::ConflictException(
            aws_sdk_accessanalyzer::types::error::ConflictException::builder()
                .message("exists")
                .resource_id("org-external")
                .resource_type("Analyzer")
                .build()
                .unwrap(),
        )
    });
    let mut c = clients(idle_guardduty());
    c.analyzer = mock_client!(
        aws_sdk_accessanalyzer,
        RuleMode::MatchAny,
        [&list, &conflict]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(unchecked.contains("CREATING"), "{unchecked}");
    assert_eq!((list.num_calls(), conflict.num_calls()), (2, 1));
}

#[tokio::test]
async fn an_analyzer_of_another_type_or_one_failed_is_escalated_and_nothing_made() {
    let r = TamperRestore::default();
    for (left, says) in [
        (
            analyzer("account-external", Type::Account, AnalyzerStatus::Active),
            "account-external (ACCOUNT)",
        ),
        (
            analyzer("org-external", Type::Account, AnalyzerStatus::Failed),
            "reads FAILED",
        ),
        // An ACCOUNT analyzer of another name, failed: no room for another ACCOUNT one.
        (
            analyzer("old", Type::Account, AnalyzerStatus::Failed),
            "old (ACCOUNT, FAILED)",
        ),
        // The name back as an unused-access analyzer, and nothing analyzes external access.
        (
            analyzer(
                "org-external",
                Type::AccountUnusedAccess,
                AnalyzerStatus::Active,
            ),
            "back as ACCOUNT_UNUSED_ACCESS",
        ),
    ] {
        let t = r.target(&deleted("org-external")).unwrap();
        let list = mock!(aws_sdk_accessanalyzer::Client::list_analyzers)
            .then_output(move || analyzers(vec![left.clone()], None));
        let create = mock!(aws_sdk_accessanalyzer::Client::create_analyzer)
            .then_output(|| CreateAnalyzerOutput::builder().build());
        let mut c = clients(idle_guardduty());
        c.analyzer = mock_client!(aws_sdk_accessanalyzer, RuleMode::MatchAny, [&list, &create]);
        let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
        let Outcome::Failed { error, code, .. } = &out else {
            panic!("{out:?}")
        };
        assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{error}");
        assert!(
            error.contains(says) && error.contains("create-analyzer"),
            "{error}"
        );
        assert_eq!(create.num_calls(), 0, "{says}");
        let note = out.note("tamper-restore", &r.describe(&t));
        assert!(note.contains("mallory"), "{note}");
    }
}

#[test]
fn an_analyzer_name_access_analyzer_would_refuse_is_refused_before_any_call() {
    let r = TamperRestore::default();
    for bad in ["1st", "a b", "a;rm", "", &"a".repeat(256)] {
        assert!(r.target(&deleted(bad)).is_err(), "{bad:?}");
    }
    assert!(r
        .target(&call("access-analyzer:DeleteAnalyzer", json!({})))
        .is_err());
    assert!(r.target(&deleted("Org_external-1.a")).is_ok());
}

// ------------------------------------------------------------ AWS Config delivery channel

use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
use aws_sdk_config::operation::describe_delivery_channels::DescribeDeliveryChannelsOutput;
use aws_sdk_config::operation::put_delivery_channel::PutDeliveryChannelOutput;
use aws_sdk_config::operation::start_configuration_recorder::StartConfigurationRecorderOutput;
use aws_sdk_config::types::{ConfigurationRecorderStatus, DeliveryChannel};

fn with_bucket() -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_CONFIG_BUCKET").then(|| "org-config-bucket".to_string()))
        .unwrap();
    r
}

/// The sample call: the channel `default` deleted.
fn channel_deleted() -> Finding {
    call(
        "config:DeleteDeliveryChannel",
        json!({"deliveryChannelName": "default"}),
    )
}

fn recorders(list: &[(&str, bool, Option<&str>)]) -> DescribeConfigurationRecorderStatusOutput {
    DescribeConfigurationRecorderStatusOutput::builder()
        .set_configuration_recorders_status(Some(
            list.iter()
                .map(|(n, on, principal)| {
                    let mut b = ConfigurationRecorderStatus::builder()
                        .name(*n)
                        .recording(*on);
                    if let Some(p) = principal {
                        b = b.service_principal(*p);
                    }
                    b.build()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn a_deleted_delivery_channel_is_made_again_to_the_organizations_bucket_and_recording_restarted(
) {
    let r = with_bucket();
    let t = r.target(&channel_deleted()).unwrap();
    let channels = mock!(aws_sdk_config::Client::describe_delivery_channels)
        .sequence()
        .output(|| DescribeDeliveryChannelsOutput::builder().build())
        .output(|| {
            DescribeDeliveryChannelsOutput::builder()
                .delivery_channels(
                    DeliveryChannel::builder()
                        .name("default")
                        .s3_bucket_name("org-config-bucket")
                        .build(),
                )
                .build()
        })
        .build();
    // The customer's recorder stopped (Config refuses to delete a recording one's channel), and a
    // service-linked one, which is its service's to run.
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .sequence()
        .output(|| {
            recorders(&[
                ("default", false, None),
                (
                    "AWSConfigurationRecorderForX",
                    false,
                    Some("x.amazonaws.com"),
                ),
            ])
        })
        .output(|| {
            recorders(&[
                ("default", true, None),
                (
                    "AWSConfigurationRecorderForX",
                    false,
                    Some("x.amazonaws.com"),
                ),
            ])
        })
        .build();
    let put = mock!(aws_sdk_config::Client::put_delivery_channel)
        .match_requests(|q| {
            q.delivery_channel().and_then(|c| c.name()) == Some("default")
                && q.delivery_channel().and_then(|c| c.s3_bucket_name())
                    == Some("org-config-bucket")
        })
        .then_output(|| PutDeliveryChannelOutput::builder().build());
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .match_requests(|q| q.configuration_recorder_name() == Some("default"))
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&channels, &status, &put, &start]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
    assert_eq!(
        (put.num_calls(), start.num_calls(), channels.num_calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_deleted_channel_with_no_recorder_left_is_escalated_and_nothing_made() {
    let r = with_bucket();
    let t = r.target(&channel_deleted()).unwrap();
    let channels = mock!(aws_sdk_config::Client::describe_delivery_channels)
        .then_output(|| DescribeDeliveryChannelsOutput::builder().build());
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| recorders(&[]));
    let put = mock!(aws_sdk_config::Client::put_delivery_channel)
        .then_output(|| PutDeliveryChannelOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&channels, &status, &put]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { error, code, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"));
    assert!(
        error.contains("put-configuration-recorder")
            && error.contains(r#"'{"name":"default","s3BucketName":"org-config-bucket"}'"#),
        "{error}"
    );
    assert_eq!(put.num_calls(), 0);
}

#[test]
fn the_config_bucket_setting_is_checked_before_any_call() {
    for bad in ["UPPER", "a", "has space", "-lead", "a..b", &"b".repeat(64)] {
        let mut r = TamperRestore::default();
        let e = r
            .configure(&|k| (k == "QUELL_CONFIG_BUCKET").then(|| bad.to_string()))
            .unwrap_err();
        assert_eq!(e.var, "QUELL_CONFIG_BUCKET", "{bad}");
    }
    // Unset: the deleted channel is escalated with the command, as before.
    assert!(matches!(
        TamperRestore::default()
            .target(&channel_deleted())
            .unwrap()
            .what,
        What::Escalate { .. }
    ));
}

#[tokio::test]
async fn a_channel_made_again_to_another_bucket_is_put_before_a_person_and_recording_left() {
    let r = with_bucket();
    let t = r.target(&channel_deleted()).unwrap();
    let channels = mock!(aws_sdk_config::Client::describe_delivery_channels).then_output(|| {
        DescribeDeliveryChannelsOutput::builder()
            .delivery_channels(
                DeliveryChannel::builder()
                    .name("mine")
                    .s3_bucket_name("somewhere-else")
                    .build(),
            )
            .build()
    });
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| recorders(&[("default", false, None)]));
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&channels, &status, &start]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { error, code, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"));
    assert!(
        error.contains("'somewhere-else'") && error.contains("'mine'"),
        "{error}"
    );
    assert_eq!(start.num_calls(), 0);
}

use aws_sdk_cloudtrail::operation::create_trail::{CreateTrailError, CreateTrailOutput};
use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::start_logging::StartLoggingOutput;

fn with_trail_bucket() -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_TRAIL_BUCKET").then(|| "org-trail-bucket".to_string()))
        .unwrap();
    r
}

/// The sample call: the trail `audit` deleted, by its name or its ARN.
fn trail_deleted(name: &str) -> Finding {
    call("cloudtrail:DeleteTrail", json!({ "name": name }))
}

/// A trail as DescribeTrails lists it: (name, owner account, home Region, bucket, multi-Region).
fn trails(list: &[(&str, &str, &str, &str, bool)]) -> DescribeTrailsOutput {
    DescribeTrailsOutput::builder()
        .set_trail_list(Some(
            list.iter()
                .map(|(n, a, home, b, multi)| {
                    aws_sdk_cloudtrail::types::Trail::builder()
                        .name(*n)
                        .trail_arn(format!("arn:aws:cloudtrail:{home}:{a}:trail/{n}"))
                        .home_region(*home)
                        .s3_bucket_name(*b)
                        .is_multi_region_trail(*multi)
                        .build()
                })
                .collect(),
        ))
        .build()
}

/// The trail `audit` of the account, homed here, multi-Region, to the organization's bucket.
fn audit_back() -> DescribeTrailsOutput {
    trails(&[(
        "audit",
        "111111111111",
        "us-east-1",
        "org-trail-bucket",
        true,
    )])
}

#[tokio::test]
async fn a_deleted_trail_is_made_again_to_the_organizations_bucket_started_and_read_back() {
    let r = with_trail_bucket();
    let t = r.target(&trail_deleted("audit")).unwrap();
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .sequence()
        .output(|| trails(&[]))
        .output(audit_back)
        .build();
    let create = mock!(aws_sdk_cloudtrail::Client::create_trail)
        .match_requests(|q| {
            q.name() == Some("audit")
                && q.s3_bucket_name() == Some("org-trail-bucket")
                && q.is_multi_region_trail() == Some(true)
                && q.enable_log_file_validation() == Some(true)
        })
        .then_output(|| CreateTrailOutput::builder().build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .match_requests(|q| q.name() == Some("audit"))
        .then_output(|| StartLoggingOutput::builder().build());
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let mut c = clients(idle_guardduty());
    c.cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        [&describe, &create, &start, &status]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    // Made and read back logging, yet the deleted trail's key, log group and selectors are not
    // in the call: never RESOLVED.
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("quell made the trail audit") && unchecked.contains("KMS key"),
        "{unchecked}"
    );
    assert_eq!(
        (create.num_calls(), start.num_calls(), describe.num_calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_trail_back_and_stopped_is_started_and_one_made_meanwhile_is_read_back() {
    let r = with_trail_bucket();
    // By ARN, as DeleteTrail also takes it: back, delivering to the bucket, not logging.
    let t = r
        .target(&trail_deleted(
            "arn:aws:cloudtrail:us-east-1:111111111111:trail/audit",
        ))
        .unwrap();
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(audit_back);
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .sequence()
        .output(|| GetTrailStatusOutput::builder().is_logging(false).build())
        .output(|| GetTrailStatusOutput::builder().is_logging(true).build())
        .build();
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .then_output(|| StartLoggingOutput::builder().build());
    let create = mock!(aws_sdk_cloudtrail::Client::create_trail)
        .then_output(|| CreateTrailOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        [&describe, &status, &start, &create]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(unchecked.contains("is back"), "{unchecked}");
    assert_eq!((start.num_calls(), create.num_calls()), (1, 0));

    // Made by someone between quell's read and its write: TrailAlreadyExists is not a failure,
    // the read-back decides.
    let t = r.target(&trail_deleted("audit")).unwrap();
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .sequence()
        .output(|| trails(&[]))
        .output(audit_back)
        .build();
    let exists = mock!(aws_sdk_cloudtrail::Client::create_trail).then_error(|| {
        CreateTrailError::TrailAlreadyExistsException(
            aws_sdk_cloudtrail::types::error::TrailAlreadyExistsException::builder()
                .message("exists")
                .build(),
        )
    });
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .then_output(|| StartLoggingOutput::builder().build());
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    c.cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        [&describe, &exists, &start, &status]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(unchecked.contains("is back"), "{unchecked}");
    // Not started blind: the read-back found it logging.
    assert_eq!(start.num_calls(), 0);

    // Back and logging, but CloudTrail cannot deliver to the bucket: said, not RESOLVED.
    let t2 = r.target(&trail_deleted("audit")).unwrap();
    let back = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(audit_back);
    let failing = mock!(aws_sdk_cloudtrail::Client::get_trail_status).then_output(|| {
        GetTrailStatusOutput::builder()
            .is_logging(true)
            .latest_delivery_error("AccessDenied")
            .build()
    });
    let mut c2 = clients(idle_guardduty());
    c2.cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&back, &failing]);
    let out = execute(&r, &c2, &t2, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("delivery") && unchecked.contains("AccessDenied"),
        "{unchecked}"
    );

    // Made meanwhile to another bucket: not started, escalated by the read-back.
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .sequence()
        .output(|| trails(&[]))
        .output(|| trails(&[("audit", "111111111111", "us-east-1", "elsewhere", true)]))
        .build();
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .then_output(|| StartLoggingOutput::builder().build());
    c.cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        [&describe, &exists, &start, &status]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(error.contains("not the organization's bucket"), "{error}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_stopped_trail_beside_the_deleted_one_proves_nothing_and_the_trail_is_made_again() {
    let r = with_trail_bucket();
    let t = r.target(&trail_deleted("audit")).unwrap();
    // A decoy: multi-Region, made before the deletion, never started.
    let describe = mock!(aws_sdk_cloudtrail::Client::describe_trails)
        .sequence()
        .output(|| trails(&[("decoy", "111111111111", "us-east-1", "x-bucket", true)]))
        .output(|| {
            trails(&[
                ("decoy", "111111111111", "us-east-1", "x-bucket", true),
                (
                    "audit",
                    "111111111111",
                    "us-east-1",
                    "org-trail-bucket",
                    true,
                ),
            ])
        })
        .build();
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .match_requests(|q| q.name().is_some_and(|n| n.ends_with("/decoy")))
        .then_output(|| GetTrailStatusOutput::builder().is_logging(false).build());
    let ours = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let create = mock!(aws_sdk_cloudtrail::Client::create_trail)
        .then_output(|| CreateTrailOutput::builder().build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .then_output(|| StartLoggingOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        [&describe, &status, &ours, &create, &start]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Unconfirmed { .. }), "{out:?}");
    assert_eq!((create.num_calls(), start.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_deleted_trail_beside_another_or_back_elsewhere_is_escalated_and_nothing_made() {
    let r = with_trail_bucket();
    for (left, says) in [
        // The organization's trail still logs the account: the deleted one was a second trail.
        (
            ("org-trail", "999999999999", "us-east-1", "org-bucket", true),
            "still logs the account",
        ),
        // Back by that name, to another bucket.
        (
            ("audit", "111111111111", "us-east-1", "someone-elses", true),
            "not the organization's bucket",
        ),
        // Back by that name, this Region only.
        (
            (
                "audit",
                "111111111111",
                "us-east-1",
                "org-trail-bucket",
                false,
            ),
            "this Region only",
        ),
    ] {
        let t = r.target(&trail_deleted("audit")).unwrap();
        let describe =
            mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(move || trails(&[left]));
        let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
            .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
        let create = mock!(aws_sdk_cloudtrail::Client::create_trail)
            .then_output(|| CreateTrailOutput::builder().build());
        let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
            .then_output(|| StartLoggingOutput::builder().build());
        let mut c = clients(idle_guardduty());
        c.cloudtrail = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&describe, &status, &create, &start]
        );
        let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
        let Outcome::Failed { error, code, .. } = &out else {
            panic!("{says}: {out:?}")
        };
        assert_eq!(code.as_deref(), Some("ManualActionRequired"), "{says}");
        assert!(error.contains(says), "{says}: {error}");
        assert_eq!((create.num_calls(), start.num_calls()), (0, 0), "{says}");
    }
}

#[test]
fn a_trail_the_call_names_badly_or_the_bucket_setting_is_refused_before_any_call() {
    let r = with_trail_bucket();
    for bad in [
        "ab",
        "-lead",
        "has space",
        "trail;rm",
        // Another account's trail (an organization trail a member cannot delete), another Region.
        "arn:aws:cloudtrail:us-east-1:999999999999:trail/org",
        "arn:aws:cloudtrail:eu-west-1:111111111111:trail/audit",
    ] {
        assert!(r.target(&trail_deleted(bad)).is_err(), "{bad}");
    }
    for bad in ["UPPER", "a", "-lead", "a..b"] {
        let mut r = TamperRestore::default();
        let e = r
            .configure(&|k| (k == "QUELL_TRAIL_BUCKET").then(|| bad.to_string()))
            .unwrap_err();
        assert_eq!(e.var, "QUELL_TRAIL_BUCKET", "{bad}");
    }
    // Unset: escalated with the command, as before.
    assert!(matches!(
        TamperRestore::default()
            .target(&trail_deleted("audit"))
            .unwrap()
            .what,
        What::Escalate { .. }
    ));
}

use aws_sdk_ec2::operation::create_flow_logs::CreateFlowLogsOutput;
use aws_sdk_ec2::operation::describe_flow_logs::DescribeFlowLogsOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;

fn with_flow_log_bucket() -> TamperRestore {
    let mut r = TamperRestore::default();
    r.configure(&|k| (k == "QUELL_FLOW_LOG_BUCKET").then(|| "org-flow-logs".to_string()))
        .unwrap();
    r
}

/// The VPCs DescribeVpcs lists: (id, exempt-tagged).
fn vpcs(list: &[(&str, bool)]) -> DescribeVpcsOutput {
    DescribeVpcsOutput::builder()
        .set_vpcs(Some(
            list.iter()
                .map(|(id, exempt)| {
                    let mut v = aws_sdk_ec2::types::Vpc::builder().vpc_id(*id);
                    if *exempt {
                        v = v.tags(
                            aws_sdk_ec2::types::Tag::builder()
                                .key("quell:exempt")
                                .value("true")
                                .build(),
                        );
                    }
                    v.build()
                })
                .collect(),
        ))
        .build()
}

/// The active flow logs DescribeFlowLogs lists, on the resources `on`.
fn flow_logs(on: &[&str]) -> DescribeFlowLogsOutput {
    DescribeFlowLogsOutput::builder()
        .set_flow_logs(Some(
            on.iter()
                .map(|r| {
                    aws_sdk_ec2::types::FlowLog::builder()
                        .resource_id(*r)
                        .flow_log_status("ACTIVE")
                        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
                        .build()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn deleted_flow_logs_give_every_vpc_left_without_one_a_flow_log_but_an_exempt_one() {
    let r = with_flow_log_bucket();
    let f = call(
        "ec2:DeleteFlowLogs",
        json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-07a9b55570fe770b6", "tag": 1}}}),
    );
    let t = r.target(&f).unwrap();
    // vpc-a keeps its flow log; vpc-b lost its own; vpc-c is tagged exempt; a subnet's flow log
    // says nothing of its VPC.
    let logs = mock!(aws_sdk_ec2::Client::describe_flow_logs)
        .sequence()
        .output(|| flow_logs(&["vpc-0000000a", "subnet-0000000b"]))
        .output(|| flow_logs(&["vpc-0000000a", "vpc-0000000b", "subnet-0000000b"]))
        .build();
    let listed = mock!(aws_sdk_ec2::Client::describe_vpcs).then_output(|| {
        vpcs(&[
            ("vpc-0000000a", false),
            ("vpc-0000000b", false),
            ("vpc-0000000c", true),
        ])
    });
    let create = mock!(aws_sdk_ec2::Client::create_flow_logs)
        .match_requests(|q| {
            q.resource_ids() == ["vpc-0000000b"]
                && q.log_destination() == Some("arn:aws:s3:::org-flow-logs")
                && q.log_destination_type() == Some(&aws_sdk_ec2::types::LogDestinationType::S3)
                && q.traffic_type() == Some(&aws_sdk_ec2::types::TrafficType::All)
                && q.resource_type() == Some(&aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        })
        .then_output(|| {
            CreateFlowLogsOutput::builder()
                .flow_log_ids("fl-new")
                .build()
        });
    let mut c = clients(idle_guardduty());
    c.ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&logs, &listed, &create]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    // The call does not say which VPC lost its flow log, nor a subnet's: never RESOLVED.
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("fl-07a9b55570fe770b6") && unchecked.contains("vpc-0000000c"),
        "{unchecked}"
    );
    assert_eq!((create.num_calls(), logs.num_calls()), (1, 2));
}

#[tokio::test]
async fn a_flow_log_ec2_refuses_is_a_failure_with_its_reason_and_ec2_6_is_resolved_on_the_vpc() {
    let r = with_flow_log_bucket();
    let vpc = quell::Resource::new(
        quell::ResourceKind::Other("AwsEc2Vpc".into()),
        "vpc-0a1b2c3d",
    );
    let t = r.target(&control("EC2.6", vpc.clone())).unwrap();
    assert!(matches!(t.what, What::FlowLogs { vpc: Some(ref v), .. } if v == "vpc-0a1b2c3d"));
    // Refused: CreateFlowLogs answers 200 with the VPC unsuccessful.
    let logs = mock!(aws_sdk_ec2::Client::describe_flow_logs).then_output(|| flow_logs(&[]));
    let listed = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .match_requests(|q| q.vpc_ids() == ["vpc-0a1b2c3d"])
        .then_output(|| vpcs(&[("vpc-0a1b2c3d", false)]));
    let refused = mock!(aws_sdk_ec2::Client::create_flow_logs).then_output(|| {
        CreateFlowLogsOutput::builder()
            .unsuccessful(
                aws_sdk_ec2::types::UnsuccessfulItem::builder()
                    .resource_id("vpc-0a1b2c3d")
                    .error(
                        aws_sdk_ec2::types::UnsuccessfulItemError::builder()
                            .code("400")
                            .message("Access Denied for LogDestination: org-flow-logs")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let mut c = clients(idle_guardduty());
    c.ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&logs, &listed, &refused]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        error.contains("Access Denied for LogDestination"),
        "{error}"
    );

    // Made and read back: the VPC has a flow log, which is all EC2.6 asks.
    let logs = mock!(aws_sdk_ec2::Client::describe_flow_logs)
        .sequence()
        .output(|| flow_logs(&[]))
        .output(|| flow_logs(&["vpc-0a1b2c3d"]))
        .build();
    let made = mock!(aws_sdk_ec2::Client::create_flow_logs)
        .then_output(|| CreateFlowLogsOutput::builder().flow_log_ids("fl-1").build());
    c.ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&logs, &listed, &made]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");

    // Tagged exempt: the runtime reads the VPC's tags and leaves it.
    let tagged =
        mock!(aws_sdk_ec2::Client::describe_vpcs).then_output(|| vpcs(&[("vpc-0a1b2c3d", true)]));
    c.ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&tagged]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Exempt { .. }), "{out:?}");

    // A bad setting is refused at start; a resource that is not a VPC before any call.
    let mut bad = TamperRestore::default();
    assert_eq!(
        bad.configure(&|k| (k == "QUELL_FLOW_LOG_BUCKET").then(|| "Bad_Bucket".to_string()))
            .unwrap_err()
            .var,
        "QUELL_FLOW_LOG_BUCKET"
    );
    let not_vpc = quell::Resource::new(quell::ResourceKind::Other("AwsEc2Vpc".into()), "vpc-x; rm");
    assert!(r.target(&control("EC2.6", not_vpc)).is_err());
}

use aws_sdk_config::operation::put_configuration_recorder::PutConfigurationRecorderOutput;

/// The sample call: the recorder `default` deleted.
fn recorder_deleted() -> Finding {
    call(
        "config:DeleteConfigurationRecorder",
        json!({"configurationRecorderName": "default"}),
    )
}

#[tokio::test]
async fn a_deleted_recorder_is_made_again_with_configs_service_linked_role_and_started() {
    for (bucket, channel_there) in [(false, true), (true, false)] {
        let r = if bucket {
            with_bucket()
        } else {
            TamperRestore::default()
        };
        let t = r.target(&recorder_deleted()).unwrap();
        let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
            .sequence()
            // A service-linked recorder is its service's: it does not count as the account's.
            .output(|| {
                recorders(&[(
                    "AWSConfigurationRecorderForX",
                    true,
                    Some("x.amazonaws.com"),
                )])
            })
            .output(|| recorders(&[("default", true, None)]))
            .build();
        let channels =
            mock!(aws_sdk_config::Client::describe_delivery_channels).then_output(move || {
                let mut b = DescribeDeliveryChannelsOutput::builder();
                if channel_there {
                    b = b.delivery_channels(
                        DeliveryChannel::builder()
                            .name("default")
                            .s3_bucket_name("b")
                            .build(),
                    );
                }
                b.build()
            });
        let put = mock!(aws_sdk_config::Client::put_configuration_recorder)
            .match_requests(|q| {
                let rec = q.configuration_recorder();
                rec.and_then(|r| r.name()) == Some("default")
                    && rec.and_then(|r| r.role_arn()) == Some("arn:aws:iam::111111111111:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
                    && rec.and_then(|r| r.recording_group()).is_some_and(|g| g.all_supported())
            })
            .then_output(|| PutConfigurationRecorderOutput::builder().build());
        let channel = mock!(aws_sdk_config::Client::put_delivery_channel)
            .match_requests(|q| {
                q.delivery_channel().and_then(|c| c.s3_bucket_name()) == Some("org-config-bucket")
            })
            .then_output(|| PutDeliveryChannelOutput::builder().build());
        let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
            .match_requests(|q| q.configuration_recorder_name() == Some("default"))
            .then_output(|| StartConfigurationRecorderOutput::builder().build());
        let mut c = clients(idle_guardduty());
        c.config = mock_client!(
            aws_sdk_config,
            RuleMode::MatchAny,
            [&status, &channels, &put, &channel, &start]
        );
        let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
        // The deleted one's recording group and role are not in the call: never RESOLVED.
        let Outcome::Unconfirmed { unchecked, .. } = &out else {
            panic!("{out:?}")
        };
        assert!(
            unchecked.contains("quell made the recorder default"),
            "{unchecked}"
        );
        assert_eq!(
            (put.num_calls(), channel.num_calls(), start.num_calls()),
            (1, usize::from(!channel_there), 1)
        );
    }
}

#[tokio::test]
async fn a_deleted_recorder_with_no_channel_and_no_bucket_is_escalated_and_one_back_is_started() {
    let r = TamperRestore::default();
    let t = r.target(&recorder_deleted()).unwrap();
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| recorders(&[]));
    let channels = mock!(aws_sdk_config::Client::describe_delivery_channels)
        .then_output(|| DescribeDeliveryChannelsOutput::builder().build());
    let put = mock!(aws_sdk_config::Client::put_configuration_recorder)
        .then_output(|| PutConfigurationRecorderOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&status, &channels, &put]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"));
    assert!(
        error.contains("put-configuration-recorder") && error.contains("AWSServiceRoleForConfig"),
        "{error}"
    );
    assert_eq!(put.num_calls(), 0);

    // A recorder of the account's own made again since (another name): kept, and started.
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .sequence()
        .output(|| recorders(&[("main", false, None)]))
        .output(|| recorders(&[("main", true, None)]))
        .build();
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .match_requests(|q| q.configuration_recorder_name() == Some("main"))
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let channel_there =
        mock!(aws_sdk_config::Client::describe_delivery_channels).then_output(|| {
            DescribeDeliveryChannelsOutput::builder()
                .delivery_channels(
                    DeliveryChannel::builder()
                        .name("default")
                        .s3_bucket_name("b")
                        .build(),
                )
                .build()
        });
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&status, &channel_there, &start, &put]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(unchecked.contains("is there"), "{unchecked}");
    assert_eq!((start.num_calls(), put.num_calls()), (1, 0));
}

#[tokio::test]
async fn config_1_where_the_account_has_no_recorder_makes_default_as_a_deleted_one_is() {
    let r = with_bucket();
    let t = r.target(&control("Config.1", account())).unwrap();
    // No recorder of the account's own (a service-linked one is its service's), no channel.
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .sequence()
        .output(|| {
            recorders(&[(
                "AWSConfigurationRecorderForX",
                false,
                Some("x.amazonaws.com"),
            )])
        })
        .output(|| {
            recorders(&[
                (
                    "AWSConfigurationRecorderForX",
                    false,
                    Some("x.amazonaws.com"),
                ),
                ("default", true, None),
            ])
        })
        .build();
    let channels = mock!(aws_sdk_config::Client::describe_delivery_channels)
        .then_output(|| DescribeDeliveryChannelsOutput::builder().build());
    let put = mock!(aws_sdk_config::Client::put_configuration_recorder)
        .match_requests(|q| {
            q.configuration_recorder().and_then(|r| r.name()) == Some("default")
                && q.configuration_recorder()
                    .and_then(|r| r.role_arn())
                    .is_some_and(|a| {
                        a.ends_with(
                            ":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
                        )
                    })
        })
        .then_output(|| PutConfigurationRecorderOutput::builder().build());
    let channel = mock!(aws_sdk_config::Client::put_delivery_channel)
        .then_output(|| PutDeliveryChannelOutput::builder().build());
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .match_requests(|q| q.configuration_recorder_name() == Some("default"))
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&status, &channels, &put, &channel, &start]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Unconfirmed { unchecked, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(
        unchecked.contains("quell made the recorder default"),
        "{unchecked}"
    );
    assert_eq!(
        (put.num_calls(), channel.num_calls(), start.num_calls()),
        (1, 1, 1)
    );

    // Without the organization's Config bucket there is nothing to deliver to: escalated.
    let r = TamperRestore::default();
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| recorders(&[]));
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&status, &channels, &put]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"));
    assert!(
        error.contains("has no AWS Config recorder of its own"),
        "{error}"
    );
    assert_eq!(put.num_calls(), 1, "no second recorder made");
}

#[tokio::test]
async fn a_recorder_left_stopped_without_a_channel_gets_one_first_or_is_escalated() {
    // A restore that made the recorder and could not make its channel: the next delivery makes
    // the channel, then starts the recorder, instead of failing to start it for ever.
    let r = with_bucket();
    let t = r.target(&recorder_deleted()).unwrap();
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .sequence()
        .output(|| recorders(&[("default", false, None)]))
        .output(|| recorders(&[("default", true, None)]))
        .build();
    let none = mock!(aws_sdk_config::Client::describe_delivery_channels)
        .then_output(|| DescribeDeliveryChannelsOutput::builder().build());
    let channel = mock!(aws_sdk_config::Client::put_delivery_channel)
        .match_requests(|q| {
            q.delivery_channel().and_then(|c| c.s3_bucket_name()) == Some("org-config-bucket")
        })
        .then_output(|| PutDeliveryChannelOutput::builder().build());
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let mut c = clients(idle_guardduty());
    c.config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&status, &none, &channel, &start]
    );
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    assert!(matches!(out, Outcome::Unconfirmed { .. }), "{out:?}");
    assert_eq!((channel.num_calls(), start.num_calls()), (1, 1));

    // Without the organization's bucket: escalated, nothing started.
    let r = TamperRestore::default();
    let status = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| recorders(&[("default", false, None)]));
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    c.config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&status, &none, &start]);
    let out = execute(&r, &c, &t, Mode::Enforce, "quell:exempt").await;
    let Outcome::Failed { code, error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("ManualActionRequired"));
    assert!(error.contains("put-delivery-channel"), "{error}");
    assert_eq!(start.num_calls(), 0);
}
