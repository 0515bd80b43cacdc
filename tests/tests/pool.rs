//! The warm pool through the CLI, against the real engine:
//! - `berth pool up` starts `[pool] size` members that wait on standby;
//!   `berth run` claims one, runs its command there with the run's
//!   environment and working directory, gives its output and exit code, and a
//!   replacement takes the member's place (a claimed member never returns);
//! - a command given to a claim keeps the image's entrypoint in front of it,
//!   as `docker run IMG CMD` does, and no command runs the image's own;
//! - two claims at once never get the same member;
//! - `berth pool down` removes the unclaimed members, `status` lists them;
//! - (engine-wide, ignored by default) members past their TTL and those of a
//!   filler killed part-way are removed by one `berth gc`.
//!
//! Every test waits until the background replacement is done before it ends,
//! so nothing is created on the engine after its guard has cleaned up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{Scratch, describe, docker, require_engine, run};

const BUSYBOX: &str = "berth-test/busybox:latest";

fn berth(s: &Scratch) -> Command {
    let mut cmd = s.berth();
    cmd.env("BERTH_RUNTIME", "docker");
    cmd
}

fn ok(s: &Scratch, args: &[&str], config: &Path) -> Output {
    let out = run(berth(s).args(args).arg("-f").arg(config));
    assert!(out.status.success(), "berth {args:?}: {}", describe(&out));
    out
}

/// `berth run -f CONFIG ARGS... -- COMMAND...`.
fn run_claim(s: &Scratch, config: &Path, args: &[&str], command: &[&str]) -> Output {
    let mut cmd = berth(s);
    cmd.arg("run").args(args).arg("-f").arg(config);
    if !command.is_empty() {
        cmd.arg("--").args(command);
    }
    run(&mut cmd)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The pool's members, from `berth pool status --format json`: (name, state).
fn members(s: &Scratch, config: &Path) -> Vec<(String, String)> {
    let out = ok(s, &["pool", "status", "--format", "json"], config);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status json: {e}: {}", describe(&out)));
    list.iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn ready(s: &Scratch, config: &Path) -> Vec<String> {
    members(s, config)
        .into_iter()
        .filter(|(_, state)| state == "ready")
        .map(|(name, _)| name)
        .collect()
}

/// Waits (up to 30 s) until `count` members are ready and none is starting:
/// the background replacement is done.
fn settle(s: &Scratch, config: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = members(s, config);
        let ready: Vec<String> = all
            .iter()
            .filter(|(_, state)| state == "ready")
            .map(|(n, _)| n.clone())
            .collect();
        if ready.len() == count && !all.iter().any(|(_, state)| state == "starting") {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "the pool did not settle at {count} ready members: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The engine's names of the sandbox's containers.
fn containers(s: &Scratch) -> Vec<String> {
    let out = run(docker().args([
        "ps",
        "-a",
        "--filter",
        &format!("label=berth.sandbox={}", s.name()),
        "--format",
        "{{.Names}}",
    ]));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

fn pool_config(s: &Scratch, size: u32, rest: &str) -> PathBuf {
    s.write_config(
        "berth.toml",
        &format!(
            "image = \"{BUSYBOX}\"\nworkdir = \"/tmp\"\n{rest}\n[env]\nGREETING = \"from-config\"\n\n[pool]\nsize = {size}\nttl = \"10m\"\n"
        ),
    )
}

#[test]
fn a_run_claims_a_ready_member_and_a_replacement_takes_its_place() {
    require_engine();
    let s = Scratch::new("pool-claim");
    let config = pool_config(&s, 1, "");
    let plan = ok(&s, &["plan"], &config);
    assert!(
        text(&plan.stdout).contains("pool      1 kept started"),
        "{}",
        describe(&plan)
    );
    let up = ok(&s, &["pool", "up", "--format", "json"], &config);
    let filled: serde_json::Value = serde_json::from_slice(&up.stdout).expect("pool up json");
    assert_eq!(
        filled["created"].as_array().map(Vec::len),
        Some(1),
        "{filled}"
    );
    let before = settle(&s, &config, 1);
    let member = before[0].clone();
    let ps = run(berth(&s).arg("ps"));
    let line = text(&ps.stdout)
        .lines()
        .find(|l| l.starts_with(&member))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        line.contains("(pool member, unclaimed)"),
        "{}",
        describe(&ps)
    );

    let out = run_claim(
        &s,
        &config,
        &["--rm", "-e", "EXTRA=given"],
        &[
            "sh",
            "-c",
            "echo $GREETING $EXTRA; pwd; echo to-stderr >&2; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "from-config given\n/tmp\n");
    assert!(
        text(&out.stderr).contains("to-stderr"),
        "{}",
        describe(&out)
    );
    assert!(
        !text(&out.stderr).contains("starts cold"),
        "the run claimed a member: {}",
        describe(&out)
    );

    // The claimed member is gone with --rm; a new one replaced it.
    let after = settle(&s, &config, 1);
    assert_ne!(
        after[0], member,
        "a claimed member never returns to the pool"
    );
    assert!(
        !containers(&s).contains(&member),
        "{member} was removed: {:?}",
        containers(&s)
    );

    // Without --rm the claimed run stays, stopped, with its exit code, and its
    // output is in its log.
    let member = after[0].clone();
    let out = run_claim(&s, &config, &[], &["sh", "-c", "echo kept; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    settle(&s, &config, 1);
    let logs = run(berth(&s).args(["logs", &member]));
    assert!(logs.status.success(), "{}", describe(&logs));
    assert_eq!(text(&logs.stdout), "kept\n");
    let ps = run(berth(&s).args(["ps", "-a", "--format", "json"]));
    let entry = berth_tests::ps_entry(&ps, &member);
    assert_eq!(entry["state"], "exited", "{entry}");
    // Its command ran through the claim: it cannot start again.
    let start = run(berth(&s).args(["start", &member]));
    assert_eq!(start.status.code(), Some(2), "{}", describe(&start));
    assert!(
        text(&start.stderr).contains("cannot start again"),
        "{}",
        describe(&start)
    );

    let down = ok(&s, &["pool", "down"], &config);
    assert!(
        text(&down.stdout).contains("removed"),
        "{}",
        describe(&down)
    );
    assert!(ready(&s, &config).is_empty());
    let rm = run(berth(&s).args(["rm", "-f", &member]));
    assert!(rm.status.success(), "{}", describe(&rm));
    s.assert_clean();
}

/// Removes the image tag when dropped.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = run(docker().args(["rmi", "-f", &self.0]));
    }
}

#[test]
fn a_replacement_makes_nothing_once_the_pool_is_down() {
    require_engine();
    let s = Scratch::new("pool-down-refill");
    let config = pool_config(&s, 1, "");
    ok(&s, &["pool", "up", "-q"], &config);
    settle(&s, &config, 1);
    ok(&s, &["pool", "down"], &config);
    // What a claim starts in the background, coming after `pool down`.
    let refill = ok(&s, &["pool", "up", "--refill", "--format", "json"], &config);
    let filled: serde_json::Value = serde_json::from_slice(&refill.stdout).expect("json");
    assert_eq!(
        filled["created"].as_array().map(Vec::len),
        Some(0),
        "{filled}"
    );
    assert!(containers(&s).is_empty(), "{:?}", containers(&s));
    // A `pool up` of the user's starts it again, and a replacement then works.
    ok(&s, &["pool", "up", "-q"], &config);
    settle(&s, &config, 1);
    let out = run_claim(&s, &config, &["--rm"], &["true"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(settle(&s, &config, 1).len(), 1, "the claim's replacement");
    ok(&s, &["pool", "down"], &config);
    s.assert_clean();
}

#[test]
fn a_claim_keeps_the_images_entrypoint_in_front_of_its_command() {
    require_engine();
    let s = Scratch::new("pool-entrypoint");
    let tag = format!("berth-test/pool-entrypoint-{}:latest", std::process::id());
    let _image = ImageGuard(tag.clone());
    std::fs::create_dir(s.dir().join("ctx")).expect("create the build context");
    std::fs::write(
        s.dir().join("ctx/Dockerfile"),
        format!("FROM {BUSYBOX}\nENTRYPOINT [\"/bin/echo\", \"entry\"]\nCMD [\"image-default\"]\n"),
    )
    .expect("write the Dockerfile");
    let config = s.write_config(
        "berth.toml",
        &format!("[sandbox.build]\ncontext = \"ctx\"\ntag = \"{tag}\"\n\n[pool]\nsize = 1\n"),
    );
    ok(&s, &["pool", "up", "-q"], &config);
    settle(&s, &config, 1);

    let out = run_claim(&s, &config, &["--rm"], &["given", "words"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "entry given words\n");
    settle(&s, &config, 1);

    let out = run_claim(&s, &config, &["--rm"], &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "entry image-default\n");
    settle(&s, &config, 1);

    ok(&s, &["pool", "down"], &config);
    s.assert_clean();
}

#[test]
fn two_claims_at_once_never_get_the_same_member() {
    require_engine();
    let s = Scratch::new("pool-race");
    let config = pool_config(&s, 2, "");
    ok(&s, &["pool", "up", "-q"], &config);
    settle(&s, &config, 2);
    let listed = run(docker().args([
        "ps",
        "--filter",
        &format!("label=berth.sandbox={}", s.name()),
        "--format",
        "{{.ID}}",
    ]));
    let ids: Vec<String> = text(&listed.stdout).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 2, "{}", describe(&listed));

    // Each prints its container's hostname (the short id) and holds the member
    // for a moment, so that both claims overlap.
    let spawn = || {
        berth(&s)
            .args(["run", "--rm", "-f"])
            .arg(&config)
            .args(["--", "sh", "-c", "hostname; sleep 1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth run")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("wait"),
        b.wait_with_output().expect("wait"),
    );
    assert!(a.status.success(), "{}", describe(&a));
    assert!(b.status.success(), "{}", describe(&b));
    let (ha, hb) = (text(&a.stdout), text(&b.stdout));
    assert_ne!(ha, hb, "both claims ran in one member");
    for (out, host) in [(&a, &ha), (&b, &hb)] {
        assert!(
            !text(&out.stderr).contains("starts cold"),
            "{}",
            describe(out)
        );
        assert!(
            ids.contains(&host.trim().to_owned()),
            "{host} is not one of the members {ids:?}"
        );
    }
    settle(&s, &config, 2);
    ok(&s, &["pool", "down"], &config);
    s.assert_clean();
}

#[test]
fn without_a_ready_member_a_run_starts_cold_and_says_why() {
    require_engine();
    let s = Scratch::new("pool-cold");
    let config = pool_config(&s, 1, "");
    let out = run_claim(&s, &config, &["--rm"], &["echo", "cold"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "cold\n");
    assert!(
        text(&out.stderr).contains("no ready member"),
        "{}",
        describe(&out)
    );
    let out = run_claim(
        &s,
        &config,
        &["--rm", "--name", &format!("{}-pinned", s.name())],
        &["true"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("starts cold: its name is pinned"),
        "{}",
        describe(&out)
    );
    // Nothing of the pool was made by these runs.
    assert!(members(&s, &config).is_empty());

    let off = s.write_config(
        "off.toml",
        &format!("image = \"{BUSYBOX}\"\ninit = false\n\n[pool]\nsize = 1\n"),
    );
    let plan = ok(&s, &["plan"], &off);
    assert!(
        text(&plan.stdout).contains("pool      none: runs start cold"),
        "{}",
        describe(&plan)
    );
    let up = run(berth(&s).args(["pool", "up", "-f"]).arg(&off));
    assert_eq!(up.status.code(), Some(3), "{}", describe(&up));
    assert!(
        text(&up.stderr).contains("this plan has no pool"),
        "{}",
        describe(&up)
    );
    s.assert_clean();
}

#[test]
fn an_interrupted_pool_up_leaves_only_members_that_are_ready() {
    require_engine();
    let s = Scratch::new("pool-interrupt");
    let config = pool_config(&s, 4, "");
    for delay in [150u64, 400] {
        let filler = berth(&s)
            .args(["pool", "up", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pool up");
        std::thread::sleep(Duration::from_millis(delay));
        let pid = nix::unistd::Pid::from_raw(i32::try_from(filler.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let out = filler.wait_with_output().expect("wait");
        // Interrupted (130), or done before the signal came (0).
        assert!(
            matches!(out.status.code(), Some(130 | 0)),
            "after {delay} ms: {}",
            describe(&out)
        );
        // What is on the engine is what the pool lists as ready, nothing more.
        let ready = ready(&s, &config);
        let mut on_engine = containers(&s);
        on_engine.sort();
        let mut listed = ready.clone();
        listed.sort();
        assert_eq!(on_engine, listed, "after {delay} ms: {}", describe(&out));
        ok(&s, &["pool", "down"], &config);
        s.assert_clean();
    }
}

#[test]
#[ignore = "its `berth gc` sweeps every berth run on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(pool)'`"]
fn gc_removes_expired_members_and_those_of_a_killed_filler() {
    require_engine();
    let s = Scratch::new("pool-gc");
    let config = s.write_config(
        "berth.toml",
        &format!("image = \"{BUSYBOX}\"\n\n[pool]\nsize = 2\nttl = \"2s\"\n"),
    );
    ok(&s, &["pool", "up", "-q"], &config);
    settle(&s, &config, 2);
    std::thread::sleep(Duration::from_secs(3));
    let gc = run(berth(&s).args(["gc"]));
    assert!(gc.status.success(), "{}", describe(&gc));
    assert!(
        containers(&s).is_empty(),
        "expired members remain: {:?}",
        containers(&s)
    );
    assert!(members(&s, &config).is_empty());

    // A filler killed while it creates members leaves nothing one gc does not
    // remove.
    let long = s.write_config(
        "long.toml",
        &format!("image = \"{BUSYBOX}\"\n\n[pool]\nsize = 4\nttl = \"10m\"\n"),
    );
    for delay in [50u64, 150, 400] {
        let mut filler = berth(&s)
            .args(["pool", "up", "-q", "-f"])
            .arg(&long)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pool up");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = filler.kill();
        let _ = filler.wait();
        let gc = run(berth(&s).args(["gc"]));
        assert!(gc.status.success(), "{}", describe(&gc));
        // Members that started are the pool's until their TTL; `pool down`
        // takes them. What is left after both is nothing.
        ok(&s, &["pool", "down"], &long);
        assert!(
            containers(&s).is_empty(),
            "after a filler killed at {delay} ms: {:?}",
            containers(&s)
        );
    }
    s.assert_clean();
}
