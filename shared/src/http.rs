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
