//! What `berth gc` removes, decided by a pure function of the engine's inventory,
//! the run records, the time and which processes are alive, so every rule is tested
//! without an engine.
//!
//! A run is removed when it is **finished** (no container running and nobody is
//! launching it), **orphaned** (running in the foreground of a berth process that
//! is gone), **expired** (past its TTL), left as **debris** (networks or volumes
//! without a container, from a launch that died), or when only a **stale record**
//! remains. A detached run that is running and within its TTL is never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::labels;
use crate::runtime::{ResourceInfo, ResourceKind, SandboxInfo, SandboxState};
use crate::state::{RunRecord, RunState};

/// Why a run is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Its containers have all exited.
    Finished,
    /// Its berth process is gone and it was not detached.
    Orphaned,
    /// Its TTL has passed.
    Expired,
    /// Networks or volumes without a container, from a launch that died.
    Debris,
    /// A record with nothing left on the engine.
    StaleRecord,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Finished => "finished",
            Self::Orphaned => "orphaned: its berth process is gone",
            Self::Expired => "past its ttl",
            Self::Debris => "left by a launch that died",
            Self::StaleRecord => "stale record",
        })
    }
}

/// One run to remove, with everything of it that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doomed {
    /// The run id.
    pub run_id: String,
    /// Why.
    pub reason: Reason,
    /// Container names.
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    /// Whether a run record exists.
    pub record: bool,
}

impl Doomed {
    /// Whether anything of it is on the engine.
    pub fn on_engine(&self) -> bool {
        !(self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty())
    }
}

/// Everything gc looks at.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// berth's containers (all states).
    pub containers: Vec<SandboxInfo>,
    /// berth's networks and volumes.
    pub resources: Vec<ResourceInfo>,
    /// Readable run records.
    pub records: Vec<RunRecord>,
    /// Run directories whose record cannot be read.
    pub broken_records: Vec<String>,
}

#[derive(Default)]
struct Run<'a> {
    containers: Vec<&'a SandboxInfo>,
    resources: Vec<&'a ResourceInfo>,
    record: Option<&'a RunRecord>,
}

impl Run<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.containers
            .iter()
            .map(|c| &c.labels)
            .chain(self.resources.iter().map(|r| &r.labels))
            .find_map(|l| l.get(key))
            .map(String::as_str)
    }

    fn owner(&self) -> Option<u32> {
        self.label(labels::OWNER_PID)
            .and_then(|p| p.parse().ok())
            .or(self.record.map(|r| r.owner_pid))
    }

    fn detached(&self) -> bool {
        self.label(labels::DETACHED)
            .map(|d| d == "true")
            .or(self.record.map(|r| r.detached))
            .unwrap_or(false)
    }

    fn expires(&self) -> Option<i64> {
        self.label(labels::EXPIRES)
            .and_then(|e| e.parse().ok())
            .or(self.record.and_then(|r| r.expires_at))
    }

    /// The latest sign of life: the record's last change, else the newest container.
    fn last_activity(&self) -> i64 {
        let from_containers = self.containers.iter().map(|c| c.created).max().unwrap_or(0);
        self.record
            .map_or(from_containers, |r| r.updated_at().max(from_containers))
    }
}

/// Decides what to remove. `alive` says whether a process id is running.
pub fn collect(
    inventory: &Inventory,
    now: i64,
    older_than: Option<Duration>,
    alive: &dyn Fn(u32) -> bool,
) -> Vec<Doomed> {
    let mut runs: BTreeMap<&str, Run<'_>> = BTreeMap::new();
    for c in &inventory.containers {
        runs.entry(c.run_id.as_str())
            .or_default()
            .containers
            .push(c);
    }
    for r in &inventory.resources {
        let id = r.labels.get(labels::RUN_ID).map_or("", String::as_str);
        runs.entry(id).or_default().resources.push(r);
    }
    for rec in &inventory.records {
        runs.entry(rec.run_id.as_str()).or_default().record = Some(rec);
    }
    let min_age = older_than.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    for (run_id, run) in &runs {
        let owner_alive = run.owner().is_some_and(alive);
        let launching = owner_alive
            && run
                .record
                .is_none_or(|r| matches!(r.state, RunState::Created | RunState::Starting));
        let running = run.containers.iter().any(|c| {
            matches!(
                c.state,
                SandboxState::Running | SandboxState::Paused | SandboxState::Stopping
            )
        });
        let reason = if run.expires().is_some_and(|at| at <= now) {
            Some(Reason::Expired)
        } else if !run.containers.is_empty() {
            if running {
                (!run.detached() && !owner_alive).then_some(Reason::Orphaned)
            } else if launching || (owner_alive && !run.detached()) {
                // Created and not yet started by a live berth, or exited while its
                // berth still reports the exit: not ours to take yet.
                None
            } else {
                Some(Reason::Finished)
            }
        } else if !run.resources.is_empty() {
            (!owner_alive).then_some(Reason::Debris)
        } else if let Some(record) = run.record {
            (record.state.is_terminal() || !owner_alive).then_some(Reason::StaleRecord)
        } else {
            None
        };
        let Some(reason) = reason else { continue };
        if reason != Reason::Expired
            && let Some(min_age) = min_age
            && now - run.last_activity() < min_age
        {
            continue;
        }
        let names = |kind: ResourceKind| -> Vec<String> {
            run.resources
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.name.clone())
                .collect()
        };
        out.push(Doomed {
            run_id: (*run_id).to_owned(),
            reason,
            containers: run.containers.iter().map(|c| c.name.clone()).collect(),
            networks: names(ResourceKind::Network),
            volumes: names(ResourceKind::Volume),
            record: run.record.is_some(),
        });
    }
    let known: BTreeSet<&str> = runs.keys().copied().collect();
    for id in &inventory.broken_records {
        if !known.contains(id.as_str()) {
            out.push(Doomed {
                run_id: id.clone(),
                reason: Reason::StaleRecord,
                containers: Vec::new(),
                networks: Vec::new(),
                volumes: Vec::new(),
                record: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::RuntimeKind;

    const NOW: i64 = 1_000_000;
    const LIVE: u32 = 100;
    const DEAD: u32 = 200;

    fn labels(
        run: &str,
        owner: u32,
        detached: bool,
        expires: Option<i64>,
    ) -> BTreeMap<String, String> {
        let mut l = BTreeMap::from([
            (labels::RUN_ID.to_owned(), run.to_owned()),
            (labels::OWNER_PID.to_owned(), owner.to_string()),
            (labels::DETACHED.to_owned(), detached.to_string()),
        ]);
        if let Some(at) = expires {
            l.insert(labels::EXPIRES.to_owned(), at.to_string());
        }
        l
    }

    fn container(
        run: &str,
        state: SandboxState,
        owner: u32,
        detached: bool,
        expires: Option<i64>,
    ) -> SandboxInfo {
        SandboxInfo {
            id: format!("id-{run}"),
            name: format!("c-{run}"),
            run_id: run.to_owned(),
            runtime: RuntimeKind::Docker,
            oci_runtime: None,
            image: "img".to_owned(),
            state,
            status: String::new(),
            created: NOW - 3600,
            exit_code: None,
            labels: labels(run, owner, detached, expires),
        }
    }

    fn volume(run: &str, owner: u32) -> ResourceInfo {
        ResourceInfo {
            kind: ResourceKind::Volume,
            name: format!("v-{run}"),
            labels: labels(run, owner, false, None),
        }
    }

    fn record(run: &str, state: RunState, owner: u32) -> RunRecord {
        let mut r = RunRecord::new(run, &format!("c-{run}"), RuntimeKind::Docker, false, None);
        r.owner_pid = owner;
        r.state = state;
        r
    }

    fn decide(inv: &Inventory, older_than: Option<Duration>) -> Vec<(String, Reason)> {
        collect(inv, NOW, older_than, &|pid| pid == LIVE)
            .into_iter()
            .map(|d| (d.run_id, d.reason))
            .collect()
    }

    #[test]
    fn each_rule() {
        let inv = Inventory {
            containers: vec![
                container("exited", SandboxState::Exited, DEAD, true, None),
                container("orphan", SandboxState::Running, DEAD, false, None),
                container("attached", SandboxState::Running, LIVE, false, None),
                container("detached", SandboxState::Running, DEAD, true, None),
                container("expired", SandboxState::Running, DEAD, true, Some(NOW - 1)),
                container(
                    "fresh-ttl",
                    SandboxState::Running,
                    DEAD,
                    true,
                    Some(NOW + 60),
                ),
                container("launching", SandboxState::Created, LIVE, true, None),
            ],
            resources: vec![volume("debris", DEAD), volume("mid-launch", LIVE)],
            records: vec![
                record("launching", RunState::Starting, LIVE),
                record("failed", RunState::Failed, LIVE),
                record("owner-died", RunState::Starting, DEAD),
                record("in-progress", RunState::Created, LIVE),
            ],
            broken_records: vec!["garbled".to_owned()],
        };
        let mut got = decide(&inv, None);
        got.sort();
        let mut want: Vec<(String, Reason)> = [
            ("debris", Reason::Debris),
            ("exited", Reason::Finished),
            ("expired", Reason::Expired),
            ("failed", Reason::StaleRecord),
            ("garbled", Reason::StaleRecord),
            ("orphan", Reason::Orphaned),
            ("owner-died", Reason::StaleRecord),
        ]
        .into_iter()
        .map(|(r, why)| (r.to_owned(), why))
        .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn older_than_spares_recent_runs_but_not_expired_ones() {
        let inv = Inventory {
            containers: vec![
                container("exited", SandboxState::Exited, DEAD, true, None),
                container("expired", SandboxState::Running, DEAD, true, Some(NOW - 1)),
            ],
            ..Default::default()
        };
        let got = decide(&inv, Some(Duration::from_secs(2 * 3600)));
        assert_eq!(got, vec![("expired".to_owned(), Reason::Expired)]);
        let got = decide(&inv, Some(Duration::from_secs(1800)));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_second_pass_over_what_remains_removes_nothing() {
        let inv = Inventory {
            containers: vec![
                container("detached", SandboxState::Running, DEAD, true, None),
                container("attached", SandboxState::Running, LIVE, false, None),
            ],
            ..Default::default()
        };
        assert!(decide(&inv, None).is_empty());
    }
}
