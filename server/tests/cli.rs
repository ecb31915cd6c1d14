//! The subcommands through the CLI entry (`cli::run` with parsed arguments), and the
//! configuration rules.

mod common;

use campus_voip_server::cli;
use campus_voip_server::config::{self, Cli};
use campus_voip_server::db::MAX_BATCH;
use campus_voip_server::devices;
use campus_voip_server::session::SessionKey;
use clap::Parser;
use std::path::Path;

fn parse(db: &Path, args: &[&str]) -> Cli {
    let url = format!("sqlite://{}", db.display());
    let mut argv = vec!["campus-voip-server", "--database", url.as_str()];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap()
}

async fn run(db: &Path, args: &[&str]) -> Result<String, String> {
    let mut out = Vec::new();
    cli::run(parse(db, args), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn device_add_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/cv.sqlite3");
    // Nothing exists before migrate.
    let e = run(&db, &["device", "list"]).await.unwrap_err();
    assert!(e.contains("migrate"), "{e}");
    let out = run(&db, &["migrate"]).await.unwrap();
    assert!(out.contains("schema version 2"), "{out}");
    assert!(
        run(&db, &["migrate"]).await.is_ok(),
        "migrate twice is fine"
    );

    let key = run(&db, &["device", "add", "gate-1"]).await.unwrap();
    let key = key.trim_end().to_owned();
    assert!(key.starts_with("cvd1.") && !key.contains('\n'), "{key}");
    let key2 = run(&db, &["device", "add", "gate-2"])
        .await
        .unwrap()
        .trim_end()
        .to_owned();
    assert_ne!(key, key2);
    let e = run(&db, &["device", "add", "gate-1"]).await.unwrap_err();
    assert!(e.contains("exists"), "{e}");
    let e = run(&db, &["device", "add", "bad name"]).await.unwrap_err();
    assert!(e.contains("device name"), "{e}");

    let list = run(&db, &["device", "list"]).await.unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("gate-1\tadded ") && lines[0].ends_with("\tactive"));
    assert!(!list.contains(&key[5..]), "keys are never listed");

    // Stored hashed: the database holds neither key nor secret.
    let raw = std::fs::read(&db).unwrap();
    let wal = std::fs::read(db.with_extension("sqlite3-wal")).unwrap_or_default();
    let secret = key.rsplit('.').next().unwrap();
    for bytes in [&raw, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    // The key authenticates until revoked.
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(
        devices::authenticate(&conn, &key).unwrap().as_deref(),
        Some("gate-1")
    );
    let out = run(&db, &["device", "revoke", "gate-1"]).await.unwrap();
    assert!(out.contains("revoked"));
    assert_eq!(devices::authenticate(&conn, &key).unwrap(), None);
    assert_eq!(
        devices::authenticate(&conn, &key2).unwrap().as_deref(),
        Some("gate-2")
    );
    let e = run(&db, &["device", "revoke", "gate-1"]).await.unwrap_err();
    assert!(e.contains("no active device"), "{e}");
    let list = run(&db, &["device", "list"]).await.unwrap();
    assert!(
        list.lines().next().unwrap().contains("\trevoked "),
        "{list}"
    );
    // The name can be used again, with a new key.
    let key3 = run(&db, &["device", "add", "gate-1"])
        .await
        .unwrap()
        .trim_end()
        .to_owned();
    assert_eq!(
        devices::authenticate(&conn, &key3).unwrap().as_deref(),
        Some("gate-1")
    );
    assert_eq!(devices::authenticate(&conn, &key).unwrap(), None);
}

#[tokio::test]
async fn backup_makes_a_file_that_opens_and_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cv.sqlite3");
    run(&db, &["migrate"]).await.unwrap();
    run(&db, &["device", "add", "gate-1"]).await.unwrap();
    // Some registry rows, written the way the operations will.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO students VALUES ('student-1', 7, 1);
             INSERT INTO contacts VALUES ('student-1', 'o_dad', 1, 1, 0);
             INSERT INTO contacts VALUES ('student-1', 'o_mum', 0, 2, 1);
             INSERT INTO consents VALUES ('o_dad', 1);",
        )
        .unwrap();
    }
    let out = run(&db, &["check"]).await.unwrap();
    assert!(
        out.contains("check: ok (1 students, 2 contacts, 1 consents, 1 active devices)"),
        "{out}"
    );
    let backup = dir.path().join("backup.sqlite3");
    let out = run(&db, &["backup", backup.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("check: ok"), "{out}");
    let e = run(&db, &["backup", backup.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(e.contains("never overwrites"), "{e}");
    // The copy is a database of its own: check passes, and it serves the same keys.
    let out = run(&backup, &["check"]).await.unwrap();
    assert!(out.contains("1 students, 2 contacts"), "{out}");
    let keys_of = |p: &Path| {
        let c = rusqlite::Connection::open(p).unwrap();
        campus_voip_server::schema::load_keys(&c)
            .unwrap()
            .ticket
            .current()
            .secret
    };
    assert_eq!(keys_of(&db), keys_of(&backup));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test]
async fn check_finds_broken_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cv.sqlite3");
    run(&db, &["migrate"]).await.unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO students VALUES ('lonely', 1, 1);
         INSERT INTO students VALUES ('headless', 1, 1);
         INSERT INTO contacts VALUES ('headless', 'o_a', 0, 1, 0);
         INSERT INTO students VALUES ('removed-too', 1, 1);
         INSERT INTO contacts VALUES ('removed-too', 'o_a', 1, 1, 0);
         INSERT INTO removals VALUES ('removed-too', 'o_a', 5);
         INSERT INTO consents VALUES ('not an openid', 1);",
    )
    .unwrap();
    let mut out = Vec::new();
    let e = cli::run(parse(&db, &["check"]), &mut out)
        .await
        .unwrap_err();
    let out = String::from_utf8(out).unwrap();
    assert!(e.contains("problem"), "{e}");
    for needle in [
        "student without contacts: 'lonely'",
        "'headless' has 0 administrators",
        "as removed and as a contact",
        "malformed openId",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
    // A backup of a broken database is made but reported.
    let backup = dir.path().join("b.sqlite3");
    let e = run(&db, &["backup", backup.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(e.contains("does not pass check"), "{e}");
    // The schema keeps two administrators out by itself.
    let r = conn.execute(
        "INSERT INTO contacts VALUES ('removed-too', 'o_b', 1, 2, 1)",
        [],
    );
    assert!(r.is_err());
}

#[tokio::test]
async fn session_mint_and_keys_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cv.sqlite3");
    run(&db, &["migrate"]).await.unwrap();
    let secret = common::SESSION_SECRET;
    let out = run(
        &db,
        &[
            "--session-secret",
            secret,
            "session",
            "mint",
            "o_dad",
            "--ttl",
            "60",
        ],
    )
    .await
    .unwrap();
    let session = out.trim_end();
    let key = SessionKey::new(secret.as_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let s = key.verify(session, now).unwrap();
    assert_eq!(s.open_id.as_str(), "o_dad");
    assert_eq!(s.expires_at - s.issued_at, 60);
    let e = run(&db, &["session", "mint", "o_dad"]).await.unwrap_err();
    assert!(e.contains("--session-secret"), "{e}");
    let e = run(
        &db,
        &["--session-secret", secret, "session", "mint", "o.dad"],
    )
    .await
    .unwrap_err();
    assert!(e.contains("OPENID"), "{e}");
    let e = run(
        &db,
        &["--session-secret", "short", "session", "mint", "o_dad"],
    )
    .await
    .unwrap_err();
    assert!(e.contains("at least 32 bytes"), "{e}");
    // A secret from a file.
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let out = run(
        &db,
        &[
            "--session-secret-file",
            file.to_str().unwrap(),
            "session",
            "mint",
            "o_mum",
        ],
    )
    .await
    .unwrap();
    assert!(key.verify(out.trim_end(), now).is_ok());
    let e = run(
        &db,
        &[
            "--session-secret",
            secret,
            "--session-secret-file",
            file.to_str().unwrap(),
            "session",
            "mint",
            "o_mum",
        ],
    )
    .await
    .unwrap_err();
    assert!(e.contains("give one"), "{e}");

    let out = run(&db, &["keys", "rotate"]).await.unwrap();
    assert!(out.contains("ticket key 2"), "{out}");
    let out = run(&db, &["keys", "rotate"]).await.unwrap();
    assert!(out.contains("ticket key 3"), "{out}");
    assert!(run(&db, &["check"]).await.is_ok());
}

#[tokio::test]
async fn serve_refuses_without_credentials_before_touching_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/cv.sqlite3");
    let e = run(&db, &["--listen", "127.0.0.1:0", "serve"])
        .await
        .unwrap_err();
    assert!(
        e.contains("--app-id") && e.contains("--app-secret") && e.contains("--session-secret"),
        "{e}"
    );
    assert!(!db.exists() && !db.parent().unwrap().exists());
    let e = run(
        &db,
        &[
            "--app-id",
            "wx1",
            "--app-secret",
            "s",
            "--session-secret",
            "short",
            "serve",
        ],
    )
    .await
    .unwrap_err();
    assert!(e.contains("at least 32 bytes"), "{e}");
}

#[test]
fn configuration_rules() {
    let c = Cli::try_parse_from(["campus-voip-server"]).unwrap();
    assert_eq!(c.opts.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(c.opts.database, "sqlite://./data/campus-voip.sqlite3");
    assert_eq!(c.opts.wechat_api, "https://api.weixin.qq.com");
    assert_eq!(
        (
            c.opts.max_contacts,
            c.opts.ticket_ttl,
            c.opts.ring_timeout,
            c.opts.access_token_ttl
        ),
        (10, 259_200, 30, 7200)
    );
    assert!(!c.opts.dev);
    assert_eq!(
        c.opts.max_batch, MAX_BATCH as u64,
        "group commit on by default"
    );
    let one = Cli::try_parse_from(["campus-voip-server", "--max-batch", "1"]).unwrap();
    assert_eq!(one.opts.max_batch, 1);
    assert!(c.command.is_none(), "no subcommand: serve");
    let over = (MAX_BATCH + 1).to_string();
    for bad in [
        &["--max-batch", "0"][..],
        &["--max-batch", over.as_str()],
        &["--max-contacts", "0"],
        &["--max-contacts", "101"],
        &["--ticket-ttl", "59"],
        &["--ticket-ttl", "2592001"],
        &["--ring-timeout", "4"],
        &["--ring-timeout", "121"],
        &["--listen", "nowhere"],
        &["session", "mint", "o_dad", "--ttl", "0"],
    ] {
        let mut argv = vec!["campus-voip-server"];
        argv.extend_from_slice(bad);
        assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
    }
    let short = Cli::try_parse_from(["campus-voip-server", "--access-token-ttl", "299"]).unwrap();
    assert!(short.opts.check().is_err());
    let dev =
        Cli::try_parse_from(["campus-voip-server", "--access-token-ttl", "1", "--dev"]).unwrap();
    assert!(dev.opts.check().is_ok());
    let wechat = Cli::try_parse_from(["campus-voip-server", "--wechat-api", "ftp://x"]).unwrap();
    assert!(wechat.opts.check().is_err());
    // Flags may follow the subcommand.
    let after = Cli::try_parse_from(["campus-voip-server", "check", "--database", "sqlite://x.db"])
        .unwrap();
    assert_eq!(after.opts.database, "sqlite://x.db");

    assert_eq!(
        config::parse_database("sqlite://./data/a.sqlite3"),
        Ok(config::Database::Sqlite("./data/a.sqlite3".into()))
    );
    assert_eq!(
        config::parse_database("sqlite:/abs/a.db"),
        Ok(config::Database::Sqlite("/abs/a.db".into()))
    );
    assert_eq!(
        config::parse_database("postgres://u@h/db"),
        Ok(config::Database::Postgres("postgres://u@h/db".into()))
    );
    // A refused URL's message never shows its password.
    let refused = config::parse_database("mysql://u:hunter2@h/db").unwrap_err();
    assert!(!refused.contains("hunter2"), "{refused}");
    assert!(config::parse_database("mysql://x").is_err());
    assert!(config::parse_database("sqlite://").is_err());

    let unknown = config::unknown_env([
        ("CAMPUS_VOIP_LISTEN".into(), "x".into()),
        ("CAMPUS_VOIP_LISTNE".into(), "x".into()),
        ("CAMPUS_VOIP_SESSION_SECRET_FILE".into(), "x".into()),
        ("PATH".into(), "x".into()),
        ("CAMPUS_VOIP_".into(), "x".into()),
        ("CAMPUS_VOIP_MAX_BATCH".into(), "1".into()),
        ("CAMPUS_VOIP_DB_POOL".into(), "4".into()),
    ]);
    assert_eq!(unknown, ["CAMPUS_VOIP_", "CAMPUS_VOIP_LISTNE"]);
}
