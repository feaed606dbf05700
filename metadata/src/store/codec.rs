//! How records are encoded as values.
//!
//! JSON, via serde. Why not a compact binary format (postcard, bincode): those
//! are positional, so adding a field to `ObjectMeta` would make every record
//! already on disk undecodable, while JSON with `#[serde(default)]` reads old
//! records unchanged, and the records are readable when debugging a broken
//! disk. The cost is size and decode time: a listing decodes one small
//! `ObjectMeta` per key (microseconds), and manifests, the only large values,
//! live in their own table and are decoded only by a GET.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
