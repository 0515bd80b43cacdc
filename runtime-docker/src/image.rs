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
use runtime_core::progress::{BuildNote, output_line};
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
    /// The image's id on the engine (`sha256:...`).
    pub(crate) id: String,
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
                id: image.id.unwrap_or_default(),
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
        "{} from {} (context {})",
        BuildNote::Started {
            tag: tag.to_owned()
        },
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
    if outcome.is_ok() {
        progress(&output.finished(tag).to_string());
    }
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

/// Build output, read as the engine's classic builder writes it: a step that
/// runs becomes a [`BuildNote::Step`] and its output lines follow (marked as
/// output); a step taken from the cache, and the builder's own chatter, are not
/// passed on, so a fully cached build says nothing until it is finished. The
/// last lines, chatter included, are kept for the error of a failed build.
#[derive(Debug, Default)]
struct BuildOutput {
    partial: String,
    last: VecDeque<String>,
    /// The step that began last, until it turns out to run or to be cached.
    pending: Option<BuildNote>,
    /// How many steps the build has (from its step lines).
    total: u32,
    /// How many of them ran.
    ran: u32,
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
        if self.last.len() == LAST_LINES {
            self.last.pop_front();
        }
        self.last.push_back(line.to_owned());
        if let Some(step) = step(line) {
            if let BuildNote::Step { total, .. } = &step {
                self.total = *total;
            }
            self.pending = Some(step);
            return;
        }
        if let Some(result) = line.trim_start().strip_prefix("---> ") {
            if result == "Using cache" {
                self.pending = None;
            } else if result.starts_with("Running in ") {
                self.run_pending(progress);
            } else if self.pending.as_ref().is_some_and(
                |s| matches!(s, BuildNote::Step { what, .. } if !what.starts_with("FROM")),
            ) {
                // A step that made a layer without a container (COPY, ADD).
                self.run_pending(progress);
            } else {
                self.pending = None;
            }
            return;
        }
        const CHATTER: [&str; 4] = [
            "Sending build context to",
            "Removing intermediate container",
            "Successfully built",
            "Successfully tagged",
        ];
        if CHATTER.iter().any(|c| line.starts_with(c)) {
            return;
        }
        // Output comes after its step ran; output with no step before it
        // (a warning of the builder's) is passed on as it is.
        self.run_pending(progress);
        progress(&output_line(line));
    }

    /// Notes the pending step as one that runs.
    fn run_pending(&mut self, progress: Progress<'_>) {
        if let Some(step) = self.pending.take() {
            self.ran += 1;
            progress(&step.to_string());
        }
    }

    /// The note of a build that succeeded.
    fn finished(&self, tag: &str) -> BuildNote {
        BuildNote::Finished {
            tag: tag.to_owned(),
            total: self.total,
            ran: self.ran,
        }
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

/// The step a line of the classic builder begins (`Step 2/5 : RUN make`).
fn step(line: &str) -> Option<BuildNote> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, what) = rest.split_once(" : ")?;
    let (number, total) = counts.split_once('/')?;
    Some(BuildNote::Step {
        number: number.parse().ok()?,
        total: total.parse().ok()?,
        what: what.to_owned(),
    })
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

    /// The progress lines of a build whose engine wrote `chunks`, and its end.
    fn progress_of(chunks: &[&str]) -> (Vec<String>, BuildOutput) {
        let seen = Mutex::new(Vec::<String>::new());
        let progress = |line: &str| seen.lock().expect("lock").push(line.to_owned());
        let mut output = BuildOutput::default();
        for chunk in chunks {
            let info = BuildInfo {
                stream: Some((*chunk).to_owned()),
                ..Default::default()
            };
            assert!(output.take(&info, &progress).is_none());
        }
        output.flush(&progress);
        let lines = seen.into_inner().expect("lock");
        (lines, output)
    }

    #[test]
    fn a_fully_cached_build_notes_nothing_but_its_end() {
        let (lines, output) = progress_of(&[
            "Sending build context to Docker daemon  2.048kB\r\n",
            "Step 1/3 : FROM busybox\n ---> 3d3578b6292e\n",
            "Step 2/3 : COPY . /srv\n ---> Using cache\n ---> 1a2b\n",
            "Step 3/3 : RUN make\n ---> Using cache\n ---> 3c4d\n",
            "Successfully built 3c4d\nSuccessfully tagged t:1\n",
        ]);
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(
            output.finished("t:1").to_string(),
            "t:1 is up to date: all 3 steps cached"
        );
    }

    #[test]
    fn steps_that_run_are_noted_with_their_output() {
        let (lines, output) = progress_of(&[
            "Step 1/4 : FROM busybox\n ---> 3d3578b6292e\n",
            "Step 2/4 : COPY . /srv\n ---> 5e6f\n",
            "Step 3/4 : ENV A=1\n ---> Using cache\n ---> 7a8b\n",
            "Step 4/4 : RUN make\n ---> Running in 1a",
            "bc\r\nbuilding all\nstep 1: done\n",
            "Removing intermediate container 1abc\n ---> 9c0d\n",
            "Successfully built 9c0d\npartial",
        ]);
        assert_eq!(
            lines,
            [
                "step 2/4: COPY . /srv",
                "step 4/4: RUN make",
                "| building all",
                "| step 1: done",
                "| partial",
            ]
        );
        assert_eq!(
            output.finished("t:1").to_string(),
            "built t:1: 2 of 4 steps ran"
        );
        assert_eq!(
            output.last.front().map(String::as_str),
            Some("Step 1/4 : FROM busybox")
        );
    }

    #[test]
    fn a_failed_build_keeps_its_last_lines() {
        let seen = Mutex::new(Vec::<String>::new());
        let progress = |line: &str| seen.lock().expect("lock").push(line.to_owned());
        let mut output = BuildOutput::default();
        let info = BuildInfo {
            stream: Some("Step 1/1 : RUN false\n ---> Running in 1a\n".to_owned()),
            ..Default::default()
        };
        assert!(output.take(&info, &progress).is_none());
        let err = output.failed("t:1", "boom\n".to_owned(), &progress);
        match err {
            DockerError::Build { tag, source } => {
                assert_eq!(tag, "t:1");
                assert_eq!(source.message, "boom");
                assert_eq!(
                    source.last_lines,
                    ["Step 1/1 : RUN false", " ---> Running in 1a"]
                );
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
