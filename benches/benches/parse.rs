//! Parse + transform (`decode_record`: envelope → SES event → rows) against a plain
//! `serde_json` skim of the same bytes, for the SNS-wrapped, raw and EventBridge envelopes.
//!
//! Beside them (issue 12), the hand-written first reading (`fast_scan`) against two general JSON
//! readers of the same `EagerDocument`: serde_json and sonic-rs (through serde). End to end,
//! `decode_record_first` runs `decode_record` with that reader in place of the scan
//! (`decode_record_serde_json`, `decode_record_sonic_rs`); alone, `read_*` is the first reading
//! of the record and nothing else (for SNS the scan gives up at the first key, so its `read` is
//! the cost of giving up).
//!
//! Each iteration reads the whole corpus (20,000 seeded events); criterion reports events/s
//! (elements) and MB/s (bytes). Runs are kept short (10 flat samples, 4 s) so the whole bench
//! takes about two minutes; `scripts/bench.sh` prints the summary table from criterion's JSON.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use sendops_benches::{Corpus, corpus, skim};
use sendops_fixtures::Envelope;
use sendops_shared::event::envelope::{
    FirstReading, Outcome, decode_record, decode_record_first, fast_scan_reads,
};

mod common;
use common::{EVENTS, SEED, serde_json_first, sonic_rs_first};

/// The first readings compared, by name.
const READERS: [(&str, FirstReading); 2] = [
    ("serde_json", serde_json_first),
    ("sonic_rs", sonic_rs_first),
];

/// Every record of the corpus decodes to one event and skims cleanly, so both sides do
/// comparable work on valid input; every first reading reads every record itself (no fallback)
/// and the outcomes are the same whichever reads it.
fn check(c: &Corpus) {
    let mut out = Vec::new();
    let mut other = Vec::new();
    for r in &c.records {
        out.clear();
        decode_record(r, &mut out);
        assert!(
            matches!(out.as_slice(), [Outcome::Event(_)]),
            "{} record did not decode to one event: {out:?}",
            c.envelope
        );
        assert!(skim(c.envelope, r), "{} record did not skim", c.envelope);
        assert_eq!(
            fast_scan_reads(r),
            c.envelope != Envelope::Sns,
            "{} record: the scan reads raw and EventBridge records, gives up on SNS",
            c.envelope
        );
        for (name, first) in READERS {
            assert!(
                first(r).is_some(),
                "{name} did not read a {} record",
                c.envelope
            );
            other.clear();
            decode_record_first(r, &mut other, first);
            assert_eq!(
                other, out,
                "{name}: another outcome for a {} record",
                c.envelope
            );
        }
    }
}

fn parse(c: &mut Criterion) {
    for envelope in [Envelope::Sns, Envelope::Raw, Envelope::EventBridge] {
        let corpus = corpus(envelope, EVENTS, SEED);
        assert_eq!(corpus.records.len(), EVENTS);
        check(&corpus);
        let mut group = c.benchmark_group(format!("parse/{envelope}"));
        group
            .throughput(Throughput::ElementsAndBytes {
                elements: corpus.records.len() as u64,
                bytes: corpus.bytes,
            })
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        group.bench_function("decode_record", |b| {
            let mut out = Vec::with_capacity(4);
            b.iter(|| {
                for r in &corpus.records {
                    out.clear();
                    decode_record(black_box(r), &mut out);
                    black_box(&out);
                }
            })
        });
        for (name, first) in READERS {
            group.bench_function(format!("decode_record_{name}"), |b| {
                let mut out = Vec::with_capacity(4);
                b.iter(|| {
                    for r in &corpus.records {
                        out.clear();
                        decode_record_first(black_box(r), &mut out, first);
                        black_box(&out);
                    }
                })
            });
        }
        group.bench_function("read_fast_scan", |b| {
            b.iter(|| {
                for r in &corpus.records {
                    black_box(fast_scan_reads(black_box(r)));
                }
            })
        });
        for (name, first) in READERS {
            group.bench_function(format!("read_{name}"), |b| {
                b.iter(|| {
                    for r in &corpus.records {
                        black_box(first(black_box(r)).is_some());
                    }
                })
            });
        }
        group.bench_function("serde_json_skim", |b| {
            b.iter(|| {
                for r in &corpus.records {
                    black_box(skim(envelope, black_box(r)));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
