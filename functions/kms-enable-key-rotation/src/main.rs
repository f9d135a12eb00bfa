#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(kms_enable_key_rotation::KmsEnableKeyRotation::default()).await
}
