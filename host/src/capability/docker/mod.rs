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

use wasmtime::component::{HasData, Linker};

pub use grant::{Action, Grant};

use super::{CallScope, Capability, HostServices, HostState, Side};
use crate::bindings::docker;
use crate::bindings::types::HostError;

pub struct Docker;

impl HasData for Docker {
    type Data<'a> = DockerView<'a>;
}

/// What the docker interface sees of a call: its scope, and the runtime's
/// shared engine connection.
pub struct DockerView<'a> {
    call: &'a mut CallScope,
    services: &'a HostServices,
}

impl<'a> DockerView<'a> {
    /// The view host calls run on; the runtime makes it from a call's store data.
    pub fn new(call: &'a mut CallScope, services: &'a HostServices) -> DockerView<'a> {
        DockerView { call, services }
    }
}

impl Capability for Docker {
    const NAME: &'static str = "docker";
    type Grant = Grant;

    fn parse(entries: &[String], _: Side) -> Result<Grant, String> {
        Grant::parse(entries)
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        docker::add_to_linker::<HostState, Docker>(linker, view)
    }
}

pub(super) fn view(state: &mut HostState) -> DockerView<'_> {
    DockerView::new(&mut state.call, &state.services)
}

impl DockerView<'_> {
    /// Checks `action` on `name` against the policy.
    fn docker_access(&mut self, call: &str, action: Action, name: &str) -> Result<(), HostError> {
        let entry = format!("{}:{}", action.as_str(), name.trim_start_matches('/'));
        let check = self.call.policy.check(call, name, "docker", entry, |g| g.docker.allows(action, name));
        self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))
    }

    /// The engine the policy points at (the environment's when none), its
    /// connection shared by the runtime's calls and made on first use.
    async fn docker(&self) -> Result<crate::docker::Connection, HostError> {
        let failed = |e: anyhow::Error| HostError::Failed(e.to_string());
        let Some(endpoint) = &self.call.policy.engine else {
            return self.services.docker.get_or_try_init(crate::docker::connect).await.cloned().map_err(failed);
        };
        let mut engines = self.services.engines.lock().await;
        let key = format!("{endpoint:?}");
        if let Some(connection) = engines.get(&key) {
            return Ok(connection.clone());
        }
        let connection = crate::docker::connect_to(endpoint.clone(), crate::docker::HINT).await.map_err(failed)?;
        engines.insert(key, connection.clone());
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::GrantSpec;
    use crate::capability::scope::test_scope;
    use crate::bindings::docker::Host;

    #[tokio::test]
    async fn an_ungranted_container_is_refused_before_the_engine_is_asked() {
        let spec = |e: &str| GrantSpec { docker: vec![e.into()], ..Default::default() };
        let mut call = test_scope(spec("*:*"), spec("inspect,stop:shop-*"), false);
        let services = HostServices::default();
        let mut docker = DockerView::new(&mut call, &services);
        let denied = docker.stop("billing-db".into(), 1).await.unwrap_err();
        assert!(matches!(&denied, HostError::Denied(m) if m.contains("[plugins.p.grant] docker = [\"stop:billing-db\"]")), "{denied:?}");
        let exec = docker.exec("shop-web".into(), vec!["id".into()], None).await.unwrap_err();
        assert!(matches!(exec, HostError::Denied(_)), "{exec:?}");
        assert!(services.docker.get().is_none(), "no connection was made");
    }
}
