//! `berth run`: prepare, launch behind a guard, then attach (or detach).

use std::time::Duration;

use runtime_core::launch::{Cancellation, launch, teardown};
use runtime_core::plan::EnvValue;
use runtime_core::runtime::DEFAULT_STOP_GRACE;
use runtime_core::state::{self, RunRecord, RunState};
use runtime_core::{CreateSpec, Error, HostIdentity, Plan, RunId, prepare};
use toml::Spanned;

use crate::signals::Interrupts;
use crate::{RunArgs, backends, stdio};

/// How long an interrupted launch may take to finish its in-flight request.
const CANCEL_BOUND: Duration = Duration::from_secs(60);

pub async fn execute(args: RunArgs) -> Result<u8, Error> {
    // Listen before anything is created, so no signal can slip between steps.
    let mut interrupts = Interrupts::new();
    let mut config = super::load_config(args.config.file.as_deref(), false)?;
    if let Some(image) = args.image {
        // Checked as berth.toml's `image` is.
        runtime_core::reference::check(&image).map_err(|why| {
            crate::usage(format!(
                "`{}` is not an image reference: {why}",
                image.escape_debug()
            ))
        })?;
        config.file.sandbox.image = Some(Spanned::new(0..0, image));
        config.file.sandbox.build = None;
    }
    if !args.command.is_empty() {
        config.file.sandbox.command = Some(Spanned::new(0..0, args.command));
    }
    let chosen = backends::choose(&config, args.config.runtime).await?;
    let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
    if let Some(err) = chosen.probed.caps.availability.to_error(plan.runtime) {
        return Err(err);
    }
    crate::consent::check(&config, &plan, &args.allow)?;
    let env = environment(&plan);
    let runtime = chosen.probed.runtime;
    let run_id = RunId::random();
    // Expired runs are swept while this one launches (the sweep removes only runs
    // past their TTL, never one being launched), and awaited before the session
    // starts, so what it prints never lands inside the session's output.
    let sweep = {
        let runtime = runtime.clone();
        tokio::spawn(async move { super::gc::sweep_with(std::slice::from_ref(&runtime)).await })
    };
    let name = match &args.name {
        // A pinned name that is taken fails at create with a conflict (exit 7).
        Some(name) => name.clone(),
        None => free_name(&*runtime, &plan.name, &run_id).await?,
    };
    let store = super::run_store()?;
    let expires_at = args
        .detach
        .then_some(config.file.sandbox.ttl.as_ref())
        .flatten()
        .map(|ttl| state::now().saturating_add(ttl.get_ref().as_secs_i64()));
    let spec = CreateSpec {
        plan: &plan,
        run_id: run_id.clone(),
        name,
        env,
        stdin: args.interactive,
        tty: args.tty,
        command: None,
        owner_pid: std::process::id(),
        owner_host: HostIdentity::current(),
        detached: args.detach,
        expires_at,
    };
    store.create(&RunRecord::new(
        &run_id,
        &spec.name,
        plan.runtime,
        args.detach,
        expires_at,
    ))?;
    let record = |change: &dyn Fn(&mut RunRecord)| {
        if let Err(err) = store.update(&run_id, |r| change(r)) {
            eprintln!("berth: warning: {}", err.report());
        }
    };
    // Interrupted or failed before the run exists for the user: leave nothing, not
    // even the record.
    let forget = || {
        if let Err(err) = store.remove(&run_id) {
            eprintln!("berth: warning: {}", err.report());
        }
    };

    record(&|r| r.transition(RunState::Starting));
    let progress = |line: &str| eprintln!("berth: {line}");
    let cancel = Cancellation::new();
    let launched = {
        let fut = async {
            let launched = launch(&*runtime, &spec, args.detach, &progress, &cancel).await;
            let _ = sweep.await;
            launched
        };
        tokio::pin!(fut);
        tokio::select! {
            result = &mut fut => result,
            signal = interrupts.recv() => {
                eprintln!("berth: {signal}: stopping the launch and removing what it created");
                record(&|r| r.transition(RunState::Stopping));
                cancel.cancel(signal);
                let _ = tokio::time::timeout(CANCEL_BOUND, &mut fut).await;
                teardown(&*runtime, &run_id).await;
                forget();
                return Err(Error::Interrupted { signal });
            }
        }
    };
    let id = match launched {
        Ok(id) => id,
        Err(err) => {
            // launch() already removed what it created; keep the failure on record
            // for `berth ps --all` until `berth gc`.
            let message = err.report();
            record(&|r| {
                r.error = Some(message.clone());
                r.transition(RunState::Failed);
            });
            return Err(err);
        }
    };
    record(&|r| r.container_id = Some(id.clone()));
    if args.detach {
        record(&|r| r.transition(RunState::Running));
        println!("{}", spec.name);
        return Ok(0);
    }

    let attached = async {
        let session = runtime.attach(&id, args.interactive).await?;
        runtime.start(&id).await?;
        Ok::<_, Error>(session)
    }
    .await;
    let session = match attached {
        Ok(s) => s,
        Err(err) => {
            teardown(&*runtime, &run_id).await;
            let message = err.report();
            record(&|r| {
                r.error = Some(message.clone());
                r.transition(RunState::Failed);
            });
            return Err(err);
        }
    };
    record(&|r| r.transition(RunState::Running));
    let raw = args.tty.then(stdio::RawTerminal::enter);
    let outcome = tokio::select! {
        code = stdio::pump(session, args.interactive) => Ok(code),
        signal = interrupts.recv() => Err(signal),
    };
    drop(raw);
    match outcome {
        Ok(code) => {
            if args.rm {
                record(&|r| r.transition(RunState::Stopping));
                teardown(&*runtime, &run_id).await;
                forget();
            } else if let Ok(code) = &code {
                let code = *code;
                record(&|r| {
                    r.exit_code = Some(code);
                    r.transition(RunState::Stopped);
                });
            }
            let code = code?;
            Ok(exit_code(code))
        }
        Err(signal) => {
            record(&|r| r.transition(RunState::Stopping));
            if args.rm {
                eprintln!("berth: {signal}: removing {}", spec.name);
                teardown(&*runtime, &run_id).await;
                forget();
            } else {
                eprintln!("berth: {signal}: stopping {}", spec.name);
                let _ = runtime.stop(&id, DEFAULT_STOP_GRACE).await;
                record(&|r| r.transition(RunState::Stopped));
            }
            Ok(signal.exit_code())
        }
    }
}

/// `<sandbox>-<8 hex digits>`, with other digits while the name is taken.
async fn free_name(
    runtime: &dyn runtime_core::Runtime,
    base: &str,
    run_id: &RunId,
) -> Result<String, Error> {
    let mut candidate = format!("{base}-{}", run_id.short());
    for _ in 0..5 {
        match runtime.find(&candidate).await {
            Err(Error::NotFound { .. }) => return Ok(candidate),
            // Taken, by one of berth's sandboxes or by a foreign container.
            Ok(_) | Err(Error::Foreign { .. }) => {
                candidate = format!("{base}-{}", RunId::random().short());
            }
            Err(other) => return Err(other),
        }
    }
    Ok(candidate)
}

/// The container's exit code as a process exit code.
fn exit_code(code: i64) -> u8 {
    u8::try_from(code.rem_euclid(256)).unwrap_or(runtime_core::error::exit::FAILED)
}

/// Literal values from the plan and secret values from berth's environment.
fn environment(plan: &Plan) -> Vec<(String, String)> {
    plan.env
        .iter()
        .filter_map(|var| match &var.value {
            EnvValue::Literal { value } => Some((var.name.clone(), value.clone())),
            EnvValue::HostSecret => std::env::var(&var.name).ok().map(|v| (var.name.clone(), v)),
        })
        .collect()
}
