//! quell: closes the loop on AWS security findings.
//!
//! An EventBridge event is parsed into [`finding::Finding`]s ([`event`]), each routed to a
//! [`remediation::Remediation`] that assumes a role in the member account ([`member`]), fixes the
//! problem and verifies the fix, then records the [`outcome::Outcome`] on Security Hub ([`hub`])
//! and SNS ([`notify`]). [`runtime::run`] is a function's whole `main`.

pub mod cis;
pub mod config;
pub mod error;
pub mod event;
pub mod finding;
pub mod http;
pub mod hub;
pub mod member;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod policy;
pub mod privilege;
pub mod remediation;
pub mod routing;
pub mod runtime;
pub mod state;

pub use config::{Config, Mode};
pub use error::{AwsError, AwsResultExt, Error};
pub use finding::{Finding, Resource, ResourceKind, Severity, Source};
pub use member::Member;
pub use outcome::{Outcome, Step};
pub use remediation::{NotApplicable, Remediation, Spec, Tags, Triggers};
