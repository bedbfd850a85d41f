//! bosun's built-in `docker-image` backup strategy: one `docker save` tarball
//! of the images, named by the ISO week it was taken in
//! (`images-2026-W47.tar`), so a weekly schedule keeps one per week. The host
//! streams the bytes; restore is `docker load` of that tarball.

use bosun_sdk::host::{docker, fs};
use bosun_sdk::{BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreRequest, log};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Image references to save (default: the images of this project's running containers, labelled bosun.project)
    #[serde(default)]
    images: Vec<String>,
}

const PREFIX: &str = "images-";

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The images to save: the configured ones, else those this project's
/// running containers were created from.
fn images(ctx: &Context, cfg: Config) -> Result<Vec<String>, Error> {
    if !cfg.images.is_empty() {
        return Ok(cfg.images);
    }
    let label = format!("bosun.project={}", ctx.project());
    let mut images: Vec<String> = docker::list_containers(false, std::slice::from_ref(&label))?.into_iter().map(|c| c.image).collect();
    images.sort();
    images.dedup();
    if images.is_empty() {
        return Err(Error::invalid_config(format!(
            "config key `images`: none given and no running container is labelled {label}; list the images to save"
        )));
    }
    Ok(images)
}

/// ISO 8601 week (`2026-W47`) of a Unix time, UTC.
fn iso_week(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // 1970-01-01 was a Thursday; ISO weeks belong to the year of their Thursday.
    let weekday = (days + 3).rem_euclid(7); // Monday = 0
    let thursday = days - weekday + 3;
    let (year, ordinal) = year_and_ordinal(thursday);
    format!("{year}-W{:02}", ordinal / 7 + 1)
}

/// Civil year and 0-based day of the year of a day count since 1970-01-01.
fn year_and_ordinal(days: i64) -> (i64, i64) {
    let mut year = 1970 + days.div_euclid(366);
    let start = |y: i64| (y - 1970) * 365 + ((y - 1969).div_euclid(4)) - ((y - 1901).div_euclid(100)) + ((y - 1601).div_euclid(400));
    while start(year + 1) <= days {
        year += 1;
    }
    (year, days - start(year))
}

struct DockerImage;

impl BackupStrategy for DockerImage {
    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
        let images = images(ctx, ctx.config()?)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| Error::failed(e.to_string()))?;
        let week = iso_week(now.as_secs() as i64);
        let dest = join(&req.dest_dir, &format!("{PREFIX}{week}.tar"));
        log::info!("saving {} into {dest}", images.join(", "));
        let artifact = docker::save_images(&images, &dest).map_err(|e| Error::from(e).context(format!("saving {}", images.join(", "))))?;
        Ok(BackupResult::new(vec![artifact]).with_fact("images", images.join(",")).with_fact("week", week))
    }

    fn restore(_ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {
        let tarballs = fs::list(&req.backup_dir, &[format!("{PREFIX}*.tar")], &[], false)?;
        let Some(tarball) = tarballs.first() else {
            return Err(Error::failed(format!("no {PREFIX}*.tar in backup directory {}", req.backup_dir)));
        };
        // Under a target (a restore test, or a look inside) the tarball is
        // unpacked there and the engine's images stay as they are.
        if let Some(target) = &req.target {
            let entries = fs::extract(&tarball.path, target)?;
            log::info!("unpacked {} ({entries} entries) into {target}; nothing loaded into the engine", tarball.path);
            return Ok(());
        }
        let loaded = docker::load_images(&tarball.path)?;
        log::info!("loaded {}", loaded.join(", "));
        Ok(())
    }
}

bosun_sdk::export_backup_strategy!(DockerImage, config = Config);

#[cfg(test)]
mod tests {
    #[test]
    fn iso_weeks_follow_the_thursday_rule() {
        let day = |y: i64, m: i64, d: i64| {
            // days from civil (Howard Hinnant's algorithm)
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            (era * 146_097 + doe - 719_468) * 86_400
        };
        assert_eq!(super::iso_week(day(2026, 11, 23)), "2026-W48");
        assert_eq!(super::iso_week(day(2026, 11, 22)), "2026-W47");
        assert_eq!(super::iso_week(day(2021, 1, 3)), "2020-W53");
        assert_eq!(super::iso_week(day(2024, 12, 30)), "2025-W01");
        assert_eq!(super::iso_week(day(2026, 1, 1)), "2026-W01");
        assert_eq!(super::iso_week(day(2027, 1, 1)), "2026-W53");
    }
}
