//! What the core's operations act with on the service ([`campus_voip::ops::Ctx`]): the server
//! keys loaded at start ([`Secrets`]), the rule settings from the flags ([`Config`]), the
//! never-going-back clock ([`OpsClock`]) and a CSPRNG seeded from the operating system.

use crate::clock::{OpsClock, SharedClock, CLOCK_LEASE_SETTING};
use crate::db::{Db, DbError, DbResult};
use crate::schema;
use crate::sql::Sql;
use campus_voip::ids::Millis;
use campus_voip::ops::{Config, Secrets};
use campus_voip::rng::{Rng, SEED_LEN};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct Core {
    pub secrets: Secrets,
    pub config: Config,
    pub clock: OpsClock,
    rng: Mutex<Rng>,
    /// A lease renewal is under way: the requests meanwhile do not queue one each.
    renewing: AtomicBool,
}

/// Clears [`Core::renewing`] when the renewal ends, also if its request is dropped.
struct Renewing<'a>(&'a AtomicBool);

impl Drop for Renewing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// The stored clock lease (0 if none).
pub fn stored_lease(conn: &dyn Sql) -> DbResult<u64> {
    Ok(schema::get_setting(conn, CLOCK_LEASE_SETTING)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Stores `lease` unless a later one is stored; returns the one stored.
pub fn store_lease(conn: &dyn Sql, lease: u64) -> DbResult<u64> {
    let lease = lease.max(stored_lease(conn)?);
    schema::set_setting(conn, CLOCK_LEASE_SETTING, &lease.to_string())?;
    Ok(lease)
}

impl Core {
    /// Loads the keys and the clock lease and stores a new lease. Runs on a thread of its own
    /// (it waits for the writer), so it may be called from inside the runtime.
    pub fn load(db: &Db, wall: SharedClock, config: Config) -> Result<Core, String> {
        std::thread::scope(|s| {
            s.spawn(|| -> DbResult<Core> {
                let (keys, lease) =
                    db.read_blocking(|c| Ok((schema::load_keys(c)?, stored_lease(c)?)))?;
                let clock = OpsClock::new(wall, lease);
                let next = clock.next_lease();
                let stored = db.write_blocking(move |c| store_lease(c, next))?;
                clock.renewed(stored);
                Ok(Core {
                    secrets: Secrets {
                        ticket_keys: keys.ticket,
                        token_keys: keys.token,
                    },
                    config,
                    clock,
                    rng: Mutex::new(Rng::from_seed(schema::random_bytes::<SEED_LEN>())),
                    renewing: AtomicBool::new(false),
                })
            })
            .join()
            .unwrap_or_else(|_| Err(DbError::Other("loading the keys panicked".into())))
        })
        .map_err(|e| format!("cannot load the server keys: {e}"))
    }

    /// A generator for one request, seeded from the shared one (itself from getrandom).
    pub fn rng(&self) -> Rng {
        let seed = self
            .rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .bytes::<SEED_LEN>();
        Rng::from_seed(seed)
    }

    /// Stores a new clock lease now, whatever the margin (after `/v1/dev/clock` moved the clock
    /// ahead: until a lease past the new time is stored, operations would act at the old lease).
    pub async fn renew_lease(&self, db: &Db) {
        let next = self.clock.next_lease();
        match db.write(move |c| store_lease(c, next)).await {
            Ok(stored) => self.clock.renewed(stored),
            Err(e) => tracing::error!(error = %e, "cannot renew the clock lease"),
        }
    }

    /// The time an operation acts at, renewing the stored clock lease first when it runs low.
    /// One request renews; the others meanwhile go on at once (half of the margin is still
    /// ahead, and if the wall clock reaches the lease the clock holds there: never back).
    pub async fn now(&self, db: &Db) -> Millis {
        if self.clock.needs_renewal()
            && self
                .renewing
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let _done = Renewing(&self.renewing);
            let next = self.clock.next_lease();
            match db.write(move |c| store_lease(c, next)).await {
                Ok(stored) => self.clock.renewed(stored),
                Err(e) => tracing::error!(error = %e, "cannot renew the clock lease"),
            }
        }
        self.clock.now()
    }
}
