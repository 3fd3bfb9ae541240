use super::*;

fn body(secret: &str) -> &str {
    &secret[8..]
}

#[test]
fn secrets_are_prefix_and_52_base32_chars() {
    for env in KeyEnv::ALL {
        let s = generate_secret(env);
        assert!(s.starts_with(env.prefix()), "{s}");
        assert_eq!(s.len(), 8 + 52, "{s}");
        assert!(
            body(&s)
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
            "{s}"
        );
        assert!(!s.contains('='));
        assert_eq!(BASE32_NOPAD.decode(body(&s).as_bytes()).unwrap().len(), 32);
        assert_eq!(parse_secret(&s), Some(env));
    }
    assert_ne!(generate_secret(KeyEnv::Live), generate_secret(KeyEnv::Live));
}

#[test]
fn parse_secret_is_strict() {
    let s = generate_secret(KeyEnv::Live);
    let b = body(&s).to_owned();
    assert_eq!(parse_secret(&format!("sk_test_{b}")), Some(KeyEnv::Test));
    for bad in [
        format!("sk_prod_{b}"),
        format!("SK_LIVE_{b}"),
        format!("sk_live{b}"),
        format!("pk_live_{b}"),
        format!(" sk_live_{b}"),
        format!("sk_live_{b} "),
        format!("sk_live_{}", &b[..51]),
        format!("sk_live_{b}A"),
        format!("sk_live_{}", b.to_ascii_lowercase()),
        format!("sk_live_{}====", &b[..52]),
        format!("sk_live_{}=", &b[..51]),
        format!("sk_live_{}1", &b[..51]),
        format!("sk_live_{}8", &b[..51]),
        // 52 Base32 characters, but with non-zero bits after the 256th: no key has those.
        format!("sk_live_{}B", &b[..51]),
        "sk_live_".to_owned(),
        String::new(),
    ] {
        assert_eq!(parse_secret(&bad), None, "{bad:?}");
    }
    assert_eq!(
        parse_secret(&format!("sk_live_{}A", &b[..51])),
        Some(KeyEnv::Live)
    );
}

#[test]
fn hash_is_hex_sha256_of_the_whole_secret() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        hash_secret("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let s = generate_secret(KeyEnv::Test);
    let h = hash_secret(&s);
    assert_eq!(h.len(), 64);
    assert!(
        h.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(h, HEXLOWER.encode(&Sha256::digest(s.as_bytes())));
    assert_ne!(h, hash_secret(body(&s)), "prefix is part of the hash");
}

#[test]
fn display_prefix_is_env_prefix_and_eight_chars() {
    let s = generate_secret(KeyEnv::Live);
    let p = display_prefix(&s);
    assert_eq!(p.len(), 16);
    assert_eq!(p, s[..16]);
    assert_eq!(
        display_prefix("sk_live_KQX5ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQ"),
        "sk_live_KQX5ABCD"
    );
    assert_eq!(display_prefix("sk_test_AB"), "sk_test_AB");
}

#[test]
fn constant_time_eq_compares_whole_inputs() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abcdef", b"abcdef"));
    assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
    assert!(!constant_time_eq(b"abcdef", b"bbcdef"));
    assert!(!constant_time_eq(b"abc", b"abcdef"));
    assert!(!constant_time_eq(b"abcdef", b"abc"));
    assert!(!constant_time_eq(b"", b"\0"));
    let h = hash_secret("x");
    assert!(constant_time_eq(h.as_bytes(), hash_secret("x").as_bytes()));
    assert!(!constant_time_eq(h.as_bytes(), hash_secret("y").as_bytes()));
}

#[test]
fn env_round_trips() {
    for env in KeyEnv::ALL {
        assert_eq!(KeyEnv::parse(env.as_str()), Some(env));
        assert_eq!(KeyEnv::from_code(env.code()), env);
    }
    assert_eq!(KeyEnv::parse("Live"), None);
    assert_eq!(serde_json::to_value(KeyEnv::Test).unwrap(), "test");
}

fn key(revoked_ms: i64, expires_ms: i64) -> ApiKey {
    ApiKey {
        id: Uuid::nil(),
        org_id: Uuid::nil(),
        name: "ci".into(),
        prefix: "sk_test_ABCDEFGH".into(),
        environment: KeyEnv::Test,
        scopes: vec![Scope::MessagesView, Scope::AccountView],
        created_ms: 1_453_906_778_237,
        revoked_ms,
        expires_ms,
        rotated_to: None,
    }
}

#[test]
fn usability_follows_revocation_and_expiry() {
    assert!(key(0, 0).is_usable_at(i64::MAX));
    assert!(!key(5, 0).is_usable_at(1));
    assert!(key(0, 100).is_usable_at(99));
    assert!(!key(0, 100).is_usable_at(100));
    assert!(!key(0, 100).is_usable_at(101));
}

#[test]
fn json_view_has_no_secret_material() {
    let v = serde_json::to_value(key(0, 1_453_993_178_237)).unwrap();
    assert_eq!(
        v,
        json!({
            "id": "00000000-0000-0000-0000-000000000000",
            "name": "ci",
            "prefix": "sk_test_ABCDEFGH",
            "environment": "test",
            "scopes": ["api.messages.view", "api.account.view"],
            "created_at": "2016-01-27T14:59:38Z",
            "revoked_at": null,
            "expires_at": "2016-01-28T14:59:38Z",
        })
    );
}

#[test]
fn names_are_validated() {
    assert_eq!(valid_name("  deploy bot ").unwrap(), "deploy bot");
    assert!(valid_name("   ").unwrap_err().to_string().contains("empty"));
    assert!(valid_name(&"é".repeat(100)).is_ok());
    let e = valid_name(&"a".repeat(101)).unwrap_err().to_string();
    assert!(e.contains("101") && e.contains("100"), "{e}");
    assert!(valid_name("a\nb").is_err());
    assert!(
        valid_scopes(&[])
            .unwrap_err()
            .to_string()
            .contains("at least one scope")
    );
}
