//! bosun's built-in `db-dump` backup strategy: a dump command's stdout
//! streamed by the host straight into the artifact, never through plugin
//! memory; on this host (`process.run`) or inside a container (`docker exec`).
//!
//! Presets: PostgreSQL `pg_dump -Fc` (restored with `pg_restore --clean`),
//! MySQL/MariaDB `mysqldump --single-transaction` (restored with `mysql -e
//! "source ..."`), SQLite online with `VACUUM INTO` (one read transaction:
//! consistent while the app writes; restored with `.restore`). Or `command`
//! / `restore_command`.
//!
//! `verify --restore-test` restores a preset's dump into a scratch database
//! (SQLite: a file in the scratch directory, then `PRAGMA integrity_check`;
//! PostgreSQL and MySQL: a database created for the test and dropped after)
//! and checks the tables arrived.

use bosun_sdk::host::{docker, fs, process};
use bosun_sdk::{Artifact, BackupRequest, BackupResult, BackupStrategy, Context, Error, RestoreCheck, RestoreRequest, log};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    preset: Option<String>,
    database: Option<String>,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    container: Option<String>,
    command: Option<Vec<String>>,
    restore_command: Option<Vec<String>>,
}

/// What to run for one configuration.
enum Plan {
    /// `argv`'s stdout is the dump, written to `file`.
    Stdout { argv: Vec<String>, file: String },
    /// SQLite writes the file itself (`VACUUM INTO`).
    SqliteBackup { database: String, file: String },
}

/// Host, port and user flags of the PostgreSQL and MySQL tools.
const PG_FLAGS: [&str; 3] = ["-h", "-p", "-U"];
const MYSQL_FLAGS: [&str; 3] = ["-h", "-P", "-u"];

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

impl Config {
    fn database(&self) -> Result<&str, Error> {
        self.database.as_deref().ok_or_else(|| Error::invalid_config("config key `database`: required by the preset"))
    }

    /// `argv` plus the connection flags (`-h`, `-p`/`-P`, `-U`/`-u`) that are set.
    fn connect(&self, [host, port, user]: [&str; 3], mut argv: Vec<String>) -> Vec<String> {
        let flags = [(host, self.host.clone()), (port, self.port.map(|p| p.to_string())), (user, self.user.clone())];
        for (flag, value) in flags {
            if let Some(value) = value {
                argv.extend([flag.to_string(), value]);
            }
        }
        argv
    }

    fn plan(&self) -> Result<Plan, Error> {
        match (self.preset.as_deref(), &self.command) {
            (None, Some(argv)) if !argv.is_empty() => Ok(Plan::Stdout { argv: argv.clone(), file: "dump".into() }),
            (Some("postgres"), None) => {
                let db = self.database()?;
                let argv = self.connect(PG_FLAGS, vec!["pg_dump".into(), "-Fc".into()]);
                Ok(Plan::Stdout { argv: [argv, vec!["-d".into(), db.into()]].concat(), file: format!("{db}.pgdump") })
            }
            (Some("mysql"), None) => {
                let db = self.database()?;
                let argv = self.connect(MYSQL_FLAGS, vec!["mysqldump".into(), "--single-transaction".into(), "--routines".into(), "--triggers".into()]);
                Ok(Plan::Stdout { argv: [argv, vec![db.into()]].concat(), file: format!("{db}.sql") })
            }
            (Some("sqlite"), None) if self.container.is_some() => {
                Err(Error::invalid_config("preset sqlite runs on this host; for a database inside a container set `command` (e.g. [\"sqlite3\", \"/data/app.db\", \".dump\"])"))
            }
            (Some("sqlite"), None) => {
                let db = self.database()?;
                let name = db.rsplit('/').next().unwrap_or("database");
                Ok(Plan::SqliteBackup { database: db.into(), file: format!("{name}.sqlite3") })
            }
            (Some(other), None) => Err(Error::invalid_config(format!("config key `preset`: unknown preset `{other}` (postgres, mysql or sqlite)"))),
            (Some(_), Some(_)) => Err(Error::invalid_config("set either `preset` or `command`, not both")),
            (None, _) => Err(Error::invalid_config("set `preset` (postgres, mysql, sqlite) or `command`")),
        }
    }

    /// The restore argv, reading the dump from the host file `dump`, or from
    /// stdin when there is none (inside a container the host streams it in);
    /// into the configured database, or database `into` (a restore test's).
    fn restore_argv(&self, into: Option<&str>, dump: Option<&str>) -> Result<Vec<String>, Error> {
        let db = || into.map_or_else(|| self.database(), Ok);
        Ok(match (self.preset.as_deref(), &self.restore_command) {
            (Some("postgres"), _) => {
                let argv = self.connect(PG_FLAGS, vec!["pg_restore".into(), "--clean".into(), "--if-exists".into()]);
                [argv, vec!["-d".into(), db()?.into()], dump.map(Into::into).into_iter().collect()].concat()
            }
            (Some("mysql"), _) => {
                let argv = self.connect(MYSQL_FLAGS, vec!["mysql".into()]);
                let source = dump.map(|d| vec!["-e".into(), format!("source {d}")]).unwrap_or_default();
                [argv, vec![db()?.into()], source].concat()
            }
            (Some("sqlite"), _) => vec!["sqlite3".into(), db()?.into(), format!(".restore '{}'", dump.unwrap_or_default())],
            (_, Some(argv)) => match dump {
                Some(dump) => argv.iter().map(|a| a.replace("{dump}", dump)).collect(),
                None if argv.iter().any(|a| a.contains("{dump}")) => {
                    return Err(Error::invalid_config("config key `restore_command`: inside a container the dump arrives on stdin; drop `{dump}` from the command"));
                }
                None => argv.clone(),
            },
            (_, None) => return Err(Error::invalid_config("config key `restore_command`: needed to restore a `command` dump")),
        })
    }
}

/// What a command left: its stdout, or the file it went to.
struct Ran {
    stdout: String,
    artifact: Option<Artifact>,
}

/// Runs `argv` here or in `container`; stdout to `stdout_to` when given.
fn run(container: Option<&str>, argv: &[String], stdout_to: Option<&str>) -> Result<Ran, Error> {
    let (code, stderr, ran) = match container {
        Some(c) => {
            let status = docker::exec(c, argv, stdout_to)?;
            (status.exit_code, status.stderr_tail, Ran { stdout: status.stdout, artifact: status.stdout_artifact })
        }
        None => {
            let options = process::RunOptions { cwd: None, env: Vec::new(), stdin: None, stdout_to: stdout_to.map(Into::into), timeout_ms: None };
            let out = process::run(argv, &options)?;
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            (i64::from(out.exit_code), out.stderr_tail, Ran { stdout, artifact: out.stdout_artifact })
        }
    };
    exited(argv, code, &stderr)?;
    Ok(ran)
}

/// A non-zero exit as an error quoting the command's first `error:` line
/// (pg_restore ends with a count of them), else the last line it printed.
fn exited(argv: &[String], code: i64, stderr: &str) -> Result<(), Error> {
    if code != 0 {
        let mut lines = stderr.lines().filter(|l| !l.trim().is_empty());
        let quoted = lines.clone().find(|l| l.contains("error:")).or_else(|| lines.next_back()).unwrap_or("no output");
        return Err(Error::failed(format!("`{}` exited {code}: {quoted}", argv.join(" "))));
    }
    Ok(())
}

/// An artifact for a file a command wrote itself.
fn artifact_of(path: &str) -> Result<Artifact, Error> {
    let entry = fs::stat(path)?.ok_or_else(|| Error::failed(format!("{path} was not written")))?;
    Ok(Artifact { path: path.into(), size: entry.size, sha256: fs::hash(path)? })
}

mod restore_test;

struct DbDump;

impl BackupStrategy for DbDump {
    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
        let cfg: Config = ctx.config()?;
        let container = cfg.container.as_deref();
        let artifact = match cfg.plan()? {
            Plan::Stdout { argv, file } => {
                let dest = join(&req.dest_dir, &file);
                log::info!("dumping `{}` into {dest}", argv.join(" "));
                run(container, &argv, Some(&dest))?.artifact.ok_or_else(|| Error::failed("the host reported no dump file"))?
            }
            Plan::SqliteBackup { database, file } => {
                let dest = join(&req.dest_dir, &file);
                log::info!("online backup of {database} into {dest}");
                // One read transaction: consistent, and unlike the `.backup`
                // command it is not restarted by every write the app makes.
                run(None, &["sqlite3".into(), database, format!("VACUUM INTO '{}'", dest.replace('\'', "''"))], None)?;
                artifact_of(&dest)?
            }
        };
        let mut result = BackupResult::new(vec![artifact]).with_fact("preset", cfg.preset.as_deref().unwrap_or("command"));
        if let Some(c) = container {
            result = result.with_fact("container", c);
        }
        Ok(result)
    }

    fn restore(ctx: &Context, req: &RestoreRequest) -> Result<(), Error> {
        let cfg: Config = ctx.config()?;
        let dump = dump_in(&req.backup_dir)?;
        if req.target.is_some() {
            return Err(Error::invalid_config("db-dump restores into the database; to look at the dump, read it in the backup directory"));
        }
        load(&cfg, None, &dump.path)
    }

    fn restore_test(ctx: &Context, req: &RestoreRequest) -> Result<Option<RestoreCheck>, Error> {
        let cfg: Config = ctx.config()?;
        let dump = dump_in(&req.backup_dir)?;
        let scratch = req.target.as_deref().ok_or_else(|| Error::failed("a restore test needs a scratch directory"))?;
        let check = match cfg.preset.as_deref() {
            Some("sqlite") => restore_test::sqlite(&cfg, &dump.path, scratch)?,
            Some("postgres") => restore_test::postgres(&cfg, &dump.path, &scratch_name(scratch))?,
            Some("mysql") => restore_test::mysql(&cfg, &dump.path, &scratch_name(scratch))?,
            _ => {
                return Err(Error::invalid_config(
                    "a `command` dump has no restore test: bosun knows how to load it only into the database it came from; use a preset, or load the dump into a scratch database yourself",
                ));
            }
        };
        Ok(Some(check))
    }
}

/// Loads `dump` with the restore command into the configured database, or
/// database `into`; inside a container the host streams the dump to its stdin.
fn load(cfg: &Config, into: Option<&str>, dump: &str) -> Result<(), Error> {
    if let Some(container) = cfg.container.as_deref() {
        let argv = cfg.restore_argv(into, None)?;
        log::info!("restoring {dump} into container {container} with `{}`", argv.join(" "));
        let status = docker::exec_with_input(container, &argv, dump)?;
        return exited(&argv, status.exit_code, &status.stderr_tail);
    }
    let argv = cfg.restore_argv(into, Some(dump))?;
    log::info!("restoring with `{}`", argv.join(" "));
    run(None, &argv, None).map(drop)
}

/// The dump file in a backup directory.
fn dump_in(backup_dir: &str) -> Result<fs::Entry, Error> {
    let entries = fs::list(backup_dir, &[], &["replication_manifest.json".to_string()], false)?;
    entries.into_iter().find(|e| e.kind == fs::EntryKind::File).ok_or_else(|| Error::failed(format!("no dump file in backup directory {backup_dir}")))
}

/// A database name for the restore test, unique like its scratch directory
/// (`/tmp/bosun-restore-test-AbC12` -> `bosun_restore_test_abc12`).
fn scratch_name(scratch: &str) -> String {
    let base = scratch.trim_end_matches('/').rsplit('/').next().unwrap_or("scratch");
    base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

bosun_sdk::export_backup_strategy!(DbDump);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_like: &[(&str, &str)], restore_command: Option<&[&str]>) -> Config {
        let get = |key: &str| toml_like.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
        Config {
            preset: get("preset"),
            database: get("database"),
            user: get("user"),
            host: get("host"),
            port: get("port").map(|p| p.parse().unwrap()),
            container: get("container"),
            command: None,
            restore_command: restore_command.map(|argv| argv.iter().map(|a| a.to_string()).collect()),
        }
    }

    #[test]
    fn restores_read_the_dump_file_here_and_stdin_in_a_container() {
        let pg = config(&[("preset", "postgres"), ("database", "shop"), ("user", "app"), ("port", "5433")], None);
        assert_eq!(pg.restore_argv(None, Some("/b/shop.pgdump")).unwrap().join(" "), "pg_restore --clean --if-exists -p 5433 -U app -d shop /b/shop.pgdump");
        assert_eq!(pg.restore_argv(None, None).unwrap().join(" "), "pg_restore --clean --if-exists -p 5433 -U app -d shop");
        let my = config(&[("preset", "mysql"), ("database", "shop"), ("host", "127.0.0.1")], None);
        assert_eq!(my.restore_argv(None, Some("/b/shop.sql")).unwrap(), ["mysql", "-h", "127.0.0.1", "shop", "-e", "source /b/shop.sql"]);
        assert_eq!(my.restore_argv(None, None).unwrap(), ["mysql", "-h", "127.0.0.1", "shop"]);
        let own = config(&[], Some(&["load", "{dump}"]));
        assert_eq!(own.restore_argv(None, Some("/b/dump")).unwrap(), ["load", "/b/dump"]);
        let err = own.restore_argv(None, None).unwrap_err().to_string();
        assert!(err.contains("inside a container the dump arrives on stdin"), "{err}");
        // A restore test loads into its scratch database instead.
        assert_eq!(pg.restore_argv(Some("scratch"), None).unwrap().join(" "), "pg_restore --clean --if-exists -p 5433 -U app -d scratch");
        assert_eq!(my.restore_argv(Some("scratch"), Some("/b/shop.sql")).unwrap(), ["mysql", "-h", "127.0.0.1", "scratch", "-e", "source /b/shop.sql"]);
    }

    #[test]
    fn a_failed_command_is_quoted_by_its_first_error() {
        let argv = ["pg_restore".to_string()];
        let stderr = "pg_restore: while PROCESSING TOC:\npg_restore: error: could not execute query: ERROR:  role \"app\" does not exist\npg_restore: warning: errors ignored on restore: 1\n";
        let err = exited(&argv, 1, stderr).unwrap_err().to_string();
        assert!(err.ends_with("exited 1: pg_restore: error: could not execute query: ERROR:  role \"app\" does not exist"), "{err}");
        let err = exited(&argv, 2, "first\nlast\n\n").unwrap_err().to_string();
        assert!(err.ends_with("exited 2: last"), "{err}");
    }

    #[test]
    fn scratch_databases_are_named_after_the_scratch_directory() {
        assert_eq!(scratch_name("/tmp/bosun-restore-test-AbC12/"), "bosun_restore_test_abc12");
    }
}
