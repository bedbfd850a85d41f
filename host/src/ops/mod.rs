//! What bosun does, as plans and their application; the CLI and HTTP API call these.

pub mod alerts;
pub mod backup;
pub mod cancel;
pub mod check;
pub mod deploy;
pub mod hosts;
pub mod images;
pub mod lock;
pub mod notify;
pub mod plugin_config;
pub mod plugins;
pub mod processes;
pub mod status;
pub mod watch;
