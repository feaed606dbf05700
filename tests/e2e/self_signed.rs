//! A self-signed certificate for an edge under test, and clients that trust
//! it (and nothing else): aws-sdk-s3 for the S3 path, reqwest where a test
//! needs to see the negotiated HTTP version or the peer certificate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_http_client::tls;

pub struct SelfSigned {
    pub cert_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SelfSigned {
    /// A fresh key and certificate for `localhost` and `127.0.0.1`, written
    /// to a temp folder as the edge reads them.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let cert_pem = cert.cert.pem();
        let cert_path = dir.path().join("edge.crt");
        let key_path = dir.path().join("edge.key");
        std::fs::write(&cert_path, &cert_pem).expect("write cert");
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
        SelfSigned {
            cert_pem,
            cert_path,
            key_path,
            _dir: dir,
        }
    }

    /// Flags that make an edge serve HTTPS with this certificate.
    pub fn edge_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".to_owned(),
            self.cert_path.display().to_string(),
            "--tls-key".to_owned(),
            self.key_path.display().to_string(),
        ]
    }

    /// rustls settings trusting only this certificate, offering `alpn`.
    fn client_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(self.cert_pem.as_bytes())
            .expect("our own PEM");
        roots.add(der).expect("a valid root");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    /// A browser-like client: offers HTTP/2 and HTTP/1.1 by ALPN.
    pub fn http_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.client_config(&[b"h2", b"http/1.1"]))
            .tls_info(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client")
    }

    /// A client that offers HTTP/1.1 alone, as older tools do.
    pub fn http1_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.client_config(&[b"http/1.1"]))
            .http1_only()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client")
    }

    /// aws-sdk-s3 over HTTPS, trusting this certificate.
    pub fn s3_client(
        &self,
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
    ) -> aws_sdk_s3::Client {
        let trust = tls::TrustStore::empty().with_pem_certificate(self.cert_pem.as_bytes());
        let context = tls::TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .expect("TLS context");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                access_key,
                secret_key,
                None,
                None,
                "tessera-tests",
            ))
            .force_path_style(true)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}
