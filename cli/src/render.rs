//! Rendering results and errors for people and for scripts.

use runtime_core::Error;
use serde::Serialize;

use crate::Format;

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
        Ok(text) => println!("{text}"),
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
