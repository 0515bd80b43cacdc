//! TLS interception for the hosts of bound secrets: a certificate authority made
//! for the run (its key lives in the proxy's memory only), a leaf certificate per
//! host made on first use, and a client side that verifies the real server
//! against the host's trust store and any extra authority the config names.
//! Everything cryptographic is rustls's and rcgen's.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn failure(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// The run's certificate authority and the TLS configurations made from it.
pub struct Authority {
    ca: rcgen::Certificate,
    key: KeyPair,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
    upstream: Arc<ClientConfig>,
}

impl Authority {
    /// A fresh authority; the upstream side trusts the certificates in `roots`
    /// (PEM: the host's store, then any extra authority). Fails when `roots`
    /// holds no certificate at all.
    pub fn new(roots: &[u8]) -> Result<Self, String> {
        let key = KeyPair::generate().map_err(|e| failure("make the CA key", e))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| failure("make the CA", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "berth egress proxy (one run)");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params
            .self_signed(&key)
            .map_err(|e| failure("sign the CA", e))?;
        let mut store = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(roots).flatten() {
            // A certificate rustls cannot use is skipped, as system stores do.
            let _ = store.add(cert);
        }
        if store.is_empty() {
            return Err("no trusted certificate authority to verify upstreams with".to_owned());
        }
        let mut upstream = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| failure("set up TLS", e))?
            .with_root_certificates(store)
            .with_no_client_auth();
        upstream.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca,
            key,
            leaves: Mutex::new(HashMap::new()),
            upstream: Arc::new(upstream),
        })
    }

    /// The authority's certificate, PEM: what the sandbox trusts.
    pub fn certificate_pem(&self) -> String {
        self.ca.pem()
    }

    /// The client side's configuration.
    pub fn upstream(&self) -> Arc<ClientConfig> {
        self.upstream.clone()
    }

    /// The server side's configuration for `host`, with a leaf made on first use.
    pub fn server(&self, host: &str) -> Result<Arc<ServerConfig>, String> {
        if let Some(config) = self.leaves.lock().ok().and_then(|l| l.get(host).cloned()) {
            return Ok(config);
        }
        let key = KeyPair::generate().map_err(|e| failure("make a leaf key", e))?;
        let mut params =
            CertificateParams::new(vec![host.to_owned()]).map_err(|e| failure("make a leaf", e))?;
        params.distinguished_name.push(DnType::CommonName, host);
        let leaf = params
            .signed_by(&key, &self.ca, &self.key)
            .map_err(|e| failure("sign a leaf", e))?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| failure("set up TLS", e))?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), self.ca.der().clone()], private)
            .map_err(|e| failure("use a leaf", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if let Ok(mut leaves) = self.leaves.lock() {
            // A wildcard binding could mint leaves without end: the cache is bounded.
            if leaves.len() >= 256 {
                leaves.clear();
            }
            leaves.insert(host.to_owned(), config.clone());
        }
        Ok(config)
    }
}

/// A stream that first yields bytes already read from it (the ClientHello the
/// proxy checked), then the stream itself.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = (self.prefix.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Header lines of a request head with each credential's placeholder replaced
/// by its value, for the credentials bound to the request's host; returns the
/// new head and the names swapped. Only header lines change: never the request
/// line, never a body.
pub(crate) fn swap_headers(
    head: &[u8],
    credentials: &[&super::Credential],
) -> (Vec<u8>, Vec<String>) {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 64);
    let mut swapped: Vec<String> = Vec::new();
    for (i, line) in text.split_inclusive("\r\n").enumerate() {
        if i == 0 || !line.contains(':') {
            out.push_str(line);
            continue;
        }
        let mut line = line.to_owned();
        for credential in credentials {
            if line.contains(&credential.placeholder) {
                line = line.replace(&credential.placeholder, &credential.value);
                if !swapped.contains(&credential.name) {
                    swapped.push(credential.name.clone());
                }
            }
        }
        out.push_str(&line);
    }
    (out.into_bytes(), swapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::Credential;

    fn credential(name: &str, value: &str) -> Credential {
        Credential {
            name: name.to_owned(),
            placeholder: format!("berth-placeholder-{name}"),
            value: value.to_owned(),
            hosts: vec!["api.test".parse().unwrap()],
        }
    }

    #[test]
    fn placeholders_are_swapped_in_headers_only() {
        let token = credential("TOKEN", "s3cret");
        let head = b"GET /berth-placeholder-TOKEN HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer berth-placeholder-TOKEN\r\nX-Other: berth-placeholder-TOKEN\r\n\r\n";
        let (out, swapped) = swap_headers(head, &[&token]);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "GET /berth-placeholder-TOKEN HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer s3cret\r\nX-Other: s3cret\r\n\r\n"
        );
        assert_eq!(swapped, ["TOKEN"]);
        let (same, none) = swap_headers(head, &[]);
        assert_eq!(same, head);
        assert!(none.is_empty());
    }

    #[test]
    fn a_leaf_is_made_once_per_host_and_roots_are_required() {
        assert_eq!(
            Authority::new(b"").err().as_deref(),
            Some("no trusted certificate authority to verify upstreams with")
        );
        let first = {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.self_signed(&key).unwrap().pem()
        };
        let authority = Authority::new(first.as_bytes()).unwrap();
        let a = authority.server("api.test").unwrap();
        let b = authority.server("api.test").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(
            authority
                .certificate_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }
}
