//! What the `container` CLI prints, parsed into one set of structs whatever its
//! version: container lists in the 1.x shape (`{"id", "configuration",
//! "status": {"state", "networks", "startedDate"}}`, ISO-8601 dates) and the 0.x
//! shape (`{"status": "running", "configuration", "networks", "startedDate"}`,
//! dates as seconds since 2001-01-01), volume and network lists, and
//! `system status` as JSON or as the text of CLIs older than 0.11.
//!
//! Parsers return `serde_json::Error` (shape errors included, as custom errors
//! naming the entry); the runner wraps them with the command line and the output.

use std::collections::BTreeMap;
use std::fmt;

use runtime_core::{RuntimeKind, SandboxInfo, SandboxState, labels};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Apple's reference date, 2001-01-01T00:00:00Z, in Unix seconds: Swift's
/// `JSONEncoder` writes dates as seconds since it unless told to use ISO-8601.
pub(crate) const REFERENCE_DATE_UNIX: i64 = 978_307_200;

/// A point in time as the CLI printed it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(OffsetDateTime);

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Timestamp {
    /// Parses ISO-8601 (RFC 3339) text such as `2025-06-10T12:34:56Z`.
    pub(crate) fn parse_iso(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339).ok().map(Self)
    }

    /// A date written as seconds since 2001-01-01 (Swift's default encoding).
    pub(crate) fn from_reference_seconds(seconds: f64) -> Option<Self> {
        // Whole seconds and the fraction apart: one f64 of nanoseconds since 1970
        // would lose the sub-microsecond digits.
        let whole = seconds.floor();
        if !whole.is_finite() || whole.abs() > 1e15 {
            return None;
        }
        let nanos = ((seconds - whole) * 1e9).round() as i64;
        let unix = whole as i64 + REFERENCE_DATE_UNIX;
        let at = OffsetDateTime::from_unix_timestamp(unix).ok()?;
        Some(Self(at + time::Duration::nanoseconds(nanos)))
    }

    /// Whole seconds since the Unix epoch.
    pub(crate) fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}", self.0.unix_timestamp()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;

        impl Visitor<'_> for DateVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO-8601 date or seconds since 2001-01-01")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_iso(text).ok_or_else(|| {
                    E::custom(format!(
                        "invalid date {text:?}: expected ISO-8601 such as 2025-06-10T12:34:56Z"
                    ))
                })
            }

            fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Timestamp, E> {
                Timestamp::from_reference_seconds(seconds).ok_or_else(|| {
                    E::custom(format!(
                        "invalid date {seconds:e}: seconds since 2001-01-01 out of range"
                    ))
                })
            }

            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Timestamp, E> {
                self.visit_f64(seconds as f64)
            }

            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Timestamp, E> {
                self.visit_f64(seconds as f64)
            }
        }

        deserializer.deserialize_any(DateVisitor)
    }
}

/// Which JSON shape a container entry had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// 0.x: `status` is a string at the top level.
    Legacy,
    /// 1.x: `status` is an object holding `state`.
    Current,
}

/// A container's state as Apple reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerState {
    /// Running.
    Running,
    /// Stopped (or created and never started).
    Stopped,
    /// Stopping.
    Stopping,
    /// Anything else, kept as printed.
    Other(String),
}

impl ContainerState {
    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "stopped" => Self::Stopped,
            "stopping" => Self::Stopping,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the container's main process has ended.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped)
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Stopping => "stopping",
            Self::Other(other) => other,
        })
    }
}

/// One network attachment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    /// The network's name.
    pub(crate) network: String,
    /// The container's hostname on it.
    #[serde(default)]
    pub(crate) hostname: Option<String>,
    /// Its address, in CIDR notation.
    #[serde(default, alias = "address")]
    pub(crate) ipv4_address: Option<String>,
}

/// One container, from `ls --format json` or `inspect`, in either shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerRecord {
    /// The id (the `--name` it was created with).
    pub(crate) id: String,
    /// The image reference.
    pub(crate) image: String,
    /// Its labels.
    pub(crate) labels: BTreeMap<String, String>,
    /// Its state.
    pub(crate) state: ContainerState,
    /// When it was created, when the CLI says.
    pub(crate) created: Option<Timestamp>,
    /// When it was last started; `None` if never (or since the services restarted).
    pub(crate) started: Option<Timestamp>,
    /// Its network attachments (empty when stopped).
    pub(crate) networks: Vec<Attachment>,
    /// Virtual CPUs.
    pub(crate) cpus: Option<u64>,
    /// Memory in bytes.
    pub(crate) memory_bytes: Option<u64>,
    /// The exit code, for CLIs that report one (Apple's, up to 1.2, do not).
    pub(crate) exit_code: Option<i64>,
    /// Whether its main process was created with a terminal (`-t`).
    pub(crate) terminal: bool,
    /// The names of its main process's variables (image and create), in order;
    /// an `exec` appends its own after these, duplicates kept.
    pub(crate) env_names: Vec<String>,
    /// The shape it was printed in.
    pub(crate) shape: Shape,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawImage {
    reference: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResources {
    cpus: Option<u64>,
    memory_in_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfiguration {
    id: String,
    image: RawImage,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    creation_date: Option<Timestamp>,
    resources: Option<RawResources>,
    init_process: Option<RawInitProcess>,
}

/// The init process: whether it has a terminal, and its variables' names (the
/// values are dropped as soon as they are parsed).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInitProcess {
    #[serde(default)]
    terminal: bool,
    #[serde(default, deserialize_with = "env_names")]
    environment: Vec<String>,
}

/// The names of `NAME=value` entries.
fn env_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    Ok(entries
        .into_iter()
        .map(|entry| entry.split('=').next().unwrap_or_default().to_owned())
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    state: String,
    #[serde(default)]
    networks: Vec<Attachment>,
    started_date: Option<Timestamp>,
    exit_code: Option<i64>,
}

/// 1.x: `{"id", "configuration", "status": {...}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrentEntry {
    configuration: RawConfiguration,
    status: RawStatus,
}

/// 0.x: `{"status": "running", "configuration", "networks", "startedDate"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyEntry {
    status: String,
    configuration: RawConfiguration,
    #[serde(default)]
    networks: Vec<Attachment>,
    started_date: Option<Timestamp>,
    exit_code: Option<i64>,
}

impl ContainerRecord {
    fn from_parts(
        config: RawConfiguration,
        state: &str,
        networks: Vec<Attachment>,
        started: Option<Timestamp>,
        exit_code: Option<i64>,
        shape: Shape,
    ) -> Self {
        let resources = config.resources;
        let (terminal, env_names) = config
            .init_process
            .map_or((false, Vec::new()), |p| (p.terminal, p.environment));
        Self {
            id: config.id,
            image: config.image.reference,
            labels: config.labels,
            state: ContainerState::parse(state),
            created: config.creation_date,
            started,
            networks,
            cpus: resources.as_ref().and_then(|r| r.cpus),
            memory_bytes: resources.as_ref().and_then(|r| r.memory_in_bytes),
            exit_code,
            terminal,
            env_names,
            shape,
        }
    }

    /// Parses one entry, choosing the shape by the type of its `status`.
    fn from_value(index: usize, value: Value) -> Result<Self, serde_json::Error> {
        let shape = match value.get("status") {
            Some(Value::String(_)) => Shape::Legacy,
            Some(Value::Object(_)) => Shape::Current,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "container {index}: `status` is {}, neither a string (0.x shape) nor an object (1.x shape)",
                    kind_of(other)
                )));
            }
            None if value.is_object() => {
                return Err(de::Error::custom(format!(
                    "container {index}: no `status` field, so neither the 0.x nor the 1.x shape"
                )));
            }
            None => {
                return Err(de::Error::custom(format!(
                    "container {index} is {}, not an object",
                    kind_of(&value)
                )));
            }
        };
        let shaped = |e: serde_json::Error| {
            let name = match shape {
                Shape::Legacy => "0.x",
                Shape::Current => "1.x",
            };
            de::Error::custom(format!("container {index} ({name} shape): {e}"))
        };
        match shape {
            Shape::Current => {
                let entry: CurrentEntry = serde_json::from_value(value).map_err(shaped)?;
                let status = entry.status;
                Ok(Self::from_parts(
                    entry.configuration,
                    &status.state,
                    status.networks,
                    status.started_date,
                    status.exit_code,
                    shape,
                ))
            }
            Shape::Legacy => {
                let entry: LegacyEntry = serde_json::from_value(value).map_err(shaped)?;
                Ok(Self::from_parts(
                    entry.configuration,
                    &entry.status,
                    entry.networks,
                    entry.started_date,
                    entry.exit_code,
                    shape,
                ))
            }
        }
    }
}

impl ContainerRecord {
    /// The berth state: a stopped container that was never started (as far as the
    /// services remember) is `Created`, one that was is `Exited`.
    pub(crate) fn sandbox_state(&self) -> SandboxState {
        match (&self.state, self.started) {
            (ContainerState::Running, _) => SandboxState::Running,
            (ContainerState::Stopping, _) => SandboxState::Stopping,
            (ContainerState::Stopped, Some(_)) => SandboxState::Exited,
            (ContainerState::Stopped, None) => SandboxState::Created,
            (ContainerState::Other(_), _) => SandboxState::Unknown,
        }
    }

    /// This container as `berth ps` lists it.
    pub(crate) fn into_sandbox_info(self) -> SandboxInfo {
        let state = self.sandbox_state();
        let status = match (state, self.started) {
            (SandboxState::Running, Some(started)) => format!("running since {started}"),
            (SandboxState::Exited, Some(started)) => format!("stopped (last started {started})"),
            (SandboxState::Created, _) => "created".to_owned(),
            _ => self.state.to_string(),
        };
        let owner = labels::Ownership::classify_container(&self.labels);
        SandboxInfo {
            name: self.id.clone(),
            run_id: owner.run_id().cloned(),
            foreign: owner.foreign_reason().map(str::to_owned),
            runtime: RuntimeKind::Apple,
            oci_runtime: None,
            image: self.image,
            state,
            status,
            created: self
                .created
                .map(Timestamp::unix_seconds)
                .unwrap_or_default(),
            exit_code: self.exit_code,
            labels: self.labels,
            id: self.id,
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a JSON array of `T`, with an empty output read as an empty list (some
/// CLI versions print nothing when there is nothing to list).
fn parse_array<T>(
    text: &str,
    what: &str,
    item: impl Fn(usize, Value) -> Result<T, serde_json::Error>,
) -> Result<Vec<T>, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(text)?;
    let Value::Array(items) = value else {
        return Err(de::Error::custom(format!(
            "expected a JSON array of {what}, found {}",
            kind_of(&value)
        )));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| item(i, v))
        .collect()
}

/// Parses `container ls --format json` or `container inspect` output.
pub(crate) fn parse_containers(text: &str) -> Result<Vec<ContainerRecord>, serde_json::Error> {
    parse_array(text, "containers", ContainerRecord::from_value)
}

/// One volume, from `volume list --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumeRecord {
    /// Its name.
    pub(crate) name: String,
    /// Its labels.
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawVolume {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct WrappedVolume {
    configuration: RawVolume,
}

/// Parses `volume list --format json`: 1.x wraps each volume as
/// `{"id", "configuration": {"name", "labels", ...}}`, 0.x prints it bare.
pub(crate) fn parse_volumes(text: &str) -> Result<Vec<VolumeRecord>, serde_json::Error> {
    parse_array(text, "volumes", |index, value| {
        let raw = if value.get("configuration").is_some() {
            serde_json::from_value::<WrappedVolume>(value).map(|w| w.configuration)
        } else {
            serde_json::from_value::<RawVolume>(value)
        }
        .map_err(|e| de::Error::custom(format!("volume {index}: {e}")))?;
        Ok(VolumeRecord {
            name: raw.name,
            labels: raw.labels,
        })
    })
}

/// One network, from `network list --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkRecord {
    /// Its name.
    pub(crate) name: String,
    /// Its labels (empty for CLIs that keep none).
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawNetworkConfiguration {
    #[serde(alias = "id")]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct WrappedNetwork {
    #[serde(alias = "config")]
    configuration: RawNetworkConfiguration,
}

/// Parses `network list --format json`: `{"id", "configuration": {...}}` entries
/// (1.x), or `{"id", "state", "config": {...}}` ones (0.12), labels inside either.
pub(crate) fn parse_networks(text: &str) -> Result<Vec<NetworkRecord>, serde_json::Error> {
    parse_array(text, "networks", |index, value| {
        let raw = if value.get("configuration").is_some() || value.get("config").is_some() {
            serde_json::from_value::<WrappedNetwork>(value).map(|w| w.configuration)
        } else {
            serde_json::from_value::<RawNetworkConfiguration>(value)
        }
        .map_err(|e| de::Error::custom(format!("network {index}: {e}")))?;
        Ok(NetworkRecord {
            name: raw.name,
            labels: raw.labels,
        })
    })
}

/// Whether Apple's services answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceState {
    /// The API server answered.
    Running,
    /// Registered with launchd but not answering.
    NotRunning,
    /// Not registered with launchd (never started, or stopped).
    Unregistered,
    /// Something else, kept as printed.
    Other(String),
}

/// A `container` release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ApiVersion {
    /// Major.
    pub(crate) major: u32,
    /// Minor.
    pub(crate) minor: u32,
    /// Patch.
    pub(crate) patch: u32,
}

/// The oldest CLI berth drives: 0.12.0 added `--cap-drop` (and `--tmpfs`,
/// `--ulimit`, `network create --internal` are there from 0.12.0 on).
pub(crate) const MINIMUM_VERSION: ApiVersion = ApiVersion {
    major: 0,
    minor: 12,
    patch: 0,
};

impl ApiVersion {
    /// What a build without a release version reports: not a release to judge.
    pub(crate) const UNRELEASED: Self = Self {
        major: 0,
        minor: 0,
        patch: 0,
    };

    /// The first `X.Y.Z` word of `text`, such as the API server's
    /// `container-apiserver version 1.2.2 (build: release, commit: ...)`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        text.split_whitespace().find_map(|word| {
            let mut parts = word.split('.');
            let mut next = || parts.next()?.parse::<u32>().ok();
            let version = Self {
                major: next()?,
                minor: next()?,
                patch: next()?,
            };
            parts.next().is_none().then_some(version)
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `container system status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemStatus {
    /// The services' state.
    pub(crate) state: ServiceState,
    /// The API server's version, when it answered.
    pub(crate) api_server_version: Option<String>,
    /// Whether this came from text output (a CLI older than 0.11).
    pub(crate) from_text: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSystemStatus {
    status: String,
    #[serde(default)]
    api_server_version: Option<String>,
}

/// Parses `system status --format json`.
pub(crate) fn parse_system_status(text: &str) -> Result<SystemStatus, serde_json::Error> {
    let raw: RawSystemStatus = from_json(text)?;
    let state = match raw.status.as_str() {
        "running" => ServiceState::Running,
        "not running" => ServiceState::NotRunning,
        "unregistered" => ServiceState::Unregistered,
        other => ServiceState::Other(other.to_owned()),
    };
    Ok(SystemStatus {
        state,
        api_server_version: raw.api_server_version.filter(|v| !v.is_empty()),
        from_text: false,
    })
}

/// Parses the text `system status` printed before 0.11 ("apiserver is running",
/// "apiserver is not running", "... and not registered with launchd").
pub(crate) fn parse_system_status_text(text: &str) -> Option<SystemStatus> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let state = if first.starts_with("apiserver is not running and not registered") {
        ServiceState::Unregistered
    } else if first.starts_with("apiserver is not running") {
        ServiceState::NotRunning
    } else if first.starts_with("apiserver is running") {
        ServiceState::Running
    } else {
        return None;
    };
    let api_server_version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("container-apiserver version:"))
        .map(|v| v.trim().to_owned());
    Some(SystemStatus {
        state,
        api_server_version,
        from_text: true,
    })
}

/// Parses `text` as one JSON value of type `T`.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests;
