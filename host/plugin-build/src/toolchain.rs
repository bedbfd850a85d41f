use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

pub const WASM_TARGET: &str = "wasm32-wasip1";

/// How plugin crates get compiled for `wasm32-wasip1` on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// rustup's toolchain has the `wasm32-wasip1` standard library installed.
    Rustup,
    /// Debian's `rustc-web` + `rust-web-src` + `lld` + `wasi-libc`: std is
    /// compiled from source with `-Zbuild-std`.
    DebianBuildStd { rustc: PathBuf },
}

impl Toolchain {
    pub fn describe(&self) -> String {
        match self {
            Toolchain::Rustup => format!("rustup target {WASM_TARGET}"),
            Toolchain::DebianBuildStd { rustc } => {
                format!("{} with -Zbuild-std (Debian rustc-web)", rustc.display())
            }
        }
    }
}

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library/std";
const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi/libc.a";

/// Finds a usable toolchain. `BOSUN_WASM_TOOLCHAIN=rustup|debian` forces one.
pub fn detect_toolchain() -> Result<Toolchain> {
    let forced = std::env::var("BOSUN_WASM_TOOLCHAIN").ok();
    match forced.as_deref() {
        Some("rustup") => return Ok(Toolchain::Rustup),
        Some("debian") => return debian().ok_or_else(no_toolchain),
        Some(other) => bail!(
            "BOSUN_WASM_TOOLCHAIN={other:?} is not a toolchain: use `rustup` or `debian`, or unset it"
        ),
        None => {}
    }
    if rustup_has_wasm_target() {
        return Ok(Toolchain::Rustup);
    }
    debian().ok_or_else(no_toolchain)
}

fn no_toolchain() -> anyhow::Error {
    anyhow::anyhow!(
        "no {WASM_TARGET} toolchain found: run `rustup target add {WASM_TARGET}`, or on Debian \
         `scripts/setup` (installs rustc-web, rust-web-src, lld and wasi-libc)"
    )
}

fn rustup_has_wasm_target() -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot).join("lib/rustlib").join(WASM_TARGET).join("lib").is_dir()
}

fn debian() -> Option<Toolchain> {
    let complete = Path::new(DEBIAN_RUSTC).is_file()
        && Path::new(DEBIAN_STD_SRC).is_dir()
        && Path::new(DEBIAN_WASI_LIBC).is_file()
        && which("wasm-ld");
    complete.then(|| Toolchain::DebianBuildStd { rustc: DEBIAN_RUSTC.into() })
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}
