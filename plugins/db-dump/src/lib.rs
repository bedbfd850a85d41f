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
//! (PostgreSQL and MySQL: a database created for the test and dropped after)
//! and checks the tables arrived, with fixed commands the operator can grant
//! exactly (`{scratch-db}`, `{path:ro}`); an SQLite dump is itself a database
//! file, which bosun checks without the plugin.

use bosun_sdk::host::{docker, fs, process};
use bosun_sdk::{Artifact, BackupRequest, BackupResult, BackupStrategy, Context, Error, ExitStatus, RestoreCheck, RestoreRequest, log};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// postgres, mysql or sqlite; or leave it out and set `command`
    preset: Option<String>,
    /// postgres/mysql: the database name; sqlite: the database file (absolute path)
    database: Option<String>,
    /// postgres/mysql: the user to connect as
    user: Option<String>,
    /// postgres/mysql: server host or socket directory (default: the tool's own)
    host: Option<String>,
    /// postgres/mysql: server port
    port: Option<u16>,
    /// Run the dump inside this container (docker exec) instead of on this host (postgres, mysql, command)
    container: Option<String>,
    /// Instead of a preset: the argv whose stdout is the dump
    command: Option<Vec<String>>,
    /// With `command`: the argv that restores; `{dump}` is replaced by the dump file's path (with `container`, the dump arrives on its stdin instead)
    restore_command: Option<Vec<String>>,
}

/// What to run for one configuration.
enum Plan {
    /// `cmd`'s stdout is the dump, written to `file`.
    Stdout { cmd: Cmd, file: String },
    /// SQLite writes the file itself (`VACUUM INTO`).
    SqliteBackup { database: String, file: String },
}

/// A command line and the environment it needs.
#[derive(Debug, PartialEq)]
struct Cmd {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl From<Vec<String>> for Cmd {
    fn from(argv: Vec<String>) -> Cmd {
        Cmd { argv, env: Vec::new() }
    }
}

/// Host, port and user flags of the MySQL tools (and of PostgreSQL's inside a container).
const PG_FLAGS: [&str; 3] = ["-h", "-p", "-U"];
const MYSQL_FLAGS: [&str; 3] = ["-h", "-P", "-u"];

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|a| a.to_string()).collect()
}

impl Config {
    fn database(&self) -> Result<&str, Error> {
        self.database.as_deref().ok_or_else(|| Error::invalid_config("config key `database`: required by the preset"))
    }

    /// `argv` plus the connection flags (`-h`, `-p`/`-P`, `-U`/`-u`) that are set.
    fn connect(&self, [host, port, user]: [&str; 3], mut argv: Vec<String>) -> Vec<String> {
        for (flag, value) in [host, port, user].into_iter().zip(self.connection()) {
            if let Some(value) = value {
                argv.extend([flag.to_string(), value]);
            }
        }
        argv
    }

    fn connection(&self) -> [Option<String>; 3] {
        [self.host.clone(), self.port.map(|p| p.to_string()), self.user.clone()]
    }

    /// A PostgreSQL tool: on this host the connection goes in libpq's
    /// PGHOST, PGPORT and PGUSER (one `env:` grant, and `run:` grants that
    /// need not repeat it); inside a container, as flags.
    fn pg(&self, argv: &[&str]) -> Cmd {
        if self.container.is_some() {
            return self.connect(PG_FLAGS, words(argv)).into();
        }
        let env = ["PGHOST", "PGPORT", "PGUSER"].into_iter().zip(self.connection()).filter_map(|(k, v)| Some((k.to_string(), v?))).collect();
        Cmd { argv: words(argv), env }
    }

    /// A MySQL / MariaDB tool, connection flags first.
    fn mysql(&self, tool: &str, args: &[&str]) -> Cmd {
        [self.connect(MYSQL_FLAGS, vec![tool.to_string()]), words(args)].concat().into()
    }

    fn plan(&self) -> Result<Plan, Error> {
        match (self.preset.as_deref(), &self.command) {
            (None, Some(argv)) if !argv.is_empty() => Ok(Plan::Stdout { cmd: argv.clone().into(), file: "dump".into() }),
            (Some("postgres"), None) => {
                let db = self.database()?;
                Ok(Plan::Stdout { cmd: self.pg(&["pg_dump", "-Fc", "-d", db]), file: format!("{db}.pgdump") })
            }
            (Some("mysql"), None) => {
                let db = self.database()?;
                Ok(Plan::Stdout { cmd: self.mysql("mysqldump", &["--single-transaction", "--routines", "--triggers", db]), file: format!("{db}.sql") })
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

    /// The restore command, reading the dump from the host file `dump`, or from
    /// stdin when there is none (inside a container the host streams it in);
    /// into the configured database, or database `into` (a restore test's).
    fn restore_cmd(&self, into: Option<&str>, dump: Option<&str>) -> Result<Cmd, Error> {
        let db = into.map_or_else(|| self.database(), Ok);
        Ok(match (self.preset.as_deref(), &self.restore_command) {
            (Some("postgres"), _) => {
                let mut cmd = self.pg(&["pg_restore", "--clean", "--if-exists", "-d", db?]);
                cmd.argv.extend(dump.map(Into::into));
                cmd
            }
            (Some("mysql"), _) => {
                let source = dump.map(|d| format!("source {d}"));
                let args: Vec<&str> = [db?].into_iter().chain(source.as_deref().map(|s| ["-e", s]).into_iter().flatten()).collect();
                self.mysql("mysql", &args)
            }
            (Some("sqlite"), _) => vec!["sqlite3".into(), db?.into(), format!(".restore '{}'", dump.unwrap_or_default())].into(),
            (_, Some(argv)) => match dump {
                Some(dump) => argv.iter().map(|a| a.replace("{dump}", dump)).collect::<Vec<_>>().into(),
                None if argv.iter().any(|a| a.contains("{dump}")) => {
                    return Err(Error::invalid_config("config key `restore_command`: inside a container the dump arrives on stdin; drop `{dump}` from the command"));
                }
                None => argv.clone().into(),
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

/// Runs `cmd` here or in `container`; stdout to `stdout_to` when given.
fn run(container: Option<&str>, cmd: &Cmd, stdout_to: Option<&str>) -> Result<Ran, Error> {
    let argv = &cmd.argv;
    let (status, stderr, ran) = match container {
        Some(c) => {
            let exec = docker::exec(c, argv, stdout_to)?;
            (exec.status, exec.stderr_tail, Ran { stdout: exec.stdout, artifact: exec.stdout_artifact })
        }
        None => {
            let env = cmd.env.iter().map(|(key, value)| bosun_sdk::Kv { key: key.clone(), value: value.clone() }).collect();
            let options = process::RunOptions { cwd: None, env, stdin: None, stdout_to: stdout_to.map(Into::into), timeout_ms: None };
            let out = process::run(argv, &options)?;
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            (out.status, out.stderr_tail, Ran { stdout, artifact: out.stdout_artifact })
        }
    };
    exited(argv, status, &stderr)?;
    Ok(ran)
}

/// A non-zero exit (or a kill) as an error quoting the command's first
/// `error:` line (pg_restore ends with a count of them), else the last line it
/// printed.
fn exited(argv: &[String], status: ExitStatus, stderr: &str) -> Result<(), Error> {
    if !status.success() {
        let mut lines = stderr.lines().filter(|l| !l.trim().is_empty());
        let quoted = lines.clone().find(|l| l.contains("error:")).or_else(|| lines.next_back()).unwrap_or("no output");
        return Err(Error::failed(format!("`{}` {status}: {quoted}", argv.join(" "))));
    }
    Ok(())
}

/// An artifact for a file a command wrote itself.
fn artifact_of(path: &str) -> Result<Artifact, Error> {
    let entry = fs::stat(path)?.ok_or_else(|| Error::failed(format!("{path} was not written")))?;
    Ok(Artifact { path: path.into(), size: entry.size, digest: fs::hash(path)? })
}

mod restore_test;

struct DbDump;

impl BackupStrategy for DbDump {
    fn validate(ctx: &Context) -> Result<(), Error> {
        ctx.config::<Config>()?.plan().map(drop)
    }

    fn backup(ctx: &Context, req: &BackupRequest) -> Result<BackupResult, Error> {
        let cfg: Config = ctx.config()?;
        let container = cfg.container.as_deref();
        let artifact = match cfg.plan()? {
            Plan::Stdout { cmd, file } => {
                let dest = join(&req.dest_dir, &file);
                log::info!("dumping `{}` into {dest}", cmd.argv.join(" "));
                run(container, &cmd, Some(&dest))?.artifact.ok_or_else(|| Error::failed("the host reported no dump file"))?
            }
            Plan::SqliteBackup { database, file } => {
                let dest = join(&req.dest_dir, &file);
                log::info!("online backup of {database} into {dest}");
                // One read transaction: consistent, and unlike the `.backup`
                // command it is not restarted by every write the app makes.
                run(None, &vec!["sqlite3".into(), database, format!("VACUUM INTO '{}'", dest.replace('\'', "''"))].into(), None)?;
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
            // The artifact is an SQLite database: bosun checks it itself.
            Some("sqlite") => return Ok(None),
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
        let cmd = cfg.restore_cmd(into, None)?;
        log::info!("restoring {dump} into container {container} with `{}`", cmd.argv.join(" "));
        let exec = docker::exec_with_input(container, &cmd.argv, dump)?;
        return exited(&cmd.argv, exec.status, &exec.stderr_tail);
    }
    let cmd = cfg.restore_cmd(into, Some(dump))?;
    log::info!("restoring with `{}`", cmd.argv.join(" "));
    run(None, &cmd, None).map(drop)
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

bosun_sdk::export_backup_strategy!(DbDump, config = Config);

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
        let argv = |cmd: Cmd| cmd.argv.join(" ");
        let pg = config(&[("preset", "postgres"), ("database", "shop"), ("user", "app"), ("port", "5433")], None);
        let here = pg.restore_cmd(None, Some("/b/shop.pgdump")).unwrap();
        assert_eq!(here.argv.join(" "), "pg_restore --clean --if-exists -d shop /b/shop.pgdump");
        assert_eq!(here.env, [("PGPORT".to_string(), "5433".to_string()), ("PGUSER".into(), "app".into())], "libpq reads the connection from its environment");
        let mut in_container = config(&[("preset", "postgres"), ("database", "shop"), ("user", "app"), ("port", "5433")], None);
        in_container.container = Some("db".into());
        assert_eq!(argv(in_container.restore_cmd(None, None).unwrap()), "pg_restore --clean --if-exists -d shop -p 5433 -U app");
        let my = config(&[("preset", "mysql"), ("database", "shop"), ("host", "127.0.0.1")], None);
        assert_eq!(my.restore_cmd(None, Some("/b/shop.sql")).unwrap().argv, ["mysql", "-h", "127.0.0.1", "shop", "-e", "source /b/shop.sql"]);
        assert_eq!(my.restore_cmd(None, None).unwrap().argv, ["mysql", "-h", "127.0.0.1", "shop"]);
        let own = config(&[], Some(&["load", "{dump}"]));
        assert_eq!(own.restore_cmd(None, Some("/b/dump")).unwrap().argv, ["load", "/b/dump"]);
        let err = own.restore_cmd(None, None).unwrap_err().to_string();
        assert!(err.contains("inside a container the dump arrives on stdin"), "{err}");
        // A restore test loads into its scratch database instead.
        assert_eq!(argv(pg.restore_cmd(Some("scratch"), None).unwrap()), "pg_restore --clean --if-exists -d scratch");
        assert_eq!(my.restore_cmd(Some("scratch"), Some("/b/shop.sql")).unwrap().argv, ["mysql", "-h", "127.0.0.1", "scratch", "-e", "source /b/shop.sql"]);
    }

    #[test]
    fn a_failed_command_is_quoted_by_its_first_error() {
        let argv = ["pg_restore".to_string()];
        let stderr = "pg_restore: while PROCESSING TOC:\npg_restore: error: could not execute query: ERROR:  role \"app\" does not exist\npg_restore: warning: errors ignored on restore: 1\n";
        let err = exited(&argv, ExitStatus::Code(1), stderr).unwrap_err().to_string();
        assert!(err.ends_with("exited 1: pg_restore: error: could not execute query: ERROR:  role \"app\" does not exist"), "{err}");
        let err = exited(&argv, ExitStatus::Code(2), "first\nlast\n\n").unwrap_err().to_string();
        assert!(err.ends_with("exited 2: last"), "{err}");
        let err = exited(&argv, ExitStatus::Signal(9), "").unwrap_err().to_string();
        assert_eq!(err, "failed: `pg_restore` was killed by signal 9: no output");
    }

    #[test]
    fn scratch_databases_are_named_after_the_scratch_directory() {
        assert_eq!(scratch_name("/tmp/bosun-restore-test-AbC12/"), "bosun_restore_test_abc12");
    }
}
