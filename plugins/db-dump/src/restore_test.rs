//! `verify --restore-test` for the presets: the dump loaded with the same
//! restore command into a scratch database, then checked. PostgreSQL and
//! MySQL scratch databases are dropped again whether the load worked or not.

use bosun_sdk::{Error, RestoreCheck};

use super::{Config, MYSQL_FLAGS, PG_FLAGS, join, load, run};

/// SQLite: the dump restored into a file in the scratch directory, which must
/// pass `PRAGMA integrity_check`.
pub fn sqlite(cfg: &Config, dump: &str, scratch: &str) -> Result<RestoreCheck, Error> {
    let db = join(scratch, "restore-test.sqlite3");
    load(cfg, Some(&db), dump)?;
    let query = |sql: &str| run(None, &["sqlite3".into(), db.clone(), sql.into()], None).map(|ran| ran.stdout.trim().to_string());
    let integrity = query("PRAGMA integrity_check")?;
    if integrity != "ok" {
        let first = integrity.lines().next().unwrap_or_default();
        return Err(Error::failed(format!("the restored copy of {dump} fails PRAGMA integrity_check: {first}")));
    }
    let tables = count(&query("SELECT count(*) FROM sqlite_master WHERE type = 'table'")?)?;
    Ok(RestoreCheck { checked: tables, summary: format!("loaded into a scratch file: integrity_check ok, {}", tables_text(tables)) })
}

/// PostgreSQL: the dump restored into a new database, which must hold every
/// table the dump's table of contents lists.
pub fn postgres(cfg: &Config, dump: &str, scratch_db: &str) -> Result<RestoreCheck, Error> {
    let psql = |db: &str, sql: &str| {
        let options = ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql].map(String::from);
        let argv = [cfg.connect(PG_FLAGS, vec!["psql".into()]), options.to_vec()].concat();
        run(cfg.container.as_deref(), &argv, None).map(|ran| ran.stdout.trim().to_string())
    };
    let listed = tables_listed(cfg, dump)?;
    psql("postgres", &format!("CREATE DATABASE {scratch_db}"))?;
    let loaded = load(cfg, Some(scratch_db), dump).and_then(|()| {
        psql(scratch_db, "SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
    });
    let dropped = psql("postgres", &format!("DROP DATABASE {scratch_db}"));
    let tables = count(&loaded?)?;
    dropped?;
    if tables != listed {
        return Err(Error::failed(format!("the dump lists {}, but {tables} arrived in scratch database {scratch_db}", tables_text(listed))));
    }
    Ok(RestoreCheck { checked: tables, summary: format!("loaded into scratch database {scratch_db} (dropped after): {}, as the dump lists", tables_text(tables)) })
}

/// The tables `pg_restore --list` names in a custom-format dump.
fn tables_listed(cfg: &Config, dump: &str) -> Result<u64, Error> {
    let argv = vec!["pg_restore".to_string(), "--list".into()];
    let listing = match cfg.container.as_deref() {
        // Inside a container the dump is not there: it goes in on stdin.
        Some(container) => {
            let status = bosun_sdk::host::docker::exec_with_input(container, &argv, dump)?;
            super::exited(&argv, status.exit_code, &status.stderr_tail)?;
            status.stdout
        }
        None => run(None, &[argv, vec![dump.into()]].concat(), None)?.stdout,
    };
    Ok(listing.lines().filter(|line| lists_a_table(line)).count() as u64)
}

/// `218; 1259 16389 TABLE public orders postgres` (not `TABLE DATA ...`).
fn lists_a_table(line: &str) -> bool {
    let Some((_, entry)) = line.split_once("; ") else { return false };
    let mut words = entry.split_whitespace().skip(2);
    words.next() == Some("TABLE") && words.next() != Some("DATA")
}

/// MySQL / MariaDB: the dump loaded into a new database.
pub fn mysql(cfg: &Config, dump: &str, scratch_db: &str) -> Result<RestoreCheck, Error> {
    let sql = |sql: &str| {
        let argv = [cfg.connect(MYSQL_FLAGS, vec!["mysql".into()]), ["-N", "-B", "-e", sql].map(String::from).to_vec()].concat();
        run(cfg.container.as_deref(), &argv, None).map(|ran| ran.stdout.trim().to_string())
    };
    sql(&format!("CREATE DATABASE `{scratch_db}`"))?;
    let loaded = load(cfg, Some(scratch_db), dump).and_then(|()| sql(&format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{scratch_db}'")));
    let dropped = sql(&format!("DROP DATABASE `{scratch_db}`"));
    let tables = count(&loaded?)?;
    dropped?;
    Ok(RestoreCheck { checked: tables, summary: format!("loaded into scratch database {scratch_db} (dropped after): {}", tables_text(tables)) })
}

fn tables_text(n: u64) -> String {
    match n {
        1 => "1 table".into(),
        n => format!("{n} tables"),
    }
}

fn count(text: &str) -> Result<u64, Error> {
    text.parse().map_err(|_| Error::failed(format!("expected a count from the database, got {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_entries_are_told_from_their_data_and_other_objects() {
        assert!(lists_a_table("218; 1259 16389 TABLE public orders postgres"));
        assert!(!lists_a_table("3362; 0 16389 TABLE DATA public orders postgres"));
        assert!(!lists_a_table("217; 1259 16388 SEQUENCE public orders_id_seq postgres"));
        assert!(!lists_a_table(";     Dumped from database version: 15.14"));
    }
}
