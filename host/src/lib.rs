//! bosun: backups, deploys, smoke checks and notifications for Docker services,
//! extended by sandboxed WebAssembly plugins.

pub mod capability;
pub mod cli;
pub mod config;
pub mod docker;
pub mod plugin;
pub mod time;
