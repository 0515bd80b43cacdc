//! Snapshots of every command line the Apple backend builds, over a matrix of
//! configs (tests/fixtures/configs/, one case per file) resolved with
//! `runtime_core::prepare` for a macOS host where Apple `container` is available,
//! plus the refusals: those `prepare` makes, and the defensive ones the backend
//! makes itself for a plan that should never have reached it; the check of every
//! option against Apple's reference of each supported release; and the small
//! conversions (memory and CPU values, env files, exec variables).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime_core::plan::{DockerAccess, EnvValue, ImageSource, Mount, MountPurpose, Plan};
use runtime_core::{
    Availability, Config, CreateSpec, ExecSpec, HostFacts, LogOptions, Os, ProbeReport, prepare,
};

use crate::argv::{self, cpus_arg, env_file_contents, exec_env, memory_arg};
use crate::error::Subject;

/// Where the env file would be: in berth's env directory, named by pid and random digits.
const ENV_FILE: &str = "/Users/dev/.local/state/berth/apple-env/4242-0123456789abcdef.env";

/// A Mac with Apple `container` running and no Docker engine.
fn macos() -> HostFacts {
    HostFacts {
        os: Os::Macos,
        socket: None,
        engine: None,
        cap_bounding_set: None,
        env_names: BTreeSet::from(["GITHUB_TOKEN".to_owned()]),
        paths: Default::default(),
        home: None,
        state_dir: None,
        helper: None,
    }
}

fn resolve(path: &Path) -> Result<Plan, runtime_core::Error> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let config = Config::parse(
        Path::new("/Users/agent/project/berth.toml"),
        &text,
        PathBuf::from("/Users/agent/project"),
    )?;
    let host = macos();
    let probe = ProbeReport {
        availability: Availability::Available,
        engine: None,
    };
    let caps = crate::capabilities(&host, &probe);
    prepare(&config, &caps, &host)
}

fn spec(plan: &Plan) -> CreateSpec<'_> {
    let env = plan
        .env
        .iter()
        .map(|var| match &var.value {
            EnvValue::Literal { value } => (var.name.clone(), value.clone()),
            EnvValue::HostSecret | EnvValue::BoundSecret { .. } => {
                (var.name.clone(), "ghp_not-a-real-token".to_owned())
            }
        })
        .collect();
    let run_id = runtime_core::RunId::parse("3f9c2a1b7d4e").expect("run id");
    CreateSpec::new(plan, run_id, format!("{}-3f9c2a1b", plan.name))
        .with_env(env)
        .with_owner(
            4242,
            runtime_core::HostIdentity::new("6f1c2a3e-0b1d-4c5e-8f90-123456789abc", 4_026_531_836),
        )
}

fn create_argv(spec: &CreateSpec<'_>) -> Vec<String> {
    let env_file = (!spec.env.is_empty()).then(|| Path::new(ENV_FILE));
    argv::create(spec, env_file).unwrap_or_else(|e| panic!("create argv: {e}"))
}

#[test]
fn create_and_image_commands_for_each_config() {
    insta::glob!("../../tests/fixtures/configs", "*.toml", |path| {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let plan = match resolve(path) {
            Ok(plan) => plan,
            Err(err) => {
                assert!(name.starts_with("refused-"), "{name} was refused: {err}");
                insta::assert_snapshot!(err.to_string());
                return;
            }
        };
        assert!(!name.starts_with("refused-"), "{name} resolved");
        let spec = spec(&plan);
        let create = create_argv(&spec);
        for (_, value) in &spec.env {
            assert!(
                !create.iter().any(|arg| arg.contains(value.as_str())),
                "an env value reached the command line: {create:?}"
            );
        }
        let image = argv::build(&plan.image)
            .unwrap_or_else(|| argv::image_inspect(plan.image.reference()))
            .expect("image argv");
        insta::assert_debug_snapshot!((create, image));
    });
}

fn plan_of(file: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/configs")
        .join(file);
    resolve(&path).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn create_variants() {
    let mut plan = plan_of("workspace.toml");
    plan.mounts.push(Mount::Volume {
        target: "/cache".to_owned(),
        purpose: MountPurpose::Workspace,
    });
    plan.network
        .create
        .push("berth-3f9c2a1b7d4e-net".to_owned());
    let mut interactive = spec(&plan);
    interactive.stdin = true;
    interactive.tty = true;
    interactive.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "exec \"$@\"".into(),
        "--".into(),
        "-x".into(),
    ]);
    interactive.detached = true;
    interactive.expires_at = Some(1_749_600_000);
    let labels = interactive.labels();
    insta::assert_debug_snapshot!((
        create_argv(&interactive),
        argv::volume_create(&argv::volume_name("3f9c2a1b7d4e", 0), &labels),
        argv::network_create("berth-3f9c2a1b7d4e-net", &labels),
    ));
}

#[test]
fn session_and_lifecycle_commands() {
    let id = "agent-3f9c2a1b";
    let plain = ExecSpec {
        cmd: vec!["cat".into()],
        stdin: true,
        ..ExecSpec::default()
    };
    let full = ExecSpec {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "printenv TOKEN; exit 3".into(),
            "-i".into(),
        ],
        workdir: Some("/workspace".into()),
        env: vec![("TOKEN".into(), "never-on-argv".into())],
        user: Some("1000:1000".into()),
        stdin: true,
        tty: true,
    };
    let exec_full = argv::exec(id, &full, Some(Path::new(ENV_FILE))).expect("exec argv");
    assert!(!exec_full.iter().any(|a| a.contains("never-on-argv")));
    insta::assert_debug_snapshot!(vec![
        argv::start(id),
        argv::attach(id, false),
        argv::attach(id, true),
        argv::exec(id, &plain, None).expect("exec argv"),
        exec_full,
        argv::logs(id, &LogOptions::default()),
        argv::logs(
            id,
            &LogOptions {
                follow: true,
                tail: Some(100)
            }
        ),
        argv::stop(id, Duration::from_secs(10)),
        argv::stop(id, Duration::from_millis(1500)),
        argv::delete(&[id.to_owned()]),
        argv::list(false),
        argv::list(true),
        argv::inspect(id),
        argv::image_inspect("berth-test/busybox:latest").expect("inspect argv"),
        argv::volume_list(),
        argv::volume_delete(&["berth-3f9c2a1b7d4e-0".to_owned()]),
        argv::network_list(),
        argv::network_delete("berth-3f9c2a1b7d4e-net"),
        argv::system_status(),
        argv::system_status_text(),
    ]);
}

#[test]
fn defensive_refusals() {
    let base = plan_of("minimal.toml");
    let mut privileged = base.clone();
    privileged.security.privileged = true;
    let mut socket = base.clone();
    socket.mounts.push(Mount::Bind {
        source: "/var/run/docker.sock".into(),
        declared: None,
        target: "/var/run/docker.sock".into(),
        read_only: false,
        purpose: MountPurpose::DockerSocket,
    });
    let mut dind = base.clone();
    dind.docker = DockerAccess::Dind {
        privilege: runtime_core::plan::DindPrivilege::Privileged,
    };
    let mut groups = base.clone();
    groups.group_add.push(998);
    let mut bridge = base.clone();
    bridge.network.mode = "bridge".into();
    let mut colon_and_comma = base.clone();
    colon_and_comma.mounts.push(Mount::Bind {
        source: "/Users/agent/a:b,c".into(),
        declared: None,
        target: "/work".into(),
        read_only: false,
        purpose: MountPurpose::Workspace,
    });
    let mut option_image = base.clone();
    option_image.image = ImageSource::Reference {
        reference: "--mount=type=bind,source=/,target=/x".into(),
    };
    let refusals: Vec<String> = [
        privileged,
        socket,
        dind,
        groups,
        bridge,
        colon_and_comma,
        option_image,
    ]
    .iter()
    .map(|plan| match argv::create(&spec(plan), None) {
        Ok(argv) => panic!("not refused: {argv:?}"),
        Err(e) => e.into_core("create", Subject::sandbox("x")).to_string(),
    })
    .collect();
    insta::assert_debug_snapshot!(refusals);
}

#[test]
fn env_values_that_an_env_file_cannot_carry_are_refused() {
    let err = argv::env_file_contents(&[("TOKEN".into(), "line one\nline two".into())])
        .expect_err("a newline cannot be carried");
    let text = err.into_core("create", Subject::sandbox("x")).to_string();
    assert!(
        text.contains("TOKEN") && !text.contains("line one"),
        "{text}"
    );
}

#[test]
fn references_that_could_read_as_options_never_reach_a_command_line() {
    use crate::AppleError;
    let refused = |result: Result<Vec<String>, AppleError>| match result {
        Ok(argv) => panic!("not refused: {argv:?}"),
        Err(e) => {
            assert!(matches!(e, AppleError::InvalidReference { .. }), "{e:?}");
            let core = e.into_core("create", Subject::sandbox("x"));
            assert_eq!(
                core.category(),
                runtime_core::error::Category::Usage,
                "{core}"
            );
            core.to_string()
        }
    };
    let build = ImageSource::Build {
        dockerfile: "/Users/dev/project/Dockerfile".into(),
        context: "/Users/dev/project".into(),
        tag: "--output=type=local,dest=/".into(),
        args: Default::default(),
        declared_context: None,
        declared_dockerfile: None,
    };
    insta::assert_debug_snapshot!(vec![
        refused(argv::image_inspect("--mount=type=bind,source=/,target=/x")),
        refused(argv::image_inspect("-it")),
        refused(argv::build(&build).expect("a build")),
    ]);
}

/// Apple's CLI has no no-new-privileges setting and its runtime leaves it off: a
/// plan for Apple lists it as not applied instead of claiming it.
#[test]
fn plans_for_apple_do_not_claim_no_new_privileges() {
    let plan = plan_of("minimal.toml");
    assert!(!plan.security.no_new_privileges);
    assert!(
        !plan.security.to_string().contains("no-new-privileges"),
        "{}",
        plan.security
    );
    assert!(
        plan.not_applied
            .iter()
            .any(|w| w.starts_with("no-new-privileges:") && w.contains("its own virtual machine")),
        "{:?}",
        plan.not_applied
    );
}

/// Apple's `--tmpfs` takes only a path: the plan says the home is not private.
#[test]
fn plans_for_apple_say_the_home_tmpfs_is_not_private() {
    let plan = plan_of("minimal.toml");
    assert!(
        plan.not_applied
            .iter()
            .any(|w| w.starts_with("a private home:") && w.contains("mode 1777")),
        "{:?}",
        plan.not_applied
    );
}

/// The options of each `container` command in one release of Apple's CLI, from
/// fixtures/apple-cli-options.txt (names ending in `=` take a value).
type Release = std::collections::BTreeMap<String, BTreeSet<String>>;

/// Every release listed in fixtures/apple-cli-options.txt: the ones berth supports.
fn releases() -> Vec<(String, Release)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apple-cli-options.txt");
    let text = std::fs::read_to_string(&path).expect("read apple-cli-options.txt");
    let mut out: Vec<(String, Release)> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if let Some(tag) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((tag.to_owned(), Release::new()));
            continue;
        }
        let (command, options) = line.split_once(':').expect("command: options");
        let release = &mut out.last_mut().expect("a [version] first").1;
        release.insert(
            command.to_owned(),
            options.split_whitespace().map(str::to_owned).collect(),
        );
    }
    out
}

/// Why `argv` is not a command line `release` accepts, if it is not: an unknown
/// command, an option the command lacks, or a value before `--` that no option takes.
fn check_against(argv: &[String], release: &Release) -> Result<(), String> {
    let nested = [
        "image", "volume", "network", "system", "builder", "registry",
    ];
    let words = if nested.contains(&argv[0].as_str()) {
        2
    } else {
        1
    };
    let command = argv[..words].join(" ");
    let options = release
        .get(&command)
        .ok_or_else(|| format!("no command `container {command}`"))?;
    let mut rest = argv[words..].iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            return Ok(());
        }
        if options.contains(&format!("{arg}=")) {
            rest.next()
                .ok_or_else(|| format!("{arg} without its value"))?;
        } else if !options.contains(arg) {
            return Err(format!("`container {command}` has no option {arg}"));
        }
    }
    Ok(())
}

/// Every command line berth can build: each fixture config's create and image
/// commands, the variants with every option (input, terminal, volumes, networks,
/// a `-v` mount, a pids limit, a build), and every session and lifecycle command.
fn everything_berth_emits() -> Vec<Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
    let mut plans: Vec<Plan> = std::fs::read_dir(&dir)
        .expect("configs")
        .flatten()
        .filter_map(|entry| resolve(&entry.path()).ok())
        .collect();
    let mut full = plan_of("workspace.toml");
    full.mounts.push(Mount::Volume {
        target: "/cache".to_owned(),
        purpose: MountPurpose::Workspace,
    });
    full.mounts.push(Mount::Bind {
        source: "/Users/agent/a,b".into(),
        declared: None,
        target: "/other".into(),
        read_only: true,
        purpose: MountPurpose::Workspace,
    });
    full.network
        .create
        .push("berth-3f9c2a1b7d4e-net".to_owned());
    full.security.cap_add.push("NET_RAW".to_owned());
    full.security.read_only_rootfs = true;
    full.limits.pids = Some(100);
    plans.push(full);
    let mut out = Vec::new();
    for plan in &plans {
        for (stdin, tty) in [(false, false), (true, false), (true, true)] {
            let mut spec = spec(plan);
            spec.stdin = stdin;
            spec.tty = tty;
            out.push(argv::create(&spec, Some(Path::new(ENV_FILE))).expect("create argv"));
            let labels = spec.labels();
            out.push(argv::volume_create("berth-3f9c2a1b7d4e-0", &labels));
            out.push(argv::network_create("berth-3f9c2a1b7d4e-net", &labels));
        }
        if let Some(build) = argv::build(&plan.image) {
            out.push(build.expect("build argv"));
        }
        out.push(argv::image_inspect(plan.image.reference()).expect("image argv"));
    }
    let id = "agent-3f9c2a1b";
    let exec = ExecSpec {
        cmd: vec!["sh".into()],
        workdir: Some("/workspace".into()),
        env: vec![("TOKEN".into(), "x".into())],
        user: Some("1000:1000".into()),
        stdin: true,
        tty: true,
    };
    out.push(argv::exec(id, &exec, Some(Path::new(ENV_FILE))).expect("exec argv"));
    out.push(
        argv::exec(
            id,
            &ExecSpec {
                cmd: vec!["true".into()],
                ..ExecSpec::default()
            },
            None,
        )
        .expect("exec argv"),
    );
    for (follow, tail) in [(false, None), (true, Some(10))] {
        out.push(argv::logs(id, &LogOptions { follow, tail }));
    }
    out.extend([
        argv::start(id),
        argv::attach(id, false),
        argv::attach(id, true),
        argv::stop(id, Duration::from_secs(10)),
        argv::delete(&[id.to_owned()]),
        argv::list(false),
        argv::list(true),
        argv::inspect(id),
        argv::volume_list(),
        argv::volume_delete(&["berth-3f9c2a1b7d4e-0".to_owned()]),
        argv::network_list(),
        argv::network_delete("berth-3f9c2a1b7d4e-net"),
        argv::system_status(),
    ]);
    out
}

/// The contract with Apple's CLI: every command and option berth can put on a
/// command line exists, with the same arity, in every release berth supports
/// (0.12.0 to 1.2.2), as Apple's command reference lists them. A new release is
/// supported by adding it to the list with scripts/apple-cli-options.py.
#[test]
fn every_command_and_option_is_in_apples_reference_for_each_supported_release() {
    let releases = releases();
    let tags: Vec<&str> = releases.iter().map(|(tag, _)| tag.as_str()).collect();
    assert_eq!(
        tags.first(),
        Some(&"0.12.0"),
        "the oldest release berth supports"
    );
    assert_eq!(tags.last(), Some(&"1.2.2"));
    let emitted = everything_berth_emits();
    let options: BTreeSet<&str> = emitted
        .iter()
        .flat_map(|argv| argv.iter().take_while(|a| *a != "--"))
        .filter(|a| a.starts_with('-'))
        .map(String::as_str)
        .collect();
    // The check covers what matters: options of every kind berth uses.
    for expected in [
        "--ulimit",
        "--cap-drop",
        "--read-only",
        "-t",
        "-i",
        "--env-file",
        "-f",
        "--format",
        "--label",
        "-v",
    ] {
        assert!(
            options.contains(expected),
            "{expected} was not emitted: {options:?}"
        );
    }
    let mut failures = Vec::new();
    for (tag, release) in &releases {
        for argv in &emitted {
            if let Err(why) = check_against(argv, release) {
                failures.push(format!("{tag}: {why} in {argv:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The check itself refuses what Apple's parser would refuse.
#[test]
fn the_reference_check_refuses_unknown_options_and_commands() {
    let releases = releases();
    let (_, release) = releases.first().expect("a release");
    let argv = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    assert!(check_against(&argv(&["logs", "--tail", "1", "--", "x"]), release).is_err());
    assert!(check_against(&argv(&["create", "--pids-limit", "1", "--", "i"]), release).is_err());
    assert!(check_against(&argv(&["attach", "--", "x"]), release).is_err());
    assert!(check_against(&argv(&["stop", "-t"]), release).is_err());
    assert!(check_against(&argv(&["stop", "-t", "5", "--", "x"]), release).is_ok());
}

#[test]
fn exec_variables_the_sandbox_has_go_through_the_shell() {
    let env = vec![
        ("TOKEN".to_owned(), "new".to_owned()),
        ("NEW".to_owned(), "x".to_owned()),
    ];
    let cmd = vec!["printenv".to_owned(), "TOKEN".to_owned()];
    let init = vec!["PATH".to_owned(), "TOKEN".to_owned()];
    let (out, wrapped) = exec_env(&env, &cmd, &init).expect("wrapped");
    assert_eq!(
        out,
        [
            ("BERTH_EXEC_ENV_0".to_owned(), "new".to_owned()),
            ("NEW".to_owned(), "x".to_owned())
        ]
    );
    assert_eq!(
        wrapped,
        [
            "/bin/sh",
            "-c",
            "export TOKEN=\"$BERTH_EXEC_ENV_0\"; unset BERTH_EXEC_ENV_0; exec \"$@\"",
            "sh",
            "printenv",
            "TOKEN"
        ]
    );
    assert!(
        wrapped.iter().all(|a| !a.contains("new")),
        "no value on the command line"
    );
    let (same, plain) = exec_env(&env, &cmd, &["PATH".to_owned()]).expect("as given");
    assert_eq!((same, plain), (env.clone(), cmd.clone()));
    let odd = vec![("A-B".to_owned(), "v".to_owned())];
    assert!(exec_env(&odd, &cmd, &["A-B".to_owned()]).is_err());
}

#[test]
fn memory_uses_the_largest_exact_unit() {
    assert_eq!(memory_arg(4 << 30), "4G");
    assert_eq!(memory_arg(1536 << 20), "1536M");
    assert_eq!(memory_arg((1 << 20) + 1), "2M");
    assert_eq!(memory_arg(1), "1M");
}

#[test]
fn cpus_round_up_to_whole_cpus() {
    assert_eq!(cpus_arg(1.5), "2");
    assert_eq!(cpus_arg(2.0), "2");
    assert_eq!(cpus_arg(0.1), "1");
}

#[test]
fn env_files_refuse_line_breaks() {
    let ok = env_file_contents(&[("A".into(), "x y = z".into())]);
    assert_eq!(ok.ok().as_deref(), Some("A=x y = z\n"));
    let bad = env_file_contents(&[("A".into(), "one\ntwo".into())]);
    assert!(bad.is_err());
    let bad_name = env_file_contents(&[("A B".into(), "x".into())]);
    assert!(bad_name.is_err());
}
