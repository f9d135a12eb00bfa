//! `ec2-require-imdsv2`: requires session tokens for the instance metadata service
//! (HttpTokens=required), which closes the SSRF path to the instance's credentials.
//!
//! An IMDSv2 token's response travels as many network hops as the hop limit allows. With the
//! limit at 1 (the default of many AMIs), containers on the instance (Docker's bridge, ECS on EC2,
//! EKS pods) are one hop too far: IMDSv1 reached them, an IMDSv2 token does not, and requiring
//! tokens would cut them off the instance's credentials. So when the limit is 1 and
//! `QUELL_IMDS_HOP_LIMIT` (default 2) is higher, the same call raises it to that; the verification
//! reads both back, and `quell undo` puts both back as they were.
//!
//! Software on the instance that still calls the metadata service without a token (IMDSv1) fails
//! once tokens are required. EC2 counts those calls in CloudWatch (`AWS/EC2` `MetadataNoToken`,
//! per instance), so before requiring tokens quell reads the metric's sum over the last
//! `QUELL_IMDS_NO_TOKEN_DAYS` (default 14): any token-less call, or a metric quell cannot read,
//! makes the change PLANNED with what it saw, for a person to update that software first. It is
//! read once per finding, only when there is something to change.

use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataEndpointState};
use quell::config::ConfigError;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "ec2:ModifyInstanceMetadataOptions";
const METRIC_READ: &str = "cloudwatch:GetMetricStatistics";
/// How far back token-less metadata calls are looked for, by default.
pub const DEFAULT_NO_TOKEN_DAYS: u32 = 14;
/// CloudWatch keeps one-day statistics for 455 days.
const MAX_NO_TOKEN_DAYS: u32 = 455;
/// The hop limit set with IMDSv2 when the instance's is 1: containers on the instance reach the
/// metadata service through one more hop.
pub const DEFAULT_HOP_LIMIT: i32 = 2;
/// The largest hop limit EC2 accepts.
const MAX_HOP_LIMIT: i32 = 64;
/// The hop limit of an instance whose metadata options do not say (EC2's default).
const EC2_DEFAULT_HOP_LIMIT: i32 = 1;

#[derive(Debug, Clone)]
pub struct Ec2RequireImdsv2 {
    /// `QUELL_IMDS_HOP_LIMIT`: set with IMDSv2 when the instance's limit is 1; 1 leaves it alone.
    pub hop_limit: i32,
    /// `QUELL_IMDS_NO_TOKEN_DAYS`: the days of `MetadataNoToken` read before requiring tokens;
    /// 0 does not look.
    pub no_token_days: u32,
}

/// The remediation with its default settings, so that `Ec2RequireImdsv2` still reads as a value
/// where the crate was used as a unit struct.
#[allow(non_upper_case_globals)]
pub const Ec2RequireImdsv2: Ec2RequireImdsv2 = Ec2RequireImdsv2 {
    hop_limit: DEFAULT_HOP_LIMIT,
    no_token_days: DEFAULT_NO_TOKEN_DAYS,
};

/// EC2 to read and change the instance, CloudWatch to read its token-less metadata calls.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Default for Ec2RequireImdsv2 {
    fn default() -> Self {
        Ec2RequireImdsv2
    }
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub tags: Vec<(String, String)>,
    pub http_tokens: Option<String>,
    pub endpoint_disabled: bool,
    /// HttpPutResponseHopLimit, as read (EC2's default, 1, when the response has none).
    pub hop_limit: i32,
}

#[derive(Debug, Default)]
pub struct Target {
    pub instance: String,
    read: Cached<State>,
    /// The hop limit this change raises the instance's to, as the first `plan` decided: the
    /// verification checks it too.
    raise_hops: Cached<i32>,
    /// Why the change is only planned, from `MetadataNoToken`, once read (`None` inside: clear).
    no_token: Cached<Option<String>>,
}

impl Target {
    pub fn new(instance: &str) -> Self {
        Target {
            instance: instance.into(),
            read: Cached::default(),
            raise_hops: Cached::default(),
            no_token: Cached::default(),
        }
    }
}

impl Ec2RequireImdsv2 {
    /// The hop limit to set with IMDSv2 for an instance whose limit is `current`, if any.
    pub fn hops_for(&self, current: i32) -> Option<i32> {
        (current == 1 && self.hop_limit > current).then_some(self.hop_limit)
    }
}

/// Why requiring tokens on `instance` would break something, from its `MetadataNoToken` sum over
/// the last `days`, or why quell could not tell; `None`: no token-less call in that time.
pub async fn token_less_calls(
    cw: &aws_sdk_cloudwatch::Client,
    instance: &str,
    days: u32,
) -> Result<Option<String>, AwsError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    if days == 0 {
        return Ok(None);
    }
    let now = std::time::SystemTime::now();
    let start = now - std::time::Duration::from_secs(u64::from(days) * 86_400);
    let read = cw
        .get_metric_statistics()
        .namespace("AWS/EC2")
        .metric_name("MetadataNoToken")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value(instance)
                .build(),
        )
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(now))
        .period(86_400)
        .statistics(Statistic::Sum)
        .send()
        .await
        .aws(|| format!("could not read MetadataNoToken of {instance}"));
    match read {
        // Throttled, timed out, a 5xx: worth trying again, as any other call.
        Err(e) if e.retryable => Err(e),
        Err(e) => Ok(Some(format!(
            "{e}: without it quell cannot tell whether software on the instance still calls the metadata service without a token, so it does not require tokens"
        ))),
        Ok(out) => {
            let calls: f64 = out.datapoints().iter().filter_map(|d| d.sum()).sum();
            Ok((calls > 0.0).then(|| {
                format!(
                    "CloudWatch MetadataNoToken counts {calls} metadata call(s) without a token on {instance} in the last {days} day(s): requiring IMDSv2 would break that software; move it to IMDSv2 (SDKs since 2019 do it), then run quell again"
                )
            }))
        }
    }
}

async fn read(ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<State, AwsError> {
    if let Some(s) = t.read.get() {
        return Ok(s);
    }
    let out = ec2
        .describe_instances()
        .instance_ids(&t.instance)
        .send()
        .await
        .aws(|| format!("could not describe instance {}", t.instance))?;
    let inst = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or_else(|| {
            AwsError::other(
                format!("could not find instance {}", t.instance),
                "InvalidInstanceID.NotFound",
                "no such instance",
                false,
            )
        })?;
    let md = inst.metadata_options();
    let s = State {
        tags: inst
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        http_tokens: md
            .and_then(|m| m.http_tokens())
            .map(|h| h.as_str().to_string()),
        endpoint_disabled: md.and_then(|m| m.http_endpoint())
            == Some(&InstanceMetadataEndpointState::Disabled),
        hop_limit: md
            .and_then(|m| m.http_put_response_hop_limit())
            .unwrap_or(EC2_DEFAULT_HOP_LIMIT),
    };
    t.read.set(s.clone());
    Ok(s)
}

impl Remediation for Ec2RequireImdsv2 {
    const SPEC: Spec = Spec {
        id: "ec2-require-imdsv2",
        summary: "Sets HttpTokens=required (IMDSv2) on the instance, and a hop limit of 2 where it was 1 so that containers keep the metadata service",
        resolved: "ec2-imdsv2-check, EC2.8: DescribeInstances reads MetadataOptions HttpTokens=required, or HttpEndpoint disabled; after a change that raised the hop limit, HttpPutResponseHopLimit also reads at least the raised value. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Raises HttpPutResponseHopLimit only when it is 1 and tokens are not yet required, to QUELL_IMDS_HOP_LIMIT (default 2; 1 leaves it); an instance already requiring tokens keeps its hop limit, one with the endpoint disabled is left. Before requiring tokens it reads CloudWatch MetadataNoToken over QUELL_IMDS_NO_TOKEN_DAYS (14; 0 does not look): token-less calls, or a metric it cannot read, make it PLANNED (NOTIFIED) with what it saw. An instance tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Default enforce.",
        triggers: Triggers {
            config_rules: &["ec2-imdsv2-check"],
            securityhub_controls: &["EC2.8"],
            ..Triggers::NONE
        },
        permissions: &["ec2:DescribeInstances", MODIFY, METRIC_READ],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = Clients;

    fn clients(&self, member: &Member) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(member.config()),
            cloudwatch: aws_sdk_cloudwatch::Client::new(member.config()),
        }
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("QUELL_IMDS_HOP_LIMIT").filter(|v| !v.trim().is_empty()) {
            self.hop_limit = v
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|h| (1..=MAX_HOP_LIMIT).contains(h))
                .ok_or(ConfigError {
                    var: "QUELL_IMDS_HOP_LIMIT",
                    reason: format!("`{v}` is not a hop limit from 1 to {MAX_HOP_LIMIT}"),
                })?;
        }
        if let Some(v) = get("QUELL_IMDS_NO_TOKEN_DAYS").filter(|v| !v.trim().is_empty()) {
            self.no_token_days = v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|d| *d <= MAX_NO_TOKEN_DAYS)
                .ok_or(ConfigError {
                    var: "QUELL_IMDS_NO_TOKEN_DAYS",
                    reason: format!("`{v}` is not a number of days from 0 to {MAX_NO_TOKEN_DAYS}"),
                })?;
        }
        Ok(())
    }

    fn plan_only(&self, t: &Target) -> Option<String> {
        t.no_token.get().flatten()
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let r = f
            .resource(&ResourceKind::Ec2Instance)
            .ok_or_else(|| NotApplicable("the finding names no EC2 instance".into()))?;
        if !quell::finding::validate::instance_id(&r.id) {
            return Err(NotApplicable(format!("`{}` is not an instance id", r.id)));
        }
        Ok(Target::new(&r.id))
    }

    fn describe(&self, t: &Target) -> String {
        format!("instance {}", t.instance)
    }

    async fn tags(&self, c: &Clients, t: &Target) -> Result<Tags, AwsError> {
        Ok(read(&c.ec2, t).await?.tags)
    }

    async fn plan(&self, c: &Clients, t: &Target) -> Result<Vec<Step>, AwsError> {
        let s = read(&c.ec2, t).await?;
        // A disabled metadata endpoint cannot be reached at all: nothing to require.
        if s.endpoint_disabled {
            return Ok(Vec::new());
        }
        if s.http_tokens.as_deref() == Some("required") {
            // Tokens were already required before this change: the hop limit is the owner's.
            // After it (the verification), the raised limit must read back too.
            let (id, is) = (&t.instance, s.hop_limit);
            return Ok(match t.raise_hops.get() {
                Some(h) if is < h => vec![Step::new(
                    MODIFY,
                    format!("{id} HttpPutResponseHopLimit={h} (is {is})"),
                )],
                _ => Vec::new(),
            });
        }
        let mut detail = format!(
            "{} HttpTokens=required (was {})",
            t.instance,
            s.http_tokens.as_deref().unwrap_or("unset")
        );
        if let Some(h) = self.hops_for(s.hop_limit) {
            t.raise_hops.set(h);
            detail.push_str(&format!(
                ", HttpPutResponseHopLimit={h} (was {}, so that containers on the instance still reach the metadata service)",
                s.hop_limit
            ));
        }
        if t.no_token.get().is_none() {
            t.no_token
                .set(token_less_calls(&c.cloudwatch, &t.instance, self.no_token_days).await?);
        }
        Ok(vec![Step::new(MODIFY, detail)])
    }

    async fn prior(&self, c: &Clients, t: &Target) -> Result<Option<serde_json::Value>, AwsError> {
        let s = read(&c.ec2, t).await?;
        Ok(Some(serde_json::json!({
            "instance": t.instance,
            "http_tokens": s.http_tokens.as_deref().unwrap_or("optional"),
            "hop_limit": s.hop_limit,
        })))
    }

    async fn restore(&self, c: &Clients, prior: &serde_json::Value) -> Result<Vec<Step>, AwsError> {
        let ec2 = &c.ec2;
        let instance = quell::remediation::prior_field(
            prior,
            "instance",
            quell::finding::validate::instance_id,
        )?;
        let tokens = quell::remediation::prior_field(prior, "http_tokens", |v| {
            v == "optional" || v == "required"
        })?;
        // Recorded before quell set hop limits (none then): the tokens alone.
        let hops = match &prior["hop_limit"] {
            serde_json::Value::Null => None,
            v => Some(
                v.as_i64()
                    .and_then(|h| i32::try_from(h).ok())
                    .filter(|h| (1..=MAX_HOP_LIMIT).contains(h))
                    .ok_or_else(|| {
                        quell::remediation::invalid_prior(format!(
                            "the recorded `hop_limit` is not valid: {v}"
                        ))
                    })?,
            ),
        };
        ec2.modify_instance_metadata_options()
            .instance_id(&instance)
            .http_tokens(HttpTokensState::from(tokens.as_str()))
            .set_http_put_response_hop_limit(hops)
            .send()
            .await
            .aws(|| format!("could not put back the metadata options of {instance}"))?;
        let hops = hops
            .map(|h| format!(", HttpPutResponseHopLimit={h}"))
            .unwrap_or_default();
        Ok(vec![Step::new(
            MODIFY,
            format!("{instance} HttpTokens={tokens}{hops}, as it was"),
        )])
    }

    async fn apply(&self, c: &Clients, t: &Target, _steps: &[Step]) -> Result<(), AwsError> {
        t.read.clear();
        // One call: tokens are never required with a hop limit that leaves containers out.
        c.ec2
            .modify_instance_metadata_options()
            .instance_id(&t.instance)
            .http_tokens(HttpTokensState::Required)
            .set_http_put_response_hop_limit(t.raise_hops.get())
            .send()
            .await
            .aws(|| format!("could not require IMDSv2 on {}", t.instance))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_instances::{
        DescribeInstancesError, DescribeInstancesOutput,
    };
    use aws_sdk_ec2::operation::modify_instance_metadata_options::{
        ModifyInstanceMetadataOptionsError, ModifyInstanceMetadataOptionsOutput,
    };
    use aws_sdk_ec2::types::{Instance, InstanceMetadataOptionsResponse, Reservation, Tag};
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    /// An instance with a hop limit of 1, EC2's default.
    fn inst(tokens: HttpTokensState, tags: &[(&str, &str)]) -> DescribeInstancesOutput {
        inst_hops(tokens, 1, tags)
    }

    fn inst_hops(
        tokens: HttpTokensState,
        hops: i32,
        tags: &[(&str, &str)],
    ) -> DescribeInstancesOutput {
        let mut i = Instance::builder()
            .instance_id("i-0a1b2c3d4e5f60718")
            .metadata_options(
                InstanceMetadataOptionsResponse::builder()
                    .http_tokens(tokens)
                    .http_put_response_hop_limit(hops)
                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                    .build(),
            );
        for (k, v) in tags {
            i = i.tags(Tag::builder().key(*k).value(*v).build());
        }
        DescribeInstancesOutput::builder()
            .reservations(Reservation::builder().instances(i.build()).build())
            .build()
    }
    fn t() -> Target {
        Target::new("i-0a1b2c3d4e5f60718")
    }

    /// A CloudWatch client whose `MetadataNoToken` reads answer with these daily sums. Built by
    /// hand: this pinned CloudWatch crate is not compiled with `test-util`.
    fn cloudwatch(sums: &[f64]) -> aws_sdk_cloudwatch::Client {
        use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsOutput;
        use aws_sdk_cloudwatch::types::Datapoint;
        let sums = sums.to_vec();
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .match_requests(|r| {
                r.namespace() == Some("AWS/EC2")
                    && r.metric_name() == Some("MetadataNoToken")
                    && r.dimensions().iter().any(|d| {
                        d.name() == Some("InstanceId") && d.value() == Some("i-0a1b2c3d4e5f60718")
                    })
            })
            .then_output(move || {
                GetMetricStatisticsOutput::builder()
                    .set_datapoints(Some(
                        sums.iter()
                            .map(|s| Datapoint::builder().sum(*s).build())
                            .collect(),
                    ))
                    .build()
            });
        cloudwatch_with(&rule)
    }

    fn cloudwatch_with(rule: &aws_smithy_mocks::Rule) -> aws_sdk_cloudwatch::Client {
        use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "test", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(
                aws_smithy_mocks::MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    /// EC2 as given, and no token-less metadata call in CloudWatch.
    fn clients(ec2: &Client) -> Clients {
        Clients {
            ec2: ec2.clone(),
            cloudwatch: cloudwatch(&[]),
        }
    }

    async fn enforce(r: &Ec2RequireImdsv2, ec2: &Client) -> Outcome {
        execute(r, &clients(ec2), &t(), Mode::Enforce, "quell:exempt").await
    }

    #[tokio::test]
    async fn requires_tokens_raises_a_hop_limit_of_1_and_verifies_both() {
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst(HttpTokensState::Optional, &[]))
            .output(|| inst_hops(HttpTokensState::Required, 2, &[]))
            .build();
        let m = mock!(Client::modify_instance_metadata_options)
            .match_requests(|r| {
                r.http_tokens() == Some(&HttpTokensState::Required)
                    && r.http_put_response_hop_limit() == Some(2)
            })
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let out = enforce(&Ec2RequireImdsv2, &ec2).await;
        let Outcome::Remediated { steps } = &out else {
            panic!("{out:?}")
        };
        assert!(
            steps[0]
                .detail
                .contains("HttpTokens=required (was optional)")
                && steps[0].detail.contains("HttpPutResponseHopLimit=2 (was 1"),
            "{steps:?}"
        );
        assert_eq!((d.num_calls(), m.num_calls()), (2, 1));

        // The hop limit does not read back raised: not verified, never RESOLVED.
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst(HttpTokensState::Optional, &[]))
            .output(|| inst(HttpTokensState::Required, &[]))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let out = enforce(&Ec2RequireImdsv2, &ec2).await;
        assert!(out.name().starts_with("FAILED"), "{out:?}");
    }

    #[tokio::test]
    async fn a_hop_limit_above_1_is_kept_and_the_setting_can_leave_1_alone() {
        let m = mock!(Client::modify_instance_metadata_options)
            .match_requests(|r| {
                r.http_tokens() == Some(&HttpTokensState::Required)
                    && r.http_put_response_hop_limit().is_none()
            })
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst_hops(HttpTokensState::Optional, 3, &[]))
            .output(|| inst_hops(HttpTokensState::Required, 3, &[]))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let out = enforce(&Ec2RequireImdsv2, &ec2).await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");

        let mut r = Ec2RequireImdsv2::default();
        r.configure(&|k| (k == "QUELL_IMDS_HOP_LIMIT").then(|| "1".to_string()))
            .unwrap();
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst(HttpTokensState::Optional, &[]))
            .output(|| inst(HttpTokensState::Required, &[]))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let out = enforce(&r, &ec2).await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!(m.num_calls(), 2);

        // Tokens already required: the owner's hop limit of 1 is not touched.
        let d =
            mock!(Client::describe_instances).then_output(|| inst(HttpTokensState::Required, &[]));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let out = enforce(&Ec2RequireImdsv2, &ec2).await;
        assert_eq!(out.name(), "ALREADY_COMPLIANT", "{out:?}");
        assert_eq!(m.num_calls(), 2);
    }

    #[test]
    fn the_hop_limit_setting_is_checked_at_start_up() {
        let mut r = Ec2RequireImdsv2::default();
        assert_eq!(r.hop_limit, DEFAULT_HOP_LIMIT);
        r.configure(&|_| Some(" 3 ".into())).unwrap();
        assert_eq!(r.hop_limit, 3);
        for bad in ["0", "65", "two"] {
            let e = r.configure(&|_| Some(bad.into())).unwrap_err();
            assert_eq!(e.var, "QUELL_IMDS_HOP_LIMIT", "{bad}");
        }
        assert_eq!(r.hops_for(1), Some(3));
        assert_eq!(r.hops_for(2), None);
    }

    #[tokio::test]
    async fn prior_records_the_hop_limit_and_restore_puts_it_back() {
        let d =
            mock!(Client::describe_instances).then_output(|| inst(HttpTokensState::Optional, &[]));
        let m = mock!(Client::modify_instance_metadata_options)
            .match_requests(|r| {
                r.instance_id() == Some("i-0a1b2c3d4e5f60718")
                    && r.http_tokens() == Some(&HttpTokensState::Optional)
                    && r.http_put_response_hop_limit() == Some(1)
            })
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let old = mock!(Client::modify_instance_metadata_options)
            .match_requests(|r| r.http_put_response_hop_limit().is_none())
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m, &old]);
        let prior = Ec2RequireImdsv2
            .prior(&clients(&ec2), &t())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(prior["hop_limit"], 1);
        assert_eq!(prior["http_tokens"], "optional");
        let steps = Ec2RequireImdsv2
            .restore(&clients(&ec2), &prior)
            .await
            .unwrap();
        assert!(
            steps[0]
                .detail
                .contains("HttpTokens=optional, HttpPutResponseHopLimit=1"),
            "{steps:?}"
        );
        assert_eq!((m.num_calls(), old.num_calls()), (1, 0));

        // A prior recorded before hop limits: the tokens alone.
        let before =
            serde_json::json!({"instance": "i-0a1b2c3d4e5f60718", "http_tokens": "optional"});
        Ec2RequireImdsv2
            .restore(&clients(&ec2), &before)
            .await
            .unwrap();
        assert_eq!((m.num_calls(), old.num_calls()), (1, 1));

        // A malformed one is refused before any call.
        let bad = serde_json::json!({
            "instance": "i-0a1b2c3d4e5f60718",
            "http_tokens": "optional",
            "hop_limit": 0,
        });
        assert!(Ec2RequireImdsv2
            .restore(&clients(&ec2), &bad)
            .await
            .is_err());
        assert_eq!((m.num_calls(), old.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let m = mock!(Client::modify_instance_metadata_options)
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        for (state, tags, mode, want) in [
            (
                HttpTokensState::Required,
                &[][..],
                Mode::Enforce,
                "ALREADY_COMPLIANT",
            ),
            (HttpTokensState::Optional, &[][..], Mode::DryRun, "PLANNED"),
            (
                HttpTokensState::Optional,
                &[("quell:exempt", "true")][..],
                Mode::Enforce,
                "EXEMPT",
            ),
        ] {
            let tags: Vec<(&'static str, &'static str)> = tags.to_vec();
            let d =
                mock!(Client::describe_instances).then_output(move || inst(state.clone(), &tags));
            let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
            assert_eq!(
                execute(
                    &Ec2RequireImdsv2,
                    &clients(&ec2),
                    &t(),
                    mode,
                    "quell:exempt"
                )
                .await
                .name(),
                want
            );
        }
        assert_eq!(m.num_calls(), 0);
        let d =
            mock!(Client::describe_instances).then_output(|| inst(HttpTokensState::Optional, &[]));
        let deny = mock!(Client::modify_instance_metadata_options).then_error(|| {
            ModifyInstanceMetadataOptionsError::generic(
                ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &deny]);
        assert_eq!(
            execute(
                &Ec2RequireImdsv2,
                &clients(&ec2),
                &t(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "FAILED"
        );
        let d = mock!(Client::describe_instances).then_error(|| {
            DescribeInstancesError::generic(
                ErrorMetadata::builder()
                    .code("RequestLimitExceeded")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d]);
        assert!(execute(
            &Ec2RequireImdsv2,
            &clients(&ec2),
            &t(),
            Mode::Enforce,
            "quell:exempt"
        )
        .await
        .is_retryable());
    }

    #[tokio::test]
    async fn token_less_metadata_calls_plan_instead_of_breaking_their_software() {
        use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsError;
        let m = mock!(Client::modify_instance_metadata_options)
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let d =
            mock!(Client::describe_instances).then_output(|| inst(HttpTokensState::Optional, &[]));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);

        // Calls without a token in the window: planned, with the count, and nothing changed.
        let c = Clients {
            ec2: ec2.clone(),
            cloudwatch: cloudwatch(&[0.0, 3.0, 1.0]),
        };
        let out = execute(&Ec2RequireImdsv2, &c, &t(), Mode::Enforce, "quell:exempt").await;
        let Outcome::Planned { reason, steps } = &out else {
            panic!("{out:?}")
        };
        assert!(reason.contains("MetadataNoToken counts 4"), "{reason}");
        assert!(steps[0].detail.contains("HttpTokens=required"), "{steps:?}");
        assert_eq!(m.num_calls(), 0);

        // The metric cannot be read: quell cannot tell, so it does not act either.
        let denied = mock!(aws_sdk_cloudwatch::Client::get_metric_statistics).then_error(|| {
            GetMetricStatisticsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized to perform: cloudwatch:GetMetricStatistics")
                    .build(),
            )
        });
        let c = Clients {
            ec2: ec2.clone(),
            cloudwatch: cloudwatch_with(&denied),
        };
        let out = execute(&Ec2RequireImdsv2, &c, &t(), Mode::Enforce, "quell:exempt").await;
        let Outcome::Planned { reason, .. } = &out else {
            panic!("{out:?}")
        };
        assert!(
            reason.contains("AccessDenied") && reason.contains("cannot tell"),
            "{reason}"
        );
        assert_eq!(m.num_calls(), 0);

        // QUELL_IMDS_NO_TOKEN_DAYS=0 does not look (no CloudWatch call: the mock would deny).
        let mut r = Ec2RequireImdsv2::default();
        r.configure(&|k| (k == "QUELL_IMDS_NO_TOKEN_DAYS").then(|| "0".to_string()))
            .unwrap();
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst(HttpTokensState::Optional, &[]))
            .output(|| inst_hops(HttpTokensState::Required, 2, &[]))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        let c = Clients {
            ec2,
            cloudwatch: cloudwatch_with(&denied),
        };
        let out = execute(&r, &c, &t(), Mode::Enforce, "quell:exempt").await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!((m.num_calls(), denied.num_calls()), (1, 1));
    }

    #[test]
    fn the_no_token_window_is_checked_at_start_up() {
        for bad in ["-1", "456", "two weeks"] {
            let mut r = Ec2RequireImdsv2::default();
            let e = r
                .configure(&|k| (k == "QUELL_IMDS_NO_TOKEN_DAYS").then(|| bad.to_string()))
                .unwrap_err();
            assert_eq!(e.var, "QUELL_IMDS_NO_TOKEN_DAYS");
        }
    }
}
