//! Listing and removing berth's containers, volumes and networks by label. The
//! CLI has no label filter, so everything is listed and filtered here (a removal
//! matches both `berth.managed-by=berth` and the run id, like Docker's); deletes
//! of volumes and networks are retried while they are still busy (network
//! deletes are asynchronous), and a resource that is already gone is not an error.

use std::time::Duration;

use std::collections::BTreeMap;

use runtime_core::{Error, Removed, RunId, labels};

use crate::argv;
use crate::error::{AppleError, Subject};
use crate::model::{self, ContainerRecord, NetworkRecord, VolumeRecord};
use crate::runtime::{AppleRuntime, core};

/// How often, and how far apart, deleting a volume or network is tried: both can
/// stay busy for a moment after their container is gone.
const DELETE_ATTEMPTS: u32 = 10;
const DELETE_BACKOFF: Duration = Duration::from_millis(300);

/// Whether a resource is berth's and belongs to run `run_id`.
fn of_run(labels: &BTreeMap<String, String>, run_id: &RunId) -> bool {
    labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        && labels.get(labels::RUN_ID).map(String::as_str) == Some(run_id.as_str())
}

impl AppleRuntime {
    /// berth's containers (all labelled `berth.managed-by=berth`).
    pub(crate) async fn records(&self, all: bool) -> Result<Vec<ContainerRecord>, Error> {
        let records = self
            .runner
            .parse(&argv::list(all), model::parse_containers)
            .await
            .map_err(|e| core(e, "list containers", Subject::sandbox("")))?;
        Ok(records
            .into_iter()
            .filter(|r| {
                r.labels.get(labels::MANAGED_BY).map(String::as_str)
                    == Some(labels::MANAGED_BY_VALUE)
            })
            .collect())
    }

    /// Runs a delete, retrying while the resource is busy; a missing one is gone.
    async fn delete_with_retry(
        &self,
        args: &[String],
        what: &'static str,
        name: &str,
    ) -> Result<bool, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.runner.run(args).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_not_found() => return Ok(false),
                Err(AppleError::Exit { .. }) if attempt < DELETE_ATTEMPTS => {
                    tokio::time::sleep(DELETE_BACKOFF).await;
                }
                Err(e) => {
                    return Err(core(
                        e,
                        format!("delete {what} {name}"),
                        Subject::existing(what, name),
                    ));
                }
            }
        }
    }

    /// Deletes, forcibly, every container of berth labelled `berth.run-id=<run_id>`.
    pub(crate) async fn remove_containers(
        &self,
        run_id: &RunId,
        removed: &mut Removed,
    ) -> Result<(), Error> {
        let ids: Vec<String> = self
            .records(true)
            .await?
            .into_iter()
            .filter(|r| of_run(&r.labels, run_id))
            .map(|r| r.id)
            .collect();
        for id in ids {
            match self
                .runner
                .run(&argv::delete(std::slice::from_ref(&id)))
                .await
            {
                Ok(_) => removed.containers.push(id.clone()),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(core(
                        e,
                        format!("delete container {id}"),
                        Subject::sandbox(&id),
                    ));
                }
            }
            self.attached().remove(&id);
        }
        Ok(())
    }

    /// Every volume.
    pub(crate) async fn list_volumes(&self) -> Result<Vec<VolumeRecord>, Error> {
        let subject = Subject::existing("volume", "");
        self.runner
            .parse(&argv::volume_list(), model::parse_volumes)
            .await
            .map_err(|e| core(e, "list volumes", subject))
    }

    /// Networks; none where the CLI has no `network` command (before macOS 26).
    pub(crate) async fn list_networks(&self) -> Result<Vec<NetworkRecord>, Error> {
        let subject = Subject::existing("network", "");
        let captured = self
            .runner
            .capture(&argv::network_list())
            .await
            .map_err(|e| core(e, "list networks", subject))?;
        if !captured.status.success()
            && (captured.status.code() == Some(crate::probe::EXIT_USAGE)
                || captured.stderr.to_ascii_lowercase().contains("plugin"))
        {
            return Ok(Vec::new());
        }
        let captured = captured
            .check()
            .map_err(|e| core(e, "list networks", subject))?;
        model::parse_networks(&captured.stdout).map_err(|source| {
            core(
                AppleError::Parse {
                    output: crate::error::prefix(&captured.stdout),
                    argv: captured.argv.clone(),
                    source,
                },
                "list networks",
                subject,
            )
        })
    }

    /// Deletes the volumes of berth labelled `berth.run-id=<run_id>`.
    pub(crate) async fn remove_volumes(
        &self,
        run_id: &RunId,
        removed: &mut Removed,
    ) -> Result<(), Error> {
        for volume in self.list_volumes().await? {
            if !of_run(&volume.labels, run_id) {
                continue;
            }
            let args = argv::volume_delete(std::slice::from_ref(&volume.name));
            if self
                .delete_with_retry(&args, "volume", &volume.name)
                .await?
            {
                removed.volumes.push(volume.name);
            }
        }
        Ok(())
    }

    /// Deletes the networks of berth labelled `berth.run-id=<run_id>`.
    pub(crate) async fn remove_networks(
        &self,
        run_id: &RunId,
        removed: &mut Removed,
    ) -> Result<(), Error> {
        for network in self.list_networks().await? {
            if !of_run(&network.labels, run_id) {
                continue;
            }
            let args = argv::network_delete(&network.name);
            if self
                .delete_with_retry(&args, "network", &network.name)
                .await?
            {
                removed.networks.push(network.name);
            }
        }
        Ok(())
    }
}
