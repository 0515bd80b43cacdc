//! `berth run`: prepare and check the plan, then launch a [`Sandbox`] from the
//! library: detached, or attached to berth's stdio until it exits or a signal
//! stops it.

use runtime_core::launch::Cancellation;
use runtime_core::{Error, Sandbox, prepare};

use crate::signals::Interrupts;
use crate::{RunArgs, backends, stdio};

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
    let chosen = backends::choose(&config, args.config.runtime).await?;
    let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
    if let Some(err) = chosen.probed.caps.availability.to_error(plan.runtime) {
        return Err(err);
    }
    crate::consent::check(&config, &plan, &args.allow)?;

    let cancel = Cancellation::new();
    let reporter = crate::progress::Reporter::new(args.quiet);
    let mut builder = Sandbox::builder(chosen.probed.runtime, &plan)
        .records(super::run_store()?)
        .stdin(args.interactive)
        .tty(args.tty)
        .detach_keys(args.detach_keys.clone())
        .progress(move |line: &str| reporter.line(line))
        .cancel(&cancel);
    if let Some(name) = args.name {
        builder = builder.name(name);
    }
    if args.detach {
        let sandbox = interrupts.cancel_on_signal(&cancel, builder.detach(config.ttl()).start());
        crate::outln!("{}", sandbox.await?.detach());
        return Ok(0);
    }
    let sandbox = interrupts
        .cancel_on_signal(&cancel, builder.create())
        .await?;
    let input = stdio::Input::new(args.interactive, args.tty, Some(args.detach_keys));
    stdio::foreground(sandbox, &mut interrupts, input, args.rm).await
}
