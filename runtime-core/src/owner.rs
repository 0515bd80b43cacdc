//! Who launched a run: the berth process's pid, and the host and pid namespace it
//! ran in. A pid only means something where it was taken, so `berth gc` judges an
//! owner's liveness only when the run was launched on the same boot of the same
//! host, in the same pid namespace, as the `berth` looking at it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A boot of a host, and a pid namespace on it: where a pid can be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), new at each boot.
    pub boot_id: String,
    /// The inode of the pid namespace (`/proc/self/ns/pid`).
    pub pid_namespace: u64,
}

impl HostIdentity {
    /// The identity of this process, read from `/proc`; `None` where there is no
    /// `/proc` (macOS) or it cannot be read, and then no owner's liveness is judged
    /// from a pid.
    pub fn current() -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let pid_namespace = std::fs::metadata("/proc/self/ns/pid").ok()?.ino();
        Self::new(boot_id.trim(), pid_namespace)
    }

    /// An identity from its parts; `None` when the boot id is not a plain id
    /// (hex digits and dashes, at most 64 characters).
    pub fn new(boot_id: &str, pid_namespace: u64) -> Option<Self> {
        let plain = !boot_id.is_empty()
            && boot_id.len() <= 64
            && boot_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'));
        plain.then(|| Self {
            boot_id: boot_id.to_owned(),
            pid_namespace,
        })
    }

    /// Parses the `berth.owner-host` label, `<boot id>/<pid namespace inode>`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let (boot_id, ns) = value.split_once('/')?;
        if !ns.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::new(boot_id, ns.parse().ok()?)
    }
}

impl fmt::Display for HostIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.boot_id, self.pid_namespace)
    }
}

/// Whether a run's berth process is alive, as far as this process can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// Running, on this host and pid namespace.
    Alive,
    /// Gone: its pid is not running on this host and pid namespace.
    Dead,
    /// Launched elsewhere (another host, boot or pid namespace), or the labels do
    /// not say where: berth cannot tell.
    Unknown,
}

impl Liveness {
    /// Judges an owner: only a pid taken on `here` is checked with `alive`.
    pub fn judge(
        pid: Option<u32>,
        owner_host: Option<&HostIdentity>,
        here: Option<&HostIdentity>,
        alive: &dyn Fn(u32) -> bool,
    ) -> Self {
        match (pid, owner_host, here) {
            (Some(pid), Some(owner), Some(here)) if owner == here => {
                if alive(pid) {
                    Self::Alive
                } else {
                    Self::Dead
                }
            }
            _ => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_round_trips_and_bad_ones_are_refused() {
        let id = HostIdentity::new("6f1c2a3e-0b1d-4c5e-8f90-123456789abc", 4_026_531_836)
            .expect("valid");
        assert_eq!(HostIdentity::parse(&id.to_string()), Some(id));
        for bad in [
            "", "unknown", "abc", "abc/", "/12", "ABC/12", "abc/-1", "abc/+1", "../x/12",
            "abc/12/3",
        ] {
            assert_eq!(HostIdentity::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn this_process_has_an_identity_on_linux() {
        if cfg!(target_os = "linux") {
            let here = HostIdentity::current().expect("/proc is readable");
            assert_eq!(HostIdentity::current(), Some(here));
        }
    }

    #[test]
    fn only_a_pid_from_here_is_judged() {
        let here = HostIdentity::new("aaaa", 1).expect("id");
        let other_boot = HostIdentity::new("bbbb", 1).expect("id");
        let other_ns = HostIdentity::new("aaaa", 2).expect("id");
        let alive = |pid: u32| pid == 7;
        let judge = |pid, owner: Option<&HostIdentity>, here: Option<&HostIdentity>| {
            Liveness::judge(pid, owner, here, &alive)
        };
        assert_eq!(judge(Some(7), Some(&here), Some(&here)), Liveness::Alive);
        assert_eq!(judge(Some(8), Some(&here), Some(&here)), Liveness::Dead);
        assert_eq!(
            judge(Some(8), Some(&other_boot), Some(&here)),
            Liveness::Unknown
        );
        assert_eq!(
            judge(Some(8), Some(&other_ns), Some(&here)),
            Liveness::Unknown
        );
        assert_eq!(judge(Some(8), None, Some(&here)), Liveness::Unknown);
        assert_eq!(judge(Some(8), Some(&here), None), Liveness::Unknown);
        assert_eq!(judge(None, Some(&here), Some(&here)), Liveness::Unknown);
    }
}
