#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    quell::runtime::run(s3_restrict_bucket_policy::S3RestrictBucketPolicy::default()).await
}
