//! `/openapi.json` documents every route the router serves, and serves every route it documents:
//! the routes are read from the `.route(…)` calls in `src/http/` (so a new route without a
//! `#[utoipa::path]` entry fails here), the documented ones are requested on a `--dev` service.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;

/// `(method, path)` of every `.route("PATH", METHOD(…)…)` in `src/http/*.rs`, chained methods
/// (`get(a).post(b)`) included.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue; // not a literal path (none today)
            };
            let end = rest.find('"').unwrap();
            let route = rest[..end].to_owned();
            let mut rest = rest[end + 1..]
                .trim_start()
                .trim_start_matches(',')
                .trim_start();
            loop {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase())
                    .collect();
                assert!(
                    ["get", "post", "put", "delete", "patch", "head", "options", "any"]
                        .contains(&name.as_str()),
                    "{}: route {route}: cannot read its method from {:?}",
                    path.display(),
                    &rest[..rest.len().min(40)]
                );
                found.insert((name.clone(), route.clone()));
                // Skip the handler expression to its closing parenthesis, then look for `.method(`.
                let mut depth = 0usize;
                let mut close = None;
                for (i, c) in rest.char_indices().skip(name.len()) {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = rest[close.unwrap() + 1..].trim_start();
                match rest.strip_prefix('.') {
                    Some(next) if !next.starts_with("route") && !next.starts_with("merge") => {
                        rest = next;
                    }
                    _ => break,
                }
            }
        }
    }
    found
}

async fn doc() -> Value {
    common::app().get("/openapi.json").await.json()
}

#[tokio::test]
async fn every_route_in_the_router_is_documented() {
    let routes = routes_in_source();
    assert!(routes.len() >= 24, "the scan found the routes: {routes:?}");
    for must in [
        ("post", "/v1/session/wx"),
        ("post", "/v1/initByCaller"),
        ("post", "/wxa/business/getvoipcontactlist"),
        ("get", "/cgi-bin/token"),
        ("post", "/v1/dev/session"),
    ] {
        assert!(
            routes.contains(&(must.0.into(), must.1.into())),
            "the scan missed {must:?}: {routes:?}"
        );
    }
    let doc = doc().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let missing: Vec<_> = routes
        .iter()
        .filter(|(m, p)| doc["paths"][p.as_str()][m.as_str()].is_null())
        .collect();
    assert!(missing.is_empty(), "not in /openapi.json: {missing:?}");
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let doc = doc().await;
    let app = common::Build {
        dev: true,
        ..Default::default()
    }
    .start();
    let routes = routes_in_source();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes.contains(&(method.clone(), path.clone())),
                "{method} {path} is documented but not routed"
            );
            let req = axum::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(path.as_str())
                .body(axum::body::Body::empty())
                .unwrap();
            let r = app.send(req).await;
            let unrouted = matches!(r.status.as_u16(), 404 | 405)
                || r.text.contains("no such endpoint")
                || r.text.contains("invalid url");
            assert!(!unrouted, "{method} {path}: {} {}", r.status, r.text);
        }
    }
}

#[tokio::test]
async fn entries_have_bodies_replies_and_security() {
    let doc = doc().await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["type"], "http");
    assert_eq!(schemes["session"]["scheme"], "bearer");
    assert_eq!(schemes["device"]["type"], "apiKey");
    assert_eq!(schemes["device"]["in"], "header");
    assert_eq!(schemes["device"]["name"], "Authorization");
    for q in ["access_token", "cloudbase_access_token"] {
        assert_eq!(schemes[q]["in"], "query");
        assert_eq!(schemes[q]["name"], q);
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let resolves = |v: &Value| {
        let r = v["$ref"].as_str().unwrap_or_default();
        r.strip_prefix("#/components/schemas/")
            .is_some_and(|n| schemas.contains_key(n))
    };
    let device = ["/v1/issueVoipToken", "/v1/initByCaller"];
    let either = [
        "/v1/answerVoip",
        "/v1/rejectVoip",
        "/v1/forceHangUpVoip",
        "/v1/rtcSignal",
        "/v1/events",
    ];
    let open = [
        "/v1/dev/tick",
        "/v1/session/wx",
        "/v1/dev/session",
        "/v1/dev/device",
        "/v1/dev/clock",
        "/v1/dev/stats",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let ok = &op["responses"]["200"];
            assert!(ok.is_object(), "{method} {path}: no 200 reply");
            if path != "/metrics" && path != "/openapi.json" {
                assert!(
                    resolves(&ok["content"]["application/json"]["schema"]),
                    "{method} {path}: the 200 reply has no schema: {ok}"
                );
            }
            if method == "post" {
                assert!(
                    resolves(&op["requestBody"]["content"]["application/json"]["schema"]),
                    "{method} {path}: no request body schema"
                );
            }
            let security: Vec<String> = op["security"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .flat_map(|r| r.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let expected: &[&str] = if device.contains(&path.as_str()) {
                &["device"]
            } else if either.contains(&path.as_str()) {
                &["session", "device"]
            } else if path.starts_with("/v1/") && !open.contains(&path.as_str()) {
                &["session"]
            } else if path.starts_with("/wxa/business/") {
                &["access_token", "cloudbase_access_token"]
            } else {
                &[]
            };
            assert_eq!(security, expected, "{method} {path}: security");
        }
    }
}
