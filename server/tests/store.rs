//! The SQLite store: migrations and keys, group commit (acknowledged only after the commit),
//! rollback of a failed or panicking job alone, the read pool.

mod common;

use campus_voip_server::db::{Db, DbError, OpenOptions, MAX_BATCH};
use campus_voip_server::metrics::Metrics;
use campus_voip_server::schema;
use rusqlite::params;
use std::sync::Arc;

fn insert_consent(
    db: &Db,
    who: String,
) -> impl std::future::Future<Output = Result<(), DbError>> + '_ {
    db.write(move |c| {
        let c = c.sqlite().unwrap();
        c.execute(
            "INSERT INTO consents (open_id, granted_at) VALUES (?1, 1)",
            params![who],
        )?;
        Ok(())
    })
}

async fn consents(db: &Db) -> Vec<String> {
    db.read(|c| {
        let c = c.sqlite().unwrap();
        let mut st = c.prepare("SELECT open_id FROM consents ORDER BY open_id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    })
    .await
    .unwrap()
}

/// Occupies the writer with a job that waits for the returned sender; returns once that job runs.
async fn hold_writer(
    db: &Db,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), DbError>>,
) {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let db = db.clone();
    let hold = tokio::spawn(async move {
        db.write(move |_| {
            started_tx.send(()).ok();
            release_rx.recv().ok();
            Ok(())
        })
        .await
    });
    while started_rx.try_recv().is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    (release_tx, hold)
}

/// Waits until `n` writes are queued behind the running one (they will share one batch).
async fn wait_queued(db: &Db, n: usize) {
    for _ in 0..5000 {
        if db.queued() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("only {} writes queued, expected {n}", db.queued());
}

#[tokio::test]
async fn migrations_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let (v, keys, settings) = db
        .read(|c| {
            let c = c.sqlite().unwrap();
            Ok((
                schema::current_version(c)?,
                schema::load_keys(c)?,
                schema::get_setting(c, "nothing")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(v, schema::latest());
    assert_eq!(keys.ticket.keys().len(), 1);
    assert_eq!(keys.token.keys().len(), 1);
    assert_ne!(keys.ticket.current().secret, keys.token.current().secret);
    assert_eq!(settings, None);
    // Rotation adds a signing key and keeps the old one for verification.
    let (t, k) = db
        .write(|c| schema::rotate_keys(c, common::T0 + 1))
        .await
        .unwrap();
    assert_eq!((t, k), (2, 2));
    let after = db.read(schema::load_keys).await.unwrap();
    assert_eq!(after.ticket.current().id, 2);
    assert!(after.ticket.get(1).is_some());
    // 31 days after the rotation, the next rotation drops key 1.
    db.write(|c| schema::rotate_keys(c, common::T0 + 1 + schema::KEY_RETENTION_MS + 1))
        .await
        .unwrap();
    let later = db.read(schema::load_keys).await.unwrap();
    assert!(later.ticket.get(1).is_none());
    assert!(later.ticket.get(2).is_some() && later.ticket.get(3).is_some());
    db.close();
    // Reopening (and migrating again) is a no-op that keeps the keys.
    let db = common::open_sqlite(dir.path());
    let again = db.read(schema::load_keys).await.unwrap();
    assert_eq!(again.ticket.current().id, 3);
    db.close();
}

#[tokio::test]
async fn a_newer_or_older_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite3");
    // Opening without migrate on a missing file fails and creates nothing.
    let opts = OpenOptions {
        path: path.clone(),
        migrate: false,
        now_ms: 0,
    };
    let e = Db::open(&opts, Arc::new(Metrics::new())).unwrap_err();
    assert!(e.to_string().contains("migrate"), "{e}");
    assert!(!path.exists());
    let db = Db::open(
        &OpenOptions {
            migrate: true,
            ..opts.clone()
        },
        Arc::new(Metrics::new()),
    )
    .unwrap();
    db.write(|c| {
        let c = c.sqlite().unwrap();
        c.execute(
            "INSERT INTO schema_migrations VALUES (99, 'future', '', 0)",
            [],
        )?;
        Ok(())
    })
    .await
    .unwrap();
    db.close();
    for migrate in [false, true] {
        let e = Db::open(
            &OpenOptions {
                migrate,
                ..opts.clone()
            },
            Arc::new(Metrics::new()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("newer than this binary"), "{e}");
    }
}

#[tokio::test]
async fn settings_are_pragmas_we_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let (mode, fk) = db
        .read(|c| {
            let c = c.sqlite().unwrap();
            let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
            Ok((mode, fk))
        })
        .await
        .unwrap();
    assert_eq!((mode.as_str(), fk), ("wal", 1));
    let sync: i64 = db
        .write(|c| {
            Ok(c.sqlite()
                .unwrap()
                .query_row("PRAGMA synchronous", [], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL on the writer");
    // Readers are read-only.
    let e = db
        .read(|c| {
            let c = c.sqlite().unwrap();
            c.execute("INSERT INTO consents VALUES ('o_x', 1)", [])?;
            Ok(())
        })
        .await;
    assert!(e.is_err());
    db.close();
}

#[tokio::test]
async fn cached_statements_are_not_planned_again_on_each_call() {
    // A `WHERE … = ?1 … ORDER BY` statement (load_student, students_of) stays prepared when
    // bound to another value, on the readers and on the writer.
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let sql = "SELECT open_id, role FROM contacts WHERE user_id = ?1 ORDER BY position";
    let run = move |c: &dyn campus_voip_server::sql::Sql| -> Result<i32, DbError> {
        let c = c.sqlite().unwrap();
        for id in ["s1", "s2", "s3", "s4"] {
            let mut st = c.prepare_cached(sql)?;
            let _ = st.query_map([id], |_| Ok(()))?.count();
        }
        let st = c.prepare_cached(sql)?;
        Ok(st.get_status(rusqlite::StatementStatus::RePrepare))
    };
    assert_eq!(db.read(run).await.unwrap(), 0, "reader");
    assert_eq!(db.write(run).await.unwrap(), 0, "writer");
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_committed_and_batched() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(Metrics::new());
    let db = Db::open(
        &OpenOptions {
            path: dir.path().join("g.sqlite3"),
            migrate: true,
            now_ms: 0,
        },
        metrics.clone(),
    )
    .unwrap();
    // A first job holds the writer until the others are queued, so they share a batch.
    let (release_tx, blocker) = hold_writer(&db).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let who = format!("o_{i:03}");
            insert_consent(&db, who.clone()).await.unwrap();
            // Acknowledged means committed: a reader (another connection) sees it at once.
            let seen: bool = db
                .read(move |c| {
                    let c = c.sqlite().unwrap();
                    Ok(c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM consents WHERE open_id = ?1)",
                        [&who],
                        |r| r.get(0),
                    )?)
                })
                .await
                .unwrap();
            assert!(seen);
        }));
    }
    wait_queued(&db, 200).await;
    release_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(consents(&db).await.len(), 200);
    let text = metrics.render();
    let batches: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("campus_voip_db_write_batch_jobs_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        batches, 2,
        "201 writes in {batches} transactions (group commit)"
    );
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_batch_of_one_each_write_commits_and_is_acknowledged_alone() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(Metrics::new());
    let db = Db::open(
        &OpenOptions {
            path: dir.path().join("one.sqlite3"),
            migrate: true,
            now_ms: 0,
        },
        metrics.clone(),
    )
    .unwrap();
    db.set_max_batch(1);
    // The same queue as the group commit test: 20 writes waiting behind a held one.
    let (release_tx, blocker) = hold_writer(&db).await;
    // The first queued job makes its own commit fail: with a batch of one, only it is refused.
    let trigger = {
        let db = db.clone();
        let db2 = db.clone();
        tokio::spawn(async move {
            db.write(move |c| {
                let c = c.sqlite().unwrap();
                db2.fail_next_commit();
                c.execute("INSERT INTO consents VALUES ('o_trigger', 1)", [])?;
                Ok(())
            })
            .await
        })
    };
    wait_queued(&db, 1).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let who = format!("o_{i:02}");
            insert_consent(&db, who.clone()).await.unwrap();
            let seen: bool = db
                .read(move |c| {
                    let c = c.sqlite().unwrap();
                    Ok(c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM consents WHERE open_id = ?1)",
                        [&who],
                        |r| r.get(0),
                    )?)
                })
                .await
                .unwrap();
            assert!(seen, "acknowledged means committed");
        }));
    }
    wait_queued(&db, 21).await;
    release_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    assert!(matches!(
        trigger.await.unwrap(),
        Err(DbError::CommitFailed(_))
    ));
    for t in tasks {
        t.await.unwrap();
    }
    let stored = consents(&db).await;
    assert_eq!(stored.len(), 20);
    assert!(!stored.contains(&"o_trigger".to_owned()));
    let batches: u64 = metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("campus_voip_db_write_batch_jobs_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(batches, 22, "22 writes, one transaction each");
    // Out of range is clamped: 0 still commits one job at a time.
    db.set_max_batch(0);
    insert_consent(&db, "o_last".into()).await.unwrap();
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_acknowledges_nothing_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(move |c| {
                let c = c.sqlite().unwrap();
                release_rx.recv().ok();
                c.execute("INSERT INTO consents VALUES ('o_first', 1)", [])?;
                Ok(())
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // The blocker's batch will fail to commit (whether or not it was taken yet).
    db.fail_next_commit();
    release_tx.send(()).unwrap();
    let r = blocker.await.unwrap();
    assert!(matches!(r, Err(DbError::CommitFailed(_))), "{r:?}");
    assert!(
        consents(&db).await.is_empty(),
        "nothing of the failed batch exists"
    );
    // The next batch commits normally.
    insert_consent(&db, "o_after".into()).await.unwrap();
    assert_eq!(consents(&db).await, ["o_after"]);

    // A whole batch of many jobs: every one is refused, none is visible. The first job of the
    // batch arms the failure; the hold job keeps the writer busy while the batch queues up.
    let (release_tx, hold) = hold_writer(&db).await;
    let trigger = {
        let db = db.clone();
        let db2 = db.clone();
        tokio::spawn(async move {
            db.write(move |c| {
                let c = c.sqlite().unwrap();
                db2.fail_next_commit();
                c.execute("INSERT INTO consents VALUES ('o_trigger', 1)", [])?;
                Ok(())
            })
            .await
        })
    };
    let mut tasks = Vec::new();
    for i in 0..50 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            insert_consent(&db, format!("o_b{i}")).await
        }));
    }
    // The trigger and the 50 share the next batch, whatever their order in it.
    wait_queued(&db, 51).await;
    release_tx.send(()).unwrap();
    hold.await.unwrap().unwrap();
    assert!(matches!(
        trigger.await.unwrap(),
        Err(DbError::CommitFailed(_))
    ));
    for t in tasks {
        let r = t.await.unwrap();
        assert!(matches!(r, Err(DbError::CommitFailed(_))), "{r:?}");
    }
    assert_eq!(
        consents(&db).await,
        ["o_after"],
        "nothing unacknowledged exists"
    );
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_panicking_job_is_rolled_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let (release_tx, hold) = hold_writer(&db).await;
    let before = {
        let db = db.clone();
        tokio::spawn(async move { insert_consent(&db, "o_before".into()).await })
    };
    let failing = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(|c| {
                let c = c.sqlite().unwrap();
                c.execute("INSERT INTO consents VALUES ('o_failed', 1)", [])?;
                Err::<(), _>(DbError::Rule(campus_voip::Error::invalid_argument(
                    "refused",
                )))
            })
            .await
        })
    };
    let panicking = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(|c| -> Result<(), DbError> {
                let c = c.sqlite().unwrap();
                c.execute("INSERT INTO consents VALUES ('o_panicked', 1)", [])?;
                panic!("a bug in an operation");
            })
            .await
        })
    };
    let duplicate = {
        let db = db.clone();
        tokio::spawn(async move { insert_consent(&db, "o_before".into()).await })
    };
    let after = {
        let db = db.clone();
        tokio::spawn(async move { insert_consent(&db, "o_after".into()).await })
    };
    wait_queued(&db, 5).await;
    release_tx.send(()).unwrap();
    hold.await.unwrap().unwrap();
    assert!(matches!(failing.await.unwrap(), Err(DbError::Rule(_))));
    assert!(matches!(panicking.await.unwrap(), Err(DbError::Panicked(m)) if m.contains("a bug")));
    // The same unique row twice in one batch: exactly one of them (whichever ran first) wins.
    let (a, b) = (before.await.unwrap(), duplicate.await.unwrap());
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    assert!(
        matches!(a.err().or(b.err()), Some(DbError::Conflict(_))),
        "unique row"
    );
    after.await.unwrap().unwrap();
    assert_eq!(consents(&db).await, ["o_after", "o_before"]);
    db.close();
}

#[tokio::test]
async fn close_finishes_queued_writes_then_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_sqlite(dir.path());
    let rxs: Vec<_> = (0..MAX_BATCH + 10)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { insert_consent(&db, format!("o_{i}")).await })
        })
        .collect();
    for r in rxs {
        r.await.unwrap().unwrap();
    }
    db.close();
    assert!(matches!(
        insert_consent(&db, "o_late".into()).await,
        Err(DbError::Closed)
    ));
    assert!(db.read(|_| Ok(())).await.is_err());
    let db = common::open_sqlite(dir.path());
    assert_eq!(consents(&db).await.len(), MAX_BATCH + 10);
    db.close();
}
