//! Embedding berth with one backend: this program depends on `runtime-core` and
//! `runtime-docker` only. It resolves a config against what the Docker engine can
//! do, starts a [`Sandbox`], runs an MCP server inside it with `exec` (stdin and
//! stdout byte for byte), speaks JSON-RPC to it, and removes the sandbox.
//!
//! Usage: `berth-embed-example [IMAGE]` (default `berth-test/mcp:latest`, whose
//! server at /srv/server.py has the tools `add` and `echo`). Prints one JSON line:
//! the server's name, its tools, and what `add(40, 2)` returned.

use std::sync::Arc;

use futures::StreamExt;
use runtime_core::runtime::Output;
use runtime_core::{Config, ExecSpec, RealHost, Runtime, Sandbox, prepare, select};
use runtime_docker::DockerRuntime;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(summary) => {
            println!("{summary}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("berth-embed-example: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<Value, Box<dyn std::error::Error>> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "berth-test/mcp:latest".to_owned());
    let text = format!(
        "[sandbox]\nname = \"embedded\"\nimage = \"{image}\"\n\n[network]\npolicy = \"none\"\n"
    );
    let config = Config::parse("berth.toml".as_ref(), &text, std::env::current_dir()?)?;

    // What the engine can do on this host, then the plan: refused here, before
    // anything exists, if the engine cannot run it.
    let docker: Arc<dyn Runtime> = Arc::new(DockerRuntime::new());
    let chosen = select::choose(&[docker], None, &config, &RealHost).await?;
    if let Some(err) = chosen
        .probed
        .caps
        .availability
        .to_error(chosen.probed.caps.runtime)
    {
        return Err(err.into());
    }
    let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;

    let sandbox = Sandbox::builder(chosen.probed.runtime, &plan)
        .command(["sleep", "600"])
        .start()
        .await?;
    // Dropping the handle on an early return removes the sandbox too.
    let summary = talk(&sandbox).await?;
    sandbox.remove().await?;
    Ok(summary)
}

/// Starts the server inside and asks it for its tools and one call.
async fn talk(sandbox: &Sandbox) -> Result<Value, Box<dyn std::error::Error>> {
    let spec = ExecSpec {
        workdir: Some("/srv".to_owned()),
        stdin: true,
        ..ExecSpec::new(["python3", "/srv/server.py"])
    };
    let mut session = sandbox.exec(&spec).await?;
    let mut input = session.input.take().ok_or("the exec has no stdin")?;
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "berth-embed-example", "version": "0.1.0"}
        }}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "add", "arguments": {"a": 40, "b": 2}}}),
    ];
    for request in &requests {
        input.write_all(format!("{request}\n").as_bytes()).await?;
    }
    input.flush().await?;

    // Newline-delimited JSON-RPC on stdout; stderr is the server's log.
    let mut answers = std::collections::BTreeMap::new();
    let mut pending = Vec::new();
    while answers.len() < 3 {
        let Some(chunk) = session.output.next().await else {
            return Err("the server closed its output before answering".into());
        };
        if let Output::Stdout(bytes) = chunk? {
            pending.extend_from_slice(&bytes);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let message: Value = serde_json::from_slice(&line)?;
                if let Some(id) = message["id"].as_u64() {
                    answers.insert(id, message);
                }
            }
        }
    }
    input.shutdown().await?;
    let code = session.exit.await?;

    let tools: Vec<&str> = answers[&2]["result"]["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    Ok(json!({
        "server": answers[&1]["result"]["serverInfo"]["name"],
        "tools": tools,
        "add": answers[&3]["result"]["content"][0]["text"],
        "server_exit_code": code,
    }))
}
