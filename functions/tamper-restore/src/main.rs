#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(tamper_restore::TamperRestore::default()).await
}
