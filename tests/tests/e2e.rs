//! The end-to-end suites, one module per file of this directory, in one test binary: the
//! emulator with IAM in force, the real clients, and the state read back. Each test starts its own
//! emulator, so the suites share nothing but the process.

quell_tests::suites!("e2e":
    access,
    alarms,
    batching,
    burst,
    deploy,
    ec2_isolate,
    escalate,
    faults,
    iam,
    lambda_binary,
    lambda_contain,
    posture,
    posture_data,
    posture_ec2,
    posture_exposure,
    posture_s3,
    s3_block_public_access,
    securityhub_v2,
    state,
    tamper,
    trust,
);
