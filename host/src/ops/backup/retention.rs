//! Which backups a retention policy keeps, with restic's rules and names:
//! keep-last, keep-hourly/daily/weekly/monthly/yearly (the newest backup of
//! each of the N most recent periods that have a backup), keep-within (every
//! backup younger than a span, measured back from the newest one). Rules are
//! ORed. An incremental's base is kept as long as the incremental is, and
//! backups a release points to are always kept.

use std::collections::{BTreeMap, HashMap};

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use crate::state::{BackupKind, BackupRecord};

/// `[backups.<set>.retention]`: rules, plus optional `full` and `incremental`
/// tables that replace them for backups of that kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "toml::Table")]
pub struct Retention {
    #[serde(flatten)]
    pub rules: Rules,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full: Option<Rules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Rules>,
}

// By hand because serde cannot deny unknown keys next to a flattened field.
impl TryFrom<toml::Table> for Retention {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Retention, String> {
        let mut kind = |name: &str| {
            table.remove(name).map(|v| v.try_into::<Rules>().map_err(|e| format!("{name}: {}", e.message()))).transpose()
        };
        let (full, incremental) = (kind("full")?, kind("incremental")?);
        let rules = toml::Value::Table(table).try_into::<Rules>().map_err(|e| e.message().to_string())?;
        Ok(Retention { rules, full, incremental })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rules {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    /// restic's duration form: `1y6m`, `30d`, `12h`, `2y3m7d4h`.
    pub keep_within: Option<String>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|(_, n)| *n == 0) && self.keep_within.is_none()
    }

    fn counts(&self) -> [(Period, u32); 6] {
        [
            (Period::Last, self.keep_last.unwrap_or(0)),
            (Period::Hourly, self.keep_hourly.unwrap_or(0)),
            (Period::Daily, self.keep_daily.unwrap_or(0)),
            (Period::Weekly, self.keep_weekly.unwrap_or(0)),
            (Period::Monthly, self.keep_monthly.unwrap_or(0)),
            (Period::Yearly, self.keep_yearly.unwrap_or(0)),
        ]
    }

    /// The keep-within span, parsed.
    pub fn within(&self) -> Result<Option<Span>, String> {
        self.keep_within.as_deref().map(parse_within).transpose()
    }
}

impl Retention {
    /// Refuses a policy that keeps nothing for some kind, and a bad keep-within.
    pub fn validate(&self) -> Result<(), String> {
        for (kind, rules) in [(BackupKind::Full, self.for_kind(BackupKind::Full)), (BackupKind::Incremental, self.for_kind(BackupKind::Incremental))] {
            if rules.is_empty() {
                return Err(format!(
                    "the policy for {} backups keeps nothing; set at least one of keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly, keep-within",
                    kind.as_str()
                ));
            }
            rules.within()?;
        }
        Ok(())
    }

    fn for_kind(&self, kind: BackupKind) -> &Rules {
        let specific = match kind {
            BackupKind::Full => self.full.as_ref(),
            BackupKind::Incremental => self.incremental.as_ref(),
        };
        specific.unwrap_or(&self.rules)
    }
}

fn parse_within(text: &str) -> Result<Span, String> {
    let bad = || format!("keep-within `{text}`: expected a duration like 30d, 12h, 1y6m or 2y3m7d4h");
    let mut span = Span::new();
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        span = match c {
            'y' => span.try_years(n),
            'm' => span.try_months(n),
            'w' => span.try_weeks(n),
            'd' => span.try_days(n),
            'h' => span.try_hours(n),
            _ => return Err(bad()),
        }
        .map_err(|_| bad())?;
    }
    if !digits.is_empty() || span.is_zero() {
        return Err(bad());
    }
    Ok(span)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Period {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Period {
    fn rule(self) -> &'static str {
        match self {
            Period::Last => "keep-last",
            Period::Hourly => "keep-hourly",
            Period::Daily => "keep-daily",
            Period::Weekly => "keep-weekly",
            Period::Monthly => "keep-monthly",
            Period::Yearly => "keep-yearly",
        }
    }

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

/// One backup's fate and the rules that decided it.
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
    for kind in [BackupKind::Full, BackupKind::Incremental] {
        let of_kind: Vec<&BackupRecord> = newest_first.iter().copied().filter(|b| b.kind == kind).collect();
        apply_rules(&of_kind, retention.for_kind(kind), tz, &mut reasons).map_err(invalid)?;
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
            Decision { id: b.id.clone(), kind: b.kind, created_at: b.created_at, keep: !why.is_empty(), reasons: why }
        })
        .collect();
    if !decisions.is_empty() && decisions.iter().all(|d| !d.keep) {
        return Err(RetentionError::WouldRemoveAll { set: set.to_string(), count: decisions.len() });
    }
    Ok(RetentionPlan { set: set.to_string(), decisions })
}

/// restic's bucket walk over backups of one kind, newest first.
fn apply_rules<'a>(
    newest_first: &[&'a BackupRecord],
    rules: &Rules,
    tz: &TimeZone,
    reasons: &mut BTreeMap<&'a str, Vec<String>>,
) -> Result<(), String> {
    let Some(latest) = newest_first.first() else { return Ok(()) };
    let zoned = |at: i64| Timestamp::from_second(at).unwrap_or_default().to_zoned(tz.clone());
    let within_start = match rules.within()? {
        Some(span) => Some(zoned(latest.created_at).checked_sub(span).map_err(|e| e.to_string())?.timestamp().as_second()),
        None => None,
    };
    let mut remaining: Vec<(Period, u32, Option<String>)> = rules.counts().into_iter().map(|(p, n)| (p, n, None)).collect();
    for backup in newest_first {
        let at = zoned(backup.created_at);
        if within_start.is_some_and(|start| backup.created_at >= start) {
            reasons.entry(&backup.id).or_default().push(format!("keep-within {}", rules.keep_within.as_deref().unwrap_or_default()));
        }
        for (period, count, last_bucket) in &mut remaining {
            if *count == 0 {
                continue;
            }
            let bucket = period.bucket(&at, &backup.id);
            if last_bucket.as_deref() != Some(bucket.as_str()) {
                let reason = if *period == Period::Last { period.rule().to_string() } else { format!("{} ({bucket})", period.rule()) };
                reasons.entry(&backup.id).or_default().push(reason);
                *last_bucket = Some(bucket);
                *count -= 1;
            }
        }
    }
    Ok(())
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
        }
    }

    fn full(id: &str, when: &str) -> BackupRecord {
        backup(id, BackupKind::Full, when, None)
    }

    fn policy(text: &str) -> Retention {
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
        assert!(reasons(&plan, "w47a").is_empty());
    }

    #[test]
    fn keep_within_counts_back_from_the_newest_backup_not_from_now() {
        let backups = [
            full("old", "2020-01-01T00:00:00Z"),
            full("edge", "2020-01-08T00:00:00Z"),
            full("newest", "2020-01-10T00:00:00Z"),
        ];
        let plan = run(&backups, &policy("keep-within = \"2d\""));
        assert_eq!(kept(&plan), ["newest", "edge"]);
        assert_eq!(reasons(&plan, "edge"), ["keep-within 2d"]);
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

    #[test]
    fn bad_keys_and_durations_are_named() {
        let unknown = toml::from_str::<Retention>("keep-dayly = 7").unwrap_err();
        assert!(unknown.to_string().contains("keep-dayly"), "{unknown}");
        for bad in ["7", "d", "3x", "0d"] {
            let err = policy(&format!("keep-within = \"{bad}\"")).validate().unwrap_err();
            assert!(err.contains(&format!("keep-within `{bad}`")), "{err}");
        }
        let span = parse_within("1y6m2w3d4h").unwrap();
        assert_eq!((span.get_years(), span.get_months(), span.get_weeks(), span.get_days(), span.get_hours()), (1, 6, 2, 3, 4));
    }
}
