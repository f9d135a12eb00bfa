#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(s3_require_tls::S3RequireTls).await
}
