//! `/v1/users` and `/v1/keys`: who may sign S3 requests. The admin command
//! manages them; gateways look keys up (and cache them briefly), and claim
//! the users of their configured keys (`/v1/configured-users`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::IdPath;
use super::{ApiError, AppState};
use crate::error::MetadataError;
use crate::ids::{AccessKeyId, UserName};
use crate::model::{AccessKey, UserInfo, now_unix_ms};
use crate::store::StoreError;
use crate::wire::{ListAccessKeysResponse, ListUsersResponse};

pub(super) async fn handle_create_user(
    State(state): State<AppState>,
    IdPath(name): IdPath<UserName>,
) -> Result<Json<UserInfo>, ApiError> {
    let user = UserInfo::new_now(name, false);
    state.store.create_user(user.clone()).await?;
    tracing::info!(user = %user.name, "user created");
    Ok(Json(user))
}

/// An edge claims the user of a key in its configuration. Idempotent: a
/// name already claimed answers the existing record; a name already taken
/// by an admin-made user is `UserAlreadyExists` (the edge says so in its
/// log: the two would sign for the same buckets).
pub(super) async fn handle_claim_configured_user(
    State(state): State<AppState>,
    IdPath(name): IdPath<UserName>,
) -> Result<Json<UserInfo>, ApiError> {
    let user = UserInfo::new_now(name, true);
    match state.store.create_user(user.clone()).await {
        Ok(()) => {
            tracing::info!(user = %user.name, "configured user claimed by an edge");
            Ok(Json(user))
        }
        Err(StoreError::UserAlreadyExists) => {
            let existing = state
                .store
                .list_users()
                .await?
                .into_iter()
                .find(|u| u.name == user.name);
            match existing {
                Some(existing) if existing.configured => Ok(Json(existing)),
                _ => Err(MetadataError::UserAlreadyExists.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn handle_list_users(
    State(state): State<AppState>,
) -> Result<Json<ListUsersResponse>, ApiError> {
    let users = state.store.list_users().await?;
    Ok(Json(ListUsersResponse { users }))
}

pub(super) async fn handle_delete_user(
    State(state): State<AppState>,
    IdPath(name): IdPath<UserName>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_user(&name).await?;
    tracing::info!(user = %name, "user deleted and its keys revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a new key for the user. The answer is the only place the secret
/// is ever shown to an operator.
pub(super) async fn handle_create_key(
    State(state): State<AppState>,
    IdPath(user): IdPath<UserName>,
) -> Result<Json<AccessKey>, ApiError> {
    // A random 20-character id colliding is astronomically unlikely, but
    // the store refuses duplicates, so a collision costs one retry.
    for _ in 0..3 {
        let key = AccessKey::generate(user.clone(), now_unix_ms());
        match state.store.create_access_key(key.clone()).await {
            Ok(()) => {
                tracing::info!(user = %user, access_key = %key.access_key, "access key created");
                return Ok(Json(key));
            }
            Err(StoreError::AccessKeyExists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(MetadataError::Internal("could not draw an unused access key id".into()).into())
}

pub(super) async fn handle_list_keys(
    State(state): State<AppState>,
) -> Result<Json<ListAccessKeysResponse>, ApiError> {
    let keys = state.store.list_access_keys().await?;
    Ok(Json(ListAccessKeysResponse {
        keys: keys.iter().map(AccessKey::summary).collect(),
    }))
}

/// With its secret: what a gateway needs to check a signature.
pub(super) async fn handle_get_key(
    State(state): State<AppState>,
    IdPath(id): IdPath<AccessKeyId>,
) -> Result<Json<AccessKey>, ApiError> {
    state
        .store
        .get_access_key(&id)
        .await?
        .map(Json)
        .ok_or(ApiError(MetadataError::NoSuchAccessKey))
}

pub(super) async fn handle_delete_key(
    State(state): State<AppState>,
    IdPath(id): IdPath<AccessKeyId>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_access_key(&id).await?;
    tracing::info!(access_key = %id, "access key revoked");
    Ok(StatusCode::NO_CONTENT)
}
