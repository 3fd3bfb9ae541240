//! What both benches share: the corpus size and seed, and the two general JSON readers the
//! hand-written scan is compared with.

use sendops_shared::event::ses_event::EagerDocument;

/// Events in the corpus each bench reads.
pub const EVENTS: usize = 20_000;
/// The corpus's seed (the same bytes on every run).
pub const SEED: u64 = 20_261_120;

/// The one-pass serde_json reading (what `decode_record` falls back to after the scan).
pub fn serde_json_first(text: &str) -> Option<EagerDocument<'_>> {
    serde_json::from_str(text).ok()
}

/// sonic-rs reading the same `EagerDocument` through its serde support (borrowing strings
/// without escapes, as serde_json does).
pub fn sonic_rs_first(text: &str) -> Option<EagerDocument<'_>> {
    sonic_rs::from_str(text).ok()
}
