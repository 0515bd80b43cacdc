//! The egress allowlist against the real engine, under runc and runsc: a sandbox
//! whose config allows a few names reaches them through its proxy (TLS and plain
//! http), and nothing else: not other names, not a fronted ClientHello, not an IP
//! directly (the upstream's, or the host's at its network's gateway and at
//! docker0's), not DNS, not a link-local address. Every decision is in the audit
//! log, and `berth rm` removes the proxy, the networks and the log.
//!
//! Every target is a server this test starts: an upstream container (python, from
//! the local test image) that it joins to the run's egress network under the
//! allowed names, and a listener on the host. Needs berth-helper, built by
//! scripts/build-helper.sh (scripts/test.sh runs it).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_tests::{
    Scratch, audit_records, describe, docker, docker_format, egress_upstream, egress_workspace,
    leftovers, require_engine, run,
};
use serde_json::Value;

const IMAGE: &str = "berth-test/mcp:latest";

/// A self-signed certificate for the upstream's names, made with openssl.
fn certificate(dir: &Path) {
    let out = run(std::process::Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=up.example.test",
            "-addext",
            "subjectAltName=DNS:up.example.test,DNS:other.example.test,DNS:denied.test",
        ]));
    assert!(out.status.success(), "openssl: {}", describe(&out));
    // The upstream runs as another user than the test.
    let key = dir.join("key.pem");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod key.pem");
}

/// A listener on every host address that counts connections: the host service a
/// sandbox must not reach.
fn host_service() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("0.0.0.0:0").expect("bind a host port");
    let port = listener.local_addr().expect("local address").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if conn.is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (port, hits)
}

fn allowlist_holds(runtime: &str) {
    require_engine();
    let s = Scratch::new(&format!("egress-{runtime}"));
    let work = egress_workspace(&s, &["client.py", "upstream.py"]);
    certificate(&work);
    let config = s.write_config(
        "berth.toml",
        &format!(
            "image = \"{IMAGE}\"\ncommand = [\"sleep\", \"600\"]\n\n\
             [workspace]\npath = \"{}\"\nmount = \"/work\"\nread_only = true\n\n\
             [network]\npolicy = \"allowlist\"\n\
             allow = [\"up.example.test:8443\", \"plain.test:8080\", \"*.wild.test:8080\"]\n",
            work.display()
        ),
    );
    let out = run(s
        .berth()
        .args(["run", "-d", "--runtime", runtime, "-f"])
        .arg(&config));
    assert!(out.status.success(), "run -d: {}", describe(&out));
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let run_id = docker_format(
        &["inspect", &name],
        "{{index .Config.Labels \"berth.run-id\"}}",
    );
    assert_eq!(run_id.len(), 12, "run id of {name}: {run_id:?}");

    // The upstream joins the run's egress network under the names the test uses.
    let egress_net = format!("berth-{run_id}-egress");
    let (upstream, upstream_ip) = egress_upstream(
        &s,
        IMAGE,
        &egress_net,
        &[
            "up.example.test",
            "plain.test",
            "a.wild.test",
            "wild.test",
            "denied.test",
        ],
        &[],
        &work,
    );

    let (host_port, host_hits) = host_service();
    let gateway = |net: &str| {
        docker_format(
            &["network", "inspect", net],
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        )
    };
    let internal_gateway = gateway(&format!("berth-{run_id}-internal"));
    let docker0 = gateway("bridge");
    let targets = [
        format!("{upstream_ip}:8080"),
        format!("{internal_gateway}:{host_port}"),
        format!("{docker0}:{host_port}"),
    ];
    // Follows the audit log from before the first request until the proxy goes.
    let follower = s
        .berth()
        .args(["egress", "-f", "--format", "json", &name])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn berth egress -f");
    let out = run(s
        .berth()
        .args(["exec", &name, "--", "python3", "/work/client.py"])
        .args(&targets));
    assert!(out.status.success(), "client: {}", describe(&out));
    let results: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let field = |key: &str| results[key].clone();

    assert_eq!(field("tls")["status"], 200, "{results:#}");
    assert_eq!(field("tls")["body"], "/tls for up.example.test:8443");
    assert_eq!(
        field("plain")["body"],
        "/plain for plain.test:8080",
        "{results:#}"
    );
    assert_eq!(
        field("wildcard_sub")["body"],
        "/sub for a.wild.test:8080",
        "{results:#}"
    );
    for denied in ["denied", "wildcard_parent", "link_local"] {
        assert_eq!(field(denied)["status"], 403, "{denied}: {results:#}");
    }
    let body = field("denied")["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        body.starts_with("The berth egress policy of this sandbox blocked denied.test:8080")
            && body.contains("add \"denied.test:8080\" to `allow` under [network] in berth.toml"),
        "{body}"
    );
    let tunnel = field("denied_tls")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(tunnel.contains("403"), "denied CONNECT: {results:#}");
    let fronted = field("fronted");
    assert_eq!(
        fronted["connect"], "HTTP/1.1 200 Connection established",
        "{results:#}"
    );
    assert!(
        fronted["error"].is_string() && fronted["body"].is_null(),
        "fronted: {results:#}"
    );
    for target in &targets {
        let reached = results["direct"][target].as_str().unwrap_or_default();
        assert_ne!(
            reached, "connected",
            "{target} was reached directly: {results:#}"
        );
    }
    assert_eq!(
        host_hits.load(Ordering::SeqCst),
        0,
        "the host service was reached"
    );
    let dns = field("dns");
    let answered = dns
        .as_str()
        .is_some_and(|d| d.parse::<std::net::IpAddr>().is_ok());
    assert!(!answered, "a lookup answered: {results:#}");

    // One audit line per decision, in the order the client made them.
    let out = run(s.berth().args(["egress", &name, "--format", "json"]));
    assert!(out.status.success(), "egress: {}", describe(&out));
    let records = audit_records(&String::from_utf8_lossy(&out.stdout));
    let summary: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                format!("{}:{}", r["host"].as_str().unwrap_or(""), r["port"]),
                r["decision"].as_str().unwrap_or("").to_owned(),
                // What decided: the rule that allowed it, or why it was denied.
                match r["decision"].as_str() {
                    Some("denied") => r["reason"].as_str(),
                    _ => r["rule"].as_str(),
                }
                .unwrap_or("")
                .to_owned(),
            )
        })
        .collect();
    let expect = |t: &str, d: &str, w: &str| (t.to_owned(), d.to_owned(), w.to_owned());
    assert_eq!(
        summary,
        vec![
            expect("up.example.test:8443", "allowed", "up.example.test:8443"),
            expect("plain.test:8080", "allowed", "plain.test:8080"),
            expect("denied.test:8080", "denied", "not-allowed"),
            expect("denied.test:8443", "denied", "not-allowed"),
            expect("a.wild.test:8080", "allowed", "*.wild.test:8080"),
            expect("wild.test:8080", "denied", "not-allowed"),
            expect("169.254.169.254:80", "denied", "not-allowed"),
            expect("up.example.test:8443", "denied", "sni-mismatch"),
        ],
        "{records:#?}"
    );
    let tls = &records[0];
    assert_eq!(tls["sni"], "up.example.test");
    assert_eq!(tls["method"], "CONNECT");
    assert!(
        tls["bytes_up"].as_u64() > Some(100) && tls["bytes_down"].as_u64() > Some(100),
        "{tls}"
    );
    assert!(tls["time"].as_str().is_some_and(|t| t.ends_with('Z')) && tls["client"].is_string());
    assert_eq!(records[7]["sni"], "other.example.test");
    let table = run(s.berth().args(["egress", &name]));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("TIME ") && text.lines().count() == 9,
        "{text}"
    );

    // rm removes the sandbox, its proxy, both networks and so the log.
    let out = run(docker().args(["rm", "-f", &upstream]));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(s.berth().args(["rm", "-f", &name]));
    assert!(out.status.success(), "rm: {}", describe(&out));
    let followed = follower
        .wait_with_output()
        .expect("berth egress -f ends with the proxy");
    let followed = String::from_utf8_lossy(&followed.stdout);
    assert_eq!(
        followed.lines().count(),
        8,
        "egress -f saw every decision:\n{followed}"
    );
    let (c, n, v) = leftovers(&format!("berth.run-id={run_id}"));
    assert!(
        c.is_empty() && n.is_empty() && v.is_empty(),
        "left: {c:?} {n:?} {v:?}"
    );
    let out = run(s.berth().args(["egress", &run_id]));
    assert!(
        !out.status.success(),
        "the log outlived the run: {}",
        describe(&out)
    );
    assert_eq!(s.records(), 0, "a run record is left");
}

#[test]
fn the_allowlist_holds_under_runc() {
    allowlist_holds("docker");
}

#[test]
fn the_allowlist_holds_under_runsc() {
    allowlist_holds("gvisor");
}
