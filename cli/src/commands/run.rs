//! `berth run`: prepare and check the plan, then launch a [`Sandbox`] from the
//! library: detached, or attached to berth's stdio until it exits or a signal
//! stops it.

use runtime_core::launch::Cancellation;
use runtime_core::{Error, Sandbox};

use crate::signals::Interrupts;
use crate::{RunArgs, stdio};

pub async fn execute(mut args: RunArgs) -> Result<u8, Error> {
    // Listen before anything is created, so no signal can slip between steps.
    let mut interrupts = Interrupts::new();
    let mut config = super::load_config(args.config.file.as_deref(), false)?;
    let (image, command) = args.image_and_command();
    if let Some(image) = &image {
        config.override_image(image)?;
    }
    if !command.is_empty() {
        config.override_command(command);
    }
    crate::overrides::apply(&args.overrides, &mut config)?;
    let (plan, runtime) = super::launchable(&config, args.config.runtime).await?;
    crate::consent::check(&config, &plan, &args.allow)?;

    let cancel = Cancellation::new();
    let reporter = std::sync::Arc::new(crate::progress::Reporter::new(args.quiet));
    let cold = cold_reason(&plan, &args);
    let mut builder = Sandbox::builder(runtime, &plan)
        .records(super::run_store()?)
        .stdin(args.interactive)
        .tty(args.tty)
        .detach_keys(args.detach_keys.clone())
        .claim_from_pool(plan.pool.is_some() && cold.is_none())
        .progress({
            let reporter = reporter.clone();
            move |line: &str| reporter.line(line)
        })
        .cancel(&cancel);
    if let Some(name) = args.name {
        builder = builder.name(name);
    }
    if let Some(reason) = &cold {
        reporter.line(&format!("pool: this run starts cold: {reason}"));
    }
    if args.detach {
        let sandbox = interrupts.cancel_on_signal(&cancel, builder.detach(config.ttl()).start());
        crate::outln!("{}", sandbox.await?.detach());
        return Ok(0);
    }
    let sandbox = interrupts
        .cancel_on_signal(&cancel, builder.create())
        .await?;
    // A claimed member's command reports to this client alone: leaving it
    // would hang it up, so the detach keys pass through to it.
    let keys = if sandbox.claimed() {
        super::pool::refill_in_background(&config.path, plan.runtime, &args.allow);
        None
    } else {
        if plan.pool.is_some() && cold.is_none() {
            reporter.line("pool: no ready member of this plan's pool, so this run starts cold (`berth pool status` lists the members)");
        }
        Some(args.detach_keys)
    };
    let input = stdio::Input::new(args.interactive, args.tty, keys);
    stdio::foreground(sandbox, &mut interrupts, input, args.rm).await
}

/// Why a run of a plan with a pool cannot claim a member; `None` when it can
/// (or the plan has no pool).
fn cold_reason(plan: &runtime_core::Plan, args: &RunArgs) -> Option<String> {
    let pool = plan.pool.as_ref()?;
    if let Some(reason) = &pool.cold {
        return Some(reason.clone());
    }
    if args.no_pool {
        return Some("--no-pool".to_owned());
    }
    if args.detach {
        return Some(
            "a detached run's command is its container's own, which a pool member's is not"
                .to_owned(),
        );
    }
    if args.name.is_some() {
        return Some("its name is pinned with --name, and a pool member has its own".to_owned());
    }
    None
}
