#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ssm_document_private::SsmDocumentPrivate).await
}
