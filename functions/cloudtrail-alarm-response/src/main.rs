#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(cloudtrail_alarm_response::CloudtrailAlarmResponse::default()).await
}
