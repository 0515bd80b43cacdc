//! `berth run IMAGE` checks the image argument as berth.toml's `image` is checked,
//! before any engine is asked: a value that is not a Docker reference is a usage
//! error (exit 2) that says why.

use berth_tests::{berth, run};

#[test]
fn an_image_argument_that_is_not_a_reference_is_refused() {
    let dir = std::env::temp_dir().join(format!("berth-imagearg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for (image, why) in [
        ("Busy Box", "whitespace"),
        ("busybox\u{1b}[2J", "control characters"),
        ("Debian:bookworm", "lowercase"),
        ("x:-tag", "a tag must start"),
    ] {
        let out = run(berth()
            .current_dir(&dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .args(["run", "--rm", image, "--", "true"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{image:?}: {stderr}");
        assert!(
            stderr.contains("is not an image reference") && stderr.contains(why),
            "{image:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
