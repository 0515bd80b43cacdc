//! `berth doctor`: probe every runtime and say what each can do, and why not.

use std::path::PathBuf;

use runtime_core::{
    Config, DockerMode, Error, HostFacts, RuntimeKind, SocketFacts, prepare, select,
};
use serde::Serialize;

use runtime_core::select::Probed;

use crate::backends;
use crate::render;
use crate::{DoctorArgs, Format};

#[derive(Serialize)]
struct ModeReport {
    mode: DockerMode,
    ok: bool,
    detail: String,
}

#[derive(Serialize)]
struct RuntimeReport {
    runtime: RuntimeKind,
    available: bool,
    reason: Option<String>,
    fix: Option<String>,
    oci_runtime: Option<runtime_core::OciRuntime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runsc_flags: Option<runtime_gvisor::RunscFlags>,
    implications: Vec<String>,
    docker_modes: Vec<ModeReport>,
    /// Whether `[network] policy = "allowlist"` works, and its path.
    egress: EgressReport,
    /// Who is PID 1 and how exec reaches a sandbox, as `berth plan` would say.
    init: runtime_core::plan::InitPlan,
    /// What berth's self-test found: `None` when it passed or did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    self_test_failed: Option<String>,
}

#[derive(Serialize)]
struct EgressReport {
    ok: bool,
    detail: String,
}

/// The Docker engine's endpoint and how it was chosen.
#[derive(Serialize)]
struct EndpointReport {
    /// The endpoint (`unix:///var/run/docker.sock`, `tcp://box:2376 (TLS)`,
    /// `ssh://user@box`), or why none can be used.
    address: String,
    /// How it was chosen (`DOCKER_HOST`, a docker context, the default path).
    source: Option<String>,
    /// Whether it is on this host (host paths can be bind-mounted).
    local: bool,
}

impl EndpointReport {
    fn find() -> Self {
        match runtime_docker::DockerRuntime::new().endpoint() {
            Ok(chosen) => Self {
                address: chosen.endpoint.to_string(),
                source: Some(chosen.source.to_string()),
                local: chosen.endpoint.is_local(),
            },
            Err(err) => Self {
                address: err.to_string(),
                source: None,
                local: false,
            },
        }
    }
}

#[derive(Serialize)]
struct Report {
    host: HostFacts,
    /// The Docker engine's endpoint.
    endpoint: EndpointReport,
    /// The runtime `--runtime auto` would pick now, if any.
    auto: Option<RuntimeKind>,
    runtimes: Vec<RuntimeReport>,
}

pub async fn execute(args: DoctorArgs) -> Result<u8, Error> {
    let (probed, mut host) = backends::probe_all().await;
    // A remote engine's socket is on its host: ask there, for docker mode host.
    let asked: Vec<_> = probed.iter().map(|p| p.runtime.clone()).collect();
    select::ask_remote_socket(&asked, &mut host, &Default::default()).await;
    let caps: Vec<_> = probed.iter().map(|p| p.caps.clone()).collect();
    let auto = select::resolve_choice(runtime_core::RuntimeChoice::AUTO, host.os, &caps).ok();
    let runtimes: Vec<RuntimeReport> = probed.iter().map(|p| report(p, &host)).collect();
    let any = runtimes.iter().any(|r| r.available);
    let report = Report {
        host,
        endpoint: EndpointReport::find(),
        auto,
        runtimes,
    };
    match args.format {
        Format::Json => render::json(&report),
        Format::Human => crate::out!("{}", human(&report)),
    }
    Ok(if any { 0 } else { crate::exit::UNAVAILABLE })
}

fn report(p: &Probed, host: &HostFacts) -> RuntimeReport {
    let (available, reason, fix) = match p.caps.availability.problem() {
        None => (true, None, None),
        Some((reason, fix)) => (false, Some(reason), Some(fix)),
    };
    let runsc_flags = (p.caps.runtime == RuntimeKind::Gvisor)
        .then_some(p.caps.oci_runtime.as_ref())
        .flatten()
        .map(|r| runtime_gvisor::RunscFlags::parse(&r.args));
    let implications = runsc_flags
        .as_ref()
        .map(runtime_gvisor::RunscFlags::implications)
        .unwrap_or_default();
    let docker_modes = [DockerMode::None, DockerMode::Host, DockerMode::Dind]
        .into_iter()
        .map(|mode| mode_report(p, host, mode))
        .collect();
    RuntimeReport {
        runtime: p.caps.runtime,
        available,
        reason,
        fix,
        oci_runtime: p.caps.oci_runtime.clone(),
        runsc_flags,
        implications,
        docker_modes,
        egress: egress_report(p, host),
        init: init_report(p, host),
        self_test_failed: p
            .caps
            .functional
            .problem()
            .map(|(reason, fix)| format!("{reason}\n= fix: {fix}")),
    }
}

/// The init a minimal config gets, from the real resolver.
fn init_report(p: &Probed, host: &HostFacts) -> runtime_core::plan::InitPlan {
    let text = "[sandbox]\nimage = \"doctor\"\n";
    Config::parse("<doctor>".as_ref(), text, PathBuf::from("/doctor"))
        .and_then(|c| prepare(&c, &p.caps, host))
        .map(|plan| plan.init)
        .unwrap_or_default()
}

/// Resolves a minimal allowlist config with the real resolver, and for the Docker
/// engine's runtimes looks for the proxy's helper binary.
fn egress_report(p: &Probed, host: &HostFacts) -> EgressReport {
    let text = "[sandbox]\nimage = \"doctor\"\n\n[network]\npolicy = \"allowlist\"\nallow = [\"example.com\"]\n";
    let config = Config::parse("<doctor>".as_ref(), text, PathBuf::from("/doctor"));
    if let Err(err) = config.and_then(|c| prepare(&c, &p.caps, host)) {
        return EgressReport {
            ok: false,
            detail: err.to_string(),
        };
    }
    match runtime_docker::helper() {
        Ok(path) => EgressReport {
            ok: true,
            detail: format!(
                "internal network without a gateway, proxy sidecar from {}",
                path.display()
            ),
        },
        Err(why) => EgressReport {
            ok: false,
            detail: format!(
                "{why}; build it with scripts/build-helper.sh, or set {}",
                runtime_docker::HELPER_VAR
            ),
        },
    }
}

/// Resolves a minimal config in `mode` with the real resolver, so doctor and plan
/// can never disagree.
fn mode_report(p: &Probed, host: &HostFacts, mode: DockerMode) -> ModeReport {
    let text = format!("[sandbox]\nimage = \"doctor\"\n\n[docker]\nmode = \"{mode}\"\n");
    let config = Config::parse("<doctor>".as_ref(), &text, PathBuf::from("/doctor"));
    let result = config.and_then(|c| prepare(&c, &p.caps, host));
    match result {
        Ok(plan) => ModeReport {
            mode,
            ok: true,
            detail: match &plan.docker {
                runtime_core::plan::DockerAccess::None => "no docker inside".to_owned(),
                runtime_core::plan::DockerAccess::Host {
                    socket,
                    gid,
                    remote: None,
                    ..
                } => match gid {
                    Some(gid) => format!("host socket {} with group {gid}", socket.display()),
                    None => format!("host socket {} (root user, no group)", socket.display()),
                },
                runtime_core::plan::DockerAccess::Host {
                    socket,
                    gid,
                    remote: Some(endpoint),
                    ..
                } => format!(
                    "the socket of the engine at {endpoint}, {} on that host, {}",
                    socket.display(),
                    gid.map_or("root user, no group".to_owned(), |g| format!(
                        "with group {g} of that host"
                    ))
                ),
                runtime_core::plan::DockerAccess::Dind { privilege } => match privilege {
                    runtime_core::plan::DindPrivilege::Privileged => {
                        "private engine, --privileged".to_owned()
                    }
                    runtime_core::plan::DindPrivilege::Equivalent { missing } => format!(
                        "private engine, privileged spelled out (--privileged would fail: host lacks {})",
                        missing.join(", ")
                    ),
                },
            },
        },
        Err(err) => ModeReport {
            mode,
            ok: false,
            detail: err.to_string(),
        },
    }
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    let host = &report.host;
    out.push_str(&format!("host      {}\n", host.os));
    let endpoint = &report.endpoint;
    match &endpoint.source {
        Some(source) => {
            let place = if endpoint.local {
                ""
            } else {
                ", a remote engine: host paths are not on it"
            };
            out.push_str(&format!(
                "endpoint  {} (from {source}{place})\n",
                endpoint.address
            ));
        }
        None => out.push_str(&format!("endpoint  unusable: {}\n", endpoint.address)),
    }
    out.push_str(&format!(
        "socket    {}\n",
        host.socket
            .as_ref()
            .map_or_else(|| "none found".to_owned(), SocketFacts::describe)
    ));
    if let Some(SocketFacts::Usable { gid, .. } | SocketFacts::NoGroupAccess { gid, .. }) =
        &host.socket
        && let Ok(Some(group)) = nix::unistd::Group::from_gid((*gid).into())
    {
        out.push_str(&format!("          group {gid} is `{}`\n", group.name));
    }
    match &host.engine {
        Some(e) => {
            let names: Vec<&str> = e.runtimes.iter().map(|r| r.name.as_str()).collect();
            out.push_str(&format!(
                "engine    Docker {} (API {}), OCI runtimes: {} (default {})\n",
                e.version,
                e.api_version,
                names.join(", "),
                e.default_runtime.as_deref().unwrap_or("?")
            ));
        }
        None => out.push_str("engine    not reachable\n"),
    }
    out.push_str(&format!(
        "auto      {}\n",
        report
            .auto
            .map_or("no runtime is available".to_owned(), |k| format!(
                "--runtime auto picks {k}"
            ))
    ));
    for r in &report.runtimes {
        out.push('\n');
        if r.available {
            let oci = r
                .oci_runtime
                .as_ref()
                .map(|o| {
                    let path = o
                        .path
                        .as_deref()
                        .map(|p| format!(" at {p}"))
                        .unwrap_or_default();
                    let args = if o.args.is_empty() {
                        String::new()
                    } else {
                        format!(", args {}", o.args.join(" "))
                    };
                    format!(" (OCI runtime {}{path}{args})", o.name)
                })
                .unwrap_or_default();
            out.push_str(&format!("{:<9} available{oci}\n", r.runtime.as_str()));
        } else {
            out.push_str(&format!(
                "{:<9} unavailable: {}\n          fix: {}\n",
                r.runtime.as_str(),
                r.reason.as_deref().unwrap_or(""),
                r.fix.as_deref().unwrap_or("")
            ));
        }
        if let Some(failed) = &r.self_test_failed {
            out.push_str(&format!(
                "          self-test failed (auto skips it): {}\n",
                failed.replace('\n', "\n          ")
            ));
        }
        for line in &r.implications {
            out.push_str(&format!("          {line}\n"));
        }
        for m in &r.docker_modes {
            let mark = if m.ok { "yes" } else { "no " };
            let detail = m.detail.replace('\n', "\n                         ");
            out.push_str(&format!(
                "  docker mode {:<5} {mark} {detail}\n",
                m.mode.to_string()
            ));
        }
        let mark = if r.egress.ok { "yes" } else { "no " };
        let detail = r.egress.detail.replace('\n', "\n                         ");
        out.push_str(&format!("  allowlist         {mark} {detail}\n"));
        out.push_str(&format!("  init              {}\n", r.init));
    }
    out
}
