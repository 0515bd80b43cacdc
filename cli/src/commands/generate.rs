//! Commands that print or write text made from berth's own definitions: a starter
//! berth.toml, MCP client entries, shell completions, the man page and the JSON
//! Schema of berth.toml.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use runtime_core::Error;
use runtime_core::config::DEFAULT_FILE_NAME;
use serde_json::json;

use crate::{Cli, CompletionsArgs, InitArgs, McpClient, McpConfigArgs};

/// The starter config, for `image`: every table with its defaults, commented.
fn starter(image: &str) -> String {
    format!(
        r#"# berth.toml: what `berth run` starts. Every key is optional but the image;
# `berth plan` shows what this resolves to, and `berth doctor` what each
# runtime can do here. Reference: the README's "berth.toml reference".

[sandbox]
image = "{image}"
# command = ["bash"]            # default: the image's command
# workdir = "/workspace"
# user = "1000:1000"            # default: the image's user, or 1000:1000 when root
# runtime = "auto"              # docker | gvisor | apple | auto
# ttl = "8h"                    # detached runs are removed once this has passed

# The host directory the agent works in (absent: nothing is mounted).
[workspace]
path = "."
mount = "/workspace"
read_only = false

# [env]
# RUST_LOG = "info"

# Secrets: `names` become environment variables the agent can read; a secret
# bound to hosts stays outside, added by the egress proxy for those hosts only.
# [secrets]
# names = ["GITHUB_TOKEN"]
# [secrets.GITHUB_TOKEN]
# hosts = ["api.github.com"]

[network]
policy = "open"                 # open | none | allowlist
# allow = ["api.example.com:443", "*.example.net"]   # with policy = "allowlist"

# [resources]                   # defaults: 2 CPUs, 4GiB, 1024 processes
# cpus = 2
# memory = "4GiB"
# pids = 1024

# [docker]
# mode = "none"                 # none | host | dind
"#
    )
}

/// `berth init`: writes the starter config, never over an existing file unless
/// asked.
pub fn init(args: &InitArgs) -> Result<u8, Error> {
    let path = PathBuf::from(DEFAULT_FILE_NAME);
    let text = starter(&args.image);
    // The file must be one berth accepts: checked before it is written.
    runtime_core::Config::parse(&path, &text, PathBuf::from("."))?;
    write_new(&path, &text, args.force)?;
    eprintln!(
        "berth: wrote {}; see what it resolves to with `berth plan`",
        path.display()
    );
    Ok(0)
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<(), Error> {
    let io = |source| Error::Io {
        operation: "write",
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(text.as_bytes()).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Usage {
            message: format!(
                "{} exists already; `berth init --force` replaces it",
                path.display()
            ),
        }),
        Err(e) => Err(io(e)),
    }
}

/// The command an MCP client runs: this berth, by its full path when known (MCP
/// clients often start servers without the shell's PATH).
fn berth_command() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map_or_else(|| "berth".to_owned(), |p| p.display().to_string())
}

/// The entries for each client, as text to paste.
fn entries(client: McpClient, name: &str, command: &str, args: &[String]) -> String {
    let pretty = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default();
    match client {
        McpClient::Claude => pretty(json!({
            "mcpServers": { name: { "command": command, "args": args } }
        })),
        McpClient::Vscode => pretty(json!({
            "servers": { name: { "type": "stdio", "command": command, "args": args } }
        })),
        McpClient::Goose => {
            // YAML; JSON strings are valid YAML scalars, so values are quoted so.
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            let mut out = format!(
                "extensions:\n  {}:\n    type: stdio\n    name: {}\n    cmd: {}\n    args:\n",
                quote(name),
                quote(name),
                quote(command)
            );
            for arg in args {
                out.push_str(&format!("      - {}\n", quote(arg)));
            }
            out.push_str("    enabled: true\n    timeout: 300");
            out
        }
    }
}

/// `berth mcp-config`: the server entry for one client, or for each with where it
/// goes.
pub fn mcp_config(args: &McpConfigArgs) -> Result<u8, Error> {
    let name = args.name.clone().unwrap_or_else(|| args.sandbox.clone());
    let mut server = vec![
        "exec".to_owned(),
        "-i".to_owned(),
        args.sandbox.clone(),
        "--".to_owned(),
    ];
    server.extend(args.server.iter().cloned());
    let command = berth_command();
    match args.client {
        Some(client) => crate::outln!("{}", entries(client, &name, &command, &server)),
        None => {
            for (client, place) in [
                (
                    McpClient::Claude,
                    "Claude Desktop (claude_desktop_config.json) and Claude Code (.mcp.json)",
                ),
                (McpClient::Vscode, "VS Code (.vscode/mcp.json)"),
                (McpClient::Goose, "goose (~/.config/goose/config.yaml)"),
            ] {
                crate::outln!("# {place}");
                crate::outln!("{}\n", entries(client, &name, &command, &server));
            }
        }
    }
    Ok(0)
}

/// `berth completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> Result<u8, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "berth", &mut script);
    to_stdout(&script, "write the completion script to")
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn to_stdout(bytes: &[u8], operation: &'static str) -> Result<u8, Error> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            operation,
            path: PathBuf::from("stdout"),
            source: e,
        }),
        _ => Ok(0),
    }
}

/// `berth man`.
pub fn man() -> Result<u8, Error> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    page.render(&mut out).map_err(|source| Error::Io {
        operation: "render the man page to",
        path: PathBuf::from("stdout"),
        source,
    })?;
    to_stdout(&out, "write the man page to")
}

/// Prints the JSON Schema of berth.toml, for editors (taplo's `#:schema`, Even
/// Better TOML, JSON Schema stores).
pub fn schema() -> Result<u8, Error> {
    let schema = runtime_core::config::json_schema();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    to_stdout(text.as_bytes(), "write the schema to")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_is_one_berth_accepts() {
        let text = starter("berth-test/busybox:latest");
        let config = runtime_core::Config::parse(Path::new("berth.toml"), &text, "/w".into())
            .expect("the starter parses");
        assert_eq!(config.image(), Some("berth-test/busybox:latest"));
    }

    #[test]
    fn init_never_replaces_a_file_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        write_new(&path, "first", false).unwrap();
        let again = write_new(&path, "second", false).unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        write_new(&path, "second", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
    }

    #[test]
    fn each_client_gets_the_exec_command_in_its_own_shape() {
        let args: Vec<String> = ["exec", "-i", "agent", "--", "python3", "s.py"]
            .map(String::from)
            .to_vec();
        insta::assert_snapshot!(entries(McpClient::Claude, "agent", "/usr/bin/berth", &args), @r#"
        {
          "mcpServers": {
            "agent": {
              "args": [
                "exec",
                "-i",
                "agent",
                "--",
                "python3",
                "s.py"
              ],
              "command": "/usr/bin/berth"
            }
          }
        }
        "#);
        let vscode: serde_json::Value =
            serde_json::from_str(&entries(McpClient::Vscode, "agent", "berth", &args)).unwrap();
        assert_eq!(vscode["servers"]["agent"]["type"], "stdio");
        assert_eq!(vscode["servers"]["agent"]["args"][5], "s.py");
        insta::assert_snapshot!(entries(McpClient::Goose, "agent", "berth", &args), @r#"
        extensions:
          "agent":
            type: stdio
            name: "agent"
            cmd: "berth"
            args:
              - "exec"
              - "-i"
              - "agent"
              - "--"
              - "python3"
              - "s.py"
            enabled: true
            timeout: 300
        "#);
    }
}
