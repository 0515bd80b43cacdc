//! `berth version`: berth's own version, and what each runtime answered when
//! probed (the Docker engine's version and API, the OCI runtime each backend
//! uses, or why it is unavailable).

use runtime_core::{EngineFacts, Error, RuntimeKind};
use serde::Serialize;

use crate::{Format, VersionArgs, backends, render};

#[derive(Serialize)]
struct Report {
    berth: &'static str,
    /// The Docker engine, when it answered.
    engine: Option<EngineFacts>,
    runtimes: Vec<RuntimeVersion>,
}

#[derive(Serialize)]
struct RuntimeVersion {
    runtime: RuntimeKind,
    available: bool,
    /// The OCI runtime its containers get (`runc`, `runsc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    oci_runtime: Option<String>,
    /// Why it cannot be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub async fn execute(args: VersionArgs) -> Result<u8, Error> {
    let (probed, host) = backends::probe_all().await;
    let report = Report {
        berth: env!("CARGO_PKG_VERSION"),
        engine: host.engine,
        runtimes: probed
            .iter()
            .map(|p| RuntimeVersion {
                runtime: p.caps.runtime,
                available: p.caps.availability.problem().is_none(),
                oci_runtime: p.caps.oci_runtime.as_ref().map(|r| r.name.clone()),
                reason: p.caps.availability.problem().map(|(reason, _)| reason),
            })
            .collect(),
    };
    match args.format {
        Format::Json => render::json(&report),
        Format::Human => crate::out!("{}", human(&report)),
    }
    Ok(0)
}

fn human(report: &Report) -> String {
    let mut out = format!("berth    {}\n", report.berth);
    out.push_str(&match &report.engine {
        Some(engine) => format!(
            "engine   Docker {} (API {})\n",
            engine.version, engine.api_version
        ),
        None => "engine   Docker did not answer\n".to_owned(),
    });
    for r in &report.runtimes {
        let detail = match (&r.reason, &r.oci_runtime) {
            (Some(reason), _) => format!("unavailable: {reason}"),
            (None, Some(oci)) => format!("available (OCI runtime {oci})"),
            (None, None) => "available".to_owned(),
        };
        out.push_str(&format!("{:<8} {detail}\n", r.runtime.to_string()));
    }
    out
}
