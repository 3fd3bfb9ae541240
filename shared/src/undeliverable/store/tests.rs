use super::*;

#[test]
fn okeys_carry_the_org_and_the_address() {
    let org = Uuid::from_u128(7);
    let k = okey(org, "a/b@x.example");
    assert_eq!(k, format!("{org}/a/b@x.example"));
    assert_eq!(
        email_of(&k),
        "a/b@x.example",
        "only the first slash separates"
    );
    assert_eq!(
        kind_list(&[Kind::Permanent, Kind::RuleChange]),
        "('permanent', 'rule_change')"
    );
}

#[test]
fn fences_are_every_dense_chunk_th_distinct_address_in_email_order() {
    let emails: Vec<String> = (0..450).rev().map(|i| format!("u{i:04}@x")).collect();
    let mut refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    refs.extend(["u0000@x", "u0001@x"]); // copies count once
    let (distinct, fences) = page::distinct_and_fences(&refs);
    assert_eq!(distinct.len(), 450);
    assert_eq!(fences, ["u0199@x", "u0399@x"]);
    let block = BlockRow::new(Uuid::nil(), 1_700_000_123_456, &refs);
    assert_eq!((block.second, block.emails), (1_700_000_123, 450));
    assert_eq!(block.fences, fences);
    assert!(page::distinct_and_fences(&refs[..199]).1.is_empty());
}

#[test]
fn the_next_fence_is_the_smallest_after_the_cursor_over_every_write() {
    let w = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let fences = [w(&["c", "m", "x"]), w(&["f", "p"]), w(&[])];
    assert_eq!(page::next_fence(&fences, ""), Some("c"));
    assert_eq!(page::next_fence(&fences, "c"), Some("f"), "strictly after");
    assert_eq!(page::next_fence(&fences, "g"), Some("m"));
    assert_eq!(page::next_fence(&fences, "p"), Some("x"));
    assert_eq!(page::next_fence(&fences, "x"), None);
    assert_eq!(page::next_fence(&[], "a"), None);
}
