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
