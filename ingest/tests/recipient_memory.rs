//! Memory grows linearly with an event's recipients (issue 11): every row of an event shares
//! its `mail.destination`, so twice the recipients take about twice the heap, not four times.
//! (A counting global allocator measures the heap of this test binary, so it holds one test.)

mod common;

use common::{ACCOUNT, acme_pipeline};
use peak_alloc::PeakAlloc;
use sendops_ingest::{Record, Source};
use sendops_shared::event::envelope::MAX_RECIPIENTS;
use serde_json::json;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

/// A Send event to `n` recipients, all in `mail.destination` (one row each, each row carrying
/// the whole list), with addresses long enough not to be stored inline.
fn send(id: &str, n: usize) -> String {
    let destination: Vec<String> = (0..n)
        .map(|i| format!("recipient-number-{i:05}@a-long-domain-name.example"))
        .collect();
    json!({"eventType": "Send", "send": {}, "mail": {
        "timestamp": "2026-11-17T00:00:11Z", "messageId": id, "source": "a@acme.example",
        "sendingAccountId": ACCOUNT, "destination": destination}})
    .to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn peak_heap_grows_linearly_with_recipients() {
    let (db, pipeline) = acme_pipeline("recipient_memory", Source::Replay).await;
    // Warm up (account map, connections) so the measured runs see only the event.
    let warm = send("m-warm", 10);
    pipeline.process(&[Record { body: &warm }]).await.unwrap();

    let mut peaks = Vec::new();
    for n in [MAX_RECIPIENTS / 2, MAX_RECIPIENTS] {
        let body = send(&format!("m-{n}"), n);
        let base = PEAK.current_usage();
        PEAK.reset_peak_usage();
        let report = pipeline.process(&[Record { body: &body }]).await.unwrap();
        peaks.push(PEAK.peak_usage().saturating_sub(base));
        assert_eq!((report.rows as usize, report.quarantined), (n, 0));
    }
    eprintln!(
        "peak heap growth: {} recipients {} KiB, {} recipients {} KiB (×{:.2})",
        MAX_RECIPIENTS / 2,
        peaks[0] / 1024,
        MAX_RECIPIENTS,
        peaks[1] / 1024,
        peaks[1] as f64 / peaks[0] as f64
    );
    // Linear: ×2 the recipients, about ×2 the heap (one copy of the list per row was ×4).
    assert!(
        peaks[1] * 10 < peaks[0] * 27,
        "peak heap grows faster than the recipients: {peaks:?}"
    );
    // And small: a few KiB per recipient, not a copy of the list per row (1,000 rows × 1,000
    // addresses of 50 bytes would be 50 MB).
    assert!(
        peaks[1] < MAX_RECIPIENTS * 8 * 1024,
        "peak heap {} KiB for {MAX_RECIPIENTS} recipients",
        peaks[1] / 1024
    );
    db.drop().await;
}
