//! `bosun:plugin/docker`: the Docker engine through bollard, each call checked
//! against `action:name-glob` grants. The engine connection is shared by all
//! calls of a runtime and made on first use (honouring DOCKER_HOST).

mod call_engine;
mod convert;
mod exec_output;
mod file_sink;
mod grant;
mod host;
mod saved;
mod socket_get;
mod tar_reader;

use wasmtime::component::{HasSelf, Linker};

pub use grant::{Action, Grant};

use super::{CallState, HostState};
use crate::plugin::bindings::docker;
use crate::plugin::bindings::types::HostError;

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    docker::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl CallState {
    /// Checks `action` on `name` against the policy.
    pub fn docker_access(&mut self, call: &str, action: Action, name: &str) -> Result<(), HostError> {
        let entry = format!("{}:{}", action.as_str(), name.trim_start_matches('/'));
        let check = self.policy.check(call, name, "docker", entry, |g| g.docker.allows(action, name));
        self.allow(check).map_err(|d| HostError::Denied(d.to_string()))
    }

    /// The shared engine connection, made on first use.
    pub async fn docker(&self) -> Result<crate::docker::Connection, HostError> {
        self.services
            .docker
            .get_or_try_init(crate::docker::connect)
            .await
            .cloned()
            .map_err(|e| HostError::Failed(e.to_string()))
    }
}
