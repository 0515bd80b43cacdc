//! `berth ps`: berth's sandboxes, found by label.

use runtime_core::{Error, SandboxInfo};

use crate::render;
use crate::{Format, PsArgs, backends};

pub async fn execute(args: PsArgs) -> Result<u8, Error> {
    let mut all: Vec<SandboxInfo> =
        backends::list_all(args.runtime.map(Into::into), args.all).await?;
    if let Some(flag) = args.runtime {
        let want = match flag {
            crate::RuntimeArg::Docker => Some(runtime_core::RuntimeKind::Docker),
            crate::RuntimeArg::Gvisor => Some(runtime_core::RuntimeKind::Gvisor),
            crate::RuntimeArg::Apple => Some(runtime_core::RuntimeKind::Apple),
            crate::RuntimeArg::Auto => None,
        };
        all.retain(|s| want.is_none_or(|k| s.runtime == k));
    }
    all.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
    match args.format {
        Format::Json => render::json(&all),
        Format::Human => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.run_id.clone(),
                        s.runtime.to_string(),
                        s.oci_runtime.clone().unwrap_or_else(|| "-".to_owned()),
                        s.image.clone(),
                        s.state.to_string(),
                        ago(now - s.created),
                        s.status.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                render::table(
                    &[
                        "NAME", "RUN ID", "RUNTIME", "OCI", "IMAGE", "STATE", "CREATED", "STATUS"
                    ],
                    &rows
                )
            );
        }
    }
    Ok(0)
}

fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}
