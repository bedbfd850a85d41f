//! `bosun serve`: the long-running bosun. Today it runs scheduled
//! pipelines (`scheduler`); the HTTP API will live in this same process.

pub mod scheduler;
