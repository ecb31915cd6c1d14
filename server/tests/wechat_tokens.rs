//! The WeChat-compatible token endpoints and the /wxa/business access-token check, with time
//! driven by a manual clock.

mod common;

use axum::routing::post;
use axum::Router;
use campus_voip_server::http::errors::wechat;
use campus_voip_server::http::extract::DeveloperAuth;
use campus_voip_server::http::AppState;
use common::{Build, TestApp, APP_ID, APP_SECRET};
use serde_json::{json, Value};

/// A /wxa/business route that only checks the token (what getvoipcontactlist will use).
fn with_probe() -> TestApp {
    let extra: Router<AppState> = Router::new().route(
        "/wxa/business/probe",
        post(|auth: DeveloperAuth| async move { wechat(0, format!("ok {}", auth.app_id)) }),
    );
    Build {
        extra,
        ..Build::default()
    }
    .start()
}

async fn probe(app: &TestApp, token: &str) -> Value {
    let r = app
        .post(&format!("/wxa/business/probe?access_token={token}"), "{}")
        .await;
    assert_eq!(r.status, 200);
    r.json()
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}

fn token_of(v: &Value) -> String {
    v["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn classic_token_shape() {
    let app = with_probe();
    let t = app.classic_token().await;
    assert!(t["expires_in"].is_u64(), "expires_in is an integer: {t}");
    assert_eq!(t["expires_in"], 7200);
    assert!(
        t.get("errcode").is_none(),
        "WeChat's success body has no errcode"
    );
    let tok = token_of(&t);
    assert!(tok.len() >= 32 && tok.len() <= 512);
    assert!(tok
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(probe(&app, &tok).await["errmsg"], format!("ok {APP_ID}"));
}

#[tokio::test]
async fn a_new_classic_token_retires_the_previous_one_after_five_minutes() {
    let app = with_probe();
    let first = token_of(&app.classic_token().await);
    app.clock.advance_secs(60);
    let second = token_of(&app.classic_token().await);
    assert_ne!(first, second);
    // Both work for 5 minutes after the second was issued.
    app.clock.advance_secs(299);
    assert_eq!(errcode(&probe(&app, &first).await), 0);
    assert_eq!(errcode(&probe(&app, &second).await), 0);
    app.clock.advance_secs(1);
    assert_eq!(
        errcode(&probe(&app, &first).await),
        40001,
        "retired: not latest"
    );
    assert_eq!(errcode(&probe(&app, &second).await), 0);
    // A third token retires the second five minutes later; the first stays retired.
    let third = token_of(&app.classic_token().await);
    app.clock.advance_secs(300);
    assert_eq!(errcode(&probe(&app, &second).await), 40001);
    assert_eq!(errcode(&probe(&app, &first).await), 40001);
    assert_eq!(errcode(&probe(&app, &third).await), 0);
    // Expiry: 7200 s after issue.
    app.clock.advance_secs(7200 - 300 - 1);
    assert_eq!(errcode(&probe(&app, &third).await), 0);
    app.clock.advance_secs(1);
    assert_eq!(errcode(&probe(&app, &third).await), 42001);
}

#[tokio::test]
async fn a_token_just_issued_is_never_refused() {
    let app = with_probe();
    for i in 0..40 {
        let t = if i % 2 == 0 {
            app.classic_token().await
        } else {
            app.stable_token(i % 4 == 1).await
        };
        let tok = token_of(&t);
        assert_eq!(errcode(&probe(&app, &tok).await), 0, "round {i}");
        app.clock.advance_secs(37);
    }
}

#[tokio::test]
async fn stable_token_is_the_same_until_five_minutes_before_expiry() {
    let app = with_probe();
    let a = app.stable_token(false).await;
    assert_eq!(a["expires_in"], 7200);
    app.clock.advance_secs(1000);
    let b = app.stable_token(false).await;
    assert_eq!(token_of(&a), token_of(&b));
    assert_eq!(b["expires_in"], 6200, "the time left, an integer");
    // 5 minutes and 1 second left: still the same.
    app.clock.advance_secs(7200 - 1000 - 301);
    let c = app.stable_token(false).await;
    assert_eq!(token_of(&c), token_of(&a));
    assert_eq!(c["expires_in"], 301);
    // Exactly 5 minutes left: a new one; the old one works until its own expiry.
    app.clock.advance_secs(1);
    let d = app.stable_token(false).await;
    assert_ne!(token_of(&d), token_of(&a));
    assert_eq!(d["expires_in"], 7200);
    assert_eq!(errcode(&probe(&app, &token_of(&a)).await), 0);
    app.clock.advance_secs(300);
    assert_eq!(errcode(&probe(&app, &token_of(&a)).await), 42001);
    assert_eq!(errcode(&probe(&app, &token_of(&d)).await), 0);
    // Classic tokens do not touch the stable one.
    app.classic_token().await;
    app.classic_token().await;
    let e = app.stable_token(false).await;
    assert_eq!(token_of(&e), token_of(&d));
}

#[tokio::test]
async fn force_refresh_replaces_the_stable_token_at_once() {
    let app = with_probe();
    let a = token_of(&app.stable_token(false).await);
    app.clock.advance_secs(10);
    let b = token_of(&app.stable_token(true).await);
    assert_ne!(a, b);
    assert_eq!(errcode(&probe(&app, &a).await), 40001);
    assert_eq!(errcode(&probe(&app, &b).await), 0);
    let c = token_of(&app.stable_token(false).await);
    assert_eq!(b, c, "normal mode hands out the refreshed one");
    // The classic token is independent of force_refresh.
    let classic = token_of(&app.classic_token().await);
    app.stable_token(true).await;
    assert_eq!(errcode(&probe(&app, &classic).await), 0);
}

#[tokio::test]
async fn short_lifetimes_for_dev_tests() {
    let app = Build {
        dev: true,
        access_token_ttl_s: 2,
        ..Build::default()
    }
    .start();
    let t = app.stable_token(false).await;
    assert_eq!(t["expires_in"], 2);
    let same = app.stable_token(false).await;
    assert_eq!(
        token_of(&same),
        token_of(&t),
        "refresh window is half of a short lifetime"
    );
}

#[tokio::test]
async fn credential_errors() {
    let app = common::app();
    let get = |q: String| {
        let app = &app;
        async move { app.get(&format!("/cgi-bin/token?{q}")).await }
    };
    let cases = [
        (
            format!("grant_type=password&appid={APP_ID}&secret={APP_SECRET}"),
            40002,
        ),
        (format!("appid={APP_ID}&secret={APP_SECRET}"), 40002),
        (
            format!("grant_type=client_credential&secret={APP_SECRET}"),
            41002,
        ),
        (
            format!("grant_type=client_credential&appid=&secret={APP_SECRET}"),
            41002,
        ),
        (
            format!("grant_type=client_credential&appid=wxnope&secret={APP_SECRET}"),
            40013,
        ),
        (
            format!("grant_type=client_credential&appid={APP_ID}"),
            41004,
        ),
        (
            format!("grant_type=client_credential&appid={APP_ID}&secret=nope"),
            40125,
        ),
        (
            format!("grant_type=client_credential&appid={APP_ID}&secret={APP_SECRET}x"),
            40125,
        ),
        (
            format!(
                "grant_type=client_credential&appid={APP_ID}&secret={}",
                &APP_SECRET[1..]
            ),
            40125,
        ),
    ];
    for (q, code) in cases {
        let r = get(q.clone()).await;
        assert_eq!(r.status, 200, "{q}");
        assert_eq!(r.content_type, "application/json");
        let v = r.json();
        assert_eq!(v["errcode"], code, "{q}: {v}");
        assert!(v["errmsg"].is_string());
    }
    let v = get("grant_type=client_credential&appid=wxnope&secret=x".into())
        .await
        .json();
    assert_eq!(v, json!({ "errcode": 40013, "errmsg": "invalid appid" }));
    let v = get(format!(
        "grant_type=client_credential&appid={APP_ID}&secret=x"
    ))
    .await
    .json();
    assert_eq!(
        v,
        json!({ "errcode": 40125, "errmsg": "invalid appsecret" })
    );
    // The same checks on stable_token, plus its body errors.
    let bodies: [(&str, i64); 12] = [
        ("", 44002),
        ("  \n", 44002),
        ("{", 47001),
        ("[1]", 47001),
        ("\"x\"", 47001),
        ("\u{feff}{}", 47001),
        ("{}", 40002),
        (r#"{"grant_type":"client_credential"}"#, 41002),
        (r#"{"grant_type":"client_credential","appid":7}"#, 41002),
        (
            r#"{"grant_type":"client_credential","appid":"wxnope","secret":"x"}"#,
            40013,
        ),
        (
            r#"{"grant_type":"client_credential","appid":"wx0123456789abcdef"}"#,
            41004,
        ),
        (
            r#"{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"x"}"#,
            40125,
        ),
    ];
    for (body, code) in bodies {
        let r = app.post("/cgi-bin/stable_token", body).await;
        assert_eq!(r.status, 200, "{body:?}");
        assert_eq!(r.json()["errcode"], code, "{body:?}: {}", r.text);
    }
    let r = app
        .post(
            "/cgi-bin/stable_token",
            json!({"grant_type":"client_credential","appid":APP_ID,"secret":APP_SECRET,"force_refresh":"yes"})
                .to_string(),
        )
        .await;
    assert_eq!(r.json()["errcode"], 47001);
}

#[tokio::test]
async fn stable_token_reads_json_whatever_the_content_type() {
    let app = common::app();
    let body =
        json!({"grant_type":"client_credential","appid":APP_ID,"secret":APP_SECRET}).to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=utf-8"),
        Some("garbage/!!"),
    ] {
        let mut req = axum::http::Request::post("/cgi-bin/stable_token");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = app.send(req.body(body.clone().into()).unwrap()).await;
        assert_eq!(r.status, 200);
        assert!(r.json()["access_token"].is_string(), "{ct:?}: {}", r.text);
    }
}

#[tokio::test]
async fn access_token_check_codes() {
    let app = with_probe();
    let r = app.post("/wxa/business/probe", "{}").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"errcode": 41001, "errmsg": "access_token missing"})
    );
    let r = app.post("/wxa/business/probe?access_token=", "{}").await;
    assert_eq!(r.json()["errcode"], 41001);
    assert_eq!(probe(&app, "nope").await["errcode"], 40001);
    assert_eq!(probe(&app, &"x".repeat(2000)).await["errcode"], 40001);
    let tok = token_of(&app.classic_token().await);
    // cloudbase_access_token works the same; the first access_token wins.
    let r = app
        .post(
            &format!("/wxa/business/probe?cloudbase_access_token={tok}"),
            "{}",
        )
        .await;
    assert_eq!(r.json()["errcode"], 0);
    let r = app
        .post(
            &format!("/wxa/business/probe?access_token={tok}&access_token=bad"),
            "{}",
        )
        .await;
    assert_eq!(r.json()["errcode"], 0);
    app.clock.advance_secs(7200);
    let v = probe(&app, &tok).await;
    assert_eq!(
        v,
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    );
    // Expired tokens are forgotten a day later (then they are just invalid).
    app.clock.advance_secs(86_401);
    app.classic_token().await;
    assert_eq!(probe(&app, &tok).await["errcode"], 40001);
}

#[tokio::test]
async fn concurrent_stable_token_calls_get_one_token() {
    let app = std::sync::Arc::new(common::app());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            token_of(&app.stable_token(false).await)
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
}
