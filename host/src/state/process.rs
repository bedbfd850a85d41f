//! Which process wrote a record, so a later bosun can tell whether it still
//! runs. A pid alone is not enough: pids are reused, and they restart from 1
//! after a reboot, so a run also records when its process started.

use super::locks::hostname;

/// A process on a host: its pid and when it started (boot id and start time
/// in clock ticks since boot, from /proc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessMark {
    pub host: String,
    pub pid: u32,
    pub started: String,
}

impl ProcessMark {
    pub fn current() -> ProcessMark {
        let pid = std::process::id();
        ProcessMark { host: hostname(), pid, started: started(pid).unwrap_or_default() }
    }

    /// True only when this host can tell the process is gone: it ran here,
    /// and no process with its pid and start time runs now.
    pub fn is_gone(&self) -> bool {
        if self.host != hostname() || self.pid == 0 {
            return false;
        }
        match started(self.pid) {
            None => !alive(self.pid),
            Some(now) => !self.started.is_empty() && now != self.started,
        }
    }
}

/// Whether a process with `pid` exists (signal 0 checks without sending).
pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

/// `boot-id/start-ticks` of a running process; None when it does not run.
fn started(pid: u32) -> Option<String> {
    let start_ticks = crate::procs::find(&crate::procs::Find::Pid(pid)).first()?.start_ticks;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}/{start_ticks}", boot.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_an_ended_one_is_gone() {
        let me = ProcessMark::current();
        assert!(!me.started.is_empty() && !me.is_gone());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(ProcessMark { pid, ..me.clone() }.is_gone());
        // The same pid started at another time is another process (a reused pid).
        assert!(ProcessMark { started: "other-boot/1".into(), ..me.clone() }.is_gone());
        // A process on another host cannot be judged from here.
        assert!(!ProcessMark { host: "elsewhere".into(), pid, ..me }.is_gone());
    }
}
