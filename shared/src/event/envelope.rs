//! Recognises every carrier an SES event can arrive in and turns one input record into outcomes:
//! rows to store, set-up notices to acknowledge, or a quarantine entry with its reason.
//!
//! Carriers: a raw SES event (SNS raw delivery), an SNS notification envelope (`Message` is a JSON
//! string), an EventBridge event (`detail` is the SES event), an SQS message body holding any of
//! those, and a whole Lambda SQS (or SNS) event. Nothing is dropped: whatever is not an event or a
//! known set-up message comes back as [`Outcome::Quarantine`] with the record's text.

use crate::event::row::EventRow;
use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::event::ses_event::{Document, EagerDocument, LambdaRecord, SnsText, Str};

mod rows;
pub use rows::*;

/// How deep carriers may nest (Lambda → SQS body → SNS → EventBridge → event).
const MAX_DEPTH: u8 = 4;

/// Most recipients one event may name (in `mail.destination`, or in the recipient list of its
/// type) before it is quarantined as `invalid_event`. SES sends at most 50 per message, so more
/// only comes from broken or hostile input; the bound keeps one record's rows (one per recipient)
/// and their INSERT small. Documented in `docs/ingest.md` and the README (Operations › Ingest).
pub const MAX_RECIPIENTS: usize = 1_000;

/// The plain-text message SES publishes when an SNS topic is attached to event publishing.
const VALIDATION_TEXT: &str = "Successfully validated SNS topic";

/// What one input record turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Event(ParsedEvent),
    Notice(Notice),
    Quarantine(Quarantined),
}

/// One SES event, as rows (one per recipient) not yet attributed to an org.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    /// `mail.sendingAccountId` (or the EventBridge `account`).
    pub account_id: String,
    pub rows: Vec<EventRow>,
    /// The text that carried the event, kept for quarantine if the account is unknown: `None`
    /// when that is the whole input record given to [`decode_record`] (the caller holds it, so it
    /// is not copied for every event), the record's text when it came inside a Lambda event.
    pub raw: Option<String>,
}

/// A recognised set-up message that is acknowledged and recorded, not stored as an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub topic_arn: String,
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// "Successfully validated SNS topic for Amazon SES event publishing."
    TopicValidation,
    /// Legacy `notificationType: AmazonSnsSubscriptionSucceeded`.
    SubscriptionSucceeded,
    SnsSubscriptionConfirmation,
    SnsUnsubscribeConfirmation,
    /// An EventBridge event from `aws.ses` that is not an email event.
    EventBridgeNonEmail,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::TopicValidation => "ses_topic_validation",
            NoticeKind::SubscriptionSucceeded => "ses_subscription_succeeded",
            NoticeKind::SnsSubscriptionConfirmation => "sns_subscription_confirmation",
            NoticeKind::SnsUnsubscribeConfirmation => "sns_unsubscribe_confirmation",
            NoticeKind::EventBridgeNonEmail => "eventbridge_non_email",
        }
    }
}

/// Input SendOps could not store as events, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub reason: QuarantineReason,
    pub detail: String,
    /// The record text, verbatim, so it can be replayed.
    pub raw: String,
    /// The SES account when it could be read (empty otherwise).
    pub account_id: String,
}

/// Why a record was quarantined. The names are stored and shown by `sendops-admin quarantine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuarantineReason {
    /// Not JSON (and not a known plain-text set-up message).
    InvalidJson,
    /// JSON, but no carrier or SES event SendOps knows.
    UnrecognisedPayload,
    /// An SES event whose type SendOps does not know.
    UnsupportedEventType,
    /// An SES event missing a required field or holding a malformed one.
    InvalidEvent,
    /// An SES event that names no recipient.
    NoRecipients,
    /// The SES account is not mapped to any org.
    UnknownAccount,
    /// Processing the record panicked (a bug; the record is kept for replay).
    ProcessingPanic,
    /// The store refused the rows as data (not retryable).
    StoreRejected,
}

impl QuarantineReason {
    pub const ALL: [QuarantineReason; 8] = [
        QuarantineReason::InvalidJson,
        QuarantineReason::UnrecognisedPayload,
        QuarantineReason::UnsupportedEventType,
        QuarantineReason::InvalidEvent,
        QuarantineReason::NoRecipients,
        QuarantineReason::UnknownAccount,
        QuarantineReason::ProcessingPanic,
        QuarantineReason::StoreRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::InvalidJson => "invalid_json",
            QuarantineReason::UnrecognisedPayload => "unrecognised_payload",
            QuarantineReason::UnsupportedEventType => "unsupported_event_type",
            QuarantineReason::InvalidEvent => "invalid_event",
            QuarantineReason::NoRecipients => "no_recipients",
            QuarantineReason::UnknownAccount => "unknown_account",
            QuarantineReason::ProcessingPanic => "processing_panic",
            QuarantineReason::StoreRejected => "store_rejected",
        }
    }

    pub fn parse(s: &str) -> Option<QuarantineReason> {
        QuarantineReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

struct Rejection {
    reason: QuarantineReason,
    detail: String,
    account_id: String,
}

fn reject(reason: QuarantineReason, detail: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        detail: detail.into(),
        account_id: String::new(),
    }
}

/// Decodes one input record (an SQS message body, a replay-file item, or a whole Lambda event)
/// and appends what it held to `out`. Never fails and never panics on input.
pub fn decode_record(body: &str, out: &mut Vec<Outcome>) {
    decode_record_at(body, out, 0, Reading::Fast);
}

/// [`decode_record`] with the reference reading only: no hand-written scan and no one-pass
/// serde reading, every record read as a plain [`Document`]. It decides every outcome
/// [`decode_record`] must give; only the equivalence tests use it.
#[doc(hidden)]
pub fn decode_record_reference(body: &str, out: &mut Vec<Outcome>) {
    decode_record_at(body, out, 0, Reading::Reference);
}

/// A first reading of a record (which starts with `{`) into an [`EagerDocument`], `None` when it
/// cannot read it; see [`decode_record_first`].
#[doc(hidden)]
pub type FirstReading = for<'a> fn(&'a str) -> Option<EagerDocument<'a>>;

/// [`decode_record`] with `first` in place of the hand-written scan (then the one-pass serde
/// reading and the reference reading, as in [`decode_record`]); for the parse bench, to compare
/// other JSON readers of the same [`Document`] end to end (issue 12).
#[doc(hidden)]
pub fn decode_record_first(body: &str, out: &mut Vec<Outcome>, first: FirstReading) {
    decode_record_at(body, out, 0, Reading::First(first));
}

/// Whether the hand-written scan reads `body` itself (no fallback to the serde readings); for
/// the equivalence tests, to check the fast path is the one they compare.
#[doc(hidden)]
pub fn fast_scan_reads(body: &str) -> bool {
    let start = body.trim_start();
    let mut detail = crate::event::fast_scan::empty();
    start.starts_with('{')
        && crate::event::fast_scan::read_eager(
            start,
            &mut crate::event::fast_scan::empty(),
            &mut detail,
        )
}

/// How records are read.
#[derive(Clone, Copy)]
enum Reading {
    /// The hand-written scan ([`crate::event::fast_scan`]), then the one-pass serde reading, then the
    /// reference reading, each only if the one before could not read the record.
    Fast,
    /// The reference reading alone.
    Reference,
    /// A given first reading in place of the scan, then as [`Reading::Fast`].
    First(FirstReading),
}

fn decode_record_at(body: &str, out: &mut Vec<Outcome>, depth: u8, reading: Reading) {
    // Only the start is trimmed before the one-pass read: serde_json skips trailing whitespace
    // itself, so the outcome is the same, and the end of the record is not touched first.
    let start = body.trim_start();
    if !start.starts_with('{') {
        let text = start.trim_end();
        if text.starts_with(VALIDATION_TEXT) {
            out.push(notice(NoticeKind::TopicValidation, "", body));
        } else {
            let reason = if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                QuarantineReason::UnrecognisedPayload
            } else {
                QuarantineReason::InvalidJson
            };
            out.push(quarantine(
                reject(reason, "a record must be a JSON object"),
                body,
            ));
        }
        return;
    }
    if !matches!(reading, Reading::Reference) {
        if let Reading::First(first) = reading {
            if let Some(doc) = first(start) {
                decode_parsed(&doc, body, out, depth, reading);
                return;
            }
        } else {
            // The hand-written scan reads the common raw and EventBridge records; it gives up on
            // anything it is not sure of (SNS envelopes at their first key).
            let mut detail = crate::event::fast_scan::empty();
            let mut doc = crate::event::fast_scan::empty();
            if crate::event::fast_scan::read_eager(start, &mut doc, &mut detail) {
                decode_parsed(&doc, body, out, depth, reading);
                return;
            }
        }
        // One pass reads the usual carriers. Whatever it cannot read is read again the
        // reference way (`Message` and `detail` kept raw), which decides the outcome exactly as
        // it always has.
        if let Ok(doc) = serde_json::from_str::<EagerDocument<'_>>(start) {
            decode_parsed(&doc, body, out, depth, reading);
            return;
        }
    }
    // Fully trimmed, so error positions (part of the quarantine detail) are as they always were.
    let text = start.trim_end();
    let doc: Document<'_> = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            let reason = if e.is_data() {
                QuarantineReason::InvalidEvent
            } else {
                QuarantineReason::InvalidJson
            };
            out.push(quarantine(reject(reason, e.to_string()), body));
            return;
        }
    };
    decode_parsed(&doc, body, out, depth, reading);
}

/// How a [`Document`] holds the SNS `Message`.
trait MessageField {
    /// The text of the record the notification carries.
    fn text(&self) -> Result<Cow<'_, str>, Rejection>;
}

impl MessageField for &RawValue {
    fn text(&self) -> Result<Cow<'_, str>, Rejection> {
        // On the wire `Message` is a JSON string; a parsed object is accepted as well.
        if self.get().starts_with('"') {
            let s: Str<'_> = serde_json::from_str(self.get())
                .map_err(|e| reject(QuarantineReason::InvalidEvent, format!("SNS Message: {e}")))?;
            Ok(s.0)
        } else {
            Ok(Cow::Borrowed(self.get()))
        }
    }
}

impl MessageField for SnsText<'_> {
    fn text(&self) -> Result<Cow<'_, str>, Rejection> {
        Ok(Cow::Borrowed(&self.0))
    }
}

/// An EventBridge `detail`: already read, or raw JSON text still to read.
enum Detail<'r> {
    Read(&'r Document<'r>),
    Text(&'r str),
}

/// How a [`Document`] holds the EventBridge `detail`.
trait DetailField {
    fn detail(&self) -> Detail<'_>;
}

impl DetailField for &RawValue {
    fn detail(&self) -> Detail<'_> {
        Detail::Text(self.get())
    }
}

impl DetailField for &Document<'_> {
    fn detail(&self) -> Detail<'_> {
        Detail::Read(self)
    }
}

impl DetailField for Box<Document<'_>> {
    fn detail(&self) -> Detail<'_> {
        Detail::Read(self)
    }
}

fn decode_parsed<M: MessageField, D: DetailField>(
    doc: &Document<'_, M, D>,
    body: &str,
    out: &mut Vec<Outcome>,
    depth: u8,
    reading: Reading,
) {
    if let Some(records) = &doc.records {
        // A whole Lambda SQS or SNS event: every record stands on its own.
        for record in records {
            match serde_json::from_str::<LambdaRecord<'_>>(record.get()) {
                Ok(LambdaRecord {
                    body: Some(inner), ..
                }) if depth < MAX_DEPTH => decode_record_at(&inner, out, depth + 1, reading),
                Ok(LambdaRecord { sns: Some(sns), .. }) if depth < MAX_DEPTH => match sns.message {
                    Some(msg) => decode_record_at(&msg, out, depth + 1, reading),
                    None => out.push(quarantine(
                        reject(QuarantineReason::InvalidEvent, "SNS record without Message"),
                        record.get(),
                    )),
                },
                Ok(_) => out.push(quarantine(
                    reject(
                        QuarantineReason::UnrecognisedPayload,
                        "Lambda record without body or Sns",
                    ),
                    record.get(),
                )),
                Err(e) => out.push(quarantine(
                    reject(QuarantineReason::InvalidEvent, e.to_string()),
                    record.get(),
                )),
            }
        }
        return;
    }
    match decode_document(doc, None, depth) {
        Ok(Decoded::Event(ev)) => out.push(Outcome::Event(ParsedEvent {
            raw: (depth > 0).then(|| body.to_owned()),
            ..ev
        })),
        Ok(Decoded::Notice(kind, topic)) => out.push(notice(kind, &topic, body)),
        Err(rej) => out.push(quarantine(rej, body)),
    }
}

enum Decoded {
    Event(ParsedEvent),
    Notice(NoticeKind, String),
}

fn notice(kind: NoticeKind, topic_arn: &str, raw: &str) -> Outcome {
    Outcome::Notice(Notice {
        kind,
        topic_arn: topic_arn.to_owned(),
        raw: raw.to_owned(),
    })
}

fn quarantine(rej: Rejection, raw: &str) -> Outcome {
    Outcome::Quarantine(Quarantined {
        reason: rej.reason,
        detail: rej.detail,
        raw: raw.to_owned(),
        account_id: rej.account_id,
    })
}

fn decode_document<M: MessageField, D: DetailField>(
    doc: &Document<'_, M, D>,
    fallback_account: Option<&str>,
    depth: u8,
) -> Result<Decoded, Rejection> {
    if depth > MAX_DEPTH {
        return Err(reject(
            QuarantineReason::UnrecognisedPayload,
            "carriers nested too deeply",
        ));
    }
    if let Some(kind) = &doc.sns_type {
        let topic = doc.topic_arn.as_deref().unwrap_or("").to_owned();
        return match &**kind {
            "Notification" => {
                let text = doc
                    .sns_message
                    .as_ref()
                    .ok_or_else(|| {
                        reject(
                            QuarantineReason::InvalidEvent,
                            "SNS notification without Message",
                        )
                    })?
                    .text()?;
                let message = text.trim();
                if message.starts_with(VALIDATION_TEXT) {
                    return Ok(Decoded::Notice(NoticeKind::TopicValidation, topic));
                }
                if !message.starts_with('{') {
                    return Err(reject(
                        QuarantineReason::UnrecognisedPayload,
                        "SNS Message is not an SES event",
                    ));
                }
                let inner: Document<'_> = serde_json::from_str(message).map_err(|e| {
                    let reason = if e.is_data() {
                        QuarantineReason::InvalidEvent
                    } else {
                        QuarantineReason::InvalidJson
                    };
                    reject(reason, format!("SNS Message: {e}"))
                })?;
                match decode_document(&inner, fallback_account, depth + 1)? {
                    Decoded::Notice(kind, _) => Ok(Decoded::Notice(kind, topic)),
                    event => Ok(event),
                }
            }
            "SubscriptionConfirmation" => Ok(Decoded::Notice(
                NoticeKind::SnsSubscriptionConfirmation,
                topic,
            )),
            "UnsubscribeConfirmation" => Ok(Decoded::Notice(
                NoticeKind::SnsUnsubscribeConfirmation,
                topic,
            )),
            other => Err(reject(
                QuarantineReason::UnrecognisedPayload,
                format!("unknown SNS message type {other:?}"),
            )),
        };
    }
    if let Some(detail_type) = &doc.detail_type {
        let source = doc.source.as_deref().unwrap_or("");
        if source != "aws.ses" {
            return Err(reject(
                QuarantineReason::UnrecognisedPayload,
                format!("EventBridge event from {source:?}, not aws.ses"),
            ));
        }
        let Some(detail) = &doc.detail else {
            return Err(reject(
                QuarantineReason::InvalidEvent,
                "EventBridge event without detail",
            ));
        };
        let read;
        let inner: &Document<'_> = match detail.detail() {
            Detail::Read(inner) => inner,
            Detail::Text(text) => {
                read = serde_json::from_str::<Document<'_>>(text).map_err(|e| {
                    reject(
                        QuarantineReason::InvalidEvent,
                        format!("EventBridge detail: {e}"),
                    )
                })?;
                &read
            }
        };
        if inner.event_type.is_none() && inner.notification_type.is_none() {
            if detail_type.starts_with("Email ") {
                return Err(reject(
                    QuarantineReason::InvalidEvent,
                    format!(
                        "EventBridge {:?} without an SES event in detail",
                        &**detail_type
                    ),
                ));
            }
            return Ok(Decoded::Notice(
                NoticeKind::EventBridgeNonEmail,
                String::new(),
            ));
        }
        return decode_document(
            inner,
            doc.account.as_deref().or(fallback_account),
            depth + 1,
        );
    }
    if doc.notification_type.as_deref() == Some("AmazonSnsSubscriptionSucceeded") {
        return Ok(Decoded::Notice(
            NoticeKind::SubscriptionSucceeded,
            String::new(),
        ));
    }
    if let Some(name) = doc
        .event_type
        .as_deref()
        .or(doc.notification_type.as_deref())
    {
        return ses_event_rows(doc, name, fallback_account).map(Decoded::Event);
    }
    Err(reject(
        QuarantineReason::UnrecognisedPayload,
        "no SES event, SNS, EventBridge or Lambda carrier",
    ))
}

#[cfg(test)]
mod tests;
