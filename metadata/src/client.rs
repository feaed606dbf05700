//! The typed client of the metadata service's internal API. Gateways, edges and
//! storage nodes talk to metadata only through this.
//!
//! It does not retry by itself: whether a retry is safe depends on the caller's
//! operation (a commit after a timeout may already have happened), so callers
//! decide with [`MetadataError::is_retryable`].
//!
//! Fail-over: given several replicas' addresses (`http://a:9100,http://b:9100`)
//! it talks to one and moves to the next when that one fails. A request that
//! certainly did nothing (the connection was refused or never made, or the
//! replica answered that it does not lead the work asked for) is sent to the
//! next replica at once, so a dead replica costs a caller one failed connect;
//! any other failure is returned as usual, and the next call starts at the
//! next replica.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cluster_auth::ClusterSecret;
use crate::error::{ErrorBody, MetadataError};
use crate::ids::{
    AccessKeyId, BucketId, BucketName, NodeId, ShardHash, UploadId, UserName, VersionId,
};
use crate::model::{
    AccessKey, AccessKeySummary, BucketInfo, BucketUpdate, CompleteRequest, ListPage, ListQuery,
    MultipartUpload, NodeHeartbeat, NodeStatus, ObjectData, ObjectMeta, PartRecord, PartsPage,
    RepairClaim, RepairReport, RepairTask, SuspectShard, UploadsPage, UploadsQuery, UserInfo,
    WriteCondition,
};
use crate::wire::{
    ChangesRequest, ChangesResponse, ClusterStatus, CommitObjectRequest, CommitPartRequest,
    CreateBucketRequest, DrainingRequest, GetObjectResponse, GetPartRequest, GetPartResponse,
    HeadAnswer, HeadObjectsRequest, HeadObjectsResponse, HeartbeatReply, LeaderStatus,
    ListAccessKeysResponse, ListBucketsResponse, ListNodesResponse, ListPartsRequest,
    ListUsersResponse, NodeFilesPage, ObjectKeyRequest, RepairTasks, ReplacedPartResponse,
    ReplacedResponse, RetireRequest, SuspectsRequest, UploadRequest,
};

/// A dead metadata service must surface quickly as `Unavailable`, not as a
/// hung S3 request: loopback and LAN connects take microseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous upper bound for one call (a large listing page on a busy disk).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Cheap to clone: clones share one connection pool and the choice of
/// replica.
#[derive(Clone)]
pub struct MetadataClient {
    http: reqwest::Client,
    /// Every replica's base URL, in the order given.
    bases: Arc<[String]>,
    /// Index into `bases` of the replica tried first.
    current: Arc<AtomicUsize>,
    secret: ClusterSecret,
}

impl std::fmt::Debug for MetadataClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataClient")
            .field("bases", &self.bases)
            .finish_non_exhaustive()
    }
}

/// How one attempt at one replica ended.
enum Attempt {
    Answered(reqwest::Response),
    /// Nothing happened there: try the next replica.
    NotDone(MetadataError),
    Failed(MetadataError),
}

impl MetadataClient {
    /// `base_url` like `http://127.0.0.1:9100` (a trailing `/` is ignored),
    /// or several replicas' URLs separated by commas.
    pub fn new(base_url: &str, secret: ClusterSecret) -> Result<Self, MetadataError> {
        let mut bases = Vec::new();
        for one in base_url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let base = one.trim_end_matches('/').to_owned();
            let parsed = reqwest::Url::parse(&base)
                .map_err(|e| MetadataError::InvalidRequest(format!("metadata url {one:?}: {e}")))?;
            if parsed.scheme() != "http" || parsed.host().is_none() {
                return Err(MetadataError::InvalidRequest(format!(
                    "metadata url {one:?}: expected http://host:port"
                )));
            }
            bases.push(base);
        }
        if bases.is_empty() {
            return Err(MetadataError::InvalidRequest(format!(
                "metadata url {base_url:?}: expected http://host:port"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // Small JSON requests would otherwise wait on Nagle + delayed ACK.
            .tcp_nodelay(true)
            // Cluster traffic goes straight to its peers, never via an
            // HTTP_PROXY meant for the outside world.
            .no_proxy()
            .build()
            .map_err(|e| MetadataError::Internal(format!("building HTTP client: {e}")))?;
        Ok(MetadataClient {
            http,
            bases: bases.into(),
            current: Arc::new(AtomicUsize::new(0)),
            secret,
        })
    }

    /// The base URL of the replica this client tries first.
    pub fn base_url(&self) -> &str {
        let i = self.current.load(Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    /// Every replica's base URL, in the order given.
    pub fn base_urls(&self) -> &[String] {
        &self.bases
    }

    /// Creates a bucket. `BucketAlreadyOwnedByYou` if `owner` already owns it,
    /// `BucketAlreadyExists` if someone else does.
    pub async fn create_bucket(
        &self,
        name: &BucketName,
        owner: &str,
        public_read: bool,
    ) -> Result<BucketInfo, MetadataError> {
        let body = CreateBucketRequest {
            owner: owner.to_owned(),
            public_read,
        };
        self.call(Method::PUT, &format!("/v1/buckets/{name}"), Some(&body))
            .await
    }

    /// `NoSuchBucket` if it does not exist.
    pub async fn get_bucket(&self, name: &BucketName) -> Result<BucketInfo, MetadataError> {
        self.call::<(), _>(Method::GET, &format!("/v1/buckets/{name}"), None)
            .await
    }

    /// All buckets, sorted by name.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, MetadataError> {
        let r: ListBucketsResponse = self.call::<(), _>(Method::GET, "/v1/buckets", None).await?;
        Ok(r.buckets)
    }

    /// Changes a bucket's settings (public read, CORS) and returns the
    /// bucket as it now is. `NoSuchBucket`.
    pub async fn update_bucket(
        &self,
        name: &BucketName,
        update: &BucketUpdate,
    ) -> Result<BucketInfo, MetadataError> {
        self.call(Method::PATCH, &format!("/v1/buckets/{name}"), Some(update))
            .await
    }

    /// `NoSuchBucket`, or `BucketNotEmpty` while it holds any object. Its
    /// multipart uploads in progress are aborted with it (their parts'
    /// data becomes garbage), as S3 does.
    pub async fn delete_bucket(&self, name: &BucketName) -> Result<(), MetadataError> {
        self.call_no_content::<()>(Method::DELETE, &format!("/v1/buckets/{name}"), None)
            .await
    }

    /// Makes `meta` the current version of its key, with its bytes at `data`,
    /// atomically. Returns the version it replaced (whose data is now garbage).
    pub async fn commit_object(
        &self,
        meta: &ObjectMeta,
        data: &ObjectData,
    ) -> Result<Option<ObjectMeta>, MetadataError> {
        self.commit_object_if(meta, data, &WriteCondition::default())
            .await
    }

    /// [`MetadataClient::commit_object`] under a precondition on the key's
    /// current version, checked in the commit's transaction:
    /// `PreconditionFailed`, or `NoSuchKey` for `if_match` without a version;
    /// and `NoSuchBucket` when the bucket is not `condition.bucket_id` (the
    /// one the request checked) any more.
    pub async fn commit_object_if(
        &self,
        meta: &ObjectMeta,
        data: &ObjectData,
        condition: &WriteCondition,
    ) -> Result<Option<ObjectMeta>, MetadataError> {
        let body = CommitObjectRequest {
            meta: meta.clone(),
            data: data.clone(),
            condition: condition.clone(),
        };
        let r: ReplacedResponse = self
            .call(Method::POST, "/v1/objects/commit", Some(&body))
            .await?;
        Ok(r.replaced)
    }

    /// The current version and where its bytes are. `NoSuchBucket` / `NoSuchKey`.
    pub async fn get_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<(ObjectMeta, ObjectData), MetadataError> {
        let r: GetObjectResponse = self
            .call(Method::POST, "/v1/objects/get", Some(&key_req(bucket, key)))
            .await?;
        Ok((r.meta, r.data))
    }

    /// The current version without its manifest. `NoSuchBucket` / `NoSuchKey`.
    pub async fn head_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<ObjectMeta, MetadataError> {
        self.call(
            Method::POST,
            "/v1/objects/head",
            Some(&key_req(bucket, key)),
        )
        .await
    }

    /// The current versions of many keys in one round trip (at most
    /// [`crate::wire::MAX_HEADS_PER_REQUEST`]), in the order asked: each `NoSuchBucket`,
    /// `NoSuchKey` or found. A failure of the whole request (metadata
    /// unreachable) is the outer error.
    pub async fn head_objects(
        &self,
        objects: Vec<ObjectKeyRequest>,
    ) -> Result<Vec<Result<ObjectMeta, MetadataError>>, MetadataError> {
        let asked = objects.len();
        let r: HeadObjectsResponse = self
            .call(
                Method::POST,
                "/v1/objects/heads",
                Some(&HeadObjectsRequest { objects }),
            )
            .await?;
        if r.answers.len() != asked {
            return Err(MetadataError::Internal(format!(
                "/v1/objects/heads: {} answers for {asked} keys",
                r.answers.len()
            )));
        }
        Ok(r.answers
            .into_iter()
            .map(|a| match a {
                HeadAnswer::Found(meta) => Ok(*meta),
                HeadAnswer::NoSuchKey => Err(MetadataError::NoSuchKey),
                HeadAnswer::NoSuchBucket => Err(MetadataError::NoSuchBucket),
            })
            .collect())
    }

    /// One poll of the change log (see [`crate::change_feed`]): held open
    /// by the service for up to half a second when nothing changed.
    pub async fn poll_changes(
        &self,
        req: &ChangesRequest,
    ) -> Result<ChangesResponse, MetadataError> {
        self.call(Method::POST, "/v1/changes/poll", Some(req)).await
    }

    /// Removes the key. `NoSuchBucket`; a missing key is `Ok(None)` (S3's
    /// DeleteObject succeeds on missing keys).
    pub async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<Option<ObjectMeta>, MetadataError> {
        let r: ReplacedResponse = self
            .call(
                Method::POST,
                "/v1/objects/delete",
                Some(&key_req(bucket, key)),
            )
            .await?;
        Ok(r.replaced)
    }

    /// One page of a listing; see [`ListQuery`] for the S3 semantics.
    /// `max_keys` above 1000 is `InvalidRequest`: S3 clamps it, so callers
    /// clamp before asking.
    pub async fn list_objects(&self, q: &ListQuery) -> Result<ListPage, MetadataError> {
        self.call(Method::POST, "/v1/objects/list", Some(q)).await
    }

    /// Starts a multipart upload (the caller picks `upload.upload_id`, fresh
    /// from [`UploadId::new`]). `NoSuchBucket`. Sending the same upload again
    /// (a retry) is harmless.
    pub async fn create_upload(&self, upload: &MultipartUpload) -> Result<(), MetadataError> {
        self.call_no_content(Method::POST, "/v1/uploads/create", Some(upload))
            .await
    }

    /// `NoSuchUpload` if there is no such upload for this bucket and key.
    pub async fn get_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<MultipartUpload, MetadataError> {
        let body = upload_req(bucket, key, upload_id);
        self.call(Method::POST, "/v1/uploads/get", Some(&body))
            .await
    }

    /// Records a part whose shards are durable. Returns the earlier attempt
    /// of the same part number, whose data is now garbage. `NoSuchUpload`
    /// (then `data` is garbage too, so its shards are collected), or
    /// `NoSuchBucket` when the bucket is not `bucket_id` (the one the
    /// request checked) any more.
    pub async fn commit_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part: &PartRecord,
        data: &ObjectData,
        bucket_id: Option<BucketId>,
    ) -> Result<Option<PartRecord>, MetadataError> {
        let body = CommitPartRequest {
            upload: upload_req(bucket, key, upload_id),
            part: part.clone(),
            data: data.clone(),
            bucket_id,
        };
        let r: ReplacedPartResponse = self
            .call(Method::POST, "/v1/uploads/commit-part", Some(&body))
            .await?;
        Ok(r.replaced)
    }

    /// Parts numbered above `part_number_marker`, ascending, at most
    /// `max_parts` (<= 1000). `NoSuchUpload`.
    pub async fn list_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part_number_marker: u32,
        max_parts: u32,
    ) -> Result<PartsPage, MetadataError> {
        let body = ListPartsRequest {
            upload: upload_req(bucket, key, upload_id),
            part_number_marker,
            max_parts,
        };
        self.call(Method::POST, "/v1/uploads/list-parts", Some(&body))
            .await
    }

    /// One part and where its bytes are. `NoSuchUpload`, or `InvalidPart` if
    /// the upload has no such part.
    pub async fn get_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<(PartRecord, ObjectData), MetadataError> {
        let body = GetPartRequest {
            upload: upload_req(bucket, key, upload_id),
            part_number,
        };
        let r: GetPartResponse = self
            .call(Method::POST, "/v1/uploads/get-part", Some(&body))
            .await?;
        Ok((r.part, r.data))
    }

    /// Completes an upload atomically: the object becomes current with the
    /// listed parts' manifests concatenated, the upload and its parts are
    /// gone, unlisted parts are garbage. Returns the version it replaced.
    /// `NoSuchUpload`, `InvalidPartOrder`, `InvalidPart`, `EntityTooSmall`,
    /// `InvalidRequest` (size or code mismatch). A retry after the upload
    /// was completed with this very `object.version` answers `Ok(None)`.
    pub async fn complete_upload(
        &self,
        req: &CompleteRequest,
    ) -> Result<Option<ObjectMeta>, MetadataError> {
        let r: ReplacedResponse = self
            .call(Method::POST, "/v1/uploads/complete", Some(req))
            .await?;
        Ok(r.replaced)
    }

    /// Drops the upload and its parts (their data becomes garbage).
    /// `NoSuchUpload`.
    pub async fn abort_upload(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &UploadId,
    ) -> Result<(), MetadataError> {
        let body = upload_req(bucket, key, upload_id);
        self.call_no_content(Method::POST, "/v1/uploads/abort", Some(&body))
            .await
    }

    /// One page of uploads in progress, in (key, upload id) order.
    /// `NoSuchBucket`; `max_uploads` above 1000 is `InvalidRequest`.
    pub async fn list_uploads(&self, q: &UploadsQuery) -> Result<UploadsPage, MetadataError> {
        self.call(Method::POST, "/v1/uploads/list", Some(q)).await
    }

    /// `UserAlreadyExists`, also when the name already owns buckets (the
    /// user of a key in the edges' configuration).
    pub async fn create_user(&self, name: &UserName) -> Result<UserInfo, MetadataError> {
        self.call::<(), _>(Method::PUT, &format!("/v1/users/{name}"), None)
            .await
    }

    /// Claims the name of a configured key's user, so that no admin-made
    /// user can take it. Idempotent; `UserAlreadyExists` when an admin-made
    /// user has the name already.
    pub async fn claim_configured_user(&self, name: &UserName) -> Result<UserInfo, MetadataError> {
        self.call::<(), _>(Method::PUT, &format!("/v1/configured-users/{name}"), None)
            .await
    }

    /// Every user, sorted by name.
    pub async fn list_users(&self) -> Result<Vec<UserInfo>, MetadataError> {
        let r: ListUsersResponse = self.call::<(), _>(Method::GET, "/v1/users", None).await?;
        Ok(r.users)
    }

    /// Deletes a user and revokes its keys. `NoSuchUser`, or
    /// `UserOwnsBuckets`.
    pub async fn delete_user(&self, name: &UserName) -> Result<(), MetadataError> {
        self.call_no_content::<()>(Method::DELETE, &format!("/v1/users/{name}"), None)
            .await
    }

    /// Issues a new access key (with its secret) for a user. `NoSuchUser`.
    pub async fn create_access_key(&self, user: &UserName) -> Result<AccessKey, MetadataError> {
        self.call::<(), _>(Method::POST, &format!("/v1/users/{user}/keys"), None)
            .await
    }

    /// Every access key, without secrets, sorted by id.
    pub async fn list_access_keys(&self) -> Result<Vec<AccessKeySummary>, MetadataError> {
        let r: ListAccessKeysResponse = self.call::<(), _>(Method::GET, "/v1/keys", None).await?;
        Ok(r.keys)
    }

    /// A key with its secret. `NoSuchAccessKey`.
    pub async fn get_access_key(&self, id: &AccessKeyId) -> Result<AccessKey, MetadataError> {
        self.call::<(), _>(Method::GET, &format!("/v1/keys/{id}"), None)
            .await
    }

    /// Revokes a key. `NoSuchAccessKey`.
    pub async fn delete_access_key(&self, id: &AccessKeyId) -> Result<(), MetadataError> {
        self.call_no_content::<()>(Method::DELETE, &format!("/v1/keys/{id}"), None)
            .await
    }

    /// Reports a storage node alive (and registers it on first contact),
    /// with the deletions it carried out; the reply lists more to do.
    pub async fn heartbeat(&self, hb: &NodeHeartbeat) -> Result<HeartbeatReply, MetadataError> {
        self.call(Method::POST, "/v1/nodes/heartbeat", Some(hb))
            .await
    }

    /// The operator view: nodes, redundancy of the stored data, and the
    /// garbage collector's backlog. Reads every manifest.
    pub async fn cluster_status(&self) -> Result<ClusterStatus, MetadataError> {
        self.call::<(), _>(Method::GET, "/v1/admin/status", None)
            .await
    }

    /// Hands the data of an upload that will never be committed to the
    /// garbage collector.
    pub async fn retire_data(
        &self,
        version: VersionId,
        data: &ObjectData,
    ) -> Result<(), MetadataError> {
        let body = RetireRequest {
            version,
            data: data.clone(),
        };
        self.call_no_content(Method::POST, "/v1/garbage/retire", Some(&body))
            .await
    }

    /// Reports finished repair tasks and asks for up to `want` more for
    /// `node`.
    pub async fn claim_repairs(
        &self,
        node: &NodeId,
        want: u32,
        done: Vec<RepairReport>,
    ) -> Result<Vec<RepairTask>, MetadataError> {
        let body = RepairClaim {
            node: node.clone(),
            want,
            done,
        };
        let r: RepairTasks = self
            .call(Method::POST, "/v1/repair/claim", Some(&body))
            .await?;
        Ok(r.tasks)
    }

    /// Reports shard copies found missing or corrupt on live nodes.
    pub async fn report_suspects(&self, shards: Vec<SuspectShard>) -> Result<(), MetadataError> {
        let body = SuspectsRequest { shards };
        self.call_no_content(Method::POST, "/v1/repair/suspects", Some(&body))
            .await
    }

    /// A page of the shard files `node` must hold, in hash order after
    /// `after`.
    pub async fn node_files(
        &self,
        node: &NodeId,
        after: Option<ShardHash>,
        limit: usize,
    ) -> Result<Vec<ShardHash>, MetadataError> {
        let mut path = format!("/v1/nodes/{node}/files?limit={limit}");
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        let r: NodeFilesPage = self.call::<(), _>(Method::GET, &path, None).await?;
        Ok(r.hashes)
    }

    /// Starts or stops draining a node. `NoSuchNode`.
    pub async fn set_draining(&self, node: &NodeId, draining: bool) -> Result<(), MetadataError> {
        self.call_no_content(
            Method::PUT,
            &format!("/v1/nodes/{node}/draining"),
            Some(&DrainingRequest { draining }),
        )
        .await
    }

    /// Forgets a stopped node that holds nothing data names.
    /// `NodeHoldsShards`, `NoSuchNode`.
    pub async fn remove_node(&self, node: &NodeId) -> Result<(), MetadataError> {
        self.call_no_content::<()>(Method::DELETE, &format!("/v1/nodes/{node}"), None)
            .await
    }

    /// Which replica leads repair and garbage collection, as the replica
    /// this client talks to sees it.
    pub async fn leader_status(&self) -> Result<LeaderStatus, MetadataError> {
        self.call::<(), _>(Method::GET, "/v1/admin/leader", None)
            .await
    }

    /// Every known node with its up/down state, sorted by id.
    pub async fn list_nodes(&self) -> Result<Vec<NodeStatus>, MetadataError> {
        let r: ListNodesResponse = self.call::<(), _>(Method::GET, "/v1/nodes", None).await?;
        Ok(r.nodes)
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, MetadataError> {
        let resp = self.send(method, path, body).await?;
        resp.json::<R>().await.map_err(|e| {
            if e.is_timeout() || e.is_body() {
                MetadataError::Unavailable(format!("{path}: reading the answer: {e}"))
            } else {
                MetadataError::Internal(format!("{path}: undecodable answer: {e}"))
            }
        })
    }

    async fn call_no_content<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), MetadataError> {
        self.send(method, path, body).await.map(drop)
    }

    /// Sends one request, to each replica in turn while they certainly did
    /// nothing with it; any non-2xx answer becomes the error it encodes.
    #[tracing::instrument(level = "debug", skip_all, fields(%method, path))]
    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, MetadataError> {
        let n = self.bases.len();
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut last = None;
        for step in 0..n {
            let i = (first + step) % n;
            match self
                .send_to(&self.bases[i], method.clone(), path, body)
                .await
            {
                Attempt::Answered(resp) => {
                    if step > 0 {
                        self.current.store(i, Ordering::Relaxed);
                    }
                    return Ok(resp);
                }
                Attempt::NotDone(e) => {
                    tracing::debug!(replica = %self.bases[i], error = %e, "trying the next replica");
                    last = Some(e);
                }
                Attempt::Failed(e) => {
                    // Start the next call elsewhere if this replica is sick.
                    if e.is_retryable() && n > 1 {
                        self.current.store((i + 1) % n, Ordering::Relaxed);
                    }
                    return Err(e);
                }
            }
        }
        if n > 1 {
            self.current.store((first + 1) % n, Ordering::Relaxed);
        }
        Err(last.unwrap_or_else(|| MetadataError::Unavailable(format!("{path}: no replica"))))
    }

    async fn send_to<B: Serialize>(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Attempt {
        let mut req = self
            .http
            .request(method, format!("{base}{path}"))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            // Never connected: the request reached no one.
            Err(e) if e.is_connect() => return Attempt::NotDone(transport_error(path, &e)),
            Err(e) => return Attempt::Failed(transport_error(path, &e)),
        };
        let status = resp.status();
        if status.is_success() {
            return Attempt::Answered(resp);
        }
        match error_from_response(status, resp).await {
            e @ MetadataError::NotLeader(_) => Attempt::NotDone(e),
            e => Attempt::Failed(e),
        }
    }
}

fn key_req(bucket: &BucketName, key: &str) -> ObjectKeyRequest {
    ObjectKeyRequest {
        bucket: bucket.clone(),
        key: key.to_owned(),
    }
}

fn upload_req(bucket: &BucketName, key: &str, upload_id: &UploadId) -> UploadRequest {
    UploadRequest {
        bucket: bucket.clone(),
        key: key.to_owned(),
        upload_id: *upload_id,
    }
}

/// Every failure to get an answer at all (refused, reset, timed out) is
/// `Unavailable`: the request may be retried, possibly elsewhere.
fn transport_error(path: &str, e: &reqwest::Error) -> MetadataError {
    if e.is_builder() {
        MetadataError::Internal(format!("{path}: {e}"))
    } else {
        MetadataError::Unavailable(format!("{path}: {e}"))
    }
}

async fn error_from_response(status: StatusCode, resp: reqwest::Response) -> MetadataError {
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => MetadataError::from_wire(status, Some(&body.code), body.message),
        Err(_) => {
            let mut msg = text.trim().to_owned();
            msg.truncate(200);
            MetadataError::from_wire(status, None, msg)
        }
    }
}
