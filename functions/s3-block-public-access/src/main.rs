#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(s3_block_public_access::S3BlockPublicAccess).await
}
