//! Streams into and out of containers: attach, exec, logs and wait. Output frames
//! are passed on as they arrive, never re-chunked; stdin is the hijacked connection,
//! whose `shutdown()` half-closes it so the process sees end of input.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, LogsOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use runtime_core::runtime::{ExitFuture, OutputStream};
use runtime_core::{Error, ExecSpec, LogOptions, Output, RuntimeKind, Session};

use crate::engine::DockerError;

fn to_output(frame: LogOutput) -> Option<Output> {
    match frame {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some(Output::Stdout(message))
        }
        LogOutput::StdErr { message } => Some(Output::Stderr(message)),
        LogOutput::StdIn { .. } => None,
    }
}

fn output_stream(
    runtime: RuntimeKind,
    operation: String,
    stream: impl futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send + 'static,
) -> OutputStream {
    Box::pin(stream.filter_map(move |item| {
        let operation = operation.clone();
        async move {
            match item {
                Ok(frame) => to_output(frame).map(Ok),
                Err(e) => Some(Err(
                    DockerError::api(operation, "sandbox", "", e).into_core(runtime)
                )),
            }
        }
    }))
}

/// Waits until the container is not running and returns its exit code.
pub async fn wait(docker: &Docker, id: &str) -> Result<i64, DockerError> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut stream = docker.wait_container(id, Some(options));
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(DockerError::api(format!("wait for {id}"), "sandbox", id, e)),
        None => Err(DockerError::api(
            format!("wait for {id}"),
            "sandbox",
            id,
            bollard::errors::Error::IOError {
                err: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the engine closed the wait stream",
                ),
            },
        )),
    }
}

/// Attaches to the main process; the session's exit waits for the container.
pub async fn attach(
    docker: &Docker,
    runtime: RuntimeKind,
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
        Box::pin(async move { wait(&docker, &id).await.map_err(|e| e.into_core(runtime)) })
    };
    Ok(Session {
        input: stdin.then_some(attached.input),
        output: output_stream(runtime, format!("read the output of {id}"), attached.output),
        exit,
    })
}

/// Starts a command in a running container.
pub async fn exec(
    docker: &Docker,
    runtime: RuntimeKind,
    id: &str,
    spec: &ExecSpec,
) -> Result<Session, DockerError> {
    let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let options = CreateExecOptions::<String> {
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(spec.tty),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(spec.cmd.clone()),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        ..Default::default()
    };
    let created = docker
        .create_exec(id, options)
        .await
        .map_err(|e| DockerError::api(format!("create an exec in {id}"), "sandbox", id, e))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: spec.tty,
                // Frames are up to 32 KiB; read them whole.
                output_capacity: Some(64 * 1024),
            }),
        )
        .await
        .map_err(|e| DockerError::api(format!("start an exec in {id}"), "sandbox", id, e))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(DockerError::api(
            format!("start an exec in {id}"),
            "sandbox",
            id,
            bollard::errors::Error::IOError {
                err: std::io::Error::other("the engine detached an attached exec"),
            },
        ));
    };
    let exit: ExitFuture = {
        let docker = docker.clone();
        let exec_id = created.id;
        Box::pin(async move {
            exec_exit(&docker, &exec_id)
                .await
                .map_err(|e| e.into_core(runtime))
        })
    };
    Ok(Session {
        input: spec.stdin.then_some(input),
        output: output_stream(
            runtime,
            format!("read the output of an exec in {id}"),
            output,
        ),
        exit,
    })
}

/// The exit code of a finished exec (polled briefly if the engine lags).
async fn exec_exit(docker: &Docker, exec_id: &str) -> Result<i64, DockerError> {
    for _ in 0..100 {
        let inspected = docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| DockerError::api(format!("inspect exec {exec_id}"), "exec", exec_id, e))?;
        if inspected.running != Some(true) {
            return Ok(inspected.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(DockerError::api(
        format!("inspect exec {exec_id}"),
        "exec",
        exec_id,
        bollard::errors::Error::IOError {
            err: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the exec still runs after its output ended",
            ),
        },
    ))
}

/// The main process's output.
pub fn logs(
    docker: &Docker,
    runtime: RuntimeKind,
    id: &str,
    options: &LogOptions,
) -> Result<OutputStream, Error> {
    let tail = options
        .tail
        .map_or_else(|| "all".to_owned(), |n| n.to_string());
    let query = LogsOptionsBuilder::default()
        .follow(options.follow)
        .stdout(true)
        .stderr(true)
        .tail(&tail)
        .build();
    Ok(output_stream(
        runtime,
        format!("read the logs of {id}"),
        docker.logs(id, Some(query)),
    ))
}
