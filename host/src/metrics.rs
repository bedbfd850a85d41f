//! What this process measures as it works, for `bosun serve`'s `/metrics`:
//! plugin calls (how long, how they ended) and how late the scheduler
//! starts due runs. What the state store holds (runs, backups, checks,
//! releases) is read from it at scrape time instead (`serve::metrics`).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub plugin: String,
    pub kind: String,
    /// `ok`, `error`, `trap`, `timeout` or `out_of_memory`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
}

/// Seconds, from a millisecond to a minute: a plugin call is short.
fn call_buckets() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0])
}

type CallFamily = Family<CallLabels, Histogram, fn() -> Histogram>;

static PLUGIN_CALLS: LazyLock<CallFamily> = LazyLock::new(|| Family::new_with_constructor(call_buckets as fn() -> Histogram));
static PLUGIN_TRAPS: LazyLock<Family<PluginLabels, Counter>> = LazyLock::new(Family::default);
static SCHEDULER_LAG: LazyLock<Gauge<f64, std::sync::atomic::AtomicU64>> = LazyLock::new(Gauge::default);

/// A plugin call ended after `elapsed`, as `outcome` says.
pub fn plugin_call(plugin: &str, kind: &str, outcome: &str, elapsed: Duration) {
    let labels = CallLabels { plugin: plugin.to_string(), kind: kind.to_string(), outcome: outcome.to_string() };
    PLUGIN_CALLS.get_or_create(&labels).observe(elapsed.as_secs_f64());
    if outcome == "trap" {
        PLUGIN_TRAPS.get_or_create(&PluginLabels { plugin: plugin.to_string() }).inc();
    }
}

/// The scheduler started a due run `lag` after it was due.
pub fn scheduler_lag(lag: Duration) {
    SCHEDULER_LAG.set(lag.as_secs_f64());
}

/// Adds this process's metrics to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register("bosun_plugin_call_duration_seconds", "Plugin calls by plugin, kind and outcome", PLUGIN_CALLS.clone());
    registry.register("bosun_plugin_traps", "Plugin calls that trapped", PLUGIN_TRAPS.clone());
    registry.register("bosun_scheduler_lag_seconds", "How late the scheduler started the last due run", SCHEDULER_LAG.clone());
}
