//! `kms-enable-key-rotation`: a customer managed KMS key that does not rotate gets automatic
//! rotation turned on (KMS.4, cmk-backing-key-rotation-enabled). Rotation keeps every older key
//! version for decryption, so nothing that uses the key notices: the change is safe to enforce.
//!
//! Only symmetric encryption keys with key material made by KMS can rotate automatically. An
//! asymmetric or HMAC key, one with imported material or in a custom key store, or a key pending
//! deletion or import, is planned with the reason (NOTIFIED), never called RESOLVED: rotating it
//! is a person's work (a new key, and an alias moved to it).

use quell::config::ConfigError;
use quell::finding::validate;
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};

const ENABLE: &str = "kms:EnableKeyRotation";
const DISABLE: &str = "kms:DisableKeyRotation";
/// The setting for the rotation period of keys quell turns rotation on for.
pub const PERIOD_VAR: &str = "QUELL_KMS_ROTATION_DAYS";

#[derive(Debug, Clone, Default)]
pub struct KmsEnableKeyRotation {
    /// Days between rotations for a key quell turns rotation on for (90–2560); `None`: KMS's
    /// default, 365.
    pub period_days: Option<i32>,
}

/// A key, as the finding names it, in the finding's account and Region.
#[derive(Debug, Default)]
pub struct Key {
    pub id: String,
    pub account: String,
    /// Why the key cannot rotate automatically, read once by the first `plan` (DescribeKey): an
    /// empty string when it can.
    why_not: Cached<String>,
}

impl Key {
    pub fn new(id: impl Into<String>, account: impl Into<String>) -> Key {
        Key {
            id: id.into(),
            account: account.into(),
            why_not: Cached::default(),
        }
    }
}

/// Why a key described so cannot rotate automatically, if it cannot.
pub fn cannot_rotate(meta: &aws_sdk_kms::types::KeyMetadata) -> Option<String> {
    use aws_sdk_kms::types::{KeySpec, KeyState, OriginType};
    let spec = meta.key_spec();
    if spec.is_some_and(|s| *s != KeySpec::SymmetricDefault) {
        return Some(format!(
            "a {} key: KMS rotates only symmetric encryption keys automatically",
            spec.map(|s| s.as_str()).unwrap_or("non-symmetric")
        ));
    }
    match meta.origin() {
        Some(OriginType::AwsKms) | None => {}
        Some(o) => {
            return Some(format!(
                "its key material comes from {} (not KMS): KMS cannot rotate it; rotate it by hand (new material or a new key)",
                o.as_str()
            ))
        }
    }
    // A multi-Region replica rotates with its primary: the setting is the primary's.
    if let Some(m) = meta.multi_region_configuration() {
        if m.multi_region_key_type() == Some(&aws_sdk_kms::types::MultiRegionKeyType::Replica) {
            let primary = m.primary_key();
            return Some(format!(
                "a multi-Region replica key: rotation is set on its primary key ({} in {})",
                primary.and_then(|p| p.arn()).unwrap_or("unknown"),
                primary.and_then(|p| p.region()).unwrap_or("its Region")
            ));
        }
    }
    match meta.key_state() {
        Some(KeyState::Enabled) | None => None,
        Some(KeyState::Disabled) => Some(
            "the key is Disabled: KMS refuses to turn rotation on until it is enabled again (a person's decision)".into(),
        ),
        Some(s) => Some(format!(
            "the key is {}: its rotation cannot be turned on in that state",
            s.as_str()
        )),
    }
}

impl Remediation for KmsEnableKeyRotation {
    const SPEC: Spec = Spec {
        id: "kms-enable-key-rotation",
        summary: "Turns on automatic rotation of a customer managed KMS key (older key versions still decrypt); keys that cannot rotate automatically are planned with the reason",
        resolved: "KMS.4, cmk-backing-key-rotation-enabled: GetKeyRotationStatus re-read says KeyRotationEnabled. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Changes only the rotation setting: never the key policy, its state or its aliases. An asymmetric or HMAC key, imported key material, a custom key store, a multi-Region replica (its primary's setting), or a key Disabled, pending deletion or pending import is planned with the reason (PLANNED/NOTIFIED), never RESOLVED. A key whose template (Terraform, CloudFormation) says no rotation is turned back off at its next deployment: set it there, or tag the key exempt. QUELL_KMS_ROTATION_DAYS sets the period (90–2560; unset: KMS's 365). A key tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT. Undo turns rotation off again, unless it is off already (left as it is). Default enforce.",
        triggers: Triggers {
            config_rules: &["cmk-backing-key-rotation-enabled"],
            securityhub_controls: &["KMS.4"],
            ..Triggers::NONE
        },
        permissions: &[
            "kms:ListResourceTags",
            "kms:DescribeKey",
            "kms:GetKeyRotationStatus",
            ENABLE,
        ],
        undo_permissions: &[DISABLE],
        default_mode: Mode::Enforce,
    };
    type Target = Key;
    type Clients = aws_sdk_kms::Client;

    fn clients(&self, member: &Member) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(member.config())
    }

    fn configure(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get(PERIOD_VAR).filter(|v| !v.trim().is_empty()) {
            self.period_days = Some(
                v.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|d| (90..=2560).contains(d))
                    .ok_or(ConfigError {
                        var: PERIOD_VAR,
                        reason: format!("`{v}` is not a number of days from 90 to 2560"),
                    })?,
            );
        }
        Ok(())
    }

    fn target(&self, f: &Finding) -> Result<Key, NotApplicable> {
        let r = quell::remediation::resource_in(
            f,
            &ResourceKind::KmsKey,
            validate::kms_key_id,
            "KMS key",
        )?;
        Ok(Key::new(r.id.clone(), f.account.clone()))
    }

    fn describe(&self, t: &Key) -> String {
        format!("KMS key {}", t.id)
    }

    async fn tags(&self, kms: &aws_sdk_kms::Client, t: &Key) -> Result<Tags, AwsError> {
        // A key holds at most 50 tags, and one page is 50.
        let out = kms
            .list_resource_tags()
            .key_id(&t.id)
            .send()
            .await
            .aws(|| format!("could not read the tags of KMS key {}", t.id))?;
        Ok(out
            .tags()
            .iter()
            .map(|tag| (tag.tag_key().to_string(), tag.tag_value().to_string()))
            .collect())
    }

    async fn plan(&self, kms: &aws_sdk_kms::Client, t: &Key) -> Result<Vec<Step>, AwsError> {
        let why_not = match t.why_not.get() {
            Some(w) => w,
            None => {
                let out = kms
                    .describe_key()
                    .key_id(&t.id)
                    .send()
                    .await
                    .aws(|| format!("could not describe KMS key {}", t.id))?;
                let w = out
                    .key_metadata()
                    .and_then(cannot_rotate)
                    .unwrap_or_default();
                t.why_not.set(w.clone());
                w
            }
        };
        let step = || {
            Step::new(
                ENABLE,
                format!(
                    "key={} turn automatic rotation on (every {} days)",
                    t.id,
                    self.period_days.unwrap_or(365)
                ),
            )
        };
        if !why_not.is_empty() {
            // Its rotation status is not even readable for some (asymmetric keys): planned.
            return Ok(vec![step()]);
        }
        let status = kms
            .get_key_rotation_status()
            .key_id(&t.id)
            .send()
            .await
            .aws(|| format!("could not read the rotation status of KMS key {}", t.id))?;
        Ok(if status.key_rotation_enabled() {
            Vec::new()
        } else {
            vec![step()]
        })
    }

    fn plan_only(&self, t: &Key) -> Option<String> {
        t.why_not.get().filter(|w| !w.is_empty()).map(|w| {
            format!(
                "KMS key {} cannot rotate automatically: {w}. A person rotates it (a new key, and its alias moved to it)",
                t.id
            )
        })
    }

    async fn prior(
        &self,
        _kms: &aws_sdk_kms::Client,
        t: &Key,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        // `plan` read it off: apply only runs on a key whose rotation was off.
        Ok(Some(
            serde_json::json!({"key": t.id, "account": t.account, "rotation": false}),
        ))
    }

    async fn restore(
        &self,
        kms: &aws_sdk_kms::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let key = quell::remediation::prior_field(prior, "key", validate::kms_key_id)?;
        if prior["rotation"] != serde_json::Value::Bool(false) {
            return Err(quell::remediation::invalid_prior(
                "the recorded `rotation` is not false: nothing of quell's to undo",
            ));
        }
        // Rotation someone turned off since is left as it is.
        let now = kms
            .get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .aws(|| format!("could not read the rotation status of KMS key {key}"))?;
        if !now.key_rotation_enabled() {
            return Ok(vec![Step::new(
                DISABLE,
                format!("key={key} rotation is off already: left as it is"),
            )]);
        }
        kms.disable_key_rotation()
            .key_id(&key)
            .send()
            .await
            .aws(|| format!("could not turn the rotation of KMS key {key} off again"))?;
        Ok(vec![Step::new(
            DISABLE,
            format!("key={key} automatic rotation off, as it was"),
        )])
    }

    async fn apply(
        &self,
        kms: &aws_sdk_kms::Client,
        t: &Key,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        kms.enable_key_rotation()
            .key_id(&t.id)
            .set_rotation_period_in_days(self.period_days)
            .send()
            .await
            .aws(|| format!("could not turn the rotation of KMS key {} on", t.id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
