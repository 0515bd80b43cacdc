//! `berth run IMAGE` checks the image argument as berth.toml's `image` is checked,
//! before any engine is asked: a value that is not a Docker reference is a usage
//! error (exit 2) that says why.

use berth_tests::{Scratch, run};

#[test]
fn an_image_argument_that_is_not_a_reference_is_refused() {
    let scratch = Scratch::new("imagearg");
    for (image, why) in [
        ("Busy Box", "whitespace"),
        ("busybox\u{1b}[2J", "control characters"),
        ("Debian:bookworm", "lowercase"),
        ("x:-tag", "a tag must start"),
    ] {
        let out = run(scratch
            .berth()
            .current_dir(scratch.dir())
            .args(["run", "--rm", image, "--", "true"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{image:?}: {stderr}");
        assert!(
            stderr.contains("is not an image reference") && stderr.contains(why),
            "{image:?}: {stderr}"
        );
    }
}
