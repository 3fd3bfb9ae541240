//! An address's failure history: the stored events (with their content identity, so a second
//! copy counts once) and per-rule statistics of the qualifying events.

use super::*;

/// What a rule's qualifying events say about an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub events: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Latest ingest time among the events.
    pub ingested_ms: i64,
    /// Sub-type (bounce sub-type or complaint feedback type) of the latest event that has one.
    pub subtype: String,
    /// Diagnostic code of the latest event that has one.
    pub diagnostic: String,
    /// Sending address of the latest event.
    pub sender: String,
}

/// One address's failure history inside the rule windows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// Lower-cased address.
    pub email: String,
    /// Per rule, in priority order: its qualifying events (None when it has none).
    pub rules: [Option<Stats>; 6],
    /// Latest rule change that altered this address's row (0 when none).
    pub marked_ms: i64,
}

/// One row of an address's stored history: a qualifying-type event or a rule-change mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub occurred_ms: i64,
    pub ingested_ms: i64,
    pub subtype: String,
    pub diagnostic: String,
    pub sender: String,
    /// The SES event's id (`events.event_id`); empty in rows written before migration 0010.
    pub event_id: String,
}

impl Event {
    /// Reads the `payload` column: occurred_ms, ingested_ms, kind code, sub-type, diagnostic,
    /// sender and (since migration 0010) the event id, tab-separated.
    pub fn from_payload(payload: &str) -> Option<Event> {
        let mut f = payload.splitn(7, '\t');
        let occurred_ms = f.next()?.parse().ok()?;
        let ingested_ms = f.next()?.parse().ok()?;
        let code: u8 = f.next()?.parse().ok()?;
        let kind = Kind::ALL.into_iter().find(|k| *k as u8 == code)?;
        Some(Event {
            kind,
            occurred_ms,
            ingested_ms,
            subtype: f.next()?.to_owned(),
            diagnostic: f.next()?.to_owned(),
            sender: f.next()?.to_owned(),
            event_id: f.next().unwrap_or("").to_owned(),
        })
    }

    /// What two copies of one event share besides the id (the ingest time differs).
    pub(crate) fn content(&self) -> (u8, i64, &str, &str, &str) {
        (
            self.kind as u8,
            self.occurred_ms,
            &self.subtype,
            &self.diagnostic,
            &self.sender,
        )
    }

    /// The `payload` column of a rule-change mark at `at_ms`.
    pub fn mark_payload(at_ms: i64) -> String {
        format!("{at_ms}\t{at_ms}\t{}\t\t\t", Kind::RuleChange as u8)
    }
}

/// Each SES event once. A retried or racing INSERT stores a second copy of an event's row (same
/// id, later ingest time); a row without an id (written before migration 0010, or by the view it
/// replaced while both ran) is a copy of a row with an id and the same content when there is one.
/// Rows with the same content and no ids at all are distinct events (the old ingest path stored
/// each event once). A kept event carries the latest ingest time of its copies with an id (an
/// id-less copy was written by the same INSERT, or by the old path before).
pub(crate) fn distinct_events(events: &[Event]) -> Vec<Event> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by(|a, b| {
        (a.content(), &a.event_id, a.ingested_ms).cmp(&(b.content(), &b.event_id, b.ingested_ms))
    });
    let mut out: Vec<Event> = Vec::with_capacity(sorted.len());
    for same in sorted.chunk_by(|a, b| a.content() == b.content()) {
        if same[0].kind == Kind::RuleChange || same.iter().all(|e| e.event_id.is_empty()) {
            out.extend(same.iter().map(|e| (*e).clone()));
            continue;
        }
        for copies in same
            .iter()
            .filter(|e| !e.event_id.is_empty())
            .collect::<Vec<_>>()
            .chunk_by(|a, b| a.event_id == b.event_id)
        {
            // Sorted by ingest time within an id: the last copy carries the latest.
            out.push((*copies[copies.len() - 1]).clone());
        }
    }
    out
}

/// The value of the latest event (by event time; equal times take the greatest value, so the
/// answer never depends on storage order) among those where `value` is not empty.
pub(crate) fn latest<'a>(events: &[&'a Event], value: fn(&Event) -> &str) -> &'a str {
    events
        .iter()
        .filter(|e| !value(e).is_empty())
        .max_by(|a, b| (a.occurred_ms, value(a)).cmp(&(b.occurred_ms, value(b))))
        .map_or("", |e| value(e))
}

impl History {
    /// Each rule's qualifying events among `events` (those of its kinds at or after its window
    /// start, see [`RuleSet::window_starts`]) and the latest rule-change mark.
    pub fn from_events(email: String, events: &[Event], starts: &[i64; 6]) -> History {
        let events = distinct_events(events);
        let events = events.as_slice();
        let mut h = History {
            email,
            ..History::default()
        };
        h.marked_ms = events
            .iter()
            .filter(|e| e.kind == Kind::RuleChange)
            .map(|e| e.ingested_ms)
            .max()
            .unwrap_or(0);
        for rule in Rule::PRIORITY {
            let q: Vec<&Event> = events
                .iter()
                .filter(|e| rule.kinds().contains(&e.kind) && e.occurred_ms >= starts[rule.index()])
                .collect();
            if q.is_empty() {
                continue;
            }
            h.rules[rule.index()] = Some(Stats {
                events: q.len() as u64,
                first_ms: q.iter().map(|e| e.occurred_ms).min().unwrap_or_default(),
                last_ms: q.iter().map(|e| e.occurred_ms).max().unwrap_or_default(),
                ingested_ms: q.iter().map(|e| e.ingested_ms).max().unwrap_or_default(),
                subtype: latest(&q, |e| &e.subtype).to_owned(),
                diagnostic: latest(&q, |e| &e.diagnostic).to_owned(),
                sender: latest(&q, |e| &e.sender).to_owned(),
            });
        }
        h
    }
}
