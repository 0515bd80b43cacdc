//! Streams into and out of containers: attach, exec, logs and wait.
//!
//! Output frames are passed on as they arrive, never re-chunked or buffered, and
//! stdin is the hijacked connection itself: what is written goes to the process
//! unchanged, and `shutdown()` half-closes the connection so the process sees end
//! of input (dropping it does not). That is what lets `berth exec -i` carry an MCP
//! server's JSON-RPC byte for byte.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, KillContainerOptions, LogsOptionsBuilder,
    ResizeContainerTTYOptions, ResizeExecOptions, WaitContainerOptionsBuilder,
};
use futures::{Stream, StreamExt};
use runtime_core::runtime::{ExitFuture, OutputStream};
use runtime_core::terminal::DetachKeys;
use std::sync::Arc;

use runtime_core::{Error, ExecSpec, LogOptions, Output, Session, SessionControl};

use crate::flavour::Flavour;

use crate::errors::{DockerError, Incomplete};

/// Bytes read from the hijacked connection at a time; the engine's frames are at
/// most 32 KiB, so each is read whole.
const OUTPUT_CAPACITY: usize = 64 * 1024;

/// How long to poll for an exec's exit code once its output has ended.
const EXEC_EXIT_POLLS: u32 = 250;
const EXEC_EXIT_PAUSE: Duration = Duration::from_millis(20);

/// The output of a frame, if it carries any (stdin echoes are dropped).
pub(crate) fn to_output(frame: LogOutput) -> Option<Output> {
    match frame {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some(Output::Stdout(message))
        }
        LogOutput::StdErr { message } => Some(Output::Stderr(message)),
        LogOutput::StdIn { .. } => None,
    }
}

fn output_stream(
    flavour: Arc<dyn Flavour>,
    operation: String,
    id: String,
    stream: impl Stream<Item = Result<LogOutput, BollardError>> + Send + 'static,
) -> OutputStream {
    Box::pin(stream.filter_map(move |item| {
        let mapped = match item {
            Ok(frame) => to_output(frame).map(Ok),
            Err(e) => Some(Err(DockerError::api(
                operation.clone(),
                "sandbox",
                id.clone(),
                e,
            )
            .into_core(&*flavour))),
        };
        std::future::ready(mapped)
    }))
}

/// Waits until the container is not running and returns its exit code (at once,
/// for a container that has exited or was never started).
pub(crate) async fn wait(docker: &Docker, id: &str) -> Result<i64, DockerError> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut stream = docker.wait_container(id, Some(options));
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(DockerError::api(format!("wait for {id}"), "sandbox", id, e)),
        None => Err(DockerError::Incomplete {
            operation: format!("wait for {id}"),
            source: Incomplete::WaitEnded,
        }),
    }
}

/// Attaches to the main process (stdin when `stdin`; `detach` as the engine's
/// escape sequence, when given); the session's exit waits for the container to
/// stop, and its control resizes the container's terminal and signals its main
/// process.
pub(crate) async fn attach(
    docker: &Docker,
    flavour: Arc<dyn Flavour>,
    id: &str,
    stdin: bool,
    detach: Option<&DetachKeys>,
) -> Result<Session, DockerError> {
    let mut options = AttachContainerOptionsBuilder::default()
        .stdin(stdin)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false);
    if let Some(keys) = detach {
        options = options.detach_keys(&keys.to_string());
    }
    let options = options.build();
    let attached = docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| DockerError::api(format!("attach to {id}"), "sandbox", id, e))?;
    let exit: ExitFuture = {
        let docker = docker.clone();
        let id = id.to_owned();
        let flavour = flavour.clone();
        Box::pin(async move { wait(&docker, &id).await.map_err(|e| e.into_core(&*flavour)) })
    };
    Ok(Session {
        input: stdin.then_some(attached.input),
        output: output_stream(
            flavour.clone(),
            format!("read the output of {id}"),
            id.to_owned(),
            attached.output,
        ),
        exit,
        control: Some(Arc::new(Control {
            docker: docker.clone(),
            flavour,
            target: Target::Container(id.to_owned()),
        })),
    })
}

/// The engine's exec request for a spec (`detach` as the engine's escape
/// sequence, when given). Pure. The environment goes in the request body, never
/// on a command line.
pub(crate) fn exec_options(
    spec: &ExecSpec,
    detach: Option<&DetachKeys>,
) -> CreateExecOptions<String> {
    let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    CreateExecOptions {
        detach_keys: detach.map(ToString::to_string),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(spec.tty),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(spec.cmd.clone()),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        ..Default::default()
    }
}

/// Starts a command in a running container. A command that cannot be started
/// (missing binary or directory) is not an error here: it exits 126 or 127 with
/// the runtime's message on its output, as `docker exec` does.
pub(crate) async fn exec(
    docker: &Docker,
    flavour: Arc<dyn Flavour>,
    id: &str,
    spec: &ExecSpec,
    detach: Option<&DetachKeys>,
) -> Result<Session, DockerError> {
    let created = docker
        .create_exec(id, exec_options(spec, detach))
        .await
        .map_err(|e| DockerError::api(format!("create an exec in {id}"), "sandbox", id, e))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: spec.tty,
                output_capacity: Some(OUTPUT_CAPACITY),
            }),
        )
        .await
        .map_err(|e| DockerError::api(format!("start an exec in {id}"), "sandbox", id, e))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(DockerError::Incomplete {
            operation: format!("start an exec in {id}"),
            source: Incomplete::ExecDetached,
        });
    };
    let control = Arc::new(Control {
        docker: docker.clone(),
        flavour: flavour.clone(),
        target: Target::Exec {
            container: id.to_owned(),
            exec: created.id.clone(),
        },
    });
    let exit: ExitFuture = {
        let docker = docker.clone();
        let exec_id = created.id;
        let flavour = flavour.clone();
        Box::pin(async move {
            exec_exit(&docker, &exec_id)
                .await
                .map_err(|e| e.into_core(&*flavour))
        })
    };
    Ok(Session {
        input: spec.stdin.then_some(input),
        output: output_stream(
            flavour,
            format!("read the output of an exec in {id}"),
            id.to_owned(),
            output,
        ),
        exit,
        control: Some(control),
    })
}

/// What a session's control acts on.
enum Target {
    /// The container's main process (an attach).
    Container(String),
    /// An exec in the container.
    Exec { container: String, exec: String },
}

/// Window size and signals of a session, through the engine's API.
struct Control {
    docker: Docker,
    flavour: Arc<dyn Flavour>,
    target: Target,
}

#[async_trait::async_trait]
impl SessionControl for Control {
    /// The container's or the exec's terminal (the engine refuses a session
    /// without one, and an exec that has not started yet).
    async fn resize(&self, rows: u16, cols: u16) -> Result<(), Error> {
        let (h, w) = (i32::from(rows), i32::from(cols));
        let (resized, what, name) = match &self.target {
            Target::Container(id) => (
                self.docker
                    .resize_container_tty(id, ResizeContainerTTYOptions { h, w })
                    .await,
                "sandbox",
                id,
            ),
            Target::Exec { exec, .. } => (
                self.docker
                    .resize_exec(exec, ResizeExecOptions { h, w })
                    .await,
                "exec",
                exec,
            ),
        };
        resized.map_err(|e| {
            DockerError::api(format!("resize the terminal of {name}"), what, name, e)
                .into_core(&*self.flavour)
        })
    }

    /// The container's main process gets the signal through the engine's kill
    /// (which, despite its name, sends any signal). An exec's process cannot be
    /// signalled: the engine's exec API has no such call, and its host pid means
    /// nothing under gVisor.
    async fn signal(&self, signal: i32) -> Result<(), Error> {
        match &self.target {
            Target::Container(id) => self
                .docker
                .kill_container(
                    id,
                    Some(KillContainerOptions {
                        signal: signal.to_string(),
                    }),
                )
                .await
                .map_err(|e| {
                    DockerError::api(format!("send signal {signal} to {id}"), "sandbox", id, e)
                        .into_core(&*self.flavour)
                }),
            Target::Exec { container, .. } => Err(Error::Unsupported {
                runtime: self.flavour.kind(),
                operation: "signal an exec",
                reason: format!(
                    "the engine cannot signal a process started by exec (in {container}); stop the sandbox, or run kill inside it"
                ),
            }),
        }
    }
}

/// The exit code of an exec whose output has ended (polled briefly, in case the
/// engine has not recorded the exit yet).
async fn exec_exit(docker: &Docker, exec_id: &str) -> Result<i64, DockerError> {
    for _ in 0..EXEC_EXIT_POLLS {
        let inspected = docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| DockerError::api(format!("inspect exec {exec_id}"), "exec", exec_id, e))?;
        if inspected.running != Some(true) {
            return Ok(inspected.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(EXEC_EXIT_PAUSE).await;
    }
    Err(DockerError::Incomplete {
        operation: format!("read the exit code of exec {exec_id}"),
        source: Incomplete::ExecStillRunning,
    })
}

/// The main process's output (`follow`: until the container stops).
pub(crate) fn logs(
    docker: &Docker,
    flavour: Arc<dyn Flavour>,
    id: &str,
    options: &LogOptions,
) -> OutputStream {
    let tail = options
        .tail
        .map_or_else(|| "all".to_owned(), |n| n.to_string());
    let query = LogsOptionsBuilder::default()
        .follow(options.follow)
        .stdout(true)
        .stderr(true)
        .tail(&tail)
        .build();
    output_stream(
        flavour,
        format!("read the logs of {id}"),
        id.to_owned(),
        docker.logs(id, Some(query)),
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn exec_env_goes_in_the_request_and_frames_keep_their_stream() {
        let spec = ExecSpec {
            cmd: vec!["cat".to_owned()],
            workdir: Some("/w".to_owned()),
            env: vec![("TOKEN".to_owned(), "s3cret".to_owned())],
            user: Some("1000".to_owned()),
            stdin: true,
            tty: false,
        };
        let options = exec_options(&spec, None);
        assert_eq!(options.cmd, Some(vec!["cat".to_owned()]));
        assert_eq!(options.env, Some(vec!["TOKEN=s3cret".to_owned()]));
        assert_eq!(options.working_dir.as_deref(), Some("/w"));
        assert_eq!(options.user.as_deref(), Some("1000"));
        assert_eq!(options.attach_stdin, Some(true));
        assert_eq!(options.tty, Some(false));
        assert_eq!(exec_options(&ExecSpec::default(), None).env, None);
        assert_eq!(options.detach_keys, None);
        let keys = DetachKeys::default();
        assert_eq!(
            exec_options(&spec, Some(&keys)).detach_keys.as_deref(),
            Some("ctrl-p,ctrl-q")
        );

        let bytes = Bytes::from_static(b"\x00\x01\xff");
        assert_eq!(
            to_output(LogOutput::StdErr {
                message: bytes.clone()
            }),
            Some(Output::Stderr(bytes.clone()))
        );
        assert_eq!(
            to_output(LogOutput::Console {
                message: bytes.clone()
            }),
            Some(Output::Stdout(bytes.clone()))
        );
        assert_eq!(to_output(LogOutput::StdIn { message: bytes }), None);
    }
}
