//! quell's end-to-end harness. Tests and the demo use the same pieces:
//! - [`emulator`]: moto's server on 127.0.0.1 with quell's small extension (tests/README.md says
//!   what it adds and why);
//! - [`runtime_api`]: a Lambda Runtime API server, to run a function's real binary;
//! - [`seed`]: real problems in member accounts, and reading back their state;
//! - [`events`]: the sample events in events/, retargeted at a test's own resources.

// A test harness: a failed seed or read is a failed test, so it panics with what failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod emulator;
pub mod events;
pub mod runtime_api;
pub mod seed;

pub use emulator::{Emulator, CENTRAL, MEMBER, REGION};

/// A function context against the emulator, with the given configuration.
pub fn context(emu: &Emulator, config: quell::Config, function: &str) -> quell::runtime::Context {
    quell::runtime::Context::new(&emu.central_config(), config, function)
}
