//! A real cluster per test: the product's executable started as separate
//! processes on loopback ports, data in a temp folder, everything killed when
//! the test ends (and by the processes themselves if the test binary dies).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use edge::local_cluster::{ClusterSpec, LocalCluster};
use metadata::client::MetadataClient;
use metadata::cluster_auth::ClusterSecret;

pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret-key-0123";
pub const CLUSTER_SECRET: &str = "test-cluster-secret-0123456789";

pub struct TestCluster {
    pub cluster: LocalCluster,
    pub s3: aws_sdk_s3::Client,
    _dir: tempfile::TempDir,
}

/// Ports the harness hands out: below Linux's ephemeral range (32768 and
/// up), so the many outgoing connections of a test run never take one between
/// the harness choosing it and the child process binding it.
const PORTS: std::ops::Range<u32> = 20_000..32_000;

/// A port nothing listens on right now, never handed out twice by this
/// process (tests run in parallel threads).
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = PORTS.end - PORTS.start;
    // Different test processes start at different places in the range.
    let base = std::process::id().wrapping_mul(7919) % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PORTS.start + (base + n) % span;
        let addr = SocketAddr::from(([127, 0, 0, 1], u16::try_from(port).expect("port")));
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}

pub struct Options {
    pub nodes: usize,
    pub edge_args: Vec<String>,
    pub heartbeat_timeout: Duration,
    pub gc_grace: Option<Duration>,
    pub metadata_args: Vec<String>,
    pub node_args: Vec<String>,
    /// Further metadata replicas the test started (on PostgreSQL).
    pub metadata_replicas: Vec<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 8,
            edge_args: Vec::new(),
            heartbeat_timeout: Duration::from_secs(3),
            gc_grace: None,
            metadata_args: Vec::new(),
            node_args: Vec::new(),
            metadata_replicas: Vec::new(),
        }
    }
}

impl Options {
    /// Repair that starts two seconds after a node goes silent, and walks
    /// every second: drills that finish in seconds.
    pub fn quick_repair() -> Self {
        Options {
            heartbeat_timeout: Duration::from_secs(2),
            metadata_args: ["--repair-after", "2s", "--repair-scan-every", "1s"]
                .map(String::from)
                .to_vec(),
            ..Options::default()
        }
    }
}

impl TestCluster {
    /// The edge's resident memory, in bytes.
    pub fn edge_rss(&self) -> u64 {
        let pid = self.edge_pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    /// The edge's process id, for signals and for reading its memory.
    pub fn edge_pid(&self) -> u32 {
        self.cluster
            .processes()
            .into_iter()
            .find(|(role, _, _)| role == "edge")
            .and_then(|(_, pid, _)| pid)
            .expect("the edge runs")
    }

    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Self {
        // A start can still lose a port to another process; try fresh ones.
        let mut last = String::new();
        for attempt in 1..=3 {
            match Self::try_start(&opts).await {
                Ok(t) => return t,
                Err(e) => {
                    eprintln!("cluster start attempt {attempt} failed: {e}");
                    last = e;
                }
            }
        }
        panic!("cluster did not start: {last}");
    }

    async fn try_start(opts: &Options) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = ClusterSpec {
            program: PathBuf::from(env!("CARGO_BIN_EXE_tessera")),
            data_dir: dir.path().to_owned(),
            metadata_addr: free_addr(),
            node_addrs: (0..opts.nodes).map(|_| free_addr()).collect(),
            s3_addr: free_addr(),
            admin_addr: free_addr(),
            cluster_secret: CLUSTER_SECRET.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            data_shards: 4,
            parity_shards: 2,
            heartbeat_timeout: opts.heartbeat_timeout,
            gc_grace: opts.gc_grace,
            edge_args: opts.edge_args.clone(),
            metadata_args: opts.metadata_args.clone(),
            node_args: opts.node_args.clone(),
            metadata_replicas: opts.metadata_replicas.clone(),
        };
        let cluster = match LocalCluster::start(spec).await {
            Ok(c) => c,
            Err(err) => {
                dump_logs(dir.path());
                return Err(err.to_string());
            }
        };
        let s3 = tests::s3_client(&cluster.s3_endpoint(), ACCESS_KEY, SECRET_KEY);
        Ok(TestCluster {
            cluster,
            s3,
            _dir: dir,
        })
    }

    pub fn client_with(&self, access: &str, secret: &str) -> aws_sdk_s3::Client {
        tests::s3_client(&self.cluster.s3_endpoint(), access, secret)
    }

    /// A client of every metadata replica, failing over between them.
    pub fn metadata(&self) -> MetadataClient {
        MetadataClient::new(
            &self.cluster.spec().metadata_url(),
            ClusterSecret::new(CLUSTER_SECRET).expect("secret"),
        )
        .expect("metadata client")
    }

    /// Where a shard of a manifest lies on its node's disk (nodes are
    /// named `node-1`, `node-2`, ... by the local cluster).
    pub fn shard_file(&self, shard: &metadata::model::ShardRef) -> PathBuf {
        let i: usize = shard
            .node
            .as_str()
            .trim_start_matches("node-")
            .parse()
            .expect("a local cluster node id");
        storage_node::shard_store::shard_path(&self.cluster.node_data_dir(i - 1), &shard.hash)
    }

    /// Runs `tessera admin --json ARGS` against this cluster; returns whether
    /// it succeeded and what it printed (stdout, or stderr on failure).
    pub async fn admin(&self, args: &[&str]) -> (bool, String) {
        let out = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
                .arg("admin")
                .arg("--metadata-url")
                .arg(self.cluster.spec().metadata_url())
                .arg("--json")
                .args(args)
                .env("TESSERA_CLUSTER_SECRET", CLUSTER_SECRET)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("admin command timed out")
        .expect("admin command runs");
        let text = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        (out.status.success(), text)
    }

    /// Starts one more storage node; returns its index.
    pub fn add_node(&mut self) -> usize {
        self.cluster.add_node(free_addr()).expect("start a node")
    }

    /// Waits until metadata sees exactly `n` nodes up (after kills).
    pub async fn wait_up_count(&self, n: usize) {
        let meta = self.metadata();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(list) = meta.list_nodes().await
                && list.iter().filter(|s| s.is_up()).count() == n
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nodes never reached {n} up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn dump_logs(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir.join("logs")) {
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                let tail: String = text.lines().rev().take(20).collect::<Vec<_>>().join("\n");
                eprintln!("--- {} (last lines, reversed)\n{tail}", e.path().display());
            }
        }
    }
}

/// Uploads `data` with the SDK at its defaults.
pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, data: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key} ({} bytes): {e:?}", data.len()));
}

/// Downloads an object (or a range of it) whole.
pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, range: Option<&str>) -> Vec<u8> {
    let mut req = s3.get_object().bucket(bucket).key(key);
    if let Some(r) = range {
        req = req.range(r);
    }
    let out = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key} {range:?}: {e:?}"));
    out.body
        .collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

/// Creates `bucket` and writes `n` objects of the shapes failures hit
/// differently: inline, one stripe and a bit, whole stripes, and several
/// stripes with a short last one.
pub async fn write_dataset(t: &TestCluster, bucket: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    t.s3.create_bucket().bucket(bucket).send().await.unwrap();
    let mut objects = Vec::new();
    for i in 0..n {
        let size = match i % 4 {
            0 => 100,
            1 => (1 << 20) + 17,
            2 => 4 << 20,
            _ => (9 << 20) + 3,
        };
        let key = format!("obj-{i}");
        let data = tests::pattern(size, 100 + i as u64);
        put(&t.s3, bucket, &key, &data).await;
        objects.push((key, data));
    }
    objects
}
