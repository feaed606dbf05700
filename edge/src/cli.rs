//! The `edge` command line. One binary, every role: `serve` is the edge
//! itself; `metadata` and `storage-node` run those services (so a local
//! cluster needs only this executable); `local-cluster` starts them all.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{EdgeConfig, ServeArgs};
use crate::local_cluster::{ClusterSpec, LocalCluster};

#[derive(Debug, Parser)]
#[command(
    name = "edge",
    version,
    about = "Tessera: an erasure-coded S3 object store and its edge"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Role,
}

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Serve the S3 API.
    Serve(ServeArgs),
    /// Start a whole cluster on this machine: metadata, storage nodes and an
    /// edge, each its own process, data under one folder.
    LocalCluster(LocalClusterArgs),
    /// Run the metadata service.
    Metadata(metadata::config::Args),
    /// Run a storage node.
    StorageNode(storage_node::config::Args),
    /// Manage a running cluster: its status, users and access keys, nodes.
    Admin(crate::admin::AdminArgs),
    /// Copy all metadata from the embedded store into an empty PostgreSQL
    /// database (with the metadata service stopped).
    CopyMetadataToPostgres(metadata::copy_command::CopyArgs),
}

#[derive(Debug, Clone, Parser)]
pub struct LocalClusterArgs {
    /// Folder for all data and logs; starting again with the same folder
    /// finds the data.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Address every process binds to.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the S3 endpoint.
    #[arg(long, default_value_t = 9000)]
    pub s3_port: u16,
    /// Port of the edge's admin endpoint (/health, /metrics).
    #[arg(long, default_value_t = 9001)]
    pub admin_port: u16,
    /// Port of the metadata service.
    #[arg(long, default_value_t = 9100)]
    pub metadata_port: u16,
    /// Port of the first storage node; the others follow.
    #[arg(long, default_value_t = 9101)]
    pub first_node_port: u16,
    /// Number of storage nodes (4+2 with two spares by default).
    #[arg(long, default_value_t = 8)]
    pub nodes: usize,
    /// Data shards per stripe.
    #[arg(long, default_value_t = 4)]
    pub data_shards: u8,
    /// Parity shards per stripe.
    #[arg(long, default_value_t = 2)]
    pub parity_shards: u8,
    /// A domain for virtual-hosted-style requests (`bucket.DOMAIN`), e.g.
    /// `s3.localhost`; repeat for several.
    #[arg(long = "virtual-host-domain")]
    pub virtual_host_domains: Vec<String>,
    /// How long replaced and deleted data is kept before its shards are
    /// collected (default 1h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub gc_grace: Option<Duration>,
    /// How long a storage node may be silent before repair rebuilds what it
    /// held on the others. Shorter than a production cluster's 5m, so a
    /// drill on the local cluster heals in under a minute.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub repair_after: Duration,
    /// S3 access key of the local cluster.
    #[arg(long, env = "TESSERA_ACCESS_KEY", default_value = "tessera")]
    pub access_key: String,
    /// S3 secret key of the local cluster.
    #[arg(
        long,
        env = "TESSERA_SECRET_KEY",
        default_value = "tessera-local-secret",
        hide_env_values = true
    )]
    pub secret_key: String,
    /// PEM certificate chain for the S3 endpoint, which then speaks HTTPS
    /// (with --tls-key; README, "Trying HTTPS locally").
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// What the local cluster's edge gets beyond the cluster's own settings:
/// virtual-host domains and TLS files (absolute, as `cluster.json` and the
/// edge's restarts must not depend on the working folder).
fn local_edge_args(args: &LocalClusterArgs) -> anyhow::Result<Vec<String>> {
    let mut edge_args: Vec<String> = args
        .virtual_host_domains
        .iter()
        .flat_map(|d| ["--virtual-host-domain".to_owned(), d.clone()])
        .collect();
    for (flag, file) in [("--tls-cert", &args.tls_cert), ("--tls-key", &args.tls_key)] {
        if let Some(file) = file {
            let file = std::path::absolute(file)
                .with_context(|| format!("locating {}", file.display()))?;
            edge_args.extend([flag.to_owned(), file.display().to_string()]);
        }
    }
    Ok(edge_args)
}

/// Entry point of every binary that carries the roles.
pub fn main() -> anyhow::Result<()> {
    metadata::lifecycle::init_tracing();
    metadata::lifecycle::exit_with_parent_if_asked();
    let cli = Cli::parse();
    metadata::lifecycle::run_on_worker(async move {
        match cli.command {
            Role::Serve(args) => serve(args).await,
            Role::LocalCluster(args) => local_cluster(args).await,
            Role::Metadata(args) => metadata::run(args).await.map_err(Into::into),
            Role::StorageNode(args) => storage_node::run(args).await.map_err(Into::into),
            Role::Admin(args) => crate::admin::run(args).await,
            Role::CopyMetadataToPostgres(args) => {
                let report = metadata::copy_command::run(args).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
        }
    })
    .context("starting the async runtime")?
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    metadata::cluster_auth::warn_about_secret_flags(&["--cluster-secret", "--secret-key"]);
    let config = EdgeConfig::from_args(args).context("invalid configuration")?;
    let s3 = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the S3 endpoint {}", config.listen))?;
    let admin = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("binding the admin endpoint {}", config.admin_listen))?;
    crate::server::serve(config, s3, admin, metadata::lifecycle::shutdown_signal()).await?;
    Ok(())
}

/// The cluster secret of a local cluster: random at first start, then kept in
/// the data folder so that a restart finds the same cluster.
fn local_cluster_secret(data: &Path) -> anyhow::Result<String> {
    let path = data.join("cluster-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    let secret = hex_string(rand::random::<[u8; 24]>());
    crate::private_file::write_private(&path, secret.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// Locks `data/supervisor.lock`, or says that another local cluster runs
/// on this folder.
fn lock_data_folder(data: &Path) -> anyhow::Result<std::fs::File> {
    let path = data.join("supervisor.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another local cluster is running on {} (stop it with Ctrl-C, or pass another --data and other ports)",
            data.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Fails at once, naming every port already taken, rather than starting
/// processes that would each fail to bind (and wait for them).
fn check_ports_free(ports: &[(&str, SocketAddr)]) -> anyhow::Result<()> {
    let busy: Vec<String> = ports
        .iter()
        .filter_map(|(role, addr)| {
            let e = std::net::TcpListener::bind(addr).err()?;
            Some(format!("the {role} port {addr} ({e})"))
        })
        .collect();
    let what = match busy.as_slice() {
        [] => return Ok(()),
        [one] => format!("{one} is not free"),
        many => format!("{} ports are not free: {}", many.len(), many.join(", ")),
    };
    anyhow::bail!(
        "{what}; is another cluster running? Choose other ports with --metadata-port, \
         --first-node-port, --s3-port and --admin-port"
    )
}

fn hex_string(bytes: [u8; 24]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn local_cluster(args: LocalClusterArgs) -> anyhow::Result<()> {
    let addr = |port: u16| SocketAddr::new(args.host, port);
    let node_addrs = (0..args.nodes)
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| args.first_node_port.checked_add(i))
                .map(addr)
                .context("storage node ports run past 65535")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (metadata_addr, s3_addr, admin_addr) = (
        addr(args.metadata_port),
        addr(args.s3_port),
        addr(args.admin_port),
    );
    let mut ports = vec![
        ("metadata", metadata_addr),
        ("S3", s3_addr),
        ("admin", admin_addr),
    ];
    ports.extend(node_addrs.iter().map(|a| ("storage node", *a)));
    // The lock is held until the process ends (the system drops it then,
    // even on kill -9): a second supervisor on this folder would overwrite
    // its cluster.json and fight over its files. An existing folder is
    // locked before the ports are checked, so that a second start on it
    // names the real cause; a new folder is made only once the ports are
    // known to be free, so that a refused start leaves nothing behind.
    let existing_lock = match args.data.canonicalize() {
        Ok(data) => Some(lock_data_folder(&data)?),
        Err(_) => None,
    };
    check_ports_free(&ports)?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let data = args.data.canonicalize()?;
    let _lock = match existing_lock {
        Some(lock) => lock,
        None => lock_data_folder(&data)?,
    };
    let spec = ClusterSpec {
        program: std::env::current_exe().context("locating this executable")?,
        cluster_secret: local_cluster_secret(&data)?,
        data_dir: data.clone(),
        metadata_addr,
        node_addrs,
        s3_addr,
        admin_addr,
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        data_shards: args.data_shards,
        parity_shards: args.parity_shards,
        heartbeat_timeout: Duration::from_secs(5),
        gc_grace: args.gc_grace,
        edge_args: local_edge_args(&args)?,
        metadata_args: vec![
            "--repair-after".to_owned(),
            humantime::format_duration(args.repair_after).to_string(),
        ],
        node_args: Vec::new(),
        metadata_replicas: Vec::new(),
    };
    println!("Starting a local cluster in {} ...", data.display());
    let started_on_terminal = has_controlling_terminal();
    let mut cluster = LocalCluster::start(spec)
        .await
        .context("starting the local cluster")?;
    cluster
        .set_supervisor(std::process::id())
        .context("writing cluster.json")?;

    let endpoint = cluster.s3_endpoint();
    println!();
    println!(
        "Tessera local cluster is running ({}+{} erasure code).",
        args.data_shards, args.parity_shards
    );
    println!();
    println!("  S3 endpoint  {endpoint}");
    println!("  access key   {}", args.access_key);
    println!("  secret key   {}", args.secret_key);
    println!("  region       us-east-1");
    println!("  data         {}", data.display());
    println!("  logs         {}", data.join("logs").display());
    println!("  processes    {}", cluster.cluster_file_path().display());
    println!();
    println!("  {:<10} {:>8}  address", "process", "pid");
    println!(
        "  {:<10} {:>8}  (this supervisor: SIGINT or SIGTERM stops all, SIGHUP restarts exited ones)",
        "cluster",
        std::process::id()
    );
    for (role, pid, address) in cluster.processes() {
        let pid = pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
        println!("  {role:<10} {pid:>8}  {address}");
    }
    println!();
    println!("Use it:");
    println!(
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_ENDPOINT_URL={endpoint} AWS_REGION=us-east-1",
        args.access_key, args.secret_key
    );
    if let Some(cert) = &args.tls_cert {
        // Clients refuse a self-signed certificate unless told to trust it;
        // aws-cli and boto3 read this variable (curl wants --cacert).
        let cert = std::path::absolute(cert).unwrap_or_else(|_| cert.clone());
        println!(
            "  export AWS_CA_BUNDLE={}   # if the certificate is self-signed",
            cert.display()
        );
    }
    println!(
        "  aws s3 mb s3://media && aws s3 cp ./video.mp4 s3://media/ && aws s3 ls s3://media/"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    let shutdown = metadata::lifecycle::shutdown_signal();
    tokio::pin!(shutdown);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = hangup.recv() => {
                if started_on_terminal && !has_controlling_terminal() {
                    // The terminal was closed: stop as SIGHUP always did,
                    // quietly (nothing can be printed to a hung-up terminal).
                    cluster.stop().await;
                    return Ok(());
                }
                for (role, status) in cluster.reap_exited() {
                    println!("{role} exited ({status})");
                }
                match cluster.restart_exited().await {
                    Ok(started) if started.is_empty() => {
                        println!("SIGHUP: every process is running; nothing to restart");
                    }
                    Ok(started) => println!("SIGHUP: restarted {}", started.join(", ")),
                    Err(e) => println!("SIGHUP: restarting failed: {e}"),
                }
            }
            _ = tick.tick() => {
                for (role, status) in cluster.reap_exited() {
                    println!(
                        "{role} exited ({status}); the rest of the cluster keeps running \
                         (SIGHUP to pid {} restarts it)",
                        std::process::id()
                    );
                }
            }
        }
    }
    println!("Stopping ...");
    cluster.stop().await;
    println!("Stopped. Start again with the same --data to find your objects.");
    Ok(())
}

/// Whether this process still has a controlling terminal. SIGHUP means
/// "restart what exited" to the supervisor, but the kernel also sends it when
/// the terminal closes; a supervisor that has lost its terminal is being hung
/// up on and stops, as it did before SIGHUP meant anything else.
fn has_controlling_terminal() -> bool {
    std::fs::File::open("/dev/tty").is_ok()
}
