//! Shared helpers of the SendOps benchmarks: the seeded corpus the parse bench reads, and the
//! plain `serde_json` skim it is compared with.

use chrono::{TimeZone, Utc};
use sendops_fixtures::{Envelope, TrafficConfig, Wrapper, generate};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The SES account of every generated event.
pub const ACCOUNT: &str = "123456789012";

/// A fixed set of input records, one SES event each, in one envelope.
pub struct Corpus {
    pub envelope: Envelope,
    pub records: Vec<String>,
    /// Total bytes of `records`.
    pub bytes: u64,
}

/// `events` generated SES events (seeded, so byte-identical on every run), each wrapped in
/// `envelope` exactly as `sendops-gen --envelope` writes it.
pub fn corpus(envelope: Envelope, events: usize, seed: u64) -> Corpus {
    let end = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    // ~2.6 events per message: ask for enough messages, then cut at `events`.
    let cfg = TrafficConfig::demo(seed, events as u64 / 2 + 1, 30, end, ACCOUNT);
    let mut wrapper = Wrapper::new(seed);
    let mut traffic = generate(&cfg);
    let mut records = Vec::with_capacity(events);
    let mut buf = Vec::with_capacity(8 * 1024);
    while records.len() < events {
        let Some(ev) = traffic.next_event() else {
            break;
        };
        buf.clear();
        wrapper
            .write_wrapped(&ev, envelope, &mut buf)
            .expect("writing to a Vec cannot fail");
        records.push(String::from_utf8(buf.clone()).expect("serde_json writes UTF-8"));
    }
    let bytes = records.iter().map(|r| r.len() as u64).sum();
    Corpus {
        envelope,
        records,
        bytes,
    }
}

/// The `Message` of an SNS notification; every other field is skimmed by serde as it goes.
#[derive(Deserialize)]
struct SnsMessage {
    #[serde(rename = "Message")]
    message: String,
}

/// The least work any JSON reader must do to see every byte of one record once: a
/// `serde_json::from_str::<IgnoredAny>` skim (validates and walks everything, builds nothing).
/// For SNS, the event is a JSON string inside the envelope, so reading it means skimming the
/// envelope while unescaping `Message` into a `String`, then skimming that string as JSON: the
/// same two passes over the event bytes that `decode_record` makes.
pub fn skim(envelope: Envelope, record: &str) -> bool {
    match envelope {
        Envelope::Sns => match serde_json::from_str::<SnsMessage>(record) {
            Ok(sns) => serde_json::from_str::<IgnoredAny>(&sns.message).is_ok(),
            Err(_) => false,
        },
        _ => serde_json::from_str::<IgnoredAny>(record).is_ok(),
    }
}
