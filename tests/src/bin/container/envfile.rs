//! `--env-file`, read as Apple's CLI reads it: by the CLI process itself, once,
//! while it parses its command line (the values then travel to the container over
//! XPC, never on a command line). So the file may be a FIFO that berth unlinks as
//! soon as it is open, and the double passes the values to `docker` through its
//! environment (`--env NAME`), never as `NAME=value` arguments.

use crate::Fail;
use crate::args::Parsed;

/// The variables of every `--env-file` in `parsed`, in order: `NAME=value` lines,
/// or `NAME` alone for this process's value (skipped when unset); blank lines and
/// `#` comments are skipped.
pub fn read(parsed: &Parsed) -> Result<Vec<(String, String)>, Fail> {
    let mut out = Vec::new();
    for file in parsed.values("--env-file") {
        let text = std::fs::read_to_string(file).map_err(|_| {
            Fail::apple(
                "invalidArgument",
                format!("failed to read envfile at {file}"),
            )
        })?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((name, value)) => out.push((name.to_owned(), value.to_owned())),
                None => {
                    if let Ok(value) = std::env::var(line) {
                        out.push((line.to_owned(), value));
                    }
                }
            }
        }
    }
    Ok(out)
}
