#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(iam_password_policy::IamPasswordPolicy::default()).await
}
