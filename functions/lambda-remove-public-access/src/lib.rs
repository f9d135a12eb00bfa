//! `lambda-remove-public-access`: the statements of a Lambda function's resource policy that let
//! anyone invoke or manage it are removed, and every other statement is kept (Lambda.1,
//! lambda-function-public-access-prohibited).
//!
//! A statement is open to everyone when its principal is `*` (or an AWS principal with a
//! wildcard) and no condition pins who may use it to fixed values: `aws:SourceAccount`,
//! `aws:SourceOwner`, `aws:PrincipalAccount`, `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, or a
//! source or principal ARN without wildcards. A negated or `…IfExists` condition pins nothing. A
//! public function URL (`AuthType NONE`) is open to everyone too, but taking it down is a
//! webhook's outage: it is named and left (UNCONFIRMED), for a person to decide.
//!
//! Only statements that `AddPermission` can put back exactly are removed, so that undo is exact;
//! one open to everyone with another condition (`aws:SourceIp`, say) is left and named
//! (UNCONFIRMED, NOTIFIED). A service principal with no source condition (`s3.amazonaws.com`
//! without `aws:SourceAccount`) is a confused-deputy risk that Config's rule also fails, but
//! removing it would stop the bucket's or topic's invocations: it is named with the exact fix,
//! never changed, and never RESOLVED.

use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use serde_json::Value;

const REMOVE: &str = "lambda:RemovePermission";
const ADD: &str = "lambda:AddPermission";

#[derive(Debug, Clone, Copy, Default)]
pub struct LambdaRemovePublicAccess;

/// A function in the finding's account and Region.
#[derive(Debug, Default)]
pub struct Function {
    pub name: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    /// Unqualified, formed from the validated parts.
    pub arn: String,
    /// The statements open to everyone that the latest `plan` found and `apply` removes.
    public: Cached<Vec<Value>>,
    /// What the latest `plan` saw and leaves, for the note.
    left: Cached<Vec<String>>,
}

impl Function {
    pub fn new(name: &str, account: &str, region: &str, partition: &str) -> Function {
        Function {
            name: name.into(),
            account: account.into(),
            region: region.into(),
            partition: partition.into(),
            arn: format!("arn:{partition}:lambda:{region}:{account}:function:{name}"),
            public: Cached::default(),
            left: Cached::default(),
        }
    }
}

/// What one statement of a function policy grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a grant to the public: a named principal, a denial, or pinned by a condition.
    Private,
    /// Open to everyone, and `AddPermission` can put it back exactly: removed.
    Public,
    /// Open to everyone, but not something `AddPermission` can put back (why): left, named.
    PublicKept(String),
    /// A service principal with no source condition (which service): left, named.
    Unscoped(String),
}

/// The values of a condition or principal: one string or a list of them.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn fixed(s: &str) -> bool {
    !s.is_empty() && !s.contains(['*', '?']) && !s.contains("${")
}

/// Whether a condition pins the caller or the source to fixed accounts, organizations or ARNs
/// (`s3_only`: only the source account counts, as S3's ARNs name no account).
/// `strict` (a statement open to everyone): an ARN pins only as a fixed value, without wildcards,
/// as Config's rule reads it; for a service principal an ARN that names an account pins it.
fn pins(op: &str, key: &str, values: &[&str], s3_only: bool, strict: bool) -> bool {
    let op = op.to_ascii_lowercase();
    if op.contains("not")
        || op.ends_with("ifexists")
        || op == "null"
        || op.starts_with("forallvalues")
        || values.is_empty()
    {
        return false;
    }
    match key.to_ascii_lowercase().as_str() {
        "aws:sourceaccount" | "aws:sourceowner" => values.iter().all(|v| fixed(v)),
        "aws:principalaccount" | "aws:principalorgid" | "aws:principalorgpaths" if !s3_only => {
            values.iter().all(|v| fixed(v))
        }
        "aws:sourcearn" | "aws:principalarn" if !s3_only => values
            .iter()
            .all(|v| quell::finding::arn_account(v).is_some() && (!strict || fixed(v))),
        _ => false,
    }
}

/// The conditions of a statement as (operator, key, values).
fn conditions(st: &Value) -> Vec<(&str, &str, Vec<&str>)> {
    let mut out = Vec::new();
    if let Some(ops) = st["Condition"].as_object() {
        for (op, keys) in ops {
            if let Some(keys) = keys.as_object() {
                for (key, v) in keys {
                    out.push((op.as_str(), key.as_str(), strings(v)));
                }
            }
        }
    }
    out
}

/// The condition a removed statement may carry that `AddPermission` can set again.
fn recreatable(op: &str, key: &str, values: &[&str]) -> bool {
    let [v] = values else { return false };
    matches!(
        (op, key.to_ascii_lowercase().as_str()),
        ("StringEquals", "lambda:functionurlauthtype") if *v == "NONE" || *v == "AWS_IAM"
    ) || matches!(
        (op, key.to_ascii_lowercase().as_str()),
        ("Bool", "lambda:invokedviafunctionurl") if *v == "true"
    ) || (op == "StringEquals" && key.eq_ignore_ascii_case("lambda:EventSourceToken"))
        || (op == "ArnLike" && key.eq_ignore_ascii_case("AWS:SourceArn"))
}

/// A statement id that `RemovePermission` and `AddPermission` accept.
fn statement_id(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// What one statement grants.
pub fn judge(st: &Value) -> Verdict {
    if st["Effect"].as_str() != Some("Allow") {
        return Verdict::Private;
    }
    let p = &st["Principal"];
    // Exactly what AddPermission writes for `--principal *`: put back exactly by undo.
    let star = p.as_str() == Some("*") || strings(&p["AWS"]) == ["*"];
    let wildcard = ["AWS", "CanonicalUser", "Federated"]
        .iter()
        .any(|k| strings(&p[*k]).iter().any(|v| v.contains('*')));
    let conds = conditions(st);
    if star || wildcard {
        if conds.iter().any(|(op, k, v)| pins(op, k, v, false, true)) {
            return Verdict::Private;
        }
        let sid = st["Sid"].as_str().unwrap_or_default();
        // Limited to one account's sources by a wildcard ARN (`…:111111111111:rule/*`): Config
        // reads the wildcard as public, yet removing it would stop those sources' invocations.
        if conds.iter().any(|(op, k, v)| pins(op, k, v, false, false)) {
            return Verdict::PublicKept(format!(
                "statement {sid} lets anyone invoke the function for sources of one account matched by a wildcard ARN; removing it would stop those sources: a person names the exact source ARN (or adds aws:SourceAccount)"
            ));
        }
        if !star {
            return Verdict::PublicKept(format!(
                "statement {sid} names a wildcard principal ({p}) that AddPermission cannot put back"
            ));
        }
        // A public function URL: removing it makes the URL answer 403 to every caller, a
        // webhook's outage; a person decides (AuthType AWS_IAM, or the function tagged exempt).
        let action = st["Action"].as_str().unwrap_or_default();
        if action.eq_ignore_ascii_case("lambda:InvokeFunctionUrl")
            || conds.iter().any(|(_, k, _)| {
                k.eq_ignore_ascii_case("lambda:FunctionUrlAuthType")
                    || k.eq_ignore_ascii_case("lambda:InvokedViaFunctionUrl")
            })
        {
            return Verdict::PublicKept(format!(
                "statement {sid} serves the function's URL to everyone: quell does not take a public URL down (callers would get 403); a person sets its AuthType to AWS_IAM or removes the URL"
            ));
        }
        if !statement_id(sid) {
            return Verdict::PublicKept(format!(
                "its statement id `{sid}` cannot be named to RemovePermission"
            ));
        }
        if !action.starts_with("lambda:") || action.contains(['*', '?']) {
            return Verdict::PublicKept(format!(
                "statement {sid} grants {} (not one Lambda action AddPermission can grant again)",
                st["Action"]
            ));
        }
        if let Some((op, k, _)) = conds.iter().find(|(op, k, v)| !recreatable(op, k, v)) {
            return Verdict::PublicKept(format!(
                "statement {sid} is open to everyone under a condition ({op} {k}) that does not pin the caller and that AddPermission cannot put back"
            ));
        }
        return Verdict::Public;
    }
    for service in strings(&p["Service"]) {
        let s3 = service == "s3.amazonaws.com";
        if !conds.iter().any(|(op, k, v)| pins(op, k, v, s3, false)) {
            return Verdict::Unscoped(service.to_string());
        }
    }
    Verdict::Private
}

/// A statement as the note names it.
fn label(st: &Value) -> String {
    let conds: Vec<String> = conditions(st)
        .iter()
        .map(|(op, k, v)| format!("{op} {k}={}", v.join(",")))
        .collect();
    format!(
        "sid={} ({} to everyone{})",
        st["Sid"].as_str().unwrap_or("?"),
        st["Action"].as_str().unwrap_or("?"),
        if conds.is_empty() {
            String::new()
        } else {
            format!(" when {}", conds.join(" and "))
        }
    )
}

/// The function's policy statements; none when it has no policy.
async fn statements(lambda: &aws_sdk_lambda::Client, t: &Function) -> Result<Vec<Value>, AwsError> {
    let out = match lambda.get_policy().function_name(&t.arn).send().await {
        Ok(out) => out,
        // `tags` has read the function: not found here is a function with no policy.
        Err(e)
            if aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
                == Some("ResourceNotFoundException") =>
        {
            return Ok(Vec::new())
        }
        Err(e) => {
            return Err(AwsError::from_sdk(
                format!("could not read the policy of function {}", t.name),
                e,
            ))
        }
    };
    let doc: Value = serde_json::from_str(out.policy().unwrap_or("{}")).map_err(|e| {
        AwsError::other(
            format!("could not read the policy of function {}", t.name),
            "MalformedPolicy",
            format!("GetPolicy returned a policy that is not JSON: {e}"),
            false,
        )
    })?;
    Ok(match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![doc["Statement"].clone()],
        _ => Vec::new(),
    })
}

impl Remediation for LambdaRemovePublicAccess {
    const SPEC: Spec = Spec {
        id: "lambda-remove-public-access",
        summary: "Removes the statements of a Lambda function policy that let anyone invoke or manage the function (principal * with no condition pinning accounts, organization or source); every other statement is kept",
        resolved: "Lambda.1, lambda-function-public-access-prohibited: GetPolicy re-read has no Allow statement whose principal is * (or a wildcard AWS principal) without a fixed aws:SourceAccount, aws:SourceOwner, aws:PrincipalAccount, aws:PrincipalOrgID, aws:PrincipalOrgPaths or account-naming source/principal ARN condition, and no service principal without a source condition (s3.amazonaws.com: aws:SourceAccount). UNCONFIRMED (NOTIFIED): a statement open to everyone that AddPermission cannot put back (left), or a service principal without a source condition (left, with the fix).",
        untouched: "Never changes a kept statement, the function's code, configuration, aliases or versions (an alias's or version's own policy is not read). A public function URL (AuthType NONE) keeps its statements and is named (UNCONFIRMED): taking it down would answer 403 to every caller. A function meant to be public is tagged QUELL_EXEMPT_TAG (quell:exempt)=true (EXEMPT). A service principal without a source condition is named with the fix, not removed (its bucket or topic would stop invoking). Undo adds each removed statement back with AddPermission under its own statement id. Default enforce.",
        triggers: Triggers {
            config_rules: &["lambda-function-public-access-prohibited"],
            securityhub_controls: &["Lambda.1"],
            ..Triggers::NONE
        },
        permissions: &["lambda:ListTags", "lambda:GetPolicy", REMOVE],
        undo_permissions: &[ADD],
        default_mode: Mode::Enforce,
    };
    type Target = Function;
    type Clients = aws_sdk_lambda::Client;

    fn clients(&self, member: &Member) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(member.config())
    }

    fn target(&self, f: &Finding) -> Result<Function, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::LambdaFunction,
            validate::function_name,
            "Lambda function",
        )?;
        Ok(Function::new(&r.id, &f.account, &f.region, &f.partition))
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
        let mut public = Vec::new();
        let mut left = Vec::new();
        for st in statements(lambda, t).await? {
            match judge(&st) {
                Verdict::Private => {}
                Verdict::Public => public.push(st),
                Verdict::PublicKept(why) => left.push(format!(
                    "{} is open to everyone and left: {why}; a person removes it: aws lambda remove-permission --function-name {} --statement-id <sid>",
                    label(&st),
                    t.name
                )),
                Verdict::Unscoped(service) => left.push(format!(
                    "statement {} lets {service} invoke the function from any account's resources (no source condition); a person adds one: aws lambda remove-permission --function-name {name} --statement-id {sid}, then aws lambda add-permission --function-name {name} --statement-id {sid} --principal {service} --action {} --source-account {} (and --source-arn)",
                    st["Sid"].as_str().unwrap_or("?"),
                    st["Action"].as_str().unwrap_or("lambda:InvokeFunction"),
                    t.account,
                    name = t.name,
                    sid = st["Sid"].as_str().unwrap_or("<sid>"),
                )),
            }
        }
        let steps = public
            .iter()
            .map(|st| Step::new(REMOVE, format!("function={} {}", t.name, label(st))))
            .collect();
        t.public.set(public);
        t.left.set(left);
        Ok(steps)
    }

    fn unchecked(&self, t: &Function) -> Option<String> {
        t.left.get().filter(|l| !l.is_empty()).map(|l| l.join("; "))
    }

    async fn prior(
        &self,
        _lambda: &aws_sdk_lambda::Client,
        t: &Function,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // Exactly the statements `apply` removes, as GetPolicy returned them.
        Ok(Some(serde_json::json!({
            "function": t.name,
            "account": t.account,
            "region": t.region,
            "partition": t.partition,
            "statements": t.public.get().unwrap_or_default(),
        })))
    }

    async fn restore(
        &self,
        lambda: &aws_sdk_lambda::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        use aws_sdk_lambda::types::FunctionUrlAuthType;
        let name = quell::remediation::prior_field(prior, "function", validate::function_name)?;
        let Some(removed) = prior["statements"].as_array().filter(|s| !s.is_empty()) else {
            return Err(quell::remediation::invalid_prior(
                "the recorded `statements` are missing: nothing of quell's to undo",
            ));
        };
        // Only what quell would have removed is ever added back: a public statement it can
        // recreate exactly. Checked for all before the first call.
        if let Some(bad) = removed.iter().find(|st| judge(st) != Verdict::Public) {
            return Err(quell::remediation::invalid_prior(format!(
                "the recorded statement {bad} is not one quell removes"
            )));
        }
        let account = quell::remediation::prior_field(prior, "account", validate::account_id)?;
        let region = quell::remediation::prior_field(prior, "region", validate::region)?;
        let partition = quell::remediation::prior_field(prior, "partition", validate::partition)?;
        let f = Function::new(&name, &account, &region, &partition);
        let present: Vec<String> = statements(lambda, &f)
            .await?
            .iter()
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect();
        let mut steps = Vec::new();
        for st in removed {
            let sid = st["Sid"].as_str().unwrap_or_default();
            if present.iter().any(|p| p == sid) {
                steps.push(Step::new(
                    ADD,
                    format!("function={name} sid={sid} is there again already: left as it is"),
                ));
                continue;
            }
            let mut add = lambda
                .add_permission()
                .function_name(&f.arn)
                .statement_id(sid)
                .principal("*")
                .action(st["Action"].as_str().unwrap_or_default());
            for (op, key, values) in conditions(st) {
                let v = values.first().copied().unwrap_or_default();
                add = match (op, key.to_ascii_lowercase().as_str()) {
                    (_, "lambda:functionurlauthtype") => {
                        add.function_url_auth_type(FunctionUrlAuthType::from(v))
                    }
                    (_, "lambda:invokedviafunctionurl") => add.invoked_via_function_url(true),
                    (_, "lambda:eventsourcetoken") => add.event_source_token(v),
                    _ => add.source_arn(v),
                };
            }
            add.send()
                .await
                .aws(|| format!("could not add statement {sid} back to function {name}"))?;
            steps.push(Step::new(
                ADD,
                format!("function={name} {}, as it was", label(st)),
            ));
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        lambda: &aws_sdk_lambda::Client,
        t: &Function,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        for st in t.public.get().unwrap_or_default() {
            let sid = st["Sid"].as_str().unwrap_or_default();
            match lambda
                .remove_permission()
                .function_name(&t.arn)
                .statement_id(sid)
                .send()
                .await
            {
                Ok(_) => {}
                // Removed since the read: the verification re-reads the policy.
                Err(e)
                    if aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
                        == Some("ResourceNotFoundException") => {}
                Err(e) => {
                    return Err(AwsError::from_sdk(
                        format!("could not remove statement {sid} from function {}", t.name),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
