//! campus-voip-server: the contact service of SPEC §7 (axum + tokio over SQLite).
//!
//! This is the service's skeleton: configuration, the SQLite store (migrations, one writer
//! with group commit, a read pool), the WeChat-compatible token endpoints and the access-token
//! check, sessions and device keys with their extractors, the limits and operations endpoints,
//! and the subcommands. The contact operations (the `/v1/…` endpoints and
//! `/wxa/business/getvoipcontactlist`) are wired in over [`db::Db`] once the core's operations
//! take a store (`ops.rs` over a `Repo`).

pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod db;
pub mod devices;
pub mod http;
pub mod json;
pub mod metrics;
pub mod repo;
pub mod schema;
pub mod session;
pub mod tokens;
