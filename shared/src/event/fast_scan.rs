//! The fast first reading of a record: a hand-written single-pass JSON scanner that fills the
//! same [`Document`] serde would (an [`EagerDocument`](crate::event::ses_event::EagerDocument)), for the common raw and EventBridge
//! records.
//!
//! It reads only the fields SendOps uses and skips every other value with a validating skip
//! (strings, escapes, numbers, literals, nesting). It is deliberately narrow: whenever it meets
//! anything it is not sure serde would read the same way, it gives up (`None`) and the record is
//! read by the serde readings in [`crate::event::envelope`], which decide the outcome exactly as they
//! always have. So it gives up on:
//! - any `\u` escape, any key with an escape, any control character in a string;
//! - a value of a type other than the one serde expects for a known field (including `null`
//!   where serde would not accept it), a struct given as an array, a repeated known field;
//! - a number for `processingTimeMillis` that is not a plain integer of up to 19 digits;
//! - the SNS (`Type`, `Message`), Lambda (`Records`) and legacy (`notificationType`) carriers,
//!   and `Records`/`Message`/`detail` inside an EventBridge `detail`;
//! - nesting deeper than [`MAX_NESTING`] (serde_json's limit is 128), anything that is not valid
//!   JSON, or anything but JSON whitespace after the record.
//!
//! When it does not give up, the record is valid JSON and the document is field for field what
//! `serde_json::from_str::<EagerDocument>` returns. `shared/tests/decode_equivalence.rs` checks
//! the whole decode against the reference reading.

use serde_json::value::RawValue;

use crate::event::ses_event::{
    Bounce, Click, CommonHeaders, Complaint, Delivery, DeliveryDelay, Document, Failure, Mail,
    Open, RecipientStatus, Reject, SnsText, Str, Strs, Subscription, Tags,
};

mod json;
use json::*;

/// Deepest nesting of objects and arrays the scanner reads (serde_json's limit is 128).
const MAX_NESTING: u32 = 100;

/// `None`: not sure, read the record the serde way.
type R<T> = Option<T>;

/// Reads an EventBridge `detail` object (the scan is at its `{`) into storage of the caller's.
type ReadDetail<'r, 'a> = &'r mut dyn FnMut(&mut Scan<'a>) -> R<()>;

/// A [`Document`] read by the scan: like an [`EagerDocument`](crate::event::ses_event::EagerDocument), but its EventBridge `detail` is
/// read into storage of the caller's instead of a new box (a `Document` is large, and a large
/// allocation per record cost the allocator more than the rest of the envelope).
pub(crate) type FastDocument<'a, 'd> = Document<'a, SnsText<'a>, &'d Document<'a>>;

/// Reads `text` (which starts with `{`) into `doc` (from [`empty`]), as
/// `serde_json::from_str::<EagerDocument>` would, with an EventBridge `detail` object read into
/// `detail` (from [`empty`]); `false` when unsure (`doc` is then partly filled, to be dropped).
pub(crate) fn read_eager<'a, 'd>(
    text: &'a str,
    doc: &mut FastDocument<'a, 'd>,
    detail: &'d mut Document<'a>,
) -> bool {
    let mut s = Scan {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let mut read = false;
    let ok = s
        .document(
            doc,
            Some(&mut |s: &mut Scan<'a>| {
                read = true;
                s.document::<&'a RawValue, &'a RawValue>(detail, None)
            }),
        )
        .is_some();
    if !ok {
        return false;
    }
    s.ws();
    if s.i != s.b.len() {
        return false;
    }
    if read {
        doc.detail = Some(detail);
    }
    true
}

/// A [`Document`] with no field read.
pub(crate) fn empty<'a, M, D>() -> Document<'a, M, D> {
    Document {
        records: None,
        sns_type: None,
        sns_message: None,
        topic_arn: None,
        detail_type: None,
        source: None,
        detail: None,
        account: None,
        event_type: None,
        notification_type: None,
        mail: None,
        bounce: None,
        complaint: None,
        delivery: None,
        reject: None,
        open: None,
        click: None,
        failure: None,
        delivery_delay: None,
        subscription: None,
    }
}

/// Marks field `bit` of a struct as read; `None` if it was read before (serde fails on that).
#[inline]
fn once(seen: &mut u32, bit: u32) -> R<()> {
    let m = 1 << bit;
    if *seen & m != 0 {
        return None;
    }
    *seen |= m;
    Some(())
}

impl<'a> Scan<'a> {
    /// `Option<Str>`: a string or `null`.
    #[inline]
    fn opt_str(&mut self) -> R<Option<Str<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(|s| Some(Str(s))),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// [`Strs`]: an array of strings.
    fn str_vec(&mut self) -> R<Strs<'a>> {
        let mut v = Strs::default();
        self.array(|s| {
            if s.peek()? != b'"' {
                return None;
            }
            v.push(Str(s.string()?));
            Some(())
        })?;
        Some(v)
    }

    /// `Option<T>` of a struct, read in place into `slot`: an object read by `f`, or `null`.
    #[inline]
    fn opt_struct<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        mut f: impl FnMut(&mut Self, &mut T, &'a [u8], &mut u32) -> R<()>,
    ) -> R<()> {
        match self.peek()? {
            b'{' => {
                let t = slot.insert(T::default());
                let mut seen = 0u32;
                self.object(|s, key| f(s, t, key, &mut seen))
            }
            b'n' => {
                *slot = None;
                self.literal(b"null")
            }
            _ => None,
        }
    }

    /// A struct read from an object: `f` reads one member into it (the `u32` marks the fields
    /// already read).
    #[inline]
    fn strukt<T: Default>(
        &mut self,
        f: &mut impl FnMut(&mut Self, &mut T, &'a [u8], &mut u32) -> R<()>,
    ) -> R<T> {
        let mut t = T::default();
        let mut seen = 0u32;
        self.object(|s, key| f(s, &mut t, key, &mut seen))?;
        Some(t)
    }

    fn recipient_statuses(&mut self) -> R<Vec<RecipientStatus<'a>>> {
        let mut v = Vec::new();
        self.array(|s| {
            if s.peek()? != b'{' {
                return None;
            }
            v.push(s.strukt(&mut |s, r: &mut RecipientStatus<'a>, key, seen| {
                match key {
                    b"emailAddress" => {
                        once(seen, 0)?;
                        r.email_address = s.opt_str()?;
                    }
                    b"status" => {
                        once(seen, 1)?;
                        r.status = s.opt_str()?;
                    }
                    b"diagnosticCode" => {
                        once(seen, 2)?;
                        r.diagnostic_code = s.opt_str()?;
                    }
                    _ => s.skip_value()?,
                }
                Some(())
            })?);
            Some(())
        })?;
        Some(v)
    }

    /// `processingTimeMillis`: only a plain integer that fits a `u64` for sure.
    fn plain_u64(&mut self) -> R<Option<u64>> {
        let start = self.i;
        self.skip_number()?;
        let digits = &self.s[start..self.i];
        if digits.len() > 19 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Some)
    }

    fn tags(&mut self) -> R<Tags<'a>> {
        let mut tags = Tags::default();
        self.object(|s, name| {
            let mut first = None;
            s.array(|s| {
                if s.peek()? != b'"' {
                    return None;
                }
                let value = s.string()?;
                first.get_or_insert(Str(value));
                Some(())
            })?;
            // A repeated tag counts by its last occurrence, as in the serde reading.
            match name {
                b"ses:configuration-set" => tags.configuration_set = first,
                b"template" => tags.template = first,
                _ => {}
            }
            Some(())
        })?;
        Some(tags)
    }

    fn mail(&mut self, m: &mut Mail<'a>, key: &'a [u8], seen: &mut u32) -> R<()> {
        match key {
            b"timestamp" => {
                once(seen, 0)?;
                m.timestamp = self.opt_str()?;
            }
            b"messageId" => {
                once(seen, 1)?;
                m.message_id = self.opt_str()?;
            }
            b"source" => {
                once(seen, 2)?;
                m.source = self.opt_str()?;
            }
            b"sendingAccountId" => {
                once(seen, 3)?;
                m.sending_account_id = self.opt_str()?;
            }
            b"destination" => {
                once(seen, 4)?;
                m.destination = self.str_vec()?;
            }
            b"commonHeaders" => {
                once(seen, 5)?;
                self.opt_struct(
                    &mut m.common_headers,
                    |s, h: &mut CommonHeaders<'a>, key, seen| {
                        match key {
                            b"subject" => {
                                once(seen, 0)?;
                                h.subject = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    },
                )?;
            }
            b"tags" => {
                once(seen, 6)?;
                m.tags = self.tags()?;
            }
            _ => self.skip_value()?,
        }
        Some(())
    }

    /// A [`Document`] (at its `{`), read into `doc` (from [`empty`]); `detail` reads an
    /// EventBridge `detail` (`None`: give up on one, as inside a `detail`).
    fn document<M, D>(
        &mut self,
        doc: &mut Document<'a, M, D>,
        mut detail: Option<ReadDetail<'_, 'a>>,
    ) -> R<()> {
        let mut seen = 0u32;
        let seen = &mut seen;
        self.object(|s, key| {
            match key {
                b"eventType" => {
                    once(seen, 0)?;
                    doc.event_type = s.opt_str()?;
                }
                b"mail" => {
                    once(seen, 1)?;
                    s.opt_struct(&mut doc.mail, Scan::mail)?;
                }
                b"detail-type" => {
                    once(seen, 2)?;
                    doc.detail_type = s.opt_str()?;
                }
                b"source" => {
                    once(seen, 3)?;
                    doc.source = s.opt_str()?;
                }
                b"account" => {
                    once(seen, 4)?;
                    doc.account = s.opt_str()?;
                }
                b"detail" => {
                    once(seen, 5)?;
                    let read = detail.as_mut()?;
                    match s.peek()? {
                        b'{' => read(s)?,
                        b'n' => s.literal(b"null")?,
                        _ => return None,
                    }
                }
                b"TopicArn" => {
                    once(seen, 6)?;
                    doc.topic_arn = s.opt_str()?;
                }
                b"delivery" => {
                    once(seen, 7)?;
                    s.opt_struct(&mut doc.delivery, |s, d: &mut Delivery<'a>, key, seen| {
                        match key {
                            b"timestamp" => {
                                once(seen, 0)?;
                                d.timestamp = s.opt_str()?;
                            }
                            b"recipients" => {
                                once(seen, 1)?;
                                d.recipients = s.str_vec()?;
                            }
                            b"processingTimeMillis" => {
                                once(seen, 2)?;
                                d.processing_time_millis = s.plain_u64()?;
                            }
                            b"smtpResponse" => {
                                once(seen, 3)?;
                                d.smtp_response = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"bounce" => {
                    once(seen, 8)?;
                    s.opt_struct(&mut doc.bounce, |s, b: &mut Bounce<'a>, key, seen| {
                        match key {
                            b"bounceType" => {
                                once(seen, 0)?;
                                b.bounce_type = s.opt_str()?;
                            }
                            b"bounceSubType" => {
                                once(seen, 1)?;
                                b.bounce_sub_type = s.opt_str()?;
                            }
                            b"bouncedRecipients" => {
                                once(seen, 2)?;
                                b.bounced_recipients = s.recipient_statuses()?;
                            }
                            b"timestamp" => {
                                once(seen, 3)?;
                                b.timestamp = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"complaint" => {
                    once(seen, 9)?;
                    s.opt_struct(&mut doc.complaint, |s, c: &mut Complaint<'a>, key, seen| {
                        match key {
                            b"complainedRecipients" => {
                                once(seen, 0)?;
                                c.complained_recipients = s.recipient_statuses()?;
                            }
                            b"timestamp" => {
                                once(seen, 1)?;
                                c.timestamp = s.opt_str()?;
                            }
                            b"complaintFeedbackType" => {
                                once(seen, 2)?;
                                c.complaint_feedback_type = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"reject" => {
                    once(seen, 10)?;
                    s.opt_struct(&mut doc.reject, |s, r: &mut Reject<'a>, key, seen| {
                        match key {
                            b"reason" => {
                                once(seen, 0)?;
                                r.reason = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"open" => {
                    once(seen, 11)?;
                    s.opt_struct(&mut doc.open, |s, o: &mut Open<'a>, key, seen| {
                        match key {
                            b"timestamp" => {
                                once(seen, 0)?;
                                o.timestamp = s.opt_str()?;
                            }
                            b"ipAddress" => {
                                once(seen, 1)?;
                                o.ip_address = s.opt_str()?;
                            }
                            b"userAgent" => {
                                once(seen, 2)?;
                                o.user_agent = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"click" => {
                    once(seen, 12)?;
                    s.opt_struct(&mut doc.click, |s, c: &mut Click<'a>, key, seen| {
                        match key {
                            b"timestamp" => {
                                once(seen, 0)?;
                                c.timestamp = s.opt_str()?;
                            }
                            b"ipAddress" => {
                                once(seen, 1)?;
                                c.ip_address = s.opt_str()?;
                            }
                            b"userAgent" => {
                                once(seen, 2)?;
                                c.user_agent = s.opt_str()?;
                            }
                            b"link" => {
                                once(seen, 3)?;
                                c.link = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"failure" => {
                    once(seen, 13)?;
                    s.opt_struct(&mut doc.failure, |s, f: &mut Failure<'a>, key, seen| {
                        match key {
                            b"errorMessage" => {
                                once(seen, 0)?;
                                f.error_message = s.opt_str()?;
                            }
                            b"templateName" => {
                                once(seen, 1)?;
                                f.template_name = s.opt_str()?;
                            }
                            _ => s.skip_value()?,
                        }
                        Some(())
                    })?;
                }
                b"deliveryDelay" => {
                    once(seen, 14)?;
                    s.opt_struct(
                        &mut doc.delivery_delay,
                        |s, d: &mut DeliveryDelay<'a>, key, seen| {
                            match key {
                                b"timestamp" => {
                                    once(seen, 0)?;
                                    d.timestamp = s.opt_str()?;
                                }
                                b"delayType" => {
                                    once(seen, 1)?;
                                    d.delay_type = s.opt_str()?;
                                }
                                b"delayedRecipients" => {
                                    once(seen, 2)?;
                                    d.delayed_recipients = s.recipient_statuses()?;
                                }
                                _ => s.skip_value()?,
                            }
                            Some(())
                        },
                    )?;
                }
                b"subscription" => {
                    once(seen, 15)?;
                    s.opt_struct(
                        &mut doc.subscription,
                        |s, d: &mut Subscription<'a>, key, seen| {
                            match key {
                                b"timestamp" => {
                                    once(seen, 0)?;
                                    d.timestamp = s.opt_str()?;
                                }
                                b"contactList" => {
                                    once(seen, 1)?;
                                    d.contact_list = s.opt_str()?;
                                }
                                _ => s.skip_value()?,
                            }
                            Some(())
                        },
                    )?;
                }
                // Other carriers and the legacy format: the serde readings handle them.
                b"Records" | b"Type" | b"Message" | b"notificationType" => return None,
                _ => s.skip_value()?,
            }
            Some(())
        })
    }
}
