//! A smoke check that runs the file operations listed in config `ops`, in
//! order, and fails with the host's error at the first one that fails (so a
//! test sees the typed denial). Each op is `{op, path, to, text, argv}`:
//! `read` (fs.read-small; the summary gets the content), `write`
//! (fs.write-small of `text`), `stat` (summary gets kind and link target),
//! `list`, `hash`, `copy` (path -> to), `extract` (archive path into to),
//! `archive` (path into the archive to), `remove`, `rename` (path -> to),
//! `mkdir`, `run` (process.run of argv with cwd `path` and stdout-to `to`).
//! `repeat` runs an op that many times (for races).

use bosun_sdk::host::fs::{self, ArchiveRequest, Compression};
use bosun_sdk::host::process::{self, RunOptions};
use bosun_sdk::{Check, CheckResult, Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    ops: Vec<Op>,
}

#[derive(Deserialize)]
struct Op {
    op: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    repeat: Option<u32>,
}

struct HostileFs;

impl Check for HostileFs {
    fn check(ctx: &Context) -> Result<CheckResult, Error> {
        let cfg: Config = ctx.config()?;
        let mut seen = Vec::new();
        for op in &cfg.ops {
            for _ in 0..op.repeat.unwrap_or(1) {
                seen.push(run(op)?);
            }
        }
        Ok(CheckResult::pass(seen.join("\n")))
    }
}

fn run(op: &Op) -> Result<String, Error> {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(match op.op.as_str() {
        "read" => String::from_utf8_lossy(&fs::read_small(&op.path, 1 << 20)?).into_owned(),
        "write" => fs::write_small(&op.path, op.text.as_bytes())?.path,
        "stat" => match fs::stat(&op.path)? {
            Some(entry) => format!("{:?} {}", entry.kind, entry.link_target.unwrap_or_default()),
            None => "none".into(),
        },
        "list" => fs::list(&op.path, &[], &[], true)?.into_iter().map(|e| e.path).collect::<Vec<_>>().join(" "),
        "hash" => fs::hash(&op.path)?.hex,
        "copy" => fs::copy(&op.path, &op.to)?.path,
        "extract" => fs::extract(&op.path, &op.to)?.to_string(),
        "archive" => {
            let req = ArchiveRequest { sources: vec![op.path.clone()], excludes: vec![], dest: op.to.clone(), compression: Compression::None, level: None, since_manifest: None, manifest_dest: None };
            fs::archive(&req)?.entries.to_string()
        }
        "remove" => fs::remove(&op.path).map(|()| "removed".to_string())?,
        "rename" => fs::rename(&op.path, &op.to).map(|()| "renamed".to_string())?,
        "mkdir" => fs::create_dir(&op.path).map(|()| "created".to_string())?,
        "run" => {
            let opts = RunOptions { cwd: some(&op.path), stdout_to: some(&op.to), ..RunOptions::default() };
            let out = process::run(&op.argv, &opts)?;
            let code = out.status.code().ok_or_else(|| Error::failed(out.status.to_string()))?;
            format!("exit {code} {}", String::from_utf8_lossy(&out.stdout).trim())
        }
        other => return Err(Error::invalid_config(format!("config key `ops`: unknown op `{other}`"))),
    })
}

bosun_sdk::export_check!(HostileFs);
