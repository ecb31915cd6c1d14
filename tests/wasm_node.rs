//! The shared wasm suite in Node: `wasm-pack test --node -- --test wasm_node`.
#![cfg(target_arch = "wasm32")]
mod wasm_common;
