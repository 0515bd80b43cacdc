//! Pure translation of plans and specs into `container` command lines (without the
//! program name). Everything the backend runs is built here, so every command line
//! can be snapshot-tested without a Mac.
//!
//! Environment values never appear here: they go to a 0600 env file whose path is
//! passed with `--env-file` (see [`env_file_contents`]). The one exception is
//! `HOME`, the plan's home directory, which is a path berth chose, not a value.
//!
//! Every positional argument (image, container id, command, names, build context)
//! comes after `--`, which Apple's parser (swift-argument-parser) reads as the end
//! of options, so no value can become an option. Image references and tags are
//! checked against Docker's grammar before they are put on a command line.

use std::path::Path;
use std::time::Duration;

use runtime_core::plan::{DockerAccess, ImageSource, Mount, MountPurpose, Plan};
use runtime_core::{CreateSpec, ExecSpec, LogOptions};

use crate::error::AppleError;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// The name of the `index`th anonymous volume of a run (created explicitly, since
/// Apple does not remove anonymous volumes with their container).
pub(crate) fn volume_name(run_id: &str, index: usize) -> String {
    format!("berth-{run_id}-{index}")
}

/// Checks an image reference (or tag) before it goes on a command line.
pub(crate) fn check_reference(reference: &str) -> Result<(), AppleError> {
    runtime_core::reference::check(reference).map_err(|reason| AppleError::InvalidReference {
        reference: reference.to_owned(),
        reason,
    })
}

/// Refuses, defensively, what resolution should already have refused on Apple:
/// privilege, the host engine socket, a private engine and extra groups, none of
/// which `container` can express.
pub(crate) fn check_plan(plan: &Plan) -> Result<(), AppleError> {
    let refuse = |reason: String| {
        Err(AppleError::Refused {
            operation: "create",
            reason,
        })
    };
    if plan.security.privileged {
        return refuse("Apple `container` has no --privileged".to_owned());
    }
    match &plan.docker {
        DockerAccess::None => {}
        DockerAccess::Host { .. } => {
            return refuse(
                "there is no host Docker engine socket to mount into an Apple container".to_owned(),
            );
        }
        DockerAccess::Dind { .. } => {
            return refuse(
                "a private docker engine needs privileges Apple `container` cannot grant"
                    .to_owned(),
            );
        }
    }
    for mount in &plan.mounts {
        let purpose = match mount {
            Mount::Bind { purpose, .. }
            | Mount::Volume { purpose, .. }
            | Mount::Tmpfs { purpose, .. } => *purpose,
        };
        if matches!(
            purpose,
            MountPurpose::DockerSocket | MountPurpose::RemoteDockerSocket | MountPurpose::Cgroup
        ) {
            return refuse(format!(
                "the plan mounts the {purpose}, which Apple `container` cannot provide"
            ));
        }
    }
    let security = &plan.security;
    if !security.security_opt.is_empty()
        || !security.device_cgroup_rules.is_empty()
        || security.cgroupns_host
        || security.system_paths_unconfined
    {
        return refuse(format!(
            "the plan's security settings ({security}) have no Apple `container` equivalent"
        ));
    }
    if let Some(pids) = plan.limits.pids.filter(|p| *p < 1) {
        return refuse(format!(
            "pids {pids}: Apple's process limit (--ulimit nproc) needs at least 1"
        ));
    }
    if !plan.group_add.is_empty() {
        return refuse("Apple `container` cannot add supplementary groups".to_owned());
    }
    match plan.network.mode.as_str() {
        "default" | "none" => Ok(()),
        other => refuse(format!(
            "network mode {other:?} has no Apple `container` equivalent (expected \"default\" or \"none\")"
        )),
    }
}

/// `-m` for `bytes`: whole GiB as `NG`, else MiB (Apple's granularity, rounded up)
/// as `NM`.
pub(crate) fn memory_arg(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else {
        format!("{}M", bytes.div_ceil(MIB).max(1))
    }
}

/// `-c` for `cpus`: Apple allocates whole virtual CPUs, so a fraction is rounded up.
pub(crate) fn cpus_arg(cpus: f64) -> String {
    let whole = cpus.ceil().max(1.0);
    if whole >= u32::MAX as f64 {
        u32::MAX.to_string()
    } else {
        format!("{}", whole as u64)
    }
}

/// One `--mount` (or, for paths `--mount` cannot carry, `-v`; for a tmpfs,
/// `--tmpfs`, which takes no owner or mode) for a mount.
fn mount_args(mount: &Mount, volume: Option<&str>) -> Result<[String; 2], AppleError> {
    let (kind, source, target, read_only) = match mount {
        Mount::Tmpfs { target, .. } => return Ok(["--tmpfs".to_owned(), target.clone()]),
        Mount::Bind {
            source,
            target,
            read_only,
            ..
        } => (
            "bind",
            source.to_string_lossy().into_owned(),
            target.clone(),
            *read_only,
        ),
        Mount::Volume { target, .. } => (
            "volume",
            volume.unwrap_or_default().to_owned(),
            target.clone(),
            false,
        ),
    };
    // Apple splits --mount on ',' and '=', and -v on ':'.
    let fits_mount = |s: &str| !s.contains([',', '=']);
    if fits_mount(&source) && fits_mount(&target) {
        let mut spec = format!("type={kind},source={source},target={target}");
        if read_only {
            spec.push_str(",readonly");
        }
        return Ok(["--mount".to_owned(), spec]);
    }
    if !source.contains(':') && !target.contains(':') {
        let mut spec = format!("{source}:{target}");
        if read_only {
            spec.push_str(":ro");
        }
        return Ok(["-v".to_owned(), spec]);
    }
    Err(AppleError::Refused {
        operation: "mount",
        reason: format!(
            "{source} -> {target}: Apple's --mount cannot carry ',' or '=' in a path, and -v cannot carry ':'"
        ),
    })
}

/// `container create [options] -- IMAGE [ARGS...]` for a spec. `env_file` holds the environment (see
/// [`env_file_contents`]); it is `None` when there is none.
pub(crate) fn create(
    spec: &CreateSpec<'_>,
    env_file: Option<&Path>,
) -> Result<Vec<String>, AppleError> {
    let plan = spec.plan;
    check_plan(plan)?;
    let mut args: Vec<String> = vec!["create".into(), "--name".into(), spec.name.clone()];
    for (key, value) in spec.labels() {
        args.push("-l".into());
        args.push(format!("{key}={value}"));
    }
    if let Some(file) = env_file {
        args.push("--env-file".into());
        args.push(file.to_string_lossy().into_owned());
    }
    if let Some(user) = &plan.user {
        args.push("-u".into());
        args.push(user.clone());
    }
    // The home directory is a path from the plan, not a secret: it may go on the
    // command line.
    if let Some(home) = &plan.home
        && !spec.env.iter().any(|(k, _)| k == "HOME")
    {
        args.push("-e".into());
        args.push(format!("HOME={home}"));
    }
    if let Some(workdir) = &plan.workdir {
        args.push("-w".into());
        args.push(workdir.clone());
    }
    if let Some(cpus) = plan.limits.cpus {
        args.push("-c".into());
        args.push(cpus_arg(cpus));
    }
    if let Some(memory) = plan.limits.memory {
        args.push("-m".into());
        args.push(memory_arg(memory.0));
    }
    // The closest Apple has to a pids limit: RLIMIT_NPROC for the init process
    // (and, inherited, every exec), soft and hard.
    if let Some(pids) = plan.limits.pids {
        args.push("--ulimit".into());
        args.push(format!("nproc={pids}:{pids}"));
    }
    let mut volumes = 0;
    for mount in &plan.mounts {
        let name = matches!(mount, Mount::Volume { .. }).then(|| {
            volumes += 1;
            volume_name(&spec.run_id, volumes - 1)
        });
        args.extend(mount_args(mount, name.as_deref())?);
    }
    // "default" is what a container joins when no --network is given, and leaving
    // the flag out also works where --network is limited to macOS 26.
    if plan.network.mode == "none" {
        args.extend(["--network".into(), "none".into()]);
    }
    for network in &plan.network.create {
        args.extend(["--network".into(), network.clone()]);
    }
    for cap in &plan.security.cap_drop {
        args.extend(["--cap-drop".into(), cap.clone()]);
    }
    for cap in &plan.security.cap_add {
        args.extend(["--cap-add".into(), cap.clone()]);
    }
    if plan.security.read_only_rootfs {
        args.push("--read-only".into());
    }
    // An init that forwards signals and reaps zombies, as the Docker backend has.
    args.push("--init".into());
    if spec.stdin {
        args.push("-i".into());
    }
    if spec.tty {
        args.push("-t".into());
    }
    check_reference(plan.image.reference())?;
    args.push("--".into());
    args.push(plan.image.reference().to_owned());
    // Everything after the image is the process's arguments, however they look.
    if let Some(command) = spec.command.as_ref().or(plan.command.as_ref()) {
        args.extend(command.iter().cloned());
    }
    Ok(args)
}

/// The env file's text for `env`: one `NAME=value` per line, in Docker's env-file
/// format, which Apple's CLI ports. Refuses what that format cannot carry: a value
/// with a line break, or a name that is empty or holds `=`, `#` first, or spaces.
pub(crate) fn env_file_contents(env: &[(String, String)]) -> Result<String, AppleError> {
    let mut text = String::new();
    for (name, value) in env {
        let bad_name = name.is_empty()
            || name.starts_with('#')
            || name.contains('=')
            || name.chars().any(char::is_whitespace);
        if bad_name {
            return Err(AppleError::Refused {
                operation: "pass the environment",
                reason: format!("{name:?} is not a name an env file can carry"),
            });
        }
        // Foundation splits lines on every one of these.
        if value.contains([
            '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
        ]) {
            return Err(AppleError::Refused {
                operation: "pass the environment",
                reason: format!(
                    "the value of {name} contains a line break, which Apple's --env-file cannot carry (and berth never puts values on a command line)"
                ),
            });
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    Ok(text)
}

/// `container start -- ID` (detached: prints the id).
pub(crate) fn start(id: &str) -> Vec<String> {
    vec!["start".into(), "--".into(), id.into()]
}

/// `container start -a [-i] -- ID`: starts the container with its stdout and stderr
/// (and stdin) connected to this process.
pub(crate) fn attach(id: &str, stdin: bool) -> Vec<String> {
    let mut args = vec!["start".to_owned(), "-a".to_owned()];
    if stdin {
        args.push("-i".into());
    }
    args.extend(["--".into(), id.into()]);
    args
}

/// `container exec [-i] [-t] [-w DIR] [-u USER] [--env-file F] -- ID CMD...`.
pub(crate) fn exec(
    id: &str,
    spec: &ExecSpec,
    env_file: Option<&Path>,
) -> Result<Vec<String>, AppleError> {
    if spec.cmd.is_empty() {
        return Err(AppleError::Refused {
            operation: "exec",
            reason: "no command was given".to_owned(),
        });
    }
    let mut args = vec!["exec".to_owned()];
    if spec.stdin {
        args.push("-i".into());
    }
    if spec.tty {
        args.push("-t".into());
    }
    if let Some(workdir) = &spec.workdir {
        args.extend(["-w".into(), workdir.clone()]);
    }
    if let Some(user) = &spec.user {
        args.extend(["-u".into(), user.clone()]);
    }
    if let Some(file) = env_file {
        args.extend(["--env-file".into(), file.to_string_lossy().into_owned()]);
    }
    args.extend(["--".into(), id.into()]);
    // Apple captures everything after the id for the process.
    args.extend(spec.cmd.iter().cloned());
    Ok(args)
}

/// An exec's environment and command, as [`exec_env`] returns them.
pub(crate) type ExecEnv = (Vec<(String, String)>, Vec<String>);

/// The prefix of the stand-in names [`exec_env`] gives overridden variables.
pub(crate) const EXEC_ENV_PREFIX: &str = "BERTH_EXEC_ENV_";

/// The environment and command of an exec whose variables must win over the
/// container's own. Apple appends an exec's variables to the init process's
/// environment without removing duplicates, so a program reading the first entry
/// (as `getenv` does) sees the value from create; Docker replaces it. To behave as
/// Docker does, each exec variable whose name the init process already has travels
/// under a stand-in name (`BERTH_EXEC_ENV_<n>`), and the command runs through
/// `/bin/sh`, which exports it under its own name, unsets the stand-in, and
/// `exec`s the command, so the process sees one entry, the exec's. Values never
/// reach the command line. Without a clash, `env` and `cmd` are returned as given.
pub(crate) fn exec_env(
    env: &[(String, String)],
    cmd: &[String],
    init_names: &[String],
) -> Result<ExecEnv, AppleError> {
    let clashes = |name: &str| init_names.iter().any(|n| n == name);
    if !env.iter().any(|(name, _)| clashes(name)) {
        return Ok((env.to_vec(), cmd.to_vec()));
    }
    let mut script = String::new();
    let mut out = Vec::with_capacity(env.len());
    for (index, (name, value)) in env.iter().enumerate() {
        if !clashes(name) {
            out.push((name.clone(), value.clone()));
            continue;
        }
        let shell_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !shell_name {
            return Err(AppleError::Refused {
                operation: "pass the environment",
                reason: format!(
                    "{name:?} is already set in the sandbox, and Apple `container` would keep that value; berth replaces it through the shell, which cannot name {name:?}"
                ),
            });
        }
        let stand_in = format!("{EXEC_ENV_PREFIX}{index}");
        script.push_str(&format!(
            "export {name}=\"${stand_in}\"; unset {stand_in}; "
        ));
        out.push((stand_in, value.clone()));
    }
    script.push_str("exec \"$@\"");
    let mut wrapped = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        script,
        "sh".to_owned(),
    ];
    wrapped.extend(cmd.iter().cloned());
    Ok((out, wrapped))
}

/// `container logs [-f] [-n N] -- ID`.
pub(crate) fn logs(id: &str, options: &LogOptions) -> Vec<String> {
    let mut args = vec!["logs".to_owned()];
    if options.follow {
        args.push("-f".into());
    }
    if let Some(n) = options.tail {
        args.extend(["-n".into(), n.to_string()]);
    }
    args.extend(["--".into(), id.into()]);
    args
}

/// `container stop -t SECS -- ID`: SIGTERM, then SIGKILL after `grace` (rounded up to
/// whole seconds).
pub(crate) fn stop(id: &str, grace: Duration) -> Vec<String> {
    let mut secs = grace.as_secs();
    if grace.subsec_nanos() > 0 {
        secs += 1;
    }
    let secs = secs.min(i32::MAX as u64);
    vec![
        "stop".into(),
        "-t".into(),
        secs.to_string(),
        "--".into(),
        id.into(),
    ]
}

/// `container delete -f -- ID...` (prints each deleted id).
pub(crate) fn delete(ids: &[String]) -> Vec<String> {
    let mut args = vec!["delete".to_owned(), "-f".to_owned(), "--".to_owned()];
    args.extend(ids.iter().cloned());
    args
}

/// `container ls [-a] --format json`.
pub(crate) fn list(all: bool) -> Vec<String> {
    let mut args = vec!["ls".to_owned()];
    if all {
        args.push("-a".into());
    }
    args.extend(["--format".into(), "json".into()]);
    args
}

/// `container inspect -- ID` (always a JSON array).
pub(crate) fn inspect(id: &str) -> Vec<String> {
    vec!["inspect".into(), "--".into(), id.into()]
}

/// `container image inspect -- REF`, for a valid reference.
pub(crate) fn image_inspect(reference: &str) -> Result<Vec<String>, AppleError> {
    check_reference(reference)?;
    Ok(vec![
        "image".into(),
        "inspect".into(),
        "--".into(),
        reference.into(),
    ])
}

/// `container build --progress plain -t TAG -f FILE [--build-arg K=V]... -- DIR`,
/// for a valid tag; `None` for an image that is not built.
pub(crate) fn build(image: &ImageSource) -> Option<Result<Vec<String>, AppleError>> {
    let ImageSource::Build {
        dockerfile,
        context,
        tag,
        args: build_args,
        ..
    } = image
    else {
        return None;
    };
    if let Err(err) = check_reference(tag) {
        return Some(Err(err));
    }
    let mut args: Vec<String> = vec![
        "build".into(),
        "--progress".into(),
        "plain".into(),
        "-t".into(),
        tag.clone(),
        "-f".into(),
        dockerfile.to_string_lossy().into_owned(),
    ];
    for (key, value) in build_args {
        args.extend(["--build-arg".into(), format!("{key}={value}")]);
    }
    args.push("--".into());
    args.push(context.to_string_lossy().into_owned());
    Some(Ok(args))
}

/// `container volume create --label K=V... -- NAME`.
pub(crate) fn volume_create<'a>(
    name: &str,
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<String> {
    let mut args = vec!["volume".to_owned(), "create".to_owned()];
    for (key, value) in labels {
        args.extend(["--label".into(), format!("{key}={value}")]);
    }
    args.extend(["--".into(), name.into()]);
    args
}

/// `container volume delete -- NAME...`.
pub(crate) fn volume_delete(names: &[String]) -> Vec<String> {
    let mut args = vec!["volume".to_owned(), "delete".to_owned(), "--".to_owned()];
    args.extend(names.iter().cloned());
    args
}

/// `container volume list --format json`.
pub(crate) fn volume_list() -> Vec<String> {
    vec![
        "volume".into(),
        "list".into(),
        "--format".into(),
        "json".into(),
    ]
}

/// `container network create --label K=V... -- NAME` (macOS 26).
pub(crate) fn network_create<'a>(
    name: &str,
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<String> {
    let mut args = vec!["network".to_owned(), "create".to_owned()];
    for (key, value) in labels {
        args.extend(["--label".into(), format!("{key}={value}")]);
    }
    args.extend(["--".into(), name.into()]);
    args
}

/// `container network delete -- NAME`.
pub(crate) fn network_delete(name: &str) -> Vec<String> {
    vec!["network".into(), "delete".into(), "--".into(), name.into()]
}

/// `container network list --format json`.
pub(crate) fn network_list() -> Vec<String> {
    vec![
        "network".into(),
        "list".into(),
        "--format".into(),
        "json".into(),
    ]
}

/// `container system status --format json` (0.11 and later).
pub(crate) fn system_status() -> Vec<String> {
    vec![
        "system".into(),
        "status".into(),
        "--format".into(),
        "json".into(),
    ]
}

/// `container system status` (text, for CLIs older than 0.11).
pub(crate) fn system_status_text() -> Vec<String> {
    vec!["system".into(), "status".into()]
}

#[cfg(test)]
mod tests;
