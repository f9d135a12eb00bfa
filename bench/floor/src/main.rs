//! The floor of a Rust Lambda function's cold start on this machine: lambda_runtime and tokio alone,
//! built with the same profile and flags as quell's functions. `make bench` starts it alternately
//! with each function under the same Runtime API, so their init and peak memory compare run by run.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<Value, Error>(Value::Object(Default::default()))
    }))
    .await
}
