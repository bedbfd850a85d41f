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
//! 1024). Each comparison runs `BOSUN_BENCH_ROUNDS` rounds (default 4) of
//! four runs, in the order A B B A or B A A B (alternating): on this VM a
//! command run right after another heavy one is up to 40% slower, and in
//! that order each side has one early and one late run. A round's ratio is
//! the sum of its two bosun runs over the sum of the other side's; the
//! median round ratio is reported, with median times per run. Caches are
//! warm for both sides alike, and every timed command starts after a
//! `sync`, so none pays for another's writeback. Each side deletes what its
//! previous run wrote before it writes again (tar its archive, bosun its
//! backups): on this VM, writing into memory not used since boot took up to
//! twice the system time (tar -cf into a new file each time: 5.0 s against
//! 2.6–3.8 s), so a side that kept its outputs paid for it.

mod measure;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use measure::{median, median_of, secs, settle};

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

/// Runs `a` and `b` twice each, as A B B A when `a_first`, else B A A B,
/// and returns each side's total.
fn paired(a_first: bool, mut a: impl FnMut() -> Duration, mut b: impl FnMut() -> Duration) -> (Duration, Duration) {
    let (mut total_a, mut total_b) = (Duration::ZERO, Duration::ZERO);
    for a_now in [a_first, !a_first, !a_first, a_first] {
        match a_now {
            true => total_a += a(),
            false => total_b += b(),
        }
    }
    (total_a, total_b)
}

/// One comparison's rounds: bosun's and the other side's total per round.
#[derive(Default)]
struct Comparison {
    bosun: Vec<Duration>,
    other: Vec<Duration>,
}

impl Comparison {
    fn push(&mut self, bosun: Duration, other: Duration) {
        self.bosun.push(bosun);
        self.other.push(other);
    }

    /// The median of the rounds' bosun/other ratios.
    fn ratio(&self) -> f64 {
        median_of(self.bosun.iter().zip(&self.other).map(|(b, o)| secs(*b) / secs(*o)).collect())
    }

    /// Median seconds per run (a round total holds two runs): bosun, other.
    fn per_run(&self) -> (f64, f64) {
        (secs(median(self.bosun.clone())) / 2.0, secs(median(self.other.clone())) / 2.0)
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
    let (mut full, mut restore, mut incremental) = (Comparison::default(), Comparison::default(), Vec::new());
    let mut last_full = String::new();
    for round in 0..rounds {
        let bosun_first = round % 2 == 1;
        let bosun_full = || {
            // Deleted behind the catalog's back: the next full and the
            // incremental on it need none of them.
            reset(&root.join("backups"));
            let (elapsed, taken) = run_backup(&mut bosun(), "--full");
            last_full = taken["backup"]["id"].as_str().unwrap().to_string();
            elapsed
        };
        let tar_create = || {
            reset(&root.join("tar"));
            timed("tar -cf", Command::new("tar").arg("-I").arg("zstd -1 -T0").arg("-cf").arg(&tar_file).arg(&data))
        };
        let (bosun_elapsed, tar_elapsed) = paired(bosun_first, bosun_full, tar_create);
        full.push(bosun_elapsed, tar_elapsed);
        incremental.push(run_backup(&mut bosun(), "--incremental").0);

        let target = root.join("restore-bosun");
        let bosun_restore = || {
            let _ = std::fs::remove_dir_all(&target);
            timed("bosun backup restore", bosun().args(["backup", "restore", &last_full, "--target"]).arg(&target))
        };
        let tar_extract = || {
            reset(&root.join("restore-tar"));
            timed("tar -xf", Command::new("tar").arg("-I").arg("zstd").arg("-xf").arg(&tar_file).arg("-C").arg(root.join("restore-tar")))
        };
        let (bosun_elapsed, tar_elapsed) = paired(bosun_first, bosun_restore, tar_extract);
        restore.push(bosun_elapsed, tar_elapsed);
        eprintln!("round {}: full backup (2 runs each): bosun {:.2}s, tar {:.2}s; incremental {:.2}s; restore (2 runs each): bosun {:.2}s, tar {:.2}s", round + 1,
            secs(full.bosun[round]), secs(full.other[round]), secs(incremental[round]), secs(restore.bosun[round]), secs(restore.other[round]));
    }
    let image = bench_image_save(&root, rounds);
    let tar_size = std::fs::metadata(&tar_file).unwrap().len();
    let bosun_size: u64 = std::fs::read_dir(root.join("backups").join(&last_full)).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    let ((full_bosun, full_tar), (restore_bosun, restore_tar), (image_bosun, image_cli)) = (full.per_run(), restore.per_run(), image.per_run());
    let incremental = secs(median(incremental));
    println!("dir-archive on {files} files, {:.0} MiB; {rounds} rounds of A B B A; ratios are the median round's, times the median per run", bytes as f64 / 1048576.0);
    println!("  full backup:  bosun {full_bosun:.2}s vs tar+zstd {full_tar:.2}s  ratio {:.2} (target <= 1.0); size {:.0} vs {:.0} MiB",
        full.ratio(), bosun_size as f64 / 1048576.0, tar_size as f64 / 1048576.0);
    println!("  incremental, nothing changed: {incremental:.2}s = {:.3} of the full backup (target <= 0.1)", incremental / full_bosun);
    println!("  restore:      bosun {restore_bosun:.2}s vs tar -xf {restore_tar:.2}s  ratio {:.2} (target <= 1.0)", restore.ratio());
    println!("  docker-image: bosun {image_bosun:.2}s vs docker save -o {image_cli:.2}s  ratio {:.2} (target <= 1.1)", image.ratio());
}

/// Builds the image, then times `bosun backup run images` against `docker save -o`.
fn bench_image_save(root: &Path, rounds: usize) -> Comparison {
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
    let mut saves = Comparison::default();
    for round in 0..rounds {
        let out = root.join("saved.tar");
        let cli_save = || {
            let _ = std::fs::remove_file(&out);
            timed("docker save", Command::new("docker").args(["save", "-o"]).arg(&out).arg(&image))
        };
        let bosun_save = || {
            let _ = std::fs::remove_dir_all(root.join("image-backups"));
            let mut run = Command::new(env!("CARGO_BIN_EXE_bosun"));
            run.current_dir(root).args(["--config", "images.toml", "backup", "run", "images"]);
            timed("bosun backup run images", &mut run)
        };
        let (bosun_elapsed, cli_elapsed) = paired(round % 2 == 1, bosun_save, cli_save);
        eprintln!("image round {} (2 runs each): bosun {:.2}s, docker save {:.2}s", round + 1, secs(bosun_elapsed), secs(cli_elapsed));
        saves.push(bosun_elapsed, cli_elapsed);
    }
    let _ = Command::new("docker").args(["rmi", &image]).output();
    saves
}
