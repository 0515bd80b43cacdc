//! berth-init: the static PID 1 berth puts in a sandbox, and the exec path it
//! serves.
//!
//! `berth-helper init` (the static helper binary, bind-mounted read-only at
//! [`HELPER`]) starts the sandbox's command as its child, reaps zombies, forwards
//! signals and exits with the child's code, as tini does. Where the runtime can
//! carry a Unix socket from the sandbox to the host, it also listens on
//! [`SOCKET`] in the run's exec directory, a host directory beside the run's
//! record ([`RunStore::exec_dir`]) bind-mounted at [`EXEC_DIR`], and runs exec
//! requests there, much faster than the engine's exec.
//!
//! Who may use the socket:
//! - only a client outside the sandbox's PID namespace (a process inside the
//!   sandbox, or one the engine's exec starts, is refused by its peer
//!   credentials);
//! - holding the run's token: 32 random bytes the host writes to the run's
//!   directory (0600) and, for init alone, into the exec directory, which init
//!   reads and deletes before it starts the command. The token never appears in
//!   a label, an argument, an environment or a log; init is not dumpable, so the
//!   sandbox's processes cannot read it from its memory;
//! - the host checks the other way too: the socket's server must be PID 1 of
//!   another PID namespace (a sandbox's init), and the socket is opened without
//!   following a symlink.
//!
//! An exec runs as init's own user with init's capabilities (the sandbox's),
//! never more; a request for another user takes the engine's exec.
//!
//! The wire: frames of one kind byte, a big-endian u32 length and a payload of at
//! most [`MAX_FRAME`] bytes. The server greets a client from outside with a
//! ready frame; the client's first frame is [`Hello`] (JSON); then stdin, end of
//! stdin, resize and signal frames. The server answers with stdout, stderr, and
//! finally one exit (or failed) frame.
//!
//! On standby (`--standby N`, a warm pool's member) init starts no command: it
//! serves exec and waits for one request marked [`Hello::main`], which becomes
//! the sandbox's command (the first `N` words of init's command, the image's
//! entrypoint, stay in front of a command the request gives).

use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

#[cfg(feature = "helper")]
pub mod server;

use crate::error::Error;
use crate::run_id::RunId;
use crate::runtime::{ExecSpec, Output, Session, SessionControl};
use crate::state::{RunRecord, RunStore};

/// Where the helper binary appears inside the sandbox.
pub const HELPER: &str = "/.berth/berth-helper";

/// Where the run's exec directory appears inside the sandbox.
pub const EXEC_DIR: &str = "/.berth/exec";

/// The socket's name in the exec directory.
pub const SOCKET: &str = "exec.sock";

/// The token's name in the exec directory, until init has read it.
pub const TOKEN: &str = "token";

/// The largest payload of one frame.
pub const MAX_FRAME: usize = 1 << 20;

/// The read buffer of a frame stream: a 64 KiB chunk with its head.
pub(crate) const FRAME_BUFFER: usize = 64 * 1024 + 5;

/// Output chunks (of up to 64 KiB) queued for a caller that reads slowly.
const OUTPUT_CHUNKS: usize = 64;

/// How long init has to greet a client before the engine's exec is taken.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The token's length in bytes (hex on the wire and on disk).
const TOKEN_BYTES: usize = 32;

/// The exec directory's mode: the sandbox's user (any uid) must create the
/// socket in it; the host side is reachable only through berth's 0700 exec
/// directory.
const EXEC_DIR_MODE: u32 = 0o777;

/// Frame kinds.
pub mod frame {
    /// Client: the request ([`super::Hello`], JSON).
    pub const HELLO: u8 = 1;
    /// Client: bytes for the process's stdin.
    pub const STDIN: u8 = 2;
    /// Client: end of stdin.
    pub const STDIN_EOF: u8 = 3;
    /// Client: window size, rows then columns (u16 each, big-endian).
    pub const RESIZE: u8 = 4;
    /// Client: a signal for the process (i32, big-endian).
    pub const SIGNAL: u8 = 5;
    /// Server: bytes the process wrote to stdout (or the terminal).
    pub const STDOUT: u8 = 16;
    /// Server: bytes the process wrote to stderr.
    pub const STDERR: u8 = 17;
    /// Server: the exit code (i64, big-endian); the last frame.
    pub const EXIT: u8 = 18;
    /// Server: the process could not be started ([`super::Failed`], JSON); the
    /// last frame.
    pub const FAILED: u8 = 19;
    /// Server: the first frame, sent on accepting a client from outside: init
    /// is there and not frozen (a paused sandbox's socket still accepts).
    pub const READY: u8 = 20;
}

/// An exec request, the client's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The run's token, hex.
    pub token: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables set on top of the sandbox's environment.
    pub env: Vec<(String, String)>,
    /// Working directory; the sandbox's when `None`.
    pub workdir: Option<String>,
    /// Whether stdin frames follow; without, the process reads /dev/null.
    pub stdin: bool,
    /// A terminal, with its first size (rows, columns).
    pub tty: Option<(u16, u16)>,
    /// Claims an init on standby (a pool member): the process becomes the
    /// sandbox's command, whose exit ends the sandbox, and its output is also
    /// the sandbox's log. `argv` replaces the command after the image's
    /// entrypoint; an empty `argv` runs the command init was given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub main: bool,
}

/// Why a process did not start, with the exit code a shell would give (126 or
/// 127).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// 127 for a missing program, 126 for one that cannot run.
    pub code: i64,
    /// What went wrong, for stderr.
    pub message: String,
}

/// How `berth exec` reaches a run's processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "path", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ExecPath {
    /// Through berth-init's socket.
    Init,
    /// Through the engine's exec, and why not through init.
    Engine {
        /// Why init does not serve exec for this run.
        reason: String,
    },
}

impl ExecPath {
    /// `init` or `engine`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Engine { .. } => "engine",
        }
    }
}

impl std::fmt::Display for ExecPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Init => f.write_str("berth-init, over the run's unix socket"),
            Self::Engine { reason } => write!(f, "the engine's exec ({reason})"),
        }
    }
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    kind: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other("frame too large"))?;
    // One write per frame: the reader wakes once for it.
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame).await
}

/// Reads one frame; `None` at a clean end of stream before a frame starts.
pub async fn read_frame<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..]).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some((head[0], payload)))
}

/// Compares two byte strings in time that depends on their lengths only.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Prepares a run for berth-init's exec: creates its exec directory and writes a
/// fresh token to the host's copy and to the directory, for init to take.
/// Returns the directory to bind-mount at [`EXEC_DIR`].
pub fn arm(store: &RunStore, run_id: &RunId) -> Result<PathBuf, Error> {
    store.run_dir(run_id)?;
    store.ensure_exec_root()?;
    let dir = store.exec_dir(run_id);
    match std::fs::DirBuilder::new().mode(EXEC_DIR_MODE).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("create the exec directory", &dir)(e)),
    }
    // The umask narrowed the mode at creation.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(EXEC_DIR_MODE))
        .map_err(Error::io("set the permissions of", &dir))?;
    let mut bytes = [0u8; TOKEN_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(Error::io(
            "read random bytes from",
            Path::new("/dev/urandom"),
        ))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_token(&store.exec_token_path(run_id), &token, 0o600)?;
    rearm_with(&dir, &token)?;
    Ok(dir)
}

/// Puts the run's token back in its exec directory before the sandbox starts
/// again (init takes it at every start). Returns whether the run has one.
pub fn rearm(store: &RunStore, run_id: &RunId) -> Result<bool, Error> {
    let path = store.exec_token_path(run_id);
    let token = match std::fs::read_to_string(&path) {
        Ok(token) => token,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("read", &path)(e)),
    };
    rearm_with(&store.exec_dir(run_id), token.trim())?;
    Ok(true)
}

/// The token for init: readable by the sandbox's user, whoever that is, for the
/// moment before init deletes it (nothing else runs in the sandbox yet).
fn rearm_with(dir: &Path, token: &str) -> Result<(), Error> {
    let path = dir.join(TOKEN);
    // A stale socket would answer nothing; init makes a new one.
    let _ = std::fs::remove_file(dir.join(SOCKET));
    write_token(&path, token, 0o644)
}

/// Replaces the file with a new one (never writing through a symlink the
/// sandbox put in its place).
fn write_token(path: &Path, token: &str, mode: u32) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(mode)
        .open(path)
        .map_err(Error::io("write", path))?;
    std::io::Write::write_all(&mut file, token.as_bytes()).map_err(Error::io("write", path))?;
    // Through the open file, never the path: the exec directory is writable
    // from inside the sandbox, which could put a symlink there meanwhile.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set the permissions of", path))
}

/// The exec path a run recorded in `store` uses now: init when its socket is
/// there, else the engine.
pub fn current_path(store: &RunStore, run_id: &RunId) -> ExecPath {
    let dir = store.exec_dir(run_id);
    if !dir.exists() {
        return ExecPath::Engine {
            reason: "the run was started without berth-init's exec".to_owned(),
        };
    }
    match std::fs::symlink_metadata(dir.join(SOCKET)) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => ExecPath::Init,
        _ => ExecPath::Engine {
            reason: "berth-init is not serving: the sandbox is stopped, or init could not listen"
                .to_owned(),
        },
    }
}

/// The run `name` names in `store` (its sandbox name, or its run id) whose
/// init serves exec now; the newest when several records share the name.
pub fn find(store: &RunStore, name: &str) -> Option<RunRecord> {
    let serves = |r: &RunRecord| current_path(store, &r.run_id) == ExecPath::Init;
    if let Ok(run_id) = name.parse::<RunId>()
        && let Some(record) = store.load(&run_id)
    {
        return serves(&record).then_some(record);
    }
    store
        .list()
        .records
        .into_iter()
        .rev()
        .find(|r| r.name == name && serves(r))
}

/// Runs `spec` through the init of `run_id` when it serves exec and the spec
/// asks nothing only the engine can do (another user); `Ok(None)` otherwise,
/// and the caller takes the engine's exec.
pub async fn exec(
    store: &RunStore,
    run_id: &RunId,
    spec: &ExecSpec,
) -> Result<Option<Session>, Error> {
    if spec.user.is_some() {
        return Ok(None);
    }
    match connect(store, run_id).await? {
        Some(client) => client.exec(spec).await.map(Some),
        None => Ok(None),
    }
}

/// A connection to a run's init, authenticated both ways.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    token: String,
}

/// Connects to the init of a run in `store`. `Ok(None)` when init does not
/// serve this run (no exec directory, no socket, nobody listening, a server
/// that is not a sandbox's init): the caller takes the engine's exec.
pub async fn connect(store: &RunStore, run_id: &RunId) -> Result<Option<Client>, Error> {
    let token_path = store.exec_token_path(run_id);
    let token = match std::fs::read_to_string(&token_path) {
        Ok(token) => token.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &token_path)(e)),
    };
    let dir = store.exec_dir(run_id);
    let Some(stream) = open_socket(&dir).await else {
        return Ok(None);
    };
    if !served_by_an_init(&stream) {
        tracing::warn!(dir = %dir.display(), "the exec socket's server is not a sandbox's init; using the engine's exec");
        return Ok(None);
    }
    let mut stream = stream;
    match tokio::time::timeout(READY_WITHIN, read_frame(&mut stream)).await {
        Ok(Ok(Some((frame::READY, _)))) => Ok(Some(Client { stream, token })),
        // A paused sandbox, or an init that refused this client: the engine
        // says what it is.
        _ => Ok(None),
    }
}

/// Opens `dir`/[`SOCKET`] without following a symlink at its last step (the
/// directory is writable from inside the sandbox), through `/proc/self/fd`,
/// which also lifts the 108-byte limit on socket paths.
async fn open_socket(dir: &Path) -> Option<UnixStream> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_PATH | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(dir.join(SOCKET))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return None;
    }
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let stream = UnixStream::connect(&path).await.ok();
    drop(file);
    stream
}

/// Whether the peer is PID 1 of a PID namespace other than ours: a sandbox's
/// init, not a process of this host that put a socket there.
fn served_by_an_init(stream: &UnixStream) -> bool {
    let Some(pid) = stream.peer_cred().ok().and_then(|c| c.pid()) else {
        return false;
    };
    if pid <= 1 {
        return false;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .map(|ids| {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            ids.len() >= 2 && ids.last() == Some(&"1")
        })
        .unwrap_or(false)
}

/// What the writer task sends besides stdin.
enum Control {
    Resize(u16, u16),
    Signal(i32),
}

/// Resize and signal for a session through init.
struct InitControl {
    tx: mpsc::UnboundedSender<Control>,
}

#[async_trait]
impl SessionControl for InitControl {
    async fn resize(&self, rows: u16, cols: u16) -> Result<(), Error> {
        let _ = self.tx.send(Control::Resize(rows, cols));
        Ok(())
    }

    async fn signal(&self, signal: i32) -> Result<(), Error> {
        let _ = self.tx.send(Control::Signal(signal));
        Ok(())
    }
}

fn wire(operation: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    Error::io(operation, Path::new(EXEC_DIR))
}

impl Client {
    /// Runs `spec` through init. The spec's `user` must be `None` (init runs
    /// everything as the sandbox's user); callers take the engine's exec for
    /// another user.
    pub async fn exec(self, spec: &ExecSpec) -> Result<Session, Error> {
        self.request(spec, false).await
    }

    /// Starts the sandbox's command on an init on standby (a warm pool's
    /// member): `spec.cmd` replaces the command after the image's entrypoint,
    /// or is empty for the command the member was created with. The session's
    /// exit is the sandbox's; init refuses a second claim (exit 126).
    pub async fn claim(self, spec: &ExecSpec) -> Result<Session, Error> {
        self.request(spec, true).await
    }

    async fn request(self, spec: &ExecSpec, main: bool) -> Result<Session, Error> {
        let Self { stream, token } = self;
        let hello = Hello {
            token,
            argv: spec.cmd.clone(),
            env: spec.env.clone(),
            workdir: spec.workdir.clone(),
            stdin: spec.stdin,
            // The caller sets the real size through the session's control.
            tty: spec.tty.then_some((24, 80)),
            main,
        };
        let payload = serde_json::to_vec(&hello)
            .map_err(|e| wire("encode an exec request")(std::io::Error::other(e)))?;
        let (reader, mut writer) = stream.into_split();
        write_frame(&mut writer, frame::HELLO, &payload)
            .await
            .map_err(wire("send an exec request to berth-init"))?;
        let (control_tx, mut control_rx) = mpsc::unbounded_channel();
        let (input, mut input_rx) = tokio::io::duplex(64 * 1024);
        let stdin = spec.stdin;
        // Dropped with the output stream (at its end, or when the session is
        // dropped): the writer then closes its half, and init hangs up a process
        // still running. Dropping only the control changes nothing.
        let (output_gone_tx, mut output_gone_rx) = oneshot::channel::<()>();
        // One task writes everything the client sends after the request.
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut stdin_open = stdin;
            let mut control_open = true;
            if !stdin {
                let _ = write_frame(&mut writer, frame::STDIN_EOF, &[]).await;
            }
            loop {
                tokio::select! {
                    read = input_rx.read(&mut buf), if stdin_open => match read {
                        Ok(0) | Err(_) => {
                            stdin_open = false;
                            if write_frame(&mut writer, frame::STDIN_EOF, &[]).await.is_err() {
                                return;
                            }
                        }
                        Ok(n) => {
                            if write_frame(&mut writer, frame::STDIN, &buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    },
                    _ = &mut output_gone_rx => return,
                    control = control_rx.recv(), if control_open => match control {
                        Some(Control::Resize(rows, cols)) => {
                            let mut p = [0u8; 4];
                            p[..2].copy_from_slice(&rows.to_be_bytes());
                            p[2..].copy_from_slice(&cols.to_be_bytes());
                            if write_frame(&mut writer, frame::RESIZE, &p).await.is_err() {
                                return;
                            }
                        }
                        Some(Control::Signal(n)) => {
                            if write_frame(&mut writer, frame::SIGNAL, &n.to_be_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => control_open = false,
                    },
                }
            }
        });
        let (exit_tx, exit_rx) = oneshot::channel::<Result<i64, Error>>();
        let (out_tx, out_rx) = mpsc::channel::<Result<Output, Error>>(OUTPUT_CHUNKS);
        // One task reads what init sends, so the exit code comes whether or not
        // the output is read (a caller may stop reading, close stdin and wait).
        // It ends at the exit frame, or when the session is dropped whole.
        tokio::spawn(async move {
            let _gone = output_gone_tx;
            // Buffered: a frame's head and payload in one read where they fit.
            let mut reader = tokio::io::BufReader::with_capacity(FRAME_BUFFER, reader);
            let mut exit_tx = exit_tx;
            let code = loop {
                let frame = tokio::select! {
                    frame = read_frame(&mut reader) => frame,
                    ((), ()) = async { tokio::join!(out_tx.closed(), exit_tx.closed()) } => return,
                };
                let chunk = match frame {
                    Ok(Some((frame::STDOUT, data))) => Output::Stdout(Bytes::from(data)),
                    Ok(Some((frame::STDERR, data))) => Output::Stderr(Bytes::from(data)),
                    Ok(Some((frame::EXIT, data))) => {
                        break <[u8; 8]>::try_from(&data[..])
                            .map(i64::from_be_bytes)
                            .map_err(|_| broken("an exit frame of the wrong size"));
                    }
                    Ok(Some((frame::FAILED, data))) => {
                        match serde_json::from_slice::<Failed>(&data) {
                            Ok(failed) => {
                                let line = format!("berth: {}\n", failed.message);
                                let _ = out_tx.send(Ok(Output::Stderr(Bytes::from(line)))).await;
                                break Ok(failed.code);
                            }
                            Err(_) => break Err(broken("a malformed failure frame")),
                        }
                    }
                    Ok(Some((kind, _))) => {
                        let what = format!("an unknown frame kind {kind}");
                        let _ = out_tx.send(Err(broken(&what))).await;
                        break Err(broken(&what));
                    }
                    Ok(None) | Err(_) => {
                        break Err(broken(
                            "the connection closed before the process's exit code",
                        ));
                    }
                };
                // A caller that stopped reading: the output is dropped, the
                // exit code still comes.
                let _ = out_tx.send(Ok(chunk)).await;
            };
            let _ = exit_tx.send(code);
        });
        let output = futures::stream::unfold(out_rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let exit = Box::pin(async move {
            exit_rx
                .await
                .unwrap_or_else(|_| Err(broken("the session ended before its exit code")))
        });
        Ok(Session {
            input: spec
                .stdin
                .then(|| Box::pin(input) as crate::runtime::InputSink),
            output: Box::pin(output),
            exit,
            control: Some(Arc::new(InitControl { tx: control_tx })),
        })
    }
}

fn broken(what: &str) -> Error {
    wire("read from berth-init")(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what.to_owned(),
    ))
}
