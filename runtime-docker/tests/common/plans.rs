//! Plans and create specs built by hand, with no engine: shared by the engine
//! tests and by the crate's unit tests of the create request.

use std::collections::BTreeMap;

use runtime_core::config::NetworkPolicy;
use runtime_core::plan::{DockerAccess, ImageSource, Limits, NetworkPlan, Security};
use runtime_core::{CreateSpec, Plan, RunId, RuntimeKind, labels};

/// A plan for `kind` running `image` with no mounts, no limits, an open network.
pub fn plan(kind: RuntimeKind, image: &str) -> Plan {
    let oci = match kind {
        RuntimeKind::Gvisor => "runsc",
        _ => "runc",
    };
    Plan {
        name: "dt".to_owned(),
        runtime: kind,
        oci_runtime: Some(oci.to_owned()),
        image: ImageSource::Reference {
            reference: image.to_owned(),
        },
        command: None,
        workdir: None,
        user: None,
        non_root_user: None,
        home: None,
        group_add: Vec::new(),
        mounts: Vec::new(),
        env: Vec::new(),
        network: NetworkPlan {
            policy: NetworkPolicy::Open,
            mode: "bridge".to_owned(),
            create: Vec::new(),
            shared: None,
            egress: None,
            upstream_ca: None,
        },
        docker: DockerAccess::None,
        init: runtime_core::plan::InitPlan::default(),
        security: Security {
            privileged: false,
            cap_drop: Vec::new(),
            cap_add: Vec::new(),
            no_new_privileges: true,
            security_opt: Vec::new(),
            device_cgroup_rules: Vec::new(),
            cgroupns_host: false,
            system_paths_unconfined: false,
            read_only_rootfs: false,
        },
        limits: Limits {
            cpus: None,
            memory: None,
            pids: None,
        },
        labels: BTreeMap::from([
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
            (labels::ROLE.to_owned(), "agent".to_owned()),
            (labels::RUNTIME.to_owned(), kind.to_string()),
            (labels::OCI_RUNTIME.to_owned(), oci.to_owned()),
            (labels::SANDBOX.to_owned(), "dt".to_owned()),
        ]),
        defaults: Vec::new(),
        not_applied: Vec::new(),
        warnings: Vec::new(),
        dangers: Vec::new(),
        pool: None,
    }
}

/// A create spec for `plan` under `run_id`, named after the run.
pub fn spec<'a>(plan: &'a Plan, run_id: &RunId, command: &[&str]) -> CreateSpec<'a> {
    let spec = CreateSpec::new(plan, run_id.clone(), format!("berth-dt-{run_id}"));
    if command.is_empty() {
        spec
    } else {
        spec.with_command(command.iter().map(|s| (*s).to_owned()).collect())
    }
}
