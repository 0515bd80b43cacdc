//! Parsing what Apple's `container` prints, on recorded outputs of both shapes
//! (tests/fixtures/, one case per file): container lists and inspections (1.x and 0.x),
//! volume and network lists, `system status` as JSON and as old text, and
//! malformed outputs, each of which must fail with its own clear error; and the
//! two encodings of Apple's dates.

use std::path::Path;

use runtime_core::SandboxState;

use crate::AppleError;
use crate::error::prefix;
use crate::model::{self, ContainerState, ServiceState, Shape, Timestamp, parse_containers};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fixture(name: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

#[test]
fn container_lists_parse_in_both_shapes() {
    insta::glob!("../../tests/fixtures/containers", "*.json", |path| {
        let records =
            parse_containers(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        insta::assert_debug_snapshot!(records);
    });
}

#[test]
fn both_shapes_describe_the_same_container_alike() {
    let current = parse_containers(&fixture("containers/ls-1x.json")).expect("1.x parses");
    let legacy = parse_containers(&fixture("containers/ls-0x.json")).expect("0.x parses");
    let (a, b) = (&current[0], &legacy[0]);
    assert_eq!(a.shape, Shape::Current);
    assert_eq!(b.shape, Shape::Legacy);
    assert_eq!(a.id, b.id);
    assert_eq!(a.image, b.image);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.state, ContainerState::Running);
    assert_eq!(a.state, b.state);
    // 2025-06-10T12:34:56Z written as ISO-8601 and as seconds since 2001-01-01.
    assert_eq!(a.started.map(Timestamp::unix_seconds), Some(1_749_558_896));
    assert_eq!(b.started.map(Timestamp::unix_seconds), Some(1_749_558_896));
    assert_eq!(a.networks[0].ipv4_address, b.networks[0].ipv4_address);
    assert_eq!((a.cpus, a.memory_bytes), (b.cpus, b.memory_bytes));
}

#[test]
fn records_map_to_sandbox_infos() {
    let records = parse_containers(&fixture("containers/ls-1x.json")).expect("parses");
    let infos: Vec<_> = records.into_iter().map(|r| r.into_sandbox_info()).collect();
    insta::assert_json_snapshot!(infos);
    let stopped = parse_containers(&fixture("containers/inspect-0x.json")).expect("parses");
    // A stopped container the services never saw start counts as created.
    assert_eq!(stopped[0].sandbox_state(), SandboxState::Created);
    let exited = parse_containers(&fixture("containers/inspect-1x.json")).expect("parses");
    assert_eq!(exited[0].sandbox_state(), SandboxState::Exited);
    assert_eq!(exited[0].exit_code, None, "Apple's JSON has no exit code");
}

#[test]
fn malformed_outputs_fail_clearly() {
    insta::glob!("../../tests/fixtures/malformed", "*.json", |path| {
        let text = read(path);
        let source = match parse_containers(&text) {
            Ok(records) => panic!("{} parsed: {records:?}", path.display()),
            Err(e) => e,
        };
        let err = AppleError::Parse {
            argv: vec![
                "container".into(),
                "ls".into(),
                "-a".into(),
                "--format".into(),
                "json".into(),
            ],
            source,
            output: prefix(&text),
        };
        let report =
            runtime_core::Error::engine(runtime_core::RuntimeKind::Apple, "list containers", err)
                .report();
        insta::assert_snapshot!(report);
    });
}

#[test]
fn malformed_errors_are_distinct() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed");
    let mut messages: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/malformed")
        .map(|entry| {
            let text = read(&entry.expect("entry").path());
            parse_containers(&text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        })
        .collect();
    let total = messages.len();
    messages.sort();
    messages.dedup();
    assert_eq!(
        messages.len(),
        total,
        "two malformed fixtures fail alike: {messages:#?}"
    );
}

#[test]
fn volume_lists_parse_in_both_shapes() {
    let current = model::parse_volumes(&fixture("volumes/list-1x.json")).expect("1.x parses");
    let legacy = model::parse_volumes(&fixture("volumes/list-0x.json")).expect("0.x parses");
    assert_eq!(current[0], legacy[0]);
    insta::assert_debug_snapshot!((current, legacy));
}

#[test]
fn network_lists_parse() {
    let networks = model::parse_networks(&fixture("networks/list-1x.json")).expect("parses");
    insta::assert_debug_snapshot!(networks);
}

#[test]
fn network_lists_of_0_12_keep_their_labels_under_config() {
    let legacy = model::parse_networks(&fixture("networks/list-0.12.json")).expect("parses");
    let current = model::parse_networks(&fixture("networks/list-1x.json")).expect("parses");
    assert_eq!(legacy, current);
    assert_eq!(
        legacy[1].labels.get("berth.run-id").map(String::as_str),
        Some("3f9c2a1b7d4e")
    );
}

#[test]
fn api_server_versions_parse() {
    let version = |text: &str| model::ApiVersion::parse(text).map(|v| v.to_string());
    assert_eq!(
        version("container-apiserver version 1.2.2 (build: release, commit: 9a1c2f3)").as_deref(),
        Some("1.2.2")
    );
    assert_eq!(
        version("container-apiserver version 0.12.3").as_deref(),
        Some("0.12.3")
    );
    assert_eq!(version("0.11.0").as_deref(), Some("0.11.0"));
    assert_eq!(version("container-apiserver version unknown"), None);
    let old = model::ApiVersion::parse("0.11.0").expect("parses");
    assert!(old < model::MINIMUM_VERSION);
    assert!(model::ApiVersion::parse("1.0.0").expect("parses") >= model::MINIMUM_VERSION);
}

#[test]
fn system_status_json() {
    let running = model::parse_system_status(&fixture("status/running.json")).expect("parses");
    assert_eq!(running.state, ServiceState::Running);
    assert_eq!(
        running.api_server_version.as_deref(),
        Some("container-apiserver version 1.2.2 (build: release, commit: 9a1c2f3)")
    );
    let old = model::parse_system_status(&fixture("status/running-0.11.json")).expect("parses");
    assert_eq!(old.state, ServiceState::Running);
    let down = model::parse_system_status(&fixture("status/not-running.json")).expect("parses");
    assert_eq!(
        (down.state, down.api_server_version),
        (ServiceState::NotRunning, None)
    );
    let gone = model::parse_system_status(&fixture("status/unregistered.json")).expect("parses");
    assert_eq!(gone.state, ServiceState::Unregistered);
    let bad = model::parse_system_status(&fixture("status/missing-status.json"));
    assert!(
        bad.as_ref()
            .is_err_and(|e| e.to_string().contains("missing field `status`")),
        "{bad:?}"
    );
}

#[test]
fn system_status_text_of_old_clis() {
    let running = model::parse_system_status_text(&fixture("status/text-running.txt"));
    let running = running.expect("recognised");
    assert_eq!(running.state, ServiceState::Running);
    assert!(running.from_text);
    assert_eq!(
        running.api_server_version.as_deref(),
        Some("container-apiserver version 0.10.0 (build: release, commit: 1f2e3d4)")
    );
    let down = model::parse_system_status_text(&fixture("status/text-not-running.txt"));
    assert_eq!(down.map(|s| s.state), Some(ServiceState::NotRunning));
    let gone = model::parse_system_status_text(&fixture("status/text-unregistered.txt"));
    assert_eq!(gone.map(|s| s.state), Some(ServiceState::Unregistered));
    assert!(model::parse_system_status_text("ID  STATE\n").is_none());
}

#[test]
fn reference_date_is_2001() {
    let zero = Timestamp::from_reference_seconds(0.0).map(Timestamp::unix_seconds);
    assert_eq!(zero, Some(978_307_200));
    let iso = Timestamp::parse_iso("2001-01-01T00:00:00Z").map(Timestamp::unix_seconds);
    assert_eq!(iso, Some(978_307_200));
}

#[test]
fn both_encodings_agree() {
    let iso = Timestamp::parse_iso("2025-06-10T12:34:56Z");
    let secs = Timestamp::from_reference_seconds(771_251_696.0);
    assert_eq!(iso, secs);
}

#[test]
fn rejects_nonsense() {
    assert!(Timestamp::parse_iso("yesterday").is_none());
    assert!(Timestamp::from_reference_seconds(f64::NAN).is_none());
    assert!(Timestamp::from_reference_seconds(1e300).is_none());
}
