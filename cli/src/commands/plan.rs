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
            crate::outln!(
                "plan for {} (runtime {}, chosen by {}; nothing is created)\n",
                config.path.display(),
                plan.runtime,
                describe_selection(&chosen.selection)
            );
            crate::out!("{}", plan.summary());
            crate::outln!("ttl       {}", describe_ttl(config.ttl()));
            if !plan.dangers.is_empty() {
                let kinds: std::collections::BTreeSet<&str> =
                    plan.dangers.iter().map(|d| d.kind.name()).collect();
                crate::outln!(
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
                /// Seconds a detached run lives; `None`: until removed.
                ttl_secs: Option<u64>,
                capabilities: &'a runtime_core::Capabilities,
            }
            render::json(&Out {
                config: config.path.display().to_string(),
                selection: &chosen.selection,
                plan: &plan,
                ttl_secs: config.ttl().map(|ttl| ttl.as_secs()),
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
            "default (auto: gvisor if registered and it passes berth's self-test, else docker, else apple on macOS)".to_owned()
        }
    }
}

/// The `ttl` line of the plan: how long a detached run lives.
fn describe_ttl(ttl: Option<std::time::Duration>) -> String {
    match ttl {
        Some(ttl) => format!(
            "{} for a detached run (then berth gc, or the next berth command, removes it)",
            runtime_core::duration::HumanDuration(ttl)
        ),
        None => "none: a detached run lives until berth rm".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ttl_line_says_how_long_a_detached_run_lives() {
        let line = super::describe_ttl(Some(std::time::Duration::from_secs(8 * 3600)));
        assert!(line.starts_with("8h for a detached run"), "{line}");
        assert!(super::describe_ttl(None).contains("until berth rm"));
    }
}
