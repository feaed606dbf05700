//! Leases: how replicas elect the one that does single-owner work.
//!
//! A row per lease names its holder and when it expires, on the database's
//! clock. Taking it is one atomic upsert that succeeds only if the row is
//! free, expired, or already ours; renewing is the same statement. Why a
//! lease row and not a session advisory lock: an advisory lock is held by
//! one connection, and whether its holder is alive then depends on how soon
//! PostgreSQL notices a dead TCP peer (minutes with default keepalives on a
//! lost machine). A lease expires after its TTL whatever happened to the
//! holder, and the holder stops working as leader when it has not renewed
//! in time, so two leaders never overlap by more than clock drift over one
//! TTL.

use std::time::Duration;

use super::sql::client_opt;
use super::{PgStore, pg_error};
use crate::store::{LeaseHolder, StoreError};

pub(super) async fn acquire(
    store: &PgStore,
    name: &str,
    holder: &LeaseHolder,
    ttl: Duration,
) -> Result<Option<LeaseHolder>, StoreError> {
    let client = store.client().await?;
    let taken = client_opt(
        &client,
        "INSERT INTO leases (name, holder, holder_addr, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
         ON CONFLICT (name) DO UPDATE \
             SET holder = EXCLUDED.holder, holder_addr = EXCLUDED.holder_addr, \
                 expires_at = EXCLUDED.expires_at \
             WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now() \
         RETURNING holder, holder_addr",
        &[&name, &holder.id, &holder.addr, &ttl.as_secs_f64()],
    )
    .await
    .map_err(pg_error)?;
    if taken.is_some() {
        return Ok(Some(holder.clone()));
    }
    let current = client_opt(
        &client,
        "SELECT holder, holder_addr FROM leases WHERE name = $1 AND expires_at >= now()",
        &[&name],
    )
    .await
    .map_err(pg_error)?;
    Ok(current.map(|r| LeaseHolder {
        id: r.get(0),
        addr: r.get(1),
    }))
}

pub(super) async fn release(
    store: &PgStore,
    name: &str,
    holder: &LeaseHolder,
) -> Result<(), StoreError> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .await
        .map_err(pg_error)?;
    client
        .execute(&stmt, &[&name, &holder.id])
        .await
        .map_err(pg_error)?;
    Ok(())
}
