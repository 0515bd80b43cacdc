//! Host paths a config hands to the engine (the workspace, the build context and
//! its Dockerfile): resolved to their real paths before resolution, shown as such by
//! the plan, refused as dangers when sensitive, resolved again right before use, and
//! acknowledged only from outside the config (`--allow`, `berth allow`).
//!
//! The resolution cases are pure (host facts written out, one snapshot); the rest
//! drive the real `berth` binary against the engine with a temporary HOME and
//! XDG_STATE_HOME.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;

use berth_tests::{Scratch, describe, require_engine, run};
use runtime_core::host::HostPath;
use runtime_core::{Config, Error, HostFacts, Os, ProbeReport, RealHost, SocketFacts, prepare};

/// A host with a home, berth's state under it, and the socket at its usual place.
fn host(paths: &[(&str, &str)]) -> HostFacts {
    let mut map: BTreeMap<PathBuf, HostPath> = paths
        .iter()
        .map(|(written, real)| {
            (
                PathBuf::from(written),
                HostPath::Found {
                    resolved: PathBuf::from(real),
                    is_dir: !real.ends_with("Dockerfile"),
                },
            )
        })
        .collect();
    map.insert(
        PathBuf::from("/var/run"),
        HostPath::Found {
            resolved: PathBuf::from("/run"),
            is_dir: true,
        },
    );
    HostFacts {
        os: Os::Linux,
        socket: Some(SocketFacts::Usable {
            path: PathBuf::from("/var/run/docker.sock"),
            source: "default path".to_owned(),
            gid: 999,
            mode: 0o660,
        }),
        engine: None,
        cap_bounding_set: Some(0x1ff_ffff_ffff),
        env_names: ["GITHUB_TOKEN".to_owned()].into(),
        paths: map,
        home: Some(PathBuf::from("/home/dev")),
        state_dir: Some(PathBuf::from("/home/dev/.local/state/berth")),
        helper: None,
    }
}

fn docker_caps(host: &HostFacts) -> runtime_core::Capabilities {
    let probe = ProbeReport {
        availability: runtime_core::Availability::Available,
        engine: None,
    };
    runtime_docker::capabilities(host, &probe)
}

/// What the case is, the config, and the host's path facts (as written, real).
type Case = (&'static str, String, Vec<(&'static str, &'static str)>);

#[test]
fn sensitive_and_symlinked_paths_resolve_to_what_is_really_used() {
    let image = "[sandbox]\nimage = \"debian:bookworm-slim\"\n";
    let cases: Vec<Case> = vec![
        (
            "a project directory: no danger",
            format!("{image}[workspace]\npath = \".\"\n"),
            vec![("/home/dev/project", "/home/dev/project")],
        ),
        (
            "a symlink to a project: the real path is mounted, the written one shown",
            format!("{image}[workspace]\npath = \"ws\"\n"),
            vec![("/home/dev/project/ws", "/home/dev/src/real-ws")],
        ),
        (
            "the root directory",
            format!("{image}[workspace]\npath = \"/\"\n"),
            vec![("/", "/")],
        ),
        (
            "/etc, read-only",
            format!("{image}[workspace]\npath = \"/etc\"\nread_only = true\n"),
            vec![("/etc", "/etc")],
        ),
        (
            "/proc",
            format!("{image}[workspace]\npath = \"/proc\"\n"),
            vec![("/proc", "/proc")],
        ),
        (
            "the engine socket's directory through /var/run",
            format!("{image}[workspace]\npath = \"/var/run\"\n"),
            vec![],
        ),
        (
            "the home directory through `..`",
            format!("{image}[workspace]\npath = \"..\"\n"),
            vec![("/home/dev", "/home/dev")],
        ),
        (
            "a symlink inside the project that points at the home directory",
            format!("{image}[workspace]\npath = \"link-to-home\"\n"),
            vec![("/home/dev/project/link-to-home", "/home/dev")],
        ),
        (
            "a symlink to ~/.ssh",
            format!("{image}[workspace]\npath = \"keys\"\n"),
            vec![("/home/dev/project/keys", "/home/dev/.ssh")],
        ),
        (
            "berth's own state",
            format!("{image}[workspace]\npath = \"/home/dev/.local/state/berth\"\n"),
            vec![],
        ),
        (
            "/home, which holds the home directory",
            format!("{image}[workspace]\npath = \"/home\"\n"),
            vec![],
        ),
        (
            "a build context that is the home directory",
            "[sandbox]\n[sandbox.build]\ncontext = \"..\"\ndockerfile = \"Dockerfile\"\n"
                .to_owned(),
            vec![
                ("/home/dev", "/home/dev"),
                (
                    "/home/dev/project/Dockerfile",
                    "/home/dev/project/Dockerfile",
                ),
            ],
        ),
        (
            "a Dockerfile outside the build context",
            "[sandbox]\n[sandbox.build]\ncontext = \"ctx\"\ndockerfile = \"../Dockerfile\"\n"
                .to_owned(),
            vec![
                ("/home/dev/project/ctx", "/home/dev/project/ctx"),
                ("/home/dev/Dockerfile", "/home/dev/Dockerfile"),
            ],
        ),
        (
            "a Dockerfile that is a symlink out of the context",
            "[sandbox]\n[sandbox.build]\n".to_owned(),
            vec![
                ("/home/dev/project", "/home/dev/project"),
                ("/home/dev/project/Dockerfile", "/etc/Dockerfile"),
            ],
        ),
        (
            "capabilities that break isolation, and one that does not",
            format!(
                "{image}[security]\ncap_add = [\"sys_admin\", \"CAP_SYS_PTRACE\", \"CHOWN\"]\n"
            ),
            vec![],
        ),
        (
            "docker host mode with a host secret",
            format!("{image}[docker]\nmode = \"host\"\n\n[secrets]\nnames = [\"GITHUB_TOKEN\"]\n"),
            vec![],
        ),
    ];
    let mut out = String::new();
    for (about, text, paths) in cases {
        let config = Config::parse(
            Path::new("berth.toml"),
            &text,
            PathBuf::from("/home/dev/project"),
        )
        .unwrap_or_else(|e| panic!("{about}: {}", e.report()));
        let host = host(&paths);
        let _ = writeln!(out, "## {about}");
        match prepare(&config, &docker_caps(&host), &host) {
            Ok(plan) => {
                for line in plan.summary().lines() {
                    if line.starts_with("mounts") || line.starts_with("danger") {
                        let _ = writeln!(out, "{line}");
                    }
                    if let Some(image) = line.strip_prefix("image     ") {
                        let _ = writeln!(out, "image     {image}");
                    }
                }
            }
            Err(err) => {
                let _ = writeln!(
                    out,
                    "error (exit {}): {}",
                    berth::exit::code(&err),
                    err.report()
                );
            }
        }
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

#[test]
fn a_path_that_resolves_elsewhere_at_launch_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real");
    let other = dir.path().join("other");
    std::fs::create_dir_all(&real).expect("mkdir");
    std::fs::create_dir_all(&other).expect("mkdir");
    let link = dir.path().join("ws");
    symlink(&real, &link).expect("symlink");
    let config = Config::parse(
        Path::new("berth.toml"),
        "[sandbox]\nimage = \"x\"\n[workspace]\npath = \"ws\"\n",
        dir.path().to_owned(),
    )
    .expect("config");
    let mut host = host(&[]);
    for path in config.host_paths() {
        let found = HostPath::probe(&RealHost, &path);
        host.paths.insert(path, found);
    }
    let plan = prepare(&config, &docker_caps(&host), &host).expect("plan");
    plan.verify_host_paths(&RealHost).expect("unchanged");
    std::fs::remove_file(&link).expect("rm link");
    symlink(&other, &link).expect("retarget");
    match plan.verify_host_paths(&RealHost) {
        Err(Error::HostPathChanged { planned, now, .. }) => {
            assert_eq!(planned, real.canonicalize().expect("real"));
            assert_eq!(now, other.canonicalize().expect("other"));
        }
        other => panic!("expected HostPathChanged, got {other:?}"),
    }
    std::fs::remove_file(&link).expect("rm link");
    assert!(matches!(
        plan.verify_host_paths(&RealHost),
        Err(Error::Usage { .. })
    ));
}

/// A scratch area: a home, a state directory and a project, all temporary.
struct Home {
    scratch: Scratch,
}

impl Home {
    fn new(tag: &str) -> Self {
        let scratch = Scratch::new(&format!("hp-{tag}"));
        std::fs::create_dir_all(scratch.dir().join("home/project")).expect("mkdir");
        Self { scratch }
    }

    fn home(&self) -> PathBuf {
        self.scratch.dir().join("home")
    }

    fn project(&self) -> PathBuf {
        self.home().join("project")
    }

    fn config(&self, workspace: &str) -> PathBuf {
        self.scratch.write_config(
            "home/project/berth.toml",
            &format!(
                "image = \"berth-test/busybox:latest\"\n\n[workspace]\npath = \"{workspace}\"\nread_only = true\n"
            ),
        )
    }

    fn berth(&self, args: &[&str]) -> Output {
        run(self.scratch.berth().env("HOME", self.home()).args(args))
    }
}

#[test]
fn a_symlink_to_home_is_shown_resolved_and_refused_until_acknowledged() {
    require_engine();
    let s = Home::new("home");
    symlink(s.home(), s.project().join("link")).expect("symlink");
    let config = s.config("link");
    let config_arg = config.to_str().expect("utf-8 path");
    let home = s.home().canonicalize().expect("home");

    let plan = s.berth(&["plan", "--runtime", "docker", "-f", config_arg]);
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert!(
        shown.contains(&format!("mounts    {} (named as", home.display())),
        "{shown}"
    );
    assert!(shown.contains("[sensitive-path]"), "{shown}");
    assert!(shown.contains("is your home directory"), "{shown}");

    // Refused before anything exists.
    let cmd = [
        "run",
        "--rm",
        "--runtime",
        "docker",
        "-f",
        config_arg,
        "--",
        "true",
    ];
    let refused = s.berth(&cmd);
    assert_eq!(refused.status.code(), Some(3), "{}", describe(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--allow sensitive-path"), "{said}");
    assert!(said.contains("berth allow -f"), "{said}");
    s.scratch.assert_clean();

    // Acknowledged for one run by the flag; the danger is still said.
    let allowed = s.berth(&[
        "run",
        "--rm",
        "--runtime",
        "docker",
        "--allow",
        "sensitive-path",
        "-f",
        config_arg,
        "--",
        "ls",
        "/workspace/project",
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{}", describe(&allowed));
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("berth.toml"));
    assert!(
        String::from_utf8_lossy(&allowed.stderr)
            .contains("danger (acknowledged by --allow sensitive-path)")
    );

    // Acknowledged for this exact file by `berth allow`...
    let approve = s.berth(&["allow", "--runtime", "docker", "-f", config_arg]);
    assert_eq!(approve.status.code(), Some(0), "{}", describe(&approve));
    let ok = s.berth(&cmd);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("acknowledged by berth allow"));

    // ...until the file changes,
    let mut changed = std::fs::read_to_string(&config).expect("read");
    changed.push_str("# edited\n");
    std::fs::write(&config, &changed).expect("write");
    let again = s.berth(&cmd);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));

    // or what the file points at changes, with the file the same.
    let approve = s.berth(&["allow", "--runtime", "docker", "-f", config_arg]);
    assert_eq!(approve.status.code(), Some(0), "{}", describe(&approve));
    std::fs::remove_file(s.project().join("link")).expect("rm link");
    std::fs::create_dir_all(s.home().join(".ssh")).expect("mkdir");
    symlink(s.home().join(".ssh"), s.project().join("link")).expect("retarget");
    let retargeted = s.berth(&cmd);
    assert_eq!(
        retargeted.status.code(),
        Some(3),
        "{}",
        describe(&retargeted)
    );
    assert!(String::from_utf8_lossy(&retargeted.stderr).contains("credentials (~/.ssh)"));

    let revoke = s.berth(&["allow", "--revoke", "-f", config_arg]);
    assert_eq!(revoke.status.code(), Some(0), "{}", describe(&revoke));
    let approvals = s.scratch.state().join("berth/approvals");
    assert_eq!(
        std::fs::read_dir(&approvals).expect("approvals").count(),
        0,
        "revoked"
    );
}

#[test]
fn a_build_that_reaches_outside_its_context_is_refused() {
    require_engine();
    let s = Home::new("build");
    let config = s.project().join("berth.toml");
    std::fs::write(
        s.home().join("Dockerfile"),
        "FROM berth-test/busybox:latest\n",
    )
    .expect("write");
    std::fs::write(
        &config,
        "[sandbox]\n[sandbox.build]\ncontext = \".\"\ndockerfile = \"../Dockerfile\"\n",
    )
    .expect("write config");
    let config_arg = config.to_str().expect("utf-8 path");
    let out = s.berth(&["plan", "--runtime", "docker", "-f", config_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the build context"));

    // The home directory as a context is a danger: refused by run, before a build.
    std::fs::write(
        &config,
        "[sandbox]\n[sandbox.build]\ncontext = \"..\"\ndockerfile = \"../Dockerfile\"\ntag = \"berth-test/hp-never-built:latest\"\n",
    )
    .expect("write config");
    let out = s.berth(&[
        "run",
        "--rm",
        "--runtime",
        "docker",
        "-f",
        config_arg,
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the build context"));
    let image =
        run(berth_tests::docker().args(["image", "inspect", "berth-test/hp-never-built:latest"]));
    if image.status.success() {
        run(berth_tests::docker().args(["rmi", "-f", "berth-test/hp-never-built:latest"]));
    }
    assert!(!image.status.success(), "nothing was built");
}

#[test]
fn a_missing_workspace_is_named_in_the_plan() {
    let text = "[sandbox]\nimage = \"debian:bookworm-slim\"\n[workspace]\npath = \"gone\"\n";
    let config = Config::parse(
        "berth.toml".as_ref(),
        text,
        PathBuf::from("/home/dev/project"),
    )
    .expect("config");
    let mut facts = host(&[]);
    facts.paths.insert(
        PathBuf::from("/home/dev/project/gone"),
        HostPath::Missing {
            reason: "No such file or directory (os error 2)".to_owned(),
        },
    );
    let plan = prepare(&config, &docker_caps(&facts), &facts).expect("a plan, with a warning");
    assert_eq!(
        plan.warnings,
        [
            "the workspace /home/dev/project/gone does not exist (No such file or directory (os error 2)): a launch would fail; create it, or fix [workspace] path"
        ]
    );
}
