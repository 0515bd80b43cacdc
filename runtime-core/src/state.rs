//! Run records: what berth knows about each run, under
//! `$XDG_STATE_HOME/berth/runs/<id>/` (else `~/.local/state/berth/runs/<id>/`).
//!
//! The engine's labels are the source of truth; records add what labels cannot
//! hold (state history, the error of a failed launch) and let `berth gc` find runs
//! whose owner died. Writes are atomic (temp file + rename) and updates hold an
//! exclusive `flock` on the run's lock file, so concurrent berth processes never
//! lose or tear a record.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::capabilities::RuntimeKind;
use crate::error::Error;

/// The lifecycle of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// What berth records about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run id (`berth.run-id`).
    pub run_id: String,
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
    /// When a detached run's TTL expires, seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// The error of a failed launch.
    pub error: Option<String>,
    /// The main process's exit code, once known.
    pub exit_code: Option<i64>,
}

impl RunRecord {
    /// A new record in state `created`.
    pub fn new(
        run_id: &str,
        name: &str,
        runtime: RuntimeKind,
        detached: bool,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            run_id: run_id.to_owned(),
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
            expires_at,
            error: None,
            exit_code: None,
        }
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
    pub fn updated_at(&self) -> i64 {
        self.history.last().map_or(0, |t| t.at)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Whether process `pid` is alive (signal 0 succeeds or is refused for permission).
pub fn process_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
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
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, run_id: &str) -> PathBuf {
        self.root.join(run_id)
    }

    fn io(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_owned();
        move |source| Error::Io {
            operation,
            path,
            source,
        }
    }

    fn lock(&self, run_id: &str) -> Result<Flock<File>, Error> {
        let dir = self.dir(run_id);
        fs::create_dir_all(&dir).map_err(Self::io("create the run directory", &dir))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io("open the run lock", &path))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| Self::io("lock", &path)(std::io::Error::from(errno)))
    }

    fn write(&self, record: &RunRecord) -> Result<(), Error> {
        let dir = self.dir(&record.run_id);
        let path = dir.join("record.json");
        let tmp = dir.join(format!("record.json.tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(record)
            .map_err(|e| Self::io("encode", &path)(std::io::Error::other(e)))?;
        let mut file = File::create(&tmp).map_err(Self::io("write", &tmp))?;
        file.write_all(&text).map_err(Self::io("write", &tmp))?;
        file.sync_all().map_err(Self::io("sync", &tmp))?;
        fs::rename(&tmp, &path).map_err(Self::io("replace", &path))
    }

    /// Saves a new record.
    pub fn create(&self, record: &RunRecord) -> Result<(), Error> {
        let _lock = self.lock(&record.run_id)?;
        self.write(record)
    }

    /// Reads a record; `None` when there is none (or it is unreadable).
    pub fn load(&self, run_id: &str) -> Option<RunRecord> {
        let text = fs::read(self.dir(run_id).join("record.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Changes a record under its lock; does nothing when the record is gone.
    pub fn update(&self, run_id: &str, change: impl FnOnce(&mut RunRecord)) -> Result<(), Error> {
        if !self.dir(run_id).exists() {
            return Ok(());
        }
        let _lock = self.lock(run_id)?;
        let Some(mut record) = self.load(run_id) else {
            return Ok(());
        };
        change(&mut record);
        self.write(&record)
    }

    /// Deletes a record.
    pub fn remove(&self, run_id: &str) -> Result<(), Error> {
        let dir = self.dir(run_id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io("remove", &dir)(e)),
        }
    }

    /// Every readable record, plus the ids of run directories without one.
    pub fn list(&self) -> (Vec<RunRecord>, Vec<String>) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return (Vec::new(), Vec::new());
        };
        let mut records = Vec::new();
        let mut broken = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            match self.load(&id) {
                Some(record) => records.push(record),
                None => broken.push(id),
            }
        }
        records.sort_by(|a, b| {
            a.created_at()
                .cmp(&b.created_at())
                .then(a.run_id.cmp(&b.run_id))
        });
        (records, broken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(test: &str) -> (RunStore, PathBuf) {
        let root = std::env::temp_dir().join(format!("berth-state-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        (RunStore::at(root.clone()), root)
    }

    #[test]
    fn records_survive_a_round_trip_and_updates() {
        let (store, root) = store("round-trip");
        let record = RunRecord::new("abc123", "agent-abc", RuntimeKind::Docker, true, Some(42));
        store.create(&record).unwrap();
        store
            .update("abc123", |r| {
                r.container_id = Some("c0ffee".to_owned());
                r.transition(RunState::Starting);
                r.transition(RunState::Running);
            })
            .unwrap();
        let loaded = store.load("abc123").unwrap();
        assert_eq!(loaded.state, RunState::Running);
        assert_eq!(loaded.container_id.as_deref(), Some("c0ffee"));
        let states: Vec<RunState> = loaded.history.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [RunState::Created, RunState::Starting, RunState::Running]
        );
        assert_eq!(store.list().0.len(), 1);
        store.remove("abc123").unwrap();
        store.remove("abc123").unwrap();
        assert!(store.load("abc123").is_none());
        store
            .update("abc123", |r| r.transition(RunState::Stopped))
            .unwrap();
        assert!(
            store.load("abc123").is_none(),
            "update of a removed run does not recreate it"
        );
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let (store, root) = store("race");
        let mut record = RunRecord::new("race", "r", RuntimeKind::Docker, false, None);
        record.exit_code = Some(0);
        store.create(&record).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store
                            .update("race", |r| r.exit_code = Some(r.exit_code.unwrap_or(0) + 1))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load("race").unwrap().exit_code, Some(200));
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
