//! bosun: backups, deploys, smoke checks and notifications for Docker services,
//! extended by sandboxed WebAssembly plugins.

pub mod app;
pub mod backup_format;
pub mod bindings;
pub mod capability;
pub mod cli;
pub mod config;
pub mod docker;
pub mod failure;
pub mod ops;
pub mod plugin;
pub mod secrets;
pub mod state;
pub mod time;
pub mod words;
