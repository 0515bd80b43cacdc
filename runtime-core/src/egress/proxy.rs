//! The egress proxy: an HTTP proxy that lets a sandbox reach only what its policy
//! allows. It takes `CONNECT host:port` (TLS, checked against the ClientHello's
//! server name) and absolute `http://` requests (checked against their `Host`
//! header), resolves names itself after the policy check, connects only to an
//! address it has checked, and writes one [`AuditRecord`] per decision.
//!
//! A plain request is forwarded with `Connection: close`, so one connection carries
//! one checked request. A tunnel carries only what follows a client's first bytes:
//! a protocol where the server speaks first gets no tunnel.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::intercept::{Authority, Prefixed, swap_headers};
use super::{
    AuditRecord, ClientHello, Credential, Denial, Host, ProxySettings, Verdict, client_hello,
    forbidden,
};

/// The most a request head may take.
const MAX_HEAD: usize = 16 * 1024;
/// The most a ClientHello record may take: a TLS record's largest, with its header.
const MAX_HELLO: usize = 5 + 16 * 1024;
/// How long a client may take to send its request head or its first tunnel bytes.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most connections the proxy serves at once.
const MAX_CONNECTIONS: usize = 512;
/// How long connecting to an upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a name's addresses are reused before it is resolved again. Each use
/// checks the address again, so a cached answer cannot bypass the policy.
const RESOLVED_FOR: Duration = Duration::from_secs(10);

/// Names resolved lately, with when.
type Resolutions =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<IpAddr>)>>;

/// The proxy's state shared by its connections.
struct Shared {
    settings: ProxySettings,
    resolved: Resolutions,
    credentials: Vec<Credential>,
    authority: Option<Authority>,
}

/// An allowed record with nothing decided yet but what the request named.
fn blank_record(
    time: String,
    peer: SocketAddr,
    method: String,
    host: String,
    port: u16,
) -> AuditRecord {
    AuditRecord {
        time,
        client: peer.to_string(),
        method,
        host,
        port,
        sni: None,
        decision: Verdict::Allowed,
        rule: None,
        reason: None,
        message: None,
        address: None,
        error: None,
        credentials: Vec::new(),
        warning: None,
        bytes_up: 0,
        bytes_down: 0,
    }
}

/// Secrets bound to hosts, and the run's authority that intercepts TLS to them.
pub struct Secrets {
    /// The secrets, values included.
    pub credentials: Vec<Credential>,
    /// The authority; `None` when no secret is bound.
    pub authority: Option<Authority>,
}

/// Serves proxy clients from `listener` until it fails, writing each decision as a
/// JSON line to `audit` (flushed per line).
pub async fn serve(
    listener: TcpListener,
    settings: ProxySettings,
    secrets: Secrets,
    audit: impl Write + Send + 'static,
) -> io::Result<()> {
    let shared = Arc::new(Shared {
        settings,
        resolved: Resolutions::default(),
        credentials: secrets.credentials,
        authority: secrets.authority,
    });
    let (tx, rx) = mpsc::unbounded_channel::<AuditRecord>();
    std::thread::spawn(move || write_audit(rx, audit));
    // At most this many connections at once: each holds an upstream socket too.
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors for a moment: the proxy goes on, as it must.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Some(record) = handle(client, peer, &shared).await {
                let _ = tx.send(record);
            }
            drop(permit);
        });
    }
}

fn write_audit(mut rx: mpsc::UnboundedReceiver<AuditRecord>, mut out: impl Write) {
    while let Some(record) = rx.blocking_recv() {
        let Ok(mut line) = serde_json::to_vec(&record) else {
            continue;
        };
        line.push(b'\n');
        if out.write_all(&line).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a request asks for.
struct Request {
    method: String,
    host: Host,
    port: u16,
    /// For plain http: the head to send upstream.
    forward: Option<Vec<u8>>,
    /// For plain http: the `Host` header's value.
    host_header: Option<String>,
    /// For plain http: how many body bytes the request has (`None`: chunked, or a
    /// tunnel). Nothing after them is forwarded: one connection, one request.
    body: Option<u64>,
    /// Bytes the client sent after the head.
    rest: Vec<u8>,
}

/// Handles one client; `None` when it sent no request worth a record.
async fn handle(mut client: TcpStream, peer: SocketAddr, shared: &Shared) -> Option<AuditRecord> {
    let settings = &shared.settings;
    let _ = client.set_nodelay(true);
    let time = now();
    let head = match tokio::time::timeout(CLIENT_TIMEOUT, read_head(&mut client)).await {
        Ok(Ok(Some(head))) => head,
        _ => return None,
    };
    // The request line's method, kept for the record of a refused request.
    let method = head
        .0
        .split(|&b| b == b' ')
        .next()
        .map(|m| String::from_utf8_lossy(&m[..m.len().min(32)]).into_owned())
        .unwrap_or_default();
    let request = match parse_request(head) {
        Ok(request) => request,
        Err(why) => {
            let _ = respond(&mut client, 400, "Bad Request", why).await;
            // Refused before any host was read: a decision all the same.
            return Some(AuditRecord {
                decision: Verdict::Denied,
                reason: Some("bad-request".to_owned()),
                message: Some(why.to_owned()),
                ..blank_record(time, peer, method, String::new(), 0)
            });
        }
    };
    let mut record = blank_record(
        time,
        peer,
        request.method.clone(),
        request.host.to_string(),
        request.port,
    );
    let bound: Vec<&Credential> = shared
        .credentials
        .iter()
        .filter(|c| {
            c.hosts
                .iter()
                .any(|r| r.matches(&request.host, request.port))
        })
        .collect();
    let policy = &settings.policy;
    let Some(rule) = policy.allows(&request.host, request.port) else {
        deny(&mut client, &mut record, &request, Denial::NotAllowed, true).await;
        return Some(record);
    };
    record.rule = Some(rule);
    if let Some(header) = &request.host_header
        && !same_authority(header, &request.host, request.port)
    {
        let denial = Denial::HostMismatch {
            header: header.clone(),
        };
        deny(&mut client, &mut record, &request, denial, true).await;
        return Some(record);
    }
    let address = match resolve(&request, shared).await {
        Ok(address) => address,
        Err(Resolved::Denied(denial)) => {
            deny(&mut client, &mut record, &request, denial, true).await;
            return Some(record);
        }
        Err(Resolved::Failed(error)) => {
            let text = format!(
                "berth's egress proxy could not reach {}:{}: {error}",
                request.host, request.port
            );
            let _ = respond(&mut client, 502, "Bad Gateway", &text).await;
            record.error = Some(error);
            return Some(record);
        }
    };
    let target = SocketAddr::new(address, request.port);
    record.address = Some(target.to_string());
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Some(failed(&mut client, record, &request, e.to_string()).await),
        Err(_) => {
            return Some(
                failed(
                    &mut client,
                    record,
                    &request,
                    "connection timed out".to_owned(),
                )
                .await,
            );
        }
    };
    let _ = upstream.set_nodelay(true);
    let first = match &request.forward {
        Some(head) => {
            // Plain http: a placeholder goes out as it is, and is worth a look.
            record.warning = placeholder_warning(head, &shared.credentials, &bound);
            let mut bytes = head.clone();
            bytes.extend(&request.rest);
            bytes
        }
        None => {
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                return Some(record);
            }
            let bytes = match tokio::time::timeout(
                CLIENT_TIMEOUT,
                read_hello(&mut client, request.rest.clone()),
            )
            .await
            {
                Ok(Ok(bytes)) => bytes,
                _ => {
                    record.error = Some("the client sent nothing through the tunnel".to_owned());
                    return Some(record);
                }
            };
            match client_hello(&bytes) {
                ClientHello::NotTls => {}
                ClientHello::Complete { sni } => {
                    record.sni = sni.clone();
                    if let Some(sni) = sni
                        && sni != request.host.to_string().trim_matches(['[', ']'])
                    {
                        deny(
                            &mut client,
                            &mut record,
                            &request,
                            Denial::SniMismatch { sni },
                            false,
                        )
                        .await;
                        return Some(record);
                    }
                    if let (false, Some(authority)) = (bound.is_empty(), &shared.authority) {
                        let host = request.host.to_string();
                        let host = host.trim_matches(['[', ']']);
                        intercept(
                            client,
                            bytes,
                            upstream,
                            host,
                            (&bound[..], &shared.credentials[..]),
                            authority,
                            &mut record,
                        )
                        .await;
                        return Some(record);
                    }
                }
                ClientHello::Incomplete | ClientHello::Malformed => {
                    let denial = Denial::SniMismatch {
                        sni: "(a ClientHello berth cannot read)".to_owned(),
                    };
                    deny(&mut client, &mut record, &request, denial, false).await;
                    return Some(record);
                }
            }
            bytes
        }
    };
    // A plain request's message is its head and body: whatever the client sends
    // after it (a pipelined request) is not forwarded.
    let limit = request
        .forward
        .as_ref()
        .and(request.body)
        .map(|body| body.saturating_sub(request.rest.len() as u64));
    let first = match (&request.forward, request.body) {
        (Some(head), Some(body)) => {
            let take = usize::try_from(body)
                .unwrap_or(usize::MAX)
                .min(request.rest.len());
            let mut bytes = head.clone();
            bytes.extend(&request.rest[..take]);
            if upstream.write_all(&bytes).await.is_err() {
                return Some(record);
            }
            bytes
        }
        _ => {
            if upstream.write_all(&first).await.is_err() {
                return Some(record);
            }
            first
        }
    };
    record.bytes_up = first.len() as u64;
    let (up, down) = splice(client, upstream, limit, None).await;
    record.bytes_up += up;
    record.bytes_down = down;
    Some(record)
}

/// What an audit line says of placeholders in a plain request's headers: sent to
/// a host their secret is not bound to, or over plain http (never replaced there).
fn placeholder_warning(head: &[u8], all: &[Credential], bound: &[&Credential]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let seen: Vec<&Credential> = all
        .iter()
        .filter(|c| text.contains(&c.placeholder))
        .collect();
    if seen.is_empty() {
        return None;
    }
    let names: Vec<&str> = seen.iter().map(|c| c.name.as_str()).collect();
    let why = if seen.iter().all(|c| bound.iter().any(|b| b.name == c.name)) {
        "over plain http, where berth never adds a value"
    } else {
        "to a host it is not bound to"
    };
    Some(format!(
        "the placeholder of {} was sent {why}: forwarded unchanged, without the value",
        names.join(", ")
    ))
}

/// Terminates the client's TLS with a leaf of the run's authority, opens TLS to
/// the upstream (verified against the trusted roots), and forwards one request
/// with the bound secrets' placeholders replaced in its headers.
async fn intercept(
    client: TcpStream,
    hello: Vec<u8>,
    upstream: TcpStream,
    host: &str,
    (bound, all): (&[&Credential], &[Credential]),
    authority: &Authority,
    record: &mut AuditRecord,
) {
    let server = match authority.server(host) {
        Ok(server) => server,
        Err(e) => {
            record.error = Some(e);
            return;
        }
    };
    let accepting = tokio_rustls::TlsAcceptor::from(server).accept(Prefixed::new(hello, client));
    let mut inside = match tokio::time::timeout(CLIENT_TIMEOUT, accepting)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    {
        Ok(stream) => stream,
        Err(e) => {
            record.error = Some(format!("the client's TLS handshake failed: {e}"));
            return;
        }
    };
    let Ok(name) = rustls_pki_types::ServerName::try_from(host.to_owned()) else {
        record.error = Some(format!("{host} is not a TLS server name"));
        return;
    };
    let connecting = tokio_rustls::TlsConnector::from(authority.upstream()).connect(name, upstream);
    let mut outside = match tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    {
        Ok(stream) => stream,
        Err(e) => {
            record.error = Some(format!("the upstream's TLS failed: {e}"));
            let _ = respond(
                &mut inside,
                502,
                "Bad Gateway",
                &format!("berth's egress proxy could not verify {host}: {e}"),
            )
            .await;
            return;
        }
    };
    let (head, rest) = match tokio::time::timeout(CLIENT_TIMEOUT, read_head(&mut inside)).await {
        Ok(Ok(Some(head))) => head,
        _ => {
            record.error = Some("the client sent no request".to_owned());
            return;
        }
    };
    // The request inside the tunnel is for the host the tunnel was allowed for:
    // one Host, naming it, an origin-form target, and a method that does not echo.
    let text = String::from_utf8_lossy(&head).into_owned();
    let port = record.port;
    let checked = strict_head(&text).and_then(|host_header| {
        let mut parts = text.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if ["TRACE", "TRACK"]
            .iter()
            .any(|m| method.eq_ignore_ascii_case(m))
        {
            return Err("TRACE and TRACK echo the request, value included");
        }
        if !target.starts_with('/') {
            return Err("the request target is not a path");
        }
        match host_header {
            Some(h) if same_tls_authority(&h, host, port) => Ok(()),
            _ => Err("the Host header does not name the host of the tunnel"),
        }
    });
    let body = checked.and_then(|()| body_length(&text));
    let body = match body {
        Ok(body) => body,
        Err(why) => {
            let message = format!(
                "The berth egress policy of this sandbox refused a request to {host} carrying a bound secret: {why}."
            );
            let _ = respond(&mut inside, 403, "Forbidden", &message).await;
            record.decision = Verdict::Denied;
            record.reason = Some("bad-request".to_owned());
            record.message = Some(message);
            return;
        }
    };
    let head = one_request(&head);
    let (head, swapped) = swap_headers(&head, bound);
    record.credentials = swapped;
    // What is left is a placeholder of a secret bound elsewhere.
    record.warning = placeholder_warning(&head, all, &[]);
    let take = body.map_or(rest.len(), |b| {
        usize::try_from(b).unwrap_or(usize::MAX).min(rest.len())
    });
    let limit = body.map(|b| b.saturating_sub(take as u64));
    let mut first = head;
    first.extend(&rest[..take]);
    if outside.write_all(&first).await.is_err() {
        return;
    }
    record.bytes_up = first.len() as u64;
    let scrub: Vec<(String, String)> = bound
        .iter()
        .map(|c| (c.value.clone(), c.placeholder.clone()))
        .collect();
    let (up, down) = splice(inside, outside, limit, Some(&scrub)).await;
    record.bytes_up += up;
    record.bytes_down = down;
}

/// Copies both ways until each side has closed its half, and returns the bytes
/// each way (sandbox to upstream, then back), counted even when a side ends with
/// an error (a TLS peer that closes without notice).
///
/// Client to upstream, at most `limit` bytes are forwarded (the rest of the
/// request's body; later bytes are read and dropped). Upstream to client, the
/// response head has each `(value, placeholder)` of `scrub` put back to its
/// placeholder, so a server that echoes a header does not hand the value in.
async fn splice(
    client: impl AsyncRead + AsyncWrite + Unpin,
    upstream: impl AsyncRead + AsyncWrite + Unpin,
    limit: Option<u64>,
    scrub: Option<&[(String, String)]>,
) -> (u64, u64) {
    async fn pump(
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
        mut limit: Option<u64>,
    ) -> u64 {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let take = limit.map_or(n, |l| n.min(usize::try_from(l).unwrap_or(usize::MAX)));
            if take > 0 && to.write_all(&buf[..take]).await.is_err() {
                break;
            }
            total += take as u64;
            if let Some(l) = limit.as_mut() {
                *l -= take as u64;
            }
        }
        let _ = to.shutdown().await;
        total
    }
    async fn scrubbed(
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
        scrub: &[(String, String)],
    ) -> u64 {
        let Ok(Some((head, rest))) = read_head(&mut from).await else {
            let _ = to.shutdown().await;
            return 0;
        };
        let mut text = String::from_utf8_lossy(&head).into_owned();
        for (value, placeholder) in scrub {
            text = text.replace(value.as_str(), placeholder);
        }
        let mut first = text.into_bytes();
        first.extend(rest);
        if to.write_all(&first).await.is_err() {
            return 0;
        }
        first.len() as u64 + pump(from, to, None).await
    }
    let (c_read, c_write) = tokio::io::split(client);
    let (u_read, u_write) = tokio::io::split(upstream);
    match scrub {
        Some(scrub) => tokio::join!(
            pump(c_read, u_write, limit),
            scrubbed(u_read, c_write, scrub)
        ),
        None => tokio::join!(pump(c_read, u_write, limit), pump(u_read, c_write, None)),
    }
}

/// Whether a Host header inside TLS names `host` (its port defaulting to 443).
fn same_tls_authority(header: &str, host: &str, port: u16) -> bool {
    let Ok(want) = Host::parse(host) else {
        return false;
    };
    authority(header.trim(), Some(443)).is_ok_and(|(h, p)| h == want && p == port)
}

/// A request head with `Connection: close`, so the connection carries this one
/// request: each request on it is one that was checked.
fn one_request(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.split_inclusive("\r\n") {
        let name = line.split(':').next().unwrap_or_default().trim();
        if line == "\r\n" {
            continue;
        }
        if ["connection", "keep-alive", "proxy-connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out.push_str(line);
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

async fn failed(
    client: &mut TcpStream,
    mut record: AuditRecord,
    request: &Request,
    error: String,
) -> AuditRecord {
    let text = format!(
        "berth's egress proxy could not reach {}:{}: {error}",
        request.host, request.port
    );
    let _ = respond(client, 502, "Bad Gateway", &text).await;
    record.error = Some(error);
    record
}

/// Refuses: a 403 with the agent's explanation when the client still reads HTTP
/// (`answer`), else the connection just closes.
async fn deny(
    client: &mut TcpStream,
    record: &mut AuditRecord,
    request: &Request,
    denial: Denial,
    answer: bool,
) {
    let message = denial.message(&request.host, request.port);
    if answer {
        let _ = respond(client, 403, "Forbidden", &message).await;
    }
    record.decision = Verdict::Denied;
    record.reason = Some(denial.kind().to_owned());
    record.message = Some(message);
}

async fn respond(
    client: &mut (impl AsyncWrite + Unpin),
    status: u16,
    reason: &str,
    body: &str,
) -> io::Result<()> {
    let body = format!("{body}\n");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-Berth-Egress: {}\r\n\r\n",
        body.len(),
        if status == 403 { "denied" } else { "error" },
    );
    client.write_all(head.as_bytes()).await?;
    client.write_all(body.as_bytes()).await?;
    client.shutdown().await
}

/// Reads up to the end of the request head; `None` when the client closes first
/// or the head is too long. Returns the head and what followed it.
async fn read_head(
    client: &mut (impl AsyncRead + Unpin),
) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        // Only the new bytes (and the three before them) can complete the end.
        let from = buf.len().saturating_sub(3);
        buf.extend(&chunk[..n]);
        if let Some(at) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(from + at + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// Reads until the tunnel's first bytes say what they are.
async fn read_hello(client: &mut TcpStream, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    while client_hello(&buf) == ClientHello::Incomplete && buf.len() <= MAX_HELLO {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend(&chunk[..n]);
    }
    if buf.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

/// `host:port` of an authority; `default` when it has no port.
fn authority(text: &str, default: Option<u16>) -> Result<(Host, u16), &'static str> {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            (h, p.parse::<u16>().map_err(|_| "the port is not a number")?)
        }
        _ => (text, default.ok_or("CONNECT needs host:port")?),
    };
    Ok((Host::parse(host)?, port))
}

fn same_authority(header: &str, host: &Host, port: u16) -> bool {
    authority(header.trim(), Some(80)).is_ok_and(|(h, p)| &h == host && p == port)
}

/// Refuses a request head that servers could read differently than the proxy: a
/// bare CR or LF, a folded line, a header name that is not a token (or has space
/// before its colon), control characters, or more than one Host. Returns the Host
/// header's value, if any.
fn strict_head(text: &str) -> Result<Option<String>, &'static str> {
    let body = text.strip_suffix("\r\n\r\n").unwrap_or(text);
    let mut host = None;
    for (i, line) in body.split("\r\n").enumerate() {
        if line.contains(['\r', '\n']) {
            return Err("the request head has a bare CR or LF");
        }
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err("the request head has control characters");
        }
        if i == 0 {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err("a header line has no colon");
        };
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err("a header name is not a token (a folded line, or space before the colon)");
        }
        if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err("the request has more than one Host header");
            }
            host = Some(value.trim().to_owned());
        }
    }
    Ok(host)
}

/// How many body bytes follow a request head: `Some(n)` for a Content-Length (0
/// when there is none), `None` for a chunked body, whose end the proxy does not
/// parse. Refuses a head with both, or a Transfer-Encoding other than chunked.
fn body_length(text: &str) -> Result<Option<u64>, &'static str> {
    let mut length = None;
    let mut chunked = false;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| "the Content-Length is not a number")?;
            if length.is_some_and(|l| l != n) {
                return Err("the request has two different Content-Lengths");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.trim().eq_ignore_ascii_case("chunked") {
                return Err("a Transfer-Encoding other than chunked");
            }
            chunked = true;
        }
    }
    match (length, chunked) {
        (Some(_), true) => Err("the request has both a Content-Length and a Transfer-Encoding"),
        (_, true) => Ok(None),
        (length, false) => Ok(Some(length.unwrap_or(0))),
    }
}

fn parse_request((head, rest): (Vec<u8>, Vec<u8>)) -> Result<Request, &'static str> {
    let text = std::str::from_utf8(&head).map_err(|_| "the request head is not text")?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the request line is not METHOD TARGET VERSION");
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = authority(target, None)?;
        return Ok(Request {
            method: "CONNECT".to_owned(),
            host,
            port,
            forward: None,
            host_header: None,
            body: None,
            rest,
        });
    }
    let lower = target.to_ascii_lowercase();
    let Some(after) = lower.strip_prefix("http://").map(|_| &target[7..]) else {
        return Err(
            "berth's egress proxy takes CONNECT host:port or an absolute http:// URL; \
             for https, the client sends CONNECT (set HTTPS_PROXY)",
        );
    };
    let (auth, path) = after
        .find(['/', '?'])
        .map_or((after, "/"), |i| after.split_at(i));
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let (host, port) = authority(auth, Some(80))?;
    let host_header = strict_head(text)?;
    let body = body_length(text)?;
    let mut forward = format!("{method} {path} {version}\r\n");
    for header in lines.filter(|l| !l.is_empty()) {
        let name = header.split(':').next().unwrap_or_default().trim();
        if [
            "proxy-connection",
            "proxy-authorization",
            "connection",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        forward.push_str(header);
        forward.push_str("\r\n");
    }
    if host_header.is_none() {
        forward.push_str(&format!("Host: {auth}\r\n"));
    }
    forward.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        method: method.to_owned(),
        host,
        port,
        forward: Some(forward.into_bytes()),
        host_header,
        body,
        rest,
    })
}

enum Resolved {
    Denied(Denial),
    Failed(String),
}

/// The address to connect to: the config's own (an IP rule or a `hosts` entry),
/// or the first address the name resolves to that is not forbidden.
async fn resolve(request: &Request, shared: &Shared) -> Result<IpAddr, Resolved> {
    let settings = &shared.settings;
    let policy = &settings.policy;
    if let Some(ip) = request.host.ip() {
        // The config names this very address, or it is checked like a resolved one
        // (an open policy lets any host through).
        let named = policy
            .rule_for(&request.host, request.port)
            .is_some_and(|r| r.ip() == Some(ip));
        return match (named, forbidden(ip, &settings.gateways)) {
            (false, Some(why)) => Err(Resolved::Denied(Denial::ForbiddenAddress {
                address: ip,
                why,
            })),
            _ => Ok(ip),
        };
    }
    if let Some(ip) = policy.static_address(&request.host) {
        return Ok(ip);
    }
    let name = request.host.to_string();
    let cached = shared.resolved.lock().ok().and_then(|cache| {
        cache
            .get(&name)
            .filter(|(when, _)| when.elapsed() < RESOLVED_FOR)
            .map(|(_, addresses)| addresses.clone())
    });
    let addresses = match cached {
        Some(addresses) => addresses,
        None => {
            let addresses: Vec<IpAddr> = tokio::net::lookup_host((name.as_str(), request.port))
                .await
                .map_err(|e| Resolved::Failed(format!("{name} does not resolve: {e}")))?
                .map(|a| a.ip())
                .collect();
            if let Ok(mut cache) = shared.resolved.lock() {
                cache.retain(|_, (when, _)| when.elapsed() < RESOLVED_FOR);
                cache.insert(name.clone(), (std::time::Instant::now(), addresses.clone()));
            }
            addresses
        }
    };
    let mut refusal = None;
    for address in &addresses {
        match forbidden(*address, &settings.gateways) {
            None => return Ok(*address),
            Some(why) => {
                refusal.get_or_insert(Denial::ForbiddenAddress {
                    address: *address,
                    why,
                });
            }
        }
    }
    Err(refusal.map_or_else(
        || Resolved::Failed(format!("{name} resolves to no address")),
        Resolved::Denied,
    ))
}

#[cfg(test)]
mod tests;
