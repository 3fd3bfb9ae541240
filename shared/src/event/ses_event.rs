//! The SES event model, borrowed from the input where the JSON has no escapes.
//!
//! One [`Document`] type reads every carrier SendOps accepts in a single pass: a raw SES event
//! (event-publishing `eventType` or legacy `notificationType`), an SNS envelope, an EventBridge
//! event, or a Lambda SQS/SNS event. Only the fields SendOps uses are modelled; SES adds fields
//! without notice, so unknown fields are ignored and every field is optional here. What is
//! required for an event to be usable is decided in [`crate::event::envelope`].
//!
//! Every field names its wire name (`#[serde(rename = "bounceSubType")]`, never `rename_all`), so
//! searching for an SES field's name finds where it is read. The fast first reading
//! (`event::fast_scan`) reads the same names and is checked against this model
//! (`shared/tests/decode_equivalence.rs`).

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
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

/// A JSON array of strings, read exactly as a `Vec<Str>` is (same errors), that holds a single
/// string without a heap allocation (an event usually names one recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strs<'a> {
    One(Str<'a>),
    /// Any other number of strings (empty: no allocation).
    Many(Vec<Str<'a>>),
}

impl Default for Strs<'_> {
    fn default() -> Self {
        Strs::Many(Vec::new())
    }
}

impl<'a> Strs<'a> {
    pub fn push(&mut self, s: Str<'a>) {
        match self {
            Strs::Many(v) if v.is_empty() => *self = Strs::One(s),
            Strs::Many(v) => v.push(s),
            Strs::One(_) => {
                let Strs::One(first) = std::mem::take(self) else {
                    unreachable!("matched One")
                };
                *self = Strs::Many(vec![first, s]);
            }
        }
    }
}

impl<'a> Deref for Strs<'a> {
    type Target = [Str<'a>];
    fn deref(&self) -> &[Str<'a>] {
        match self {
            Strs::One(s) => std::slice::from_ref(s),
            Strs::Many(v) => v,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Strs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_seq(d)
    }
}

/// What a JSON array of strings is read into by [`str_seq`], one string at a time.
trait StrSeq<'de>: Default {
    fn add(&mut self, s: Str<'de>);
}

impl<'de: 'a, 'a> StrSeq<'de> for Strs<'a> {
    fn add(&mut self, s: Str<'de>) {
        self.push(s);
    }
}

/// Reads a JSON array of strings into `T`, exactly as a `Vec<Str>` is read (same errors).
fn str_seq<'de, T: StrSeq<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    struct SeqVisitor<T>(PhantomData<T>);
    impl<'de, T: StrSeq<'de>> Visitor<'de> for SeqVisitor<T> {
        type Value = T;
        // The text serde's `Vec` visitor gives, so errors read the same.
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
            let mut out = T::default();
            while let Some(value) = seq.next_element::<Str<'de>>()? {
                out.add(value);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(SeqVisitor(PhantomData))
}

/// Any JSON object SendOps may receive, read once.
///
/// `M` is how the SNS `Message` is read and `D` how the EventBridge `detail` is read. The
/// defaults keep both as raw JSON text that accepts any value and is looked at later (the
/// reference reading). [`EagerDocument`] reads `Message` as a string and `detail` as a document
/// in the same pass, which saves a pass over the event; [`crate::event::envelope`] tries it first and
/// falls back to the reference reading whenever it fails, so every input decodes the same.
#[derive(Debug, Default, Deserialize)]
pub struct Document<'a, M = &'a RawValue, D = &'a RawValue> {
    // Lambda SQS / SNS events.
    #[serde(rename = "Records", borrow)]
    pub records: Option<Vec<&'a RawValue>>,
    // SNS envelope.
    #[serde(rename = "Type", borrow)]
    pub sns_type: Option<Str<'a>>,
    /// A JSON string on the wire; some captures show it parsed, so an object is accepted too.
    #[serde(rename = "Message")]
    pub sns_message: Option<M>,
    #[serde(rename = "TopicArn", borrow)]
    pub topic_arn: Option<Str<'a>>,
    // EventBridge.
    #[serde(rename = "detail-type", borrow)]
    pub detail_type: Option<Str<'a>>,
    #[serde(rename = "source", borrow)]
    pub source: Option<Str<'a>>,
    #[serde(rename = "detail")]
    pub detail: Option<D>,
    #[serde(rename = "account", borrow)]
    pub account: Option<Str<'a>>,
    // SES event (both formats).
    #[serde(rename = "eventType", borrow)]
    pub event_type: Option<Str<'a>>,
    #[serde(rename = "notificationType", borrow)]
    pub notification_type: Option<Str<'a>>,
    #[serde(rename = "mail", borrow)]
    pub mail: Option<Mail<'a>>,
    #[serde(rename = "bounce", borrow)]
    pub bounce: Option<Bounce<'a>>,
    #[serde(rename = "complaint", borrow)]
    pub complaint: Option<Complaint<'a>>,
    #[serde(rename = "delivery", borrow)]
    pub delivery: Option<Delivery<'a>>,
    #[serde(rename = "reject", borrow)]
    pub reject: Option<Reject<'a>>,
    #[serde(rename = "open", borrow)]
    pub open: Option<Open<'a>>,
    #[serde(rename = "click", borrow)]
    pub click: Option<Click<'a>>,
    #[serde(rename = "failure", borrow)]
    pub failure: Option<Failure<'a>>,
    #[serde(rename = "deliveryDelay", borrow)]
    pub delivery_delay: Option<DeliveryDelay<'a>>,
    #[serde(rename = "subscription", borrow)]
    pub subscription: Option<Subscription<'a>>,
}

/// A [`Document`] read in one pass: the SNS `Message` must be a JSON string (it is unescaped
/// while the envelope is read) and the EventBridge `detail` a [`Document`] (read in place).
/// Anything else fails, and the caller reads the record again as a plain [`Document`].
pub type EagerDocument<'a> = Document<'a, SnsText<'a>, Box<Document<'a>>>;

/// An SNS `Message` that is a JSON string, unescaped (borrowed when it has no escapes, which it
/// always has in practice).
#[derive(Debug)]
pub struct SnsText<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for SnsText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Exactly how `Str` reads a string, so the text is the same as reading the raw value
        // as `Str` later.
        Str::deserialize(d).map(|s| SnsText(s.0))
    }
}

/// One record of a Lambda SQS event (`body`) or Lambda SNS event (`Sns.Message`).
#[derive(Debug, Deserialize)]
pub struct LambdaRecord<'a> {
    #[serde(rename = "body", borrow)]
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
pub struct Mail<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "messageId", borrow)]
    pub message_id: Option<Str<'a>>,
    #[serde(rename = "source", borrow)]
    pub source: Option<Str<'a>>,
    #[serde(rename = "sendingAccountId", borrow)]
    pub sending_account_id: Option<Str<'a>>,
    #[serde(rename = "destination", borrow, default)]
    pub destination: Strs<'a>,
    #[serde(rename = "commonHeaders", borrow)]
    pub common_headers: Option<CommonHeaders<'a>>,
    #[serde(rename = "tags", borrow, default)]
    pub tags: Tags<'a>,
}

/// The message tags SendOps stores: the first value of `ses:configuration-set` and of
/// `template`. Every tag is still read and checked as an array of strings (a malformed one fails
/// the event exactly as a map of string arrays would), but nothing else is kept, so reading tags
/// costs no hashing and no allocation. A tag repeated in the object counts by its last occurrence.
#[derive(Debug, Default)]
pub struct Tags<'a> {
    /// First value of `ses:configuration-set`.
    pub configuration_set: Option<Str<'a>>,
    /// First value of `template`.
    pub template: Option<Str<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Tags<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagsVisitor<'a>(PhantomData<Tags<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for TagsVisitor<'a> {
            type Value = Tags<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags<'a>, A::Error> {
                let mut tags = Tags::default();
                while let Some(name) = map.next_key::<Str<'de>>()? {
                    let first = map.next_value::<FirstOf<'de>>()?.0;
                    match &*name {
                        "ses:configuration-set" => tags.configuration_set = first,
                        "template" => tags.template = first,
                        _ => {}
                    }
                }
                Ok(tags)
            }
        }
        d.deserialize_map(TagsVisitor(PhantomData))
    }
}

/// The first string of an array of strings (every element is still checked).
#[derive(Default)]
struct FirstOf<'a>(Option<Str<'a>>);

impl<'de: 'a, 'a> StrSeq<'de> for FirstOf<'a> {
    fn add(&mut self, s: Str<'de>) {
        self.0.get_or_insert(s);
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstOf<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_seq(d)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CommonHeaders<'a> {
    #[serde(rename = "subject", borrow)]
    pub subject: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Bounce<'a> {
    #[serde(rename = "bounceType", borrow)]
    pub bounce_type: Option<Str<'a>>,
    #[serde(rename = "bounceSubType", borrow)]
    pub bounce_sub_type: Option<Str<'a>>,
    #[serde(rename = "bouncedRecipients", borrow, default)]
    pub bounced_recipients: Vec<RecipientStatus<'a>>,
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
}

/// A recipient with its DSN fields (bounces and delivery delays).
#[derive(Debug, Default, Deserialize)]
pub struct RecipientStatus<'a> {
    #[serde(rename = "emailAddress", borrow)]
    pub email_address: Option<Str<'a>>,
    #[serde(rename = "status", borrow)]
    pub status: Option<Str<'a>>,
    #[serde(rename = "diagnosticCode", borrow)]
    pub diagnostic_code: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Complaint<'a> {
    #[serde(rename = "complainedRecipients", borrow, default)]
    pub complained_recipients: Vec<RecipientStatus<'a>>,
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "complaintFeedbackType", borrow)]
    pub complaint_feedback_type: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Delivery<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "recipients", borrow, default)]
    pub recipients: Strs<'a>,
    #[serde(
        rename = "processingTimeMillis",
        default,
        deserialize_with = "lenient_u64"
    )]
    pub processing_time_millis: Option<u64>,
    #[serde(rename = "smtpResponse", borrow)]
    pub smtp_response: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reject<'a> {
    #[serde(rename = "reason", borrow)]
    pub reason: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Open<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "ipAddress", borrow)]
    pub ip_address: Option<Str<'a>>,
    #[serde(rename = "userAgent", borrow)]
    pub user_agent: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Click<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "ipAddress", borrow)]
    pub ip_address: Option<Str<'a>>,
    #[serde(rename = "userAgent", borrow)]
    pub user_agent: Option<Str<'a>>,
    #[serde(rename = "link", borrow)]
    pub link: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Failure<'a> {
    #[serde(rename = "errorMessage", borrow)]
    pub error_message: Option<Str<'a>>,
    #[serde(rename = "templateName", borrow)]
    pub template_name: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveryDelay<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "delayType", borrow)]
    pub delay_type: Option<Str<'a>>,
    #[serde(rename = "delayedRecipients", borrow, default)]
    pub delayed_recipients: Vec<RecipientStatus<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Subscription<'a> {
    #[serde(rename = "timestamp", borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(rename = "contactList", borrow)]
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
