//! Secrets bound to hosts, against the real engine: the sandbox holds a
//! placeholder, the egress proxy adds the value only to requests for the bound
//! host (TLS intercepted with the run's own CA, which python and curl trust
//! with no flags), and the value is nowhere berth writes or shows: not in the sandbox's
//! environment, `docker inspect` of the sandbox or the proxy, `berth ps`,
//! `berth plan`, berth's debug log, or the audit log. The CA's key is in no file
//! the sandbox can read.
//!
//! The upstream is the test's own python server (local image) with a certificate
//! from a test CA the test makes with openssl, which the proxy trusts through
//! `[network] upstream_ca`. Needs berth-helper (scripts/build-helper.sh).

use std::path::Path;

use berth_tests::{
    Scratch, audit_records, describe, docker, docker_format, egress_upstream, egress_workspace,
    leftovers, require_engine, run,
};
use serde_json::Value;

const IMAGE: &str = "berth-test/mcp:latest";
const SECRET: &str = "BERTH_TEST_TOKEN";

fn openssl(dir: &Path, args: &[&str]) {
    let out = run(std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args));
    assert!(out.status.success(), "openssl {args:?}: {}", describe(&out));
}

/// A test CA (ca.pem) and the upstream's certificate signed by it (cert.pem,
/// key.pem) for its two names.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=berth test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
            "-subj",
            "/CN=up.example.test",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:up.example.test,DNS:other.example.test\n",
    )
    .expect("write san.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
    for file in ["key.pem", "ca-key.pem"] {
        std::fs::set_permissions(
            dir.join(file),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .expect("chmod");
    }
}

fn bound_secret_reaches_only_its_host(runtime: &str) {
    require_engine();
    let s = Scratch::new(&format!("credentials-{runtime}"));
    let work = egress_workspace(&s, &["credential_client.py", "upstream.py"]);
    certificates(&work);
    let value = format!("s3cret-{}", std::process::id());
    let config = s.write_config(
        "berth.toml",
        &format!(
            "image = \"{IMAGE}\"\ncommand = [\"sleep\", \"600\"]\n\n\
             [workspace]\npath = \"{}\"\nmount = \"/work\"\nread_only = true\n\n\
             [secrets.{SECRET}]\nhosts = [\"up.example.test:8443\"]\n\n\
             [network]\npolicy = \"open\"\nupstream_ca = \"{}\"\n",
            work.display(),
            work.join("ca.pem").display()
        ),
    );
    let mut launch = s.berth();
    launch.env(SECRET, &value).env("BERTH_LOG", "debug");
    let out = run(launch
        .args(["run", "-d", "--runtime", runtime, "-f"])
        .arg(&config));
    assert!(out.status.success(), "run -d: {}", describe(&out));
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let debug_log = String::from_utf8_lossy(&out.stderr).into_owned();
    let run_id = docker_format(
        &["inspect", &name],
        "{{index .Config.Labels \"berth.run-id\"}}",
    );

    let (upstream, _) = egress_upstream(
        &s,
        IMAGE,
        &format!("berth-{run_id}-egress"),
        &["up.example.test", "other.example.test"],
        &[format!("EXPECTED_TOKEN={value}")],
        &work,
    );

    let out = run(s.berth().args([
        "exec",
        &name,
        "--",
        "python3",
        "/work/credential_client.py",
        SECRET,
    ]));
    assert!(out.status.success(), "client: {}", describe(&out));
    let seen: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let placeholder = seen["variable"].as_str().unwrap_or_default().to_owned();
    assert!(placeholder.starts_with("berth-placeholder-"), "{seen:#}");
    assert_eq!(
        seen["bound"], "authorized",
        "the bound host got the value: {seen:#}"
    );
    assert_eq!(
        seen["unbound"],
        format!("unauthorized: Bearer {placeholder}"),
        "another host got only the placeholder: {seen:#}"
    );
    assert_eq!(seen["ssl_cert_file"], "/etc/berth/ca/bundle.pem");
    for (path, file) in seen["ca_files"].as_object().expect("ca files") {
        assert_eq!(file["private_key"], false, "{path} holds a key");
    }
    assert_eq!(seen["ca_files"]["/etc/berth/ca/ca.pem"]["certificates"], 1);

    // The value is in nothing berth shows or writes.
    let mut places: Vec<(String, String)> = vec![("berth's debug log".into(), debug_log)];
    let mut capture = |what: &str, out: std::process::Output| {
        places.push((
            what.to_owned(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    };
    capture(
        "env inside",
        run(s.berth().args(["exec", &name, "--", "env"])),
    );
    capture(
        "inspect of the sandbox",
        run(docker().args(["inspect", &name])),
    );
    capture(
        "inspect of the proxy",
        run(docker().args(["inspect", &format!("berth-{run_id}-proxy")])),
    );
    capture(
        "berth ps",
        run(s.berth().args(["ps", "--all", "--format", "json"])),
    );
    capture(
        "berth plan",
        run(s
            .berth()
            .env(SECRET, &value)
            .args(["plan", "--format", "json", "-f"])
            .arg(&config)),
    );
    capture("berth logs", run(s.berth().args(["logs", &name])));
    let audit = run(s.berth().args(["egress", &name, "--format", "json"]));
    let audit_text = String::from_utf8_lossy(&audit.stdout).into_owned();
    capture("the audit log", audit);
    capture(
        "the proxy's log",
        run(docker().args(["logs", &format!("berth-{run_id}-proxy")])),
    );
    for (what, text) in &places {
        assert!(!text.contains(&value), "{what} holds the value:\n{text}");
        assert!(!text.contains("PRIVATE KEY"), "{what} holds a key:\n{text}");
    }
    let records = audit_records(&audit_text);
    // python, curl (both to the bound host), then python to the other one.
    assert_eq!(records.len(), 3, "{audit_text}");
    for bound in &records[..2] {
        assert_eq!(
            bound["credentials"],
            serde_json::json!([SECRET]),
            "{audit_text}"
        );
        assert!(bound["bytes_down"].as_u64() > Some(0), "{audit_text}");
    }
    assert_eq!(records[2]["host"], "other.example.test", "{audit_text}");
    assert!(records[2].get("credentials").is_none(), "{audit_text}");

    // The values lived in the stopped proxy's memory: the run cannot start again.
    let out = run(s.berth().args(["stop", &name]));
    assert!(out.status.success(), "stop: {}", describe(&out));
    let out = run(s.berth().args(["start", &name]));
    assert_eq!(out.status.code(), Some(3), "start: {}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("held the secrets bound to hosts in memory only"),
        "start: {}",
        describe(&out)
    );

    let out = run(docker().args(["rm", "-f", &upstream]));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(s.berth().args(["rm", "-f", &name]));
    assert!(out.status.success(), "rm: {}", describe(&out));
    let (c, n, v) = leftovers(&format!("berth.run-id={run_id}"));
    assert!(
        c.is_empty() && n.is_empty() && v.is_empty(),
        "left: {c:?} {n:?} {v:?}"
    );
}

#[test]
fn a_bound_secret_reaches_only_its_host_under_runc() {
    bound_secret_reaches_only_its_host("docker");
}

#[test]
fn a_bound_secret_reaches_only_its_host_under_runsc() {
    bound_secret_reaches_only_its_host("gvisor");
}
