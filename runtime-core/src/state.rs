//! Run records: what berth knows about each run, under
//! `$XDG_STATE_HOME/berth/runs/<id>/` (else `~/.local/state/berth/runs/<id>/`).
//!
//! The engine's labels are the source of truth; records add what labels cannot
//! hold (state history, why a run stopped) and let `berth gc` find runs
//! whose owner died. Writes are atomic (temp file, fsync, rename, fsync of the
//! directory) and updates hold an exclusive `flock` on the run's lock file, so
//! concurrent berth processes never lose or tear a record, and a crash leaves the
//! old record or the new one.
//!
//! Paths are built only from a [`RunId`], never from a string read from a label or
//! a record: a directory whose name is not a run id is not berth's and is never
//! touched. Directories are 0700 and files 0600 (records name the user's runs and
//! hold launch errors). A record that cannot be parsed, or whose id differs from its
//! directory's name, is [`CorruptRecord`]: listed as such, and removed only when
//! asked.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::capabilities::RuntimeKind;
use crate::error::Error;
use crate::owner::HostIdentity;
use crate::run_id::RunId;

/// The mode of the store's directories.
const DIR_MODE: u32 = 0o700;
/// The mode of the store's files.
const FILE_MODE: u32 = 0o600;
/// The record's file name inside its run directory.
const RECORD: &str = "record.json";

/// The lifecycle of a run; more states will be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RunState {
    /// Recorded; nothing on the engine yet.
    Created,
    /// Image, networks and container being created.
    Starting,
    /// Started.
    Running,
    /// Being stopped or torn down.
    Stopping,
    /// Exited, stopped or removed.
    Stopped,
    /// The launch failed (see `error`).
    Failed,
}

impl RunState {
    /// Whether the run is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Failed)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        })
    }
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The new state.
    pub state: RunState,
    /// When, seconds since the Unix epoch.
    pub at: i64,
}

/// What berth records about one run, written by [`crate::Sandbox`] and changed
/// through [`RunStore::update`]; more fields will be added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// The run id (`berth.run-id`); checked when the record is read.
    pub run_id: RunId,
    /// The sandbox's name.
    pub name: String,
    /// The backend.
    pub runtime: RuntimeKind,
    /// The engine's container id, once created.
    pub container_id: Option<String>,
    /// The current state.
    pub state: RunState,
    /// Every state with its time, oldest first.
    pub history: Vec<Transition>,
    /// Started with `-d`: it outlives its berth process.
    pub detached: bool,
    /// The berth process that launched it.
    pub owner_pid: u32,
    /// Where that process ran; `None` when unknown (then its liveness is never
    /// judged from `owner_pid`).
    #[serde(default)]
    pub owner_host: Option<HostIdentity>,
    /// When a detached run's TTL expires, seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// What went wrong, such as "its container is gone". A launch that fails
    /// removes its record instead (what it created is gone too).
    pub error: Option<String>,
    /// The main process's exit code, once known.
    pub exit_code: Option<i64>,
    /// The engine the run is on ([`crate::Runtime::engine_id`], such as
    /// `docker engine at tcp://box:2376 (TLS)`); `None` in records written before
    /// berth spoke to more than one engine. gc judges a record only with its
    /// own engine's inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The run is a warm pool's member ([`crate::pool`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<crate::pool::Seat>,
}

impl RunRecord {
    /// A new record in state `created`, owned by this process on this host.
    pub(crate) fn new(
        run_id: &RunId,
        name: &str,
        runtime: RuntimeKind,
        detached: bool,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            run_id: run_id.clone(),
            name: name.to_owned(),
            runtime,
            container_id: None,
            state: RunState::Created,
            history: vec![Transition {
                state: RunState::Created,
                at: now(),
            }],
            detached,
            owner_pid: std::process::id(),
            owner_host: HostIdentity::current(),
            expires_at,
            error: None,
            exit_code: None,
            endpoint: None,
            pool: None,
        }
    }

    /// The same record, naming the engine it is on.
    pub(crate) fn on_engine(mut self, engine: String) -> Self {
        self.endpoint = Some(engine);
        self
    }

    /// Moves to `state`, recording when.
    pub fn transition(&mut self, state: RunState) {
        if self.state != state {
            self.state = state;
            self.history.push(Transition { state, at: now() });
        }
    }

    /// When the record was created.
    pub fn created_at(&self) -> i64 {
        self.history.first().map_or(0, |t| t.at)
    }

    /// When it last changed.
    pub(crate) fn updated_at(&self) -> i64 {
        self.history.last().map_or(0, |t| t.at)
    }
}

/// Creates `dir` and its missing parents, owner-only (0700).
fn private_dir(dir: &Path, operation: &'static str) -> Result<(), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(Error::io(operation, dir))
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// When `path` last changed, seconds since the Unix epoch; 0 when unknown.
fn modified(path: &Path) -> i64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether process `pid` is alive (signal 0 succeeds or is refused for permission).
/// Meaningful only in the pid namespace the pid was taken in.
pub fn process_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// A run directory whose record cannot be used: kept (and shown by `berth ps
/// --all`) until the user asks for it to be removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptRecord {
    /// The run the directory is named for.
    pub run_id: RunId,
    /// The record file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
    /// When the record (else its directory) last changed, seconds since the Unix
    /// epoch; 0 when unknown.
    pub modified: i64,
}

/// What the store holds.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Readable records, oldest first.
    pub records: Vec<RunRecord>,
    /// Run directories whose record is unreadable or names another run.
    pub corrupt: Vec<CorruptRecord>,
    /// Run directories without a record yet: being created, or left by a berth
    /// killed while creating one (removed only while they still have none).
    pub incomplete: Vec<RunId>,
    /// Entries whose name is not a run id: not berth's, never touched.
    pub strays: Vec<PathBuf>,
}

/// The directory of run records.
#[derive(Debug, Clone)]
pub struct RunStore {
    root: PathBuf,
}

impl RunStore {
    /// A store rooted at `root` (the `runs` directory).
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The store the environment names: `$XDG_STATE_HOME/berth/runs`, else
    /// `$HOME/.local/state/berth/runs`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let base = match var("XDG_STATE_HOME").filter(|v| v.starts_with('/')) {
            Some(dir) => PathBuf::from(dir),
            None => match var("HOME").filter(|v| !v.is_empty()) {
                Some(home) => Path::new(&home).join(".local/state"),
                None => {
                    return Err(Error::Usage {
                        message: "neither XDG_STATE_HOME nor HOME is set: berth has nowhere to keep run records".to_owned(),
                    });
                }
            },
        };
        Ok(Self::at(base.join("berth").join("runs")))
    }

    /// The store's directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one run: the only way a path is built from a run id.
    fn dir(&self, run_id: &RunId) -> PathBuf {
        self.root.join(run_id.as_str())
    }

    /// The directory berth-init serves exec from (its socket), which the
    /// sandbox sees at [`crate::init::EXEC_DIR`]: `<state>/berth/exec/<run id>`,
    /// beside the runs directory rather than in the run's own, since what the
    /// sandbox writes there may not be removable by berth's user (a removal
    /// failing there never keeps a record).
    pub fn exec_dir(&self, run_id: &RunId) -> PathBuf {
        self.exec_root().join(run_id.as_str())
    }

    /// The parent of every run's exec directory (0700).
    pub(crate) fn exec_root(&self) -> PathBuf {
        self.beside("exec")
    }

    /// `<state>/berth/<name>`: a directory of berth's beside the runs one.
    fn beside(&self, name: &str) -> PathBuf {
        self.root
            .parent()
            .map_or_else(|| self.root.join(name), |p| p.join(name))
    }

    /// Creates the parent of the exec directories (0700) when missing.
    pub(crate) fn ensure_exec_root(&self) -> Result<PathBuf, Error> {
        let root = self.exec_root();
        private_dir(&root, "create the exec directory")?;
        Ok(root)
    }

    /// The host's copy of the run's exec token (never mounted into the sandbox).
    pub(crate) fn exec_token_path(&self, run_id: &RunId) -> PathBuf {
        self.dir(run_id).join("exec-token")
    }

    /// Creates the run's directory (0700) when missing, and returns it.
    pub(crate) fn run_dir(&self, run_id: &RunId) -> Result<PathBuf, Error> {
        let dir = self.dir(run_id);
        self.ensure_dir(&dir)?;
        Ok(dir)
    }

    /// The record file of a run.
    pub(crate) fn record_path(&self, run_id: &RunId) -> PathBuf {
        self.dir(run_id).join(RECORD)
    }

    /// Creates `dir` (and missing parents) 0700, and narrows the store's own
    /// directories to 0700 when an older berth made them wider.
    fn ensure_dir(&self, dir: &Path) -> Result<(), Error> {
        private_dir(dir, "create the run directory")?;
        for path in [self.root.as_path(), dir] {
            let meta = fs::metadata(path).map_err(Error::io("read", path))?;
            if meta.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))
                    .map_err(Error::io("restrict the permissions of", path))?;
            }
        }
        Ok(())
    }

    fn lock(&self, run_id: &RunId) -> Result<Flock<File>, Error> {
        let dir = self.dir(run_id);
        self.ensure_dir(&dir)?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(Error::io("open the run lock", &path))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| Error::io("lock", &path)(std::io::Error::from(errno)))
    }

    /// Writes the record: temp file (0600), fsync, rename, fsync of the directory.
    fn write(&self, record: &RunRecord) -> Result<(), Error> {
        let dir = self.dir(&record.run_id);
        let path = dir.join(RECORD);
        let tmp = dir.join(format!("{RECORD}.tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::io("encode", &path)(std::io::Error::other(e)))?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(Error::io("write", &tmp))?;
        file.write_all(&text).map_err(Error::io("write", &tmp))?;
        file.sync_all().map_err(Error::io("sync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(Error::io("replace", &path))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io("sync", &dir))
    }

    /// Saves a new record.
    pub(crate) fn create(&self, record: &RunRecord) -> Result<(), Error> {
        let _lock = self.lock(&record.run_id)?;
        self.write(record)
    }

    /// Reads a run's record: `Ok(None)` when there is none, `Err` when the file is
    /// there but unusable (unreadable, not a record, or a record of another run).
    pub(crate) fn read(&self, run_id: &RunId) -> Result<Option<RunRecord>, CorruptRecord> {
        let path = self.record_path(run_id);
        let corrupt = |reason: String| CorruptRecord {
            run_id: run_id.clone(),
            modified: modified(&path),
            path: path.clone(),
            reason,
        };
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(corrupt(format!("cannot be read: {e}"))),
        };
        let record: RunRecord = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("is not a valid run record: {e}")))?;
        if record.run_id != *run_id {
            return Err(corrupt(format!(
                "names run {} but lies in the directory of run {run_id}",
                record.run_id
            )));
        }
        Ok(Some(record))
    }

    /// Reads a record; `None` when there is none or it is corrupt.
    pub fn load(&self, run_id: &RunId) -> Option<RunRecord> {
        self.read(run_id).ok().flatten()
    }

    /// Changes a record under its lock; does nothing when the record is gone or
    /// corrupt (a corrupt record is kept as it is for the user to see).
    pub fn update(&self, run_id: &RunId, change: impl FnOnce(&mut RunRecord)) -> Result<(), Error> {
        if !self.dir(run_id).is_dir() {
            return Ok(());
        }
        let _lock = self.lock(run_id)?;
        let Some(mut record) = self.load(run_id) else {
            return Ok(());
        };
        change(&mut record);
        self.write(&record)
    }

    /// `<state>/berth/pools/<key>.<suffix>`, its directory made (0700); `key`
    /// must be hex, as [`crate::pool::key`] gives it.
    fn pool_file(&self, key: &str, suffix: &str) -> Result<PathBuf, Error> {
        let dir = self.beside("pools");
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::io("use the pool directory", &dir)(
                std::io::Error::other("a pool key is hex"),
            ));
        }
        private_dir(&dir, "create the pool directory")?;
        Ok(dir.join(format!("{key}.{suffix}")))
    }

    /// Whether `berth pool down` stopped the pool `key` since the last
    /// `berth pool up` (then a background refill makes nothing).
    pub(crate) fn pool_stopped(&self, key: &str) -> bool {
        self.pool_file(key, "down").is_ok_and(|p| p.exists())
    }

    /// Marks the pool `key` stopped (`berth pool down`) or not (`pool up`).
    pub(crate) fn set_pool_stopped(&self, key: &str, stopped: bool) -> Result<(), Error> {
        let path = self.pool_file(key, "down")?;
        let result = if stopped {
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(FILE_MODE)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)
                .map(drop)
        } else {
            match fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
        result.map_err(Error::io("mark the pool", &path))
    }

    /// Holds the lock of the warm pool `key` until dropped, so that processes
    /// filling or draining one pool take turns and count each other's members:
    /// `<state>/berth/pools/<key>.lock`.
    pub(crate) fn lock_pool(&self, key: &str) -> Result<Flock<File>, Error> {
        let path = self.pool_file(key, "lock")?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(FILE_MODE)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(Error::io("open the pool lock", &path))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| Error::io("lock", &path)(std::io::Error::from(errno)))
    }

    /// Claims a pool member for this process, under the record's lock: when its
    /// seat is unclaimed and `fits`, the seat is marked claimed and the run
    /// becomes this process's (not detached, no TTL) and its record is
    /// returned; `None` when another process claimed it first, it does not fit,
    /// or it is gone.
    pub(crate) fn claim_seat(
        &self,
        run_id: &RunId,
        fits: impl FnOnce(&crate::pool::Seat) -> bool,
    ) -> Result<Option<RunRecord>, Error> {
        if !self.dir(run_id).is_dir() {
            return Ok(None);
        }
        let _lock = self.lock(run_id)?;
        let Some(mut record) = self.load(run_id) else {
            return Ok(None);
        };
        match &mut record.pool {
            Some(seat) if !seat.claimed && fits(seat) => seat.claimed = true,
            _ => return Ok(None),
        }
        record.detached = false;
        record.expires_at = None;
        record.owner_pid = std::process::id();
        record.owner_host = HostIdentity::current();
        self.write(&record)?;
        Ok(Some(record))
    }

    /// Deletes a run's directory, record and all, and as much of its exec
    /// directory as berth's user may delete.
    pub fn remove(&self, run_id: &RunId) -> Result<(), Error> {
        let _ = fs::remove_dir_all(self.exec_dir(run_id));
        let dir = self.dir(run_id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir)(e)),
        }
    }

    /// Deletes a run directory that has no record, unless a berth process is
    /// creating the record right now (it holds the lock) or has written it since
    /// the directory was listed. Returns whether it was deleted.
    pub(crate) fn remove_if_incomplete(&self, run_id: &RunId) -> Result<bool, Error> {
        let dir = self.dir(run_id);
        let path = dir.join("lock");
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("open the run lock", &path)(e)),
        };
        let _lock = match file.map(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock)) {
            Some(Ok(lock)) => Some(lock),
            Some(Err((_, nix::errno::Errno::EWOULDBLOCK))) => return Ok(false),
            Some(Err((_, errno))) => {
                return Err(Error::io("lock", &path)(std::io::Error::from(errno)));
            }
            None => None,
        };
        if self.record_path(run_id).exists() {
            return Ok(false);
        }
        self.remove(run_id).map(|()| true)
    }

    /// Removes the exec directories whose runs have no directory here any more
    /// (what a removal that could not delete everything the sandbox wrote
    /// there left behind), as far as berth's user may; returns those removed
    /// whole. Only entries named by a run id are looked at.
    pub fn remove_stray_exec_dirs(&self) -> Vec<RunId> {
        let Ok(entries) = fs::read_dir(self.exec_root()) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let Some(run_id) = entry
                .file_name()
                .to_str()
                .and_then(|n| RunId::parse(n).ok())
            else {
                continue;
            };
            // A launch writes the run's directory before its exec directory.
            if self.dir(&run_id).exists() || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if fs::remove_dir_all(entry.path()).is_ok() {
                removed.push(run_id);
            }
        }
        removed.sort();
        removed
    }

    /// Every record, every corrupt one, and the entries that are not berth's.
    pub fn list(&self) -> Listing {
        let mut out = Listing::default();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return out;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(run_id) = name.to_str().and_then(|n| RunId::parse(n).ok()) else {
                out.strays.push(entry.path());
                continue;
            };
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.strays.push(entry.path());
                continue;
            }
            match self.read(&run_id) {
                Ok(Some(record)) => out.records.push(record),
                Ok(None) => out.incomplete.push(run_id),
                Err(corrupt) => out.corrupt.push(corrupt),
            }
        }
        out.records.sort_by(|a, b| {
            a.created_at()
                .cmp(&b.created_at())
                .then(a.run_id.cmp(&b.run_id))
        });
        out.corrupt.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        out.incomplete.sort();
        out.strays.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_directories_of_runs_that_are_gone_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RunStore::at(dir.path().join("berth/runs"));
        let live = RunId::random();
        let gone = RunId::random();
        store
            .create(&RunRecord::new(
                &live,
                "live",
                RuntimeKind::Docker,
                false,
                None,
            ))
            .expect("record");
        for run_id in [&live, &gone] {
            fs::create_dir_all(store.exec_dir(run_id).join("left")).expect("exec dir");
        }
        let other = store.exec_root().join("not-a-run-id");
        fs::create_dir_all(&other).expect("other dir");
        assert_eq!(store.remove_stray_exec_dirs(), vec![gone.clone()]);
        assert!(store.exec_dir(&live).exists());
        assert!(!store.exec_dir(&gone).exists());
        assert!(other.exists(), "only run ids are looked at");
    }

    fn store(test: &str) -> (RunStore, PathBuf) {
        let root = std::env::temp_dir().join(format!("berth-state-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        (RunStore::at(root.join("berth/runs")), root)
    }

    fn id(text: &str) -> RunId {
        RunId::parse(text).expect("run id")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn records_survive_a_round_trip_and_updates() {
        let (store, root) = store("round-trip");
        let run = id("abc123abc123");
        let record = RunRecord::new(&run, "agent-abc", RuntimeKind::Docker, true, Some(42));
        store.create(&record).unwrap();
        store
            .update(&run, |r| {
                r.container_id = Some("c0ffee".to_owned());
                r.transition(RunState::Starting);
                r.transition(RunState::Running);
            })
            .unwrap();
        let loaded = store.load(&run).unwrap();
        assert_eq!(loaded.state, RunState::Running);
        assert_eq!(loaded.container_id.as_deref(), Some("c0ffee"));
        assert_eq!(loaded.owner_host, HostIdentity::current());
        let states: Vec<RunState> = loaded.history.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [RunState::Created, RunState::Starting, RunState::Running]
        );
        assert_eq!(store.list().records.len(), 1);
        store.remove(&run).unwrap();
        store.remove(&run).unwrap();
        assert!(store.load(&run).is_none());
        store
            .update(&run, |r| r.transition(RunState::Stopped))
            .unwrap();
        assert!(
            store.load(&run).is_none(),
            "update of a removed run does not recreate it"
        );
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn directories_are_0700_and_files_0600() {
        let (store, root) = store("modes");
        // An older berth left the runs directory world-readable.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(store.root())
            .unwrap();
        let run = id("0a0a0a0a0a0a");
        store
            .create(&RunRecord::new(&run, "m", RuntimeKind::Docker, false, None))
            .unwrap();
        store.update(&run, |r| r.exit_code = Some(1)).unwrap();
        assert_eq!(mode(store.root()), 0o700);
        assert_eq!(mode(&store.root().join(run.as_str())), 0o700);
        assert_eq!(mode(&store.record_path(&run)), 0o600);
        assert_eq!(mode(&store.root().join(run.as_str()).join("lock")), 0o600);
        let fresh = RunStore::at(root.join("fresh/berth/runs"));
        fresh
            .create(&RunRecord::new(&run, "m", RuntimeKind::Docker, false, None))
            .unwrap();
        assert_eq!(mode(&root.join("fresh/berth")), 0o700);
        let leftovers: Vec<_> = fs::read_dir(store.root().join(run.as_str()))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn corrupt_records_are_listed_with_their_path_and_never_rewritten() {
        let (store, root) = store("corrupt");
        let good = id("000000000001");
        let garbled = id("000000000002");
        let moved = id("000000000003");
        let empty = id("000000000004");
        store
            .create(&RunRecord::new(
                &good,
                "g",
                RuntimeKind::Docker,
                false,
                None,
            ))
            .unwrap();
        fs::create_dir_all(store.root().join(garbled.as_str())).unwrap();
        fs::write(store.record_path(&garbled), b"{ not json").unwrap();
        // A record copied into another run's directory names the wrong run.
        fs::create_dir_all(store.root().join(moved.as_str())).unwrap();
        fs::copy(store.record_path(&good), store.record_path(&moved)).unwrap();
        fs::create_dir_all(store.root().join(empty.as_str())).unwrap();
        // A record whose id is a path, in a directory that is not a run id.
        fs::create_dir_all(store.root().join("not-a-run")).unwrap();
        fs::write(
            store.root().join("not-a-run").join(RECORD),
            br#"{"run_id": "../../x"}"#,
        )
        .unwrap();
        fs::write(store.root().join("lock"), b"").unwrap();

        let listing = store.list();
        assert_eq!(listing.records.len(), 1);
        assert_eq!(listing.records[0].run_id, good);
        let corrupt: Vec<(&RunId, &Path)> = listing
            .corrupt
            .iter()
            .map(|c| (&c.run_id, c.path.as_path()))
            .collect();
        let (garbled_path, moved_path) = (store.record_path(&garbled), store.record_path(&moved));
        assert_eq!(
            corrupt,
            [
                (&garbled, garbled_path.as_path()),
                (&moved, moved_path.as_path()),
            ]
        );
        assert_eq!(listing.incomplete, std::slice::from_ref(&empty));
        assert!(listing.corrupt[0].reason.contains("not a valid run record"));
        assert!(listing.corrupt[1].reason.contains("names run 000000000001"));
        assert_eq!(
            listing.strays,
            [store.root().join("lock"), store.root().join("not-a-run")]
        );
        store.update(&moved, |r| r.exit_code = Some(9)).unwrap();
        store.update(&garbled, |r| r.exit_code = Some(9)).unwrap();
        assert_eq!(
            fs::read(store.record_path(&garbled)).unwrap(),
            b"{ not json",
            "an update leaves a corrupt record as it is"
        );
        assert_eq!(store.load(&good).unwrap().exit_code, None);
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn an_incomplete_run_directory_goes_only_when_nobody_is_creating_it() {
        let (store, root) = store("incomplete");
        let run = id("00000000dead");
        // A berth killed between creating the directory and renaming the record in.
        let held = store.lock(&run).unwrap();
        assert!(
            !store.remove_if_incomplete(&run).unwrap(),
            "creation in progress"
        );
        assert_eq!(store.list().incomplete, std::slice::from_ref(&run));
        drop(held);
        assert!(store.remove_if_incomplete(&run).unwrap());
        assert!(!store.root().join(run.as_str()).exists());
        // Once written, the record is not incomplete any more.
        store
            .create(&RunRecord::new(&run, "r", RuntimeKind::Docker, false, None))
            .unwrap();
        assert!(!store.remove_if_incomplete(&run).unwrap());
        assert!(store.load(&run).is_some());
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (store, root) = store("race");
        let run = id("00000000ace0");
        let mut record = RunRecord::new(&run, "r", RuntimeKind::Docker, false, None);
        record.exit_code = Some(0);
        store.create(&record).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let run = run.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store
                            .update(&run, |r| r.exit_code = Some(r.exit_code.unwrap_or(0) + 1))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load(&run).unwrap().exit_code, Some(200));
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn store_location_follows_xdg_then_home() {
        let env = |xdg: Option<&str>, home: Option<&str>| {
            let (xdg, home) = (xdg.map(str::to_owned), home.map(str::to_owned));
            move |name: &str| match name {
                "XDG_STATE_HOME" => xdg.clone(),
                "HOME" => home.clone(),
                _ => None,
            }
        };
        let s = RunStore::from_env(env(Some("/x/state"), Some("/home/u"))).unwrap();
        assert_eq!(s.root(), Path::new("/x/state/berth/runs"));
        let s = RunStore::from_env(env(None, Some("/home/u"))).unwrap();
        assert_eq!(s.root(), Path::new("/home/u/.local/state/berth/runs"));
        assert!(RunStore::from_env(env(None, None)).is_err());
    }
}
