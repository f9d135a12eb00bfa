#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(iam_restrict_role_trust::IamRestrictRoleTrust::default()).await
}
