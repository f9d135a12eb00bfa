#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(ebs_snapshot_private::EbsSnapshotPrivate::default()).await
}
