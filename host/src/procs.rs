//! Processes on this machine, read from /proc through the procfs crate. One
//! finder for every caller: the `process` check (through the plugin
//! interface) and `[watch]` find processes by name, command line, pid (from
//! a pidfile) or listening port the same way.

use std::collections::HashMap;

use procfs::Current;
use procfs::net::TcpState;
use procfs::process::{FDTarget, Process};

/// How a process is found.
pub enum Find {
    /// The program's name as the kernel has it (`comm`).
    Name(String),
    /// A glob over the command line, arguments joined by spaces.
    Cmdline(globset::GlobMatcher),
    /// This pid.
    Pid(u32),
    /// The pid a pidfile names, if its process started no later than the
    /// file was last written (give or take a second): a process started later
    /// was given the pid after the program the file is about had ended.
    Pidfile { pid: u32, written_at_ms: i64 },
    /// Whoever listens on this TCP port (IPv4 or IPv6).
    Port(u16),
    /// The processes of this session.
    Session(u32),
}

impl Find {
    /// A command-line glob, or why it is not one.
    pub fn cmdline(pattern: &str) -> Result<Find, String> {
        globset::Glob::new(pattern).map(|g| Find::Cmdline(g.compile_matcher())).map_err(|e| format!("cmdline glob {pattern:?}: {e}"))
    }
}

/// How to find what a pidfile names, from its text and when it was last
/// written; none when the text is not one positive pid.
pub fn pidfile(text: &str, written: std::time::SystemTime) -> Option<Find> {
    let pid = text.trim().parse().ok().filter(|pid| *pid > 0)?;
    let written_at_ms = written.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    // Written "before boot": the clock was set after it (a machine without a
    // real-time clock), so the time says nothing and the pid is taken as it is.
    let boot_ms = procfs::boot_time_secs().map_or(0, |secs| secs as i64 * 1000);
    Some(Find::Pidfile { pid, written_at_ms: if written_at_ms < boot_ms { i64::MAX - PIDFILE_SLACK_MS } else { written_at_ms } })
}

/// A pidfile's text (its first 64 bytes: a pid is shorter) and how to find
/// what it names (none when it is not one positive pid).
pub fn read_pidfile(file: std::fs::File) -> std::io::Result<(String, Option<Find>)> {
    let written = file.metadata()?.modified()?;
    let text = std::io::read_to_string(std::io::Read::take(file, 64))?;
    let find = pidfile(&text, written);
    Ok((text, find))
}

/// How much later than its pidfile's writing a process may seem to have
/// started: the boot time and clock ticks it is reckoned from are coarse.
const PIDFILE_SLACK_MS: i64 = 1000;

/// One process as /proc shows it at one moment.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub name: String,
    pub cmdline: Vec<String>,
    /// When it started, in clock ticks since boot: with the pid, it names
    /// this process and no later one that reuses the pid.
    pub start_ticks: u64,
    /// User plus system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    pub threads: u64,
    /// Its process group and session (the pids of their leaders).
    pub group: u32,
    pub session: u32,
}

impl Proc {
    /// None for a process that has ended (a zombie, not yet reaped, included).
    fn read(process: &Process) -> Option<Proc> {
        let stat = process.stat().ok()?;
        if matches!(stat.state, 'Z' | 'X' | 'x') {
            return None;
        }
        Some(Proc {
            pid: u32::try_from(stat.pid).ok()?,
            name: stat.comm.clone(),
            cmdline: process.cmdline().unwrap_or_default(),
            start_ticks: stat.starttime,
            cpu_ticks: stat.utime + stat.stime,
            rss_bytes: stat.rss * procfs::page_size(),
            threads: u64::try_from(stat.num_threads).unwrap_or(0),
            group: u32::try_from(stat.pgrp).unwrap_or(0),
            session: u32::try_from(stat.session).unwrap_or(0),
        })
    }

    /// When it started, in milliseconds since the Unix epoch.
    pub fn started_at_ms(&self) -> i64 {
        let boot = procfs::boot_time_secs().unwrap_or(0) as f64;
        ((boot + self.start_ticks as f64 / ticks_per_second()) * 1000.0) as i64
    }

    /// How long it has run, in seconds.
    pub fn uptime_secs(&self) -> f64 {
        (uptime_secs() - self.start_ticks as f64 / ticks_per_second()).max(0.0)
    }

    /// Its CPU use averaged over its whole life, in percent of one core.
    pub fn lifetime_cpu_percent(&self) -> f32 {
        (self.cpu_ticks as f64 / ticks_per_second() / self.uptime_secs().max(0.001) * 100.0) as f32
    }

    /// Its open files, read once: how many, and the TCP ports among them that
    /// listen (from `listening`, see [`listening_sockets`]); none when /proc
    /// will not say (another user's process).
    pub fn open_files(&self, listening: &HashMap<u64, u16>) -> Option<OpenFiles> {
        let fds: Vec<FDTarget> = Process::new(self.pid as i32).and_then(|p| p.fd()).ok()?.filter_map(|fd| Some(fd.ok()?.target)).collect();
        let mut ports: Vec<u16> = fds.iter().filter_map(|target| if let FDTarget::Socket(inode) = target { listening.get(inode).copied() } else { None }).collect();
        ports.sort_unstable();
        ports.dedup();
        Some(OpenFiles { count: fds.len() as u64, ports })
    }
}

/// What [`Proc::open_files`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFiles {
    pub count: u64,
    pub ports: Vec<u16>,
}

/// Clock ticks per second, the unit of /proc's times.
pub fn ticks_per_second() -> f64 {
    procfs::ticks_per_second().max(1) as f64
}

/// Seconds since boot.
pub fn uptime_secs() -> f64 {
    procfs::Uptime::current().map(|u| u.uptime).unwrap_or(0.0)
}

/// Every listening TCP socket of this network namespace: its inode and port.
pub fn listening_sockets() -> HashMap<u64, u16> {
    let tables = [procfs::net::tcp(), procfs::net::tcp6()];
    tables
        .into_iter()
        .flat_map(Result::unwrap_or_default)
        .filter(|entry| entry.state == TcpState::Listen)
        .map(|entry| (entry.inode, entry.local_address.port()))
        .collect()
}

/// Every process `find` matches, read now.
pub fn find(find: &Find) -> Vec<Proc> {
    match find {
        Find::Pid(pid) | Find::Pidfile { pid, .. } => {
            let procs = Process::new(*pid as i32).ok().and_then(|p| Proc::read(&p)).into_iter().collect();
            Snapshot { procs, listening: HashMap::new(), holders: std::sync::OnceLock::new() }.find(find)
        }
        _ => Snapshot::take().find(find),
    }
}

/// Every process of this machine at one moment: /proc walked once, for as
/// many finds as there are targets.
pub struct Snapshot {
    procs: Vec<Proc>,
    listening: HashMap<u64, u16>,
    /// Socket inode to the pids holding it: every process's open files are
    /// read only when a find asks for a port, and then once.
    holders: std::sync::OnceLock<HashMap<u64, Vec<u32>>>,
}

impl Snapshot {
    pub fn take() -> Snapshot {
        let procs = procfs::process::all_processes().into_iter().flatten().filter_map(|p| Proc::read(&p.ok()?)).collect();
        Snapshot { procs, listening: listening_sockets(), holders: std::sync::OnceLock::new() }
    }

    /// Every listening TCP socket: its inode and port.
    pub fn listening(&self) -> &HashMap<u64, u16> {
        &self.listening
    }

    pub fn find(&self, find: &Find) -> Vec<Proc> {
        let matching: Box<dyn Fn(&Proc) -> bool> = match find {
            Find::Pid(pid) => Box::new(move |p| p.pid == *pid),
            Find::Pidfile { pid, written_at_ms } => Box::new(move |p| p.pid == *pid && p.started_at_ms() <= written_at_ms + PIDFILE_SLACK_MS),
            Find::Session(session) => Box::new(move |p| p.session == *session),
            Find::Name(name) => Box::new(move |p| &p.name == name),
            Find::Cmdline(glob) => Box::new(move |p| glob.is_match(p.cmdline.join(" "))),
            Find::Port(port) => {
                let holders = self.holders.get_or_init(|| socket_holders(&self.procs, &self.listening));
                let pids: Vec<u32> = self.listening.iter().filter(|(_, p)| *p == port).flat_map(|(inode, _)| holders.get(inode).into_iter().flatten().copied()).collect();
                Box::new(move |p| pids.contains(&p.pid))
            }
        };
        self.procs.iter().filter(|p| matching(p)).cloned().collect()
    }
}

/// Which of `procs` hold each listening socket.
fn socket_holders(procs: &[Proc], listening: &HashMap<u64, u16>) -> HashMap<u64, Vec<u32>> {
    let mut holders: HashMap<u64, Vec<u32>> = HashMap::new();
    for proc in procs {
        let Ok(fds) = Process::new(proc.pid as i32).and_then(|p| p.fd()) else { continue };
        for fd in fds.filter_map(Result::ok) {
            if let FDTarget::Socket(inode) = fd.target
                && listening.contains_key(&inode)
            {
                holders.entry(inode).or_default().push(proc.pid);
            }
        }
    }
    holders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_test_by_pid_name_command_line_and_port() {
        let me = std::process::id();
        let found = find(&Find::Pid(me));
        assert_eq!(found.len(), 1);
        let this = &found[0];
        assert!(this.threads >= 1 && this.rss_bytes > 0, "{this:?}");
        assert!(find(&Find::Name(this.name.clone())).iter().any(|p| p.pid == me));
        let line = format!("{}*", this.cmdline[0]);
        assert!(find(&Find::cmdline(&line).unwrap()).iter().any(|p| p.pid == me));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(find(&Find::Port(port)).iter().map(|p| p.pid).collect::<Vec<_>>(), [me]);
        let files = this.open_files(&listening_sockets()).unwrap();
        assert!(files.count > 2 && files.ports.contains(&port), "{files:?}");
        let age_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 - this.started_at_ms();
        assert!((0..600_000).contains(&age_ms), "started {age_ms} ms ago");
    }

    #[test]
    fn a_pidfile_holds_one_positive_pid_and_finds_only_a_process_started_before_it_was_written() {
        let now = std::time::SystemTime::now();
        assert!(matches!(pidfile("1234\n", now), Some(Find::Pidfile { pid: 1234, .. })));
        assert!(pidfile("0", now).is_none() && pidfile("12 34", now).is_none());
        assert!(Find::cmdline("[unclosed").is_err());
        // This process started before now: a pidfile written now names it. One written
        // seconds before it started names a program that ended; this process got the pid later.
        let me = std::process::id().to_string();
        assert_eq!(find(&pidfile(&me, now).unwrap()).len(), 1);
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_millis(find(&Find::Pid(std::process::id()))[0].started_at_ms() as u64);
        assert!(find(&pidfile(&me, started - std::time::Duration::from_secs(5)).unwrap()).is_empty());
    }
}
