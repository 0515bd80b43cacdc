//! A test double of Apple's `container` CLI, for running berth's Apple backend on
//! Linux: it accepts the subset of the CLI berth uses, with the real options and
//! only those (an option the real command lacks is refused the way Apple's
//! argument parser refuses it), keeps the real stream split (ids and JSON on
//! stdout, progress and errors on stderr), prints Apple's JSON shapes and error
//! lines (`Error: notFound: "..."`, exit 1; usage errors exit 64), and runs the
//! containers on the local Docker engine through the `docker` CLI.
//!
//! Switches, all environment variables:
//! - `BERTH_APPLE_DOUBLE_SHAPE=0|1`: print the 0.x or the 1.x JSON shape (1).
//! - `BERTH_APPLE_DOUBLE_SYSTEM=running|not-running|unregistered|legacy|no-kernel`:
//!   what `system status` says (`legacy`: a CLI older than 0.11, without
//!   `--format`), and for `no-kernel`, `create` failing as with no kernel.
//! - `BERTH_APPLE_DOUBLE_VERSION=X.Y.Z`: the API server version `system status`
//!   reports (1.2.2, or 0.12.3 with the 0.x shape).
//!
//! Every Docker object it creates is labelled as asked plus `berth.apple-double=1`,
//! and only such objects are visible through it. Where the real CLI would pull a
//! missing image, the double (with no registry to pull from) reports it missing.

#[path = "container/args.rs"]
mod args;
#[path = "container/containers.rs"]
mod containers;
#[path = "container/create.rs"]
mod create;
#[path = "container/docker.rs"]
mod docker;
#[path = "container/envfile.rs"]
mod envfile;
#[path = "container/resources.rs"]
mod resources;
#[path = "container/shapes.rs"]
mod shapes;

use std::process::{ExitCode, Stdio};

use serde_json::{Value, json};

use crate::args::{Spec, flag, opt};

/// The label marking Docker objects as the double's.
pub const MARKER: &str = "berth.apple-double";

/// A failure: what to print on stderr, and the exit code.
#[derive(Debug)]
pub struct Fail {
    /// The exit code.
    pub code: u8,
    /// The text for stderr.
    pub text: String,
}

impl Fail {
    /// Apple's `Error: code: "message"` (a `ContainerizationError`), exit 1.
    pub fn apple(code: &str, message: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            text: format!("Error: {code}: \"{message}\""),
        }
    }

    /// `Error: message` (other Swift errors), exit 1.
    pub fn plain(message: &str) -> Self {
        Self {
            code: 1,
            text: format!("Error: {message}"),
        }
    }

    /// Something real that the double does not do: a loud, distinct failure.
    pub fn double(what: &str) -> Self {
        Self::apple(
            "unsupported",
            format!("the berth test double does not implement {what}"),
        )
    }
}

/// The exit code of a command, or how it failed.
pub type Outcome = Result<u8, Fail>;

/// Prints JSON on stdout, pretty (as `inspect`) or compact (as `--format json`).
pub fn print_json(value: &Value, pretty: bool) -> Outcome {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let text = text.map_err(|e| Fail::apple("internalError", e))?;
    println!("{text}");
    Ok(0)
}

const SYSTEM_STATUS: Spec = Spec {
    command: "container system status",
    usage: "[--prefix <prefix>] [--format <format>] [--debug]",
    opts: &[opt(&["-p", "--prefix"]), opt(&["--format"])],
    passthrough: false,
};

const SYSTEM_STATUS_LEGACY: Spec = Spec {
    command: "container system status",
    usage: "[--prefix <prefix>] [--debug]",
    opts: &[opt(&["-p", "--prefix"])],
    passthrough: false,
};

const IMAGE_INSPECT: Spec = Spec {
    command: "container image inspect",
    usage: "[--debug] <images> ...",
    opts: &[],
    passthrough: false,
};

const BUILD: Spec = Spec {
    command: "container build",
    usage: "[<options>] [<context-dir>]",
    opts: &[
        opt(&["-a", "--arch"]),
        opt(&["--build-arg"]),
        opt(&["-c", "--cpus"]),
        opt(&["--dns"]),
        opt(&["--dns-domain"]),
        opt(&["--dns-option"]),
        opt(&["--dns-search"]),
        opt(&["-f", "--file"]),
        opt(&["-l", "--label"]),
        opt(&["-m", "--memory"]),
        flag(&["--no-cache"]),
        opt(&["-o", "--output"]),
        opt(&["--os"]),
        opt(&["--platform"]),
        opt(&["--progress"]),
        flag(&["--pull"]),
        flag(&["-q", "--quiet"]),
        opt(&["--secret"]),
        opt(&["--ssh"]),
        opt(&["-t", "--tag"]),
        opt(&["--target"]),
        opt(&["--vsock-port"]),
    ],
    passthrough: false,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => ExitCode::from(code),
        Err(fail) => {
            eprintln!("{}", fail.text);
            ExitCode::from(fail.code)
        }
    }
}

fn dispatch(args: &[String]) -> Outcome {
    let Some((command, rest)) = args.split_first() else {
        return Err(Fail::double("`container` without a subcommand"));
    };
    match command.as_str() {
        "create" => create::create(rest),
        "start" => containers::start(rest),
        "stop" => containers::stop(rest),
        "delete" | "rm" => containers::delete(rest),
        "list" | "ls" => containers::list(rest),
        "inspect" => containers::inspect(rest),
        "exec" => containers::exec(rest),
        "logs" => containers::logs(rest),
        "build" => build(rest),
        "image" | "i" => image(rest),
        "volume" | "v" => resources::volume(rest),
        "network" | "n" => resources::network(rest),
        "system" | "s" => system(rest),
        "run" | "kill" | "stats" | "copy" | "cp" | "export" | "prune" | "registry" | "r"
        | "builder" | "machine" | "m" => Err(Fail::double(&format!("`container {command}`"))),
        other => Err(Fail::plain(&format!(
            "unknown command '{other}'; see 'container --help'"
        ))),
    }
}

/// What `system status` should report, from `BERTH_APPLE_DOUBLE_SYSTEM`.
fn system_mode() -> String {
    std::env::var("BERTH_APPLE_DOUBLE_SYSTEM").unwrap_or_else(|_| "running".to_owned())
}

/// The API server version `system status` reports.
fn api_version() -> String {
    std::env::var("BERTH_APPLE_DOUBLE_VERSION").unwrap_or_else(|_| {
        match shapes::Shape::from_env() {
            shapes::Shape::Legacy => "0.12.3",
            shapes::Shape::Current => "1.2.2",
        }
        .to_owned()
    })
}

fn system(args: &[String]) -> Outcome {
    match args.split_first() {
        Some((sub, rest)) if sub == "status" => system_status(rest),
        Some((sub, _)) => Err(Fail::double(&format!("`container system {sub}`"))),
        None => Err(Fail::double("`container system` without a subcommand")),
    }
}

/// `container system status [--format json]`: running when the Docker engine
/// answers (and the mode says so).
fn system_status(args: &[String]) -> Outcome {
    let mode = system_mode();
    if mode == "legacy" {
        SYSTEM_STATUS_LEGACY.parse(args)?;
        println!("apiserver is running");
        println!(
            "application data root: /Users/agent/Library/Application Support/com.apple.container/"
        );
        println!("application install root: /usr/local/");
        println!(
            "container-apiserver version: container-apiserver version 0.10.0 (build: release, commit: 0000000)"
        );
        println!("container-apiserver commit: 0000000");
        return Ok(0);
    }
    let parsed = SYSTEM_STATUS.parse(args)?;
    let engine_up = docker::run(&["version", "--format", "{{.Server.Version}}"])
        .map(|r| r.ok)
        .unwrap_or(false);
    let status = match mode.as_str() {
        "not-running" => "not running",
        "unregistered" => "unregistered",
        _ if !engine_up => "not running",
        _ => "running",
    };
    let json = if status == "running" {
        json!({
            "status": status,
            "appRoot": "/Users/agent/Library/Application Support/com.apple.container/",
            "installRoot": "/usr/local/",
            // ReleaseVersion.swift: "<app> version <version> (build: ..., commit: ...)".
            "apiServerVersion": format!("container-apiserver version {} (build: release, commit: berthdb)", api_version()),
            "apiServerCommit": "berthdouble",
            "apiServerBuild": "release",
            "apiServerAppName": "container-apiserver",
        })
    } else {
        json!({
            "status": status,
            "appRoot": "",
            "installRoot": "",
            "apiServerVersion": "",
            "apiServerCommit": "",
            "apiServerBuild": "",
            "apiServerAppName": "",
        })
    };
    match parsed.value("--format").unwrap_or("table") {
        "json" => print_json(&json, false)?,
        "table" => {
            println!("FIELD   VALUE");
            println!("status  {status}");
            0
        }
        "yaml" | "toml" => return Err(Fail::double("--format yaml and toml")),
        other => {
            return Err(SYSTEM_STATUS.usage_error(&format!(
                "The value '{other}' is invalid for '--format <format>'"
            )));
        }
    };
    Ok(if status == "running" { 0 } else { 1 })
}

fn image(args: &[String]) -> Outcome {
    let Some((sub, rest)) = args.split_first() else {
        return Err(Fail::double("`container image` without a subcommand"));
    };
    if sub != "inspect" {
        return Err(Fail::double(&format!("`container image {sub}`")));
    }
    let parsed = IMAGE_INSPECT.parse(rest)?;
    if parsed.positionals.is_empty() {
        return Err(IMAGE_INSPECT.usage_error("Missing expected argument '<images> ...'"));
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for reference in &parsed.positionals {
        let ran = docker::run(&["image", "inspect", reference])?;
        let inspected: Option<Value> = ran
            .ok
            .then(|| serde_json::from_str::<Value>(&ran.stdout).ok())
            .flatten()
            .and_then(|v| v.as_array().and_then(|a| a.first()).cloned());
        match inspected {
            Some(image) => found.push(json!({
                "id": image.pointer("/Id").and_then(Value::as_str).unwrap_or_default().trim_start_matches("sha256:"),
                "configuration": {
                    "name": reference,
                    "descriptor": {
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "digest": image.pointer("/Id").cloned().unwrap_or(Value::Null),
                        "size": image.pointer("/Size").cloned().unwrap_or(Value::Null),
                    },
                },
                "variants": [],
            })),
            None => missing.push(reference.clone()),
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(Fail::apple(
            "notFound",
            format!("image not found: {}", missing.join(", ")),
        ));
    }
    print_json(&Value::Array(found), true)
}

/// `container build`: Docker's classic builder, its output on stderr; prints the
/// image's name on stdout when done, as Apple's does.
fn build(args: &[String]) -> Outcome {
    let parsed = BUILD.parse(args)?;
    let translated = [
        "-t",
        "-f",
        "--build-arg",
        "-l",
        "--no-cache",
        "--progress",
        "-q",
        "--target",
    ];
    if let Some(other) = parsed
        .keys()
        .find(|k| !translated.contains(k) && *k != "--debug")
    {
        return Err(Fail::double(&format!("`container build {other}`")));
    }
    let context = parsed.positionals.first().map_or(".", String::as_str);
    let tags = parsed.values("-t");
    let mut cmd = docker::docker();
    cmd.env("DOCKER_BUILDKIT", "0")
        .args(["build", "--label", &format!("{MARKER}=1")]);
    for tag in &tags {
        cmd.args(["--tag", tag]);
    }
    if let Some(file) = parsed.value("-f") {
        cmd.args(["--file", file]);
    }
    for arg in parsed.values("--build-arg") {
        cmd.args(["--build-arg", arg]);
    }
    for label in parsed.values("-l") {
        cmd.args(["--label", label]);
    }
    if parsed.flag("--no-cache") {
        cmd.arg("--no-cache");
    }
    if let Some(target) = parsed.value("--target") {
        cmd.args(["--target", target]);
    }
    if parsed.flag("-q") {
        cmd.arg("--quiet");
    }
    cmd.arg(context);
    // Progress belongs on stderr: send docker's stdout there too.
    use std::os::fd::AsFd;
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Fail::apple("internalError", e))?;
    cmd.stdout(Stdio::from(stderr));
    let status = cmd
        .status()
        .map_err(|e| docker::services_down(&format!("cannot run docker: {e}")))?;
    if !status.success() {
        return Err(Fail::apple("internalError", "failed to build the image"));
    }
    println!("{}", tags.join("\n"));
    Ok(0)
}
