//! Asking the engine what it is: version, negotiated API version, default runtime
//! and registered OCI runtimes, turned into [`EngineFacts`].

use bollard::models::{SystemInfo, SystemVersion};
use bollard::{ClientVersion, Docker};
use runtime_core::{Availability, EngineFacts, Error, OciRuntime};

use crate::errors::DockerError;

/// Reads `/info`; the version is the answer the client was negotiated with.
pub(crate) async fn engine_facts(
    docker: &Docker,
    version: &SystemVersion,
) -> Result<EngineFacts, DockerError> {
    let info = docker
        .info()
        .await
        .map_err(|e| DockerError::api("read the engine info", "engine", "", e))?;
    Ok(facts(version.clone(), info, &docker.client_version()))
}

/// The facts in the engine's answers. Pure. Runtimes are sorted by name; a runtime
/// the engine lists without arguments gets an empty list.
pub(crate) fn facts(
    version: SystemVersion,
    info: SystemInfo,
    negotiated: &ClientVersion,
) -> EngineFacts {
    let mut runtimes: Vec<OciRuntime> = info
        .runtimes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, rt)| OciRuntime {
            name,
            path: rt.path,
            args: rt.runtime_args.unwrap_or_default(),
        })
        .collect();
    runtimes.sort_by(|a, b| a.name.cmp(&b.name));
    EngineFacts {
        version: version.version.unwrap_or_default(),
        api_version: format!("{}.{}", negotiated.major_version, negotiated.minor_version),
        default_runtime: info.default_runtime,
        runtimes,
        ncpu: info
            .ncpu
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
        mem_total: info
            .mem_total
            .and_then(|m| u64::try_from(m).ok())
            .filter(|m| *m > 0),
    }
}

/// The availability a failed probe reports: the engine's own words when they are
/// typed (not running, permission denied), else the whole error as the reason.
pub(crate) fn availability(err: Error) -> Availability {
    match err {
        Error::Unavailable { reason, fix, .. } => Availability::Unavailable { reason, fix },
        Error::PermissionDenied { path, fix } => Availability::Denied { path, fix },
        other => crate::capabilities::unreachable(other.report()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::Runtime;

    use super::*;

    #[test]
    fn facts_sort_runtimes_and_keep_their_args() {
        let version = SystemVersion {
            version: Some("20.10.24+dfsg1".to_owned()),
            api_version: Some("1.41".to_owned()),
            ..Default::default()
        };
        let info = SystemInfo {
            default_runtime: Some("runc".to_owned()),
            runtimes: Some(HashMap::from([
                (
                    "runsc".to_owned(),
                    Runtime {
                        path: Some("/usr/bin/runsc".to_owned()),
                        runtime_args: Some(vec!["--network=host".to_owned()]),
                        ..Default::default()
                    },
                ),
                (
                    "runc".to_owned(),
                    Runtime {
                        path: Some("runc".to_owned()),
                        ..Default::default()
                    },
                ),
            ])),
            ncpu: Some(8),
            mem_total: Some(16 << 30),
            ..Default::default()
        };
        let facts = facts(
            version,
            info,
            &ClientVersion {
                major_version: 1,
                minor_version: 41,
            },
        );
        assert_eq!(facts.version, "20.10.24+dfsg1");
        assert_eq!(facts.api_version, "1.41");
        assert_eq!(facts.default_runtime.as_deref(), Some("runc"));
        let names: Vec<&str> = facts.runtimes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["runc", "runsc"]);
        assert!(facts.runtimes[0].args.is_empty());
        assert_eq!(facts.runtimes[1].args, ["--network=host"]);
        assert_eq!(facts.ncpu, Some(8));
        assert_eq!(facts.mem_total, Some(16 << 30));
    }

    #[test]
    fn a_denied_socket_is_its_own_availability() {
        let denied = availability(Error::PermissionDenied {
            path: "/var/run/docker.sock".into(),
            fix: "join docker".to_owned(),
        });
        assert!(matches!(denied, Availability::Denied { .. }));
        let other = availability(Error::Usage {
            message: "odd".to_owned(),
        });
        assert!(matches!(other, Availability::Unavailable { reason, .. } if reason == "odd"));
    }
}
