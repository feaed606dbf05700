//! `edge admin`: users and access keys, managed on a running cluster. It
//! talks to the metadata service with the cluster secret; edges pick up a
//! new key at its first use and stop accepting a revoked one within
//! seconds, with no restart.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use metadata::client::MetadataClient;
use metadata::cluster_auth::ClusterSecret;
use metadata::error::MetadataError;
use metadata::ids::{AccessKeyId, NodeId, UserName};
use metadata::model::AccessKey;

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Base URL of the metadata service.
    #[arg(
        long,
        global = true,
        env = "TESSERA_METADATA_URL",
        default_value = "http://127.0.0.1:9100"
    )]
    pub metadata_url: String,
    /// The cluster secret.
    #[arg(
        long,
        global = true,
        env = "TESSERA_CLUSTER_SECRET",
        hide_env_values = true
    )]
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret (default: the local cluster's,
    /// `./data/cluster-secret`).
    #[arg(long, global = true)]
    pub cluster_secret_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// The cluster at a glance: nodes, redundancy of the stored data, and
    /// the garbage collector's backlog (reads every manifest).
    Status,
    /// Users: who owns buckets.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys: how users sign requests.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Storage nodes: drain one before taking it out, then remove it.
    #[command(subcommand)]
    Node(NodeCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum NodeCommand {
    /// Start emptying a node: it takes no new shards, and repair moves
    /// every shard it holds to other nodes. `status` shows what is left.
    Drain { node: NodeId },
    /// Stop draining a node: it takes new shards again.
    Undrain { node: NodeId },
    /// Forget a stopped node that no data names any more.
    Remove { node: NodeId },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a user and its first access key.
    Create {
        name: UserName,
        /// Create the user without a key.
        #[arg(long)]
        no_key: bool,
    },
    /// List users.
    List,
    /// Delete a user that owns no bucket, revoking all its keys.
    Delete { name: UserName },
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeyCommand {
    /// Issue another access key for a user (to rotate keys without downtime).
    Create { user: UserName },
    /// List access keys (never their secrets).
    List {
        /// Only this user's keys.
        #[arg(long)]
        user: Option<UserName>,
    },
    /// Revoke an access key: requests it signs are refused within seconds.
    Revoke { access_key: AccessKeyId },
}

/// Appends a line to the command's output (a `String`, which cannot fail).
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The local cluster keeps its secret here (see `local-cluster --data`).
const LOCAL_SECRET_FILE: &str = "./data/cluster-secret";

/// Runs the command, then prints what it has to say in one write: a reader
/// that stops early (`edge admin key list | head -1`) ends the command
/// quietly, as it would any Unix tool, instead of a broken-pipe panic.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let mut out = String::new();
    let url = args.metadata_url.clone();
    execute(args, &mut out).await.map_err(|e| {
        // Unreachable is almost always the wrong address or a stopped
        // cluster: say where it looked.
        match e.downcast_ref::<MetadataError>() {
            Some(MetadataError::Unavailable(_)) => e.context(format!(
                "no metadata service answered at {url}: is the cluster running? \
                 (--metadata-url chooses another)"
            )),
            _ => e,
        }
    })?;
    emit(&out)
}

/// Writes `out` to standard output; a closed pipe is not an error.
fn emit(out: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

async fn execute(args: AdminArgs, out: &mut String) -> anyhow::Result<()> {
    let secret = match (&args.cluster_secret, &args.cluster_secret_file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) => read_secret(f)?,
        (None, None) => read_secret(&PathBuf::from(LOCAL_SECRET_FILE)).context(
            "no cluster secret: pass --cluster-secret-file or set TESSERA_CLUSTER_SECRET",
        )?,
    };
    let secret = ClusterSecret::new(secret).context("invalid cluster secret")?;
    let meta = MetadataClient::new(&args.metadata_url, secret)?;
    let json = args.json;
    match args.command {
        AdminCommand::Status => {
            let status = meta.cluster_status().await?;
            if json {
                print_json(out, &status)?;
            } else {
                print_status(out, &status);
            }
        }
        AdminCommand::User(UserCommand::Create { name, no_key }) => {
            let user = meta.create_user(&name).await.map_err(|e| match e {
                MetadataError::UserAlreadyExists => anyhow::anyhow!(
                    "a user named {name} exists already, or owns buckets as the user of a key in \
                     the edges' configuration; choose another name"
                ),
                e => e.into(),
            })?;
            let key = if no_key {
                None
            } else {
                Some(meta.create_access_key(&name).await?)
            };
            if json {
                print_json(out, &serde_json::json!({ "user": user, "key": key }))?;
            } else {
                outln!(out, "created user {}", user.name);
                if let Some(key) = &key {
                    print_key(out, key);
                }
            }
        }
        AdminCommand::User(UserCommand::List) => {
            let users = meta.list_users().await?;
            if json {
                print_json(out, &users)?;
            } else {
                let rows: Vec<[String; 3]> = users
                    .iter()
                    .map(|u| {
                        let made_by = if u.configured { "edge config" } else { "admin" };
                        [
                            u.name.to_string(),
                            made_by.to_owned(),
                            timestamp(u.created_unix_ms),
                        ]
                    })
                    .collect();
                table(out, &["user", "made by", "created"], &rows, 3);
            }
        }
        AdminCommand::User(UserCommand::Delete { name }) => {
            let configured = meta
                .list_users()
                .await?
                .into_iter()
                .any(|u| u.name == name && u.configured);
            match meta.delete_user(&name).await {
                Err(MetadataError::UserOwnsBuckets) => {
                    return Err(owns_buckets_error(&meta, &name).await);
                }
                r => r?,
            }
            if json {
                print_json(out, &serde_json::json!({ "deleted": name }))?;
            } else {
                outln!(out, "deleted user {name} and revoked its keys");
                if configured {
                    outln!(
                        out,
                        "{name} is the user of keys in an edge's configuration: an edge that \
                         still has them claims the name again when it starts"
                    );
                }
            }
        }
        AdminCommand::Key(KeyCommand::Create { user }) => {
            let key = meta.create_access_key(&user).await?;
            if json {
                print_json(out, &key)?;
            } else {
                print_key(out, &key);
            }
        }
        AdminCommand::Key(KeyCommand::List { user }) => {
            if let Some(user) = &user {
                // An empty list must mean "no keys", not "no such user".
                if !meta.list_users().await?.iter().any(|u| u.name == *user) {
                    anyhow::bail!("no user named {user}");
                }
            }
            let keys: Vec<_> = meta
                .list_access_keys()
                .await?
                .into_iter()
                .filter(|k| user.as_ref().is_none_or(|u| k.user == *u))
                .collect();
            if json {
                print_json(out, &keys)?;
            } else {
                outln!(out, "{:<24} {:<32} created", "access key", "user");
                for k in keys {
                    outln!(
                        out,
                        "{:<24} {:<32} {}",
                        k.access_key,
                        k.user,
                        timestamp(k.created_unix_ms)
                    );
                }
            }
        }
        AdminCommand::Node(cmd) => {
            let (node, done) = match cmd {
                NodeCommand::Drain { node } => {
                    meta.set_draining(&node, true).await?;
                    (node, "draining: repair is moving its shards to other nodes")
                }
                NodeCommand::Undrain { node } => {
                    meta.set_draining(&node, false).await?;
                    (node, "no longer draining")
                }
                NodeCommand::Remove { node } => {
                    meta.remove_node(&node).await?;
                    (node, "removed from the cluster")
                }
            };
            if json {
                print_json(out, &serde_json::json!({ "node": node, "result": done }))?;
            } else {
                outln!(out, "{node}: {done}");
            }
        }
        AdminCommand::Key(KeyCommand::Revoke { access_key }) => {
            meta.delete_access_key(&access_key).await?;
            if json {
                print_json(out, &serde_json::json!({ "revoked": access_key }))?;
            } else {
                outln!(out, "revoked {access_key}");
            }
        }
    }
    Ok(())
}

fn read_secret(path: &PathBuf) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim().to_owned())
}

/// Why a user cannot be deleted, naming the buckets in the way so that the
/// operator knows what to empty or hand over (the store only says "owns
/// buckets", which leaves them to go and look).
async fn owns_buckets_error(meta: &MetadataClient, name: &UserName) -> anyhow::Error {
    let owned: Vec<String> = match meta.list_buckets().await {
        Ok(buckets) => buckets
            .into_iter()
            .filter(|b| b.owner == name.as_str())
            .map(|b| b.name.to_string())
            .collect(),
        Err(_) => Vec::new(),
    };
    if owned.is_empty() {
        return anyhow::anyhow!("user {name} still owns buckets; empty and delete them first");
    }
    let shown = owned
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = match owned.len() {
        n if n > 10 => format!(" and {} more", n - 10),
        _ => String::new(),
    };
    anyhow::anyhow!("user {name} still owns buckets: {shown}{more}; empty and delete them first")
}

fn print_key(out: &mut String, key: &AccessKey) {
    outln!(out, "user        {}", key.user);
    outln!(out, "access key  {}", key.access_key);
    outln!(out, "secret key  {}", key.secret_key);
    outln!(out, "(the secret is shown only now; keep it safe)");
}

fn print_status(out: &mut String, status: &metadata::wire::ClusterStatus) {
    use metadata::byte_size::ByteSize;
    let header = [
        "node",
        "state",
        "address",
        "capacity",
        "used",
        "files",
        "in use",
        "read/write ms",
        "scrub",
    ];
    let mut rows = Vec::new();
    for n in &status.nodes {
        let hb = &n.heartbeat;
        let state = match (n.is_up(), n.draining) {
            (true, false) => "up",
            (true, true) => "draining",
            (false, false) => "down",
            (false, true) => "down,drn",
        };
        let latency = hb.latency.map_or_else(
            || "-".to_owned(),
            |l| format!("{:.1}/{:.1}", l.read_ms, l.write_ms),
        );
        let scrub = hb.scrub.as_ref().map_or_else(
            || "-".to_owned(),
            |p| {
                // Between passes the counts are the finished pass's.
                let between = p
                    .last_pass_finished_unix_ms
                    .is_some_and(|done| done >= p.pass_started_unix_ms);
                if between {
                    format!("pass {} done", p.passes)
                } else {
                    format!(
                        "{}/{} pass {}",
                        p.shards_checked,
                        p.shards_total,
                        p.passes + 1
                    )
                }
            },
        );
        rows.push([
            hb.id.as_str().to_owned(),
            state.to_owned(),
            hb.addr.clone(),
            ByteSize(hb.capacity_bytes).human(),
            ByteSize(hb.used_bytes).human(),
            hb.shard_count.to_string(),
            status
                .node_files
                .get(&hb.id)
                .copied()
                .unwrap_or(0)
                .to_string(),
            latency,
            scrub,
        ]);
    }
    // Names, states and addresses read left to right; numbers line up right.
    table(out, &header, &rows, 3);
    // The columns a first reader cannot guess, said once under the table.
    for legend in [
        "files: shard files held; in use: files that stored data names (0 once a drain is done)",
        "read/write ms: the node's moving average per shard (disk and hashing)",
        "scrub: shards checked/total in the pass under way; capacity: the node's disk \
         (nodes sharing a disk each report all of it)",
    ] {
        outln!(out, "{legend}");
    }
    let r = &status.redundancy;
    outln!(out);
    outln!(
        out,
        "stripes      {} ({})",
        r.stripes,
        ByteSize(r.bytes).human()
    );
    outln!(out, "  full       {}", r.full);
    if r.degraded.is_empty() {
        outln!(out, "  degraded   0");
    }
    for (missing, count) in &r.degraded {
        outln!(out, "  degraded   {count} missing {missing} shard(s)");
    }
    outln!(
        out,
        "  unreadable {} ({})",
        r.unreadable,
        ByteSize(r.unreadable_bytes).human()
    );
    outln!(
        out,
        "redundancy debt  {} in degraded stripes",
        ByteSize(r.degraded_bytes).human()
    );
    let p = &status.repair;
    outln!(
        out,
        "repair           {} queued, {} in flight; rebuilt {} shards ({}) at {}/s over the last minute, {} already held, {} failed",
        p.queued,
        p.in_flight,
        p.rebuilt_shards,
        ByteSize(p.rebuilt_bytes).human(),
        ByteSize(p.rate_bytes_per_sec as u64).human(),
        p.held_shards,
        p.failed_tasks
    );
    if let Some(walk) = &p.last_walk {
        let d = &walk.deferred;
        if d.waiting_shards > 0 {
            outln!(
                out,
                "                 {} shards wait for their node to return (repair starts {} s after a node goes silent)",
                d.waiting_shards,
                p.repair_after_ms / 1000
            );
        }
        if d.no_spare_shards > 0 {
            outln!(
                out,
                "                 {} shards have no spare node to go to: the debt stays until a node returns or is added",
                d.no_spare_shards
            );
        }
    }
    let b = &p.rebalance;
    if b.max_in_flight == 0 {
        outln!(
            out,
            "rebalance        off; {} shards are off their preferred node",
            b.remaining_shards
        );
    } else {
        outln!(
            out,
            "rebalance        {} queued, {} in flight (at most {}); moved {} shards ({}); {} shards ({}) still to move, {} waiting for their node",
            b.queued,
            b.in_flight,
            b.max_in_flight,
            b.moved_shards,
            ByteSize(b.moved_bytes).human(),
            b.remaining_shards,
            ByteSize(b.remaining_bytes).human(),
            b.blocked_shards
        );
    }
    match p.verified_full_unix_ms {
        Some(at) => outln!(out, "verified full    {}", timestamp(at)),
        None => outln!(
            out,
            "verified full    not since the metadata service started"
        ),
    }
    outln!(
        out,
        "garbage          {} versions in grace, {} shard files to delete",
        status.garbage_versions,
        status.pending_deletions
    );
}

/// Writes `rows` under `header`, each column as wide as its widest cell;
/// the first `left` columns aligned left, the others right.
fn table<const N: usize>(out: &mut String, header: &[&str; N], rows: &[[String; N]], left: usize) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; N]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            if i < left {
                text.push_str(&format!("{cell:<w$}"));
            } else {
                text.push_str(&format!("{cell:>w$}"));
            }
        }
        outln!(out, "{}", text.trim_end());
    };
    line(*header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
}

fn print_json<T: serde::Serialize>(out: &mut String, value: &T) -> anyhow::Result<()> {
    outln!(out, "{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn timestamp(unix_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn columns_fit_their_widest_cell() {
        let rows = [
            [
                "node-1".to_owned(),
                "127.0.0.1:9101".to_owned(),
                "252.0 GiB".to_owned(),
            ],
            [
                "a-node-id-much-longer-than-the-header".to_owned(),
                "[2001:db8::1]:9101".to_owned(),
                "3.5 MiB".to_owned(),
            ],
        ];
        let mut out = String::new();
        table(&mut out, &["node", "address", "capacity"], &rows, 2);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "node                                   address              capacity",
                "node-1                                 127.0.0.1:9101      252.0 GiB",
                "a-node-id-much-longer-than-the-header  [2001:db8::1]:9101    3.5 MiB",
            ]
        );
    }
}
