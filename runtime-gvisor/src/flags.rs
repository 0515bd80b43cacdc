//! runsc's runtimeArgs as typed flags, and finding runsc among the engine's runtimes.

use std::path::Path;

use runtime_core::{EngineFacts, OciRuntime};
use serde::Serialize;

/// `--host-uds`: which host unix sockets the sandbox may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HostUds {
    /// None (runsc's default).
    None,
    /// Connect to existing host sockets.
    Open,
    /// Create host sockets.
    Create,
    /// Both.
    All,
}

/// The runsc flags berth cares about, parsed from runtimeArgs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunscFlags {
    /// `--host-uds`.
    pub(crate) host_uds: HostUds,
    /// `--net-raw`: raw sockets (needed by docker-in-gVisor).
    pub(crate) net_raw: bool,
    /// `--allow-packet-socket-write` (needed by docker-in-gVisor).
    pub(crate) allow_packet_socket_write: bool,
    /// `--network=host|none|sandbox`.
    pub(crate) network: Option<String>,
    /// `--platform=systrap|kvm|ptrace`.
    pub(crate) platform: Option<String>,
    /// Arguments berth does not interpret, kept for display.
    pub(crate) other: Vec<String>,
}

fn flag_value<'a>(arg: &'a str, name: &str) -> Option<Option<&'a str>> {
    let rest = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if rest == name {
        return Some(None);
    }
    rest.strip_prefix(name)?.strip_prefix('=').map(Some)
}

fn truthy(value: Option<&str>) -> bool {
    !matches!(value, Some("false" | "0" | "f" | "F" | "FALSE" | "False"))
}

impl RunscFlags {
    /// Whether the sandbox uses the host kernel's network stack in its container's
    /// namespace (`--network=host`): then Docker's embedded DNS (127.0.0.11, a
    /// redirect in that namespace) answers it, on user-defined networks too. With
    /// gVisor's own stack (the default, `sandbox`), 127.0.0.11 never leaves the
    /// sandbox and nothing answers.
    pub(crate) fn reaches_embedded_dns(&self) -> bool {
        self.network.as_deref() == Some("host")
    }

    /// Parses runtimeArgs (`--flag=value` and `--flag value`; booleans bare or `=true`).
    pub fn parse(args: &[String]) -> Self {
        let mut flags = Self {
            host_uds: HostUds::None,
            net_raw: false,
            allow_packet_socket_write: false,
            network: None,
            platform: None,
            other: Vec::new(),
        };
        let mut iter = args.iter().peekable();
        while let Some(arg) = iter.next() {
            let mut take_value = |inline: Option<&str>| -> Option<String> {
                match inline {
                    Some(v) => Some(v.to_owned()),
                    None => iter.next_if(|n| !n.starts_with('-')).cloned(),
                }
            };
            if let Some(v) = flag_value(arg, "host-uds") {
                flags.host_uds = match take_value(v).as_deref() {
                    Some("open") => HostUds::Open,
                    Some("create") => HostUds::Create,
                    Some("all") => HostUds::All,
                    _ => HostUds::None,
                };
            } else if let Some(v) = flag_value(arg, "net-raw") {
                flags.net_raw = truthy(v);
            } else if let Some(v) = flag_value(arg, "allow-packet-socket-write") {
                flags.allow_packet_socket_write = truthy(v);
            } else if let Some(v) = flag_value(arg, "network") {
                flags.network = take_value(v);
            } else if let Some(v) = flag_value(arg, "platform") {
                flags.platform = take_value(v);
            } else {
                flags.other.push(arg.clone());
            }
        }
        flags
    }

    /// Whether a mounted host socket can be connected to.
    pub(crate) fn can_connect_host_sockets(&self) -> bool {
        matches!(self.host_uds, HostUds::Open | HostUds::All)
    }

    /// Whether a socket made inside the sandbox, in a mounted host directory,
    /// can be connected to from the host.
    pub(crate) fn can_create_host_sockets(&self) -> bool {
        matches!(self.host_uds, HostUds::Create | HostUds::All)
    }

    /// Whether the runtime is set up for docker-in-gVisor.
    pub(crate) fn supports_docker_in_gvisor(&self) -> bool {
        self.net_raw && self.allow_packet_socket_write
    }

    /// What each flag implies, for `berth doctor`.
    pub fn implications(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(match self.host_uds {
            HostUds::Open | HostUds::All => {
                "--host-uds allows host sockets: docker mode \"host\" works".to_owned()
            }
            HostUds::Create => "--host-uds=create cannot connect to the host docker socket: docker mode \"host\" is refused".to_owned(),
            HostUds::None => "no --host-uds: docker mode \"host\" is refused".to_owned(),
        });
        out.push(if self.supports_docker_in_gvisor() {
            "--net-raw and --allow-packet-socket-write: set up for docker-in-gVisor".to_owned()
        } else {
            "not set up for docker-in-gVisor (needs --net-raw and --allow-packet-socket-write): docker mode \"dind\" is refused".to_owned()
        });
        match self.network.as_deref() {
            Some("host") => out.push("--network=host: gVisor uses the container's network namespace (needed on hosts where the sandbox network stack cannot start)".to_owned()),
            Some("none") => out.push("--network=none: no sandbox has a network".to_owned()),
            Some(other) => out.push(format!("--network={other}")),
            None => out.push("--network unset: gVisor's own network stack (netstack)".to_owned()),
        }
        if let Some(p) = &self.platform {
            out.push(format!("--platform={p}"));
        }
        out
    }
}

/// Whether an OCI runtime is runsc: by name or by its path's file name, since users
/// rename it (`runsc-kvm`, `gvisor`).
pub(crate) fn is_runsc(runtime: &OciRuntime) -> bool {
    let by_path = runtime
        .path
        .as_deref()
        .and_then(|p| Path::new(p).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "runsc" || n.starts_with("runsc-"));
    let name = runtime.name.as_str();
    by_path || name == "runsc" || name.starts_with("runsc-") || name == "gvisor"
}

/// The runsc runtime registered with the engine, preferring the one named `runsc`.
pub(crate) fn find_runsc(engine: &EngineFacts) -> Option<&OciRuntime> {
    let mut found: Vec<&OciRuntime> = engine.runtimes.iter().filter(|r| is_runsc(r)).collect();
    found.sort_by_key(|r| (r.name != "runsc", r.name.clone()));
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_flags() {
        let f = RunscFlags::parse(&args(&[
            "--network=host",
            "--host-uds",
            "open",
            "--net-raw",
            "--platform=kvm",
            "--debug",
        ]));
        assert_eq!(f.host_uds, HostUds::Open);
        assert!(f.net_raw);
        assert!(!f.allow_packet_socket_write);
        assert_eq!(f.network.as_deref(), Some("host"));
        assert_eq!(f.platform.as_deref(), Some("kvm"));
        assert_eq!(f.other, args(&["--debug"]));
        let f = RunscFlags::parse(&args(&[
            "--host-uds=all",
            "--net-raw=false",
            "--allow-packet-socket-write",
        ]));
        assert_eq!(f.host_uds, HostUds::All);
        assert!(!f.net_raw);
        assert!(f.allow_packet_socket_write);
        assert!(f.can_connect_host_sockets());
        assert!(!RunscFlags::parse(&args(&["--host-uds=create"])).can_connect_host_sockets());
    }

    #[test]
    fn finds_renamed_runsc() {
        let rt = |name: &str, path: Option<&str>| OciRuntime {
            name: name.to_owned(),
            path: path.map(str::to_owned),
            args: vec![],
        };
        assert!(is_runsc(&rt("sandboxed", Some("/usr/local/bin/runsc"))));
        assert!(is_runsc(&rt("runsc-kvm", None)));
        assert!(is_runsc(&rt("gvisor", Some("/opt/gvisor/bin/x"))));
        assert!(!is_runsc(&rt("runc", Some("runc"))));
        assert!(!is_runsc(&rt("io.containerd.runc.v2", None)));
    }
}
