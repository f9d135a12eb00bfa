//! The built function binaries, run the way Lambda runs them: a Runtime API server on 127.0.0.1
//! hands each its events; it talks to the emulator over HTTP with the real SDK. Every function's
//! binary fixes one real finding in a member account, read back through the SDK.
//!
//! `make test` builds the binaries first (`cargo build --workspace --bins`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use cloudtrail_alarm_response::MFA_POLICY;
use ec2_isolate_instance::ISOLATION_TAG;
use iam_revoke_role_sessions::POLICY_NAME;
use quell_tests::probe::Probe;
use quell_tests::runtime_api::{Answer, FunctionProcess, RuntimeApi};
use quell_tests::{events, seed, Emulator, CENTRAL, MEMBER, REGION};
use serde_json::{json, Value};

const FUNCTION: &str = "s3-block-public-access";

/// The built binary of `function`.
fn binary_of(function: &str) -> PathBuf {
    // tests run from target/<profile>/deps/; the binaries sit in target/<profile>/.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(function);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    bin
}

fn env(emu: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let (key, secret) = emu.central_keys();
    let mut v: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("QUELL_MODE", "enforce"),
        (
            "QUELL_ACTION_TARGETS",
            "arn:aws:securityhub:us-east-1:123456789012:action/custom/QuellRemediate",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, val) in extra {
        v.retain(|(key, _)| key != k);
        v.push((k.to_string(), val.to_string()));
    }
    v
}

#[tokio::test]
async fn the_function_binary_remediates_through_the_runtime_api() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;

    let api = RuntimeApi::start().await.expect("runtime api");
    let proc = FunctionProcess::spawn(&binary_of(FUNCTION), &api, FUNCTION, &env(&emu, &[]))
        .expect("spawn");

    let event = events::load("config-s3-bucket-public-read-prohibited.json", &[]);
    let answer = api
        .invoke(event.clone(), Duration::from_secs(30))
        .await
        .expect("answer");
    let Answer::Response(body) = answer else {
        panic!("expected a response, got {answer:?}")
    };
    assert_eq!(body["reports"][0]["outcome"], "REMEDIATED", "{body}");
    assert_eq!(body["reports"][0]["workflow"], "RESOLVED", "{body}");
    assert!(seed::fully_blocked(
        &seed::public_access_block(&member, "quell-demo-public-assets").await
    ));

    // Warm: the same process takes the next event; a replay changes nothing.
    let answer = api
        .invoke(event, Duration::from_secs(30))
        .await
        .expect("answer");
    let Answer::Response(body) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(body["reports"][0]["outcome"], "ALREADY_COMPLIANT", "{body}");

    // Bad input: an error Lambda records (and retries, then sends to the DLQ), naming the field.
    let answer = api
        .invoke(
            serde_json::json!({"detail-type": "x"}),
            Duration::from_secs(30),
        )
        .await
        .expect("answer");
    let Answer::Error(err) = answer else {
        panic!("expected an error, got {answer:?}")
    };
    assert_eq!(err["errorType"], "quell.InvalidEvent", "{err}");
    assert!(
        err["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{err}"
    );

    let logs = proc.stop().await;
    // Structured logs: one JSON outcome line per finding; never a credential, never a whole event.
    let outcomes: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "outcome")
        .collect();
    assert_eq!(outcomes.len(), 2, "{logs}");
    assert_eq!(outcomes[0]["fields"]["outcome"], "REMEDIATED");
    assert_eq!(outcomes[0]["span"]["account"], MEMBER, "{}", outcomes[0]);
    assert!(
        !logs.contains(&emu.central_keys().1) && !logs.contains("SecretAccessKey"),
        "{logs}"
    );
    assert!(
        !logs.contains("evaluationResultIdentifier"),
        "a whole event was logged: {logs}"
    );
}

#[tokio::test]
async fn bad_configuration_fails_at_start_naming_the_variable() {
    let emu = Emulator::start_enforced().await.expect("emulator");
    // A bad mode; and no action targets, without which a deployed function would believe a
    // Security Hub custom action by its id alone.
    for (var, value) in [("QUELL_MODE", "yolo"), ("QUELL_ACTION_TARGETS", "")] {
        let api = RuntimeApi::start().await.expect("runtime api");
        // The call log is seen to work: clear_calls makes a known call, which calls() requires.
        emu.clear_calls().await;
        let mut proc = FunctionProcess::spawn(
            &binary_of(FUNCTION),
            &api,
            FUNCTION,
            &env(&emu, &[(var, value)]),
        )
        .expect("spawn");
        let status = tokio::time::timeout(Duration::from_secs(20), proc.child.wait())
            .await
            .expect("the function did not stop on bad configuration")
            .expect("wait");
        assert!(!status.success(), "a function with bad {var} exited 0");
        let logs = proc.stop().await;
        assert!(logs.contains(var) && logs.contains(value), "{logs}");
        let calls = emu.calls().await;
        assert!(
            calls.is_empty(),
            "a function that failed to start called AWS: {calls:?}"
        );
    }
}

/// An account outside the member's zone of trust, shared with by a seeded policy.
const VENDOR: &str = "999988887777";
/// A partner account the restrict functions are told to trust (QUELL_TRUSTED_ACCOUNTS).
const PARTNER: &str = "222222222222";
/// A role trusted by the partner's CI and by the vendor.
const TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"}, {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}"#;
const CI: &str = r#"{"Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/deployer"}, "Action": "sts:AssumeRole"}"#;
/// A bucket policy granting the partner and a stranger.
const SHARED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"},{"Sid":"Stranger","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}]}"#;
/// Block Public Access, all four settings on, as `Probe::BucketBlock` and `Probe::AccountBlock`
/// read it.
const ALL_BLOCKED: &str = "Some(true)/Some(true)/Some(true)/Some(true)";

/// A console sign-in of a member's IAM user, as CloudTrail records it.
fn login(user: &str, mfa: &str) -> Value {
    json!({"eventVersion": "1.08", "eventTime": "2026-11-28T13:02:10Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
        "awsRegion": REGION, "sourceIPAddress": "203.0.113.8", "eventID": format!("login-{user}"), "readOnly": false, "eventType": "AwsConsoleSignIn",
        "userIdentity": {"type": "IAMUser", "userName": user, "accountId": MEMBER, "arn": format!("arn:aws:iam::{MEMBER}:user/{user}")},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com/"}})
}

/// The id of the Security Hub finding quell records `event`'s outcome on: the source's own,
/// imported here in the member as AWS's integration would have; or, for a source with none
/// (Config, Access Analyzer, an alarm), the finding quell imports itself.
async fn hub_finding(member: &aws_config::SdkConfig, event: &Value) -> String {
    let f = quell::event::Envelope::parse(event.clone())
        .unwrap()
        .findings
        .remove(0)
        .unwrap();
    let Some(h) = f.hub.clone() else {
        return f.own_id();
    };
    let (kind, resource) = f
        .resources
        .first()
        .map(|r| {
            (
                r.kind.asff_type().to_string(),
                r.arn.clone().unwrap_or_else(|| r.id.clone()),
            )
        })
        .unwrap_or_else(|| ("AwsAccount".into(), format!("AWS::::Account:{MEMBER}")));
    seed::hub_finding(member, MEMBER, &h.id, &h.product_arn, (&kind, &resource)).await;
    h.id
}

/// One enforced emulator with every function's member role, in which each function's binary
/// fixes one finding.
struct Fleet<'a> {
    emu: &'a Emulator,
    central: &'a aws_config::SdkConfig,
    member: &'a aws_config::SdkConfig,
    /// The functions whose binary fixed its finding.
    done: Vec<&'static str>,
}

impl Fleet<'_> {
    /// Runs `function`'s binary under a fresh Runtime API on `event` (its Security Hub finding
    /// seeded first), stops it, and checks what holds for every function: `probe` reads something
    /// else in the member account than before, the finding is RESOLVED in Security Hub with a note
    /// naming the function, and the process logged one REMEDIATED outcome line of its own.
    /// Returns `probe`'s readings before and after, for the function's own assertions.
    async fn fix(
        &mut self,
        function: &'static str,
        extra: &[(&str, &str)],
        event: Value,
        probe: &Probe,
    ) -> (String, String) {
        let seeded = probe.read(self.member).await;
        let body = self
            .answer(function, extra, event, "REMEDIATED", "RESOLVED")
            .await;
        let fixed = probe.read(self.member).await;
        assert_ne!(
            fixed, seeded,
            "{function}: nothing changed in the member account ({body})"
        );
        (seeded, fixed)
    }

    /// The function's binary answers `event` under the Runtime API with one outcome line saying
    /// `outcome`, and the Security Hub finding is read back with `workflow` and a note naming the
    /// function. Returns the response body.
    async fn answer(
        &mut self,
        function: &'static str,
        extra: &[(&str, &str)],
        event: Value,
        outcome: &str,
        workflow: &str,
    ) -> Value {
        let hub_id = hub_finding(self.member, &event).await;
        let api = RuntimeApi::start().await.expect("runtime api");
        let proc =
            FunctionProcess::spawn(&binary_of(function), &api, function, &env(self.emu, extra))
                .unwrap_or_else(|e| panic!("{function}: could not start its binary: {e}"));
        let answer = api.invoke(event, Duration::from_secs(60)).await;
        let logs = proc.stop().await;
        let Ok(Answer::Response(body)) = answer else {
            panic!("{function}: expected a response, got {answer:?}\n{logs}")
        };
        let (status, note) = seed::workflow(self.central, &hub_id)
            .await
            .unwrap_or_else(|| panic!("{function}: no Security Hub finding {hub_id}"));
        assert_eq!(status, workflow, "{function}: {hub_id}: {note:?}");
        assert!(
            note.as_deref().unwrap_or_default().contains(function),
            "{function}: the note does not name the function: {note:?}"
        );

        let outcomes: Vec<Value> = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "outcome")
            .collect();
        assert_eq!(outcomes.len(), 1, "{function}: one outcome line:\n{logs}");
        let o = &outcomes[0];
        assert_eq!(o["fields"]["outcome"], outcome, "{function}: {o}");
        assert_eq!(o["span"]["remediation"], function, "{function}: {o}");
        assert_eq!(o["span"]["account"], MEMBER, "{function}: {o}");
        self.done.push(function);
        body
    }
}

#[tokio::test]
async fn every_function_binary_fixes_one_finding_through_the_runtime_api() {
    use aws_sdk_ec2::types::{Filter, IpPermission, UserIdGroupPair};
    let emu = Emulator::start_enforced().await.expect("emulator");
    let central = emu.central_config();
    let member = emu.account_config(MEMBER).await;
    seed::member_role(&member, CENTRAL).await;
    let ec2 = aws_sdk_ec2::Client::new(&member);
    let s3 = quell::member::s3_client(&member);
    let mut fleet = Fleet {
        emu: &emu,
        central: &central,
        member: &member,
        done: Vec::new(),
    };

    {
        const ID: &str = "cloudtrail-alarm-response";
        let iam = aws_sdk_iam::Client::new(&member);
        for user in ["alice", "bob"] {
            iam.create_user().user_name(user).send().await.unwrap();
        }
        let logins = vec![login("alice", "No"), login("bob", "Yes")];
        emu.seed_trail_events(MEMBER, REGION, logins).await;
        let event = events::load("cloudwatch-alarm-consolesigninwithoutmfa.json", &[]);
        let alice = Probe::UserPolicies("alice".into());
        let (_, fixed) = fleet.fix(ID, &[], event, &alice).await;
        assert!(
            fixed.starts_with(&format!("{MFA_POLICY}=")) && !fixed.contains('\n'),
            "{ID}: alice: {fixed}"
        );
        let bob = Probe::UserPolicies("bob".into()).read(&member).await;
        assert!(bob.is_empty(), "{ID}: bob used MFA: {bob}");
    }

    {
        const ID: &str = "cloudtrail-restore-logging";
        seed::trail_bucket(&member, "quell-demo-trail-logs").await;
        aws_sdk_cloudtrail::Client::new(&member)
            .create_trail()
            .name("org-audit")
            .s3_bucket_name("quell-demo-trail-logs")
            .send()
            .await
            .unwrap();
        let event = events::load("guardduty-stealth-cloudtrailloggingdisabled.json", &[]);
        let (_, fixed) = fleet.fix(ID, &[], event, &Probe::Trail("org-audit")).await;
        assert!(
            fixed.starts_with("logging=Some(true) multi_region=Some(true) validation=Some(true)"),
            "{ID}: {fixed}"
        );
    }

    {
        const ID: &str = "ebs-encryption-by-default";
        let event = events::load("config-ec2-ebs-encryption-by-default.json", &[]);
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::Ebs).await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("Some(false)", "Some(true)"),
            "{ID}"
        );
    }

    {
        const ID: &str = "ec2-close-default-sg";
        let groups = ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let sg = groups.security_groups()[0].clone();
        let id = sg.group_id().unwrap().to_string();
        // As AWS creates it: all traffic from the group's own members, besides the open egress.
        if sg.ip_permissions().is_empty() {
            ec2.authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("-1")
                        .user_id_group_pairs(UserIdGroupPair::builder().group_id(&id).build())
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        let event = events::load(
            "securityhub-imported-fsbp-ec2-2.json",
            &[("sg-0d0e0f0a0b0c0d0e0", &id)],
        );
        let (_, fixed) = fleet.fix(ID, &[], event, &Probe::Rules(id)).await;
        assert_eq!(
            fixed, "in[] out[]",
            "{ID}: the default group allows traffic"
        );
    }

    {
        const ID: &str = "ec2-isolate-instance";
        let (instance, web) = seed::instance(&member, "quell-bin-compromised").await;
        let event = events::load(
            "guardduty-ec2-cryptocurrency-bitcointool.json",
            &[("i-0a1b2c3d4e5f60718", &instance)],
        );
        let extra = [("QUELL_ISOLATE_MIN_SEVERITY", "HIGH")];
        let probe = Probe::InstanceGroups(instance);
        let (seeded, fixed) = fleet.fix(ID, &extra, event, &probe).await;
        assert!(seeded.contains(web.as_str()), "{ID}: seeded {seeded}");
        let iso = ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name(format!("tag:{ISOLATION_TAG}"))
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let iso: Vec<String> = iso
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(str::to_string)
            .collect();
        assert_eq!(
            iso.as_slice(),
            std::slice::from_ref(&fixed),
            "{ID}: not in the isolation group alone"
        );
        let rules = Probe::Rules(fixed).read(&member).await;
        assert_eq!(rules, "in[] out[]", "{ID}: the isolation group has rules");
    }

    {
        const ID: &str = "ec2-require-imdsv2";
        let (instance, _) = seed::instance(&member, "quell-bin-legacy").await;
        let event = events::load(
            "config-ec2-imdsv2-check.json",
            &[("i-0a1b2c3d4e5f60718", &instance)],
        );
        let (_, fixed) = fleet.fix(ID, &[], event, &Probe::Metadata(instance)).await;
        assert!(fixed.starts_with("tokens=Some(Required)"), "{ID}: {fixed}");
    }

    {
        const ID: &str = "ec2-revoke-open-ingress";
        let (_, web) = seed::instance(&member, "quell-bin-web").await;
        let event = events::load(
            "config-restricted-ssh.json",
            &[("sg-0a1b2c3d4e5f60718", &web)],
        );
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::Rules(web)).await;
        let open = "tcp:22-22:0.0.0.0/0";
        assert!(
            seeded.contains(open) && !fixed.contains(open),
            "{ID}: {seeded} -> {fixed}"
        );
        assert_eq!(
            fixed.split_once(" out[").map(|p| p.1),
            seeded.split_once(" out[").map(|p| p.1),
            "{ID}: the egress changed"
        );
    }

    {
        const ID: &str = "iam-disable-access-key";
        let (_, keys) = seed::user_with_keys(&member, "ci-deployer").await;
        let event = events::load(
            "guardduty-iam-unauthorizedaccess-maliciousipcaller.json",
            &[("AKIAQUELLDEMOLEAKED1", &keys[0])],
        );
        let probe = Probe::AccessKeys("ci-deployer".into());
        let (_, fixed) = fleet.fix(ID, &[], event, &probe).await;
        let mut want = [
            format!("{}=Inactive", keys[0]),
            format!("{}=Active", keys[1]),
        ];
        want.sort();
        assert_eq!(fixed, want.join(","), "{ID}: exactly the leaked key is off");
    }

    {
        const ID: &str = "iam-password-policy";
        let event = events::load("securityhub-imported-fsbp-iam-15.json", &[]);
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::PasswordPolicy).await;
        assert!(seeded.starts_with("none ("), "{ID}: seeded {seeded}");
        assert!(
            fixed.starts_with("len=Some(14) symbols=true numbers=true upper=true lower=true")
                && fixed.contains("age=Some(90) reuse=Some(24)"),
            "{ID}: {fixed}"
        );
    }

    {
        const ID: &str = "iam-restrict-role-trust";
        seed::role_with_trust(&member, "vendor-access", TRUST).await;
        let event = events::load("accessanalyzer-iam-role-cross-account.json", &[]);
        let extra = [("QUELL_TRUSTED_ACCOUNTS", PARTNER)];
        let probe = Probe::Trust("vendor-access".into());
        let (_, fixed) = fleet.fix(ID, &extra, event, &probe).await;
        assert!(
            !fixed.contains(VENDOR) && fixed.contains(CI),
            "{ID}: {fixed}"
        );
        serde_json::from_str::<Value>(&fixed).unwrap_or_else(|e| panic!("{ID}: {e}: {fixed}"));
    }

    {
        const ID: &str = "iam-revoke-role-sessions";
        seed::app_role(&member, "app-server-role").await;
        let event = events::load(
            "guardduty-iam-instancecredentialexfiltration-outsideaws.json",
            &[],
        );
        let probe = Probe::RolePolicies("app-server-role".into());
        let (_, fixed) = fleet.fix(ID, &[], event, &probe).await;
        assert!(
            fixed.starts_with(&format!("{POLICY_NAME}="))
                && !fixed.contains('\n')
                && fixed.contains(r#""Effect":"Deny""#)
                && fixed.contains("aws:TokenIssueTime"),
            "{ID}: {fixed}"
        );
    }

    {
        const ID: &str = "s3-block-public-access";
        seed::public_bucket(&member, "quell-demo-public-assets", &[]).await;
        let event = events::load("config-s3-bucket-public-read-prohibited.json", &[]);
        let probe = Probe::BucketBlock("quell-demo-public-assets".into());
        let (_, fixed) = fleet.fix(ID, &[], event, &probe).await;
        assert_eq!(fixed, ALL_BLOCKED, "{ID}");
    }

    {
        const ID: &str = "s3-enable-default-encryption";
        seed::public_bucket(&member, "quell-demo-unencrypted", &[]).await;
        s3.delete_bucket_encryption()
            .bucket("quell-demo-unencrypted")
            .send()
            .await
            .unwrap();
        let event = events::load("config-s3-bucket-server-side-encryption-enabled.json", &[]);
        let probe = Probe::Encryption("quell-demo-unencrypted");
        let (_, fixed) = fleet.fix(ID, &[], event, &probe).await;
        assert_eq!(fixed, "AES256//Some(false)", "{ID}: SSE-S3 by default");
    }

    {
        const ID: &str = "s3-require-tls";
        seed::public_bucket(&member, "quell-demo-no-tls", &[]).await;
        let event = events::load("securityhub-imported-fsbp-s3-5.json", &[]);
        let (_, fixed) = fleet
            .fix(ID, &[], event, &Probe::Policy("quell-demo-no-tls"))
            .await;
        let policy: Value =
            serde_json::from_str(&fixed).unwrap_or_else(|e| panic!("{ID}: {e}: {fixed}"));
        let denies_http = |s: &Value| {
            s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"]
                    .to_string()
                    .contains("false")
        };
        assert!(
            policy["Statement"]
                .as_array()
                .is_some_and(|st| st.iter().any(denies_http)),
            "{ID}: no deny of plain HTTP: {fixed}"
        );
    }

    {
        const ID: &str = "s3-restrict-bucket-policy";
        seed::public_bucket(&member, "my-bucket", &[]).await;
        s3.put_bucket_policy()
            .bucket("my-bucket")
            .policy(SHARED)
            .send()
            .await
            .unwrap();
        let event = events::load(
            "accessanalyzer-s3-bucket-cross-account.json",
            &[("111122223333", MEMBER), ("us-west-2", REGION)],
        );
        let extra = [("QUELL_TRUSTED_ACCOUNTS", PARTNER)];
        let (_, fixed) = fleet
            .fix(ID, &extra, event, &Probe::Policy("my-bucket"))
            .await;
        assert!(
            !fixed.contains(VENDOR) && fixed.contains(PARTNER),
            "{ID}: {fixed}"
        );
    }

    {
        // Changes nothing: the finding is put before a person (NOTIFIED).
        const ID: &str = "guardduty-escalate";
        let event = events::load("guardduty-eks-privilegedcontainer.json", &[]);
        fleet.answer(ID, &[], event, "PLANNED", "NOTIFIED").await;
    }

    {
        // A detector turned off with a protection plan: both back, read back.
        const ID: &str = "tamper-restore";
        use aws_sdk_guardduty::types::{
            DetectorFeature, DetectorFeatureConfiguration, FeatureStatus,
        };
        let feature = |status| {
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::S3DataEvents)
                .status(status)
                .build()
        };
        let gd = aws_sdk_guardduty::Client::new(&member);
        let id = gd
            .create_detector()
            .enable(true)
            .features(feature(FeatureStatus::Enabled))
            .send()
            .await
            .unwrap()
            .detector_id
            .unwrap();
        gd.update_detector()
            .detector_id(&id)
            .enable(false)
            .features(feature(FeatureStatus::Disabled))
            .send()
            .await
            .unwrap();
        let event = events::load(
            "cloudtrail-guardduty-updatedetector.json",
            &[("82c919daa523bc69d203c24868c06849", &id)],
        );
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::Detector).await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            (
                "status=DISABLED S3_DATA_EVENTS=DISABLED",
                "status=ENABLED S3_DATA_EVENTS=ENABLED"
            ),
            "{ID}"
        );
    }

    {
        const ID: &str = "kms-enable-key-rotation";
        let key = aws_sdk_kms::Client::new(&member)
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string();
        let event = events::load(
            "securityhub-imported-fsbp-kms-4.json",
            &[("0f6a4c52-8e3b-4f6e-9d21-7c5b1e2a9f30", &key)],
        );
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::KeyRotation(key)).await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("rotation=false", "rotation=true"),
            "{ID}"
        );
    }

    {
        const ID: &str = "sqs-encrypt-queue";
        let url = aws_sdk_sqs::Client::new(&member)
            .create_queue()
            .queue_name("quell-demo-orders")
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
                "false",
            )
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let event = events::load("securityhub-imported-fsbp-sqs-1.json", &[]);
        let (seeded, fixed) = fleet
            .fix(ID, &[], event, &Probe::QueueEncryption(url))
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("sse-sqs=false kms=none", "sse-sqs=true kms=none"),
            "{ID}"
        );
    }

    {
        const ID: &str = "dynamodb-deletion-protection";
        seed::table(&member, "quell-demo-orders", &[]).await;
        let event = events::load("securityhub-imported-fsbp-dynamodb-6.json", &[]);
        let (seeded, fixed) = fleet
            .fix(ID, &[], event, &Probe::TableProtection("quell-demo-orders"))
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            (
                "deletion-protection=Some(false)",
                "deletion-protection=Some(true)"
            ),
            "{ID}"
        );
    }

    {
        const ID: &str = "ebs-snapshot-private";
        let snapshot = seed::snapshot(&member, &[], &["all"], &[]).await;
        let event = events::load("securityhub-imported-fsbp-ec2-1.json", &[]);
        let (seeded, fixed) = fleet
            .fix(ID, &[], event, &Probe::SnapshotPermissions(snapshot))
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("restorable-by=[all]", "restorable-by=[]"),
            "{ID}"
        );
    }

    {
        const ID: &str = "lambda-contain-function";
        seed::function(&member, "quell-demo-thumbnailer", None).await;
        let event = events::load("guardduty-lambda-backdoor-ccactivity-b.json", &[]);
        // Contained, and NOTIFIED: the role's sessions are a person's to revoke.
        let probe = Probe::Concurrency("quell-demo-thumbnailer");
        assert_eq!(probe.read(&member).await, "reserved=None", "{ID}");
        fleet
            .answer(ID, &[], event, "UNCONFIRMED", "NOTIFIED")
            .await;
        assert_eq!(probe.read(&member).await, "reserved=Some(0)", "{ID}");
    }

    {
        const ID: &str = "ec2-subnet-no-public-ip";
        let subnet = seed::subnet(&member, true, &[]).await;
        let event = events::load(
            "securityhub-imported-fsbp-ec2-15.json",
            &[("subnet-0a1b2c3d4e5f60718", &subnet)],
        );
        // Dry-run by default: enforced here as an operator turns it on.
        let (seeded, fixed) = fleet
            .fix(
                ID,
                &[("QUELL_MODE", "enforce")],
                event,
                &Probe::SubnetMapping(subnet),
            )
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            (
                "map-public-ip=Some(true) assign-ipv6=Some(false)",
                "map-public-ip=Some(false) assign-ipv6=Some(false)"
            ),
            "{ID}"
        );
    }

    {
        const ID: &str = "lambda-remove-public-access";
        seed::function(&member, "quell-demo-webhook", None).await;
        let lambda = aws_sdk_lambda::Client::new(&member);
        for (sid, principal) in [("open", "*"), ("partner", "arn:aws:iam::222222222222:root")] {
            lambda
                .add_permission()
                .function_name("quell-demo-webhook")
                .statement_id(sid)
                .action("lambda:InvokeFunction")
                .principal(principal)
                .send()
                .await
                .unwrap();
        }
        let event = events::load("securityhub-imported-fsbp-lambda-1.json", &[]);
        let (seeded, fixed) = fleet
            .fix(ID, &[], event, &Probe::FunctionPolicy("quell-demo-webhook"))
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("policy=[open,partner]", "policy=[partner]"),
            "{ID}"
        );
    }

    {
        const ID: &str = "sns-encrypt-topic";
        let topic = aws_sdk_sns::Client::new(&member)
            .create_topic()
            .name("quell-demo-alerts")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        let key = format!("arn:aws:kms:{REGION}:{MEMBER}:alias/quell-sns");
        // The operator's key, in the member's Region, under the alias the setting names.
        seed::kms_alias(&member, "alias/quell-sns").await;
        let event = events::load("config-sns-encrypted-kms.json", &[]);
        let (seeded, fixed) = fleet
            .fix(
                ID,
                &[("QUELL_SNS_KMS_KEY", &key)],
                event,
                &Probe::TopicKey(topic),
            )
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("kms=none", format!("kms={key}").as_str()),
            "{ID}"
        );
    }

    {
        const ID: &str = "rds-deletion-protection";
        seed::db_instance(&member, "quell-demo-orders", None, &[]).await;
        let event = events::load("securityhub-imported-fsbp-rds-8.json", &[]);
        let (seeded, fixed) = fleet
            .fix(
                ID,
                &[],
                event,
                &Probe::InstanceProtection("quell-demo-orders"),
            )
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            (
                "deletion-protection=Some(false)",
                "deletion-protection=Some(true)"
            ),
            "{ID}"
        );
    }

    {
        const ID: &str = "rds-instance-private";
        // The instance seeded above, made public; enforced, as the operator sets it.
        seed::db_instance_public(&member, "quell-demo-orders").await;
        let event = events::load("securityhub-imported-fsbp-rds-2.json", &[]);
        let (seeded, fixed) = fleet
            .fix(
                ID,
                &[("QUELL_MODE", "enforce")],
                event,
                &Probe::InstancePublic("quell-demo-orders"),
            )
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            (
                "publicly-accessible=Some(true)",
                "publicly-accessible=Some(false)"
            ),
            "{ID}"
        );
    }

    {
        const ID: &str = "ssm-document-private";
        seed::ssm_document(&member, "quell-demo-runbook", &["all"]).await;
        let event = events::load("config-ssm-document-not-public.json", &[]);
        let (seeded, fixed) = fleet
            .fix(ID, &[], event, &Probe::DocumentShare("quell-demo-runbook"))
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("shared=[all]", "shared=[]"),
            "{ID}"
        );
    }

    {
        const ID: &str = "rds-snapshot-private";
        // The instance seeded above.
        seed::db_snapshot(
            &member,
            "quell-demo-orders",
            false,
            "quell-demo-orders-final",
            &["all"],
        )
        .await;
        let event = events::load("config-rds-snapshots-public-prohibited.json", &[]);
        let (seeded, fixed) = fleet
            .fix(
                ID,
                &[],
                event,
                &Probe::SnapshotRestore("quell-demo-orders-final"),
            )
            .await;
        assert_eq!(
            (seeded.as_str(), fixed.as_str()),
            ("restore=[all]", "restore=[]"),
            "{ID}"
        );
    }

    // Last: the account's Block Public Access would stand in the way of the public buckets seeded
    // above.
    {
        const ID: &str = "s3-account-public-access-block";
        let event = events::load("securityhub-imported-fsbp-s3-1.json", &[]);
        let (seeded, fixed) = fleet.fix(ID, &[], event, &Probe::AccountBlock).await;
        assert!(seeded.starts_with("none ("), "{ID}: seeded {seeded}");
        assert_eq!(fixed, ALL_BLOCKED, "{ID}");
    }

    let mut done = fleet.done;
    done.sort_unstable();
    let mut all = quell::member::FUNCTION_IDS.to_vec();
    all.sort_unstable();
    assert_eq!(done, all, "every function's binary, once each");
}
