//! Secret values never reach berth's output, whatever `BERTH_LOG` asks for: the
//! real `berth` binary runs a sandbox that receives a secret, with every log level
//! and the HTTP client crates' own targets turned up, and the value must appear in
//! neither stdout nor stderr while the sandbox proves it got it.

use std::process::Output;

use berth_tests::{Scratch, apple_double, require_engine, run};

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

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn secret_never_logged(runtime: &str) {
    require_engine();
    let s = Scratch::new(&format!("secretlog-{runtime}"));
    let config = s.write_config(
        "berth.toml",
        &format!("image = \"{IMAGE}\"\n\n[secrets]\nnames = [\"BERTH_LOG_CANARY\"]\n"),
    );
    let value = format!("canary-{}-{}", std::process::id(), s.name().len() * 7919);
    // The sandbox shows that it received the value without printing it (nor
    // putting it on a command line berth logs): it prints it upper-cased.
    let script = "echo \"$BERTH_LOG_CANARY\" | tr a-z A-Z";
    let shouted = value.to_uppercase();
    for setting in LOG_SETTINGS {
        let mut cmd = s.berth();
        cmd.env("BERTH_LOG", setting)
            .env("RUST_LOG", "trace")
            .env("BERTH_LOG_CANARY", &value)
            .env("BERTH_RUNTIME", runtime)
            .args(["run", "--rm", "--allow", "host-secret", "-f"])
            .arg(&config)
            .args(["--", "sh", "-c", script]);
        if runtime == "apple" {
            cmd.env("BERTH_APPLE_CONTAINER", apple_double());
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
