//! Transactions of the PostgreSQL backend: every write runs at READ
//! COMMITTED under the advisory locks it takes first ([`super::locks`]),
//! and is run again when PostgreSQL aborts it for a concurrent one.
//!
//! Why not SERIALIZABLE, which would let each write be written as if it ran
//! alone: its predicate locks cover whole index pages, so writers adding
//! neighbouring keys (a folder of video segments) conflict although they
//! share nothing, and all but one retry. What can still abort a
//! write: a deadlock between row locks (two writes that drop references to
//! the same shard files in different orders), or a unique key inserted by a
//! concurrent write; both are retried from the start, and a retried write
//! decides everything again from what it reads.
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::Transaction;
use tokio_postgres::IsolationLevel;
use tokio_postgres::error::SqlState;

use super::pg_error;
use crate::store::StoreError;

/// Attempts of one write before the conflict is reported as a backend error.
const MAX_ATTEMPTS: u32 = 30;

/// A failure inside a write transaction: the database's (possibly a lost
/// race, worth retrying) or the store's own (a corrupt record): either way
/// the transaction rolls back.
#[derive(Debug)]
pub(super) enum TxError {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for TxError {
    fn from(e: tokio_postgres::Error) -> Self {
        TxError::Pg(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

/// Outer error: roll back (a refusal found after writing, such as a shard
/// file collected meanwhile, is a [`TxError::Store`]). Inner: the
/// operation's answer, committed either way (a refusal decided before any
/// write has written nothing; `commit_part` hands a refused part's data to
/// the collector and still answers `NoSuchUpload`).
pub(super) type TxResult<T> = Result<Result<T, StoreError>, TxError>;

/// Whether PostgreSQL aborted the transaction because of a concurrent one,
/// so that running it again may succeed.
fn lost_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

/// What to do after one attempt of a write.
pub(super) enum Step<T> {
    Done(Result<T, StoreError>),
    Retry,
}

/// Starts a write transaction.
pub(super) async fn begin_write(
    client: &mut deadpool_postgres::Client,
) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(pg_error)
}

/// Commits an attempt whose operation answered, or decides whether a
/// failed one is worth another attempt (after a pause).
pub(super) async fn finish_write<T>(
    txn: Transaction<'_>,
    outcome: TxResult<T>,
    attempt: u32,
) -> Step<T> {
    let failure = match outcome {
        Ok(answer) => match txn.commit().await {
            Ok(()) => return Step::Done(answer),
            Err(e) => e,
        },
        Err(TxError::Pg(e)) => e,
        Err(TxError::Store(e)) => return Step::Done(Err(e)),
    };
    if !lost_race(&failure) || attempt >= MAX_ATTEMPTS {
        return Step::Done(Err(pg_error(failure)));
    }
    metrics::counter!("metadata_store_retries_total").increment(1);
    backoff(attempt).await;
    Step::Retry
}

/// Starts a read: REPEATABLE READ, read-only. One snapshot for all its
/// statements, no locks, never a serialization failure.
pub(super) async fn begin_read(
    client: &mut deadpool_postgres::Client,
) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_error)
}

pub(super) async fn finish_read<T>(
    txn: Transaction<'_>,
    outcome: Result<T, TxError>,
) -> Result<T, StoreError> {
    let out = outcome.map_err(|e| match e {
        TxError::Pg(e) => pg_error(e),
        TxError::Store(e) => e,
    })?;
    txn.commit().await.map_err(pg_error)?;
    Ok(out)
}

/// Runs `$op` (a future over the transaction `$t`, answering
/// [`TxResult`]) in a write transaction and commits it, running it again
/// when it lost a race; so `$op` must decide everything from what it reads
/// in the transaction, after taking its locks. A macro rather than a function taking a
/// closure: the future borrows the transaction, and a closure returning
/// such a future cannot yet be required to be `Send`.
macro_rules! write_txn {
    ($store:expr, |$t:ident| $op:expr) => {{
        let mut client = $store.client().await?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let txn = $crate::store::postgres::txn::begin_write(&mut client).await?;
            let outcome = {
                let $t = &txn;
                $op.await
            };
            match $crate::store::postgres::txn::finish_write(txn, outcome, attempt).await {
                $crate::store::postgres::txn::Step::Done(answer) => break answer,
                $crate::store::postgres::txn::Step::Retry => continue,
            }
        }
    }};
}

/// Runs `$op` (a future over the transaction `$t`) in one read snapshot.
macro_rules! read_txn {
    ($store:expr, |$t:ident| $op:expr) => {{
        let mut client = $store.client().await?;
        let txn = $crate::store::postgres::txn::begin_read(&mut client).await?;
        let outcome = {
            let $t = &txn;
            $op.await
        };
        $crate::store::postgres::txn::finish_read(txn, outcome).await
    }};
}

pub(super) use {read_txn, write_txn};

/// A short, growing, jittered pause: two writers that collided should not
/// collide again in lockstep.
fn backoff(attempt: u32) -> impl Future<Output = ()> {
    let ceiling_us = 200u64 << attempt.min(8);
    let pause = rand::random_range(ceiling_us / 2..=ceiling_us);
    tokio::time::sleep(Duration::from_micros(pause))
}
