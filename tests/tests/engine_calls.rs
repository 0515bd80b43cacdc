//! The Engine API calls `berth run --rm` and `berth exec` make, recorded by a
//! proxy on a Unix socket in front of the real engine (berth reaches it through
//! `DOCKER_HOST`), and compared with the calls each needs: a redundant call, or
//! one missing, fails the test.
//!
//! Calls are shown as `METHOD /path?query-keys`, with the API version, ids and
//! names replaced by placeholders. Some calls run concurrently (the probe's two,
//! the sweep of expired runs beside the launch), so the lists are compared as
//! sorted lists: the count of each call is exact, their interleaving is not.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_tests::{Scratch, describe, require_engine, run};

const IMAGE: &str = "berth-test/busybox:latest";
const ENGINE: &str = "/var/run/docker.sock";

/// A recording proxy: every request head that crosses it, in arrival order.
struct Recorder {
    path: PathBuf,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(dir: &Path) -> Self {
        let path = dir.join("engine.sock");
        let listener = UnixListener::bind(&path).expect("bind the recording socket");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = calls.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(engine) = UnixStream::connect(ENGINE) else {
                    return;
                };
                let sink = sink.clone();
                let (client_read, engine_write) = (
                    client.try_clone().expect("clone"),
                    engine.try_clone().expect("clone"),
                );
                std::thread::spawn(move || requests(client_read, engine_write, &sink));
                std::thread::spawn(move || {
                    let (mut engine, mut client) = (engine, client);
                    let _ = std::io::copy(&mut engine, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Self { path, calls }
    }

    /// The calls since the last take.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().expect("calls"))
    }
}

/// Forwards the client's bytes to the engine, recording each request head, until
/// the connection is upgraded to a raw stream (attach, exec start), after which
/// the bytes are the process's stdin and are passed on unread.
fn requests(client: UnixStream, mut engine: UnixStream, sink: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = engine.shutdown(std::net::Shutdown::Write);
                    return;
                }
                Ok(_) => {}
            }
            let end = line == "\r\n";
            head.push(line);
            if end {
                break;
            }
        }
        let request_line = head[0].trim_end().to_owned();
        let header = |name: &str| {
            head.iter().find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let upgrade = header("upgrade").is_some();
        let chunked = header("transfer-encoding").is_some();
        sink.lock().expect("calls").push(request_line);
        for line in &head {
            if engine.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() || engine.write_all(&body).is_err() {
            return;
        }
        if upgrade || chunked {
            // A raw stream (or a body this reader does not frame): passed on as is.
            let _ = std::io::copy(&mut reader, &mut engine);
            let _ = engine.shutdown(std::net::Shutdown::Write);
            return;
        }
    }
}

/// `GET /v1.41/containers/3f…/json?all=1` as `GET /containers/{id}/json?all`,
/// with the sandbox's name, run ids and 64-digit ids replaced.
fn normalize(call: &str, name: &str) -> String {
    let mut parts = call.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let hex = |n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
            if hex(64) {
                "{id}".to_owned()
            } else if s.starts_with(name) {
                "{name}".to_owned()
            } else if s.starts_with("berth-") && s.len() > 18 && hex_run(&s[6..18]) {
                format!("berth-{{run}}{}", &s[18..])
            } else {
                s.to_owned()
            }
        })
        .collect();
    let versioned = |s: &String| {
        s.strip_prefix('v')
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    };
    if segments.first().is_some_and(versioned) {
        segments.remove(0);
    }
    let mut keys: Vec<&str> = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| q.split('=').next().unwrap_or(q))
        .collect();
    keys.sort_unstable();
    let query = if keys.is_empty() {
        String::new()
    } else {
        format!("?{}", keys.join("&"))
    };
    format!("{method} /{}{query}", segments.join("/"))
}

fn hex_run(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sorted(calls: Vec<String>, name: &str) -> Vec<String> {
    let mut out: Vec<String> = calls.iter().map(|c| normalize(c, name)).collect();
    out.sort();
    out
}

fn berth(s: &Scratch, recorder: &Recorder) -> std::process::Command {
    let mut cmd = s.berth();
    cmd.env("BERTH_RUNTIME", "docker")
        .env("DOCKER_HOST", format!("unix://{}", recorder.path.display()));
    cmd
}

#[test]
#[ignore = "the launch sweeps every expired berth run on the engine, so other tests' runs would show in its calls: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(engine_calls)'`"]
fn run_rm_and_exec_make_only_the_calls_they_need() {
    require_engine();
    let s = Scratch::new("engine-calls");
    let recorder = Recorder::start(s.dir());
    let config = s.write_config("berth.toml", &format!("image = \"{IMAGE}\"\n"));
    // Once, so that the shared network exists and the run below is the usual one.
    let out = run(berth(&s, &recorder)
        .args(["run", "--rm", "-f"])
        .arg(&config)
        .args(["--", "true"]));
    assert!(out.status.success(), "first run: {}", describe(&out));
    recorder.take();

    let out = run(berth(&s, &recorder)
        .args(["run", "--rm", "-f"])
        .arg(&config)
        .args(["--", "true"]));
    assert!(out.status.success(), "run --rm: {}", describe(&out));
    let name = s.name().to_owned();
    let calls = sorted(recorder.take(), &name);
    assert_eq!(
        calls,
        [
            // Removing the run: its container, after listing what the run made.
            "DELETE /containers/{id}?force&link&v",
            // Sweeping expired runs, beside the launch: sandboxes and sidecars.
            "GET /containers/json?all&filters&size",
            // A free name for the sandbox.
            "GET /containers/json?all&filters&size",
            // The run's containers, networks and volumes, to remove them.
            "GET /containers/json?all&filters&size",
            // The image's user, entrypoint and command.
            "GET /images/berth-test/busybox:latest/json",
            // The probe: the engine's runtimes.
            "GET /info",
            // The shared network, made on first use.
            "GET /networks/berth",
            // The sweep's networks; the run's.
            "GET /networks?filters",
            "GET /networks?filters",
            // The probe: the engine's version.
            "GET /version",
            // The sweep's volumes; the run's.
            "GET /volumes?filters",
            "GET /volumes?filters",
            "POST /containers/create?name&platform",
            "POST /containers/{id}/attach?logs&stderr&stdin&stdout&stream",
            "POST /containers/{id}/start",
            "POST /containers/{id}/wait?condition",
        ]
        .map(str::to_owned),
        "berth run --rm"
    );

    let out = run(berth(&s, &recorder)
        .args(["run", "-d", "--name", &name, "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert!(out.status.success(), "run -d: {}", describe(&out));
    recorder.take();
    // Through berth-init: the engine is not asked at all.
    let out = run(berth(&s, &recorder).args(["exec", &name, "--", "true"]));
    assert!(out.status.success(), "exec: {}", describe(&out));
    assert_eq!(recorder.take(), Vec::<String>::new(), "exec through init");
    // Through the engine (another user): find the sandbox, then exec.
    let out = run(berth(&s, &recorder).args(["exec", "-u", "0", &name, "--", "true"]));
    assert!(out.status.success(), "exec -u 0: {}", describe(&out));
    let calls = sorted(recorder.take(), &name);
    assert_eq!(
        calls,
        [
            // The sandbox, by name.
            "GET /containers/json?all&filters&size",
            // The exit code, once the output ended.
            "GET /exec/{id}/json",
            // Version negotiation.
            "GET /version",
            "POST /containers/{id}/exec",
            "POST /exec/{id}/start",
        ]
        .map(str::to_owned),
        "berth exec through the engine"
    );
    assert!(
        run(berth(&s, &recorder).args(["rm", "-f", &name]))
            .status
            .success()
    );
    s.assert_clean();
}
