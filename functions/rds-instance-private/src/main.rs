#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(rds_instance_private::RdsInstancePrivate).await
}
