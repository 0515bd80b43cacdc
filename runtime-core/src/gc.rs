//! What `berth gc` removes, decided by a pure function of the engine's inventory,
//! the run records, the time, where this process runs and which processes are
//! alive, so every rule is tested without an engine.
//!
//! A run is removed when it is **finished** (no container running and nobody is
//! launching it), **orphaned** (running in the foreground of a berth process that
//! is gone), **expired** (past its TTL), left as **debris** (networks or volumes
//! without a container, from a launch that died), or when only a **stale record**
//! remains. A detached run that is running and within its TTL is never touched.
//!
//! What is read from labels and records is parsed first ([`Ownership::classify`]):
//! a resource without a valid run id is foreign, never removed, and reported as
//! [`Kept`]; berth's shared resources (the shared network) belong to no run and
//! are left to their owner. An owner's pid is judged only when it was taken on this
//! host's boot and pid namespace ([`Liveness::judge`]); elsewhere its liveness is
//! unknown and the run is never judged orphaned. A corrupt record is kept unless
//! the caller asks for corrupt records to go.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::labels::{Expiry, Ownership, RunLabels};
use crate::owner::{HostIdentity, Liveness};
use crate::run_id::RunId;
use crate::runtime::{ResourceInfo, ResourceKind, SandboxInfo, SandboxState};
use crate::state::{CorruptRecord, RunRecord, RunState};

/// Why a run is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
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
    /// A corrupt record the caller asked to remove.
    CorruptRecord,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Finished => "finished",
            Self::Orphaned => "orphaned: its berth process is gone",
            Self::Expired => "past its ttl",
            Self::Debris => "left by a launch that died",
            Self::StaleRecord => "stale record",
            Self::CorruptRecord => "corrupt record",
        })
    }
}

/// One run to remove, with everything of it that exists, as gc decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Doomed {
    /// The run id.
    pub run_id: RunId,
    /// The run's name (its record's, else its container's); `None` when neither
    /// is left.
    pub name: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Container names.
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
    /// Whether the run's record directory is removed too.
    pub record: bool,
    /// The directory holds no record yet: remove it only if nobody is creating
    /// one and it still has none.
    #[serde(skip)]
    pub(crate) record_incomplete: bool,
}

impl Doomed {
    /// Whether anything of it is on the engine.
    pub(crate) fn on_engine(&self) -> bool {
        !(self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty())
    }
}

/// What a kept object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KeptKind {
    /// A container.
    Container,
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// A run record.
    Record,
}

impl std::fmt::Display for KeptKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Container => "container",
            Self::Network => "network",
            Self::Volume => "volume",
            Self::Record => "run record",
        })
    }
}

/// Something gc saw and deliberately left alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Kept {
    /// What it is.
    pub kind: KeptKind,
    /// Its name (the record's path for a record).
    pub name: String,
    /// Why it is kept.
    pub reason: String,
}

/// What gc decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// Runs to remove.
    pub doomed: Vec<Doomed>,
    /// Foreign resources and corrupt records left alone.
    pub kept: Vec<Kept>,
}

/// Everything gc looks at, as [`crate::collector::gather`] found it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Inventory {
    /// Containers labelled `berth.managed-by=berth` (all states).
    pub containers: Vec<SandboxInfo>,
    /// Networks and volumes labelled `berth.managed-by=berth`.
    pub resources: Vec<ResourceInfo>,
    /// Readable run records.
    pub records: Vec<RunRecord>,
    /// Run directories whose record is unusable.
    pub corrupt: Vec<CorruptRecord>,
    /// Run directories without a record (yet).
    pub incomplete: Vec<RunId>,
}

/// The injected facts and choices gc decides with.
pub(crate) struct Rules<'a> {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Spare runs active more recently than this (expired ones excepted).
    pub older_than: Option<Duration>,
    /// Remove corrupt records too.
    pub remove_corrupt: bool,
    /// Where this process runs ([`HostIdentity::current`]).
    pub here: Option<&'a HostIdentity>,
    /// Whether a process id is running (here).
    pub alive: &'a dyn Fn(u32) -> bool,
}

#[derive(Default)]
struct Run<'a> {
    containers: Vec<(&'a SandboxInfo, RunLabels)>,
    resources: Vec<(&'a ResourceInfo, RunLabels)>,
    record: Option<&'a RunRecord>,
    corrupt: Option<&'a CorruptRecord>,
    incomplete: bool,
}

impl Run<'_> {
    fn labels(&self) -> impl Iterator<Item = &RunLabels> {
        self.containers
            .iter()
            .map(|(_, l)| l)
            .chain(self.resources.iter().map(|(_, l)| l))
    }

    // The record, a private file of this user, is preferred over labels, which
    // anyone with access to the engine can set on a container of their own that
    // claims this run's id; labels speak for runs launched elsewhere.

    /// The owner's pid and host.
    fn owner(&self) -> (Option<u32>, Option<&HostIdentity>) {
        match (self.record, self.labels().find(|l| l.owner_pid.is_some())) {
            (Some(r), _) => (Some(r.owner_pid), r.owner_host.as_ref()),
            (None, Some(l)) => (l.owner_pid, l.owner_host.as_ref()),
            (None, None) => (None, None),
        }
    }

    fn detached(&self) -> Option<bool> {
        self.record
            .map(|r| r.detached)
            .or_else(|| self.labels().find_map(|l| l.detached))
    }

    fn expires(&self) -> Expiry {
        self.record
            .map(|r| r.expires_at.map_or(Expiry::Never, Expiry::At))
            .or_else(|| {
                self.labels()
                    .map(|l| l.expires)
                    .find(|e| *e != Expiry::Unknown)
            })
            .unwrap_or(Expiry::Unknown)
    }

    /// The latest sign of life: the record's last change, else the newest container.
    fn last_activity(&self) -> i64 {
        let from_containers = self
            .containers
            .iter()
            .map(|(c, _)| c.created)
            .max()
            .unwrap_or(0);
        self.record
            .map_or(from_containers, |r| r.updated_at().max(from_containers))
    }

    fn decide(&self, rules: &Rules<'_>) -> Option<Reason> {
        let (pid, host) = self.owner();
        let owner = Liveness::judge(pid, host, rules.here, rules.alive);
        let detached = self.detached();
        if let Expiry::At(at) = self.expires()
            && at <= rules.now
        {
            return Some(Reason::Expired);
        }
        if !self.containers.is_empty() {
            let any = |states: &[SandboxState]| {
                self.containers
                    .iter()
                    .any(|(c, _)| states.contains(&c.state))
            };
            if any(&[
                SandboxState::Running,
                SandboxState::Paused,
                SandboxState::Stopping,
            ]) {
                return (owner == Liveness::Dead && detached == Some(false))
                    .then_some(Reason::Orphaned);
            }
            return match owner {
                Liveness::Alive => {
                    let launching = self
                        .record
                        .is_none_or(|r| matches!(r.state, RunState::Created | RunState::Starting));
                    // Created and not yet started by a live berth, or exited while
                    // its berth still reports the exit: not ours to take yet.
                    (!launching && detached == Some(true)).then_some(Reason::Finished)
                }
                // Its berth may be launching it elsewhere: a container never
                // started is left; an exited one is finished.
                Liveness::Unknown => (!any(&[SandboxState::Created])).then_some(Reason::Finished),
                Liveness::Dead => Some(Reason::Finished),
            };
        }
        if !self.resources.is_empty() {
            return (owner == Liveness::Dead).then_some(Reason::Debris);
        }
        let record = self.record?;
        (record.state.is_terminal() || owner == Liveness::Dead).then_some(Reason::StaleRecord)
    }

    /// The kept entry of its corrupt record, if it has one.
    fn kept_record(&self) -> Option<Kept> {
        self.corrupt.map(|bad| Kept {
            kind: KeptKind::Record,
            name: bad.path.display().to_string(),
            reason: format!(
                "corrupt: it {}; berth gc --remove-corrupt removes it",
                bad.reason
            ),
        })
    }
}

fn resource_kind(kind: ResourceKind) -> KeptKind {
    match kind {
        ResourceKind::Network => KeptKind::Network,
        ResourceKind::Volume => KeptKind::Volume,
        ResourceKind::Sidecar => KeptKind::Container,
    }
}

/// Decides what to remove, and what is left alone on purpose.
pub(crate) fn collect(inventory: &Inventory, rules: &Rules<'_>) -> Collected {
    let mut kept = Vec::new();
    let mut runs: BTreeMap<RunId, Run<'_>> = BTreeMap::new();
    let mut sort = |kind: KeptKind, name: &str, owner: Ownership| match owner {
        Ownership::Run(labels) => Some(labels),
        Ownership::Shared { .. } => None,
        Ownership::Foreign { reason } => {
            kept.push(Kept {
                kind,
                name: name.to_owned(),
                reason: format!("foreign: {reason}"),
            });
            None
        }
    };
    for c in &inventory.containers {
        let owner = Ownership::classify_container(&c.labels);
        if let Some(labels) = sort(KeptKind::Container, &c.name, owner) {
            runs.entry(labels.run_id.clone())
                .or_default()
                .containers
                .push((c, labels));
        }
    }
    for r in &inventory.resources {
        let owner = Ownership::classify(&r.labels);
        if let Some(labels) = sort(resource_kind(r.kind), &r.name, owner) {
            runs.entry(labels.run_id.clone())
                .or_default()
                .resources
                .push((r, labels));
        }
    }
    for rec in &inventory.records {
        runs.entry(rec.run_id.clone()).or_default().record = Some(rec);
    }
    for bad in &inventory.corrupt {
        runs.entry(bad.run_id.clone()).or_default().corrupt = Some(bad);
    }
    for id in &inventory.incomplete {
        runs.entry(id.clone()).or_default().incomplete = true;
    }
    let min_age = rules
        .older_than
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut doomed = Vec::new();
    for (run_id, run) in runs {
        let known =
            !(run.containers.is_empty() && run.resources.is_empty()) || run.record.is_some();
        let reason = if known {
            run.decide(rules)
        } else if run.incomplete {
            Some(Reason::StaleRecord)
        } else {
            rules.remove_corrupt.then_some(Reason::CorruptRecord)
        };
        let too_recent = |reason: Reason| {
            !matches!(reason, Reason::Expired | Reason::CorruptRecord)
                && min_age.is_some_and(|min| rules.now.saturating_sub(run.last_activity()) < min)
        };
        let Some(reason) = reason.filter(|r| !too_recent(*r)) else {
            kept.extend(run.kept_record());
            continue;
        };
        if !rules.remove_corrupt {
            kept.extend(run.kept_record());
        }
        let names = |kind: ResourceKind| -> Vec<String> {
            run.resources
                .iter()
                .filter(|(r, _)| r.kind == kind)
                .map(|(r, _)| r.name.clone())
                .collect()
        };
        let name = run
            .record
            .map(|r| r.name.clone())
            .or_else(|| run.containers.first().map(|(c, _)| c.name.clone()));
        doomed.push(Doomed {
            name,
            reason,
            containers: run
                .containers
                .iter()
                .map(|(c, _)| c.name.clone())
                .chain(names(ResourceKind::Sidecar))
                .collect(),
            networks: names(ResourceKind::Network),
            volumes: names(ResourceKind::Volume),
            record: run.record.is_some()
                || run.incomplete
                || (run.corrupt.is_some() && rules.remove_corrupt),
            record_incomplete: run.incomplete,
            run_id,
        });
    }
    kept.sort();
    Collected { doomed, kept }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::capabilities::RuntimeKind;
    use crate::labels;

    const NOW: i64 = 1_000_000;
    const LIVE: u32 = 100;
    const DEAD: u32 = 200;

    /// A stable run id per test name.
    fn id(name: &str) -> RunId {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        RunId::parse(&format!("{:012x}", hash & 0xffff_ffff_ffff)).expect("id")
    }

    fn here() -> HostIdentity {
        HostIdentity::new("b007-1d", 4_026_531_836).expect("identity")
    }

    fn elsewhere() -> HostIdentity {
        HostIdentity::new("0a1e-b007", 4_026_531_836).expect("identity")
    }

    #[derive(Clone)]
    struct Owner {
        pid: u32,
        host: Option<HostIdentity>,
    }

    fn local(pid: u32) -> Owner {
        Owner {
            pid,
            host: Some(here()),
        }
    }

    fn run_labels(
        run: &str,
        owner: &Owner,
        detached: bool,
        expires: Option<i64>,
    ) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::MANAGED_BY.to_owned(), "berth".to_owned()),
            (labels::RUN_ID.to_owned(), id(run).to_string()),
            (labels::OWNER_PID.to_owned(), owner.pid.to_string()),
            (
                labels::OWNER_HOST.to_owned(),
                owner
                    .host
                    .as_ref()
                    .map_or_else(|| labels::UNKNOWN.to_owned(), ToString::to_string),
            ),
            (labels::DETACHED.to_owned(), detached.to_string()),
            (labels::EXPIRES.to_owned(), labels::Expiry::label(expires)),
        ])
    }

    fn sandbox(name: &str, state: SandboxState, labels: BTreeMap<String, String>) -> SandboxInfo {
        let owner = Ownership::classify(&labels);
        SandboxInfo {
            id: format!("id-{name}"),
            name: format!("c-{name}"),
            run_id: owner.run_id().cloned(),
            foreign: owner.foreign_reason().map(str::to_owned),
            runtime: RuntimeKind::Docker,
            oci_runtime: None,
            image: "img".to_owned(),
            state,
            status: String::new(),
            created: NOW - 3600,
            exit_code: None,
            labels,
        }
    }

    fn container(
        run: &str,
        state: SandboxState,
        owner: u32,
        detached: bool,
        expires: Option<i64>,
    ) -> SandboxInfo {
        sandbox(
            run,
            state,
            run_labels(run, &local(owner), detached, expires),
        )
    }

    fn volume(run: &str, owner: u32) -> ResourceInfo {
        ResourceInfo {
            kind: ResourceKind::Volume,
            name: format!("v-{run}"),
            labels: run_labels(run, &local(owner), false, None),
        }
    }

    fn record(run: &str, state: RunState, owner: u32) -> RunRecord {
        let mut r = RunRecord::new(
            &id(run),
            &format!("c-{run}"),
            RuntimeKind::Docker,
            false,
            None,
        );
        r.owner_pid = owner;
        r.owner_host = Some(here());
        r.state = state;
        r
    }

    fn corrupt(run: &str) -> CorruptRecord {
        CorruptRecord {
            run_id: id(run),
            path: PathBuf::from(format!("/state/berth/runs/{}/record.json", id(run))),
            reason: "is not a valid run record".to_owned(),
            modified: NOW,
        }
    }

    fn rules(older_than: Option<Duration>, remove_corrupt: bool, here: &HostIdentity) -> Rules<'_> {
        Rules {
            now: NOW,
            older_than,
            remove_corrupt,
            here: Some(here),
            alive: &|pid| pid == LIVE,
        }
    }

    fn decide(inv: &Inventory, older_than: Option<Duration>) -> Vec<(RunId, Reason)> {
        let here = here();
        let mut out: Vec<(RunId, Reason)> = collect(inv, &rules(older_than, false, &here))
            .doomed
            .into_iter()
            .map(|d| (d.run_id, d.reason))
            .collect();
        out.sort();
        out
    }

    fn want(pairs: &[(&str, Reason)]) -> Vec<(RunId, Reason)> {
        let mut out: Vec<(RunId, Reason)> = pairs.iter().map(|(r, why)| (id(r), *why)).collect();
        out.sort();
        out
    }

    /// Times from records and engines are outside input: the most extreme ones
    /// neither overflow nor make a run look old enough to remove.
    #[test]
    fn extreme_times_do_not_overflow() {
        let mut from_the_future = record("future", RunState::Failed, LIVE);
        for t in &mut from_the_future.history {
            t.at = i64::MAX;
        }
        let mut from_the_past = record("past", RunState::Failed, LIVE);
        for t in &mut from_the_past.history {
            t.at = i64::MIN;
        }
        let inv = Inventory {
            records: vec![from_the_future, from_the_past],
            ..Inventory::default()
        };
        assert_eq!(
            decide(&inv, Some(Duration::from_secs(3600))),
            want(&[("past", Reason::StaleRecord)])
        );
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
            corrupt: Vec::new(),
            incomplete: vec![id("killed-mid-create")],
        };
        assert_eq!(
            decide(&inv, None),
            want(&[
                ("debris", Reason::Debris),
                ("exited", Reason::Finished),
                ("expired", Reason::Expired),
                ("failed", Reason::StaleRecord),
                ("killed-mid-create", Reason::StaleRecord),
                ("orphan", Reason::Orphaned),
                ("owner-died", Reason::StaleRecord),
            ])
        );
    }

    /// A short-lived container that serves no sandbox (a remote engine's
    /// socket probe) is removed once its berth is gone, never while it lives.
    #[test]
    fn a_sidecar_without_a_sandbox_goes_with_its_berth() {
        let sidecar = |run: &str, owner: u32| ResourceInfo {
            kind: ResourceKind::Sidecar,
            name: format!("probe-{run}"),
            labels: run_labels(run, &local(owner), false, None),
        };
        let inv = Inventory {
            resources: vec![sidecar("probe-dead", DEAD), sidecar("probe-live", LIVE)],
            ..Inventory::default()
        };
        assert_eq!(decide(&inv, None), want(&[("probe-dead", Reason::Debris)]));
        let here = here();
        let doomed = collect(&inv, &rules(None, false, &here)).doomed;
        assert_eq!(doomed[0].containers, vec!["probe-probe-dead".to_owned()]);
    }

    #[test]
    fn an_owner_from_another_host_or_pid_namespace_is_never_judged_orphaned() {
        let other_ns = HostIdentity::new("b007-1d", 1).expect("identity");
        let owners = [
            Owner {
                pid: DEAD,
                host: Some(elsewhere()),
            },
            Owner {
                pid: DEAD,
                host: Some(other_ns),
            },
            Owner {
                pid: DEAD,
                host: None,
            },
        ];
        for owner in owners {
            let labelled = |run: &str, state, expires| {
                sandbox(run, state, run_labels(run, &owner, false, expires))
            };
            let inv = Inventory {
                containers: vec![
                    labelled("running", SandboxState::Running, None),
                    labelled("starting", SandboxState::Created, None),
                    labelled("exited", SandboxState::Exited, None),
                    labelled("expired", SandboxState::Running, Some(NOW - 1)),
                ],
                resources: vec![ResourceInfo {
                    kind: ResourceKind::Network,
                    name: "n-mid-launch".to_owned(),
                    labels: run_labels("mid-launch", &owner, false, None),
                }],
                ..Default::default()
            };
            assert_eq!(
                decide(&inv, None),
                want(&[("exited", Reason::Finished), ("expired", Reason::Expired)]),
                "owner {:?}",
                owner.host
            );
        }
        // Where this process has no identity, no pid is judged either.
        let inv = Inventory {
            containers: vec![container(
                "running",
                SandboxState::Running,
                DEAD,
                false,
                None,
            )],
            ..Default::default()
        };
        let other = elsewhere();
        let rules = Rules {
            here: None,
            ..rules(None, false, &other)
        };
        assert!(collect(&inv, &rules).doomed.is_empty());
        // The same run judged here is orphaned: the rule is the host, not the pid.
        assert_eq!(decide(&inv, None), want(&[("running", Reason::Orphaned)]));
    }

    #[test]
    fn foreign_resources_are_kept_and_reported_and_the_shared_network_is_ignored() {
        let foreign = |labels: &[(&str, &str)]| {
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<String, String>>()
        };
        let traversal = foreign(&[
            (labels::MANAGED_BY, "berth"),
            (labels::RUN_ID, "../../../canary"),
            (labels::EXPIRES, "1"),
        ]);
        let missing = foreign(&[(labels::MANAGED_BY, "berth"), (labels::EXPIRES, "1")]);
        let shared = foreign(&[
            (labels::MANAGED_BY, "berth"),
            (labels::ROLE, labels::ROLE_NETWORK),
        ]);
        let inv = Inventory {
            containers: vec![
                sandbox("traversal", SandboxState::Running, traversal.clone()),
                sandbox("no-id", SandboxState::Exited, missing.clone()),
                container("detached", SandboxState::Running, DEAD, true, None),
            ],
            resources: vec![
                ResourceInfo {
                    kind: ResourceKind::Network,
                    name: "berth".to_owned(),
                    labels: shared,
                },
                ResourceInfo {
                    kind: ResourceKind::Volume,
                    name: "v-traversal".to_owned(),
                    labels: traversal,
                },
                ResourceInfo {
                    kind: ResourceKind::Network,
                    name: "n-no-id".to_owned(),
                    labels: missing,
                },
            ],
            records: vec![RunRecord {
                detached: true,
                ..record("detached", RunState::Running, DEAD)
            }],
            ..Default::default()
        };
        let here = here();
        let got = collect(&inv, &rules(None, true, &here));
        assert!(got.doomed.is_empty(), "{:?}", got.doomed);
        let kept: Vec<(KeptKind, &str)> =
            got.kept.iter().map(|k| (k.kind, k.name.as_str())).collect();
        assert_eq!(
            kept,
            [
                (KeptKind::Container, "c-no-id"),
                (KeptKind::Container, "c-traversal"),
                (KeptKind::Network, "n-no-id"),
                (KeptKind::Volume, "v-traversal"),
            ]
        );
        assert!(got.kept.iter().all(|k| k.reason.starts_with("foreign: ")));
    }

    #[test]
    fn the_record_speaks_for_its_run_over_a_container_claiming_its_id() {
        // A detached run with no TTL, recorded here; someone else's container
        // claims its run id, says it expired, and names a dead foreground owner.
        let mut rec = record("recorded", RunState::Running, DEAD);
        rec.detached = true;
        let inv = Inventory {
            containers: vec![
                container("recorded", SandboxState::Running, DEAD, true, None),
                sandbox(
                    "claimer",
                    SandboxState::Running,
                    run_labels("recorded", &local(DEAD), false, Some(NOW - 1)),
                ),
            ],
            records: vec![rec],
            ..Default::default()
        };
        assert!(decide(&inv, None).is_empty());
    }

    #[test]
    fn a_run_directory_without_a_record_is_stale() {
        let inv = Inventory {
            containers: vec![container("exited", SandboxState::Exited, DEAD, true, None)],
            incomplete: vec![id("killed"), id("exited")],
            ..Default::default()
        };
        let here = here();
        let mut got: Vec<_> = collect(&inv, &rules(None, false, &here))
            .doomed
            .into_iter()
            .map(|d| (d.run_id, d.reason, d.record, d.record_incomplete))
            .collect();
        got.sort();
        let mut expected = vec![
            (id("killed"), Reason::StaleRecord, true, true),
            (id("exited"), Reason::Finished, true, true),
        ];
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn corrupt_records_are_kept_unless_asked() {
        let inv = Inventory {
            containers: vec![container("exited", SandboxState::Exited, DEAD, true, None)],
            corrupt: vec![corrupt("garbled"), corrupt("exited")],
            ..Default::default()
        };
        let here = here();
        let kept = collect(&inv, &rules(None, false, &here));
        assert_eq!(
            kept.doomed
                .iter()
                .map(|d| (d.run_id.clone(), d.reason, d.record))
                .collect::<Vec<_>>(),
            [(id("exited"), Reason::Finished, false)],
            "the run's container goes, its corrupt record stays"
        );
        assert_eq!(kept.kept.len(), 2);
        assert!(kept.kept.iter().all(|k| k.kind == KeptKind::Record
            && k.reason.contains("--remove-corrupt")
            && k.name.ends_with("/record.json")));

        let removed = collect(&inv, &rules(None, true, &here));
        let mut got: Vec<_> = removed
            .doomed
            .iter()
            .map(|d| (d.run_id.clone(), d.reason, d.record))
            .collect();
        got.sort();
        let mut expected = vec![
            (id("exited"), Reason::Finished, true),
            (id("garbled"), Reason::CorruptRecord, true),
        ];
        expected.sort();
        assert_eq!(got, expected);
        assert!(removed.kept.is_empty());
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
        assert_eq!(got, want(&[("expired", Reason::Expired)]));
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
