//! A restore test of an SQLite database file (db-dump's `sqlite` preset
//! stores one), made by bosun itself: opened read-only and immutable (no
//! journal or WAL beside it is read or rolled back), `PRAGMA integrity_check`
//! must say ok. No plugin, no `sqlite3` command, nothing of the file runs.

use std::io::Read;
use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` starts like an SQLite database file.
pub fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == MAGIC
}

/// Checks the database at `path`; returns how many tables it holds.
pub fn integrity_check(path: &Path) -> Result<u64, String> {
    let uri = format!("file:{}?immutable=1", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags).map_err(|e| format!("cannot open it as an SQLite database: {e}"))?;
    // Its schema is data: no function of it runs while it is read.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false).map_err(|e| e.to_string())?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true).map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(|e| format!("PRAGMA integrity_check: {e}"))?;
    let found: Vec<String> = stmt.query_map([], |row| row.get(0)).and_then(Iterator::collect).map_err(|e| format!("PRAGMA integrity_check: {e}"))?;
    match found.as_slice() {
        [ok] if ok == "ok" => {}
        [first, ..] => return Err(format!("PRAGMA integrity_check fails: {first}")),
        [] => return Err("PRAGMA integrity_check said nothing".into()),
    }
    conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |row| row.get(0)).map_err(|e| format!("listing its tables: {e}"))
}

/// `path` as the path part of a `file:` URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.chars().fold(String::with_capacity(text.len()), |mut out, c| {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sound_database_passes_a_damaged_one_and_other_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("odd ?#% name.sqlite3");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE a (x); CREATE TABLE b (y); INSERT INTO a VALUES (1);").unwrap();
        drop(conn);
        assert!(is_sqlite(&db));
        assert_eq!(integrity_check(&db), Ok(2));

        let mut bytes = std::fs::read(&db).unwrap();
        let page = bytes.len() / 2;
        bytes[page..].fill(0xA5);
        std::fs::write(&db, &bytes).unwrap();
        assert!(integrity_check(&db).is_err());

        let text = dir.path().join("dump.sql");
        std::fs::write(&text, "CREATE TABLE a (x);").unwrap();
        assert!(!is_sqlite(&text));
    }
}
