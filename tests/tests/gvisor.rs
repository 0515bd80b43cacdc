//! gVisor isolation is proven, not assumed: a sandbox run with `--runtime gvisor`
//! boots gVisor's kernel (its dmesg says so, and uname differs from the host's),
//! while `--runtime docker` shares the host kernel.

use berth_tests::{Scratch, require_engine, run};

const IMAGE: &str = "berth-test/busybox:latest";

fn sh(runtime: &str, script: &str) -> String {
    let scratch = Scratch::new(&format!("gvisor-kernel-{runtime}"));
    let out = run(scratch.berth().args([
        "run",
        "--rm",
        "--runtime",
        runtime,
        IMAGE,
        "--",
        "sh",
        "-c",
        script,
    ]));
    assert!(
        out.status.success(),
        "{runtime}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gvisor_sandboxes_run_on_the_gvisor_kernel() {
    require_engine();
    let host_release = nix::sys::utsname::uname()
        .expect("uname")
        .release()
        .to_string_lossy()
        .into_owned();
    let inside = sh("gvisor", "dmesg | head -n 1; uname -r");
    let mut lines = inside.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.contains("Starting gVisor"), "dmesg inside: {inside}");
    let release = lines.next().unwrap_or_default();
    assert_ne!(
        release, host_release,
        "gVisor reports its own kernel release"
    );

    let runc = sh("docker", "uname -r");
    assert_eq!(runc.trim(), host_release, "runc shares the host kernel");
}
