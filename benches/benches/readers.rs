//! The first reading of a record, interleaved and best of N (issue 12): `decode_record` with the
//! hand-written scan, with serde_json and with sonic-rs in its place (`decode_record_first`), and
//! each reading alone, on the parse bench's corpus. Each round times one pass over the corpus
//! for every variant in turn, so load on the machine falls on all of them alike; the minimum over
//! the rounds filters out preemption. `cargo bench -p sendops-benches --bench readers`
//! (`SENDOPS_BENCH_ROUNDS`, default 30).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sendops_benches::corpus;
use sendops_fixtures::Envelope;
use sendops_shared::event::envelope::{
    FirstReading, Outcome, decode_record, decode_record_first, fast_scan_reads,
};

mod common;
use common::{EVENTS, SEED, serde_json_first, sonic_rs_first};

/// One pass over the corpus.
type Pass = Box<dyn Fn(&[String])>;

fn decode_with(first: Option<FirstReading>) -> Pass {
    Box::new(move |records| {
        let mut out: Vec<Outcome> = Vec::with_capacity(4);
        for r in records {
            out.clear();
            match first {
                Some(first) => decode_record_first(black_box(r), &mut out, first),
                None => decode_record(black_box(r), &mut out),
            }
            black_box(&out);
        }
    })
}

fn read_with(first: FirstReading) -> Pass {
    Box::new(move |records| {
        for r in records {
            black_box(first(black_box(r)).is_some());
        }
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let rounds: usize = std::env::var("SENDOPS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let variants: Vec<(&str, Pass)> = vec![
        ("decode_record (fast_scan)", decode_with(None)),
        (
            "decode_record (serde_json)",
            decode_with(Some(serde_json_first)),
        ),
        (
            "decode_record (sonic-rs)",
            decode_with(Some(sonic_rs_first)),
        ),
        (
            "read fast_scan",
            Box::new(|records: &[String]| {
                for r in records {
                    black_box(fast_scan_reads(black_box(r)));
                }
            }),
        ),
        ("read serde_json", read_with(serde_json_first)),
        ("read sonic-rs", read_with(sonic_rs_first)),
    ];
    for envelope in [Envelope::Sns, Envelope::Raw, Envelope::EventBridge] {
        let corpus = corpus(envelope, EVENTS, SEED);
        // The parse bench's `check` asserts every reader reads every record the same way.
        let mut best = vec![Duration::MAX; variants.len()];
        let mut all = vec![Vec::with_capacity(rounds); variants.len()];
        for _ in 0..rounds {
            for (i, (_, pass)) in variants.iter().enumerate() {
                let t = Instant::now();
                pass(&corpus.records);
                let d = t.elapsed();
                best[i] = best[i].min(d);
                all[i].push(d);
            }
        }
        let per_event = |d: Duration| d.as_secs_f64() * 1e9 / corpus.records.len() as f64;
        println!(
            "{envelope}: {} events, {} B/event, best and median of {rounds} rounds (ns/event)",
            corpus.records.len(),
            corpus.bytes / corpus.records.len() as u64
        );
        for (i, (name, _)) in variants.iter().enumerate() {
            all[i].sort();
            println!(
                "  {name:<28} best {:>6.0}  median {:>6.0}",
                per_event(best[i]),
                per_event(all[i][rounds / 2])
            );
        }
    }
}
