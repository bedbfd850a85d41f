//! `[alerts.<name>]`: a condition over what `[watch]` samples (or backups,
//! or checks) that must hold `for` a while before it fires, with
//! Alertmanager's semantics: one `alert.firing` notice until it resolves
//! (again every `repeat`, when set), then one `alert.resolved`.

use std::time::Duration;

use serde::Deserialize;

use super::{Problems, parse_bytes, parse_duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// What must hold, e.g. `exited`, `cpu > 90%`, `backup older than 2d`.
    pub when: String,
    /// The targets it looks at (watched services, containers and
    /// processes; backup sets; checks; hosts); none: every one.
    #[serde(default)]
    pub targets: Vec<String>,
    /// How long it must hold before it fires (`0s` unless given).
    #[serde(rename = "for")]
    pub hold: Option<String>,
    #[serde(default)]
    pub severity: AlertSeverity,
    /// `[notify.*]` channels to tell; none: those subscribed to `alert.*`.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Told again while it still fires, this often (`4h`); none: once.
    pub repeat: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// A comparison in a threshold condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Above,
    AtLeast,
    Below,
    AtMost,
}

impl Cmp {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Above => value > threshold,
            Cmp::AtLeast => value >= threshold,
            Cmp::Below => value < threshold,
            Cmp::AtMost => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Above => ">",
            Cmp::AtLeast => ">=",
            Cmp::Below => "<",
            Cmp::AtMost => "<=",
        }
    }
}

/// A memory threshold: a share of the limit (a container's, else the
/// machine's memory), or a size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Percent(f64),
    Bytes(u64),
}

/// What `when` says, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A container stopped (exited or dead), or a watched process is gone.
    Exited,
    /// Nothing matches the target any more (no container, no process).
    Disappeared,
    /// Its restart count rose within the last [`RESTART_WINDOW`].
    Restarted,
    /// Its healthcheck says unhealthy.
    Unhealthy,
    /// A host's engine does not answer.
    Unreachable,
    /// CPU in percent of one core.
    Cpu(Cmp, f64),
    Memory(Cmp, Amount),
    /// A backup set's newest backup is older than this (or there is none).
    BackupOlder(Duration),
    /// A check failed this many runs in a row.
    CheckFailing(u32),
}

/// How far back `restarted` looks for a rise in the restart count.
pub const RESTART_WINDOW: Duration = Duration::from_secs(15 * 60);

pub const WHEN_FORMS: &str = "exited, disappeared, restarted, unhealthy, unreachable, `cpu > 90%`, `memory > 80%` (or `> 512m`), `backup older than 2d`, `check failing 3`";

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let unknown = || format!("{text:?} is not a condition; write one of: {WHEN_FORMS}");
        Ok(match words.as_slice() {
            ["exited"] => Condition::Exited,
            ["disappeared"] => Condition::Disappeared,
            ["restarted"] => Condition::Restarted,
            ["unhealthy"] => Condition::Unhealthy,
            ["unreachable"] | ["engine", "unreachable"] => Condition::Unreachable,
            ["backup", "older", "than", age] => Condition::BackupOlder(parse_duration(age)?),
            ["check", "failing", runs] => match runs.parse() {
                Ok(n) if n > 0 => Condition::CheckFailing(n),
                _ => return Err(format!("{text:?}: {runs:?} is not a number of runs (1 or more)")),
            },
            _ => threshold(text).ok_or_else(unknown)??,
        })
    }

    /// Whether it is about watched containers and processes (else backups, checks or hosts).
    pub fn is_about_samples(&self) -> bool {
        !matches!(self, Condition::Unreachable | Condition::BackupOlder(_) | Condition::CheckFailing(_))
    }
}

/// `cpu > 90%`, `memory >= 80 %`, `memory > 512m`: none when it is not of that shape.
fn threshold(text: &str) -> Option<Result<Condition, String>> {
    let compact: String = text.split_whitespace().collect();
    let (measure, rest) = ["cpu", "memory"].iter().find_map(|m| compact.strip_prefix(m).map(|rest| (*m, rest)))?;
    let (cmp, value) = [(">=", Cmp::AtLeast), ("<=", Cmp::AtMost), (">", Cmp::Above), ("<", Cmp::Below)].iter().find_map(|(s, c)| rest.strip_prefix(s).map(|v| (*c, v)))?;
    let percent = value.strip_suffix('%').map(|n| n.parse::<f64>().map_err(|_| format!("{text:?}: {n:?} is not a number")));
    Some(match (measure, percent) {
        ("cpu", Some(n)) => n.map(|n| Condition::Cpu(cmp, n)),
        ("cpu", None) => Err(format!("{text:?}: CPU is a percentage of one core, e.g. `cpu > 90%`")),
        (_, Some(n)) => n.map(|n| Condition::Memory(cmp, Amount::Percent(n))),
        (_, None) => parse_bytes(value).map(|b| Condition::Memory(cmp, Amount::Bytes(b.max(0) as u64))).map_err(|e| format!("{text:?}: {e}")),
    })
}

impl AlertRule {
    pub fn condition(&self) -> Condition {
        Condition::parse(&self.when).expect("validated at load")
    }

    pub fn hold(&self) -> Duration {
        self.hold.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or_default()
    }

    pub fn repeat(&self) -> Option<Duration> {
        self.repeat.as_deref().and_then(|t| parse_duration(t).ok())
    }

    pub(super) fn validate(&self, name: &str, channels: &[&String], problems: &mut Problems) {
        problems.check(format!("alerts.{name}.when"), Condition::parse(&self.when).map(drop));
        for (key, value) in [("for", &self.hold), ("repeat", &self.repeat)] {
            if let Some(text) = value {
                problems.check(format!("alerts.{name}.{key}"), parse_duration(text).map(drop));
            }
        }
        for channel in self.channels.iter().filter(|c| !channels.contains(c)) {
            problems.add(format!("alerts.{name}.channels"), format!("no channel called {channel}; add a [notify.{channel}] table or remove it"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_as_written_and_the_errors_for_the_rest() {
        assert_eq!(Condition::parse("exited"), Ok(Condition::Exited));
        assert_eq!(Condition::parse("engine unreachable"), Ok(Condition::Unreachable));
        assert_eq!(Condition::parse("cpu > 90%"), Ok(Condition::Cpu(Cmp::Above, 90.0)));
        assert_eq!(Condition::parse("cpu>=12.5 %"), Ok(Condition::Cpu(Cmp::AtLeast, 12.5)));
        assert_eq!(Condition::parse("memory > 80%"), Ok(Condition::Memory(Cmp::Above, Amount::Percent(80.0))));
        assert_eq!(Condition::parse("memory < 512m"), Ok(Condition::Memory(Cmp::Below, Amount::Bytes(512 << 20))));
        assert_eq!(Condition::parse("backup older than 2d"), Ok(Condition::BackupOlder(Duration::from_secs(2 * 86_400))));
        assert_eq!(Condition::parse("check failing 3"), Ok(Condition::CheckFailing(3)));
        assert!(Condition::parse("cpu > lots%").unwrap_err().contains("\"lots\" is not a number"));
        assert!(Condition::parse("cpu > 90").unwrap_err().contains("percentage of one core"));
        assert!(Condition::parse("check failing 0").unwrap_err().contains("1 or more"));
        assert!(Condition::parse("on fire").unwrap_err().contains("is not a condition; write one of: exited"));
        assert!(Cmp::AtMost.holds(3.0, 3.0) && !Cmp::Below.holds(3.0, 3.0));
    }
}
