//! `berth ps`: berth's sandboxes, found by label. With `--all`, also what berth
//! will not touch: foreign containers (berth's label without a valid run id) and
//! corrupt run records, each said as such.

use std::collections::BTreeSet;
use std::path::Path;

use runtime_core::owner::Liveness;
use runtime_core::state::{self, CorruptRecord, RunRecord, RunState};
use runtime_core::{Error, HostIdentity, RunId, SandboxInfo, SandboxState};
use serde::Serialize;

use crate::render;
use crate::{Format, PsArgs, backends};

pub async fn execute(args: PsArgs) -> Result<u8, Error> {
    let flag = args.runtime;
    super::sweep_expired(flag).await;
    let mut all: Vec<SandboxInfo> = backends::list_all(flag, true).await?;
    let engines: Vec<String> = backends::search_runtimes(flag)?
        .iter()
        .map(|r| r.engine_id())
        .collect();
    let corrupt = reconcile(&mut all, &engines, args.all, args.all_endpoints)?;
    if !args.all {
        all.retain(|s| {
            let running = matches!(
                s.state,
                SandboxState::Running | SandboxState::Paused | SandboxState::Stopping
            );
            let elsewhere = s.state == SandboxState::Unknown && s.status.starts_with(ELSEWHERE);
            s.foreign.is_none() && (running || elsewhere)
        });
    }
    if let Some(want) = args.runtime.and_then(runtime_core::RuntimeChoice::kind) {
        all.retain(|s| s.runtime == want);
    }
    all.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
    if args.quiet {
        crate::out!("{}", quiet(&all, &corrupt));
        return Ok(0);
    }
    let store = super::run_store().ok();
    let exec_of = |s: &SandboxInfo| exec_path(store.as_ref(), s);
    match args.format {
        Format::Json => {
            let rows: Vec<Row<'_>> = all
                .iter()
                .map(|s| {
                    Row::Sandbox(SandboxRow {
                        info: s,
                        exec: exec_of(s),
                    })
                })
                .chain(corrupt.iter().map(|c| Row::Corrupt(CorruptRow::new(c))))
                .collect();
            render::json(&rows);
        }
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
                        exec_of(s).unwrap_or("-").to_owned(),
                        ago(now.saturating_sub(s.created)),
                        match &s.foreign {
                            Some(reason) => format!("foreign, left alone: {reason}"),
                            None if waits_in_pool(store.as_ref(), s) => {
                                format!("{} (pool member, unclaimed)", s.status)
                            }
                            None => s.status.clone(),
                        },
                    ]
                })
                .chain(corrupt.iter().map(|c| {
                    vec![
                        "-".to_owned(),
                        c.run_id.to_string(),
                        "-".to_owned(),
                        "-".to_owned(),
                        String::new(),
                        "corrupt".to_owned(),
                        "-".to_owned(),
                        ago(now.saturating_sub(c.modified)),
                        CorruptRow::new(c).status,
                    ]
                }))
                .collect();
            crate::out!(
                "{}",
                render::table(
                    &[
                        "NAME", "RUN ID", "RUNTIME", "OCI", "IMAGE", "STATE", "EXEC", "CREATED",
                        "STATUS"
                    ],
                    &rows
                )
            );
        }
    }
    Ok(0)
}

/// One line of `berth ps --format json`.
#[derive(Serialize)]
#[serde(untagged)]
enum Row<'a> {
    Sandbox(SandboxRow<'a>),
    Corrupt(CorruptRow<'a>),
}

/// A sandbox, with the path `berth exec` takes into it.
#[derive(Serialize)]
struct SandboxRow<'a> {
    #[serde(flatten)]
    info: &'a SandboxInfo,
    /// `init` or `engine` for a running sandbox of berth's; `null` otherwise.
    exec: Option<&'static str>,
}

/// The exec path into a running sandbox: `init` when its berth-init serves
/// exec, `engine` otherwise; `None` for a stopped or foreign one.
fn exec_path(
    store: Option<&runtime_core::state::RunStore>,
    s: &SandboxInfo,
) -> Option<&'static str> {
    if s.state != SandboxState::Running {
        return None;
    }
    let (store, run_id) = (store?, s.run_id.as_ref()?);
    Some(runtime_core::init::current_path(store, run_id).name())
}

/// Whether the run is a warm pool's member no run has claimed yet, as its
/// record says.
fn waits_in_pool(store: Option<&runtime_core::state::RunStore>, s: &SandboxInfo) -> bool {
    let (Some(store), Some(run_id)) = (store, &s.run_id) else {
        return false;
    };
    store
        .load(run_id)
        .and_then(|r| r.pool)
        .is_some_and(|seat| !seat.claimed)
}

/// A corrupt run record as `berth ps --all` lists it.
#[derive(Serialize)]
struct CorruptRow<'a> {
    run_id: &'a RunId,
    state: &'static str,
    status: String,
    path: &'a Path,
    modified: i64,
}

impl<'a> CorruptRow<'a> {
    fn new(c: &'a CorruptRecord) -> Self {
        Self {
            run_id: &c.run_id,
            state: "corrupt",
            status: format!(
                "corrupt run record {}: it {}; kept (berth gc --remove-corrupt or berth rm {} removes it)",
                c.path.display(),
                c.reason,
                c.run_id
            ),
            path: &c.path,
            modified: c.modified,
        }
    }
}

/// `ps -q`: what other berth commands take, one per line: each sandbox's name
/// (its id when it has none), and the run id of a corrupt record.
fn quiet(sandboxes: &[SandboxInfo], corrupt: &[CorruptRecord]) -> String {
    sandboxes
        .iter()
        .map(|s| if s.name.is_empty() { &s.id } else { &s.name }.clone())
        .chain(corrupt.iter().map(|c| c.run_id.to_string()))
        .map(|line| line + "\n")
        .collect()
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
/// and corrupt records (of runs not on the engine) are returned.
/// How the status of a run on another engine begins.
const ELSEWHERE: &str = "on ";

/// A run listed from its record alone (no container of it on the engine asked).
fn from_record(record: &RunRecord, id: String, status: String) -> SandboxInfo {
    SandboxInfo {
        id,
        name: record.name.clone(),
        run_id: Some(record.run_id.clone()),
        foreign: None,
        runtime: record.runtime,
        oci_runtime: None,
        image: String::new(),
        state: SandboxState::Unknown,
        status,
        created: record.created_at(),
        exit_code: record.exit_code,
        labels: Default::default(),
    }
}

/// Records and the engine's listing, made to agree; only the records of runs on
/// `engines` are judged against it. With `elsewhere`, runs of other engines are
/// listed from their records.
fn reconcile(
    on_engine: &mut Vec<SandboxInfo>,
    engines: &[String],
    all: bool,
    elsewhere: bool,
) -> Result<Vec<CorruptRecord>, Error> {
    let store = super::run_store()?;
    let listing = store.list();
    let here = HostIdentity::current();
    let present: BTreeSet<RunId> = on_engine.iter().filter_map(|s| s.run_id.clone()).collect();
    let (records, others): (Vec<_>, Vec<_>) = listing
        .records
        .into_iter()
        .partition(|r| runtime_core::collector::judged_by(r, engines));
    if elsewhere {
        for record in others {
            let engine = record.endpoint.clone().unwrap_or_default();
            let engine = engine.strip_prefix("docker engine at ").unwrap_or(&engine);
            let status = format!("{ELSEWHERE}{engine}: {} (its record)", record.state);
            let id = record.container_id.clone().unwrap_or_default();
            on_engine.push(from_record(&record, id, status));
        }
    }
    for record in records {
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
            let status = format!(
                "no container: {}{}",
                record.state,
                record
                    .error
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            );
            on_engine.push(from_record(&record, String::new(), status));
        }
    }
    Ok(if all {
        listing
            .corrupt
            .into_iter()
            .filter(|c| !present.contains(&c.run_id))
            .collect()
    } else {
        Vec::new()
    })
}
