//! The plugin interface (`/v1/<api>`) and the developer contact endpoints
//! (`/wxa/business/*`): every endpoint's success and error shapes, identity from the
//! credential only.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{app, bearer, device, TestApp, T0};
use serde_json::{json, Value};

async fn call(app: &TestApp, api: &str, auth: &str, body: Value) -> Value {
    let r = app
        .post_auth(&format!("/v1/{api}"), auth, body.to_string())
        .await;
    assert_eq!(r.status, 200, "{api}: {}", r.text);
    assert!(r.content_type.starts_with("application/json"));
    r.json()
}

fn assert_ok(api: &str, v: &Value) -> Value {
    assert_eq!(v["errCode"], 0, "{api}: {v}");
    assert_eq!(v["errMsg"], format!("{api}:ok"), "{v}");
    v["result"].clone()
}

fn assert_fail(api: &str, v: &Value, err_code: u64) {
    assert_eq!(v["errCode"], err_code, "{api}: {v}");
    let msg = v["errMsg"].as_str().unwrap();
    assert!(msg.starts_with(&format!("{api}:fail ")), "{msg}");
    assert!(v["code"].is_string(), "{v}");
    assert!(v.get("result").is_none(), "{v}");
}

async fn token(app: &TestApp) -> String {
    app.classic_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn contact_list(app: &TestApp, user_id: &str) -> Value {
    let t = token(app).await;
    app.post(
        &format!("/wxa/business/getvoipcontactlist?access_token={t}"),
        json!({ "user_id": user_id }).to_string(),
    )
    .await
    .json()
}

/// Parent `a` consents and binds as the administrator of `s1`.
async fn admin_of_s1(app: &TestApp, a: &str) {
    let auth = bearer(a);
    assert_ok(
        "authorizeVoip",
        &call(app, "authorizeVoip", &auth, json!({})).await,
    );
    let r = call(
        app,
        "bindVoipAdminContact",
        &auth,
        json!({ "userId": "s1" }),
    )
    .await;
    assert_eq!(
        assert_ok("bindVoipAdminContact", &r),
        json!({ "userId": "s1" })
    );
}

#[tokio::test]
async fn consent_endpoints() {
    let app = app();
    let a = bearer("parentA");
    let r = call(&app, "getVoipConsent", &a, json!({})).await;
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": false }));
    let r = call(&app, "authorizeVoip", &a, json!({})).await;
    assert_eq!(assert_ok("authorizeVoip", &r), json!({}));
    // An empty body is the same as {} for an API without arguments.
    let r = app.post_auth("/v1/getVoipConsent", &a, "").await.json();
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": true }));
    let r = call(&app, "revokeVoip", &a, json!({})).await;
    assert_eq!(assert_ok("revokeVoip", &r), json!({}));
    let r = call(&app, "getVoipConsent", &a, json!({})).await;
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": false }));
    let r = app.post_auth("/v1/authorizeVoip", &a, "{").await.json();
    assert_fail("authorizeVoip", &r, 1004);
}

#[tokio::test]
async fn bind_admin_success_and_errors() {
    let app = app();
    let a = bearer("parentA");
    // Without consent: a rule error, HTTP 200.
    let r = call(&app, "bindVoipAdminContact", &a, json!({ "userId": "s1" })).await;
    assert!(r["errCode"] != 0, "{r}");
    assert_fail("bindVoipAdminContact", &r, r["errCode"].as_u64().unwrap());
    for bad in [
        json!({}),
        json!({ "userId": 5 }),
        json!([]),
        json!("s1"),
        json!(null),
    ] {
        let r = call(&app, "bindVoipAdminContact", &a, bad).await;
        assert_fail("bindVoipAdminContact", &r, 1004);
    }
    admin_of_s1(&app, "parentA").await;
    // Another parent cannot take over the administrator role.
    let b = bearer("parentB");
    call(&app, "authorizeVoip", &b, json!({})).await;
    let r = call(&app, "bindVoipAdminContact", &b, json!({ "userId": "s1" })).await;
    assert!(r["errCode"] != 0, "{r}");
    assert_fail("bindVoipAdminContact", &r, r["errCode"].as_u64().unwrap());
    let l = contact_list(&app, "s1").await;
    assert_eq!(
        l,
        json!({ "errcode": 0, "errmsg": "ok", "contact_list": [{ "open_id": "parentA", "role": 1 }] })
    );
}

#[tokio::test]
async fn share_inspect_accept_decline_list_delete_transfer() {
    let app = app();
    admin_of_s1(&app, "parentA").await;
    let a = bearer("parentA");
    let b = bearer("parentB");
    // getBindContactPath: admin only; the result is the share path string.
    let r = call(
        &app,
        "getBindContactPath",
        &b,
        json!({ "userId": "s1", "userName": "Tom" }),
    )
    .await;
    assert_fail("getBindContactPath", &r, r["errCode"].as_u64().unwrap());
    let r = call(&app, "getBindContactPath", &a, json!({ "userId": "s1" })).await;
    assert_fail("getBindContactPath", &r, 1004);
    let r = call(
        &app,
        "getBindContactPath",
        &a,
        json!({ "userId": "s1", "userName": "Tom" }),
    )
    .await;
    let path = assert_ok("getBindContactPath", &r);
    let path = path.as_str().unwrap().to_owned();
    assert!(path.contains("bind-contact"), "{path}");

    // inspect (no consent needed), then accept without and with consent.
    let r = call(&app, "inspectBindContactPath", &b, json!({ "path": path })).await;
    let i = assert_ok("inspectBindContactPath", &r);
    assert_eq!(i["userId"], "s1");
    assert_eq!(i["userName"], "Tom");
    assert_eq!(i["status"], "ready");
    assert_eq!(i["errMsg"], "");
    assert!(i["expiresAt"].is_u64());
    assert!(i["query"].is_object());
    let r = call(&app, "acceptBindContactPath", &b, json!({ "path": path })).await;
    let e = assert_ok("acceptBindContactPath", &r);
    assert_ne!(e["type"], "success", "{e}");
    call(&app, "authorizeVoip", &b, json!({})).await;
    let r = call(&app, "acceptBindContactPath", &b, json!({ "path": path })).await;
    let e = assert_ok("acceptBindContactPath", &r);
    assert_eq!(e["type"], "success");
    assert_eq!(e["errMsg"], "bindContact:ok");
    assert_eq!(e["userId"], "s1");
    // The page's query object works too; a second accept is already bound.
    let q = i["query"].clone();
    let r = call(&app, "acceptBindContactPath", &b, json!({ "path": q })).await;
    let e = assert_ok("acceptBindContactPath", &r);
    assert_ne!(e["type"], "success");
    let r = call(&app, "declineBindContactPath", &b, json!({ "path": path })).await;
    let e = assert_ok("declineBindContactPath", &r);
    assert_eq!(e["type"], "cancel");
    assert_eq!(e["userId"], "s1");
    for api in [
        "inspectBindContactPath",
        "acceptBindContactPath",
        "declineBindContactPath",
    ] {
        for bad in [json!({}), json!({ "path": 5 }), json!([path]), json!(path)] {
            let r = call(&app, api, &b, bad).await;
            assert_fail(api, &r, 1004);
        }
    }
    // A tampered link: invalid, never 5xx.
    let r = call(
        &app,
        "acceptBindContactPath",
        &b,
        json!({ "path": format!("{path}x") }),
    )
    .await;
    let e = assert_ok("acceptBindContactPath", &r);
    assert_ne!(e["type"], "success");

    // Lists: the administrator sees every contact, an ordinary contact only itself.
    let r = call(&app, "getVoipBindContactList", &a, json!({})).await;
    assert_eq!(
        assert_ok("getVoipBindContactList", &r),
        json!([{ "user_id": "s1", "is_ad": 1, "openid_list": ["parentA", "parentB"] }])
    );
    let r = app
        .post_auth("/v1/getVoipBindContactList", &b, "")
        .await
        .json();
    assert_eq!(
        assert_ok("getVoipBindContactList", &r),
        json!([{ "user_id": "s1", "is_ad": 0, "openid_list": ["parentB"] }])
    );
    let r = call(
        &app,
        "getVoipBindContactList",
        &b,
        json!({ "userId": "nobody" }),
    )
    .await;
    assert_eq!(assert_ok("getVoipBindContactList", &r), json!([]));
    let r = call(&app, "getVoipBindContactList", &b, json!({ "userId": 1 })).await;
    assert_fail("getVoipBindContactList", &r, 1004);

    // transerAdmin, then the new administrator deletes the old one.
    let r = call(
        &app,
        "transerAdmin",
        &b,
        json!({ "userId": "s1", "newAdminOpenid": "parentB" }),
    )
    .await;
    assert_fail("transerAdmin", &r, r["errCode"].as_u64().unwrap());
    let r = call(&app, "transerAdmin", &a, json!({ "userId": "s1" })).await;
    assert_fail("transerAdmin", &r, 1004);
    let r = call(
        &app,
        "transerAdmin",
        &a,
        json!({ "userId": "s1", "newAdminOpenid": "parentB" }),
    )
    .await;
    assert_eq!(
        assert_ok("transerAdmin", &r),
        json!({ "userId": "s1", "adminOpenid": "parentB" })
    );
    let r = call(
        &app,
        "deleteVoipBindContact",
        &a,
        json!({ "userId": "s1", "openidList": ["parentB"] }),
    )
    .await;
    assert_fail("deleteVoipBindContact", &r, r["errCode"].as_u64().unwrap());
    let r = call(
        &app,
        "deleteVoipBindContact",
        &b,
        json!({ "userId": "s1", "openidList": "parentA" }),
    )
    .await;
    assert_fail("deleteVoipBindContact", &r, 1004);
    let r = call(
        &app,
        "deleteVoipBindContact",
        &b,
        json!({ "userId": "s1", "openidList": ["parentA"] }),
    )
    .await;
    assert_eq!(
        assert_ok("deleteVoipBindContact", &r),
        json!({ "userId": "s1", "deleted": ["parentA"] })
    );
    let l = contact_list(&app, "s1").await;
    assert_eq!(
        l["contact_list"],
        json!([{ "open_id": "parentB", "role": 1 }])
    );
    // The removed parent cannot come back with the old link.
    let r = call(&app, "acceptBindContactPath", &a, json!({ "path": path })).await;
    assert_ne!(assert_ok("acceptBindContactPath", &r)["type"], "success");
}

#[tokio::test]
async fn identity_comes_from_the_session_never_the_body() {
    let app = app();
    admin_of_s1(&app, "parentA").await;
    let b = bearer("parentB");
    let spoof =
        json!({ "openId": "parentA", "open_id": "parentA", "actor": "parentA", "userId": "s1" });
    // B's list is empty whatever the body claims.
    let r = call(
        &app,
        "getVoipBindContactList",
        &b,
        json!({ "openId": "parentA" }),
    )
    .await;
    assert_eq!(assert_ok("getVoipBindContactList", &r), json!([]));
    let r = call(&app, "getVoipConsent", &b, spoof.clone()).await;
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": false }));
    let r = call(
        &app,
        "getBindContactPath",
        &b,
        json!({ "userId": "s1", "userName": "x", "openId": "parentA" }),
    )
    .await;
    assert!(r["errCode"] != 0, "{r}");
    let r = call(
        &app,
        "deleteVoipBindContact",
        &b,
        json!({ "userId": "s1", "openidList": ["parentA"], "openId": "parentA" }),
    )
    .await;
    assert!(r["errCode"] != 0, "{r}");
    let r = call(
        &app,
        "transerAdmin",
        &b,
        json!({ "userId": "s1", "newAdminOpenid": "parentB", "openId": "parentA" }),
    )
    .await;
    assert!(r["errCode"] != 0, "{r}");
    // authorizeVoip with A's id in the body grants B, not A (A revokes first).
    call(&app, "revokeVoip", &bearer("parentA"), json!({})).await;
    call(&app, "authorizeVoip", &b, json!({ "openId": "parentA" })).await;
    let r = call(&app, "getVoipConsent", &bearer("parentA"), json!({})).await;
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": false }));
    let r = call(&app, "getVoipConsent", &b, json!({})).await;
    assert_eq!(assert_ok("getVoipConsent", &r), json!({ "granted": true }));
    let l = contact_list(&app, "s1").await;
    assert_eq!(
        l["contact_list"],
        json!([{ "open_id": "parentA", "role": 1 }])
    );
}

#[tokio::test]
async fn credentials_are_checked() {
    let app = app();
    let dev = device(&app).await;
    let parent = bearer("parentA");
    let apis = [
        "authorizeVoip",
        "revokeVoip",
        "getVoipConsent",
        "bindVoipAdminContact",
        "getBindContactPath",
        "getVoipBindContactList",
        "deleteVoipBindContact",
        "transerAdmin",
        "inspectBindContactPath",
        "acceptBindContactPath",
        "declineBindContactPath",
        "issueVoipToken",
        "initByCaller",
    ];
    for api in apis {
        let device_api = matches!(api, "issueVoipToken" | "initByCaller");
        let wrong = if device_api { &parent } else { &dev };
        let cases: Vec<Option<String>> = vec![
            None,
            Some("Bearer nonsense".into()),
            Some("Device cvd1.nonsense.nonsense".into()),
            Some("Basic abc".into()),
            Some(wrong.clone()),
        ];
        for auth in cases {
            let mut req = Request::post(format!("/v1/{api}"));
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            let r = app.send(req.body(Body::from("{}")).unwrap()).await;
            assert_eq!(r.status, 401, "{api} {auth:?}: {}", r.text);
            let v = r.json();
            assert_eq!(v["errCode"], 3008, "{v}");
            assert_eq!(v["code"], "UNAUTHENTICATED");
            assert!(v["errMsg"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{api}:fail ")));
        }
    }
}

fn call_args(student: &str, listener: &str, token: &str) -> Value {
    json!({
        "roomType": "voice",
        "caller": { "id": student },
        "listener": { "id": listener },
        "voipToken": token,
    })
}

#[tokio::test]
async fn issue_token_and_init_by_caller() {
    let app = app();
    admin_of_s1(&app, "parentA").await;
    let dev = device(&app).await;
    let r = call(&app, "issueVoipToken", &dev, json!({ "userId": "s1" })).await;
    let t = assert_ok("issueVoipToken", &r);
    let t = t.as_str().unwrap().to_owned();
    let r = call(&app, "issueVoipToken", &dev, json!({})).await;
    assert_fail("issueVoipToken", &r, 1004);

    // Refusals are the local backend's answers: errCode 0, isSuccess false.
    let r = call(&app, "initByCaller", &dev, call_args("s1", "stranger", &t)).await;
    let v = assert_ok("initByCaller", &r);
    assert_eq!(v["isSuccess"], false, "{v}");
    assert!(v["errCode"].is_u64() && v["code"].is_string() && v["message"].is_string());

    let r = call(&app, "initByCaller", &dev, call_args("s1", "parentA", &t)).await;
    let v = assert_ok("initByCaller", &r);
    assert_eq!(v["isSuccess"], true, "{v}");
    assert!(v["roomId"].is_string());
    assert_eq!(v["chargeType"], "duration");
    // The device is in that call (1005, thrown, before the token is looked at) until it hangs up.
    let r = call(&app, "initByCaller", &dev, call_args("s1", "parentA", &t)).await;
    assert_fail("initByCaller", &r, 1005);
    let r = call(&app, "forceHangUpVoip", &dev, json!({})).await;
    assert_ok("forceHangUpVoip", &r);
    // The token is single-use.
    let r = call(&app, "initByCaller", &dev, call_args("s1", "parentA", &t)).await;
    let v = assert_ok("initByCaller", &r);
    assert_eq!(v["isSuccess"], false);
    assert_eq!(v["errCode"], 4);
    // Thrown errors: bad arguments.
    let r = call(&app, "initByCaller", &dev, json!({ "roomType": "voice" })).await;
    assert_fail("initByCaller", &r, 1004);
    let mut args = call_args("s1", "parentA", &t);
    args.as_object_mut().unwrap().remove("voipToken");
    let r = call(&app, "initByCaller", &dev, args).await;
    assert_fail("initByCaller", &r, r["errCode"].as_u64().unwrap());
    let r = app
        .send(
            Request::post("/v1/initByCaller")
                .header("authorization", &dev)
                .header("x-compat-version", "banana")
                .body(Body::from(call_args("s1", "parentA", &t).to_string()))
                .unwrap(),
        )
        .await
        .json();
    assert_fail("initByCaller", &r, 1004);
}

/// The `rtcSignal` events on `auth`'s stream after `after`: (lastEventId, their data).
async fn signals(app: &TestApp, auth: &str, after: i64) -> (i64, Vec<Value>) {
    let r = app
        .send(
            Request::get(format!("/v1/events?poll=0&after={after}"))
                .header("authorization", auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let last = r["lastEventId"].as_i64().unwrap();
    let data = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap().clone())
        .filter(|e| e["eventName"] == "rtcSignal")
        .map(|e| e["data"].clone())
        .collect();
    (last, data)
}

#[tokio::test]
async fn rtc_signal_goes_to_the_other_side_of_a_live_call_only() {
    let app = app();
    admin_of_s1(&app, "parentA").await;
    let a = bearer("parentA");
    let dev = device(&app).await;
    let other_dev = common::named_device(&app, "gate-2").await;
    let t = assert_ok(
        "issueVoipToken",
        &call(&app, "issueVoipToken", &dev, json!({ "userId": "s1" })).await,
    );
    let v = assert_ok(
        "initByCaller",
        &call(
            &app,
            "initByCaller",
            &dev,
            call_args("s1", "parentA", t.as_str().unwrap()),
        )
        .await,
    );
    let room = v["roomId"].as_str().unwrap().to_owned();
    let (a0, _) = signals(&app, &a, 0).await;
    let (d0, _) = signals(&app, &dev, 0).await;
    // The device's offer reaches the parent, the parent's answer the device, as sent.
    let offer = json!({ "sdp": { "type": "offer", "sdp": "v=0\r\n…" } });
    let r = call(
        &app,
        "rtcSignal",
        &dev,
        json!({ "roomId": room, "data": offer }),
    )
    .await;
    assert_ok("rtcSignal", &r);
    let answer = json!({ "sdp": { "type": "answer", "sdp": "v=0" }, "n": [1, 2.5, null, "é"] });
    let r = call(
        &app,
        "rtcSignal",
        &a,
        json!({ "roomId": room, "data": answer }),
    )
    .await;
    assert_ok("rtcSignal", &r);
    let (_, to_parent) = signals(&app, &a, a0).await;
    assert_eq!(to_parent, std::slice::from_ref(&offer));
    let (_, to_device) = signals(&app, &dev, d0).await;
    assert_eq!(to_device, [answer]);
    // Not a party (another device, another parent), bad data, too long: 1004, nothing sent.
    for (auth, body) in [
        (other_dev.clone(), json!({ "roomId": room, "data": offer })),
        (bearer("parentB"), json!({ "roomId": room, "data": offer })),
        (dev.clone(), json!({ "roomId": room, "data": "offer" })),
        (dev.clone(), json!({ "roomId": room })),
        (
            dev.clone(),
            json!({ "roomId": room, "data": { "x": "y".repeat(17 * 1024) } }),
        ),
        (dev.clone(), json!({ "data": offer })),
    ] {
        let r = call(&app, "rtcSignal", &auth, body.clone()).await;
        assert_fail("rtcSignal", &r, 1004);
    }
    let (_, to_parent) = signals(&app, &a, a0).await;
    assert_eq!(to_parent.len(), 1, "nothing more for the parent");
    // After the call ended: 1004.
    assert_ok(
        "forceHangUpVoip",
        &call(&app, "forceHangUpVoip", &dev, json!({})).await,
    );
    let r = call(
        &app,
        "rtcSignal",
        &a,
        json!({ "roomId": room, "data": offer }),
    )
    .await;
    assert_fail("rtcSignal", &r, 1004);
}

#[tokio::test]
async fn developer_contact_endpoints() {
    let app = app();
    let l = contact_list(&app, "s1").await;
    assert_eq!(
        l,
        json!({ "errcode": 1, "errmsg": "user has no contact list", "contact_list": [] })
    );
    admin_of_s1(&app, "parentA").await;
    let t = token(&app).await;
    let url = format!("/wxa/business/getvoipcontactlist?access_token={t}");
    let cb = format!("/wxa/business/getvoipcontactlist?cloudbase_access_token={t}");
    let r = app
        .post(&cb, json!({ "user_id": "s1" }).to_string())
        .await
        .json();
    assert_eq!(r["errcode"], 0);
    assert_eq!(
        r["contact_list"],
        json!([{ "open_id": "parentA", "role": 1 }])
    );
    for (body, code) in [
        ("", 44002),
        ("  ", 44002),
        ("{", 47001),
        ("[]", 47001),
        ("{\"user_id\":5}", 47001),
        ("{}", 47001),
    ] {
        let r = app.post(&url, body).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["errcode"], code, "{body}: {}", r.text);
    }
    let r = app
        .post("/wxa/business/getvoipcontactlist", "{\"user_id\":\"s1\"}")
        .await;
    assert_eq!(r.json()["errcode"], 41001);
    let r = app
        .post(
            "/wxa/business/getvoipcontactlist?access_token=nope",
            "{\"user_id\":\"s1\"}",
        )
        .await;
    assert_eq!(r.json()["errcode"], 40001);

    let reset = format!("/wxa/business/resetvoipcontact?access_token={t}");
    let r = app.post(&reset, "{\"user_id\":\"s1\"}").await.json();
    assert_eq!(r, json!({ "errcode": 0, "errmsg": "ok", "removed": true }));
    let r = app.post(&reset, "{\"user_id\":\"s1\"}").await.json();
    assert_eq!(r, json!({ "errcode": 0, "errmsg": "ok", "removed": false }));
    assert_eq!(contact_list(&app, "s1").await["errcode"], 1);
    for (body, code) in [
        ("", 44002),
        ("x", 47001),
        ("{}", 47001),
        ("{\"user_id\":[]}", 47001),
    ] {
        assert_eq!(
            app.post(&reset, body).await.json()["errcode"],
            code,
            "{body}"
        );
    }
    assert_eq!(
        app.post("/wxa/business/resetvoipcontact", "{}")
            .await
            .json()["errcode"],
        41001
    );
}

#[tokio::test]
async fn the_ops_clock_never_goes_back_and_keeps_a_lease() {
    let app = app();
    let t1 = app.state.core.clock.now();
    assert_eq!(t1, T0);
    app.clock.set(T0 - 3_600_000);
    assert!(app.state.core.clock.now() >= t1);
    app.clock.set(T0 + 86_400_000);
    let t2 = app.state.core.now(&app.state.db).await;
    assert_eq!(t2, T0 + 86_400_000);
    let lease = app
        .state
        .db
        .read(campus_voip_server::core::stored_lease)
        .await
        .unwrap();
    assert!(lease > t2, "{lease} {t2}");
}

#[tokio::test]
async fn dev_clock_and_stats() {
    let app = common::Build {
        dev: true,
        ..Default::default()
    }
    .start();
    // Stats count students with contacts and contacts.
    let stats = |v: Value| (v["students"].as_u64(), v["contacts"].as_u64());
    let s = app.post("/v1/dev/stats", "").await.json();
    assert_eq!(stats(s), (Some(0), Some(0)));
    admin_of_s1(&app, "o_mum").await;
    let s = app.post("/v1/dev/stats", "").await.json();
    assert_eq!(stats(s), (Some(1), Some(1)));

    // The clock moves forward by exactly what was asked, and lifetimes run out with it.
    let t = token(&app).await;
    let r = app
        .post(
            "/v1/dev/clock",
            json!({ "advanceMs": 7_200_000 }).to_string(),
        )
        .await
        .json();
    assert_eq!(r["errCode"], 0, "{r}");
    assert_eq!(r["now"], T0 + 7_200_000);
    assert_eq!(app.state.now_ms(), T0 + 7_200_000);
    let expired = app
        .post(
            &format!("/wxa/business/getvoipcontactlist?access_token={t}"),
            json!({ "user_id": "s1" }).to_string(),
        )
        .await
        .json();
    assert_eq!(expired["errcode"], 42001, "{expired}");

    // Bad input is a 1004 and moves nothing.
    for bad in [
        json!({ "freeze": "yes" }),
        json!({ "advanceMs": -1 }),
        json!({ "advanceMs": "60000" }),
        json!({ "advanceMs": 1e300 }),
        json!([]),
    ] {
        let r = app.post("/v1/dev/clock", bad.to_string()).await.json();
        assert_eq!(r["errCode"], 1004, "{bad}: {r}");
    }
    assert_eq!(app.state.now_ms(), T0 + 7_200_000);

    // Without --dev neither route exists.
    let plain = common::app();
    for route in ["/v1/dev/clock", "/v1/dev/stats"] {
        let r = plain
            .post(route, json!({ "advanceMs": 1 }).to_string())
            .await;
        assert_eq!(r.status, 404, "{route}");
    }
}

#[tokio::test]
async fn plugin_app_id_prefixes_share_paths() {
    let app = common::Build {
        plugin_app_id: Some("wx0123456789abcdef".into()),
        ..Default::default()
    }
    .start();
    admin_of_s1(&app, "o_mum").await;
    let r = call(
        &app,
        "getBindContactPath",
        &bearer("o_mum"),
        json!({ "userId": "s1", "userName": "n" }),
    )
    .await;
    let path = assert_ok("getBindContactPath", &r);
    let path = path.as_str().unwrap();
    assert!(
        path.starts_with("__plugin__/wx0123456789abcdef/pages/bind-contact/bind-contact?"),
        "{path}"
    );
    let dad = bearer("o_dad");
    assert_ok(
        "authorizeVoip",
        &call(&app, "authorizeVoip", &dad, json!({})).await,
    );
    let r = call(&app, "acceptBindContactPath", &dad, json!({ "path": path })).await;
    assert_eq!(
        assert_ok("acceptBindContactPath", &r)["type"],
        "success",
        "{r}"
    );
}

#[test]
fn a_bad_plugin_app_id_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let err = campus_voip_server::http::ServiceState::try_new(
        db,
        campus_voip_server::clock::ManualClock::new(T0),
        std::sync::Arc::new(campus_voip_server::metrics::Metrics::new()),
        campus_voip_server::http::AppCredentials {
            app_id: common::APP_ID.into(),
            app_secret: common::APP_SECRET.into(),
        },
        campus_voip_server::session::SessionKey::new(common::SESSION_SECRET.as_bytes()).unwrap(),
        campus_voip_server::http::RuleSettings {
            max_contacts: 10,
            ticket_ttl_ms: 259_200_000,
            ring_timeout_ms: 30_000,
            access_token_ttl_ms: 7_200_000,
            wechat_api: "https://api.weixin.qq.com".into(),
            plugin_app_id: Some("wx app".into()),
        },
        campus_voip_server::http::Limits::default(),
        false,
    )
    .err()
    .expect("a bad plugin app id is refused");
    assert!(err.contains("pluginAppId"), "{err}");
}

/// Write calls the store has answered so far (from its metrics).
fn writes(metrics: &campus_voip_server::metrics::Metrics) -> u64 {
    let text = metrics.render();
    text.lines()
        .find(|l| l.starts_with("campus_voip_db_duration_seconds_count{op=\"write\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_renews_the_clock_lease_the_others_go_on() {
    use campus_voip_server::{clock::ManualClock, core::Core, db, metrics::Metrics};
    let dir = tempfile::tempdir().unwrap();
    let metrics = std::sync::Arc::new(Metrics::new());
    let db = db::Db::open(
        &db::OpenOptions {
            path: dir.path().join("t.sqlite3"),
            migrate: true,
            now_ms: T0,
        },
        metrics.clone(),
    )
    .unwrap();
    let clock = ManualClock::new(T0);
    let core = Core::load(&db, clock.clone(), Default::default()).unwrap();
    let before = writes(&metrics);
    // Past the point where the lease needs renewing: 64 requests at once.
    clock.set(T0 + 86_400_000);
    let times = futures_join_all((0..64).map(|_| core.now(&db))).await;
    assert!(times.iter().all(|&t| t >= T0), "{times:?}");
    let renewals = writes(&metrics) - before;
    assert_eq!(renewals, 1, "lease writes for 64 concurrent requests");
    // The renewal landed: the clock is at the wall clock again.
    assert_eq!(core.now(&db).await, T0 + 86_400_000);
    db.close();
}

async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let fs: Vec<_> = fs.map(Box::pin).collect();
    // Poll them all together (no extra dependency).
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> = fs.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(Option::unwrap));
    out
}

#[tokio::test]
async fn an_accept_that_changes_nothing_is_answered_without_the_writer() {
    let app = app();
    admin_of_s1(&app, "o_mum").await;
    let mum = bearer("o_mum");
    let path = assert_ok(
        "getBindContactPath",
        &call(
            &app,
            "getBindContactPath",
            &mum,
            json!({ "userId": "s1", "userName": "n" }),
        )
        .await,
    );
    let dad = bearer("o_dad");
    assert_ok(
        "authorizeVoip",
        &call(&app, "authorizeVoip", &dad, json!({})).await,
    );
    let accept = |who: String| {
        let body = json!({ "path": path.clone() });
        let app = &app;
        async move { call(app, "acceptBindContactPath", &who, body).await }
    };
    let r = accept(dad.clone()).await;
    assert_eq!(assert_ok("acceptBindContactPath", &r)["type"], "success");
    assert_ok(
        "authorizeVoip",
        &call(&app, "authorizeVoip", &bearer("o_gran"), json!({})).await,
    );
    // The next commit fails: an accept that needs none is not touched by it...
    app.state.db.fail_next_commit();
    let r = accept(dad.clone()).await;
    assert_eq!(
        assert_ok("acceptBindContactPath", &r)["type"],
        "binded",
        "{r}"
    );
    let r = accept(bearer("o_unconsented")).await;
    assert_eq!(
        assert_ok("acceptBindContactPath", &r)["type"],
        "auth",
        "{r}"
    );
    // ...and one that needs a write still goes through it (and gets the failed commit).
    let r = accept(bearer("o_gran")).await;
    assert_eq!(r["errCode"], 3007, "{r}");
    let r = accept(bearer("o_gran")).await;
    assert_eq!(
        assert_ok("acceptBindContactPath", &r)["type"],
        "success",
        "{r}"
    );
}
