//! The event parser under arbitrary and mutated real events, bounded in count and time: it never
//! panics, and every rejection is an error that says what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use quell::event::Envelope;
use serde_json::Value;

/// xorshift64*: deterministic, so a failure replays with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn events() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut v: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, e)| e).collect()
}

/// Every path to a value inside `v`.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                at.push(k.clone());
                paths(c, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(i.to_string());
                paths(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(p)?,
            Value::Array(a) => a.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

const NASTY: &[&str] = &[
    "",
    "0",
    "-1",
    "1e309",
    "../../etc/passwd",
    "arn:aws:s3:::",
    "ÿ\u{0}\u{7f}",
    "11111111111a",
    "us-east-1\n",
    "*",
    "\"",
    "🦀",
];

fn mutate(rng: &mut Rng, base: &Value) -> Value {
    let mut v = base.clone();
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    for _ in 0..=rng.below(4) {
        let path = all[rng.below(all.len())].clone();
        let replacement = match rng.below(8) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::from(rng.next() as i64),
            3 => Value::from(f64::from(rng.below(1000) as u32) / 7.0),
            4 => Value::String(NASTY[rng.below(NASTY.len())].to_string()),
            5 => Value::Array(vec![]),
            6 => Value::Object(Default::default()),
            _ => Value::String("x".repeat(rng.below(5000))),
        };
        if path.is_empty() {
            v = replacement;
        } else if rng.below(5) == 0 {
            // Remove the field instead.
            let (last, parent) = path.split_last().unwrap();
            if let Some(Value::Object(m)) = at_mut(&mut v, parent) {
                m.remove(last);
            }
        } else if let Some(slot) = at_mut(&mut v, &path) {
            *slot = replacement;
        }
    }
    v
}

/// The validators the remediations use before a resource reaches an ARN or an API call.
fn resource_is_valid(r: &quell::finding::Resource) -> bool {
    use quell::finding::validate as v;
    use quell::finding::ResourceKind as K;
    let id = match &r.kind {
        K::S3Bucket => v::bucket_name(&r.id),
        K::Ec2Instance => v::instance_id(&r.id),
        K::Ec2SecurityGroup => v::security_group_id(&r.id),
        K::IamUser | K::IamRole => v::iam_name(&r.id),
        K::IamAccessKey => v::access_key_id(&r.id),
        K::CloudTrailTrail => v::trail_name(&r.id),
        K::KmsKey => v::kms_key_id(&r.id),
        K::SqsQueue => v::queue_name(r.id.rsplit('/').next().unwrap_or_default()),
        K::DynamoDbTable => v::table_name(&r.id),
        K::LambdaFunction => v::function_name(&r.id),
        K::SnsTopic => v::topic_name(&r.id),
        K::Ec2Subnet => v::subnet_id(&r.id),
        K::RdsDbSnapshot | K::RdsDbClusterSnapshot => v::rds_snapshot_identifier(&r.id),
        K::SsmDocument => v::ssm_document_name(&r.id),
        K::RdsDbInstance => v::rds_identifier(&r.id) || v::rds_resource_id("db-", &r.id),
        K::RdsDbCluster => v::rds_identifier(&r.id) || v::rds_resource_id("cluster-", &r.id),
        K::Account => v::account_id(r.id.strip_prefix("AWS::::Account:").unwrap_or(&r.id)),
        K::CloudWatchAlarm | K::Other(_) => !r.id.is_empty() && !r.id.chars().any(char::is_control),
    };
    id && r.arn.as_deref().is_none_or(|a| {
        v::arn(a)
                || (r.kind == K::Account && a.ends_with(&r.id))
                // Not an ARN, only the id again (Security Hub's Id of some types): held to the id's rule.
                || (!a.starts_with("arn:") && a == r.id)
    })
}

#[test]
fn mutated_real_events_never_panic_and_rejections_name_the_problem() {
    let bases = events();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let (mut n, mut refused, mut accepted) = (0, 0, 0);
    while n < 20_000 && start.elapsed() < Duration::from_secs(20) {
        let base = &bases[rng.below(bases.len())];
        let v = mutate(&mut rng, base);
        n += 1;
        match Envelope::parse(v) {
            Ok(intake) => {
                for f in intake.findings {
                    match f {
                        Ok(f) => {
                            accepted += 1;
                            // What is accepted is valid where it reaches an ARN or an API call.
                            assert!(
                                quell::finding::validate::account_id(&f.account),
                                "{}",
                                f.account
                            );
                            assert!(quell::finding::validate::region(&f.region), "{}", f.region);
                            for r in &f.resources {
                                assert!(resource_is_valid(r), "accepted {r:?}");
                            }
                        }
                        Err(e) => {
                            refused += 1;
                            assert!(e.to_string().len() > 10, "an unhelpful error: {e}");
                        }
                    }
                }
            }
            Err(e) => {
                refused += 1;
                let msg = e.to_string();
                assert!(
                    msg.contains("event") && msg.len() > 10,
                    "an unhelpful error: {msg}"
                );
            }
        }
    }
    eprintln!(
        "fuzz: {n} mutated events, {accepted} findings accepted, {refused} refused, in {:?}",
        start.elapsed()
    );
    assert!(n >= 1000 && refused > 0 && accepted > 0);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(42);
    let start = Instant::now();
    for i in 0..20_000 {
        if start.elapsed() > Duration::from_secs(10) {
            break;
        }
        let len = rng.below(300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 3 == 0 {
            // Mostly-JSON: an object with random keys.
            bytes = format!("{{\"detail-type\":\"GuardDuty Finding\",\"source\":\"aws.guardduty\",\"detail\":{}}}", String::from_utf8_lossy(&bytes)).into_bytes();
        }
        if let Err(e) = Envelope::parse_slice(&bytes) {
            assert!(!e.to_string().is_empty());
        }
    }
}
