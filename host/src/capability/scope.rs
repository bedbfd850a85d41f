//! What every capability sees of a call: whose call it is, under which
//! policy, until when, and where a dry run's held-back calls and the call's
//! denials are recorded. Each capability's view of the store holds this plus
//! only the state of its own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Denial, Policy};

/// A mutating host call a dry run recorded instead of executing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedCall {
    pub call: String,
    pub detail: String,
}

pub struct CallScope {
    pub plugin: String,
    pub policy: Arc<Policy>,
    pub dry_run: bool,
    /// When the call's wall-clock budget ends; host calls bound their own work by it.
    pub deadline: Instant,
    /// Shared with the wasi:http hooks, which record in a dry run too.
    pub planned: Arc<Mutex<Vec<PlannedCall>>>,
    pub denials: Arc<Mutex<Vec<Denial>>>,
}

impl CallScope {
    /// A call of `plugin` under `policy`, ending at `deadline`, with nothing
    /// recorded yet.
    pub fn new(plugin: &str, policy: Arc<Policy>, dry_run: bool, deadline: Instant) -> CallScope {
        CallScope { plugin: plugin.to_string(), policy, dry_run, deadline, planned: Default::default(), denials: Default::default() }
    }

    /// Checks a call against the policy, remembering a denial so the runtime can
    /// report it as the typed cause if the plugin then fails.
    pub fn allow(&mut self, result: Result<(), Denial>) -> Result<(), Denial> {
        if let Err(denial) = &result {
            record_denial(&self.denials, denial.clone());
        }
        result
    }

    /// In a dry run, records a mutating call and returns false (do not execute).
    pub fn execute(&mut self, call: &str, detail: impl Into<String>) -> bool {
        if self.dry_run {
            self.planned.lock().expect("planned lock").push(PlannedCall { call: call.to_string(), detail: detail.into() });
            return false;
        }
        true
    }

    /// Time left before the call's deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The calls a dry run held back, taken out of the scope.
    pub fn take_planned(&self) -> Vec<PlannedCall> {
        std::mem::take(&mut *self.planned.lock().expect("planned lock"))
    }

    /// The call's denials, taken out of the scope (the first is the typed cause).
    pub fn take_denials(&self) -> Vec<Denial> {
        std::mem::take(&mut *self.denials.lock().expect("denials lock"))
    }

    /// Bytes held in the scope's records.
    pub(super) fn records_bytes(&self) -> usize {
        self.planned.lock().expect("planned lock").iter().map(|p| super::held::RECORD_BYTES + p.call.len() + p.detail.len()).sum()
    }
}

/// A call of plugin `p` whose manifest requests `requested` and whose
/// operator granted `granted`, for the capabilities' own tests.
#[cfg(test)]
pub(crate) fn test_scope(requested: super::GrantSpec, granted: super::GrantSpec, dry_run: bool) -> CallScope {
    let policy = Policy::new("p", &requested, &granted).expect("valid grants");
    CallScope::new("p", Arc::new(policy), dry_run, Instant::now() + Duration::from_secs(10))
}

/// Distinct denials kept per call: the first is the typed cause; a plugin
/// retrying a denied call in a loop adds nothing after the first of its kind.
const MAX_DENIALS: usize = 16;

/// Remembers a denial: the runtime reports it once when the call ends, as
/// the typed cause if the plugin then failed, as a warning if it went on.
pub(crate) fn record_denial(denials: &Mutex<Vec<Denial>>, denial: Denial) {
    let mut denials = denials.lock().expect("denials lock");
    if denials.len() < MAX_DENIALS && !denials.contains(&denial) {
        denials.push(denial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::DenialReason;

    fn scope(dry_run: bool) -> CallScope {
        CallScope::new("p", Arc::new(Policy::default()), dry_run, Instant::now() + Duration::from_secs(5))
    }

    #[test]
    fn a_dry_run_records_instead_of_executing() {
        let mut dry = scope(true);
        assert!(!dry.execute("docker.stop", "web"));
        assert_eq!(dry.take_planned(), vec![PlannedCall { call: "docker.stop".into(), detail: "web".into() }]);
        let mut real = scope(false);
        assert!(real.execute("docker.stop", "web"));
        assert!(real.take_planned().is_empty());
    }

    #[test]
    fn denials_are_kept_once_and_at_most_sixteen() {
        let mut scope = scope(false);
        let denial = |n: usize| Denial { plugin: "p".into(), call: "fs.stat".into(), target: format!("/x{n}"), reason: DenialReason::NotRequested };
        for _ in 0..3 {
            assert!(scope.allow(Err(denial(0))).is_err());
        }
        for n in 1..40 {
            let _ = scope.allow(Err(denial(n)));
        }
        let kept = scope.take_denials();
        assert_eq!(kept.len(), MAX_DENIALS);
        assert_eq!(kept[0], denial(0));
        assert_eq!(kept[1], denial(1));
    }
}
