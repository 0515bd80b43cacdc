//! The build context as the engine's build API wants it: a tar stream of the context
//! directory, minus what `.dockerignore` excludes, plus the Dockerfile.
//!
//! `.dockerignore` is honoured in its common form: `#` comments, `*`, `?`, `[...]`
//! and `**` globs relative to the context root (a leading `/` is ignored), `!`
//! exceptions where the last matching line wins, and a pattern that matches a
//! directory excludes everything under it. As with `docker build`, the Dockerfile
//! and `.dockerignore` are always sent. The archive keeps symlinks as symlinks and
//! skips sockets and other special files.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::errors::DockerError;

/// `.dockerignore` rules.
#[derive(Debug, Default)]
pub(crate) struct Ignore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    exception: bool,
}

impl Ignore {
    /// Parses `.dockerignore` text; `path` names the file in errors.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, DockerError> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(raw);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|source| DockerError::Dockerignore {
                    path: path.to_owned(),
                    pattern: line.to_owned(),
                    source,
                })?;
            rules.push(Rule {
                matcher: glob.compile_matcher(),
                exception,
            });
        }
        Ok(Self { rules })
    }

    /// Reads `<context>/.dockerignore`; no file means no rules.
    pub(crate) fn read(context: &Path) -> Result<Self, DockerError> {
        let path = context.join(".dockerignore");
        match fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(DockerError::Context { path, source }),
        }
    }

    /// Whether `rel` (slash-separated, relative to the context) is excluded: the
    /// last rule matching it or one of its parent directories decides.
    pub(crate) fn excludes(&self, rel: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if matches_or_parent(&rule.matcher, rel) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

fn matches_or_parent(matcher: &GlobMatcher, rel: &str) -> bool {
    if matcher.is_match(rel) {
        return true;
    }
    rel.match_indices('/')
        .any(|(at, _)| matcher.is_match(&rel[..at]))
}

/// `filepath.Clean` for patterns: no empty or `.` parts, `..` folded, no leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// What to send for one build.
#[derive(Debug)]
pub(crate) struct BuildContext {
    dir: PathBuf,
    ignore: Ignore,
    /// The Dockerfile's path inside the archive (what the build API's
    /// `dockerfile` parameter names).
    dockerfile_name: String,
}

impl BuildContext {
    /// The context `dir` (absolute) built with `dockerfile` (absolute), which must
    /// be inside the context: nothing outside it is ever read or sent. Reads
    /// `.dockerignore`.
    pub(crate) fn new(dir: &Path, dockerfile: &Path) -> Result<Self, DockerError> {
        let ignore = Ignore::read(dir)?;
        let inside = dockerfile
            .strip_prefix(dir)
            .ok()
            .filter(|rel| rel.components().all(|c| matches!(c, Component::Normal(_))))
            .map(|rel| {
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .filter(|rel| !rel.is_empty());
        match inside {
            Some(name) => Ok(Self {
                dir: dir.to_owned(),
                ignore,
                dockerfile_name: name,
            }),
            None => Err(DockerError::DockerfileOutsideContext {
                dockerfile: dockerfile.to_owned(),
                context: dir.to_owned(),
            }),
        }
    }

    /// The context directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Dockerfile's name inside the archive.
    pub(crate) fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// Writes the archive to `out`.
    pub(crate) fn pack<W: Write>(&self, out: W) -> Result<W, DockerError> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        self.walk(&mut builder, &self.dir, "")?;
        builder.into_inner().map_err(|source| DockerError::Context {
            path: self.dir.clone(),
            source,
        })
    }

    fn always_sent(&self, rel: &str) -> bool {
        rel == ".dockerignore" || rel == self.dockerfile_name
    }

    fn walk<W: Write>(
        &self,
        builder: &mut tar::Builder<W>,
        dir: &Path,
        prefix: &str,
    ) -> Result<(), DockerError> {
        let err = |path: &Path| {
            let path = path.to_owned();
            move |source| DockerError::Context { path, source }
        };
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
            .map_err(err(dir))?
            .collect::<Result<_, _>>()
            .map_err(err(dir))?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(err(&path))?;
            let excluded = self.ignore.excludes(&rel) && !self.always_sent(&rel);
            if kind.is_dir() {
                if excluded && !self.ignore.has_exceptions() {
                    continue;
                }
                if !excluded {
                    builder.append_dir(&rel, &path).map_err(err(&path))?;
                }
                // An exception may bring back something under an excluded directory.
                self.walk(builder, &path, &rel)?;
            } else if !excluded && (kind.is_file() || kind.is_symlink()) {
                builder
                    .append_path_with_name(&path, &rel)
                    .map_err(err(&path))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(text, Path::new(".dockerignore")).expect("valid patterns")
    }

    #[test]
    fn patterns_exclude_paths_and_everything_under_matched_directories() {
        let rules = ignore("# build output\ntarget\n/.git\n*.log\n**/node_modules\ndocs/*.md\n");
        assert!(rules.excludes("target"));
        assert!(rules.excludes("target/debug/berth"));
        assert!(rules.excludes(".git/config"));
        assert!(rules.excludes("a.log"));
        assert!(!rules.excludes("sub/a.log"), "* does not cross directories");
        assert!(rules.excludes("node_modules/x"));
        assert!(rules.excludes("web/node_modules/x/y"));
        assert!(rules.excludes("docs/a.md"));
        assert!(!rules.excludes("docs/deep/a.md"));
        assert!(!rules.excludes("src/main.rs"));
    }

    #[test]
    fn the_last_matching_line_wins() {
        let rules = ignore("*.md\n!README.md\n");
        assert!(rules.excludes("CHANGES.md"));
        assert!(!rules.excludes("README.md"));
        let rules = ignore("!README.md\n*.md\n");
        assert!(rules.excludes("README.md"));
    }

    #[test]
    fn patterns_are_cleaned_like_docker_does() {
        let rules = ignore("./build/../out/\n  spaced  \n");
        assert!(rules.excludes("out/x"));
        assert!(rules.excludes("spaced"));
    }

    #[test]
    fn an_invalid_pattern_names_itself() {
        let err =
            Ignore::parse("ok\n[unclosed\n", Path::new("/ctx/.dockerignore")).expect_err("invalid");
        assert!(
            matches!(&err, DockerError::Dockerignore { pattern, .. } if pattern == "[unclosed"),
            "{err:?}"
        );
    }

    fn names(archive: &[u8]) -> Vec<String> {
        let mut out: Vec<String> = tar::Archive::new(archive)
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_owned()
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn packs_the_context_minus_ignored_files_but_always_the_dockerfile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("src")).expect("mkdir");
        fs::create_dir_all(root.join("target/debug")).expect("mkdir");
        fs::write(root.join("Dockerfile"), "FROM scratch\n").expect("write");
        fs::write(root.join("src/main.rs"), "fn main() {}\n").expect("write");
        fs::write(root.join("target/debug/big"), "x").expect("write");
        fs::write(root.join("notes.md"), "x").expect("write");
        fs::write(root.join("keep.md"), "x").expect("write");
        fs::write(
            root.join(".dockerignore"),
            "target\n*.md\n!keep.md\nDockerfile\n",
        )
        .expect("write");
        std::os::unix::fs::symlink("src/main.rs", root.join("link")).expect("symlink");
        let context = BuildContext::new(root, &root.join("Dockerfile")).expect("context");
        assert_eq!(context.dockerfile_name(), "Dockerfile");
        let archive = context.pack(Vec::new()).expect("pack");
        assert_eq!(
            names(&archive),
            [
                ".dockerignore",
                "Dockerfile",
                "keep.md",
                "link",
                "src",
                "src/main.rs"
            ]
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let context_dir = dir.path().join("ctx");
        fs::create_dir_all(&context_dir).expect("mkdir");
        let dockerfile = dir.path().join("build.Dockerfile");
        fs::write(&dockerfile, "FROM scratch\n").expect("write");
        let err = BuildContext::new(&context_dir, &dockerfile).expect_err("outside");
        assert!(matches!(err, DockerError::DockerfileOutsideContext { .. }));
        let sneaky = context_dir.join("../build.Dockerfile");
        assert!(BuildContext::new(&context_dir, &sneaky).is_err());
    }
}
