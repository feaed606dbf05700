//! Bucket settings, users and access keys in the group-commit writer. Each
//! operation checks its preconditions before writing, like every other.

use redb::ReadableTable;

use super::{StoreError, Tables, WriteOutcome, WriteResult};
use crate::ids::{AccessKeyId, BucketName, UserName};
use crate::model::{AccessKey, BucketInfo, BucketUpdate};
use crate::store::codec::{decode, encode};

impl Tables<'_> {
    pub(super) fn update_bucket(
        &mut self,
        name: &BucketName,
        update: &BucketUpdate,
    ) -> Result<WriteResult, StoreError> {
        let key = name.as_str().as_bytes();
        let mut info: BucketInfo = match self.buckets.get(key)? {
            Some(v) => decode("bucket", v.value())?,
            None => return Ok(Err(StoreError::NoSuchBucket)),
        };
        update.apply(&mut info);
        self.buckets.insert(key, encode(&info)?.as_slice())?;
        Ok(Ok(WriteOutcome::Bucket(info)))
    }

    pub(super) fn create_user(
        &mut self,
        name: &UserName,
        configured: bool,
        value: &[u8],
    ) -> Result<WriteResult, StoreError> {
        let key = name.as_str().as_bytes();
        if self.users.get(key)?.is_some() {
            return Ok(Err(StoreError::UserAlreadyExists));
        }
        // A configured user claims the name its keys' buckets carry; any
        // other user must not take buckets it did not create.
        if !configured {
            for item in self.buckets.iter()? {
                let (_, v) = item?;
                let bucket: BucketInfo = decode("bucket", v.value())?;
                if bucket.owner == name.as_str() {
                    return Ok(Err(StoreError::UserAlreadyExists));
                }
            }
        }
        self.users.insert(key, value)?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn delete_user(&mut self, name: &UserName) -> Result<WriteResult, StoreError> {
        let key = name.as_str().as_bytes();
        if self.users.get(key)?.is_none() {
            return Ok(Err(StoreError::NoSuchUser));
        }
        for item in self.buckets.iter()? {
            let (_, v) = item?;
            let bucket: BucketInfo = decode("bucket", v.value())?;
            if bucket.owner == name.as_str() {
                return Ok(Err(StoreError::UserOwnsBuckets));
            }
        }
        let mut revoked = Vec::new();
        for item in self.access_keys.iter()? {
            let (k, v) = item?;
            let access_key: AccessKey = decode("access key", v.value())?;
            if access_key.user == *name {
                revoked.push(k.value().to_vec());
            }
        }
        for k in revoked {
            self.access_keys.remove(k.as_slice())?;
        }
        self.users.remove(key)?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn create_access_key(
        &mut self,
        id: &AccessKeyId,
        user: &UserName,
        value: &[u8],
    ) -> Result<WriteResult, StoreError> {
        if self.users.get(user.as_str().as_bytes())?.is_none() {
            return Ok(Err(StoreError::NoSuchUser));
        }
        let key = id.as_str().as_bytes();
        if self.access_keys.get(key)?.is_some() {
            return Ok(Err(StoreError::AccessKeyExists));
        }
        self.access_keys.insert(key, value)?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn delete_access_key(
        &mut self,
        id: &AccessKeyId,
    ) -> Result<WriteResult, StoreError> {
        if self.access_keys.remove(id.as_str().as_bytes())?.is_none() {
            return Ok(Err(StoreError::NoSuchAccessKey));
        }
        Ok(Ok(WriteOutcome::Done))
    }
}
