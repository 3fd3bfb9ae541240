//! The SES event model, borrowed from the input where the JSON has no escapes.
//!
//! One [`Document`] type reads every carrier SendOps accepts in a single pass: a raw SES event
//! (event-publishing `eventType` or legacy `notificationType`), an SNS envelope, an EventBridge
//! event, or a Lambda SQS/SNS event. Only the fields SendOps uses are modelled; SES adds fields
//! without notice, so unknown fields are ignored and every field is optional here. What is
//! required for an event to be usable is decided in [`crate::envelope`].

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::ops::Deref;

use serde::Deserialize;
use serde_json::value::RawValue;

/// A string borrowed from the input when it has no escapes, owned otherwise. (serde borrows a
/// `Cow<str>` only when it is the field's whole type; this newtype makes `Option`, `Vec` and map
/// keys borrow too.)
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct Str<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Any JSON object SendOps may receive, read once.
#[derive(Debug, Default, Deserialize)]
pub struct Document<'a> {
    // Lambda SQS / SNS events.
    #[serde(rename = "Records", borrow)]
    pub records: Option<Vec<&'a RawValue>>,
    // SNS envelope.
    #[serde(rename = "Type", borrow)]
    pub sns_type: Option<Str<'a>>,
    /// A JSON string on the wire; some captures show it parsed, so an object is accepted too.
    #[serde(rename = "Message", borrow)]
    pub sns_message: Option<&'a RawValue>,
    #[serde(rename = "TopicArn", borrow)]
    pub topic_arn: Option<Str<'a>>,
    // EventBridge.
    #[serde(rename = "detail-type", borrow)]
    pub detail_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub source: Option<Str<'a>>,
    #[serde(borrow)]
    pub detail: Option<&'a RawValue>,
    #[serde(borrow)]
    pub account: Option<Str<'a>>,
    // SES event (both formats).
    #[serde(rename = "eventType", borrow)]
    pub event_type: Option<Str<'a>>,
    #[serde(rename = "notificationType", borrow)]
    pub notification_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub mail: Option<Mail<'a>>,
    #[serde(borrow)]
    pub bounce: Option<Bounce<'a>>,
    #[serde(borrow)]
    pub complaint: Option<Complaint<'a>>,
    #[serde(borrow)]
    pub delivery: Option<Delivery<'a>>,
    #[serde(borrow)]
    pub reject: Option<Reject<'a>>,
    #[serde(borrow)]
    pub open: Option<Open<'a>>,
    #[serde(borrow)]
    pub click: Option<Click<'a>>,
    #[serde(borrow)]
    pub failure: Option<Failure<'a>>,
    #[serde(rename = "deliveryDelay", borrow)]
    pub delivery_delay: Option<DeliveryDelay<'a>>,
    #[serde(borrow)]
    pub subscription: Option<Subscription<'a>>,
}

/// One record of a Lambda SQS event (`body`) or Lambda SNS event (`Sns.Message`).
#[derive(Debug, Deserialize)]
pub struct LambdaRecord<'a> {
    #[serde(borrow)]
    pub body: Option<Str<'a>>,
    #[serde(rename = "Sns", borrow)]
    pub sns: Option<SnsRecord<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct SnsRecord<'a> {
    #[serde(rename = "Message", borrow)]
    pub message: Option<Str<'a>>,
}

/// The `mail` object every SES event repeats.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub message_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub source: Option<Str<'a>>,
    #[serde(borrow)]
    pub sending_account_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub destination: Vec<Str<'a>>,
    #[serde(borrow)]
    pub common_headers: Option<CommonHeaders<'a>>,
    #[serde(borrow, default)]
    pub tags: HashMap<Str<'a>, Vec<Str<'a>>>,
}

impl Mail<'_> {
    /// First value of a message tag.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).and_then(|v| v.first()).map(|v| &**v)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CommonHeaders<'a> {
    #[serde(borrow)]
    pub subject: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounce<'a> {
    #[serde(borrow)]
    pub bounce_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub bounce_sub_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub bounced_recipients: Vec<RecipientStatus<'a>>,
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
}

/// A recipient with its DSN fields (bounces and delivery delays).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientStatus<'a> {
    #[serde(borrow)]
    pub email_address: Option<Str<'a>>,
    #[serde(borrow)]
    pub status: Option<Str<'a>>,
    #[serde(borrow)]
    pub diagnostic_code: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complaint<'a> {
    #[serde(borrow, default)]
    pub complained_recipients: Vec<RecipientStatus<'a>>,
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub complaint_feedback_type: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub recipients: Vec<Str<'a>>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub processing_time_millis: Option<u64>,
    #[serde(borrow)]
    pub smtp_response: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reject<'a> {
    #[serde(borrow)]
    pub reason: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Open<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub ip_address: Option<Str<'a>>,
    #[serde(borrow)]
    pub user_agent: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Click<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub ip_address: Option<Str<'a>>,
    #[serde(borrow)]
    pub user_agent: Option<Str<'a>>,
    #[serde(borrow)]
    pub link: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure<'a> {
    #[serde(borrow)]
    pub error_message: Option<Str<'a>>,
    #[serde(borrow)]
    pub template_name: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDelay<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub delay_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub delayed_recipients: Vec<RecipientStatus<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    pub contact_list: Option<Str<'a>>,
}

/// A number SES may one day send as a string; anything unreadable is treated as absent rather
/// than failing the whole event (the field is informational).
fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText<'a> {
        Num(u64),
        Float(f64),
        #[serde(borrow)]
        Text(Str<'a>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match NumOrText::deserialize(d)? {
        NumOrText::Num(n) => Some(n),
        NumOrText::Float(f) if f >= 0.0 && f.is_finite() => Some(f as u64),
        NumOrText::Text(t) => t.trim().parse().ok(),
        _ => None,
    })
}
