//! Processes on this machine, found by [`crate::procs`] as the `process`
//! check finds them: one sample per `[watch.processes]` target, summed over
//! the processes it matches.

use std::collections::HashMap;

use crate::config::watch::ProcessTarget;
use crate::procs::{self, Find, Proc, Snapshot};
use crate::state::Sample;

/// A process by its pid and start time: a reused pid is another process.
type Identity = (u32, u64);

/// What the last collection saw of one target.
#[derive(Default)]
pub struct Seen {
    /// Each process's CPU ticks then.
    cpu_ticks: HashMap<Identity, u64>,
    /// When, in seconds since boot.
    at_uptime: f64,
    /// Its oldest process: when that one changes, the target restarted.
    oldest: Option<Identity>,
    restarts: i64,
}

/// How `target` is found; a pidfile that cannot be read finds nothing.
pub fn finder(target: &ProcessTarget) -> Option<Find> {
    Some(match target {
        ProcessTarget::Name(name) => Find::Name(name.clone()),
        ProcessTarget::Cmdline(pattern) => Find::cmdline(pattern).ok()?,
        ProcessTarget::Pidfile(path) => {
            // Non-blocking, a plain file, and a pid's length at most: a FIFO or /dev/zero put in its place cannot stall or fill watching.
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
            file.metadata().ok().filter(std::fs::Metadata::is_file)?;
            procs::read_pidfile(file).ok()?.1?
        }
        ProcessTarget::Port(port) => Find::Port(*port),
    })
}

/// One sample of target `name` from `snapshot`, found by `find` (none:
/// nothing to find). CPU is the change since `seen` (the last collection),
/// which this updates.
pub fn sample(name: &str, find: Option<Find>, at: i64, snapshot: &Snapshot, seen: &mut Seen) -> Sample {
    let found: Vec<Proc> = find.map(|f| snapshot.find(&f)).unwrap_or_default();
    let uptime_now = procs::uptime_secs();
    let mut sample = Sample { kind: "process".into(), target: name.to_string(), host: "local".into(), at, state: "missing".into(), ..Sample::default() };
    let oldest = found.iter().min_by_key(|p| p.start_ticks).map(|p| (p.pid, p.start_ticks));
    if seen.oldest.is_some() && oldest.is_some() && oldest != seen.oldest {
        seen.restarts += 1;
    }
    sample.restarts = Some(seen.restarts);
    let elapsed = uptime_now - seen.at_uptime;
    if !found.is_empty() {
        let used: u64 = found.iter().filter_map(|p| Some(p.cpu_ticks.saturating_sub(*seen.cpu_ticks.get(&(p.pid, p.start_ticks))?))).sum();
        let compared = found.iter().any(|p| seen.cpu_ticks.contains_key(&(p.pid, p.start_ticks)));
        sample.state = "running".into();
        sample.cpu_percent = (compared && elapsed > 0.0).then(|| used as f64 / procs::ticks_per_second() / elapsed * 100.0);
        sample.memory_bytes = Some(found.iter().map(|p| p.rss_bytes as i64).sum());
        sample.pids = Some(found.len() as i64);
        sample.threads = Some(found.iter().map(|p| p.threads as i64).sum());
        // Each process's open files are read once, for their count and the ports among them.
        let files: Vec<Option<procs::OpenFiles>> = found.iter().map(|p| p.open_files(snapshot.listening())).collect();
        sample.fds = files.iter().map(|f| f.as_ref().map(|f| f.count as i64)).sum();
        sample.uptime_secs = found.iter().map(|p| p.uptime_secs() as i64).max();
        let pids: Vec<String> = found.iter().map(|p| p.pid.to_string()).collect();
        let mut ports: Vec<u16> = files.iter().flatten().flat_map(|f| f.ports.iter().copied()).collect();
        ports.sort_unstable();
        ports.dedup();
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        sample.detail = Some(match ports.is_empty() {
            true => format!("pids {}", pids.join(",")),
            false => format!("pids {}; ports {}", pids.join(","), ports.join(",")),
        });
    }
    seen.cpu_ticks = found.iter().map(|p| ((p.pid, p.start_ticks), p.cpu_ticks)).collect();
    seen.at_uptime = uptime_now;
    if oldest.is_some() {
        seen.oldest = oldest;
    }
    sample
}
