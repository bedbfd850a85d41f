//! Pipelines (`[pipelines.<name>]` in bosun.toml): so far the expression
//! language their steps and conditions are written in.

pub mod expr;
