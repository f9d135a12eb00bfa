//! Every remediation quell ships. Templates, policies, docs and routing tests read this list; a
//! remediation that is not here is not deployed.

use quell::remediation::Spec;
use quell::runtime::Handler;

/// Each remediation, as a handler the replay can run in-process with the Lambda's code.
pub fn handlers() -> Vec<Box<dyn Handler>> {
    vec![Box::new(s3_block_public_access::S3BlockPublicAccess)]
}

pub fn specs() -> Vec<Spec> {
    handlers().iter().map(|h| h.spec()).collect()
}

/// `s3-block-public-access` → `S3BlockPublicAccess`: CloudFormation logical ids.
pub fn logical_id(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
