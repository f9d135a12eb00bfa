#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ec2_isolate_instance::Ec2IsolateInstance::default()).await
}
