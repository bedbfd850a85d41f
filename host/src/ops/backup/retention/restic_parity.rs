//! bosun's retention against restic's own test data: the snapshots and
//! policies of `TestApplyPolicy` (restic `internal/data/snapshot_policy_test.go`)
//! and the snapshots restic keeps for each (its golden files), in
//! `host/tests/data/restic-retention` (see the README there for source and
//! licence). Each restic policy is written below in bosun's syntax, by the
//! index restic numbers its golden files with.

use std::collections::HashMap;

use jiff::tz::TimeZone;

use super::plan;
use super::tests::{full, policy};
use crate::state::BackupRecord;

const SNAPSHOTS: &str = include_str!("../../../../tests/data/restic-retention/snapshots.txt");
const KEPT: &str = include_str!("../../../../tests/data/restic-retention/kept.json");

/// restic's `tests` array, in order. `None`: what bosun does not offer:
/// an empty policy (restic removes every snapshot; bosun refuses a policy
/// that keeps nothing).
const POLICIES: [Option<&str>; 40] = [
    None,
    Some("keep-last = 10"),
    Some("keep-last = 15"),
    Some("keep-last = 99"),
    Some("keep-last = 200"),
    Some("keep-hourly = 20"),
    Some("keep-daily = 3"),
    Some("keep-daily = 10"),
    Some("keep-daily = 30"),
    Some("keep-last = 5\nkeep-daily = 5"),
    Some("keep-last = 2\nkeep-daily = 10"),
    Some("keep-weekly = 2"),
    Some("keep-weekly = 4"),
    Some("keep-daily = 3\nkeep-weekly = 4"),
    Some("keep-monthly = 6"),
    Some("keep-daily = 2\nkeep-weekly = 2\nkeep-monthly = 6"),
    Some("keep-yearly = 10"),
    Some("keep-daily = 7\nkeep-weekly = 2\nkeep-monthly = 3\nkeep-yearly = 10"),
    Some("keep-tag = [\"foo\"]"),
    Some("keep-tag = [\"foo,bar\"]"),
    Some("keep-tag = [\"foo\", \"bar\"]"),
    Some("keep-within = \"1d\""),
    Some("keep-within = \"2d\""),
    Some("keep-within = \"7d\""),
    Some("keep-within = \"1m\""),
    Some("keep-within = \"1m14d\""),
    Some("keep-within = \"1y1d1m\""),
    Some("keep-within = \"13d23h\""),
    Some("keep-within = \"2m2h\""),
    Some("keep-within = \"1y2m3d3h\""),
    Some("keep-within-hourly = \"1y2m3d3h\""),
    Some("keep-within-daily = \"1y2m3d3h\""),
    Some("keep-within-weekly = \"1y2m3d3h\""),
    Some("keep-within-monthly = \"1y2m3d3h\""),
    Some("keep-within-yearly = \"1y2m3d3h\""),
    Some(
        "keep-within = \"1h\"\nkeep-within-hourly = \"1d\"\nkeep-within-daily = \"7d\"\nkeep-within-weekly = \"1m\"\nkeep-within-monthly = \"1y\"\nkeep-within-yearly = \"9999y\"",
    ),
    Some("keep-last = -1"),
    Some("keep-last = -1\nkeep-hourly = -1"),
    Some("keep-hourly = -1"),
    Some("keep-daily = 3\nkeep-weekly = 2\nkeep-monthly = -1\nkeep-yearly = -1"),
];

/// restic's snapshots as backups, and each one's time as restic's JSON
/// writes it, by id. bosun keeps whole seconds: ids are given in restic's
/// order (newest first, equal times in the order the test lists them), so
/// that bosun's tie-break on the id orders them as restic does.
fn backups() -> (Vec<BackupRecord>, HashMap<String, String>) {
    let snapshots: Vec<&str> = SNAPSHOTS.lines().map(|line| line.split('\t').next().unwrap()).collect();
    let tags: Vec<Vec<String>> = SNAPSHOTS.lines().map(|line| line.split('\t').nth(1).map_or(vec![], |t| t.split(',').map(str::to_string).collect())).collect();
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    order.sort_by(|&a, &b| snapshots[b].cmp(snapshots[a]).then(a.cmp(&b)));
    let mut records = Vec::new();
    let mut times = HashMap::new();
    for (position, &index) in order.iter().enumerate() {
        let id = format!("s{:03}", snapshots.len() - position);
        let time = snapshots[index].replace(' ', "T");
        let whole_seconds = time.split('.').next().unwrap();
        records.push(BackupRecord { tags: tags[index].clone(), ..full(&id, &format!("{whole_seconds}Z")) });
        times.insert(id, format!("{time}Z"));
    }
    (records, times)
}

#[test]
fn every_restic_policy_bosun_offers_keeps_what_restic_keeps() {
    let kept_by_restic: HashMap<String, Vec<serde_json::Value>> = serde_json::from_str(KEPT).unwrap();
    let (backups, times) = backups();
    let mut differences = Vec::new();
    let mut compared = 0;
    for (index, text) in POLICIES.iter().enumerate() {
        let Some(text) = text else { continue };
        let expected: Vec<&str> = kept_by_restic[&index.to_string()].iter().map(|k| k["time"].as_str().unwrap()).collect();
        let plan = plan("data", &backups, &policy(text), &HashMap::new(), &TimeZone::UTC).unwrap();
        let kept: Vec<&str> = plan.kept().map(|d| times[&d.id].as_str()).collect();
        compared += 1;
        if kept != expected {
            differences.push(format!("policy {index} ({}): bosun keeps {kept:?}, restic {expected:?}", text.replace('\n', ", ")));
        }
    }
    assert_eq!((compared, POLICIES.len()), (39, 40), "1 of restic's 40 policies is not bosun's: the empty one");
    assert!(differences.is_empty(), "{} of {compared} policies differ from restic:\n{}", differences.len(), differences.join("\n"));
}
