#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ec2_subnet_no_public_ip::Ec2SubnetNoPublicIp).await
}
