//! The double's engine: the local Docker engine through the `docker` CLI. Every
//! object the double creates carries [`MARKER`] besides the labels it was asked
//! for, and only marked objects are visible through the double, so sandboxes of
//! the Docker backend never show up as Apple ones.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{Fail, MARKER};

/// What a finished `docker` command printed.
pub struct Ran {
    /// Whether it succeeded.
    pub ok: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// A `docker` command with stdin closed.
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    cmd.stdin(Stdio::null());
    cmd
}

/// The error the real CLI prints when its services do not answer.
pub fn services_down(detail: &str) -> Fail {
    Fail::apple(
        "interrupted",
        format!(
            "XPC connection error: {detail}\nEnsure container system service has been started with `container system start`."
        ),
    )
}

/// Runs `docker args...` to completion.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Ran, Fail> {
    run_with_env(args, &[])
}

/// Runs `docker args...` to completion with `env` added to its environment.
pub fn run_with_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    env: &[(String, String)],
) -> Result<Ran, Fail> {
    let output = docker()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| services_down(&format!("cannot run docker: {e}")))?;
    Ok(Ran {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `docker args...`, failing with Apple's `internalError` when it fails.
pub fn run_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Ran, Fail> {
    let ran = run(args)?;
    if ran.ok {
        Ok(ran)
    } else {
        Err(Fail::apple("internalError", ran.stderr.trim()))
    }
}

/// Where an object's labels are in `docker inspect` output.
fn labels_pointer(kind: &str) -> &'static str {
    if kind == "container" {
        "/Config/Labels"
    } else {
        "/Labels"
    }
}

/// `docker <kind> inspect NAME`, when it exists and the double made it.
pub fn inspect(kind: &str, name: &str) -> Result<Option<Value>, Fail> {
    let ran = run(&[kind, "inspect", name])?;
    if !ran.ok {
        return Ok(None);
    }
    let parsed: Value = serde_json::from_str(&ran.stdout)
        .map_err(|e| Fail::apple("internalError", format!("docker printed invalid JSON: {e}")))?;
    let first = parsed.as_array().and_then(|a| a.first()).cloned();
    Ok(first.filter(|v| {
        v.pointer(labels_pointer(kind))
            .and_then(|l| l.get(MARKER))
            .is_some()
    }))
}

/// Inspects many objects at once (in docker's order).
pub fn inspect_all(kind: &str, names: &[String]) -> Result<Vec<Value>, Fail> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![kind.to_owned(), "inspect".to_owned()];
    args.extend(names.iter().cloned());
    let ran = run(&args)?;
    // Objects removed meanwhile make docker fail but still print the others.
    let parsed: Value = serde_json::from_str(&ran.stdout).unwrap_or(Value::Array(Vec::new()));
    Ok(parsed.as_array().cloned().unwrap_or_default())
}

/// Names (or ids) of the double's objects of `kind`.
pub fn list(kind: &str) -> Result<Vec<String>, Fail> {
    let filter = format!("label={MARKER}");
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-a", "-q", "--no-trunc", "--filter", &filter],
        "volume" => vec!["volume", "ls", "-q", "--filter", &filter],
        _ => vec!["network", "ls", "-q", "--filter", &filter],
    };
    let ran = run_ok(&args)?;
    Ok(ran
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Replaces this process with `cmd`, so its stdio and exit status are exactly the
/// command's own. Returns only on failure.
pub fn replace(mut cmd: Command) -> Fail {
    let err = cmd.exec();
    services_down(&format!("cannot run docker: {err}"))
}

/// Whether the Docker image `reference` exists locally.
pub fn image_exists(reference: &str) -> Result<bool, Fail> {
    Ok(run(&["image", "inspect", "--format", "{{.Id}}", reference])?.ok)
}
