//! `[backups.<set>.retention]`: a retention policy as bosun.toml writes it,
//! with restic's rule names (keep-last, keep-hourly/daily/weekly/monthly/yearly,
//! keep-within and keep-within-<period>, keep-tag), parsed and checked at
//! load. Which backups a policy keeps is `ops::backup::retention`'s job.

use serde::{Deserialize, Serialize};

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
    /// Counts: -1 keeps every period (restic's "all").
    pub keep_last: Option<i64>,
    pub keep_hourly: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
    /// restic's duration form: `1y6m`, `30d`, `12h`, `2y3m7d4h`.
    pub keep_within: Option<String>,
    pub keep_within_hourly: Option<String>,
    pub keep_within_daily: Option<String>,
    pub keep_within_weekly: Option<String>,
    pub keep_within_monthly: Option<String>,
    pub keep_within_yearly: Option<String>,
    /// Backups tagged with all the tags of any entry: `["release",
    /// "audit,monthly"]` keeps those tagged release, and those tagged both
    /// audit and monthly (restic's `--keep-tag`, given once per entry).
    pub keep_tag: Option<Vec<String>>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|(_, n)| *n == 0) && self.spans().iter().all(|(_, span)| span.is_none()) && self.tag_sets().is_empty()
    }

    pub fn counts(&self) -> [(Period, i64); 6] {
        [
            (Period::Last, self.keep_last.unwrap_or(0)),
            (Period::Hourly, self.keep_hourly.unwrap_or(0)),
            (Period::Daily, self.keep_daily.unwrap_or(0)),
            (Period::Weekly, self.keep_weekly.unwrap_or(0)),
            (Period::Monthly, self.keep_monthly.unwrap_or(0)),
            (Period::Yearly, self.keep_yearly.unwrap_or(0)),
        ]
    }

    /// keep-within (under `Period::Last`: every backup) and keep-within-<period>, as written.
    pub fn spans(&self) -> [(Period, Option<&str>); 6] {
        [
            (Period::Last, self.keep_within.as_deref()),
            (Period::Hourly, self.keep_within_hourly.as_deref()),
            (Period::Daily, self.keep_within_daily.as_deref()),
            (Period::Weekly, self.keep_within_weekly.as_deref()),
            (Period::Monthly, self.keep_within_monthly.as_deref()),
            (Period::Yearly, self.keep_within_yearly.as_deref()),
        ]
    }

    /// keep-tag's entries, each the tags a backup must all have.
    pub fn tag_sets(&self) -> Vec<(&str, Vec<&str>)> {
        self.keep_tag.iter().flatten().map(|entry| (entry.as_str(), entry.split(',').map(str::trim).collect())).collect()
    }

    /// Refuses a count below -1, a span that does not parse, and a tag no
    /// backup can have.
    fn check(&self) -> Result<(), String> {
        for (entry, tags) in self.tag_sets() {
            tags.iter().try_for_each(|tag| check_tag(tag)).map_err(|e| format!("keep-tag {entry:?}: {e}"))?;
        }
        if let Some((period, n)) = self.counts().into_iter().find(|(_, n)| *n < -1) {
            return Err(format!("{} = {n}: expected a count of periods, or -1 for all of them", period.rule()));
        }
        self.spans().into_iter().try_for_each(|(period, span)| span.map_or(Ok(()), |text| parse_within(period.within_rule(), text).map(drop)))
    }
}

impl Retention {
    /// Refuses a policy that keeps nothing for some kind, and a bad keep-within.
    pub fn validate(&self) -> Result<(), String> {
        for (kind, rules) in [("full", self.full_rules()), ("incremental", self.incremental_rules())] {
            if rules.is_empty() {
                return Err(format!(
                    "the policy for {kind} backups keeps nothing; set at least one of keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly, keep-within (or keep-within-hourly … -yearly), keep-tag"
                ));
            }
            rules.check()?;
        }
        Ok(())
    }

    /// The rules for full backups: the `full` table's, else the common ones.
    pub fn full_rules(&self) -> &Rules {
        self.full.as_ref().unwrap_or(&self.rules)
    }

    /// The rules for incremental backups: the `incremental` table's, else the common ones.
    pub fn incremental_rules(&self) -> &Rules {
        self.incremental.as_ref().unwrap_or(&self.rules)
    }
}

/// A tag is a word retention's `keep-tag` can name: letters, digits, `-`,
/// `_`, `.`, `:` (no commas: `keep-tag = ["a,b"]` means both a and b).
pub fn check_tag(tag: &str) -> Result<(), String> {
    let fine = !tag.is_empty() && tag.chars().all(|c| c.is_alphanumeric() || "-_.:".contains(c));
    if fine { Ok(()) } else { Err(format!("{tag:?} is not a tag; use letters, digits, `-`, `_`, `.` or `:`")) }
}

/// A keep-within span in restic's units (a week is 7 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Within {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    pub hours: i64,
}

pub fn parse_within(rule: &str, text: &str) -> Result<Within, String> {
    let bad = || format!("{rule} `{text}`: expected a duration like 30d, 12h, 1y6m or 2y3m7d4h");
    let mut span = Within::default();
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let field = match c {
            'y' => &mut span.years,
            'm' => &mut span.months,
            'w' | 'd' => &mut span.days,
            'h' => &mut span.hours,
            _ => return Err(bad()),
        };
        *field = field.checked_add(if c == 'w' { n.checked_mul(7).ok_or_else(bad)? } else { n }).ok_or_else(bad)?;
    }
    if !digits.is_empty() || span == Within::default() {
        return Err(bad());
    }
    Ok(span)
}

/// What a rule counts in: every backup (keep-last, plain keep-within) or a
/// calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Period {
    pub fn rule(self) -> &'static str {
        match self {
            Period::Last => "keep-last",
            Period::Hourly => "keep-hourly",
            Period::Daily => "keep-daily",
            Period::Weekly => "keep-weekly",
            Period::Monthly => "keep-monthly",
            Period::Yearly => "keep-yearly",
        }
    }

    /// The keep-within rule of this period (`Last`: plain keep-within).
    pub fn within_rule(self) -> &'static str {
        match self {
            Period::Last => "keep-within",
            Period::Hourly => "keep-within-hourly",
            Period::Daily => "keep-within-daily",
            Period::Weekly => "keep-within-weekly",
            Period::Monthly => "keep-within-monthly",
            Period::Yearly => "keep-within-yearly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Retention {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn bad_keys_and_durations_are_named() {
        let unknown = toml::from_str::<Retention>("keep-dayly = 7").unwrap_err();
        assert!(unknown.to_string().contains("keep-dayly"), "{unknown}");
        for bad in ["7", "d", "3x", "0d"] {
            let err = policy(&format!("keep-within-daily = \"{bad}\"")).validate().unwrap_err();
            assert!(err.contains(&format!("keep-within-daily `{bad}`")), "{err}");
        }
        assert_eq!(parse_within("keep-within", "1y6m2w3d4h").unwrap(), Within { years: 1, months: 6, days: 17, hours: 4 });
        let below = policy("keep-daily = -2").validate().unwrap_err();
        assert_eq!(below, "keep-daily = -2: expected a count of periods, or -1 for all of them");
    }
}
