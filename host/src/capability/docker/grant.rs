//! docker grants: `action[,action]:name-glob`, e.g. `inspect,logs:shop-*` or
//! `save:registry.example/shop-*`. Names are container names (without `/`),
//! ids, or image references.

use globset::{Glob, GlobMatcher};

/// What a docker call does; each host function needs exactly one, except
/// that `inspect-env` adds the values to what `inspect` shows of a
/// container's environment (they often hold passwords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Inspect,
    InspectEnv,
    Logs,
    Stats,
    Save,
    Load,
    Exec,
    Start,
    Stop,
    Copy,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Inspect,
        Action::InspectEnv,
        Action::Logs,
        Action::Stats,
        Action::Save,
        Action::Load,
        Action::Exec,
        Action::Start,
        Action::Stop,
        Action::Copy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Inspect => "inspect",
            Action::InspectEnv => "inspect-env",
            Action::Logs => "logs",
            Action::Stats => "stats",
            Action::Save => "save",
            Action::Load => "load",
            Action::Exec => "exec",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Copy => "copy",
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    actions: Vec<Action>,
    names: GlobMatcher,
}

#[derive(Debug, Clone, Default)]
pub struct Grant {
    rules: Vec<Rule>,
}

impl Grant {
    pub fn parse(entries: &[String]) -> Result<Grant, String> {
        let mut rules = Vec::new();
        for entry in entries {
            let (actions, names) = entry
                .split_once(':')
                .ok_or_else(|| format!("{entry:?} needs the form \"action[,action]:name-glob\", e.g. \"inspect:shop-*\""))?;
            let actions = actions
                .split(',')
                .map(|a| match a.trim() {
                    "*" => Ok(Action::ALL.to_vec()),
                    a => Action::ALL.into_iter().find(|x| x.as_str() == a).map(|x| vec![x]).ok_or_else(|| {
                        let known: Vec<_> = Action::ALL.iter().map(|x| x.as_str()).collect();
                        format!("{entry:?}: unknown action {a:?}; known: {}", known.join(", "))
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?
                .concat();
            let names = Glob::new(names).map_err(|e| format!("{entry:?}: {e}"))?.compile_matcher();
            rules.push(Rule { actions, names });
        }
        Ok(Grant { rules })
    }

    pub fn allows(&self, action: Action, name: &str) -> bool {
        let name = name.trim_start_matches('/');
        self.rules.iter().any(|r| r.actions.contains(&action) && r.names.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_times_names() {
        let g = Grant::parse(&["inspect,logs:shop-*".into(), "save:registry.example/shop-*".into()]).unwrap();
        assert!(g.allows(Action::Inspect, "shop-web"));
        assert!(g.allows(Action::Logs, "/shop-web"));
        assert!(!g.allows(Action::Stop, "shop-web"));
        assert!(!g.allows(Action::Inspect, "other"));
        assert!(g.allows(Action::Save, "registry.example/shop-web:1.2"));
        assert!(!g.allows(Action::InspectEnv, "shop-web"), "inspect does not show env values");
        assert!(Grant::parse(&["inspect-env:shop-*".into()]).unwrap().allows(Action::InspectEnv, "shop-web"));
        assert!(Grant::parse(&["kill:x".into()]).unwrap_err().contains("unknown action"));
        assert!(Grant::parse(&["x".into()]).unwrap_err().contains("action[,action]"));
    }
}
