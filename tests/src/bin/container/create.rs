//! `container create`, translated faithfully to `docker create`: Apple's flags
//! become Docker's (`-m 4G` → `--memory 4096m`, `--mount type=bind,...,readonly`
//! → a read-only bind, `--network default` → Docker's bridge), the id goes to
//! stdout and progress to stderr, and Apple's checks (name rule, bind sources
//! that must be directories, integer `--cpus`) are made as Apple makes them.

use std::path::Path;

use crate::args::{Parsed, Spec, flag, opt};
use crate::docker;
use crate::{Fail, MARKER, Outcome};

/// Options of `create` (and `run`) as Apple's CLI 1.2 has them.
pub const CREATE: Spec = Spec {
    command: "container create",
    usage: "[<options>] <image> [<arguments> ...]",
    opts: &[
        opt(&["-e", "--env"]),
        opt(&["--env-file"]),
        opt(&["--gid"]),
        flag(&["-i", "--interactive"]),
        flag(&["-t", "--tty"]),
        opt(&["-u", "--user"]),
        opt(&["--uid"]),
        opt(&["-w", "--workdir", "--cwd"]),
        opt(&["--ulimit"]),
        opt(&["-c", "--cpus"]),
        opt(&["-m", "--memory"]),
        opt(&["-a", "--arch"]),
        opt(&["--cap-add"]),
        opt(&["--cap-drop"]),
        opt(&["--cidfile"]),
        flag(&["-d", "--detach"]),
        opt(&["--dns"]),
        opt(&["--dns-domain"]),
        opt(&["--dns-option"]),
        opt(&["--dns-search"]),
        opt(&["--entrypoint"]),
        flag(&["--init"]),
        opt(&["--init-image"]),
        opt(&["-k", "--kernel"]),
        opt(&["--kernel-arg"]),
        opt(&["-l", "--label"]),
        opt(&["--masked-path"]),
        opt(&["--mount"]),
        opt(&["--name"]),
        opt(&["--network"]),
        flag(&["--no-dns"]),
        opt(&["--os"]),
        opt(&["-p", "--publish"]),
        opt(&["--platform"]),
        opt(&["--publish-socket"]),
        flag(&["--read-only"]),
        opt(&["--read-only-path"]),
        flag(&["--rm", "--remove"]),
        flag(&["--rosetta"]),
        opt(&["--runtime"]),
        flag(&["--ssh"]),
        opt(&["--shm-size"]),
        opt(&["--tmpfs"]),
        flag(&["--virtualization"]),
        opt(&["-v", "--volume"]),
        opt(&["--scheme"]),
        opt(&["--max-concurrent-downloads"]),
    ],
    passthrough: true,
};

/// Real options the double does not translate (it fails loudly on them).
const CREATE_UNTRANSLATED: &[&str] = &[
    "--dns-domain",
    "--dns-option",
    "--dns-search",
    "--init-image",
    "-k",
    "--kernel-arg",
    "--masked-path",
    "-p",
    "--publish-socket",
    "--read-only-path",
    "--rosetta",
    "--runtime",
    "--ssh",
    "--virtualization",
];

/// Apple's name rule: at most 63 characters, `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A random lowercase UUID, as Apple mints ids.
fn random_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Apple's memory text (`4G`, `512m`, `1GiB`, bytes when bare) in MiB, truncated
/// as Apple truncates it.
fn memory_mib(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let value: f64 = lower[..split].trim().parse().ok()?;
    let unit = lower[split..].trim();
    let symbol = unit.chars().next().unwrap_or('b');
    if !matches!(&unit[symbol.len_utf8().min(unit.len())..], "" | "ib" | "b") {
        return None;
    }
    let power = match symbol {
        'b' => 0,
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        _ => return None,
    };
    Some((value * 1024f64.powi(power) / (1024.0 * 1024.0)) as u64)
}

/// One Apple `--mount` spec as `docker` arguments.
fn translate_mount(spec: &str) -> Result<Vec<String>, Fail> {
    let invalid = |m: String| Fail::apple("invalidArgument", m);
    let (mut kind, mut source, mut target, mut read_only) =
        ("virtiofs".to_owned(), None, None, false);
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let mut kv = part.splitn(2, '=');
        let key = kv.next().unwrap_or_default();
        let value = kv.next();
        match (key, value) {
            ("readonly" | "ro", _) => read_only = true,
            ("type", Some(v)) => {
                kind = if v == "bind" {
                    "virtiofs".to_owned()
                } else {
                    v.to_owned()
                }
            }
            ("source" | "src", Some(v)) => source = Some(v.to_owned()),
            ("destination" | "dst" | "target", Some(v)) => target = Some(v.to_owned()),
            ("type" | "source" | "src" | "destination" | "dst" | "target", None) => {
                return Err(invalid(format!(
                    "invalid directive format missing value {part} in {spec}"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown directive {key} when parsing mount {spec}"
                )));
            }
        }
    }
    let target = target.ok_or_else(|| invalid("mount destination cannot be empty".to_owned()))?;
    let ro = if read_only { ",readonly" } else { "" };
    match (kind.as_str(), source) {
        ("virtiofs", Some(source)) => {
            let path = Path::new(&source);
            if !path.exists() {
                return Err(invalid(format!("path '{source}' does not exist")));
            }
            if !path.is_dir() {
                return Err(invalid(format!("path '{source}' is not a directory")));
            }
            Ok(vec![
                "--mount".into(),
                format!("type=bind,source={source},target={target}{ro}"),
            ])
        }
        ("volume", Some(name)) => Ok(vec![
            "--mount".into(),
            format!("type=volume,source={name},target={target}{ro}"),
        ]),
        ("tmpfs", None) => Ok(vec!["--tmpfs".into(), target]),
        ("tmpfs", Some(_)) => Err(invalid("cannot specify source for tmpfs mount".to_owned())),
        (other, _) => Err(invalid(format!("unsupported mount type {other}"))),
    }
}

/// One Apple `-v` spec as `docker` arguments.
fn translate_volume(spec: &str) -> Result<Vec<String>, Fail> {
    let parts: Vec<&str> = spec.trim_start_matches(':').split(':').collect();
    match parts.as_slice() {
        [target] => Ok(vec!["-v".into(), (*target).to_owned()]),
        [source, target, rest @ ..] if rest.len() <= 1 => {
            let ro = rest
                .first()
                .is_some_and(|o| o.split(',').any(|x| x == "ro" || x == "readonly"));
            if source.contains('/') || *source == "." || *source == ".." {
                if !Path::new(source).exists() {
                    return Err(Fail::apple(
                        "invalidArgument",
                        format!("path '{source}' does not exist"),
                    ));
                }
                let ro = if ro { ",readonly" } else { "" };
                Ok(vec![
                    "--mount".into(),
                    format!("type=bind,source={source},target={target}{ro}"),
                ])
            } else {
                Ok(vec![
                    "-v".into(),
                    format!("{source}:{target}{}", if ro { ":ro" } else { "" }),
                ])
            }
        }
        _ => Err(Fail::apple(
            "invalidArgument",
            format!("invalid volume format {spec}"),
        )),
    }
}

/// `container create`: prints the id on stdout.
pub fn create(args: &[String]) -> Outcome {
    let parsed = CREATE.parse(args)?;
    if let Some(untranslated) = parsed.keys().find(|k| CREATE_UNTRANSLATED.contains(k)) {
        return Err(Fail::double(&format!("`container create {untranslated}`")));
    }
    let Some(image) = parsed.positionals.first() else {
        return Err(CREATE.usage_error("Missing expected argument '<image>'"));
    };
    if image.starts_with('-') {
        // An unknown option the parser took for the image, or a value after `--`.
        return Err(Fail::apple(
            "invalidArgument",
            format!("invalid reference format: {image}"),
        ));
    }
    let id = parsed.value("--name").map_or_else(random_id, str::to_owned);
    if !valid_name(&id) {
        return Err(Fail::apple(
            "invalidArgument",
            format!("container ID {id} is not a valid container ID"),
        ));
    }
    if std::env::var("BERTH_APPLE_DOUBLE_SYSTEM").as_deref() == Ok("no-kernel") {
        return Err(Fail::apple(
            "notFound",
            "default kernel not configured for architecture arm64, please use the `container system kernel set` command to configure it",
        ));
    }
    eprintln!("[1/3] Fetching image {image}");
    if !docker::image_exists(image)? {
        // The real CLI would pull here; there is no registry, so say what is missing.
        return Err(Fail::apple("notFound", format!("image not found: {image}")));
    }
    let mut cmd: Vec<String> = vec![
        "create".into(),
        "--pull".into(),
        "never".into(),
        "--name".into(),
        id.clone(),
        "--label".into(),
        format!("{MARKER}=1"),
    ];
    let env = translate_create(&parsed, &mut cmd)?;
    cmd.push(image.clone());
    cmd.extend(parsed.positionals[1..].iter().cloned());
    eprintln!("[2/3] Creating container {id}");
    let ran = docker::run_with_env(&cmd, &env)?;
    if !ran.ok {
        if ran.stderr.contains("No command specified") {
            return Err(Fail::apple(
                "invalidArgument",
                "command/entrypoint not specified for container process",
            ));
        }
        if ran.stderr.contains("is already in use") {
            return Err(Fail::apple(
                "exists",
                format!("container already exists: {id}"),
            ));
        }
        return Err(Fail::apple("internalError", ran.stderr.trim()));
    }
    if let Some(path) = parsed.value("--cidfile") {
        std::fs::write(path, &id).map_err(|e| {
            Fail::apple(
                "internalError",
                format!("failed to create cidfile at {path}: {e}"),
            )
        })?;
    }
    println!("{id}");
    Ok(0)
}

/// The `docker create` flags for Apple's; returns the env files' variables, which
/// go to `docker` through its environment.
fn translate_create(parsed: &Parsed, cmd: &mut Vec<String>) -> Result<Vec<(String, String)>, Fail> {
    let mut push = |a: &str, b: &str| {
        cmd.push(a.to_owned());
        cmd.push(b.to_owned());
    };
    for label in parsed.values("-l") {
        if !label.contains('=') || label.starts_with('=') {
            return Err(Fail::apple(
                "invalidArgument",
                format!("invalid label format {label}"),
            ));
        }
        push("--label", label);
    }
    let env = crate::envfile::read(parsed)?;
    for (name, _) in &env {
        push("--env", name);
    }
    for env in parsed.values("-e") {
        push("--env", env);
    }
    match (
        parsed.value("-u"),
        parsed.value("--uid"),
        parsed.value("--gid"),
    ) {
        (Some(user), _, _) => push("--user", user),
        (None, Some(uid), Some(gid)) => push("--user", &format!("{uid}:{gid}")),
        (None, Some(uid), None) => push("--user", uid),
        (None, None, Some(gid)) => push("--group-add", gid),
        (None, None, None) => {}
    }
    if let Some(dir) = parsed.value("-w") {
        push("--workdir", dir);
    }
    if let Some(cpus) = parsed.value("-c") {
        if cpus.parse::<i64>().is_err() {
            return Err(
                CREATE.usage_error(&format!("The value '{cpus}' is invalid for '-c <cpus>'"))
            );
        }
        push("--cpus", cpus);
    }
    if let Some(memory) = parsed.value("-m") {
        let mib = memory_mib(memory).ok_or_else(|| Fail::plain("invalid size"))?;
        push("--memory", &format!("{mib}m"));
    }
    for cap in parsed.values("--cap-add") {
        push("--cap-add", cap);
    }
    for cap in parsed.values("--cap-drop") {
        push("--cap-drop", cap);
    }
    for dns in parsed.values("--dns") {
        push("--dns", dns);
    }
    if let Some(entrypoint) = parsed.value("--entrypoint") {
        push("--entrypoint", entrypoint);
    }
    if let Some(size) = parsed.value("--shm-size") {
        push("--shm-size", size);
    }
    let networks = parsed.values("--network");
    if networks.contains(&"none") && networks.len() > 1 {
        return Err(Fail::apple(
            "unsupported",
            "no other networks may be created along with network none",
        ));
    }
    for network in networks {
        let name = network.split(',').next().unwrap_or_default();
        push("--network", if name == "default" { "bridge" } else { name });
    }
    for mount in parsed.values("--mount") {
        cmd.extend(translate_mount(mount)?);
    }
    for volume in parsed.values("-v") {
        cmd.extend(translate_volume(volume)?);
    }
    // Parser.swift (`rlimit`): `<type>=<soft>[:<hard>]`, the hard limit the soft
    // one when left out; the double passes nproc on to Docker's --ulimit.
    for ulimit in parsed.values("--ulimit") {
        let invalid = || {
            Fail::apple(
                "invalidArgument",
                format!("invalid ulimit format '{ulimit}': expected <type>=<soft>[:<hard>]"),
            )
        };
        let (kind, values) = ulimit.split_once('=').ok_or_else(invalid)?;
        if !kind.eq_ignore_ascii_case("nproc") {
            return Err(Fail::double(&format!("`--ulimit {kind}`")));
        }
        let (soft, hard) = values.split_once(':').unwrap_or((values, values));
        if soft.parse::<u64>().is_err() || hard.parse::<u64>().is_err() {
            return Err(invalid());
        }
        cmd.extend(["--ulimit".to_owned(), format!("nproc={soft}:{hard}")]);
    }
    for tmpfs in parsed.values("--tmpfs") {
        cmd.extend(["--tmpfs".to_owned(), tmpfs.to_owned()]);
    }
    for (apple, docker) in [
        ("--read-only", "--read-only"),
        ("--init", "--init"),
        ("--rm", "--rm"),
        ("-i", "--interactive"),
        ("-t", "--tty"),
    ] {
        if parsed.flag(apple) {
            cmd.push(docker.to_owned());
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::{memory_mib, valid_name};

    #[test]
    fn memory_is_read_as_apple_reads_it() {
        assert_eq!(memory_mib("4G"), Some(4096));
        assert_eq!(memory_mib("512m"), Some(512));
        assert_eq!(memory_mib("1GiB"), Some(1024));
        assert_eq!(memory_mib("2097152"), Some(2));
        assert_eq!(memory_mib("4X"), None);
    }

    #[test]
    fn names_follow_apple_rules() {
        assert!(valid_name("agent-1a2b.x_y"));
        assert!(!valid_name("-agent"));
        assert!(!valid_name(&"a".repeat(64)));
    }
}
