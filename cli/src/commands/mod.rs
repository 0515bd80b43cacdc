//! One module per subcommand, each with an `execute`.

use std::path::{Path, PathBuf};

use runtime_core::{Config, Error, config::DEFAULT_FILE_NAME};

use crate::Command;

mod allow;
mod attach;
mod doctor;
mod egress;
mod exec;
mod gc;
mod generate;
mod inspect;
mod logs;
mod plan;
mod pool;
mod ps;
mod rm;
mod run;
mod start;
mod stop;
mod version;

/// Runs a subcommand and returns its exit code.
pub async fn execute(command: Command) -> Result<u8, Error> {
    match command {
        Command::Plan(args) => plan::execute(args).await,
        Command::Allow(args) => allow::execute(args).await,
        Command::Doctor(args) => doctor::execute(args).await,
        Command::Run(args) => run::execute(args).await,
        Command::Exec(args) => exec::execute(args).await,
        Command::Attach(args) => attach::execute(args).await,
        Command::Ps(args) => ps::execute(args).await,
        Command::Logs(args) => logs::execute(args).await,
        Command::Egress(args) => egress::execute(args).await,
        Command::Stop(args) => stop::execute(args).await,
        Command::Start(args) => start::execute(args).await,
        Command::Restart(args) => start::restart(args).await,
        Command::Rm(args) => rm::execute(args).await,
        Command::Gc(args) => gc::execute(args).await,
        Command::Pool(args) => pool::execute(args).await,
        Command::Inspect(args) => inspect::execute(args).await,
        Command::Version(args) => version::execute(args).await,
        Command::Init(args) => generate::init(&args),
        Command::McpConfig(args) => generate::mcp_config(&args),
        Command::Completions(args) => generate::completions(&args),
        Command::Man => generate::man(),
        Command::Schema => generate::schema(),
    }
}

/// The run a located sandbox belongs to. `Runtime::find` never returns a foreign
/// sandbox, so this fails only if a backend breaks that promise.
pub fn run_of<'a>(
    info: &'a runtime_core::SandboxInfo,
    asked: &str,
) -> Result<&'a runtime_core::RunId, Error> {
    info.run_id.as_ref().ok_or_else(|| Error::Foreign {
        name: asked.to_owned(),
        reason: info
            .foreign
            .clone()
            .unwrap_or_else(|| "it has no valid berth.run-id label".to_owned()),
    })
}

/// Removes runs past their TTL; run by every berth command but exec and logs,
/// which stay on the fast path (and run, whose sandbox sweeps as it launches).
/// Failures are warnings: the command goes on.
pub async fn sweep_expired(flag: Option<runtime_core::RuntimeChoice>) {
    let (Ok(runtimes), Ok(store)) = (crate::backends::search_runtimes(flag), run_store()) else {
        return;
    };
    for swept in runtime_core::collector::sweep_expired(&runtimes, &store).await {
        eprintln!("berth: {}", swept.message());
    }
}

/// The run records of this user.
pub fn run_store() -> Result<runtime_core::state::RunStore, Error> {
    runtime_core::state::RunStore::from_env(|name| std::env::var(name).ok())
}

/// The plan of `config` on the backend chosen for it, and that backend; a
/// backend that is not available fails here, before anything is made.
pub async fn launchable(
    config: &Config,
    flag: Option<runtime_core::RuntimeChoice>,
) -> Result<
    (
        runtime_core::Plan,
        std::sync::Arc<dyn runtime_core::Runtime>,
    ),
    Error,
> {
    let chosen = crate::backends::choose(config, flag).await?;
    let plan = runtime_core::prepare(config, &chosen.probed.caps, &chosen.host)?;
    if let Some(err) = chosen.probed.caps.availability.to_error(plan.runtime) {
        return Err(err);
    }
    Ok((plan, chosen.probed.runtime))
}

/// Loads `-f FILE`, else `./berth.toml`; without either, the defaults when
/// `required` is false.
pub fn load_config(file: Option<&Path>, required: bool) -> Result<Config, Error> {
    if let Some(path) = file {
        return Config::load(path);
    }
    let local = PathBuf::from(DEFAULT_FILE_NAME);
    if local.exists() {
        return Config::load(&local);
    }
    let cwd = std::env::current_dir().map_err(|source| Error::Io {
        operation: "read the current directory",
        path: PathBuf::from("."),
        source,
    })?;
    if required {
        return Err(crate::usage(format!(
            "no {DEFAULT_FILE_NAME} in {}: pass -f FILE, or create one (see the README's berth.toml reference)",
            cwd.display()
        )));
    }
    Ok(Config::defaults(cwd))
}
