//! The engine create request built from resolved plans, as snapshots: what berth
//! asks the engine for is reviewed like any other output.

use std::path::PathBuf;

use runtime_core::{
    Availability, Config, CreateSpec, EngineFacts, HostFacts, OciRuntime, Os, ProbeReport,
    SocketFacts, prepare,
};

fn host(cap_bounding_set: u64) -> HostFacts {
    HostFacts {
        os: Os::Linux,
        socket: SocketFacts::Usable {
            path: PathBuf::from("/var/run/docker.sock"),
            source: runtime_core::host::SocketSource::Default,
            gid: 999,
            mode: 0o660,
        },
        engine: Some(EngineFacts {
            version: "20.10.24".to_owned(),
            api_version: "1.41".to_owned(),
            default_runtime: Some("runc".to_owned()),
            runtimes: vec![OciRuntime {
                name: "runc".to_owned(),
                path: Some("runc".to_owned()),
                args: vec![],
            }],
        }),
        cap_bounding_set: Some(cap_bounding_set),
        env_names: Default::default(),
    }
}

fn body(toml: &str, cap_bounding_set: u64) -> String {
    let config = Config::parse(
        "berth.toml".as_ref(),
        toml,
        PathBuf::from("/home/dev/project"),
    )
    .expect("config");
    let host = host(cap_bounding_set);
    let probe = ProbeReport {
        availability: Availability::Available,
        engine: host.engine.clone(),
    };
    let caps = runtime_docker::capabilities(&host, &probe);
    let plan = prepare(&config, &caps, &host).expect("plan");
    let spec = CreateSpec {
        plan: &plan,
        run_id: "0123456789ab".to_owned(),
        name: "agent-01234567".to_owned(),
        env: vec![("GREETING".to_owned(), "hello".to_owned())],
        stdin: false,
        tty: false,
        command: None,
        owner_pid: 4242,
        detached: true,
        expires_at: Some(1_800_000_000),
    };
    let body = runtime_docker::containers::container_body(&spec);
    let mut value = serde_json::to_value(&body).expect("json");
    // HashMaps serialize in random order: sort labels for a stable snapshot.
    if let Some(labels) = value.get_mut("Labels") {
        let sorted: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_value(labels.clone()).expect("labels");
        *labels = serde_json::to_value(sorted).expect("labels");
    }
    serde_json::to_string_pretty(&value).expect("json")
}

#[test]
fn hardened_default_with_workspace_and_limits() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"berth-test/busybox\"\nuser = \"1000:1000\"\nworkdir = \"/w\"\ncommand = [\"sh\"]\n[workspace]\nmount = \"/w\"\nread_only = true\n[network]\npolicy = \"none\"\n[resources]\ncpus = 1.5\nmemory = \"512MiB\"\npids = 64\n",
        0x1ff_ffff_ffff,
    ));
}

#[test]
fn host_mode_mounts_the_socket_and_adds_its_group() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"berth-test/dind\"\nuser = \"1000:1000\"\n[docker]\nmode = \"host\"\n",
        0x1ff_ffff_ffff,
    ));
}

#[test]
fn dind_without_sys_resource_spells_privileged_out() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"berth-test/dind\"\n[docker]\nmode = \"dind\"\n",
        0x1ff_feff_ffff,
    ));
}

#[test]
fn dind_with_a_full_bounding_set_is_privileged() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"berth-test/dind\"\n[docker]\nmode = \"dind\"\n",
        0x1ff_ffff_ffff,
    ));
}
