//! Failure drill: writes a verified dataset, measures reads and writes,
//! kills or freezes storage nodes while traffic goes on, times how long the
//! cluster takes to notice and to get back to full redundancy, and finally
//! reads back every acknowledged object byte for byte. Exits 0 only when
//! nothing was lost, no wrong byte was served and redundancy came back.
//!
//! ```text
//! cargo run --release -p edge -- local-cluster --data ./data      # elsewhere
//! cargo run --release -p tests --bin drill -- \
//!     --cluster ./data/cluster.json --freeze node-2 --freeze-for 30s
//! ```
//!
//! Against a cluster the local-cluster command did not start, faults are
//! delivered by the operator's commands (`--fault-command`,
//! `--heal-command`), e.g. `--fault-command 'ssh {node} systemctl {action}-tessera'`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use edge::cluster_file::ClusterFile;
use futures::StreamExt;
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::NodeId;

use tests::drill::fault::{Action, FaultDriver};
use tests::drill::ledger::Ledger;
use tests::drill::report::{
    FaultPlan, PhaseReport, RepairReport, Report, RestartReport, VerificationReport,
};
use tests::drill::status::{StatusClient, StatusView};
use tests::drill::traffic::{ObjectWriter, Phase, Traffic, TrafficConfig};
use tests::drill::verify::verify_all;

#[derive(Debug, Parser)]
#[command(
    name = "drill",
    about = "Failure drill: break storage nodes under load, watch the cluster heal, check every acknowledged byte"
)]
struct Args {
    #[command(flatten)]
    target: tests::Endpoint,
    /// A local cluster's `<data>/cluster.json`: endpoint, metadata URL,
    /// cluster secret and the pids to signal. Explicit flags override it.
    #[arg(long)]
    cluster: Option<PathBuf>,
    /// Base URL of the metadata service (default: from --cluster, else
    /// http://127.0.0.1:9100).
    #[arg(long, env = "TESSERA_METADATA_URL")]
    metadata_url: Option<String>,
    /// The cluster secret.
    #[arg(long, env = "TESSERA_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// File holding the cluster secret (default: from --cluster, else
    /// ./data/cluster-secret).
    #[arg(long)]
    cluster_secret_file: Option<PathBuf>,
    /// Bucket to write to (created if missing).
    #[arg(long, default_value = "drill")]
    bucket: String,
    /// Objects written and verified before the fault: mixed sizes, from empty
    /// to several MiB (striped), one in ten a multipart upload.
    #[arg(long, default_value_t = 200)]
    objects: usize,
    /// How long traffic is measured before the fault.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    baseline: Duration,
    /// Storage nodes to kill (SIGKILL), by node id: `--kill node-3,node-5`.
    #[arg(long, value_delimiter = ',')]
    kill: Vec<NodeId>,
    /// Storage nodes to freeze (SIGSTOP), thawed (SIGCONT) after --freeze-for.
    #[arg(long, value_delimiter = ',')]
    freeze: Vec<NodeId>,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    freeze_for: Duration,
    /// Concurrent readers during the drill.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Concurrent writers during the drill.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Reads per second, all readers together (0: unpaced).
    #[arg(long, default_value_t = 50.0)]
    read_rate: f64,
    /// Writes per second, all writers together (0: unpaced). Writes go on
    /// until full redundancy is back, so this bounds the data a long repair
    /// wait adds.
    #[arg(long, default_value_t = 5.0)]
    write_rate: f64,
    /// Parallel requests while writing the dataset and verifying at the end.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long to wait for full redundancy after the fault (after the thaw,
    /// for a freeze) before the drill fails.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    repair_timeout: Duration,
    /// At the end, start the killed nodes again (SIGHUP to the local
    /// cluster's supervisor, or --heal-command) and wait until they are up.
    #[arg(long)]
    restart: bool,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    restart_timeout: Duration,
    /// Append one line per read and write to this file (end time, latency,
    /// outcome, phase), to split the fault phase by what the cluster did.
    #[arg(long)]
    latency_log: Option<PathBuf>,
    /// Shell command that kills or freezes a node, instead of signals to the
    /// pids of --cluster: `{node}` is the node id, `{action}` one of kill,
    /// freeze, thaw, restart. Also used to thaw and restart without
    /// --heal-command.
    #[arg(long)]
    fault_command: Option<String>,
    /// Shell command that thaws or restarts a node (`{node}`, `{action}`).
    #[arg(long)]
    heal_command: Option<String>,
    /// How often the cluster status is polled during the fault.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    poll_interval: Duration,
    /// Print the report as JSON (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Where the drill sends its requests, after --cluster and explicit flags.
struct Target {
    endpoint: String,
    access_key: String,
    secret_key: String,
    metadata_url: String,
    secret: ClusterSecret,
    cluster: Option<ClusterFile>,
}

/// Timestamped progress on stderr, so a JSON report on stdout stays clean.
#[derive(Debug, Clone, Copy)]
struct Progress {
    start: Instant,
}

impl Progress {
    fn say(&self, msg: impl std::fmt::Display) {
        eprintln!("[{:>7.1}s] {msg}", self.start.elapsed().as_secs_f64());
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Args::command().get_matches();
    let explicit = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let endpoint_explicit = explicit("endpoint");
    let access_key_explicit = explicit("access_key");
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let progress = Progress {
        start: Instant::now(),
    };
    let result = async {
        let target = resolve(&args, endpoint_explicit, access_key_explicit)?;
        run(&args, target, progress).await
    }
    .await;
    match result {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("drill: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{}", report.to_text());
            }
            if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("drill: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn resolve(
    args: &Args,
    endpoint_explicit: bool,
    access_key_explicit: bool,
) -> anyhow::Result<Target> {
    let cluster = args.cluster.as_deref().map(ClusterFile::read).transpose()?;
    let endpoint = match &cluster {
        Some(c) if !endpoint_explicit => c.s3_endpoint.clone(),
        _ => args.target.endpoint.clone(),
    };
    let access_key = match cluster.as_ref().and_then(|c| c.access_key.clone()) {
        Some(k) if !access_key_explicit => k,
        _ => args.target.access_key.clone(),
    };
    let metadata_url = args
        .metadata_url
        .clone()
        .or_else(|| cluster.as_ref().map(|c| c.metadata_url.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:9100".to_owned());
    let secret = match &args.cluster_secret {
        Some(s) => s.clone(),
        None => {
            let path = args
                .cluster_secret_file
                .clone()
                .or_else(|| cluster.as_ref().map(|c| c.cluster_secret_file.clone()))
                .unwrap_or_else(|| PathBuf::from("./data/cluster-secret"));
            read_secret(&path)?
        }
    };
    Ok(Target {
        endpoint,
        access_key,
        secret_key: args.target.secret_key.clone(),
        metadata_url,
        secret: ClusterSecret::new(secret).context("invalid cluster secret")?,
        cluster,
    })
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the cluster secret from {} (pass --cluster, --cluster-secret-file \
             or TESSERA_CLUSTER_SECRET)",
            path.display()
        )
    })?;
    Ok(s.trim().to_owned())
}

/// Nodes frozen right now, thawed by whoever stops the drill first.
type FrozenNodes = Arc<Mutex<Vec<NodeId>>>;

async fn run(args: &Args, target: Target, progress: Progress) -> anyhow::Result<Report> {
    for n in &args.kill {
        if args.freeze.contains(n) {
            bail!("{n} is both killed and frozen; choose one");
        }
    }
    let driver = FaultDriver {
        cluster_file: args.cluster.clone(),
        fault_command: args.fault_command.clone(),
        heal_command: args.heal_command.clone(),
    };
    let faulted: Vec<NodeId> = args.kill.iter().chain(&args.freeze).cloned().collect();
    let status = StatusClient::new(&target.metadata_url, target.secret.clone())?;
    let before = preflight(args, &target, &driver, &status, &faulted, progress).await?;

    let s3 = tests::s3_client(&target.endpoint, &target.access_key, &target.secret_key);
    // Traffic counts what one attempt gets, as a user's request sees it; the
    // dataset and the final check use the SDK's retries.
    let single_attempt = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    create_bucket(&s3, &args.bucket).await?;
    let run_seed: u64 = rand::random();
    let prefix = format!(
        "drill-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let ledger = Arc::new(Ledger::default());

    // 1. The dataset, verified before anything is broken.
    let dataset_writer = ObjectWriter::new(s3.clone(), &args.bucket, &prefix, run_seed);
    write_dataset(args, &dataset_writer, &ledger, progress).await?;
    let check = verify_all(&s3, &args.bucket, ledger.snapshot(), args.concurrency).await;
    if check.lost > 0 || check.wrong_bodies > 0 {
        bail!(
            "the dataset does not read back before any fault ({} of {} lost, {} wrong bodies): {}",
            check.lost,
            check.checked,
            check.wrong_bodies,
            check.lost_examples.join("; ")
        );
    }
    progress.say(format!("dataset verified: {} objects", check.checked));
    let dataset_objects = ledger.len();

    // 2. The baseline. Traffic writers go on numbering after the dataset.
    let traffic_writer = Arc::new(dataset_writer);
    let traffic = Traffic::start(
        &TrafficConfig {
            readers: args.readers,
            writers: args.writers,
            read_rate: args.read_rate,
            write_rate: args.write_rate,
            max_range: 2 << 20,
            latency_log: args.latency_log.clone(),
        },
        Arc::clone(&traffic_writer),
        single_attempt,
        Arc::clone(&ledger),
    )
    .context("opening the latency log")?;
    progress.say(format!(
        "baseline: {} readers, {} writers for {:?}",
        args.readers, args.writers, args.baseline
    ));
    let baseline_started = Instant::now();
    tokio::time::sleep(args.baseline).await;
    let baseline_secs = baseline_started.elapsed().as_secs_f64();

    // 3-5. The fault, under traffic, until full redundancy is back.
    let frozen: FrozenNodes = Arc::default();
    watch_for_interrupt(driver.clone(), Arc::clone(&frozen), progress);
    traffic.set_phase(Phase::Fault);
    let outcome = fault_phase(args, &driver, &status, &frozen, progress).await;
    if outcome.is_err() {
        thaw_all(&driver, &frozen, progress).await;
    }
    let fault_secs = outcome
        .as_ref()
        .map(|o| o.started.elapsed().as_secs_f64())
        .unwrap_or(0.0);
    progress.say("stopping traffic");
    let (baseline_counts, fault_counts) = traffic.stop().await;
    let outcome = outcome?;

    // 6. Killed nodes back, if asked.
    let restart = if args.restart && !args.kill.is_empty() {
        Some(restart_killed(args, &driver, &status, progress).await)
    } else {
        None
    };

    // 7. Every acknowledged object, byte for byte.
    let after = status.fetch().await.ok();
    progress.say(format!("verifying {} acknowledged objects", ledger.len()));
    let verification = verify_all(&s3, &args.bucket, ledger.snapshot(), args.concurrency).await;

    // 8. The report.
    let bytes_repaired = match (
        before.rebuilt_bytes,
        after.as_ref().and_then(|a| a.rebuilt_bytes),
    ) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        (None, Some(a)) => Some(a),
        _ => None,
    };
    let mut report = Report {
        bucket: args.bucket.clone(),
        key_prefix: prefix,
        faults: FaultPlan {
            kill: args.kill.iter().map(ToString::to_string).collect(),
            freeze: args.freeze.iter().map(ToString::to_string).collect(),
            freeze_for_secs: (!args.freeze.is_empty()).then_some(args.freeze_for.as_secs_f64()),
        },
        ledger_objects: ledger.len(),
        dataset_objects,
        baseline: PhaseReport::new(baseline_secs, &baseline_counts),
        during_fault: PhaseReport::new(fault_secs, &fault_counts),
        time_to_detect_secs: outcome.detected.map(|d| d.as_secs_f64()),
        repair: RepairReport {
            completed: outcome.full_at.is_some(),
            timed_out: outcome.full_at.is_none(),
            time_to_full_redundancy_secs: outcome.full_at.map(|d| d.as_secs_f64()),
            bytes_repaired,
            max_degraded_stripes: outcome.worst.degraded_stripes,
            max_degraded_bytes: outcome.worst.degraded_bytes,
            max_unreadable_stripes: outcome.worst.unreadable_stripes,
            status_errors: outcome.status_errors,
        },
        restart,
        verification: VerificationReport::from(&verification),
        ..Report::default()
    };
    report.judge();
    progress.say(if report.passed {
        "drill passed"
    } else {
        "drill FAILED"
    });
    Ok(report)
}

/// Before anything is written or broken: the status answers, the named
/// nodes exist and are up, and every fault can be delivered and taken back.
async fn preflight(
    args: &Args,
    target: &Target,
    driver: &FaultDriver,
    status: &StatusClient,
    faulted: &[NodeId],
    progress: Progress,
) -> anyhow::Result<StatusView> {
    let view = status.fetch().await.context("the cluster status")?;
    for node in faulted {
        match view.state(node) {
            Some("up") => {}
            Some(state) => {
                bail!("{node} is {state} before the drill; start from a healthy cluster")
            }
            None => bail!(
                "the metadata service does not know {node} (it knows {})",
                view.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
    if !view.fully_redundant() {
        progress.say(format!(
            "warning: the cluster is not at full redundancy before the drill ({} degraded, {} unreadable stripes)",
            view.degraded_stripes, view.unreadable_stripes
        ));
    }
    for node in &args.kill {
        let mut actions = vec![Action::Kill];
        if args.restart {
            actions.push(Action::Restart);
        }
        driver.check(node, &actions)?;
    }
    for node in &args.freeze {
        driver.check(node, &[Action::Freeze, Action::Thaw])?;
    }
    let parity = target
        .cluster
        .as_ref()
        .and_then(|c| c.parity_shards)
        .map(usize::from);
    if let Some(parity) = parity
        && faulted.len() > parity
    {
        progress.say(format!(
            "warning: {} nodes faulted but stripes have only {parity} parity shards: \
             some reads are expected to fail",
            faulted.len()
        ));
    }
    if faulted.is_empty() {
        progress.say("no --kill or --freeze: measuring and verifying only");
    }
    progress.say(format!(
        "cluster: {} nodes up, {} stripes; S3 at {}, metadata at {}",
        view.nodes.values().filter(|s| *s == "up").count(),
        view.stripes,
        target.endpoint,
        target.metadata_url
    ));
    Ok(view)
}

async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|s| s.code().map(str::to_owned));
            if matches!(
                code.as_deref(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "creating bucket {bucket}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            }
        }
    }
}

async fn write_dataset(
    args: &Args,
    writer: &ObjectWriter,
    ledger: &Ledger,
    progress: Progress,
) -> anyhow::Result<()> {
    progress.say(format!(
        "writing {} objects to bucket {}",
        args.objects, args.bucket
    ));
    let started = Instant::now();
    let mut results = futures::stream::iter(0..args.objects)
        .map(|_| writer.write_next())
        .buffer_unordered(args.concurrency.max(1));
    let mut failures = Vec::new();
    let mut bytes = 0;
    while let Some(r) = results.next().await {
        match r {
            Ok(entry) => {
                bytes += entry.size;
                ledger.record(entry);
            }
            Err(e) => failures.push(e),
        }
    }
    if let Some(first) = failures.first() {
        bail!(
            "{} of {} dataset writes failed before any fault; first: {first}",
            failures.len(),
            args.objects
        );
    }
    let secs = started.elapsed().as_secs_f64();
    progress.say(format!(
        "dataset written: {} objects, {:.1} MiB in {secs:.1} s",
        args.objects,
        bytes as f64 / (1024.0 * 1024.0)
    ));
    Ok(())
}

/// What the fault phase found out.
struct FaultOutcome {
    started: Instant,
    detected: Option<Duration>,
    full_at: Option<Duration>,
    worst: StatusView,
    status_errors: u64,
}

/// Breaks the nodes, thaws frozen ones on time, and polls the status until
/// the faulted nodes were seen down (for kills) and full redundancy is back,
/// or the repair timeout passes.
async fn fault_phase(
    args: &Args,
    driver: &FaultDriver,
    status: &StatusClient,
    frozen: &FrozenNodes,
    progress: Progress,
) -> anyhow::Result<FaultOutcome> {
    let started = Instant::now();
    for node in &args.kill {
        driver.apply(node, Action::Kill).await?;
        progress.say(format!("killed {node}"));
    }
    for node in &args.freeze {
        driver.apply(node, Action::Freeze).await?;
        lock(frozen).push(node.clone());
        progress.say(format!("froze {node} for {:?}", args.freeze_for));
    }
    let thaw_at = (!args.freeze.is_empty()).then(|| started + args.freeze_for);
    let deadline = thaw_at.unwrap_or(started) + args.repair_timeout;
    // Kills are what detection is timed for; a freeze-only drill times the
    // detection of the freeze, if it comes before the thaw.
    let watched: &[NodeId] = if args.kill.is_empty() {
        &args.freeze
    } else {
        &args.kill
    };
    let mut out = FaultOutcome {
        started,
        detected: None,
        full_at: None,
        worst: StatusView::default(),
        status_errors: 0,
    };
    let mut thawed = thaw_at.is_none();
    let mut last_note = Instant::now();
    loop {
        if let Some(at) = thaw_at
            && !thawed
            && Instant::now() >= at
        {
            thaw_all(driver, frozen, progress).await;
            thawed = true;
        }
        match status.fetch().await {
            Ok(view) => {
                let now = started.elapsed();
                worst(&mut out.worst, &view);
                let detecting = !args.kill.is_empty() || !thawed;
                if out.detected.is_none()
                    && detecting
                    && !watched.is_empty()
                    && view.all_down(watched)
                {
                    out.detected = Some(now);
                    progress.say(format!(
                        "metadata reports {} down, {:.1} s after the fault",
                        names(watched),
                        now.as_secs_f64()
                    ));
                }
                let kills_seen = args.kill.is_empty() || out.detected.is_some();
                let frozen_back = view.all_up(&args.freeze);
                if thawed && kills_seen && frozen_back && view.fully_redundant() {
                    out.full_at = Some(now);
                    progress.say(format!(
                        "full redundancy, {:.1} s after the fault",
                        now.as_secs_f64()
                    ));
                    return Ok(out);
                }
                if last_note.elapsed() >= Duration::from_secs(5) {
                    last_note = Instant::now();
                    progress.say(format!(
                        "waiting: {} stripes degraded ({:.1} MiB), {} unreadable; down: {}",
                        view.degraded_stripes,
                        view.degraded_bytes as f64 / (1024.0 * 1024.0),
                        view.unreadable_stripes,
                        view.nodes
                            .iter()
                            .filter(|(_, s)| *s != "up")
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            Err(e) => {
                out.status_errors += 1;
                if out.status_errors == 1 {
                    progress.say(format!("status poll failed (will keep trying): {e}"));
                }
            }
        }
        if Instant::now() >= deadline {
            progress.say("repair timeout: full redundancy did not return");
            return Ok(out);
        }
        let mut next = tokio::time::Instant::now() + args.poll_interval;
        if let Some(at) = thaw_at
            && !thawed
        {
            next = next.min(at.into());
        }
        tokio::time::sleep_until(next).await;
    }
}

fn worst(acc: &mut StatusView, view: &StatusView) {
    acc.degraded_stripes = acc.degraded_stripes.max(view.degraded_stripes);
    acc.degraded_bytes = acc.degraded_bytes.max(view.degraded_bytes);
    acc.unreadable_stripes = acc.unreadable_stripes.max(view.unreadable_stripes);
}

async fn restart_killed(
    args: &Args,
    driver: &FaultDriver,
    status: &StatusClient,
    progress: Progress,
) -> RestartReport {
    progress.say(format!("restarting {}", names(&args.kill)));
    let started = Instant::now();
    if let Err(e) = driver.restart(&args.kill).await {
        return RestartReport {
            completed: false,
            secs: None,
            error: Some(e.to_string()),
        };
    }
    while started.elapsed() < args.restart_timeout {
        if let Ok(view) = status.fetch().await
            && view.all_up(&args.kill)
        {
            let secs = started.elapsed().as_secs_f64();
            progress.say(format!("{} up again after {secs:.1} s", names(&args.kill)));
            return RestartReport {
                completed: true,
                secs: Some(secs),
                error: None,
            };
        }
        tokio::time::sleep(args.poll_interval).await;
    }
    RestartReport {
        completed: false,
        secs: None,
        error: Some(format!("not up within {:?}", args.restart_timeout)),
    }
}

async fn thaw_all(driver: &FaultDriver, frozen: &FrozenNodes, progress: Progress) {
    let nodes = std::mem::take(&mut *lock(frozen));
    for node in nodes {
        match driver.apply(&node, Action::Thaw).await {
            Ok(()) => progress.say(format!("thawed {node}")),
            Err(e) => progress.say(format!("THAWING {node} FAILED: {e}; thaw it by hand")),
        }
    }
}

/// Ctrl-C during the drill must not leave a node frozen.
fn watch_for_interrupt(driver: FaultDriver, frozen: FrozenNodes, progress: Progress) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            progress.say("interrupted");
            thaw_all(&driver, &frozen, progress).await;
            std::process::exit(130);
        }
    });
}

fn lock(frozen: &FrozenNodes) -> std::sync::MutexGuard<'_, Vec<NodeId>> {
    frozen.lock().unwrap_or_else(|e| e.into_inner())
}

fn names(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(NodeId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
