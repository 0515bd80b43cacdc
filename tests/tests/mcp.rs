//! A real MCP exchange through `berth exec -i`: the official Python SDK's stdio
//! client on the host starts `berth exec -i RUN -- python3 /srv/server.py` as its
//! server command, and talks to a FastMCP server inside the sandbox.

use std::path::Path;

use berth_tests::{Scratch, require_engine, run};

const IMAGE: &str = "berth-test/mcp:latest";

#[test]
fn mcp_client_talks_to_a_server_inside_a_sandbox() {
    require_engine();
    let scratch = Scratch::new("mcp-e2e");
    let name = scratch.name();
    let config = scratch.write_config(
        "berth.toml",
        &format!("image = \"{IMAGE}\"\nuser = \"1000:1000\"\n\n[network]\npolicy = \"none\"\n"),
    );
    let started = run(scratch
        .berth()
        .args(["run", "-d", "--runtime", "docker", "--name", name, "-f"])
        .arg(&config)
        .args(["--", "sleep", "3600"]));
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );

    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp/client.py");
    // The Python that has the SDK: scripts/test.sh names its virtual environment's.
    let python = std::env::var_os("BERTH_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    // The client starts berth itself, with the SDK's short list of environment
    // variables: `env` gives it the scratch area's state.
    let out = run(std::process::Command::new(python)
        .arg(&client)
        .arg("env")
        .arg(format!("XDG_STATE_HOME={}", scratch.state().display()))
        .arg(berth_tests::berth_bin())
        .args([
            "exec",
            "-i",
            "-w",
            "/srv",
            name,
            "--",
            "python3",
            "/srv/server.py",
        ]));
    assert!(
        out.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("client prints one JSON line");
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(
        tools.contains(&"add") && tools.contains(&"echo"),
        "{summary}"
    );
    assert_eq!(summary["add"][0], "42", "{summary}");
    assert_eq!(summary["add_error"], false);
    assert_eq!(
        summary["echo"][0], "héllo\u{2603} \"quoted\"\n",
        "{summary}"
    );
    assert!(summary["protocol"].as_str().is_some_and(|p| !p.is_empty()));

    let rm = run(scratch.berth().args(["rm", "-f", name]));
    assert!(rm.status.success());
    scratch.assert_clean();
}
