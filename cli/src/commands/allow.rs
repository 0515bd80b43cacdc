//! `berth allow`: accept the dangers of one config file, as it is now, for this
//! user (like direnv's `allow`); `--revoke` forgets the approval.

use runtime_core::danger::Approval;
use runtime_core::{Error, prepare, state};
use serde::Serialize;

use crate::{AllowArgs, Format, backends, consent, render};

#[derive(Serialize)]
struct Report<'a> {
    config: String,
    revoked: bool,
    approved: Option<&'a Approval>,
}

pub async fn execute(args: AllowArgs) -> Result<u8, Error> {
    let config = super::load_config(args.config.file.as_deref(), true)?;
    let (Some(path), Some(digest)) = (consent::config_path(&config), config.digest.clone()) else {
        return Err(crate::usage(format!(
            "{} is not a file berth can approve",
            config.path.display()
        )));
    };
    let store = consent::store()?;
    if args.revoke {
        let revoked = store.revoke(&path)?;
        match args.format {
            Format::Json => render::json(&Report {
                config: path.display().to_string(),
                revoked,
                approved: None,
            }),
            Format::Human if revoked => crate::outln!("revoked the approval of {}", path.display()),
            Format::Human => crate::outln!("{} had no approval", path.display()),
        }
        return Ok(0);
    }
    let chosen = backends::choose(&config, args.config.runtime).await?;
    let plan = prepare(&config, &chosen.probed.caps, &chosen.host)?;
    let approval = Approval {
        config: path.clone(),
        digest,
        dangers: plan.dangers.clone(),
        at: state::now(),
    };
    if !plan.dangers.is_empty() {
        store.save(&approval)?;
    }
    match args.format {
        Format::Json => render::json(&Report {
            config: path.display().to_string(),
            revoked: false,
            approved: (!plan.dangers.is_empty()).then_some(&approval),
        }),
        Format::Human if plan.dangers.is_empty() => crate::outln!(
            "nothing to approve: {} asks for nothing that weakens isolation on {}",
            path.display(),
            plan.runtime
        ),
        Format::Human => {
            crate::outln!(
                "approved for {} on {}, until the file changes:",
                path.display(),
                plan.runtime
            );
            for danger in &plan.dangers {
                crate::outln!("  {danger}");
            }
        }
    }
    Ok(0)
}
