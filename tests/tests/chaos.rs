//! Chaos: launches killed with SIGKILL or SIGINT at random points, across every
//! available backend. After SIGINT nothing is left; after SIGKILL, one `berth gc`
//! leaves nothing. The seed is printed (set BERTH_CHAOS_SEED to replay a run); the
//! counts of leaked containers, networks, volumes and run records are printed and
//! must all be zero.
//!
//! `berth gc` sweeps the whole engine (every berth run on it, not only this
//! test's), so the test is ignored by a plain `cargo test` or `cargo nextest run`
//! and run alone by scripts/test.sh, in its serial phase (the `engine-wide` group
//! of `.config/nextest.toml`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_tests::{LabelGuard, Scratch, leftovers, require_engine, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// xorshift64*: small, seedable, good enough to pick points in time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn records_named(state_home: &Path, name: &str) -> usize {
    let runs = state_home.join("berth/runs");
    let Ok(entries) = std::fs::read_dir(&runs) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("record.json"))
                .map_or(true, |text| text.contains(&format!("\"name\": \"{name}\"")))
        })
        .count()
}

#[test]
#[ignore = "its `berth gc` sweeps every berth run on the engine: run by scripts/test.sh, or alone with `cargo nextest run -p berth-tests --run-ignored only -E 'binary(chaos)'`"]
fn killed_launches_leave_nothing_after_one_gc() {
    require_engine();
    let seed = std::env::var("BERTH_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("chaos seed: {seed} (replay with BERTH_CHAOS_SEED={seed})");
    let mut rng = Rng(seed);
    let scratch = Scratch::new("chaos");
    let state_home = scratch.state();

    let backends = ["docker", "gvisor"];
    let (mut leaked_c, mut leaked_n, mut leaked_v, mut leaked_r) = (0, 0, 0, 0);
    let (mut kills, mut ints) = (0, 0);
    let (mut dinds, mut allowlists) = (0, 0);
    const LAUNCHES: usize = 32;
    for i in 0..LAUNCHES {
        let backend = backends[rng.below(2) as usize];
        // A third of launches are dind (docker only), a third allowlist runs,
        // whose launch also makes two networks, a CA volume for its bound secret
        // and a proxy sidecar it hands the secret to.
        let kind = rng.below(3);
        let dind = backend == "docker" && kind == 0;
        let allowlist = kind == 1;
        dinds += usize::from(dind);
        allowlists += usize::from(allowlist);
        let signal = if rng.below(2) == 0 {
            Signal::SIGKILL
        } else {
            Signal::SIGINT
        };
        let delay = Duration::from_millis(rng.below(if allowlist { 2500 } else { 1500 }));
        let name = format!("chaos-{i}-{}", std::process::id());
        let _guard = LabelGuard::new("berth.sandbox", &name);
        let dir = scratch.dir().join(&name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let config = dir.join("berth.toml");
        let body = if dind {
            format!(
                "[sandbox]\nname = \"{name}\"\nimage = \"berth-test/dind:latest\"\n\n[docker]\nmode = \"dind\"\n"
            )
        } else if allowlist {
            format!(
                "[sandbox]\nname = \"{name}\"\nimage = \"berth-test/busybox:latest\"\n\n[network]\npolicy = \"allowlist\"\nallow = [\"upstream.test:443\"]\n\n[secrets.CHAOS_TOKEN]\nhosts = [\"upstream.test\"]\n"
            )
        } else {
            format!("[sandbox]\nname = \"{name}\"\nimage = \"berth-test/busybox:latest\"\n")
        };
        std::fs::write(&config, body).expect("config");

        let child = scratch
            .berth()
            .env("BERTH_RUNTIME", backend)
            .env("CHAOS_TOKEN", "chaos-value")
            .args(["run", "--rm", "-f"])
            .arg(&config)
            .args(if dind { &["--allow", "dind"][..] } else { &[] })
            .args(["--", "sleep", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth run");
        std::thread::sleep(delay);
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let _ = kill(pid, signal);
        let started = Instant::now();
        let status = child.wait_with_output().expect("wait").status;
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "berth took too long to stop"
        );

        if signal == Signal::SIGKILL {
            kills += 1;
            // Let a request the engine was already serving land, as it would before
            // a user's later gc.
            std::thread::sleep(Duration::from_millis(500));
            let gc = run(scratch.berth().arg("gc"));
            assert!(
                gc.status.success(),
                "gc: {}",
                String::from_utf8_lossy(&gc.stderr)
            );
        } else {
            ints += 1;
            let code = status.code();
            let by_signal = std::os::unix::process::ExitStatusExt::signal(&status);
            assert!(
                code == Some(130) || by_signal == Some(2),
                "launch {i}: SIGINT gave {status:?}"
            );
        }
        let (c, n, v) = leftovers(&format!("berth.sandbox={name}"));
        let r = records_named(&state_home, &name);
        if c.len() + n.len() + v.len() + r > 0 {
            println!(
                "launch {i} ({backend}{}, {signal:?} after {delay:?}): leaked {} containers, {} networks, {} volumes, {r} records",
                if dind {
                    ", dind"
                } else if allowlist {
                    ", allowlist"
                } else {
                    ""
                },
                c.len(),
                n.len(),
                v.len()
            );
        }
        leaked_c += c.len();
        leaked_n += n.len();
        leaked_v += v.len();
        leaked_r += r;
    }
    // A second gc finds nothing more.
    let again = run(scratch
        .berth()
        .args(["gc", "--dry-run", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).expect("gc JSON");
    let left_for_gc = report["removed"].as_array().map_or(0, Vec::len);
    println!(
        "chaos: {LAUNCHES} launches ({kills} SIGKILL, {ints} SIGINT; {dinds} dind, {allowlists} allowlist), seed {seed}: leaked {leaked_c} containers, {leaked_n} networks, {leaked_v} volumes, {leaked_r} run records; a second gc would remove {left_for_gc} runs"
    );
    assert_eq!(
        (leaked_c, leaked_n, leaked_v, leaked_r, left_for_gc),
        (0, 0, 0, 0, 0),
        "seed {seed}"
    );
}
