//! `export` / `import`: a school built through the real operations moves to a fresh database
//! and keeps its contacts, links, face-pay tokens, removals, devices and clock; a second export
//! is byte for byte the first; bad input is refused with the line named and nothing written.

mod common;

use campus_voip::ids::UserId;
use campus_voip_server::cli;
use campus_voip_server::clock::Clock;
use campus_voip_server::config::Cli;
use campus_voip_server::db::DbError;
use campus_voip_server::repo::{load_student, store_student};
use campus_voip_server::schema;
use clap::Parser;
use common::{bearer, Build, TestApp, T0};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The sources of the export tests are SQLite files (the move test's target is PostgreSQL when
/// CAMPUS_VOIP_TEST_PG is set).
fn sqlite() -> Build {
    Build {
        sqlite: true,
        ..Build::default()
    }
}

async fn run(db: &Path, args: &[&str]) -> Result<String, String> {
    run_url(&format!("sqlite://{}", db.display()), args).await
}

async fn run_url(url: &str, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["campus-voip-server", "--database", url];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    cli::run(Cli::try_parse_from(argv).unwrap(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

async fn call_list(app: &TestApp, access_token: &str) -> Value {
    app.post(
        &format!("/wxa/business/getvoipcalllist?access_token={access_token}"),
        json!({ "user_id": "s1" }).to_string(),
    )
    .await
    .json()
}

fn db_of(app: &TestApp) -> PathBuf {
    app.dir.path().join("test.sqlite3")
}

async fn call(app: &TestApp, api: &str, auth: &str, body: Value) -> Value {
    let r = app
        .post_auth(&format!("/v1/{api}"), auth, body.to_string())
        .await;
    assert_eq!(r.status, 200, "{api}: {}", r.text);
    let v = r.json();
    assert_eq!(v["errCode"], 0, "{api}: {v}");
    v["result"].clone()
}

async fn accept(app: &TestApp, who: &str, path: &str) -> String {
    let e = call(
        app,
        "acceptBindContactPath",
        &bearer(who),
        json!({ "path": path }),
    )
    .await;
    e["type"].as_str().unwrap().to_owned()
}

async fn link(app: &TestApp, admin: &str) -> String {
    let p = call(
        app,
        "getBindContactPath",
        &bearer(admin),
        json!({ "userId": "s1", "userName": "Tom 汤姆", "userAvatar": "https://example.com/tom.png" }),
    )
    .await;
    p.as_str().unwrap().to_owned()
}

/// A call, then the device hangs it up (a device is in one call at a time).
async fn place_call(app: &TestApp, dev: &str, listener: &str, token: &str) -> Value {
    let r = call(
        app,
        "initByCaller",
        dev,
        json!({
            "roomType": "voice",
            "caller": { "id": "s1" },
            "listener": { "id": listener },
            "voipToken": token,
        }),
    )
    .await;
    call(app, "forceHangUpVoip", dev, json!({})).await;
    r
}

async fn contact_list(app: &TestApp, access_token: &str) -> Value {
    app.post(
        &format!("/wxa/business/getvoipcontactlist?access_token={access_token}"),
        json!({ "user_id": "s1" }).to_string(),
    )
    .await
    .json()
}

/// Every row of every table of the database at `path`, as text (to see that nothing changed).
fn dump(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        let mut lines = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect();
            lines.push(format!("{t}: {}", cells.join(" | ")));
        }
        lines.sort();
        out.extend(lines);
    }
    out
}

#[tokio::test]
async fn a_school_moves_with_its_links_tokens_removals_and_clock() {
    let src = sqlite().start();
    // The source ran twelve hours ahead of the clock the target will start with.
    src.clock.set(T0 + 12 * 3_600_000);
    let (a, b, c) = (bearer("parentA"), bearer("parentB"), bearer("parentC"));
    for who in [&a, &b, &c] {
        call(&src, "authorizeVoip", who, json!({})).await;
    }
    call(&src, "bindVoipAdminContact", &a, json!({ "userId": "s1" })).await;
    let for_b = link(&src, "parentA").await;
    assert_eq!(accept(&src, "parentB", &for_b).await, "success");
    src.clock.advance_secs(60);
    let for_c = link(&src, "parentA").await;
    // B is removed: the link B came in with cannot bring B back.
    src.clock.advance_secs(60);
    let r = call(
        &src,
        "deleteVoipBindContact",
        &a,
        json!({ "userId": "s1", "openidList": ["parentB"] }),
    )
    .await;
    assert_eq!(r["deleted"], json!(["parentB"]));
    let refused = accept(&src, "parentB", &for_b).await;
    assert_eq!(refused, "invalid");
    // A face-pay device, a used token and an unused one.
    let dev = common::device(&src).await;
    let used = call(&src, "issueVoipToken", &dev, json!({ "userId": "s1" })).await;
    let used = used.as_str().unwrap().to_owned();
    assert_eq!(
        place_call(&src, &dev, "parentA", &used).await["isSuccess"],
        true
    );
    let r = place_call(&src, &dev, "parentA", &used).await;
    assert_eq!(
        (r["isSuccess"].clone(), r["errCode"].clone()),
        (json!(false), json!(4))
    );
    let fresh = call(&src, "issueVoipToken", &dev, json!({ "userId": "s1" })).await;
    let fresh = fresh.as_str().unwrap().to_owned();
    let old_access = src.classic_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(contact_list(&src, &old_access).await["errcode"], 0);
    let last = src.state.core.now(&src.state.db).await;

    // export → import into a new file → export: the same bytes.
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("school.jsonl");
    let out = run(
        &db_of(&src),
        &["export", "--output", first.to_str().unwrap()],
    )
    .await
    .unwrap();
    assert!(out.contains("1 students, 1 contacts, 1 removals, 3 consents, 1 used tokens, 1 devices, 2 server keys, 1 settings, 1 calls"), "{out}");
    let calls_before = call_list(&src, &old_access).await;
    assert_eq!(
        calls_before["call_list"].as_array().unwrap().len(),
        1,
        "{calls_before}"
    );
    let e = run(
        &db_of(&src),
        &["export", "--output", first.to_str().unwrap()],
    )
    .await
    .unwrap_err();
    assert!(e.contains("never overwrites"), "{e}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file holds the server keys");
    }
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(
        !text.contains(&old_access),
        "access tokens are not exported"
    );
    // With CAMPUS_VOIP_TEST_PG the school moves from SQLite to PostgreSQL (and, below, back).
    let dst_dir = tempfile::tempdir().unwrap();
    let dst_url = common::pg_url(dst_dir.path())
        .unwrap_or_else(|| format!("sqlite://{}", dst_dir.path().join("test.sqlite3").display()));
    let out = run_url(&dst_url, &["import", "--input", first.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("check: ok"), "{out}");
    let second = run_url(&dst_url, &["export"]).await.unwrap();
    assert_eq!(second, text, "export → import → export is the same file");
    if common::on_pg() {
        // And back to SQLite: the same file again.
        let back = tempfile::tempdir().unwrap();
        let back_db = back.path().join("back.sqlite3");
        let moved = back.path().join("moved.jsonl");
        std::fs::write(&moved, &second).unwrap();
        run(&back_db, &["import", "--input", moved.to_str().unwrap()])
            .await
            .unwrap();
        assert_eq!(
            run(&back_db, &["export"]).await.unwrap(),
            text,
            "PostgreSQL → SQLite"
        );
    }
    let s1 = UserId::parse("u", "s1").unwrap();
    let source_record =
        load_student(&rusqlite::Connection::open(db_of(&src)).unwrap(), &s1).unwrap();

    // The moved school, served with a clock twelve hours behind the source's.
    let dst = if common::on_pg() {
        Build::default().start_in(dst_dir)
    } else {
        sqlite().start_in(dst_dir)
    };
    let moved_record = {
        let s1 = s1.clone();
        dst.state
            .db
            .read(move |c| load_student(c, &s1).map_err(DbError::Rule))
            .await
            .unwrap()
    };
    assert_eq!(source_record, moved_record);
    assert_eq!(moved_record.unwrap().removed.len(), 1);
    assert_eq!(dst.clock.now_ms(), T0);
    assert!(
        dst.state.core.now(&dst.state.db).await >= last,
        "time never goes back"
    );
    // A link issued before the move still verifies; the removed parent's is still invalid.
    assert_eq!(accept(&dst, "parentB", &for_b).await, refused);
    assert_eq!(accept(&dst, "parentC", &for_c).await, "success");
    // The device key still works; the used token is still used, the fresh one still verifies.
    let r = place_call(&dst, &dev, "parentA", &used).await;
    assert_eq!(
        (r["isSuccess"].clone(), r["errCode"].clone()),
        (json!(false), json!(4))
    );
    assert!(
        r["message"].as_str().unwrap().contains("already used"),
        "{r}"
    );
    assert_eq!(
        place_call(&dst, &dev, "parentC", &fresh).await["isSuccess"],
        true
    );
    // Consent moved; access tokens did not (a WeChat SDK renews on 40001).
    let r = call(&dst, "getVoipConsent", &a, json!({})).await;
    assert_eq!(r, json!({ "granted": true }));
    let r = call(&dst, "getVoipConsent", &bearer("parentD"), json!({})).await;
    assert_eq!(r, json!({ "granted": false }));
    assert_eq!(contact_list(&dst, &old_access).await["errcode"], 40001);
    let new_access = dst.classic_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        contact_list(&dst, &new_access).await,
        json!({ "errcode": 0, "errmsg": "ok", "contact_list": [
            { "open_id": "parentA", "role": 1 }, { "open_id": "parentC", "role": 0 }] })
    );
    // The call log moved: the call from before the move first, then the one placed after it.
    let after = call_list(&dst, &new_access).await;
    let list = after["call_list"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{after}");
    assert_eq!(list[0], calls_before["call_list"][0], "{after}");
}

/// Recomputes the end line of an export whose data lines were edited on purpose.
fn reseal(lines: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut counts = serde_json::Map::new();
    for k in [
        "server_key",
        "setting",
        "device",
        "consent",
        "student",
        "contact",
        "removal",
        "used_token",
    ] {
        counts.insert(k.into(), json!(0));
    }
    for l in &lines[1..] {
        let v: Value = serde_json::from_str(l).unwrap();
        let kind = v["kind"].as_str().unwrap().to_owned();
        if !counts.contains_key(&kind) {
            continue;
        }
        *counts.get_mut(&kind).unwrap() = json!(counts[&kind].as_u64().unwrap() + 1);
        if kind == "student" {
            for (field, name) in [("contacts", "contact"), ("removed", "removal")] {
                let n = v[field].as_array().unwrap().len() as u64;
                *counts.get_mut(name).unwrap() = json!(counts[name].as_u64().unwrap() + n);
            }
        }
    }
    let sha: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let end = json!({ "kind": "end", "lines": lines.len(), "counts": counts, "sha256": sha });
    format!("{body}{end}\n")
}

#[tokio::test]
async fn import_refuses_bad_input_and_writes_nothing() {
    let src = sqlite().start();
    let a = bearer("parentA");
    call(&src, "authorizeVoip", &a, json!({})).await;
    call(&src, "authorizeVoip", &bearer("parentB"), json!({})).await;
    call(&src, "bindVoipAdminContact", &a, json!({ "userId": "s1" })).await;
    let path = link(&src, "parentA").await;
    assert_eq!(accept(&src, "parentB", &path).await, "success");
    common::device(&src).await;
    let text = run(&db_of(&src), &["export"]).await.unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line_of = |kind: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
            .unwrap()
    };
    let (consent, student) = (line_of("consent"), line_of("student"));
    let edit = |i: usize, new: &str| {
        let mut l = lines.clone();
        l[i] = new.to_owned();
        l
    };
    let joined = |l: &[String]| l.iter().map(|x| format!("{x}\n")).collect::<String>();
    let no_end = joined(&lines[..lines.len() - 1]);
    let mut cases: Vec<(&str, String, String)> = vec![
        ("empty", String::new(), "empty".into()),
        (
            "not an export",
            "hello\n".into(),
            "line 1: not a campus-voip-export".into(),
        ),
        (
            "no end line",
            no_end.clone(),
            format!("ends after line {} without its end line", lines.len() - 1),
        ),
        (
            "cut inside a line",
            text[..text.len() - 20].to_owned(),
            format!("line {}: cut short", lines.len()),
        ),
        (
            "a line lost",
            joined(&[&lines[..consent], &lines[consent + 1..]].concat()),
            "lines are missing or added".into(),
        ),
        (
            "a value altered",
            joined(&edit(
                student,
                &lines[student].replace("\"parentA\"", "\"parentZ\""),
            )),
            "the file was altered".into(),
        ),
        (
            "a broken line",
            joined(&edit(consent, "{\"kind\":\"consent\",\"open_id\":")),
            format!("line {}: EOF while parsing", consent + 1),
        ),
        (
            "after the end line",
            format!("{text}{{}}\n"),
            format!("line {}: more input after the end line", lines.len() + 1),
        ),
        (
            "format version 3",
            joined(&edit(
                0,
                &lines[0].replace("\"version\":2", "\"version\":3"),
            )),
            "line 1: export format version 3; this binary reads versions 1 to 2".into(),
        ),
        (
            "schema 99",
            joined(&edit(
                0,
                &lines[0].replace(&format!("\"schema\":{}", schema::latest()), "\"schema\":99"),
            )),
            "line 1: exported at schema version 99".into(),
        ),
    ];
    // Edits that keep the end line right: each line's own checks, then `check`.
    let resealed: Vec<(&str, Vec<String>, String)> = vec![
        (
            "an unknown kind",
            edit(consent, "{\"kind\":\"parent\",\"open_id\":\"parentA\"}"),
            format!("line {}: unknown kind `parent`", consent + 1),
        ),
        (
            "an unknown field",
            edit(
                consent,
                &lines[consent].replace("{\"kind\":\"consent\",", "{\"kind\":\"consent\",\"x\":1,"),
            ),
            format!("line {}: unknown field `x`", consent + 1),
        ),
        (
            "a malformed openId",
            edit(consent, &lines[consent].replace("parentA", "parent A")),
            format!("line {}: consent open_id", consent + 1),
        ),
        (
            "a wrong type",
            edit(
                student,
                &lines[student].replace("\"admin_term\":", "\"admin_term\":\"x\",\"_\":"),
            ),
            format!("line {}: invalid type", student + 1),
        ),
        (
            "a field twice",
            edit(
                student,
                &lines[student].replace("\"role\":1", "\"role\":1,\"role\":1"),
            ),
            format!("line {}: duplicate field `role`", student + 1),
        ),
        (
            "two administrators (the core's record check)",
            edit(student, &lines[student].replace("\"role\":0", "\"role\":1")),
            format!("line {}: student \"s1\" has 2 administrators", student + 1),
        ),
        (
            "a duplicate consent",
            [&lines[..=consent], &lines[consent..]].concat(),
            format!(
                "line {}: duplicate or conflicting consent of parentA",
                consent + 2
            ),
        ),
        (
            "a duplicate student",
            [&lines[..=student], &lines[student..]].concat(),
            format!("line {}: duplicate student \"s1\"", student + 2),
        ),
        (
            "kinds out of order",
            [
                &lines[..1],
                &lines[consent..=consent],
                &lines[1..consent],
                &lines[consent + 1..],
            ]
            .concat(),
            "line 3: a server_key after the consent lines".into(),
        ),
        (
            "a key of the wrong length",
            edit(1, &{
                let v: Value = serde_json::from_str(&lines[1]).unwrap();
                lines[1].replace(v["secret"].as_str().unwrap(), "AAAA")
            }),
            "line 2: server_key secret must be 32 bytes".into(),
        ),
        (
            "no token keyring (found by check)",
            lines
                .iter()
                .filter(|l| !l.contains("\"purpose\":\"token\""))
                .cloned()
                .collect(),
            "does not pass check: the token keyring is missing".into(),
        ),
    ];
    for (name, l, want) in resealed {
        cases.push((name, reseal(&l[..l.len() - 1]), want));
    }

    let work = tempfile::tempdir().unwrap();
    let fresh = work.path().join("fresh.sqlite3");
    run(&fresh, &["migrate"]).await.unwrap();
    let before = dump(&fresh);
    for (i, (name, input, want)) in cases.iter().enumerate() {
        let file = work.path().join(format!("case-{i}.jsonl"));
        std::fs::write(&file, input).unwrap();
        // Into a database that does not exist yet: it still does not afterwards.
        let missing = work.path().join(format!("missing-{i}.sqlite3"));
        let e = run(&missing, &["import", "--input", file.to_str().unwrap()])
            .await
            .unwrap_err();
        assert!(e.contains(want.as_str()), "{name}: {e}");
        assert!(e.contains("nothing was written"), "{name}: {e}");
        assert!(!missing.exists(), "{name}: the new database was removed");
        // Into an empty migrated one: unchanged.
        let e = run(&fresh, &["import", "--input", file.to_str().unwrap()])
            .await
            .unwrap_err();
        assert!(e.contains(want.as_str()), "{name}: {e}");
        assert_eq!(dump(&fresh), before, "{name}: the target is unchanged");
    }
    // A version 1 file (before calls: no call lines, no call count) is still read.
    let mut v1_lines: Vec<String> = lines[..lines.len() - 1].to_vec();
    v1_lines[0] = v1_lines[0].replace("\"version\":2", "\"version\":1");
    assert!(v1_lines[0].contains("\"version\":1"), "{}", v1_lines[0]);
    let v1_file = work.path().join("v1.jsonl");
    std::fs::write(&v1_file, reseal(&v1_lines)).unwrap();
    let v1_db = work.path().join("v1.sqlite3");
    let out = run(&v1_db, &["import", "--input", v1_file.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("0 calls); check: ok"), "{out}");
    // The unaltered file goes in, once: the target is not empty any more.
    let good = work.path().join("good.jsonl");
    std::fs::write(&good, &text).unwrap();
    run(&fresh, &["import", "--input", good.to_str().unwrap()])
        .await
        .unwrap();
    let after = dump(&fresh);
    for db in [&fresh, &db_of(&src)] {
        let before = dump(db);
        let e = run(db, &["import", "--input", good.to_str().unwrap()])
            .await
            .unwrap_err();
        assert!(e.contains("is not empty"), "{e}");
        assert!(e.contains("import only into a new database"), "{e}");
        assert_eq!(dump(db), before);
    }
    assert_eq!(dump(&fresh), after);
    // A missing input file: no database is created.
    let nowhere = work.path().join("nowhere.sqlite3");
    let e = run(&nowhere, &["import", "--input", "/nonexistent/x.jsonl"])
        .await
        .unwrap_err();
    assert!(e.contains("cannot open"), "{e}");
    assert!(!nowhere.exists());
}

#[tokio::test]
async fn export_refuses_a_database_that_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cv.sqlite3");
    run(&db, &["migrate"]).await.unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("INSERT INTO students VALUES ('lonely', 1, 1);")
        .unwrap();
    let out = dir.path().join("x.jsonl");
    let e = run(&db, &["export", "--output", out.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(
        e.contains("does not pass check") && e.contains("'lonely'"),
        "{e}"
    );
    assert!(!out.exists());
}

/// A large school (10 000 students by default, `EXPORT_TEST_STUDENTS=100000` for the size
/// SPEC §7 has in mind), two contacts each, a removal every tenth, a consent every second and a
/// used token every hundredth: export, import, export again.
#[tokio::test]
async fn a_large_school_round_trips() {
    let students: usize = std::env::var("EXPORT_TEST_STUDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let started = Instant::now();
    db.write(move |c| {
        use campus_voip::ids::OpenId;
        use campus_voip::registry::{Contact, Removal, Role, StudentRecord};
        let oid = |s: String| OpenId::parse("o", &s).unwrap();
        for i in 0..students {
            let rec = StudentRecord {
                user_id: UserId::parse("u", &format!("student-{i:06}")).unwrap(),
                admin_term: i as u32,
                contacts: vec![
                    Contact {
                        open_id: oid(format!("o_dad_{i}")),
                        role: Role::Admin,
                        bound_at: T0 + i as u64,
                    },
                    Contact {
                        open_id: oid(format!("o_mum_{i}")),
                        role: Role::Ordinary,
                        bound_at: T0 + i as u64 + 1,
                    },
                ],
                removed: if i % 10 == 0 {
                    vec![Removal {
                        open_id: oid(format!("o_ex_{i}")),
                        at: T0 + 5,
                    }]
                } else {
                    Vec::new()
                },
            };
            store_student(c, &rec, T0 + 2).unwrap();
            if i % 2 == 0 {
                c.exec(
                    "INSERT INTO consents VALUES (?1, ?2)",
                    campus_voip_server::args![&format!("o_dad_{i}"), T0 as i64],
                )?;
            }
            if i % 100 == 0 {
                let mut id = [0u8; 12];
                id[..8].copy_from_slice(&(i as u64).to_be_bytes());
                c.exec(
                    "INSERT INTO used_tokens VALUES (?1, ?2)",
                    campus_voip_server::args![&id, T0 as i64],
                )?;
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    db.close();
    eprintln!("built {students} students in {:?}", started.elapsed());
    let src = dir.path().join("test.sqlite3");
    let file = dir.path().join("big.jsonl");
    let t = Instant::now();
    run(&src, &["export", "--output", file.to_str().unwrap()])
        .await
        .unwrap();
    let export_time = t.elapsed();
    let size = std::fs::metadata(&file).unwrap().len();
    let dst = dir.path().join("moved.sqlite3");
    let t = Instant::now();
    let out = run(&dst, &["import", "--input", file.to_str().unwrap()])
        .await
        .unwrap();
    let import_time = t.elapsed();
    let want = format!(
        "{students} students, {} contacts, {} removals, {} consents, {} used tokens",
        2 * students,
        students.div_ceil(10),
        students.div_ceil(2),
        students.div_ceil(100)
    );
    assert!(out.contains(&want), "{out}");
    let again = dir.path().join("again.jsonl");
    run(&dst, &["export", "--output", again.to_str().unwrap()])
        .await
        .unwrap();
    assert!(
        std::fs::read(&file).unwrap() == std::fs::read(&again).unwrap(),
        "the second export is the first"
    );
    eprintln!("{students} students: {size} bytes, export {export_time:?}, import {import_time:?}");
    // The keys moved with the data.
    let keys = |p: &Path| {
        schema::load_keys(&rusqlite::Connection::open(p).unwrap())
            .unwrap()
            .ticket
            .current()
            .secret
    };
    assert_eq!(keys(&src), keys(&dst));
}
