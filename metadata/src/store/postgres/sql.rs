//! Prepared-statement helpers: every statement is prepared once per pooled
//! connection and reused, so a query costs one round trip.

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) async fn opt(
    t: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, tokio_postgres::Error> {
    let stmt = t.prepare_cached(sql).await?;
    t.query_opt(&stmt, params).await
}

pub(super) async fn one(
    t: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, tokio_postgres::Error> {
    let stmt = t.prepare_cached(sql).await?;
    t.query_one(&stmt, params).await
}

pub(super) async fn all(
    t: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let stmt = t.prepare_cached(sql).await?;
    t.query(&stmt, params).await
}

pub(super) async fn exec(
    t: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = t.prepare_cached(sql).await?;
    t.execute(&stmt, params).await
}

/// A statement that takes no parameters and returns no rows (`LOCK TABLE`).
pub(super) async fn batch(t: &Transaction<'_>, sql: &str) -> Result<(), tokio_postgres::Error> {
    t.batch_execute(sql).await
}

/// A query outside any explicit transaction: one statement, one snapshot.
pub(super) async fn client_opt(
    c: &deadpool_postgres::Client,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query_opt(&stmt, params).await
}

pub(super) async fn client_all(
    c: &deadpool_postgres::Client,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query(&stmt, params).await
}

/// A `usize` page size as the `bigint` a `LIMIT` takes.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
