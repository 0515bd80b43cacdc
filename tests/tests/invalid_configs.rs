//! The invalid-config corpus: every file in fixtures/invalid must be refused, and
//! each refusal (text and exit code) is a snapshot, since it is what a user reads.

use std::path::{Path, PathBuf};

use runtime_core::Config;

#[test]
fn every_invalid_config_is_refused_with_a_located_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read fixtures/invalid")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 35, "the corpus has {} cases", files.len());
    for file in files {
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&file).expect("read");
        let shown = PathBuf::from(format!("invalid/{name}.toml"));
        let err = match Config::parse(&shown, &text, PathBuf::from("/home/dev/project")) {
            Ok(_) => panic!("{name} parsed, but it is invalid"),
            Err(err) => err,
        };
        let message = err.report();
        assert_eq!(err.exit_code(), 2, "{name}: {message}");
        // Every message names the file; all but whole-file errors name a line.
        assert!(
            message.starts_with(&format!("invalid/{name}.toml:")),
            "{name}: {message}"
        );
        insta::with_settings!({
            snapshot_path => "snapshots/invalid_configs",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => text.lines().next().unwrap_or_default().to_owned(),
        }, {
            insta::assert_snapshot!(name.clone(), format!("{message}\nexit code: {}\n", err.exit_code()));
        });
    }
}
