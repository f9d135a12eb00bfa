#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(sqs_encrypt_queue::SqsEncryptQueue).await
}
