//! Container subcommands other than `create` (`start`, `stop`, `delete`, `ls`,
//! `inspect`, `exec`, `logs`), translated to `docker` ones: ids go to stdout,
//! errors to stderr as Apple prints them, and sessions (`start -a`, `exec`,
//! `logs`) replace this process with `docker`, so bytes and exit codes pass
//! through untouched.

use std::process::Stdio;

use serde_json::Value;

use crate::args::{Parsed, Spec, flag, opt};
use crate::docker::{self, docker, replace};
use crate::shapes::{self, Shape};
use crate::{Fail, Outcome, print_json};

const START: Spec = Spec {
    command: "container start",
    usage: "[--attach] [--interactive] [--debug] <container-id>",
    opts: &[flag(&["-a", "--attach"]), flag(&["-i", "--interactive"])],
    passthrough: false,
};

const STOP: Spec = Spec {
    command: "container stop",
    usage: "[--all] [--signal <signal>] [--time <time>] [--debug] [<container-ids> ...]",
    opts: &[
        flag(&["-a", "--all"]),
        opt(&["-s", "--signal"]),
        opt(&["-t", "--time"]),
    ],
    passthrough: false,
};

const DELETE: Spec = Spec {
    command: "container delete",
    usage: "[--all] [--force] [--debug] [<container-ids> ...]",
    opts: &[flag(&["-a", "--all"]), flag(&["-f", "--force"])],
    passthrough: false,
};

/// Options of `list` (also used by `volume list` and `network list`).
pub const LIST: Spec = Spec {
    command: "container list",
    usage: "[--all] [--format <format>] [--quiet] [--debug]",
    opts: &[
        flag(&["-a", "--all"]),
        opt(&["--format"]),
        flag(&["-q", "--quiet"]),
    ],
    passthrough: false,
};

const INSPECT: Spec = Spec {
    command: "container inspect",
    usage: "[--debug] <container-ids> ...",
    opts: &[],
    passthrough: false,
};

const EXEC: Spec = Spec {
    command: "container exec",
    usage: "[--detach] [--env <env> ...] [--env-file <env-file> ...] [--gid <gid>] [--interactive] [--tty] [--user <user>] [--uid <uid>] [--workdir <dir>] [--debug] <container-id> <arguments> ...",
    opts: &[
        flag(&["-d", "--detach"]),
        opt(&["-e", "--env"]),
        opt(&["--env-file"]),
        opt(&["--gid"]),
        flag(&["-i", "--interactive"]),
        flag(&["-t", "--tty"]),
        opt(&["-u", "--user"]),
        opt(&["--uid"]),
        opt(&["-w", "--workdir", "--cwd"]),
    ],
    passthrough: true,
};

const LOGS: Spec = Spec {
    command: "container logs",
    usage: "[--boot] [--follow] [-n <n>] [--debug] <container-id>",
    opts: &[flag(&["--boot"]), flag(&["-f", "--follow"]), opt(&["-n"])],
    passthrough: false,
};

/// The container named `id`, or Apple's not-found error.
fn existing(id: &str) -> Result<Value, Fail> {
    docker::inspect("container", id)?
        .ok_or_else(|| Fail::apple("notFound", format!("get failed: container {id} not found")))
}

/// `container start [-a] [-i] ID`.
pub fn start(args: &[String]) -> Outcome {
    let parsed = START.parse(args)?;
    let [id] = parsed.positionals.as_slice() else {
        return Err(START.usage_error("Missing expected argument '<container-id>'"));
    };
    let container = existing(id)?;
    let attach = parsed.flag("-a") || parsed.flag("-i");
    if shapes::is_running(&container) {
        if attach {
            return Err(Fail::apple(
                "invalidArgument",
                "attach is currently unsupported on already running containers",
            ));
        }
        println!("{id}");
        return Ok(0);
    }
    if !attach {
        docker::run_ok(&["start", id])?;
        println!("{id}");
        return Ok(0);
    }
    // ContainerStart.swift: the I/O is set up with the terminal flag the container
    // was created with and `--interactive`; on failure the container is stopped
    // and the error wrapped as "failed to start container".
    let tty = container
        .pointer("/Config/Tty")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Err(detail) = raw_mode(tty, parsed.flag("-i")) {
        let _ = docker::run(&["stop", "--time", "0", id]);
        return Err(Fail::apple(
            "internalError",
            format!("failed to start container: {detail}"),
        ));
    }
    let mut cmd = docker();
    cmd.args(["start", "--attach"]);
    if parsed.flag("-i") {
        cmd.arg("--interactive").stdin(Stdio::inherit());
    }
    cmd.arg(id);
    Err(replace(cmd))
}

/// ProcessIO.swift (`ProcessIO.create`): with both a terminal and `--interactive`,
/// the CLI wraps its own stdin as a terminal and puts it into raw mode, which fails
/// when stdin is not a terminal (a pipe, /dev/null).
fn raw_mode(tty: bool, interactive: bool) -> Result<(), String> {
    use std::io::IsTerminal;
    if tty && interactive && !std::io::stdin().is_terminal() {
        return Err("Error(errno: 25, \"Inappropriate ioctl for device\")".to_owned());
    }
    Ok(())
}

/// `container stop [-s SIG] [-t SECS] ID...`: prints each stopped id.
pub fn stop(args: &[String]) -> Outcome {
    let parsed = STOP.parse(args)?;
    let time = parsed.value("-t").unwrap_or("5");
    if time.parse::<i32>().is_err() {
        return Err(STOP.usage_error(&format!("The value '{time}' is invalid for '-t <time>'")));
    }
    let ids = targets(&parsed, shapes::is_running)?;
    each(&ids, |id| {
        existing(id)?;
        if let Some(signal) = parsed
            .value("-s")
            .filter(|s| !matches!(*s, "SIGTERM" | "TERM" | "15"))
        {
            docker::run_ok(&["kill", "--signal", signal, id])?;
        }
        docker::run_ok(&["stop", "--time", time, id]).map(drop)
    })
}

/// `container delete [-f] ID...`: prints each deleted id.
pub fn delete(args: &[String]) -> Outcome {
    let parsed = DELETE.parse(args)?;
    let force = parsed.flag("-f");
    let ids = targets(&parsed, |c| force || !shapes::is_running(c))?;
    each(&ids, |id| {
        let container = docker::inspect("container", id)?
            .ok_or_else(|| Fail::apple("notFound", format!("container with ID {id} not found")))?;
        if shapes::is_running(&container) && !force {
            return Err(Fail::apple(
                "invalidState",
                format!("container {id} is running and can not be deleted"),
            ));
        }
        docker::run_ok(&["rm", "--force", id]).map(drop)
    })
}

/// The ids a stop or delete acts on: those given, or with `--all` every one `pick` keeps.
fn targets(parsed: &Parsed, pick: impl Fn(&Value) -> bool) -> Result<Vec<String>, Fail> {
    match (parsed.flag("-a"), parsed.positionals.is_empty()) {
        (false, true) => Err(Fail::apple(
            "invalidArgument",
            "no containers specified and --all not supplied",
        )),
        (true, false) => Err(Fail::apple(
            "invalidArgument",
            "explicitly supplied container IDs conflict with the --all flag",
        )),
        (true, true) => Ok(all_containers()?
            .into_iter()
            .filter(|c| pick(c))
            .filter_map(|c| {
                c.pointer("/Name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim_start_matches('/').to_owned())
            })
            .collect()),
        (false, false) => Ok(parsed.positionals.clone()),
    }
}

/// Runs `act` on each id, printing the ids that succeed and every error (Apple's
/// aggregate error: one line each, exit 1).
fn each(ids: &[String], act: impl Fn(&str) -> Result<(), Fail>) -> Outcome {
    let mut errors = Vec::new();
    for id in ids {
        match act(id) {
            Ok(()) => println!("{id}"),
            Err(e) => errors.push(e.text.trim_start_matches("Error: ").to_owned()),
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Fail::plain(&errors.join("\n")))
    }
}

/// Every container the double made, inspected.
fn all_containers() -> Result<Vec<Value>, Fail> {
    docker::inspect_all("container", &docker::list("container")?)
}

/// `container ls [-a] [--format json|table] [-q]`.
pub fn list(args: &[String]) -> Outcome {
    let parsed = LIST.parse(args)?;
    let shape = Shape::from_env();
    let containers: Vec<Value> = all_containers()?
        .into_iter()
        .filter(|c| parsed.flag("-a") || shapes::is_running(c))
        .collect();
    let rendered: Vec<Value> = containers
        .iter()
        .map(|c| shapes::container(c, shape))
        .collect();
    print_list(&LIST, &parsed, &rendered, |entry| {
        entry
            .pointer("/configuration/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    })
}

/// Prints a listing as `--format` asks: JSON (compact, like Apple's), or names.
pub fn print_list(
    spec: &Spec,
    parsed: &Parsed,
    rendered: &[Value],
    name: impl Fn(&Value) -> String,
) -> Outcome {
    match parsed.value("--format").unwrap_or("table") {
        "json" => print_json(&Value::Array(rendered.to_vec()), false),
        "table" => {
            if !parsed.flag("-q") {
                println!("ID");
            }
            for entry in rendered {
                println!("{}", name(entry));
            }
            Ok(0)
        }
        "yaml" | "toml" => Err(Fail::double("--format yaml and toml")),
        other => Err(spec.usage_error(&format!(
            "The value '{other}' is invalid for '--format <format>'"
        ))),
    }
}

/// `container inspect ID...`: a pretty JSON array.
pub fn inspect(args: &[String]) -> Outcome {
    let parsed = INSPECT.parse(args)?;
    if parsed.positionals.is_empty() {
        return Err(INSPECT.usage_error("Missing expected argument '<container-ids> ...'"));
    }
    let shape = Shape::from_env();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in &parsed.positionals {
        match docker::inspect("container", id)? {
            Some(c) => found.push(shapes::container(&c, shape)),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(Fail::apple(
            "notFound",
            format!("container not found: {}", missing.join(", ")),
        ));
    }
    print_json(&Value::Array(found), true)
}

/// `container exec [opts] ID CMD...`: becomes `docker exec`, stdio untouched.
pub fn exec(args: &[String]) -> Outcome {
    let parsed = EXEC.parse(args)?;
    let Some(id) = parsed.positionals.first() else {
        return Err(EXEC.usage_error("Missing expected argument '<container-id>'"));
    };
    let command = &parsed.positionals[1..];
    if command.is_empty() {
        return Err(EXEC.usage_error("Missing expected argument '<arguments> ...'"));
    }
    let container = existing(id)?;
    if !shapes::is_running(&container) {
        return Err(Fail::apple(
            "invalidState",
            format!("container {id} is not running"),
        ));
    }
    // ContainerExec.swift: a failure setting up the I/O is wrapped as
    // "failed to exec process".
    if let Err(detail) = raw_mode(parsed.flag("-t"), parsed.flag("-i")) {
        return Err(Fail::apple(
            "internalError",
            format!("failed to exec process {detail}"),
        ));
    }
    let mut cmd = docker();
    cmd.arg("exec");
    if parsed.flag("-d") {
        cmd.arg("--detach");
    }
    if parsed.flag("-i") {
        cmd.arg("--interactive").stdin(Stdio::inherit());
    }
    if parsed.flag("-t") {
        cmd.arg("--tty");
    }
    if let Some(dir) = parsed.value("-w") {
        cmd.args(["--workdir", dir]);
    }
    match (
        parsed.value("-u"),
        parsed.value("--uid"),
        parsed.value("--gid"),
    ) {
        (Some(user), _, _) => {
            cmd.args(["--user", user]);
        }
        (None, Some(uid), gid) => {
            cmd.args([
                "--user",
                &gid.map_or_else(|| uid.to_owned(), |g| format!("{uid}:{g}")),
            ]);
        }
        _ => {}
    }
    // ContainerExec.swift: the exec's variables are appended to the init process's
    // environment (`config.environment.append`), duplicates kept, so the process
    // gets both entries and `getenv`, which reads the first, sees the init
    // process's value. Docker would replace it; the double drops the exec's value
    // for a name the container already has, which is what such a process sees.
    let init_names: Vec<String> = strings_at(&container, "/Config/Env")
        .iter()
        .filter_map(|e| e.split('=').next().map(str::to_owned))
        .collect();
    let fresh = |name: &str| !init_names.iter().any(|n| n == name);
    for (name, value) in crate::envfile::read(&parsed)? {
        if fresh(&name) {
            cmd.args(["--env", &name]).env(name, value);
        }
    }
    for env in parsed.values("-e") {
        if fresh(env.split('=').next().unwrap_or_default()) {
            cmd.args(["--env", env]);
        }
    }
    cmd.arg(id).args(command);
    if parsed.flag("-d") {
        let status = cmd
            .stdout(Stdio::null())
            .status()
            .map_err(|e| docker::services_down(&e.to_string()))?;
        if status.success() {
            println!("{id}");
            return Ok(0);
        }
        return Err(Fail::apple(
            "internalError",
            format!("failed to exec process in {id}"),
        ));
    }
    Err(replace(cmd))
}

/// `container logs [-f] [-n N] ID`: Apple keeps one log with stdout and stderr
/// merged, printed on stdout; so is Docker's here. As ContainerLogs.swift does:
/// without `-n` the whole log is printed with its trailing newlines trimmed (and
/// one newline after it); with `-n` blank lines are skipped before the last N are
/// taken; with `-f` the CLI then follows the file for ever, also after the
/// container has stopped (it ends only when killed).
pub fn logs(args: &[String]) -> Outcome {
    let parsed = LOGS.parse(args)?;
    let [id] = parsed.positionals.as_slice() else {
        return Err(LOGS.usage_error("Missing expected argument '<container-id>'"));
    };
    if parsed.flag("--boot") {
        return Err(Fail::double("`container logs --boot`"));
    }
    existing(id)?;
    let tail =
        match parsed.value("-n") {
            Some(n) => Some(n.parse::<usize>().map_err(|_| {
                LOGS.usage_error(&format!("The value '{n}' is invalid for '-n <n>'"))
            })?),
            None => None,
        };
    if parsed.flag("-f") {
        return follow(id, tail);
    }
    let opened = |e: String| {
        Fail::apple(
            "internalError",
            format!("failed to open container logs: {e}"),
        )
    };
    let out = docker()
        .args(["logs", "--timestamps", id])
        .output()
        .map_err(|e| opened(e.to_string()))?;
    // Both streams, merged in time order (docker keeps them apart).
    let mut stamped: Vec<(f64, String)> = [&out.stdout, &out.stderr]
        .iter()
        .flat_map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .map(|l| match l.split_once(' ') {
                    Some((at, text)) => (
                        shapes::parse_docker_date(at).unwrap_or_default(),
                        text.to_owned(),
                    ),
                    None => (0.0, String::new()),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    stamped.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lines: Vec<&str> = stamped.iter().map(|(_, text)| text.as_str()).collect();
    let mut stdout = std::io::stdout().lock();
    let printed = match tail {
        Some(n) => {
            let kept: Vec<&&str> = lines.iter().filter(|l| !l.is_empty()).collect();
            let skip = kept.len().saturating_sub(n);
            kept[skip..]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        }
        None => format!("{}\n", lines.join("\n").trim_end_matches('\n')),
    };
    std::io::Write::write_all(&mut stdout, printed.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut stdout))
        .map_err(|e| opened(e.to_string()))?;
    drop(stdout);
    Ok(0)
}

/// `logs -f`: Docker's follow (which ends when the container stops), then for
/// ever, as Apple's follow never ends by itself. The part before the follow is
/// not trimmed here.
fn follow(id: &str, tail: Option<usize>) -> Outcome {
    let opened = |e: String| {
        Fail::apple(
            "internalError",
            format!("failed to open container logs: {e}"),
        )
    };
    let mut cmd = docker();
    cmd.args(["logs", "--follow"]);
    if let Some(n) = tail {
        cmd.args(["--tail", &n.to_string()]);
    }
    cmd.arg(id);
    use std::os::fd::AsFd;
    let merged = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| opened(e.to_string()))?;
    cmd.stderr(Stdio::from(merged));
    let _ = cmd.status();
    loop {
        std::thread::park();
    }
}

/// The strings of the array at `pointer` in `value`.
fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
