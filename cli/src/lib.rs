//! The quell CLI's library: the registry of remediations, routing by their generated rules, and
//! the generated templates and documents.

pub mod ops;
pub mod registry;
pub mod run;
pub mod sweep;
pub mod template;

use quell::runtime::Handler;
use serde_json::Value;

/// The action targets a local replay routes by: quell's, in the account and region the event
/// was delivered in (where the central stack's action targets are).
pub fn local_action_targets(event: &Value) -> quell::routing::LocalActionTargets {
    let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
    quell::routing::LocalActionTargets {
        partition: quell::finding::validate::partition_of(text("region")).to_string(),
        region: text("region").to_string(),
        account: text("account").to_string(),
    }
}

/// The handlers whose generated EventBridge rules match `event`, as the deployed rules would.
pub fn route<'a>(handlers: &'a [Box<dyn Handler>], event: &Value) -> Vec<&'a dyn Handler> {
    route_indices(handlers, event)
        .into_iter()
        .map(|i| handlers[i].as_ref())
        .collect()
}

/// The places in `handlers` of those whose generated rules match `event`.
pub fn route_indices(handlers: &[Box<dyn Handler>], event: &Value) -> Vec<usize> {
    let actions = local_action_targets(event);
    handlers
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            quell::routing::rules(&h.spec(), &actions)
                .iter()
                .any(|r| quell::routing::matches(&r.pattern, event))
        })
        .map(|(i, _)| i)
        .collect()
}
