//! `berth schema`: the JSON Schema of berth.toml that editors use agrees with the
//! loader. Every config berth accepts (the example, the fixtures, what `berth
//! init` writes) is valid against it; every fixture the loader refuses for a
//! wrong type, an unknown key or table, or an unknown value is invalid against it
//! too; and the schema itself is snapshotted.

use std::path::{Path, PathBuf};

use berth_tests::{Scratch, describe, run};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");

/// What `berth schema` prints, as text and as JSON.
fn schema() -> (String, serde_json::Value) {
    let s = Scratch::new("schema");
    let out = run(s.berth().arg("schema"));
    assert!(out.status.success(), "berth schema: {}", describe(&out));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    (text, json)
}

/// A TOML file's tables as the JSON an editor checks against the schema.
fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::to_value(table).expect("TOML as JSON")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Why `instance` is invalid against `schema`, or `None` when it is valid.
fn errors(validator: &jsonschema::Validator, instance: &serde_json::Value) -> Option<String> {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[test]
fn the_schema_is_draft_7_and_as_snapshotted() {
    let (text, json) = schema();
    assert_eq!(json["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(json["title"], "berth.toml");
    jsonschema::draft7::meta::validate(&json).expect("a valid draft 7 schema");
    insta::assert_snapshot!("berth_schema", text);
}

#[test]
fn every_config_berth_accepts_is_valid_against_the_schema() {
    let (_, json) = schema();
    let validator = jsonschema::validator_for(&json).expect("a usable schema");
    let s = Scratch::new("schema-init");
    let init =
        run(s
            .berth()
            .current_dir(s.dir())
            .args(["init", "--image", "berth-test/busybox:latest"]));
    assert!(init.status.success(), "berth init: {}", describe(&init));

    let mut files = toml_files(&Path::new(FIXTURES).join("configs"));
    files.push(Path::new(EXAMPLES).join("hello/berth.toml"));
    files.push(s.dir().join("berth.toml"));
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let loaded = runtime_core::Config::parse(file, &text, s.dir().to_owned());
        assert!(
            loaded.is_ok(),
            "{} is refused by berth: {loaded:?}",
            file.display()
        );
        if let Some(why) = errors(&validator, &as_json(file)) {
            panic!("{} is invalid against the schema: {why}", file.display());
        }
    }
    assert!(files.len() > 10, "the fixtures were found: {files:?}");
}

#[test]
fn configs_refused_for_a_type_a_key_or_a_value_are_invalid_against_the_schema() {
    let (_, json) = schema();
    let validator = jsonschema::validator_for(&json).expect("a usable schema");
    let kinds = ["type-", "unknown-"];
    let mut checked = 0;
    for file in toml_files(&Path::new(FIXTURES).join("invalid")) {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !kinds.iter().any(|k| name.starts_with(k)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(
            runtime_core::Config::parse(&file, &text, PathBuf::from("/")).is_err(),
            "{name} is accepted by berth"
        );
        assert!(
            errors(&validator, &as_json(&file)).is_some(),
            "{name} is valid against the schema, but berth refuses it"
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} fixtures were checked");
}
