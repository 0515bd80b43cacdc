//! `berth ps`: berth's sandboxes, found by label. With `--all`, also what berth
//! will not touch: foreign containers (berth's label without a valid run id) and
//! corrupt run records, each said as such.

use std::collections::BTreeSet;

use runtime_core::owner::Liveness;
use runtime_core::state::{self, RunState};
use runtime_core::{Error, HostIdentity, RunId, SandboxInfo, SandboxState};

use crate::render;
use crate::{Format, PsArgs, backends};

pub async fn execute(args: PsArgs) -> Result<u8, Error> {
    let flag = args.runtime.map(Into::into);
    super::gc::sweep_expired(flag).await;
    let mut all: Vec<SandboxInfo> = backends::list_all(flag, true).await?;
    reconcile(&mut all, args.all)?;
    if !args.all {
        all.retain(|s| {
            s.foreign.is_none()
                && matches!(
                    s.state,
                    SandboxState::Running | SandboxState::Paused | SandboxState::Stopping
                )
        });
    }
    if let Some(flag) = args.runtime {
        let want = match flag {
            crate::RuntimeArg::Docker => Some(runtime_core::RuntimeKind::Docker),
            crate::RuntimeArg::Gvisor => Some(runtime_core::RuntimeKind::Gvisor),
            crate::RuntimeArg::Apple => Some(runtime_core::RuntimeKind::Apple),
            crate::RuntimeArg::Auto => None,
        };
        all.retain(|s| want.is_none_or(|k| s.runtime == k));
    }
    all.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
    match args.format {
        Format::Json => render::json(&all),
        Format::Human => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.run_id
                            .as_ref()
                            .map_or_else(|| "foreign".to_owned(), RunId::to_string),
                        s.runtime.to_string(),
                        s.oci_runtime.clone().unwrap_or_else(|| "-".to_owned()),
                        s.image.clone(),
                        s.state.to_string(),
                        ago(now - s.created),
                        match &s.foreign {
                            Some(reason) => format!("foreign, left alone: {reason}"),
                            None => s.status.clone(),
                        },
                    ]
                })
                .collect();
            print!(
                "{}",
                render::table(
                    &[
                        "NAME", "RUN ID", "RUNTIME", "OCI", "IMAGE", "STATE", "CREATED", "STATUS"
                    ],
                    &rows
                )
            );
        }
    }
    Ok(0)
}

fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// Brings run records in line with the engine (the source of truth): a record
/// whose container is gone is marked stopped, with why. With `all`, runs that exist
/// only as records (failed launches, containers removed outside berth) are listed,
/// and so are corrupt records, with their path.
fn reconcile(on_engine: &mut Vec<SandboxInfo>, all: bool) -> Result<(), Error> {
    let store = super::run_store()?;
    let listing = store.list();
    let here = HostIdentity::current();
    let present: BTreeSet<RunId> = on_engine.iter().filter_map(|s| s.run_id.clone()).collect();
    for record in listing.records {
        if present.contains(&record.run_id) {
            // The engine says how it is; a record that still says running learns
            // that the container exited (it died, or the engine restarted).
            let exited = on_engine.iter().find(|s| {
                s.run_id.as_ref() == Some(&record.run_id) && s.state == SandboxState::Exited
            });
            if let Some(info) = exited
                && !record.state.is_terminal()
                && record.state != RunState::Created
                && record.state != RunState::Starting
            {
                let code = info.exit_code;
                store.update(&record.run_id, |r| {
                    r.exit_code = r.exit_code.or(code);
                    r.transition(RunState::Stopped);
                })?;
            }
            continue;
        }
        let owner = Liveness::judge(
            Some(record.owner_pid),
            record.owner_host.as_ref(),
            here.as_ref(),
            &state::process_alive,
        );
        let launching = owner != Liveness::Dead
            && matches!(record.state, RunState::Created | RunState::Starting);
        let mut record = record;
        if !record.state.is_terminal() && !launching {
            let why = "its container is gone (removed outside berth, or lost by the engine)";
            store.update(&record.run_id, |r| {
                r.error.get_or_insert_with(|| why.to_owned());
                r.transition(RunState::Stopped);
            })?;
            record.error.get_or_insert_with(|| why.to_owned());
            record.transition(RunState::Stopped);
        }
        if all {
            on_engine.push(SandboxInfo {
                id: String::new(),
                name: record.name.clone(),
                run_id: Some(record.run_id.clone()),
                foreign: None,
                runtime: record.runtime,
                oci_runtime: None,
                image: String::new(),
                state: SandboxState::Unknown,
                status: format!(
                    "no container: {}{}",
                    record.state,
                    record
                        .error
                        .as_deref()
                        .map(|e| format!(", {e}"))
                        .unwrap_or_default()
                ),
                created: record.created_at(),
                exit_code: record.exit_code,
                labels: Default::default(),
            });
        }
    }
    if all {
        for bad in listing.corrupt {
            if present.contains(&bad.run_id) {
                continue;
            }
            on_engine.push(SandboxInfo {
                id: String::new(),
                name: "-".to_owned(),
                run_id: Some(bad.run_id.clone()),
                foreign: None,
                runtime: runtime_core::RuntimeKind::Docker,
                oci_runtime: None,
                image: String::new(),
                state: SandboxState::Unknown,
                status: format!(
                    "corrupt run record {}: it {}; kept (berth gc --remove-corrupt or berth rm {} removes it)",
                    bad.path.display(),
                    bad.reason,
                    bad.run_id
                ),
                created: 0,
                exit_code: None,
                labels: Default::default(),
            });
        }
    }
    Ok(())
}
