//! Config errors as a person reads them: `file:line:column`, the key, the offending
//! line with a caret, and a did-you-mean for misspelt keys and values.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The text of a config file, for locating spans.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> SourceFile<'a> {
    /// Wraps a file's path and contents.
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text }
    }

    /// `offset` clamped to the text and moved back to the start of the character
    /// it falls in: spans from the parser may point inside a multi-byte character.
    fn boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.boundary(offset);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// The text of a 1-based line, without its line break (`\n` or `\r\n`).
    fn line_text(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .map_or("", |l| l.strip_suffix('\r').unwrap_or(l))
    }

    /// The dotted key at `span`: the table header above it plus the key on its line.
    fn key_at(&self, span: &Range<usize>) -> Option<String> {
        let start = self.boundary(span.start);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let mut table: Option<String> = None;
        for raw in self.text[..line_start].lines().rev() {
            let line = raw.trim();
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest.trim_start_matches('[');
                if let Some(end) = name.find(']') {
                    table = Some(name[..end].trim().to_owned());
                    break;
                }
            }
        }
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = &self.text[line_start..line_end];
        let header = line.trim_start().starts_with('[');
        if header {
            // A span on a header is about that table itself.
            let name = line.trim_start().trim_start_matches('[');
            if let Some(end) = name.find(']') {
                table = Some(name[..end].trim().to_owned());
            }
        }
        let key = if header {
            None
        } else {
            line.find('=')
                .map(|eq| line[..eq].trim().trim_matches('"').to_owned())
                .filter(|k| !k.is_empty())
        };
        match (table, key) {
            (Some(t), Some(k)) => Some(format!("{t}.{k}")),
            (None, Some(k)) => Some(k),
            (Some(t), None) if header => Some(t),
            (Some(t), None) => Some(t),
            (None, None) => None,
        }
    }
}

/// One config error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDiagnostic {
    /// The file as the user named it.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The dotted key the error is about, such as `resources.memory`.
    pub key: Option<String>,
    /// What is wrong, lowercase.
    pub message: String,
    /// The offending source line and the caret under it.
    pub snippet: Option<(String, String)>,
    /// What to do about it.
    pub help: Option<String>,
}

impl ConfigDiagnostic {
    /// Locates a message at `span` of `source`.
    pub(crate) fn at(
        source: &SourceFile<'_>,
        span: Option<Range<usize>>,
        message: String,
        help: Option<String>,
    ) -> Self {
        let (line, column, key, snippet) = match span {
            Some(span) => {
                let (line, column) = source.line_col(span.start);
                let raw = source.line_text(line);
                let (_, end_col) = source.line_col(span.end.max(span.start.saturating_add(1)));
                let (end_line, _) = source.line_col(span.end.saturating_sub(1).max(span.start));
                let line_len = raw.chars().count();
                let width = if end_line == line && end_col > column {
                    end_col - column
                } else {
                    line_len.saturating_sub(column - 1)
                }
                .clamp(1, line_len.saturating_sub(column - 1).max(1));
                // Tabs stay tabs under the caret so it lines up however they render.
                let indent: String = raw
                    .chars()
                    .take(column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let caret = format!("{indent}{}", "^".repeat(width));
                let text = printable_line(raw);
                (
                    Some(line),
                    Some(column),
                    source.key_at(&span),
                    Some((text, caret)),
                )
            }
            None => (None, None, None, None),
        };
        Self {
            path: source.path.to_owned(),
            line,
            column,
            key,
            message,
            snippet,
            help,
        }
    }

    /// Turns a toml/serde error into a diagnostic, rewording serde's messages and
    /// adding a did-you-mean where the message lists the valid choices.
    pub(crate) fn from_toml(source: &SourceFile<'_>, err: &toml::de::Error) -> Self {
        let raw = err.message().trim().to_owned();
        let (message, help) = reword(&raw);
        let mut diag = Self::at(source, err.span(), message, help);
        if raw.starts_with("unknown field") {
            // The span covers the unknown key itself: name it with its table.
            if let (Some(key), Some(bad)) = (&diag.key, backticked(&raw).first()) {
                let table = key.rsplit_once('.').map(|(t, _)| t.to_owned());
                diag.key = Some(match table {
                    Some(t) => format!("{t}.{bad}"),
                    None => (*bad).to_owned(),
                });
            }
        }
        diag
    }
}

/// A source line as it can be shown on a terminal: control characters other than
/// tab become U+FFFD, one character for one, so the caret stays under its column.
fn printable_line(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A message as it can be shown on a terminal: control characters (a quoted value
/// from the file may hold any) are escaped, line breaks excepted.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewords serde's messages for people and finds a suggestion.
fn reword(raw: &str) -> (String, Option<String>) {
    let names = backticked(raw);
    if raw.starts_with("unknown field") {
        let bad = names.first().copied().unwrap_or("");
        let valid: Vec<&str> = names.iter().skip(1).copied().collect();
        let help = suggest(bad, &valid)
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                (!valid.is_empty()).then(|| format!("valid keys here: {}", valid.join(", ")))
            })
            .or_else(|| Some("this table takes no keys".to_owned()));
        return (format!("unknown key `{bad}`"), help);
    }
    if raw.starts_with("unknown variant") {
        let bad = names.first().copied().unwrap_or("");
        let valid: Vec<&str> = names.iter().skip(1).copied().collect();
        let help = suggest(bad, &valid)
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| Some(format!("expected one of: {}", valid.join(", "))));
        return (format!("unknown value `{bad}`"), help);
    }
    if let Some(field) = raw.strip_prefix("missing field ") {
        return (format!("missing key {field}"), None);
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ") {
        return (format!("wrong type: found {}", plain_types(rest)), None);
    }
    if let Some(rest) = raw.strip_prefix("duplicate key") {
        return (
            format!("duplicate key{rest}"),
            Some("each key may appear once per table".to_owned()),
        );
    }
    (raw.to_owned(), None)
}

/// Serde's Rust-flavoured type names in the words of TOML.
fn plain_types(message: &str) -> String {
    let mut out = message
        .replace("a sequence", "an array")
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected an integer");
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a table");
    }
    out
}

/// The `quoted` names in a serde message, in order.
fn backticked(raw: &str) -> Vec<&str> {
    raw.split('`').skip(1).step_by(2).collect()
}

/// The closest valid name to a misspelt one, if any is close enough.
pub(crate) fn suggest<'a>(bad: &str, valid: &[&'a str]) -> Option<&'a str> {
    let bad_lower = bad.to_ascii_lowercase();
    valid
        .iter()
        .map(|v| {
            (
                *v,
                strsim::jaro_winkler(&bad_lower, &v.to_ascii_lowercase()),
            )
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(v, _)| v)
}

impl fmt::Display for ConfigDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", printable(&self.path.display().to_string()))?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{}: ", printable(key))?;
        }
        write!(f, "{}", printable(&self.message))?;
        if let (Some((text, caret)), Some(line)) = (&self.snippet, self.line) {
            let gutter = " ".repeat(line.to_string().len());
            write!(f, "\n{gutter} |\n{line} | {text}\n{gutter} | {caret}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {}", printable(help))?;
        }
        Ok(())
    }
}
