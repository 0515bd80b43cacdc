//! `berth-helper`: the static binary berth runs inside its own sidecar containers.
//!
//! `berth-helper egress` is a run's egress proxy: it reads its settings (JSON) from
//! `BERTH_EGRESS_SETTINGS`, listens on port 3128, and writes one JSON line per
//! decision to standard output, which the engine keeps as the sidecar's log and
//! `berth egress RUN` reads back. Built statically (scripts/build-helper.sh), it
//! runs as PID 1 of an image that holds nothing else.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use runtime_core::egress::{PROXY_PORT, ProxySettings, SETTINGS_VAR, proxy};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("egress") if args.len() == 1 => egress(),
        Some("--version") => {
            println!("berth-helper {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: berth-helper egress   (settings in ${SETTINGS_VAR}, as JSON)");
            ExitCode::from(2)
        }
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
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
            "berth-helper: egress proxy on {address}, {} rule(s)",
            settings.policy.rules.len()
        );
        tokio::select! {
            served = proxy::serve(listener, settings, std::io::stdout()) => {
                eprintln!("berth-helper: the proxy stopped: {served:?}");
                ExitCode::FAILURE
            }
            _ = term.recv() => ExitCode::SUCCESS,
            _ = int.recv() => ExitCode::SUCCESS,
        }
    })
}
