//! The typed command runner: every `container` invocation goes through [`Runner`],
//! which spawns the CLI with tokio, keeps the two output streams apart (ids and JSON
//! are read from stdout only; Apple's CLI writes progress to stderr), and reports a
//! spawn failure, a non-zero exit and unparsable output as three different
//! [`AppleError`]s.
//!
//! The program is `container` from `PATH`, or whatever `BERTH_APPLE_CONTAINER`
//! names (an explicit container-compatible CLI, such as the test double). Each
//! command line is logged with `tracing` and kept in a short in-memory history, so
//! tests can check that no secret ever reached a command line.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use runtime_core::runtime::Progress;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::error::{AppleError, prefix};

/// The variable naming an explicit `container`-compatible CLI.
pub(crate) const PROGRAM_ENV: &str = "BERTH_APPLE_CONTAINER";

/// How many command lines the history keeps.
const HISTORY_LEN: usize = 256;

/// How many lines of a streamed command's stderr an error quotes.
const STDERR_TAIL_LINES: usize = 40;

/// Runs the `container` CLI: which program, with which extra environment, and a
/// record of the command lines it ran. Give one to [`crate::AppleRuntime::with_runner`]
/// to drive another container-compatible CLI (such as a test double).
///
/// ```
/// let runner = runtime_apple::Runner::new("/opt/container/bin/container", true)
///     .with_env("CONTAINER_LOG", "debug");
/// let apple = runtime_apple::AppleRuntime::with_runner(runner);
/// assert!(apple.runner().history().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    program: PathBuf,
    explicit: bool,
    env: Vec<(String, String)>,
    history: Arc<Mutex<VecDeque<Vec<String>>>>,
}

/// A finished command and everything it printed.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    /// The command line.
    pub(crate) argv: Vec<String>,
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Captured {
    /// This result, or [`AppleError::Exit`] when the command failed.
    pub(crate) fn check(self) -> Result<Self, AppleError> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(AppleError::Exit {
                argv: self.argv,
                status: self.status,
                stderr: self.stderr,
            })
        }
    }
}

impl Runner {
    /// `BERTH_APPLE_CONTAINER` when set and non-empty (explicit), else `container`
    /// from `PATH`.
    pub(crate) fn from_env() -> Self {
        match std::env::var_os(PROGRAM_ENV).filter(|v| !v.is_empty()) {
            Some(path) => Self::new(PathBuf::from(path), true),
            None => Self::new(PathBuf::from("container"), false),
        }
    }

    /// A runner for `program`; `explicit` when a person or test named it (the probe
    /// then runs it even off macOS).
    pub fn new(program: impl Into<PathBuf>, explicit: bool) -> Self {
        Self {
            program: program.into(),
            explicit,
            env: Vec::new(),
            history: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// Sets an environment variable for every command this runner spawns.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program run.
    pub(crate) fn program(&self) -> &Path {
        &self.program
    }

    /// Whether the program was named explicitly rather than found on `PATH`.
    pub(crate) fn is_explicit(&self) -> bool {
        self.explicit
    }

    /// The most recent command lines run, oldest first (program first in each).
    pub fn history(&self) -> Vec<Vec<String>> {
        match self.history.lock() {
            Ok(history) => history.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    fn record(&self, argv: &[String]) {
        tracing::debug!(argv = ?argv, "running the container CLI");
        let mut history = match self.history.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        if history.len() == HISTORY_LEN {
            history.pop_front();
        }
        history.push_back(argv.to_vec());
    }

    fn command(&self, args: &[String]) -> (Command, Vec<String>) {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(self.program.to_string_lossy().into_owned());
        argv.extend(args.iter().cloned());
        self.record(&argv);
        let mut cmd = Command::new(&self.program);
        cmd.args(args).stdin(Stdio::null());
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        (cmd, argv)
    }

    /// Runs a command to completion, whatever its exit status.
    pub(crate) async fn capture(&self, args: &[String]) -> Result<Captured, AppleError> {
        let (mut cmd, argv) = self.command(args);
        let output = match cmd.output().await {
            Ok(output) => output,
            Err(source) => return Err(AppleError::Spawn { argv, source }),
        };
        Ok(Captured {
            argv,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs a command that must succeed.
    pub(crate) async fn run(&self, args: &[String]) -> Result<Captured, AppleError> {
        self.capture(args).await?.check()
    }

    /// Runs a command that must succeed and parses its stdout.
    pub(crate) async fn parse<T>(
        &self,
        args: &[String],
        parser: impl FnOnce(&str) -> Result<T, serde_json::Error>,
    ) -> Result<T, AppleError> {
        let captured = self.run(args).await?;
        parser(&captured.stdout).map_err(|source| AppleError::Parse {
            argv: captured.argv,
            source,
            output: prefix(&captured.stdout),
        })
    }

    /// Runs a command that prints an id on stdout (its last non-empty line).
    pub(crate) async fn id(&self, args: &[String]) -> Result<String, AppleError> {
        let captured = self.run(args).await?;
        match captured
            .stdout
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
        {
            Some(id) => Ok(id.to_owned()),
            None => Err(AppleError::Unrecognized {
                argv: captured.argv,
                output: "(nothing on stdout, where the id belongs)".to_owned(),
            }),
        }
    }

    /// Runs a long command (a build), passing each line it prints on either stream
    /// to `progress`; fails with the last lines of stderr when it exits non-zero.
    pub(crate) async fn stream_lines(
        &self,
        args: &[String],
        progress: Progress<'_>,
    ) -> Result<(), AppleError> {
        let (mut cmd, argv) = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(source) => return Err(AppleError::Spawn { argv, source }),
        };
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(AppleError::Io {
                argv,
                source: std::io::Error::other("the child's pipes were not set up"),
            });
        };
        let mut tail = VecDeque::new();
        let pumped = pump_lines(stdout, stderr, progress, &mut tail).await;
        let status = child.wait().await;
        if let Err(source) = pumped {
            return Err(AppleError::Io { argv, source });
        }
        let status = status.map_err(|source| AppleError::Io {
            argv: argv.clone(),
            source,
        })?;
        let stderr: Vec<String> = tail.into_iter().collect();
        Captured {
            argv,
            status,
            stdout: String::new(),
            stderr: stderr.join("\n"),
        }
        .check()
        .map(drop)
    }

    /// Spawns a long-lived command (exec, attach, logs) with piped stdout and
    /// stderr, and piped stdin when `stdin`. The child is killed if its handle is
    /// dropped before it exits.
    pub(crate) fn spawn(
        &self,
        args: &[String],
        stdin: bool,
    ) -> Result<(Child, Vec<String>), AppleError> {
        let (mut cmd, argv) = self.command(args);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if stdin {
            cmd.stdin(Stdio::piped());
        }
        match cmd.spawn() {
            Ok(child) => Ok((child, argv)),
            Err(source) => Err(AppleError::Spawn { argv, source }),
        }
    }
}

/// A command running on a pseudo-terminal: berth's end of it (the master), read
/// for the output and written for the input.
#[derive(Debug)]
pub(crate) struct PtyChild {
    /// The command.
    pub(crate) child: Child,
    /// Its command line.
    pub(crate) argv: Vec<String>,
    /// The terminal's master side.
    pub(crate) master: std::os::fd::OwnedFd,
}

/// The size a pseudo-terminal starts with.
const PTY_SIZE: nix::pty::Winsize = nix::pty::Winsize {
    ws_row: 24,
    ws_col: 80,
    ws_xpixel: 0,
    ws_ypixel: 0,
};

impl Runner {
    /// Spawns a long-lived command (`exec -i -t`, `start -a -i` of a container with
    /// a terminal) with a new pseudo-terminal as its stdin, stdout and stderr:
    /// Apple's CLI puts its stdin into raw mode for such a session, which fails on
    /// a pipe. The child is killed if its handle is dropped before it exits.
    pub(crate) fn spawn_pty(&self, args: &[String]) -> Result<PtyChild, AppleError> {
        let (mut cmd, argv) = self.command(args);
        let io = |argv: &[String], source: std::io::Error| AppleError::Io {
            argv: argv.to_vec(),
            source,
        };
        let pty = nix::pty::openpty(Some(&PTY_SIZE), None)
            .map_err(|errno| io(&argv, std::io::Error::from(errno)))?;
        let slave = |fd: &std::os::fd::OwnedFd| fd.try_clone().map(Stdio::from);
        let (stdin, stdout, stderr) = (|| {
            Ok::<_, std::io::Error>((slave(&pty.slave)?, slave(&pty.slave)?, slave(&pty.slave)?))
        })()
        .map_err(|e| io(&argv, e))?;
        cmd.stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        let spawned = cmd.spawn();
        // Only the child may hold the slave side: its last close ends the output.
        drop(cmd);
        drop(pty.slave);
        match spawned {
            Ok(child) => Ok(PtyChild {
                child,
                argv,
                master: pty.master,
            }),
            Err(source) => Err(AppleError::Spawn { argv, source }),
        }
    }
}

/// Reads both streams line by line until both end.
async fn pump_lines(
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    progress: Progress<'_>,
    tail: &mut VecDeque<String>,
) -> std::io::Result<()> {
    let mut out = BufReader::new(stdout);
    let mut err = BufReader::new(stderr);
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let (mut out_done, mut err_done) = (false, false);
    while !(out_done && err_done) {
        // `read_until` keeps what it read in the buffer when the other branch
        // wins, so reusing the buffers across iterations loses nothing.
        tokio::select! {
            read = out.read_until(b'\n', &mut out_buf), if !out_done => {
                if read? == 0 {
                    out_done = true;
                }
                if let Some(line) = take_line(&mut out_buf, out_done) {
                    progress(&line);
                }
            }
            read = err.read_until(b'\n', &mut err_buf), if !err_done => {
                if read? == 0 {
                    err_done = true;
                }
                if let Some(line) = take_line(&mut err_buf, err_done) {
                    progress(&line);
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        }
    }
    Ok(())
}

/// A complete line from `buf` (or the unterminated rest at end of input).
fn take_line(buf: &mut Vec<u8>, at_end: bool) -> Option<String> {
    if buf.is_empty() || (!at_end && buf.last() != Some(&b'\n')) {
        return None;
    }
    let line = String::from_utf8_lossy(buf)
        .trim_end_matches(['\n', '\r'])
        .to_owned();
    buf.clear();
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `with_env` sets reaches the program, and the command line is kept.
    #[tokio::test]
    async fn variables_reach_the_program_and_command_lines_are_kept() {
        let runner = Runner::new("/bin/sh", true).with_env("BERTH_RUNNER_TEST", "set");
        let args = [
            "-c".to_owned(),
            "printf %s \"$BERTH_RUNNER_TEST\"".to_owned(),
        ];
        let captured = runner.run(&args).await.expect("sh runs");
        assert_eq!(captured.stdout, "set");
        assert_eq!(
            runner.history(),
            [vec!["/bin/sh".to_owned(), args[0].clone(), args[1].clone()]]
        );
    }
}
