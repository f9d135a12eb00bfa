#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ec2_revoke_open_ingress::Ec2RevokeOpenIngress::default()).await
}
