//! `berth exec`: a command in a running sandbox, stdio byte-exact with -i.

use runtime_core::terminal::DetachKeys;
use runtime_core::{Error, ExecSpec, SandboxInfo, SandboxState, Session};

use crate::signals::Interrupts;
use crate::terminal::RawTerminal;
use crate::{ExecArgs, backends, environment, stdio};

/// Runs the command; SIGINT or SIGTERM ends the session (the backend's handle
/// cleans up what it holds, such as Apple's env FIFO) and exits 128 + the signal.
pub async fn execute(args: ExecArgs) -> Result<u8, Error> {
    let mut interrupts = Interrupts::new();
    let mut env = Vec::new();
    let from_berth = |name: &str| std::env::var(name).ok();
    for file in &args.env_file {
        for item in environment::read_file(file)? {
            env.extend(item.resolve(from_berth));
        }
    }
    for item in &args.env {
        env.extend(environment::Item::parse(item)?.resolve(from_berth));
    }
    let spec = ExecSpec {
        cmd: args.command,
        workdir: args.workdir,
        env,
        user: args.user,
        stdin: args.interactive,
        tty: args.tty,
    };
    let keys = (args.interactive && args.tty).then_some(args.detach_keys);
    let opened = tokio::select! {
        opened = open(args.runtime, &args.run, &spec, keys.as_ref()) => opened?,
        signal = interrupts.recv() => return Ok(crate::exit::signalled(signal)),
    };
    let input = stdio::Input::new(
        args.interactive,
        args.tty,
        keys.filter(|_| opened.detachable),
    );
    let raw = input.raw().then(RawTerminal::enter);
    let ended = tokio::select! {
        ended = stdio::pump(opened.session, input) => ended,
        signal = interrupts.recv() => Ok(stdio::Ended::Exited(i64::from(crate::exit::signalled(signal)))),
    };
    drop(raw);
    match ended? {
        stdio::Ended::Exited(code) => Ok(crate::exit::of_process(code)),
        stdio::Ended::Detached => {
            stdio::note_below(format_args!(
                "detached; the command keeps running in {}",
                opened.name
            ));
            Ok(0)
        }
    }
}

/// A started exec.
struct Opened {
    session: Session,
    /// The sandbox's name.
    name: String,
    /// Whether the command outlives the session, so the detach keys can leave
    /// it: through the engine it does; through the run's init, a session that
    /// ends hangs its process up, so the keys go to the program as any others.
    detachable: bool,
}

/// Starts the exec: through the run's init when it serves this run (found in
/// berth's own records, on an engine berth would talk to now, with no engine
/// request at all), else through the engine that has the sandbox, which is told
/// the detach keys of a terminal (`keys`).
async fn open(
    flag: Option<runtime_core::RuntimeChoice>,
    name: &str,
    spec: &ExecSpec,
    keys: Option<&DetachKeys>,
) -> Result<Opened, Error> {
    let requested = backends::requested(flag)?;
    // Another user is the engine's to run: the records need not be read.
    if spec.user.is_none()
        && let Ok(store) = super::run_store()
        && let Some(record) = runtime_core::init::find(&store, name)
        && requested.is_none_or(|kind| kind == record.runtime)
        && runtime_core::collector::judged_by(&record, &backends::engine_ids())
        && let Some(session) = runtime_core::init::exec(&store, &record.run_id, spec).await?
    {
        return Ok(Opened {
            session,
            name: record.name,
            detachable: false,
        });
    }
    let (runtime, info) = backends::locate(flag, name).await?;
    require_running(&info)?;
    let session = match keys {
        Some(keys) => runtime.exec_terminal(&info.id, spec, keys).await?,
        None => runtime.exec(&info.id, spec).await?,
    };
    Ok(Opened {
        session,
        name: info.name,
        detachable: keys.is_some(),
    })
}

/// Refuses a sandbox that is not running, saying what it is and what to do,
/// rather than passing on the engine's words.
pub(super) fn require_running(info: &SandboxInfo) -> Result<(), Error> {
    if info.state == SandboxState::Running {
        return Ok(());
    }
    let state = match (info.state, info.exit_code) {
        (SandboxState::Exited, Some(code)) => format!("stopped (exited with code {code})"),
        (SandboxState::Exited, None) => "stopped".to_owned(),
        (state, _) => state.to_string(),
    };
    let name = &info.name;
    let detached = matches!(
        runtime_core::labels::Ownership::classify_container(&info.labels),
        runtime_core::labels::Ownership::Run(labels) if labels.detached == Some(true)
    );
    let fix = if detached {
        format!("start it again with `berth start {name}` (its output: `berth logs {name}`)")
    } else {
        format!(
            "a foreground run is not started again: its output stays readable with `berth logs {name}`; remove it with `berth rm {name}`, then start a new one with `berth run -d`"
        )
    };
    Err(Error::NotRunning {
        name: name.clone(),
        runtime: info.runtime,
        state,
        fix,
    })
}

#[cfg(test)]
mod tests {
    use runtime_core::{RuntimeKind, SandboxInfo, SandboxState};

    #[test]
    fn a_stopped_sandbox_is_refused_with_its_runtime_and_what_to_do() {
        let mut info = SandboxInfo {
            id: "id-1".to_owned(),
            name: "agent-1".to_owned(),
            run_id: None,
            foreign: None,
            runtime: RuntimeKind::Gvisor,
            oci_runtime: Some("runsc".to_owned()),
            image: "berth-test/busybox:latest".to_owned(),
            state: SandboxState::Exited,
            status: "Exited (137) 2 seconds ago".to_owned(),
            created: 0,
            exit_code: Some(137),
            labels: Default::default(),
        };
        let err = super::require_running(&info).expect_err("stopped");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "sandbox agent-1 (gvisor) is stopped (exited with code 137), not running"
            ),
            "{text}"
        );
        assert!(
            text.contains("berth rm agent-1"),
            "a foreground run: {text}"
        );
        assert_eq!(crate::exit::code(&err), crate::exit::REFUSED);
        info.labels = [
            ("berth.managed-by", "berth"),
            ("berth.run-id", "0123456789ab"),
            ("berth.detached", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = super::require_running(&info)
            .expect_err("stopped")
            .to_string();
        assert!(
            text.contains("berth start agent-1"),
            "a detached run: {text}"
        );
        info.state = SandboxState::Running;
        assert!(super::require_running(&info).is_ok());
    }
}
