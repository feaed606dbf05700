//! S3 key listing (ListObjects / ListObjectsV2) over any [`MetaStore`].
//!
//! The store knows ordered range scans; this module adds S3's meaning:
//! prefix, delimiter roll-up into common prefixes, `start_after`, `max_keys`
//! (keys plus common prefixes), truncation and where the next page starts.
//! With a delimiter it scans with [`MetaStore::scan_rolled_up`], which SEEKS
//! past all keys of a common prefix (to the prefix's byte successor) instead
//! of walking them: a delimiter listing over a folder of a million keys
//! costs one seek, not a million reads. A page that ends on a common prefix
//! resumes after all of its keys, again by seeking.

use std::ops::Bound;

use crate::model::{ListPage, ListQuery};
use crate::store::{MetaStore, StoreError, common_prefix_len, prefix_successor};

/// Largest single scan (a full page plus the one entry that tells whether
/// the listing is truncated).
const MAX_CHUNK: usize = 1001;

/// One page of `q`. Entries are keys and common prefixes in key order;
/// `max_keys` counts both. `max_keys == 0` is an empty, untruncated page.
pub async fn list_objects(store: &dyn MetaStore, q: &ListQuery) -> Result<ListPage, StoreError> {
    let mut page = ListPage {
        objects: Vec::new(),
        common_prefixes: Vec::new(),
        is_truncated: false,
        next_start_after: None,
    };
    let max = q.max_keys as usize;
    let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let prefix = q.prefix.as_str();
    let roll_up = |key: &str| {
        delimiter.and_then(|d| common_prefix_len(key.as_bytes(), prefix.as_bytes(), d.as_bytes()))
    };

    let mut from: Bound<Vec<u8>> = Bound::Unbounded;
    if let Some(sa) = q.start_after.as_deref().filter(|s| !s.is_empty()) {
        from = Bound::Excluded(sa.as_bytes().to_vec());
        // `start_after` inside a common prefix: that prefix was listed already.
        if let Some(end) = roll_up(sa) {
            match prefix_successor(&sa.as_bytes()[..end]) {
                Some(next) => from = Bound::Included(next),
                None => return Ok(page),
            }
        }
    }
    if max == 0 {
        // Listing a missing bucket is an error even when nothing is asked for.
        if store.get_bucket(&q.bucket).await?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        return Ok(page);
    }

    let mut count = 0usize;
    'scan: loop {
        // One more than the page still needs, to learn whether it is truncated.
        let chunk = (max - count + 1).min(MAX_CHUNK);
        let from_ref = from.as_ref().map(Vec::as_slice);
        let batch = match delimiter {
            Some(d) => {
                store
                    .scan_rolled_up(&q.bucket, prefix, d, from_ref, chunk)
                    .await?
            }
            None => {
                store
                    .scan_objects(&q.bucket, prefix, from_ref, chunk)
                    .await?
            }
        };
        let exhausted = batch.len() < chunk;
        for meta in batch {
            if count == max {
                page.is_truncated = true;
                break 'scan;
            }
            count += 1;
            match roll_up(&meta.key) {
                Some(end) => {
                    let cp = &meta.key[..end];
                    page.common_prefixes.push(cp.to_owned());
                    match prefix_successor(cp.as_bytes()) {
                        Some(next) => from = Bound::Included(next),
                        // Nothing can sort after this prefix.
                        None => break 'scan,
                    }
                }
                None => {
                    from = Bound::Excluded(meta.key.as_bytes().to_vec());
                    page.objects.push(meta);
                }
            }
        }
        if exhausted {
            break;
        }
    }
    if page.is_truncated {
        // Keys and common prefixes were produced in key order, and a common
        // prefix sorts between the keys before and after it, so the last
        // entry of the page is the larger of the two last ones.
        let last_key = page.objects.last().map(|m| m.key.as_str());
        let last_cp = page.common_prefixes.last().map(String::as_str);
        page.next_start_after = last_key.max(last_cp).map(str::to_owned);
    }
    Ok(page)
}

#[cfg(test)]
mod tests;
