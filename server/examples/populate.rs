//! Fills a service database with students for `make bench-service` (benches/service.mjs):
//! `populate DB FROM TO` stores students `s{FROM:06}` … `s{TO-1:06}`, each with three contacts
//! `o{n:06}a` (the administrator), `o{n:06}b`, `o{n:06}c`, all three consented: what
//! `authorizeVoip` ×3, `bindVoipAdminContact` and two accepted share links leave behind.
//!
//! The rows are written with the service's own store code (`SqlRepo::commit` of the core's
//! `Change`s, through `Db::write_blocking`), a thousand students per transaction, on a database
//! the service created (`serve --dev` once; run this while the service is stopped).

use campus_voip::ids::{OpenId, UserId};
use campus_voip::registry::{Change, Contact, Role, StudentRecord};
use campus_voip::repo::Repo;
use campus_voip_server::db::{Db, DbError, OpenOptions};
use campus_voip_server::metrics::Metrics;
use campus_voip_server::repo::SqlRepo;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const PER_TRANSACTION: u32 = 1000;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, from, to] = args.as_slice() else {
        return Err("usage: populate DB FROM TO".into());
    };
    let from: u32 = from.parse().map_err(|e| format!("FROM: {e}"))?;
    let to: u32 = to.parse().map_err(|e| format!("TO: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let db = Db::open(
        &OpenOptions {
            path: db.into(),
            migrate: false,
            now_ms: now,
        },
        Arc::new(Metrics::new()),
    )
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut start = from;
    while start < to {
        let end = (start + PER_TRANSACTION).min(to);
        db.write_blocking(move |conn| {
            let mut repo = SqlRepo::new(conn, now);
            for n in start..end {
                store(&mut repo, n, now).map_err(DbError::Rule)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        start = end;
    }
    db.close();
    println!(
        "populate: {} students ({from}..{to}) in {:.2} s",
        to.saturating_sub(from),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn store(repo: &mut SqlRepo<'_>, n: u32, now: u64) -> campus_voip::Result<()> {
    let user_id = UserId::parse("userId", &format!("s{n:06}"))?;
    let mut contacts = Vec::with_capacity(3);
    for (i, suffix) in ["a", "b", "c"].into_iter().enumerate() {
        let open_id = OpenId::parse("openId", &format!("o{n:06}{suffix}"))?;
        repo.commit(Change::Consent {
            open_id: open_id.clone(),
            granted: true,
        })?;
        contacts.push(Contact {
            open_id,
            role: if i == 0 { Role::Admin } else { Role::Ordinary },
            bound_at: now + i as u64,
        });
    }
    repo.commit(Change::PutStudent(StudentRecord {
        user_id,
        admin_term: n.wrapping_mul(2_654_435_761),
        contacts,
        removed: Vec::new(),
    }))
}
