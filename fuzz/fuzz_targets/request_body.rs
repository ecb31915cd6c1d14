#![no_main]
//! Fuzz target `request_body`: a JSON body through the service's parsing and the operation over
//! the local backend's repo. The body lives in server/tests/request_body/mod.rs (shared with
//! the regression test server/tests/fuzz_request_body.rs).

use libfuzzer_sys::fuzz_target;

#[path = "../../server/tests/request_body/mod.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::request_body(data));
