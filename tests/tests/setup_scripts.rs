//! The scripts that build berth stop first thing, with what to install, when the
//! Rust toolchain the workspace needs is missing or too old. The check itself is
//! run here; the scripts are only read (past the check they set up the engine).

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_tests::{describe, run};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace's `rust-version`, read from its Cargo.toml.
fn rust_version() -> String {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let value: toml::Value = toml::from_str(&manifest).expect("TOML");
    value["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("rust-version")
        .to_owned()
}

/// `require_rust` of scripts/require-rust.sh, run by bash with only `bin` (then
/// /usr/bin and /bin) on PATH. The scripts themselves are not run: past the check
/// they install packages and start the engine.
fn require_rust(bin: &Path) -> std::process::Output {
    run(Command::new("/bin/bash")
        .arg("-c")
        .arg(". scripts/require-rust.sh && require_rust && echo passed")
        .current_dir(root())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("CARGO")
        .env_remove("RUSTC"))
}

/// A directory holding `cargo` and a `rustc` that says it is `version`.
fn fake_toolchain(dir: &Path, version: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    for (name, body) in [
        (
            "rustc",
            format!("#!/bin/sh\necho 'rustc {version} (0000000 2020-01-01)'\n"),
        ),
        ("cargo", "#!/bin/sh\nexit 0\n".to_owned()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn every_script_that_builds_checks_the_toolchain_first() {
    for script in [
        "scripts/test.sh",
        "scripts/quickstart.sh",
        "scripts/build-helper.sh",
    ] {
        let text = std::fs::read_to_string(root().join(script)).expect("script");
        let commands: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(
            commands.get(1..4),
            Some(
                &[
                    "cd \"$(dirname \"$0\")/..\"",
                    ". scripts/require-rust.sh",
                    "require_rust"
                ][..]
            ),
            "{script}: the toolchain check comes before anything else"
        );
    }
}

#[test]
fn a_missing_cargo_stops_with_what_to_install() {
    assert!(
        !Path::new("/usr/bin/cargo").exists() && !Path::new("/bin/cargo").exists(),
        "this test needs a host whose cargo is not in /usr/bin or /bin"
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let out = require_rust(empty.path());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "berth needs a Rust toolchain of version {} or newer, and cargo is not on PATH.",
            rust_version()
        )) && stderr.contains("https://rustup.rs"),
        "{stderr}"
    );
}

#[test]
fn a_toolchain_older_than_the_workspace_needs_is_refused() {
    let bin = tempfile::tempdir().expect("tempdir");
    fake_toolchain(bin.path(), "1.63.0");
    let out = require_rust(bin.path());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!(
            "berth needs Rust {} or newer; this rustc is 1.63.0.",
            rust_version()
        )),
        "{}",
        describe(&out)
    );
    fake_toolchain(bin.path(), "99.0.0");
    let newer = require_rust(bin.path());
    assert_eq!(
        String::from_utf8_lossy(&newer.stdout),
        "passed\n",
        "{}",
        describe(&newer)
    );
}
