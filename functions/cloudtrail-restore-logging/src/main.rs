#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(cloudtrail_restore_logging::CloudtrailRestoreLogging).await
}
