#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(iam_disable_access_key::IamDisableAccessKey::default()).await
}
