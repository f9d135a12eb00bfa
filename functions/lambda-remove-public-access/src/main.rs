#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(lambda_remove_public_access::LambdaRemovePublicAccess).await
}
