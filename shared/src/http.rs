//! One HTTPS connector for every AWS client a function makes.
//!
//! The SDK's default HTTP client builds a new connector, and with it a new rustls root store from
//! every certificate of the host's trust store, each time a client is constructed (to "validate"
//! it, and the connector is thrown away) and again for each distinct timeout setting at the first
//! request. quell constructs a client per member session and per Security Hub Region: measured
//! with callgrind on s3-block-public-access's release binary, one cold invocation built the root
//! store 9 times, 62% of all the instructions the process ran (BENCHMARKS.md). Here the connector
//! is built once per process, and every client shares it, and its connection pool.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// An [`HttpClient`] that hands out one connector, whatever the client's settings.
///
/// Every client of a quell function takes its timeouts from one `SdkConfig` ([`crate::runtime::timeouts`]),
/// so the connector's connect timeout is that one; the SDK enforces the attempt and operation
/// timeouts itself, above the connector.
#[derive(Debug, Clone)]
struct OneConnector {
    connector: Arc<OnceLock<SharedHttpConnector>>,
    connect_timeout: Duration,
}

impl HttpClient for OneConnector {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        // Waits for the start-up thread if it is still reading the trust store; builds the
        // connector here if that thread could not be started.
        self.connector
            .get_or_init(|| connector(self.connect_timeout))
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

fn connector(connect_timeout: Duration) -> SharedHttpConnector {
    SharedHttpConnector::new(
        Connector::builder()
            .connector_settings(
                HttpConnectorSettings::builder()
                    .connect_timeout(connect_timeout)
                    .build(),
            )
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .build(),
    )
}

/// The HTTPS client of a function process: rustls with aws-lc, the host's trust store (SSL_CERT_FILE
/// / SSL_CERT_DIR as the SDK reads them), TCP_NODELAY, and `connect_timeout`.
///
/// Reading and parsing the trust store is most of a cold start's own work (a PEM bundle of some
/// 140 certificates, decoded in constant time: 9.6 of the 23 million instructions of
/// s3-block-public-access's first invocation). It is done once, on a thread of its own started
/// here, while the process loads its configuration and polls for the first event; the first AWS
/// call waits for it if it is not done.
pub fn https_client(connect_timeout: Duration) -> SharedHttpClient {
    let connector = Arc::new(OnceLock::new());
    let building = connector.clone();
    let started = std::thread::Builder::new()
        .name("quell-trust-store".into())
        .spawn(move || {
            building.get_or_init(|| self::connector(connect_timeout));
        });
    if let Err(e) = started {
        tracing::debug!(error = %e, "the trust store is read at the first call");
    }
    SharedHttpClient::new(OneConnector {
        connector,
        connect_timeout,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_config::{BehaviorVersion, Region};
    use aws_credential_types::Credentials;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    const IDENTITY: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/t</Arn><UserId>AIDA</UserId><Account>111111111111</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

    /// An HTTP/1.1 server on 127.0.0.1 that keeps connections alive, answers every request with
    /// STS's GetCallerIdentity, and counts the connections it accepts.
    async fn sts_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    loop {
                        let mut len = 0usize;
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if h.trim_end().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0u8; len];
                        if r.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                            IDENTITY.len()
                        );
                        if w.write_all(head.as_bytes()).await.is_err()
                            || w.write_all(IDENTITY.as_bytes()).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), accepted)
    }

    fn credentials() -> Credentials {
        Credentials::new("AKIDLOCALTEST", "local-secret", None, None, "test")
    }

    fn config(
        client: aws_smithy_runtime_api::client::http::SharedHttpClient,
        endpoint: &str,
    ) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(credentials()),
            )
            .http_client(client)
            .timeout_config(crate::runtime::timeouts(60))
            .build()
    }

    /// The clients quell makes from one configuration (a session's, another Region's) share one
    /// connection: one connector, one pool. The SDK's default client gives each its own.
    #[tokio::test]
    async fn every_client_of_a_process_shares_one_connection() {
        let (endpoint, accepted) = sts_server().await;
        let base = config(
            super::https_client(std::time::Duration::from_secs(3)),
            &endpoint,
        );
        let other_region = base.to_builder().region(Region::new("eu-west-1")).build();
        for conf in [&base, &base, &other_region] {
            let id = aws_sdk_sts::Client::new(conf)
                .get_caller_identity()
                .send()
                .await
                .expect("the local server answers");
            assert_eq!(id.account(), Some("111111111111"));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "three clients, one connection"
        );
    }

    /// The same calls through the SDK's default HTTP client open a connection per client: what
    /// the test above would see without quell's connector (it proves the count can fail).
    #[tokio::test]
    async fn the_sdks_default_client_opens_one_connection_per_client() {
        let (endpoint, accepted) = sts_server().await;
        let default = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials())
            .load()
            .await;
        for _ in 0..3 {
            aws_sdk_sts::Client::new(&default)
                .get_caller_identity()
                .send()
                .await
                .expect("the local server answers");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
