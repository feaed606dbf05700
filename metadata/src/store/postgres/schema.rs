//! Versioned schema migrations, applied at start.
//!
//! Each migration is a numbered SQL script that runs once, in order, in one
//! transaction with its row in `schema_migrations`. Several replicas may
//! start at the same moment on an empty database: a transaction-scoped
//! advisory lock makes them take turns, so each script runs exactly once and
//! the others find it applied. A database migrated by a newer release (a
//! version this binary does not know) is refused rather than written with
//! assumptions that no longer hold.
//!
//! Layout: keys use the bytewise layout of [`crate::store::keys`] (`bytea`
//! orders bytewise, like redb), so a listing is one range scan of a primary
//! key index and both backends page identically. Values are the JSON the
//! embedded store writes (`convert_from(meta, 'UTF8')::json` reads one in
//! `psql`). Names are `text COLLATE "C"`: bytewise order, as S3 lists them,
//! whatever the database's locale.

use super::pg_error;
use crate::store::StoreError;

/// Distinguishes our advisory lock from any other user of the database.
const MIGRATION_LOCK: i64 = 0x7465_7373_6572_6131; // "tessera1"

/// `(version, what it does, SQL)`, in order. Never edit a released entry:
/// add a new one.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "records",
        r#"
CREATE TABLE buckets (
    name text COLLATE "C" PRIMARY KEY,
    info bytea NOT NULL
);
-- okey = bucket \0 key: a bucket's keys are contiguous and in byte order.
CREATE TABLE objects (
    okey bytea PRIMARY KEY,
    version uuid NOT NULL,
    meta bytea NOT NULL
);
CREATE TABLE data (
    version uuid PRIMARY KEY,
    data bytea NOT NULL
);
CREATE TABLE garbage (
    version uuid PRIMARY KEY,
    since_unix_ms bigint NOT NULL,
    data bytea NOT NULL
);
-- file = node \0 hash (32 bytes).
CREATE TABLE shard_refs (
    file bytea PRIMARY KEY,
    refs bigint NOT NULL CHECK (refs > 0)
);
CREATE TABLE shard_deletions (
    file bytea PRIMARY KEY,
    since_unix_ms bigint NOT NULL
);
CREATE TABLE shards_deleted (
    file bytea PRIMARY KEY,
    at_unix_ms bigint NOT NULL
);
CREATE INDEX shards_deleted_at ON shards_deleted (at_unix_ms);
CREATE TABLE nodes (
    id text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL
);
-- ukey = bucket \0 key \0 upload id (16 bytes).
CREATE TABLE uploads (
    ukey bytea PRIMARY KEY,
    upload bytea NOT NULL
);
-- pkey = upload id (16 bytes) part number (4 bytes, big-endian).
CREATE TABLE parts (
    pkey bytea PRIMARY KEY,
    part bytea NOT NULL
);
CREATE TABLE users (
    name text COLLATE "C" PRIMARY KEY,
    info bytea NOT NULL
);
CREATE TABLE access_keys (
    id text COLLATE "C" PRIMARY KEY,
    user_name text COLLATE "C" NOT NULL,
    key bytea NOT NULL
);
CREATE INDEX access_keys_user ON access_keys (user_name);
"#,
    ),
    (
        2,
        "leases for single-owner work",
        r#"
-- One row per kind of work that must have a single owner among the
-- metadata replicas. Expiry is on the database's clock, so the replicas'
-- clocks never decide who leads.
CREATE TABLE leases (
    name text COLLATE "C" PRIMARY KEY,
    holder text NOT NULL,
    holder_addr text NOT NULL,
    expires_at timestamptz NOT NULL
);
"#,
    ),
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _, _)| *v)
}

/// Brings the schema up to [`latest_version`]. Returns the versions applied
/// now (empty when the database was current).
pub(super) async fn migrate(
    client: &mut deadpool_postgres::Client,
) -> Result<Vec<i32>, StoreError> {
    let txn = client.transaction().await.map_err(pg_error)?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY,
             description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg_error)?;
    let current: i32 = txn
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if current > latest_version() {
        return Err(StoreError::Backend(format!(
            "the database schema is at version {current}, newer than this release knows \
             ({}); upgrade this binary",
            latest_version()
        )));
    }
    let mut applied = Vec::new();
    for (version, description, sql) in MIGRATIONS.iter().filter(|(v, ..)| *v > current) {
        txn.batch_execute(sql).await.map_err(|e| {
            StoreError::Backend(format!("schema migration {version} ({description}): {e}"))
        })?;
        txn.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
            &[version, description],
        )
        .await
        .map_err(pg_error)?;
        applied.push(*version);
    }
    txn.commit().await.map_err(pg_error)?;
    Ok(applied)
}
