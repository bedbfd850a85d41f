//! The lock on a service+env held for the length of one deploy, rollback or
//! image update; released when the operation ends, however it ends.

use crate::failure::Failure;
use crate::state::State;

pub struct ServiceLock<'a> {
    state: &'a State,
    scope: String,
}

impl<'a> ServiceLock<'a> {
    /// Takes `scope` (`service@env`) for this process, or fails busy (exit 11)
    /// saying who holds it.
    pub fn acquire(state: &'a State, scope: &str, version: &str, message: &str) -> Result<ServiceLock<'a>, Failure> {
        state.acquire_lock(scope, std::process::id(), version, message)?;
        Ok(ServiceLock { state, scope: scope.to_string() })
    }
}

impl Drop for ServiceLock<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.state.release_own_lock(&self.scope, std::process::id()) {
            tracing::warn!("releasing the lock on {}: {e}; `bosun lock release` clears it", self.scope);
        }
    }
}
