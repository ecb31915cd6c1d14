//! Sessions (format, round trip, tampering) and the /v1 identity extractors (401 + 3008).

mod common;

use axum::routing::post;
use axum::Router;
use campus_voip::ids::OpenId;
use campus_voip_server::devices;
use campus_voip_server::http::extract::{Caller, DeviceCaller, Parent};
use campus_voip_server::http::AppState;
use campus_voip_server::session::{kid_of, SessionError, SessionKey};
use common::{Build, TestApp, SESSION_SECRET};
use serde_json::json;

const NOW: u64 = 1_796_083_200;

fn key() -> SessionKey {
    SessionKey::new(SESSION_SECRET.as_bytes()).unwrap()
}

fn dad() -> OpenId {
    OpenId::parse("openId", "o_dad").unwrap()
}

#[test]
fn session_round_trip_and_format() {
    let k = key();
    let s = k.mint(&dad(), NOW, NOW + 3600);
    let parts: Vec<&str> = s.split('.').collect();
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[0], "v1");
    assert_eq!(parts[1], kid_of(SESSION_SECRET.as_bytes()));
    assert_eq!(parts[1].len(), 8);
    assert_eq!(parts[2], "o_dad");
    assert_eq!(parts[3], NOW.to_string());
    assert_eq!(parts[4], (NOW + 3600).to_string());
    assert_eq!(parts[5].len(), 43);
    let v = k.verify(&s, NOW + 10).unwrap();
    assert_eq!(v.open_id, dad());
    assert_eq!((v.issued_at, v.expires_at), (NOW, NOW + 3600));
    // The MAC is HMAC-SHA256(secret, text before the last dot), base64url without padding.
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SESSION_SECRET.as_bytes()).unwrap();
    mac.update(s.rsplit_once('.').unwrap().0.as_bytes());
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(parts[5], tag);
}

#[test]
fn session_times() {
    let k = key();
    let s = k.mint(&dad(), NOW, NOW + 60);
    assert!(k.verify(&s, NOW + 59).is_ok());
    assert_eq!(k.verify(&s, NOW + 60), Err(SessionError::Expired));
    assert!(k.verify(&s, NOW - 60).is_ok(), "60 s of clock skew");
    assert_eq!(k.verify(&s, NOW - 61), Err(SessionError::NotYetValid));
}

#[test]
fn every_tampered_session_is_refused() {
    let k = key();
    let s = k.mint(&dad(), NOW, NOW + 3600);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    let mut tried = 0;
    for i in 0..s.len() {
        for c in alphabet.chars() {
            let mut t: Vec<char> = s.chars().collect();
            if t[i] == c {
                continue;
            }
            t[i] = c;
            let t: String = t.into_iter().collect();
            assert!(k.verify(&t, NOW + 1).is_err(), "accepted {t}");
            tried += 1;
        }
        // Truncated and extended.
        assert!(k.verify(&s[..i], NOW + 1).is_err());
    }
    assert!(k.verify(&format!("{s}A"), NOW + 1).is_err());
    assert!(k.verify(&format!("{s}."), NOW + 1).is_err());
    assert!(tried > 5000);
}

#[test]
fn malformed_and_foreign_sessions() {
    let k = key();
    let other = SessionKey::new(b"another secret that is long enough!!").unwrap();
    let foreign = other.mint(&dad(), NOW, NOW + 60);
    assert_eq!(k.verify(&foreign, NOW), Err(SessionError::UnknownKey));
    let good = k.mint(&dad(), NOW, NOW + 60);
    let p: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "v1".into(),
        "v2.x.o_dad.1.2.abc".into(),
        format!("v2.{}.{}.{}.{}.{}", p[1], p[2], p[3], p[4], p[5]),
        format!("v1.{}.o.dad.{}.{}.{}", p[1], p[3], p[4], p[5]),
        format!("v1.{}.{}.0{}.{}.{}", p[1], p[2], p[3], p[4], p[5]),
        format!("v1.{}.{}.{}.{}.{}", p[1], p[2], p[4], p[3], p[5]),
        format!("v1.{}.{}.{}.+{}.{}", p[1], p[2], p[3], p[4], p[5]),
        format!("v1.{}.{}.{}.{}.{}=", p[1], p[2], p[3], p[4], p[5]),
        format!("v1.{}.{}.{}.{}", p[1], p[2], p[3], p[4]),
        format!("{good}.x"),
        "x".repeat(10_000),
    ];
    for c in cases {
        assert!(k.verify(&c, NOW).is_err(), "accepted {c:?}");
    }
    assert!(SessionKey::new(&[7u8; 31]).is_err());
    assert!(SessionKey::new(&[7u8; 32]).is_ok());
}

fn app() -> TestApp {
    let extra: Router<AppState> = Router::new()
        .route(
            "/v1/whoAmI",
            post(|c: Caller| async move {
                match c {
                    Caller::Parent(o) => format!("parent {o}"),
                    Caller::Device(d) => format!("device {d}"),
                }
            }),
        )
        .route(
            "/v1/parentOnly",
            post(|p: Parent| async move { p.0.to_string() }),
        )
        .route("/v1/deviceOnly", post(|d: DeviceCaller| async move { d.0 }));
    Build {
        extra,
        ..Build::default()
    }
    .start()
}

async fn add_device(app: &TestApp, name: &str) -> String {
    let name = name.to_owned();
    app.state
        .db
        .write(move |c| devices::add(c, &name, common::T0))
        .await
        .unwrap()
}

#[tokio::test]
async fn identities_come_from_credentials() {
    let app = app();
    let now = app.state.now_ms() / 1000;
    let session = app.state.sessions.mint(&dad(), now, now + 60);
    let r = app
        .post_auth("/v1/whoAmI", &format!("Bearer {session}"), "")
        .await;
    assert_eq!(r.text, "parent o_dad");
    let r = app
        .post_auth("/v1/whoAmI", &format!("bearer  {session} "), "")
        .await;
    assert_eq!(
        r.text, "parent o_dad",
        "scheme case-insensitive, spaces trimmed"
    );
    let key = add_device(&app, "gate-1").await;
    let r = app
        .post_auth("/v1/whoAmI", &format!("Device {key}"), "")
        .await;
    assert_eq!(r.text, "device gate-1");
    let r = app
        .post_auth("/v1/deviceOnly", &format!("Device {key}"), "")
        .await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "gate-1"));
    // The body never names the caller.
    let r = app
        .post_auth(
            "/v1/parentOnly",
            &format!("Bearer {session}"),
            r#"{"openId":"o_mum"}"#,
        )
        .await;
    assert_eq!(r.text, "o_dad");
}

#[tokio::test]
async fn auth_failures_are_401_with_3008() {
    let app = app();
    let now = app.state.now_ms() / 1000;
    let session = app.state.sessions.mint(&dad(), now, now + 60);
    let expired = app.state.sessions.mint(&dad(), now - 120, now - 60);
    let key = add_device(&app, "gate-1").await;
    let mut bad_key = key.clone();
    bad_key.pop();
    bad_key.push(if key.ends_with('A') { 'B' } else { 'A' });
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("/v1/whoAmI", None, "missing Authorization"),
        ("/v1/whoAmI", Some("".into()), "must be Bearer"),
        ("/v1/whoAmI", Some("Bearer".into()), "must be Bearer"),
        (
            "/v1/whoAmI",
            Some("Basic dXNlcjpwdw==".into()),
            "must be Bearer",
        ),
        ("/v1/whoAmI", Some("Bearer nope".into()), "malformed"),
        ("/v1/whoAmI", Some(format!("Bearer {expired}")), "expired"),
        ("/v1/whoAmI", Some(format!("Bearer {session}x")), "session"),
        (
            "/v1/whoAmI",
            Some(format!("Device {bad_key}")),
            "unknown or revoked",
        ),
        (
            "/v1/whoAmI",
            Some("Device cvd1.x.y".into()),
            "unknown or revoked",
        ),
        (
            "/v1/whoAmI",
            Some(format!("Device {session}")),
            "unknown or revoked",
        ),
        (
            "/v1/parentOnly",
            Some(format!("Device {key}")),
            "parent's session",
        ),
        (
            "/v1/deviceOnly",
            Some(format!("Bearer {session}")),
            "device key",
        ),
    ];
    for (path, auth, reason) in cases {
        let r = match &auth {
            Some(a) => app.post_auth(path, a, "").await,
            None => app.post(path, "").await,
        };
        assert_eq!(r.status, 401, "{path} {auth:?}: {}", r.text);
        let v = r.json();
        assert_eq!(v["errCode"], 3008, "{v}");
        assert_eq!(v["code"], "UNAUTHENTICATED");
        let msg = v["errMsg"].as_str().unwrap();
        let api = path.trim_start_matches("/v1/");
        assert!(msg.starts_with(&format!("{api}:fail ")), "{msg}");
        assert!(msg.contains(reason), "{msg} should say {reason}");
        assert!(
            !msg.contains(&session) && !msg.contains(&key),
            "no credential echoed"
        );
    }
    // Non-ASCII header value.
    let r = app
        .send(
            axum::http::Request::post("/v1/whoAmI")
                .header(
                    "authorization",
                    axum::http::HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["errCode"], 3008);
}

#[tokio::test]
async fn a_revoked_device_is_refused_at_once() {
    let app = app();
    let key = add_device(&app, "gate-1").await;
    let auth = format!("Device {key}");
    assert_eq!(app.post_auth("/v1/whoAmI", &auth, "").await.status, 200);
    let revoked = app
        .state
        .db
        .write(|c| devices::revoke(c, "gate-1", common::T0 + 1))
        .await
        .unwrap();
    assert!(revoked);
    let r = app.post_auth("/v1/whoAmI", &auth, "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], json!("UNAUTHENTICATED"));
    // A new device of the same name gets a new key; the old one stays refused.
    let key2 = add_device(&app, "gate-1").await;
    assert_ne!(key, key2);
    assert_eq!(
        app.post_auth("/v1/whoAmI", &format!("Device {key2}"), "")
            .await
            .status,
        200
    );
    assert_eq!(app.post_auth("/v1/whoAmI", &auth, "").await.status, 401);
}

#[tokio::test]
async fn a_session_minted_after_expiry_of_another_still_works_as_time_moves() {
    let app = app();
    let now = app.state.now_ms() / 1000;
    let session = app.state.sessions.mint(&dad(), now, now + 60);
    app.clock.advance_secs(59);
    assert_eq!(
        app.post_auth("/v1/whoAmI", &format!("Bearer {session}"), "")
            .await
            .status,
        200
    );
    app.clock.advance_secs(1);
    assert_eq!(
        app.post_auth("/v1/whoAmI", &format!("Bearer {session}"), "")
            .await
            .status,
        401
    );
}
