//! `lambda-contain-function`: a Lambda function GuardDuty says talks to a command-and-control
//! server, mines cryptocurrency, drops traffic into a black hole or calls out through Tor
//! (Backdoor:Lambda, CryptoCurrency:Lambda, Trojan:Lambda, UnauthorizedAccess:Lambda) is contained:
//! its reserved concurrency is set to 0, so no new invocation runs, and the code that ran is kept as
//! evidence — $LATEST is published as a version (immutable: a later UpdateFunctionCode cannot erase
//! it). What was there is recorded for `quell undo`: the reserved concurrency, and the function's
//! code hash, revision, version, last modification and role, as evidence.
//!
//! Never deletes the function, its versions, its aliases or its triggers. A throttled function's
//! asynchronous events and stream or queue records wait and are retried by their sources, then go to
//! their dead-letter destinations: that is the cost of containment, which is why the default is
//! dry-run, as for instances.

use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind,
    Severity, Spec, Step, Tags, Triggers,
};

const PUT: &str = "lambda:PutFunctionConcurrency";
const PUBLISH: &str = "lambda:PublishVersion";
const DELETE: &str = "lambda:DeleteFunctionConcurrency";
/// The setting below which a finding is planned, not contained.
pub const SEVERITY_VAR: &str = "QUELL_LAMBDA_MIN_SEVERITY";

#[derive(Debug, Clone)]
pub struct LambdaContainFunction {
    /// GuardDuty findings below this severity are planned for a person, not contained.
    pub min_severity: Severity,
}

impl Default for LambdaContainFunction {
    fn default() -> Self {
        LambdaContainFunction {
            min_severity: Severity::Medium,
        }
    }
}

/// The function a finding names, in the finding's account and Region.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    /// Unqualified, formed from the validated parts: what every call names.
    pub arn: String,
    pub account: String,
    pub severity: Severity,
    /// The finding's type and id, for the evidence version's description.
    pub kind: String,
    pub finding: String,
    /// The reserved concurrency `plan` read (`None`: unreserved), for `prior`.
    reserved: Cached<Option<i32>>,
    /// $LATEST's execution role, as `plan` read it, for `unchecked`.
    role: Cached<String>,
}

/// $LATEST's code hash and role, and whether a published version keeps that code.
async fn evidence(
    lambda: &aws_sdk_lambda::Client,
    f: &Function,
) -> Result<(String, Option<String>, bool), AwsError> {
    let latest = lambda
        .get_function()
        .function_name(&f.arn)
        .send()
        .await
        .aws(|| format!("could not read function {}", f.name))?;
    let c = latest.configuration();
    let sha = c
        .and_then(|c| c.code_sha256())
        .unwrap_or_default()
        .to_string();
    let role = c.and_then(|c| c.role()).map(str::to_string);
    let mut marker: Option<String> = None;
    loop {
        let out = lambda
            .list_versions_by_function()
            // By name: the client is the finding's account and Region, so the name is that
            // function (the emulator lists versions by name only).
            .function_name(&f.name)
            .set_marker(marker.take())
            .send()
            .await
            .aws(|| format!("could not list the versions of function {}", f.name))?;
        if out
            .versions()
            .iter()
            .any(|v| v.version() != Some("$LATEST") && v.code_sha256() == Some(sha.as_str()))
        {
            return Ok((sha, role, true));
        }
        match out.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok((sha, role, false)),
        }
    }
}

/// `ReservedConcurrentExecutions` as GetFunctionConcurrency reads it.
async fn reserved(lambda: &aws_sdk_lambda::Client, f: &Function) -> Result<Option<i32>, AwsError> {
    let out = lambda
        .get_function_concurrency()
        .function_name(&f.arn)
        .send()
        .await
        .aws(|| format!("could not read the concurrency of function {}", f.name))?;
    Ok(out.reserved_concurrent_executions())
}

impl Remediation for LambdaContainFunction {
    const SPEC: Spec = Spec {
        id: "lambda-contain-function",
        summary: "Contains a Lambda function GuardDuty says is compromised: reserved concurrency 0 (no new invocation runs) and $LATEST published as an evidence version; the prior concurrency recorded for undo",
        resolved: "Never RESOLVED: GuardDuty Backdoor:Lambda/*, CryptoCurrency:Lambda/*, Trojan:Lambda/*, UnauthorizedAccess:Lambda/* are UNCONFIRMED (NOTIFIED) once contained, when GetFunctionConcurrency re-read says ReservedConcurrentExecutions 0 and ListVersionsByFunction holds a published version with $LATEST's code hash (the note names the hash): the sessions of the function's execution role are not revoked, and the code, its role and what it reached are a person's to examine.",
        untouched: "Never deletes the function, a version, an alias, a trigger or its role, and never changes its code or configuration; the evidence is $LATEST's code (when GuardDuty names a published version, that version is already kept). Undo acts only if the concurrency still reads quell's 0. Dry-run by default (PLANNED/NOTIFIED until QUELL_MODE=enforce): a throttled function's events wait at their sources. GuardDuty findings below QUELL_LAMBDA_MIN_SEVERITY (MEDIUM) are planned, not contained. A function tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (NOTIFIED). Undo puts the reserved concurrency back as it was (none, or its number) and keeps the evidence version.",
        triggers: Triggers {
            guardduty: &[
                "Backdoor:Lambda/*",
                "CryptoCurrency:Lambda/*",
                "Trojan:Lambda/*",
                "UnauthorizedAccess:Lambda/*",
            ],
            ..Triggers::NONE
        },
        permissions: &[
            "lambda:ListTags",
            "lambda:GetFunctionConcurrency",
            "lambda:GetFunction",
            "lambda:ListVersionsByFunction",
            PUT,
            PUBLISH,
        ],
        undo_permissions: &[DELETE],
        default_mode: Mode::DryRun,
    };
    type Target = Function;
    type Clients = aws_sdk_lambda::Client;

    fn clients(&self, member: &Member) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get(SEVERITY_VAR).filter(|v| !v.trim().is_empty()) {
            self.min_severity = Severity::from_label(v.trim()).ok_or(ConfigError {
                var: SEVERITY_VAR,
                reason: format!("`{v}` is not a severity (LOW, MEDIUM, HIGH, CRITICAL)"),
            })?;
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Function, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::LambdaFunction,
            validate::function_name,
            "Lambda function",
        )?;
        Ok(Function {
            arn: format!(
                "arn:{}:lambda:{}:{}:function:{}",
                f.partition, f.region, f.account, r.id
            ),
            name: r.id.clone(),
            account: f.account.clone(),
            severity: f.severity,
            kind: f.kind.clone(),
            finding: f.id.clone(),
            reserved: Cached::default(),
            role: Cached::default(),
        })
    }

    fn describe(&self, t: &Function) -> String {
        format!("Lambda function {}", t.name)
    }

    async fn tags(&self, lambda: &aws_sdk_lambda::Client, t: &Function) -> Result<Tags, AwsError> {
        let out = lambda
            .list_tags()
            .resource(&t.arn)
            .send()
            .await
            .aws(|| format!("could not read the tags of function {}", t.name))?;
        Ok(out
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn plan(
        &self,
        lambda: &aws_sdk_lambda::Client,
        t: &Function,
    ) -> Result<Vec<Step>, AwsError> {
        let now = reserved(lambda, t).await?;
        let (sha, role, kept) = evidence(lambda, t).await?;
        if let Some(role) = role {
            t.role.set(role);
        }
        let mut steps = Vec::new();
        if now != Some(0) {
            t.reserved.set(now);
            steps.push(Step::new(
                PUT,
                format!(
                    "function={} ReservedConcurrentExecutions=0 (was {})",
                    t.name,
                    now.map(|n| n.to_string())
                        .unwrap_or_else(|| "unreserved".into())
                ),
            ));
        }
        // The code that ran is kept once a published version holds $LATEST's code: checked on
        // every read, so a retry after a failed publish still publishes.
        if !kept {
            steps.push(Step::new(
                PUBLISH,
                format!(
                    "function={} publish $LATEST (code sha256 {sha}) as a version, kept as evidence",
                    t.name
                ),
            ));
        }
        Ok(steps)
    }

    /// Concurrency 0 stops new invocations; the credentials of the function's role that the code
    /// already had keep working until they expire or are revoked.
    fn unchecked(&self, t: &Function) -> Option<String> {
        t.role.get().map(|role| {
            format!(
                "the sessions of its execution role {role} are not revoked: credentials the code already took keep working until they expire. Look at what the role did (CloudTrail), then revoke its older sessions (iam-revoke-role-sessions)"
            )
        })
    }

    fn plan_only(&self, t: &Function) -> Option<String> {
        (t.severity < self.min_severity).then(|| {
            format!(
                "severity {} is below {SEVERITY_VAR} {}: a person decides whether to contain Lambda function {}",
                t.severity.label(),
                self.min_severity.label(),
                t.name
            )
        })
    }

    async fn prior(
        &self,
        lambda: &aws_sdk_lambda::Client,
        t: &Function,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let out = lambda
            .get_function()
            .function_name(&t.arn)
            .send()
            .await
            .aws(|| format!("could not read function {}", t.name))?;
        let c = out.configuration();
        Ok(Some(serde_json::json!({
            "function": t.name,
            "account": t.account,
            "reserved_concurrency": t.reserved.get().flatten(),
            "evidence": {
                "code_sha256": c.and_then(|c| c.code_sha256()),
                "revision_id": c.and_then(|c| c.revision_id()),
                "version": c.and_then(|c| c.version()),
                "last_modified": c.and_then(|c| c.last_modified()),
                "role": c.and_then(|c| c.role()),
            },
        })))
    }

    async fn restore(
        &self,
        lambda: &aws_sdk_lambda::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let name = quell::remediation::prior_field(prior, "function", validate::function_name)?;
        let was = &prior["reserved_concurrency"];
        if !(was.is_null()
            || was
                .as_i64()
                .is_some_and(|n| n > 0 && n <= i64::from(i32::MAX)))
        {
            return Err(quell::remediation::invalid_prior(format!(
                "the recorded `reserved_concurrency` is not a positive number or null: {was}"
            )));
        }
        // Only quell's 0 is undone: a concurrency someone set since is theirs.
        let now = lambda
            .get_function_concurrency()
            .function_name(&name)
            .send()
            .await
            .aws(|| format!("could not read the concurrency of function {name}"))?
            .reserved_concurrent_executions();
        if now != Some(0) {
            return Ok(vec![Step::new(
                PUT,
                format!(
                    "function={name} concurrency changed since quell set 0 (now {}): left as it is",
                    now.map(|n| n.to_string())
                        .unwrap_or_else(|| "unreserved".into())
                ),
            )]);
        }
        match was {
            serde_json::Value::Null => {
                lambda
                    .delete_function_concurrency()
                    .function_name(&name)
                    .send()
                    .await
                    .aws(|| format!("could not lift the reserved concurrency of {name}"))?;
                Ok(vec![Step::new(
                    DELETE,
                    format!("function={name} unreserved again, as it was"),
                )])
            }
            v => {
                let n = v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        quell::remediation::invalid_prior(format!(
                            "the recorded `reserved_concurrency` is not a positive number or null: {v}"
                        ))
                    })?;
                lambda
                    .put_function_concurrency()
                    .function_name(&name)
                    .reserved_concurrent_executions(n)
                    .send()
                    .await
                    .aws(|| format!("could not put the reserved concurrency of {name} back"))?;
                Ok(vec![Step::new(
                    PUT,
                    format!("function={name} ReservedConcurrentExecutions={n}, as it was"),
                )])
            }
        }
    }

    async fn apply(
        &self,
        lambda: &aws_sdk_lambda::Client,
        t: &Function,
        steps: &[Step],
    ) -> Result<(), AwsError> {
        // Containment first: nothing new runs while the evidence is published.
        if steps.iter().any(|s| s.action == PUT) {
            lambda
                .put_function_concurrency()
                .function_name(&t.arn)
                .reserved_concurrent_executions(0)
                .send()
                .await
                .aws(|| format!("could not set the concurrency of function {} to 0", t.name))?;
        }
        if !steps.iter().any(|s| s.action == PUBLISH) {
            return Ok(());
        }
        // Lambda takes at most 256 characters: the end of each (the most specific part).
        let tail = |s: &str, n: usize| {
            let mut v: Vec<char> = s.chars().rev().take(n).collect();
            v.reverse();
            v.into_iter().collect::<String>()
        };
        let version = lambda
            .publish_version()
            .function_name(&t.arn)
            .description(format!(
                "quell evidence: {} finding {}",
                tail(&t.kind, 120),
                tail(&t.finding, 100)
            ))
            .send()
            .await
            .aws(|| format!("could not publish the evidence version of {}", t.name))?;
        tracing::info!(
            function = %t.name,
            evidence_version = version.version().unwrap_or_default(),
            code_sha256 = version.code_sha256().unwrap_or_default(),
            "contained; $LATEST kept as a version"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
