//! Message reads: the per-message projection (`messages`), the id index, the per-recipient index
//! and a message's events. Pages are keyset-ordered by (sent_ms desc, message_id desc), and each
//! page reads time slices that widen only until the page is full, so a page costs what it returns.

use clickhouse::Row;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::store::Store;
use crate::store::sql::Sql;
use crate::timefmt::{DAY_MS, EpochMs, TimeRange, day_of_ms, day_to_date};
use crate::{EventType, StoreError};

/// The eight types a message status can take (docs/semantics.md#messages).
pub const STATUSES: [&str; 8] = [
    "Send",
    "Delivery",
    "Bounce",
    "Complaint",
    "Reject",
    "Open",
    "Click",
    "DeliveryDelay",
];

/// Optional filters of a message list (AND-ed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub channel_id: Option<Uuid>,
    pub status: Option<String>,
    /// Exact template name.
    pub template: Option<String>,
    /// Lower-cased sending domain.
    pub sender_domain: Option<String>,
    /// Exact recipient address (any destination).
    pub recipient: Option<String>,
}

/// One message, as the projection holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Row)]
pub struct MessageRow {
    pub message_id: String,
    pub sent_ms: i64,
    pub channel: String,
    pub template: String,
    pub source: String,
    pub subject: String,
    pub destination: Vec<String>,
    /// Type of the latest of the message's events that is one of the eight [`STATUSES`];
    /// `None` when it has none (only a Rendering Failure or a Subscription: docs/semantics.md#messages).
    #[serde(deserialize_with = "status_of")]
    pub status: Option<String>,
    pub last_event_ms: i64,
}

/// The projection's status column: a type that is not one of the eight is no status. (The
/// view ranks the other types below every status, so it holds one only when there is none.)
fn status_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let st = String::deserialize(d)?;
    Ok(STATUSES.contains(&st.as_str()).then_some(st))
}

/// A keyset position: rows strictly after it in (sent_ms desc, message_id desc) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub sent_ms: i64,
    pub message_id: String,
}

const PROJECTION: &str = "message_id, sent_ms, any(channel) AS ch, max(template) AS tpl, any(source) AS src, \
     max(subject) AS subj, anyMerge(destination) AS dest, argMaxMerge(status) AS st, maxMerge(last_event_ms) AS last_ms";

/// Width of a page's first time slice when nothing is known of the org's rate; each further
/// slice is 4× wider. A slice's cost is the number of per-message states it merges plus the
/// granules it reads (at least one per part its range touches, however few messages are in it),
/// so it starts narrow: an hour holds a page for any tenant that sends more than ~50 messages an
/// hour. A sparser tenant's later pages start from its learned rate ([`SliceHints`]) instead.
/// Slices partition the window, so the page is the same whatever the widths.
const FIRST_SLICE_MS: i64 = DAY_MS / 24;

/// The widest first slice a learned rate may ask for.
const MAX_FIRST_SLICE_MS: i64 = DAY_MS;

/// How many orgs' rates are kept (all are forgotten when more arrive).
const MAX_HINTS: usize = 100_000;

/// Per org, the message rate its full unfiltered pages saw (messages per millisecond: a page's
/// rows over the time from its upper bound to its oldest message; the busiest one, fading by a
/// tenth with every page). The next page starts with a
/// slice sized to hold `limit + 1` messages at that rate (1.5× over, between [`FIRST_SLICE_MS`]
/// and [`MAX_FIRST_SLICE_MS`]), so an org sending ~15 messages an hour reads one slice per page
/// instead of two (benches/README.md, "At 100 M events"). A hint only: it changes how many
/// statements a page takes, never the page.
#[derive(Debug, Default)]
pub struct SliceHints(std::sync::Mutex<std::collections::HashMap<Uuid, f64>>);

impl SliceHints {
    fn first_slice(&self, org_id: Uuid, limit: usize) -> i64 {
        let rate = self.0.lock().ok().and_then(|m| m.get(&org_id).copied());
        match rate {
            Some(r) if r > 0.0 => {
                (((limit as f64 + 1.0) / r * 1.5) as i64).clamp(FIRST_SLICE_MS, MAX_FIRST_SLICE_MS)
            }
            _ => FIRST_SLICE_MS,
        }
    }

    fn learn(&self, org_id: Uuid, rows: usize, width_ms: i64) {
        if width_ms <= 0 {
            return;
        }
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_HINTS && !m.contains_key(&org_id) {
                m.clear();
            }
            let seen = rows as f64 / width_ms as f64;
            // The busiest rate seen, fading by a tenth a page: a dense org's quiet hours
            // (nights, weekends) must not widen its next page's slice to a day of messages.
            let kept = m.get(&org_id).map_or(0.0, |r| r * 0.9);
            m.insert(org_id, seen.max(kept));
        }
    }
}

/// The status a `status=` filter compares: empty (matched by no filter value) when the message
/// has none of the eight status types.
const STATUS_EXPR: &str = "if(st IN ('Send', 'Delivery', 'Bounce', 'Complaint', 'Reject', 'Open', 'Click', 'DeliveryDelay'), st, '')";

#[derive(Deserialize, Row)]
struct SentRow {
    sent_ms: i64,
}

#[derive(Deserialize, Row)]
struct KeyRow {
    sent_ms: i64,
    message_id: String,
}

impl Store {
    /// Up to `limit` messages of `org_id` sent in `window`, newest first, after `after`.
    pub async fn list_messages(
        &self,
        org_id: Uuid,
        window: TimeRange,
        after: Option<&After>,
        filter: &MessageFilter,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let (from_ms, to_ms) = window.ms();
        let mut out: Vec<MessageRow> = Vec::new();
        let mut upper = match after {
            Some(a) => to_ms.min(a.sent_ms.saturating_add(1)),
            None => to_ms,
        };
        let start = upper;
        let unfiltered = *filter == MessageFilter::default();
        let mut span = if unfiltered {
            self.slice_hints().first_slice(org_id, limit)
        } else {
            FIRST_SLICE_MS
        };
        while out.len() < limit && upper > from_ms {
            let lower = from_ms.max(upper.saturating_sub(span));
            let rows = self
                .message_slice(org_id, lower, upper, after, filter, limit - out.len())
                .await?;
            out.extend(rows);
            upper = lower;
            span = span.saturating_mul(4);
        }
        if unfiltered && out.len() >= limit {
            // The page's own span (not the slices' widths: a slice wider than needed would
            // teach a lower rate every page, and the slices would widen page after page).
            let oldest = out.last().map_or(upper, |m| m.sent_ms);
            self.slice_hints().learn(org_id, out.len(), start - oldest);
        }
        Ok(out)
    }

    async fn message_slice(
        &self,
        org_id: Uuid,
        lower: i64,
        upper: i64,
        after: Option<&After>,
        filter: &MessageFilter,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let (after_ms, after_id) = match after {
            Some(a) => (a.sent_ms, a.message_id.as_str()),
            None => (i64::MAX, ""),
        };
        let mut sql = Sql::new(
            &format!(
                "SELECT {PROJECTION} FROM messages WHERE org_id = ? AND sent_ms >= ? \
                 AND sent_ms < ? AND (sent_ms < ? OR (sent_ms = ? AND message_id < ?))"
            ),
            [
                org_id.into(),
                lower.into(),
                upper.into(),
                after_ms.into(),
                after_ms.into(),
                after_id.into(),
            ],
        );
        if let Some(c) = filter.channel_id {
            sql.push(" AND channel_id = ?", [c.into()]);
        }
        if let Some(d) = &filter.sender_domain {
            sql.push(" AND sender_domain = ?", [d.into()]);
        }
        if let Some(r) = &filter.recipient {
            sql.push(
                " AND message_id IN (SELECT message_id FROM message_recipients \
                 WHERE org_id = ? AND recipient = ? AND sent_ms >= ? AND sent_ms < ?)",
                [org_id.into(), r.into(), lower.into(), upper.into()],
            );
        }
        sql.push(" GROUP BY sent_ms, message_id HAVING 1 = 1", []);
        if let Some(t) = &filter.template {
            sql.push(" AND tpl = ?", [t.into()]);
        }
        if let Some(s) = &filter.status {
            sql.push(&format!(" AND {STATUS_EXPR} = ?"), [s.as_str().into()]);
        }
        sql.push(
            " ORDER BY sent_ms DESC, message_id DESC LIMIT ?",
            [(limit as u64).into()],
        );
        Ok(self.sql(sql).fetch_all::<MessageRow>().await?)
    }

    /// One message by SES id, if it was sent at or after `not_before`.
    pub async fn message_by_id(
        &self,
        org_id: Uuid,
        message_id: &str,
        not_before: EpochMs,
    ) -> Result<Option<MessageRow>, StoreError> {
        let sent = self
            .client()
            .query("SELECT ?fields FROM message_index WHERE org_id = ? AND message_id = ? AND sent_ms >= ? LIMIT 1")
            .bind(org_id.to_string())
            .bind(message_id)
            .bind(not_before.0)
            .fetch_optional::<SentRow>()
            .await?;
        let Some(sent) = sent else { return Ok(None) };
        let key = [(sent.sent_ms, message_id.to_owned())];
        Ok(self
            .messages_by_keys(org_id, &key)
            .await?
            .into_iter()
            .next())
    }

    /// The projections of the messages at these (sent_ms, message_id) keys, newest first.
    pub async fn messages_by_keys(
        &self,
        org_id: Uuid,
        keys: &[(i64, String)],
    ) -> Result<Vec<MessageRow>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sent: Vec<String> = keys.iter().map(|(t, _)| t.to_string()).collect();
        let ids: Vec<&str> = keys.iter().map(|(_, id)| id.as_str()).collect();
        let sql = format!(
            "SELECT {PROJECTION} FROM messages WHERE org_id = ? AND sent_ms IN ({}) AND has(?, message_id) \
             GROUP BY sent_ms, message_id ORDER BY sent_ms DESC, message_id DESC",
            sent.join(",")
        );
        Ok(self
            .client()
            .query(&sql)
            .bind(org_id.to_string())
            .bind(ids)
            .fetch_all::<MessageRow>()
            .await?)
    }

    /// Every stored row of one message (one per event and recipient), in no particular order.
    pub async fn message_events(
        &self,
        org_id: Uuid,
        message: &MessageRow,
    ) -> Result<Vec<TimelineRow>, StoreError> {
        // The day bounds only skip the months the message has no rows in.
        let first = day_of_ms(message.sent_ms).saturating_sub(1);
        let last = day_of_ms(message.last_event_ms.max(message.sent_ms));
        Ok(self
            .client()
            .query(
                "SELECT ?fields FROM message_timeline WHERE org_id = ? AND message_id = ? \
                 AND day >= toDate(?) AND day <= toDate(?) \
                 LIMIT 1 BY occurred_ms, event_type, recipient, click_url LIMIT 10000",
            )
            .bind(org_id.to_string())
            .bind(message.message_id.as_str())
            .bind(day_to_date(first).to_string())
            .bind(day_to_date(last).to_string())
            .fetch_all::<TimelineRow>()
            .await?)
    }

    /// Keys of the messages addressed to `recipient` (exact) sent in `window`, newest first.
    pub async fn recipient_message_keys(
        &self,
        org_id: Uuid,
        recipient: &str,
        window: TimeRange,
        after: Option<&After>,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (from_ms, to_ms) = window.ms();
        let (after_ms, after_id) = match after {
            Some(a) => (a.sent_ms, a.message_id.as_str()),
            None => (i64::MAX, ""),
        };
        let rows = self
            .client()
            .query(
                "SELECT ?fields FROM message_recipients WHERE org_id = ? AND recipient = ? \
                 AND sent_ms >= ? AND sent_ms < ? AND (sent_ms < ? OR (sent_ms = ? AND message_id < ?)) \
                 GROUP BY sent_ms, message_id ORDER BY sent_ms DESC, message_id DESC LIMIT ?",
            )
            .bind(org_id.to_string())
            .bind(recipient)
            .bind(from_ms)
            .bind(to_ms)
            .bind(after_ms)
            .bind(after_ms)
            .bind(after_id)
            .bind(limit as u64)
            .fetch_all::<KeyRow>()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.sent_ms, r.message_id))
            .collect())
    }
}

/// One row of a message's timeline (`message_timeline`): the columns a timeline shows.
#[derive(Debug, Clone, Deserialize, Row)]
pub struct TimelineRow {
    pub occurred_ms: i64,
    pub event_type: EventType,
    pub recipient: String,
    pub template: String,
    pub bounce_type: String,
    pub bounce_sub_type: String,
    pub diagnostic: String,
    pub smtp_response: String,
    pub processing_time_ms: Option<u32>,
    pub feedback_type: String,
    pub delay_type: String,
    pub reject_reason: String,
    pub ip_address: String,
    pub user_agent: String,
    pub click_url: String,
    pub error_message: String,
    pub contact_list: String,
}
