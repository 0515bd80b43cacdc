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
    AttachContainerOptionsBuilder, LogsOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::{Stream, StreamExt};
use runtime_core::runtime::{ExitFuture, OutputStream};
use std::sync::Arc;

use runtime_core::{ExecSpec, LogOptions, Output, Session};

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

/// Attaches to the main process (stdin when `stdin`); the session's exit waits
/// for the container to stop.
pub(crate) async fn attach(
    docker: &Docker,
    flavour: Arc<dyn Flavour>,
    id: &str,
    stdin: bool,
) -> Result<Session, DockerError> {
    let options = AttachContainerOptionsBuilder::default()
        .stdin(stdin)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .build();
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
            flavour,
            format!("read the output of {id}"),
            id.to_owned(),
            attached.output,
        ),
        exit,
        control: None,
    })
}

/// The engine's exec request for a spec. Pure. The environment goes in the
/// request body, never on a command line.
pub(crate) fn exec_options(spec: &ExecSpec) -> CreateExecOptions<String> {
    let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    CreateExecOptions {
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
) -> Result<Session, DockerError> {
    let created = docker
        .create_exec(id, exec_options(spec))
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
        control: None,
    })
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
        let options = exec_options(&spec);
        assert_eq!(options.cmd, Some(vec!["cat".to_owned()]));
        assert_eq!(options.env, Some(vec!["TOKEN=s3cret".to_owned()]));
        assert_eq!(options.working_dir.as_deref(), Some("/w"));
        assert_eq!(options.user.as_deref(), Some("1000"));
        assert_eq!(options.attach_stdin, Some(true));
        assert_eq!(options.tty, Some(false));
        assert_eq!(exec_options(&ExecSpec::default()).env, None);

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
