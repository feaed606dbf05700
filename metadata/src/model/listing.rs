use serde::{Deserialize, Serialize};

use crate::ids::BucketName;
use crate::model::ObjectMeta;

/// One page of a key listing, in key order (bytewise on UTF-8, as S3 sorts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub bucket: BucketName,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Roll keys that contain this after the prefix up into common prefixes.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) strictly after this. A common prefix
    /// that `start_after` already starts with counts as listed, so a page that
    /// ended on a common prefix resumes after all of its keys.
    #[serde(default)]
    pub start_after: Option<String>,
    /// At most this many keys plus common prefixes (S3 caps it at 1000).
    pub max_keys: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    pub objects: Vec<ObjectMeta>,
    pub common_prefixes: Vec<String>,
    /// More entries follow this page.
    pub is_truncated: bool,
    /// The last key or common prefix in this page, in key order: pass it as
    /// `start_after` for the next page. Set only when `is_truncated`.
    pub next_start_after: Option<String>,
}
