//! Sessions over a running `container` process (`exec`, `start -a`, `logs`): its
//! stdout and stderr become the session's output as they arrive, chunk for chunk;
//! its stdin is the session's input, closed by `shutdown()`; its exit status is
//! the session's exit code (Apple's CLI passes the process's code through).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use runtime_core::runtime::{ExitFuture, InputSink, OutputStream};
use runtime_core::{Output, RuntimeKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::process::{Child, ChildStdin};
use tokio::sync::watch;

use crate::error::{AppleError, Subject, exit_code};

/// How much one read takes from a pipe.
const CHUNK: usize = 64 * 1024;

/// The child's stdin as an [`AsyncWrite`] whose `shutdown()` closes the pipe
/// (tokio's own `ChildStdin` only flushes), so the process sees end of input.
pub(crate) struct StdinSink {
    inner: Option<ChildStdin>,
}

impl StdinSink {
    /// Wraps a child's stdin.
    pub(crate) fn new(stdin: ChildStdin) -> Self {
        Self { inner: Some(stdin) }
    }

    fn closed() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin was closed")
    }
}

impl AsyncWrite for StdinSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.inner.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_write(cx, buf),
            None => Poll::Ready(Err(Self::closed())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.inner.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(stdin) = self.inner.as_mut() {
            match Pin::new(stdin).poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    // Dropping the pipe's write end is what closes it.
                    self.inner = None;
                    return Poll::Ready(result);
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A pipe as a stream of chunks, each exactly as read.
fn chunks<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    wrap: fn(Bytes) -> Output,
    argv: Vec<String>,
) -> impl Stream<Item = Result<Output, runtime_core::Error>> + Send {
    stream::unfold(Some((reader, argv)), move |state| async move {
        let (mut reader, argv) = state?;
        let mut buf = vec![0u8; CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(wrap(Bytes::from(buf))), Some((reader, argv))))
            }
            Err(source) => {
                let err = AppleError::Io {
                    argv: argv.clone(),
                    source,
                };
                let operation = format!("read the output of `{}`", argv.join(" "));
                Some((Err(err.into_core(operation, Subject::sandbox(""))), None))
            }
        }
    })
}

/// The child's stdout and stderr, interleaved as they arrive.
pub(crate) fn output_stream(child: &mut Child, argv: &[String]) -> OutputStream {
    let stdout = child
        .stdout
        .take()
        .map(|out| chunks(out, Output::Stdout, argv.to_vec()).boxed());
    let stderr = child
        .stderr
        .take()
        .map(|err| chunks(err, Output::Stderr, argv.to_vec()).boxed());
    let empty = || stream::empty().boxed();
    Box::pin(stream::select(
        stdout.unwrap_or_else(empty),
        stderr.unwrap_or_else(empty),
    ))
}

/// A pseudo-terminal's master as the session's output (all of it stdout, as a
/// terminal merges the streams) and input. The output ends when the child's side
/// is closed (the master then reads EIO).
pub(crate) fn pty_session(
    master: std::os::fd::OwnedFd,
    argv: &[String],
) -> Result<(OutputStream, InputSink), std::io::Error> {
    let writer = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));
    let reader = PtyReader(tokio::fs::File::from_std(std::fs::File::from(master)));
    let output = Box::pin(chunks(reader, Output::Stdout, argv.to_vec()));
    Ok((output, Box::pin(writer) as InputSink))
}

/// A pty master, where EIO (every slave closed) is the end of input.
struct PtyReader(tokio::fs::File);

impl AsyncRead for PtyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

/// The child's stdin as a session input.
pub(crate) fn input(child: &mut Child) -> Option<InputSink> {
    child
        .stdin
        .take()
        .map(|stdin| Box::pin(StdinSink::new(stdin)) as InputSink)
}

/// An exit code published once, readable by any number of waiters.
pub(crate) type ExitWatch = watch::Receiver<Option<Result<i64, String>>>;

/// Waits for the child in the background and publishes its exit code; `keep` is
/// held until then (the env file the process reads). Returns the session's exit
/// future and a receiver for other waiters.
pub(crate) fn exit_watch<K: Send + 'static>(
    mut child: Child,
    argv: Vec<String>,
    keep: K,
) -> (ExitFuture, ExitWatch) {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let result = child
            .wait()
            .await
            .map(exit_code)
            .map_err(|e| format!("failed to wait for `{}`: {e}", argv.join(" ")));
        drop(keep);
        let _ = tx.send(Some(result));
    });
    let mut session_rx = rx.clone();
    let exit: ExitFuture = Box::pin(async move { wait_exit(&mut session_rx).await });
    (exit, rx)
}

/// The published exit code (waiting for it).
pub(crate) async fn wait_exit(rx: &mut ExitWatch) -> Result<i64, runtime_core::Error> {
    let value = match rx.wait_for(Option::is_some).await {
        Ok(value) => value.clone(),
        Err(_) => None,
    };
    let engine = |message: String| {
        runtime_core::Error::engine(RuntimeKind::Apple, "wait for a process", message)
    };
    match value {
        Some(Ok(code)) => Ok(code),
        Some(Err(message)) => Err(engine(message)),
        None => Err(engine(
            "the process's waiter ended without an exit code".to_owned(),
        )),
    }
}
