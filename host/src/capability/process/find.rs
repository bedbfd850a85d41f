//! Finds running processes by reading /proc (Linux).

use std::path::{Path, PathBuf};

use crate::bindings::process::{Matcher, ProcessInfo};
use crate::bindings::types::HostError;

/// `pidfile`, for a pidfile matcher: the file opened beneath its grant, and where it is.
pub fn find(matcher: &Matcher, pidfile: Option<(std::fs::File, PathBuf)>) -> Result<Vec<ProcessInfo>, HostError> {
    let pids: Vec<u32> = match matcher {
        Matcher::Pidfile(_) => {
            let (file, path) = pidfile.expect("pidfile opened by the caller");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(file, 64), &mut text).map_err(|e| crate::capability::fs::io_error(&path, e))?;
            let pid = text.trim().parse().map_err(|_| HostError::Invalid(format!("{}: {:?} is not a pid", path.display(), text.trim())))?;
            vec![pid]
        }
        Matcher::Port(port) => pids_listening_on(*port),
        _ => all_pids(),
    };
    let cmdline_glob = match matcher {
        Matcher::Cmdline(pattern) => Some(
            globset::Glob::new(pattern).map_err(|e| HostError::Invalid(format!("cmdline glob {pattern:?}: {e}")))?.compile_matcher(),
        ),
        _ => None,
    };
    let mut out = Vec::new();
    for pid in pids {
        let Some(info) = read_process(pid) else { continue };
        let keep = match matcher {
            Matcher::Name(name) => &info.name == name,
            Matcher::Cmdline(_) => cmdline_glob.as_ref().is_some_and(|g| g.is_match(info.cmdline.join(" "))),
            Matcher::Pidfile(_) | Matcher::Port(_) => true,
        };
        if keep {
            out.push(info);
        }
    }
    Ok(out)
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn read_process(pid: u32) -> Option<ProcessInfo> {
    let base = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    // The name is in parentheses and may itself contain spaces or parentheses.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks = clock_ticks();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    let running_secs = (uptime - start_ticks / ticks).max(0.001);
    let boot_ms = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64() - uptime) * 1000.0;
    let cmdline = std::fs::read(base.join("cmdline"))
        .ok()?
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    Some(ProcessInfo {
        pid,
        name,
        cmdline,
        cpu_percent: (((utime + stime) / ticks) / running_secs * 100.0) as f32,
        rss_bytes: rss_pages * page_size(),
        started_at: (boot_ms + start_ticks / ticks * 1000.0) as i64,
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(1) as u64
}

/// Pids owning a TCP socket in LISTEN state on `port` (IPv4 or IPv6).
fn pids_listening_on(port: u16) -> Vec<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9)) else { continue };
            let local_port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                    .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            })
        })
        .collect()
}
