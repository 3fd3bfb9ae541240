//! A record the quarantine must keep as exact bytes: shared by the ingest and admin tests.

/// JSON but for two bytes that are not UTF-8 (in a string).
pub fn not_utf8_line() -> Vec<u8> {
    let mut line = br#"{"eventType":"Send","mail":{"messageId":"bad-"#.to_vec();
    line.extend_from_slice(&[0xff, 0xfe, b'x']);
    line.extend_from_slice(br#"","timestamp":"2026-11-17T00:00:11Z","sendingAccountId":"123456789012","destination":["a@b.example"]}}"#);
    line
}

/// The bytes of [`not_utf8_line`] in standard base64 (computed apart from the code under test).
pub const NOT_UTF8_BASE64: &str = "eyJldmVudFR5cGUiOiJTZW5kIiwibWFpbCI6eyJtZXNzYWdlSWQiOiJiYWQt//54IiwidGltZXN0YW1wIjoiMjAyNi0xMS0xN1QwMDowMDoxMVoiLCJzZW5kaW5nQWNjb3VudElkIjoiMTIzNDU2Nzg5MDEyIiwiZGVzdGluYXRpb24iOlsiYUBiLmV4YW1wbGUiXX19";
