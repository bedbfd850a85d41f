//! `verify --restore-test` for the PostgreSQL and MySQL presets: the dump
//! loaded with the same restore command into a scratch database, created and
//! dropped again whether the load worked or not. Every command is fixed but
//! for the scratch database's name and the dump's path, so the operator can
//! grant exactly these (`run:createdb {scratch-db}`, `run:pg_restore --list
//! {path:ro}`, ...) and no SQL of the plugin's choosing.

use bosun_sdk::{Error, RestoreCheck, log};

use super::{Config, load, run};

/// PostgreSQL: the dump restored into a new database; pg_restore fails on
/// any object of the dump's table of contents that does not load.
pub fn postgres(cfg: &Config, dump: &str, scratch_db: &str) -> Result<RestoreCheck, Error> {
    let listed = tables_listed(cfg, dump)?;
    let container = cfg.container.as_deref();
    run(container, &cfg.pg(&["createdb", scratch_db]), None)
        .map_err(|e| e.context(format!("restore test: creating scratch database {scratch_db} (the user needs CREATEDB)")))?;
    let loaded = load(cfg, Some(scratch_db), dump);
    let dropped = drop_scratch(scratch_db, run(container, &cfg.pg(&["dropdb", scratch_db]), None));
    loaded.map_err(|e| e.context(format!("restore test: loading the dump into scratch database {scratch_db}")))?;
    dropped?;
    Ok(RestoreCheck {
        checked: listed.len() as u64,
        summary: format!("loaded into scratch database {scratch_db} (dropped after): {}, as the dump lists", tables_text(listed.len() as u64)),
    })
}

/// The tables (`schema.name`) `pg_restore --list` names in a custom-format dump.
fn tables_listed(cfg: &Config, dump: &str) -> Result<Vec<String>, Error> {
    let listing = match cfg.container.as_deref() {
        // Inside a container the dump is not there: it goes in on stdin.
        Some(container) => {
            let argv = cfg.pg(&["pg_restore", "--list"]).argv;
            let exec = bosun_sdk::host::docker::exec_with_input(container, &argv, dump)?;
            super::exited(&argv, exec.status, &exec.stderr_tail)?;
            exec.stdout
        }
        None => run(None, &cfg.pg(&["pg_restore", "--list", dump]), None)?.stdout,
    };
    Ok(listing.lines().filter_map(listed_table).collect())
}

/// `218; 1259 16389 TABLE public orders postgres` -> `public.orders`; not
/// `TABLE DATA`, `TABLE ATTACH` or other objects.
fn listed_table(line: &str) -> Option<String> {
    let (_, entry) = line.split_once("; ")?;
    let words: Vec<&str> = entry.split_whitespace().skip(2).collect();
    match words.as_slice() {
        ["TABLE", kind, ..] if ["DATA", "ATTACH"].contains(kind) => None,
        ["TABLE", schema, name, ..] => Some(format!("{schema}.{name}")),
        _ => None,
    }
}

/// A failed drop of the scratch database, said so that it can be dropped by hand.
fn drop_scratch<T>(scratch_db: &str, dropped: Result<T, Error>) -> Result<T, Error> {
    dropped.map_err(|e| {
        log::warn!("scratch database {scratch_db} is left behind; drop it with DROP DATABASE {scratch_db}");
        e.context(format!("restore test: dropping scratch database {scratch_db}"))
    })
}

/// MySQL / MariaDB: the dump loaded into a new database, whose base tables
/// are counted (`SHOW FULL TABLES`, with the client in sandbox mode).
pub fn mysql(cfg: &Config, dump: &str, scratch_db: &str) -> Result<RestoreCheck, Error> {
    let container = cfg.container.as_deref();
    run(container, &cfg.mysql("mysqladmin", &["create", scratch_db]), None).map_err(|e| e.context(format!("restore test: creating scratch database {scratch_db}")))?;
    let loaded = load(cfg, Some(scratch_db), dump).and_then(|()| run(container, &cfg.mysql("mysql", &["--sandbox", "-N", "-B", scratch_db, "-e", "SHOW FULL TABLES"]), None));
    let dropped = drop_scratch(scratch_db, run(container, &cfg.mysql("mysqladmin", &["--force", "drop", scratch_db]), None));
    let listed = loaded?;
    dropped?;
    let tables = listed.stdout.lines().filter(|line| line.ends_with("\tBASE TABLE")).count() as u64;
    Ok(RestoreCheck { checked: tables, summary: format!("loaded into scratch database {scratch_db} (dropped after): {}", tables_text(tables)) })
}

fn tables_text(n: u64) -> String {
    match n {
        1 => "1 table".into(),
        n => format!("{n} tables"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_entries_are_told_from_their_data_and_other_objects() {
        assert_eq!(listed_table("218; 1259 16389 TABLE public orders postgres").as_deref(), Some("public.orders"));
        assert_eq!(listed_table("3362; 0 16389 TABLE DATA public orders postgres"), None);
        assert_eq!(listed_table("3363; 0 0 TABLE ATTACH public orders_2026 postgres"), None);
        assert_eq!(listed_table("217; 1259 16388 SEQUENCE public orders_id_seq postgres"), None);
        assert_eq!(listed_table(";     Dumped from database version: 15.14"), None);
    }
}
