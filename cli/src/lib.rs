//! The `berth` command: parse the command line, pick a backend, render the result,
//! and turn errors into exit codes.
//!
//! The design decision: this crate holds no policy. What to create comes from
//! `runtime_core::prepare`, how to create it from a backend's `Runtime`
//! implementation; each subcommand is one module with an `execute` that wires the
//! two together and renders for people (`human`) or scripts (`json`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runtime_core::terminal::{DEFAULT_DETACH_KEYS, DetachKeys};
use runtime_core::{Error, RuntimeChoice};

mod backends;
mod commands;
mod consent;
mod environment;
pub mod exit;
mod overrides;
mod progress;
mod render;
mod signals;
mod stdio;
mod terminal;

/// Run AI coding agents and their tools in isolated sandboxes.
///
/// berth reads a berth.toml, resolves it against what the chosen runtime (Docker,
/// Docker with gVisor, or Apple `container`) can really do, refuses early with a fix
/// when it can't, and runs, execs into and tears down sandboxes without leaving
/// anything behind.
#[derive(Debug, Parser)]
#[command(name = "berth", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve berth.toml for a runtime and print the plan; creates nothing.
    Plan(PlanArgs),
    /// Accept the dangers a config file asks for (the engine socket, dind,
    /// capabilities that break isolation, sensitive host paths, host secrets), for
    /// this user, until the file changes; `berth run` refuses them otherwise.
    Allow(AllowArgs),
    /// Probe every runtime on this host and say what each can do.
    Doctor(DoctorArgs),
    /// Create and start a sandbox, then attach to it (or print its name with -d).
    Run(RunArgs),
    /// Run a command in a running sandbox. With -i, stdio is byte-exact: usable as
    /// an MCP client's stdio server command.
    Exec(ExecArgs),
    /// Join a running sandbox's main process (a run started with `run -d`, `-it`
    /// for a shell or an agent's TUI): its output, and your input with -i. The
    /// detach keys leave it running.
    Attach(AttachArgs),
    /// List berth's sandboxes.
    Ps(PsArgs),
    /// Print a run as JSON: its record and the engine's view of its sandbox.
    Inspect(InspectArgs),
    /// Print a sandbox's output.
    Logs(LogsArgs),
    /// Print the egress decisions of an allowlist run: one per request its proxy
    /// allowed or denied, with the rule that decided and the bytes each way.
    Egress(EgressArgs),
    /// Stop a sandbox (SIGTERM, then SIGKILL after the grace period).
    Stop(StopArgs),
    /// Start a stopped detached run again (its egress proxy too).
    Start(StartArgs),
    /// Stop a detached run, then start it again.
    Restart(StopArgs),
    /// Remove sandboxes with their networks and anonymous volumes.
    Rm(RmArgs),
    /// Remove finished, orphaned and expired runs, debris of launches that died,
    /// and stale run records.
    Gc(GcArgs),
    /// Keep sandboxes of a config's plan started ahead of time (`[pool]` in
    /// berth.toml), so that `berth run` claims one instead of creating one.
    Pool(PoolArgs),
    /// Print berth's version and what each runtime's engine answered.
    Version(VersionArgs),
    /// Write a commented starter berth.toml in the current directory.
    Init(InitArgs),
    /// Print the server entry an MCP client needs to run a server inside a sandbox
    /// (through `berth exec -i`), for Claude Desktop and Claude Code, VS Code and goose.
    McpConfig(McpConfigArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell), generated from this CLI.
    Completions(CompletionsArgs),
    /// Print berth's man page (roff), generated from this CLI.
    Man,
    /// Print the JSON Schema of berth.toml, generated from the config types, for
    /// editors that complete and check TOML (taplo, Even Better TOML).
    Schema,
}

/// `berth init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The image the sandbox runs.
    #[arg(long, default_value = "debian:bookworm-slim")]
    pub image: String,
    /// Replace an existing berth.toml.
    #[arg(long)]
    pub force: bool,
}

/// The MCP clients `berth mcp-config` writes entries for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum McpClient {
    /// Claude Desktop and Claude Code (`mcpServers` in their JSON config).
    Claude,
    /// VS Code (`servers` in .vscode/mcp.json).
    Vscode,
    /// goose (`extensions` in its config.yaml).
    Goose,
}

/// `berth mcp-config`.
#[derive(Debug, Args)]
pub struct McpConfigArgs {
    /// The client whose config format to print [default: all of them].
    #[arg(long, value_enum)]
    pub client: Option<McpClient>,
    /// The name of the server entry [default: the sandbox's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The running sandbox (name or run id) the server runs in.
    #[arg(value_name = "SANDBOX")]
    pub sandbox: String,
    /// The server's command line inside the sandbox.
    #[arg(value_name = "SERVER", required = true, last = true)]
    pub server: Vec<String>,
}

/// `berth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Output format of listing and inspecting commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Human,
    /// For scripts: one JSON document on stdout (errors too).
    Json,
}

/// Options shared by commands that read berth.toml.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The config file [default: ./berth.toml].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The runtime: docker (runc), gvisor (runsc), apple, or auto. Overrides the
    /// config's `runtime` and BERTH_RUNTIME.
    #[arg(long, value_parser = runtime_choice())]
    pub runtime: Option<RuntimeChoice>,
}

/// `--runtime`: the names of [`RuntimeChoice`], each with what it runs on, parsed by
/// its `FromStr`.
fn runtime_choice() -> impl clap::builder::TypedValueParser<Value = RuntimeChoice> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    let values = RuntimeChoice::NAMES.into_iter().map(|name| {
        let help = name.parse::<RuntimeChoice>().map(RuntimeChoice::describe);
        PossibleValue::new(name).help(help.unwrap_or_default())
    });
    PossibleValuesParser::new(values).try_map(|name| name.parse::<RuntimeChoice>())
}

/// Flags that override berth.toml keys, as `docker run` spells them; each is
/// checked as the file's value is, and `berth plan` shows the result.
#[derive(Debug, Clone, Default, Args)]
pub struct OverrideArgs {
    /// Set an environment variable, over the config's [env] (repeat for more). The
    /// value is a literal that `berth plan` shows; host values belong in
    /// [secrets].
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Read K=V lines (blank lines and # comments skipped) as -e does; -e wins.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Mount HOST as the workspace at CONTAINER, over [workspace] (read-only with
    /// :ro); a relative HOST is relative to the current directory.
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    volume: Option<String>,
    /// Working directory inside, over [sandbox] workdir.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    workdir: Option<String>,
    /// User inside (name, uid or uid:gid), over [sandbox] user.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Network, over [network] policy: open, or none (no network at all).
    #[arg(long, value_enum, value_name = "POLICY")]
    network: Option<NetworkFlag>,
    /// Memory limit (such as 512MiB, 2g, or unlimited), over [resources] memory.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// CPU limit (such as 2, 0.5, or unlimited), over [resources] cpus.
    #[arg(long, value_name = "CPUS")]
    cpus: Option<String>,
}

/// The policies `--network` may set (an allowlist lives in berth.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkFlag {
    /// Full egress.
    Open,
    /// No network at all.
    None,
}

/// `berth plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth allow`.
#[derive(Debug, Args)]
pub struct AllowArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Forget the approval of this file instead.
    #[arg(long)]
    revoke: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Name of the sandbox [default: the sandbox name and 8 random hex digits]; a pinned name that is
    /// taken is an error.
    #[arg(long)]
    name: Option<String>,
    /// Run in the background and print the sandbox's name.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep stdin open and forward it.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// The keys that detach from a run with -it and leave it running (a
    /// comma-separated sequence, each key a character or ctrl-X).
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: DetachKeys,
    /// Remove the sandbox and everything it created when it exits.
    #[arg(long)]
    rm: bool,
    /// Say nothing while launching (image builds, swept runs); warnings still.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Start cold even when the config has a warm pool with a ready member.
    #[arg(long)]
    no_pool: bool,
    /// Accept dangers the plan lists, for this run (repeat or separate with
    /// commas): docker-host, dind, capability, sensitive-path, host-secret.
    /// `berth plan` lists a config's dangers; `berth allow` accepts them for one
    /// config file until it changes.
    #[arg(long, value_name = "DANGER", value_delimiter = ',')]
    allow: Vec<runtime_core::danger::DangerKind>,
    /// The image to run (over the config's image or build), then the command and
    /// its arguments (over the config's command), as `docker run` takes them:
    /// everything after IMAGE is the command's, flags included. A `--` right
    /// after IMAGE is dropped.
    #[arg(value_name = "IMAGE [CMD]", allow_hyphen_values = true)]
    image_and_command: Vec<String>,
    /// The command alone, keeping the config's image: `berth run -f FILE -- CMD`.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

impl RunArgs {
    /// The image the command line names, if any, and the command (empty: the
    /// config's). `--` before any positional keeps the config's image and makes
    /// everything after it the command; `--` right after IMAGE is dropped.
    fn image_and_command(&mut self) -> (Option<String>, Vec<String>) {
        let mut words = std::mem::take(&mut self.image_and_command).into_iter();
        let image = words.next();
        let mut command: Vec<String> = words.collect();
        if command.first().is_some_and(|w| w == "--") {
            command.remove(0);
        }
        command.extend(std::mem::take(&mut self.command));
        (image, command)
    }
}

/// `berth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep stdin open and forward it, byte for byte.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// The keys that detach from the command with -it and leave it running (a
    /// comma-separated sequence, each key a character or ctrl-X).
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: DetachKeys,
    /// Working directory inside the sandbox.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    workdir: Option<String>,
    /// Set an environment variable (K=V), or pass K from berth's environment (K
    /// alone; when K is unset there, nothing is sent for it, as with docker).
    /// Values go to the engine, never onto a host command line.
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Read environment variables from a file of K=V lines.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// User to run as.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The sandbox: name, run id or id.
    #[arg(value_name = "RUN")]
    run: String,
    /// Command and arguments, as `docker exec` takes them: everything after RUN
    /// is the command's, flags included (`--` before it still works).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<String>,
}

/// `berth attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not forward stdin (only watch the output).
    #[arg(long)]
    no_stdin: bool,
    /// The keys that detach and leave the run running, when it has a terminal (a
    /// comma-separated sequence, each key a character or ctrl-X).
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: DetachKeys,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The run: name, run id or id.
    #[arg(value_name = "RUN")]
    run: String,
}

/// `berth ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show stopped sandboxes too.
    #[arg(short = 'a', long)]
    all: bool,
    /// Print only the names, one per line.
    #[arg(short = 'q', long, conflicts_with = "format")]
    quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Only this runtime's sandboxes.
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// Also the runs berth has records of on other engines (other endpoints:
    /// `DOCKER_HOST`, docker contexts), as their records say; those engines are
    /// not asked.
    #[arg(long)]
    all_endpoints: bool,
}

/// `berth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The run: name, run id or id.
    #[arg(value_name = "RUN")]
    run: String,
}

/// `berth version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing until the sandbox stops.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<u64>,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The sandbox: name, run id or id.
    #[arg(value_name = "RUN")]
    run: String,
}

/// `berth egress`.
#[derive(Debug, Args)]
pub struct EgressArgs {
    /// Keep printing decisions until the run's proxy stops.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Output format: a table, or the audit log's JSON lines, one per decision.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The sandbox: name, run id or id.
    #[arg(value_name = "RUN")]
    run: String,
}

/// `berth stop` and `berth restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10, value_name = "SECS")]
    time: u64,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The sandboxes: names, run ids or ids.
    #[arg(value_name = "RUN", required = true)]
    runs: Vec<String>,
}

/// `berth start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The runs: names, run ids or ids.
    #[arg(value_name = "RUN", required = true)]
    runs: Vec<String>,
}

/// `berth rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running sandboxes too (they are killed).
    #[arg(short = 'f', long)]
    force: bool,
    /// The runtime to look in [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// The sandboxes: names, run ids or ids.
    #[arg(value_name = "RUN", required = true)]
    runs: Vec<String>,
}

/// `berth pool`.
#[derive(Debug, Args)]
pub struct PoolArgs {
    #[command(subcommand)]
    action: PoolAction,
}

/// What `berth pool` does.
#[derive(Debug, Subcommand)]
pub enum PoolAction {
    /// Start members of the config's pool until `[pool] size` are ready or
    /// starting; each lives `[pool] ttl` unless a run claims it.
    Up(PoolUpArgs),
    /// Stop the config's pool: remove its unclaimed members (claimed ones are
    /// their runs'), and start no replacement until the next `pool up`.
    Down(PoolScope),
    /// List the config's pool members: ready, starting, claimed, or gone.
    Status(PoolScope),
}

/// `berth pool up`.
#[derive(Debug, Args)]
pub struct PoolUpArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Accept dangers the plan lists, as `berth run --allow` does.
    #[arg(long, value_name = "DANGER", value_delimiter = ',')]
    allow: Vec<runtime_core::danger::DangerKind>,
    /// Say nothing but warnings.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The replacement a claim starts in the background: makes nothing once
    /// `berth pool down` stopped the pool.
    #[arg(long, hide = true)]
    refill: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth pool down` and `berth pool status`.
#[derive(Debug, Args)]
pub struct PoolScope {
    #[command(flatten)]
    config: ConfigArgs,
    /// Every pool berth has members of, not only the config's.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `berth gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only runs whose last activity is older than this (such as 30m, 2h, 1d);
    /// runs past their TTL are removed regardless.
    #[arg(long, value_name = "DUR")]
    older_than: Option<runtime_core::duration::HumanDuration>,
    /// Also remove corrupt run records (unreadable, or naming another run); they
    /// are kept and reported otherwise.
    #[arg(long)]
    remove_corrupt: bool,
    /// Only this runtime's engine [default: every available one].
    #[arg(long, value_parser = runtime_choice())]
    runtime: Option<RuntimeChoice>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("berth: error: failed to start the async runtime: {err}");
            return ExitCode::from(crate::exit::FAILED);
        }
    };
    let format = cli.command.format();
    let code = runtime.block_on(async move {
        match commands::execute(cli.command).await {
            Ok(code) => code,
            Err(err) => {
                render::error(&err, format);
                crate::exit::code(&err)
            }
        }
    });
    // Blocking stdin readers must not keep the process alive after the command ends.
    runtime.shutdown_background();
    ExitCode::from(code)
}

impl Command {
    fn format(&self) -> Format {
        match self {
            Self::Plan(a) => a.format,
            Self::Allow(a) => a.format,
            Self::Doctor(a) => a.format,
            Self::Ps(a) => a.format,
            Self::Gc(a) => a.format,
            Self::Egress(a) => a.format,
            Self::Version(a) => a.format,
            _ => Format::Human,
        }
    }
}

/// The crates whose events `BERTH_LOG` may turn up to debug and trace: berth's
/// own, which log names, ids and command lines but never an environment value.
const OWN_CRATES: &[&str] = &[
    "berth",
    "runtime_core",
    "runtime_docker",
    "runtime_gvisor",
    "runtime_apple",
];

/// Whether events of `target` may pass below WARN.
fn is_own_target(target: &str) -> bool {
    OWN_CRATES.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Logs to stderr at the level `BERTH_LOG` asks for (default `warn`), with one
/// limit no setting can lift: other crates (bollard, hyper and the rest of the HTTP
/// stack, which log request and response bodies holding `Env`, secrets included,
/// at debug and trace) are shown at WARN and above only.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _, filter};

    let wanted = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let clamp = filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::WARN || is_own_target(meta.target())
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(clamp)
        .with_filter(wanted);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Convenience for commands: a usage error.
fn usage(message: impl Into<String>) -> Error {
    Error::Usage {
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn runtime_flag_lists_every_choice_and_parses_to_it() {
        use clap::Parser as _;
        let mut command = super::Cli::command();
        let help = command
            .find_subcommand_mut("ps")
            .expect("ps")
            .render_long_help()
            .to_string();
        for name in ["docker", "gvisor", "apple", "auto"] {
            assert!(help.contains(&format!("- {name}:")), "{name} in:\n{help}");
        }
        let cli =
            super::Cli::try_parse_from(["berth", "ps", "--runtime", "gvisor"]).expect("parse");
        let super::Command::Ps(args) = cli.command else {
            panic!("not ps");
        };
        assert_eq!(args.runtime, Some(runtime_core::RuntimeKind::Gvisor.into()));
        let auto = super::Cli::try_parse_from(["berth", "logs", "--runtime", "auto", "x"]);
        assert!(matches!(
            auto.map(|c| c.command),
            Ok(super::Command::Logs(super::LogsArgs { runtime: Some(choice), .. }))
                if choice == runtime_core::RuntimeChoice::AUTO
        ));
        assert!(super::Cli::try_parse_from(["berth", "ps", "--runtime", "podman"]).is_err());
    }

    /// `berth run ARGS...` parsed: the image, the command, and the flags berth kept.
    fn run(args: &[&str]) -> (Option<String>, Vec<String>, super::RunArgs) {
        use clap::Parser as _;
        let cli = super::Cli::try_parse_from(["berth", "run"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let super::Command::Run(mut run) = cli.command else {
            panic!("not run");
        };
        let (image, command) = run.image_and_command();
        (image, command, run)
    }

    #[test]
    fn run_takes_the_docker_form_and_keeps_the_double_dash() {
        let (image, command, args) = run(&["--rm", "-e", "A=1", "img", "ls", "-la", "--rm"]);
        assert_eq!(image.as_deref(), Some("img"));
        assert_eq!(
            command,
            ["ls", "-la", "--rm"],
            "flags after IMAGE are the command's"
        );
        assert!(args.rm);
        assert_eq!(args.overrides.env, ["A=1"]);
        let (image, command, _) = run(&["img", "--", "echo", "-n", "--", "x"]);
        assert_eq!(image.as_deref(), Some("img"));
        assert_eq!(
            command,
            ["echo", "-n", "--", "x"],
            "only the first -- is berth's"
        );
        let (image, command, _) = run(&["-f", "berth.toml", "--", "sleep", "1"]);
        assert_eq!(image, None, "-- before any word keeps the config's image");
        assert_eq!(command, ["sleep", "1"]);
        let (image, command, _) = run(&["img"]);
        assert_eq!((image.as_deref(), command.len()), (Some("img"), 0));
        let (image, command, args) = run(&[
            "-d",
            "-v",
            ".:/w:ro",
            "-w",
            "/w",
            "-u",
            "1000",
            "--network",
            "none",
            "--memory",
            "1g",
            "--cpus",
            "2",
            "--env-file",
            "e",
            "img",
        ]);
        assert_eq!((image.as_deref(), command.len()), (Some("img"), 0));
        let o = &args.overrides;
        assert!(args.detach);
        assert_eq!(o.volume.as_deref(), Some(".:/w:ro"));
        assert_eq!(
            (o.workdir.as_deref(), o.user.as_deref()),
            (Some("/w"), Some("1000"))
        );
        assert_eq!(o.network, Some(super::NetworkFlag::None));
        assert_eq!(
            (o.memory.as_deref(), o.cpus.as_deref()),
            (Some("1g"), Some("2"))
        );
        assert_eq!(o.env_file, [std::path::PathBuf::from("e")]);
    }

    #[test]
    fn exec_takes_the_docker_form_and_keeps_the_double_dash() {
        use clap::Parser as _;
        let exec = |args: &[&str]| {
            let cli = super::Cli::try_parse_from(["berth", "exec"].iter().chain(args))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let super::Command::Exec(exec) = cli.command else {
                panic!("not exec");
            };
            exec
        };
        let e = exec(&["-i", "agent", "ls", "-la", "-i"]);
        assert!(e.interactive);
        assert_eq!(e.run, "agent");
        assert_eq!(
            e.command,
            ["ls", "-la", "-i"],
            "flags after RUN are the command's"
        );
        let e = exec(&["-w", "/srv", "agent", "--", "python3", "-u"]);
        assert_eq!(e.workdir.as_deref(), Some("/srv"));
        assert_eq!(e.command, ["python3", "-u"]);
        assert!(
            super::Cli::try_parse_from(["berth", "exec", "agent"]).is_err(),
            "a command is required"
        );
    }

    #[test]
    fn ps_quiet_plan_overrides_inspect_and_version_parse() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            super::Cli::try_parse_from(["berth"].iter().chain(args))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"))
                .command
        };
        assert!(matches!(
            parse(&["ps", "-aq"]),
            super::Command::Ps(super::PsArgs {
                quiet: true,
                all: true,
                ..
            })
        ));
        assert!(super::Cli::try_parse_from(["berth", "ps", "-q", "--format", "json"]).is_err());
        let super::Command::Plan(plan) = parse(&["plan", "-e", "A=1", "--memory", "2g"]) else {
            panic!("not plan");
        };
        assert_eq!(plan.overrides.memory.as_deref(), Some("2g"));
        assert!(
            matches!(parse(&["inspect", "agent"]), super::Command::Inspect(super::InspectArgs { ref run, .. }) if run == "agent")
        );
        assert!(matches!(
            parse(&["version", "--format", "json"]),
            super::Command::Version(super::VersionArgs {
                format: super::Format::Json
            })
        ));
    }

    #[test]
    fn only_berths_crates_log_below_warn() {
        use super::is_own_target;
        for own in ["berth", "berth::commands::run", "runtime_docker::container"] {
            assert!(is_own_target(own), "{own}");
        }
        for foreign in [
            "bollard::docker",
            "hyper",
            "hyper_util::client",
            "berthx",
            "log",
        ] {
            assert!(!is_own_target(foreign), "{foreign}");
        }
    }
}
