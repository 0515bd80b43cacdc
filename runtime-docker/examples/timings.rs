//! Measures the backend on the local engine: an exec `true` round trip, and a
//! create + start + wait + remove of a `true` sandbox, as medians.
//!
//! `cargo run -p runtime-docker --example timings -- [IMAGE] [ROUNDS] [docker|gvisor]`
//! (defaults: berth-test/busybox:latest, 10, docker).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use runtime_core::config::NetworkPolicy;
use runtime_core::plan::{DockerAccess, ImageSource, Limits, NetworkPlan, Security};
use runtime_core::{CreateSpec, Error, ExecSpec, Plan, Runtime, RuntimeKind, labels};
use runtime_docker::DockerRuntime;

fn plan(kind: RuntimeKind, image: &str) -> Plan {
    let oci = if kind == RuntimeKind::Gvisor {
        "runsc"
    } else {
        "runc"
    };
    Plan {
        name: "timings".to_owned(),
        runtime: kind,
        oci_runtime: Some(oci.to_owned()),
        image: ImageSource::Reference {
            reference: image.to_owned(),
        },
        command: None,
        workdir: None,
        user: None,
        group_add: Vec::new(),
        mounts: Vec::new(),
        env: Vec::new(),
        network: NetworkPlan {
            policy: NetworkPolicy::Open,
            mode: "bridge".to_owned(),
            create: Vec::new(),
        },
        docker: DockerAccess::None,
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
        labels: BTreeMap::from([(
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        )]),
        warnings: Vec::new(),
    }
}

fn spec<'a>(plan: &'a Plan, run_id: &str, command: &[&str]) -> CreateSpec<'a> {
    CreateSpec {
        plan,
        run_id: run_id.to_owned(),
        name: format!("berth-timings-{run_id}"),
        env: Vec::new(),
        stdin: false,
        tty: false,
        command: Some(command.iter().map(|s| (*s).to_owned()).collect()),
        owner_pid: std::process::id(),
        detached: false,
        expires_at: None,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn show(what: &str, samples: &[Duration]) {
    let ms: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "{what}: median {:.1} ms (ms: {})",
        median(samples.to_vec()).as_secs_f64() * 1000.0,
        ms.join(" ")
    );
}

async fn exec_true(docker: &DockerRuntime, id: &str) -> Result<i64, Error> {
    let spec = ExecSpec {
        cmd: vec!["true".to_owned()],
        ..Default::default()
    };
    let mut session = docker.exec(id, &spec).await?;
    while let Some(chunk) = session.output.next().await {
        chunk?;
    }
    session.exit.await
}

async fn lifecycle(docker: &DockerRuntime, plan: &Plan, run_id: &str) -> Result<i64, Error> {
    let id = docker.create(&spec(plan, run_id, &["true"])).await?;
    docker.start(&id).await?;
    let code = docker.wait(&id).await?;
    docker.remove(run_id).await?;
    Ok(code)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let image = args
        .next()
        .unwrap_or_else(|| "berth-test/busybox:latest".to_owned());
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let kind = match args.next().as_deref() {
        Some("gvisor") => RuntimeKind::Gvisor,
        _ => RuntimeKind::Docker,
    };
    let docker = DockerRuntime::with_kind(kind);
    let plan = plan(kind, &image);
    let base = format!("tm{}", std::process::id());

    let sandbox = format!("{base}x");
    let id = docker
        .create(&spec(&plan, &sandbox, &["sleep", "600"]))
        .await?;
    docker.start(&id).await?;
    exec_true(&docker, &id).await?; // warm-up
    let mut execs = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        assert_eq!(exec_true(&docker, &id).await?, 0);
        execs.push(started.elapsed());
    }
    docker.remove(&sandbox).await?;

    let mut runs = Vec::new();
    for round in 0..rounds {
        let run_id = format!("{base}r{round}");
        let started = Instant::now();
        let result = lifecycle(&docker, &plan, &run_id).await;
        let elapsed = started.elapsed();
        if result.is_err() {
            let _ = docker.remove(&run_id).await;
        }
        assert_eq!(result?, 0);
        runs.push(elapsed);
    }
    println!("{kind} on {image}, {rounds} rounds");
    show("exec `true` round trip", &execs);
    show("create + start + wait + remove of `true`", &runs);
    Ok(())
}
