//! The `Sandbox` handle against a fake runtime that records every call: the run
//! record in step, teardown on failure, on cancellation (at each step of the
//! launch) and on drop, and nothing removed once the run is kept or detached.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::launch::{Cancellation, Signal};
use runtime_core::plan::ImageSource;
use runtime_core::runtime::{LogOptions, OutputStream, Progress, Removed};
use runtime_core::state::{RunState, RunStore};
use runtime_core::{
    Availability, Capabilities, Config, CreateSpec, Error, ExecSpec, HostFacts, LimitNotes,
    LimitSupport, Plan, ProbeReport, RealHost, RunId, Runtime, RuntimeKind, Sandbox, SandboxInfo,
    Session, Support, prepare,
};

/// Where the fake stops to let a test cancel in the middle of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    Nowhere,
    Image,
    Create,
}

#[derive(Default)]
struct Calls(Mutex<Vec<String>>);

impl Calls {
    fn push(&self, call: impl Into<String>) {
        self.0.lock().expect("calls").push(call.into());
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().expect("calls").clone()
    }

    fn removals(&self) -> usize {
        self.all()
            .iter()
            .filter(|c| c.starts_with("remove "))
            .count()
    }
}

struct Fake {
    calls: Arc<Calls>,
    slow: Slow,
    fail_create: bool,
    fail_start: bool,
    fail_remove: bool,
}

impl Fake {
    fn new() -> Self {
        Self {
            calls: Arc::default(),
            slow: Slow::Nowhere,
            fail_create: false,
            fail_start: false,
            fail_remove: false,
        }
    }
}

fn engine_error(operation: &str) -> Error {
    Error::engine(RuntimeKind::Docker, operation, "the fake says no")
}

#[async_trait]
impl Runtime for Fake {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    async fn probe(&self) -> ProbeReport {
        ProbeReport {
            availability: Availability::Available,
            engine: None,
        }
    }

    fn capabilities(&self, _host: &HostFacts, _probe: &ProbeReport) -> Capabilities {
        caps()
    }

    async fn ensure_image(
        &self,
        image: &ImageSource,
        _progress: Progress<'_>,
    ) -> Result<(), Error> {
        self.calls.push(format!("image {}", image.reference()));
        if self.slow == Slow::Image {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Ok(())
    }

    async fn create(&self, spec: &CreateSpec<'_>) -> Result<String, Error> {
        self.calls.push(format!("create {}", spec.name));
        if self.slow == Slow::Create {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if self.fail_create {
            return Err(engine_error("create"));
        }
        Ok(format!("id-{}", spec.run_id))
    }

    async fn start(&self, id: &str) -> Result<(), Error> {
        self.calls.push(format!("start {id}"));
        if self.fail_start {
            return Err(engine_error("start"));
        }
        Ok(())
    }

    async fn attach(&self, id: &str, _stdin: bool) -> Result<Session, Error> {
        self.calls.push(format!("attach {id}"));
        Ok(Session {
            input: None,
            output: Box::pin(futures::stream::empty()),
            exit: Box::pin(async { Ok(0) }),
            control: None,
        })
    }

    async fn wait(&self, id: &str) -> Result<i64, Error> {
        self.calls.push(format!("wait {id}"));
        Ok(0)
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<Session, Error> {
        self.calls.push(format!("exec {id} {}", spec.cmd.join(" ")));
        Ok(Session {
            input: None,
            output: Box::pin(futures::stream::empty()),
            exit: Box::pin(async { Ok(7) }),
            control: None,
        })
    }

    async fn logs(&self, id: &str, _options: &LogOptions) -> Result<OutputStream, Error> {
        self.calls.push(format!("logs {id}"));
        Ok(Box::pin(futures::stream::empty()))
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<(), Error> {
        self.calls.push(format!("stop {id}"));
        Ok(())
    }

    async fn remove(&self, run_id: &RunId) -> Result<Removed, Error> {
        self.calls.push(format!("remove {run_id}"));
        if self.fail_remove {
            return Err(engine_error("remove"));
        }
        Ok(Removed::default())
    }

    async fn list(&self, _all: bool) -> Result<Vec<SandboxInfo>, Error> {
        self.calls.push("list");
        Ok(Vec::new())
    }
}

fn caps() -> Capabilities {
    Capabilities {
        runtime: RuntimeKind::Docker,
        availability: Availability::Available,
        oci_runtime: None,
        socket_mount: Support::Supported,
        privileged: Support::Supported,
        user_network_dns: Support::Supported,
        egress_proxy: Support::Supported,
        init: Support::Supported,
        init_exec: Support::Supported,
        functional: Support::Supported,
        network_none: true,
        limits: LimitSupport {
            cpus: true,
            memory: true,
            pids: true,
        },
        limit_notes: LimitNotes::default(),
        non_root_fallback: true,
        shared_network: Support::Supported,
        default_network: "bridge".to_owned(),
        engine_socket_fix: "start the engine".to_owned(),
        no_new_privileges: Support::Supported,
        tmpfs_options: true,
    }
}

fn plan() -> Plan {
    plan_of("[sandbox]\nname = \"fake\"\nimage = \"berth-test/busybox:latest\"\n")
}

/// A fake, a plan, and a record store in a temporary directory.
struct Setup {
    fake: Arc<Fake>,
    calls: Arc<Calls>,
    plan: Plan,
    store: RunStore,
    _dir: tempfile::TempDir,
}

fn setup(fake: Fake) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let calls = fake.calls.clone();
    Setup {
        fake: Arc::new(fake),
        calls,
        plan: plan(),
        store: RunStore::at(dir.path().join("berth")),
        _dir: dir,
    }
}

impl Setup {
    fn builder(&self) -> runtime_core::sandbox::Builder<'_> {
        Sandbox::builder(self.fake.clone(), &self.plan)
            .records(self.store.clone())
            .sweep_expired(false)
    }

    fn state_of(&self, run_id: &RunId) -> Option<RunState> {
        self.store.load(run_id).map(|r| r.state)
    }

    fn records(&self) -> usize {
        self.store.list().records.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_sandbox_is_recorded_and_removed_with_its_record() {
    let s = setup(Fake::new());
    let sandbox = s
        .builder()
        .command(["sleep", "60"])
        .start()
        .await
        .expect("start");
    let run_id = sandbox.run_id().clone();
    assert_eq!(s.state_of(&run_id), Some(RunState::Running));
    assert_eq!(
        s.store.load(&run_id).and_then(|r| r.container_id),
        Some(format!("id-{run_id}"))
    );
    let session = sandbox.exec(&ExecSpec::new(["true"])).await.expect("exec");
    assert_eq!(session.exit.await.expect("exit"), 7);
    sandbox.remove().await.expect("remove");
    assert_eq!(s.state_of(&run_id), None, "the record goes with the run");
    let calls = s.calls.all();
    assert!(
        calls[0].starts_with("list"),
        "a free name is looked up: {calls:?}"
    );
    assert_eq!(
        &calls[1..],
        &[
            "image berth-test/busybox:latest".to_owned(),
            format!("create fake-{}", run_id.short()),
            format!("start id-{run_id}"),
            format!("exec id-{run_id} true"),
            format!("remove {run_id}"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_removes_what_it_made_and_its_record() {
    let s = setup(Fake {
        fail_create: true,
        ..Fake::new()
    });
    let err = s
        .builder()
        .name("pinned")
        .create()
        .await
        .expect_err("fails");
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    assert_eq!(s.calls.removals(), 1, "{:?}", s.calls.all());
    assert!(
        err.report().contains("the fake says no"),
        "{}",
        err.report()
    );
    let listing = s.store.list();
    assert!(
        listing.records.is_empty() && listing.corrupt.is_empty(),
        "no record of a launch that never ran: {:?}",
        listing.records
    );
}

/// Progress lines a test collects.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn sink(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let lines = self.0.clone();
        move |line: &str| lines.lock().expect("lines").push(line.to_owned())
    }

    fn warnings(&self) -> Vec<String> {
        let lines = self.0.lock().expect("lines");
        lines
            .iter()
            .filter(|l| l.starts_with("warning: "))
            .cloned()
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_that_fails_is_reported_to_progress_never_printed() {
    let s = setup(Fake {
        fail_create: true,
        fail_remove: true,
        ..Fake::new()
    });
    let lines = Lines::default();
    let err = s
        .builder()
        .progress(lines.sink())
        .create()
        .await
        .expect_err("fails");
    assert!(
        err.report().contains("create"),
        "the create's error: {err:?}"
    );
    let warnings = lines.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("warning: cleanup of run ")
            && warnings[0].contains("the fake says no")
            && warnings[0].contains("berth rm -f"),
        "{warnings:?}"
    );

    // On drop as well: the handle keeps the progress callback.
    let s = setup(Fake {
        fail_remove: true,
        ..Fake::new()
    });
    let lines = Lines::default();
    let sandbox = s
        .builder()
        .progress(lines.sink())
        .start()
        .await
        .expect("start");
    let run_id = sandbox.run_id().clone();
    drop(sandbox);
    let warnings = lines.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("berth rm -f {run_id}")),
        "{warnings:?}"
    );
}

/// A cancellation that `signal` triggers 100 ms from now, mid-way through the
/// fake's slow step.
fn cancelled_soon(signal: Signal) -> Cancellation {
    let cancel = Cancellation::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel(signal);
    });
    cancel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_while_the_image_is_made_creates_nothing_and_leaves_no_record() {
    let s = setup(Fake {
        slow: Slow::Image,
        ..Fake::new()
    });
    let cancel = cancelled_soon(Signal::Terminate);
    let err = s
        .builder()
        .cancel(&cancel)
        .create()
        .await
        .expect_err("cancelled");
    assert!(
        matches!(
            err,
            Error::Interrupted {
                signal: Signal::Terminate
            }
        ),
        "{err:?}"
    );
    let calls = s.calls.all();
    assert!(!calls.iter().any(|c| c.starts_with("create")), "{calls:?}");
    assert!(s.calls.removals() >= 1, "torn down by label: {calls:?}");
    assert_eq!(s.records(), 0, "no record is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_during_create_lets_it_land_then_removes_it() {
    let s = setup(Fake {
        slow: Slow::Create,
        ..Fake::new()
    });
    let cancel = cancelled_soon(Signal::Interrupt);
    let err = s
        .builder()
        .cancel(&cancel)
        .start()
        .await
        .expect_err("cancelled");
    assert!(
        matches!(
            err,
            Error::Interrupted {
                signal: Signal::Interrupt
            }
        ),
        "{err:?}"
    );
    let calls = s.calls.all();
    let created = calls.iter().position(|c| c.starts_with("create"));
    let removed = calls.iter().rposition(|c| c.starts_with("remove"));
    assert!(
        matches!((created, removed), (Some(c), Some(r)) if c < r),
        "the removal comes after the create landed: {calls:?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("start")), "{calls:?}");
    assert_eq!(s.records(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_handle_removes_its_run_and_record() {
    let s = setup(Fake::new());
    let sandbox = s.builder().start().await.expect("start");
    let run_id = sandbox.run_id().clone();
    drop(sandbox);
    assert_eq!(s.calls.removals(), 1, "{:?}", s.calls.all());
    assert_eq!(s.state_of(&run_id), None);
}

#[test]
fn a_handle_dropped_outside_any_runtime_still_removes_its_run() {
    let s = setup(Fake::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = rt.block_on(s.builder().start()).expect("start");
    drop(rt);
    let run_id = sandbox.run_id().clone();
    drop(sandbox);
    assert_eq!(s.calls.removals(), 1, "{:?}", s.calls.all());
    assert_eq!(s.state_of(&run_id), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_or_detached_run_is_left_alone() {
    let s = setup(Fake::new());
    let kept = s.builder().create().await.expect("create");
    let kept_id = kept.run_id().clone();
    kept.keep(Some(3));
    let detached = s
        .builder()
        .detach(Some(Duration::from_secs(60)))
        .start()
        .await
        .expect("start");
    let detached_id = detached.run_id().clone();
    let name = detached.detach();
    assert!(name.starts_with("fake-"), "{name}");
    assert_eq!(s.calls.removals(), 0, "{:?}", s.calls.all());
    let kept = s.store.load(&kept_id).expect("kept record");
    assert_eq!((kept.state, kept.exit_code), (RunState::Stopped, Some(3)));
    let detached = s.store.load(&detached_id).expect("detached record");
    assert_eq!(detached.state, RunState::Running);
    assert!(detached.detached);
    assert!(detached.expires_at.is_some_and(|t| t > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_after_attach_tears_down_and_forgets_the_run() {
    let s = setup(Fake {
        fail_start: true,
        ..Fake::new()
    });
    let mut sandbox = s.builder().stdin(true).create().await.expect("create");
    let run_id = sandbox.run_id().clone();
    let err = sandbox.attach_and_start().await.expect_err("start fails");
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    drop(sandbox);
    assert_eq!(s.calls.removals(), 1, "removed once, not again on drop");
    assert_eq!(s.state_of(&run_id), None, "no record left");
}

/// The plan of `text` (a berth.toml), resolved for the fake's capabilities.
fn plan_of(text: &str) -> Plan {
    let config = Config::parse("berth.toml".as_ref(), text, "/work".into()).expect("config");
    let host = HostFacts::gather(&RealHost, &[], &[], None, None);
    prepare(&config, &caps(), &host).expect("plan")
}

#[test]
fn a_pool_key_ignores_what_a_claim_binds_and_follows_what_members_share() {
    let base = "[sandbox]\nname = \"pooled\"\nimage = \"berth-test/busybox:latest\"\n";
    let pool = "\n[pool]\nsize = 2\n";
    let key = |text: &str| {
        let plan = plan_of(text);
        let pool = plan.pool.clone().expect("a pool");
        assert_eq!(pool.key, runtime_core::pool::key(&plan));
        pool.key
    };
    let plain = key(&format!("{base}{pool}"));
    // What a claim binds: command, working directory, environment.
    assert_eq!(
        plain,
        key(&format!(
            "{base}command = [\"sh\"]\nworkdir = \"/srv\"\n\n[env]\nA = \"1\"\n{pool}"
        ))
    );
    // What members share: the image, the user, limits, the network.
    for other in [
        "[sandbox]\nname = \"pooled\"\nimage = \"debian:bookworm-slim\"\n".to_owned(),
        format!("{base}user = \"1000:1000\"\n"),
        format!("{base}\n[resources]\nmemory = \"256MiB\"\n"),
        format!("{base}\n[network]\npolicy = \"none\"\n"),
    ] {
        assert_ne!(plain, key(&format!("{other}{pool}")), "{other}");
    }
    assert!(plan_of(base).pool.is_none(), "no [pool], no pool");
    assert!(
        plan_of(&format!("{base}\n[pool]\nsize = 0\n"))
            .pool
            .is_none(),
        "a size of 0 is no pool"
    );
}
