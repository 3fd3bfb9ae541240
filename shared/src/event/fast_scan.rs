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
//!
//! Each object's fields are declared once, in a [`members!`] table (wire name → how it is read);
//! the bit that marks a field as read is its place in that table, so two fields cannot share one
//! (checked at compile time, with the table fitting the `u32` mask).
//!
//! Kept beside sonic-rs (issue 12): reading the same `EagerDocument` through serde, sonic-rs was
//! no faster than serde_json here, and the scan reads raw and EventBridge records 2–3× faster
//! than either (figures in `benches/README.md`, "fast_scan beside sonic-rs").

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

/// Whether two wire names are the same (`==` on slices is not `const`).
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bit of field `name` in an object's `seen` mask: its place in the object's declaration
/// (`names`, in the order [`members!`] lists them). Evaluated at compile time.
const fn bit(names: &[&[u8]], name: &[u8]) -> u32 {
    let mut i = 0;
    while i < names.len() {
        if same(names[i], name) {
            return i as u32;
        }
        i += 1;
    }
    panic!("a field that is not declared")
}

/// Whether an object's declared fields each get a bit of their own: no name declared twice, and
/// no more names than the `u32` mask has bits. Asserted at compile time for every object.
const fn bits_fit(names: &[&[u8]]) -> bool {
    if names.len() > u32::BITS as usize {
        return false;
    }
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if same(names[i], names[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Reads the member `$key` of an object, whose fields SendOps reads are declared here once
/// each: `b"wireName" => read,` runs `read` (an expression using `$s`) when the key is that
/// name. Each field's bit in `$seen` is its place in the declaration, so two fields cannot share
/// a bit; the names are checked distinct and at most 32 at compile time. A field read a second
/// time gives up (`None`: serde rejects a duplicate field). The names after `give up on` give up
/// at once; every other member is skipped (validated). Evaluates to `Some(())`.
macro_rules! members {
    ($s:ident, $key:ident, $seen:ident {
        $($name:literal => $read:expr),+ $(,)?
    } $(give up on $($other:literal)|+)?) => {{
        const NAMES: &[&[u8]] = &[$($name),+];
        const _: () = assert!(bits_fit(NAMES), "fields declared twice or over 32");
        #[deny(unreachable_patterns)]
        match $key {
            $($name => {
                once($seen, const { bit(NAMES, $name) })?;
                $read;
            })+
            $($($other)|+ => return None,)?
            _ => $s.skip_value()?,
        }
        Some(())
    }};
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

    /// An array of strings (at its `[`): `add` takes each string, in order.
    #[inline]
    fn strings(&mut self, mut add: impl FnMut(Str<'a>)) -> R<()> {
        self.array(|s| {
            if s.peek()? != b'"' {
                return None;
            }
            add(Str(s.string()?));
            Some(())
        })
    }

    /// [`Strs`]: an array of strings.
    fn str_vec(&mut self) -> R<Strs<'a>> {
        let mut v = Strs::default();
        self.strings(|value| v.push(value))?;
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
                members!(s, key, seen {
                    b"emailAddress" => r.email_address = s.opt_str()?,
                    b"status" => r.status = s.opt_str()?,
                    b"diagnosticCode" => r.diagnostic_code = s.opt_str()?,
                })
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
            s.strings(|value| {
                first.get_or_insert(value);
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
        let s = self;
        members!(s, key, seen {
            b"timestamp" => m.timestamp = s.opt_str()?,
            b"messageId" => m.message_id = s.opt_str()?,
            b"source" => m.source = s.opt_str()?,
            b"sendingAccountId" => m.sending_account_id = s.opt_str()?,
            b"destination" => m.destination = s.str_vec()?,
            b"commonHeaders" => s.opt_struct(
                &mut m.common_headers,
                |s, h: &mut CommonHeaders<'a>, key, seen| {
                    members!(s, key, seen {
                        b"subject" => h.subject = s.opt_str()?,
                    })
                },
            )?,
            b"tags" => m.tags = s.tags()?,
        })
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
            members!(s, key, seen {
                b"eventType" => doc.event_type = s.opt_str()?,
                b"mail" => s.opt_struct(&mut doc.mail, Scan::mail)?,
                b"detail-type" => doc.detail_type = s.opt_str()?,
                b"source" => doc.source = s.opt_str()?,
                b"account" => doc.account = s.opt_str()?,
                b"detail" => {
                    let read = detail.as_mut()?;
                    match s.peek()? {
                        b'{' => read(s)?,
                        b'n' => s.literal(b"null")?,
                        _ => return None,
                    }
                },
                b"TopicArn" => doc.topic_arn = s.opt_str()?,
                b"delivery" => s.opt_struct(
                    &mut doc.delivery,
                    |s, d: &mut Delivery<'a>, key, seen| {
                        members!(s, key, seen {
                            b"timestamp" => d.timestamp = s.opt_str()?,
                            b"recipients" => d.recipients = s.str_vec()?,
                            b"processingTimeMillis" => {
                                d.processing_time_millis = s.plain_u64()?
                            },
                            b"smtpResponse" => d.smtp_response = s.opt_str()?,
                        })
                    },
                )?,
                b"bounce" => s.opt_struct(&mut doc.bounce, |s, b: &mut Bounce<'a>, key, seen| {
                    members!(s, key, seen {
                        b"bounceType" => b.bounce_type = s.opt_str()?,
                        b"bounceSubType" => b.bounce_sub_type = s.opt_str()?,
                        b"bouncedRecipients" => b.bounced_recipients = s.recipient_statuses()?,
                        b"timestamp" => b.timestamp = s.opt_str()?,
                    })
                })?,
                b"complaint" => s.opt_struct(
                    &mut doc.complaint,
                    |s, c: &mut Complaint<'a>, key, seen| {
                        members!(s, key, seen {
                            b"complainedRecipients" => {
                                c.complained_recipients = s.recipient_statuses()?
                            },
                            b"timestamp" => c.timestamp = s.opt_str()?,
                            b"complaintFeedbackType" => {
                                c.complaint_feedback_type = s.opt_str()?
                            },
                        })
                    },
                )?,
                b"reject" => s.opt_struct(&mut doc.reject, |s, r: &mut Reject<'a>, key, seen| {
                    members!(s, key, seen {
                        b"reason" => r.reason = s.opt_str()?,
                    })
                })?,
                b"open" => s.opt_struct(&mut doc.open, |s, o: &mut Open<'a>, key, seen| {
                    members!(s, key, seen {
                        b"timestamp" => o.timestamp = s.opt_str()?,
                        b"ipAddress" => o.ip_address = s.opt_str()?,
                        b"userAgent" => o.user_agent = s.opt_str()?,
                    })
                })?,
                b"click" => s.opt_struct(&mut doc.click, |s, c: &mut Click<'a>, key, seen| {
                    members!(s, key, seen {
                        b"timestamp" => c.timestamp = s.opt_str()?,
                        b"ipAddress" => c.ip_address = s.opt_str()?,
                        b"userAgent" => c.user_agent = s.opt_str()?,
                        b"link" => c.link = s.opt_str()?,
                    })
                })?,
                b"failure" => s.opt_struct(&mut doc.failure, |s, f: &mut Failure<'a>, key, seen| {
                    members!(s, key, seen {
                        b"errorMessage" => f.error_message = s.opt_str()?,
                        b"templateName" => f.template_name = s.opt_str()?,
                    })
                })?,
                b"deliveryDelay" => s.opt_struct(
                    &mut doc.delivery_delay,
                    |s, d: &mut DeliveryDelay<'a>, key, seen| {
                        members!(s, key, seen {
                            b"timestamp" => d.timestamp = s.opt_str()?,
                            b"delayType" => d.delay_type = s.opt_str()?,
                            b"delayedRecipients" => d.delayed_recipients = s.recipient_statuses()?,
                        })
                    },
                )?,
                b"subscription" => s.opt_struct(
                    &mut doc.subscription,
                    |s, d: &mut Subscription<'a>, key, seen| {
                        members!(s, key, seen {
                            b"timestamp" => d.timestamp = s.opt_str()?,
                            b"contactList" => d.contact_list = s.opt_str()?,
                        })
                    },
                )?,
            }
            // Other carriers and the legacy format: the serde readings handle them.
            give up on b"Records" | b"Type" | b"Message" | b"notificationType")
        })
    }
}
