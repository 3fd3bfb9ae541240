//! Query and path values, parsed strictly: broken percent-encoding is a 400; every value that
//! does not parse or is out of range is a 422 naming its field; unknown parameters are ignored.

use sendops_shared::control::org::Plan;
use sendops_shared::timefmt::{DAY_MS, EpochMs, TimeRange, parse_rfc3339_ms};
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::problem::{ApiError, FieldError};

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`), refusing broken ones and
/// invalid UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A decoded query string: the first value of each name wins.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: Option<&str>) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let bad =
                || ApiError::InvalidRequest("the query string has broken percent-encoding".into());
            let k = percent_decode(k, true).ok_or_else(bad)?;
            let v = percent_decode(v, true).ok_or_else(bad)?;
            pairs.push((k, v));
        }
        Ok(Params { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair but `skip`, in order (for `Link` headers).
    pub fn pairs_except<'a>(
        &'a self,
        skip: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k != skip)
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The query as a `*Params` struct: the first value of each name, unknown names ignored.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut seen = std::collections::HashSet::new();
        let first = self
            .pairs
            .iter()
            .filter(|(k, _)| seen.insert(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()));
        T::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(first))
            .map_err(|e| ApiError::InvalidRequest(format!("the query string cannot be read: {e}")))
    }
}

/// A request's query string, decoded strictly (400 on broken percent-encoding) into the route's
/// `*Params` struct, with the decoded pairs kept for the `Link` of the next page. Handlers read it
/// after their scope check (a key without the scope gets its 403 whatever the query).
pub struct Query<T> {
    pub params: T,
    pub raw: Params,
}

impl<T: DeserializeOwned> Query<T> {
    pub fn parse(raw: Option<&str>) -> Result<Query<T>, ApiError> {
        let raw = Params::parse(raw)?;
        Ok(Query {
            params: raw.typed()?,
            raw,
        })
    }
}

/// `deserialize_with` of every `*Params` field: a present value (even empty) is `Some`.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Declares a route's `*Params` struct: every field an optional raw string (its value is checked
/// by the handler through [`Checks`], so every failing field lands in one 422), deserialized by
/// [`Query`], documented by `IntoParams`; `present()` lists the parameters given, in declaration
/// order (cursor fingerprints are built from it).
///
/// Besides plain fields, the shared parameters are written once here and named by a marker, in
/// the place their fields take: `@window` (`from`, `to`), `@page` (`limit`, `cursor`),
/// `@strict_page` (the same, a bad cursor being a 422), `@limit`, `@channel`, `@identity`.
#[macro_export]
macro_rules! query_params {
    (@munch $head:tt [$($done:tt)*] @window $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Window start (RFC 3339), default 30 days before `to`.
            #[param(value_type = Option<String>, format = DateTime)]
            from,
            /// Window end (RFC 3339, exclusive), default now.
            #[param(value_type = Option<String>, format = DateTime)]
            to,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] @limit $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Page size, 1–200 (default 50).
            #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
            limit,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] @page $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Page size, 1–200 (default 50).
            #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
            limit,
            /// Opaque cursor from the previous page.
            cursor,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] @strict_page $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Page size, 1–200 (default 50).
            #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
            limit,
            /// Opaque cursor from the previous page (a malformed or foreign one is a 422).
            cursor,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] @channel $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Channel UUID.
            #[param(value_type = Option<String>, format = Uuid)]
            channel,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] @identity $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)*
            /// Sending identity: an email address (its domain is used) or a domain.
            identity,
        ] $($($rest)*)?);
    };
    (@munch $head:tt [$($done:tt)*] $(#[$fmeta:meta])* $field:ident $(, $($rest:tt)*)?) => {
        $crate::query_params!(@munch $head [$($done)* $(#[$fmeta])* $field,] $($($rest)*)?);
    };
    (@munch [$(#[$meta:meta])* $name:ident] [$( $(#[$fmeta:meta])* $field:ident, )*]) => {
        $(#[$meta])*
        #[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, deserialize_with = "crate::params::present")]
                pub $field: Option<String>,
            )*
        }

        impl $name {
            /// The parameters present in the request, in declaration order.
            pub fn present(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$field {
                        out.push((stringify!($field), v.clone()));
                    }
                )*
                out
            }

            /// The present parameters but the page's own (`limit`, `cursor`): what a cursor is
            /// bound to.
            pub fn filters(&self) -> Vec<(&'static str, String)> {
                let mut out = self.present();
                out.retain(|(k, _)| *k != "limit" && *k != "cursor");
                out
            }
        }
    };
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::query_params!(@munch [$(#[$meta])* $name] [] $($body)*);
    };
}

/// A closed set of values a parameter takes (exact match).
pub trait Choice: Sized + Copy + 'static {
    /// Every value, in the order the error message lists them.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    fn parse(v: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == v)
    }
}

/// Every field that failed, in the order checked, for one 422.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// The 422 for everything that failed, if anything did.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(std::mem::take(&mut self.errors)))
        }
    }

    /// A non-empty string value (an empty one is a validation error).
    pub fn text(&mut self, name: &str, value: Option<&str>) -> Option<String> {
        match value {
            None => None,
            Some("") => {
                self.fail(name, "must not be empty");
                None
            }
            Some(v) => Some(v.to_owned()),
        }
    }

    /// `limit`: 1–200, default 50.
    pub fn limit(&mut self, value: Option<&str>) -> u32 {
        self.integer("limit", value, 1, 200, 50)
    }

    /// An integer in [lo, hi]; `default` when absent or failed.
    pub fn integer(
        &mut self,
        name: &str,
        value: Option<&str>,
        lo: u32,
        hi: u32,
        default: u32,
    ) -> u32 {
        match value {
            None => default,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (lo..=hi).contains(&n) => n,
                _ => {
                    self.fail(name, format!("must be an integer from {lo} to {hi}"));
                    default
                }
            },
        }
    }

    pub fn uuid(&mut self, name: &str, value: Option<&str>) -> Option<Uuid> {
        match Uuid::try_parse(value?) {
            Ok(u) => Some(u),
            Err(_) => {
                self.fail(name, "must be a UUID");
                None
            }
        }
    }

    /// An RFC 3339 timestamp, as epoch milliseconds.
    pub fn timestamp(&mut self, name: &str, value: Option<&str>) -> Option<i64> {
        match parse_rfc3339_ms(value?) {
            Some(ms) => Some(ms),
            None => {
                self.fail(
                    name,
                    "must be an RFC 3339 timestamp such as 2026-05-17T19:00:00Z",
                );
                None
            }
        }
    }

    /// One of `C::ALL` (exact).
    pub fn choice<C: Choice>(&mut self, name: &str, value: Option<&str>) -> Option<C> {
        let v = value?;
        match C::parse(v) {
            Some(c) => Some(c),
            None => {
                let names: Vec<&str> = C::ALL.iter().map(|c| c.as_str()).collect();
                self.fail(name, format!("must be one of {}", names.join(", ")));
                None
            }
        }
    }

    /// The [from, to) window of docs/semantics.md#time-windows from the `from` and `to` values: defaults to the
    /// trailing 30 days clamped to the plan's retention; an explicit `from` older than the
    /// retention is a 403.
    pub fn window(
        &mut self,
        from_value: Option<&str>,
        to_value: Option<&str>,
        plan: Plan,
        now_ms: i64,
    ) -> Result<Window, ApiError> {
        let from = self.timestamp("from", from_value);
        let to = self.timestamp("to", to_value);
        let explicit_from = from_value.is_some();
        let explicit_to = to_value.is_some();
        let retention_start = now_ms - i64::from(plan.retention_days()) * DAY_MS;
        let to_ms = to.unwrap_or(now_ms);
        let from_ms = from.unwrap_or_else(|| (to_ms - 30 * DAY_MS).max(retention_start));
        if from.is_some() && to.is_some() && from_ms >= to_ms {
            self.fail("from", "must be earlier than 'to'");
        } else if from.is_none() && to.is_some() && !explicit_from && from_ms >= to_ms {
            self.fail(
                "to",
                "is earlier than the start of your plan's retention window",
            );
        }
        self.finish()?;
        if explicit_from && from_ms < retention_start {
            return Err(ApiError::RetentionExceeded {
                retention_days: plan.retention_days(),
            });
        }
        Ok(Window {
            from_ms,
            to_ms,
            explicit_from,
            explicit_to,
        })
    }
}

/// A half-open time window [from, to) in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub explicit_from: bool,
    pub explicit_to: bool,
}

impl Window {
    /// [from, to) as the read layer takes it.
    pub fn range(&self) -> TimeRange {
        TimeRange::new(EpochMs(self.from_ms), EpochMs(self.to_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(
            percent_decode("a%40b.com", false).as_deref(),
            Some("a@b.com")
        );
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%ff", false), None);
    }

    #[test]
    fn limits_and_fields() {
        let p = Params::parse(Some("limit=0&channel=nope&from=yesterday&extra=1")).unwrap();
        let mut c = Checks::default();
        c.limit(p.get("limit"));
        c.uuid("channel", p.get("channel"));
        c.timestamp("from", p.get("from"));
        let Err(ApiError::Validation(errs)) = c.finish() else {
            panic!()
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "channel", "from"]);
        assert!(Params::parse(Some("a=%zz")).is_err());
    }

    #[test]
    fn window_rules() {
        let now = 100 * DAY_MS;
        let w = Checks::default()
            .window(None, None, Plan::Free, now)
            .unwrap();
        assert_eq!((w.from_ms, w.to_ms), (now - 30 * DAY_MS, now));
        assert!(matches!(
            Checks::default().window(Some("1970-01-01T00:00:00Z"), None, Plan::Free, now),
            Err(ApiError::RetentionExceeded { retention_days: 30 })
        ));
        let t = Some("1970-03-01T00:00:00Z");
        assert!(matches!(
            Checks::default().window(t, t, Plan::Enterprise, now),
            Err(ApiError::Validation(_))
        ));
    }
}
