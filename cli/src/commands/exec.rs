//! `berth exec`: a command in a running sandbox, stdio byte-exact with -i.

use std::path::Path;

use runtime_core::{Error, ExecSpec, is_env_name};

use crate::signals::Interrupts;
use crate::{ExecArgs, backends, stdio};

/// Runs the command; SIGINT or SIGTERM ends the session (the backend's handle
/// cleans up what it holds, such as Apple's env FIFO) and exits 128 + the signal.
pub async fn execute(args: ExecArgs) -> Result<u8, Error> {
    let mut interrupts = Interrupts::new();
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    for item in &args.env {
        env.extend(parse_env(item, |name| std::env::var(name).ok())?);
    }
    let (runtime, info) = backends::locate(args.runtime, &args.run).await?;
    let spec = ExecSpec {
        cmd: args.command,
        workdir: args.workdir,
        env,
        user: args.user,
        stdin: args.interactive,
        tty: args.tty,
    };
    let session = tokio::select! {
        session = runtime.exec(&info.id, &spec) => session?,
        signal = interrupts.recv() => return Ok(crate::exit::signalled(signal)),
    };
    let raw = args.tty.then(stdio::RawTerminal::enter);
    let code = tokio::select! {
        code = stdio::pump(session, args.interactive) => code,
        signal = interrupts.recv() => Ok(i64::from(crate::exit::signalled(signal))),
    };
    drop(raw);
    Ok(crate::exit::of_process(code?))
}

/// `K=V`, or `K` to pass berth's own value of K; `None` when K is unset in berth's
/// environment, so nothing is sent for it (as `docker exec -e K` does).
fn parse_env(
    item: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, Error> {
    let (name, value) = match item.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
        None => (item.to_owned(), None),
    };
    if !is_env_name(&name) {
        return Err(crate::usage(format!(
            "-e {name}: not a valid environment variable name"
        )));
    }
    match value {
        Some(value) => Ok(Some((name, value))),
        None => Ok(lookup(&name).map(|value| (name, value))),
    }
}

/// K=V lines (or K, as for `-e K`); blank lines and lines starting with # are
/// skipped.
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
        let pair = parse_env(line, |name| std::env::var(name).ok()).map_err(|_| {
            crate::usage(format!("{}:{}: expected NAME=value", path.display(), n + 1))
        })?;
        out.extend(pair);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_env;

    fn lookup(name: &str) -> Option<String> {
        (name == "SET").then(|| "from berth".to_owned())
    }

    #[test]
    fn a_bare_name_passes_berths_value_or_nothing() {
        assert_eq!(
            parse_env("SET", lookup).ok().flatten(),
            Some(("SET".to_owned(), "from berth".to_owned()))
        );
        assert_eq!(parse_env("UNSET", lookup).ok(), Some(None));
        assert_eq!(
            parse_env("UNSET=", lookup).ok().flatten(),
            Some(("UNSET".to_owned(), String::new()))
        );
        assert!(parse_env("1BAD", lookup).is_err());
    }
}
