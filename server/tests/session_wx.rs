//! `POST /v1/session/wx {code}` against a fake WeChat on a loopback axum listener (the service's
//! `--wechat-api`): the exchange, what is sent upstream, and every failure's status and code.

mod common;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::{Build, TestApp, APP_ID, APP_SECRET, T0};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A fake WeChat answering `GET /sns/jscode2session` with `(status, body)`; records each query.
struct FakeWx {
    base: String,
    seen: Seen,
}

async fn fake_wechat(status: u16, body: &str) -> FakeWx {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let body = body.to_owned();
    let app = Router::new().route(
        "/sns/jscode2session",
        get(move |Query(q): Query<HashMap<String, String>>| {
            log.lock().unwrap().push(q);
            let body = body.clone();
            async move { (StatusCode::from_u16(status).unwrap(), body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeWx {
        base: format!("http://{addr}"),
        seen,
    }
}

fn service(wechat_api: &str) -> TestApp {
    Build {
        wechat_api: wechat_api.into(),
        ..Build::default()
    }
    .start()
}

async fn exchange(app: &TestApp, body: &str) -> (u16, Value) {
    let r = app.post("/v1/session/wx", body.to_owned()).await;
    assert!(
        r.content_type.starts_with("application/json"),
        "{:?}",
        r.text
    );
    (r.status.as_u16(), r.json())
}

const OPENID: &str = "oWx_0123456789abcdefghijklmn";
const CODE: &str = "0a3Bc+De/f=Gh&i";

#[tokio::test]
async fn a_code_becomes_a_session_that_works_on_v1() {
    let wx = fake_wechat(
        200,
        &json!({ "openid": OPENID, "session_key": "SESSION-KEY-SECRET", "unionid": "u1" })
            .to_string(),
    )
    .await;
    // A trailing slash on --wechat-api is fine.
    let app = service(&format!("{}/", wx.base));
    let (status, body) = exchange(&app, &json!({ "code": CODE }).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errCode"], 0);
    assert_eq!(body["errMsg"], "sessionWx:ok");
    assert_eq!(body["result"]["openId"], OPENID);
    assert_eq!(body["result"]["expiresIn"], 7 * 86_400);
    assert!(!body.to_string().contains("SESSION-KEY-SECRET"));
    assert!(!body.to_string().contains("u1\""));
    let session = body["result"]["session"].as_str().unwrap();
    let parts: Vec<&str> = session.split('.').collect();
    assert_eq!(parts[0], "v1");
    assert_eq!(parts[2], OPENID);
    assert_eq!(parts[3], (T0 / 1000).to_string());

    // What went upstream: the app's credentials, the code (decoded as sent), the grant type.
    let seen = wx.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let q = &seen[0];
    assert_eq!(q["appid"], APP_ID);
    assert_eq!(q["secret"], APP_SECRET);
    assert_eq!(q["js_code"], CODE);
    assert_eq!(q["grant_type"], "authorization_code");
    assert_eq!(q.len(), 4);

    // The session works on the plugin interface as that openId.
    let auth = format!("Bearer {session}");
    let r = app.post_auth("/v1/authorizeVoip", &auth, "{}").await;
    assert_eq!(r.json()["errCode"], 0, "{}", r.text);
    let r = app.post_auth("/v1/getVoipConsent", &auth, "{}").await;
    assert_eq!(r.json()["result"], json!({ "granted": true }));
    let r = app
        .post_auth("/v1/bindVoipAdminContact", &auth, r#"{"userId":"stu-1"}"#)
        .await;
    assert_eq!(r.json()["result"]["userId"], "stu-1", "{}", r.text);
    let r = app
        .post(
            &format!(
                "/wxa/business/getvoipcontactlist?access_token={}",
                app.classic_token().await["access_token"].as_str().unwrap()
            ),
            r#"{"user_id":"stu-1"}"#,
        )
        .await;
    assert_eq!(r.json()["contact_list"][0]["open_id"], OPENID);
}

#[tokio::test]
async fn a_success_reply_with_errcode_zero_is_a_success() {
    let wx = fake_wechat(
        200,
        &json!({ "openid": OPENID, "session_key": "k", "errcode": 0, "errmsg": "ok" }).to_string(),
    )
    .await;
    let app = service(&wx.base);
    let (status, body) = exchange(&app, r#"{"code":"abc"}"#).await;
    assert_eq!((status, body["errCode"].clone()), (200, json!(0)), "{body}");
}

#[tokio::test]
async fn a_refused_code_is_401_unauthenticated_with_the_wechat_errcode() {
    for wx_code in [40029, 40163, 40226] {
        let wx = fake_wechat(
            200,
            &json!({ "errcode": wx_code, "errmsg": "invalid code, rid: 1" }).to_string(),
        )
        .await;
        let app = service(&wx.base);
        let r = app.post("/v1/session/wx", r#"{"code":"abc"}"#).await;
        assert_eq!(r.status, 401, "{wx_code}: {}", r.text);
        assert!(r.content_type.starts_with("application/json"));
        let body = r.json();
        assert_eq!(body["errCode"], 3008);
        assert_eq!(body["code"], "UNAUTHENTICATED");
        assert_eq!(body["origin"], "backend");
        assert_eq!(body["wxErrcode"], wx_code);
        let msg = body["errMsg"].as_str().unwrap();
        assert!(
            msg.starts_with("sessionWx:fail WeChat refused the login code"),
            "{msg}"
        );
        assert!(body.get("result").is_none());
    }
}

#[tokio::test]
async fn wechat_busy_or_rate_limited_is_503_request_failed() {
    for reply in [
        (
            200,
            json!({ "errcode": 45011, "errmsg": "api minute-quota reach limit" }).to_string(),
        ),
        (
            200,
            json!({ "errcode": -1, "errmsg": "system error" }).to_string(),
        ),
        (502, "Bad Gateway".to_owned()),
    ] {
        let wx = fake_wechat(reply.0, &reply.1).await;
        let app = service(&wx.base);
        let (status, body) = exchange(&app, r#"{"code":"abc"}"#).await;
        assert_eq!(status, 503, "{reply:?}: {body}");
        assert_eq!(body["errCode"], 1002);
        assert_eq!(body["code"], "REQUEST_FAILED");
        assert!(body["errMsg"].as_str().unwrap().contains("retry later"));
    }
}

#[tokio::test]
async fn wechat_down_is_a_json_503() {
    // A port that was free a moment ago: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let app = service(&format!("http://{addr}"));
    let (status, body) = exchange(&app, r#"{"code":"abc"}"#).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errCode"], 1002);
    assert_eq!(
        body["errMsg"],
        "sessionWx:fail WeChat could not be reached (connect); retry later"
    );
}

// Paused time: the runtime jumps to the 5 s deadline as soon as everything waits on the silent
// peer.
#[tokio::test(start_paused = true)]
async fn wechat_silent_is_a_timeout_503() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            keep.lock().unwrap().push(s); // accepted, never answered
        }
    });
    let app = service(&format!("http://{addr}"));
    let (status, body) = exchange(&app, r#"{"code":"abc"}"#).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errCode"], 1002);
    assert_eq!(
        body["errMsg"],
        "sessionWx:fail WeChat could not be reached (timeout); retry later"
    );
}

#[tokio::test]
async fn an_unusable_reply_is_502_and_never_a_session() {
    for reply in [
        // The openid is checked with the core's openId rule.
        (
            200,
            json!({ "openid": "not.an openid!", "session_key": "k" }).to_string(),
        ),
        (
            200,
            json!({ "openid": "x".repeat(65), "session_key": "k" }).to_string(),
        ),
        (200, json!({ "openid": "", "session_key": "k" }).to_string()),
        (
            200,
            json!({ "openid": 12345, "session_key": "k" }).to_string(),
        ),
        (200, json!({ "session_key": "k" }).to_string()),
        (200, "<html>not json</html>".to_owned()),
        (200, "[]".to_owned()),
        (200, json!({ "errcode": "40029" }).to_string()),
        // Wrong app credentials are the school's configuration, not the user's code.
        (
            200,
            json!({ "errcode": 40013, "errmsg": "invalid appid" }).to_string(),
        ),
        (
            200,
            json!({ "errcode": 40125, "errmsg": "invalid appsecret" }).to_string(),
        ),
        (404, "not found".to_owned()),
        (200, "x".repeat(64 * 1024)),
    ] {
        let wx = fake_wechat(reply.0, &reply.1).await;
        let app = service(&wx.base);
        let (status, body) = exchange(&app, r#"{"code":"abc"}"#).await;
        assert_eq!(
            status,
            502,
            "{:?}: {body}",
            &reply.1[..reply.1.len().min(80)]
        );
        assert_eq!(body["errCode"], 1002);
        assert_eq!(body["code"], "REQUEST_FAILED");
        assert!(body.get("result").is_none());
        assert!(!body.to_string().contains("v1."));
    }
}

#[tokio::test]
async fn a_bad_body_is_1004_and_nothing_goes_upstream() {
    let wx = fake_wechat(200, &json!({ "openid": OPENID }).to_string()).await;
    let app = service(&wx.base);
    for body in [
        "",
        "not json",
        "[]",
        "\"code\"",
        "{}",
        r#"{"code":null}"#,
        r#"{"code":123}"#,
        r#"{"code":true}"#,
        r#"{"code":["abc"]}"#,
        r#"{"code":""}"#,
        r#"{"code":"has space"}"#,
        r#"{"code":"\u0001"}"#,
        &json!({ "code": "c".repeat(129) }).to_string(),
    ] {
        let (status, reply) = exchange(&app, body).await;
        assert_eq!(status, 200, "{body}: {reply}");
        assert_eq!(reply["errCode"], 1004, "{body}: {reply}");
        assert_eq!(reply["code"], "INVALID_ARGUMENT");
        assert!(reply["errMsg"]
            .as_str()
            .unwrap()
            .starts_with("sessionWx:fail "));
    }
    let (_, reply) = exchange(&app, r#"{"code":"has space"}"#).await;
    assert!(
        !reply.to_string().contains("has space"),
        "the code is not echoed"
    );
    assert!(wx.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_exchange_is_documented_and_counted() {
    let app = common::app();
    let doc = app.get("/openapi.json").await.json();
    let op = &doc["paths"]["/v1/session/wx"]["post"];
    assert!(op.is_object(), "documented");
    for status in ["200", "401", "502", "503"] {
        assert!(op["responses"][status].is_object(), "{status}");
    }
    // Not behind --dev: the route exists on a production service.
    let r = app.post("/v1/session/wx", "{}").await;
    assert_eq!(r.json()["errCode"], 1004);
    let m = app.get("/metrics").await.text;
    assert!(m.contains("route=\"/v1/session/wx\",status=\"200\""), "{m}");
}

/// A log writer that keeps everything written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_code_secret_and_session_key_are_never_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let code = "CODE-NEVER-LOGGED";
    for reply in [
        json!({ "openid": OPENID, "session_key": "SESSION-KEY-NEVER-LOGGED" }),
        json!({ "errcode": 40029, "errmsg": "invalid code CODE-NEVER-LOGGED" }),
        json!({ "errcode": 45011 }),
        json!({ "errcode": 40125 }),
        json!({ "openid": "bad openid SESSION-KEY-NEVER-LOGGED" }),
    ] {
        let wx = fake_wechat(200, &reply.to_string()).await;
        let app = service(&wx.base);
        exchange(&app, &json!({ "code": code }).to_string()).await;
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("jscode2session"),
        "something was logged: {text}"
    );
    for secret in [code, "SESSION-KEY-NEVER-LOGGED", APP_SECRET, "js_code"] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}
