//! The local AWS emulator: moto's server with quell's extension (tests/emulator/quell_moto.py),
//! started on 127.0.0.1 on a free port and stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// The account the emulator gives plain credentials: quell's central security-tooling account.
pub const CENTRAL: &str = "123456789012";
/// The default member account of the tests and the demo.
pub const MEMBER: &str = "111111111111";
pub const REGION: &str = "us-east-1";

/// The project's root (where Cargo.toml of the workspace is).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub struct Emulator {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    /// With IAM in force: the central account's test operator (an IAM user with an access key and
    /// an allow-all policy), whose credentials the central configuration uses.
    operator: Option<Credentials>,
    /// Accounts whose `quell-test-admin` role exists (IAM in force needs it to exist).
    admins: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Whether the log starts with the known call [`Emulator::clear_calls`] makes.
    marked: std::sync::atomic::AtomicBool,
}

/// The policy of the test's own identities (the seeding admin, the central operator): everything.
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Call {
    #[serde(default)]
    pub fault: Option<String>,
    pub account: String,
    pub region: String,
    pub service: String,
    pub action: String,
    pub method: String,
    pub path: String,
    /// The emulator's own time for the call, in ms (`make bench` sets a cold start beside it).
    #[serde(default)]
    pub ms: Option<f64>,
}

impl Emulator {
    /// Starts the emulator from the project's virtual environment (`make setup` creates it).
    pub fn start() -> Result<Emulator, String> {
        let root = project_root();
        let python = std::env::var("QUELL_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/bin/python"));
        if !python.exists() {
            return Err(format!(
                "the emulator's Python is missing at {}: run `make setup` (make test and make demo do)",
                python.display()
            ));
        }
        let mut child = Command::new(&python)
            .arg(root.join("tests/emulator/quell_moto.py"))
            .args(["--port", "0"])
            .env("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", "false")
            .env_remove("MOTO_ACCOUNT_ID")
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("QUELL_MOTO_DEBUG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| {
                format!(
                    "could not start the emulator with {}: {e}",
                    python.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("the emulator has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("could not read the emulator's ready line: {e}"))?;
        let port: u16 = line
            .trim()
            .strip_prefix("QUELL_MOTO_READY ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                let _ = child.kill();
                format!("the emulator did not start (it said `{}`)", line.trim())
            })?;
        Ok(Emulator {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            operator: None,
            admins: Default::default(),
            marked: Default::default(),
        })
    }

    /// The emulator with IAM in force (moto's evaluation of identity policies): every call must
    /// be signed by a known identity and allowed by its policies. The central configuration is a
    /// test operator's (allow-all); member roles are judged by the policies attached to them
    /// (`seed::member_role` attaches the generated ones). What moto does not evaluate is listed in
    /// tests/README.md.
    pub async fn start_enforced() -> Result<Emulator, String> {
        let mut emu = Emulator::start()?;
        let iam = aws_sdk_iam::Client::new(&emu.central_config());
        let user = "quell-test-operator";
        iam.create_user()
            .user_name(user)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        iam.put_user_policy()
            .user_name(user)
            .policy_name("allow-all")
            .policy_document(ALLOW_ALL)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?
            .access_key
            .ok_or("no access key")?;
        emu.operator = Some(Credentials::new(
            key.access_key_id,
            key.secret_access_key,
            None,
            None,
            "operator",
        ));
        emu.enforce(true).await;
        Ok(emu)
    }

    /// Whether IAM is in force from the next call on (moto's reset-auth).
    async fn enforce(&self, on: bool) {
        let body = if on { "0" } else { "1000000000" };
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to the emulator");
        let req = format!(
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("reset-auth");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        assert!(
            String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"),
            "the emulator refused reset-auth: {}",
            String::from_utf8_lossy(&buf)
        );
    }

    /// The central credentials (access key id, secret), for a process started by a test.
    pub fn central_keys(&self) -> (String, String) {
        match &self.operator {
            Some(c) => (
                c.access_key_id().to_string(),
                c.secret_access_key().to_string(),
            ),
            None => ("central".into(), "central-secret".into()),
        }
    }

    /// Whether IAM is in force.
    pub fn enforced(&self) -> bool {
        self.operator.is_some()
    }

    /// An SDK configuration for the central account (the emulator's default account).
    pub fn central_config(&self) -> SdkConfig {
        sdk_config(
            &self.endpoint,
            self.operator.clone().unwrap_or_else(|| {
                Credentials::new("central", "central-secret", None, None, "static")
            }),
        )
    }

    /// An SDK configuration acting in `account`, through an AssumeRole of a seeding role there,
    /// as the emulator maps a role's credentials to the role's account. With IAM in force, the
    /// role is created first (allow-all), with IAM briefly off as an account's bootstrap is.
    pub async fn account_config(&self, account: &str) -> SdkConfig {
        if self.enforced()
            && self
                .admins
                .lock()
                .map(|a| !a.contains(account))
                .unwrap_or(true)
        {
            self.enforce(false).await;
            let boot = self.assume_admin(account).await;
            let trust = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{CENTRAL}:root"}},"Action":"sts:AssumeRole"}}]}}"#
            );
            let iam = aws_sdk_iam::Client::new(&boot);
            let _ = iam
                .create_role()
                .role_name("quell-test-admin")
                .assume_role_policy_document(trust)
                .send()
                .await;
            iam.put_role_policy()
                .role_name("quell-test-admin")
                .policy_name("allow-all")
                .policy_document(ALLOW_ALL)
                .send()
                .await
                .expect("the seeding role's policy");
            if let Ok(mut a) = self.admins.lock() {
                a.insert(account.to_string());
            }
            self.enforce(true).await;
        }
        self.assume_admin(account).await
    }

    async fn assume_admin(&self, account: &str) -> SdkConfig {
        let sts = aws_sdk_sts::Client::new(&self.central_config());
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/quell-test-admin"))
            .role_session_name("quell-test-seed")
            .send()
            .await
            .expect("assume the seeding role");
        let c = out.credentials.expect("credentials");
        sdk_config(
            &self.endpoint,
            Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "seed",
            ),
        )
    }

    /// Every call the emulator has served since the last [`Emulator::clear_calls`]. An
    /// unreachable or unreadable log fails the test: it must never pass for "no call". After
    /// `clear_calls`, the log must first show the known call `clear_calls` made (then left out of
    /// the answer), so that an empty answer means no call, not a log that stopped recording.
    pub async fn calls(&self) -> Vec<Call> {
        let body = http(self.port, "GET", "/_quell/calls").await;
        let mut calls: Vec<Call> = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("the emulator's call log is unreadable ({e}): `{body}`"));
        if self.marked.load(std::sync::atomic::Ordering::SeqCst) {
            let first = calls.first();
            assert!(
                first.is_some_and(|c| c.service == "sts"
                    && c.action == "GetCallerIdentity"
                    && c.account == CENTRAL),
                "the call log did not record the known call made when it was cleared: {calls:?}"
            );
            calls.remove(0);
        }
        calls
    }

    /// Every message published to SNS topics, as `{"topic", "message", "subject"}`.
    pub async fn sns_messages(&self) -> Vec<serde_json::Value> {
        let body = http(self.port, "GET", "/_quell/sns-messages").await;
        serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!("the emulator's SNS messages are unreadable ({e}): `{body}`")
        })
    }

    /// Makes matching calls fail (see tests/emulator/quell_moto.py): each fault is
    /// `{"service", "action", "account"?, "skip"?, "count", "status", "code", "delay"?}`.
    pub async fn inject(&self, faults: serde_json::Value) {
        self.post("/_quell/faults", &faults.to_string()).await;
    }

    /// Security Hub imports made from now on stay invisible to reads and updates for `seconds`,
    /// as AWS's are for a while.
    pub async fn delay_hub_imports(&self, seconds: f64) {
        self.post(
            "/_quell/hub-import-delay",
            &serde_json::json!({ "seconds": seconds }).to_string(),
        )
        .await;
    }

    pub async fn clear_faults(&self) {
        http(self.port, "DELETE", "/_quell/faults").await;
    }

    async fn post(&self, path: &str, body: &str) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect to the emulator");
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes())
            .await
            .expect("post to the emulator");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        assert!(
            String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 204"),
            "the emulator refused {path}"
        );
    }

    /// Management events of `account` that the emulator's LookupEvents answers from.
    pub async fn seed_trail_events(
        &self,
        account: &str,
        region: &str,
        events: Vec<serde_json::Value>,
    ) {
        let body =
            serde_json::json!({"account": account, "region": region, "events": events}).to_string();
        self.post("/_quell/cloudtrail-events", &body).await;
    }

    /// Findings of an Access Analyzer analyzer, which the emulator's UpdateFindings and GetFinding
    /// answer from: each `{"id", "resource", "resourceType", "principal"?, "isPublic"?}`.
    pub async fn seed_analyzer_findings(&self, analyzer_arn: &str, findings: serde_json::Value) {
        let body =
            serde_json::json!({"analyzerArn": analyzer_arn, "findings": findings}).to_string();
        self.post("/_quell/access-analyzer-findings", &body).await;
    }

    /// Evaluations of `account`'s AWS Config rules in `region`, which the emulator's aggregated
    /// compliance (DescribeAggregateComplianceByConfigRules and
    /// GetAggregateComplianceDetailsByConfigRule) answers from, for the aggregators that take
    /// that account and Region in: each `{"rule", "resourceType", "resourceId", "compliance":
    /// "COMPLIANT" | "NON_COMPLIANT", "annotation"?}`. A later evaluation of the same rule and
    /// resource replaces the earlier.
    pub async fn seed_config_evaluations(
        &self,
        account: &str,
        region: &str,
        evaluations: serde_json::Value,
    ) {
        let body =
            serde_json::json!({"account": account, "region": region, "evaluations": evaluations})
                .to_string();
        self.post("/_quell/config-evaluations", &body).await;
    }

    /// Findings of the new Security Hub (OCSF documents, as its integrations produce them), which
    /// the emulator's GetFindingsV2 and BatchUpdateFindingsV2 answer from. A later finding with
    /// the same `metadata.uid` replaces the earlier.
    pub async fn seed_hub_v2(&self, findings: serde_json::Value) {
        let body = serde_json::json!({ "findings": findings }).to_string();
        self.post("/_quell/securityhub-v2-findings", &body).await;
    }

    /// Time passing for a user's access key in `account`: it was created `created_days_ago`
    /// days ago and last used `last_used_days_ago` days ago (`None`: never used), as
    /// ListAccessKeys and GetAccessKeyLastUsed then read. The emulator refuses what time could
    /// not do (a key made younger, a use before the key existed or in the future).
    pub async fn age_access_key(
        &self,
        account: &str,
        access_key_id: &str,
        created_days_ago: i64,
        last_used_days_ago: Option<i64>,
    ) {
        use aws_smithy_types::{date_time::Format, DateTime};
        let now = DateTime::from(std::time::SystemTime::now()).secs();
        let ago = |days: i64| {
            DateTime::from_secs(now - days * 86_400)
                .fmt(Format::DateTime)
                .expect("an ISO 8601 date")
        };
        let body = serde_json::json!({
            "account": account,
            "accessKeyId": access_key_id,
            "createDate": ago(created_days_ago),
            "lastUsed": last_used_days_ago.map(ago),
        })
        .to_string();
        self.post("/_quell/iam-key-age", &body).await;
    }

    /// Time passing for a user's console password in `account`: its login profile was created
    /// `created_days_ago` days ago (`None`: left as it is; moto dates a profile at its user's
    /// creation, so the user gets as old) and the password last used `last_used_days_ago` days
    /// ago (`None`: never used), as GetLoginProfile and GetUser's PasswordLastUsed then read. The
    /// emulator refuses what time could not do (a profile made younger, a use before it existed
    /// or in the future, a recorded use taken back) and a user without a login profile.
    pub async fn age_password(
        &self,
        account: &str,
        user_name: &str,
        created_days_ago: Option<i64>,
        last_used_days_ago: Option<i64>,
    ) {
        use aws_smithy_types::{date_time::Format, DateTime};
        let now = DateTime::from(std::time::SystemTime::now()).secs();
        let ago = |days: i64| {
            DateTime::from_secs(now - days * 86_400)
                .fmt(Format::DateTime)
                .expect("an ISO 8601 date")
        };
        let body = serde_json::json!({
            "account": account,
            "userName": user_name,
            "loginProfileCreate": created_days_ago.map(ago),
            "passwordLastUsed": last_used_days_ago.map(ago),
        })
        .to_string();
        self.post("/_quell/iam-password-age", &body).await;
    }

    /// Clears the call log, then makes one known call (the central account's
    /// GetCallerIdentity), which [`Emulator::calls`] requires to see first and leaves out.
    pub async fn clear_calls(&self) {
        http(self.port, "DELETE", "/_quell/calls").await;
        aws_sdk_sts::Client::new(&self.central_config())
            .get_caller_identity()
            .send()
            .await
            .expect("the known call after clearing the log");
        self.marked.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sdk_config(endpoint: &str, creds: Credentials) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// A bare HTTP/1.1 request to the emulator's own endpoints.
async fn http(port: u16, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
