//! A warm pool: sandboxes of one plan kept started ahead of time, so that a run
//! of that plan claims one and starts its command through berth-init instead of
//! waiting for the engine to create and start a container.
//!
//! A member is an ordinary detached run with a [`Seat`] in its record: created
//! with the plan's image, mounts, network, limits and user, but with the image's
//! default command and working directory and no environment of the plan, and
//! with berth-init on standby (it serves exec and waits for the one request that
//! becomes the sandbox's command). What differs between runs of a plan (the
//! command, the environment, the working directory) is bound when the run
//! claims the member, through that request. The pool's key is a hash of
//! everything else in the plan, plus the image's id on the engine, so a member
//! never serves a plan or an image it was not created for.
//!
//! Claims are atomic through the run record's lock: two claims never get the
//! same member, and a claimed member is never returned to the pool. A member's
//! record carries the pool's TTL, so `berth gc` (and the sweep every launch
//! makes) with that record removes members nobody claimed in time, and members
//! whose creator died before they started. Its labels say it never expires: a
//! container's labels cannot change at a claim, and a berth that judges by
//! labels alone (another state directory's) must never remove a claimed run
//! for the pool's TTL.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::init::ExecPath;
use crate::plan::Plan;
use crate::run_id::RunId;
use crate::runtime::{Runtime, SandboxState};
use crate::sandbox::Sandbox;
use crate::state::{RunRecord, RunState, RunStore};

/// How long an unclaimed member lives when `[pool] ttl` is not set.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// The largest `[pool] size`.
pub const MAX_SIZE: u32 = 16;

/// How long a new member's init has to start listening.
const LISTEN_WITHIN: Duration = Duration::from_secs(10);

/// A plan's pool, as `berth plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PoolPlan {
    /// How many members `berth pool up` keeps started.
    pub size: u32,
    /// How long an unclaimed member lives, in seconds.
    pub ttl_secs: u64,
    /// The hash of what members share (the plan without its command, working
    /// directory and environment); the image's id on the engine is added to it
    /// when members are made and claimed.
    pub key: String,
    /// Why no run of this plan can be served from a pool (they all start
    /// cold); `None` when runs can be.
    pub cold: Option<String>,
}

/// A pool member's place in its run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// The plan's pool key ([`PoolPlan::key`]).
    pub key: String,
    /// The image's id on the engine when the member was created, when the
    /// backend reports one.
    pub image: Option<String>,
    /// Whether a run claimed it (then it is that run's, never the pool's again).
    pub claimed: bool,
}

/// The pool of `plan` as `berth.toml` asks for it (`size` members, each living
/// `ttl` unclaimed), or `None` for a size of 0. Pure.
pub fn plan_pool(plan: &Plan, size: u32, ttl: Duration) -> Option<PoolPlan> {
    if size == 0 {
        return None;
    }
    Some(PoolPlan {
        size,
        ttl_secs: ttl.as_secs(),
        key: key(plan),
        cold: cold_reason(plan),
    })
}

/// Why no run of `plan` can be served from a pool.
fn cold_reason(plan: &Plan) -> Option<String> {
    if let ExecPath::Engine { reason } = &plan.init.exec {
        return Some(format!(
            "a pool member starts its command through berth-init's exec, which this plan does not have: {reason}"
        ));
    }
    if plan
        .env
        .iter()
        .any(|v| matches!(v.value, crate::plan::EnvValue::BoundSecret { .. }))
    {
        return Some(
            "secrets bound to hosts are given to the egress proxy when a sandbox is created, so each run needs its own"
                .to_owned(),
        );
    }
    None
}

/// The hash of what a plan's members share: the plan without what a claim
/// binds (command, working directory, environment) and without what only
/// describes it (warnings, defaults, dangers), hex.
pub fn key(plan: &Plan) -> String {
    let mut value = serde_json::to_value(plan).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for per_run in [
            "command",
            "workdir",
            "env",
            "pool",
            "warnings",
            "defaults",
            "not_applied",
            "dangers",
        ] {
            fields.remove(per_run);
        }
    }
    let mut hex = crate::config::sha256_hex(value.to_string().as_bytes());
    hex.truncate(16);
    hex
}

/// The plan members are created from: the image's own command and working
/// directory (a claim gives the run's).
pub(crate) fn member_plan(plan: &Plan) -> Plan {
    let mut member = plan.clone();
    member.command = None;
    member.workdir = None;
    member
}

/// Where a pool member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Its init listens: a run may claim it.
    Ready,
    /// Created, its init not listening yet.
    Starting,
    /// A run claimed it.
    Claimed,
    /// Its container is not on the engine (or its run ended).
    Gone,
}

impl std::fmt::Display for MemberState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ready => "ready",
            Self::Starting => "starting",
            Self::Claimed => "claimed",
            Self::Gone => "gone",
        })
    }
}

/// One member, as `berth pool status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Its run id.
    pub run_id: RunId,
    /// Its sandbox name.
    pub name: String,
    /// The pool key it serves.
    pub key: String,
    /// Where it stands.
    pub state: MemberState,
    /// When it was created, seconds since the Unix epoch.
    pub created: i64,
    /// When it expires unclaimed, seconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

/// The members in `store` on the engine `engine` ([`Runtime::engine_id`]), of
/// the pool `key` or of every pool; `running` names the containers the engine
/// reports running (`None`: not asked, then a record that says running is
/// believed).
pub fn members(
    store: &RunStore,
    engine: &str,
    key: Option<&str>,
    running: Option<&[String]>,
) -> Vec<Member> {
    let mut out: Vec<Member> = store
        .list()
        .records
        .into_iter()
        .filter(|r| r.endpoint.as_deref() == Some(engine))
        .filter_map(|r| {
            let seat = r.pool.clone()?;
            if key.is_some_and(|k| k != seat.key) {
                return None;
            }
            let on_engine = running.is_none_or(|ids| {
                r.container_id
                    .as_ref()
                    .is_some_and(|id| ids.iter().any(|i| i == id))
            });
            let state = if seat.claimed {
                MemberState::Claimed
            } else if r.state.is_terminal() || (r.state == RunState::Running && !on_engine) {
                MemberState::Gone
            } else if r.state == RunState::Running
                && crate::init::current_path(store, &r.run_id) == ExecPath::Init
            {
                MemberState::Ready
            } else {
                MemberState::Starting
            };
            Some(Member {
                run_id: r.run_id.clone(),
                name: r.name.clone(),
                key: seat.key,
                state,
                created: r.created_at(),
                expires_at: r.expires_at,
            })
        })
        .collect();
    out.sort_by_key(|m| m.created);
    out
}

/// What a claim binds for the run: its command (after the image's entrypoint;
/// empty for the image's own), environment and working directory.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// The run's command; empty: the image's.
    pub command: Vec<String>,
    /// The run's environment.
    pub env: Vec<(String, String)>,
    /// The run's working directory; the image's when `None`.
    pub workdir: Option<String>,
}

/// Takes the oldest ready member of the pool `key` (image `image`) in `store` on
/// `engine`, atomically: its record becomes this process's foreground run.
/// `None` when no member is ready.
pub fn claim(store: &RunStore, engine: &str, key: &str, image: Option<&str>) -> Option<RunRecord> {
    for member in members(store, engine, Some(key), None) {
        if member.state != MemberState::Ready {
            continue;
        }
        let fits = |seat: &Seat| seat.key == key && seat.image.as_deref() == image;
        match store.claim_seat(&member.run_id, fits) {
            Ok(Some(record)) => return Some(record),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(run_id = %member.run_id, "pool member not claimed: {}", err.report());
            }
        }
    }
    None
}

/// What [`fill`] did.
#[derive(Debug, Default, Serialize)]
pub struct Filled {
    /// Members that were ready or starting before.
    pub present: usize,
    /// Members created now.
    pub created: Vec<String>,
    /// Members that could not be created, with why.
    pub failed: Vec<String>,
}

/// Starts members of `plan`'s pool on `runtime` until `size` are ready or
/// starting; members whose containers are gone are forgotten first. Members
/// are created at once, each as a detached run with the pool's TTL, and each is
/// waited for until its init listens. A `refill` (the replacement a claim
/// starts) makes nothing once [`drain`] stopped the pool; any other fill
/// starts it again. `cancel` stops the members still launching (what they
/// created is removed) and fails the fill with [`Error::Interrupted`]; members
/// already listening stay in the pool.
pub async fn fill(
    runtime: Arc<dyn Runtime>,
    plan: &Plan,
    store: &RunStore,
    progress: Option<Arc<crate::sandbox::ProgressFn>>,
    refill: bool,
    cancel: &crate::launch::Cancellation,
) -> Result<Filled, Error> {
    let pool = usable(plan)?;
    let lock = lock(store, &pool.key).await?;
    if refill && store.pool_stopped(&pool.key) {
        return Ok(Filled::default());
    }
    store.set_pool_stopped(&pool.key, false)?;
    let image = runtime.image_id(&plan.image).await?;
    let engine = runtime.engine_id();
    let running = running_ids(&*runtime).await?;
    let mut present = 0;
    for member in members(store, &engine, Some(&pool.key), Some(&running)) {
        match member.state {
            MemberState::Gone => {
                let _ = runtime.remove(&member.run_id).await;
                let _ = store.remove(&member.run_id);
            }
            MemberState::Ready | MemberState::Starting => present += 1,
            _ => {}
        }
    }
    let wanted = usize::try_from(pool.size)
        .unwrap_or(0)
        .saturating_sub(present);
    let member_plan = member_plan(plan);
    let seat = Seat {
        key: pool.key.clone(),
        image,
        claimed: false,
    };
    let launches = (0..wanted).map(|_| {
        let mut builder = Sandbox::builder(runtime.clone(), &member_plan)
            .records(store.clone())
            .env(Vec::new())
            .detach(Some(Duration::from_secs(pool.ttl_secs)))
            .sweep_expired(false)
            .cancel(cancel)
            .seat(seat.clone());
        if let Some(progress) = &progress {
            let progress = progress.clone();
            builder = builder.progress(move |line: &str| progress(line));
        }
        let kind = runtime.kind();
        async move {
            let sandbox = builder.start().await?;
            let listening = tokio::select! {
                listening = wait_listening(store, sandbox.run_id()) => listening,
                signal = cancel.cancelled() => {
                    let _ = sandbox.remove().await;
                    return Err(Error::Interrupted { signal });
                }
            };
            if !listening {
                let name = sandbox.name().to_owned();
                let _ = sandbox.remove().await;
                return Err(Error::Unsupported {
                    runtime: kind,
                    operation: "pool member",
                    reason: format!(
                        "berth-init in {name} did not serve exec within {}s",
                        LISTEN_WITHIN.as_secs()
                    ),
                });
            }
            Ok(sandbox.detach())
        }
    });
    let mut filled = Filled {
        present,
        ..Filled::default()
    };
    for result in futures::future::join_all(launches).await {
        match result {
            Ok(name) => filled.created.push(name),
            Err(err) => filled.failed.push(err.report()),
        }
    }
    drop(lock);
    if let Some(signal) = cancel.signal() {
        return Err(Error::Interrupted { signal });
    }
    Ok(filled)
}

/// The plan's pool, when runs of it can be served from one.
pub fn usable(plan: &Plan) -> Result<&PoolPlan, Error> {
    let Some(pool) = &plan.pool else {
        return Err(Error::PoolUnavailable {
            reason: "the config has no [pool] (or its size is 0)".to_owned(),
            fix: "add [pool] with size = 2 (for example) to berth.toml".to_owned(),
        });
    };
    if let Some(reason) = &pool.cold {
        return Err(Error::PoolUnavailable {
            reason: reason.clone(),
            fix: "runs of this plan start cold; `berth plan` shows why".to_owned(),
        });
    }
    Ok(pool)
}

/// The pool's lock, taken off the runtime's threads (it blocks while another
/// process fills or drains the pool).
async fn lock(store: &RunStore, key: &str) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let (store, owned) = (store.clone(), key.to_owned());
    tokio::task::spawn_blocking(move || store.lock_pool(&owned))
        .await
        .map_err(|e| Error::Io {
            operation: "lock the pool",
            path: std::path::PathBuf::from(key),
            source: std::io::Error::other(e),
        })?
}

/// The ids of the containers `runtime` reports running.
pub async fn running_ids(runtime: &dyn Runtime) -> Result<Vec<String>, Error> {
    Ok(runtime
        .list(false)
        .await?
        .into_iter()
        .filter(|s| s.state == SandboxState::Running)
        .map(|s| s.id)
        .collect())
}

/// Waits until the run's init listens on its socket.
async fn wait_listening(store: &RunStore, run_id: &RunId) -> bool {
    let deadline = tokio::time::Instant::now() + LISTEN_WITHIN;
    while tokio::time::Instant::now() < deadline {
        if crate::init::current_path(store, run_id) == ExecPath::Init {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Stops the pool `key`, or every pool with members in `store` on
/// `runtime`'s engine, and removes their unclaimed members: each pool is
/// locked (a fill under way finishes first) and marked stopped, so that no
/// replacement a claim started recreates it; each member is claimed first, so
/// no run takes it meanwhile. Returns the names removed and the failures.
pub async fn drain(
    runtime: &dyn Runtime,
    store: &RunStore,
    key: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let engine = runtime.engine_id();
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let mut keys: Vec<String> = match key {
        Some(key) => vec![key.to_owned()],
        None => members(store, &engine, None, None)
            .into_iter()
            .map(|m| m.key)
            .collect(),
    };
    keys.sort();
    keys.dedup();
    let mut locks = Vec::new();
    for key in &keys {
        match lock(store, key).await {
            Ok(held) => locks.push(held),
            Err(err) => failed.push(err.report()),
        }
        if let Err(err) = store.set_pool_stopped(key, true) {
            failed.push(err.report());
        }
    }
    for member in members(store, &engine, key, None) {
        if member.state == MemberState::Claimed {
            continue;
        }
        match store.claim_seat(&member.run_id, |_| true) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(err) => {
                failed.push(err.report());
                continue;
            }
        }
        match runtime.remove(&member.run_id).await {
            Ok(_) => {
                let _ = store.remove(&member.run_id);
                removed.push(member.name);
            }
            Err(err) => failed.push(format!("{}: {}", member.name, err.report())),
        }
    }
    drop(locks);
    (removed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::RuntimeKind;

    /// A store holding `count` ready members of pool `key` (records in state
    /// running with a socket in their exec directories, as init makes it);
    /// the listeners are returned to keep the sockets bound.
    fn store_with_members(
        dir: &std::path::Path,
        key: &str,
        count: usize,
    ) -> (RunStore, Vec<std::os::unix::net::UnixListener>) {
        let store = RunStore::at(dir.join("berth/runs"));
        let mut listeners = Vec::new();
        for i in 0..count {
            let run_id = RunId::random();
            let mut record = RunRecord::new(
                &run_id,
                &format!("member-{i}"),
                RuntimeKind::Docker,
                true,
                Some(i64::MAX),
            )
            .on_engine("docker".to_owned());
            record.pool = Some(Seat {
                key: key.to_owned(),
                image: Some("sha256:aa".to_owned()),
                claimed: false,
            });
            record.transition(RunState::Running);
            store.create(&record).expect("create the record");
            let exec = store.exec_dir(&run_id);
            std::fs::create_dir_all(&exec).expect("exec dir");
            listeners.push(
                std::os::unix::net::UnixListener::bind(exec.join(crate::init::SOCKET))
                    .expect("bind"),
            );
        }
        (store, listeners)
    }

    #[test]
    fn claims_at_once_never_share_a_member_and_a_claimed_one_never_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _sockets) = store_with_members(dir.path(), "abc123", 3);
        let claims: Vec<Option<RunRecord>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| claim(&store, "docker", "abc123", Some("sha256:aa"))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("join"))
                .collect()
        });
        let mut won: Vec<String> = claims
            .iter()
            .flatten()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(won.len(), 3, "three members, three claims: {claims:?}");
        won.sort();
        won.dedup();
        assert_eq!(won.len(), 3, "a member was claimed twice");
        for record in claims.iter().flatten() {
            let stored = store.load(&record.run_id).expect("record");
            assert!(stored.pool.as_ref().is_some_and(|s| s.claimed));
            assert!(!stored.detached, "a claimed member is its run's");
            assert_eq!(stored.expires_at, None);
            assert_eq!(stored.owner_pid, std::process::id());
        }
        assert!(claim(&store, "docker", "abc123", Some("sha256:aa")).is_none());
        let states: Vec<MemberState> = members(&store, "docker", Some("abc123"), None)
            .iter()
            .map(|m| m.state)
            .collect();
        assert_eq!(states, [MemberState::Claimed; 3]);
    }

    #[test]
    fn a_claim_takes_only_a_member_of_its_key_image_and_engine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _sockets) = store_with_members(dir.path(), "abc123", 1);
        assert!(claim(&store, "docker", "other", Some("sha256:aa")).is_none());
        assert!(claim(&store, "docker", "abc123", Some("sha256:bb")).is_none());
        assert!(claim(&store, "docker", "abc123", None).is_none());
        assert!(
            claim(
                &store,
                "docker engine at tcp://box:2376 (TLS)",
                "abc123",
                Some("sha256:aa")
            )
            .is_none()
        );
        assert!(claim(&store, "docker", "abc123", Some("sha256:aa")).is_some());
    }

    #[test]
    fn a_member_without_a_listening_init_is_not_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, sockets) = store_with_members(dir.path(), "abc123", 1);
        let run_id = members(&store, "docker", None, None)[0].run_id.clone();
        drop(sockets);
        std::fs::remove_file(store.exec_dir(&run_id).join(crate::init::SOCKET)).expect("remove");
        assert_eq!(
            members(&store, "docker", None, None)[0].state,
            MemberState::Starting
        );
        assert!(claim(&store, "docker", "abc123", Some("sha256:aa")).is_none());
        // Its container gone from the engine's list: gone.
        assert_eq!(
            members(&store, "docker", None, Some(&[]))[0].state,
            MemberState::Gone
        );
    }
}
