//! The AS's durable state in SQLite: clients, grants, hashed refresh tokens,
//! issued access token ids and the signing key.
//!
//! Every change runs inside one transaction under one lock, so a refresh
//! token can be spent exactly once even when two requests race, and a
//! restart with the same `--state-dir` finds every grant as it was.

use rusqlite::{Connection, OptionalExtension as _, params};
use std::path::Path;
use std::sync::Mutex;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed a statement.
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A JSON column did not parse (the file was edited by hand or is corrupt).
    #[error("state database holds malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The lock was poisoned by a panic in another request.
    #[error("state database lock poisoned")]
    Poisoned,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY, secret_hash TEXT, redirect_uris TEXT NOT NULL,
  name TEXT NOT NULL, kind TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY, user TEXT NOT NULL, client_id TEXT NOT NULL, servers TEXT NOT NULL,
  scope TEXT NOT NULL, global INTEGER NOT NULL, created INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, seq INTEGER NOT NULL,
  created INTEGER NOT NULL, spent_at INTEGER);
CREATE TABLE IF NOT EXISTS access_tokens (
  jti TEXT PRIMARY KEY, grant_id TEXT NOT NULL, exp INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS signing_keys (
  kid TEXT PRIMARY KEY, pkcs8 BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dpop_bindings (
  grant_id TEXT PRIMARY KEY, jkt TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assertion_jtis (
  iss TEXT NOT NULL, jti TEXT NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (iss, jti));
";

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// The `client_id`.
    pub client_id: String,
    /// Digest of the secret for confidential clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Display name.
    pub name: String,
    /// `preregistered`, `dynamic`, `metadata-document` or `resource-server`.
    pub kind: String,
}

/// A user's grant to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Random id.
    pub id: String,
    /// The user who consented.
    pub user: String,
    /// The client it was granted to.
    pub client_id: String,
    /// Catalog ids of the granted servers.
    pub servers: Vec<String>,
    /// Plain scopes granted (without `servers:`).
    pub scope: Vec<String>,
    /// Whether it came from the global (picker) flow.
    pub global: bool,
    /// Unix time of consent.
    pub created: i64,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A stored refresh token (by digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// The grant it belongs to.
    pub grant_id: String,
    /// Position in the grant's rotation chain (1 for the first).
    pub seq: i64,
    /// When it was used, if it was.
    pub spent_at: Option<i64>,
}

/// The state database behind one lock.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) `state.sqlite3` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(dir.join("state.sqlite3"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` in one transaction; commits when it returns `Ok`.
    pub fn tx<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction().map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }
}

/// Inserts or replaces a client.
pub fn put_client(c: &Connection, row: &ClientRow, now: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT OR REPLACE INTO clients VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.client_id,
            row.secret_hash,
            serde_json::to_string(&row.redirect_uris)?,
            row.name,
            row.kind,
            now
        ],
    )?;
    Ok(())
}

/// Looks a client up by id.
pub fn get_client(c: &Connection, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
    let row = c
        .query_row(
            "SELECT client_id, secret_hash, redirect_uris, name, kind FROM clients WHERE client_id = ?1",
            [client_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    row.map(|(client_id, secret_hash, uris, name, kind)| {
        Ok(ClientRow {
            client_id,
            secret_hash,
            redirect_uris: serde_json::from_str(&uris)?,
            name,
            kind,
        })
    })
    .transpose()
}

/// Binds grant `grant_id`'s tokens to the DPoP key with thumbprint `jkt`.
pub fn bind_dpop(c: &Connection, grant_id: &str, jkt: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT OR REPLACE INTO dpop_bindings VALUES (?1, ?2)",
        params![grant_id, jkt],
    )?;
    Ok(())
}

/// The thumbprint of the DPoP key grant `grant_id` is bound to, if any.
pub fn dpop_binding(c: &Connection, grant_id: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT jkt FROM dpop_bindings WHERE grant_id = ?1",
        params![grant_id],
        |r| r.get(0),
    )
    .optional()?)
}

/// Records an assertion's `jti` from issuer `iss` as used until `exp`;
/// `false` when it was already used (a replay). Expired entries are dropped.
pub fn use_assertion_jti(
    c: &Connection,
    iss: &str,
    jti: &str,
    exp: i64,
    now: i64,
) -> Result<bool, StoreError> {
    c.execute("DELETE FROM assertion_jtis WHERE exp < ?1", [now])?;
    let inserted = c.execute(
        "INSERT OR IGNORE INTO assertion_jtis VALUES (?1, ?2, ?3)",
        params![iss, jti, exp],
    )?;
    Ok(inserted == 1)
}

/// Stores a new grant.
pub fn insert_grant(c: &Connection, g: &GrantRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO grants VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            g.id,
            g.user,
            g.client_id,
            serde_json::to_string(&g.servers)?,
            serde_json::to_string(&g.scope)?,
            g.global,
            g.created,
            g.revoked
        ],
    )?;
    Ok(())
}

fn grant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(GrantRow, String, String)> {
    Ok((
        GrantRow {
            id: r.get(0)?,
            user: r.get(1)?,
            client_id: r.get(2)?,
            servers: Vec::new(),
            scope: Vec::new(),
            global: r.get(5)?,
            created: r.get(6)?,
            revoked: r.get(7)?,
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

fn finish_grant(
    (mut g, servers, scope): (GrantRow, String, String),
) -> Result<GrantRow, StoreError> {
    g.servers = serde_json::from_str(&servers)?;
    g.scope = serde_json::from_str(&scope)?;
    Ok(g)
}

/// Looks a grant up by id.
pub fn get_grant(c: &Connection, id: &str) -> Result<Option<GrantRow>, StoreError> {
    c.query_row("SELECT * FROM grants WHERE id = ?1", [id], grant_from_row)
        .optional()?
        .map(finish_grant)
        .transpose()
}

/// The user's grants that are not revoked, newest first.
pub fn live_grants_of(c: &Connection, user: &str) -> Result<Vec<GrantRow>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT * FROM grants WHERE user = ?1 AND revoked = 0 ORDER BY created DESC, id",
    )?;
    let rows = stmt.query_map([user], grant_from_row)?;
    rows.map(|r| finish_grant(r?)).collect()
}

/// Replaces a grant's server set (narrowing).
pub fn set_grant_servers(c: &Connection, id: &str, servers: &[String]) -> Result<(), StoreError> {
    c.execute(
        "UPDATE grants SET servers = ?2 WHERE id = ?1",
        params![id, serde_json::to_string(servers)?],
    )?;
    Ok(())
}

/// Revokes a grant with every refresh and access token it issued.
pub fn revoke_grant(c: &Connection, id: &str, now: i64) -> Result<(), StoreError> {
    c.execute("UPDATE grants SET revoked = 1 WHERE id = ?1", [id])?;
    c.execute(
        "UPDATE refresh_tokens SET spent_at = COALESCE(spent_at, ?2) WHERE grant_id = ?1",
        params![id, now],
    )?;
    c.execute(
        "UPDATE access_tokens SET revoked = 1 WHERE grant_id = ?1",
        [id],
    )?;
    Ok(())
}

/// Stores a refresh token digest as the newest link of its grant's chain.
pub fn insert_refresh(
    c: &Connection,
    hash: &str,
    grant_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO refresh_tokens (hash, grant_id, seq, created, spent_at)
         SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, NULL FROM refresh_tokens WHERE grant_id = ?2",
        params![hash, grant_id, now],
    )?;
    Ok(())
}

/// Looks a refresh token up by digest.
pub fn get_refresh(c: &Connection, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(c.query_row(
        "SELECT grant_id, seq, spent_at FROM refresh_tokens WHERE hash = ?1",
        [hash],
        |r| {
            Ok(RefreshRow {
                grant_id: r.get(0)?,
                seq: r.get(1)?,
                spent_at: r.get(2)?,
            })
        },
    )
    .optional()?)
}

/// The highest sequence number in a grant's chain.
pub fn latest_refresh_seq(c: &Connection, grant_id: &str) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM refresh_tokens WHERE grant_id = ?1",
        [grant_id],
        |r| r.get(0),
    )?)
}

/// Marks every unspent refresh token of a grant as spent now (rotation).
pub fn spend_live_refresh(c: &Connection, grant_id: &str, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE grant_id = ?1 AND spent_at IS NULL",
        params![grant_id, now],
    )?;
    Ok(())
}

/// Records an issued access token's id so it can be revoked and introspected.
pub fn record_access(
    c: &Connection,
    jti: &str,
    grant_id: &str,
    exp: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO access_tokens (jti, grant_id, exp, revoked) VALUES (?1, ?2, ?3, 0)",
        params![jti, grant_id, exp],
    )?;
    Ok(())
}

/// `(grant_id, revoked)` of an issued access token.
pub fn get_access(c: &Connection, jti: &str) -> Result<Option<(String, bool)>, StoreError> {
    Ok(c.query_row(
        "SELECT grant_id, revoked FROM access_tokens WHERE jti = ?1",
        [jti],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// Revokes one access token.
pub fn revoke_access(c: &Connection, jti: &str) -> Result<(), StoreError> {
    c.execute("UPDATE access_tokens SET revoked = 1 WHERE jti = ?1", [jti])?;
    Ok(())
}

/// The newest signing key as `(kid, pkcs8 DER)`.
pub fn signing_key(c: &Connection) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    Ok(c.query_row(
        "SELECT kid, pkcs8 FROM signing_keys ORDER BY created DESC, kid LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// Stores a signing key.
pub fn put_signing_key(
    c: &Connection,
    kid: &str,
    pkcs8: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO signing_keys VALUES (?1, ?2, ?3)",
        params![kid, pkcs8, now],
    )?;
    Ok(())
}
