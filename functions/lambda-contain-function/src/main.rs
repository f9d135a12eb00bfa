#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(lambda_contain_function::LambdaContainFunction::default()).await
}
