//! Saying a plan's warnings and dangers before a launch, and refusing the dangers
//! nobody acknowledged: `--allow KIND` on the command line, or a `berth allow`
//! approval of this exact config file. Nothing in the config can acknowledge
//! itself.

use std::collections::BTreeSet;
use std::path::PathBuf;

use runtime_core::danger::{self, Approval, ApprovalStore, DangerKind};
use runtime_core::{Config, Error, Plan};

/// The approval store of this user.
pub fn store() -> Result<ApprovalStore, Error> {
    ApprovalStore::from_env(|name| std::env::var(name).ok())
}

/// The config file's real path, when it is a file.
pub fn config_path(config: &Config) -> Option<PathBuf> {
    config.digest.as_ref()?;
    std::fs::canonicalize(&config.path).ok()
}

/// The approval recorded for `config`, when it still matches the file.
fn approval(config: &Config) -> Option<Approval> {
    let path = config_path(config)?;
    store().ok()?.lookup(&path, config.digest.as_deref()?)
}

/// Prints every warning and danger of `plan` on stderr, then fails with exit 3
/// when a danger is acknowledged neither by `allowed` nor by an approval.
pub fn check(config: &Config, plan: &Plan, allowed: &[DangerKind]) -> Result<(), Error> {
    for warning in &plan.warnings {
        eprintln!("berth: warning: {warning}");
    }
    if plan.dangers.is_empty() {
        return Ok(());
    }
    let allowed: BTreeSet<DangerKind> = allowed.iter().copied().collect();
    let approval = approval(config);
    let missing = danger::unacknowledged(&plan.dangers, &allowed, approval.as_ref());
    for d in &plan.dangers {
        let by = if allowed.contains(&d.kind) {
            format!(" (acknowledged by --allow {})", d.kind)
        } else if approval.as_ref().is_some_and(|a| a.dangers.contains(d)) {
            " (acknowledged by berth allow)".to_owned()
        } else {
            String::new()
        };
        eprintln!("berth: danger{by}: {d}");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let kinds: BTreeSet<DangerKind> = missing.iter().map(|d| d.kind).collect();
    let kinds: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let mut fix = format!(
        "read berth.toml and decide; to accept these for this run, add --allow {}",
        kinds.join(",")
    );
    if config.digest.is_some() {
        fix.push_str(&format!(
            "; to accept this exact file until it changes, run `berth allow -f {}`",
            config.path.display()
        ));
    }
    Err(Error::DangersNotAcknowledged {
        dangers: missing.into_iter().cloned().collect(),
        fix,
    })
}
