#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(guardduty_escalate::GuarddutyEscalate).await
}
