//! What bosun does, as plans and their application; the CLI and HTTP API call these.

pub mod backup;
