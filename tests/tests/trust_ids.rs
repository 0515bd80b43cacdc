//! The trust boundary of run ids, through the CLI against the real engine: labels
//! are input from outside (an image's own `LABEL`s are copied onto every container
//! run from it), so a container that carries `berth.managed-by=berth` with a
//! missing or malformed run id is foreign and never acted on, no label becomes a
//! path, berth's own containers carry berth's label values whatever the image
//! says, and corrupt run records are shown and kept.
//!
//! Each test uses its own temporary directory holding its `XDG_STATE_HOME`, a
//! workspace, and (for the path test) a canary directory outside the state; every
//! container and image it makes is removed by a guard, even on failure. The tests
//! that run `berth gc` sweep every berth run on the engine, so they are ignored by
//! a plain `cargo test` or `cargo nextest run` and run alone by scripts/test.sh.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use berth_tests::{Scratch, docker, ps_entries, require_engine, run};

/// A test's scratch area (its state directory, removed on drop) with the
/// workspace's berth.toml in `work/`.
struct Case {
    scratch: Scratch,
    config: PathBuf,
}

impl Case {
    fn new(test: &str) -> Self {
        let scratch = Scratch::new(&format!("trust-{test}"));
        let config =
            scratch.write_config("work/berth.toml", "image = \"berth-test/busybox:latest\"\n");
        Self { scratch, config }
    }

    fn runs(&self) -> PathBuf {
        self.scratch.runs()
    }

    /// `berth ARGS` with this test's state; output and exit code.
    fn berth(&self, args: &[&str]) -> Output {
        run(self.scratch.berth().args(args))
    }

    /// `berth run -d` of `sleep 3600` (from `image` when given); returns the
    /// sandbox's name and run id.
    fn detached_run(&self, image: Option<&str>) -> (String, String) {
        let mut args = vec![
            "run",
            "-d",
            "--runtime",
            "docker",
            "-f",
            self.config.to_str().expect("utf-8 path"),
        ];
        args.extend(image);
        args.extend(["--", "sleep", "3600"]);
        let out = self.berth(&args);
        assert!(out.status.success(), "berth run -d: {}", text(&out.stderr));
        let name = text(&out.stdout).trim().to_owned();
        let list = ps_entries(&self.berth(&["ps", "--format", "json"]));
        let run_id = list
            .iter()
            .find(|e| e["name"] == name.as_str())
            .and_then(|e| e["run_id"].as_str())
            .unwrap_or_else(|| panic!("{name} is not listed: {list:?}"))
            .to_owned();
        (name, run_id)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A container started with plain `docker run` (and the image it was built from,
/// if the test built one); both removed on drop.
struct Foreign {
    container: String,
    image: Option<String>,
}

impl Foreign {
    /// Builds `berth-test/<tag>` FROM the busybox test image with `labels`.
    fn image(tag: &str, labels: &str) -> String {
        let image = format!("berth-test/{tag}:latest");
        let dockerfile = format!("FROM berth-test/busybox:latest\nLABEL {labels}\n");
        let mut child = docker()
            .args(["build", "-q", "-t", &image, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn docker build");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(dockerfile.as_bytes())
                .expect("write the Dockerfile");
        }
        let out = child.wait_with_output().expect("docker build");
        assert!(out.status.success(), "docker build: {}", text(&out.stderr));
        image
    }

    /// Guards container `name` and, when `owned_image`, the image.
    fn guard(name: &str, image: &str, owned_image: bool) -> Self {
        Self {
            container: name.to_owned(),
            image: owned_image.then(|| image.to_owned()),
        }
    }

    /// `docker run -d --name NAME [EXTRA...] IMAGE sleep 3600`.
    fn start(&self, image: &str, extra: &[&str]) {
        let out = run(docker()
            .args(["run", "-d", "--name", &self.container])
            .args(extra)
            .args([image, "sleep", "3600"]));
        assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    }

    /// Whether the container is still running, with the labels it started with.
    fn running_with(&self, key: &str) -> (bool, Option<String>) {
        let out = run(docker().args([
            "inspect",
            "--format",
            &format!("{{{{.State.Running}}}} {{{{index .Config.Labels \"{key}\"}}}}"),
            &self.container,
        ]));
        if !out.status.success() {
            return (false, None);
        }
        let line = text(&out.stdout);
        let (running, value) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        (running == "true", Some(value.to_owned()))
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        run(docker().args(["rm", "-f", &self.container]));
        if let Some(image) = &self.image {
            run(docker().args(["rmi", "-f", image]));
        }
    }
}

/// Inspects one label of a container.
fn label_of(container: &str, key: &str) -> String {
    let out = run(docker().args([
        "inspect",
        "--format",
        &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
        container,
    ]));
    assert!(
        out.status.success(),
        "docker inspect: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "its `berth gc` sweeps every berth run on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(trust_ids)'`"]
fn a_run_id_label_that_is_a_path_deletes_nothing_and_the_container_is_left_alone() {
    require_engine();
    let scratch = Case::new("path");
    // The canary sits next to the state directory: `runs/../../../<canary>`.
    let canary_name = format!("canary-{}", std::process::id());
    let canary = scratch.scratch.dir().join(&canary_name);
    std::fs::create_dir_all(&canary).expect("mkdir canary");
    std::fs::write(canary.join("precious"), b"keep me").expect("write canary");
    assert_eq!(
        scratch.runs().join(format!("../../../{canary_name}")),
        scratch.runs().join("../../..").join(&canary_name)
    );
    let image = Foreign::image(
        &format!("impostor-path-{}", std::process::id()),
        &format!("berth.managed-by=berth berth.run-id=../../../{canary_name} berth.expires=1"),
    );
    let impostor = Foreign::guard(
        &format!("berth-test-impostor-{}", std::process::id()),
        &image,
        true,
    );
    let (live, live_id) = scratch.detached_run(None);
    // Started last: any berth on this engine that trusts labels (one built
    // without this check) would remove the expired impostor on its next command.
    impostor.start(&image, &[]);
    let record = scratch.runs().join(&live_id).join("record.json");
    assert!(record.is_file(), "{} missing", record.display());

    let ps = scratch.berth(&["ps"]);
    assert!(ps.status.success(), "ps: {}", text(&ps.stderr));
    assert!(
        !text(&ps.stdout).contains(&impostor.container),
        "{}",
        text(&ps.stdout)
    );
    let ps_all = scratch.berth(&["ps", "--all"]);
    let listed = text(&ps_all.stdout);
    let row = listed
        .lines()
        .find(|l| l.contains(&impostor.container))
        .unwrap_or_else(|| panic!("ps --all does not list the impostor:\n{listed}"));
    assert!(row.contains("foreign"), "{row}");
    assert!(listed.contains(&live), "{listed}");

    let gc = scratch.berth(&["gc"]);
    assert!(gc.status.success(), "gc: {}", text(&gc.stderr));
    let said = text(&gc.stdout);
    assert!(
        said.lines()
            .any(|l| l.starts_with("left alone container") && l.contains(&impostor.container)),
        "{said}"
    );
    for verb in ["stop", "rm"] {
        let out = scratch.berth(&[verb, &impostor.container]);
        assert_eq!(out.status.code(), Some(3), "{verb}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("is not a berth run"),
            "{verb}: {}",
            text(&out.stderr)
        );
    }
    let rm_f = scratch.berth(&["rm", "-f", &impostor.container]);
    assert_eq!(rm_f.status.code(), Some(3), "{}", text(&rm_f.stderr));
    let once = scratch.berth(&[
        "run",
        "--rm",
        "--runtime",
        "docker",
        "-f",
        scratch.config.to_str().expect("utf-8"),
        "--",
        "true",
    ]);
    assert!(once.status.success(), "run --rm: {}", text(&once.stderr));

    assert_eq!(
        std::fs::read(canary.join("precious")).ok().as_deref(),
        Some(&b"keep me"[..]),
        "the canary outside the state directory was deleted"
    );
    assert!(
        record.is_file(),
        "the live detached run's record was deleted"
    );
    assert_eq!(
        impostor.running_with("berth.run-id"),
        (true, Some(format!("../../../{canary_name}"))),
        "the foreign container was touched"
    );
    assert_eq!(mode(&scratch.runs()), 0o700);
    assert_eq!(mode(&scratch.runs().join(&live_id)), 0o700);
    assert_eq!(mode(&record), 0o600);
}

#[test]
#[ignore = "its `berth gc` sweeps every berth run on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(trust_ids)'`"]
fn a_container_without_a_run_id_wipes_no_records_and_makes_no_lock_file() {
    require_engine();
    let scratch = Case::new("no-id");
    let impostor = Foreign::guard(
        &format!("berth-test-no-id-{}", std::process::id()),
        "berth-test/busybox:latest",
        false,
    );
    let (_, live_id) = scratch.detached_run(None);
    impostor.start(
        "berth-test/busybox:latest",
        &["--label", "berth.managed-by=berth"],
    );
    let record = scratch.runs().join(&live_id).join("record.json");

    let gc = scratch.berth(&["gc"]);
    assert!(gc.status.success(), "gc: {}", text(&gc.stderr));
    assert!(
        text(&gc.stdout).contains(&format!("left alone container {}", impostor.container)),
        "{}",
        text(&gc.stdout)
    );
    let stop = scratch.berth(&["stop", &impostor.container]);
    assert_eq!(stop.status.code(), Some(3), "{}", text(&stop.stderr));
    let rm = scratch.berth(&["rm", "-f", &impostor.container]);
    assert_eq!(rm.status.code(), Some(3), "{}", text(&rm.stderr));

    assert!(record.is_file(), "the other run's record was deleted");
    assert!(
        !scratch.runs().join("lock").exists(),
        "a lock file appeared in the runs directory"
    );
    assert_eq!(
        impostor.running_with("berth.managed-by"),
        (true, Some("berth".to_owned()))
    );
}

#[test]
fn an_image_cannot_set_berth_s_labels_on_berth_s_own_containers() {
    require_engine();
    let image = Foreign::image(
        &format!("impostor-labels-{}", std::process::id()),
        "berth.managed-by=berth berth.run-id=../../../x berth.expires=1 berth.detached=false berth.owner-pid=1 berth.owner-host=0/1 berth.oci-runtime=runsc",
    );
    // Only the image is guarded here (dropped last, once the scratch area's guard
    // has removed berth's container that uses it).
    let _image = Foreign {
        container: format!("berth-test-none-{}", std::process::id()),
        image: Some(image.clone()),
    };
    let scratch = Case::new("labels");
    let (name, run_id) = scratch.detached_run(Some(&image));
    assert_eq!(run_id.len(), 12);
    assert_eq!(label_of(&name, "berth.run-id"), run_id);
    assert_eq!(label_of(&name, "berth.expires"), "never");
    assert_eq!(label_of(&name, "berth.detached"), "true");
    assert_eq!(label_of(&name, "berth.oci-runtime"), "runc");
    let pid = label_of(&name, "berth.owner-pid");
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 1), "{pid}");
    let host = label_of(&name, "berth.owner-host");
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    assert!(host.starts_with(&format!("{}/", boot_id.trim())), "{host}");
    // Not swept as expired by the next command.
    let ps = scratch.berth(&["ps"]);
    assert!(text(&ps.stdout).contains(&name), "{}", text(&ps.stdout));
    assert!(
        !text(&ps.stderr).contains("past its ttl"),
        "{}",
        text(&ps.stderr)
    );
}

#[test]
#[ignore = "its `berth gc` sweeps every berth run on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(trust_ids)'`"]
fn corrupt_records_are_shown_with_their_path_and_kept_until_asked() {
    require_engine();
    let scratch = Case::new("corrupt");
    let runs = scratch.runs();
    let garbled = runs.join("00000000c0de");
    std::fs::create_dir_all(&garbled).expect("mkdir");
    std::fs::write(garbled.join("record.json"), b"{ not json").expect("write");
    // A record copied into another run's directory names the wrong run.
    let moved = runs.join("00000000beef");
    std::fs::create_dir_all(&moved).expect("mkdir");
    std::fs::write(
        moved.join("record.json"),
        br#"{"run_id":"00000000f00d","name":"x","runtime":"docker","container_id":null,"state":"stopped","history":[],"detached":false,"owner_pid":1,"expires_at":null,"error":null,"exit_code":null}"#,
    )
    .expect("write");
    // Not a run id: never berth's to remove.
    let stray = runs.join("not-a-run");
    std::fs::create_dir_all(&stray).expect("mkdir");
    std::fs::write(stray.join("record.json"), b"{}").expect("write");

    let ps = scratch.berth(&["ps", "--all"]);
    assert!(ps.status.success(), "ps: {}", text(&ps.stderr));
    let listed = text(&ps.stdout);
    for dir in [&garbled, &moved] {
        let path = dir.join("record.json");
        assert!(
            listed.contains(&format!("corrupt run record {}", path.display())),
            "{listed}"
        );
    }
    assert!(listed.contains("names run 00000000f00d"), "{listed}");

    let gc = scratch.berth(&["gc"]);
    assert!(gc.status.success(), "gc: {}", text(&gc.stderr));
    let said = text(&gc.stdout);
    assert!(
        said.contains(&format!(
            "left alone run record {}",
            garbled.join("record.json").display()
        )),
        "{said}"
    );
    assert!(garbled.is_dir() && moved.is_dir() && stray.is_dir());

    let json = scratch.berth(&["ps", "--all", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("ps JSON");
    let row = rows
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["run_id"] == "00000000c0de")
        .unwrap_or_else(|| panic!("corrupt record not listed: {rows}"));
    assert_eq!(row["state"], "corrupt");
    assert_eq!(
        row["path"].as_str().map(PathBuf::from),
        Some(garbled.join("record.json"))
    );

    let rm = scratch.berth(&["rm", "00000000c0de"]);
    assert!(rm.status.success(), "rm: {}", text(&rm.stderr));
    assert!(!garbled.exists() && moved.is_dir());
    let gc = scratch.berth(&["gc", "--remove-corrupt"]);
    assert!(
        gc.status.success(),
        "gc --remove-corrupt: {}",
        text(&gc.stderr)
    );
    assert!(!moved.exists(), "{}", text(&gc.stdout));
    assert!(
        stray.join("record.json").is_file(),
        "a directory that is not a run id was touched"
    );
}
