//! Secret values never reach berth's output, whatever `BERTH_LOG` asks for: the
//! real `berth` binary runs a sandbox that receives a secret, with every log level
//! and the HTTP client crates' own targets turned up, and the value must appear in
//! neither stdout nor stderr while the sandbox proves it got it.

use std::path::PathBuf;
use std::process::Output;

use berth_tests::{LabelGuard, berth, berth_bin, require_engine, run};

const IMAGE: &str = "berth-test/busybox:latest";

/// The log settings tried: every level, and directives aimed at the crates that
/// see request and response bodies.
const LOG_SETTINGS: &[&str] = &[
    "trace",
    "debug",
    "bollard=trace",
    "bollard::docker=trace,bollard::read=trace",
    "hyper=trace,hyper_util=trace,hyperlocal=trace",
    "trace,bollard=trace,hyper=trace,h2=trace,tower=trace",
    "[{}]=trace",
    "log=trace,tracing=trace",
];

struct Scratch {
    dir: PathBuf,
    name: String,
    _guard: LabelGuard,
}

impl Scratch {
    fn new(case: &str) -> Self {
        let name = format!("secretlog-{case}-{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("berth-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).expect("create scratch dir");
        Self {
            _guard: LabelGuard::new("berth.sandbox", &name),
            dir,
            name,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn secret_never_logged(runtime: &str) {
    require_engine();
    let s = Scratch::new(runtime);
    let config = s.dir.join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "[sandbox]\nname = \"{}\"\nimage = \"{IMAGE}\"\n\n[secrets]\nnames = [\"BERTH_LOG_CANARY\"]\n",
            s.name
        ),
    )
    .expect("write berth.toml");
    let value = format!("canary-{}-{}", std::process::id(), s.name.len() * 7919);
    // The sandbox shows that it received the value without printing it (nor
    // putting it on a command line berth logs): it prints it upper-cased.
    let script = "echo \"$BERTH_LOG_CANARY\" | tr a-z A-Z";
    let shouted = value.to_uppercase();
    for setting in LOG_SETTINGS {
        let mut cmd = berth();
        cmd.env("BERTH_LOG", setting)
            .env("RUST_LOG", "trace")
            .env("XDG_STATE_HOME", s.dir.join("state"))
            .env("BERTH_LOG_CANARY", &value)
            .env("BERTH_RUNTIME", runtime)
            .args(["run", "--rm", "--allow", "host-secret", "-f"])
            .arg(&config)
            .args(["--", "sh", "-c", script]);
        if runtime == "apple" {
            cmd.env(
                "BERTH_APPLE_CONTAINER",
                berth_bin().with_file_name("container"),
            );
        }
        let out = run(&mut cmd);
        let all = text(&out);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&shouted),
            "BERTH_LOG={setting}: the sandbox did not receive the secret ({:?}):\n{}",
            out.status,
            all.chars().take(4000).collect::<String>()
        );
        assert!(
            !all.contains(&value),
            "BERTH_LOG={setting}: the secret's value is in berth's output"
        );
        if *setting == "trace" {
            // The setting is honoured for berth's own crates: the test would
            // prove nothing if logging were simply off.
            assert!(
                all.contains("DEBUG") || all.contains("TRACE"),
                "BERTH_LOG=trace printed no debug lines:\n{all}"
            );
        }
    }
}

#[test]
fn docker_secret_values_never_reach_the_log() {
    secret_never_logged("docker");
}

#[test]
fn apple_secret_values_never_reach_the_log() {
    secret_never_logged("apple");
}
