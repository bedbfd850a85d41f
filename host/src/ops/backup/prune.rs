//! `backup prune`: applies each set's retention policy. The plan is computed
//! first (and is all a dry run shows); removal drops the catalog row, then
//! the directory (and its replicas' copies), so a crash never leaves a
//! listed backup without its files.

use std::collections::HashMap;

use serde::Serialize;

use super::dest::remove_backup_dir;
use super::retention::{RetentionPlan, plan};
use super::take::set_config;
use crate::app::App;
use crate::failure::Failure;

#[derive(Debug, Serialize)]
pub struct Pruned {
    pub plans: Vec<RetentionPlan>,
    /// Sets left alone because they have no retention policy.
    pub without_policy: Vec<String>,
    /// Ids removed (empty in a dry run).
    pub removed: Vec<String>,
    pub dry_run: bool,
}

/// Prunes `set`, or every set with a retention policy.
pub fn prune(app: &App, set: Option<&str>, dry_run: bool) -> Result<Pruned, Failure> {
    let sets: Vec<String> = match set {
        Some(set) => {
            let (config, _) = set_config(app, set)?;
            if config.retention.is_none() {
                return Err(Failure::bad_input(format!(
                    "backups.{set} has no retention policy; add [backups.{set}.retention] with e.g. keep-daily = 7"
                )));
            }
            vec![set.to_string()]
        }
        None => app.config.backups.keys().cloned().collect(),
    };
    let state = app.state()?;
    let protected: HashMap<String, String> = state.backups_of_latest_releases()?.into_iter().collect();
    let tz = jiff::tz::TimeZone::system();
    let mut pruned = Pruned { plans: Vec::new(), without_policy: Vec::new(), removed: Vec::new(), dry_run };
    for set in sets {
        let (config, dest) = set_config(app, &set)?;
        let Some(retention) = &config.retention else {
            pruned.without_policy.push(set);
            continue;
        };
        let lock = if dry_run { None } else { Some(dest.lock("prune")?) };
        let backups = state.backups(Some(&set))?;
        let plan = plan(&set, &backups, retention, &protected, &tz).map_err(|e| Failure::bad_input(e.to_string()))?;
        if let Some(lock) = &lock {
            dest.clean_leftovers(lock);
            for decision in plan.removed() {
                let Some(record) = backups.iter().find(|b| b.id == decision.id) else { continue };
                state.delete_backup(&record.id)?;
                remove_backup_dir(&record.dir).map_err(|e| {
                    Failure::failed(format!("backup {} is out of the catalog but {} could not be deleted: {e}; delete it by hand", record.id, record.dir.display()))
                })?;
                for replica in &config.replicas {
                    if let Err(e) = remove_backup_dir(&replica.join(&record.id)) {
                        tracing::warn!("backup {}: the copy in replica {} could not be deleted: {e}", record.id, replica.display());
                    }
                }
                pruned.removed.push(record.id.clone());
            }
        }
        pruned.plans.push(plan);
    }
    Ok(pruned)
}
