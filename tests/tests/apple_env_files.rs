//! The Apple backend's env files, through the real `berth` binary and the
//! `container` double: an `exec` stopped with SIGTERM leaves no env file, and what
//! a killed berth process left behind is swept by `berth gc`. That `berth gc`
//! sweeps every sandbox the double runs (other tests' too), so its test is ignored
//! by a plain `cargo test` or `cargo nextest run` and run alone by scripts/test.sh.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::{Scratch, apple_double, require_engine, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const IMAGE: &str = "berth-test/busybox:latest";

/// A test's scratch area, with a `tmp/` that is berth's `$TMPDIR`.
struct Apple {
    scratch: Scratch,
}

impl Apple {
    fn new(case: &str) -> Self {
        let scratch = Scratch::new(&format!("appleenv-{case}"));
        std::fs::create_dir_all(scratch.dir().join("tmp")).expect("create scratch dir");
        Self { scratch }
    }

    fn berth(&self) -> Command {
        let mut cmd = self.scratch.berth();
        // An env file must be in neither the state directory nor $TMPDIR.
        cmd.env("TMPDIR", self.scratch.dir().join("tmp"))
            .env("BERTH_RUNTIME", "apple")
            .env("BERTH_APPLE_CONTAINER", apple_double());
        cmd
    }

    fn env_dir(&self) -> PathBuf {
        self.scratch.state().join("berth/apple-env")
    }

    /// What is in the env directory and in $TMPDIR.
    fn env_dir_entries(&self) -> Vec<PathBuf> {
        [self.env_dir(), self.scratch.dir().join("tmp")]
            .iter()
            .flat_map(|dir| {
                std::fs::read_dir(dir)
                    .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Starts a detached sandbox and returns its name.
    fn sandbox(&self) -> String {
        let config = self
            .scratch
            .write_config("berth.toml", &format!("image = \"{IMAGE}\"\n"));
        let out = run(self
            .berth()
            .args(["run", "-d", "-f"])
            .arg(&config)
            .args(["--", "sleep", "120"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

#[test]
fn a_sigtermed_exec_leaves_no_env_file() {
    require_engine();
    let s = Apple::new("term");
    let name = s.sandbox();
    // At once (before the CLI may have opened its FIFO), and mid-session.
    for delay_ms in [0u64, 20, 1500] {
        let child = s
            .berth()
            .args(["exec", "-e", "EXEC_TOKEN=s3cr3t-exec", &name, "--"])
            .args(["sh", "-c", "test -n \"$EXEC_TOKEN\" && sleep 30"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth exec");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        kill(pid, Signal::SIGTERM).expect("signal berth");
        let out = child.wait_with_output().expect("wait");
        let by_signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
        assert!(
            out.status.code() == Some(143) || by_signal == Some(15),
            "SIGTERM after {delay_ms} ms: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if delay_ms > 0 {
            assert_eq!(out.status.code(), Some(143), "SIGTERM after {delay_ms} ms");
        }
        assert!(
            s.env_dir_entries().is_empty(),
            "SIGTERM after {delay_ms} ms left {:?}",
            s.env_dir_entries()
        );
    }
    run(s.berth().args(["rm", "-f", &name]));
}

#[test]
#[ignore = "its `berth gc` sweeps every sandbox the `container` double runs on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(apple_env_files)'`"]
fn gc_sweeps_env_files_that_killed_processes_left() {
    require_engine();
    let s = Apple::new("sweep");
    std::fs::create_dir_all(s.env_dir()).expect("env dir");
    // A pid above the kernel's limit never runs; this test's own pid does.
    let dead = s.env_dir().join("4294967-00000000deadbeef.env");
    let live = s
        .env_dir()
        .join(format!("{}-00000000000a11fe.env", std::process::id()));
    for path in [&dead, &live] {
        std::fs::write(path, "TOKEN=left-behind\n").expect("write");
    }
    let out = run(s.berth().args(["gc", "--runtime", "apple"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dead.exists(), "gc kept a dead process's env file");
    assert!(live.exists(), "gc removed a running process's env file");
}
