#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ec2_close_default_sg::Ec2CloseDefaultSg).await
}
