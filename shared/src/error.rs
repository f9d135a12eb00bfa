//! Errors that keep their source and the AWS error code: AccessDenied and throttling must lead
//! to different outcomes.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::ConfigError;
use crate::event::EventError;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A failed AWS call: what was being done, the service's error code, and whether a retry can help.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {}", self.describe())]
pub struct AwsError {
    pub action: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    pub retryable: bool,
    #[source]
    source: Option<BoxError>,
}

/// Error codes after which the same call may succeed later.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "IDPCommunicationError",
    // Credentials that expired mid-flight: the retry assumes the role afresh.
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];

impl AwsError {
    /// The same failure reported for another action (one batch call that failed for many
    /// findings): code, message, status and retryability kept; the source stays with the first.
    pub fn copy_for(&self, action: String) -> AwsError {
        AwsError {
            action,
            code: self.code.clone(),
            message: self.message.clone(),
            status: self.status,
            retryable: self.retryable,
            source: None,
        }
    }
    pub fn from_sdk<E, R>(action: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
        SdkError<E, R>: StdError + Send + Sync + 'static,
    {
        let action = action.into();
        let (code, message, status, retryable) = match &err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().map(str::to_string);
                let status = raw_status(se.raw());
                let retryable = code
                    .as_deref()
                    .map(|c| RETRYABLE_CODES.contains(&c))
                    .unwrap_or(false)
                    || status.map(|s| s >= 500 || s == 429).unwrap_or(false);
                (
                    code,
                    se.err().message().map(str::to_string),
                    status,
                    retryable,
                )
            }
            SdkError::TimeoutError(_) => (Some("Timeout".into()), None, None, true),
            SdkError::DispatchFailure(_) => (Some("DispatchFailure".into()), None, None, true),
            SdkError::ResponseError(_) => (Some("ResponseError".into()), None, None, true),
            SdkError::ConstructionFailure(_) => {
                (Some("ConstructionFailure".into()), None, None, false)
            }
            _ => (None, None, None, false),
        };
        AwsError {
            action,
            code,
            message,
            status,
            retryable,
            source: Some(Box::new(err)),
        }
    }

    /// An error that did not come from the SDK but is reported the same way.
    pub fn other(
        action: impl Into<String>,
        code: &str,
        message: impl Into<String>,
        retryable: bool,
    ) -> Self {
        AwsError {
            action: action.into(),
            code: Some(code.to_string()),
            message: Some(message.into()),
            status: None,
            retryable,
            source: None,
        }
    }

    fn describe(&self) -> String {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => match &self.source {
                Some(s) => error_chain(s.as_ref()),
                None => "unknown error".into(),
            },
        }
    }
}

fn raw_status<R: std::fmt::Debug + 'static>(raw: &R) -> Option<u16> {
    // `R` is the HTTP response for every generated client; it is generic here, so read the
    // status through the typed accessor when it is one.
    let any: &dyn std::any::Any = raw as &dyn std::any::Any;
    any.downcast_ref::<aws_smithy_runtime_api::http::Response>()
        .map(|r| r.status().as_u16())
}

/// The whole chain of an error, `outer: inner: innermost`.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// Anything that stops a finding from being handled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Event(#[from] EventError),
    /// The fix was applied but the re-read state does not show it.
    #[error("the fix did not hold: {0}")]
    NotVerified(String),
}

impl Error {
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Aws(e) if e.retryable)
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws(e) => e.code.as_deref(),
            Error::Config(_) => Some("InvalidConfiguration"),
            Error::Event(_) => Some("InvalidEvent"),
            Error::NotVerified(_) => Some("NotVerified"),
        }
    }
}

/// `.aws("could not …")` on an SDK result: keeps the code and the source.
pub trait AwsResultExt<T> {
    fn aws(self, action: impl FnOnce() -> String) -> Result<T, AwsError>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
    SdkError<E, R>: StdError + Send + Sync + 'static,
{
    fn aws(self, action: impl FnOnce() -> String) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(action(), e))
    }
}
