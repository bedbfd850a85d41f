//! Every integration test, in one test binary: one link of bosun and
//! wasmtime instead of one per file (each was ~220 MB on disk, and CI ran out
//! of it). A file here is a module; `cargo test deploy::` runs one of them.
//! hostile_limits.rs is a binary of its own: it measures its process's peak
//! memory, which tests running beside it would add to.

mod common;
mod support;

mod alerts;
mod api_compat;
mod backups;
mod builtin_plugins;
mod checks;
mod cli;
mod dashboard;
mod deploy;
mod docker_capability;
mod hostile_fs;
mod hostile_process;
mod hostile_runtime;
mod hosts;
mod images;
mod interrupted;
mod notify;
mod notify_limits;
mod pipelines;
mod process_services;
mod sandbox;
mod serve;
mod serve_api;
mod watch;
