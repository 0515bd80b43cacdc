//! Rendering results and errors for people and for scripts.

use runtime_core::Error;
use serde::Serialize;

use crate::Format;

/// Writes to stdout like `print!`; when stdout is closed (`berth ps | head`),
/// ends berth quietly with 141, as a program killed by SIGPIPE does, instead of
/// panicking. Only commands that hold nothing to clean up print this way.
pub fn stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("berth: error: cannot write to stdout: {err}");
    }
}

/// `print!` through `render::stdout`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::render::stdout(format_args!($($arg)*)) };
}

/// `println!` through `render::stdout`.
#[macro_export]
macro_rules! outln {
    () => { $crate::render::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::render::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints an error: to stderr for people; as `{"error": {...}}` on stdout for scripts.
pub fn error(err: &Error, format: Format) {
    match format {
        Format::Human => eprintln!("berth: error: {}", err.report()),
        Format::Json => {
            #[derive(Serialize)]
            struct Body<'a> {
                kind: &'a str,
                message: String,
                exit_code: u8,
            }
            #[derive(Serialize)]
            struct Wrapper<'a> {
                error: Body<'a>,
            }
            json(&Wrapper {
                error: Body {
                    kind: crate::exit::kind(err),
                    message: err.report(),
                    exit_code: crate::exit::code(err),
                },
            });
        }
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => crate::outln!("{text}"),
        Err(err) => eprintln!("berth: error: failed to render JSON: {err}"),
    }
}

/// Left-aligned columns, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}
