//! Content-derived event identity (docs/semantics.md#counting): the same SES event gets the same id whichever
//! envelope carried it and however often it arrives.

use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::event::row::EventType;

/// Namespace of SendOps event ids (UUIDv5).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x5e4d_0b5e_7a1c_4c1e_9f3a_2b6d_8e0f_1a27);

/// The UUIDv5 of `name` in `namespace`: the same id as `Uuid::new_v5`, hashed with RustCrypto's
/// `sha1`, which uses the CPU's SHA instructions when it has them (`uuid` hashes in software).
/// Every stored UUIDv5 goes through this function or [`V5Hasher`].
pub fn uuid_v5(namespace: &Uuid, name: &[u8]) -> Uuid {
    let mut h = V5Hasher::new(namespace);
    h.update(name);
    h.finish()
}

/// A UUIDv5 whose name is fed in pieces, so it need not be assembled in a buffer first: the id
/// is [`uuid_v5`] of the concatenation of the pieces.
pub struct V5Hasher(Sha1);

impl V5Hasher {
    pub fn new(namespace: &Uuid) -> V5Hasher {
        let mut sha = Sha1::new();
        sha.update(namespace.as_bytes());
        V5Hasher(sha)
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    pub fn finish(self) -> Uuid {
        let digest = self.0.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Sets version 5 and the RFC 4122 variant, exactly as `Uuid::new_v5` does.
        uuid::Builder::from_sha1_bytes(bytes).into_uuid()
    }
}

/// `n` in decimal exactly as `format!("{n}")` writes it, in the tail of `buf`.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// UUIDv5 over message id, event type, event time (ms), recipient and, for clicks, the link.
///
/// The name is `message_id \n type \n occurred_ms \n recipient [\n link]`, fed to the hash piece
/// by piece (no allocation).
pub fn event_id(
    message_id: &str,
    ty: EventType,
    occurred_ms: i64,
    recipient: &str,
    link: &str,
) -> Uuid {
    let mut h = V5Hasher::new(&EVENT_NAMESPACE);
    h.update(message_id.as_bytes());
    h.update(b"\n");
    h.update(ty.as_str().as_bytes());
    h.update(b"\n");
    h.update(decimal(occurred_ms, &mut [0u8; 20]));
    h.update(b"\n");
    h.update(recipient.as_bytes());
    if ty == EventType::Click {
        h.update(b"\n");
        h.update(link.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive_to_each_part() {
        let a = event_id("m1", EventType::Open, 1, "a@x", "");
        assert_eq!(a, event_id("m1", EventType::Open, 1, "a@x", ""));
        assert_ne!(a, event_id("m2", EventType::Open, 1, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Click, 1, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Open, 2, "a@x", ""));
        assert_ne!(a, event_id("m1", EventType::Open, 1, "b@x", ""));
        let c = event_id("m1", EventType::Click, 1, "a@x", "https://a");
        assert_ne!(c, event_id("m1", EventType::Click, 1, "a@x", "https://b"));
        // The link only matters for clicks.
        assert_eq!(a, event_id("m1", EventType::Open, 1, "a@x", "ignored"));
    }

    /// The reference: how event ids were computed before (a `String` key, `Uuid::new_v5`). Ids
    /// already stored must not change.
    fn event_id_reference(parts: (&str, EventType, i64, &str, &str)) -> Uuid {
        let (message_id, ty, occurred_ms, recipient, link) = parts;
        let mut key = format!("{message_id}\n{}\n{occurred_ms}\n{recipient}", ty.as_str());
        if ty == EventType::Click {
            key.push('\n');
            key.push_str(link);
        }
        Uuid::new_v5(&EVENT_NAMESPACE, key.as_bytes())
    }

    /// A small deterministic generator (no dependency on `rand` here).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 11
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| (self.next() >> 7) as u8).collect()
        }
    }

    #[test]
    fn uuid_v5_equals_uuid_new_v5() {
        let namespaces = [
            Uuid::nil(),
            Uuid::max(),
            Uuid::NAMESPACE_DNS,
            Uuid::NAMESPACE_URL,
            EVENT_NAMESPACE,
            Uuid::from_u128(0x9a1f_3c2e_44b0_4d7e_8c61_0f5b_2e9d_7a13),
            Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
        ];
        let mut rng = Lcg(20_261_120);
        for ns in &namespaces {
            // Every length from 0 to 300 bytes covers the SHA-1 block and padding boundaries
            // (55/56/63/64 bytes with the 16-byte namespace in front).
            for len in 0..=300 {
                let name = rng.bytes(len);
                assert_eq!(uuid_v5(ns, &name), Uuid::new_v5(ns, &name), "len {len}");
                // Fed in pieces of random sizes: the same id.
                let mut h = V5Hasher::new(ns);
                let mut rest = &name[..];
                while !rest.is_empty() {
                    let n = 1 + (rng.next() as usize) % rest.len();
                    h.update(&rest[..n]);
                    rest = &rest[n..];
                }
                assert_eq!(h.finish(), Uuid::new_v5(ns, &name), "len {len} in pieces");
            }
            assert_eq!(
                uuid_v5(ns, b"example.org"),
                Uuid::new_v5(ns, b"example.org")
            );
        }
        // A known answer (RFC 4122 / uuid's own fixture).
        assert_eq!(
            uuid_v5(&Uuid::NAMESPACE_DNS, b"example.org").to_string(),
            "aad03681-8b63-5304-89e0-8ca8f49461b5"
        );
        // Long names too (several blocks).
        for len in [1_000, 4_095, 4_096, 10_000] {
            let name = rng.bytes(len);
            assert_eq!(
                uuid_v5(&EVENT_NAMESPACE, &name),
                Uuid::new_v5(&EVENT_NAMESPACE, &name)
            );
        }
    }

    #[test]
    fn decimal_matches_display() {
        let mut rng = Lcg(7);
        let mut values = vec![
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            1_779_044_400_000,
            -1_779_044_400_000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ];
        for p in 0..19 {
            let t = 10_i64.pow(p);
            values.extend([t - 1, t, t + 1, -t, 1 - t, -t - 1]);
        }
        values.extend((0..10_000).map(|_| rng.next() as i64 - (1 << 52)));
        values.extend((0..10_000).map(|_| (rng.next() << 11 | rng.next() & 0x7ff) as i64));
        for v in values {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(v, &mut buf), v.to_string().as_bytes(), "{v}");
        }
    }

    #[test]
    fn event_id_unchanged() {
        let mut rng = Lcg(42);
        let texts = |rng: &mut Lcg| -> String {
            let len = (rng.next() % 120) as usize;
            // Printable ASCII plus some multi-byte characters.
            (0..len)
                .map(|_| match rng.next() % 20 {
                    0 => 'é',
                    1 => '\n',
                    2 => '字',
                    _ => char::from(b' ' + (rng.next() % 95) as u8),
                })
                .collect()
        };
        for _ in 0..5_000 {
            let message_id = texts(&mut rng);
            let recipient = texts(&mut rng);
            let link = texts(&mut rng);
            let ty = EventType::ALL[(rng.next() % 10) as usize];
            let ms = match rng.next() % 4 {
                0 => rng.next() as i64,
                1 => -(rng.next() as i64),
                2 => (rng.next() % 2_000_000_000_000) as i64,
                _ => [0, i64::MIN, i64::MAX, -1][(rng.next() % 4) as usize],
            };
            assert_eq!(
                event_id(&message_id, ty, ms, &recipient, &link),
                event_id_reference((&message_id, ty, ms, &recipient, &link))
            );
        }
        // Fixed answers, computed independently (Python's `uuid.uuid5` on the same names).
        for (id, expected) in [
            (
                event_id("m1", EventType::Open, 1, "a@x", ""),
                "a028dcf9-2d98-54bf-be01-b28228573ee7",
            ),
            (
                event_id(
                    "0100018f-6b1b-7c2d-9e3f-4a5b6c7d8e9f-000000",
                    EventType::Click,
                    1_779_044_400_123,
                    "someone@example.com",
                    "https://example.com/a?b=c",
                ),
                "c2d4bd8f-3b14-578b-b97e-3c2d54f8c3fa",
            ),
            (
                event_id("m", EventType::Bounce, -5, "b@y", "ignored"),
                "900e22a5-03a5-5cd4-861a-ede7d24e4685",
            ),
        ] {
            assert_eq!(id.to_string(), expected);
        }
    }

    /// The other UUIDv5 ids SendOps stores (channels, quarantine entries) are unchanged too.
    #[test]
    fn other_v5_ids_unchanged() {
        let mut rng = Lcg(99);
        for len in 0..200 {
            let org = Uuid::from_u128(u128::from(rng.next()) << 64 | u128::from(rng.next()));
            let name: String = (0..len)
                .map(|_| char::from(b' ' + (rng.next() % 95) as u8))
                .collect();
            let expected = if name.is_empty() {
                Uuid::nil()
            } else {
                Uuid::new_v5(&org, name.as_bytes())
            };
            assert_eq!(crate::control::org::channel_id(org, &name), expected);
            let ns = Uuid::from_u128(0x9a1f_3c2e_44b0_4d7e_8c61_0f5b_2e9d_7a13);
            assert_eq!(
                crate::store::QuarantineRow::id_for("invalid_json", &name),
                Uuid::new_v5(&ns, format!("invalid_json\n{name}").as_bytes())
            );
        }
    }
}
