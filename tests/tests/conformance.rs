//! The conformance suite: one set of behaviours, written once in `cases`, and
//! instantiated for every backend by `conformance!`. Each case drives the built
//! `berth` binary as a user would, against the real engine, and checks from outside
//! (with the engine's own CLI) that nothing is left behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{leftovers, require_engine, run};

/// The local busybox image built by scripts/build-test-images.sh.
const IMAGE: &str = "berth-test/busybox:latest";

/// One backend under test (a runtime, with keys that pick one of its paths).
pub struct Backend {
    /// Names the backend's sandboxes apart from another on the same runtime.
    label: &'static str,
    runtime: &'static str,
    /// `[sandbox]` keys every case's config gets.
    sandbox: &'static str,
    /// The exec path `berth ps` reports for its running sandboxes.
    exec: &'static str,
    /// The OCI runtime label it puts on sandboxes ("" for none).
    oci: &'static str,
    /// Whether its logs merge stderr into stdout (Apple keeps one log).
    merged_logs: bool,
}

/// A case's scratch area (its state directory, berth.toml and any workspace, and
/// a guard removing everything labelled with its sandbox's name).
pub struct Scratch(berth_tests::Scratch, &'static str);

impl std::ops::Deref for Scratch {
    type Target = berth_tests::Scratch;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Scratch {
    fn new(backend: &Backend, case: &str) -> Self {
        Self(
            berth_tests::Scratch::new(&format!("conf-{}-{case}", backend.label)),
            backend.sandbox,
        )
    }

    /// Writes berth.toml with `[sandbox] name` and `image` set and the
    /// backend's keys, plus `extra`.
    fn config(&self, extra: &str) -> PathBuf {
        self.write_config(
            "berth.toml",
            &format!("image = \"{IMAGE}\"\n{}{extra}", self.1),
        )
    }
}

impl Backend {
    /// `berth` on this backend, with the scratch area's state.
    fn berth(&self, s: &Scratch) -> Command {
        let mut cmd = s.berth();
        cmd.env("BERTH_RUNTIME", self.runtime);
        if self.runtime == "apple" {
            // Apple's backend, driving the `container` double built next to berth,
            // which runs the containers on the local engine.
            cmd.env("BERTH_APPLE_CONTAINER", berth_tests::apple_double());
        }
        cmd
    }

    /// `berth run --rm -f CONFIG -- sh -c SCRIPT`, returning the output.
    fn run_sh(&self, s: &Scratch, config: &Path, script: &str) -> std::process::Output {
        run(self
            .berth(s)
            .args(["run", "--rm", "-f"])
            .arg(config)
            .args(["--", "sh", "-c", script]))
    }

    /// Starts a detached sandbox that sleeps, and returns its name.
    fn detached(&self, scratch: &Scratch, extra: &str) -> String {
        let config = scratch.config(extra);
        let out = run(self
            .berth(scratch)
            .args(["run", "-d", "--name", scratch.name(), "-f"])
            .arg(&config)
            .args(["--", "sleep", "3600"]));
        assert_ok(&out, "berth run -d");
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(printed, scratch.name(), "run -d prints the sandbox's name");
        printed
    }
}

fn assert_ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn inspect_labels(name: &str) -> serde_json::Value {
    let out =
        run(berth_tests::docker().args(["inspect", "--format", "{{json .Config.Labels}}", name]));
    assert_ok(&out, "docker inspect");
    serde_json::from_slice(&out.stdout).expect("labels JSON")
}

mod cases {
    use super::*;

    pub fn exit_code_passes_through(b: &Backend) {
        let s = Scratch::new(b, "exit");
        let config = s.config("");
        let out = b.run_sh(&s, &config, "echo out; echo err >&2; exit 7");
        assert_eq!(
            out.status.code(),
            Some(7),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), "out\n");
        assert!(String::from_utf8_lossy(&out.stderr).contains("err\n"));
        s.assert_clean();
    }

    pub fn env_and_secrets(b: &Backend) {
        let s = Scratch::new(b, "env");
        let config = s.config(
            "\n[env]\nGREETING = \"hello world\"\n\n[secrets]\nnames = [\"CONF_SECRET_TOKEN\"]\n",
        );
        // A host secret is a danger: refused (exit 3, nothing created) until
        // acknowledged outside the config.
        let refused = run(b
            .berth(&s)
            .env("CONF_SECRET_TOKEN", "s3cr3t-value")
            .args(["run", "--rm", "-f"])
            .arg(&config)
            .args(["--", "true"]));
        assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("[host-secret]"),
            "{}",
            stderr(&refused)
        );
        assert!(stderr(&refused).contains("--allow host-secret"));
        s.assert_clean();
        let out = run(b
            .berth(&s)
            .env("CONF_SECRET_TOKEN", "s3cr3t-value")
            .args(["run", "--rm", "--allow", "host-secret", "-f"])
            .arg(&config)
            .args(["--", "sh", "-c", "echo \"$GREETING|$CONF_SECRET_TOKEN\""]));
        assert_ok(&out, "run with env");
        assert_eq!(stdout(&out), "hello world|s3cr3t-value\n");
        // The plan names the secret, never its value.
        let plan = run(b
            .berth(&s)
            .env("CONF_SECRET_TOKEN", "s3cr3t-value")
            .args(["plan", "--format", "json", "-f"])
            .arg(&config));
        assert_ok(&plan, "plan");
        assert!(stdout(&plan).contains("CONF_SECRET_TOKEN"));
        assert!(!stdout(&plan).contains("s3cr3t-value"));
        // A required secret that is unset is refused before anything is created.
        let refused = run(b
            .berth(&s)
            .env_remove("CONF_SECRET_TOKEN")
            .args(["run", "--rm", "--allow", "host-secret", "-f"])
            .arg(&config)
            .args(["--", "true"]));
        assert_eq!(refused.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("CONF_SECRET_TOKEN"));
        s.assert_clean();
    }

    pub fn workdir_and_user(b: &Backend) {
        let s = Scratch::new(b, "user");
        let config = s.config("workdir = \"/tmp\"\nuser = \"1000:1000\"\n");
        let out = b.run_sh(&s, &config, "pwd; id -u; id -g");
        assert_ok(&out, "run");
        assert_eq!(stdout(&out), "/tmp\n1000\n1000\n");
        s.assert_clean();
    }

    pub fn workspace_read_only_and_read_write(b: &Backend) {
        let s = Scratch::new(b, "ws");
        let ws = s.dir().join("ws");
        std::fs::create_dir_all(&ws).expect("mkdir ws");
        std::fs::write(ws.join("input.txt"), "from the host\n").expect("write");
        // The sandbox runs as berth's non-root user (1000:1000) by default, which
        // may not be whoever runs the tests: let any user write the workspace.
        std::fs::set_permissions(&ws, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod ws");
        let ro = s.config(&format!(
            "\n[workspace]\npath = \"{}\"\nmount = \"/work\"\nread_only = true\n",
            ws.display()
        ));
        let out = b.run_sh(
            &s,
            &ro,
            "cat /work/input.txt; touch /work/new 2>/dev/null && echo wrote || echo refused",
        );
        assert_ok(&out, "read-only run");
        assert_eq!(stdout(&out), "from the host\nrefused\n");
        assert!(!ws.join("new").exists());

        let rw = s.config(&format!(
            "\n[workspace]\npath = \"{}\"\nmount = \"/work\"\n",
            ws.display()
        ));
        let out = b.run_sh(&s, &rw, "echo from the sandbox > /work/new && echo wrote");
        assert_ok(&out, "read-write run");
        assert_eq!(stdout(&out), "wrote\n");
        assert_eq!(
            std::fs::read_to_string(ws.join("new")).expect("file written inside"),
            "from the sandbox\n"
        );
        s.assert_clean();
    }

    pub fn network_none_has_only_loopback(b: &Backend) {
        let s = Scratch::new(b, "netnone");
        let config = s.config("\n[network]\npolicy = \"none\"\n");
        let out = b.run_sh(&s, &config, "ls /sys/class/net | sort | tr '\\n' ' '");
        assert_ok(&out, "run");
        assert_eq!(stdout(&out).trim(), "lo");
        s.assert_clean();
    }

    pub fn labels_and_listing(b: &Backend) {
        let s = Scratch::new(b, "labels");
        let name = b.detached(&s, "");
        let labels = inspect_labels(&name);
        assert_eq!(labels["berth.managed-by"], "berth");
        assert_eq!(labels["berth.role"], "agent");
        assert_eq!(labels["berth.runtime"], b.runtime);
        if b.oci.is_empty() {
            assert!(labels.get("berth.oci-runtime").is_none());
        } else {
            assert_eq!(labels["berth.oci-runtime"], b.oci);
        }
        assert_eq!(labels["berth.sandbox"], s.name());
        let run_id = labels["berth.run-id"]
            .as_str()
            .expect("run id label")
            .to_owned();
        assert_eq!(run_id.len(), 12);

        let ps = run(b.berth(&s).args(["ps", "--format", "json"]));
        assert_ok(&ps, "ps");
        let list: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps JSON");
        let entry = list
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not in ps: {list}"))
            .clone();
        assert_eq!(entry["state"], "running");
        assert_eq!(entry["run_id"], run_id.as_str());
        assert_eq!(entry["runtime"], b.runtime);
        if b.oci.is_empty() {
            assert!(entry["oci_runtime"].is_null());
        } else {
            assert_eq!(entry["oci_runtime"], b.oci);
        }

        let rm = run(b.berth(&s).args(["rm", "-f", &name]));
        assert_ok(&rm, "rm -f");
        s.assert_clean();
        let (c, n, v) = leftovers(&format!("berth.run-id={run_id}"));
        assert!(c.is_empty() && n.is_empty() && v.is_empty());
    }

    pub fn exec_stdin_is_byte_exact(b: &Backend) {
        let s = Scratch::new(b, "bytes");
        let name = b.detached(&s, "");
        for size in [1 << 20, 64 << 20] {
            exec_cat(b, &s, &name, size);
        }
        run(b.berth(&s).args(["rm", "-f", &name]));
        s.assert_clean();
    }

    /// `size` pseudo-random bytes (every byte value included) through `exec -i
    /// NAME cat` come back identical, and closing stdin ends `cat`.
    fn exec_cat(b: &Backend, s: &Scratch, name: &str, size: usize) {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut child = b
            .berth(s)
            .args(["exec", "-i", name, "--", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth exec");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = {
            let data = data.clone();
            std::thread::spawn(move || {
                stdin.write_all(&data).expect("write stdin");
                // Dropping stdin closes it: cat must see EOF and exit.
            })
        };
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer");
        assert_ok(&out, "exec -i cat");
        assert_eq!(
            out.stdout.len(),
            data.len(),
            "length differs ({size} bytes sent)"
        );
        assert!(out.stdout == data, "bytes differ ({size} bytes sent)");
    }

    /// `berth ps` names the exec path of a running sandbox, and exec takes it:
    /// a process berth-init starts is its child (parent PID 1); one the engine
    /// starts comes from outside the sandbox's PID namespace (parent 0).
    pub fn exec_takes_the_path_ps_reports(b: &Backend) {
        let s = Scratch::new(b, "path");
        let name = b.detached(&s, "");
        let out = run(b.berth(&s).args(["ps", "--format", "json"]));
        let entry = berth_tests::ps_entry(&out, &name);
        assert_eq!(entry["exec"], b.exec, "{entry}");
        let out = run(b
            .berth(&s)
            .args(["exec", &name, "--", "sh", "-c", "echo $PPID"]));
        assert_ok(&out, "exec echo $PPID");
        let parent = if b.exec == "init" { "1\n" } else { "0\n" };
        if b.runtime != "apple" {
            assert_eq!(stdout(&out), parent, "the exec's parent");
        }
        // Another user always takes the engine's exec.
        let out = run(b.berth(&s).args([
            "exec",
            "-u",
            "0",
            &name,
            "--",
            "sh",
            "-c",
            "id -u; echo $PPID",
        ]));
        assert_ok(&out, "exec -u 0");
        if b.runtime != "apple" {
            assert_eq!(stdout(&out), "0\n0\n", "exec -u 0 goes through the engine");
        }
        run(b.berth(&s).args(["rm", "-f", &name]));
        s.assert_clean();
    }

    pub fn exec_exit_codes_workdir_and_env(b: &Backend) {
        let s = Scratch::new(b, "exec");
        let name = b.detached(&s, "");
        let out = run(b
            .berth(&s)
            .args(["exec", &name, "--", "sh", "-c", "exit 3"]));
        assert_eq!(out.status.code(), Some(3));
        let out = run(b.berth(&s).args(["exec", &name, "--", "/no/such/binary"]));
        let code = out.status.code();
        assert!(
            matches!(code, Some(126 | 127)),
            "missing binary gave {code:?}"
        );
        let env_file = s.dir().join("env");
        std::fs::write(&env_file, "# comment\nFROM_FILE=file value\n").expect("write env file");
        let out = run(b
            .berth(&s)
            .args(["exec", "-w", "/etc", "-e", "ONE=1", "--env-file"])
            .arg(&env_file)
            .args([&name, "--", "sh", "-c", "pwd; echo \"$ONE|$FROM_FILE\""]));
        assert_ok(&out, "exec -w -e");
        assert_eq!(stdout(&out), "/etc\n1|file value\n");
        let out = run(b
            .berth(&s)
            .args(["exec", "no-such-sandbox-anywhere", "--", "true"]));
        assert_eq!(out.status.code(), Some(8));
        run(b.berth(&s).args(["rm", "-f", &name]));
        s.assert_clean();
    }

    pub fn logs_stop_and_rm(b: &Backend) {
        let s = Scratch::new(b, "logs");
        let config = s.config("");
        let out = run(b
            .berth(&s)
            .args(["run", "-d", "--name", s.name(), "-f"])
            .arg(&config)
            .args([
                "--",
                "sh",
                "-c",
                "echo line1; echo line2 >&2; echo line3; exec sleep 3600",
            ]));
        assert_ok(&out, "run -d");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let logs = run(b.berth(&s).args(["logs", s.name()]));
            assert_ok(&logs, "logs");
            if b.merged_logs && stdout(&logs).lines().count() == 3 {
                let mut lines: Vec<String> = stdout(&logs).lines().map(str::to_owned).collect();
                lines.sort();
                assert_eq!(lines, ["line1", "line2", "line3"]);
                break;
            }
            if !b.merged_logs && stdout(&logs) == "line1\nline3\n" {
                assert_eq!(String::from_utf8_lossy(&logs.stderr), "line2\n");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "logs never showed the lines: {}",
                stdout(&logs)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The engine copies stdout and stderr separately, so which of line2 and
        // line3 is last in its log is not fixed: --tail 1 gives exactly one of them.
        let tail = run(b.berth(&s).args(["logs", "--tail", "1", s.name()]));
        let both = format!("{}{}", stdout(&tail), String::from_utf8_lossy(&tail.stderr));
        assert!(
            both == "line3\n" || both == "line2\n",
            "--tail 1 gave {both:?}"
        );
        let rm = run(b.berth(&s).args(["rm", s.name()]));
        assert_eq!(
            rm.status.code(),
            Some(2),
            "rm of a running sandbox without -f is refused"
        );
        let stop = run(b.berth(&s).args(["stop", "-t", "1", s.name()]));
        assert_ok(&stop, "stop");
        let ps = run(b.berth(&s).args(["ps", "--all", "--format", "json"]));
        let list: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps JSON");
        let entry = list
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["name"] == s.name())
            .expect("stopped sandbox listed with --all")
            .clone();
        assert_eq!(entry["state"], "exited");
        let running = run(b.berth(&s).args(["ps", "--format", "json"]));
        assert!(
            !stdout(&running).contains(s.name()),
            "ps without --all lists running only"
        );
        let rm = run(b.berth(&s).args(["rm", s.name()]));
        assert_ok(&rm, "rm");
        s.assert_clean();
        let again = run(b.berth(&s).args(["rm", s.name()]));
        assert_eq!(
            again.status.code(),
            Some(8),
            "a removed sandbox is not found"
        );
    }

    pub fn image_missing_leaves_nothing(b: &Backend) {
        let s = Scratch::new(b, "noimage");
        let config = s.config("");
        let out = run(b.berth(&s).args(["run", "--rm", "-f"]).arg(&config).args([
            "berth-test/does-not-exist:1",
            "--",
            "true",
        ]));
        assert_eq!(
            out.status.code(),
            Some(6),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("berth-test/does-not-exist:1"));
        s.assert_clean();
    }

    pub fn pinned_name_conflict(b: &Backend) {
        let s = Scratch::new(b, "conflict");
        let name = b.detached(&s, "");
        let config = s.config("");
        let out = run(b
            .berth(&s)
            .args(["run", "-d", "--name", &name, "-f"])
            .arg(&config)
            .args(["--", "true"]));
        assert_eq!(
            out.status.code(),
            Some(7),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (c, _, _) = leftovers(&format!("berth.sandbox={}", s.name()));
        assert_eq!(c.len(), 1, "the failed launch removed only what it created");
        run(b.berth(&s).args(["rm", "-f", &name]));
        s.assert_clean();
    }

    /// SIGINT at several points of a foreground `--rm` launch leaves nothing.
    pub fn interrupted_launch_leaves_nothing(b: &Backend) {
        let s = Scratch::new(b, "sigint");
        let config = s.config("");
        for delay_ms in [0u64, 30, 80, 150, 250, 400, 700, 1200, 2500] {
            let child = b
                .berth(&s)
                .args(["run", "--rm", "-f"])
                .arg(&config)
                .args(["--", "sleep", "30"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            std::thread::sleep(Duration::from_millis(delay_ms));
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let started = Instant::now();
            let out = child.wait_with_output().expect("wait");
            assert!(started.elapsed() < Duration::from_secs(60));
            let code = out.status.code();
            let by_signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
            assert!(
                code == Some(130) || by_signal == Some(2),
                "SIGINT after {delay_ms} ms: {:?}, stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            s.assert_clean();
        }
    }
}

/// Cases for terminals and `logs -f`.
mod tty_and_follow {
    use super::*;

    /// Runs `cmd` with `input` on its stdin (a pipe, not a terminal; written a
    /// second after the start, as a person types, and kept open), failing when it
    /// takes longer than 60 s (killing it).
    fn within_a_minute(cmd: &mut Command, input: &[u8], what: &str) -> std::process::Output {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth");
        // Open until the end: what a tty session does at end of input is not
        // what these cases check.
        let mut stdin = child.stdin.take().expect("stdin");
        if !input.is_empty() {
            std::thread::sleep(Duration::from_secs(1));
            stdin.write_all(input).expect("write stdin");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "{what} did not end within 60 s; stdout: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(stdin);
        child.wait_with_output().expect("wait")
    }

    /// The script a terminal case runs: reads a line, then says whether its
    /// stdin is a terminal.
    const TTY_SCRIPT: &str =
        "read line; if test -t 0; then echo \"tty:$line\"; else echo \"pipe:$line\"; fi";

    /// `run -i -t` and `exec -i -t` give the process a terminal, even when berth's
    /// own stdin is a pipe.
    pub fn run_and_exec_with_a_terminal(b: &Backend) {
        let s = Scratch::new(b, "tty");
        let config = s.config("");
        let out = within_a_minute(
            b.berth(&s)
                .args(["run", "--rm", "-i", "-t", "-f"])
                .arg(&config)
                .args(["--", "sh", "-c", TTY_SCRIPT]),
            b"hello\n",
            "run -i -t",
        );
        assert_ok(&out, "run -i -t");
        assert!(stdout(&out).contains("tty:hello"), "{}", stdout(&out));
        s.assert_clean();
        let name = b.detached(&s, "");
        let out = within_a_minute(
            b.berth(&s)
                .args(["exec", "-i", "-t", &name, "--", "sh", "-c", TTY_SCRIPT]),
            b"again\n",
            "exec -i -t",
        );
        assert_ok(&out, "exec -i -t");
        assert!(stdout(&out).contains("tty:again"), "{}", stdout(&out));
        assert_ok(&run(b.berth(&s).args(["rm", "-f", &name])), "rm -f");
        s.assert_clean();
    }

    /// `logs -f` prints what the sandbox prints and ends when it stops.
    pub fn logs_follow_ends_when_the_sandbox_stops(b: &Backend) {
        let s = Scratch::new(b, "follow");
        let config = s.config("");
        let out = run(b
            .berth(&s)
            .args(["run", "-d", "--name", s.name(), "-f"])
            .arg(&config)
            .args(["--", "sh", "-c", "echo first; sleep 3; echo second"]));
        assert_ok(&out, "run -d");
        let follow = within_a_minute(b.berth(&s).args(["logs", "-f", s.name()]), b"", "logs -f");
        assert_ok(&follow, "logs -f");
        let lines: Vec<&str> = std::str::from_utf8(&follow.stdout)
            .expect("utf-8")
            .lines()
            .collect();
        assert_eq!(lines, ["first", "second"]);
        // The engine may still be recording the stop: -f.
        assert_ok(&run(b.berth(&s).args(["rm", "-f", s.name()])), "rm -f");
        s.assert_clean();
    }
}

macro_rules! conformance {
    ($($backend:ident => ($runtime:literal, $oci:literal, $merged:literal, $sandbox:literal, $exec:literal)),* $(,)?) => {$(
        mod $backend {
            use super::{cases, require_engine, Backend};

            const BACKEND: Backend = Backend {
                label: stringify!($backend),
                runtime: $runtime,
                oci: $oci,
                merged_logs: $merged,
                sandbox: $sandbox,
                exec: $exec,
            };

            conformance!(@cases
                exit_code_passes_through,
                env_and_secrets,
                workdir_and_user,
                workspace_read_only_and_read_write,
                network_none_has_only_loopback,
                labels_and_listing,
                exec_stdin_is_byte_exact,
                exec_exit_codes_workdir_and_env,
                exec_takes_the_path_ps_reports,
                logs_stop_and_rm,
                image_missing_leaves_nothing,
                pinned_name_conflict,
                interrupted_launch_leaves_nothing,
            );
            conformance!(@more
                run_and_exec_with_a_terminal,
                logs_follow_ends_when_the_sandbox_stops,
            );
        }
    )*};
    (@more $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            require_engine();
            super::tty_and_follow::$case(&BACKEND);
        }
    )*};
    (@cases $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            require_engine();
            cases::$case(&BACKEND);
        }
    )*};
}

conformance! {
    // Exec through berth-init's socket.
    docker => ("docker", "runc", false, "", "init"),
    // The same cases through the engine's exec.
    docker_engine_exec => ("docker", "runc", false, "init = false\n", "engine"),
    gvisor => ("gvisor", "runsc", false, "", "engine"),
    apple => ("apple", "", true, "", "engine"),
}
