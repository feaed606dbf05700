//! S3 key listing (ListObjects / ListObjectsV2) over any [`MetaStore`].
//!
//! The store only knows ordered range scans; this module adds S3's meaning:
//! prefix, delimiter roll-up into common prefixes, `start_after`, `max_keys`
//! and truncation. When a key rolls up into a common prefix, the scan SEEKS
//! past everything under that prefix (to its byte successor) instead of
//! walking it, so a delimiter listing over a folder of a million keys costs a
//! handful of seeks, not a million reads.

use std::ops::Bound;

use crate::model::{ListPage, ListQuery};
use crate::store::{MetaStore, StoreError, prefix_successor};

/// Scan size right after a seek with a delimiter: small, because the next
/// keys may all roll up into one prefix and would be decoded for nothing.
/// It doubles while the keys keep coming as distinct entries.
const FIRST_CHUNK_WITH_DELIMITER: usize = 16;
/// Largest single scan.
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
    let roll_up = |key: &str| -> Option<usize> {
        let d = delimiter?;
        let rest = key.strip_prefix(prefix)?;
        rest.find(d).map(|pos| prefix.len() + pos + d.len())
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
    // The common prefix most recently returned; keys under it are skipped.
    let mut open_prefix: Option<String> = None;
    let mut chunk = if delimiter.is_some() {
        FIRST_CHUNK_WITH_DELIMITER
    } else {
        (max + 1).min(MAX_CHUNK)
    };
    'scan: loop {
        let batch = store
            .scan_objects(&q.bucket, prefix, bound_ref(&from), chunk)
            .await?;
        let exhausted = batch.len() < chunk;
        let mut last_key = None;
        for meta in batch {
            if let Some(cp) = &open_prefix
                && meta.key.starts_with(cp.as_str())
            {
                last_key = Some(meta.key);
                continue;
            }
            if count == max {
                page.is_truncated = true;
                break 'scan;
            }
            count += 1;
            if let Some(end) = roll_up(&meta.key) {
                let cp = meta.key[..end].to_owned();
                page.common_prefixes.push(cp.clone());
                open_prefix = Some(cp);
                last_key = Some(meta.key);
            } else {
                last_key = Some(meta.key.clone());
                page.objects.push(meta);
            }
        }
        if exhausted {
            break;
        }
        let Some(last_key) = last_key else { break };
        match &open_prefix {
            // The batch ended inside a common prefix: jump past all of it.
            Some(cp) if last_key.starts_with(cp.as_str()) => {
                match prefix_successor(cp.as_bytes()) {
                    Some(next) => from = Bound::Included(next),
                    None => break,
                }
                chunk = FIRST_CHUNK_WITH_DELIMITER;
            }
            _ => {
                from = Bound::Excluded(last_key.into_bytes());
                chunk = if delimiter.is_some() {
                    (chunk * 2).min(MAX_CHUNK)
                } else {
                    (max - count + 1).min(MAX_CHUNK)
                };
            }
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

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests;
