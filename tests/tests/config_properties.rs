//! Property tests of the config boundary: whatever text a `berth.toml` holds
//! (arbitrary bytes read lossily, arbitrary Unicode, or a valid fixture from
//! `fixtures/configs` with characters inserted, deleted or replaced), parsing and
//! preparing it never panics, and every config error points at a line and column
//! that exist in the file.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use runtime_core::{Capabilities, Config, Error, HostFacts, ProbeReport, RuntimeKind, prepare};
use serde::Deserialize;

/// Where relative paths are anchored, as in the resolution matrix.
const BASE_DIR: &str = "/home/dev/project";

/// Characters that stress the lexer and the diagnostic renderer: multi-byte
/// letters, a 4-byte emoji, line ends, tabs, TOML punctuation, a NUL escape.
const SPICE: &[&str] = &[
    "é",
    "日本",
    "🦀",
    "\u{200b}",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\"",
    "'",
    "=",
    "[",
    "]",
    "[[",
    "{",
    "}",
    ",",
    "#",
    "\\",
    "\\u0000",
    "-",
    ".",
    "9223372036854775807",
    "1e-10",
    "nan",
    "inf",
    "\"--mount=type=bind\"",
    "\u{1b}",
    "\u{7f}",
];

#[derive(Debug, Deserialize)]
struct HostScenario {
    host: HostFacts,
    docker: ProbeReport,
    apple: ProbeReport,
}

fn fixtures_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(kind)
}

fn valid_configs() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir("configs"))
        .expect("read fixtures/configs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "fixtures/configs shrank: {files:?}");
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read config fixture"))
        .collect()
}

/// Every runtime's capabilities on a Linux host with a Docker socket and on macOS.
fn targets() -> Vec<(Capabilities, HostFacts)> {
    let mut out = Vec::new();
    for name in ["socket-gid", "runsc-host-uds", "macos"] {
        let path = fixtures_dir("hosts").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).expect("read host fixture");
        let mut scenario: HostScenario = toml::from_str(&text).expect("host fixture");
        scenario.host.engine = scenario.docker.engine.clone();
        for runtime in [RuntimeKind::Docker, RuntimeKind::Gvisor, RuntimeKind::Apple] {
            let caps = match runtime {
                RuntimeKind::Docker => {
                    runtime_docker::capabilities(&scenario.host, &scenario.docker)
                }
                RuntimeKind::Gvisor => {
                    runtime_gvisor::capabilities(&scenario.host, &scenario.docker)
                }
                RuntimeKind::Apple => runtime_apple::capabilities(&scenario.host, &scenario.apple),
            };
            out.push((caps, scenario.host.clone()));
        }
    }
    out
}

/// Whether `(line, column)` (1-based, column in characters) exists in `text`: a
/// position on a line, or just past its end.
fn inside(text: &str, line: usize, column: usize) -> bool {
    let Some(content) = text.split('\n').nth(line.wrapping_sub(1)) else {
        return false;
    };
    line >= 1 && column >= 1 && column <= content.chars().count() + 1
}

/// Parses and prepares `text`; fails the property on a config error without a
/// position inside the file (a panic fails it by itself).
fn check(text: &str, targets: &[(Capabilities, HostFacts)]) -> Result<(), TestCaseError> {
    check_parsed(
        text,
        Config::parse(Path::new("berth.toml"), text, PathBuf::from(BASE_DIR)),
        targets,
    )
}

/// Checks the outcome of parsing `text` (for bytes, their valid UTF-8 prefix).
fn check_parsed(
    text: &str,
    parsed: Result<Config, Error>,
    targets: &[(Capabilities, HostFacts)],
) -> Result<(), TestCaseError> {
    match parsed {
        Ok(config) => {
            for (caps, host) in targets {
                if let Err(err) = prepare(&config, caps, host) {
                    // Rendering must not panic either.
                    let _ = err.report();
                }
            }
            Ok(())
        }
        Err(Error::Config(diag)) => {
            let shown = diag.to_string();
            let (Some(line), Some(column)) = (diag.line, diag.column) else {
                return Err(TestCaseError::fail(format!("no line:column: {shown}")));
            };
            prop_assert!(
                inside(text, line, column),
                "{line}:{column} is outside the file: {shown}\n--- file ---\n{text:?}"
            );
            let prefix = format!("berth.toml:{line}:{column}: ");
            prop_assert!(shown.starts_with(&prefix), "{}", shown);
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "not a config error: {}",
            other.report()
        ))),
    }
}

/// One edit of a text: at a character position (taken modulo its length).
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, &'static str),
    Delete(usize, usize),
    Replace(usize, &'static str),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let spice = proptest::sample::select(SPICE);
    prop_oneof![
        (any::<usize>(), spice.clone()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), 1usize..8).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), spice).prop_map(|(at, s)| Edit::Replace(at, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len().max(1);
        match edit {
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Replace(at, s) => {
                let at = at % len;
                let end = (at + 1).min(chars.len());
                chars.splice(at..end, s.chars());
            }
            Edit::DuplicateLine(at) => {
                let joined: String = chars.iter().collect();
                let lines: Vec<&str> = joined.split('\n').collect();
                let i = at % lines.len();
                let mut out = lines.clone();
                out.insert(i, lines[i]);
                chars = out.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let targets = targets();
        check(&String::from_utf8_lossy(&bytes), &targets)?;
        // As read from a file: invalid UTF-8 is located too.
        let parsed = Config::parse_bytes(Path::new("berth.toml"), &bytes, PathBuf::from(BASE_DIR));
        let valid = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
        check_parsed(valid, parsed, &targets)?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|[\\t\\r\\n=\\[\\]\"'#])*") {
        let targets = targets();
        check(&text, &targets)?;
    }

    #[test]
    fn mutated_valid_configs_fail_located_or_prepare(
        index in any::<usize>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let configs = valid_configs();
        let text = apply(&configs[index % configs.len()], &edits);
        let targets = targets();
        check(&text, &targets)?;
    }
}

#[test]
fn every_valid_fixture_parses_and_prepares_unchanged() {
    let targets = targets();
    for text in valid_configs() {
        assert!(Config::parse(Path::new("berth.toml"), &text, PathBuf::from(BASE_DIR)).is_ok());
        check(&text, &targets).expect("a valid fixture");
    }
}
