//! Every variant of berth's error type, as a user reads it (`report()`, with its
//! chain of causes), with its kind and exit code. Each is constructed directly with
//! realistic fields and is its own snapshot, so a change to any message shows up in
//! review. A test reads the `kind()` table in runtime-core's `error.rs` and fails when
//! a variant has no case here.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use runtime_core::danger::{Danger, DangerKind};
use runtime_core::diagnostic::ConfigDiagnostic;
use runtime_core::launch::Signal;
use runtime_core::{Error, RuntimeKind};

fn io(kind: ErrorKind, text: &str) -> std::io::Error {
    std::io::Error::new(kind, text.to_owned())
}

/// An error with a cause of its own, to show a two-level chain.
#[derive(Debug)]
struct Wrapped {
    what: &'static str,
    source: std::io::Error,
}

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Each case: a snapshot name and the error.
fn cases() -> Vec<(&'static str, Error)> {
    let sock = || PathBuf::from("/var/run/docker.sock");
    vec![
        (
            "read-config",
            Error::ReadConfig {
                path: PathBuf::from("berth.toml"),
                source: io(ErrorKind::NotFound, "No such file or directory (os error 2)"),
            },
        ),
        (
            "config",
            Error::Config(Box::new(ConfigDiagnostic {
                path: PathBuf::from("berth.toml"),
                line: Some(7),
                column: Some(1),
                key: Some("resources.memroy".to_owned()),
                message: "unknown key `memroy`".to_owned(),
                snippet: Some(("memroy = \"4GiB\"".to_owned(), "^^^^^^".to_owned())),
                help: Some("did you mean `memory`?".to_owned()),
            })),
        ),
        (
            "config-without-location",
            Error::Config(Box::new(ConfigDiagnostic {
                path: PathBuf::from("berth.toml"),
                line: None,
                column: None,
                key: None,
                message: "the file is not valid UTF-8".to_owned(),
                snippet: None,
                help: None,
            })),
        ),
        (
            "usage",
            Error::Usage {
                message: "BERTH_RUNTIME: unknown runtime `podman`: expected docker, gvisor, apple or auto".to_owned(),
            },
        ),
        (
            "usage-no-image",
            Error::Usage {
                message: "berth.toml: no image to run: set `image` or `[sandbox.build]` in [sandbox], or pass an image to `berth run`".to_owned(),
            },
        ),
        (
            "invalid-flag",
            Error::InvalidFlag {
                flag: "--memory",
                value: "1k".to_owned(),
                reason: "memory must be at least 6MiB, got 1KiB".to_owned(),
            },
        ),
        (
            "not-running",
            Error::NotRunning {
                name: "agent-3f2a9c01".to_owned(),
                runtime: RuntimeKind::Gvisor,
                state: "stopped (exited with code 0)".to_owned(),
                fix: "start it again with `berth start agent-3f2a9c01` (its output: `berth logs agent-3f2a9c01`)".to_owned(),
            },
        ),
        (
            "docker-host-unsupported",
            Error::DockerHostUnsupported {
                runtime: RuntimeKind::Apple,
                reason: "each Apple container is its own virtual machine, and there is no host Docker engine socket to mount into it".to_owned(),
                fix: "use --runtime docker on a host with a Docker engine, or set [docker] mode = \"none\"".to_owned(),
            },
        ),
        (
            "docker-host-needs-host-uds",
            Error::DockerHostUnsupported {
                runtime: RuntimeKind::Gvisor,
                reason: "the OCI runtime `runsc` runs with runtimeArgs [\"--network=host\"], which do not allow host unix sockets".to_owned(),
                fix: "set \"runtimeArgs\": [\"--network=host\", \"--host-uds=open\"] for \"runsc\" under \"runtimes\" in /etc/docker/daemon.json, then reload dockerd (kill -HUP $(pidof dockerd)); or use --runtime docker".to_owned(),
            },
        ),
        (
            "dind-unsupported",
            Error::DindUnsupported {
                runtime: RuntimeKind::Gvisor,
                reason: "an outer privileged container is not sandboxed by gVisor, and this runsc is not set up for docker-in-gVisor".to_owned(),
                fix: "use --runtime docker, or add \"--net-raw\" and \"--allow-packet-socket-write\" to the runtimeArgs of \"runsc\" in /etc/docker/daemon.json and reload dockerd".to_owned(),
            },
        ),
        (
            "socket-missing",
            Error::SocketMissing {
                path: sock(),
                source_name: "default path".to_owned(),
                reason: "No such file or directory (os error 2)".to_owned(),
                fix: "start the Docker engine, or point DOCKER_HOST at its socket (unix:///path/to/docker.sock)".to_owned(),
            },
        ),
        (
            "socket-remote",
            Error::SocketRemote {
                docker_host: "tcp://10.0.0.5:2376 (TLS)".to_owned(),
                reason: "no socket of it was found on that host: none of the sockets there answers as this engine (WXYZ:ABCD with data root /srv/docker): /var/run/docker.sock answers as engine WXYZ:ABCD with data root /var/lib/docker".to_owned(),
                fix: "have the engine listen on a unix socket on its host (dockerd -H unix:///var/run/docker.sock), or use docker mode \"dind\" for a private engine".to_owned(),
            },
        ),
        (
            "host-path-remote",
            Error::HostPathRemote {
                what: "workspace",
                path: PathBuf::from("/home/me/project"),
                endpoint: "ssh://me@box".to_owned(),
                fix: "remove [workspace] and put the files in the image ([sandbox.build] with a Dockerfile that copies them), or run berth on the engine's host".to_owned(),
            },
        ),
        (
            "pool-unavailable",
            Error::PoolUnavailable {
                reason: "the config has no [pool] (or its size is 0)".to_owned(),
                fix: "add [pool] with size = 2 (for example) to berth.toml".to_owned(),
            },
        ),
        (
            "socket-root-group",
            Error::SocketRootGroup {
                path: sock(),
                user: "1000:1000".to_owned(),
                fix: "give the socket its own group (groupadd docker; chgrp docker /var/run/docker.sock; chmod 660 /var/run/docker.sock), or set [sandbox] user = \"root\"".to_owned(),
            },
        ),
        (
            "socket-no-group-access",
            Error::SocketNoGroupAccess {
                path: sock(),
                gid: 999,
                mode: 0o600,
                fix: "chmod g+rw /var/run/docker.sock, or set [sandbox] user = \"root\"".to_owned(),
            },
        ),
        (
            "allowlist-unsupported",
            Error::AllowlistUnsupported {
                runtime: RuntimeKind::Apple,
                reason: "Apple `container` has no internal networks".to_owned(),
                fix: "use --runtime docker or --runtime gvisor for an allowlist".to_owned(),
            },
        ),
        (
            "limit-unsupported",
            Error::LimitUnsupported {
                runtime: RuntimeKind::Apple,
                limit: "pids",
                fix: "remove resources.pids, or use --runtime docker".to_owned(),
            },
        ),
        (
            "secret-missing",
            Error::SecretMissing {
                name: "GITHUB_TOKEN".to_owned(),
                fix: "export GITHUB_TOKEN in the shell that runs berth, or set [secrets] required = false to launch without it".to_owned(),
            },
        ),
        (
            "unavailable",
            Error::Unavailable {
                runtime: RuntimeKind::Docker,
                reason: "the Docker engine is not running (no answer at /var/run/docker.sock)".to_owned(),
                fix: "start the Docker engine (sudo systemctl start docker, or scripts/setup-engine.sh), or set DOCKER_HOST to its socket".to_owned(),
            },
        ),
        (
            "unavailable-apple-off-macos",
            Error::Unavailable {
                runtime: RuntimeKind::Apple,
                reason: "Apple `container` runs only on macOS, and this host is linux".to_owned(),
                fix: "use --runtime docker or --runtime gvisor".to_owned(),
            },
        ),
        (
            "unsupported",
            Error::Unsupported {
                runtime: RuntimeKind::Apple,
                operation: "attach",
                reason: "`container` cannot attach to a running container's main process".to_owned(),
            },
        ),
        (
            "permission-denied",
            Error::PermissionDenied {
                path: sock(),
                fix: "join the socket's group `docker` (gid 999): sudo usermod -aG docker $USER, then log in again".to_owned(),
            },
        ),
        (
            "image-missing",
            Error::ImageMissing {
                runtime: RuntimeKind::Docker,
                reference: "berth-test/agent:latest".to_owned(),
                fix: "berth never pulls implicitly: build it locally (docker build -t berth-test/agent:latest DIR), load it (docker load), pull it yourself (docker pull berth-test/agent:latest), or set [sandbox.build] in berth.toml".to_owned(),
            },
        ),
        (
            "conflict",
            Error::Conflict {
                what: "container",
                name: "berth-agent".to_owned(),
            },
        ),
        (
            "not-found",
            Error::NotFound {
                what: "run",
                name: "3f2a9c".to_owned(),
            },
        ),
        (
            "engine",
            Error::engine(
                RuntimeKind::Docker,
                "create container berth-agent-3f2a9c",
                io(
                    ErrorKind::ConnectionRefused,
                    "Connection refused (os error 111)",
                ),
            ),
        ),
        (
            "engine-two-causes",
            Error::engine(
                RuntimeKind::Gvisor,
                "start container berth-agent-3f2a9c",
                Wrapped {
                    what: "Docker responded with status code 500: OCI runtime start failed",
                    source: io(ErrorKind::Other, "runsc: creating container: cannot read client sync file"),
                },
            ),
        ),
        (
            "io",
            Error::Io {
                operation: "write the run record",
                path: PathBuf::from("/home/dev/.local/state/berth/runs/3f2a9c/run.json"),
                source: io(ErrorKind::PermissionDenied, "Permission denied (os error 13)"),
            },
        ),
        (
            "dangers-not-acknowledged",
            Error::DangersNotAcknowledged {
                dangers: vec![
                    Danger {
                        kind: DangerKind::DockerHost,
                        detail: "docker mode \"host\": the engine socket /var/run/docker.sock gives the sandbox full control of the host engine, and through it root on the host".to_owned(),
                    },
                    Danger {
                        kind: DangerKind::SensitivePath,
                        detail: "the workspace /home/dev is your home directory, /home/dev, and the sandbox can read and change it".to_owned(),
                    },
                ],
                fix: "read berth.toml and decide; to accept these for this run, add --allow docker-host,sensitive-path; to accept this exact file until it changes, run `berth allow -f berth.toml`".to_owned(),
            },
        ),
        (
            "dockerfile-outside-context",
            Error::DockerfileOutsideContext {
                dockerfile: PathBuf::from("/home/dev/build/Dockerfile"),
                context: PathBuf::from("/home/dev/project"),
            },
        ),
        (
            "host-path-changed",
            Error::HostPathChanged {
                what: "workspace",
                declared: PathBuf::from("/home/dev/project/ws"),
                planned: PathBuf::from("/home/dev/src/ws"),
                now: PathBuf::from("/home/dev"),
            },
        ),
        (
            "interrupted",
            Error::Interrupted {
                signal: Signal::Interrupt,
            },
        ),
        (
            "terminated",
            Error::Interrupted {
                signal: Signal::Terminate,
            },
        ),
        (
            "invalid-run-id",
            runtime_core::RunId::parse("../../home").expect_err("not a run id"),
        ),
        (
            "foreign",
            Error::Foreign {
                name: "impostor".to_owned(),
                reason: "its berth.run-id label \"../../../x\" is not a run id".to_owned(),
            },
        ),
    ]
}

#[test]
fn every_error_message() {
    let mut failed = Vec::new();
    for (name, err) in cases() {
        let text = format!(
            "kind: {}\nexit code: {}\n\n{}\n",
            berth::exit::kind(&err),
            berth::exit::code(&err),
            err.report()
        );
        let result = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => "snapshots/error_messages",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, text);
            });
        }));
        if result.is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} snapshots changed: {failed:?}",
        failed.len()
    );
}

/// The variants of runtime-core's `Error`, read from its source.
fn variants_in_source() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-core/src/error.rs");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let body = source
        .split("pub enum Error {")
        .nth(1)
        .expect("enum Error in error.rs");
    let body = &body[..body.find("\n}\n").expect("end of enum Error")];
    body.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter_map(|l| l.split(|c: char| !c.is_ascii_alphanumeric()).next())
        .map(str::to_owned)
        .collect()
}

/// The variants the CLI's `exit::kind` names, and the kinds it gives them, read
/// from its source (its match ends in a catch-all, because runtime-core's `Error`
/// may grow: this is what checks that it names every variant).
fn kinds_in_source() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/src/exit.rs");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let body = source
        .split("pub fn kind(err: &Error)")
        .nth(1)
        .expect("exit::kind in cli/src/exit.rs");
    let body = &body[..body.find("\n}\n").expect("end of exit::kind")];
    body.lines()
        .filter_map(|l| {
            let variant = l.trim().strip_prefix("Error::")?;
            let variant = variant.split(|c: char| !c.is_ascii_alphanumeric()).next()?;
            let kind = l.split("=> \"").nth(1)?.split('"').next()?;
            Some((variant.to_owned(), kind.to_owned()))
        })
        .collect()
}

#[test]
fn every_variant_has_its_own_kind() {
    let variants = variants_in_source();
    assert!(variants.len() >= 20, "parsed variants: {variants:?}");
    let named: BTreeSet<String> = kinds_in_source().into_iter().map(|(v, _)| v).collect();
    let missing: Vec<&String> = variants.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "variants of Error with no kind in cli/src/exit.rs: {missing:?}"
    );
}

#[test]
fn every_variant_has_a_case() {
    let from_source: BTreeSet<String> = kinds_in_source().into_iter().map(|(_, k)| k).collect();
    assert!(from_source.len() >= 20, "parsed kinds: {from_source:?}");
    let covered: BTreeSet<String> = cases()
        .iter()
        .map(|(_, e)| berth::exit::kind(e).to_owned())
        .collect();
    let missing: Vec<&String> = from_source.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "error variants with no case in error_messages.rs: {missing:?}"
    );
}

#[test]
fn exit_codes_follow_the_table() {
    // 2 usage or config, 3 refused, 4 unavailable, 5 permission, 6 image missing,
    // 7 conflict, 8 not found, 125 berth or engine failure, 130 SIGINT, 143 SIGTERM.
    for (name, err) in cases() {
        let expected = match berth::exit::kind(&err) {
            "read-config"
            | "config"
            | "usage"
            | "invalid-flag"
            | "secret-missing"
            | "dockerfile-outside-context"
            | "invalid-run-id" => 2,
            "docker-host-unsupported"
            | "dind-unsupported"
            | "socket-remote"
            | "host-path-remote"
            | "pool-unavailable"
            | "socket-root-group"
            | "socket-no-group-access"
            | "allowlist-unsupported"
            | "limit-unsupported"
            | "unsupported"
            | "dangers-not-acknowledged"
            | "host-path-changed"
            | "not-running"
            | "foreign" => 3,
            // A missing socket almost always means the engine is not running.
            "unavailable" | "socket-missing" => 4,
            "permission-denied" => 5,
            "image-missing" => 6,
            "conflict" => 7,
            "not-found" => 8,
            "engine" | "io" => 125,
            // 128 + the signal's number.
            "interrupted" if err.report().contains("SIGTERM") => 143,
            "interrupted" => 130,
            other => panic!("{name}: kind {other} is missing from this table"),
        };
        assert_eq!(
            berth::exit::code(&err),
            expected,
            "{name}: {}",
            err.report()
        );
    }
}

#[test]
fn no_stale_snapshots() {
    let expected: BTreeSet<&str> = cases().iter().map(|(n, _)| *n).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/error_messages");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".snap").map(str::to_owned))
        .filter(|name| !expected.contains(name.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots without a case (delete them): {stale:?}"
    );
}
