//! Parse + transform (`decode_record`: envelope → SES event → rows) against a plain
//! `serde_json` skim of the same bytes, for the SNS-wrapped, raw and EventBridge envelopes.
//!
//! Each iteration reads the whole corpus (20,000 seeded events); criterion reports events/s
//! (elements) and MB/s (bytes). Runs are kept short (10 flat samples, 4 s) so the whole bench
//! takes about a minute; `scripts/bench.sh` prints the summary table from criterion's JSON.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use sendops_benches::{Corpus, corpus, skim};
use sendops_fixtures::Envelope;
use sendops_shared::event::envelope::{Outcome, decode_record};

const EVENTS: usize = 20_000;
const SEED: u64 = 20_261_120;

/// Every record of the corpus decodes to one event and skims cleanly, so both sides do
/// comparable work on valid input.
fn check(c: &Corpus) {
    let mut out = Vec::new();
    for r in &c.records {
        out.clear();
        decode_record(r, &mut out);
        assert!(
            matches!(out.as_slice(), [Outcome::Event(_)]),
            "{} record did not decode to one event: {out:?}",
            c.envelope
        );
        assert!(skim(c.envelope, r), "{} record did not skim", c.envelope);
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
