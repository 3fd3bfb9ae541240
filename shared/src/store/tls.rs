//! The HTTP client the ClickHouse client runs on: plain HTTP, or HTTPS with rustls
//! (`CLICKHOUSE_URL=https://…`), trusting the system's CA certificates plus an optional
//! `CLICKHOUSE_CA_FILE` (PEM) — what ClickHouse Cloud and self-managed servers with a private CA
//! need.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::config::ClickHouseConfig;

/// As the clickhouse crate's default client: TCP keep-alive, and idle pooled connections closed
/// before ClickHouse's own keep-alive timeout (3 s by default) closes them under us.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the URL asks for TLS; anything but `http://` and `https://` is refused.
pub fn uses_tls(url: &str) -> Result<bool, String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        Ok(true)
    } else if lower.starts_with("http://") {
        Ok(false)
    } else {
        Err(format!(
            "CLICKHOUSE_URL must start with http:// or https:// (got {url:?})"
        ))
    }
}

/// The trusted roots: the system's CA certificates, plus every certificate of `ca_file`.
fn roots(cfg: &ClickHouseConfig) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = &cfg.ca_file {
        let shown = path.display();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("CLICKHOUSE_CA_FILE {shown}: cannot read it: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CLICKHOUSE_CA_FILE {shown}: not a PEM certificate file: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "CLICKHOUSE_CA_FILE {shown}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("CLICKHOUSE_CA_FILE {shown}: unusable certificate: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err(
            "CLICKHOUSE_URL is https:// but no CA certificate was found: install the system's \
             CA certificates or set CLICKHOUSE_CA_FILE"
                .into(),
        );
    }
    Ok(roots)
}

/// The ClickHouse client for `cfg`'s URL: HTTPS with rustls when the URL is `https://`.
pub fn client(cfg: &ClickHouseConfig) -> Result<clickhouse::Client, String> {
    let tls = uses_tls(&cfg.url)?;
    if cfg.ca_file.is_some() && !tls {
        return Err(
            "CLICKHOUSE_CA_FILE is set but CLICKHOUSE_URL is not https://: the CA would not be used"
                .into(),
        );
    }
    let mut connector = HttpConnector::new();
    connector.set_keepalive(Some(TCP_KEEPALIVE));
    if !tls {
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        return Ok(clickhouse::Client::with_http_client(http));
    }
    connector.enforce_http(false);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots(cfg)?)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .wrap_connector(connector);
    let http = HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https);
    Ok(clickhouse::Client::with_http_client(http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_checked() {
        assert_eq!(uses_tls("https://ch.example:8443"), Ok(true));
        assert_eq!(uses_tls("HTTP://127.0.0.1:8123"), Ok(false));
        assert!(
            uses_tls("ch.example:8123")
                .unwrap_err()
                .contains("CLICKHOUSE_URL")
        );
    }

    #[test]
    fn a_ca_file_needs_https_and_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let cfg = |url: &str, ca: Option<&std::path::Path>| ClickHouseConfig {
            url: url.into(),
            ca_file: ca.map(Into::into),
            ..ClickHouseConfig::default()
        };
        let err = client(&cfg("http://127.0.0.1:8123", Some(&empty))).unwrap_err();
        assert!(err.contains("CLICKHOUSE_CA_FILE is set"), "{err}");
        let err = client(&cfg("https://127.0.0.1:8443", Some(&empty))).unwrap_err();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = client(&cfg("https://127.0.0.1:8443", Some(&missing))).unwrap_err();
        assert!(err.contains("cannot read it"), "{err}");
        assert!(client(&cfg("http://127.0.0.1:8123", None)).is_ok());
    }
}
