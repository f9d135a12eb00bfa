//! Event parsing and normalization throughput, with criterion: every sample event in events/
//! (the real shapes of all six sources), from bytes to normalized findings. `make bench` runs it;
//! the figure is events per second (criterion's throughput in elements/s).

use std::path::PathBuf;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect();
    v.sort();
    v
}

fn parse(c: &mut Criterion) {
    let all = samples();
    let mut g = c.benchmark_group("parse");
    // Every sample once per iteration: the mix of sources as a whole.
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function(format!("all {} sample events", all.len()), |b| {
        b.iter(|| {
            for (_, bytes) in &all {
                black_box(quell::event::Envelope::parse_slice(black_box(bytes)).ok());
            }
        })
    });
    // One of each source, alone.
    g.throughput(Throughput::Elements(1));
    for name in [
        "guardduty-ec2-cryptocurrency-bitcointool.json",
        "config-s3-bucket-public-read-prohibited.json",
        "securityhub-imported-fsbp-s3-8.json",
        "accessanalyzer-s3-bucket-cross-account.json",
        "cloudwatch-alarm-securitygroupchanges.json",
        "cloudtrail-stoplogging.json",
    ] {
        let Some((_, bytes)) = all.iter().find(|(n, _)| n == name) else {
            continue;
        };
        g.bench_function(name.trim_end_matches(".json"), |b| {
            b.iter(|| black_box(quell::event::Envelope::parse_slice(black_box(bytes)).ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
