//! Making the image present: a reference must already exist locally (berth never
//! pulls implicitly); a build streams the context to the engine's build API and its
//! output, line by line, to the caller's progress callback.
//!
//! The context is packed on a blocking thread into a bounded channel that feeds the
//! request body, so a large context is never held in memory whole, and a context
//! that fails to pack aborts the request instead of sending a truncated archive.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Write};
use std::path::Path;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::BuildInfo;
use bollard::query_parameters::BuildImageOptionsBuilder;
use bytes::Bytes;
use futures::StreamExt;
use runtime_core::plan::ImageSource;
use runtime_core::runtime::Progress;
use tokio::sync::mpsc;

use crate::context::BuildContext;
use crate::errors::{BuildFailed, DockerError};

/// How many lines of build output a failed build keeps.
const LAST_LINES: usize = 20;

/// Chunks of the packed context in flight to the engine.
const CHUNK: usize = 64 * 1024;

/// What berth reads from an image's config: its `User` (empty when it names
/// none), `Entrypoint` and `Cmd` (empty when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ImageFacts {
    pub(crate) user: String,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
}

/// The facts of a local image, or `None` when the image is not present.
pub(crate) async fn facts(
    docker: &Docker,
    reference: &str,
) -> Result<Option<ImageFacts>, DockerError> {
    match docker.inspect_image(reference).await {
        Ok(image) => {
            let config = image.config.unwrap_or_default();
            Ok(Some(ImageFacts {
                user: config.user.unwrap_or_default(),
                entrypoint: config.entrypoint.unwrap_or_default(),
                cmd: config.cmd.unwrap_or_default(),
            }))
        }
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(DockerError::api(
            format!("inspect image {reference}"),
            "image",
            reference,
            source,
        )),
    }
}

/// Builds a `Build` source; checks a `Reference`. Returns the image's facts (see
/// [`facts`]), or `None` when a reference is missing.
pub(crate) async fn ensure(
    docker: &Docker,
    image: &ImageSource,
    progress: Progress<'_>,
) -> Result<Option<ImageFacts>, DockerError> {
    match image {
        ImageSource::Reference { reference } => facts(docker, reference).await,
        ImageSource::Build {
            dockerfile,
            context,
            tag,
            args,
            ..
        } => {
            build(docker, dockerfile, context, tag, args, progress).await?;
            facts(docker, tag).await
        }
    }
}

/// Builds `tag` from `dockerfile` in `context` with build `args`.
pub(crate) async fn build(
    docker: &Docker,
    dockerfile: &Path,
    context: &Path,
    tag: &str,
    args: &BTreeMap<String, String>,
    progress: Progress<'_>,
) -> Result<(), DockerError> {
    progress(&format!(
        "building {tag} from {} (context {})",
        dockerfile.display(),
        context.display()
    ));
    let build_context = BuildContext::new(context, dockerfile)?;
    tracing::debug!(
        tag,
        context = %context.display(),
        dockerfile = build_context.dockerfile_name(),
        "building image"
    );
    let options = BuildImageOptionsBuilder::default()
        .dockerfile(build_context.dockerfile_name())
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&args.iter().collect::<HashMap<_, _>>())
        .build();

    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let packer = tokio::task::spawn_blocking(move || {
        let mut sender = ChunkSender::new(tx);
        match build_context.pack(&mut sender) {
            Ok(_) => sender.finish().map_err(|source| DockerError::Context {
                path: build_context.dir().to_owned(),
                source,
            }),
            Err(err) => {
                sender.abort();
                Err(err)
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });

    let mut output = BuildOutput::default();
    let mut outcome: Result<(), DockerError> = Ok(());
    {
        let mut stream = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(message) = output.take(&info, progress) {
                        outcome = Err(output.failed(tag, message, progress));
                        break;
                    }
                }
                Err(BollardError::DockerStreamError { error }) => {
                    outcome = Err(output.failed(tag, error, progress));
                    break;
                }
                Err(source) => {
                    outcome = Err(DockerError::api(
                        format!("build {tag}"),
                        "image",
                        tag,
                        source,
                    ));
                    break;
                }
            }
        }
        // Dropping the stream drops the request body: a packer still writing stops.
    }
    output.flush(progress);
    let packed = packer.await.map_err(|join| DockerError::Context {
        path: context.to_owned(),
        source: io::Error::other(join.to_string()),
    })?;
    match packed {
        // The engine stopped reading because the build failed: report the build.
        Err(DockerError::Context { source, .. })
            if source.kind() == io::ErrorKind::BrokenPipe && outcome.is_err() =>
        {
            outcome
        }
        Err(err) => Err(err),
        Ok(()) => outcome,
    }
}

/// Build output: complete lines go to progress, the last few are kept for errors.
#[derive(Debug, Default)]
struct BuildOutput {
    partial: String,
    last: VecDeque<String>,
}

impl BuildOutput {
    /// Handles one message; returns the error message when it reports one.
    fn take(&mut self, info: &BuildInfo, progress: Progress<'_>) -> Option<String> {
        if let Some(text) = &info.stream {
            self.push(text, progress);
        }
        if let Some(status) = &info.status {
            let line = match &info.id {
                Some(id) => format!("{id}: {status}\n"),
                None => format!("{status}\n"),
            };
            self.push(&line, progress);
        }
        info.error_detail.as_ref().and_then(|d| d.message.clone())
    }

    fn push(&mut self, text: &str, progress: Progress<'_>) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(line.trim_end_matches(['\n', '\r']), progress);
        }
    }

    fn line(&mut self, line: &str, progress: Progress<'_>) {
        if line.trim().is_empty() {
            return;
        }
        progress(line);
        if self.last.len() == LAST_LINES {
            self.last.pop_front();
        }
        self.last.push_back(line.to_owned());
    }

    fn flush(&mut self, progress: Progress<'_>) {
        let rest = std::mem::take(&mut self.partial);
        self.line(rest.trim_end_matches(['\n', '\r']), progress);
    }

    fn failed(&mut self, tag: &str, message: String, progress: Progress<'_>) -> DockerError {
        self.flush(progress);
        DockerError::Build {
            tag: tag.to_owned(),
            source: BuildFailed {
                message: message.trim_end().to_owned(),
                last_lines: self.last.iter().cloned().collect(),
            },
        }
    }
}

/// A blocking writer that sends chunks into the request body's channel.
struct ChunkSender {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }

    /// Sends what is left; the body ends when the sender is dropped.
    fn finish(mut self) -> io::Result<()> {
        self.send()
    }

    /// Fails the request body, so the engine never sees a truncated archive as whole.
    fn abort(self) {
        let _ = self.tx.blocking_send(Err(io::Error::other(
            "berth could not pack the build context",
        )));
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn output_is_split_into_lines_and_the_last_ones_are_kept() {
        let seen = Mutex::new(Vec::<String>::new());
        let progress = |line: &str| seen.lock().expect("lock").push(line.to_owned());
        let mut output = BuildOutput::default();
        let info = |text: &str| BuildInfo {
            stream: Some(text.to_owned()),
            ..Default::default()
        };
        assert!(
            output
                .take(&info("Step 1/2 : FROM scratch\n"), &progress)
                .is_none()
        );
        assert!(
            output
                .take(&info(" ---> Running in 1a"), &progress)
                .is_none()
        );
        assert!(output.take(&info("bc\r\npartial"), &progress).is_none());
        let err = output.failed("t:1", "boom\n".to_owned(), &progress);
        assert_eq!(
            *seen.lock().expect("lock"),
            [
                "Step 1/2 : FROM scratch",
                " ---> Running in 1abc",
                "partial"
            ]
        );
        match err {
            DockerError::Build { tag, source } => {
                assert_eq!(tag, "t:1");
                assert_eq!(source.message, "boom");
                assert_eq!(source.last_lines.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let progress = |_: &str| {};
        let mut output = BuildOutput::default();
        for i in 0..100 {
            output.push(&format!("line {i}\n"), &progress);
        }
        let DockerError::Build { source, .. } = output.failed("t", "x".to_owned(), &progress)
        else {
            panic!("not a build error");
        };
        assert_eq!(source.last_lines.len(), LAST_LINES);
        assert_eq!(
            source.last_lines.last().map(String::as_str),
            Some("line 99")
        );
    }
}
