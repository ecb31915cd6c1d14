//! Limits and bad requests: every answer is JSON, none is a 5xx (except a caught panic on /v1),
//! and the WeChat interface answers HTTP 200 even then.

mod common;

use axum::body::{Body, Bytes};
use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use campus_voip_server::http::extract::{Caller, RawBody};
use campus_voip_server::http::{AppState, Limits};
use common::{Build, Reply, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

fn assert_plugin_error(r: &Reply, status: u16, err_code: u32) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/json", "{}", r.text);
    let v = r.json();
    assert_eq!(v["errCode"], err_code, "{v}");
    assert!(v["errMsg"].as_str().unwrap().contains(":fail "), "{v}");
    assert!(v["code"]
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_uppercase() || c == '_'));
}

fn assert_wechat(r: &Reply, errcode: i64) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.json()["errcode"], errcode, "{}", r.text);
}

async fn boom() -> &'static str {
    panic!("boom")
}

fn test_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/test/panic", get(boom))
        .route("/wxa/business/panic", post(boom))
        .route(
            "/v1/test/echo",
            post(|_c: Caller, body: RawBody| async move { body.0.len().to_string() }),
        )
        .route(
            "/v1/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
}

fn app_with(limits: Limits, dev: bool) -> TestApp {
    Build {
        dev,
        limits,
        extra: test_routes(),
        ..Build::default()
    }
    .start()
}

#[tokio::test]
async fn operations_endpoints() {
    let app = common::app();
    let r = app.get("/healthz").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (200, json!({"status": "ok"}))
    );
    let r = app.get("/readyz").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (200, json!({"status": "ready"}))
    );
    let r = app.get("/openapi.json").await;
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/cgi-bin/token",
        "/cgi-bin/stable_token",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/dev/session",
        "/v1/dev/device",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    app.get("/cgi-bin/token?grant_type=client_credential&appid=x&secret=SECRET-IN-QUERY")
        .await;
    app.get("/no/such/path?x=SECRET-IN-QUERY").await;
    let m = app.get("/metrics").await;
    assert!(m.content_type.starts_with("text/plain"));
    assert!(m.text.contains(
        "campus_voip_http_requests_total{method=\"GET\",route=\"/cgi-bin/token\",status=\"200\"} 1"
    ), "{}", m.text);
    assert!(m.text.contains("route=\"unmatched\",status=\"404\""));
    assert!(m.text.contains("campus_voip_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 1"));
    assert!(m
        .text
        .contains("campus_voip_outcomes_total{interface=\"wechat\",code=\"40013\"} 1"));
    assert!(m.text.contains("campus_voip_sqlite_busy_waits_total"));
    assert!(
        !m.text.contains("SECRET") && !m.text.contains("no/such"),
        "no query strings or raw paths in labels"
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_closed() {
    let app = common::app();
    app.state.db.close();
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["status"], "unavailable");
    // A write after close fails, and the WeChat interface still answers 200 JSON.
    let r = app
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            common::APP_ID,
            common::APP_SECRET
        ))
        .await;
    assert_wechat(&r, -1);
}

#[tokio::test]
async fn dev_endpoints_only_with_dev() {
    let off = common::app();
    for path in ["/v1/dev/session", "/v1/dev/device"] {
        let r = off.post(path, r#"{"openId":"o_dad","name":"gate"}"#).await;
        assert_plugin_error(&r, 404, 1004);
    }
    let on = app_with(Limits::default(), true);
    let r = on.post("/v1/dev/session", r#"{"openId":"o_dad"}"#).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["errCode"], 0);
    assert_eq!(v["expiresIn"], 604_800);
    let session = v["session"].as_str().unwrap();
    assert!(session.starts_with("v1.") && session.contains(".o_dad."));
    let r = on
        .post_auth("/v1/test/echo", &format!("Bearer {session}"), "x")
        .await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "1"));
    let r = on.post("/v1/dev/device", r#"{"name":"gate-1"}"#).await;
    let key = r.json()["deviceKey"].as_str().unwrap().to_owned();
    let r = on
        .post_auth("/v1/test/echo", &format!("Device {key}"), "xy")
        .await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "2"));
    // Errors: rule-style, HTTP 200.
    for (path, body, code) in [
        ("/v1/dev/session", "", 1004),
        ("/v1/dev/session", "{", 1004),
        ("/v1/dev/session", "[]", 1004),
        ("/v1/dev/session", "{}", 1004),
        ("/v1/dev/session", r#"{"openId":7}"#, 1004),
        ("/v1/dev/session", r#"{"openId":"o dad"}"#, 20),
        ("/v1/dev/session", r#"{"openId":""}"#, 20),
        ("/v1/dev/device", r#"{"name":"gate-1"}"#, 1004),
        ("/v1/dev/device", r#"{"name":"a/b"}"#, 1004),
        ("/v1/dev/device", r#"{"name":null}"#, 1004),
    ] {
        let r = on.post(path, body).await;
        assert_plugin_error(&r, 200, code);
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_json() {
    let app = app_with(Limits::default(), true);
    let big = vec![b' '; 64 * 1024 + 1];
    let mib = format!("{{\"openId\":\"{}\"}}", "a".repeat(1 << 20));
    // Declared length.
    let r = app.post("/v1/dev/session", big.clone()).await;
    assert_plugin_error(&r, 413, 1004);
    let r = app.post("/v1/dev/session", mib.clone()).await;
    assert_plugin_error(&r, 413, 1004);
    // Streamed without a length.
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..80).map(|_| Ok(Bytes::from(vec![b' '; 1024]))).collect();
    let r = app
        .send(
            Request::post("/v1/dev/session")
                .body(Body::from_stream(futures_stream(chunks)))
                .unwrap(),
        )
        .await;
    assert_plugin_error(&r, 413, 1004);
    // The WeChat interface: HTTP 200, 47001.
    let r = app.post("/cgi-bin/stable_token", mib).await;
    assert_wechat(&r, 47001);
    // Exactly at the limit is read.
    let mut at = br#"{"openId":"o_dad"}"#.to_vec();
    at.resize(64 * 1024, b' ');
    let r = app.post("/v1/dev/session", at).await;
    assert_eq!(r.json()["errCode"], 0);
}

fn futures_stream(
    items: Vec<Result<Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    streams::Iter(items.into_iter())
}

/// Minimal body streams (no stream utility crate needed).
mod streams {
    use futures_core::Stream;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct Iter<I>(pub I);

    impl<I: Iterator + Unpin> Stream for Iter<I> {
        type Item = I::Item;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
            Poll::Ready(self.0.next())
        }
    }

    /// A body that never arrives.
    pub struct Pending;

    impl Stream for Pending {
        type Item = Result<axum::body::Bytes, std::io::Error>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_is_408_json() {
    let app = app_with(Limits::default(), true);
    let r = app
        .send(
            Request::post("/v1/dev/session")
                .body(Body::from_stream(streams::Pending))
                .unwrap(),
        )
        .await;
    assert_plugin_error(&r, 408, 1002);
    let r = app
        .send(
            Request::post("/cgi-bin/stable_token")
                .body(Body::from_stream(streams::Pending))
                .unwrap(),
        )
        .await;
    assert_wechat(&r, -1);
}

#[tokio::test(start_paused = true)]
async fn a_request_over_the_timeout_is_408_json() {
    let app = app_with(Limits::default(), false);
    let r = app.get("/v1/test/slow").await;
    assert_plugin_error(&r, 408, 1002);
}

#[tokio::test]
async fn panics_are_caught() {
    let app = app_with(Limits::default(), false);
    let r = app.get("/v1/test/panic").await;
    assert_plugin_error(&r, 500, 1002);
    let r = app.post("/wxa/business/panic", "{}").await;
    assert_wechat(&r, -1);
    // The service goes on.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn over_the_concurrency_limit_is_a_fast_503() {
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let app = std::sync::Arc::new(app_with(limits, true));
    let holder = {
        let app = app.clone();
        tokio::spawn(async move {
            app.send(
                Request::post("/v1/dev/session")
                    .body(Body::from_stream(streams::Pending))
                    .unwrap(),
            )
            .await
        })
    };
    // Once the holder has the only slot (it waits for a body that never comes), the next
    // request is refused at once.
    let mut refused = None;
    for _ in 0..500 {
        let r = app.post("/v1/dev/session", r#"{"openId":"o_dad"}"#).await;
        if r.status == 503 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_plugin_error(&refused.expect("a 503 once the slot is taken"), 503, 1002);
    let r = app.post("/cgi-bin/stable_token", "{}").await;
    assert_wechat(&r, -1);
    // Health stays reachable.
    assert_eq!(app.get("/healthz").await.status, 200);
    holder.abort();
    let _ = holder.await;
    let r = app.post("/v1/dev/session", r#"{"openId":"o_dad"}"#).await;
    assert_eq!(r.json()["errCode"], 0);
}

#[tokio::test]
async fn methods_paths_and_content_types() {
    let app = app_with(Limits::default(), true);
    let wrong_method = [
        ("POST", "/cgi-bin/token", 43001),
        ("PUT", "/cgi-bin/token", 43001),
        ("GET", "/cgi-bin/stable_token", 43002),
        ("DELETE", "/cgi-bin/stable_token", 43002),
    ];
    for (m, p, code) in wrong_method {
        let r = app
            .send(
                Request::builder()
                    .method(m)
                    .uri(p)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_wechat(&r, code);
    }
    let r = app
        .send(Request::get("/v1/dev/session").body(Body::empty()).unwrap())
        .await;
    assert_plugin_error(&r, 405, 1004);
    let r = app
        .send(Request::delete("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_plugin_error(&r, 405, 1004);
    let r = app.get("/cgi-bin/nope").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["errcode"], 40066);
    let r = app.get("/v2/anything").await;
    assert_plugin_error(&r, 404, 1004);
    // Content types never matter on the body readers.
    for ct in [
        "text/plain",
        "application/octet-stream",
        "multipart/form-data; boundary=x",
        "application/json",
    ] {
        let r = app
            .send(
                Request::post("/v1/dev/session")
                    .header("content-type", ct)
                    .body(Body::from(r#"{"openId":"o_dad"}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.json()["errCode"], 0, "{ct}");
    }
}

/// A battery of bad bodies on every body-reading endpoint: JSON answers, no 5xx.
#[tokio::test]
async fn bad_bodies_battery() {
    let app = app_with(Limits::default(), true);
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_obj = format!(
        "{}{}",
        "{\"a\":".repeat(200),
        "1".to_owned() + &"}".repeat(200)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"true".to_vec(),
        b"0".to_vec(),
        b"-1e999".to_vec(),
        b"\"str\"".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"{\"openId\":".to_vec(),
        b"{\"openId\":\"o_dad\"".to_vec(),
        b"{\"openId\":\"o_dad\"}}".to_vec(),
        b"{\"openId\":\"o_dad\"} trailing".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        b"{\"openId\":\"\xff\"}".to_vec(),
        b"{\"openId\":\"\\ud800\"}".to_vec(),
        b"{\"openId\":\"a\\u0000b\"}".to_vec(),
        b"{\"openId\":\"o_dad\",\"openId\":\"o_mum\"}".to_vec(),
        b"{\"openId\":[\"o_dad\"]}".to_vec(),
        b"{\"openId\":{\"x\":1}}".to_vec(),
        b"{\"name\":\"\"}".to_vec(),
        format!("{{\"name\":\"{}\"}}", "n".repeat(9000)).into_bytes(),
        format!("{{\"openId\":\"{}\"}}", "a".repeat(65)).into_bytes(),
        deep.clone().into_bytes(),
        deep_obj.clone().into_bytes(),
        format!("[{}]", vec!["1"; 5000].join(",")).into_bytes(),
        format!(
            "{{{}}}",
            (0..500)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        )
        .into_bytes(),
        b"{'openId':'o_dad'}".to_vec(),
        b"openId=o_dad".to_vec(),
        b"\x00\x00\x00".to_vec(),
        b"{\"grant_type\":\"client_credential\",\"appid\":null,\"secret\":null}".to_vec(),
    ];
    let endpoints = ["/v1/dev/session", "/v1/dev/device", "/cgi-bin/stable_token"];
    let mut n = 0;
    for ep in endpoints {
        for b in &bodies {
            let r = app.post(ep, b.clone()).await;
            n += 1;
            assert!(
                r.status.as_u16() < 500,
                "{ep} {:?}: {}",
                String::from_utf8_lossy(b),
                r.text
            );
            assert_eq!(r.content_type, "application/json", "{ep}: {}", r.text);
            let v: Value = r.json();
            if ep.starts_with("/cgi-bin") {
                assert_eq!(r.status, 200);
                assert!(v["errcode"].as_i64().unwrap() != 0, "{v}");
            } else {
                assert!(v.get("errCode").is_some(), "{v}");
            }
        }
    }
    assert!(n >= 90);
    // Nothing was created by any of them but the valid ones.
    let devices = app
        .state
        .db
        .read(campus_voip_server::devices::list)
        .await
        .unwrap();
    assert!(devices.iter().all(|d| d.name.len() <= 64), "{devices:?}");
}
