//! `ec2-require-imdsv2`: requires session tokens for the instance metadata service
//! (HttpTokens=required), which closes the SSRF path to the instance's credentials.

use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataEndpointState};
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const MODIFY: &str = "ec2:ModifyInstanceMetadataOptions";

#[derive(Debug, Clone, Default)]
pub struct Ec2RequireImdsv2;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub tags: Vec<(String, String)>,
    pub http_tokens: Option<String>,
    pub endpoint_disabled: bool,
}

#[derive(Debug, Default)]
pub struct Target {
    pub instance: String,
    read: Cached<State>,
}

impl Target {
    pub fn new(instance: &str) -> Self {
        Target {
            instance: instance.into(),
            read: Cached::default(),
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
    };
    t.read.set(s.clone());
    Ok(s)
}

impl Remediation for Ec2RequireImdsv2 {
    const SPEC: Spec = Spec {
        id: "ec2-require-imdsv2",
        summary: "Sets HttpTokens=required (IMDSv2) on the instance",
        triggers: Triggers {
            config_rules: &["ec2-imdsv2-check"],
            securityhub_controls: &["EC2.8"],
            ..Triggers::NONE
        },
        permissions: &["ec2:DescribeInstances", MODIFY],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_ec2::Client;

    fn clients(&self, member: &Member) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(member.config())
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

    async fn tags(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Tags, AwsError> {
        Ok(read(ec2, t).await?.tags)
    }

    async fn plan(&self, ec2: &aws_sdk_ec2::Client, t: &Target) -> Result<Vec<Step>, AwsError> {
        let s = read(ec2, t).await?;
        // A disabled metadata endpoint cannot be reached at all: nothing to require.
        if s.endpoint_disabled || s.http_tokens.as_deref() == Some("required") {
            return Ok(Vec::new());
        }
        Ok(vec![Step::new(
            MODIFY,
            format!(
                "{} HttpTokens=required (was {})",
                t.instance,
                s.http_tokens.as_deref().unwrap_or("unset")
            ),
        )])
    }

    async fn prior(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let s = read(ec2, t).await?;
        Ok(Some(serde_json::json!({
            "instance": t.instance,
            "http_tokens": s.http_tokens.as_deref().unwrap_or("optional"),
        })))
    }

    async fn restore(
        &self,
        ec2: &aws_sdk_ec2::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let instance = quell::remediation::prior_field(
            prior,
            "instance",
            quell::finding::validate::instance_id,
        )?;
        let tokens = quell::remediation::prior_field(prior, "http_tokens", |v| {
            v == "optional" || v == "required"
        })?;
        ec2.modify_instance_metadata_options()
            .instance_id(&instance)
            .http_tokens(HttpTokensState::from(tokens.as_str()))
            .send()
            .await
            .aws(|| format!("could not put back the metadata options of {instance}"))?;
        Ok(vec![Step::new(
            MODIFY,
            format!("{instance} HttpTokens={tokens}, as it was"),
        )])
    }

    async fn apply(
        &self,
        ec2: &aws_sdk_ec2::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        t.read.clear();
        ec2.modify_instance_metadata_options()
            .instance_id(&t.instance)
            .http_tokens(HttpTokensState::Required)
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

    fn inst(tokens: HttpTokensState, tags: &[(&str, &str)]) -> DescribeInstancesOutput {
        let mut i = Instance::builder()
            .instance_id("i-0a1b2c3d4e5f60718")
            .metadata_options(
                InstanceMetadataOptionsResponse::builder()
                    .http_tokens(tokens)
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

    #[tokio::test]
    async fn requires_tokens_and_verifies() {
        let d = mock!(Client::describe_instances)
            .sequence()
            .output(|| inst(HttpTokensState::Optional, &[]))
            .output(|| inst(HttpTokensState::Required, &[]))
            .build();
        let m = mock!(Client::modify_instance_metadata_options)
            .match_requests(|r| r.http_tokens() == Some(&HttpTokensState::Required))
            .then_output(|| ModifyInstanceMetadataOptionsOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &m]);
        assert_eq!(
            execute(&Ec2RequireImdsv2, &ec2, &t(), Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "REMEDIATED"
        );
        assert_eq!((d.num_calls(), m.num_calls()), (2, 1));
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
                execute(&Ec2RequireImdsv2, &ec2, &t(), mode, "quell:exempt")
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
            execute(&Ec2RequireImdsv2, &ec2, &t(), Mode::Enforce, "quell:exempt")
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
        assert!(
            execute(&Ec2RequireImdsv2, &ec2, &t(), Mode::Enforce, "quell:exempt")
                .await
                .is_retryable()
        );
    }
}
