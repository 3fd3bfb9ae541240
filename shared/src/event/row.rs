//! The stored unit: one row per (SES event, recipient), as docs/semantics.md#counting defines it.

use std::sync::Arc;

use clickhouse::Row;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Text of an [`EventRow`]: up to 24 bytes are kept inline (channel, template, domains, account
/// ids, most addresses), so building a row allocates only for the long fields.
pub type Text = compact_str::CompactString;

/// SES event types, stored as ClickHouse `Enum8` (values are part of the schema).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i8)]
pub enum EventType {
    #[default]
    Send = 1,
    Delivery = 2,
    Bounce = 3,
    Complaint = 4,
    Reject = 5,
    Open = 6,
    Click = 7,
    DeliveryDelay = 8,
    RenderingFailure = 9,
    Subscription = 10,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::Send,
        EventType::Delivery,
        EventType::Bounce,
        EventType::Complaint,
        EventType::Reject,
        EventType::Open,
        EventType::Click,
        EventType::DeliveryDelay,
        EventType::RenderingFailure,
        EventType::Subscription,
    ];

    /// The name SendOps uses in the API and in the `Enum8`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Send => "Send",
            EventType::Delivery => "Delivery",
            EventType::Bounce => "Bounce",
            EventType::Complaint => "Complaint",
            EventType::Reject => "Reject",
            EventType::Open => "Open",
            EventType::Click => "Click",
            EventType::DeliveryDelay => "DeliveryDelay",
            EventType::RenderingFailure => "RenderingFailure",
            EventType::Subscription => "Subscription",
        }
    }

    /// Reads SES's `eventType` / `notificationType` value (also SendOps's own names).
    pub fn from_ses(name: &str) -> Option<EventType> {
        Some(match name {
            "Send" => EventType::Send,
            "Delivery" => EventType::Delivery,
            "Bounce" => EventType::Bounce,
            "Complaint" => EventType::Complaint,
            "Reject" => EventType::Reject,
            "Open" => EventType::Open,
            "Click" => EventType::Click,
            "DeliveryDelay" => EventType::DeliveryDelay,
            "Rendering Failure" | "RenderingFailure" => EventType::RenderingFailure,
            "Subscription" => EventType::Subscription,
            _ => return None,
        })
    }

    pub fn from_i8(v: i8) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| *t as i8 == v)
    }

    /// Lifecycle order used to break ties (docs/semantics.md#messages):
    /// Send < Delivery/DeliveryDelay/Bounce/Reject < Complaint < Open < Click.
    /// Rendering failures sit with the terminal outcomes; subscriptions come last.
    pub fn lifecycle_rank(self) -> u8 {
        match self {
            EventType::Send => 0,
            EventType::Delivery
            | EventType::DeliveryDelay
            | EventType::Bounce
            | EventType::Reject
            | EventType::RenderingFailure => 1,
            EventType::Complaint => 2,
            EventType::Open => 3,
            EventType::Click => 4,
            EventType::Subscription => 5,
        }
    }

    /// The `Enum8(...)` type definition used by the schema.
    pub fn clickhouse_enum() -> String {
        let items: Vec<String> = EventType::ALL
            .iter()
            .map(|t| format!("'{}' = {}", t.as_str(), *t as i8))
            .collect();
        format!("Enum8({})", items.join(", "))
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i8(*self as i8)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i8::deserialize(d)?;
        EventType::from_i8(v)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {v}")))
    }
}

/// One row of the `events` table. Empty strings stand for "SES did not send this".
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct EventRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub org_id: Uuid,
    /// UTC day of `occurred_ms` (ClickHouse `Date`).
    pub day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    /// The event's own time (epoch ms).
    pub occurred_ms: i64,
    pub event_type: EventType,
    pub message_id: Text,
    /// `mail.timestamp` (epoch ms).
    pub sent_ms: i64,
    pub recipient: Text,
    /// `mail.source` as SES sent it (may carry a display name).
    pub source: Text,
    /// The sending address without display name.
    pub sender: Text,
    /// Lower-cased domain of the sending address.
    pub sender_domain: Text,
    /// Configuration-set name (`ses:configuration-set` tag).
    pub channel: Text,
    /// The channel's UUID: UUIDv5 with the org id as namespace and the configuration-set name as
    /// name (docs/semantics.md#messages); nil when there is no configuration set.
    #[serde(with = "clickhouse::serde::uuid")]
    pub channel_id: Uuid,
    /// Template name (tag `template`, or `failure.templateName`).
    pub template: Text,
    pub subject: Text,
    /// `mail.destination`: one list shared by every row of an event (an event of N recipients
    /// is N rows, and a copy per row would make its memory grow with N²). Written exactly as a
    /// `Vec` is (a RowBinary `Array(String)`).
    #[serde(
        serialize_with = "serialize_destination",
        deserialize_with = "deserialize_destination"
    )]
    pub destination: Arc<[Text]>,
    pub bounce_type: Text,
    pub bounce_sub_type: Text,
    /// Per-recipient DSN diagnostic code (bounces and delays).
    pub diagnostic: Text,
    pub smtp_response: Text,
    pub processing_time_ms: Option<u32>,
    pub feedback_type: Text,
    pub delay_type: Text,
    pub reject_reason: Text,
    pub ip_address: Text,
    pub user_agent: Text,
    pub click_url: Text,
    pub error_message: Text,
    pub contact_list: Text,
    /// `mail.sendingAccountId`.
    pub ses_account: Text,
    /// When SendOps stored the row (epoch ms).
    pub ingested_ms: i64,
}

fn serialize_destination<S: Serializer>(list: &Arc<[Text]>, s: S) -> Result<S::Ok, S::Error> {
    // What `Vec<Text>` does: a sequence of its items.
    s.collect_seq(list.iter())
}

fn deserialize_destination<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[Text]>, D::Error> {
    Vec::<Text>::deserialize(d).map(Arc::from)
}

impl EventRow {
    /// The column list, in the order of the struct (used in INSERT and SELECT).
    pub const COLUMNS: &'static str = "org_id, day, event_id, occurred_ms, event_type, message_id, \
        sent_ms, recipient, source, sender, sender_domain, channel, channel_id, template, subject, destination, \
        bounce_type, bounce_sub_type, diagnostic, smtp_response, processing_time_ms, feedback_type, \
        delay_type, reject_reason, ip_address, user_agent, click_url, error_message, contact_list, \
        ses_account, ingested_ms";
}
