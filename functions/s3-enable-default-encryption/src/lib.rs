//! `s3-enable-default-encryption`: a bucket's default encryption, as the finding asks for it.
//!
//! - With a KMS key configured (`QUELL_S3_KMS_KEY_ID`), a bucket whose default encryption is
//!   SSE-S3 (AES256), or missing, is moved to SSE-KMS with that key and the S3 Bucket Key enabled.
//!   A bucket already encrypted with KMS (any key, DSSE included) is left as it is.
//! - With no key configured, a bucket with no default encryption gets SSE-S3. Since January 2023
//!   S3 encrypts every bucket with SSE-S3 by default, so this is rare.
//! - A finding that asks for KMS (Security Hub S3.17, Config `s3-default-encryption-kms`) is never
//!   closed by SSE-S3: with no key configured it is PLANNED, naming the missing setting.
//!
//! The bucket's encryption rule as it was (or its absence) is recorded, and `quell undo` puts it
//! back; a rule's blocked encryption types (SSE-C) are kept through the change.

use aws_sdk_s3::types::{
    BlockedEncryptionTypes, EncryptionType, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::{config_rule_matches, invalid_prior, prior_field, Cached};
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use serde_json::{json, Value};

const PUT: &str = "s3:PutEncryptionConfiguration";
/// The setting that names the KMS key.
pub const KEY_VAR: &str = "QUELL_S3_KMS_KEY_ID";
/// The Security Hub control that asks for SSE-KMS, not only some default encryption.
pub const KMS_CONTROL: &str = "S3.17";
/// The Config managed rule behind S3.17.
pub const KMS_RULE: &str = "s3-default-encryption-kms";

#[derive(Debug, Clone, Default)]
pub struct S3EnableDefaultEncryption {
    /// SSE-KMS with this key (id, ARN or alias) when set; SSE-S3 otherwise.
    pub kms_key: Option<String>,
}

#[derive(Debug, Default)]
pub struct Bucket {
    pub name: String,
    /// The finding's account: the expected owner of the bucket.
    pub account: String,
    /// The control or rule of the finding when it asks for SSE-KMS (`S3.17`): SSE-S3 does not
    /// meet it.
    pub asks_kms: Option<String>,
    /// The encryption configuration `plan` read (`None` inside: the bucket has none), for `prior`
    /// and `apply` of the same run; `apply` clears it.
    read: Cached<Option<ServerSideEncryptionConfiguration>>,
}

impl Bucket {
    pub fn new(name: impl Into<String>, account: impl Into<String>) -> Bucket {
        Bucket {
            name: name.into(),
            account: account.into(),
            asks_kms: None,
            read: Cached::default(),
        }
    }

    /// The finding asks for SSE-KMS (`by`: its control or rule).
    pub fn asking_kms(mut self, by: impl Into<String>) -> Bucket {
        self.asks_kms = Some(by.into());
        self
    }
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 2048 && !k.contains(char::is_whitespace)
}

/// The bucket's default encryption configuration; `None` when it has none.
async fn current(
    s3: &aws_sdk_s3::Client,
    t: &Bucket,
) -> Result<Option<ServerSideEncryptionConfiguration>, AwsError> {
    match s3
        .get_bucket_encryption()
        .bucket(&t.name)
        .expected_bucket_owner(&t.account)
        .send()
        .await
    {
        Ok(out) => Ok(out.server_side_encryption_configuration),
        Err(e) if code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
        Err(e) => {
            Err(e).aws(|| format!("could not read the default encryption of bucket {}", t.name))
        }
    }
}

fn defaults(c: Option<&ServerSideEncryptionConfiguration>) -> Vec<&ServerSideEncryptionByDefault> {
    c.map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .collect()
}

/// Whether the bucket's default encryption uses KMS (SSE-KMS or DSSE-KMS), with any key.
pub fn uses_kms(c: Option<&ServerSideEncryptionConfiguration>) -> bool {
    defaults(c).iter().any(|d| {
        matches!(
            d.sse_algorithm(),
            ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse
        )
    })
}

/// The bucket's default encryption in a few words (`SSE-S3 (AES256)`, `none`).
fn described(c: Option<&ServerSideEncryptionConfiguration>) -> String {
    let d = defaults(c);
    if d.is_empty() {
        return "none".into();
    }
    d.iter()
        .map(|d| match d.sse_algorithm() {
            ServerSideEncryption::Aes256 => "SSE-S3 (AES256)".to_string(),
            other => format!(
                "{} with key {}",
                other.as_str(),
                d.kms_master_key_id().unwrap_or("aws/s3")
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configuration as `quell undo` records it: `null` for none, or each rule's settings.
pub fn recorded(c: Option<&ServerSideEncryptionConfiguration>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => Value::Array(
            c.rules()
                .iter()
                .map(|r| {
                    let d = r.apply_server_side_encryption_by_default();
                    json!({
                        "algorithm": d.map(|d| d.sse_algorithm().as_str()),
                        "kms_key": d.and_then(|d| d.kms_master_key_id()),
                        "bucket_key": r.bucket_key_enabled(),
                        "blocked": r.blocked_encryption_types().map(|b| {
                            b.encryption_type().iter().map(|e| e.as_str()).collect::<Vec<_>>()
                        }),
                    })
                })
                .collect(),
        ),
    }
}

fn build_error(e: impl std::fmt::Display) -> AwsError {
    AwsError::other(
        "could not build the encryption configuration",
        "InvalidRule",
        e.to_string(),
        false,
    )
}

/// A recorded configuration, checked field by field, as the API takes it.
pub fn from_recorded(rules: &[Value]) -> Result<ServerSideEncryptionConfiguration, AwsError> {
    if rules.is_empty() {
        return Err(invalid_prior(
            "the recorded encryption configuration has no rule",
        ));
    }
    let mut built = Vec::new();
    for r in rules {
        let mut rule = ServerSideEncryptionRule::builder();
        match r["algorithm"].as_str() {
            Some(a @ ("AES256" | "aws:kms" | "aws:kms:dsse")) => {
                let key = match &r["kms_key"] {
                    Value::Null => None,
                    Value::String(k) if valid_key(k) => Some(k.clone()),
                    other => {
                        return Err(invalid_prior(format!(
                            "the recorded KMS key is not valid: {other}"
                        )))
                    }
                };
                let d = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(a))
                    .set_kms_master_key_id(key)
                    .build()
                    .map_err(build_error)?;
                rule = rule.apply_server_side_encryption_by_default(d);
            }
            None if r["algorithm"].is_null() => {}
            _ => {
                return Err(invalid_prior(format!(
                    "the recorded algorithm is not valid: {}",
                    r["algorithm"]
                )))
            }
        }
        match &r["bucket_key"] {
            Value::Null => {}
            Value::Bool(b) => rule = rule.bucket_key_enabled(*b),
            other => {
                return Err(invalid_prior(format!(
                    "the recorded bucket key setting is not valid: {other}"
                )))
            }
        }
        match &r["blocked"] {
            Value::Null => {}
            Value::Array(types) => {
                let mut b = BlockedEncryptionTypes::builder();
                for ty in types {
                    match ty.as_str() {
                        Some(e @ ("NONE" | "SSE-C")) => {
                            b = b.encryption_type(EncryptionType::from(e))
                        }
                        _ => {
                            return Err(invalid_prior(format!(
                                "the recorded blocked encryption type is not valid: {ty}"
                            )))
                        }
                    }
                }
                rule = rule.blocked_encryption_types(b.build());
            }
            other => {
                return Err(invalid_prior(format!(
                    "the recorded blocked encryption types are not valid: {other}"
                )))
            }
        }
        built.push(rule.build());
    }
    ServerSideEncryptionConfiguration::builder()
        .set_rules(Some(built))
        .build()
        .map_err(build_error)
}

impl S3EnableDefaultEncryption {
    /// What the bucket's default encryption must become, or why quell cannot say.
    fn wanted(&self, t: &Bucket) -> Result<ServerSideEncryptionByDefault, String> {
        match (&self.kms_key, &t.asks_kms) {
            (Some(k), _) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(k)
                .build()
                .map_err(|e| e.to_string()),
            (None, Some(by)) => Err(format!("{by} asks for SSE-KMS and {KEY_VAR} names no key")),
            (None, None) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| e.to_string()),
        }
    }
}

impl Remediation for S3EnableDefaultEncryption {
    const SPEC: Spec = Spec {
        id: "s3-enable-default-encryption",
        summary: "Sets a bucket's default encryption: SSE-KMS with a configured key (Bucket Key on) where it is SSE-S3 or missing, else SSE-S3 where missing",
        resolved: "s3-bucket-server-side-encryption-enabled, S3.4: GetBucketEncryption shows an aws:kms or aws:kms:dsse rule (any key) or, with QUELL_S3_KMS_KEY_ID unset, any default encryption. s3-default-encryption-kms, S3.17: an aws:kms or aws:kms:dsse rule with any key, not necessarily the configured one. With QUELL_S3_KMS_KEY_ID set, SSE-S3 (AES256) counts for neither. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "A bucket already on SSE-KMS or DSSE-KMS with any key is left as it is. S3.17 or s3-default-encryption-kms with QUELL_S3_KMS_KEY_ID unset is only planned (PLANNED/NOTIFIED, naming the variable), never closed with SSE-S3. Blocked encryption types (SSE-C) of the replaced rule are kept. A bucket tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Default enforce.",
        triggers: Triggers {
            config_rules: &["s3-bucket-server-side-encryption-enabled", KMS_RULE],
            securityhub_controls: &["S3.4", KMS_CONTROL],
            ..Triggers::NONE
        },
        // DeleteBucketEncryption (undo of a bucket that had none) is authorized as
        // s3:PutEncryptionConfiguration.
        permissions: &["s3:GetBucketTagging", "s3:GetEncryptionConfiguration", PUT],
        undo_permissions: &[],
        default_mode: Mode::Enforce,
    };
    type Target = Bucket;
    type Clients = aws_sdk_s3::Client;

    fn clients(&self, member: &Member) -> aws_sdk_s3::Client {
        member.s3()
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(k) = get(KEY_VAR)
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
        {
            if !valid_key(&k) {
                return Err(ConfigError {
                    var: KEY_VAR,
                    reason: format!("`{k}` is not a KMS key id, ARN or alias"),
                });
            }
            self.kms_key = Some(k);
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Bucket, NotApplicable> {
        let r = f
            .resource(&ResourceKind::S3Bucket)
            .ok_or_else(|| NotApplicable("the finding names no S3 bucket".into()))?;
        if !validate::bucket_name(&r.id) {
            return Err(NotApplicable(format!(
                "`{}` is not a valid bucket name",
                r.id
            )));
        }
        let b = Bucket::new(r.id.clone(), f.account.clone());
        let asks_kms = std::iter::once(&f.kind)
            .chain(f.aliases.iter())
            .any(|k| k == KMS_CONTROL || config_rule_matches(KMS_RULE, k));
        Ok(if asks_kms {
            b.asking_kms(f.kind.clone())
        } else {
            b
        })
    }

    fn describe(&self, t: &Bucket) -> String {
        format!("bucket {}", t.name)
    }

    async fn tags(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Tags, AwsError> {
        quell::member::bucket_tags(s3, &t.name, &t.account).await
    }

    async fn plan(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Vec<Step>, AwsError> {
        let conf = current(s3, t).await?;
        t.read.set(conf.clone());
        let has = !defaults(conf.as_ref()).is_empty();
        let wants_kms = self.kms_key.is_some() || t.asks_kms.is_some();
        if uses_kms(conf.as_ref()) || (has && !wants_kms) {
            return Ok(Vec::new());
        }
        let how = match (&self.kms_key, &t.asks_kms) {
            (Some(k), _) => format!("SSE-KMS with key {k}, Bucket Key enabled"),
            (None, Some(_)) => format!("SSE-KMS with the key {KEY_VAR} would name (not set)"),
            (None, None) => "SSE-S3 (AES256)".into(),
        };
        Ok(vec![Step::new(
            PUT,
            format!(
                "bucket={} default encryption {} -> {how}",
                t.name,
                described(conf.as_ref())
            ),
        )])
    }

    /// A finding that asks for KMS, with no key configured: SSE-S3 would not meet it.
    fn plan_only(&self, t: &Bucket) -> Option<String> {
        match (&self.kms_key, &t.asks_kms) {
            (None, Some(by)) => Some(format!(
                "{by} asks for SSE-KMS and {KEY_VAR} is not set: set it to the KMS key (id, ARN or alias) this account's buckets are to use"
            )),
            _ => None,
        }
    }

    /// The encryption configuration `apply` is about to replace, or its absence.
    async fn prior(&self, s3: &aws_sdk_s3::Client, t: &Bucket) -> Result<Option<Value>, AwsError> {
        let conf = match t.read.get() {
            Some(c) => c,
            None => current(s3, t).await?,
        };
        Ok(Some(json!({
            "bucket": t.name,
            "account": t.account,
            "default_encryption": recorded(conf.as_ref()),
        })))
    }

    /// The recorded configuration put back (PutBucketEncryption), or, where there was none,
    /// DeleteBucketEncryption (authorized by s3:PutEncryptionConfiguration).
    async fn restore(&self, s3: &aws_sdk_s3::Client, prior: &Value) -> Result<Vec<Step>, AwsError> {
        let bucket = prior_field(prior, "bucket", validate::bucket_name)?;
        let account = prior_field(prior, "account", validate::account_id)?;
        match &prior["default_encryption"] {
            Value::Null => {
                s3.delete_bucket_encryption()
                    .bucket(&bucket)
                    .expected_bucket_owner(&account)
                    .send()
                    .await
                    .aws(|| {
                        format!("could not remove the default encryption of bucket {bucket}")
                    })?;
                Ok(vec![Step::new(
                    PUT,
                    format!("bucket={bucket} default encryption removed, as it was"),
                )])
            }
            Value::Array(rules) => {
                let conf = from_recorded(rules)?;
                let was = described(Some(&conf));
                s3.put_bucket_encryption()
                    .bucket(&bucket)
                    .expected_bucket_owner(&account)
                    .server_side_encryption_configuration(conf)
                    .send()
                    .await
                    .aws(|| {
                        format!("could not put back the default encryption of bucket {bucket}")
                    })?;
                Ok(vec![Step::new(
                    PUT,
                    format!("bucket={bucket} default encryption {was}, as it was"),
                )])
            }
            other => Err(invalid_prior(format!(
                "the recorded default encryption is not valid: {other}"
            ))),
        }
    }

    async fn apply(
        &self,
        s3: &aws_sdk_s3::Client,
        t: &Bucket,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let by_default = self.wanted(t).map_err(|e| {
            AwsError::other(
                format!("could not set the default encryption of bucket {}", t.name),
                "KmsKeyNotConfigured",
                e,
                false,
            )
        })?;
        let conf = match t.read.get() {
            Some(c) => c,
            None => current(s3, t).await?,
        };
        // Whatever happens next, the verification reads the bucket afresh.
        t.read.clear();
        // Blocked encryption types (SSE-C) of the rule being replaced are kept.
        let blocked = conf
            .as_ref()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.blocked_encryption_types())
            .cloned();
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(self.kms_key.is_some())
            .set_blocked_encryption_types(blocked)
            .build();
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(build_error)?;
        s3.put_bucket_encryption()
            .bucket(&t.name)
            .expected_bucket_owner(&t.account)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .aws(|| format!("could not set the default encryption of bucket {}", t.name))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_bucket_encryption::{
        GetBucketEncryptionError, GetBucketEncryptionOutput,
    };
    use aws_sdk_s3::operation::get_bucket_tagging::{
        GetBucketTaggingError, GetBucketTaggingOutput,
    };
    use aws_sdk_s3::operation::put_bucket_encryption::{
        PutBucketEncryptionError, PutBucketEncryptionOutput,
    };
    use aws_sdk_s3::types::Tag;
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;
    use quell::Outcome;

    fn no_tags() -> Rule {
        mock!(Client::get_bucket_tagging).then_error(|| {
            GetBucketTaggingError::generic(ErrorMetadata::builder().code("NoSuchTagSet").build())
        })
    }
    fn none() -> GetBucketEncryptionError {
        GetBucketEncryptionError::generic(
            ErrorMetadata::builder()
                .code("ServerSideEncryptionConfigurationNotFoundError")
                .build(),
        )
    }
    fn sse_s3() -> GetBucketEncryptionOutput {
        let r = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            )
            .build();
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(r)
                    .build()
                    .unwrap(),
            )
            .build()
    }
    fn b() -> Bucket {
        Bucket::new("member-data", "111111111111")
    }

    fn sse(
        algorithm: ServerSideEncryption,
        key: Option<&str>,
        bucket_key: Option<bool>,
    ) -> GetBucketEncryptionOutput {
        let r = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(algorithm)
                    .set_kms_master_key_id(key.map(str::to_string))
                    .build()
                    .unwrap(),
            )
            .set_bucket_key_enabled(bucket_key)
            .build();
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(r)
                    .build()
                    .unwrap(),
            )
            .build()
    }
    fn sse_kms() -> GetBucketEncryptionOutput {
        sse(ServerSideEncryption::AwsKms, Some("alias/data"), Some(true))
    }
    fn with_key() -> S3EnableDefaultEncryption {
        S3EnableDefaultEncryption {
            kms_key: Some("alias/data".into()),
        }
    }
    /// A put of SSE-KMS with alias/data and the Bucket Key on, for the finding's account.
    fn put_kms() -> Rule {
        mock!(Client::put_bucket_encryption)
            .match_requests(|r| {
                let rule = &r.server_side_encryption_configuration().unwrap().rules()[0];
                let d = rule.apply_server_side_encryption_by_default().unwrap();
                r.expected_bucket_owner() == Some("111111111111")
                    && d.sse_algorithm() == &ServerSideEncryption::AwsKms
                    && d.kms_master_key_id() == Some("alias/data")
                    && rule.bucket_key_enabled() == Some(true)
            })
            .then_output(|| PutBucketEncryptionOutput::builder().build())
    }

    #[tokio::test]
    async fn sets_kms_encryption_when_configured_and_verifies() {
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption)
            .sequence()
            .error(none)
            .output(sse_kms)
            .build();
        let p = put_kms();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&with_key(), &s3, &b(), Mode::Enforce, "quell:exempt").await;
        assert!(matches!(out, Outcome::Remediated { .. }), "{out:?}");
        assert_eq!(p.num_calls(), 1);
        // Read once for the plan and the change, once to verify.
        assert_eq!(g.num_calls(), 2);
    }

    #[tokio::test]
    async fn sse_s3_moves_to_the_configured_kms_key_and_kms_is_left_alone() {
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption)
            .sequence()
            .output(sse_s3)
            .output(sse_kms)
            .build();
        let p = put_kms();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&with_key(), &s3, &b(), Mode::Enforce, "quell:exempt").await;
        match &out {
            Outcome::Remediated { steps } => {
                assert!(
                    steps[0]
                        .to_string()
                        .contains("SSE-S3 (AES256) -> SSE-KMS with key alias/data"),
                    "{steps:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.num_calls(), 1);
        // A bucket on KMS with a key of its own keeps it: S3.17 holds with any KMS key.
        let other_key = || {
            sse(
                ServerSideEncryption::AwsKms,
                Some("arn:aws:kms:us-east-1:111111111111:key/team"),
                None,
            )
        };
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_output(other_key),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let kms = b().asking_kms("S3.17");
        assert_eq!(
            execute(&with_key(), &s3, &kms, Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        let dsse = || sse(ServerSideEncryption::AwsKmsDsse, None, None);
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_output(dsse),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(&with_key(), &s3, &b(), Mode::Enforce, "quell:exempt")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        assert_eq!(p.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_finding_asking_for_kms_is_never_closed_by_sse_s3() {
        let p = mock!(Client::put_bucket_encryption)
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let kms = b().asking_kms("S3.17");
        for mode in [Mode::Enforce, Mode::DryRun] {
            let (t, g) = (
                no_tags(),
                mock!(Client::get_bucket_encryption).then_output(sse_s3),
            );
            let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
            let out = execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &kms,
                mode,
                "quell:exempt",
            )
            .await;
            match &out {
                Outcome::Planned { steps, reason } => {
                    assert!(steps[0].to_string().contains(KEY_VAR), "{steps:?}");
                    if mode == Mode::Enforce {
                        assert!(
                            reason.contains(KEY_VAR) && reason.contains("S3.17"),
                            "{reason}"
                        );
                    }
                }
                other => panic!("{mode:?}: {other:?}"),
            }
        }
        // No default encryption at all: not SSE-S3 either.
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_error(none),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &kms,
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "PLANNED"
        );
        assert_eq!(p.num_calls(), 0);
        // Already on KMS: the finding's ask holds.
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_output(sse_kms),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &kms,
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "ALREADY_COMPLIANT"
        );
        // apply itself refuses to put SSE-S3 for it.
        let err = S3EnableDefaultEncryption::default()
            .apply(&s3, &kms, &[])
            .await
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("KmsKeyNotConfigured"), "{err:?}");
        assert_eq!(p.num_calls(), 0);
    }

    #[tokio::test]
    async fn blocked_encryption_types_are_kept_through_the_change() {
        let blocked = || {
            let r = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .blocked_encryption_types(
                    BlockedEncryptionTypes::builder()
                        .encryption_type(EncryptionType::SseC)
                        .build(),
                )
                .build();
            GetBucketEncryptionOutput::builder()
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(r)
                        .build()
                        .unwrap(),
                )
                .build()
        };
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption)
            .sequence()
            .output(blocked)
            .output(sse_kms)
            .build();
        let p = mock!(Client::put_bucket_encryption)
            .match_requests(|r| {
                r.server_side_encryption_configuration().unwrap().rules()[0]
                    .blocked_encryption_types()
                    .is_some_and(|b| b.encryption_type() == [EncryptionType::SseC])
            })
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        let out = execute(&with_key(), &s3, &b(), Mode::Enforce, "quell:exempt").await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!(p.num_calls(), 1);
    }

    #[tokio::test]
    async fn prior_records_what_plan_read_and_restore_puts_it_back() {
        let g = mock!(Client::get_bucket_encryption)
            .then_output(|| sse(ServerSideEncryption::Aes256, None, Some(false)));
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&g]);
        let r = with_key();
        let t = b();
        assert_eq!(r.plan(&s3, &t).await.unwrap().len(), 1);
        let prior = r.prior(&s3, &t).await.unwrap().unwrap();
        assert_eq!(g.num_calls(), 1, "prior uses the plan's read");
        assert_eq!(
            prior,
            json!({"bucket": "member-data", "account": "111111111111", "default_encryption": [
                {"algorithm": "AES256", "kms_key": null, "bucket_key": false, "blocked": null}
            ]})
        );
        let put = mock!(Client::put_bucket_encryption)
            .match_requests(|r| {
                let rule = &r.server_side_encryption_configuration().unwrap().rules()[0];
                let d = rule.apply_server_side_encryption_by_default().unwrap();
                r.bucket() == Some("member-data")
                    && r.expected_bucket_owner() == Some("111111111111")
                    && d.sse_algorithm() == &ServerSideEncryption::Aes256
                    && d.kms_master_key_id().is_none()
                    && rule.bucket_key_enabled() == Some(false)
            })
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let del = mock!(Client::delete_bucket_encryption)
            .then_output(|| aws_sdk_s3::operation::delete_bucket_encryption::DeleteBucketEncryptionOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put, &del]);
        let steps = r.restore(&s3, &prior).await.unwrap();
        assert!(
            steps[0].to_string().contains("SSE-S3 (AES256), as it was"),
            "{steps:?}"
        );
        assert_eq!((put.num_calls(), del.num_calls()), (1, 0));
        // None before: deleted. A record written before rules were recorded reads the same.
        let none =
            json!({"bucket": "member-data", "account": "111111111111", "default_encryption": null});
        r.restore(&s3, &none).await.unwrap();
        assert_eq!((put.num_calls(), del.num_calls()), (1, 1));
        // A record that is not a valid configuration calls nothing.
        for bad in [
            json!([{"algorithm": "rot13"}]),
            json!([{"algorithm": "aws:kms", "kms_key": "a key with spaces"}]),
            json!([{"algorithm": "AES256", "blocked": ["SSE-Z"]}]),
            json!([{"algorithm": "AES256", "bucket_key": "yes"}]),
            json!([]),
            json!("AES256"),
        ] {
            let prior = json!({"bucket": "member-data", "account": "111111111111", "default_encryption": bad});
            let e = r.restore(&s3, &prior).await.unwrap_err();
            assert_eq!(e.code.as_deref(), Some("InvalidPriorState"), "{bad}: {e:?}");
        }
        assert_eq!((put.num_calls(), del.num_calls()), (1, 1));
    }

    fn finding(name: &str, replace: &[(&str, &str)]) -> Finding {
        let mut text = match name {
            "s3-4" => include_str!("../../../events/securityhub-imported-fsbp-s3-4.json"),
            _ => {
                include_str!("../../../events/config-s3-bucket-server-side-encryption-enabled.json")
            }
        }
        .to_string();
        for (from, to) in replace {
            text = text.replace(from, to);
        }
        quell::event::Envelope::parse(serde_json::from_str(&text).unwrap())
            .unwrap()
            .findings
            .remove(0)
            .unwrap()
    }

    #[test]
    fn kms_controls_and_rules_ask_for_kms() {
        let r = S3EnableDefaultEncryption::default();
        let s3_4 = finding("s3-4", &[]);
        assert!(S3EnableDefaultEncryption::SPEC.matches(&s3_4));
        assert_eq!(r.target(&s3_4).unwrap().asks_kms, None);
        let s3_17 = finding("s3-4", &[("S3.4", "S3.17")]);
        assert!(S3EnableDefaultEncryption::SPEC.matches(&s3_17));
        assert_eq!(r.target(&s3_17).unwrap().asks_kms.as_deref(), Some("S3.17"));
        let config = finding("config", &[]);
        assert!(S3EnableDefaultEncryption::SPEC.matches(&config));
        assert_eq!(r.target(&config).unwrap().asks_kms, None);
        for rule in [
            "s3-default-encryption-kms",
            "securityhub-s3-default-encryption-kms-1a2b3c4d",
        ] {
            let f = finding(
                "config",
                &[("s3-bucket-server-side-encryption-enabled", rule)],
            );
            assert!(S3EnableDefaultEncryption::SPEC.matches(&f), "{rule}");
            assert_eq!(r.target(&f).unwrap().asks_kms.as_deref(), Some(rule));
        }
    }

    #[test]
    fn the_key_setting_is_checked_at_start_up() {
        let mut r = S3EnableDefaultEncryption::default();
        r.configure(&|_| None).unwrap();
        assert_eq!(r.kms_key, None);
        r.configure(&|v| (v == KEY_VAR).then(|| " alias/data ".to_string()))
            .unwrap();
        assert_eq!(r.kms_key.as_deref(), Some("alias/data"));
        let e = S3EnableDefaultEncryption::default()
            .configure(&|v| (v == KEY_VAR).then(|| "alias/my key".to_string()))
            .unwrap_err();
        assert_eq!(e.var, KEY_VAR);
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let p = mock!(Client::put_bucket_encryption)
            .then_output(|| PutBucketEncryptionOutput::builder().build());
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_output(sse_s3),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "ALREADY_COMPLIANT"
        );
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_error(none),
        );
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::DryRun,
                "quell:exempt"
            )
            .await
            .name(),
            "PLANNED"
        );
        let t = mock!(Client::get_bucket_tagging).then_output(|| {
            GetBucketTaggingOutput::builder()
                .tag_set(
                    Tag::builder()
                        .key("quell:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &p]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "EXEMPT"
        );
        assert_eq!(p.num_calls(), 0);
        let (t, g) = (
            no_tags(),
            mock!(Client::get_bucket_encryption).then_error(none),
        );
        let deny = mock!(Client::put_bucket_encryption).then_error(|| {
            PutBucketEncryptionError::generic(ErrorMetadata::builder().code("AccessDenied").build())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g, &deny]);
        assert_eq!(
            execute(
                &S3EnableDefaultEncryption::default(),
                &s3,
                &b(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "FAILED"
        );
        let t = no_tags();
        let g = mock!(Client::get_bucket_encryption).then_error(|| {
            GetBucketEncryptionError::generic(ErrorMetadata::builder().code("SlowDown").build())
        });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&t, &g]);
        assert!(execute(
            &S3EnableDefaultEncryption::default(),
            &s3,
            &b(),
            Mode::Enforce,
            "quell:exempt"
        )
        .await
        .is_retryable());
    }
}
