//! The `berth.*` labels every created resource carries; listing and cleanup go by
//! these, never by name patterns.

/// Present on everything berth creates.
pub const MANAGED_BY: &str = "berth.managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "berth";
/// The run a resource belongs to.
pub const RUN_ID: &str = "berth.run-id";
/// `agent`, `sidecar`, `service` or `proxy`.
pub const ROLE: &str = "berth.role";
/// The berth runtime that created it (`docker`, `gvisor`, `apple`).
pub const RUNTIME: &str = "berth.runtime";
/// The OCI runtime the container runs under (`runc`, `runsc`, ...).
pub const OCI_RUNTIME: &str = "berth.oci-runtime";
/// The sandbox's base name.
pub const SANDBOX: &str = "berth.sandbox";
/// The docker mode (`none`, `host`, `dind`).
pub const DOCKER_MODE: &str = "berth.docker-mode";
/// The pid of the berth process that launched the run.
pub const OWNER_PID: &str = "berth.owner-pid";
/// `true` when the run was started with `-d` and outlives its berth process.
pub const DETACHED: &str = "berth.detached";
/// When a detached run's TTL expires, seconds since the Unix epoch.
pub const EXPIRES: &str = "berth.expires";

/// Lowercases and keeps `[a-z0-9_.-]`, so a name is valid for every engine.
pub fn sanitize_name(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['-', '.', '_']) {
        out.remove(0);
    }
    out.truncate(40);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitizes() {
        assert_eq!(super::sanitize_name("My Project!"), "my-project-");
        assert_eq!(super::sanitize_name("..x"), "x");
    }
}
