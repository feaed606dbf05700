//! TLS on the S3 port: rustls with the ring provider, a certificate chain and
//! key from PEM files, ALPN `h2` then `http/1.1`. Browsers play video only
//! over HTTPS and speak HTTP/2 only over TLS, so this is what lets a `<video>`
//! element fetch its ranges from the edge over one multiplexed connection.
//!
//! The certificate is swapped on SIGHUP without dropping a connection: the
//! server asks [`ReloadableCert`] for the current one at every handshake,
//! so a renewed certificate (certbot, cert-manager) is picked up by the next
//! client while open connections finish on the old one. A renewal that does
//! not load keeps the certificate in use and says why in the log.
//!
//! Plain HTTP sent to the TLS port gets a short 400 that says the port
//! speaks HTTPS, instead of a TLS alert that clients print as "HTTP/0.9".

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use listener::{Handshake, WatchedIo};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Where the certificate chain and its private key live (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The leaf certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key of the leaf.
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: no PEM certificate in it")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {reason}")]
    BadPem { path: PathBuf, reason: String },
    #[error("{key}: not a private key usable with {cert}: {source}")]
    BadKey {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate in use, replaceable while the server runs.
#[derive(Debug)]
pub struct ReloadableCert {
    files: TlsFiles,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    fn load(
        files: TlsFiles,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let first = certified_key(&files, &provider)?;
        Ok(ReloadableCert {
            files,
            provider,
            current: RwLock::new(Arc::new(first)),
        })
    }

    /// Reads the files again; on success the next handshake uses them, on
    /// failure the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(certified_key(&self.files, &self.provider)?);
        // A poisoned lock only means a reader panicked; the value is whole.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

fn certified_key(
    files: &TlsFiles,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let bad_pem = |path: &Path, err: rustls_pki_types::pem::Error| TlsError::BadPem {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let cert_pem = read(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(&files.cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad_pem(&files.key, e))?;
    let bad_key = |source| TlsError::BadKey {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(bad_key)?;
    let certified = CertifiedKey::new(chain, signing_key);
    // A key that does not belong to the leaf fails every handshake; say so
    // at startup (or reload) instead.
    certified.keys_match().map_err(bad_key)?;
    Ok(certified)
}

/// Accepts TLS connections on the S3 port.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    cert: Arc<ReloadableCert>,
}

impl Tls {
    /// Loads the certificate and key; fails if they do not load or match.
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        // Named explicitly rather than taken from rustls' process default:
        // another crate in the same build may enable a second provider, and
        // then there is no default to take.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = Arc::new(ReloadableCert::load(files, Arc::clone(&provider))?);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&cert) as Arc<dyn ResolvesServerCert>);
        // HTTP/2 first: browsers then multiplex every range of a video over
        // one connection. hyper's auto builder serves whichever was agreed.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert,
        })
    }

    /// Completes the handshake on an accepted connection. The listener
    /// bounds it by its header timeout: a client that connects and says
    /// nothing holds a socket no longer than one that sends half a header.
    pub async fn accept<IO>(&self, stream: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.acceptor.accept(stream).await
    }

    /// Reloads the certificate and key on every SIGHUP until the process
    /// ends.
    pub fn reload_on_sighup(&self) -> io::Result<()> {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let cert = Arc::clone(&self.cert);
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match cert.reload() {
                    Ok(()) => tracing::info!(
                        cert = %cert.files.cert.display(),
                        "SIGHUP: TLS certificate reloaded"
                    ),
                    Err(error) => tracing::error!(
                        %error,
                        "SIGHUP: TLS certificate not reloaded; the previous one stays in use"
                    ),
                }
            }
        });
        Ok(())
    }
}

impl Handshake for Tls {
    type Io = TlsStream<WatchedIo<TcpStream>>;

    async fn handshake(&self, mut io: WatchedIo<TcpStream>) -> io::Result<Self::Io> {
        if speaks_plain_http(io.get_ref()).await? {
            answer_plain_http(&mut io).await;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain HTTP on the HTTPS port",
            ));
        }
        self.accept(io).await
    }
}

/// The body of the answer to plain HTTP on the TLS port.
const PLAIN_HTTP_BODY: &str = "This port speaks HTTPS: use an https:// URL.\n";

/// Reading at most this much of a plain request before answering it.
const PLAIN_HTTP_READ_MAX: usize = 4096;

/// Whether the client opened with plain HTTP: a TLS connection starts with
/// a handshake record (byte 0x16), an HTTP request with a method's capital
/// letter. Peeked, so a TLS handshake still sees every byte.
async fn speaks_plain_http(stream: &TcpStream) -> io::Result<bool> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    Ok(n == 1 && first[0].is_ascii_uppercase())
}

/// Reads the request's header (at most [`PLAIN_HTTP_READ_MAX`]), so that
/// closing does not reset the connection before the client reads the
/// answer, then answers and closes. Best effort: the client may be gone.
async fn answer_plain_http(io: &mut WatchedIo<TcpStream>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while seen.len() < PLAIN_HTTP_READ_MAX && !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PLAIN_HTTP_BODY}",
        PLAIN_HTTP_BODY.len()
    );
    let _ = io.write_all(answer.as_bytes()).await;
    let _ = io.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("self-signed certificate");
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.cert.pem()).expect("write cert");
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).expect("write key");
        files
    }

    #[test]
    fn loads_a_matching_pair() {
        let dir = tempfile::tempdir().expect("temp dir");
        Tls::new(write_pair(dir.path(), "a")).expect("loads");
    }

    #[test]
    fn refuses_a_key_of_another_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = write_pair(dir.path(), "a");
        let b = write_pair(dir.path(), "b");
        let mixed = TlsFiles {
            cert: a.cert,
            key: b.key,
        };
        let err = Tls::new(mixed).err().expect("a mismatched key is refused");
        assert!(matches!(err, TlsError::BadKey { .. }), "{err}");
    }

    #[test]
    fn refuses_a_file_without_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = write_pair(dir.path(), "a");
        std::fs::write(&a.cert, "not a certificate\n").expect("write");
        let err = Tls::new(a).err().expect("refused");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }

    fn leaf(tls: &Tls) -> Vec<u8> {
        let current = tls.cert.current.read().expect("lock");
        current.end_entity_cert().expect("leaf").to_vec()
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = write_pair(dir.path(), "a");
        let tls = Tls::new(files.clone()).expect("loads");
        let before = leaf(&tls);
        std::fs::write(&files.key, "garbage").expect("write");
        assert!(tls.cert.reload().is_err());
        let after = leaf(&tls);
        assert_eq!(before, after);

        // A renewed pair is taken.
        let renewed = write_pair(dir.path(), "renewed");
        std::fs::copy(&renewed.cert, &files.cert).expect("copy");
        std::fs::copy(&renewed.key, &files.key).expect("copy");
        tls.cert.reload().expect("reload");
        let now = leaf(&tls);
        assert_ne!(before, now);
    }
}
