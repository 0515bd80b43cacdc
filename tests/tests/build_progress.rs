//! What `berth run` shows while it builds the image:
//! - on stderr that is not a terminal, plain lines: the build, each step that
//!   runs with its output, and how it ended, without the builder's chatter;
//! - a build whose every step is cached is one line;
//! - `-q` says nothing;
//! - on a terminal (a tmux pane), one line that overwrites itself with a bar of
//!   the steps, which gives way to the line that says how the build ended.

use berth_tests::tmux::Pane;
use berth_tests::{Scratch, describe, docker, run};

/// Removes the image a test built, on failure too.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = docker().args(["image", "rm", "-f", &self.0]).output();
    }
}

/// A scratch area with a build context whose steps print a marker of their own
/// (so the cache of no other test holds them); returns the config's path and
/// the tag it builds.
fn setup(tag: &str) -> (Scratch, String, ImageGuard) {
    let s = Scratch::new(tag);
    let ctx = s.dir().join("ctx");
    std::fs::create_dir(&ctx).expect("mkdir ctx");
    std::fs::write(ctx.join("marker.txt"), s.name()).expect("write marker");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM berth-test/busybox:latest\nCOPY marker.txt /marker.txt\nRUN echo \"out-$(cat /marker.txt)\"\n",
    )
    .expect("write Dockerfile");
    let image = format!("berth-local/{}:latest", s.name());
    let config = s.write_config(
        "ctx/berth.toml",
        &format!("command = [\"true\"]\n[sandbox.build]\ncontext = \".\"\ntag = \"{image}\"\n"),
    );
    (s, config.display().to_string(), ImageGuard(image))
}

fn stderr_of(s: &Scratch, config: &str, extra: &[&str]) -> String {
    let out = run(s
        .berth()
        .args(["run", "--rm", "--runtime", "docker", "-f", config])
        .args(extra));
    assert!(out.status.success(), "berth run: {}", describe(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plain_lines_then_one_line_when_cached_and_none_with_q() {
    berth_tests::require_engine();
    let (s, config, image) = setup("progress-plain");
    let tag = &image.0;
    let first = stderr_of(&s, &config, &[]);
    let lines: Vec<&str> = first.lines().collect();
    assert!(
        lines[0].starts_with(&format!("berth: building {tag} from ")),
        "{first}"
    );
    for line in [
        "berth: step 2/3: COPY marker.txt /marker.txt".to_owned(),
        "berth: step 3/3: RUN echo \"out-$(cat /marker.txt)\"".to_owned(),
        format!("berth: | out-{}", s.name()),
        format!("berth: built {tag}: 2 of 3 steps ran"),
    ] {
        assert!(lines.contains(&line.as_str()), "{line:?} in:\n{first}");
    }
    for chatter in ["--->", "Successfully", "Step 1/3", "Sending build context"] {
        assert!(!first.contains(chatter), "{chatter:?} in:\n{first}");
    }

    let cached = stderr_of(&s, &config, &[]);
    assert_eq!(
        cached,
        format!("berth: {tag} is up to date: all 3 steps cached\n"),
        "a fully cached build is one line"
    );
    let quiet = stderr_of(&s, &config, &["-q"]);
    assert_eq!(quiet, "", "-q says nothing");
    s.assert_clean();
}

#[test]
fn a_terminal_gets_one_line_with_a_bar_that_gives_way_to_the_result() {
    berth_tests::require_engine();
    let (s, config, image) = setup("progress-tty");
    let tag = &image.0;
    let pane = Pane::start(&s, 160, 30);
    let log = s.dir().join("pane.log");
    pane.log_to(&log);
    pane.type_line(&format!(
        "berth run --rm --runtime docker -f {config}; echo \"code=$?\""
    ));
    let screen = pane.wait_for("code=0");
    assert!(
        screen.contains(&format!("berth: built {tag}: 2 of 3 steps ran")),
        "{screen}"
    );
    let shown: Vec<&str> = screen.lines().filter(|l| l.starts_with("berth:")).collect();
    assert_eq!(shown.len(), 1, "one line is left of the build:\n{screen}");
    let bytes = String::from_utf8_lossy(&std::fs::read(&log).expect("the pane's log")).into_owned();
    assert!(
        bytes.contains("\r\x1b[2Kberth: building"),
        "the line overwrites itself: {bytes:?}"
    );
    assert!(
        bytes.contains("  [#############-------] 3/3 RUN echo"),
        "the bar shows the steps done and the step that runs: {bytes:?}"
    );

    pane.type_line(&format!(
        "berth run --rm --runtime docker -f {config}; echo \"again=$?\""
    ));
    let screen = pane.wait_for("again=0");
    assert!(
        screen.contains(&format!("berth: {tag} is up to date: all 3 steps cached")),
        "{screen}"
    );
    s.assert_clean();
}
