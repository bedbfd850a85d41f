//! `dir-archive` against what an operator would otherwise run, in the same
//! run on the same generated tree. `cargo bench -p bosun --bench backup`.
//!
//! 1. Full backup: `bosun backup run --full` vs `tar -I 'zstd -1 -T0' -cf`.
//! 2. Incremental with nothing changed vs that full backup.
//! 3. Restore: `bosun backup restore --target` vs `tar -I zstd -xf`.
//! 4. `docker-image` backup vs `docker save -o` of the same image: a
//!    `FROM scratch` image with `BOSUN_BENCH_IMAGE_MIB` (default 512) of
//!    noise in two layers, built here (nothing is pulled).
//!
//! The tree: `BOSUN_BENCH_FILES` small files (default 100000, 1–8 KiB of
//! text-like data) plus large files up to `BOSUN_BENCH_MIB` in all (default
//! 1024). Each side runs `BOSUN_BENCH_ROUNDS` times (default 4), interleaved
//! and taking turns at going first (the second of a pair runs slower, so an
//! even count is fair to both); medians are reported. Caches are warm for
//! both sides alike, and every timed command starts after a `sync`, so none
//! pays for another's writeback.

mod measure;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use measure::{median, secs, settle};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Deterministic bytes: words from a small vocabulary (compresses like logs
/// and configs), or noise (compresses like media and packed data).
struct Filler(u64);

impl Filler {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: [&str; 16] = [
            "order", "user", "id=", "GET", "/api/v1/", "200", "error", "cache", "shop", "item", "price", "2026-11-23", "ok", "\n", "{\"k\":", "}",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            let r = self.next();
            out.extend_from_slice(WORDS[(r & 15) as usize].as_bytes());
            out.extend_from_slice(format!("{} ", r >> 52).as_bytes());
        }
        out.truncate(len);
        out
    }

    fn noise(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

fn generate(root: &Path, files: usize, total_mib: usize) -> u64 {
    let mut fill = Filler(0x9e37_79b9_7f4a_7c15);
    let mut bytes = 0u64;
    for i in 0..files {
        let dir = root.join(format!("d{:03}/e{:02}", i / 1000, (i / 50) % 20));
        if i % 50 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let len = 1024 + (fill.next() % 7168) as usize;
        let data = fill.text(len);
        bytes += data.len() as u64;
        std::fs::write(dir.join(format!("f{i}.log")), data).unwrap();
    }
    // The rest in 64 MiB files, half text-like, half noise.
    let large = root.join("large");
    std::fs::create_dir_all(&large).unwrap();
    let mut n = 0;
    while bytes < (total_mib as u64) << 20 {
        let len = (64usize << 20).min(((total_mib as u64) << 20).saturating_sub(bytes) as usize).max(1 << 20);
        let data = if n % 2 == 0 { fill.text(len) } else { fill.noise(len) };
        bytes += len as u64;
        std::fs::write(large.join(format!("blob{n}.bin")), data).unwrap();
        n += 1;
    }
    bytes
}

/// `measure::timed` after a `sync`.
fn timed(what: &str, command: &mut Command) -> Duration {
    settle();
    measure::timed(what, command)
}

/// The whole command's wall time, and its `--json` report.
fn run_backup(bosun: &mut Command, kind: &str) -> (Duration, serde_json::Value) {
    settle();
    let start = Instant::now();
    let out = bosun.args(["backup", "run", "data", kind]).output().unwrap();
    let elapsed = start.elapsed();
    assert!(out.status.success(), "bosun backup run {kind}: {}", String::from_utf8_lossy(&out.stderr));
    (elapsed, serde_json::from_slice(&out.stdout).unwrap())
}

/// Runs `a` and `b`, `a` first when told. Each side of a comparison goes
/// first in every other round, so what a round leaves the file system
/// (writeback, freed blocks) falls on both alike.
fn in_turn<A, B>(a_first: bool, a: impl FnOnce() -> A, b: impl FnOnce() -> B) -> (A, B) {
    match a_first {
        true => {
            let a = a();
            (a, b())
        }
        false => {
            let b = b();
            (a(), b)
        }
    }
}

fn reset(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
}

fn main() {
    let files = env_or("BOSUN_BENCH_FILES", 100_000);
    let total_mib = env_or("BOSUN_BENCH_MIB", 1024);
    let rounds = env_or("BOSUN_BENCH_ROUNDS", 4);
    let work = tempfile::Builder::new().prefix("bosun-bench-").tempdir_in(std::env::var("BOSUN_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).unwrap();
    let root: PathBuf = work.path().canonicalize().unwrap();
    let data = root.join("data");
    let bytes = generate(&data, files, total_mib);
    eprintln!("tree: {files} small files + large ones, {:.0} MiB, in {}", bytes as f64 / 1048576.0, data.display());

    std::fs::write(
        root.join("bosun.toml"),
        format!(
            "[project]\nname = \"bench\"\nstate_dir = \"{r}/state\"\n\n[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{r}/backups\"\npaths = [\"{d}\"]\n\n[plugins.dir-archive]\ntimeout_ms = 3600000\ngrant.fs = [\"ro:{d}\"]\n",
            r = root.display(),
            d = data.display()
        ),
    )
    .unwrap();
    let bosun = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bosun"));
        c.current_dir(&root).arg("--json");
        c
    };
    // Compile the plugin into bosun's cache first, as any second run finds it.
    timed("bosun backup run --dry-run", bosun().args(["backup", "run", "data", "--dry-run"]));
    let tar_file = root.join("tar/data.tar.zst");
    let (mut tar_full, mut bosun_full, mut bosun_incr, mut tar_x, mut bosun_x) = (vec![], vec![], vec![], vec![], vec![]);
    let mut last_full = String::new();
    for round in 0..rounds {
        let tar_first = round % 2 == 0;
        reset(&root.join("tar"));
        let tar_create = || timed("tar -cf", Command::new("tar").arg("-I").arg("zstd -1 -T0").arg("-cf").arg(&tar_file).arg(&data));
        let ((elapsed, taken), tar_elapsed) = in_turn(!tar_first, || run_backup(&mut bosun(), "--full"), tar_create);
        tar_full.push(tar_elapsed);
        bosun_full.push(elapsed);
        last_full = taken["backup"]["id"].as_str().unwrap().to_string();
        bosun_incr.push(run_backup(&mut bosun(), "--incremental").0);

        reset(&root.join("restore-tar"));
        let target = root.join("restore-bosun");
        let _ = std::fs::remove_dir_all(&target);
        let tar_extract = || timed("tar -xf", Command::new("tar").arg("-I").arg("zstd").arg("-xf").arg(&tar_file).arg("-C").arg(root.join("restore-tar")));
        let bosun_restore = || timed("bosun backup restore", bosun().args(["backup", "restore", &last_full, "--target"]).arg(&target));
        let (tar_elapsed, elapsed) = in_turn(tar_first, tar_extract, bosun_restore);
        tar_x.push(tar_elapsed);
        bosun_x.push(elapsed);
        eprintln!("round {}: tar {:.2}s, bosun full {:.2}s, incremental {:.2}s; restore: tar {:.2}s, bosun {:.2}s", round + 1,
            secs(tar_full[round]), secs(bosun_full[round]), secs(bosun_incr[round]), secs(tar_x[round]), secs(bosun_x[round]));
    }
    let (save_cli, save_bosun) = bench_image_save(&root, rounds);
    let (tar_full, bosun_full, bosun_incr, tar_x, bosun_x) = (median(tar_full), median(bosun_full), median(bosun_incr), median(tar_x), median(bosun_x));
    let tar_size = std::fs::metadata(&tar_file).unwrap().len();
    let bosun_size: u64 = std::fs::read_dir(root.join("backups").join(&last_full)).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    println!("dir-archive on {files} files, {:.0} MiB; medians of {rounds} rounds", bytes as f64 / 1048576.0);
    println!("  full backup:  bosun {:.2}s vs tar+zstd {:.2}s  ratio {:.2} (target <= 1.0); size {:.0} vs {:.0} MiB",
        secs(bosun_full), secs(tar_full), secs(bosun_full) / secs(tar_full), bosun_size as f64 / 1048576.0, tar_size as f64 / 1048576.0);
    println!("  incremental, nothing changed: {:.2}s = {:.3} of the full backup (target <= 0.1)", secs(bosun_incr), secs(bosun_incr) / secs(bosun_full));
    println!("  restore:      bosun {:.2}s vs tar -xf {:.2}s  ratio {:.2} (target <= 1.0)", secs(bosun_x), secs(tar_x), secs(bosun_x) / secs(tar_x));
    println!("  docker-image: bosun {:.2}s vs docker save -o {:.2}s  ratio {:.2} (target <= 1.1)", secs(save_bosun), secs(save_cli), secs(save_bosun) / secs(save_cli));
}

/// Builds the image, then times `docker save -o` and `bosun backup run images`, interleaved.
fn bench_image_save(root: &Path, rounds: usize) -> (Duration, Duration) {
    let mib = env_or("BOSUN_BENCH_IMAGE_MIB", 512);
    let context = root.join("image");
    std::fs::create_dir_all(&context).unwrap();
    let mut fill = Filler(0x2545_f491_4f6c_dd1d);
    for layer in 0..2 {
        std::fs::write(context.join(format!("blob{layer}")), fill.noise((mib << 20) / 2)).unwrap();
    }
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY blob0 /blob0\nCOPY blob1 /blob1\n").unwrap();
    let image = format!("bosun-bench-image:{}", std::process::id());
    timed("docker build", Command::new("docker").args(["build", "-q", "-t", &image]).arg(&context));
    std::fs::write(
        root.join("images.toml"),
        format!(
            "[project]\nname = \"bench\"\nstate_dir = \"{r}/state\"\n\n[backups.images]\nstrategy = \"docker-image\"\ndest = \"{r}/image-backups\"\nimages = [\"{image}\"]\n\n[plugins.docker-image]\ntimeout_ms = 3600000\ngrant.docker = [\"inspect,save:bosun-bench-image*\"]\n",
            r = root.display()
        ),
    )
    .unwrap();
    let (mut cli, mut bosun) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let out = root.join("saved.tar");
        let cli_save = || timed("docker save", Command::new("docker").args(["save", "-o"]).arg(&out).arg(&image));
        let bosun_save = || {
            let mut run = Command::new(env!("CARGO_BIN_EXE_bosun"));
            run.current_dir(root).args(["--config", "images.toml", "backup", "run", "images"]);
            timed("bosun backup run images", &mut run)
        };
        let (cli_elapsed, bosun_elapsed) = in_turn(round % 2 == 0, cli_save, bosun_save);
        eprintln!("image round {}: docker save {:.2}s, bosun {:.2}s", round + 1, secs(cli_elapsed), secs(bosun_elapsed));
        cli.push(cli_elapsed);
        bosun.push(bosun_elapsed);
        std::fs::remove_file(&out).unwrap();
        let _ = std::fs::remove_dir_all(root.join("image-backups"));
    }
    let _ = Command::new("docker").args(["rmi", &image]).output();
    (median(cli), median(bosun))
}
