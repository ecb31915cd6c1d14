//! The http backend (js/http-backend.js) refuses an argument the service would refuse for its
//! size before sending it; its limit must be the service's.

use campus_voip_server::http::Limits;

#[test]
fn the_http_backend_body_limit_is_the_services() {
    let src = include_str!("../../js/http-backend.js");
    let line = src
        .lines()
        .find(|l| l.starts_with("const MAX_BODY_BYTES = "))
        .expect("js/http-backend.js declares MAX_BODY_BYTES");
    let n: usize = line
        .trim_start_matches("const MAX_BODY_BYTES = ")
        .trim_end_matches(';')
        .parse()
        .expect("MAX_BODY_BYTES is a number");
    assert_eq!(n, Limits::default().body_bytes);
}
