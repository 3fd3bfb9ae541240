//! Checking the shape of JSON a test received.

use serde_json::Value;

/// The keys of a JSON object, sorted (what an output's shape is checked against); panics if `v`
/// is not an object.
pub fn keys_of(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
