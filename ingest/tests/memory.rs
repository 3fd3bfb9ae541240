//! Memory stays bounded: a full Lambda batch (10,000 records) is processed within a fixed
//! multiple of its size, and replaying a file four times larger, in chunks, peaks no higher.
//! (A counting global allocator measures the heap of this test binary.)

mod common;

use std::io::Write;

use common::{ACCOUNT, acme_pipeline, traffic};
use peak_alloc::PeakAlloc;
use sendops_fixtures::{Envelope, Wrapper};
use sendops_ingest::replay::replay_paths;
use sendops_ingest::{Record, Source};

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// `records` SQS bodies of generated traffic as raw SES events (SNS raw delivery): 10,000 of them
/// are about 14 MB, more than a Lambda batch can carry (6 MB).
fn bodies(seed: u64, records: usize) -> Vec<String> {
    let mut w = Wrapper::new(seed);
    let mut out = Vec::with_capacity(records);
    let mut n = 0;
    while out.len() < records {
        for e in traffic(seed + n, 2_000, ACCOUNT) {
            if out.len() == records {
                break;
            }
            out.push(w.wrap(&e, Envelope::Raw).to_string());
        }
        n += 1;
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_lambda_batch_and_a_large_replay_stay_bounded() {
    let (db, pipeline) = acme_pipeline("memory", Source::Lambda).await;

    let batch = bodies(1, 10_000);
    let input: usize = batch.iter().map(String::len).sum();
    let records: Vec<Record<'_>> = batch.iter().map(|b| Record { body: b }).collect();
    let base = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let report = pipeline.process(&records).await.unwrap();
    let batch_peak = PEAK.peak_usage().saturating_sub(base);
    assert_eq!(report.records, 10_000);
    assert!(report.rows > 10_000);
    eprintln!(
        "10,000-record batch: input {} KiB, peak heap growth {} KiB",
        input / 1024,
        batch_peak / 1024
    );
    assert!(
        batch_peak < 4 * input,
        "peak {batch_peak} B for {input} B of input"
    );
    drop(records);
    drop(batch);

    // Replaying a file of eight chunks of 10,000 records peaks no higher than a file of two: memory
    // depends on the chunk, not on the file (a replay holds at most two batches: one being stored
    // while the next is decoded).
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seeds: std::ops::Range<u64>| {
        let path = dir.path().join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for seed in seeds {
            for b in bodies(seed * 100, 10_000) {
                writeln!(f, "{b}").unwrap();
            }
        }
        drop(f);
        path.to_string_lossy().into_owned()
    };
    let small = write("small.ndjson", 10..12);
    let big = write("big.ndjson", 20..28);
    let big_size = std::fs::metadata(&big).unwrap().len() as usize;
    let mut peaks = Vec::new();
    for (path, n) in [(small, 20_000), (big, 80_000)] {
        let base = PEAK.current_usage();
        PEAK.reset_peak_usage();
        let report = replay_paths(&pipeline, &[path], 10_000).await.unwrap();
        peaks.push(PEAK.peak_usage().saturating_sub(base));
        assert_eq!(report.records, n);
    }
    eprintln!(
        "replay peak heap growth: 20,000-record file {} KiB, 80,000-record file ({} KiB) {} KiB",
        peaks[0] / 1024,
        big_size / 1024,
        peaks[1] / 1024
    );
    assert!(
        peaks[1] < peaks[0] * 3 / 2,
        "peak grows with the file: {peaks:?}"
    );
    assert!(
        peaks[1] < big_size,
        "replay holds the whole file: {peaks:?}"
    );
    db.drop().await;
}
