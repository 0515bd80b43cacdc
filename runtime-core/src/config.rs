//! The `berth.toml` schema and its loader.
//!
//! Every table rejects unknown keys; every error names `file:line:column`, the key,
//! and, for a misspelt key or value, the closest valid one (see [`crate::diagnostic`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::capabilities::RuntimeChoice;
use crate::diagnostic::{ConfigDiagnostic, SourceFile};
use crate::error::Error;
use crate::size::ByteSize;

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(feature = "schema")]
mod schema;
#[cfg(feature = "schema")]
pub use schema::json_schema;

/// The name berth looks for when no `-f` is given.
pub const DEFAULT_FILE_NAME: &str = "berth.toml";

/// A loaded `berth.toml`, with where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The parsed tables, with each value's span in the file for diagnostics;
    /// read through the accessors below.
    pub(crate) file: ConfigFile,
    /// The file's path as the user named it (used in messages), or `<defaults>`.
    pub path: PathBuf,
    /// The directory relative paths in the file are resolved against (absolute).
    pub base_dir: PathBuf,
    /// SHA-256 of the file's bytes, hex; `None` for the built-in defaults. What
    /// `berth allow` records, so an acknowledgement ends when the file changes.
    pub digest: Option<String>,
}

/// The tables of `berth.toml`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// `[sandbox]`: what runs.
    #[serde(default)]
    pub(crate) sandbox: SandboxConfig,
    /// `[workspace]`: the host directory the agent works in.
    #[serde(default)]
    pub(crate) workspace: Option<WorkspaceConfig>,
    /// `[env]`: literal environment values.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub(crate) env: BTreeMap<Spanned<String>, String>,
    /// `[secrets]`: names whose values come from the host environment at launch.
    #[serde(default)]
    pub(crate) secrets: SecretsConfig,
    /// `[network]`: egress policy.
    #[serde(default)]
    pub(crate) network: NetworkConfig,
    /// `[resources]`: limits.
    #[serde(default)]
    pub(crate) resources: ResourcesConfig,
    /// `[docker]`: whether the agent needs Docker itself.
    #[serde(default)]
    pub(crate) docker: DockerConfig,
    /// `[security]`: overrides of the hardened defaults.
    #[serde(default)]
    pub(crate) security: SecurityConfig,
    /// `[pool]`: sandboxes of this plan kept started, for runs to claim.
    #[serde(default)]
    pub(crate) pool: PoolConfig,
}

/// `[pool]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoolConfig {
    /// How many sandboxes of this plan `berth pool up` keeps started (default 0:
    /// no pool); `berth run` claims one and a replacement starts behind it.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u32>"))]
    pub(crate) size: Option<Spanned<u32>>,
    /// How long an unclaimed member lives before `berth gc` (and the next
    /// berth command) removes it (default "1h").
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::duration::HumanDuration>")
    )]
    pub(crate) ttl: Option<Spanned<crate::duration::HumanDuration>>,
}

/// `[sandbox]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SandboxConfig {
    /// Base name for runs of this sandbox (default: the config directory's name).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) name: Option<Spanned<String>>,
    /// Image reference to run (exclusive with `build`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) image: Option<Spanned<String>>,
    /// Build the image from a Dockerfile instead (exclusive with `image`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<BuildConfig>"))]
    pub(crate) build: Option<Spanned<BuildConfig>>,
    /// Command and arguments; the image's default when absent.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) command: Option<Spanned<Vec<String>>>,
    /// Working directory inside the sandbox (absolute).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) workdir: Option<Spanned<String>>,
    /// User inside the sandbox: `name`, `uid` or `uid:gid`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) user: Option<Spanned<String>>,
    /// Preferred runtime; `--runtime` overrides it.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RuntimeChoice>"))]
    pub(crate) runtime: Option<Spanned<RuntimeChoice>>,
    /// How long a detached run may live; `berth gc` (and the next berth command)
    /// removes it after that.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::duration::HumanDuration>")
    )]
    pub(crate) ttl: Option<Spanned<crate::duration::HumanDuration>>,
    /// berth-init as the sandbox's PID 1 and exec server (default true where the
    /// runtime supports it); `false` keeps the engine's init and exec.
    pub(crate) init: Option<bool>,
}

/// `[sandbox.build]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuildConfig {
    /// Path of the Dockerfile, relative to the config file (default `Dockerfile` in the context).
    pub(crate) dockerfile: Option<PathBuf>,
    /// Build context directory, relative to the config file (default `.`).
    pub(crate) context: Option<PathBuf>,
    /// Tag to give the built image (default `berth-local/<name>:latest`).
    pub(crate) tag: Option<String>,
    /// Build arguments.
    #[serde(default)]
    pub(crate) args: BTreeMap<String, String>,
}

/// `[workspace]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkspaceConfig {
    /// Host directory, relative to the config file (default `.`).
    #[serde(default = "default_workspace_path")]
    #[cfg_attr(feature = "schema", schemars(with = "PathBuf"))]
    pub(crate) path: Spanned<PathBuf>,
    /// Where it appears inside the sandbox (default `/workspace`).
    #[serde(default = "default_mount")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) mount: Spanned<String>,
    /// Mount it read-only.
    #[serde(default)]
    pub(crate) read_only: bool,
}

fn default_workspace_path() -> Spanned<PathBuf> {
    Spanned::new(0..0, PathBuf::from("."))
}

fn default_mount() -> Spanned<String> {
    Spanned::new(0..0, "/workspace".to_owned())
}

/// `[secrets]`: `names` and `required`, and a `[secrets.NAME]` table per secret
/// bound to hosts.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SecretsConfig {
    /// Environment variable names passed from the host at launch; values are never
    /// printed, logged, snapshotted or put in a label.
    pub(crate) names: Vec<Spanned<String>>,
    /// Whether launch fails when one is unset on the host (default true).
    pub(crate) required: bool,
    /// Secrets bound to hosts: a placeholder inside, the value added by the egress
    /// proxy to requests for those hosts only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) bound: Vec<(Spanned<String>, BoundSecretConfig)>,
    /// Keys that are neither a field nor a secret's name (a misspelt `names`):
    /// refused by validation, which can point at them.
    #[serde(skip)]
    pub(crate) unknown: Vec<Spanned<String>>,
}

/// `[secrets.NAME]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoundSecretConfig {
    /// The hosts (`host[:port]`, a leading `*.` for subdomains) whose requests get
    /// the value.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) hosts: Vec<Spanned<String>>,
    /// A file holding the value (read at launch, trailing newline dropped),
    /// instead of berth's environment.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<PathBuf>"))]
    pub(crate) file: Option<Spanned<PathBuf>>,
}

impl<'de> Deserialize<'de> for SecretsConfig {
    /// A map rather than a derived struct: its keys are `names`, `required`, or a
    /// secret's name with its table (serde's `flatten` would lose the spans).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tables;
        impl<'de> serde::de::Visitor<'de> for Tables {
            type Value = SecretsConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of `names`, `required` and [secrets.NAME] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SecretsConfig, A::Error> {
                const FIELDS: &[&str] = &["names", "required"];
                let mut out = SecretsConfig::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.get_ref().as_str() {
                        "names" => out.names = map.next_value()?,
                        "required" => out.required = map.next_value()?,
                        // A near miss of a field is a typo, not a secret's name.
                        other
                            if !crate::validate::is_env_name(other)
                                || FIELDS.iter().any(|f| strsim::levenshtein(f, other) <= 2) =>
                        {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            out.unknown.push(key);
                        }
                        _ => {
                            let table: BoundSecretConfig = map.next_value()?;
                            out.bound.push((key, table));
                        }
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Tables)
    }
}

/// A default value with an empty span (it appears nowhere in the file).
fn unspanned<T: Default>() -> Spanned<T> {
    Spanned::new(0..0, T::default())
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            policy: unspanned(),
            allow: Vec::new(),
            hosts: BTreeMap::new(),
            upstream_ca: None,
            shared: true,
        }
    }
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self { mode: unspanned() }
    }
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            names: Vec::new(),
            required: true,
            bound: Vec::new(),
            unknown: Vec::new(),
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            cap_add: Vec::new(),
            no_new_privileges: true,
            read_only_rootfs: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[network]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkConfig {
    /// Egress policy.
    #[serde(default = "unspanned::<NetworkPolicy>")]
    #[cfg_attr(feature = "schema", schemars(with = "NetworkPolicy"))]
    pub(crate) policy: Spanned<NetworkPolicy>,
    /// `host[:port]` entries, for `policy = "allowlist"`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) allow: Vec<Spanned<String>>,
    /// Static name entries for the egress proxy (`name = "IP"`), like `--add-host`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub(crate) hosts: BTreeMap<Spanned<String>, Spanned<String>>,
    /// A PEM file of extra certificate authorities the egress proxy trusts for the
    /// upstreams of bound secrets, besides the host's store.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<PathBuf>"))]
    pub(crate) upstream_ca: Option<Spanned<PathBuf>>,
    /// With `policy = "open"`, join the berth-owned network shared by every run
    /// (default true); false joins the engine's default bridge (`docker0`).
    #[serde(default = "yes")]
    pub(crate) shared: bool,
}

/// Egress policy.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    /// The engine's default bridge: full egress.
    #[default]
    Open,
    /// No network at all.
    None,
    /// Egress only to the listed hosts (through an egress proxy).
    Allowlist,
}

impl fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::None => "none",
            Self::Allowlist => "allowlist",
        })
    }
}

/// `[resources]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourcesConfig {
    /// CPUs (fractional allowed), or `"unlimited"`; a default applies when absent.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Limit<f64>>"))]
    pub(crate) cpus: Option<Spanned<Limit<f64>>>,
    /// Memory, such as `"4GiB"` or `"512MiB"`, or `"unlimited"`; a default applies
    /// when absent.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Limit<ByteSize>>"))]
    pub(crate) memory: Option<Spanned<Limit<ByteSize>>>,
    /// Maximum number of processes (default 1024 where the runtime supports it).
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) pids: Option<Spanned<i64>>,
}

/// A resource limit as written: a value, or `"unlimited"` to lift berth's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Limit<T> {
    /// No limit at all (`"unlimited"`).
    Unlimited,
    /// This limit.
    Value(T),
}

/// The word that lifts a default limit.
pub(crate) const UNLIMITED: &str = "unlimited";

impl<T: Serialize> Serialize for Limit<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unlimited => s.serialize_str(UNLIMITED),
            Self::Value(v) => v.serialize(s),
        }
    }
}

impl<T> Limit<T> {
    /// The value, unless unlimited.
    pub(crate) fn value(&self) -> Option<&T> {
        match self {
            Self::Unlimited => None,
            Self::Value(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Limit<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer, Visitor};
        struct LimitVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LimitVisitor<T> {
            type Value = Limit<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a limit, or \"{UNLIMITED}\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limit<T>, E> {
                if v.eq_ignore_ascii_case(UNLIMITED) {
                    return Ok(Limit::Unlimited);
                }
                T::deserialize(v.into_deserializer())
                    .map(Limit::Value)
                    .map_err(|e: E| match e.to_string() {
                        // A number written as text: say what fits.
                        msg if msg.starts_with("invalid type") => E::custom(format!(
                            "found string {v:?}: write a number, or \"{UNLIMITED}\" for no limit"
                        )),
                        msg => E::custom(format!(
                            "{}, or \"{UNLIMITED}\" for no limit",
                            msg.trim_end()
                        )),
                    })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit<T>, E> {
                T::deserialize(v.into_deserializer()).map(Limit::Value)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit<T>, E> {
                T::deserialize(v.into_deserializer()).map(Limit::Value)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Limit<T>, E> {
                T::deserialize(v.into_deserializer()).map(Limit::Value)
            }
        }
        d.deserialize_any(LimitVisitor(std::marker::PhantomData))
    }
}

/// `[docker]`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DockerConfig {
    /// Whether and how the agent gets Docker.
    #[serde(default = "unspanned::<DockerMode>")]
    #[cfg_attr(feature = "schema", schemars(with = "DockerMode"))]
    pub(crate) mode: Spanned<DockerMode>,
}

/// How the agent gets Docker.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerMode {
    /// No Docker inside.
    #[default]
    None,
    /// The host engine's socket, with its group id.
    Host,
    /// A private engine inside the sandbox (privileged).
    Dind,
}

impl fmt::Display for DockerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Host => "host",
            Self::Dind => "dind",
        })
    }
}

/// `[security]`: loosen the hardened defaults, one deliberate key at a time.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecurityConfig {
    /// Capabilities to keep (all others are dropped), such as `"CHOWN"`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) cap_add: Vec<Spanned<String>>,
    /// Set `no-new-privileges` (default true).
    #[serde(default = "yes")]
    pub(crate) no_new_privileges: bool,
    /// Mount the image's root filesystem read-only (default true; /tmp, /run and
    /// the home directory are writable tmpfs mounts).
    #[serde(default = "yes")]
    pub(crate) read_only_rootfs: bool,
}

/// The error of an override whose value is refused.
fn invalid_flag(flag: &'static str, value: &str, reason: String) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        reason,
    }
}

impl Config {
    /// A config with every default, for `berth run IMAGE` without a file.
    pub fn defaults(base_dir: PathBuf) -> Self {
        Self {
            file: ConfigFile::default(),
            path: PathBuf::from("<defaults>"),
            base_dir,
            digest: None,
        }
    }

    /// Parses `text` as the contents of `path`; `base_dir` anchors relative paths.
    pub fn parse(path: &Path, text: &str, base_dir: PathBuf) -> Result<Self, Error> {
        let source = SourceFile::new(path, text);
        let file: ConfigFile = toml::from_str(text)
            .map_err(|e| Error::Config(Box::new(ConfigDiagnostic::from_toml(&source, &e))))?;
        crate::validate::check(&file, &source)?;
        Ok(Self {
            file,
            path: path.to_owned(),
            base_dir,
            digest: Some(sha256_hex(text.as_bytes())),
        })
    }

    /// The host paths the config names, absolute as written (not yet resolved):
    /// the workspace, the build context and the Dockerfile. [`crate::HostFacts`]
    /// resolves them before [`crate::prepare`] looks them up.
    pub fn host_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(ws) = &self.file.workspace {
            out.push(self.anchor(ws.path.get_ref()));
        }
        if let Some(build) = &self.file.sandbox.build {
            let (context, dockerfile) = self.build_paths(build.get_ref());
            out.push(context);
            out.push(dockerfile);
        }
        out
    }

    /// A config-relative path made absolute against [`Config::base_dir`],
    /// lexically (`..` and `.` folded; symlinks are resolved later, on the host).
    pub(crate) fn anchor(&self, path: &Path) -> PathBuf {
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        };
        let mut out = PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }

    /// The build context and Dockerfile of `[sandbox.build]`, anchored.
    pub(crate) fn build_paths(&self, build: &BuildConfig) -> (PathBuf, PathBuf) {
        let context = self.anchor(build.context.as_deref().unwrap_or(Path::new(".")));
        let dockerfile = match &build.dockerfile {
            Some(f) => self.anchor(f),
            None => context.join("Dockerfile"),
        };
        (context, dockerfile)
    }

    /// Parses the bytes of a file: text that is not UTF-8 is a config error at the
    /// line and column of the first byte that is not.
    pub fn parse_bytes(path: &Path, bytes: &[u8], base_dir: PathBuf) -> Result<Self, Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(path, text, base_dir),
            Err(err) => {
                let valid = &bytes[..err.valid_up_to()];
                // The prefix is valid UTF-8 by construction.
                let text = std::str::from_utf8(valid).unwrap_or_default();
                let source = SourceFile::new(path, text);
                let at = text.len();
                Err(Error::Config(Box::new(ConfigDiagnostic::at(
                    &source,
                    Some(at..at),
                    "the file is not UTF-8 text".to_owned(),
                    Some("save berth.toml as UTF-8".to_owned()),
                ))))
            }
        }
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse_bytes(path, &bytes, base_dir)
    }

    /// Runs `image` instead of the file's image or build (`berth run IMAGE`); the
    /// reference is checked as the file's `image` is.
    pub fn override_image(&mut self, image: &str) -> Result<(), Error> {
        crate::reference::check(image).map_err(|why| Error::Usage {
            message: format!(
                "`{}` is not an image reference: {why}",
                image.escape_debug()
            ),
        })?;
        self.file.sandbox.image = Some(toml::Spanned::new(0..0, image.to_owned()));
        self.file.sandbox.build = None;
        Ok(())
    }

    /// Runs `command` instead of the file's (and the image's).
    pub fn override_command(&mut self, command: Vec<String>) {
        self.file.sandbox.command = Some(toml::Spanned::new(0..0, command));
    }

    /// Sets `[env] name = value` over the file's (`berth run -e NAME=VALUE`). The
    /// value is a literal, shown by `berth plan`; a name the file lists under
    /// `[secrets]` is refused, since its value comes from the host.
    pub fn override_env(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let refuse = |reason: String| invalid_flag("-e", name, reason);
        if !crate::validate::is_env_name(name) {
            return Err(refuse(
                "not a valid environment variable name: use letters, digits and '_', not starting with a digit".to_owned(),
            ));
        }
        if let Some(why) = crate::validate::text_problem(value) {
            return Err(refuse(format!("its value cannot be passed on: {why}")));
        }
        if self.secret_names().contains(&name) {
            return Err(refuse(format!(
                "{name} is a secret of the config ([secrets] names): its value comes from the host environment at launch"
            )));
        }
        self.file
            .env
            .insert(Spanned::new(0..0, name.to_owned()), value.to_owned());
        Ok(())
    }

    /// Mounts `host` at `mount` as the workspace, over `[workspace]`
    /// (`berth run -v HOST:MOUNT[:ro]`). A relative `host` is relative to
    /// [`Config::base_dir`]; its dangers are judged as the file's path is.
    pub fn override_workspace(
        &mut self,
        host: &Path,
        mount: &str,
        read_only: bool,
    ) -> Result<(), Error> {
        let value = format!("{}:{mount}", host.display());
        if let Some((why, help)) = crate::validate::inside_path_problem(mount) {
            return Err(invalid_flag(
                "-v",
                &value,
                format!("the mount {why}; {help}"),
            ));
        }
        if mount == "/" {
            return Err(invalid_flag(
                "-v",
                &value,
                "the workspace cannot be mounted over /; mount it at a directory such as /workspace"
                    .to_owned(),
            ));
        }
        if let Some(why) = crate::validate::text_problem(&host.to_string_lossy()) {
            return Err(invalid_flag(
                "-v",
                &value,
                format!("the host path cannot be used: {why}"),
            ));
        }
        self.file.workspace = Some(WorkspaceConfig {
            path: Spanned::new(0..0, host.to_owned()),
            mount: Spanned::new(0..0, mount.to_owned()),
            read_only,
        });
        Ok(())
    }

    /// Sets the working directory inside, over `[sandbox] workdir` (`berth run -w`).
    pub fn override_workdir(&mut self, workdir: &str) -> Result<(), Error> {
        if let Some((why, help)) = crate::validate::inside_path_problem(workdir) {
            return Err(invalid_flag("-w", workdir, format!("{why}; {help}")));
        }
        self.file.sandbox.workdir = Some(Spanned::new(0..0, workdir.to_owned()));
        Ok(())
    }

    /// Sets the user inside, over `[sandbox] user` (`berth run -u`).
    pub fn override_user(&mut self, user: &str) -> Result<(), Error> {
        if !crate::validate::is_user(user) {
            return Err(invalid_flag(
                "-u",
                user,
                "not a user: write a name, a uid, or uid:gid, such as 1000:1000".to_owned(),
            ));
        }
        self.file.sandbox.user = Some(Spanned::new(0..0, user.to_owned()));
        Ok(())
    }

    /// Sets the egress policy, over `[network] policy` (`berth run --network`).
    /// `open` and `none` drop the file's allowlist (`allow`, `hosts`);
    /// `allowlist` needs the file's `allow` list.
    pub fn override_network(&mut self, policy: NetworkPolicy) -> Result<(), Error> {
        if policy == NetworkPolicy::None && !self.file.secrets.bound.is_empty() {
            return Err(invalid_flag(
                "--network",
                &policy.to_string(),
                "the config binds secrets to hosts, which need a network: remove the [secrets.NAME] tables, or use --network open"
                    .to_owned(),
            ));
        }
        let network = &mut self.file.network;
        match policy {
            NetworkPolicy::Allowlist if network.allow.is_empty() => {
                return Err(invalid_flag(
                    "--network",
                    &policy.to_string(),
                    "the config lists no hosts to allow: add `allow` under [network] in berth.toml"
                        .to_owned(),
                ));
            }
            NetworkPolicy::Allowlist => {}
            NetworkPolicy::Open | NetworkPolicy::None => {
                network.allow.clear();
                network.hosts.clear();
            }
        }
        network.policy = Spanned::new(0..0, policy);
        Ok(())
    }

    /// Sets the memory limit, over `[resources] memory` (`berth run --memory`):
    /// a size such as `512MiB` or `2g`, or `unlimited`.
    pub fn override_memory(&mut self, memory: &str) -> Result<(), Error> {
        let limit = if memory.eq_ignore_ascii_case(UNLIMITED) {
            Limit::Unlimited
        } else {
            let size: ByteSize = memory
                .parse()
                .map_err(|why| invalid_flag("--memory", memory, format!("{why}, or unlimited")))?;
            if let Some(why) = crate::validate::memory_problem(size) {
                return Err(invalid_flag("--memory", memory, why));
            }
            Limit::Value(size)
        };
        self.file.resources.memory = Some(Spanned::new(0..0, limit));
        Ok(())
    }

    /// Sets the CPU limit, over `[resources] cpus` (`berth run --cpus`): a number
    /// such as `2` or `0.5`, or `unlimited`.
    pub fn override_cpus(&mut self, cpus: &str) -> Result<(), Error> {
        let limit = if cpus.eq_ignore_ascii_case(UNLIMITED) {
            Limit::Unlimited
        } else {
            let count: f64 = cpus.parse().map_err(|_| {
                invalid_flag(
                    "--cpus",
                    cpus,
                    "not a number: write one such as 2 or 0.5, or unlimited".to_owned(),
                )
            })?;
            if let Some(why) = crate::validate::cpus_problem(count) {
                return Err(invalid_flag("--cpus", cpus, why));
            }
            Limit::Value(count)
        };
        self.file.resources.cpus = Some(Spanned::new(0..0, limit));
        Ok(())
    }

    /// The image reference to run: `[sandbox] image` (or what
    /// [`Config::override_image`] set); `None` when the image is built or unset.
    pub fn image(&self) -> Option<&str> {
        self.file
            .sandbox
            .image
            .as_ref()
            .map(|i| i.get_ref().as_str())
    }

    /// The command and its arguments: `[sandbox] command` (or what
    /// [`Config::override_command`] set); `None` runs the image's.
    pub fn command(&self) -> Option<&[String]> {
        self.file
            .sandbox
            .command
            .as_ref()
            .map(|c| c.get_ref().as_slice())
    }

    /// The runtime the file asks for: `[sandbox] runtime`.
    pub fn runtime(&self) -> Option<RuntimeChoice> {
        self.file.sandbox.runtime.as_ref().map(|r| *r.get_ref())
    }

    /// The names of `[secrets]` whose values come from the host environment:
    /// `names`, then the secrets bound to hosts that name no file.
    pub fn secret_names(&self) -> Vec<&str> {
        let secrets = &self.file.secrets;
        secrets
            .names
            .iter()
            .chain(
                secrets
                    .bound
                    .iter()
                    .filter(|(_, table)| table.file.is_none())
                    .map(|(name, _)| name),
            )
            .map(|n| n.get_ref().as_str())
            .collect()
    }

    /// The egress policy: `[network] policy`.
    pub fn network_policy(&self) -> NetworkPolicy {
        *self.file.network.policy.get_ref()
    }

    /// What the egress proxy enforces, for `policy = "allowlist"` or any policy
    /// with secrets bound to hosts (`None` otherwise): `[network] allow` and `hosts`
    /// and the bound secrets' hosts, as validated when the config was parsed.
    pub fn egress_policy(&self) -> Option<crate::egress::Policy> {
        let network = &self.file.network;
        let bound = &self.file.secrets.bound;
        let policy = *network.policy.get_ref();
        if policy != NetworkPolicy::Allowlist && bound.is_empty() {
            return None;
        }
        let credentials: Vec<crate::egress::Binding> = bound
            .iter()
            .map(|(name, table)| crate::egress::Binding {
                name: name.get_ref().clone(),
                hosts: table
                    .hosts
                    .iter()
                    .filter_map(|h| h.get_ref().parse().ok())
                    .collect(),
            })
            .collect();
        let mut rules: Vec<crate::egress::Rule> = network
            .allow
            .iter()
            .filter_map(|r| r.get_ref().parse().ok())
            .collect();
        for rule in credentials.iter().flat_map(|b| &b.hosts) {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
        Some(crate::egress::Policy {
            rules,
            allow_all: policy == NetworkPolicy::Open,
            credentials,
            hosts: network
                .hosts
                .iter()
                .filter_map(|(name, ip)| {
                    let name = match crate::egress::Host::parse(name.get_ref()).ok()? {
                        crate::egress::Host::Name(name) => name,
                        crate::egress::Host::Ip(_) => return None,
                    };
                    Some((name, ip.get_ref().parse().ok()?))
                })
                .collect(),
        })
    }

    /// `[network] upstream_ca`, made absolute against the config's directory.
    pub fn upstream_ca(&self) -> Option<PathBuf> {
        let path = self.file.network.upstream_ca.as_ref()?;
        Some(self.anchor(path.get_ref()))
    }

    /// Whether and how the agent gets Docker: `[docker] mode`.
    pub fn docker_mode(&self) -> DockerMode {
        *self.file.docker.mode.get_ref()
    }

    /// Whether berth-init may be the sandbox's PID 1 and serve its exec:
    /// `[sandbox] init`, true unless set to false.
    pub fn init(&self) -> bool {
        self.file.sandbox.init.unwrap_or(true)
    }

    /// How many pool members to keep started: `[pool] size` (0: no pool).
    pub fn pool_size(&self) -> u32 {
        self.file.pool.size.as_ref().map_or(0, |s| *s.get_ref())
    }

    /// How long an unclaimed pool member lives: `[pool] ttl`, else an hour.
    pub fn pool_ttl(&self) -> std::time::Duration {
        self.file
            .pool
            .ttl
            .as_ref()
            .map_or(crate::pool::DEFAULT_TTL, |ttl| ttl.get_ref().0)
    }

    /// How long a detached run lives: `[sandbox] ttl`.
    pub fn ttl(&self) -> Option<std::time::Duration> {
        self.file.sandbox.ttl.as_ref().map(|ttl| ttl.get_ref().0)
    }

    /// The sandbox's base name: `[sandbox] name`, else the config directory's name.
    pub fn sandbox_name(&self) -> String {
        if let Some(name) = &self.file.sandbox.name {
            return name.get_ref().clone();
        }
        let raw = self
            .base_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cleaned = crate::labels::sanitize_name(&raw);
        if cleaned.is_empty() {
            "sandbox".to_owned()
        } else {
            cleaned
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, DockerMode, NetworkPolicy};
    use crate::{RuntimeChoice, RuntimeKind};

    fn parse(text: &str) -> Config {
        Config::parse("berth.toml".as_ref(), text, "/work/agent".into()).expect("config")
    }

    #[test]
    fn accessors_read_the_file_as_plain_values() {
        let config = parse(
            "[sandbox]\nimage = \"debian:bookworm-slim\"\ncommand = [\"bash\", \"-l\"]\n\
             runtime = \"gvisor\"\n[secrets]\nnames = [\"TOKEN\", \"KEY\"]\n\
             [network]\npolicy = \"none\"\n[docker]\nmode = \"host\"\n",
        );
        assert_eq!(config.image(), Some("debian:bookworm-slim"));
        assert_eq!(
            config.command(),
            Some(&["bash".to_owned(), "-l".to_owned()][..])
        );
        assert_eq!(
            config.runtime().and_then(RuntimeChoice::kind),
            Some(RuntimeKind::Gvisor)
        );
        assert_eq!(config.secret_names(), ["TOKEN", "KEY"]);
        assert_eq!(config.network_policy(), NetworkPolicy::None);
        assert_eq!(config.docker_mode(), DockerMode::Host);
    }

    #[test]
    fn defaults_have_no_image_and_open_network() {
        let config = Config::defaults("/work/agent".into());
        assert_eq!(config.image(), None);
        assert_eq!(config.command(), None);
        assert_eq!(config.runtime(), None);
        assert!(config.secret_names().is_empty());
        assert_eq!(config.network_policy(), NetworkPolicy::Open);
        assert_eq!(config.docker_mode(), DockerMode::None);
    }

    #[test]
    fn overrides_replace_image_build_and_command() {
        let mut config =
            parse("[sandbox]\ncommand = [\"old\"]\n[sandbox.build]\ncontext = \".\"\n");
        assert_eq!(config.image(), None);
        config
            .override_image("berth-test/busybox:latest")
            .expect("reference");
        config.override_command(vec!["sh".to_owned()]);
        assert_eq!(config.image(), Some("berth-test/busybox:latest"));
        assert_eq!(config.command(), Some(&["sh".to_owned()][..]));
        assert!(config.host_paths().is_empty(), "the build is gone");
    }

    #[test]
    fn flag_overrides_replace_the_files_values() {
        let mut config = parse(
            "[sandbox]\nworkdir = \"/old\"\nuser = \"root\"\n[env]\nA = \"file\"\n\
             [network]\npolicy = \"allowlist\"\nallow = [\"example.com\"]\n\
             [resources]\nmemory = \"1GiB\"\ncpus = 1\n",
        );
        config.override_env("A", "flag").expect("env");
        config.override_env("B", "-x=y").expect("env");
        config
            .override_workspace("/src/project".as_ref(), "/code", true)
            .expect("workspace");
        config.override_workdir("/code").expect("workdir");
        config.override_user("1000:1000").expect("user");
        config
            .override_network(NetworkPolicy::None)
            .expect("network");
        config.override_memory("512MiB").expect("memory");
        config.override_cpus("unlimited").expect("cpus");
        let file = &config.file;
        let env: Vec<(&str, &str)> = file
            .env
            .iter()
            .map(|(k, v)| (k.get_ref().as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "flag"), ("B", "-x=y")]);
        let ws = file.workspace.as_ref().expect("workspace");
        assert_eq!(ws.path.get_ref(), std::path::Path::new("/src/project"));
        assert_eq!((ws.mount.get_ref().as_str(), ws.read_only), ("/code", true));
        assert_eq!(
            file.sandbox.workdir.as_ref().map(|w| w.get_ref().as_str()),
            Some("/code")
        );
        assert_eq!(
            file.sandbox.user.as_ref().map(|u| u.get_ref().as_str()),
            Some("1000:1000")
        );
        assert_eq!(config.network_policy(), NetworkPolicy::None);
        assert!(config.egress_policy().is_none() && file.network.allow.is_empty());
        assert_eq!(
            file.resources.memory.as_ref().map(|m| *m.get_ref()),
            Some(super::Limit::Value(crate::size::ByteSize(512 << 20)))
        );
        assert_eq!(
            file.resources.cpus.as_ref().map(|c| *c.get_ref()),
            Some(super::Limit::Unlimited)
        );
    }

    #[test]
    fn a_refused_override_names_its_flag() {
        let mut config = parse("[secrets]\nnames = [\"TOKEN\"]\n");
        let refused = [
            config.override_env("1A", "x"),
            config.override_env("TOKEN", "x"),
            config.override_env("A", "nul\0"),
            config.override_workspace(".".as_ref(), "relative", false),
            config.override_workspace(".".as_ref(), "/", false),
            config.override_workdir("workspace"),
            config.override_user("not a user"),
            config.override_network(NetworkPolicy::Allowlist),
            config.override_memory("1KiB"),
            config.override_memory("lots"),
            config.override_cpus("0"),
            config.override_cpus("two"),
        ];
        let flags: Vec<&str> = refused
            .iter()
            .map(|r| match r {
                Err(crate::Error::InvalidFlag { flag, .. }) => *flag,
                other => panic!("not refused with its flag: {other:?}"),
            })
            .collect();
        assert_eq!(
            flags,
            [
                "-e",
                "-e",
                "-e",
                "-v",
                "-v",
                "-w",
                "-u",
                "--network",
                "--memory",
                "--memory",
                "--cpus",
                "--cpus"
            ]
        );
        let message = config.override_memory("1KiB").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("--memory 1KiB: memory must be at least 6MiB, got 1KiB".to_owned())
        );
        assert_eq!(
            config.file.resources.memory.as_ref().map(|_| ()),
            None,
            "nothing was set"
        );
    }
}
