#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(sns_encrypt_topic::SnsEncryptTopic::default()).await
}
