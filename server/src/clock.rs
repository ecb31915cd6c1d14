//! The service's clock, injectable so tests drive time (token expiry, retirement) without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;

    /// Moves this clock `advance_ms` forward, and stops it (`freeze: Some(true)`: it then moves
    /// only when told to) or lets it run again from where it stands (`Some(false)`); returns the
    /// new reading. Only [`DevClock`] (behind `--dev`'s `POST /v1/dev/clock`) and the tests'
    /// [`ManualClock`] can be moved; `None` for the wall clock.
    fn control(&self, advance_ms: u64, freeze: Option<bool>) -> Option<u64> {
        let _ = (advance_ms, freeze);
        None
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// `--dev`: the wall clock plus an offset that only grows (`POST /v1/dev/clock`), so a test
/// suite or the demo can let ticket, session and token lifetimes run out without waiting; it can
/// also be frozen, so a test suite sees exact lifetimes (one millisecond before an expiry, and
/// at it) as it does with the local backend's injected clock. Time never goes back, and the
/// operations clock's lease keeps it so across restarts.
#[derive(Debug, Default)]
pub struct DevClock {
    state: std::sync::Mutex<DevClockState>,
}

#[derive(Debug, Default)]
struct DevClockState {
    offset_ms: u64,
    frozen_at: Option<u64>,
}

impl DevClockState {
    fn now(&self) -> u64 {
        self.frozen_at
            .unwrap_or_else(|| SystemClock.now_ms().saturating_add(self.offset_ms))
    }
}

impl DevClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, DevClockState> {
        // The state is two numbers, consistent after any panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for DevClock {
    fn now_ms(&self) -> u64 {
        self.lock().now()
    }

    fn control(&self, advance_ms: u64, freeze: Option<bool>) -> Option<u64> {
        let mut s = self.lock();
        let target = s.now().saturating_add(advance_ms);
        let frozen = freeze.unwrap_or(s.frozen_at.is_some());
        if frozen {
            s.frozen_at = Some(target);
        } else {
            s.frozen_at = None;
            // Running again from `target` (never behind the wall clock plus the old offset).
            s.offset_ms = target.saturating_sub(SystemClock.now_ms()).max(s.offset_ms);
        }
        Some(s.now())
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start_ms: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicU64::new(start_ms)))
    }

    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    pub fn advance_secs(&self, secs: u64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves forward by `advance_ms`; it is always frozen.
    fn control(&self, advance_ms: u64, _freeze: Option<bool>) -> Option<u64> {
        Some(
            self.0
                .fetch_add(advance_ms, Ordering::SeqCst)
                .saturating_add(advance_ms),
        )
    }
}

/// The settings row holding the operations clock's lease (see [`OpsClock`]).
pub const CLOCK_LEASE_SETTING: &str = "clock_lease_ms";
/// How far ahead of the clock the stored lease runs. A restarted service (or a replica started
/// next to a running one) starts at the stored lease, so this is also how far its clock can
/// stand ahead of the wall clock (holding still until the wall clock catches up) after a start.
/// It does not add up over quick restarts: the next lease is this far past the *wall clock*
/// (or the mark, if that is later), not past the mark, so a start that holds at the old lease
/// stores no later one. 10 s costs one settings write per ~5 s of activity (renewed at half
/// the margin, batched with the other writes).
pub const CLOCK_LEASE_AHEAD_MS: u64 = 10_000;

/// The time the contact operations act at: the wall clock, never going back, across restarts
/// too. In memory it is `max(wall, highest time handed out)`. A *lease* is kept in the
/// `settings` table: a time at least [`CLOCK_LEASE_AHEAD_MS`] past anything handed out so far
/// is stored before the clock may reach it, and a restarted service starts at the stored
/// lease. So no time stamped before a restart (in a row, a share ticket or a face-pay token, the
/// last two never stored) is ever later than one stamped after it, and the table is written
/// about once a minute instead of by every request.
///
/// [`OpsClock::now`] never blocks; a request renews the lease (through the writer) before it
/// reads the clock when less than half of the margin is left, and if that write fails the
/// clock holds at the lease.
pub struct OpsClock {
    wall: SharedClock,
    mark: AtomicU64,
    lease: AtomicU64,
}

impl std::fmt::Debug for OpsClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsClock")
            .field("mark", &self.mark.load(Ordering::SeqCst))
            .field("lease", &self.lease.load(Ordering::SeqCst))
            .finish()
    }
}

impl OpsClock {
    /// Starts at the stored `lease` (0 if none), holding there until [`OpsClock::renewed`].
    pub fn new(wall: SharedClock, stored_lease: u64) -> OpsClock {
        OpsClock {
            wall,
            mark: AtomicU64::new(stored_lease),
            lease: AtomicU64::new(stored_lease),
        }
    }

    /// The next time: at least every earlier one, at most the lease.
    pub fn now(&self) -> u64 {
        let wall = self.wall.now_ms();
        let lease = self.lease.load(Ordering::SeqCst);
        let want = wall.min(lease);
        self.mark.fetch_max(want, Ordering::SeqCst).max(want)
    }

    /// The lease to store next: [`CLOCK_LEASE_AHEAD_MS`] past the wall clock, and never below
    /// the mark (everything handed out stays under the stored lease). Not past the mark: after
    /// a start the mark holds at the old lease, and a lease counted from it would push every
    /// quick restart another margin ahead.
    pub fn next_lease(&self) -> u64 {
        self.wall
            .now_ms()
            .saturating_add(CLOCK_LEASE_AHEAD_MS)
            .max(self.mark.load(Ordering::SeqCst))
    }

    /// `lease` is durable: the clock may run up to it.
    pub fn renewed(&self, lease: u64) {
        self.lease.fetch_max(lease, Ordering::SeqCst);
    }

    /// Whether the lease should be renewed (less than half of its margin left).
    pub fn needs_renewal(&self) -> bool {
        let lease = self.lease.load(Ordering::SeqCst);
        self.wall.now_ms().saturating_add(CLOCK_LEASE_AHEAD_MS / 2) >= lease
    }
}

/// `2026-12-01T20:59:05Z` for a time in ms (UTC; for the CLI's listings).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{Clock, DevClock, SystemClock};

    #[test]
    fn dev_clock_moves_forward_only_when_told() {
        let c = DevClock::default();
        let wall = SystemClock.now_ms();
        assert!(c.now_ms() >= wall && c.now_ms() < wall + 60_000);
        let moved = c
            .control(3_600_000, None)
            .expect("a dev clock can be moved");
        assert!(moved >= wall + 3_600_000);
        assert!(c.now_ms() >= moved);
        // Frozen: it stands still, and moves by exactly what it is told.
        let f = c.control(0, Some(true)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now_ms(), f);
        assert_eq!(c.control(1, None), Some(f + 1));
        assert_eq!(c.now_ms(), f + 1);
        // Running again, from where it stood.
        let r = c.control(0, Some(false)).unwrap();
        assert!(r > f);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(c.now_ms() > r);
        assert_eq!(
            SystemClock.control(1, None),
            None,
            "the wall clock cannot be moved"
        );
    }

    #[test]
    fn quick_restarts_do_not_push_the_clock_ahead_one_margin_each() {
        use super::{ManualClock, OpsClock, CLOCK_LEASE_AHEAD_MS as AHEAD};
        let wall = ManualClock::new(1_000_000);
        let shared: super::SharedClock = wall.clone();
        // The first start stores a lease; ten quick restarts (the wall clock still) each start
        // at the stored lease and store the next one.
        let mut stored = 0;
        for _ in 0..10 {
            let c = OpsClock::new(shared.clone(), stored);
            let lease = c.next_lease();
            c.renewed(lease);
            stored = stored.max(lease);
            let now = c.now();
            assert!(now <= stored, "a time handed out is under the stored lease");
        }
        assert_eq!(stored, 1_000_000 + AHEAD, "one margin ahead, not ten");
        // Once the wall clock passes the old lease the clock follows it again.
        wall.set(1_000_000 + AHEAD + 1);
        let c = OpsClock::new(shared, stored);
        c.renewed(c.next_lease());
        assert_eq!(c.now(), 1_000_000 + AHEAD + 1);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_158_745_000), "2026-12-01T20:59:05Z");
        assert_eq!(super::rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
