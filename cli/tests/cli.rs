//! The CLI's suites (templates and routing, trust, replay, operations, the deployment guide), one
//! module per file of this directory, in one test binary.

quell_tests::suites!("cli":
    deploy_doc,
    generated,
    ops,
    replay,
    trust,
);
