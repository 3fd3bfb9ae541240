//! Opaque keyset cursors: URL-safe base64 of a small JSON position, bound to the list it came
//! from and to the filter set of the request (a cursor from another filter set is refused).

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A position in a list sorted by (time desc, id desc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Sort time (epoch ms).
    pub t: i64,
    /// Tie-breaking id.
    pub i: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    /// Which list.
    k: String,
    /// Filter-set fingerprint.
    f: String,
    #[serde(flatten)]
    p: Position,
}

/// Fingerprint of the explicit filters of a request (name/value pairs, any order).
pub fn filter_fingerprint(filters: &[(&str, String)]) -> String {
    let mut items: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    items.sort();
    let digest = Sha256::digest(items.join("\n").as_bytes());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

pub fn encode(kind: &str, fingerprint: &str, pos: &Position) -> String {
    let wire = Wire {
        k: kind.into(),
        f: fingerprint.into(),
        p: pos.clone(),
    };
    BASE64URL_NOPAD.encode(serde_json::to_string(&wire).unwrap_or_default().as_bytes())
}

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    Malformed,
    OtherList,
    OtherFilters,
}

impl CursorError {
    pub fn reason(self) -> &'static str {
        match self {
            CursorError::Malformed => "is not a cursor issued by this API",
            CursorError::OtherList => "belongs to another list",
            CursorError::OtherFilters => {
                "was issued for other filters; start again without a cursor"
            }
        }
    }
}

pub fn decode(kind: &str, fingerprint: &str, text: &str) -> Result<Position, CursorError> {
    let bytes = BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| CursorError::Malformed)?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
    if wire.k != kind {
        return Err(CursorError::OtherList);
    }
    if wire.f != fingerprint {
        return Err(CursorError::OtherFilters);
    }
    Ok(wire.p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_cursors() {
        let f = filter_fingerprint(&[("status", "Bounce".into())]);
        let pos = Position {
            t: 1_700_000_000_123,
            i: "0100-abc".into(),
        };
        let c = encode("messages", &f, &pos);
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode("messages", &f, &c), Ok(pos));
        assert_eq!(decode("recipient", &f, &c), Err(CursorError::OtherList));
        let other = filter_fingerprint(&[("status", "Open".into())]);
        assert_eq!(
            decode("messages", &other, &c),
            Err(CursorError::OtherFilters)
        );
        assert_eq!(decode("messages", &f, "!!"), Err(CursorError::Malformed));
        assert_eq!(decode("messages", &f, "e30"), Err(CursorError::Malformed));
    }

    #[test]
    fn fingerprint_ignores_order() {
        let a = filter_fingerprint(&[("a", "1".into()), ("b", "2".into())]);
        let b = filter_fingerprint(&[("b", "2".into()), ("a", "1".into())]);
        assert_eq!(a, b);
        assert_ne!(a, filter_fingerprint(&[("a", "1".into())]));
    }
}
