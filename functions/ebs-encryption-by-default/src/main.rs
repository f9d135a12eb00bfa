#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ebs_encryption_by_default::EbsEncryptionByDefault).await
}
