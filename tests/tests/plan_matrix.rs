//! The resolution matrix: every config fixture resolved for every runtime on host
//! scenarios, each case a snapshot of what `berth plan` shows (or the refusal and
//! its exit code), plus the runtime-selection table.
//!
//! Fixtures are files, one case per file: `fixtures/configs/*.toml` are `berth.toml`
//! files, `fixtures/hosts/*.toml` are host scenarios (a [`HostFacts`] and what each
//! runtime's probe reported). Capabilities come from each backend crate's pure
//! `capabilities(&host, &probe)`, exactly as the CLI computes them, so a change to a
//! backend's capability rules shows up here too.
//!
//! The docker-mode configs (`docker-*`) cross every host; the others cross the core
//! hosts (socket with a group, no engine, runsc with `--host-uds=open`, macOS), and
//! the secrets configs also `secrets-set`. Snapshots are named
//! `{config}__{runtime}__{host}` (`json__...` for the JSON plans); a test fails if a
//! snapshot file has no case any more, so renamed fixtures leave nothing stale behind.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use runtime_core::select::resolve_choice;
use runtime_core::{
    Capabilities, Config, HostFacts, ProbeReport, RuntimeChoice, RuntimeKind, prepare, select,
};
use serde::{Deserialize, Serialize};

/// Where relative paths in the configs are anchored: the directory a user would run
/// `berth plan` in, fixed so that snapshots are the same on every machine.
const BASE_DIR: &str = "/home/dev/project";

/// The configs whose `[docker] mode` the matrix crosses with every host scenario.
const DOCKER_MODES: &[&str] = &[
    "docker-none",
    "docker-host",
    "docker-host-root-user",
    "docker-dind",
];

/// The hosts every other config is resolved on: a socket with a group and runsc
/// without `--host-uds`, no engine at all, runsc with `--host-uds=open`, and macOS
/// with Apple `container`.
const CORE_HOSTS: &[&str] = &["socket-gid", "socket-missing", "runsc-host-uds", "macos"];

/// Cases also snapshotted as the JSON of `berth plan --format json`.
const JSON_CASES: &[(&str, RuntimeKind, &str)] = &[
    ("docker-host", RuntimeKind::Docker, "socket-gid"),
    ("docker-dind", RuntimeKind::Docker, "capbnd-no-sys-resource"),
    ("docker-host", RuntimeKind::Gvisor, "runsc-renamed"),
    ("docker-host", RuntimeKind::Docker, "remote-socket-found"),
    ("build", RuntimeKind::Docker, "socket-gid"),
    ("secrets", RuntimeKind::Gvisor, "secrets-set"),
    ("resources-cpus-memory", RuntimeKind::Apple, "macos"),
];

/// A host scenario: the facts resolution sees, and what each runtime's probe said.
/// gVisor has no probe of its own: it is the Docker engine's.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HostScenario {
    /// The host; its `engine` is filled from the Docker probe, as the CLI does.
    host: HostFacts,
    /// The Docker engine's probe (used for docker and gvisor).
    docker: ProbeReport,
    /// Apple `container`'s probe.
    apple: ProbeReport,
}

/// One fixture file: its name (the file stem) and its text.
#[derive(Debug, Clone)]
struct Fixture {
    name: String,
    text: String,
}

impl Fixture {
    /// The comment on the first line, which says what the fixture is.
    fn about(&self) -> &str {
        self.text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix('#'))
            .map_or("", str::trim)
    }
}

fn fixtures(kind: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(kind);
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| Fixture {
            name: p.file_stem().expect("stem").to_string_lossy().into_owned(),
            text: std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("read {}: {e}", p.display())),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn fixture(kind: &str, name: &str) -> Fixture {
    fixtures(kind)
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {kind}/{name}.toml"))
}

/// Keys of `written` that are absent from `read` (what serde ignored), as dotted paths.
fn ignored_keys(written: &toml::Value, read: &toml::Value, path: &str) -> Vec<String> {
    match (written, read) {
        (toml::Value::Table(w), toml::Value::Table(r)) => w
            .iter()
            .flat_map(|(k, v)| {
                let here = format!("{path}{k}");
                match r.get(k) {
                    Some(rv) => ignored_keys(v, rv, &format!("{here}.")),
                    None => vec![here],
                }
            })
            .collect(),
        (toml::Value::Array(w), toml::Value::Array(r)) => w
            .iter()
            .zip(r)
            .enumerate()
            .flat_map(|(i, (w, r))| ignored_keys(w, r, &format!("{path}{i}.")))
            .collect(),
        _ => Vec::new(),
    }
}

fn host(fixture: &Fixture) -> HostScenario {
    let name = &fixture.name;
    let mut scenario: HostScenario =
        toml::from_str(&fixture.text).unwrap_or_else(|e| panic!("host fixture {name}: {e}"));
    // A misspelt key in a fixture would silently test the wrong thing.
    let written: toml::Value = toml::from_str(&fixture.text).expect("toml");
    let read = toml::Value::try_from(&scenario).expect("serialize scenario");
    let ignored = ignored_keys(&written, &read, "");
    assert!(
        ignored.is_empty(),
        "host fixture {name}: unknown keys {ignored:?}"
    );
    assert!(
        scenario.host.engine.is_none(),
        "host fixture {name}: give the engine as [docker.engine], the Docker probe's report"
    );
    assert!(
        fixture.about().len() > 10,
        "host fixture {name}: start it with a comment saying what the scenario is"
    );
    scenario.host.engine = scenario.docker.engine.clone();
    scenario
}

fn capabilities(runtime: RuntimeKind, scenario: &HostScenario) -> Capabilities {
    match runtime {
        RuntimeKind::Docker => runtime_docker::capabilities(&scenario.host, &scenario.docker),
        RuntimeKind::Gvisor => runtime_gvisor::capabilities(&scenario.host, &scenario.docker),
        RuntimeKind::Apple => runtime_apple::capabilities(&scenario.host, &scenario.apple),
    }
}

fn config(fixture: &Fixture) -> Config {
    Config::parse(
        Path::new("berth.toml"),
        &fixture.text,
        PathBuf::from(BASE_DIR),
    )
    .unwrap_or_else(|e| panic!("config fixture {} must parse: {}", fixture.name, e.report()))
}

/// What `berth plan` prints, or the error and its exit code.
fn outcome(config: &Config, caps: &Capabilities, host: &HostFacts) -> String {
    match prepare(config, caps, host) {
        Ok(plan) => plan.summary(),
        Err(err) => format!(
            "error: {}\nexit code: {}\n",
            err.report(),
            berth::exit::code(&err)
        ),
    }
}

/// One snapshot to check: its name, what it is about, and its text.
struct Case {
    name: String,
    description: String,
    text: String,
}

/// Checks every case, so one run reports (and writes `.snap.new` for) every change,
/// not just the first.
fn check_all(cases: Vec<Case>) {
    let mut failed = Vec::new();
    for case in cases {
        let result = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => "snapshots/plan_matrix",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => case.description.clone(),
            }, {
                insta::assert_snapshot!(case.name.clone(), &case.text);
            });
        }));
        if result.is_err() {
            failed.push(case.name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} snapshots changed: {failed:?}",
        failed.len()
    );
}

/// The (config, host) pairs of the matrix; each is resolved for every runtime.
fn matrix() -> Vec<(Fixture, Fixture)> {
    let configs = fixtures("configs");
    let hosts = fixtures("hosts");
    let mut pairs = Vec::new();
    for config in &configs {
        let docker_mode = DOCKER_MODES.contains(&config.name.as_str());
        for host in &hosts {
            let wanted = docker_mode
                || CORE_HOSTS.contains(&host.name.as_str())
                || (config.name.starts_with("secrets") && host.name == "secrets-set");
            if wanted {
                pairs.push((config.clone(), host.clone()));
            }
        }
    }
    pairs
}

fn case_name(config: &str, runtime: RuntimeKind, host: &str) -> String {
    format!("{config}__{runtime}__{host}")
}

#[test]
fn fixtures_cover_the_matrix() {
    let configs: BTreeSet<String> = fixtures("configs").into_iter().map(|f| f.name).collect();
    let hosts: BTreeSet<String> = fixtures("hosts").into_iter().map(|f| f.name).collect();
    for name in DOCKER_MODES.iter().chain(&[
        "network-none",
        "network-allowlist",
        "resources",
        "resources-pids",
        "secrets",
        "build",
        "workspace-readonly",
        "security",
    ]) {
        assert!(configs.contains(*name), "missing config fixture {name}");
    }
    for name in CORE_HOSTS.iter().chain(&[
        "socket-root-group",
        "socket-no-group-access",
        "capbnd-no-sys-resource",
        "runsc-dind",
        "runsc-renamed",
        "secrets-set",
        "remote-docker-host",
        "remote-socket-found",
        "remote-socket-missing",
        "remote-socket-unknown",
    ]) {
        assert!(hosts.contains(*name), "missing host fixture {name}");
    }
    for config in fixtures("configs") {
        assert!(
            config.about().len() > 10,
            "config fixture {}: start it with a comment saying what it is",
            config.name
        );
    }
    // Every host parses, with no key that serde ignored.
    for fixture in fixtures("hosts") {
        host(&fixture);
    }
}

#[test]
fn every_config_on_every_runtime() {
    let mut cases = Vec::new();
    for (config_fixture, host_fixture) in matrix() {
        let config = config(&config_fixture);
        let scenario = host(&host_fixture);
        for runtime in RuntimeKind::ALL {
            let caps = capabilities(runtime, &scenario);
            cases.push(Case {
                name: case_name(&config_fixture.name, runtime, &host_fixture.name),
                description: format!(
                    "{} on {runtime}; host: {}",
                    config_fixture.about(),
                    host_fixture.about()
                ),
                text: outcome(&config, &caps, &scenario.host),
            });
        }
    }
    let configs = fixtures("configs");
    let secrets = configs
        .iter()
        .filter(|c| c.name.starts_with("secrets"))
        .count();
    let others = configs.len() - DOCKER_MODES.len();
    let hosts = fixtures("hosts").len();
    assert_eq!(
        cases.len(),
        3 * (DOCKER_MODES.len() * hosts + others * CORE_HOSTS.len() + secrets),
        "the matrix lost cases"
    );
    check_all(cases);
}

#[test]
fn plans_as_json() {
    let mut cases = Vec::new();
    for &(config_name, runtime, host_name) in JSON_CASES {
        let config_fixture = fixture("configs", config_name);
        let host_fixture = fixture("hosts", host_name);
        let scenario = host(&host_fixture);
        let caps = capabilities(runtime, &scenario);
        let plan = prepare(&config(&config_fixture), &caps, &scenario.host)
            .unwrap_or_else(|e| panic!("{config_name} on {runtime}: {}", e.report()));
        cases.push(Case {
            name: format!("json__{}", case_name(config_name, runtime, host_name)),
            description: format!("berth plan --format json: {}", config_fixture.about()),
            text: serde_json::to_string_pretty(&plan).expect("json"),
        });
    }
    check_all(cases);
}

#[test]
fn secret_values_never_reach_a_plan() {
    let scenario = host(&fixture("hosts", "secrets-set"));
    let config = config(&fixture("configs", "secrets"));
    for runtime in RuntimeKind::ALL {
        let caps = capabilities(runtime, &scenario);
        let plan = prepare(&config, &caps, &scenario.host).expect("plan");
        // HostFacts holds names only, so no value can reach a plan; the plan marks
        // the variable as a host secret, and no label names it.
        let json = serde_json::to_value(&plan).expect("json");
        let token = json["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|v| v["name"] == "GITHUB_TOKEN")
            .expect("GITHUB_TOKEN in env");
        assert_eq!(
            token,
            &serde_json::json!({"name": "GITHUB_TOKEN", "from": "host-secret"})
        );
        assert_eq!(plan.secret_names().collect::<Vec<_>>(), ["GITHUB_TOKEN"]);
        assert!(!plan.labels.values().any(|v| v.contains("GITHUB_TOKEN")));
    }
}

#[test]
fn bound_secrets_reach_the_plan_as_names_and_hosts_and_the_launch_as_placeholders() {
    let scenario = host(&fixture("hosts", "secrets-set"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("secrets")).expect("mkdir");
    std::fs::write(dir.path().join("secrets/npm-token"), "npm-value\n").expect("write");
    let fixture = fixture("configs", "secret-bound");
    let config = Config::parse(
        Path::new("berth.toml"),
        &fixture.text,
        dir.path().to_owned(),
    )
    .expect("config");
    let plan = prepare(
        &config,
        &capabilities(RuntimeKind::Docker, &scenario),
        &scenario.host,
    )
    .expect("plan");
    let json = serde_json::to_value(&plan).expect("json");
    let env = json["env"].as_array().expect("env");
    assert_eq!(
        env[0],
        serde_json::json!({"name": "GITHUB_TOKEN", "from": "bound-secret",
            "hosts": ["api.github.com:443", "*.githubusercontent.com:443"]})
    );
    // No value in the plan; at launch, values come from the environment or the file.
    let credentials =
        plan.credentials(|name| (name == "GITHUB_TOKEN").then(|| "gh-value".to_owned()));
    let values: Vec<(&str, &str)> = credentials
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        values,
        [("GITHUB_TOKEN", "gh-value"), ("NPM_TOKEN", "npm-value")]
    );
    assert!(
        credentials
            .iter()
            .all(|c| c.placeholder.starts_with("berth-placeholder-"))
    );
    assert_ne!(credentials[0].placeholder, credentials[1].placeholder);
    assert!(
        !format!("{credentials:?}").contains("gh-value"),
        "Debug hides values"
    );
    // The plan's environment leaves them out: the sandbox gets the placeholders.
    assert!(plan.environment(|_| Some("x".to_owned())).is_empty());
}

fn choice(c: Option<RuntimeChoice>) -> String {
    c.map_or_else(|| "-".to_owned(), |c| c.to_string())
}

/// Flag, config, `BERTH_RUNTIME`: which one wins, and what an invalid value says.
fn selection_rows() -> Vec<(
    Option<RuntimeChoice>,
    Option<RuntimeChoice>,
    Option<&'static str>,
)> {
    let [docker, gvisor, apple] = RuntimeKind::ALL.map(RuntimeChoice::from);
    let auto = RuntimeChoice::AUTO;
    vec![
        (Some(docker), Some(apple), Some("gvisor")),
        (Some(auto), Some(docker), Some("gvisor")),
        (None, Some(apple), Some("gvisor")),
        (None, Some(auto), Some("docker")),
        (None, Some(gvisor), Some("podman")),
        (None, None, Some("gvisor")),
        (None, None, Some(" docker ")),
        (None, None, Some("auto")),
        (None, None, Some("")),
        (None, None, None),
        (None, None, Some("podman")),
        (None, None, Some("Docker")),
        (Some(apple), None, Some("podman")),
    ]
}

#[test]
fn runtime_selection_table() {
    let mut text = String::from(
        "# Who picks the runtime: --runtime, then the config's runtime, then BERTH_RUNTIME, then auto.\n",
    );
    let _ = writeln!(
        text,
        "{:<8} {:<8} {:<15} => requested",
        "flag", "config", "BERTH_RUNTIME"
    );
    for (flag, config, env) in selection_rows() {
        let env_shown = env.map_or_else(|| "(unset)".to_owned(), |e| format!("{e:?}"));
        let result = match select(flag, config, env) {
            Ok(s) => format!("{} (from {})", s.requested, s.source),
            Err(e) => format!("error, exit code {}: {}", berth::exit::code(&e), e.report()),
        };
        let _ = writeln!(
            text,
            "{:<8} {:<8} {:<15} => {result}",
            choice(flag),
            choice(config),
            env_shown
        );
    }

    text.push_str(
        "\n# What auto means on each host: gvisor if available, else docker, else apple on macOS.\n",
    );
    for host_fixture in fixtures("hosts") {
        let scenario = host(&host_fixture);
        let caps: Vec<Capabilities> = RuntimeKind::ALL
            .iter()
            .map(|&r| capabilities(r, &scenario))
            .collect();
        let available: Vec<&str> = caps
            .iter()
            .filter(|c| c.availability.is_available())
            .map(|c| c.runtime.as_str())
            .collect();
        let result = match resolve_choice(RuntimeChoice::AUTO, scenario.host.os, &caps) {
            Ok(kind) => kind.to_string(),
            Err(e) => format!(
                "error, exit code {}:\n{}",
                berth::exit::code(&e),
                indent(&e.report(), "    ")
            ),
        };
        let _ = writeln!(
            text,
            "{:<24} {:<6} available: {:<16} => {result}",
            host_fixture.name,
            scenario.host.os.to_string(),
            if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(", ")
            }
        );
    }

    text.push_str(
        "\n# An explicit choice is kept even where it is unavailable (launch says why).\n",
    );
    let scenario = host(&fixture("hosts", "socket-missing"));
    let caps: Vec<Capabilities> = RuntimeKind::ALL
        .iter()
        .map(|&r| capabilities(r, &scenario))
        .collect();
    for requested in RuntimeKind::ALL.map(RuntimeChoice::from) {
        let result = resolve_choice(requested, scenario.host.os, &caps)
            .map_or_else(|e| format!("error: {}", e.report()), |k| k.to_string());
        let _ = writeln!(
            text,
            "socket-missing: {:<6} => {result}",
            requested.to_string()
        );
    }
    check_all(vec![Case {
        name: "runtime_selection".to_owned(),
        description: "runtime_core::select::select and resolve_choice".to_owned(),
        text,
    }]);
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn selection_order_and_auto_preference() {
    let [docker, gvisor, apple] = RuntimeKind::ALL.map(RuntimeChoice::from);
    use runtime_core::SelectionSource::{Config as FromConfig, Default, Env, Flag};
    let pick = |flag, config, env| {
        let s = select(flag, config, env).expect("valid selection");
        (s.requested, s.source)
    };
    assert_eq!(
        pick(Some(docker), Some(apple), Some("gvisor")),
        (docker, Flag)
    );
    assert_eq!(pick(None, Some(apple), Some("gvisor")), (apple, FromConfig));
    assert_eq!(pick(None, None, Some("gvisor")), (gvisor, Env));
    assert_eq!(pick(None, None, None), (RuntimeChoice::AUTO, Default));
    let err = select(None, None, Some("podman")).expect_err("invalid BERTH_RUNTIME");
    assert_eq!(berth::exit::code(&err), 2, "{}", err.report());
    assert!(err.report().contains("BERTH_RUNTIME"), "{}", err.report());

    let auto = |name: &str| {
        let scenario = host(&fixture("hosts", name));
        let caps: Vec<Capabilities> = RuntimeKind::ALL
            .iter()
            .map(|&r| capabilities(r, &scenario))
            .collect();
        resolve_choice(RuntimeChoice::AUTO, scenario.host.os, &caps)
    };
    assert_eq!(auto("socket-gid").expect("gvisor"), RuntimeKind::Gvisor);
    assert_eq!(auto("no-runsc").expect("docker"), RuntimeKind::Docker);
    assert_eq!(auto("macos").expect("apple"), RuntimeKind::Apple);
    assert_eq!(
        berth::exit::code(&auto("socket-missing").expect_err("none")),
        4
    );
}

/// Every snapshot name the tests above write.
fn expected_snapshots() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = matrix()
        .iter()
        .flat_map(|(c, h)| RuntimeKind::ALL.map(|r| case_name(&c.name, r, &h.name)))
        .collect();
    names.extend(
        JSON_CASES
            .iter()
            .map(|(c, r, h)| format!("json__{}", case_name(c, *r, h))),
    );
    names.insert("runtime_selection".to_owned());
    names
}

#[test]
fn no_stale_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/plan_matrix");
    let expected = expected_snapshots();
    let stale = berth_tests::stale_snapshots(&dir, &expected);
    assert!(
        stale.is_empty(),
        "snapshots without a case (delete them): {stale:?}"
    );
}
