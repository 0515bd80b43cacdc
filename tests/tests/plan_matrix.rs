//! The resolution matrix: every config fixture resolved for every runtime on host
//! scenarios, each a snapshot of what `berth plan` shows (or the refusal and its
//! exit code). Fixtures are files, one case per file.

use std::path::{Path, PathBuf};

use runtime_core::{
    Availability, Capabilities, Config, HostFacts, ProbeReport, RuntimeKind, prepare,
};
use serde::Deserialize;

/// A host scenario: the facts, and what each runtime's probe said.
#[derive(Debug, Deserialize)]
struct HostCase {
    host: HostFacts,
    docker: Availability,
    apple: Availability,
}

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("read fixture");
            (stem, text)
        })
        .collect();
    out.sort();
    out
}

fn host(name: &str) -> HostCase {
    let (_, text) = fixtures("hosts")
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no host fixture {name}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("host fixture {name}: {e}"))
}

fn capabilities(runtime: RuntimeKind, case: &HostCase) -> Capabilities {
    let probe = |availability: &Availability| ProbeReport {
        availability: availability.clone(),
        engine: case.host.engine.clone(),
    };
    match runtime {
        RuntimeKind::Docker => runtime_docker::capabilities(&case.host, &probe(&case.docker)),
        RuntimeKind::Gvisor => runtime_gvisor::capabilities(&case.host, &probe(&case.docker)),
        RuntimeKind::Apple => runtime_apple::capabilities(
            &case.host,
            &ProbeReport {
                availability: case.apple.clone(),
                engine: None,
            },
        ),
    }
}

fn config(name: &str, text: &str) -> Config {
    let path = PathBuf::from(format!("{name}/berth.toml"));
    Config::parse(&path, text, PathBuf::from("/home/dev/project"))
        .unwrap_or_else(|e| panic!("config fixture {name} must parse: {}", e.report()))
}

/// What `berth plan` prints, or the error and its exit code.
fn resolve(config: &Config, caps: &Capabilities, host: &HostFacts) -> String {
    match prepare(config, caps, host) {
        Ok(plan) => plan.summary(),
        Err(err) => format!("error: {}\nexit code: {}\n", err.report(), err.exit_code()),
    }
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "snapshots/plan_matrix",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

const DOCKER_MODES: &[&str] = &[
    "docker-none",
    "docker-host",
    "docker-host-root-user",
    "docker-dind",
];

#[test]
fn docker_modes_on_every_runtime_and_host() {
    let configs = fixtures("configs");
    let hosts = fixtures("hosts");
    assert!(hosts.len() >= 12, "host scenarios: {}", hosts.len());
    let mut count = 0;
    for (config_name, text) in configs
        .iter()
        .filter(|(n, _)| DOCKER_MODES.contains(&n.as_str()))
    {
        let config = config(config_name, text);
        for (host_name, _) in &hosts {
            let case = host(host_name);
            for runtime in RuntimeKind::ALL {
                let caps = capabilities(runtime, &case);
                snapshot(
                    &format!("{config_name}__{runtime}__{host_name}"),
                    &resolve(&config, &caps, &case.host),
                );
                count += 1;
            }
        }
    }
    assert_eq!(count, DOCKER_MODES.len() * hosts.len() * 3);
}

#[test]
fn other_configs_on_every_runtime() {
    let configs = fixtures("configs");
    let mut count = 0;
    for (config_name, text) in configs
        .iter()
        .filter(|(n, _)| !DOCKER_MODES.contains(&n.as_str()))
    {
        let config = config(config_name, text);
        for host_name in [
            "socket-gid",
            "socket-missing",
            "runsc-host-uds",
            "secrets-set",
            "macos",
        ] {
            let case = host(host_name);
            for runtime in RuntimeKind::ALL {
                let caps = capabilities(runtime, &case);
                snapshot(
                    &format!("{config_name}__{runtime}__{host_name}"),
                    &resolve(&config, &caps, &case.host),
                );
                count += 1;
            }
        }
    }
    assert!(count >= 8 * 5 * 3, "{count}");
}

#[test]
fn plans_as_json() {
    for (config_name, runtime, host_name) in [
        ("docker-host", RuntimeKind::Docker, "socket-gid"),
        ("docker-dind", RuntimeKind::Docker, "capbnd-no-sys-resource"),
        ("docker-none", RuntimeKind::Gvisor, "socket-gid"),
        ("resources", RuntimeKind::Apple, "macos"),
    ] {
        let (_, text) = fixtures("configs")
            .into_iter()
            .find(|(n, _)| n == config_name)
            .expect("config");
        let case = host(host_name);
        let caps = capabilities(runtime, &case);
        let plan = prepare(&config(config_name, &text), &caps, &case.host).expect("plan resolves");
        snapshot(
            &format!("json__{config_name}__{runtime}__{host_name}"),
            &serde_json::to_string_pretty(&plan).expect("json"),
        );
    }
}

#[test]
fn secret_values_never_reach_a_plan() {
    let (_, text) = fixtures("configs")
        .into_iter()
        .find(|(n, _)| n == "secrets")
        .expect("config");
    let case = host("secrets-set");
    let caps = capabilities(RuntimeKind::Docker, &case);
    let plan = prepare(&config("secrets", &text), &caps, &case.host).expect("plan");
    // HostFacts holds names only, so a value cannot be in a plan; the plan marks
    // the variable as a host secret.
    let json = serde_json::to_string(&plan).expect("json");
    assert!(
        json.contains("\"name\":\"GITHUB_TOKEN\",\"from\":\"host-secret\""),
        "{json}"
    );
    assert!(!plan.labels.values().any(|v| v.contains("GITHUB_TOKEN")));
}
