//! `bosun:plugin/notify`: a plugin raises events; the host routes them to the
//! channels subscribed to them. Grant entries are event-kind globs (`check.*`).

use globset::{Glob, GlobMatcher};
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use crate::plugin::bindings::notify::{self, Event};
use crate::plugin::bindings::types::HostError;

#[derive(Debug, Clone, Default)]
pub struct Grant {
    kinds: Vec<GlobMatcher>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let kinds = entries
            .iter()
            .map(|e| Glob::new(e).map(|g| g.compile_matcher()).map_err(|err| format!("{e:?} is not an event-kind glob: {err}")))
            .collect::<Result<_, _>>()?;
        Ok(Grant { kinds })
    }

    pub fn allows(&self, kind: &str) -> bool {
        self.kinds.iter().any(|g| g.is_match(kind))
    }
}

pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    notify::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl notify::Host for HostState {
    async fn emit(&mut self, event: Event) -> Result<(), HostError> {
        let kind = event.kind.clone();
        let check = self.call.policy.check("notify.emit", &kind, "notify", kind.clone(), |g| g.notify.allows(&kind));
        self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))?;
        if self.call.execute("notify.emit", &kind) {
            self.call.events.push(event);
        }
        Ok(())
    }
}
