//! The quell CLI's library: the registry of remediations, routing by their generated rules, and
//! the generated templates and documents.

pub mod registry;
pub mod template;

use quell::runtime::Handler;
use serde_json::Value;

/// The handlers whose generated EventBridge rules match `event`, as the deployed rules would.
pub fn route<'a>(handlers: &'a [Box<dyn Handler>], event: &Value) -> Vec<&'a dyn Handler> {
    handlers
        .iter()
        .filter(|h| {
            quell::routing::rules(&h.spec())
                .iter()
                .any(|r| quell::routing::matches(&r.pattern, event))
        })
        .map(|h| h.as_ref())
        .collect()
}
