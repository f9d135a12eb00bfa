#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(s3_enable_default_encryption::S3EnableDefaultEncryption::default()).await
}
