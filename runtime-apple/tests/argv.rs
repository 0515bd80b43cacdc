//! Snapshots of every command line the Apple backend builds, over a matrix of
//! configs (fixtures/configs/, one case per file) resolved with
//! `runtime_core::prepare` for a macOS host where Apple `container` is available,
//! plus the refusals: those `prepare` makes, and the defensive ones the backend
//! makes itself for a plan that should never have reached it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime_apple::argv;
use runtime_core::host::SocketSource;
use runtime_core::plan::{DockerAccess, EnvValue, ImageSource, Mount, MountPurpose, Plan};
use runtime_core::{
    Availability, Config, CreateSpec, ExecSpec, HostFacts, LogOptions, Os, ProbeReport,
    SocketFacts, prepare,
};

/// Where the env file would be: in berth's env directory, named by pid and random digits.
const ENV_FILE: &str = "/Users/dev/.local/state/berth/apple-env/4242-0123456789abcdef.env";

/// A Mac with Apple `container` running and no Docker engine.
fn macos() -> HostFacts {
    HostFacts {
        os: Os::Macos,
        socket: SocketFacts::Missing {
            path: PathBuf::from("/var/run/docker.sock"),
            source: SocketSource::Default,
            reason: "No such file or directory (os error 2)".to_owned(),
        },
        engine: None,
        cap_bounding_set: None,
        env_names: BTreeSet::from(["GITHUB_TOKEN".to_owned()]),
        paths: Default::default(),
        home: None,
        state_dir: None,
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
    let caps = runtime_apple::capabilities(&host, &probe);
    prepare(&config, &caps, &host)
}

fn spec(plan: &Plan) -> CreateSpec<'_> {
    let env = plan
        .env
        .iter()
        .map(|var| match &var.value {
            EnvValue::Literal { value } => (var.name.clone(), value.clone()),
            EnvValue::HostSecret => (var.name.clone(), "ghp_not-a-real-token".to_owned()),
        })
        .collect();
    CreateSpec {
        plan,
        run_id: "3f9c2a1b7d4e".to_owned(),
        name: format!("{}-3f9c2a1b", plan.name),
        env,
        stdin: false,
        tty: false,
        command: None,
        owner_pid: 4242,
        detached: false,
        expires_at: None,
    }
}

fn create_argv(spec: &CreateSpec<'_>) -> Vec<String> {
    let env_file = (!spec.env.is_empty()).then(|| Path::new(ENV_FILE));
    argv::create(spec, env_file).unwrap_or_else(|e| panic!("create argv: {e}"))
}

#[test]
fn create_and_image_commands_for_each_config() {
    insta::glob!("fixtures/configs/*.toml", |path| {
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
        Err(e) => e
            .into_core("create", runtime_apple::error::Subject::sandbox("x"))
            .to_string(),
    })
    .collect();
    insta::assert_debug_snapshot!(refusals);
}

#[test]
fn env_values_that_an_env_file_cannot_carry_are_refused() {
    let err = argv::env_file_contents(&[("TOKEN".into(), "line one\nline two".into())])
        .expect_err("a newline cannot be carried");
    let text = err
        .into_core("create", runtime_apple::error::Subject::sandbox("x"))
        .to_string();
    assert!(
        text.contains("TOKEN") && !text.contains("line one"),
        "{text}"
    );
}

#[test]
fn references_that_could_read_as_options_never_reach_a_command_line() {
    use runtime_apple::AppleError;
    let refused = |result: Result<Vec<String>, AppleError>| match result {
        Ok(argv) => panic!("not refused: {argv:?}"),
        Err(e) => {
            assert!(matches!(e, AppleError::InvalidReference { .. }), "{e:?}");
            let core = e.into_core("create", runtime_apple::error::Subject::sandbox("x"));
            assert_eq!(core.exit_code(), 2, "{core}");
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
/// plan for Apple says so instead of claiming it.
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
        plan.warnings
            .iter()
            .any(|w| w.contains("no-new-privileges is not applied")
                && w.contains("its own virtual machine")),
        "{:?}",
        plan.warnings
    );
}
