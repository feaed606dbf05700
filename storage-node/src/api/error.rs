//! The shard API's one error type: every failure a handler can answer with,
//! mapped to a status and a JSON code (table in [`crate::wire`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::shard_store::StoreError;
use crate::wire::{
    CODE_BAD_BODY, CODE_CORRUPT, CODE_FULL, CODE_HASH_MISMATCH, CODE_INTERNAL, CODE_INVALID_HASH,
    CODE_NOT_FOUND, CODE_TOO_LARGE, ErrorBody,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0:?} is not a shard hash (64 lowercase hex digits)")]
    InvalidHash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidHash(_) => (StatusCode::BAD_REQUEST, CODE_INVALID_HASH),
            ApiError::Store(e) => match e {
                StoreError::NotFound => (StatusCode::NOT_FOUND, CODE_NOT_FOUND),
                StoreError::Corrupt => (StatusCode::GONE, CODE_CORRUPT),
                StoreError::HashMismatch { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, CODE_HASH_MISMATCH)
                }
                StoreError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, CODE_TOO_LARGE),
                StoreError::Full => (StatusCode::INSUFFICIENT_STORAGE, CODE_FULL),
                StoreError::Body(_) => (StatusCode::BAD_REQUEST, CODE_BAD_BODY),
                StoreError::Locked(_) | StoreError::Io { .. } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, CODE_INTERNAL)
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Internal details stay in the log (inside the request span); the
        // caller learns only what it can act on.
        let message = if status.is_server_error() {
            tracing::error!(error = %self, code, "shard request failed");
            "internal error on the storage node".to_owned()
        } else {
            tracing::debug!(error = %self, code, "shard request refused");
            self.to_string()
        };
        let body = ErrorBody {
            code: code.to_owned(),
            message,
        };
        (status, Json(body)).into_response()
    }
}
