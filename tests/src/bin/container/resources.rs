//! `volume` and `network` subcommands over Docker volumes and networks (each
//! marked as the double's, and labelled as asked).

use serde_json::Value;

use crate::args::{Spec, flag, opt};
use crate::containers::{LIST, print_list};
use crate::docker;
use crate::shapes::{self, Shape};
use crate::{Fail, MARKER, Outcome};

const VOLUME_CREATE: Spec = Spec {
    command: "container volume create",
    usage: "[--label <label> ...] [--opt <opt> ...] [-s <s>] [--debug] <name>",
    opts: &[opt(&["--label"]), opt(&["--opt"]), opt(&["-s"])],
    passthrough: false,
};

const VOLUME_DELETE: Spec = Spec {
    command: "container volume delete",
    usage: "[--all] [--debug] [<names> ...]",
    opts: &[flag(&["-a", "--all"])],
    passthrough: false,
};

const NETWORK_CREATE: Spec = Spec {
    command: "container network create",
    usage: "[--internal] [--label <label> ...] [--option <option> ...] [--plugin <plugin>] [--subnet <subnet>] [--subnet-v6 <subnet-v6>] [--debug] <name>",
    opts: &[
        flag(&["--internal"]),
        opt(&["--label"]),
        opt(&["--option"]),
        opt(&["--plugin"]),
        opt(&["--subnet"]),
        opt(&["--subnet-v6"]),
    ],
    passthrough: false,
};

const NETWORK_DELETE: Spec = Spec {
    command: "container network delete",
    usage: "[--all] [--debug] [<network-names> ...]",
    opts: &[flag(&["-a", "--all"])],
    passthrough: false,
};

/// Apple's volume name rule, `^[A-Za-z0-9][A-Za-z0-9_.-]*$`.
fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `docker ... --label K=V` for each `--label`, plus the marker.
fn labels(values: Vec<&str>) -> Vec<String> {
    let mut args = vec!["--label".to_owned(), format!("{MARKER}=1")];
    for label in values {
        args.push("--label".into());
        args.push(label.to_owned());
    }
    args
}

/// VolumeDelete.swift and NetworkDelete.swift: before deleting anything, the
/// names that do not exist fail the whole command with `notFound` and "failed to
/// delete one or more volumes: \[names\]" (Swift's array text), which does not say
/// "not found".
fn missing_first(plural: &str, kind: &str, names: &[String]) -> Result<(), Fail> {
    let mut missing = Vec::new();
    for name in names {
        if docker::inspect(kind, name)?.is_none() {
            missing.push(format!("\"{name}\""));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Fail {
        code: 1,
        text: format!(
            "Error: notFound: \"failed to delete one or more {plural}: [{}]\"",
            missing.join(", ")
        ),
    })
}

/// `container volume ...`.
pub fn volume(args: &[String]) -> Outcome {
    let (sub, rest) = args
        .split_first()
        .ok_or_else(|| Fail::double("`container volume` without a subcommand"))?;
    match sub.as_str() {
        "create" => {
            let parsed = VOLUME_CREATE.parse(rest)?;
            let [name] = parsed.positionals.as_slice() else {
                return Err(VOLUME_CREATE.usage_error("Missing expected argument '<name>'"));
            };
            if !parsed.values("--opt").is_empty() || parsed.value("-s").is_some() {
                return Err(Fail::double("`container volume create --opt/-s`"));
            }
            if !valid_volume_name(name) {
                return Err(Fail::plain(&format!("invalid volume name '{name}'")));
            }
            if docker::run(&["volume", "inspect", name])?.ok {
                return Err(Fail::plain(&format!("volume '{name}' already exists")));
            }
            let mut cmd = vec!["volume".to_owned(), "create".to_owned()];
            cmd.extend(labels(parsed.values("--label")));
            cmd.push(name.clone());
            docker::run_ok(&cmd)?;
            println!("{name}");
            Ok(0)
        }
        "delete" | "rm" => {
            let parsed = VOLUME_DELETE.parse(rest)?;
            let names = if parsed.flag("-a") {
                docker::list("volume")?
            } else {
                parsed.positionals.clone()
            };
            missing_first("volumes", "volume", &names)?;
            let mut errors = Vec::new();
            for name in &names {
                let ran = docker::run(&["volume", "rm", name])?;
                if ran.ok {
                    println!("{name}");
                } else if ran.stderr.contains("in use") {
                    errors.push(format!("volume '{name}' is currently in use and cannot be accessed by another container, or deleted"));
                } else {
                    errors.push(ran.stderr.trim().to_owned());
                }
            }
            if errors.is_empty() {
                Ok(0)
            } else {
                Err(Fail::plain(&errors.join("\n")))
            }
        }
        "list" | "ls" => {
            let parsed = LIST.parse(rest)?;
            let shape = Shape::from_env();
            let inspected = docker::inspect_all("volume", &docker::list("volume")?)?;
            let rendered: Vec<Value> = inspected.iter().map(|v| shapes::volume(v, shape)).collect();
            print_list(&LIST, &parsed, &rendered, |v| {
                v.get("id")
                    .or_else(|| v.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
        }
        other => Err(Fail::double(&format!("`container volume {other}`"))),
    }
}

/// `container network ...`.
pub fn network(args: &[String]) -> Outcome {
    let (sub, rest) = args
        .split_first()
        .ok_or_else(|| Fail::double("`container network` without a subcommand"))?;
    match sub.as_str() {
        "create" => {
            let parsed = NETWORK_CREATE.parse(rest)?;
            let [name] = parsed.positionals.as_slice() else {
                return Err(NETWORK_CREATE.usage_error("Missing expected argument '<name>'"));
            };
            if parsed
                .keys()
                .any(|k| matches!(k, "--option" | "--plugin" | "--subnet" | "--subnet-v6"))
            {
                return Err(Fail::double(
                    "`container network create --option/--plugin/--subnet`",
                ));
            }
            if docker::run(&["network", "inspect", name])?.ok {
                return Err(Fail::apple(
                    "exists",
                    format!("network {name} already exists"),
                ));
            }
            let mut cmd = vec!["network".to_owned(), "create".to_owned()];
            if parsed.flag("--internal") {
                cmd.push("--internal".into());
            }
            cmd.extend(labels(parsed.values("--label")));
            cmd.push(name.clone());
            docker::run_ok(&cmd)?;
            println!("{name}");
            Ok(0)
        }
        "delete" | "rm" => {
            let parsed = NETWORK_DELETE.parse(rest)?;
            let names = if parsed.flag("-a") {
                docker::list("network")?
            } else {
                parsed.positionals.clone()
            };
            missing_first("networks", "network", &names)?;
            let mut errors = Vec::new();
            for name in &names {
                match docker::run_ok(&["network", "rm", name]) {
                    Ok(_) => println!("{name}"),
                    Err(e) => errors.push(e.text.trim_start_matches("Error: ").to_owned()),
                }
            }
            if errors.is_empty() {
                Ok(0)
            } else {
                Err(Fail::plain(&errors.join("\n")))
            }
        }
        "list" | "ls" => {
            let parsed = LIST.parse(rest)?;
            let shape = Shape::from_env();
            let inspected = docker::inspect_all("network", &docker::list("network")?)?;
            let rendered: Vec<Value> = inspected
                .iter()
                .map(|n| shapes::network(n, shape))
                .collect();
            print_list(&LIST, &parsed, &rendered, |n| {
                n.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
        }
        other => Err(Fail::double(&format!("`container network {other}`"))),
    }
}
