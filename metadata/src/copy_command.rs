//! `edge copy-metadata-to-postgres`: moves a cluster's metadata from the
//! embedded store into PostgreSQL (see [`crate::store::copy_to_postgres`]).
//! Stop the metadata service first, run this, then start the service (and
//! any further replicas) with `--postgres-url`.

use std::path::PathBuf;

use crate::store::PgOptions;
use crate::store::copy_to_postgres::{CopyError, CopyReport, copy_redb_to_postgres};

/// Flags of the copy.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// Folder of the embedded store to copy from (it holds `metadata.redb`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,

    /// The PostgreSQL database to copy into; it must hold no metadata yet.
    #[arg(long, env = "TESSERA_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,

    /// File holding the PostgreSQL URL.
    #[arg(long, value_name = "FILE")]
    pub postgres_url_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyCommandError {
    #[error("no PostgreSQL URL: pass --postgres-url, TESSERA_POSTGRES_URL or --postgres-url-file")]
    NoUrl,
    #[error("reading {path}: {source}")]
    ReadUrl {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// Runs the copy and prints what was copied, as JSON on stdout.
pub async fn run(args: CopyArgs) -> Result<CopyReport, CopyCommandError> {
    let url = match (args.postgres_url, args.postgres_url_file) {
        (Some(url), _) => url,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|source| CopyCommandError::ReadUrl { path, source })?,
        (None, None) => return Err(CopyCommandError::NoUrl),
    };
    let target = PgOptions { url, pool_size: 2 };
    let report = copy_redb_to_postgres(&args.data_dir, &target).await?;
    tracing::info!(?report, "metadata copied to PostgreSQL");
    Ok(report)
}
