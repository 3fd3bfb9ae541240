//! API keys (spec: Authentication; docs/semantics.md#scopes, #operator-tools): the secret format, hashing, the stored key
//! and its lifecycle (create, edit scopes, rotate with a 24 h grace, revoke, the grace sweep),
//! and the org audit log that records every lifecycle step.
//!
//! A secret is `sk_live_` or `sk_test_` followed by the RFC 4648 Base32 (A–Z, 2–7, no padding)
//! of 32 random bytes: 52 characters. Only its SHA-256 (hex) and its display prefix (the env
//! prefix plus the first 8 characters) are stored; the secret is shown once, at creation or
//! rotation.
//!
//! ClickHouse has no transactions: a lifecycle step writes the key row, then its audit rows.
//! The key table is a ReplacingMergeTree on `updated_ms`, which every change raises by at least
//! one, so the latest change always wins under `FINAL`. Lifecycle commands are operator actions
//! (one at a time); the grace sweep assumes one sweeper at a time.

use std::fmt;

use clickhouse::Row;
use data_encoding::{BASE32_NOPAD, HEXLOWER};
use rand::RngCore;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::control::audit::AuditRow;
use crate::control::scopes::{Scope, canonical_names, normalize};
use crate::store::Store;
use crate::store::error::StoreError;
use crate::store::sql::Sql;
use crate::timefmt::{format_ms, now_ms};

/// How long the old key keeps working after a rotation (spec: a hard 24 h window).
pub const ROTATION_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// Length of the Base32 part of a secret (32 bytes → 52 characters, no padding).
pub const SECRET_BODY_LEN: usize = 52;

/// Characters after the env prefix that are stored in plaintext to identify a key.
pub const DISPLAY_CHARS: usize = 8;

/// Longest key name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The actor of lifecycle steps SendOps takes by itself (the grace sweep).
pub const SYSTEM_ACTOR: &str = "system";

/// Audit actions.
pub mod action {
    pub const CREATED: &str = "api_key.created";
    pub const SCOPES_UPDATED: &str = "api_key.scopes_updated";
    pub const ROTATED: &str = "api_key.rotated";
    pub const REVOKED: &str = "api_key.revoked";
    pub const GRACE_EXPIRED: &str = "api_key.grace_expired";
}

/// A key's environment: live keys get the org's full rate limit, test keys 10 % of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEnv {
    Live,
    Test,
}

impl KeyEnv {
    pub const ALL: [KeyEnv; 2] = [KeyEnv::Live, KeyEnv::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyEnv::Live => "live",
            KeyEnv::Test => "test",
        }
    }

    /// `live` or `test` (exact).
    pub fn parse(s: &str) -> Option<KeyEnv> {
        match s {
            "live" => Some(KeyEnv::Live),
            "test" => Some(KeyEnv::Test),
            _ => None,
        }
    }

    /// The secret prefix: `sk_live_` or `sk_test_`.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyEnv::Live => "sk_live_",
            KeyEnv::Test => "sk_test_",
        }
    }

    /// Enum8 value in the `api_keys` table.
    fn code(self) -> i8 {
        match self {
            KeyEnv::Live => 1,
            KeyEnv::Test => 2,
        }
    }

    fn from_code(v: i8) -> KeyEnv {
        if v == 2 { KeyEnv::Test } else { KeyEnv::Live }
    }
}

impl fmt::Display for KeyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new secret for `env`: the env prefix and the Base32 of 32 bytes from the thread-local
/// CSPRNG (ChaCha, seeded by the OS).
pub fn generate_secret(env: KeyEnv) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut secret = String::with_capacity(env.prefix().len() + SECRET_BODY_LEN);
    secret.push_str(env.prefix());
    secret.push_str(&BASE32_NOPAD.encode(&bytes));
    secret
}

/// The environment of a well-formed secret: `sk_live_`/`sk_test_` followed by exactly 52
/// upper-case Base32 characters without padding that decode to 32 bytes. Anything else is
/// `None` (callers answer 401 without a lookup).
pub fn parse_secret(secret: &str) -> Option<KeyEnv> {
    let env = KeyEnv::ALL
        .into_iter()
        .find(|e| secret.starts_with(e.prefix()))?;
    let body = &secret[env.prefix().len()..];
    let well_formed = body.len() == SECRET_BODY_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        // Also rejects a non-zero final bit group, which no generated key has.
        && BASE32_NOPAD
            .decode(body.as_bytes())
            .is_ok_and(|bytes| bytes.len() == 32);
    well_formed.then_some(env)
}

/// Lower-case hex SHA-256 of the whole secret (prefix included): what is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

/// The plaintext part stored to identify a key: the env prefix and the first 8 characters after
/// it (`sk_live_KQX5ABCD`). For a string without a known prefix, its first 16 characters.
pub fn display_prefix(secret: &str) -> String {
    let prefix_len = KeyEnv::ALL
        .into_iter()
        .find(|e| secret.starts_with(e.prefix()))
        .map_or(8, |e| e.prefix().len());
    secret.chars().take(prefix_len + DISPLAY_CHARS).collect()
}

/// Compares two byte strings in time that depends only on their lengths (subtle's `ct_eq`: no
/// early exit on the first difference), for comparing a presented key's hash with the stored one.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A stored API key (never the secret, and the hash only through [`Store::key_by_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// Display prefix, e.g. `sk_live_KQX5ABCD`.
    pub prefix: String,
    pub environment: KeyEnv,
    /// Canonical order, no duplicates.
    pub scopes: Vec<Scope>,
    pub created_ms: i64,
    /// When it was revoked; 0 = not revoked.
    pub revoked_ms: i64,
    /// When it stops working; 0 = no expiry. Set to rotation time + 24 h on a rotated key.
    pub expires_ms: i64,
    /// The key that replaced this one, when it was rotated.
    pub rotated_to: Option<Uuid>,
}

impl ApiKey {
    /// Whether the key authenticates at `now_ms`: not revoked and not past its expiry.
    pub fn is_usable_at(&self, now_ms: i64) -> bool {
        self.revoked_ms == 0 && (self.expires_ms == 0 || now_ms < self.expires_ms)
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The JSON view operators see.
    pub fn view(&self) -> ApiKeyView {
        let at = |ms: i64| (ms != 0).then(|| format_ms(ms));
        ApiKeyView {
            id: self.id,
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            environment: self.environment,
            scopes: self.scopes.clone(),
            created_at: format_ms(self.created_ms),
            revoked_at: at(self.revoked_ms),
            expires_at: at(self.expires_ms),
        }
    }
}

/// An API key as JSON: no hash, no secret; times are RFC 3339 UTC or null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub environment: KeyEnv,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub expires_at: Option<String>,
}

impl Serialize for ApiKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// The `api_keys` table row (field order = column order).
#[derive(Debug, Clone, Serialize, Deserialize, Row)]
struct ApiKeyRow {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    name: String,
    prefix: String,
    key_hash: String,
    environment: i8,
    scopes: Vec<String>,
    created_ms: i64,
    revoked_ms: i64,
    expires_ms: i64,
    /// Nil when not rotated.
    #[serde(with = "clickhouse::serde::uuid")]
    rotated_to: Uuid,
    updated_ms: u64,
}

impl ApiKeyRow {
    /// The first version of a new key for `secret` (its id random, created at `now`).
    fn issue(
        org_id: Uuid,
        name: String,
        environment: i8,
        scopes: Vec<String>,
        secret: &str,
        now: i64,
    ) -> ApiKeyRow {
        ApiKeyRow {
            id: Uuid::new_v4(),
            org_id,
            name,
            prefix: display_prefix(secret),
            key_hash: hash_secret(secret),
            environment,
            scopes,
            created_ms: now,
            revoked_ms: 0,
            expires_ms: 0,
            rotated_to: Uuid::nil(),
            updated_ms: u64::try_from(now).unwrap_or(0),
        }
    }

    fn to_key(&self) -> ApiKey {
        let scopes: Vec<Scope> = self
            .scopes
            .iter()
            .filter_map(|name| {
                let scope = Scope::parse(name);
                if scope.is_none() {
                    tracing::warn!(key_id = %self.id, scope = %name, "ignoring unknown stored scope");
                }
                scope
            })
            .collect();
        ApiKey {
            id: self.id,
            org_id: self.org_id,
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            environment: KeyEnv::from_code(self.environment),
            scopes: normalize(&scopes),
            created_ms: self.created_ms,
            revoked_ms: self.revoked_ms,
            expires_ms: self.expires_ms,
            rotated_to: (!self.rotated_to.is_nil()).then_some(self.rotated_to),
        }
    }

    /// The next version of this row at `now`: always above the current one.
    fn next_version(&self, now: i64) -> u64 {
        (self.updated_ms + 1).max(u64::try_from(now).unwrap_or(0))
    }
}

/// An audit entry about one key.
fn key_audit(
    key: &ApiKeyRow,
    at_ms: i64,
    action: &str,
    actor: &str,
    details: serde_json::Value,
) -> AuditRow {
    AuditRow::new(key.org_id, key.id, at_ms, action, actor, details)
}

fn valid_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("key name must not be empty".into()));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "key name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "key name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn valid_actor(actor: &str) -> Result<String, StoreError> {
    let actor = actor.trim();
    if actor.is_empty() {
        return Err(StoreError::Invalid("actor must not be empty".into()));
    }
    if actor.chars().count() > 200 || actor.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "actor {actor:?} must be at most 200 characters without control characters"
        )));
    }
    Ok(actor.to_owned())
}

fn valid_scopes(scopes: &[Scope]) -> Result<Vec<Scope>, StoreError> {
    if scopes.is_empty() {
        return Err(StoreError::Invalid("a key needs at least one scope".into()));
    }
    Ok(normalize(scopes))
}

fn scope_strings(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|s| s.canonical().to_owned()).collect()
}

fn not_found(id: Uuid) -> StoreError {
    StoreError::NotFound {
        what: format!("API key {id}"),
    }
}

impl Store {
    /// Creates a key for `org_id`; returns it with its secret (the only time the secret exists
    /// outside the caller's hands). Writes `api_key.created`.
    pub async fn create_key(
        &self,
        org_id: Uuid,
        env: KeyEnv,
        name: &str,
        scopes: &[Scope],
        actor: &str,
    ) -> Result<(ApiKey, String), StoreError> {
        let name = valid_name(name)?;
        let scopes = valid_scopes(scopes)?;
        let actor = valid_actor(actor)?;
        if self.org_by_id(org_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: format!("org {org_id}"),
            });
        }
        let now = now_ms();
        let secret = generate_secret(env);
        let row = ApiKeyRow::issue(
            org_id,
            name,
            env.code(),
            scope_strings(&scopes),
            &secret,
            now,
        );
        let details = json!({
            "name": row.name,
            "prefix": row.prefix,
            "environment": env,
            "scopes": scopes,
        });
        self.write_key_change(&row, now, action::CREATED, &actor, details)
            .await?;
        Ok((row.to_key(), secret))
    }

    /// The key whose stored hash is `hash`, with that stored hash (compare it with
    /// [`constant_time_eq`] before trusting the match). Revoked and expired keys are returned
    /// too: check [`ApiKey::is_usable_at`].
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<(ApiKey, String)>, StoreError> {
        let sql = "SELECT ?fields FROM api_keys FINAL WHERE key_hash = ? LIMIT 1";
        let row = self
            .sql(Sql::new(sql, [hash.into()]))
            .fetch_optional::<ApiKeyRow>()
            .await?;
        Ok(row.map(|r| {
            let key = r.to_key();
            (key, r.key_hash)
        }))
    }

    /// The key a presented secret belongs to, when it is well formed, known and usable at
    /// `now_ms` (parse, hash, look up, compare in constant time, check revocation and expiry).
    pub async fn authenticate(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<Option<ApiKey>, StoreError> {
        if parse_secret(secret).is_none() {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        Ok(self.key_by_hash(&hash).await?.and_then(|(key, stored)| {
            (constant_time_eq(hash.as_bytes(), stored.as_bytes()) && key.is_usable_at(now_ms))
                .then_some(key)
        }))
    }

    pub async fn key_by_id(&self, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.key_row(id).await?.map(|r| r.to_key()))
    }

    /// Every key of an org (revoked ones included), newest first.
    pub async fn list_keys(&self, org_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        let sql =
            "SELECT ?fields FROM api_keys FINAL WHERE org_id = ? ORDER BY created_ms DESC, id DESC";
        let rows = self
            .sql(Sql::new(sql, [org_id.into()]))
            .fetch_all::<ApiKeyRow>()
            .await?;
        Ok(rows.iter().map(ApiKeyRow::to_key).collect())
    }

    /// Replaces a key's scopes (aliases already resolved by [`Scope::parse`]). Writes
    /// `api_key.scopes_updated` with `{"added": [...], "removed": [...]}`; setting the scopes it
    /// already has changes nothing and writes nothing. Revoked and rotated keys cannot be edited.
    pub async fn set_key_scopes(
        &self,
        id: Uuid,
        scopes: &[Scope],
        actor: &str,
    ) -> Result<ApiKey, StoreError> {
        let scopes = valid_scopes(scopes)?;
        let (actor, row) = self.key_to_change(id, actor).await?;
        let current = row.to_key();
        if current.revoked_ms != 0 {
            return Err(StoreError::Invalid(format!(
                "API key {id} is revoked; its scopes cannot change"
            )));
        }
        if let Some(next) = current.rotated_to {
            return Err(StoreError::Invalid(format!(
                "API key {id} was rotated to {next}; edit the scopes of {next} instead"
            )));
        }
        if current.scopes == scopes {
            return Ok(current);
        }
        let added: Vec<Scope> = scopes
            .iter()
            .copied()
            .filter(|s| !current.scopes.contains(s))
            .collect();
        let removed: Vec<Scope> = current
            .scopes
            .iter()
            .copied()
            .filter(|s| !scopes.contains(s))
            .collect();
        let now = now_ms();
        let updated = ApiKeyRow {
            scopes: scope_strings(&scopes),
            updated_ms: row.next_version(now),
            ..row
        };
        let details = json!({
            "prefix": updated.prefix,
            "added": canonical_names(&added),
            "removed": canonical_names(&removed),
        });
        self.write_key_change(&updated, now, action::SCOPES_UPDATED, &actor, details)
            .await?;
        Ok(updated.to_key())
    }

    /// Rotates a key: a new key (new secret) with the same org, name, environment and scopes;
    /// the old key keeps working for [`ROTATION_GRACE_MS`] and points at the new one. Writes
    /// `api_key.rotated` for both keys, each naming the other. Returns the new key and secret.
    pub async fn rotate_key(&self, id: Uuid, actor: &str) -> Result<(ApiKey, String), StoreError> {
        let (actor, old) = self.key_to_change(id, actor).await?;
        if old.revoked_ms != 0 {
            return Err(StoreError::Invalid(format!(
                "API key {id} is revoked (at {}); a revoked key cannot be rotated, create a new key instead",
                format_ms(old.revoked_ms)
            )));
        }
        if !old.rotated_to.is_nil() {
            return Err(StoreError::Invalid(format!(
                "API key {id} was already rotated to {}; rotate that key instead",
                old.rotated_to
            )));
        }
        let now = now_ms();
        let env = KeyEnv::from_code(old.environment);
        let secret = generate_secret(env);
        let new = ApiKeyRow::issue(
            old.org_id,
            old.name.clone(),
            old.environment,
            old.scopes.clone(),
            &secret,
            now,
        );
        let old = ApiKeyRow {
            expires_ms: now + ROTATION_GRACE_MS,
            rotated_to: new.id,
            updated_ms: old.next_version(now),
            ..old
        };
        self.write_key_rows(&[new.clone(), old.clone()]).await?;
        let grace_ends = format_ms(old.expires_ms);
        let audit = [
            key_audit(
                &old,
                now,
                action::ROTATED,
                &actor,
                json!({
                    "prefix": old.prefix,
                    "rotated_to": new.id,
                    "new_prefix": new.prefix,
                    "expires_at": grace_ends,
                }),
            ),
            key_audit(
                &new,
                now,
                action::ROTATED,
                &actor,
                json!({
                    "prefix": new.prefix,
                    "rotated_from": old.id,
                    "old_prefix": old.prefix,
                    "old_key_expires_at": grace_ends,
                }),
            ),
        ];
        self.write_audit(&audit).await?;
        Ok((new.to_key(), secret))
    }

    /// Revokes a key now. Writes `api_key.revoked`; revoking a revoked key is an error.
    pub async fn revoke_key(&self, id: Uuid, actor: &str) -> Result<ApiKey, StoreError> {
        let (actor, row) = self.key_to_change(id, actor).await?;
        if row.revoked_ms != 0 {
            return Err(StoreError::Invalid(format!(
                "API key {id} is already revoked (at {})",
                format_ms(row.revoked_ms)
            )));
        }
        let now = now_ms();
        let revoked = ApiKeyRow {
            revoked_ms: now,
            updated_ms: row.next_version(now),
            ..row
        };
        let details = json!({ "prefix": revoked.prefix });
        self.write_key_change(&revoked, now, action::REVOKED, &actor, details)
            .await?;
        Ok(revoked.to_key())
    }

    /// The background job of rotation: every key whose grace has ended by `now_ms`
    /// (`expires_ms != 0 && expires_ms <= now_ms`) and that is not revoked becomes revoked as of
    /// its `expires_ms`, with one `api_key.grace_expired` entry (actor `system`, at `expires_ms`).
    /// A second call finds nothing left to do. Returns the keys it revoked.
    pub async fn expire_rotation_grace(&self, now_ms: i64) -> Result<Vec<ApiKey>, StoreError> {
        // Only `expires_ms != 0` goes to the server: it never returns to 0, so the filter holds
        // for every version of a row. The rest is checked on the merged (FINAL) rows here.
        let sql =
            "SELECT ?fields FROM api_keys FINAL WHERE expires_ms != 0 ORDER BY expires_ms, id";
        let due: Vec<ApiKeyRow> = self
            .client()
            .query(sql)
            .fetch_all::<ApiKeyRow>()
            .await?
            .into_iter()
            .filter(|r| r.revoked_ms == 0 && r.expires_ms != 0 && r.expires_ms <= now_ms)
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let revoked: Vec<ApiKeyRow> = due
            .into_iter()
            .map(|r| ApiKeyRow {
                revoked_ms: r.expires_ms,
                updated_ms: r.next_version(now_ms),
                ..r
            })
            .collect();
        self.write_key_rows(&revoked).await?;
        let audit: Vec<AuditRow> = revoked
            .iter()
            .map(|r| {
                key_audit(
                    r,
                    r.expires_ms,
                    action::GRACE_EXPIRED,
                    SYSTEM_ACTOR,
                    json!({
                        "prefix": r.prefix,
                        "rotated_to": (!r.rotated_to.is_nil()).then_some(r.rotated_to),
                        "swept_at": format_ms(now_ms),
                    }),
                )
            })
            .collect();
        self.write_audit(&audit).await?;
        tracing::info!(
            count = revoked.len(),
            "revoked keys whose rotation grace ended"
        );
        Ok(revoked.iter().map(ApiKeyRow::to_key).collect())
    }

    async fn key_row(&self, id: Uuid) -> Result<Option<ApiKeyRow>, StoreError> {
        let sql = "SELECT ?fields FROM api_keys FINAL WHERE id = ? LIMIT 1";
        Ok(self
            .sql(Sql::new(sql, [id.into()]))
            .fetch_optional()
            .await?)
    }

    /// What a lifecycle step on an existing key starts from: the checked `actor` and the stored
    /// row of key `id`.
    async fn key_to_change(
        &self,
        id: Uuid,
        actor: &str,
    ) -> Result<(String, ApiKeyRow), StoreError> {
        let actor = valid_actor(actor)?;
        let row = self.key_row(id).await?.ok_or_else(|| not_found(id))?;
        Ok((actor, row))
    }

    async fn write_key_rows(&self, rows: &[ApiKeyRow]) -> Result<(), StoreError> {
        self.insert_rows("api_keys", rows).await
    }

    /// Writes one new version of a key, then its audit entry (`action` by `actor` at `now_ms`).
    async fn write_key_change(
        &self,
        row: &ApiKeyRow,
        now_ms: i64,
        action: &str,
        actor: &str,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write_key_rows(std::slice::from_ref(row)).await?;
        self.write_audit(&[key_audit(row, now_ms, action, actor, details)])
            .await
    }
}

#[cfg(test)]
mod tests;
