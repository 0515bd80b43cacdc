//! The proxy against upstreams on loopback, which the policy allows only because
//! each test's config names the address (an IP rule or a `hosts` entry).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::serve;
use crate::egress::tls::tests::hello;
use crate::egress::{AuditRecord, Policy, ProxySettings, Verdict};

#[derive(Clone, Default)]
struct Audit(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Audit {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Audit {
    /// The records written so far, waiting up to a second for `n` of them.
    async fn records(&self, n: usize) -> Vec<AuditRecord> {
        for _ in 0..100 {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            let records: Vec<AuditRecord> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if records.len() >= n {
                return records;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} audit records");
    }
}

/// An upstream on loopback that records what it receives and answers `reply`.
async fn upstream(reply: &'static [u8]) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            store.lock().unwrap().extend_from_slice(&buf[..n]);
            let _ = conn.write_all(reply).await;
            let _ = conn.shutdown().await;
        }
    });
    (port, seen)
}

async fn proxy(rules: &[String], hosts: &[(&str, &str)]) -> (u16, Audit) {
    let secrets = super::Secrets {
        credentials: Vec::new(),
        authority: None,
    };
    proxy_with(rules, hosts, secrets).await
}

/// A proxy under an open policy: every host allowed, addresses still checked.
async fn open_proxy() -> (u16, Audit) {
    let policy = Policy {
        allow_all: true,
        ..Default::default()
    };
    let secrets = super::Secrets {
        credentials: Vec::new(),
        authority: None,
    };
    spawn(policy, secrets).await
}

async fn proxy_with(
    rules: &[String],
    hosts: &[(&str, &str)],
    secrets: super::Secrets,
) -> (u16, Audit) {
    let policy = Policy {
        rules: rules.iter().map(|r| r.parse().unwrap()).collect(),
        hosts: hosts
            .iter()
            .map(|(n, a)| ((*n).to_owned(), a.parse().unwrap()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    };
    spawn(policy, secrets).await
}

/// A proxy on loopback for `policy`, with its audit log.
async fn spawn(policy: Policy, secrets: super::Secrets) -> (u16, Audit) {
    let settings = ProxySettings {
        policy,
        gateways: Vec::new(),
        upstream_ca: None,
        secrets_on_stdin: false,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let audit = Audit::default();
    tokio::spawn(serve(listener, settings, secrets, audit.clone()));
    (port, audit)
}

/// Sends `bytes` to the proxy and reads until it closes.
async fn exchange(proxy: u16, bytes: &[u8]) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", proxy)).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_allowed_plain_request_is_forwarded_with_one_request_per_connection() {
    let (up, seen) = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let (port, audit) = proxy(&[format!("127.0.0.1:{up}")], &[]).await;
    let request = format!(
        "GET http://127.0.0.1:{up}/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:{up}\r\nProxy-Connection: keep-alive\r\n\r\n"
    );
    let reply = exchange(port, request.as_bytes()).await;
    assert!(reply.ends_with("\r\n\r\nok"), "{reply}");
    let sent = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
    assert!(sent.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("Connection: close\r\n"), "{sent}");
    assert!(
        !sent.to_ascii_lowercase().contains("proxy-connection"),
        "{sent}"
    );
    let records = audit.records(1).await;
    let r = &records[0];
    assert_eq!((r.decision, r.method.as_str()), (Verdict::Allowed, "GET"));
    assert_eq!(r.rule.as_deref(), Some(format!("127.0.0.1:{up}").as_str()));
    assert_eq!(r.bytes_down, 40);
    assert!(r.bytes_up > 30, "{r:?}");
}

#[tokio::test]
async fn a_host_outside_the_list_gets_a_403_that_explains() {
    let (port, audit) = proxy(&["allowed.test:443".to_owned()], &[]).await;
    let reply = exchange(
        port,
        b"CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{reply}");
    assert!(reply.contains(
        "The berth egress policy of this sandbox blocked other.test:443: it is not in the sandbox's allowlist."
    ));
    let r = &audit.records(1).await[0];
    assert_eq!(r.decision, Verdict::Denied);
    assert_eq!(r.reason.as_deref(), Some("not-allowed"));
    assert_eq!((r.host.as_str(), r.port), ("other.test", 443));
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .contains("add \"other.test:443\" to `allow`")
    );
}

#[tokio::test]
async fn a_tunnel_passes_a_client_hello_naming_the_host_and_nothing_else() {
    let (up, seen) = upstream(b"server-bytes").await;
    let rule = format!("up.test:{up}");
    let (port, audit) = proxy(&[rule], &[("up.test", "127.0.0.1")]).await;
    let mut request = format!("CONNECT up.test:{up} HTTP/1.1\r\n\r\n").into_bytes();
    request.extend(hello(Some("up.test")));
    let reply = exchange(port, &request).await;
    assert_eq!(
        reply,
        "HTTP/1.1 200 Connection established\r\n\r\nserver-bytes"
    );
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        hello(Some("up.test")).as_slice()
    );
    let fronted = {
        let mut r = format!("CONNECT up.test:{up} HTTP/1.1\r\n\r\n").into_bytes();
        r.extend(hello(Some("elsewhere.test")));
        r
    };
    let reply = exchange(port, &fronted).await;
    assert_eq!(reply, "HTTP/1.1 200 Connection established\r\n\r\n");
    let records = audit.records(2).await;
    let (ok, front): (Vec<_>, Vec<_>) =
        records.iter().partition(|r| r.decision == Verdict::Allowed);
    assert_eq!(ok[0].sni.as_deref(), Some("up.test"));
    assert_eq!(ok[0].bytes_down, 12);
    assert_eq!(front[0].reason.as_deref(), Some("sni-mismatch"));
    assert_eq!(front[0].sni.as_deref(), Some("elsewhere.test"));
    // The fronted hello never reached the upstream.
    assert_eq!(seen.lock().unwrap().len(), hello(Some("up.test")).len());
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_unless_the_config_maps_it() {
    let (up, _) = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let (port, audit) = proxy(&[format!("localhost:{up}")], &[]).await;
    let request = format!("GET http://localhost:{up}/ HTTP/1.1\r\nHost: localhost:{up}\r\n\r\n");
    let reply = exchange(port, request.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert!(reply.contains("a loopback address"), "{reply}");
    assert_eq!(
        audit.records(1).await[0].reason.as_deref(),
        Some("forbidden-address")
    );
}

#[tokio::test]
async fn a_host_header_naming_another_host_is_refused() {
    let (up, seen) = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let (port, audit) = proxy(&[format!("127.0.0.1:{up}")], &[]).await;
    let request = format!("GET http://127.0.0.1:{up}/ HTTP/1.1\r\nHost: other.test\r\n\r\n");
    let reply = exchange(port, request.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert_eq!(
        audit.records(1).await[0].reason.as_deref(),
        Some("host-mismatch")
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_request_that_is_not_a_proxy_request_gets_a_400() {
    let (port, audit) = proxy(&["a.test".to_owned()], &[]).await;
    let reply = exchange(port, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("set HTTPS_PROXY"), "{reply}");
    // A refusal before any host was read is still one line of the audit log.
    let record = &audit.records(1).await[0];
    assert_eq!(
        (
            record.decision,
            record.reason.as_deref(),
            record.method.as_str()
        ),
        (Verdict::Denied, Some("bad-request"), "GET")
    );
}

/// A certificate authority of the test's own, and a TLS upstream on loopback with
/// its certificate for `up.test`, answering each request with the Authorization
/// header it got.
async fn tls_upstream() -> (u16, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["up.test".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(conn).await else {
                continue;
            };
            let mut buf = vec![0u8; 4096];
            let n = tls.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let auth = head
                .lines()
                .find_map(|l| l.strip_prefix("Authorization: "))
                .unwrap_or("none")
                .to_owned();
            // Echoes the header back in a header (as some servers do), and
            // says in the body whether it carried the value.
            let verdict = if auth == "Bearer the-value" {
                "match"
            } else {
                "mismatch"
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {auth}\r\nContent-Length: {}\r\n\r\n{verdict}",
                verdict.len()
            );
            let _ = tls.write_all(reply.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    (port, ca.pem())
}

#[tokio::test]
async fn a_bound_secret_is_added_over_intercepted_tls_and_only_for_its_host() {
    use crate::egress::Credential;
    use crate::egress::intercept::Authority;
    let (up, upstream_ca) = tls_upstream().await;
    let authority = Authority::new(upstream_ca.as_bytes()).unwrap();
    let run_ca = authority.certificate_pem();
    let secrets = super::Secrets {
        credentials: vec![Credential {
            name: "TOKEN".to_owned(),
            placeholder: "berth-placeholder-test".to_owned(),
            value: "the-value".to_owned(),
            hosts: vec![format!("up.test:{up}").parse().unwrap()],
        }],
        authority: Some(authority),
    };
    let (port, audit) = proxy_with(
        &[format!("up.test:{up}")],
        &[("up.test", "127.0.0.1")],
        secrets,
    )
    .await;

    let reply = tls_request(
        port,
        up,
        &run_ca,
        &format!("GET / HTTP/1.1\r\nHost: up.test:{up}\r\nAuthorization: Bearer berth-placeholder-test\r\n\r\n"),
    )
    .await;
    // The upstream got the value; its echo comes back as the placeholder.
    assert!(reply.ends_with("\r\n\r\nmatch"), "{reply}");
    assert!(
        reply.contains("X-Seen: Bearer berth-placeholder-test\r\n"),
        "{reply}"
    );
    let record = &audit.records(1).await[0];
    assert_eq!(record.credentials, ["TOKEN"]);
    assert_eq!(record.sni.as_deref(), Some("up.test"));
    assert!(!serde_json::to_string(record).unwrap().contains("the-value"));

    // Inside the tunnel, a request for another host, or one that echoes, is refused.
    for head in [
        "GET / HTTP/1.1\r\nHost: elsewhere.test\r\nAuthorization: Bearer berth-placeholder-test\r\n\r\n".to_owned(),
        format!("TRACE / HTTP/1.1\r\nHost: up.test:{up}\r\nAuthorization: Bearer berth-placeholder-test\r\n\r\n"),
        format!("GET http://elsewhere.test/ HTTP/1.1\r\nHost: up.test:{up}\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: up.test:{up}\r\nHost: elsewhere.test\r\n\r\n"),
    ] {
        let reply = tls_request(port, up, &run_ca, &head).await;
        assert!(reply.starts_with("HTTP/1.1 403"), "{head:?}: {reply}");
        assert!(!reply.contains("the-value"), "{reply}");
    }
    let records = audit.records(5).await;
    assert!(
        records[1..]
            .iter()
            .all(|r| r.reason.as_deref() == Some("bad-request")),
        "{records:?}"
    );
}

/// One request through the proxy's tunnel to `up.test`, trusting the run's CA only
/// (as the sandbox does through SSL_CERT_FILE); the whole reply.
async fn tls_request(port: u16, up: u16, run_ca: &str, head: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        <rustls_pki_types::CertificateDer as rustls_pki_types::pem::PemObject>::pem_slice_iter(
            run_ca.as_bytes(),
        )
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    conn.write_all(format!("CONNECT up.test:{up} HTTP/1.1\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut established = [0u8; 39];
    conn.read_exact(&mut established).await.unwrap();
    assert_eq!(
        &established[..],
        b"HTTP/1.1 200 Connection established\r\n\r\n"
    );
    let name = rustls_pki_types::ServerName::try_from("up.test").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client))
        .connect(name, conn)
        .await
        .expect("the client trusts the leaf the proxy made");
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply).await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_pipelined_request_is_never_forwarded() {
    let (up, seen) = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let (port, _) = proxy(&[format!("127.0.0.1:{up}")], &[]).await;
    let request = format!(
        "POST http://127.0.0.1:{up}/a HTTP/1.1\r\nHost: 127.0.0.1:{up}\r\nContent-Length: 4\r\n\r\nbodyGET /b HTTP/1.1\r\nHost: evil.test\r\n\r\n"
    );
    let reply = exchange(port, request.as_bytes()).await;
    assert!(reply.ends_with("ok"), "{reply}");
    let sent = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
    assert!(sent.ends_with("\r\n\r\nbody"), "{sent}");
    assert!(!sent.contains("evil.test"), "{sent}");
}

#[tokio::test]
async fn heads_that_servers_could_read_differently_are_refused() {
    let (port, _) = proxy(&["a.test:80".to_owned()], &[("a.test", "127.0.0.1")]).await;
    for head in [
        "GET http://a.test/ HTTP/1.1\r\nHost: evil.test\r\nHost: a.test\r\n\r\n",
        "GET http://a.test/ HTTP/1.1\r\nX: y\r\n Host: a.test\r\n\r\n",
        "GET http://a.test/ HTTP/1.1\r\nHost : a.test\r\n\r\n",
        "GET http://a.test/ HTTP/1.1\r\nX: a\nHost: evil.test\r\n\r\n",
        "POST http://a.test/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let reply = exchange(port, head.as_bytes()).await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{head:?}: {reply}");
    }
}

#[tokio::test]
async fn an_open_policy_still_never_connects_to_forbidden_addresses() {
    let (port, audit) = open_proxy().await;
    let reply = exchange(port, b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    let reply = exchange(
        port,
        b"GET http://169.254.169.254/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
    )
    .await;
    assert!(reply.contains("cloud metadata"), "{reply}");
    assert!(
        audit
            .records(2)
            .await
            .iter()
            .all(|r| r.reason.as_deref() == Some("forbidden-address"))
    );
}
