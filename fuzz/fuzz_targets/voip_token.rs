#![no_main]
//! Fuzz target `voip_token`: the body lives in tests/fuzz_bodies/mod.rs (shared with the
//! regression test tests/fuzz_regressions.rs).

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod bodies;

fuzz_target!(|data: &[u8]| bodies::voip_token(data));
