#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(iam_revoke_role_sessions::IamRevokeRoleSessions::default()).await
}
