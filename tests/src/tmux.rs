//! A terminal for tests that use berth as a person does: a tmux server of the
//! test's own (its socket named after the [`Scratch`] area), one window running a
//! plain bash whose `berth` is the one under test and whose state directory is
//! the scratch area's. Keys go in with `send-keys`, the screen comes out with
//! `capture-pane`, and `resize-window` changes the window size as a person
//! dragging the window does. Dropping the [`Pane`] kills its server, on failure
//! too.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{Scratch, berth_bin, describe};

/// How long [`Pane::wait_for`] waits for text to appear before failing the test.
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// One tmux window running bash, in a server of its own.
pub struct Pane {
    socket: String,
}

impl Pane {
    /// Starts a server on a socket of `scratch`'s own with one detached window of
    /// `cols` x `rows` running bash without startup files: `berth` on its PATH
    /// is the binary under test, `XDG_STATE_HOME` is the scratch area's, and
    /// `BERTH_RUNTIME` is unset, as for [`Scratch::berth`].
    pub fn start(scratch: &Scratch, cols: u16, rows: u16) -> Self {
        let pane = Self {
            socket: format!("berth-tests-{}", scratch.name()),
        };
        let bin_dir = berth_bin()
            .parent()
            .expect("the berth binary lives in a directory")
            .to_owned();
        let path = std::env::var("PATH").unwrap_or_default();
        let mut start = pane.tmux();
        start
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string()])
            .args(["env", "-u", "BERTH_RUNTIME"])
            .arg(format!("PATH={}:{path}", bin_dir.display()))
            .arg(format!("XDG_STATE_HOME={}", scratch.state().display()))
            .args(["BERTH_LOG=warn", "HISTFILE=/dev/null", "PS1=host$ "])
            .args(["bash", "--norc", "--noprofile"]);
        pane.ok(&mut start, "new-session");
        // Pane sizes follow the window's, which stays as set here and by
        // resize-window rather than following (absent) clients.
        pane.ok(
            pane.tmux()
                .args(["set-option", "-t", "t", "window-size", "manual"]),
            "set-option",
        );
        pane.wait_for("host$ ");
        pane
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]).stdin(Stdio::null());
        cmd
    }

    fn ok(&self, cmd: &mut Command, what: &str) -> Output {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("tmux is missing ({e}): run scripts/setup-engine.sh"));
        assert!(out.status.success(), "tmux {what}: {}", describe(&out));
        out
    }

    /// Types `text` literally, then Enter.
    pub fn type_line(&self, text: &str) {
        self.ok(
            self.tmux().args(["send-keys", "-t", "t", "-l", text]),
            "send-keys",
        );
        self.keys(&["Enter"]);
    }

    /// Presses keys by tmux's names for them, such as `C-c`, `C-d`, `Enter`.
    pub fn keys(&self, keys: &[&str]) {
        self.ok(
            self.tmux().args(["send-keys", "-t", "t"]).args(keys),
            "send-keys",
        );
    }

    /// The screen and its scrollback, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = self.ok(
            self.tmux()
                .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "t"]),
            "capture-pane",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` and returns the screen; fails the test
    /// with what the screen shows when it does not appear within a minute.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear; the screen shows:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// How many times the screen (with its scrollback) shows `text`.
    pub fn count(&self, text: &str) -> usize {
        self.screen().matches(text).count()
    }

    /// Waits until the screen shows `text` more than `seen` times (a count taken
    /// with [`Pane::count`] before the keys that make it appear again).
    pub fn wait_for_more(&self, text: &str, seen: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.matches(text).count() > seen {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear again; the screen shows:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Types `line` until the screen shows `text` (once per second, for up to a
    /// minute), for what may take a moment to come about, such as a window size
    /// that is passed on asynchronously.
    pub fn retype_until(&self, line: &str, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            self.type_line(line);
            let typed = Instant::now();
            while typed.elapsed() < Duration::from_secs(1) {
                let screen = self.screen();
                if screen.contains(text) {
                    return screen;
                }
                std::thread::sleep(POLL);
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear after typing {line:?}; the screen shows:\n{}",
                self.screen()
            );
        }
    }

    /// Resizes the window (and so the pane) to `cols` x `rows`.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.ok(
            self.tmux().args([
                "resize-window",
                "-t",
                "t",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ]),
            "resize-window",
        );
    }

    /// Appends every byte the pane's programs write, unchanged, to `file` (the
    /// screen does not show every byte, NULs for one).
    pub fn log_to(&self, file: &Path) {
        self.ok(
            self.tmux().args([
                "pipe-pane",
                "-o",
                "-t",
                "t",
                &format!("cat >> '{}'", file.display()),
            ]),
            "pipe-pane",
        );
    }

    /// Waits until the pane's terminal is in raw mode (`-icanon`, as a program
    /// that reads every key sets it), as `stty` reads it from outside.
    pub fn wait_for_raw(&self) {
        let out = self.ok(
            self.tmux()
                .args(["display-message", "-p", "-t", "t", "#{pane_tty}"]),
            "display-message",
        );
        let tty = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let deadline = Instant::now() + WAIT;
        loop {
            let stty = Command::new("stty")
                .args(["-F", &tty, "-a"])
                .output()
                .unwrap_or_else(|e| panic!("stty: {e}"));
            let settings = String::from_utf8_lossy(&stty.stdout).into_owned();
            if settings.split_whitespace().any(|s| s == "-icanon") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{tty} did not go raw: {settings}\nthe screen shows:\n{}",
                self.screen()
            );
            std::thread::sleep(POLL);
        }
    }

    /// The pids of the processes the pane's shell runs now (its children).
    pub fn shell_children(&self) -> Vec<i32> {
        let out = self.ok(
            self.tmux()
                .args(["display-message", "-p", "-t", "t", "#{pane_pid}"]),
            "display-message",
        );
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// Closes the window, as a person closing the terminal does: its programs get
    /// SIGHUP.
    pub fn close(&self) {
        self.ok(self.tmux().args(["kill-window", "-t", "t"]), "kill-window");
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}
