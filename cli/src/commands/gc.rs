//! `berth gc`: remove finished, orphaned and expired runs, debris from launches that
//! died, and stale run records. What to remove is decided by the pure
//! `runtime_core::gc::collect`; this module gathers the inventory and acts on it.
//! Foreign resources and corrupt records are reported as left alone (corrupt
//! records go with `--remove-corrupt`).

use runtime_core::Error;
use runtime_core::collector::{self, Gathered};
use runtime_core::gc::{Collected, Doomed, Kept};
use serde::Serialize;

use crate::{Format, GcArgs, backends, render};

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    removed: &'a [Doomed],
    kept: &'a [Kept],
}

pub async fn execute(args: GcArgs) -> Result<u8, Error> {
    let store = super::run_store()?;
    let runtimes = backends::search_runtimes(args.runtime)?;
    let Gathered { inventory, reached } = collector::gather(&runtimes, &store).await?;
    let older_than = args.older_than.map(|d| d.0);
    let Collected { doomed, kept } = collector::decide(&inventory, older_than, args.remove_corrupt);
    if !args.dry_run {
        for d in &doomed {
            collector::remove(&reached, &store, d).await?;
        }
        // What sandboxes left in the exec directories of runs now gone.
        for run_id in store.remove_stray_exec_dirs() {
            tracing::info!(%run_id, "removed a stray exec directory");
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
                crate::outln!("nothing to remove");
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
                let run = match &d.name {
                    Some(name) => format!("{name} (run {}, {})", d.run_id, d.reason),
                    None => format!("run {} ({})", d.run_id, d.reason),
                };
                crate::outln!("{verb} {run}: {}", parts.join("; "));
            }
            for k in &kept {
                crate::outln!("left alone {} {} ({})", k.kind, k.name, k.reason);
            }
        }
    }
    Ok(0)
}
