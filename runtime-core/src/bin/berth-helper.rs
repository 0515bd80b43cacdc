//! `berth-helper`: the static binary berth runs inside its own sidecar containers.
//!
//! `berth-helper egress` is a run's egress proxy: it reads its settings (JSON) from
//! `BERTH_EGRESS_SETTINGS`, listens on port 3128, and writes one JSON line per
//! decision to standard output, which the engine keeps as the sidecar's log and
//! `berth egress RUN` reads back. Built statically (scripts/build-helper.sh), it
//! runs as PID 1 of an image that holds nothing else.
//!
//! `berth-helper socket-probe list|check N` finds, on a remote engine's host,
//! where that engine's socket is (`runtime_core::socket_probe`).
//!
//! `berth-helper init -- COMMAND...` is a sandbox's PID 1 (`runtime_core::init`):
//! bind-mounted read-only into the sandbox, it runs the command, reaps, forwards
//! signals, and serves exec on the run's socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use runtime_core::egress::intercept::Authority;
use runtime_core::egress::proxy::Secrets;
use runtime_core::egress::{CA_DIR, Credential, PROXY_PORT, ProxySettings, SETTINGS_VAR, proxy};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("egress") if args.len() == 1 => egress(),
        Some("init") => init(&args[1..]),
        Some("init-exec") => match args.get(1..3) {
            Some([mode, dashes]) if dashes == "--" => {
                exit_code(runtime_core::init::server::exec_prepared(mode, &args[3..]))
            }
            _ => usage(),
        },
        Some("selftest") if args.len() == 1 => selftest(),
        Some(runtime_core::socket_probe::SUBCOMMAND) => socket_probe(&args[1..]),
        Some("--version") => {
            println!("berth-helper {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: berth-helper egress   (settings in ${SETTINGS_VAR}, as JSON)\n       berth-helper init [--exec-dir DIR] [--standby N] -- COMMAND [ARG...]\n       berth-helper socket-probe list|check N"
    );
    ExitCode::from(2)
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `berth-helper init [--exec-dir DIR] [--standby N] -- COMMAND...`: the
/// sandbox's PID 1 (see `runtime_core::init`).
fn init(args: &[String]) -> ExitCode {
    let (exec_dir, rest) = match args {
        [flag, dir, rest @ ..] if flag == "--exec-dir" => (Some(dir.into()), rest),
        rest => (None, rest),
    };
    let (standby, rest) = match rest {
        [flag, words, rest @ ..] if flag == "--standby" => match words.parse::<usize>() {
            Ok(words) => (Some(words), rest),
            Err(_) => return usage(),
        },
        rest => (None, rest),
    };
    match rest.split_first() {
        Some((dashes, command)) if dashes == "--" => exit_code(runtime_core::init::server::run(
            exec_dir,
            standby,
            command.to_vec(),
        )),
        _ => usage(),
    }
}

/// The line the helper prints on stderr once it listens (and the run's CA files
/// are written): the launch waits for it before starting the sandbox.
const READY: &str = "berth-helper: ready";

/// Where the engine host's trust store is mounted, read-only.
const HOST_STORE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// With secrets bound to hosts: their values from standard input (one JSON
/// array, which berth writes and closes), a fresh authority trusting the host's
/// store and the config's extra CA, and its certificate written for the sandbox.
fn secrets(settings: &ProxySettings) -> Result<Secrets, String> {
    if !settings.secrets_on_stdin {
        return Ok(Secrets {
            credentials: Vec::new(),
            authority: None,
        });
    }
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .map_err(|e| format!("cannot read the bound secrets from standard input: {e}"))?;
    let credentials: Vec<Credential> = serde_json::from_str(&input)
        // The parser's message could quote the input: it is not repeated.
        .map_err(|_| "standard input holds no bound secrets".to_owned())?;
    let mut roots = std::fs::read(HOST_STORE).unwrap_or_default();
    if let Some(extra) = &settings.upstream_ca {
        roots.push(b'\n');
        roots.extend_from_slice(extra.as_bytes());
    }
    let authority = Authority::new(&roots)?;
    let ca = authority.certificate_pem();
    let mut bundle = std::fs::read(HOST_STORE).unwrap_or_default();
    bundle.push(b'\n');
    bundle.extend_from_slice(ca.as_bytes());
    let dir = std::path::Path::new(CA_DIR);
    for (name, bytes) in [("ca.pem", ca.as_bytes()), ("bundle.pem", &bundle[..])] {
        std::fs::write(dir.join(name), bytes)
            .map_err(|e| format!("cannot write {}/{name}: {e}", dir.display()))?;
    }
    Ok(Secrets {
        credentials,
        authority: Some(authority),
    })
}

/// `berth-helper socket-probe list`: prints the listening sockets named like
/// Docker's in this network namespace, as a JSON array of paths.
/// `berth-helper socket-probe check N`: stats `MOUNT_ROOT/0` to `MOUNT_ROOT/N-1`
/// and asks each for the engine's ID; prints one JSON array of what it found.
fn socket_probe(args: &[String]) -> ExitCode {
    use runtime_core::socket_probe::{self as probe, Checked, MAX_CANDIDATES};
    match args {
        [list] if list == "list" => {
            let text = match std::fs::read_to_string("/proc/net/unix") {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("berth-helper: cannot read /proc/net/unix: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let found = probe::listening_docker_sockets(&text);
            println!("{}", serde_json::to_string(&found).unwrap_or_default());
            ExitCode::SUCCESS
        }
        [check, count] if check == "check" => {
            let Some(count) = count.parse::<usize>().ok().filter(|n| *n <= MAX_CANDIDATES) else {
                return usage();
            };
            let checks: Vec<Checked> = (0..count)
                .map(|i| check_socket(&std::path::Path::new(probe::MOUNT_ROOT).join(i.to_string())))
                .collect();
            println!("{}", serde_json::to_string(&checks).unwrap_or_default());
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}

/// Stats `path` and asks it `GET /info`.
fn check_socket(path: &std::path::Path) -> runtime_core::socket_probe::Checked {
    use runtime_core::socket_probe::{Checked, INFO_REQUEST, engine_identity};
    use std::io::{Read, Write};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => meta,
        Ok(_) => {
            return Checked::Unusable {
                reason: "is not a socket".to_owned(),
            };
        }
        Err(e) => {
            return Checked::Unusable {
                reason: format!("cannot be stat'ed ({e})"),
            };
        }
    };
    let (gid, mode) = (meta.gid(), meta.mode() & 0o7777);
    let timeout = Some(std::time::Duration::from_secs(5));
    let asked = std::os::unix::net::UnixStream::connect(path).and_then(|mut stream| {
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        stream.write_all(INFO_REQUEST)?;
        let mut response = Vec::new();
        // An engine's info is a few KiB; more is not an engine.
        stream.take(1 << 20).read_to_end(&mut response)?;
        Ok(response)
    });
    match asked
        .map_err(|e| format!("does not answer ({e})"))
        .and_then(|r| engine_identity(&r))
    {
        Ok(engine) => Checked::Engine { gid, mode, engine },
        Err(reason) => Checked::Silent { gid, mode, reason },
    }
}

/// `berth-helper selftest`: calls the kernel the way common tools do, and prints
/// what failed as a JSON array of strings (empty when all worked); exits 1 when
/// something failed. Run under an OCI runtime, it says whether that runtime really
/// works for ordinary images.
fn selftest() -> ExitCode {
    let mut failures: Vec<String> = Vec::new();
    // `ls` and `stat` (coreutils) call statx with AT_NO_AUTOMOUNT.
    let flags = rustix::fs::AtFlags::SYMLINK_NOFOLLOW | rustix::fs::AtFlags::NO_AUTOMOUNT;
    if let Err(e) = rustix::fs::statx(
        rustix::fs::CWD,
        "/",
        flags,
        rustix::fs::StatxFlags::BASIC_STATS,
    ) {
        failures.push(format!(
            "statx with AT_NO_AUTOMOUNT, as ls and stat call it, fails: {}",
            std::io::Error::from(e)
        ));
    }
    if let Err(e) = std::fs::read_dir("/").and_then(|mut d| d.next().transpose()) {
        failures.push(format!("listing / fails: {e}"));
    }
    println!("{}", serde_json::to_string(&failures).unwrap_or_default());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn egress() -> ExitCode {
    let settings: ProxySettings = match std::env::var(SETTINGS_VAR)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("berth-helper: ${SETTINGS_VAR} holds no valid settings: {e}");
            return ExitCode::from(2);
        }
    };
    let secrets = match secrets(&settings) {
        Ok(secrets) => secrets,
        Err(e) => {
            eprintln!("berth-helper: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        // Name lookups block: a few threads, well under the container's pids limit.
        .max_blocking_threads(16)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth-helper: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, PROXY_PORT));
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("berth-helper: cannot listen on {address}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            eprintln!("berth-helper: cannot handle signals");
            return ExitCode::FAILURE;
        };
        eprintln!(
            "berth-helper: egress proxy on {address}, {} rule(s), {} bound secret(s)",
            settings.policy.rules.len(),
            secrets.credentials.len()
        );
        eprintln!("{READY}");
        tokio::select! {
            served = proxy::serve(listener, settings, secrets, std::io::stdout()) => {
                eprintln!("berth-helper: the proxy stopped: {served:?}");
                ExitCode::FAILURE
            }
            _ = term.recv() => ExitCode::SUCCESS,
            _ = int.recv() => ExitCode::SUCCESS,
        }
    })
}
