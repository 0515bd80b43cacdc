//! `berth plan`: resolve and print, create nothing.

use runtime_core::{Error, prepare};
use serde::Serialize;

use crate::backends;
use crate::render;
use crate::{Format, PlanArgs};

pub async fn execute(args: PlanArgs) -> Result<u8, Error> {
    let mut config = super::load_config(args.config.file.as_deref(), true)?;
    crate::overrides::apply(&args.overrides, &mut config)?;
    let chosen = backends::choose(&config, args.config.runtime).await?;
    let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
    match args.format {
        Format::Human => {
            println!(
                "plan for {} (runtime {}, chosen by {}; nothing is created)\n",
                config.path.display(),
                plan.runtime,
                describe_selection(&chosen.selection)
            );
            print!("{}", plan.summary());
            if !plan.dangers.is_empty() {
                let kinds: std::collections::BTreeSet<&str> =
                    plan.dangers.iter().map(|d| d.kind.name()).collect();
                println!(
                    "\nberth run refuses the dangers above until they are acknowledged: --allow {}, or `berth allow -f {}`",
                    kinds.into_iter().collect::<Vec<_>>().join(","),
                    config.path.display()
                );
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Out<'a> {
                config: String,
                selection: &'a runtime_core::Selection,
                plan: &'a runtime_core::Plan,
                capabilities: &'a runtime_core::Capabilities,
            }
            render::json(&Out {
                config: config.path.display().to_string(),
                selection: &chosen.selection,
                plan: &plan,
                capabilities: &chosen.probed.caps,
            });
        }
    }
    Ok(0)
}

/// "--runtime", "BERTH_RUNTIME=gvisor", "auto: the most isolated available runtime".
pub fn describe_selection(selection: &runtime_core::Selection) -> String {
    use runtime_core::SelectionSource::*;
    match selection.source {
        Flag => format!("--runtime {}", selection.requested),
        Config => format!("runtime = \"{}\" in the config", selection.requested),
        Env => format!("BERTH_RUNTIME={}", selection.requested),
        Default => {
            "default (auto: gvisor if registered, else docker, else apple on macOS)".to_owned()
        }
    }
}
