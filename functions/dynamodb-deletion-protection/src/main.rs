#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(dynamodb_deletion_protection::DynamodbDeletionProtection).await
}
