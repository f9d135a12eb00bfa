#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(s3_account_public_access_block::S3AccountPublicAccessBlock).await
}
