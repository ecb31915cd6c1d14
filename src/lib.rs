//! campus-voip core: every rule of the WeChat VoIP plugin's campus face-pay mode, in pure Rust.
//!
//! Students (face-pay `userId`) call parents (`openId`) who are bound to them as contacts: one
//! administrator, ordinary contacts who joined through a signed share link, a limit per
//! student. The core knows nothing of wasm, JS or storage media; the clock and the randomness
//! are inputs. [`engine::Engine`] is the local backend built on it; `wasm` (on wasm32 only) is
//! the thin binding the JS shim calls.

pub mod call;
pub mod codec;
pub mod engine;
pub mod errors;
pub mod heap;
pub mod ids;
pub mod input;
pub mod json;
pub mod keys;
pub mod lifecycle;
pub mod ops;
pub mod registry;
pub mod repo;
pub mod requests;
pub mod rng;
pub mod rules;
pub mod share;
pub mod storage;
pub mod ticket;
pub mod token;

/// The wasm-bindgen binding (wasm32 only), public so the wasm test suite can drive it.
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use errors::{Error, ErrorCode, Origin, Result};

/// The `wmpf-voip` plugin version whose API this build implements (the default
/// `compatVersion`).
pub const PLUGIN_VERSION: &str = "2.4.0";
