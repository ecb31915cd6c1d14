//! The http backend (js/http-backend.js) sends only the fields each API reads. Its table must be
//! the core's (src/requests.rs): this test reads the JS source and compares, so a field added to
//! a request in the core cannot be forgotten by the http backend.

use campus_voip::requests;

/// The `FIELDS` table of js/http-backend.js as (api, fields).
fn js_fields() -> Vec<(String, Vec<String>)> {
    let src = include_str!("../js/http-backend.js");
    let start = src
        .find("const FIELDS = {")
        .expect("js/http-backend.js has a FIELDS table");
    let body = &src[start..];
    let end = body.find("\n};").expect("the FIELDS table ends");
    body[..end]
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (api, rest) = line.trim().split_once(':')?;
            let fields = rest
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(',')
                .trim_end_matches(']')
                .split(',')
                .map(|f| f.trim().trim_matches('\'').to_owned())
                .filter(|f| !f.is_empty())
                .collect();
            Some((api.to_owned(), fields))
        })
        .collect()
}

#[test]
fn the_http_backend_sends_exactly_the_fields_the_core_reads() {
    let core: &[(&str, &[&str])] = &[
        ("bindVoipAdminContact", requests::USER_ID),
        ("getBindContactPath", requests::SHARE_PATH),
        ("getVoipBindContactList", requests::USER_ID),
        ("deleteVoipBindContact", requests::DELETE),
        ("transerAdmin", requests::TRANSFER),
        ("issueVoipToken", requests::USER_ID),
        ("answerVoip", requests::CALL_ROOM),
        ("rejectVoip", requests::CALL_ROOM),
        ("initByCaller", requests::INIT_BY_CALLER),
    ];
    let js = js_fields();
    assert_eq!(js.len(), core.len(), "APIs in the JS table: {js:?}");
    for (api, fields) in core {
        let got = js
            .iter()
            .find(|(a, _)| a == api)
            .unwrap_or_else(|| panic!("{api} is missing from FIELDS in js/http-backend.js"));
        assert_eq!(
            got.1, *fields,
            "{api}: js/http-backend.js vs src/requests.rs"
        );
    }
}
