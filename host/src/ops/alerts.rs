//! Alert rules over each collection, with Alertmanager's semantics: a
//! condition must hold `for` a while (pending, in memory), then fires once
//! (`alert.firing`, and again every `repeat`), and tells `alert.resolved`
//! when it stops holding. Firing alerts are kept in the store; a silence
//! holds the telling back, not the alert.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::app::App;
use crate::config::alerts::{AlertRule, AlertSeverity, Amount, Condition, RESTART_WINDOW};
use crate::failure::Failure;
use crate::ops::notify::{self, Delivery, Notice, Severity};
use crate::ops::watch::Collection;
use crate::state::{FiringAlert, Sample, State};

/// The rule that fires when a host's engine does not answer, when no
/// `[alerts.*]` rule says `unreachable`.
pub const ENGINE_UNREACHABLE: &str = "engine-unreachable";

/// One target as a rule sees it this time.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub target: String,
    pub host: String,
    pub holds: bool,
    /// What was seen, for people: `container web on local is exited`.
    pub summary: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    rule: String,
    target: String,
    host: String,
}

/// Watches as [`crate::ops::watch::run`] does, handing each collection to
/// `each` and then to the alert rules: what `bosun serve` and `bosun watch` run.
pub async fn watch(app: &App, stop: crate::ops::cancel::Cancel, mut each: impl AsyncFnMut(&Collection)) -> Result<(), Failure> {
    let mut alerter = Alerter::default();
    crate::ops::watch::run(app, stop, async |collection| {
        each(collection).await;
        if let Err(e) = alerter.observe(app, collection).await {
            tracing::warn!("alerts: {}", e.message);
        }
    })
    .await
}

/// What is pending between collections, and each target's recent restart counts.
#[derive(Default)]
struct Alerter {
    pending: HashMap<Key, i64>,
    restarts: HashMap<(String, String), VecDeque<(i64, i64)>>,
}

/// The rules in force: bosun.toml's, and the built-in engine one unless a rule covers it.
fn rules(app: &App) -> BTreeMap<String, AlertRule> {
    let mut rules = app.config.alerts.clone();
    if !rules.values().any(|r| r.condition() == Condition::Unreachable) {
        let builtin = AlertRule { when: "unreachable".into(), targets: vec![], hold: None, severity: AlertSeverity::Critical, channels: vec![], repeat: None };
        rules.insert(ENGINE_UNREACHABLE.into(), builtin);
    }
    rules
}

impl Alerter {
    /// Judges every rule against `collection`, fires, repeats and resolves,
    /// and tells the channels. Returns each delivery made.
    pub async fn observe(&mut self, app: &App, collection: &Collection) -> Result<Vec<Delivery>, Failure> {
        let state = app.state()?;
        let now = collection.at;
        self.note_restarts(&collection.samples, now);
        let silences = state.silences(now)?;
        let mut deliveries = Vec::new();
        let rules = rules(app);
        // A rule gone from bosun.toml no longer fires: what it had firing resolves.
        for alert in state.firing_alerts()?.into_iter().filter(|a| !rules.contains_key(&a.rule)) {
            deliveries.extend(self.resolve(app, state, &[], alert, now).await?);
        }
        for (name, rule) in rules {
            let observed = self.judge(app, state, &rule, collection)?;
            let mut seen = Vec::new();
            for o in observed {
                let key = Key { rule: name.clone(), target: o.target.clone(), host: o.host.clone() };
                seen.push(key.clone());
                let firing = state.firing_alert(&name, &o.target, &o.host)?;
                if !o.holds {
                    self.pending.remove(&key);
                    if let Some(alert) = firing {
                        deliveries.extend(self.resolve(app, state, &rule.channels, alert, now).await?);
                    }
                    continue;
                }
                let since = *self.pending.entry(key).or_insert(now);
                if now - since < rule.hold().as_secs() as i64 {
                    continue;
                }
                let silenced = silences.iter().any(|s| s.covers(&name, &o.target));
                let mut alert = firing.unwrap_or_else(|| FiringAlert {
                    rule: name.clone(),
                    target: o.target.clone(),
                    host: o.host.clone(),
                    since,
                    fired_at: now,
                    notified_at: None,
                    severity: format!("{:?}", rule.severity).to_lowercase(),
                    summary: o.summary.clone(),
                });
                alert.summary = o.summary.clone();
                let due = match (alert.notified_at, rule.repeat()) {
                    (None, _) => true,
                    (Some(last), Some(repeat)) => now - last >= repeat.as_secs() as i64,
                    (Some(_), None) => false,
                };
                if due && !silenced {
                    alert.notified_at = Some(now);
                    state.set_firing(&alert)?;
                    deliveries.extend(tell(app, &rule.channels, firing_notice(&rule, &alert, now)).await);
                } else {
                    state.set_firing(&alert)?;
                }
            }
            // A firing target no longer observed (no longer watched, or gone from bosun.toml) resolves.
            for alert in state.firing_alerts()?.into_iter().filter(|a| a.rule == name) {
                if !seen.iter().any(|k| k.target == alert.target && k.host == alert.host) {
                    deliveries.extend(self.resolve(app, state, &rule.channels, alert, now).await?);
                }
            }
        }
        Ok(deliveries)
    }

    /// Resolves `alert`, telling `channels` (none: those subscribed) when its firing was told.
    async fn resolve(&mut self, app: &App, state: &State, channels: &[String], alert: FiringAlert, now: i64) -> Result<Vec<Delivery>, Failure> {
        state.resolve_alert(&alert.rule, &alert.target, &alert.host)?;
        // Nobody was told it fired (a silence covered it throughout): nobody is told it ended.
        Ok(match alert.notified_at {
            Some(_) => tell(app, channels, resolved_notice(&alert, now)).await,
            None => Vec::new(),
        })
    }

    /// Keeps each target's restart counts over the last [`RESTART_WINDOW`].
    fn note_restarts(&mut self, samples: &[Sample], now: i64) {
        for s in samples {
            let Some(count) = s.restarts else { continue };
            let seen = self.restarts.entry((s.target.clone(), s.host.clone())).or_default();
            seen.push_back((s.at, count));
            while seen.front().is_some_and(|(at, _)| now - at > RESTART_WINDOW.as_secs() as i64) {
                seen.pop_front();
            }
        }
    }

    /// How `rule` finds each target it covers this time.
    fn judge(&self, app: &App, state: &State, rule: &AlertRule, collection: &Collection) -> Result<Vec<Observation>, Failure> {
        let covered = |target: &str| rule.targets.is_empty() || rule.targets.iter().any(|t| t == target);
        let condition = rule.condition();
        let observation = |target: &str, host: &str, holds: bool, summary: String| Observation { target: target.into(), host: host.into(), holds, summary };
        Ok(match &condition {
            Condition::Unreachable => {
                let hosts = app.config.hosts_in_use(&[]).unwrap_or_default();
                let down = |h: &str| collection.unreachable.iter().find(|u| u.host == h);
                let mut hosts: Vec<String> = hosts.into_iter().chain(collection.unreachable.iter().map(|u| u.host.clone())).collect();
                hosts.sort();
                hosts.dedup();
                hosts
                    .iter()
                    .filter(|h| covered(h))
                    .map(|h| match down(h) {
                        Some(u) => observation(h, h, true, format!("the Docker engine of host {h} does not answer: {}", u.error)),
                        None => observation(h, h, false, format!("the Docker engine of host {h} answers")),
                    })
                    .collect()
            }
            Condition::BackupOlder(age) => {
                let mut out = Vec::new();
                for set in app.config.backups.keys().filter(|s| covered(s)) {
                    let newest = state.latest_backup(set)?;
                    let (holds, summary) = match newest {
                        None => (true, format!("backup set {set} has no backup")),
                        Some(b) => {
                            let old = collection.at - b.created_at;
                            (old > age.as_secs() as i64, format!("the newest backup of {set} is {} old", crate::time::elapsed(std::time::Duration::from_secs(old.max(0) as u64))))
                        }
                    };
                    out.push(observation(set, "local", holds, summary));
                }
                out
            }
            Condition::CheckFailing(runs) => state
                .check_results()?
                .into_iter()
                .filter(|r| covered(&r.check))
                .map(|r| observation(&r.check, "local", r.failures >= i64::from(*runs), format!("check {} failed {} run(s) in a row", r.check, r.failures)))
                .collect(),
            _ => collection
                .samples
                .iter()
                .filter(|s| covered(&s.target) && s.state != "unknown")
                .filter_map(|s| self.judge_sample(&condition, s).map(|(holds, what)| observation(&s.target, &s.host, holds, format!("{} {} on {} {what}", s.kind, s.target, s.host))))
                .collect(),
        })
    }

    /// Whether `condition` holds for sample `s`, and what was seen; none when
    /// the sample cannot say (no CPU reading yet).
    fn judge_sample(&self, condition: &Condition, s: &Sample) -> Option<(bool, String)> {
        let gone = s.state == "missing";
        Some(match condition {
            Condition::Exited => (matches!(s.state.as_str(), "exited" | "dead") || (s.kind == "process" && gone), format!("is {}", s.state)),
            Condition::Disappeared => (gone, format!("is {}", s.state)),
            Condition::Unhealthy => (s.health.as_deref() == Some("unhealthy"), format!("is {}", s.health.as_deref().unwrap_or("without a healthcheck"))),
            Condition::Restarted => {
                let seen = self.restarts.get(&(s.target.clone(), s.host.clone()))?;
                let (first, last) = (seen.iter().map(|(_, c)| *c).min()?, s.restarts?);
                (last > first, format!("restarted {} time(s) in the last {}", last - first, crate::time::elapsed(RESTART_WINDOW)))
            }
            Condition::Cpu(cmp, limit) => {
                let cpu = s.cpu_percent?;
                (cmp.holds(cpu, *limit), format!("uses {cpu:.1}% CPU ({} {limit}%)", cmp.symbol()))
            }
            Condition::Memory(cmp, Amount::Bytes(limit)) => {
                let used = s.memory_bytes?;
                (cmp.holds(used as f64, *limit as f64), format!("uses {} of memory ({} {})", indicatif::HumanBytes(used.max(0) as u64), cmp.symbol(), indicatif::HumanBytes(*limit)))
            }
            Condition::Memory(cmp, Amount::Percent(limit)) => {
                let used = s.memory_bytes? as f64;
                let of = s.memory_limit.map(|l| l as f64).filter(|l| *l > 0.0).or_else(machine_memory)?;
                let share = used / of * 100.0;
                (cmp.holds(share, *limit), format!("uses {share:.1}% of its memory limit ({} {limit}%)", cmp.symbol()))
            }
            Condition::Unreachable | Condition::BackupOlder(_) | Condition::CheckFailing(_) => return None,
        })
    }
}

/// The machine's memory in bytes: a process's limit.
fn machine_memory() -> Option<f64> {
    use procfs::Current;
    procfs::Meminfo::current().ok().map(|m| m.mem_total as f64)
}

fn severity(rule: &AlertRule) -> Severity {
    match rule.severity {
        AlertSeverity::Info => Severity::Info,
        AlertSeverity::Warning => Severity::Warning,
        AlertSeverity::Critical => Severity::Failure,
    }
}

fn with_facts(notice: Notice, alert: &FiringAlert) -> Notice {
    notice.fact("rule", &alert.rule).fact("target", &alert.target).fact("host", &alert.host).fact("since", crate::time::rfc3339(alert.since.max(0) as u64)).fact("alert_severity", &alert.severity)
}

fn firing_notice(rule: &AlertRule, alert: &FiringAlert, now: i64) -> Notice {
    let held = crate::time::elapsed(std::time::Duration::from_secs((now - alert.since).max(0) as u64));
    let title = format!("{}: {}", alert.rule, alert.summary);
    let body = format!("{} (`{}` has held for {held}; severity {})", alert.summary, rule.when, alert.severity);
    with_facts(Notice::new("alert.firing", severity(rule), title, body), alert)
}

fn resolved_notice(alert: &FiringAlert, now: i64) -> Notice {
    let lasted = crate::time::elapsed(std::time::Duration::from_secs((now - alert.since).max(0) as u64));
    let title = format!("resolved {}: {} on {}", alert.rule, alert.target, alert.host);
    let body = format!("{} no longer holds, after {lasted} (it was: {})", alert.rule, alert.summary);
    with_facts(Notice::new("alert.resolved", Severity::Success, title, body), alert)
}

/// To `channels` (a rule's), else to every channel subscribed to the notice's kind.
async fn tell(app: &App, channels: &[String], notice: Notice) -> Vec<Delivery> {
    let notice = notice.fact("project", &app.config.project.name).fact("env", &app.config.project.env);
    if channels.is_empty() {
        return notify::notify(app, &notice).await;
    }
    let named = channels.iter().filter_map(|name| Some((name, app.config.notify.get(name)?)));
    futures_util::future::join_all(named.map(|(name, channel)| notify::deliver(app, name, channel, &notice))).await.into_iter().flatten().collect()
}

/// Every rule's name, the built-in one last.
fn rule_names(app: &App) -> Vec<String> {
    app.config.alerts.keys().cloned().chain([ENGINE_UNREACHABLE.to_string()]).collect()
}

/// Silences `rule` (or one `target` of it) for `duration` (`2h`), recorded with who and why.
pub fn silence(app: &App, rule: &str, target: Option<&str>, duration: &str, why: &str, by: &str) -> Result<crate::state::Silence, Failure> {
    let names = rule_names(app);
    if !names.iter().any(|n| n == rule) {
        return Err(Failure::bad_input(format!("no alert rule called {rule}; the rules are: {}", names.join(", "))));
    }
    let span = crate::config::parse_duration(duration).map_err(|e| Failure::bad_input(format!("for: {e}")))?;
    if why.trim().is_empty() {
        return Err(Failure::bad_input("say why (-m), for whoever looks at the alerts next"));
    }
    let (state, now) = (app.state()?, crate::state::now_unix());
    let id = state.add_silence(rule, target, now + span.as_secs() as i64, by, why, now)?;
    Ok(state.silences(now)?.into_iter().find(|s| s.id == id).expect("just added"))
}

/// Ends silence `id` now.
pub fn unsilence(app: &App, id: i64) -> Result<(), Failure> {
    match app.state()?.expire_silence(id, crate::state::now_unix())? {
        true => Ok(()),
        false => Err(Failure::bad_input(format!("no silence {id} in force; `bosun alert list` shows them"))),
    }
}
