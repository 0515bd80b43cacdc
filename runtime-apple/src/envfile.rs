//! How the environment (secrets included) reaches the `container` CLI without a
//! command line: through `--env-file`, in a directory only berth can enter.
//!
//! - The directory is `$XDG_STATE_HOME/berth/apple-env` (mode 0700), never `$TMPDIR`.
//! - `container create` reads a regular 0600 file, removed as soon as the CLI
//!   returns (a [`EnvFile`] removes it when dropped).
//! - `container exec`, whose process lives for the whole session, reads a FIFO
//!   ([`EnvFifo`]): berth writes the text into it only once the CLI has opened it,
//!   and unlinks it at that moment, so the values never rest on disk and the path
//!   is gone before the session starts.
//!   Apple's CLI reads an env file with `FileHandle.readToEnd` (so a FIFO works)
//!   from 0.8.0 on (Parser.swift; before, `FileManager.contents` could not read
//!   one), and the probe refuses CLIs older than 0.12.0, so every CLI berth
//!   drives can read the FIFO.
//! - Names start with the pid of the berth process that made them; [`EnvDir::sweep`]
//!   removes what a berth process that no longer runs (killed with SIGKILL) left.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::stat::Mode;
use tokio::process::Child;

use crate::error::AppleError;

/// How long berth waits for the CLI to open its FIFO.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// How often berth looks whether the CLI has opened its FIFO.
const OPEN_POLL: Duration = Duration::from_millis(2);

/// berth's private directory for env files.
#[derive(Debug, Clone)]
pub(crate) struct EnvDir {
    path: PathBuf,
}

impl EnvDir {
    /// `$XDG_STATE_HOME/berth/apple-env`, else `$HOME/.local/state/berth/apple-env`.
    pub(crate) fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| v.starts_with('/'));
        let base = var("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| Path::new(&home).join(".local/state")))
            // With neither, a directory only this user can enter under the temp dir.
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("berth-{}", nix::unistd::getuid()))
            });
        Self::at(base.join("berth").join("apple-env"))
    }

    /// A directory at `path` (created on first use).
    pub(crate) fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the directory (0700) if needed, refuses one that is a symlink or that
    /// another user owns, and takes away what others may do in it.
    fn ensure(&self) -> Result<(), AppleError> {
        let failed = |source| AppleError::EnvFile {
            path: self.path.clone(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(failed)?;
        let meta = std::fs::symlink_metadata(&self.path).map_err(failed)?;
        if !meta.is_dir() {
            return Err(failed(std::io::Error::other(
                "it is not a directory (a symlink is refused)",
            )));
        }
        if meta.uid() != nix::unistd::getuid().as_raw() {
            return Err(failed(std::io::Error::other("another user owns it")));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o700))
                .map_err(failed)?;
        }
        Ok(())
    }

    /// A fresh name: this process's pid, then random digits.
    fn fresh(&self, suffix: &str) -> PathBuf {
        let mut bytes = [0u8; 8];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .map(|()| u64::from_le_bytes(bytes))
            .unwrap_or_else(|_| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            });
        self.path
            .join(format!("{}-{random:016x}.{suffix}", std::process::id()))
    }

    /// Writes `text` to a new 0600 file, removed when the handle drops.
    pub(crate) fn file(&self, text: &str) -> Result<EnvFile, AppleError> {
        self.ensure()?;
        let path = self.fresh("env");
        let failed = |source| AppleError::EnvFile {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        let guard = EnvFile { path: path.clone() };
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(failed)?;
        Ok(guard)
    }

    /// Makes a new 0600 FIFO; see [`EnvFifo::feed`].
    pub(crate) fn fifo(&self) -> Result<EnvFifo, AppleError> {
        self.ensure()?;
        let path = self.fresh("fifo");
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|errno| {
            AppleError::EnvFile {
                path: path.clone(),
                source: std::io::Error::from(errno),
            }
        })?;
        Ok(EnvFifo { path })
    }

    /// Removes env files and FIFOs left by berth processes that no longer run;
    /// returns how many. Entries not named by berth are left alone.
    pub(crate) fn sweep(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id()
                && !runtime_core::state::process_alive(pid)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }
}

/// A 0600 env file, removed when dropped.
#[derive(Debug)]
pub(crate) struct EnvFile {
    path: PathBuf,
}

impl EnvFile {
    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A FIFO the CLI reads its environment from; removed when dropped at the latest.
#[derive(Debug)]
pub(crate) struct EnvFifo {
    path: PathBuf,
}

impl EnvFifo {
    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until `child` (the CLI given this FIFO's path) opens it, unlinks it,
    /// and writes `text` into it. Gives up, removing it, when the child exits
    /// first or does not open it within 30 s; the child then reads nothing.
    pub(crate) async fn feed(self, text: String, child: &mut Child) -> Result<(), AppleError> {
        let deadline = Instant::now() + OPEN_TIMEOUT;
        let failed = |path: &Path, source: std::io::Error| AppleError::EnvFile {
            path: path.to_owned(),
            source,
        };
        let file = loop {
            // Non-blocking, an open for writing fails with ENXIO until a reader has it open.
            match OpenOptions::new()
                .write(true)
                .custom_flags(OFlag::O_NONBLOCK.bits())
                .open(&self.path)
            {
                Ok(file) => break file,
                Err(e) if e.raw_os_error() == Some(Errno::ENXIO as i32) => {}
                Err(e) => return Err(failed(&self.path, e)),
            }
            let exited = child
                .try_wait()
                .map_err(|e| failed(&self.path, e))?
                .is_some();
            if exited || Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(OPEN_POLL).await;
        };
        // The reader holds it open: the name is no longer needed.
        let _ = std::fs::remove_file(&self.path);
        let path = self.path.clone();
        fcntl(&file, FcntlArg::F_SETFL(OFlag::empty()))
            .map_err(|errno| failed(&path, std::io::Error::from(errno)))?;
        // More than a pipe's buffer blocks until the reader reads: off the runtime.
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            file.write_all(text.as_bytes())
                .map_err(|e| failed(&path, e))
        })
        .await
        .map_err(|e| failed(&self.path, std::io::Error::other(e)))?
    }
}

impl Drop for EnvFifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    use super::EnvDir;

    #[test]
    fn files_are_private_in_a_private_directory_and_removed_on_drop() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = EnvDir::at(root.path().join("apple-env"));
        let file = dir.file("TOKEN=value\n").expect("env file");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(dir.path()), Some(0o700));
        assert_eq!(mode(file.path()), Some(0o600));
        assert!(file.path().starts_with(dir.path()));
        assert_eq!(
            std::fs::read_to_string(file.path()).ok().as_deref(),
            Some("TOKEN=value\n")
        );
        let path = file.path().to_owned();
        drop(file);
        assert!(!path.exists());
        let fifo = dir.fifo().expect("fifo");
        let kind = std::fs::symlink_metadata(fifo.path()).map(|m| m.file_type().is_fifo());
        assert_eq!(kind.ok(), Some(true));
        assert_eq!(mode(fifo.path()), Some(0o600));
        let path = fifo.path().to_owned();
        drop(fifo);
        assert!(!path.exists());
    }

    #[test]
    fn sweep_removes_only_what_dead_processes_left() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = EnvDir::at(root.path().to_owned());
        // A pid above the kernel's limit never runs.
        let dead = root.path().join("4294967-0000000000000000.env");
        let mine = dir.file("A=b\n").expect("env file");
        let foreign = root.path().join("notes.txt");
        for path in [&dead, &foreign] {
            std::fs::write(path, "x").expect("write");
        }
        assert_eq!(dir.sweep(), 1);
        assert!(!dead.exists());
        assert!(mine.path().exists() && foreign.exists());
    }
}
