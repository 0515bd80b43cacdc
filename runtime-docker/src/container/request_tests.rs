//! The engine create request built from resolved plans, as snapshots: what berth
//! asks the engine for is reviewed like any other output.

#[path = "../../tests/common/plans.rs"]
mod common;

use std::path::PathBuf;

use runtime_core::{
    Availability, Config, CreateSpec, EngineFacts, HostFacts, OciRuntime, Os, ProbeReport,
    SocketFacts, prepare,
};

fn host(cap_bounding_set: u64) -> HostFacts {
    HostFacts {
        os: Os::Linux,
        socket: Some(SocketFacts::Usable {
            path: PathBuf::from("/var/run/docker.sock"),
            source: "default path".to_owned(),
            gid: 999,
            mode: 0o660,
        }),
        engine: Some(EngineFacts {
            version: "20.10.24".to_owned(),
            api_version: "1.41".to_owned(),
            default_runtime: Some("runc".to_owned()),
            runtimes: vec![OciRuntime {
                name: "runc".to_owned(),
                path: Some("runc".to_owned()),
                args: vec![],
            }],
            ncpu: Some(8),
            mem_total: Some(16 << 30),
        }),
        cap_bounding_set: Some(cap_bounding_set),
        env_names: Default::default(),
        paths: Default::default(),
        home: None,
        state_dir: None,
        helper: Some("/usr/local/bin/berth-helper".into()),
    }
}

fn body(toml: &str, cap_bounding_set: u64) -> String {
    body_for_image(toml, cap_bounding_set, Some(""))
}

/// The request for `toml` on an image whose `User` is `image_user` (`Some("")`: the
/// image names none).
fn body_for_image(toml: &str, cap_bounding_set: u64, image_user: Option<&str>) -> String {
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
    let caps = crate::capabilities::capabilities(&host, &probe);
    let plan = prepare(&config, &caps, &host).expect("plan");
    let spec = CreateSpec::new(&plan, r1(), "agent-01234567")
        .with_env(vec![("GREETING".to_owned(), "hello".to_owned())])
        .with_owner(
            4242,
            runtime_core::HostIdentity::new("6f1c2a3e-0b1d-4c5e-8f90-123456789abc", 4_026_531_836),
        )
        .with_detached(Some(1_800_000_000));
    let body = crate::container::container_body(&spec, image_user);
    let mut value = serde_json::to_value(&body).expect("json");
    // HashMaps serialize in random order: sort them for a stable snapshot.
    let sort = |map: &mut serde_json::Value| {
        let sorted: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_value(map.clone()).expect("map");
        *map = serde_json::to_value(sorted).expect("map");
    };
    if let Some(labels) = value.get_mut("Labels") {
        sort(labels);
    }
    if let Some(tmpfs) = value.get_mut("HostConfig").and_then(|h| h.get_mut("Tmpfs")) {
        sort(tmpfs);
    }
    serde_json::to_string_pretty(&value).expect("json")
}

/// The run id of these snapshots.
fn r1() -> runtime_core::RunId {
    runtime_core::RunId::parse("0123456789ab").expect("run id")
}

#[test]
fn the_default_sandbox_on_a_root_image() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"debian:bookworm-slim\"\n[workspace]\n",
        0x1ff_ffff_ffff,
    ));
}

#[test]
fn an_image_with_a_non_root_user_keeps_it() {
    let text = body_for_image(
        "[sandbox]\nname = \"agent\"\nimage = \"berth-test/busybox\"\n",
        0x1ff_ffff_ffff,
        Some("agent"),
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value.get("User"), None, "the image's own user applies");
    assert_eq!(
        value["HostConfig"]["Tmpfs"]["/home/berth"], "rw,exec,nosuid,nodev,mode=1777",
        "a user known by name gets a sticky world-writable home"
    );
}

#[test]
fn loosened_defaults() {
    insta::assert_snapshot!(body(
        "[sandbox]\nname = \"agent\"\nimage = \"debian:bookworm-slim\"\nuser = \"root\"\n[security]\nread_only_rootfs = false\n[resources]\ncpus = \"unlimited\"\nmemory = \"unlimited\"\n",
        0x1ff_ffff_ffff,
    ));
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

/// The create request from hand-built plans, for what resolution does not produce
/// yet (anonymous volumes) and for each setting on its own.
mod mapping {
    use super::common;
    use std::path::PathBuf;

    use crate::container::{container_body, oci_runtime, volume_name};
    use bollard::models::{HostConfigCgroupnsModeEnum, MountType};
    use runtime_core::RuntimeKind;
    use runtime_core::labels;
    use runtime_core::plan::{Mount, MountPurpose};

    #[test]
    fn mounts_map_to_binds_and_named_run_volumes_in_order() {
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.mounts = vec![
            Mount::Volume {
                target: "/var/lib/docker".to_owned(),
                purpose: MountPurpose::DindStorage,
            },
            Mount::Bind {
                source: PathBuf::from("/src"),
                declared: None,
                target: "/w".to_owned(),
                read_only: true,
                purpose: MountPurpose::Workspace,
            },
            Mount::Volume {
                target: "/cache".to_owned(),
                purpose: MountPurpose::DindStorage,
            },
        ];
        let body = container_body(&common::spec(&plan, &super::r1(), &[]), None);
        let mounts = body.host_config.and_then(|h| h.mounts).expect("mounts");
        let seen: Vec<_> = mounts
            .iter()
            .map(|m| (m.typ, m.source.as_deref(), m.target.as_deref(), m.read_only))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    Some(MountType::VOLUME),
                    Some("berth-0123456789ab-0"),
                    Some("/var/lib/docker"),
                    Some(false)
                ),
                (Some(MountType::BIND), Some("/src"), Some("/w"), Some(true)),
                (
                    Some(MountType::VOLUME),
                    Some("berth-0123456789ab-1"),
                    Some("/cache"),
                    Some(false)
                ),
            ]
        );
        assert_eq!(volume_name("r1", 1), "berth-r1-1");
    }

    #[test]
    fn the_oci_runtime_is_always_explicit_for_docker() {
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.oci_runtime = None;
        let spec = common::spec(&plan, &super::r1(), &[]);
        assert_eq!(oci_runtime(&spec).as_deref(), Some("runc"));
        let gvisor = common::plan(RuntimeKind::Gvisor, "img");
        let body = container_body(&common::spec(&gvisor, &super::r1(), &[]), None);
        assert_eq!(
            body.host_config.and_then(|h| h.runtime).as_deref(),
            Some("runsc")
        );
    }

    #[test]
    fn command_env_stdio_and_labels() {
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.command = Some(vec!["from-plan".to_owned()]);
        plan.labels.remove(labels::MANAGED_BY);
        let mut spec = common::spec(&plan, &super::r1(), &[]);
        assert_eq!(
            container_body(&spec, None).cmd,
            Some(vec!["from-plan".to_owned()])
        );
        spec.command = Some(vec!["override".to_owned()]);
        spec.env = vec![("A".to_owned(), "x=y z".to_owned())];
        spec.stdin = true;
        spec.tty = true;
        let body = container_body(&spec, None);
        assert_eq!(body.cmd, Some(vec!["override".to_owned()]));
        assert_eq!(body.env, Some(vec!["A=x=y z".to_owned()]));
        assert_eq!(
            (
                body.open_stdin,
                body.attach_stdin,
                body.stdin_once,
                body.tty
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let labels_set = body.labels.expect("labels");
        // Listing and cleanup depend on these, whatever the plan's labels say.
        assert_eq!(
            labels_set.get(labels::MANAGED_BY).map(String::as_str),
            Some("berth")
        );
        assert_eq!(
            labels_set.get(labels::RUN_ID).map(String::as_str),
            Some("0123456789ab")
        );
    }

    #[test]
    fn every_label_berth_reads_back_is_written_by_berth() {
        // An image's own LABELs are copied onto the container by the engine unless
        // the create request sets the same keys: berth sets every one it reads.
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.oci_runtime = None;
        let spec = common::spec(&plan, &super::r1(), &[]);
        let labels_set = container_body(&spec, None).labels.expect("labels");
        let get = |key: &str| labels_set.get(key).map(String::as_str);
        assert_eq!(get(labels::EXPIRES), Some(labels::NEVER));
        assert_eq!(get(labels::DETACHED), Some("false"));
        let pid = std::process::id().to_string();
        assert_eq!(get(labels::OWNER_PID), Some(pid.as_str()));
        let host = runtime_core::HostIdentity::current().map(|h| h.to_string());
        assert_eq!(
            get(labels::OWNER_HOST),
            Some(host.as_deref().unwrap_or(labels::UNKNOWN))
        );
        assert_eq!(get(labels::OCI_RUNTIME), Some("runc"));
        for key in [
            labels::MANAGED_BY,
            labels::RUN_ID,
            labels::ROLE,
            labels::RUNTIME,
            labels::SANDBOX,
        ] {
            assert!(get(key).is_some(), "{key} is not written");
        }
        let run = match labels::Ownership::classify(&labels_set.clone().into_iter().collect()) {
            labels::Ownership::Run(run) => run,
            other => panic!("berth's own labels classify as {other:?}"),
        };
        assert_eq!(run.expires, labels::Expiry::Never);
    }

    #[test]
    fn security_settings_map_to_the_host_config() {
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.security.privileged = true;
        plan.security.cap_add = vec!["SYS_ADMIN".to_owned()];
        plan.security.security_opt = vec!["seccomp=unconfined".to_owned()];
        plan.security.device_cgroup_rules = vec!["a *:* rwm".to_owned()];
        plan.security.cgroupns_host = true;
        plan.security.read_only_rootfs = true;
        plan.security.system_paths_unconfined = true;
        plan.group_add = vec![998];
        plan.network.mode = "none".to_owned();
        let host = container_body(&common::spec(&plan, &super::r1(), &[]), None)
            .host_config
            .expect("host config");
        assert_eq!(host.privileged, Some(true));
        assert_eq!(host.cap_add, Some(vec!["SYS_ADMIN".to_owned()]));
        assert_eq!(host.cap_drop, None);
        assert_eq!(
            host.security_opt,
            Some(vec![
                "seccomp=unconfined".to_owned(),
                "no-new-privileges:true".to_owned()
            ])
        );
        assert_eq!(host.device_cgroup_rules, Some(vec!["a *:* rwm".to_owned()]));
        assert_eq!(host.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::HOST));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.masked_paths, Some(vec![]));
        assert_eq!(host.readonly_paths, Some(vec![]));
        assert_eq!(host.group_add, Some(vec!["998".to_owned()]));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.init, Some(true));
    }

    #[test]
    fn the_non_root_policy_applies_only_to_root_or_unset_image_users() {
        use crate::container::effective_user;
        use runtime_core::plan::NonRootUser;
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.non_root_user = Some(NonRootUser {
            uid: 1000,
            gid: 1000,
        });
        for root in [Some(""), Some("root"), Some("0"), Some("0:0"), None] {
            assert_eq!(
                effective_user(&plan, root).as_deref(),
                Some("1000:1000"),
                "image user {root:?}"
            );
        }
        assert_eq!(effective_user(&plan, Some("node")), None);
        assert_eq!(effective_user(&plan, Some("1001:1001")), None);
        plan.user = Some("root".to_owned());
        assert_eq!(effective_user(&plan, Some("")).as_deref(), Some("root"));
        plan.user = None;
        plan.non_root_user = None;
        assert_eq!(effective_user(&plan, Some("")), None);
    }

    #[test]
    fn tmpfs_mounts_allow_exec_and_belong_to_the_sandbox_user() {
        use runtime_core::plan::TmpfsOwner;
        let mut plan = common::plan(RuntimeKind::Docker, "img");
        plan.user = Some("1000:1000".to_owned());
        plan.home = Some("/home/berth".to_owned());
        plan.mounts = vec![
            Mount::Tmpfs {
                target: "/tmp".to_owned(),
                mode: 0o1777,
                owner: TmpfsOwner::Root,
                purpose: MountPurpose::Scratch,
            },
            Mount::Tmpfs {
                target: "/home/berth".to_owned(),
                mode: 0o700,
                owner: TmpfsOwner::SandboxUser,
                purpose: MountPurpose::Home,
            },
        ];
        let body = container_body(&common::spec(&plan, &super::r1(), &[]), Some(""));
        let host = body.host_config.expect("host config");
        let tmpfs = host.tmpfs.expect("tmpfs");
        assert_eq!(tmpfs["/tmp"], "rw,exec,nosuid,nodev,mode=1777");
        assert_eq!(
            tmpfs["/home/berth"],
            "rw,exec,nosuid,nodev,mode=700,uid=1000,gid=1000"
        );
        assert_eq!(
            host.mounts, None,
            "tmpfs mounts go in HostConfig.Tmpfs only"
        );
        assert_eq!(body.env, Some(vec!["HOME=/home/berth".to_owned()]));
    }
}
