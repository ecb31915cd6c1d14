//! Races over HTTP on loopback (the service on a real socket, concurrent clients), and a
//! battery of bad requests that must each get JSON, no 5xx, and change nothing.

mod common;

use axum::body::Body;
use axum::http::Request;
use campus_voip_server::http;
use common::{app, bearer, device, named_device, TestApp};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves the app on 127.0.0.1 (until the test ends).
async fn listen(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(http::serve(
        listener,
        router,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    addr
}

/// One HTTP/1.1 request on its own connection: (status, body).
async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status_line = String::from_utf8_lossy(&out[..split]).to_string();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

async fn post_json(addr: SocketAddr, api: &str, auth: &str, body: Value) -> Value {
    let (status, body) = raw(
        addr,
        "POST",
        &format!("/v1/{api}"),
        &[("Authorization", auth)],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

async fn call(app: &TestApp, api: &str, auth: &str, body: Value) -> Value {
    let r = app
        .post_auth(&format!("/v1/{api}"), auth, body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn admin_of(app: &TestApp, student: &str, parent: &str) -> String {
    let a = bearer(parent);
    call(app, "authorizeVoip", &a, json!({})).await;
    let r = call(
        app,
        "bindVoipAdminContact",
        &a,
        json!({ "userId": student }),
    )
    .await;
    assert_eq!(r["errCode"], 0, "{r}");
    let r = call(
        app,
        "getBindContactPath",
        &a,
        json!({ "userId": student, "userName": "Kid" }),
    )
    .await;
    r["result"].as_str().unwrap().to_owned()
}

async fn contacts(app: &TestApp, student: &str) -> Value {
    let t = app.classic_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/wxa/business/getvoipcontactlist?access_token={t}"),
        json!({ "user_id": student }).to_string(),
    )
    .await
    .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_accepts_at_max_ten() {
    let app = app();
    let path = admin_of(&app, "s1", "admin").await;
    for i in 0..200 {
        call(&app, "authorizeVoip", &bearer(&format!("p{i}")), json!({})).await;
    }
    let addr = listen(&app).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let path = path.clone();
            tokio::spawn(async move {
                let v = post_json(
                    addr,
                    "acceptBindContactPath",
                    &bearer(&format!("p{i}")),
                    json!({ "path": path }),
                )
                .await;
                assert_eq!(v["errCode"], 0, "{v}");
                v["result"]["type"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        *kinds.entry(t.await.unwrap()).or_default() += 1;
    }
    eprintln!("200 accepts: {kinds:?}");
    assert_eq!(kinds.get("success"), Some(&9), "{kinds:?}");
    assert_eq!(kinds.get("overload"), Some(&191), "{kinds:?}");
    let l = contacts(&app, "s1").await;
    assert_eq!(l["contact_list"].as_array().unwrap().len(), 10);
    let report = app
        .state
        .db
        .read(|c| campus_voip_server::check::check(c, 10))
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.students, report.contacts), (1, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parents_bind_admin_at_once() {
    let app = app();
    for i in 0..50 {
        call(&app, "authorizeVoip", &bearer(&format!("p{i}")), json!({})).await;
    }
    let addr = listen(&app).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(async move {
                post_json(
                    addr,
                    "bindVoipAdminContact",
                    &bearer(&format!("p{i}")),
                    json!({ "userId": "s2" }),
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let v = t.await.unwrap();
        if v["errCode"] == 0 {
            ok += 1;
        } else {
            assert!(v["errMsg"]
                .as_str()
                .unwrap()
                .starts_with("bindVoipAdminContact:fail "));
        }
    }
    eprintln!("50 admin binds: {ok} succeeded");
    assert_eq!(ok, 1);
    let l = contacts(&app, "s2").await;
    let list = l["contact_list"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{l}");
    assert_eq!(list[0]["role"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_with_one_token() {
    let app = app();
    admin_of(&app, "s3", "parent").await;
    let dev = device(&app).await;
    let t = call(&app, "issueVoipToken", &dev, json!({ "userId": "s3" })).await["result"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = listen(&app).await;
    // Twenty devices (one device is in one call at a time: 1005 before the token is looked at).
    let mut devices = Vec::new();
    for i in 0..20 {
        devices.push(named_device(&app, &format!("gate-{i}")).await);
    }
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|dev| {
            let t = t.clone();
            tokio::spawn(async move {
                let args = json!({
                    "roomType": "voice", "caller": { "id": "s3" }, "listener": { "id": "parent" }, "voipToken": t,
                });
                post_json(addr, "initByCaller", &dev, args).await
            })
        })
        .collect();
    let (mut admitted, mut reused) = (0, 0);
    for task in tasks {
        let v = task.await.unwrap();
        assert_eq!(v["errCode"], 0, "{v}");
        if v["result"]["isSuccess"] == true {
            admitted += 1;
        } else {
            assert_eq!(v["result"]["errCode"], 4, "{v}");
            reused += 1;
        }
    }
    eprintln!("20 calls on one token: {admitted} admitted, {reused} refused as reused");
    assert_eq!((admitted, reused), (1, 19));
}

/// method, uri, Authorization, other headers, body.
type Case = (
    String,
    String,
    Option<String>,
    Vec<(String, String)>,
    Vec<u8>,
);

/// Every stored row, as text.
async fn dump(app: &TestApp) -> String {
    app.state
        .db
        .read(|c| {
            let mut out = String::new();
            for t in [
                "students",
                "contacts",
                "removals",
                "consents",
                "used_tokens",
                "devices",
                "server_keys",
                "access_tokens",
                "settings",
            ] {
                for r in c.rows(&format!("SELECT * FROM {t} ORDER BY 1, 2"), &[])? {
                    out.push_str(&format!("{t} {r:?}\n"));
                }
            }
            Ok(out)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_battery_of_bad_requests_changes_nothing() {
    let app = app();
    let path = admin_of(&app, "s1", "parentA").await;
    let b = bearer("parentB");
    call(&app, "authorizeVoip", &b, json!({})).await;
    call(&app, "acceptBindContactPath", &b, json!({ "path": path })).await;
    let dev = device(&app).await;
    let t = call(&app, "issueVoipToken", &dev, json!({ "userId": "s1" })).await["result"]
        .as_str()
        .unwrap()
        .to_owned();
    let args = json!({ "roomType": "voice", "caller": { "id": "s1" }, "listener": { "id": "parentA" }, "voipToken": t });
    assert_eq!(
        call(&app, "initByCaller", &dev, args).await["result"]["isSuccess"],
        true
    );
    let access = app.classic_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = bearer("parentA");
    let before = dump(&app).await;
    let addr = listen(&app).await;

    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let deep_obj = format!("{}1{}", "{\"userId\":".repeat(300), "}".repeat(300));
    let big = format!("{{\"userId\":\"{}\"}}", "x".repeat(1 << 20));
    let long_id = format!("{{\"userId\":\"{}\"}}", "x".repeat(10_000));
    let not_json: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"{\"userId\":".to_vec(),
        b"{\"userId\":\"s1\"".to_vec(),
        b"\xff\xfe{}".to_vec(),
        b"{\"userId\":\"s\xff1\"}".to_vec(),
        b"userId=s1".to_vec(),
        b"nul\0l".to_vec(),
        deep.clone().into_bytes(),
        b"{\"a\":1}}".to_vec(),
        b"NaN".to_vec(),
    ];
    let wrong_types: Vec<Vec<u8>> = vec![
        b"{\"userId\":[]}".to_vec(),
        b"{\"userId\":{}}".to_vec(),
        b"{\"userId\":true}".to_vec(),
        b"{\"userId\":\"\"}".to_vec(),
        b"{\"userId\":\"s1\",\"userId\":5}".to_vec(),
        b"{\"userId\":\"s1\",\"openidList\":[\"parentB\"],\"newAdminOpenid\":7,\"openidList\":\"parentB\",\"path\":9,\"userId\":[]}".to_vec(),
        b"[\"s1\"]".to_vec(),
        b"\"s1\"".to_vec(),
        b"null".to_vec(),
        b"123".to_vec(),
        long_id.into_bytes(),
        deep_obj.into_bytes(),
    ];
    let parent_writes_with_args = [
        "bindVoipAdminContact",
        "getBindContactPath",
        "getVoipBindContactList",
        "deleteVoipBindContact",
        "transerAdmin",
        "inspectBindContactPath",
        "acceptBindContactPath",
        "declineBindContactPath",
    ];
    let mut cases: Vec<Case> = Vec::new();
    let mut add =
        |method: &str, uri: String, auth: Option<&str>, headers: &[(&str, &str)], body: &[u8]| {
            cases.push((
                method.to_owned(),
                uri,
                auth.map(str::to_owned),
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body.to_vec(),
            ));
        };
    for api in ["authorizeVoip", "revokeVoip", "getVoipConsent"] {
        for body in &not_json {
            add("POST", format!("/v1/{api}"), Some(&a), &[], body);
        }
    }
    for api in parent_writes_with_args {
        for body in not_json.iter().chain(&wrong_types) {
            add("POST", format!("/v1/{api}"), Some(&a), &[], body);
        }
        add(
            "POST",
            format!("/v1/{api}"),
            Some(&a),
            &[("Content-Type", "text/plain")],
            b"userId=s1",
        );
        add(
            "POST",
            format!("/v1/{api}"),
            Some(&a),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"userId=s1&openidList=parentB",
        );
        add(
            "POST",
            format!("/v1/{api}"),
            Some(&a),
            &[("Content-Type", "multipart/form-data; boundary=x")],
            b"--x--",
        );
    }
    for api in ["issueVoipToken", "initByCaller"] {
        for body in not_json.iter().chain(&wrong_types) {
            add("POST", format!("/v1/{api}"), Some(&dev), &[], body);
        }
    }
    // initByCaller: a used token again, and near misses.
    let reuse = json!({ "roomType": "voice", "caller": { "id": "s1" }, "listener": { "id": "parentA" }, "voipToken": t }).to_string();
    add(
        "POST",
        "/v1/initByCaller".into(),
        Some(&dev),
        &[],
        reuse.as_bytes(),
    );
    let video_bad = json!({ "roomType": "tv", "caller": { "id": "s1" }, "listener": { "id": "parentA" }, "voipToken": t }).to_string();
    add(
        "POST",
        "/v1/initByCaller".into(),
        Some(&dev),
        &[],
        video_bad.as_bytes(),
    );
    // Wrong methods, unknown endpoints.
    for api in [
        "authorizeVoip",
        "bindVoipAdminContact",
        "deleteVoipBindContact",
        "initByCaller",
    ] {
        for m in ["GET", "PUT", "DELETE", "PATCH"] {
            add(m, format!("/v1/{api}"), Some(&a), &[], b"{}");
        }
    }
    add("POST", "/v1/nosuchApi".into(), Some(&a), &[], b"{}");
    // The developer interface.
    let wxa = [
        format!("/wxa/business/getvoipcontactlist?access_token={access}"),
        format!("/wxa/business/resetvoipcontact?access_token={access}"),
    ];
    for uri in &wxa {
        for body in not_json.iter().chain(&wrong_types) {
            add("POST", uri.clone(), None, &[], body);
        }
        add("POST", uri.clone(), None, &[], b"");
        add(
            "POST",
            uri.clone(),
            None,
            &[],
            b"{\"user_id\":\"s1\",\"user_id\":5}",
        );
        add(
            "POST",
            uri.clone(),
            None,
            &[("Content-Type", "text/xml")],
            b"<user_id>s1</user_id>",
        );
        add("GET", uri.clone(), None, &[], b"");
        add("PUT", uri.clone(), None, &[], b"{\"user_id\":\"s1\"}");
    }
    add(
        "POST",
        "/wxa/business/resetvoipcontact".into(),
        None,
        &[],
        b"{\"user_id\":\"s1\"}",
    );
    add(
        "POST",
        "/wxa/business/resetvoipcontact?access_token=forged".into(),
        None,
        &[],
        b"{\"user_id\":\"s1\"}",
    );
    // 1 MiB bodies everywhere (413 / 47001).
    for api in [
        "bindVoipAdminContact",
        "acceptBindContactPath",
        "initByCaller",
    ] {
        add("POST", format!("/v1/{api}"), Some(&a), &[], big.as_bytes());
    }
    for uri in &wxa {
        add("POST", uri.clone(), None, &[], big.as_bytes());
    }
    assert!(cases.len() >= 100, "{}", cases.len());

    let n = cases.len();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (method, uri, auth, headers, body) in cases {
        let mut hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(a) = &auth {
            hs.push(("Authorization", a));
        }
        // Bodies over the limit go through the router: on a socket the service answers 413
        // before reading them and the unread rest may reset the connection under the reply.
        let (status, reply) = if body.len() > 64 * 1024 {
            let mut req = Request::builder().method(method.as_str()).uri(&uri);
            for (k, v) in &hs {
                req = req.header(*k, *v);
            }
            let r = app.send(req.body(Body::from(body.clone())).unwrap()).await;
            (r.status.as_u16(), r.text.into_bytes())
        } else {
            raw(addr, &method, &uri, &hs, &body).await
        };
        *statuses.entry(status).or_default() += 1;
        let what = format!(
            "{method} {uri} {:?}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            String::from_utf8_lossy(&reply)
        );
        assert!(status < 500, "{what}");
        let v: Value =
            serde_json::from_slice(&reply).unwrap_or_else(|e| panic!("not JSON ({e}): {what}"));
        if uri.starts_with("/wxa/") {
            assert_eq!(status, 200, "{what}");
            assert!(v["errcode"].as_i64().unwrap() != 0, "{what}");
        } else {
            assert!(
                v["errCode"].as_u64().unwrap() != 0 || v["result"]["isSuccess"] == false,
                "{what}"
            );
            assert!(
                v["errMsg"].as_str().unwrap().contains(":fail ")
                    || v["result"]["isSuccess"] == false,
                "{what}"
            );
        }
    }
    eprintln!("{n} bad requests, by status: {statuses:?}");
    // The same through the router (no socket): a body that is not UTF-8 with a JSON type.
    let r = app
        .send(
            Request::post("/v1/bindVoipAdminContact")
                .header("authorization", &a)
                .header("content-type", "application/json; charset=utf-8")
                .body(Body::from(&b"{\"userId\":\"\xc0\xaf\"}"[..]))
                .unwrap(),
        )
        .await;
    assert_eq!(r.json()["errCode"], 1004);
    assert_eq!(
        dump(&app).await,
        before,
        "a bad request changed the stored data"
    );
}
