#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ec2_require_imdsv2::Ec2RequireImdsv2::default()).await
}
