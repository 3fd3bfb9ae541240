//! API key lifecycle on the real ClickHouse (feature `testing`; run with
//! `cargo test -p sendops-shared --features testing --test api_keys`): creation and lookup by
//! hash, scope edits, rotation with its 24 h grace, revocation, the grace sweep, and the audit log
//! each step writes.

use std::time::Duration;

use sendops_shared::control::api_key::{
    ApiKey, KeyEnv, ROTATION_GRACE_MS, constant_time_eq, display_prefix, hash_secret, parse_secret,
};
use sendops_shared::control::audit::AuditEntry;
use sendops_shared::control::org::Plan;
use sendops_shared::control::scopes::{Scope, parse_scope_list};
use sendops_shared::store::testing::{TestDb, create_test_org};
use sendops_shared::timefmt::now_ms;
use sendops_shared::{Store, StoreError};
use sendops_testkit::json::keys_of;
use serde_json::json;
use uuid::Uuid;

async fn create_org(store: &Store, slug: &str, account: &str) -> Uuid {
    create_test_org(store, slug, account, Plan::Pro).await.id
}

/// A new database with the org `acme` (account 111111111111): the database and the org's id.
async fn with_acme(name: &str) -> (TestDb, Uuid) {
    let db = TestDb::new(name).await;
    let org = create_org(&db.store, "acme", "111111111111").await;
    (db, org)
}

/// A key of the org created by alice, which must succeed: the key and its secret.
async fn new_key(
    store: &Store,
    org: Uuid,
    env: KeyEnv,
    name: &str,
    scopes: &[Scope],
) -> (ApiKey, String) {
    store
        .create_key(org, env, name, scopes, "alice")
        .await
        .unwrap()
}

/// The key `secret` authenticates at `at_ms`, if any.
async fn authenticated(store: &Store, secret: &str, at_ms: i64) -> Option<ApiKey> {
    store.authenticate(secret, at_ms).await.unwrap()
}

/// The keys a grace sweep at `at_ms` revokes.
async fn sweep(store: &Store, at_ms: i64) -> Vec<ApiKey> {
    store.expire_rotation_grace(at_ms).await.unwrap()
}

async fn audit_of(store: &Store, org: Uuid, key: Uuid) -> Vec<AuditEntry> {
    store
        .audit_log(org, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.key_id == key)
        .collect()
}

fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

/// Keeps consecutive steps in distinct milliseconds so "newest first" is a strict order.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

fn invalid(e: StoreError) -> String {
    match e {
        StoreError::Invalid(m) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Asserts `result` is refused as invalid, with `reason` in the message.
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, reason: &str) {
    let e = invalid(result.unwrap_err());
    assert!(e.contains(reason), "{e}");
}

#[tokio::test]
async fn create_then_lookup_by_hash() {
    let (db, org) = with_acme("keys_create_lookup").await;
    let store = &db.store;
    let before = now_ms();
    let scopes = parse_scope_list("org.view,messages.view").unwrap();
    let (key, secret) = new_key(store, org, KeyEnv::Live, "  status page ", &scopes).await;
    assert_eq!(parse_secret(&secret), Some(KeyEnv::Live));
    assert_eq!(key.org_id, org);
    assert_eq!(key.name, "status page");
    assert_eq!(key.prefix, display_prefix(&secret));
    assert_eq!(key.environment, KeyEnv::Live);
    assert_eq!(key.scopes, vec![Scope::MessagesView, Scope::AccountView]);
    assert!(key.created_ms >= before && key.created_ms <= now_ms());
    assert_eq!(
        (key.revoked_ms, key.expires_ms, key.rotated_to),
        (0, 0, None)
    );

    let hash = hash_secret(&secret);
    let (found, stored) = store.key_by_hash(&hash).await.unwrap().expect("found");
    assert_eq!(found, key);
    assert!(constant_time_eq(stored.as_bytes(), hash.as_bytes()));
    assert_eq!(store.key_by_id(key.id).await.unwrap(), Some(key.clone()));
    assert_eq!(
        authenticated(store, &secret, now_ms()).await,
        Some(key.clone())
    );

    // Nothing else matches: another secret, a malformed one, the prefix alone.
    let other = sendops_shared::control::api_key::generate_secret(KeyEnv::Live);
    assert!(
        store
            .key_by_hash(&hash_secret(&other))
            .await
            .unwrap()
            .is_none()
    );
    assert!(authenticated(store, &other, now_ms()).await.is_none());
    assert!(authenticated(store, &key.prefix, now_ms()).await.is_none());
    assert!(
        authenticated(store, &secret.to_ascii_lowercase(), now_ms())
            .await
            .is_none()
    );

    // Stored: only the hash and the display prefix, never the secret.
    let raw: String = store
        .client()
        .query(
            "SELECT concat(name, prefix, key_hash, arrayStringConcat(scopes, ',')) FROM api_keys",
        )
        .fetch_one()
        .await
        .unwrap();
    assert!(!raw.contains(&secret[8..]), "secret stored in plaintext");
    assert!(
        raw.contains("api.account.view"),
        "scopes stored canonically: {raw}"
    );

    let audit = audit_of(store, org, key.id).await;
    assert_eq!(actions(&audit), ["api_key.created"]);
    assert_eq!(audit[0].actor, "alice");
    assert_eq!(audit[0].org_id, org);
    assert_eq!(audit[0].details["prefix"], key.prefix.as_str());
    assert_eq!(
        audit[0].details["scopes"],
        json!(["api.messages.view", "api.account.view"])
    );
    assert!(!audit[0].details.to_string().contains(&secret[16..]));
    db.drop().await;
}

#[tokio::test]
async fn invalid_input_is_refused_with_a_reason() {
    let (db, org) = with_acme("keys_invalid").await;
    let store = &db.store;
    let long = "x".repeat(101);
    let all = [Scope::ReportsView];
    for (name, scopes, actor, reason) in [
        (" ", &all[..], "alice", "name must not be empty"),
        (long.as_str(), &all[..], "alice", "at most 100"),
        ("ci", &[][..], "alice", "at least one scope"),
        ("ci", &all[..], " ", "actor"),
    ] {
        let refused = store
            .create_key(org, KeyEnv::Test, name, scopes, actor)
            .await;
        assert_invalid(refused, reason);
    }
    let unknown = Uuid::new_v4();
    match store
        .create_key(unknown, KeyEnv::Test, "ci", &all, "alice")
        .await
    {
        Err(StoreError::NotFound { what }) => assert!(what.contains(&unknown.to_string())),
        other => panic!("{other:?}"),
    }
    for result in [
        store.revoke_key(unknown, "alice").await.map(|_| ()),
        store.rotate_key(unknown, "alice").await.map(|_| ()),
        store
            .set_key_scopes(unknown, &all, "alice")
            .await
            .map(|_| ()),
    ] {
        let e = result.unwrap_err();
        assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("API key {unknown} not found"));
    }
    assert!(store.key_by_id(unknown).await.unwrap().is_none());
    assert!(store.list_keys(org).await.unwrap().is_empty());
    assert!(store.audit_log(org, 10).await.unwrap().is_empty());
    db.drop().await;
}

#[tokio::test]
async fn scope_edits_apply_at_once_and_record_the_diff() {
    let (db, org) = with_acme("keys_scopes").await;
    let store = &db.store;
    let (key, secret) = new_key(
        store,
        org,
        KeyEnv::Test,
        "ci",
        &[Scope::MessagesView, Scope::ReportsView],
    )
    .await;
    tick().await;
    let new_scopes =
        parse_scope_list("reports.view, analytics.search.recipients, org.view").unwrap();
    let updated = store
        .set_key_scopes(key.id, &new_scopes, "bob")
        .await
        .unwrap();
    assert_eq!(
        updated.scopes,
        vec![
            Scope::MessagesUnmaskRecipients,
            Scope::ReportsView,
            Scope::AccountView
        ]
    );
    assert_eq!(
        store.key_by_id(key.id).await.unwrap(),
        Some(updated.clone())
    );
    let authed = authenticated(store, &secret, now_ms()).await.unwrap();
    assert_eq!(authed.scopes, updated.scopes);
    assert!(!authed.has_scope(Scope::MessagesView));

    let audit = audit_of(store, org, key.id).await;
    assert_eq!(
        actions(&audit),
        ["api_key.scopes_updated", "api_key.created"]
    );
    assert_eq!(audit[0].actor, "bob");
    assert_eq!(
        audit[0].details["added"],
        json!(["api.messages.unmask_recipients", "api.account.view"])
    );
    assert_eq!(audit[0].details["removed"], json!(["api.messages.view"]));

    // The same set again changes nothing and records nothing.
    let same = store
        .set_key_scopes(key.id, &updated.scopes, "bob")
        .await
        .unwrap();
    assert_eq!(same, updated);
    assert_eq!(audit_of(store, org, key.id).await.len(), 2);

    assert_invalid(
        store.set_key_scopes(key.id, &[], "bob").await,
        "at least one scope",
    );

    // Two quick edits in a row: the later one wins.
    store
        .set_key_scopes(key.id, &[Scope::TemplatesView], "bob")
        .await
        .unwrap();
    store
        .set_key_scopes(key.id, &[Scope::TrackingView], "bob")
        .await
        .unwrap();
    assert_eq!(
        store.key_by_id(key.id).await.unwrap().unwrap().scopes,
        vec![Scope::TrackingView]
    );

    store.revoke_key(key.id, "bob").await.unwrap();
    assert_invalid(
        store
            .set_key_scopes(key.id, &[Scope::ReportsView], "bob")
            .await,
        "revoked",
    );
    db.drop().await;
}

#[tokio::test]
async fn rotation_keeps_both_keys_for_the_grace_window() {
    let (db, org) = with_acme("keys_rotate").await;
    let store = &db.store;
    let scopes = [Scope::ReportsView, Scope::ChannelsView];
    let (old, old_secret) = new_key(store, org, KeyEnv::Test, "deploy", &scopes).await;
    tick().await;
    let (new, new_secret) = store.rotate_key(old.id, "bob").await.unwrap();
    let t = new.created_ms;
    assert_ne!(new.id, old.id);
    assert_ne!(new_secret, old_secret);
    assert_eq!(parse_secret(&new_secret), Some(KeyEnv::Test));
    assert_eq!(
        (new.org_id, &new.name, new.environment, &new.scopes),
        (org, &old.name, KeyEnv::Test, &old.scopes)
    );
    assert_eq!(
        (new.revoked_ms, new.expires_ms, new.rotated_to),
        (0, 0, None)
    );

    let old_now = store.key_by_id(old.id).await.unwrap().unwrap();
    assert_eq!(old_now.expires_ms, t + ROTATION_GRACE_MS);
    assert_eq!(old_now.rotated_to, Some(new.id));
    assert_eq!(old_now.revoked_ms, 0);

    // Both work now; at rotation + 24 h + 1 ms only the new one does.
    let now = now_ms();
    assert!(old_now.is_usable_at(now) && new.is_usable_at(now));
    assert!(authenticated(store, &old_secret, now).await.is_some());
    assert!(authenticated(store, &new_secret, now).await.is_some());
    let after = t + ROTATION_GRACE_MS + 1;
    assert!(!old_now.is_usable_at(after));
    assert!(old_now.is_usable_at(t + ROTATION_GRACE_MS - 1));
    assert!(new.is_usable_at(after));
    assert!(authenticated(store, &old_secret, after).await.is_none());
    assert!(authenticated(store, &new_secret, after).await.is_some());

    // The rotation is recorded on both keys, each naming the other.
    let old_audit = audit_of(store, org, old.id).await;
    assert_eq!(actions(&old_audit), ["api_key.rotated", "api_key.created"]);
    assert_eq!(old_audit[0].actor, "bob");
    assert_eq!(old_audit[0].at_ms, t);
    assert_eq!(old_audit[0].details["rotated_to"], new.id.to_string());
    let new_audit = audit_of(store, org, new.id).await;
    assert_eq!(actions(&new_audit), ["api_key.rotated"]);
    assert_eq!(new_audit[0].actor, "bob");
    assert_eq!(new_audit[0].details["rotated_from"], old.id.to_string());

    // The old key cannot be rotated again (rotate the new one) nor edited; a revoked key
    // cannot be rotated at all.
    let e = invalid(store.rotate_key(old.id, "bob").await.unwrap_err());
    assert!(
        e.contains("already rotated") && e.contains(&new.id.to_string()),
        "{e}"
    );
    assert_invalid(
        store
            .set_key_scopes(old.id, &[Scope::ReportsView], "bob")
            .await,
        &new.id.to_string(),
    );
    store.revoke_key(new.id, "bob").await.unwrap();
    assert_invalid(store.rotate_key(new.id, "bob").await, "revoked");
    db.drop().await;
}

#[tokio::test]
async fn revocation_is_immediate_and_final() {
    let (db, org) = with_acme("keys_revoke").await;
    let store = &db.store;
    let (key, secret) = new_key(store, org, KeyEnv::Live, "leaked", &[Scope::MessagesView]).await;
    tick().await;
    let revoked = store.revoke_key(key.id, "carol").await.unwrap();
    assert!(revoked.revoked_ms >= key.created_ms);
    assert!(!revoked.is_usable_at(now_ms()));
    assert_eq!(
        store.key_by_id(key.id).await.unwrap(),
        Some(revoked.clone())
    );
    assert!(authenticated(store, &secret, now_ms()).await.is_none());
    // Still found by hash (the caller answers 401 from is_usable_at).
    let (by_hash, _) = store
        .key_by_hash(&hash_secret(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.revoked_ms, revoked.revoked_ms);
    let view = serde_json::to_value(&revoked).unwrap();
    assert!(view["revoked_at"].is_string());

    let audit = audit_of(store, org, key.id).await;
    assert_eq!(actions(&audit), ["api_key.revoked", "api_key.created"]);
    assert_eq!(audit[0].actor, "carol");
    assert_eq!(audit[0].at_ms, revoked.revoked_ms);

    assert_invalid(store.revoke_key(key.id, "carol").await, "already revoked");
    assert_eq!(audit_of(store, org, key.id).await.len(), 2);
    db.drop().await;
}

#[tokio::test]
async fn sweep_revokes_keys_past_grace_once() {
    let (db, org) = with_acme("keys_sweep").await;
    let store = &db.store;
    let scopes = [Scope::ReportsView];
    let (a, _) = new_key(store, org, KeyEnv::Live, "a", &scopes).await;
    let (b, _) = new_key(store, org, KeyEnv::Live, "b", &scopes).await;
    let (plain, _) = new_key(store, org, KeyEnv::Live, "plain", &scopes).await;
    let (a2, _) = store.rotate_key(a.id, "alice").await.unwrap();
    tick().await;
    let (b2, _) = store.rotate_key(b.id, "alice").await.unwrap();
    let a_exp = a2.created_ms + ROTATION_GRACE_MS;
    let b_exp = b2.created_ms + ROTATION_GRACE_MS;
    assert!(a_exp < b_exp);

    // Within the grace nothing happens.
    assert!(sweep(store, now_ms()).await.is_empty());
    assert!(sweep(store, a_exp - 1).await.is_empty());

    // At a's expiry only a goes; then b; a second sweep finds nothing.
    let swept = sweep(store, a_exp).await;
    assert_eq!(swept.iter().map(|k| k.id).collect::<Vec<_>>(), [a.id]);
    assert_eq!(swept[0].revoked_ms, a_exp);
    let swept = sweep(store, b_exp + 1).await;
    assert_eq!(swept.iter().map(|k| k.id).collect::<Vec<_>>(), [b.id]);
    assert!(sweep(store, b_exp + 1).await.is_empty());
    let far = b_exp + 10 * ROTATION_GRACE_MS;
    assert!(sweep(store, far).await.is_empty());

    for (old, exp) in [(a.id, a_exp), (b.id, b_exp)] {
        let k = store.key_by_id(old).await.unwrap().unwrap();
        assert_eq!(k.revoked_ms, exp);
        assert!(!k.is_usable_at(exp - 1), "revoked is revoked");
        let grace: Vec<AuditEntry> = audit_of(store, org, old)
            .await
            .into_iter()
            .filter(|e| e.action == "api_key.grace_expired")
            .collect();
        assert_eq!(grace.len(), 1, "exactly one grace_expired for {old}");
        assert_eq!(grace[0].actor, "system");
        assert_eq!(grace[0].at_ms, exp);
    }
    for live in [a2.id, b2.id, plain.id] {
        let k = store.key_by_id(live).await.unwrap().unwrap();
        assert!(k.is_usable_at(far), "{live}");
    }
    let total_grace = store
        .audit_log(org, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "api_key.grace_expired")
        .count();
    assert_eq!(total_grace, 2);

    // A rotated key revoked by hand before its grace ends is not swept again.
    let (c, _) = new_key(store, org, KeyEnv::Test, "c", &scopes).await;
    store.rotate_key(c.id, "alice").await.unwrap();
    store.revoke_key(c.id, "alice").await.unwrap();
    assert!(sweep(store, far).await.is_empty());
    db.drop().await;
}

#[tokio::test]
async fn lists_and_audit_are_newest_first_and_per_org() {
    let (db, org) = with_acme("keys_order").await;
    let store = &db.store;
    let other = create_org(store, "globex", "222222222222").await;
    let mut created: Vec<ApiKey> = Vec::new();
    for name in ["first", "second", "third"] {
        let (k, _) = new_key(store, org, KeyEnv::Live, name, &[Scope::ReportsView]).await;
        created.push(k);
        tick().await;
    }
    let (foreign, _) = store
        .create_key(other, KeyEnv::Test, "theirs", &[Scope::ReportsView], "zed")
        .await
        .unwrap();
    tick().await;
    store
        .set_key_scopes(created[0].id, &[Scope::ChannelsView], "bob")
        .await
        .unwrap();
    tick().await;
    store.revoke_key(created[1].id, "bob").await.unwrap();

    let names: Vec<String> = store
        .list_keys(org)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["third", "second", "first"]);
    assert_eq!(store.list_keys(other).await.unwrap(), vec![foreign.clone()]);

    let audit = store.audit_log(org, 100).await.unwrap();
    let got: Vec<(&str, Uuid)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.key_id))
        .collect();
    assert_eq!(
        got,
        [
            ("api_key.revoked", created[1].id),
            ("api_key.scopes_updated", created[0].id),
            ("api_key.created", created[2].id),
            ("api_key.created", created[1].id),
            ("api_key.created", created[0].id),
        ]
    );
    assert!(audit.windows(2).all(|w| w[0].at_ms >= w[1].at_ms));
    let limited = store.audit_log(org, 2).await.unwrap();
    assert_eq!(limited, audit[..2]);
    let theirs = store.audit_log(other, 100).await.unwrap();
    assert_eq!(actions(&theirs), ["api_key.created"]);
    assert_eq!(theirs[0].actor, "zed");
    assert!(store.audit_log(org, 0).await.is_err());

    let json = serde_json::to_value(&audit[0]).unwrap();
    assert_eq!(
        keys_of(&json),
        ["action", "actor", "at", "details", "id", "key_id", "org_id"]
    );
    db.drop().await;
}
