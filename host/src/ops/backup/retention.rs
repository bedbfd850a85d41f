//! Which backups a retention policy keeps, with restic's rules and names
//! (`restic forget`, checked against restic's own test data in
//! `restic_parity`): keep-last, keep-hourly/daily/weekly/monthly/yearly (the
//! newest backup of each of the N most recent periods that have a backup; -1
//! for every period; a rule with count left when it reaches the oldest
//! backup keeps that one too), keep-within (every backup strictly after a
//! span back from the newest one, the span taken off as Go's `AddDate` does:
//! 31 March less a month is 3 March, not 28 February) and
//! keep-within-hourly/daily/weekly/monthly/yearly (the newest backup of each
//! period in such a span). Rules are ORed. An incremental's base is kept as
//! long as the incremental is, and backups a release points to are always
//! kept. The policy itself, as bosun.toml writes it and as it is checked at
//! load, is `config::retention`'s.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::config::retention::{Period, Retention, Rules, Within, parse_within};
use crate::state::{BackupKind, BackupRecord};

impl Retention {
    fn for_kind(&self, kind: BackupKind) -> &Rules {
        match kind {
            BackupKind::Full => self.full_rules(),
            BackupKind::Incremental => self.incremental_rules(),
        }
    }
}

impl Within {
    /// The moment this span before `latest`, as restic computes it:
    /// `latest.AddDate(-years, -months, -days).Add(-hours)`. Go's `AddDate`
    /// takes the numbers off the date's fields and then normalizes, so a day
    /// past the end of a month runs into the next one.
    fn before(&self, latest: &Zoned) -> Result<Timestamp, String> {
        let out_of_range = |e: jiff::Error| format!("keep-within reaches out of the calendar: {e}");
        let months = (i64::from(latest.year()) - self.years) * 12 + i64::from(latest.month()) - 1 - self.months;
        let year = i16::try_from(months.div_euclid(12)).map_err(|_| "keep-within reaches out of the calendar".to_string())?;
        let first = Date::new(year, (months.rem_euclid(12) + 1) as i8, 1).map_err(out_of_range)?;
        let day = first.checked_add(jiff::Span::new().try_days(i64::from(latest.day()) - 1 - self.days).map_err(out_of_range)?).map_err(out_of_range)?;
        let shifted = day.to_datetime(latest.time()).to_zoned(latest.time_zone().clone()).map_err(out_of_range)?;
        let hours = jiff::SignedDuration::from_hours(self.hours);
        shifted.timestamp().checked_sub(hours).map_err(out_of_range)
    }
}

impl Period {
    /// The period a backup taken at `at` falls in; for keep-last every backup is its own.
    fn bucket(self, at: &Zoned, id: &str) -> String {
        match self {
            Period::Last => id.to_string(),
            Period::Hourly => at.strftime("%Y-%m-%d %H:00").to_string(),
            Period::Daily => at.strftime("%Y-%m-%d").to_string(),
            Period::Weekly => at.strftime("%G-W%V").to_string(),
            Period::Monthly => at.strftime("%Y-%m").to_string(),
            Period::Yearly => at.strftime("%Y").to_string(),
        }
    }
}

/// One backup's fate and the rules that decided it: for a kept backup the
/// rules that keep it, for a removed one why each rule passed it over.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub id: String,
    pub kind: BackupKind,
    pub created_at: i64,
    pub keep: bool,
    pub reasons: Vec<String>,
}

/// A set's backups, newest first, each kept or removed. Plain data: `prune
/// --dry-run` prints it, prune applies it.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionPlan {
    pub set: String,
    pub decisions: Vec<Decision>,
}

impl RetentionPlan {
    pub fn removed(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| !d.keep)
    }

    pub fn kept(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.keep)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("backups.{set}.retention: {message}")]
    Invalid { set: String, message: String },
    #[error("backups.{set}: the retention policy would remove all {count} backups of the set; refusing. Loosen the policy (e.g. keep-last = 1)")]
    WouldRemoveAll { set: String, count: usize },
}

/// Applies `retention` to `backups` (one set's, any order). `protected` maps
/// backup ids to why they must stay (e.g. the release that points to them).
pub fn plan(
    set: &str,
    backups: &[BackupRecord],
    retention: &Retention,
    protected: &HashMap<String, String>,
    tz: &TimeZone,
) -> Result<RetentionPlan, RetentionError> {
    let invalid = |message| RetentionError::Invalid { set: set.to_string(), message };
    retention.validate().map_err(invalid)?;
    let mut newest_first: Vec<&BackupRecord> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));

    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut passed_over: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for kind in [BackupKind::Full, BackupKind::Incremental] {
        let of_kind: Vec<&BackupRecord> = newest_first.iter().copied().filter(|b| b.kind == kind).collect();
        apply_rules(&of_kind, retention.for_kind(kind), tz, &mut reasons, &mut passed_over).map_err(invalid)?;
    }
    for backup in &newest_first {
        if let Some(why) = protected.get(&backup.id) {
            reasons.entry(&backup.id).or_default().push(format!("used by release {why}"));
        }
    }
    keep_bases(&newest_first, &mut reasons);

    let decisions: Vec<Decision> = newest_first
        .iter()
        .map(|b| {
            let why = reasons.remove(b.id.as_str()).unwrap_or_default();
            let keep = !why.is_empty();
            let why = match keep {
                true => why,
                false => passed_over.remove(b.id.as_str()).unwrap_or_default(),
            };
            Decision { id: b.id.clone(), kind: b.kind, created_at: b.created_at, keep, reasons: why }
        })
        .collect();
    if !decisions.is_empty() && decisions.iter().all(|d| !d.keep) {
        return Err(RetentionError::WouldRemoveAll { set: set.to_string(), count: decisions.len() });
    }
    Ok(RetentionPlan { set: set.to_string(), decisions })
}

/// restic's bucket walk over backups of one kind, newest first: `reasons`
/// gets the rules that keep each backup, `passed_over` why each other rule
/// did not (a newer backup of the same period, or its count used up).
fn apply_rules<'a>(
    newest_first: &[&'a BackupRecord],
    rules: &Rules,
    tz: &TimeZone,
    reasons: &mut BTreeMap<&'a str, Vec<String>>,
    passed_over: &mut BTreeMap<&'a str, Vec<String>>,
) -> Result<(), String> {
    let Some(latest) = newest_first.first() else { return Ok(()) };
    let zoned = |at: i64| Timestamp::from_second(at).unwrap_or_default().to_zoned(tz.clone());
    let latest = zoned(latest.created_at);
    let mut counted: Vec<Counted> = rules.counts().into_iter().filter(|(_, n)| *n != 0).map(|(period, n)| Counted { period, configured: n, left: n, last: None }).collect();
    let mut spans = Vec::new();
    for (period, text) in rules.spans() {
        let Some(text) = text else { continue };
        let cut_off = parse_within(period.within_rule(), text)?.before(&latest)?.as_second();
        spans.push(Spanned { period, text, cut_off, last: None });
    }
    for (index, backup) in newest_first.iter().enumerate() {
        let at = zoned(backup.created_at);
        let oldest = index + 1 == newest_first.len();
        let (mut kept_by, mut against) = (Vec::new(), Vec::new());
        for rule in &mut counted {
            let bucket = rule.period.bucket(&at, &backup.id);
            let label = if rule.period == Period::Last { String::new() } else { format!(" ({bucket})") };
            if rule.left == 0 {
                against.push(format!("outside {} {}", rule.period.rule(), rule.configured));
            } else if rule.last.as_deref() != Some(bucket.as_str()) {
                kept_by.push(format!("{}{label}", rule.period.rule()));
                rule.take(bucket);
            } else if oldest {
                kept_by.push(format!("{}{label}, the oldest backup", rule.period.rule()));
                rule.take(bucket);
            } else {
                against.push(format!("{} kept a newer backup of {bucket}", rule.period.rule()));
            }
        }
        for (entry, tags) in rules.tag_sets() {
            match tags.iter().all(|tag| backup.tags.iter().any(|have| have == tag)) {
                true => kept_by.push(format!("keep-tag {entry}")),
                false => against.push(format!("not tagged {entry}")),
            }
        }
        for rule in &mut spans {
            // Strictly after the cut-off, as restic compares.
            if backup.created_at <= rule.cut_off {
                against.push(format!("older than {} {} of the newest backup", rule.period.within_rule(), rule.text));
                continue;
            }
            let bucket = rule.period.bucket(&at, &backup.id);
            let named = format!("{} {}", rule.period.within_rule(), rule.text);
            if rule.period == Period::Last {
                kept_by.push(named);
            } else if rule.last.as_deref() != Some(bucket.as_str()) || oldest {
                let oldest_note = if rule.last.as_deref() == Some(bucket.as_str()) { ", the oldest backup" } else { "" };
                kept_by.push(format!("{named} ({bucket}{oldest_note})"));
                rule.last = Some(bucket);
            } else {
                against.push(format!("{named} kept a newer backup of {bucket}"));
            }
        }
        if !kept_by.is_empty() {
            reasons.entry(&backup.id).or_default().extend(kept_by);
        }
        passed_over.insert(&backup.id, against);
    }
    Ok(())
}

/// A rule with a count of periods: how many are left (-1: no end) and the
/// period of the last backup it kept.
struct Counted {
    period: Period,
    configured: i64,
    left: i64,
    last: Option<String>,
}

impl Counted {
    fn take(&mut self, bucket: String) {
        self.last = Some(bucket);
        if self.left > 0 {
            self.left -= 1;
        }
    }
}

/// A keep-within rule: backups strictly after `cut_off` (seconds), and of
/// those, for a period rule, the newest of each period.
struct Spanned<'a> {
    period: Period,
    text: &'a str,
    cut_off: i64,
    last: Option<String>,
}

/// Keeps the base of every kept incremental, transitively.
fn keep_bases<'a>(backups: &[&'a BackupRecord], reasons: &mut BTreeMap<&'a str, Vec<String>>) {
    let by_id: HashMap<&str, &BackupRecord> = backups.iter().map(|b| (b.id.as_str(), *b)).collect();
    let mut pending: Vec<&str> = reasons.keys().copied().collect();
    while let Some(id) = pending.pop() {
        let Some(base) = by_id.get(id).and_then(|b| b.base.as_deref()).and_then(|base| by_id.get(base)) else { continue };
        let entry = reasons.entry(&base.id).or_default();
        if entry.is_empty() {
            pending.push(&base.id);
        }
        entry.push(format!("base of {id}"));
    }
}

#[cfg(test)]
mod restic_parity;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_second()
    }

    fn backup(id: &str, kind: BackupKind, when: &str, base: Option<&str>) -> BackupRecord {
        BackupRecord {
            id: id.into(),
            set: "data".into(),
            kind,
            base: base.map(Into::into),
            dir: format!("/backups/{id}").into(),
            created_at: at(when),
            strategy: "dir-archive".into(),
            strategy_version: "0.1.0".into(),
            artifacts: 1,
            bytes: 1,
            run_id: None,
            verified_at: None,
            verify_error: None,
            tags: Vec::new(),
        }
    }

    pub(super) fn full(id: &str, when: &str) -> BackupRecord {
        backup(id, BackupKind::Full, when, None)
    }

    pub(super) fn policy(text: &str) -> Retention {
        toml::from_str(text).unwrap()
    }

    fn run(backups: &[BackupRecord], retention: &Retention) -> RetentionPlan {
        plan("data", backups, retention, &HashMap::new(), &TimeZone::UTC).unwrap()
    }

    fn kept(plan: &RetentionPlan) -> Vec<&str> {
        plan.kept().map(|d| d.id.as_str()).collect()
    }

    fn reasons<'a>(plan: &'a RetentionPlan, id: &str) -> &'a [String] {
        &plan.decisions.iter().find(|d| d.id == id).unwrap().reasons
    }

    #[test]
    fn keep_last_keeps_the_newest_n() {
        let backups: Vec<_> = (1..=5).map(|d| full(&format!("b{d}"), &format!("2026-11-0{d}T10:00:00Z"))).collect();
        let plan = run(&backups, &policy("keep-last = 3"));
        assert_eq!(kept(&plan), ["b5", "b4", "b3"]);
        assert_eq!(plan.removed().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["b2", "b1"]);
        assert_eq!(reasons(&plan, "b5"), ["keep-last"]);
    }

    #[test]
    fn keep_daily_takes_the_newest_of_each_day_and_only_days_with_backups_count() {
        let backups = [
            full("mon-early", "2026-11-16T01:00:00Z"),
            full("mon-late", "2026-11-16T23:00:00Z"),
            // no backups on Tuesday and Wednesday: those days do not use up the count
            full("thu", "2026-11-19T12:00:00Z"),
            full("fri-early", "2026-11-20T08:00:00Z"),
            full("fri-late", "2026-11-20T20:00:00Z"),
        ];
        let plan = run(&backups, &policy("keep-daily = 3"));
        assert_eq!(kept(&plan), ["fri-late", "thu", "mon-late"]);
        assert_eq!(reasons(&plan, "thu"), ["keep-daily (2026-11-19)"]);
    }

    #[test]
    fn rules_are_ored_and_every_rule_that_kept_a_backup_is_named() {
        let backups = [
            full("oct", "2026-10-31T10:00:00Z"),
            full("w46", "2026-11-13T10:00:00Z"),
            full("w47a", "2026-11-16T10:00:00Z"),
            full("w47b", "2026-11-20T10:00:00Z"),
        ];
        let plan = run(&backups, &policy("keep-last = 1\nkeep-weekly = 2\nkeep-monthly = 2"));
        assert_eq!(kept(&plan), ["w47b", "w46", "oct"]);
        assert_eq!(reasons(&plan, "w47b"), ["keep-last", "keep-weekly (2026-W47)", "keep-monthly (2026-11)"]);
        assert_eq!(reasons(&plan, "w46"), ["keep-weekly (2026-W46)"]);
        assert_eq!(reasons(&plan, "oct"), ["keep-monthly (2026-10)"]);
        assert_eq!(reasons(&plan, "w47a"), ["outside keep-last 1", "keep-weekly kept a newer backup of 2026-W47", "keep-monthly kept a newer backup of 2026-11"]);
    }

    #[test]
    fn every_removal_says_why_each_rule_passed_it_over() {
        let backups = [
            full("oct", "2026-10-31T10:00:00Z"),
            full("w46", "2026-11-13T10:00:00Z"),
            full("w47a", "2026-11-16T10:00:00Z"),
            full("w47b", "2026-11-20T10:00:00Z"),
        ];
        let plan = run(&backups, &policy("keep-last = 1\nkeep-weekly = 2\nkeep-within = \"3d\""));
        assert_eq!(kept(&plan), ["w47b", "w46"]);
        assert_eq!(
            reasons(&plan, "w47a"),
            ["outside keep-last 1", "keep-weekly kept a newer backup of 2026-W47", "older than keep-within 3d of the newest backup"]
        );
        assert_eq!(reasons(&plan, "oct"), ["outside keep-last 1", "outside keep-weekly 2", "older than keep-within 3d of the newest backup"]);
        assert!(plan.removed().all(|d| !d.reasons.is_empty()), "no removal without a reason");
    }

    #[test]
    fn keep_within_counts_back_from_the_newest_backup_and_keeps_only_what_is_strictly_after() {
        let backups = [
            full("old", "2020-01-01T00:00:00Z"),
            full("edge", "2020-01-08T00:00:00Z"),
            full("inside", "2020-01-08T00:00:01Z"),
            full("newest", "2020-01-10T00:00:00Z"),
        ];
        let plan = run(&backups, &policy("keep-within = \"2d\""));
        assert_eq!(kept(&plan), ["newest", "inside"]);
        assert_eq!(reasons(&plan, "inside"), ["keep-within 2d"]);
        assert_eq!(reasons(&plan, "edge"), ["older than keep-within 2d of the newest backup"], "exactly at the cut-off is out, as in restic");
    }

    #[test]
    fn months_are_taken_off_as_gos_add_date_does() {
        let latest = |at: &str| at.parse::<Timestamp>().unwrap().to_zoned(TimeZone::UTC);
        let month = Within { months: 1, ..Within::default() };
        // 31 March less a month is "31 February", which runs on to 3 March (2 March in a leap year).
        assert_eq!(month.before(&latest("2026-03-31T12:00:00Z")).unwrap(), "2026-03-03T12:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(month.before(&latest("2024-03-31T12:00:00Z")).unwrap(), "2024-03-02T12:00:00Z".parse::<Timestamp>().unwrap());
        let mixed = Within { years: 1, months: 2, days: 3, hours: 3 };
        assert_eq!(mixed.before(&latest("2016-01-18T12:02:03Z")).unwrap(), "2014-11-15T09:02:03Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn minus_one_keeps_every_period_and_a_rule_with_count_left_keeps_the_oldest_backup() {
        let backups = [full("a", "2026-11-01T10:00:00Z"), full("b", "2026-11-01T11:00:00Z"), full("c", "2026-11-02T10:00:00Z")];
        assert_eq!(kept(&run(&backups, &policy("keep-daily = -1"))), ["c", "b", "a"], "a: the oldest backup, with -1 left");
        assert_eq!(reasons(&run(&backups, &policy("keep-daily = -1")), "a"), ["keep-daily (2026-11-01), the oldest backup"]);
        assert_eq!(kept(&run(&backups, &policy("keep-daily = 2"))), ["c", "b"], "no count left at the oldest");
        assert_eq!(kept(&run(&backups, &policy("keep-daily = 3"))), ["c", "b", "a"]);
    }

    #[test]
    fn an_incrementals_base_is_kept_as_long_as_the_incremental() {
        let backups = [
            full("full-1", "2026-11-01T10:00:00Z"),
            backup("inc-1", BackupKind::Incremental, "2026-11-02T10:00:00Z", Some("full-1")),
            full("full-2", "2026-11-08T10:00:00Z"),
            backup("inc-2", BackupKind::Incremental, "2026-11-09T10:00:00Z", Some("full-2")),
            full("full-3", "2026-11-15T10:00:00Z"),
        ];
        // Fulls: only the newest; incrementals: the newest two.
        let retention = policy("[full]\nkeep-last = 1\n[incremental]\nkeep-last = 2");
        let plan = run(&backups, &retention);
        assert_eq!(kept(&plan), ["full-3", "inc-2", "full-2", "inc-1", "full-1"]);
        assert_eq!(reasons(&plan, "full-1"), ["base of inc-1"]);

        let retention = policy("[full]\nkeep-last = 1\n[incremental]\nkeep-last = 1");
        let plan = run(&backups, &retention);
        assert_eq!(kept(&plan), ["full-3", "inc-2", "full-2"]);
        assert_eq!(plan.removed().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["inc-1", "full-1"]);
    }

    #[test]
    fn a_backup_a_release_points_to_is_never_removed() {
        let backups = [full("a", "2026-11-01T10:00:00Z"), full("b", "2026-11-02T10:00:00Z")];
        let protected = HashMap::from([("a".to_string(), "web 1.4.2".to_string())]);
        let plan = plan("data", &backups, &policy("keep-last = 1"), &protected, &TimeZone::UTC).unwrap();
        assert_eq!(kept(&plan), ["b", "a"]);
        assert_eq!(reasons(&plan, "a"), ["used by release web 1.4.2"]);
    }

    #[test]
    fn a_policy_that_keeps_nothing_is_refused() {
        let empty = plan("data", &[], &policy(""), &HashMap::new(), &TimeZone::UTC).unwrap_err();
        assert!(empty.to_string().contains("keeps nothing"), "{empty}");
        let zero = policy("keep-last = 0").validate().unwrap_err();
        assert!(zero.contains("full backups keeps nothing"), "{zero}");
        // Rules for fulls only leave incrementals with none.
        let fulls_only = policy("[full]\nkeep-daily = 7").validate().unwrap_err();
        assert!(fulls_only.contains("incremental backups keeps nothing"), "{fulls_only}");
        assert!(policy("[full]\nkeep-daily = 7\n[incremental]\nkeep-last = 3").validate().is_ok());
    }
}
