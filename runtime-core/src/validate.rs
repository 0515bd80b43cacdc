//! Checks that serde cannot express: bad values and contradictory settings, each
//! reported at the offending key.

use std::ops::Range;

use toml::Spanned;

use crate::config::{ConfigFile, NetworkPolicy};
use crate::diagnostic::{ConfigDiagnostic, SourceFile};
use crate::error::Error;

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

fn check_abs(source: &SourceFile<'_>, value: &Spanned<String>) -> Result<(), Error> {
    if !value.get_ref().starts_with('/') {
        return fail(
            source,
            value.span(),
            format!(
                "must be an absolute path inside the sandbox, got `{}`",
                value.get_ref()
            ),
            Some("start it with /, such as \"/workspace\""),
        );
    }
    Ok(())
}

/// Validates a parsed file against `source` for error locations.
pub fn check(file: &ConfigFile, source: &SourceFile<'_>) -> Result<(), Error> {
    let sandbox = &file.sandbox;
    match (&sandbox.image, &sandbox.build) {
        (Some(image), Some(_)) => {
            return fail(
                source,
                image.span(),
                "`image` and `build` are both set: berth would not know which to run".to_owned(),
                Some("keep `image` to run an existing image, or `[sandbox.build]` to build one"),
            );
        }
        (Some(image), None) if image.get_ref().trim().is_empty() => {
            return fail(
                source,
                image.span(),
                "image is empty".to_owned(),
                Some("name an image, such as \"debian:bookworm-slim\""),
            );
        }
        (Some(image), None) if image.get_ref().chars().any(char::is_whitespace) => {
            return fail(
                source,
                image.span(),
                format!(
                    "`{}` is not an image reference: it contains whitespace",
                    image.get_ref()
                ),
                Some("put the command in `command = [...]`, not in `image`"),
            );
        }
        _ => {}
    }
    if let Some(name) = &sandbox.name
        && (crate::labels::sanitize_name(name.get_ref()) != *name.get_ref()
            || name.get_ref().is_empty())
    {
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
    }
    if let Some(command) = &sandbox.command
        && command.get_ref().is_empty()
    {
        {
            return fail(
                source,
                command.span(),
                "command is empty".to_owned(),
                Some(
                    "remove `command` to use the image's default, or give at least the program, such as [\"sh\"]",
                ),
            );
        }
    }
    if let Some(workdir) = &sandbox.workdir {
        check_abs(source, workdir)?;
    }
    if let Some(user) = &sandbox.user {
        let u = user.get_ref();
        if u.is_empty() || u.contains(char::is_whitespace) || u.split(':').count() > 2 {
            return fail(
                source,
                user.span(),
                format!("`{u}` is not a user"),
                Some("write a name, a uid, or uid:gid, such as \"1000:1000\""),
            );
        }
    }
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
    }
    for name in file.env.keys() {
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
    let network = &file.network;
    match network.policy.get_ref() {
        NetworkPolicy::Allowlist if network.allow.is_empty() => {
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
        if let Err(why) = check_host_port(entry.get_ref()) {
            return fail(
                source,
                entry.span(),
                format!("`{}` is not host[:port]: {why}", entry.get_ref()),
                Some(
                    "write a host name or IP, optionally with a port, such as \"api.example.com:443\"",
                ),
            );
        }
    }
    let resources = &file.resources;
    if let Some(cpus) = &resources.cpus
        && let Some(&c) = cpus.get_ref().value()
        && !(c > 0.0 && c <= 1024.0)
    {
        return fail(
            source,
            cpus.span(),
            format!("cpus must be more than 0 and at most 1024, got {c}"),
            Some("such as cpus = 2 or cpus = 0.5"),
        );
    }
    if let Some(memory) = &resources.memory
        && let Some(&m) = memory.get_ref().value()
        && m.0 < 6 << 20
    {
        return fail(
            source,
            memory.span(),
            format!("memory must be at least 6MiB, got {m}"),
            Some("such as memory = \"2GiB\""),
        );
    }
    if let Some(pids) = &resources.pids
        && *pids.get_ref() < 1
    {
        {
            return fail(
                source,
                pids.span(),
                format!("pids must be at least 1, got {}", pids.get_ref()),
                Some("such as pids = 512"),
            );
        }
    }
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

fn check_host_port(entry: &str) -> Result<(), &'static str> {
    if entry.contains('/') {
        return Err("write a host, not a URL");
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, Some(p)),
        _ => (entry, None),
    };
    if host.is_empty() {
        return Err("the host is empty");
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'))
    {
        return Err("the host has characters a host name cannot have");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err("the port must be a number from 1 to 65535"),
            Ok(_) => {}
        }
    }
    Ok(())
}
