//! Acting on [`gc`]'s decisions: gathering the inventory from the
//! backends and the run records, deciding with this host's identity and the
//! processes alive on it, and removing what was decided. `berth gc` and the sweep
//! of expired runs that launching commands do are both built from these.

use std::sync::Arc;
use std::time::Duration;

use crate::capabilities::RuntimeKind;
use crate::error::Error;
use crate::gc::{self, Collected, Doomed, Inventory, Reason, Rules};
use crate::owner::HostIdentity;
use crate::run_id::RunId;
use crate::runtime::Runtime;
use crate::state::{self, RunRecord, RunStore};

/// An inventory and the backends that answered while it was gathered.
pub struct Gathered {
    /// What is on the engines and in the records.
    pub inventory: Inventory,
    /// The backends that answered; removals go to these.
    pub reached: Vec<Arc<dyn Runtime>>,
}

/// Everything on the backends that answer, plus the records. A single backend
/// that is not there fails with its reason; of several, those that do not answer
/// are skipped, and none answering is [`Error::Unavailable`].
pub async fn gather(runtimes: &[Arc<dyn Runtime>], store: &RunStore) -> Result<Gathered, Error> {
    let mut inventory = Inventory::default();
    let mut reached = Vec::new();
    for runtime in runtimes {
        match runtime.inventory().await {
            Ok((containers, resources)) => {
                inventory.containers.extend(containers);
                inventory.resources.extend(resources);
                reached.push(runtime.clone());
            }
            Err(err @ (Error::Unavailable { .. } | Error::PermissionDenied { .. }))
                if runtimes.len() == 1 =>
            {
                return Err(err);
            }
            Err(_) => {}
        }
    }
    if reached.is_empty() {
        return Err(Error::Unavailable {
            runtime: RuntimeKind::Docker,
            reason: "no engine answered, so berth cannot tell which runs are finished".to_owned(),
            fix: "start the Docker engine, then run berth gc again".to_owned(),
        });
    }
    let listing = store.list();
    let engines: Vec<String> = reached.iter().map(|r| r.engine_id()).collect();
    inventory.records = on_engines(listing.records, &engines);
    inventory.corrupt = listing.corrupt;
    inventory.incomplete = listing.incomplete;
    Ok(Gathered { inventory, reached })
}

/// The records of runs on `engines` ([`Runtime::engine_id`]s), and those that
/// name no engine (written before records named one) when a local engine is
/// among them. A run on another engine
/// is nowhere in these engines' inventories: judged with them, its record would
/// look stale.
pub fn on_engines(records: Vec<RunRecord>, engines: &[String]) -> Vec<RunRecord> {
    records
        .into_iter()
        .filter(|r| judged_by(r, engines))
        .collect()
}

/// Whether `engines` ([`Runtime::engine_id`]s that answered) can judge the
/// record: it names one of them, or it names none (written before records
/// named their engine, on this machine, against a local engine) and a local
/// one is among them. A remote engine's inventory never judges it.
pub fn judged_by(record: &RunRecord, engines: &[String]) -> bool {
    match &record.endpoint {
        Some(e) => engines.contains(e),
        None => engines
            .iter()
            .any(|e| !e.contains("tcp://") && !e.contains("ssh://")),
    }
}

/// Decides what to remove and what to leave (the rules of [`gc`]), with this
/// host's identity, the time now, and the processes alive here.
pub fn decide(
    inventory: &Inventory,
    older_than: Option<Duration>,
    remove_corrupt: bool,
) -> Collected {
    let here = HostIdentity::current();
    gc::collect(
        inventory,
        &Rules {
            now: state::now(),
            older_than,
            remove_corrupt,
            here: here.as_ref(),
            alive: &state::process_alive,
        },
    )
}

/// Removes what `doomed` names: by run label on every reached backend, then the
/// record when it goes too.
pub async fn remove(
    reached: &[Arc<dyn Runtime>],
    store: &RunStore,
    doomed: &Doomed,
) -> Result<(), Error> {
    if doomed.on_engine() {
        for runtime in reached {
            runtime.remove(&doomed.run_id).await?;
        }
    }
    if doomed.record_incomplete {
        store.remove_if_incomplete(&doomed.run_id)?;
    } else if doomed.record {
        store.remove(&doomed.run_id)?;
    }
    Ok(())
}

/// What a sweep did with one expired run.
#[derive(Debug)]
pub struct Swept {
    /// The run.
    pub run_id: RunId,
    /// `None` when it was removed; else why it could not be.
    pub error: Option<Error>,
}

/// Removes the runs past their TTL, and nothing else. A backend that does not
/// answer sweeps nothing; the outcome of each removal is returned, never raised.
pub async fn sweep_expired(runtimes: &[Arc<dyn Runtime>], store: &RunStore) -> Vec<Swept> {
    let Ok(gathered) = gather(runtimes, store).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doomed in decide(&gathered.inventory, None, false).doomed {
        if doomed.reason == Reason::Expired {
            let error = remove(&gathered.reached, store, &doomed).await.err();
            out.push(Swept {
                run_id: doomed.run_id,
                error,
            });
        }
    }
    out
}

impl Swept {
    /// One line for a person: what was removed, or the warning.
    pub fn message(&self) -> String {
        match &self.error {
            None => format!("removed run {} ({})", self.run_id, Reason::Expired),
            Some(err) => format!("warning: {}", err.report()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_other_engines_are_left_out_and_old_records_kept_for_local_engines() {
        let run = |id: &str, engine: Option<&str>| {
            let mut r = RunRecord::new(
                &RunId::parse(id).expect("run id"),
                id,
                RuntimeKind::Docker,
                true,
                None,
            );
            r.endpoint = engine.map(str::to_owned);
            r
        };
        let records = vec![
            run("0123456789ab", Some("docker engine at tcp://a:2376 (TLS)")),
            run("1123456789ab", Some("docker engine at ssh://b")),
            run("2123456789ab", None),
        ];
        let kept = on_engines(records.clone(), &["docker engine at ssh://b".to_owned()]);
        let ids: Vec<String> = kept.iter().map(|r| r.run_id.to_string()).collect();
        // The old record was written against a local engine: a remote one's
        // inventory says nothing about it.
        assert_eq!(ids, ["1123456789ab"]);
        let engines = [
            "docker engine at ssh://b".to_owned(),
            "docker engine at unix:///var/run/docker.sock".to_owned(),
        ];
        let kept = on_engines(records, &engines);
        let ids: Vec<String> = kept.iter().map(|r| r.run_id.to_string()).collect();
        assert_eq!(ids, ["1123456789ab", "2123456789ab"]);
    }
}
