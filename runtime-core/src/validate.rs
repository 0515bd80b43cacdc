//! Checks that serde cannot express: bad values and contradictory settings, each
//! reported at the offending key.

use std::ops::Range;

use toml::Spanned;

use crate::config::{BuildConfig, ConfigFile, NetworkPolicy, PoolConfig, SandboxConfig};
use crate::diagnostic::{ConfigDiagnostic, SourceFile};
use crate::egress::{Host, Rule};
use crate::error::Error;
use crate::size::ByteSize;

fn fail<T>(
    source: &SourceFile<'_>,
    span: Range<usize>,
    message: String,
    help: Option<&str>,
) -> Result<T, Error> {
    let span = (span != (0..0)).then_some(span);
    Err(Error::Config(Box::new(ConfigDiagnostic::at(
        source,
        span,
        message,
        help.map(str::to_owned),
    ))))
}

/// A POSIX-ish environment variable name.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The longest path inside the sandbox berth accepts (Linux's PATH_MAX).
const MAX_PATH_LEN: usize = 4096;

/// The longest single environment value or argument (Linux's MAX_ARG_STRLEN).
const MAX_VALUE_LEN: usize = 128 * 1024;

/// The longest time to live of a detached run: a year.
const MAX_TTL_SECS: u64 = 365 * 86_400;

/// The smallest CPU share the engines accept.
const MIN_CPUS: f64 = 0.01;

/// The most CPUs berth accepts.
const MAX_CPUS: f64 = 1024.0;

/// The most processes berth accepts as a limit (Linux's PID_MAX_LIMIT).
const MAX_PIDS: i64 = 4_194_304;

/// The smallest memory limit Docker accepts.
const MIN_MEMORY: u64 = 6 << 20;

/// The largest memory limit berth accepts.
const MAX_MEMORY: u64 = 16 << 40;

/// Why a string from the file cannot be passed on as one value, if it cannot:
/// NUL ends a C string early, and an unbounded length is refused.
pub(crate) fn text_problem(value: &str) -> Option<&'static str> {
    if value.contains('\0') {
        Some("it contains a NUL character")
    } else if value.len() > MAX_VALUE_LEN {
        Some("it is longer than 128KiB")
    } else {
        None
    }
}

/// Why `path` cannot be a path inside the sandbox, with what to write instead.
pub(crate) fn inside_path_problem(path: &str) -> Option<(String, &'static str)> {
    if !path.starts_with('/') {
        return Some((
            format!("must be an absolute path inside the sandbox, got `{path}`"),
            "start it with /, such as \"/workspace\"",
        ));
    }
    if path.contains('\0') || path.chars().any(char::is_control) || path.len() > MAX_PATH_LEN {
        return Some((
            "must be a path without NUL or control characters, at most 4096 bytes".to_owned(),
            "write a plain absolute path, such as \"/workspace\"",
        ));
    }
    None
}

fn check_abs(source: &SourceFile<'_>, value: &Spanned<String>) -> Result<(), Error> {
    match inside_path_problem(value.get_ref()) {
        Some((message, help)) => fail(source, value.span(), message, Some(help)),
        None => Ok(()),
    }
}

/// Why `cpus` is not a CPU limit berth accepts.
pub(crate) fn cpus_problem(cpus: f64) -> Option<String> {
    // Written so that NaN fails too.
    (!(cpus.is_finite() && (MIN_CPUS..=MAX_CPUS).contains(&cpus)))
        .then(|| format!("cpus must be at least 0.01 and at most 1024, got {cpus}"))
}

/// Why `memory` is not a memory limit berth accepts.
pub(crate) fn memory_problem(memory: ByteSize) -> Option<String> {
    if memory.0 < MIN_MEMORY {
        Some(format!("memory must be at least 6MiB, got {memory}"))
    } else if memory.0 > MAX_MEMORY {
        Some(format!("memory must be at most 16TiB, got {memory}"))
    } else {
        None
    }
}

/// `name`, `uid`, `name:group` or `uid:gid`: each part a number that fits a uid, or
/// a user/group name as `useradd` accepts it.
pub(crate) fn is_user(user: &str) -> bool {
    let part_ok = |part: &str| {
        if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
            return part.parse::<u32>().is_ok();
        }
        let mut chars = part.chars();
        part.len() <= 32
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    match user.split_once(':') {
        Some((u, g)) => part_ok(u) && part_ok(g),
        None => part_ok(user),
    }
}

fn check_image(source: &SourceFile<'_>, image: &Spanned<String>) -> Result<(), Error> {
    let reference = image.get_ref();
    if reference.trim().is_empty() {
        return fail(
            source,
            image.span(),
            "image is empty".to_owned(),
            Some("name an image, such as \"debian:bookworm-slim\""),
        );
    }
    if reference.chars().any(char::is_whitespace) {
        return fail(
            source,
            image.span(),
            format!("`{reference}` is not an image reference: it contains whitespace"),
            Some("put the command in `command = [...]`, not in `image`"),
        );
    }
    if let Err(why) = crate::reference::check(reference) {
        return fail(
            source,
            image.span(),
            format!("`{reference}` is not an image reference: {why}"),
            Some("write [registry/]name[:tag][@digest], such as \"debian:bookworm-slim\""),
        );
    }
    Ok(())
}

fn check_sandbox(sandbox: &SandboxConfig, source: &SourceFile<'_>) -> Result<(), Error> {
    match (&sandbox.image, &sandbox.build) {
        (Some(image), Some(_)) => {
            return fail(
                source,
                image.span(),
                "`image` and `build` are both set: berth would not know which to run".to_owned(),
                Some("keep `image` to run an existing image, or `[sandbox.build]` to build one"),
            );
        }
        (Some(image), None) => check_image(source, image)?,
        (None, Some(build)) => check_build(source, build)?,
        (None, None) => {}
    }
    if let Some(name) = &sandbox.name
        && (crate::labels::sanitize_name(name.get_ref()) != *name.get_ref()
            || name.get_ref().is_empty())
    {
        return fail(
            source,
            name.span(),
            format!("`{}` is not a valid sandbox name", name.get_ref()),
            Some(
                "use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit, at most 40 characters",
            ),
        );
    }
    if let Some(command) = &sandbox.command {
        let args = command.get_ref();
        if args.is_empty() {
            return fail(
                source,
                command.span(),
                "command is empty".to_owned(),
                Some(
                    "remove `command` to use the image's default, or give at least the program, such as [\"sh\"]",
                ),
            );
        }
        if args[0].is_empty() {
            return fail(
                source,
                command.span(),
                "the program (the first element of command) is empty".to_owned(),
                Some("name the program first, such as [\"sh\", \"-c\", \"...\"]"),
            );
        }
        if let Some(why) = args.iter().find_map(|a| text_problem(a)) {
            return fail(
                source,
                command.span(),
                format!("an argument of command cannot be passed on: {why}"),
                None,
            );
        }
        if args.len() > 4096 {
            return fail(
                source,
                command.span(),
                format!(
                    "command has {} arguments; berth accepts at most 4096",
                    args.len()
                ),
                None,
            );
        }
    }
    if let Some(workdir) = &sandbox.workdir {
        check_abs(source, workdir)?;
    }
    if let Some(user) = &sandbox.user
        && !is_user(user.get_ref())
    {
        return fail(
            source,
            user.span(),
            format!("`{}` is not a user", user.get_ref()),
            Some("write a name, a uid, or uid:gid, such as \"1000:1000\""),
        );
    }
    if let Some(ttl) = &sandbox.ttl
        && ttl.get_ref().0.as_secs() > MAX_TTL_SECS
    {
        return fail(
            source,
            ttl.span(),
            format!("ttl {} is longer than a year", ttl.get_ref()),
            Some("give a ttl of at most \"365d\", such as ttl = \"8h\""),
        );
    }
    Ok(())
}

fn check_pool(pool: &PoolConfig, source: &SourceFile<'_>) -> Result<(), Error> {
    if let Some(size) = &pool.size
        && *size.get_ref() > crate::pool::MAX_SIZE
    {
        return fail(
            source,
            size.span(),
            format!(
                "a pool of {} sandboxes is more than berth keeps started ({})",
                size.get_ref(),
                crate::pool::MAX_SIZE
            ),
            Some("give a size such as 2: each member holds its memory while it waits"),
        );
    }
    if let Some(ttl) = &pool.ttl {
        let secs = ttl.get_ref().0.as_secs();
        if secs == 0 || secs > MAX_TTL_SECS {
            return fail(
                source,
                ttl.span(),
                format!(
                    "pool ttl {} is not between a second and a year",
                    ttl.get_ref()
                ),
                Some("give a ttl such as ttl = \"1h\""),
            );
        }
    }
    Ok(())
}

fn check_build(source: &SourceFile<'_>, build: &Spanned<BuildConfig>) -> Result<(), Error> {
    let config = build.get_ref();
    let at = |message: String, help: &str| fail(source, build.span(), message, Some(help));
    if let Some(tag) = &config.tag
        && let Err(why) = crate::reference::check(tag)
    {
        return at(
            format!("tag `{tag}` is not an image reference: {why}"),
            "write name[:tag], such as \"berth-local/agent:latest\"",
        );
    }
    for path in [&config.dockerfile, &config.context].into_iter().flatten() {
        let text = path.to_string_lossy();
        if let Some(why) = text_problem(&text) {
            return at(
                format!("path `{}` cannot be used: {why}", text.escape_default()),
                "write a plain relative path, such as \"docker/Dockerfile\"",
            );
        }
    }
    for (name, value) in &config.args {
        if !is_env_name(name) {
            return at(
                format!("`{name}` is not a valid build argument name"),
                "use letters, digits and '_', not starting with a digit",
            );
        }
        if let Some(why) = text_problem(value) {
            return at(
                format!("the value of build argument {name} cannot be passed on: {why}"),
                "remove the NUL character or shorten the value",
            );
        }
    }
    Ok(())
}

/// Validates a parsed file against `source` for error locations.
pub(crate) fn check(file: &ConfigFile, source: &SourceFile<'_>) -> Result<(), Error> {
    check_sandbox(&file.sandbox, source)?;
    check_pool(&file.pool, source)?;
    if let Some(workspace) = &file.workspace {
        check_abs(source, &workspace.mount)?;
        if workspace.mount.get_ref() == "/" {
            return fail(
                source,
                workspace.mount.span(),
                "the workspace cannot be mounted over /".to_owned(),
                Some("mount it at a directory such as \"/workspace\""),
            );
        }
        let host = workspace.path.get_ref().to_string_lossy();
        if let Some(why) = text_problem(&host) {
            return fail(
                source,
                workspace.path.span(),
                format!("the workspace path cannot be used: {why}"),
                Some("write a plain path, such as \".\""),
            );
        }
    }
    for (name, value) in &file.env {
        if !is_env_name(name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!(
                    "`{}` is not a valid environment variable name",
                    name.get_ref()
                ),
                Some("use letters, digits and '_', not starting with a digit"),
            );
        }
        if let Some(why) = text_problem(value) {
            return fail(
                source,
                name.span(),
                format!("the value of {} cannot be passed on: {why}", name.get_ref()),
                None,
            );
        }
    }
    check_secrets(file, source)?;
    check_network(file, source)?;
    check_resources(file, source)?;
    for cap in &file.security.cap_add {
        let upper = cap.get_ref().to_ascii_uppercase();
        let name = upper.trim_start_matches("CAP_");
        if !crate::host::CAPABILITY_NAMES.contains(&name) {
            let help = crate::diagnostic::suggest(name, crate::host::CAPABILITY_NAMES).map_or_else(
                || "use a Linux capability name such as \"CHOWN\"".to_owned(),
                |s| format!("did you mean `{s}`?"),
            );
            return fail(
                source,
                cap.span(),
                format!("unknown capability `{}`", cap.get_ref()),
                Some(&help),
            );
        }
    }
    Ok(())
}

fn check_secrets(file: &ConfigFile, source: &SourceFile<'_>) -> Result<(), Error> {
    if let Some(key) = file.secrets.unknown.first() {
        let closest = ["names", "required"]
            .into_iter()
            .min_by_key(|f| strsim::levenshtein(f, key.get_ref()))
            .unwrap_or("names");
        return fail(
            source,
            key.span(),
            format!("unknown key `{}`", key.get_ref()),
            Some(&format!("did you mean `{closest}`?")),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in &file.secrets.names {
        if !is_env_name(name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!(
                    "`{}` is not a valid environment variable name",
                    name.get_ref()
                ),
                Some("use letters, digits and '_', not starting with a digit"),
            );
        }
        if !seen.insert(name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!("secret {} is listed twice", name.get_ref()),
                None,
            );
        }
        if file.env.keys().any(|k| k.get_ref() == name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!("{} is both a secret and a literal in [env]", name.get_ref()),
                Some("keep one: a secret comes from the host environment, [env] holds a literal"),
            );
        }
    }
    for (name, bound) in &file.secrets.bound {
        if !seen.insert(name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!(
                    "secret {} is both in `names` and bound to hosts",
                    name.get_ref()
                ),
                Some(
                    "keep the [secrets.NAME] table to keep the value out of the sandbox, and remove the name from `names`",
                ),
            );
        }
        if file.env.keys().any(|k| k.get_ref() == name.get_ref()) {
            return fail(
                source,
                name.span(),
                format!("{} is both a secret and a literal in [env]", name.get_ref()),
                Some("keep one: a secret comes from the host environment, [env] holds a literal"),
            );
        }
        if bound.hosts.is_empty() {
            return fail(
                source,
                name.span(),
                format!("secret {} is bound to no host", name.get_ref()),
                Some("list the hosts its value is for, such as hosts = [\"api.github.com\"]"),
            );
        }
        for host in &bound.hosts {
            check_rule(
                source,
                host,
                "write a host name, optionally with a port (443 when omitted), such as \"api.github.com\" or \"*.githubusercontent.com\"",
            )?;
        }
        if *file.docker.mode.get_ref() == crate::config::DockerMode::Host {
            return fail(
                source,
                name.span(),
                format!(
                    "secret {} is bound to hosts, but [docker] mode = \"host\" gives the agent the host's engine, where it can read the proxy's memory",
                    name.get_ref()
                ),
                Some(
                    "use [docker] mode = \"dind\" or \"none\", or put the secret in `names` knowing the agent can read it",
                ),
            );
        }
        if *file.network.policy.get_ref() == NetworkPolicy::None {
            return fail(
                source,
                name.span(),
                format!(
                    "secret {} is bound to hosts, but policy \"none\" reaches no host",
                    name.get_ref()
                ),
                Some("use policy = \"allowlist\" (its hosts are allowed with it) or \"open\""),
            );
        }
    }
    Ok(())
}

/// One `allow` entry or bound host: `host[:port]`, refused with where and why.
fn check_rule(source: &SourceFile<'_>, entry: &Spanned<String>, help: &str) -> Result<(), Error> {
    match entry.get_ref().parse::<Rule>() {
        Ok(_) => Ok(()),
        Err(why) => fail(
            source,
            entry.span(),
            format!("`{}` is not host[:port]: {why}", entry.get_ref()),
            Some(help),
        ),
    }
}

fn check_network(file: &ConfigFile, source: &SourceFile<'_>) -> Result<(), Error> {
    let network = &file.network;
    match network.policy.get_ref() {
        NetworkPolicy::Allowlist if network.allow.is_empty() && file.secrets.bound.is_empty() => {
            return fail(
                source,
                network.policy.span(),
                "policy \"allowlist\" with an empty `allow` list".to_owned(),
                Some(
                    "list the hosts to allow, such as allow = [\"api.example.com:443\"], or use policy = \"none\"",
                ),
            );
        }
        NetworkPolicy::Open | NetworkPolicy::None if !network.allow.is_empty() => {
            return fail(
                source,
                network.allow[0].span(),
                format!(
                    "`allow` has no effect with policy \"{}\"{}",
                    network.policy.get_ref(),
                    if network.policy.span() == (0..0) {
                        " (the default)"
                    } else {
                        ""
                    }
                ),
                Some(
                    "set policy = \"allowlist\" to restrict egress to these hosts, or remove `allow`",
                ),
            );
        }
        _ => {}
    }
    for entry in &network.allow {
        check_rule(
            source,
            entry,
            "write a host name or IP, optionally with a port (443 when omitted), such as \"api.example.com:443\" or \"*.example.com\"",
        )?;
    }
    if let Some((name, _)) = network.hosts.iter().next()
        && *network.policy.get_ref() != NetworkPolicy::Allowlist
    {
        return fail(
            source,
            name.span(),
            "`hosts` names addresses for the egress proxy, which only policy \"allowlist\" has"
                .to_owned(),
            Some("set policy = \"allowlist\", or remove `hosts`"),
        );
    }
    for (name, address) in &network.hosts {
        if !matches!(Host::parse(name.get_ref()), Ok(Host::Name(_))) {
            return fail(
                source,
                name.span(),
                format!("`{}` in `hosts` is not a host name", name.get_ref()),
                Some("write a name such as \"db.internal\" = \"10.0.0.5\""),
            );
        }
        if address.get_ref().parse::<std::net::IpAddr>().is_err() {
            return fail(
                source,
                address.span(),
                format!("`{}` is not an IP address", address.get_ref()),
                Some("write an IPv4 or IPv6 address, such as \"10.0.0.5\""),
            );
        }
    }
    Ok(())
}

fn check_resources(file: &ConfigFile, source: &SourceFile<'_>) -> Result<(), Error> {
    let resources = &file.resources;
    if let Some(cpus) = &resources.cpus
        && let Some(why) = cpus.get_ref().value().and_then(|&c| cpus_problem(c))
    {
        return fail(
            source,
            cpus.span(),
            why,
            Some("such as cpus = 2, cpus = 0.5 or cpus = \"unlimited\""),
        );
    }
    if let Some(memory) = &resources.memory
        && let Some(why) = memory.get_ref().value().and_then(|&m| memory_problem(m))
    {
        return fail(
            source,
            memory.span(),
            why,
            Some("such as memory = \"2GiB\" or memory = \"unlimited\""),
        );
    }
    if let Some(pids) = &resources.pids {
        let p = *pids.get_ref();
        if !(1..=MAX_PIDS).contains(&p) {
            return fail(
                source,
                pids.span(),
                format!("pids must be at least 1 and at most {MAX_PIDS}, got {p}"),
                Some("such as pids = 512"),
            );
        }
    }
    Ok(())
}
