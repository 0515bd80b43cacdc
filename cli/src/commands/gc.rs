//! `berth gc`: remove finished, orphaned and expired runs, debris from launches that
//! died, and stale run records. What to remove is decided by the pure
//! `runtime_core::gc::collect`; this module gathers the inventory and acts on it.
//! Foreign resources and corrupt records are reported as left alone (corrupt
//! records go with `--remove-corrupt`).

use std::sync::Arc;

use runtime_core::gc::{self, Collected, Doomed, Inventory, Kept, Reason, Rules};
use runtime_core::state::{self, RunStore};
use runtime_core::{Error, HostIdentity, Runtime};
use serde::Serialize;

use crate::{Format, GcArgs, backends, render};

/// Everything on the reachable engines, plus the records.
async fn inventory(
    runtimes: &[Arc<dyn Runtime>],
    store: &RunStore,
) -> Result<(Inventory, Vec<Arc<dyn Runtime>>), Error> {
    let mut inv = Inventory::default();
    let mut reached = Vec::new();
    for runtime in runtimes {
        match runtime.list(true).await {
            Ok(containers) => {
                inv.containers.extend(containers);
                match runtime.resources().await {
                    Ok(resources) => inv.resources.extend(resources),
                    Err(Error::Unsupported { .. }) => {}
                    Err(err) => return Err(err),
                }
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
            runtime: runtime_core::RuntimeKind::Docker,
            reason: "no engine answered, so berth cannot tell which runs are finished".to_owned(),
            fix: "start the Docker engine, then run berth gc again".to_owned(),
        });
    }
    let listing = store.list();
    inv.records = listing.records;
    inv.corrupt = listing.corrupt;
    inv.incomplete = listing.incomplete;
    Ok((inv, reached))
}

/// Removes what `doomed` names: by run label on every reached engine, then the
/// record when it goes too.
async fn remove(
    runtimes: &[Arc<dyn Runtime>],
    store: &RunStore,
    doomed: &Doomed,
) -> Result<(), Error> {
    if doomed.on_engine() {
        for runtime in runtimes {
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

/// Decides with this host's identity and the processes alive here.
fn decide(
    inv: &Inventory,
    older_than: Option<std::time::Duration>,
    remove_corrupt: bool,
) -> Collected {
    let here = HostIdentity::current();
    gc::collect(
        inv,
        &Rules {
            now: state::now(),
            older_than,
            remove_corrupt,
            here: here.as_ref(),
            alive: &state::process_alive,
        },
    )
}

/// Removes runs past their TTL; run by every berth command but exec and logs,
/// which stay on the fast path. Failures are warnings: the command goes on.
pub async fn sweep_expired(flag: Option<runtime_core::RuntimeChoice>) {
    let (Ok(runtimes), Ok(store)) = (backends::search_runtimes(flag), super::run_store()) else {
        return;
    };
    sweep(&runtimes, &store).await;
}

/// [`sweep_expired`] on backends the caller already holds (and has connected).
pub async fn sweep_with(runtimes: &[Arc<dyn Runtime>]) {
    if let Ok(store) = super::run_store() {
        sweep(runtimes, &store).await;
    }
}

async fn sweep(runtimes: &[Arc<dyn Runtime>], store: &RunStore) {
    let Ok((inv, reached)) = inventory(runtimes, store).await else {
        return;
    };
    for doomed in decide(&inv, None, false).doomed {
        if doomed.reason == Reason::Expired {
            match remove(&reached, store, &doomed).await {
                Ok(()) => eprintln!("berth: removed run {} ({})", doomed.run_id, doomed.reason),
                Err(err) => eprintln!("berth: warning: {}", err.report()),
            }
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    removed: &'a [Doomed],
    kept: &'a [Kept],
}

pub async fn execute(args: GcArgs) -> Result<u8, Error> {
    let store = super::run_store()?;
    let runtimes = backends::search_runtimes(args.runtime)?;
    let (inv, reached) = inventory(&runtimes, &store).await?;
    let older_than = args.older_than.map(|d| d.0);
    let Collected { doomed, kept } = decide(&inv, older_than, args.remove_corrupt);
    if !args.dry_run {
        for d in &doomed {
            remove(&reached, &store, d).await?;
        }
        for runtime in &reached {
            // The shared network goes once no sandbox uses it.
            if let Err(err @ Error::Engine { .. }) = runtime.prune_shared().await {
                eprintln!("berth: warning: {}", err.report());
            }
        }
    }
    match args.format {
        Format::Json => render::json(&Report {
            dry_run: args.dry_run,
            removed: &doomed,
            kept: &kept,
        }),
        Format::Human => {
            let verb = if args.dry_run {
                "would remove"
            } else {
                "removed"
            };
            if doomed.is_empty() {
                println!("nothing to remove");
            }
            for d in &doomed {
                let mut parts = Vec::new();
                if !d.containers.is_empty() {
                    parts.push(format!("containers {}", d.containers.join(", ")));
                }
                if !d.networks.is_empty() {
                    parts.push(format!("networks {}", d.networks.join(", ")));
                }
                if !d.volumes.is_empty() {
                    parts.push(format!("volumes {}", d.volumes.join(", ")));
                }
                if d.record {
                    parts.push("run record".to_owned());
                }
                println!(
                    "{verb} run {} ({}): {}",
                    d.run_id,
                    d.reason,
                    parts.join("; ")
                );
            }
            for k in &kept {
                println!("left alone {} {} ({})", k.kind, k.name, k.reason);
            }
        }
    }
    Ok(0)
}
