//! The invalid-config corpus: every file in `fixtures/invalid` must be refused, and
//! each refusal (its text and exit code) is a snapshot, since it is what a user reads.
//!
//! One case per file. The file's first line is a comment saying what is wrong with it
//! (it becomes the snapshot's description); the second, `# key: <dotted key>`, names
//! the key the message must name (`(none)` where a syntax error has none). Besides the
//! snapshots, the test checks what every message must do: name `file:line:column`,
//! name the right key, exit with 2, and, for a misspelling, suggest the right name.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use runtime_core::{Config, Error};

/// The corpus must not shrink below this.
const MIN_CASES: usize = 35;

/// Misspellings and the suggestion each must get, word for word.
const SUGGESTIONS: &[(&str, &str)] = &[
    ("unknown-key-comand", "did you mean `command`?"),
    ("unknown-key-imgae", "did you mean `image`?"),
    ("unknown-key-memroy", "did you mean `memory`?"),
    ("unknown-key-polcy", "did you mean `policy`?"),
    ("unknown-key-read-onyl", "did you mean `read_only`?"),
    ("unknown-key-docker-mdoe", "did you mean `mode`?"),
    ("unknown-key-cap-ad", "did you mean `cap_add`?"),
    (
        "unknown-key-no-new-privilege",
        "did you mean `no_new_privileges`?",
    ),
    ("unknown-key-secrets-name", "did you mean `names`?"),
    ("unknown-key-cpu", "did you mean `cpus`?"),
    ("unknown-key-build-dockerfil", "did you mean `dockerfile`?"),
    ("unknown-key-inline-build", "did you mean `context`?"),
    ("unknown-key-dotted", "did you mean `image`?"),
    ("unknown-table-netwrok", "did you mean `network`?"),
    ("unknown-value-mode-dnid", "did you mean `dind`?"),
    ("unknown-value-runtime-gvsior", "did you mean `gvisor`?"),
    ("value-unknown-capability", "did you mean `NET_ADMIN`?"),
];

/// Cases whose message names the wrong key today: runtime-core's `key_at` reads the
/// key from the error's own line and the nearest header above it, so it misses keys
/// of multi-line arrays, inline tables and `[[table]]` headers. Each stays listed
/// until runtime-core is fixed; the test fails when one starts naming the right key,
/// so the list cannot go stale.
const KNOWN_WRONG_KEY: &[&str] = &[
    "syntax-unclosed-array",
    "type-command-multiline-element",
    "type-docker-array-of-tables",
    "unknown-key-inline-build",
    "value-secret-twice-multiline",
];

struct Case {
    name: String,
    about: String,
    /// The key the message must name, or `(none)`.
    key: String,
    /// The file's bytes (some cases are not UTF-8).
    bytes: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let bytes =
                std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let name = file
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let about = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# "))
                .unwrap_or_else(|| {
                    panic!("{name}.toml: start it with a `# ` comment saying what is wrong")
                })
                .to_owned();
            let key = text
                .lines()
                .nth(1)
                .and_then(|l| l.strip_prefix("# key: "))
                .unwrap_or_else(|| {
                    panic!(
                        "{name}.toml: give the key the message must name on line 2: `# key: ...`"
                    )
                })
                .trim()
                .to_owned();
            Case {
                name,
                about,
                key,
                bytes,
            }
        })
        .collect()
}

/// Parses a case as `berth` would (from the file's bytes), naming the file by its path from the workspace.
fn refuse(case: &Case) -> Error {
    let shown = PathBuf::from(format!("tests/fixtures/invalid/{}.toml", case.name));
    match Config::parse_bytes(&shown, &case.bytes, PathBuf::from("/home/dev/project")) {
        Ok(_) => panic!(
            "{}.toml parsed, but it is invalid ({})",
            case.name, case.about
        ),
        Err(err) => err,
    }
}

/// What every refusal must do, beyond its snapshot.
fn check_shape(case: &Case, err: &Error) {
    let name = &case.name;
    let message = err.report();
    assert_eq!(berth::exit::code(err), 2, "{name}: {message}");
    let Error::Config(diag) = err else {
        panic!("{name}: not a config error: {message}");
    };
    let prefix = format!("tests/fixtures/invalid/{name}.toml:");
    assert!(message.starts_with(&prefix), "{name}: {message}");
    assert!(
        diag.line.is_some() && diag.column.is_some(),
        "{name}: no line:column: {message}"
    );
    let named = diag.key.as_deref().unwrap_or("(none)");
    if KNOWN_WRONG_KEY.contains(&name.as_str()) {
        assert_ne!(
            named, case.key,
            "{name} now names the right key: remove it from KNOWN_WRONG_KEY"
        );
    } else {
        assert_eq!(named, case.key, "{name}: wrong key named: {message}");
    }
    if let Some((_, expected)) = SUGGESTIONS.iter().find(|(n, _)| n == name) {
        assert_eq!(
            diag.help.as_deref(),
            Some(*expected),
            "{name}: wrong suggestion: {message}"
        );
    }
}

#[test]
fn every_invalid_config_is_refused_with_a_located_message() {
    let corpus = corpus();
    assert!(
        corpus.len() >= MIN_CASES,
        "the corpus has {} cases; it must keep at least {MIN_CASES}",
        corpus.len()
    );
    for (name, _) in SUGGESTIONS {
        assert!(
            corpus.iter().any(|c| c.name == *name),
            "SUGGESTIONS names {name}, which is not in the corpus"
        );
    }
    let mut failed = Vec::new();
    for case in &corpus {
        let err = refuse(case);
        let snapshot = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => "snapshots/invalid_configs",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => case.about.clone(),
            }, {
                insta::assert_snapshot!(
                    case.name.clone(),
                    format!("{}\nexit code: {}\n", err.report(), berth::exit::code(&err))
                );
            });
        }));
        if snapshot.is_err() {
            failed.push(format!("{}: snapshot changed", case.name));
        }
        if catch_unwind(AssertUnwindSafe(|| check_shape(case, &err))).is_err() {
            failed.push(format!("{}: message shape", case.name));
        }
    }
    assert!(failed.is_empty(), "{} failures: {failed:#?}", failed.len());
}

#[test]
fn no_stale_snapshots() {
    let expected: BTreeSet<String> = corpus().into_iter().map(|c| c.name).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/invalid_configs");
    let stale = berth_tests::stale_snapshots(&dir, &expected);
    assert!(
        stale.is_empty(),
        "snapshots without a fixture (delete them): {stale:?}"
    );
}
