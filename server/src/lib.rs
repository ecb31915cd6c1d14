//! campus-voip-server: the contact service of SPEC §7 (axum + tokio over SQLite).
//!
//! Configuration, the SQLite store (migrations, one writer with group commit, a read pool),
//! the WeChat-compatible token endpoints and the access-token check, sessions and device keys
//! with their extractors, the limits and operations endpoints, the subcommands, and the contact
//! operations: `/v1/<api>` ([`http::v1`]) and `/wxa/business/*` ([`http::business`]), each the
//! core's `ops` function over [`repo::SqlRepo`] with what [`core::Core`] holds.

pub mod calls;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod db;
pub mod devices;
pub mod export;
pub mod http;
pub mod json;
pub mod metrics;
pub mod pg;
pub mod repo;
pub mod schema;
pub mod session;
pub mod sql;
pub mod tokens;
