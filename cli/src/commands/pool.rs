//! `berth pool up|down|status`: the warm pool of a config's plan
//! (`runtime_core::pool`): members kept started for `berth run` to claim.

use std::path::Path;
use std::sync::Arc;

use runtime_core::pool::{self, Member};
use runtime_core::{Config, Error, Plan, Runtime};
use serde::Serialize;

use crate::{Format, PoolAction, PoolArgs, PoolScope, backends, render};

pub async fn execute(args: PoolArgs) -> Result<u8, Error> {
    match args.action {
        PoolAction::Up(up) => up_(up).await,
        PoolAction::Down(scope) => down(scope).await,
        PoolAction::Status(scope) => status(scope).await,
    }
}

/// The config's plan on the chosen backend, and that backend.
async fn planned(
    file: Option<&Path>,
    flag: Option<runtime_core::RuntimeChoice>,
) -> Result<(Plan, Arc<dyn Runtime>, Config), Error> {
    let config = super::load_config(file, true)?;
    let (plan, runtime) = super::launchable(&config, flag).await?;
    Ok((plan, runtime, config))
}

async fn up_(args: crate::PoolUpArgs) -> Result<u8, Error> {
    // Listen before anything is created, so no signal slips between steps.
    let mut interrupts = crate::signals::Interrupts::new();
    let (plan, runtime, config) = planned(args.config.file.as_deref(), args.config.runtime).await?;
    pool::usable(&plan)?;
    crate::consent::check(&config, &plan, &args.allow)?;
    let store = super::run_store()?;
    let reporter = std::sync::Arc::new(crate::progress::Reporter::new(args.quiet));
    let progress: std::sync::Arc<runtime_core::sandbox::ProgressFn> = {
        let reporter = reporter.clone();
        std::sync::Arc::new(move |line: &str| reporter.line(line))
    };
    let cancel = runtime_core::launch::Cancellation::new();
    let filling = pool::fill(runtime, &plan, &store, Some(progress), args.refill, &cancel);
    let filled = interrupts.cancel_on_signal(&cancel, filling).await?;
    match args.format {
        Format::Json => render::json(&filled),
        Format::Human => {
            if !args.quiet {
                crate::outln!(
                    "pool of {}: {} were there, {} started{}",
                    plan.name,
                    filled.present,
                    filled.created.len(),
                    if filled.created.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", filled.created.join(", "))
                    }
                );
            }
        }
    }
    for failure in &filled.failed {
        eprintln!("berth: warning: a pool member did not start: {failure}");
    }
    Ok(u8::from(!filled.failed.is_empty()))
}

/// The pool key of the config's plan, or `None` for every pool (`--all`), and
/// the backends whose engines to look at.
async fn scope(args: &PoolScope) -> Result<(Option<String>, Vec<Arc<dyn Runtime>>), Error> {
    if args.all {
        let runtimes = backends::search_runtimes(args.config.runtime)?;
        return Ok((None, runtimes));
    }
    let (plan, runtime, _) = planned(args.config.file.as_deref(), args.config.runtime).await?;
    Ok((Some(pool::usable(&plan)?.key.clone()), vec![runtime]))
}

async fn down(args: PoolScope) -> Result<u8, Error> {
    let (key, runtimes) = scope(&args).await?;
    let store = super::run_store()?;
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for runtime in runtimes {
        let (r, f) = pool::drain(&*runtime, &store, key.as_deref()).await;
        removed.extend(r);
        failed.extend(f);
    }
    match args.format {
        Format::Json => {
            #[derive(Serialize)]
            struct Out<'a> {
                removed: &'a [String],
                failed: &'a [String],
            }
            render::json(&Out {
                removed: &removed,
                failed: &failed,
            });
        }
        Format::Human => {
            if removed.is_empty() {
                crate::outln!("no unclaimed pool member to remove");
            }
            for name in &removed {
                crate::outln!("removed {name}");
            }
        }
    }
    for failure in &failed {
        eprintln!("berth: warning: {failure}");
    }
    Ok(u8::from(!failed.is_empty()))
}

async fn status(args: PoolScope) -> Result<u8, Error> {
    let (key, runtimes) = scope(&args).await?;
    let store = super::run_store()?;
    let mut members: Vec<Member> = Vec::new();
    for runtime in runtimes {
        let running = pool::running_ids(&*runtime).await.ok();
        members.extend(pool::members(
            &store,
            &runtime.engine_id(),
            key.as_deref(),
            running.as_deref(),
        ));
    }
    match args.format {
        Format::Json => render::json(&members),
        Format::Human => {
            let now = runtime_core::state::now();
            let rows: Vec<Vec<String>> = members
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        m.key.clone(),
                        m.state.to_string(),
                        format!("{}s", now.saturating_sub(m.created)),
                        m.expires_at.map_or_else(
                            || "-".to_owned(),
                            |at| format!("in {}s", at.saturating_sub(now)),
                        ),
                    ]
                })
                .collect();
            crate::out!(
                "{}",
                render::table(&["NAME", "POOL", "STATE", "AGE", "EXPIRES"], &rows)
            );
        }
    }
    Ok(0)
}

/// Starts `berth pool up` for the config at `file` in the background, detached
/// from this process (its own process group, no stdio), so that a claimed
/// member is replaced while the run goes on and after it ends. The dangers the
/// run accepted with `--allow` are accepted for the replacement too.
pub fn refill_in_background(
    file: &Path,
    runtime: runtime_core::RuntimeKind,
    allow: &[runtime_core::danger::DangerKind],
) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let spawned = std::process::Command::new(exe)
        .args([
            "pool",
            "up",
            "--refill",
            "--quiet",
            "--runtime",
            &runtime.to_string(),
            "-f",
        ])
        .arg(file)
        .args(allow.iter().flat_map(|kind| ["--allow", kind.name()]))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(err) = spawned {
        tracing::warn!("cannot start a pool replacement: {err}");
    }
}
