//! `bosun:plugin/notify`: a plugin raises events; the host routes them to the
//! channels subscribed to them. Grant entries are event-kind globs (`check.*`).

use globset::{Glob, GlobMatcher};
use wasmtime::component::{HasData, Linker};

use super::{CallScope, Capability, HostState, Side, held};
use crate::bindings::notify::{self, Event};
use crate::bindings::types::HostError;

pub struct Notify;

impl HasData for Notify {
    type Data<'a> = NotifyView<'a>;
}

/// What the notify interface sees of a call: its scope, and the events it raised.
pub struct NotifyView<'a> {
    call: &'a mut CallScope,
    outbox: &'a mut Outbox,
}

impl Capability for Notify {
    const NAME: &'static str = "notify";
    type Grant = Grant;

    fn parse(entries: &[String], _: Side) -> Result<Grant, String> {
        Grant::parse(entries)
    }

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        notify::add_to_linker::<HostState, Notify>(linker, view)
    }
}

pub(super) fn view(state: &mut HostState) -> NotifyView<'_> {
    NotifyView { call: &mut state.call, outbox: &mut state.outbox }
}

/// The events a call raised, routed by the caller when the call ends.
#[derive(Default)]
pub struct Outbox {
    pub events: Vec<Event>,
}

impl Outbox {
    pub(super) fn records_bytes(&self) -> usize {
        let record = held::RECORD_BYTES;
        self.events
            .iter()
            .map(|e| {
                let facts: usize = e.facts.iter().map(|f| record + f.key.len() + f.value.len()).sum();
                record + e.kind.len() + e.title.len() + e.body.len() + e.link.as_ref().map_or(0, String::len) + facts
            })
            .sum()
    }
}

/// Event-kind globs a plugin may emit (`check.*`).
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

impl notify::Host for NotifyView<'_> {
    async fn emit(&mut self, event: Event) -> Result<(), HostError> {
        let kind = event.kind.clone();
        let check = self.call.policy.check("notify.emit", &kind, "notify", kind.clone(), |g| g.notify.allows(&kind));
        self.call.allow(check).map_err(|d| HostError::Denied(d.to_string()))?;
        if self.call.execute("notify.emit", &kind) {
            self.outbox.events.push(event);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::GrantSpec;
    use crate::capability::scope::test_scope;
    use crate::bindings::notify::{Host, Severity};

    fn event(kind: &str) -> Event {
        Event { kind: kind.into(), severity: Severity::Info, title: "t".into(), body: String::new(), link: None, facts: vec![] }
    }

    fn scope(requested: &[&str], granted: &[&str], dry_run: bool) -> CallScope {
        let spec = |kinds: &[&str]| GrantSpec { notify: kinds.iter().map(|k| k.to_string()).collect(), ..Default::default() };
        test_scope(spec(requested), spec(granted), dry_run)
    }

    #[tokio::test]
    async fn only_granted_kinds_reach_the_outbox() {
        let (mut call, mut outbox) = (scope(&["check.*"], &["check.failed"], false), Outbox::default());
        let mut view = NotifyView { call: &mut call, outbox: &mut outbox };
        view.emit(event("check.failed")).await.unwrap();
        let denied = view.emit(event("check.passed")).await.unwrap_err();
        assert!(matches!(&denied, HostError::Denied(m) if m.contains("[plugins.p.grant] notify = [\"check.passed\"]")), "{denied:?}");
        assert_eq!(outbox.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["check.failed"]);
        assert_eq!(call.take_denials().len(), 1);
    }

    #[tokio::test]
    async fn a_dry_run_holds_events_back() {
        let (mut call, mut outbox) = (scope(&["*"], &["*"], true), Outbox::default());
        NotifyView { call: &mut call, outbox: &mut outbox }.emit(event("backup.done")).await.unwrap();
        assert!(outbox.events.is_empty());
        assert_eq!(call.take_planned()[0].call, "notify.emit");
    }
}
