//! bosun: backups, deploys, smoke checks and notifications for Docker services,
//! extended by sandboxed WebAssembly plugins.
//!
//! # Where things live
//!
//! Each top-level module is a room with one job. Imports between rooms run
//! one way (`scripts/room-deps`, run by `scripts/test`, fails on a cycle):
//!
//! - `cli` parses the command line and prints; it calls `ops` and nothing
//!   else does real work there. `app` is what every command shares: the
//!   loaded config, the plugin runtime, the state store, plugin lookup.
//! - `ops` is what bosun does (backup, restore, deploy, rollback, check,
//!   notify, images, locks), each first as a plan that is a plain value
//!   (`ops::deploy::plan` is a pure function of a `Snapshot` of the engine)
//!   and then its application.
//! - `config` is bosun.toml: the model, its validation and the rules it
//!   validates (retention, notification URLs and templates). It imports
//!   nothing from `ops`.
//! - `plugin` loads, compiles (with a cache) and calls wasm components:
//!   `plugin::kinds` has one `KindWorld` per plugin kind and their exports,
//!   all through the one `Runtime::call`, in the API version the plugin was
//!   built for. `bindings` is the wasmtime code generated from `wit/`: the
//!   current API at its top, the previous one in `bindings::v0_2` with the
//!   conversions between the two.
//! - `capability` is what a plugin may do: one module per host interface
//!   (fs, docker, process, http, net, notify, and log, which needs no
//!   grant), each a `Capability` with its grant grammar, its view of the
//!   call's store data, and its linker hook; `capability::v0_2` serves the
//!   previous API's interfaces with the same calls.
//! - `pipeline` runs pipelines: the steps of a `config::pipeline`, in the
//!   order their needs give, each built-in step through the same `ops` code
//!   as its CLI verb. `expr` is the `${{ }}` expression language of their
//!   steps (GitHub Actions' semantics, tested against GitHub's cases), a
//!   leaf that imports nothing from bosun.
//! - `serve` is the long-running bosun (`bosun serve`): the HTTP API
//!   (`serve::api`, one file per group of routes), `/metrics`, signed
//!   webhooks, and the scheduler that runs pipelines with a `schedule`.
//! - `state` is the SQLite store (runs and their events, backups, releases,
//!   locks, check results, tokens, the audit log).
//!   `backup_format` is what a backup's files look like on disk (file list,
//!   hashes, compression). `docker` is the connection to an engine (unix, ssh,
//!   tcp+TLS); `ops::hosts` gives each `[hosts.<name>]` its engine.
//! - Leaves used everywhere: `failure` (a one-line error and its exit code),
//!   `secrets` (the masker every output goes through), `metrics` (what the
//!   process measures as it works), `procs` (this machine's processes, and
//!   the one way bosun finds them), `time`, `words`.

pub mod app;
pub mod backup_format;
pub mod bindings;
pub mod capability;
pub mod cli;
pub mod config;
pub mod docker;
pub mod expr;
pub mod failure;
pub mod metrics;
pub mod ops;
pub mod pipeline;
pub mod plugin;
pub mod procs;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod time;
pub mod words;
