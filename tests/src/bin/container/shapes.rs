//! The JSON the double prints, in Apple's 1.x shape (the default) or its 0.x shape
//! (`BERTH_APPLE_DOUBLE_SHAPE=0`), built from `docker inspect` output:
//! - 1.x: `{"configuration", "id", "status": {"networks", "startedDate", "state"}}`,
//!   dates as ISO-8601 without fractions, keys sorted (as Apple's `.sortedKeys`);
//! - 0.x: `{"configuration", "networks", "startedDate", "status": "running"}`,
//!   dates as seconds since 2001-01-01 (Swift's default `Date` encoding).

use serde_json::{Map, Value, json};

use crate::MARKER;

/// Apple's reference date (2001-01-01T00:00:00Z) in Unix seconds.
const REFERENCE_DATE_UNIX: f64 = 978_307_200.0;

/// Which output shape to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Apple `container` 0.x.
    Legacy,
    /// Apple `container` 1.x.
    Current,
}

impl Shape {
    /// From `BERTH_APPLE_DOUBLE_SHAPE` (`0` or `1`; 1 when unset).
    pub fn from_env() -> Self {
        match std::env::var("BERTH_APPLE_DOUBLE_SHAPE").as_deref() {
            Ok("0") => Self::Legacy,
            _ => Self::Current,
        }
    }

    /// A date (Docker's RFC 3339 text, always UTC) as this shape encodes dates.
    pub fn date(self, docker: &str) -> Option<Value> {
        let unix = parse_docker_date(docker)?;
        Some(match self {
            Self::Current => Value::String(format_iso(unix.floor() as i64)),
            Self::Legacy => json!(unix - REFERENCE_DATE_UNIX),
        })
    }
}

/// Docker's `2024-05-01T12:00:00.123456789Z` as Unix seconds; `None` for its
/// "never" (`0001-01-01T00:00:00Z`) and for anything unparsable.
pub fn parse_docker_date(text: &str) -> Option<f64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    if year < 1970 {
        return None;
    }
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, format!("0.{f}").parse::<f64>().ok()?),
        None => (time, 0.0),
    };
    let mut parts = hms.splitn(3, ':').map(str::parse::<i64>);
    let (h, m, s) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + h * 3600 + m * 60 + s) as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's method).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn format_iso(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Labels without the double's own marker.
pub fn labels(value: &Value) -> Map<String, Value> {
    let mut labels = value.as_object().cloned().unwrap_or_default();
    labels.remove(MARKER);
    labels
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Apple's `RuntimeStatus` for a Docker state.
fn state(inspect: &Value) -> &'static str {
    match str_at(inspect, "/State/Status") {
        "running" | "paused" => "running",
        "restarting" | "removing" => "stopping",
        _ => "stopped",
    }
}

fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn mounts(inspect: &Value) -> Vec<Value> {
    let Some(list) = inspect.pointer("/Mounts").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|m| {
            let kind = match str_at(m, "/Type") {
                "volume" => json!({"volume": {"name": str_at(m, "/Name"), "format": "ext4", "cache": "auto", "sync": "full"}}),
                "tmpfs" => json!({"tmpfs": {}}),
                _ => json!({"virtiofs": {}}),
            };
            let read_only = m.pointer("/RW").and_then(Value::as_bool) == Some(false);
            json!({
                "type": kind,
                "source": str_at(m, "/Source"),
                "destination": str_at(m, "/Destination"),
                "options": if read_only { vec!["ro"] } else { Vec::new() },
            })
        })
        .collect()
}

/// The attachments of a running container.
fn attachments(inspect: &Value, id: &str) -> Vec<Value> {
    if state(inspect) != "running" {
        return Vec::new();
    }
    let Some(networks) = inspect
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    networks
        .iter()
        .filter(|(_, n)| !str_at(n, "/IPAddress").is_empty())
        .map(|(name, n)| {
            let prefix = n
                .pointer("/IPPrefixLen")
                .and_then(Value::as_u64)
                .unwrap_or(24);
            json!({
                "network": if name == "bridge" { "default" } else { name.as_str() },
                "hostname": id,
                "ipv4Address": format!("{}/{prefix}", str_at(n, "/IPAddress")),
                "ipv4Gateway": str_at(n, "/Gateway"),
                "macAddress": str_at(n, "/MacAddress"),
            })
        })
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// `ContainerConfiguration` for a Docker container.
fn configuration(inspect: &Value, id: &str, shape: Shape) -> Value {
    let user = match str_at(inspect, "/Config/User") {
        "" => json!({"id": {"gid": 0, "uid": 0}}),
        user => json!({"raw": {"userString": user}}),
    };
    let nano_cpus = inspect
        .pointer("/HostConfig/NanoCpus")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let memory = inspect
        .pointer("/HostConfig/Memory")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let network_mode = str_at(inspect, "/HostConfig/NetworkMode");
    let networks = match network_mode {
        "none" => Vec::new(),
        "default" | "bridge" | "" => {
            vec![json!({"network": "default", "options": {"hostname": id}})]
        }
        other => vec![json!({"network": other, "options": {"hostname": id}})],
    };
    let working_directory = match str_at(inspect, "/Config/WorkingDir") {
        "" => "/",
        dir => dir,
    };
    let mut config = json!({
        "id": id,
        "image": {
            "reference": str_at(inspect, "/Config/Image"),
            "descriptor": {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": str_at(inspect, "/Image"),
                "size": 0,
            },
        },
        "mounts": mounts(inspect),
        "publishedPorts": [],
        "publishedSockets": [],
        "labels": labels(inspect.pointer("/Config/Labels").unwrap_or(&Value::Null)),
        "sysctls": {},
        "networks": networks,
        "rosetta": false,
        "initProcess": {
            "executable": str_at(inspect, "/Path"),
            "arguments": strings(inspect.pointer("/Args")),
            "environment": strings(inspect.pointer("/Config/Env")),
            "workingDirectory": working_directory,
            "terminal": inspect.pointer("/Config/Tty").and_then(Value::as_bool).unwrap_or(false),
            "user": user,
            "supplementalGroups": [],
            "rlimits": [],
        },
        "platform": {"os": "linux", "architecture": architecture()},
        "resources": {
            "cpus": if nano_cpus == 0 { 4 } else { nano_cpus.div_ceil(1_000_000_000) },
            "memoryInBytes": if memory == 0 { 1u64 << 30 } else { memory },
        },
        "runtimeHandler": "container-runtime-linux",
        "virtualization": false,
        "ssh": false,
        "readOnly": inspect.pointer("/HostConfig/ReadonlyRootfs").and_then(Value::as_bool).unwrap_or(false),
        "useInit": inspect.pointer("/HostConfig/Init").and_then(Value::as_bool).unwrap_or(false),
        "capAdd": strings(inspect.pointer("/HostConfig/CapAdd")),
        "capDrop": strings(inspect.pointer("/HostConfig/CapDrop")),
    });
    if let (Some(date), Some(map)) = (
        shape.date(str_at(inspect, "/Created")),
        config.as_object_mut(),
    ) {
        map.insert("creationDate".into(), date);
    }
    config
}

/// One container (from `docker inspect`) in `shape`.
pub fn container(inspect: &Value, shape: Shape) -> Value {
    let id = str_at(inspect, "/Name").trim_start_matches('/').to_owned();
    let mut entry = Map::new();
    entry.insert("configuration".into(), configuration(inspect, &id, shape));
    let networks = Value::Array(attachments(inspect, &id));
    let started = shape.date(str_at(inspect, "/State/StartedAt"));
    match shape {
        Shape::Current => {
            let mut status = Map::new();
            status.insert("networks".into(), networks);
            if let Some(started) = started {
                status.insert("startedDate".into(), started);
            }
            status.insert("state".into(), state(inspect).into());
            entry.insert("id".into(), id.into());
            entry.insert("status".into(), Value::Object(status));
        }
        Shape::Legacy => {
            entry.insert("networks".into(), networks);
            if let Some(started) = started {
                entry.insert("startedDate".into(), started);
            }
            entry.insert("status".into(), state(inspect).into());
        }
    }
    Value::Object(entry)
}

/// Whether a container (from `docker inspect`) is running, as Apple sees it.
pub fn is_running(inspect: &Value) -> bool {
    state(inspect) == "running"
}

/// One volume (from `docker volume inspect`) in `shape`.
pub fn volume(inspect: &Value, shape: Shape) -> Value {
    let name = str_at(inspect, "/Name");
    let mut config = json!({
        "name": name,
        "driver": "local",
        "format": "ext4",
        "source": str_at(inspect, "/Mountpoint"),
        "labels": labels(inspect.pointer("/Labels").unwrap_or(&Value::Null)),
        "options": {},
    });
    let created = shape.date(&docker_utc(str_at(inspect, "/CreatedAt")));
    match shape {
        Shape::Current => {
            if let (Some(date), Some(map)) = (created, config.as_object_mut()) {
                map.insert("creationDate".into(), date);
            }
            json!({"id": name, "configuration": config})
        }
        Shape::Legacy => {
            if let (Some(date), Some(map)) = (created, config.as_object_mut()) {
                map.insert("createdAt".into(), date);
            }
            config
        }
    }
}

/// One network (from `docker network inspect`) as `network list` prints it.
pub fn network(inspect: &Value, shape: Shape) -> Value {
    let name = str_at(inspect, "/Name");
    let mut config = json!({
        "name": name,
        "mode": if inspect.pointer("/Internal").and_then(Value::as_bool) == Some(true) { "hostOnly" } else { "nat" },
        "labels": labels(inspect.pointer("/Labels").unwrap_or(&Value::Null)),
        "plugin": "container-network-vmnet",
        "options": {},
    });
    if let (Some(date), Some(map)) = (
        shape.date(&docker_utc(str_at(inspect, "/Created"))),
        config.as_object_mut(),
    ) {
        map.insert("creationDate".into(), date);
    }
    match shape {
        // NetworkList.swift in 0.12 prints `PrintableNetwork`: the configuration
        // (labels included) under `config`, the state as a string.
        Shape::Legacy => json!({"id": name, "state": "running", "config": config, "status": {}}),
        Shape::Current => {
            json!({"id": name, "configuration": config, "status": {"state": "running"}})
        }
    }
}

/// Docker prints volume and network dates with a local offset
/// (`2024-05-01T12:00:00+02:00`); the double only needs them roughly, as UTC.
fn docker_utc(text: &str) -> String {
    if text.ends_with('Z') {
        return text.to_owned();
    }
    match text.rfind(['+', '-']) {
        Some(at) if at > 10 => format!("{}Z", &text[..at]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{format_iso, parse_docker_date};

    #[test]
    fn dates_round_trip() {
        let unix = parse_docker_date("2025-06-10T12:34:56.5Z");
        assert_eq!(unix, Some(1_749_558_896.5));
        assert_eq!(format_iso(1_749_558_896), "2025-06-10T12:34:56Z");
        assert_eq!(parse_docker_date("0001-01-01T00:00:00Z"), None);
    }
}
