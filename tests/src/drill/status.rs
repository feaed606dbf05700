//! The cluster as the metadata service reports it (`GET /v1/admin/status`),
//! read loosely. The drill must outlive changes to that report (a repair
//! section is being added, the redundancy report grows), so it takes the
//! JSON as a value and picks out only what it needs, with defaults for
//! anything absent, rather than the service's own typed struct (which would
//! drop fields it does not know yet, such as `repair`).

use std::collections::BTreeMap;
use std::time::Duration;

use metadata::cluster_auth::ClusterSecret;
use metadata::ids::NodeId;
use serde_json::Value;

/// What the drill needs of one status report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusView {
    /// Node id -> state (`up`, `down`, or whatever a later version adds).
    pub nodes: BTreeMap<String, String>,
    pub stripes: u64,
    /// Stripes missing shards but readable, whatever the number missing.
    pub degraded_stripes: u64,
    pub degraded_bytes: u64,
    pub unreadable_stripes: u64,
    pub unreadable_bytes: u64,
    /// `repair.rebuilt_bytes`, where the cluster reports repair progress.
    pub rebuilt_bytes: Option<u64>,
}

impl StatusView {
    pub fn from_json(v: &Value) -> Self {
        let mut view = StatusView::default();
        for node in v["nodes"].as_array().into_iter().flatten() {
            // The node's id is its heartbeat's, flattened into the entry.
            let Some(id) = node["id"].as_str() else {
                continue;
            };
            let state = node["state"].as_str().unwrap_or("unknown");
            view.nodes.insert(id.to_owned(), state.to_owned());
        }
        let r = &v["redundancy"];
        view.stripes = r["stripes"].as_u64().unwrap_or(0);
        view.degraded_stripes = count(&r["degraded"]);
        view.degraded_bytes = r["degraded_bytes"].as_u64().unwrap_or(0);
        view.unreadable_stripes = count(&r["unreadable"]);
        view.unreadable_bytes = r["unreadable_bytes"].as_u64().unwrap_or(0);
        view.rebuilt_bytes = v["repair"]["rebuilt_bytes"].as_u64();
        view
    }

    /// Every stripe has all its shards on up nodes.
    pub fn fully_redundant(&self) -> bool {
        self.degraded_stripes == 0 && self.unreadable_stripes == 0
    }

    pub fn state(&self, node: &NodeId) -> Option<&str> {
        self.nodes.get(node.as_str()).map(String::as_str)
    }

    pub fn all_down(&self, nodes: &[NodeId]) -> bool {
        nodes.iter().all(|n| self.state(n) == Some("down"))
    }

    pub fn all_up(&self, nodes: &[NodeId]) -> bool {
        nodes.iter().all(|n| self.state(n) == Some("up"))
    }

    /// Whether the report knows this node at all.
    pub fn knows(&self, node: &NodeId) -> bool {
        self.state(node).is_some()
    }
}

/// A stripe count that is either a number or a map of counts (degraded
/// stripes are reported by how many shards they miss: `{"1": 3, "2": 1}`).
fn count(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::Object(map) => map.values().filter_map(Value::as_u64).sum(),
        _ => 0,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("metadata url {0:?}: expected http://host:port")]
    Url(String),
    #[error("asking {url} for the cluster status: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Refused {
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
}

impl StatusError {
    /// A wrong secret or URL will not fix itself; a busy or restarting
    /// metadata service will.
    pub fn is_permanent(&self) -> bool {
        match self {
            StatusError::Url(_) => true,
            StatusError::Transport { .. } => false,
            StatusError::Refused { status, .. } => status.is_client_error(),
        }
    }
}

/// Fetches the status report with the cluster secret.
#[derive(Debug, Clone)]
pub struct StatusClient {
    http: reqwest::Client,
    url: String,
    secret: ClusterSecret,
}

impl StatusClient {
    pub fn new(metadata_url: &str, secret: ClusterSecret) -> Result<Self, StatusError> {
        let base = metadata_url.trim_end_matches('/');
        if !base.starts_with("http://") {
            return Err(StatusError::Url(metadata_url.to_owned()));
        }
        let url = format!("{base}/v1/admin/status");
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // The report reads every manifest; a large cluster takes a while.
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(|source| StatusError::Transport {
                url: url.clone(),
                source,
            })?;
        Ok(StatusClient { http, url, secret })
    }

    pub async fn fetch(&self) -> Result<StatusView, StatusError> {
        let transport = |source| StatusError::Transport {
            url: self.url.clone(),
            source,
        };
        let resp = self
            .http
            .get(&self.url)
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            let mut body = resp.text().await.unwrap_or_default().trim().to_owned();
            body.truncate(200);
            return Err(StatusError::Refused {
                url: self.url.clone(),
                status,
                body,
            });
        }
        let value: Value = resp.json().await.map_err(transport)?;
        Ok(StatusView::from_json(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report_of_today() {
        let v: Value = serde_json::from_str(
            r#"{"nodes":[
                {"id":"node-1","addr":"127.0.0.1:9101","capacity_bytes":1,"used_bytes":0,
                 "shard_count":0,"state":"up","last_heartbeat_unix_ms":1},
                {"id":"node-2","addr":"127.0.0.1:9102","capacity_bytes":1,"used_bytes":0,
                 "shard_count":0,"state":"down","last_heartbeat_unix_ms":1}],
              "redundancy":{"stripes":10,"bytes":100,"full":6,"degraded":{"1":3,"2":1},
                 "degraded_bytes":40,"unreadable":0,"unreadable_bytes":0},
              "garbage_versions":0,"pending_deletions":0}"#,
        )
        .unwrap();
        let s = StatusView::from_json(&v);
        assert_eq!(s.degraded_stripes, 4);
        assert_eq!(s.degraded_bytes, 40);
        assert!(!s.fully_redundant());
        let n1: NodeId = "node-1".parse().unwrap();
        let n2: NodeId = "node-2".parse().unwrap();
        assert!(s.all_up(std::slice::from_ref(&n1)));
        assert!(s.all_down(std::slice::from_ref(&n2)));
        assert!(!s.all_down(&[n1, n2.clone()]));
        assert!(s.knows(&n2));
        assert!(!s.knows(&"node-9".parse().unwrap()));
        assert_eq!(s.rebuilt_bytes, None);
    }

    #[test]
    fn tolerates_new_and_missing_fields() {
        let v: Value = serde_json::from_str(
            r#"{"nodes":[{"id":"node-1","state":"draining"}],
                "redundancy":{"stripes":2,"degraded":{},"unreadable":0,"misplaced":5},
                "repair":{"queued":0,"rebuilt_bytes":4096,"rate":"fast"}}"#,
        )
        .unwrap();
        let s = StatusView::from_json(&v);
        assert!(s.fully_redundant());
        assert_eq!(s.rebuilt_bytes, Some(4096));
        // A state it does not know is neither up nor down.
        let n1: NodeId = "node-1".parse().unwrap();
        assert!(s.knows(&n1));
        assert!(!s.all_up(std::slice::from_ref(&n1)));
        assert!(!s.all_down(std::slice::from_ref(&n1)));
        assert_eq!(StatusView::from_json(&Value::Null), StatusView::default());
    }
}
