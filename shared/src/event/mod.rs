//! Event decoding: from the bytes SQS hands over (SNS or EventBridge envelope, or the bare SES
//! event) to the SES event model and on to one stored row per recipient.
//!
//! - [`envelope`]: the envelopes and the decoding entry points (`decode_record`).
//! - [`ses_event`]: the SES event model; every field carries its SES wire name.
//! - `fast_scan`: the one-pass first reading of an event (checked against [`ses_event`]).
//! - [`event_id`]: the content-derived event id (the same whichever envelope carried it).
//! - [`row`]: [`row::EventRow`], the `events` table row.
//! - [`sns_confirm`]: whether a recorded SNS SubscriptionConfirmation may be confirmed.

pub mod envelope;
pub mod event_id;
pub(crate) mod fast_scan;
pub mod row;
pub mod ses_event;
pub mod sns_confirm;
