//! `bosun watch` (sample what `[watch]` selects, as `bosun serve` does) and
//! `bosun stats` (a target's samples: min, average, max and a sparkline).

use std::time::Duration;

use clap::Args;
use indicatif::HumanBytes;
use serde::Serialize;

use super::output::{Failure, Output};
use crate::app::App;
use crate::config::parse_duration;
use crate::ops::alerts;
use crate::ops::watch::{self, Collection, Watcher};
use crate::state::{Sample, now_unix};

#[derive(Args)]
pub struct WatchArgs {
    /// One collection, printed and kept, then exit (CPU is measured over one
    /// second); without it, collect every interval and fire alerts, as `bosun serve` does.
    #[arg(long)]
    once: bool,
}

#[derive(Args)]
pub struct StatsArgs {
    /// A service, a container's name, or a `[watch.processes]` name.
    target: String,
    /// How far back (`30m`, `6h`, `7d`).
    #[arg(long, default_value = "1h")]
    since: String,
    /// Only this host's samples.
    #[arg(long)]
    host: Option<String>,
}

pub async fn watch(args: WatchArgs, app: &App, out: Output) -> Result<(), Failure> {
    if !args.once {
        let (stopping, stop) = crate::ops::cancel::pair();
        let signal = async {
            let _ = tokio::signal::ctrl_c().await;
            stopping.cancel();
        };
        let watching = alerts::watch(app, stop, async |collection| out.print(collection, || collection_text(collection, false)));
        return tokio::join!(watching, signal).0;
    }
    if !watch::anything(&app.config) {
        return Err(Failure::bad_input("nothing to watch: bosun.toml has no services and no [watch] targets"));
    }
    let mut watcher = Watcher::default();
    // CPU is a change between two readings: the first is only the start.
    watcher.collect(&app.config).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let collection = watcher.collect(&app.config).await;
    watch::record(app.state()?, &app.config, &collection)?;
    out.print(&collection, || collection_text(&collection, true));
    Ok(())
}

/// A table of the samples, the hosts that did not answer, the selectors that matched nothing.
fn collection_text(collection: &Collection, header: bool) -> String {
    let mut lines = Vec::new();
    if header {
        lines.push(format!("{:<9} {:<20} {:<8} {:<10} {:<9} {:>7} {:>21} {:>8} {:>8}  DETAIL", "KIND", "TARGET", "HOST", "STATE", "HEALTH", "CPU", "MEMORY", "RESTARTS", "UPTIME"));
    }
    for s in &collection.samples {
        lines.push(format!(
            "{:<9} {:<20} {:<8} {:<10} {:<9} {:>7} {:>21} {:>8} {:>8}  {}",
            s.kind,
            s.target,
            s.host,
            s.state,
            s.health.as_deref().unwrap_or("-"),
            s.cpu_percent.map_or("-".into(), |c| format!("{c:.1}%")),
            memory_text(s),
            s.restarts.map_or("-".into(), |r| r.to_string()),
            s.uptime_secs.map_or("-".into(), |u| crate::time::elapsed(Duration::from_secs(u.max(0) as u64))),
            s.detail.as_deref().unwrap_or(""),
        ));
    }
    for u in &collection.unreachable {
        lines.push(format!("host {}: the engine did not answer: {}", u.host, u.error));
    }
    lines.extend(collection.unmatched.iter().cloned());
    lines.join("\n")
}

fn memory_text(s: &Sample) -> String {
    match (s.memory_bytes, s.memory_limit) {
        (Some(used), Some(limit)) => format!("{} / {}", HumanBytes(used.max(0) as u64), HumanBytes(limit.max(0) as u64)),
        (Some(used), None) => HumanBytes(used.max(0) as u64).to_string(),
        _ => "-".into(),
    }
}

/// A measure over a span: what `bosun stats` prints per measure.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    /// The values over time, in at most [`SPARK_WIDTH`] columns.
    pub sparkline: String,
}

#[derive(Debug, Serialize)]
struct Stats {
    target: String,
    since: i64,
    samples: usize,
    cpu_percent: Option<Summary>,
    memory_bytes: Option<Summary>,
    /// The newest sample's state, health and restart count.
    last: Option<Sample>,
}

pub const SPARK_WIDTH: usize = 40;

pub fn stats(args: StatsArgs, app: &App, out: Output) -> Result<(), Failure> {
    let span = parse_duration(&args.since).map_err(|e| Failure::bad_input(format!("--since: {e}")))?;
    let since = now_unix() - span.as_secs() as i64;
    let samples = app.state()?.samples(&args.target, args.host.as_deref(), since)?;
    if samples.is_empty() {
        return Err(Failure::failed(format!(
            "no samples of {} in the last {}: `bosun watch --once` takes one, and `bosun serve` keeps taking them ([watch] in bosun.toml picks what)",
            args.target, args.since
        )));
    }
    let measure = |f: fn(&Sample) -> Option<f64>| summary(&samples.iter().filter_map(f).collect::<Vec<_>>());
    let stats = Stats {
        target: args.target.clone(),
        since,
        samples: samples.len(),
        cpu_percent: measure(|s| s.cpu_percent),
        memory_bytes: measure(|s| s.memory_bytes.map(|m| m as f64)),
        last: samples.last().cloned(),
    };
    out.print(&stats, || {
        let mut lines = vec![format!("{} over the last {} ({} samples)", stats.target, args.since, stats.samples)];
        if let Some(c) = &stats.cpu_percent {
            lines.push(format!("  cpu     min {:>9}  avg {:>9}  max {:>9}  {}", format!("{:.1}%", c.min), format!("{:.1}%", c.avg), format!("{:.1}%", c.max), c.sparkline));
        }
        if let Some(m) = &stats.memory_bytes {
            let b = |v: f64| HumanBytes(v as u64).to_string();
            lines.push(format!("  memory  min {:>9}  avg {:>9}  max {:>9}  {}", b(m.min), b(m.avg), b(m.max), m.sparkline));
        }
        if let Some(last) = &stats.last {
            let health = last.health.as_deref().map(|h| format!(", {h}")).unwrap_or_default();
            lines.push(format!("  now     {}{health}, {} restarts", last.state, last.restarts.unwrap_or(0)));
        }
        lines.join("\n")
    });
    Ok(())
}

/// Min, average, max and a sparkline of `values` (oldest first); none when empty.
pub fn summary(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = values.iter().sum::<f64>() / values.len() as f64;
    Some(Summary { min, avg, max, sparkline: sparkline(values, min, max) })
}

/// Each column the average of its share of `values`, as one of eight bars.
fn sparkline(values: &[f64], min: f64, max: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let columns = values.len().min(SPARK_WIDTH);
    (0..columns)
        .map(|i| {
            let part = &values[i * values.len() / columns..(i + 1) * values.len() / columns];
            let avg = part.iter().sum::<f64>() / part.len() as f64;
            let level = if max > min { ((avg - min) / (max - min) * 7.0).round() as usize } else { 0 };
            BARS[level.min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_spans_min_to_max_in_eight_bars() {
        let s = summary(&[0.0, 50.0, 100.0, 100.0]).unwrap();
        assert_eq!((s.min, s.avg, s.max), (0.0, 62.5, 100.0));
        assert_eq!(s.sparkline, "▁▅██");
        let long: Vec<f64> = (0..400).map(f64::from).collect();
        let s = summary(&long).unwrap();
        assert_eq!(s.sparkline.chars().count(), SPARK_WIDTH);
        assert!(s.sparkline.starts_with('▁') && s.sparkline.ends_with('█'));
        assert_eq!(summary(&[3.0, 3.0]).unwrap().sparkline, "▁▁");
        assert!(summary(&[]).is_none());
    }
}
