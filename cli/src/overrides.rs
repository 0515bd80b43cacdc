//! The flags of `berth run` and `berth plan` that override berth.toml keys
//! (`-e`, `--env-file`, `-v`, `-w`, `-u`, `--network`, `--memory`, `--cpus`),
//! applied through the library's `Config::override_*` methods, which check each
//! value as the file's would be.

use std::path::PathBuf;

use runtime_core::{Config, Error, NetworkPolicy};

use crate::environment::{self, Item};
use crate::{NetworkFlag, OverrideArgs};

/// Applies every override given; env files first, then `-e`, so `-e` wins.
pub fn apply(args: &OverrideArgs, config: &mut Config) -> Result<(), Error> {
    for file in &args.env_file {
        for item in environment::read_file(file)? {
            set_env(config, item)?;
        }
    }
    for item in &args.env {
        set_env(config, Item::parse(item)?)?;
    }
    if let Some(volume) = &args.volume {
        let (host, mount, read_only) = parse_volume(volume)?;
        config.override_workspace(&host, &mount, read_only)?;
    }
    if let Some(workdir) = &args.workdir {
        config.override_workdir(workdir)?;
    }
    if let Some(user) = &args.user {
        config.override_user(user)?;
    }
    if let Some(network) = args.network {
        config.override_network(match network {
            NetworkFlag::Open => NetworkPolicy::Open,
            NetworkFlag::None => NetworkPolicy::None,
        })?;
    }
    if let Some(memory) = &args.memory {
        config.override_memory(memory)?;
    }
    if let Some(cpus) = &args.cpus {
        config.override_cpus(cpus)?;
    }
    Ok(())
}

/// Sets one literal; a bare name is refused, since its value would come from the
/// host and then show in the plan.
fn set_env(config: &mut Config, item: Item) -> Result<(), Error> {
    match item.value {
        Some(value) => config.override_env(&item.name, &value),
        None => Err(Error::InvalidFlag {
            flag: "-e",
            value: item.name,
            reason: "berth run takes NAME=VALUE; to pass a value from the host, list the name under [secrets] names in berth.toml".to_owned(),
        }),
    }
}

/// `HOST:CONTAINER`, `HOST:CONTAINER:ro` or `:rw`: the host path (absolute,
/// against the current directory), the mount point, and whether read-only.
fn parse_volume(volume: &str) -> Result<(PathBuf, String, bool), Error> {
    let refuse = |reason: &str| Error::InvalidFlag {
        flag: "-v",
        value: volume.to_owned(),
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = volume.split(':').collect();
    let (host, mount, read_only) = match parts.as_slice() {
        [host, mount] => (*host, *mount, false),
        [host, mount, "ro"] => (*host, *mount, true),
        [host, mount, "rw"] => (*host, *mount, false),
        [_, _, _] => return Err(refuse("the mode after the second colon must be ro or rw")),
        _ => {
            return Err(refuse(
                "write HOST:CONTAINER or HOST:CONTAINER:ro, such as .:/workspace (berth mounts one host directory, the workspace)",
            ));
        }
    };
    if host.is_empty() {
        return Err(refuse(
            "the host path is empty: name a host directory, such as .",
        ));
    }
    let host = std::path::absolute(host).map_err(|source| Error::Io {
        operation: "resolve the -v host path",
        path: PathBuf::from(host),
        source,
    })?;
    Ok((host, mount.to_owned(), read_only))
}

#[cfg(test)]
mod tests {
    use super::parse_volume;

    #[test]
    fn volumes_parse_as_docker_writes_them() {
        let (host, mount, ro) = parse_volume("/src:/workspace:ro").expect("volume");
        assert_eq!(
            (host.to_str(), mount.as_str(), ro),
            (Some("/src"), "/workspace", true)
        );
        let (host, _, ro) = parse_volume("rel:/w").expect("volume");
        assert!(
            host.is_absolute() && host.ends_with("rel") && !ro,
            "{host:?}"
        );
        for bad in ["/src", "/src:/w:rx", ":/w", "a:b:c:d"] {
            let err = parse_volume(bad).expect_err(bad);
            assert!(err.to_string().starts_with(&format!("-v {bad}: ")), "{err}");
        }
    }
}
