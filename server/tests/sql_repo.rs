//! `SqlRepo`: the core's store interface over SQLite.

mod common;

use campus_voip::ids::{OpenId, UserId};
use campus_voip::registry::{Change, Contact, Removal, Role, StudentRecord};
use campus_voip::repo::{is_token_already_used, ReadRepo, Repo};
use campus_voip_server::repo::SqlRepo;

fn u(s: &str) -> UserId {
    UserId::parse("userId", s).unwrap()
}
fn o(s: &str) -> OpenId {
    OpenId::parse("openId", s).unwrap()
}

fn record(id: &str, admin: &str, others: &[(&str, u64)]) -> StudentRecord {
    let mut r = StudentRecord::with_admin(u(id), o(admin), 100, 7);
    for (who, at) in others {
        r.contacts.push(Contact {
            open_id: o(who),
            role: Role::Ordinary,
            bound_at: *at,
        });
    }
    r
}

#[tokio::test]
async fn records_round_trip_and_lists_are_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    db.write(|c| {
        let mut repo = SqlRepo::new(c, 1);
        let mut r = record("s2", "a", &[("p", 300), ("q", 200)]);
        r.removed.push(Removal {
            open_id: o("gone"),
            at: 250,
        });
        repo.commit(Change::PutStudent(r))?;
        repo.commit(Change::PutStudent(record("s1", "b", &[("p", 300)])))?;
        repo.commit(Change::PutStudent(record("s0", "p", &[])))?;
        repo.commit(Change::Consent {
            open_id: o("p"),
            granted: true,
        })?;
        repo.commit(Change::Consent {
            open_id: o("p"),
            granted: true,
        })?;
        Ok(())
    })
    .await
    .unwrap();
    db.read(|c| {
        let repo = SqlRepo::new(c, 2);
        let mut want = record("s2", "a", &[("p", 300), ("q", 200)]);
        want.removed.push(Removal {
            open_id: o("gone"),
            at: 250,
        });
        assert_eq!(*repo.student(&u("s2"))?.unwrap(), want);
        assert!(repo.student(&u("none"))?.is_none());
        // By bind time, then userId.
        assert_eq!(repo.students_of(&o("p"))?, vec![u("s0"), u("s1"), u("s2")]);
        assert!(repo.consented(&o("p"))?);
        assert!(!repo.consented(&o("q"))?);
        Ok(())
    })
    .await
    .unwrap();
    db.write(|c| {
        let mut repo = SqlRepo::new(c, 3);
        repo.commit(Change::RemoveStudent(u("s2")))?;
        repo.commit(Change::Consent {
            open_id: o("p"),
            granted: false,
        })?;
        assert!(repo.student(&u("s2"))?.is_none());
        assert_eq!(repo.students_of(&o("q"))?, Vec::<UserId>::new());
        assert!(!repo.consented(&o("p"))?);
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_used_token_is_unique() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let r = db
        .write(|c| {
            let mut repo = SqlRepo::new(c, 1);
            let nonce = [9u8; 12];
            assert!(!repo.token_used(&nonce)?);
            repo.commit(Change::UseToken {
                id: nonce,
                expires_at: 50,
            })?;
            assert!(repo.token_used(&nonce)?);
            let again = repo.commit(Change::UseToken {
                id: nonce,
                expires_at: 50,
            });
            Ok(again.map_err(|e| (is_token_already_used(&e), e.err_code())))
        })
        .await
        .unwrap();
    assert_eq!(r, Err((true, 4)));
    let n = db
        .write(|c| campus_voip_server::repo::prune_used_tokens(c, 50))
        .await
        .unwrap();
    assert_eq!(n, 1);
}
