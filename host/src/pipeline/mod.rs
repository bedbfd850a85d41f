//! Running pipelines (`[pipelines.<name>]`, modelled and validated in
//! `config::pipeline`): `inputs` types a run's `key=value` words, `run`
//! schedules the steps, `step` runs each built-in step through the same
//! `ops` code as its CLI verb, `command` runs the `command` step's argv, `images` the image steps, `gate` the release gate and approvals, `plugin` the steps a
//! pipeline-step plugin runs, `task` one built-in step run alone (`bosun serve`'s routes).

mod args;
mod command;
mod gate;
mod images;
pub mod inputs;
mod plugin;
mod run;
mod step;
mod task;

pub use run::{Event, MAX_RECORDED_LINES, Observer, Ran, Start, StepReport, run, run_until};
pub use task::Task;
