//! `berth exec`: a command in a running sandbox, stdio byte-exact with -i.

use std::path::Path;

use runtime_core::{Error, ExecSpec, is_env_name};

use crate::{ExecArgs, backends, stdio};

pub async fn execute(args: ExecArgs) -> Result<u8, Error> {
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    for item in &args.env {
        env.push(parse_env(item)?);
    }
    let (runtime, info) = backends::locate(args.runtime.map(Into::into), &args.run).await?;
    let spec = ExecSpec {
        cmd: args.command,
        workdir: args.workdir,
        env,
        user: args.user,
        stdin: args.interactive,
        tty: args.tty,
    };
    let session = runtime.exec(&info.id, &spec).await?;
    let raw = args.tty.then(stdio::RawTerminal::enter);
    let code = stdio::pump(session, args.interactive).await;
    drop(raw);
    Ok(u8::try_from(code?.rem_euclid(256)).unwrap_or(runtime_core::error::exit::FAILED))
}

/// `K=V`, or `K` to pass berth's own value of K (skipped when unset, like docker).
fn parse_env(item: &str) -> Result<(String, String), Error> {
    let (name, value) = match item.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (item.to_owned(), std::env::var(item).unwrap_or_default()),
    };
    if !is_env_name(&name) {
        return Err(crate::usage(format!(
            "-e {name}: not a valid environment variable name"
        )));
    }
    Ok((name, value))
}

/// K=V lines; blank lines and lines starting with # are skipped.
fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        operation: "read the env file",
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = parse_env(line).map_err(|_| {
            crate::usage(format!("{}:{}: expected NAME=value", path.display(), n + 1))
        })?;
        out.push((name, value));
    }
    Ok(out)
}
