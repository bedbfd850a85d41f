//! `verify --restore-test` for the presets: the dump loaded with the same
//! restore command into a scratch database, then checked. PostgreSQL and
//! MySQL scratch databases are dropped again whether the load worked or not.

use bosun_sdk::{Error, RestoreCheck, log};

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
    psql("postgres", &format!("CREATE DATABASE {scratch_db}"))
        .map_err(|e| e.context(format!("restore test: creating scratch database {scratch_db} (the user needs CREATEDB)")))?;
    // Tables an extension creates are not in the dump; they are left out.
    let loaded = load(cfg, Some(scratch_db), dump).and_then(|()| {
        psql(
            scratch_db,
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')",
        )
    });
    let dropped = drop_scratch(scratch_db, psql("postgres", &format!("DROP DATABASE {scratch_db}")));
    let arrived: std::collections::BTreeSet<String> = loaded?.lines().map(String::from).collect();
    dropped?;
    let missing: Vec<&String> = listed.iter().filter(|t| !arrived.contains(*t)).collect();
    if let Some(first) = missing.first() {
        return Err(Error::failed(format!("the dump lists {}, but {} did not arrive in scratch database {scratch_db}, first {first}", tables_text(listed.len() as u64), missing.len())));
    }
    Ok(RestoreCheck {
        checked: listed.len() as u64,
        summary: format!("loaded into scratch database {scratch_db} (dropped after): {}, as the dump lists", tables_text(listed.len() as u64)),
    })
}

/// The tables (`schema.name`) `pg_restore --list` names in a custom-format dump.
fn tables_listed(cfg: &Config, dump: &str) -> Result<Vec<String>, Error> {
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

/// MySQL / MariaDB: the dump loaded into a new database.
pub fn mysql(cfg: &Config, dump: &str, scratch_db: &str) -> Result<RestoreCheck, Error> {
    let sql = |sql: &str| {
        let argv = [cfg.connect(MYSQL_FLAGS, vec!["mysql".into()]), ["-N", "-B", "-e", sql].map(String::from).to_vec()].concat();
        run(cfg.container.as_deref(), &argv, None).map(|ran| ran.stdout.trim().to_string())
    };
    sql(&format!("CREATE DATABASE `{scratch_db}`")).map_err(|e| e.context(format!("restore test: creating scratch database {scratch_db}")))?;
    let count_tables = format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{scratch_db}' AND table_type = 'BASE TABLE'");
    let loaded = load(cfg, Some(scratch_db), dump).and_then(|()| sql(&count_tables));
    let dropped = drop_scratch(scratch_db, sql(&format!("DROP DATABASE `{scratch_db}`")));
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
        assert_eq!(listed_table("218; 1259 16389 TABLE public orders postgres").as_deref(), Some("public.orders"));
        assert_eq!(listed_table("3362; 0 16389 TABLE DATA public orders postgres"), None);
        assert_eq!(listed_table("3363; 0 0 TABLE ATTACH public orders_2026 postgres"), None);
        assert_eq!(listed_table("217; 1259 16388 SEQUENCE public orders_id_seq postgres"), None);
        assert_eq!(listed_table(";     Dumped from database version: 15.14"), None);
    }
}
