//! berth-init's side: PID 1 of the sandbox and the exec server on its socket.
//! Only the helper binary runs this (feature `helper`).
//!
//! One thread: a current-thread runtime drives the signals, the socket and
//! every session, so the reaper and the sessions that wait for their processes
//! never race. Processes that need a terminal of their own, or the sandbox's
//! terminal as their foreground, start through `berth-helper init-exec`, which
//! sets that up in safe code and then executes the program.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use super::{Failed, Hello, SOCKET, TOKEN, frame, read_frame, same_secret, write_frame};

/// How long a client has to send its request.
const HELLO_WITHIN: Duration = Duration::from_secs(10);

/// How long output is still read after a process exited, when something it
/// started keeps its stdout open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Stdin chunks (of up to 64 KiB from berth) queued for a process that is slow
/// to read them.
const STDIN_CHUNKS: usize = 64;

/// Exit codes, as a shell gives them.
const NOT_FOUND: i64 = 127;
const CANNOT_RUN: i64 = 126;

/// The signals init passes on to the command: every one a process may catch,
/// but those that stop or continue it, the child notice, and the faults a
/// process raises on itself. Real-time signals are not forwarded: sending one
/// needs code this crate does not allow (`unsafe`).
const FORWARDED: [i32; 17] = [
    nix::libc::SIGHUP,
    nix::libc::SIGINT,
    nix::libc::SIGQUIT,
    nix::libc::SIGUSR1,
    nix::libc::SIGUSR2,
    nix::libc::SIGPIPE,
    nix::libc::SIGALRM,
    nix::libc::SIGTERM,
    nix::libc::SIGSTKFLT,
    nix::libc::SIGURG,
    nix::libc::SIGXCPU,
    nix::libc::SIGXFSZ,
    nix::libc::SIGVTALRM,
    nix::libc::SIGPROF,
    nix::libc::SIGWINCH,
    nix::libc::SIGIO,
    nix::libc::SIGPWR,
];

/// Exit statuses the reaper hands to whoever waits for a process.
type Waiters = Rc<RefCell<HashMap<i32, oneshot::Sender<i64>>>>;

/// `berth-helper init [--exec-dir DIR] [--standby N] -- COMMAND...`: runs
/// `command` as PID 1's child and returns its exit code (128 + N for signal N).
/// With `standby` (the number of words of `command` that are the image's
/// entrypoint), the command waits for a claim ([`super::Hello::main`]).
pub fn run(exec_dir: Option<PathBuf>, standby: Option<usize>, command: Vec<String>) -> i32 {
    // Nothing in the sandbox may read init's memory (the token).
    let _ = nix::sys::prctl::set_dumpable(false);
    if std::process::id() != 1 {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth-init: cannot start: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&runtime, supervise(exec_dir, standby, command));
    i32::try_from(code).unwrap_or(1)
}

/// The command of an init on standby, and the claim that starts it.
struct Standby {
    /// The command init was given.
    command: Vec<String>,
    /// How many of its first words (the image's entrypoint) a claim keeps.
    entrypoint: usize,
    /// The claimed command's process, set by the session that starts it
    /// before it awaits anything, so the reaper knows it as the command.
    pid: std::cell::Cell<Option<i32>>,
    /// Told when the claimed command's session sent its last frame.
    done: tokio::sync::Notify,
}

impl Standby {
    /// The command a claim runs: `argv` after the entrypoint, or the command
    /// init was given when `argv` is empty.
    fn argv(&self, argv: &[String]) -> Vec<String> {
        if argv.is_empty() {
            return self.command.clone();
        }
        let keep = self.entrypoint.min(self.command.len());
        self.command[..keep].iter().chain(argv).cloned().collect()
    }
}

async fn supervise(exec_dir: Option<PathBuf>, standby: Option<usize>, command: Vec<String>) -> i64 {
    let mut forwarded = Vec::new();
    for number in FORWARDED {
        match signal(SignalKind::from_raw(number)) {
            Ok(stream) => forwarded.push((number, stream)),
            Err(e) => eprintln!("berth-init: cannot handle signal {number}: {e}"),
        }
    }
    let mut children = match signal(SignalKind::child()) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("berth-init: cannot watch for exited processes: {e}");
            return 1;
        }
    };
    let listener = exec_dir.and_then(|dir| match listen(&dir) {
        Ok(listener) => Some(listener),
        Err(why) => {
            eprintln!("berth-init: exec goes through the engine: {why}");
            None
        }
    });
    let standby = standby.map(|entrypoint| {
        Rc::new(Standby {
            command: command.clone(),
            entrypoint,
            pid: std::cell::Cell::new(None),
            done: tokio::sync::Notify::new(),
        })
    });
    let started = match &standby {
        Some(_) if listener.is_none() => {
            eprintln!(
                "berth-init: on standby without an exec socket, nothing can start the command"
            );
            return CANNOT_RUN;
        }
        Some(_) => None,
        None => match start_command(&command) {
            Some(pid) => Some(pid),
            None => return NOT_FOUND,
        },
    };
    let waiters: Waiters = Rc::default();
    let (any_signal_tx, mut any_signal) = mpsc::unbounded_channel::<i32>();
    for (number, mut stream) in forwarded {
        let tx = any_signal_tx.clone();
        tokio::task::spawn_local(async move {
            while stream.recv().await.is_some() {
                if tx.send(number).is_err() {
                    return;
                }
            }
        });
    }
    if let Some((listener, token)) = listener {
        let (waiters, standby) = (waiters.clone(), standby.clone());
        tokio::task::spawn_local(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors or memory: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let (waiters, token, standby) = (waiters.clone(), token.clone(), standby.clone());
                tokio::task::spawn_local(async move {
                    serve(stream, &token, waiters, standby.as_deref()).await;
                });
            }
        });
    }
    loop {
        let command_pid = started.or_else(|| standby.as_ref().and_then(|s| s.pid.get()));
        // A child may have exited before the handler was in place.
        if let Some(code) = reap(command_pid, &waiters) {
            if let Some(standby) = &standby {
                // The claim's client gets the exit code before the sandbox ends.
                let _ = tokio::time::timeout(
                    DRAIN_AFTER_EXIT + Duration::from_secs(1),
                    standby.done.notified(),
                )
                .await;
            }
            return code;
        }
        tokio::select! {
            _ = children.recv() => {}
            Some(number) = any_signal.recv() => match command_pid {
                Some(pid) => {
                    if let Ok(sig) = Signal::try_from(number) {
                        let _ = kill(Pid::from_raw(pid), sig);
                    }
                }
                // On standby, a signal that ends a process ends the sandbox.
                None if STANDBY_ENDS.contains(&number) => return 128 + i64::from(number),
                None => {}
            },
        }
    }
}

/// The signals that end an init on standby (what `stop` and a terminal send).
const STANDBY_ENDS: [i32; 4] = [
    nix::libc::SIGHUP,
    nix::libc::SIGINT,
    nix::libc::SIGQUIT,
    nix::libc::SIGTERM,
];

/// Collects every exited child; returns the command's code once it exited.
fn reap(command_pid: Option<i32>, waiters: &Waiters) -> Option<i64> {
    let mut command_code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                settle(
                    pid,
                    i64::from(code),
                    command_pid,
                    waiters,
                    &mut command_code,
                );
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                let code = 128 + i64::from(sig as i32);
                settle(pid, code, command_pid, waiters, &mut command_code);
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return command_code,
            Ok(_) => {}
        }
    }
}

fn settle(
    pid: Pid,
    code: i64,
    command_pid: Option<i32>,
    waiters: &Waiters,
    command_code: &mut Option<i64>,
) {
    if command_pid == Some(pid.as_raw()) {
        *command_code = Some(code);
    }
    // A claimed command has a session waiting for it too.
    if let Some(tx) = waiters.borrow_mut().remove(&pid.as_raw()) {
        let _ = tx.send(code);
    }
}

/// Starts the sandbox's command in its own process group; with a terminal on
/// stdin, as the terminal's foreground group, so that Ctrl-C reaches it once.
fn start_command(command: &[String]) -> Option<i32> {
    let Some((program, args)) = command.split_first() else {
        eprintln!("berth-init: no command to run");
        return None;
    };
    let tty = rustix::termios::isatty(std::io::stdin());
    let mut cmd = if tty {
        let mut cmd = Command::new(helper_path());
        cmd.args(["init-exec", "--foreground", "--"]).args(command);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args).process_group(0);
        cmd
    };
    match cmd.spawn() {
        Ok(child) => Some(i32::try_from(child.id()).unwrap_or(-1)),
        Err(e) => {
            eprintln!("berth-init: cannot run {program}: {e}");
            None
        }
    }
}

/// This binary, for `init-exec`.
fn helper_path() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from(super::HELPER))
}

/// Takes the token from the exec directory and listens on its socket.
fn listen(dir: &Path) -> Result<(UnixListener, Rc<str>), String> {
    let token_path = dir.join(TOKEN);
    let token = std::fs::read_to_string(&token_path)
        .map_err(|e| format!("no token in {}: {e}", dir.display()))?;
    std::fs::remove_file(&token_path)
        .map_err(|e| format!("cannot remove {}: {e}", token_path.display()))?;
    let socket = dir.join(SOCKET);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    // Host clients of any uid reach it only through the run's 0700 directory;
    // the token and the peer check decide who is served. gVisor does not let a
    // socket it makes on the host change its mode, and then the mode it was
    // made with stays.
    let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666));
    Ok((listener, Rc::from(token.trim())))
}

/// Whether the client is outside the sandbox. A client inside has a process ID
/// of 2 or more in the sandbox's PID namespace (init alone is 1). Linux reports
/// 0 for a peer outside the namespace (a client on the host); gVisor reports
/// its own PID 1 for a connection that comes through its gofer from the host.
fn from_outside(stream: &UnixStream) -> bool {
    matches!(stream.peer_cred().map(|c| c.pid()), Ok(Some(0 | 1)))
}

/// One exec session, from request to exit code.
async fn serve(stream: UnixStream, token: &str, waiters: Waiters, standby: Option<&Standby>) {
    if !from_outside(&stream) {
        return;
    }
    let (reader, mut writer) = stream.into_split();
    let mut reader = tokio::io::BufReader::with_capacity(super::FRAME_BUFFER, reader);
    if write_frame(&mut writer, frame::READY, &[]).await.is_err() {
        return;
    }
    let hello = match tokio::time::timeout(HELLO_WITHIN, read_frame(&mut reader)).await {
        Ok(Ok(Some((frame::HELLO, payload)))) => match serde_json::from_slice::<Hello>(&payload) {
            Ok(hello) => hello,
            Err(_) => return,
        },
        _ => return,
    };
    if !same_secret(hello.token.as_bytes(), token.as_bytes()) {
        return;
    }
    let mut hello = hello;
    let claim = match (hello.main, standby) {
        (false, _) => None,
        (true, Some(standby)) if standby.pid.get().is_none() => {
            hello.argv = standby.argv(&hello.argv);
            Some(standby)
        }
        (true, _) => {
            let refused = Failed {
                code: CANNOT_RUN,
                message: "this sandbox's command has started already: it was not waiting for one"
                    .to_owned(),
            };
            send_failed(&mut writer, &refused).await;
            return;
        }
    };
    let process = match spawn(&hello) {
        Ok(process) => process,
        Err(failed) => {
            send_failed(&mut writer, &failed).await;
            return;
        }
    };
    let (exit_tx, exit_rx) = oneshot::channel();
    waiters.borrow_mut().insert(process.pid, exit_tx);
    if let Some(standby) = claim {
        standby.pid.set(Some(process.pid));
    }
    // No await since the spawn: the reaper (on this thread) has not run, so the
    // status is still there for it to hand over.
    pump(process, reader, writer, exit_rx, claim.is_some()).await;
    if let Some(standby) = claim {
        standby.done.notify_one();
    }
}

async fn send_failed(writer: &mut tokio::net::unix::OwnedWriteHalf, failed: &Failed) {
    if let Ok(payload) = serde_json::to_vec(failed) {
        let _ = write_frame(writer, frame::FAILED, &payload).await;
    }
}

/// A started process and its ends of the streams.
struct Process {
    pid: i32,
    /// Its stdin (a pipe, or the terminal's master).
    input: Option<OwnedFd>,
    /// Its stdout (or the terminal).
    stdout: Option<OwnedFd>,
    /// Its stderr (none with a terminal).
    stderr: Option<OwnedFd>,
    /// The terminal's master, for resizing.
    master: Option<OwnedFd>,
}

fn failed(program: &str, e: &std::io::Error) -> Failed {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        NOT_FOUND
    } else {
        CANNOT_RUN
    };
    Failed {
        code,
        message: format!("cannot run {program}: {e}"),
    }
}

/// Starts the requested process: in a session of its own with a terminal, else
/// in a process group of its own with pipes.
fn spawn(hello: &Hello) -> Result<Process, Failed> {
    let Some(program) = hello.argv.first() else {
        return Err(Failed {
            code: CANNOT_RUN,
            message: "no command given".to_owned(),
        });
    };
    let mut cmd;
    let mut master = None;
    if let Some((rows, cols)) = hello.tty {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).map_err(|e| Failed {
            code: CANNOT_RUN,
            message: format!("cannot open a terminal: {e}"),
        })?;
        let slave = pty.slave;
        let dup = |fd: &OwnedFd| {
            fd.try_clone().map_err(|e| Failed {
                code: CANNOT_RUN,
                message: format!("cannot open a terminal: {e}"),
            })
        };
        cmd = Command::new(helper_path());
        cmd.args(["init-exec", "--tty", "--"])
            .args(&hello.argv)
            .stdin(Stdio::from(dup(&slave)?))
            .stdout(Stdio::from(dup(&slave)?))
            .stderr(Stdio::from(slave));
        master = Some(pty.master);
    } else {
        cmd = Command::new(program);
        cmd.args(&hello.argv[1..])
            .process_group(0)
            .stdin(if hello.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    cmd.envs(hello.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &hello.workdir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| failed(program, &e))?;
    let pid = i32::try_from(child.id()).unwrap_or(-1);
    if let Some(master) = master {
        let input = master.try_clone().ok();
        let stdout = master.try_clone().ok();
        return Ok(Process {
            pid,
            input,
            stdout,
            stderr: None,
            master: Some(master),
        });
    }
    Ok(Process {
        pid,
        input: child.stdin.take().map(OwnedFd::from),
        stdout: child.stdout.take().map(OwnedFd::from),
        stderr: child.stderr.take().map(OwnedFd::from),
        master: None,
    })
}

/// A file descriptor driven by the runtime's reactor.
#[allow(
    deprecated,
    reason = "AsyncFd owns the descriptor here, so it cannot be closed while registered, which is what `register` asks callers to promise"
)]
fn nonblocking(fd: OwnedFd) -> Option<AsyncFd<OwnedFd>> {
    let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).ok()?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags)).ok()?;
    AsyncFd::new(fd).ok()
}

async fn read_fd(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|inner| {
            nix::unistd::read(inner.get_ref().as_fd(), buf).map_err(std::io::Error::from)
        }) {
            Ok(result) => return result,
            Err(_would_block) => {}
        }
    }
}

async fn write_fd(fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut guard = fd.writable().await?;
        match guard.try_io(|inner| {
            nix::unistd::write(inner.get_ref().as_fd(), data).map_err(std::io::Error::from)
        }) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
    Ok(())
}

/// Copies one output stream into frames until it ends (a terminal's master
/// reports EIO once every holder of its other side has closed it).
fn copy_out(fd: Option<OwnedFd>, kind: u8, frames: mpsc::Sender<(u8, Vec<u8>)>) {
    let Some(fd) = fd.and_then(nonblocking) else {
        return;
    };
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read_fd(&fd, &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if frames.send((kind, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Moves bytes both ways until the process exited and its output ended, then
/// sends its exit code. A client that goes away hangs up the process.
async fn pump(
    process: Process,
    mut reader: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    mut writer: tokio::net::unix::OwnedWriteHalf,
    exit: oneshot::Receiver<i64>,
    log: bool,
) {
    // A claimed command's output is the sandbox's log as well: init's own
    // stdout and stderr, written as they are (blocking: the engine drains them).
    let mut log = log.then(Log::open).flatten();
    let Process {
        pid,
        input,
        stdout,
        stderr,
        master,
    } = process;
    let (frames_tx, mut frames_rx) = mpsc::channel::<(u8, Vec<u8>)>(16);
    copy_out(stdout, frame::STDOUT, frames_tx.clone());
    copy_out(stderr, frame::STDERR, frames_tx.clone());
    drop(frames_tx);
    let tty = master.is_some();
    // Stdin has a writer of its own, with chunks queued, so that signals,
    // resizes and the client's going away are read while the process is slow
    // to read its stdin.
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Vec<u8>>(STDIN_CHUNKS);
    let stdin_writer = tokio::task::spawn_local(async move {
        let mut input = input.and_then(nonblocking);
        while let Some(data) = stdin_rx.recv().await {
            if let Some(fd) = &input
                && write_fd(fd, &data).await.is_err()
            {
                input = None;
            }
        }
        // End of stdin (a terminal stays open: its end of input is the
        // program's own business, Ctrl-D).
        if tty {
            std::future::pending::<()>().await;
        }
    });
    // Client frames: stdin, end of stdin, resize, signal.
    let client = tokio::task::spawn_local(async move {
        let mut stdin_tx = Some(stdin_tx);
        loop {
            match read_frame(&mut reader).await {
                Ok(Some((frame::STDIN, data))) => {
                    if let Some(tx) = &stdin_tx
                        && tx.send(data).await.is_err()
                    {
                        stdin_tx = None;
                    }
                }
                Ok(Some((frame::STDIN_EOF, _))) => stdin_tx = None,
                Ok(Some((frame::RESIZE, data))) if data.len() == 4 => {
                    if let Some(master) = &master {
                        let size = rustix::termios::Winsize {
                            ws_row: u16::from_be_bytes([data[0], data[1]]),
                            ws_col: u16::from_be_bytes([data[2], data[3]]),
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = rustix::termios::tcsetwinsize(master, size);
                    }
                }
                Ok(Some((frame::SIGNAL, data))) if data.len() == 4 => {
                    let number = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    if let Ok(sig) = Signal::try_from(number) {
                        let _ = kill(Pid::from_raw(pid), sig);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    // The client is gone: hang up, as a closed terminal would.
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGHUP);
                    return;
                }
            }
        }
    });
    let mut exit = std::pin::pin!(exit);
    let mut code = None;
    let mut output_open = true;
    let mut deadline = None;
    loop {
        tokio::select! {
            frame = frames_rx.recv(), if output_open => match frame {
                Some((kind, data)) => {
                    if let Some(log) = &mut log {
                        log.write(kind, &data);
                    }
                    if write_frame(&mut writer, kind, &data).await.is_err() {
                        break;
                    }
                }
                None => output_open = false,
            },
            status = &mut exit, if code.is_none() => {
                code = Some(status.unwrap_or(1));
                deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            },
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => output_open = false,
        }
        if let (Some(code), false) = (code, output_open) {
            let _ = write_frame(&mut writer, frame::EXIT, &code.to_be_bytes()).await;
            break;
        }
    }
    if code.is_none() {
        // The client went away (a write to it failed) before the process
        // ended: hang it up, as a closed terminal would.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGHUP);
    }
    client.abort();
    stdin_writer.abort();
}

/// Init's own stdout and stderr, which the engine keeps as the sandbox's log.
struct Log {
    stdout: std::fs::File,
    stderr: std::fs::File,
}

impl Log {
    fn open() -> Option<Self> {
        let dup =
            |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().ok().map(std::fs::File::from);
        Some(Self {
            stdout: dup(std::io::stdout().as_fd())?,
            stderr: dup(std::io::stderr().as_fd())?,
        })
    }

    /// Copies one output frame; a log that cannot be written is left behind.
    fn write(&mut self, kind: u8, data: &[u8]) {
        use std::io::Write;
        let file = if kind == frame::STDERR {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        let _ = file.write_all(data);
    }
}

/// `berth-helper init-exec (--tty | --foreground) -- PROGRAM ARGS...`: sets up
/// the process and executes the program; returns only on failure, with the
/// exit code to use.
///
/// `--tty`: a session of its own with stdin (a new terminal) as its controlling
/// terminal. `--foreground`: a process group of its own made the foreground of
/// the terminal on stdin.
pub fn exec_prepared(mode: &str, argv: &[String]) -> i32 {
    match mode {
        "--tty" => {
            let _ = nix::unistd::setsid();
            let _ = rustix::process::ioctl_tiocsctty(std::io::stdin());
        }
        "--foreground" => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            // A background group may take the terminal while SIGTTOU is blocked.
            let mut ttou = SigSet::empty();
            ttou.add(Signal::SIGTTOU);
            let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), None);
            let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&ttou), None);
        }
        _ => {}
    }
    let Some(program) = argv.first() else {
        eprintln!("berth-init: no command to run");
        return NOT_FOUND as i32;
    };
    let args: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(args) = args else {
        eprintln!("berth-init: an argument holds a NUL byte");
        return CANNOT_RUN as i32;
    };
    let err = match nix::unistd::execvp(&args[0], &args) {
        Err(errno) => std::io::Error::from(errno),
        Ok(never) => match never {},
    };
    let failure = failed(program, &err);
    eprintln!("berth-init: {}", failure.message);
    i32::try_from(failure.code).unwrap_or(1)
}
