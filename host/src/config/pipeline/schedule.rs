//! `schedule = "0 3 * * *"` on a pipeline: cron (croner's reading: five
//! fields, an optional leading seconds field, `@daily`, `@weekly`, …) in a
//! time zone (`timezone`, default the machine's).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::CronParser;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    pub zone: Tz,
}

impl Schedule {
    pub fn parse(pattern: &str, timezone: Option<&str>) -> Result<Schedule, String> {
        let cron = CronParser::new().parse(pattern).map_err(|e| format!("`{pattern}` is not a cron schedule ({e}); write e.g. \"0 3 * * *\", \"*/10 * * * * *\" (seconds first) or \"@daily\""))?;
        let zone = match timezone {
            Some(name) => Tz::from_str(name).map_err(|_| format!("`{name}` is not a time zone; write an IANA name such as \"Europe/Berlin\" or \"UTC\""))?,
            None => machine_zone(),
        };
        Ok(Schedule { cron, zone })
    }

    /// The first time it is due after `unix` (seconds), if ever.
    pub fn next_after(&self, unix: i64) -> Option<i64> {
        let at = self.zone.from_utc_datetime(&DateTime::<Utc>::from_timestamp(unix, 0)?.naive_utc());
        self.cron.find_next_occurrence(&at, false).ok().map(|next| next.timestamp())
    }

    /// The last time it was due in `(after, up_to]`, if it was.
    pub fn last_due_between(&self, after: i64, up_to: i64) -> Option<i64> {
        let at = self.zone.from_utc_datetime(&DateTime::<Utc>::from_timestamp(up_to, 0)?.naive_utc());
        let last = self.cron.find_previous_occurrence(&at, true).ok()?.timestamp();
        (last > after).then_some(last)
    }
}

/// The machine's time zone (as jiff finds it), else UTC.
fn machine_zone() -> Tz {
    jiff::tz::TimeZone::system().iana_name().and_then(|name| Tz::from_str(name).ok()).unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    // 2026-12-04T02:59:30Z, a Friday.
    const T: i64 = 1_796_353_170;

    #[test]
    fn next_and_missed_in_a_zone() {
        let daily = Schedule::parse("0 3 * * *", Some("UTC")).unwrap();
        assert_eq!(daily.next_after(T), Some(T + 30));
        assert_eq!(daily.last_due_between(T - 86_400, T), Some(T + 30 - 86_400));
        assert_eq!(daily.last_due_between(T - 60, T), None, "nothing was due in the last minute");
        let berlin = Schedule::parse("@daily", Some("Europe/Berlin")).unwrap();
        assert_eq!(berlin.next_after(T), Some(T + 30 + 20 * 3600), "midnight in Berlin is 23:00 UTC in winter");
        let seconds = Schedule::parse("*/2 * * * * *", Some("UTC")).unwrap();
        assert_eq!(seconds.next_after(T), Some(T + 2));
    }

    #[test]
    fn bad_patterns_and_zones_say_what_to_write() {
        assert!(Schedule::parse("every night", None).unwrap_err().contains("is not a cron schedule"));
        assert!(Schedule::parse("0 3 * * *", Some("Mars/Olympus")).unwrap_err().contains("is not a time zone"));
    }
}
