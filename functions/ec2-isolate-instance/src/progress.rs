//! What one isolation did and what failed, step by step: a failure is recorded and the next step
//! is still attempted, and the outcome names them all.

use quell::AwsError;

/// The code of an isolation that left an interface in the allow-all untracking group.
pub const LEFT_OPEN: &str = "InterfaceLeftOpen";
/// The code of a failure that came with none.
const INCOMPLETE: &str = "IncompleteIsolation";

#[derive(Debug, Default)]
pub struct Progress {
    done: Vec<String>,
    failed: Vec<Failure>,
    /// Interfaces left in the allow-all untracking group: said first, and never retried quietly.
    open: Vec<String>,
}

#[derive(Debug)]
struct Failure {
    text: String,
    code: Option<String>,
    /// A retry of the invocation plans this step again and may then succeed.
    retry_helps: bool,
}

impl Progress {
    pub fn done(&mut self, what: impl Into<String>) {
        self.done.push(what.into());
    }

    /// A step that failed; `redone` when a retry plans it again (its state still shows it).
    pub fn failed(&mut self, e: &AwsError, redone: bool) {
        self.failed.push(Failure {
            text: e.to_string(),
            code: e.code.clone(),
            retry_helps: redone && e.retryable,
        });
    }

    /// As [`Progress::failed`], with what the failure means for the instance.
    pub fn failed_so(&mut self, e: &AwsError, redone: bool, so: &str) {
        self.failed(e, redone);
        if let Some(f) = self.failed.last_mut() {
            f.text = format!("{} ({so})", f.text);
        }
    }

    /// An interface left in the group that allows all traffic: a person must move it now.
    pub fn open(&mut self, what: String) {
        self.open.push(what);
    }

    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.open.is_empty()
    }

    /// `Ok` when every step succeeded; otherwise one error that names every failure, then what
    /// was done. Retryable only when every failure is retryable and a retry would take that step
    /// again: a failure a retry would not see (an untracking step, once the interface is
    /// isolated) must reach a person now, as must an interface left open.
    pub fn into_result(self, instance: &str) -> Result<(), AwsError> {
        if self.is_clean() {
            return Ok(());
        }
        let retryable = self.open.is_empty() && self.failed.iter().all(|f| f.retry_helps);
        let code = if self.open.is_empty() {
            self.failed
                .iter()
                .find_map(|f| f.code.clone())
                .unwrap_or_else(|| INCOMPLETE.to_string())
        } else {
            LEFT_OPEN.to_string()
        };
        let failures: Vec<&str> = self
            .open
            .iter()
            .map(String::as_str)
            .chain(self.failed.iter().map(|f| f.text.as_str()))
            .collect();
        let done = if self.done.is_empty() {
            "nothing".to_string()
        } else {
            self.done.join(", ")
        };
        Err(AwsError::other(
            format!("could not isolate {instance} completely"),
            &code,
            format!(
                "{} failed: {}. Done: {done}",
                if failures.len() == 1 {
                    "1 step".to_string()
                } else {
                    format!("{} steps", failures.len())
                },
                failures.join("; "),
            ),
            retryable,
        ))
    }
}
