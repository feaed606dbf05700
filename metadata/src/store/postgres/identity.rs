//! Bucket settings, users and access keys in the PostgreSQL backend. User
//! and key changes share one identity lock that deleting a user takes
//! alone, so a deletion sees every key and bucket given to the user.

use deadpool_postgres::Transaction;

use super::locks::Locks;
use super::sql::{all, exec, opt};
use super::txn::TxResult;
use crate::ids::{AccessKeyId, BucketName, UserName};
use crate::model::{AccessKey, BucketInfo, BucketUpdate};
use crate::store::StoreError;
use crate::store::codec::{decode, encode};

pub(super) async fn update_bucket(
    t: &Transaction<'_>,
    name: &BucketName,
    update: &BucketUpdate,
) -> TxResult<BucketInfo> {
    Locks::new().bucket(name, false).take(t).await?;
    let Some(row) = opt(
        t,
        "SELECT info FROM buckets WHERE name = $1 FOR UPDATE",
        &[&name.as_str()],
    )
    .await?
    else {
        return Ok(Err(StoreError::NoSuchBucket));
    };
    let mut info: BucketInfo = decode("bucket", row.get(0))?;
    update.apply(&mut info);
    exec(
        t,
        "UPDATE buckets SET info = $2 WHERE name = $1",
        &[&name.as_str(), &encode(&info)?],
    )
    .await?;
    Ok(Ok(info))
}

pub(super) async fn create_user(
    t: &Transaction<'_>,
    name: &UserName,
    configured: bool,
    value: &[u8],
) -> TxResult<()> {
    Locks::new().identity(false).take(t).await?;
    if opt(t, "SELECT 1 FROM users WHERE name = $1", &[&name.as_str()])
        .await?
        .is_some()
    {
        return Ok(Err(StoreError::UserAlreadyExists));
    }
    // A configured user claims the name its keys' buckets carry; any other
    // user must not take buckets it did not create.
    if !configured {
        for row in all(t, "SELECT info FROM buckets", &[]).await? {
            let bucket: BucketInfo = decode("bucket", row.get(0))?;
            if bucket.owner == name.as_str() {
                return Ok(Err(StoreError::UserAlreadyExists));
            }
        }
    }
    exec(
        t,
        "INSERT INTO users (name, info) VALUES ($1, $2)",
        &[&name.as_str(), &value],
    )
    .await?;
    Ok(Ok(()))
}

pub(super) async fn delete_user(t: &Transaction<'_>, name: &UserName) -> TxResult<()> {
    Locks::new().identity(true).take(t).await?;
    if opt(t, "SELECT 1 FROM users WHERE name = $1", &[&name.as_str()])
        .await?
        .is_none()
    {
        return Ok(Err(StoreError::NoSuchUser));
    }
    for row in all(t, "SELECT info FROM buckets", &[]).await? {
        let bucket: BucketInfo = decode("bucket", row.get(0))?;
        if bucket.owner == name.as_str() {
            return Ok(Err(StoreError::UserOwnsBuckets));
        }
    }
    exec(
        t,
        "DELETE FROM access_keys WHERE user_name = $1",
        &[&name.as_str()],
    )
    .await?;
    exec(t, "DELETE FROM users WHERE name = $1", &[&name.as_str()]).await?;
    Ok(Ok(()))
}

pub(super) async fn create_access_key(
    t: &Transaction<'_>,
    key: &AccessKey,
    value: &[u8],
) -> TxResult<()> {
    Locks::new().identity(false).take(t).await?;
    if opt(
        t,
        "SELECT 1 FROM users WHERE name = $1",
        &[&key.user.as_str()],
    )
    .await?
    .is_none()
    {
        return Ok(Err(StoreError::NoSuchUser));
    }
    if opt(
        t,
        "SELECT 1 FROM access_keys WHERE id = $1",
        &[&key.access_key.as_str()],
    )
    .await?
    .is_some()
    {
        return Ok(Err(StoreError::AccessKeyExists));
    }
    exec(
        t,
        "INSERT INTO access_keys (id, user_name, key) VALUES ($1, $2, $3)",
        &[&key.access_key.as_str(), &key.user.as_str(), &value],
    )
    .await?;
    Ok(Ok(()))
}

pub(super) async fn delete_access_key(t: &Transaction<'_>, id: &AccessKeyId) -> TxResult<()> {
    if exec(t, "DELETE FROM access_keys WHERE id = $1", &[&id.as_str()]).await? == 0 {
        return Ok(Err(StoreError::NoSuchAccessKey));
    }
    Ok(Ok(()))
}
