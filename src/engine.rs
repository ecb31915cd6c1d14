//! The local backend: the registry in memory with a key-value [`Store`] behind it
//! ([`MemRepo`], the local [`Repo`]), its secrets and clock (stored under `meta`), and the
//! CSPRNG. Each method is a facade over one operation of [`crate::ops`]: it checks the identity,
//! sets the clock, parses the request ([`crate::requests`]) and runs the operation on its
//! `MemRepo`, which persists a change's one key and only then applies it, so a failed write
//! changes nothing.

use crate::call::Version;
use crate::errors::{Error, Result};
use crate::ids::{Millis, OpenId, UserId};
use crate::input::{self, Value};
use crate::lifecycle::{self, Call, CallListQuery, CallRecord};
use crate::ops::{self, Ctx, Secrets};
use crate::registry::{Change, Registry, StudentRecord};
use crate::repo::{self, Party, ReadRepo, Repo};
use crate::requests::{
    self, BindAdminReq, ContactListReq, DeleteReq, ListReq, ResetReq, RoomReq, ShareReq, TokenReq,
    TransferReq,
};
use crate::rng::{Rng, SEED_LEN};
use crate::rules::{ContactListReply, ListEntry};
use crate::storage::{self, Meta};

pub use crate::ops::{
    identity, BindEvent, CallAct, CallDelivery, CallOutcome, Config, Inspection, LinkView,
    DEFAULT_MAX_CONTACTS, DEFAULT_TICKET_TTL_MS,
};
pub use crate::requests::share_query;

// What `tests` (`use super::*`) found here before the operations moved to `ops`.
#[cfg(test)]
use crate::{
    call::ChargeType,
    errors::ErrorCode,
    share::{BindType, ShareQuery},
    token,
};

const TICKET_TTL_RANGE: (Millis, Millis) = (60 * 1000, 30 * 24 * 3600 * 1000);
const TOKEN_TTL_RANGE: (Millis, Millis) = (10 * 1000, 3600 * 1000);
const PREFIX_MAX_BYTES: usize = 256;

/// Where a backend writes. Keys are short ASCII (`meta`, `s.<hex>`, `c.<openId>`, `t.<hex>`);
/// values are base64url text. Each call must be atomic for its key.
pub trait Store {
    fn put(&mut self, key: &str, value: &str) -> std::result::Result<(), String>;
    fn remove(&mut self, key: &str) -> std::result::Result<(), String>;
}

/// A store that keeps nothing (benchmarks, and engines whose persistence is elsewhere).
pub struct NullStore;

impl Store for NullStore {
    fn put(&mut self, _: &str, _: &str) -> std::result::Result<(), String> {
        Ok(())
    }
    fn remove(&mut self, _: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl Store for std::collections::BTreeMap<String, String> {
    fn put(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        self.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    fn remove(&mut self, key: &str) -> std::result::Result<(), String> {
        std::collections::BTreeMap::remove(self, key);
        Ok(())
    }
}

impl Config {
    /// Reads `{ maxContacts, ticketTtlMs, voipTokenTtlMs, pluginAppId, pathPrefix,
    /// ringTimeoutMs }`; absent
    /// options take their defaults. `undefined` means all defaults.
    pub fn from_value(v: &Value) -> Result<Config> {
        if v.is_missing() {
            return Ok(Config::default());
        }
        let v = input::args("createLocalBackend", v)?;
        let d = Config::default();
        let max_contacts = input::whole_in(
            "maxContacts",
            v.get("maxContacts"),
            1,
            100,
            d.max_contacts as u64,
        )? as usize;
        let ticket_ttl_ms = input::whole_in(
            "ticketTtlMs",
            v.get("ticketTtlMs"),
            TICKET_TTL_RANGE.0,
            TICKET_TTL_RANGE.1,
            d.ticket_ttl_ms,
        )?;
        let token_ttl_ms = input::whole_in(
            "voipTokenTtlMs",
            v.get("voipTokenTtlMs"),
            TOKEN_TTL_RANGE.0,
            TOKEN_TTL_RANGE.1,
            d.token_ttl_ms,
        )?;
        let app_id = input::opt_string("pluginAppId", v.get("pluginAppId"))?
            .map(|s| {
                OpenId::parse("pluginAppId", s).map_err(|e| Error::invalid_argument(e.message))
            })
            .transpose()?;
        let path_prefix = match input::opt_string("pathPrefix", v.get("pathPrefix"))? {
            Some(p) => {
                if p.len() > PREFIX_MAX_BYTES
                    || p.chars()
                        .any(|c| c.is_control() || matches!(c, '?' | '&' | '#' | '=' | ' '))
                {
                    return Err(Error::invalid_argument(crate::cat!(
                        "pathPrefix must be at most ",
                        input::whole(PREFIX_MAX_BYTES as u64),
                        " bytes without spaces, control characters, ?, &, # or ="
                    )));
                }
                p.to_owned()
            }
            None => app_id
                .map(|id| crate::cat!("__plugin__/", id, "/"))
                .unwrap_or_default(),
        };
        let ring_timeout_ms = crate::lifecycle::ring_timeout_ms(v.get("ringTimeoutMs"))?;
        Ok(Config {
            max_contacts,
            ticket_ttl_ms,
            token_ttl_ms,
            path_prefix,
            ring_timeout_ms,
        })
    }
}

/// The local [`Repo`]: reads from the in-memory registry; a commit writes the change's one key
/// to the store and applies it to the registry only once the write succeeded.
pub struct MemRepo<S: Store> {
    registry: Registry,
    store: S,
}

impl<S: Store> MemRepo<S> {
    pub fn new(registry: Registry, store: S) -> Self {
        MemRepo { registry, store }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }
}

impl<S: Store> ReadRepo for MemRepo<S> {
    type Record<'a>
        = &'a StudentRecord
    where
        S: 'a;
    type Ids<'a>
        = &'a [UserId]
    where
        S: 'a;
    type LiveCall<'a>
        = &'a Call
    where
        S: 'a;
    // Inlined: the reads cannot fail here, and the callers should see that.
    #[inline(always)]
    fn student(&self, id: &UserId) -> Result<Option<&StudentRecord>> {
        Ok(self.registry.student(id))
    }
    #[inline(always)]
    fn consented(&self, who: &OpenId) -> Result<bool> {
        Ok(self.registry.consented(who))
    }
    #[inline(always)]
    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool> {
        Ok(self.registry.token_used(nonce))
    }
    #[inline(always)]
    fn students_of(&self, who: &OpenId) -> Result<&[UserId]> {
        Ok(self.registry.students_of(who))
    }
    fn live_call(&self, room_id: &str) -> Result<Option<&Call>> {
        Ok(self.registry.live_call(room_id))
    }
    fn live_calls(&self, party: Party<'_>) -> Result<Vec<&Call>> {
        Ok(self
            .registry
            .live_calls()
            .iter()
            .filter(|c| party.is_in(c))
            .collect())
    }
    fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>> {
        Ok(lifecycle::call_list(self.registry.records(), q)
            .into_iter()
            .cloned()
            .collect())
    }
}

impl<S: Store> Repo for MemRepo<S> {
    fn commit(&mut self, change: Change) -> Result<()> {
        if let Change::UseToken { id, .. } = &change {
            // The uniqueness a database row gives (unreachable here: admission reads first, and
            // this backend runs one operation at a time).
            if self.registry.token_used(id) {
                return Err(repo::token_already_used());
            }
        }
        let writes = storage::encode_change(&change);
        for (i, (key, value)) in writes.iter().enumerate() {
            let written = match value {
                Some(v) => self.store.put(key, v),
                None => self.store.remove(key),
            };
            if let Err(e) = written {
                // Only a call writes two keys, both new (its record, its token): undo the first.
                for (k, _) in &writes[..i] {
                    let _ = self.store.remove(k);
                }
                return Err(Error::storage(crate::cat!(
                    "could not persist the change (",
                    e,
                    "); nothing was changed"
                )));
            }
        }
        self.registry.apply(change);
        Ok(())
    }
}

/// The local backend's secrets and clock: those the store holds, or fresh ones written to it
/// (first open). Expired used-token entries (`stale`) are removed only once the clock that
/// expired them is stored: otherwise a clock set back would revive them after a restart.
fn load_or_create_meta<S: Store>(
    store: &mut S,
    stored: Option<Meta>,
    stale: &[String],
    now: Millis,
    rng: &mut Rng,
) -> Result<Meta> {
    match stored {
        Some(mut meta) => {
            if !stale.is_empty() {
                let before = meta.high_water;
                meta.high_water = now;
                if store
                    .put(storage::META_KEY, &storage::encode_meta(&meta))
                    .is_ok()
                {
                    for key in stale {
                        // Forgetting them is harmless if it fails.
                        let _ = store.remove(key);
                    }
                } else {
                    meta.high_water = before;
                }
            }
            meta.high_water = meta.high_water.max(now);
            Ok(meta)
        }
        None => {
            let meta = Meta {
                high_water: now,
                secrets: Secrets::generate(rng),
            };
            store
                .put(storage::META_KEY, &storage::encode_meta(&meta))
                .map_err(|e| {
                    Error::storage(crate::cat!("could not write the backend's secrets: ", e))
                })?;
            Ok(meta)
        }
    }
}

pub struct Engine<S: Store> {
    config: Config,
    /// The secrets the operations are given, and the clock's high-water mark.
    meta: Meta,
    repo: MemRepo<S>,
    rng: Rng,
    /// Forget expired used tokens once this many are remembered (amortized O(1) per call).
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 64;

impl<S: Store> Engine<S> {
    /// Opens a backend on what `store` holds (`entries`). An empty store gets fresh secrets,
    /// written before this returns; anything unreadable is a `STORAGE` error and nothing is
    /// written.
    pub fn open<'a>(
        config: Config,
        seed: [u8; SEED_LEN],
        mut store: S,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: Millis,
    ) -> Result<Self> {
        let mut loaded = storage::load(entries, now)?;
        // The clock never goes back: what the store last acted on is a floor for `now`, and
        // used tokens expired by that floor are stale too.
        let now = now.max(loaded.meta.as_ref().map_or(0, |m| m.high_water));
        for id in loaded.registry.expired_tokens(now) {
            loaded.registry.forget_token(&id);
            loaded.stale.push(storage::token_key(&id));
        }
        let mut rng = Rng::from_seed(seed);
        let meta = load_or_create_meta(&mut store, loaded.meta, &loaded.stale, now, &mut rng)?;
        Ok(Engine {
            config,
            meta,
            repo: MemRepo::new(loaded.registry, store),
            rng,
            prune_at: MIN_PRUNE_AT,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn registry(&self) -> &Registry {
        &self.repo.registry
    }

    pub fn store(&self) -> &S {
        &self.repo.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.repo.store
    }

    /// The time an operation acts at: the host's clock, but never earlier than any time this
    /// backend already acted at (NTP steps, a user changing the device time, a demo clock).
    /// A local-backend concern: its host clock is a phone's, and the mark is stored with its
    /// secrets. Operations only receive the result (`Ctx::now`).
    fn clock(&mut self, now: Millis) -> Millis {
        self.meta.high_water = self.meta.high_water.max(now);
        self.meta.high_water
    }

    /// The store and what an operation acts with at `now` (disjoint borrows of `self`).
    fn parts(&mut self, now: Millis) -> (&mut MemRepo<S>, Ctx<'_>) {
        let ctx = Ctx {
            now,
            rng: &mut self.rng,
            secrets: &self.meta.secrets,
            config: &self.config,
        };
        (&mut self.repo, ctx)
    }

    pub fn authorize_voip(&mut self, actor: Option<&OpenId>) -> Result<()> {
        ops::set_consent(&mut self.repo, identity(actor)?, true)
    }

    pub fn revoke_voip(&mut self, actor: Option<&OpenId>) -> Result<()> {
        ops::set_consent(&mut self.repo, identity(actor)?, false)
    }

    /// `getVoipConsent`: whether the instance's user granted VoIP consent.
    pub fn consent(&self, actor: Option<&OpenId>) -> Result<bool> {
        ops::consent(&self.repo, identity(actor)?)
    }

    pub fn bind_admin(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<UserId> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let req = BindAdminReq::parse(args)?;
        let (repo, mut ctx) = self.parts(now);
        ops::bind_admin(repo, &mut ctx, me, req)
    }

    pub fn share_path(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<String> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let req = ShareReq::parse(args)?;
        let (repo, mut ctx) = self.parts(now);
        ops::share_path(repo, &mut ctx, me, &req)
    }

    pub fn list(&self, actor: Option<&OpenId>, args: &Value) -> Result<Vec<ListEntry>> {
        let me = identity(actor)?;
        let req = ListReq::parse(args)?;
        ops::list(&self.repo, me, &req)
    }

    pub fn delete(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<(UserId, Vec<OpenId>)> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let req = DeleteReq::parse(args)?;
        let (repo, mut ctx) = self.parts(now);
        ops::delete(repo, &mut ctx, me, req)
    }

    pub fn transfer(&mut self, actor: Option<&OpenId>, args: &Value) -> Result<(UserId, OpenId)> {
        let me = identity(actor)?;
        let req = TransferReq::parse(args)?;
        // No time in this operation: it acts at the clock as it stands.
        let (repo, mut ctx) = self.parts(self.meta.high_water);
        ops::transfer(repo, &mut ctx, me, req)
    }

    pub fn inspect(
        &mut self,
        actor: Option<&OpenId>,
        path: &Value,
        now: Millis,
    ) -> Result<Inspection> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let q = share_query(path)?;
        let (repo, ctx) = self.parts(now);
        ops::inspect(repo, &ctx, me, q)
    }

    pub fn accept(
        &mut self,
        actor: Option<&OpenId>,
        path: &Value,
        now: Millis,
    ) -> Result<BindEvent> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let q = share_query(path)?;
        let (repo, ctx) = self.parts(now);
        ops::accept(repo, &ctx, me, q)
    }

    pub fn decline(&self, actor: Option<&OpenId>, path: &Value) -> Result<BindEvent> {
        identity(actor)?;
        let q = share_query(path)?;
        Ok(ops::decline(&self.meta.secrets, q))
    }

    /// The face-scan stand-in: a signed, single-use token for this student.
    pub fn issue_voip_token(&mut self, args: &Value, now: Millis) -> Result<String> {
        let now = self.clock(now);
        let req = TokenReq::parse(args)?;
        let (_, mut ctx) = self.parts(now);
        Ok(ops::issue_voip_token(&mut ctx, &req))
    }

    /// Removes all the student's contacts; the checked userId, and `true` if it had any.
    pub fn reset_student(&mut self, args: &Value) -> Result<(UserId, bool)> {
        let req = ResetReq::parse(args)?;
        ops::reset_student(&mut self.repo, req)
    }

    /// The developer query (`getvoipcontactlist`): `{ user_id }`.
    pub fn contact_list(&self, args: &Value) -> Result<ContactListReply> {
        let req = ContactListReq::parse(args)?;
        ops::contact_list(&self.repo, &req)
    }

    /// `initByCaller` by the device instance `device`. `Err` is what the API throws;
    /// `Ok(Refused)` is its `isSuccess: false` answer.
    pub fn init_by_caller(
        &mut self,
        device: &str,
        args: &Value,
        compat: Version,
        now: Millis,
    ) -> Result<CallOutcome> {
        let req = requests::init_by_caller(args, compat)?;
        let now = self.clock(now);
        let (repo, mut ctx) = self.parts(now);
        let outcome = ops::admit_call(repo, &mut ctx, device, &req)?;
        if let CallOutcome::Admitted(_) = &outcome {
            if self.repo.registry.used_token_count() >= self.prune_at {
                self.forget_expired_tokens(now);
                self.prune_at = MIN_PRUNE_AT.max(2 * self.repo.registry.used_token_count());
            }
        }
        Ok(outcome)
    }

    /// `answerVoip` / `rejectVoip` (`act`) or `forceHangUpVoip` by an instance: a parent
    /// (`actor`) or, without an openId, the device instance `device`. `args` is `{ roomId }`
    /// for the first two, the optional roomId string for a hang-up.
    pub fn act_on_call(
        &mut self,
        actor: Option<&OpenId>,
        device: &str,
        act: CallAct,
        args: &Value,
        now: Millis,
    ) -> Result<Option<CallDelivery>> {
        let room = match act {
            CallAct::HangUp => requests::hang_up_room(args)?,
            // One parse for both (it is inlined where it is called).
            _ => {
                let api = if act == CallAct::Answer {
                    "answerVoip"
                } else {
                    "rejectVoip"
                };
                Some(RoomReq::parse(api, args)?.room_id)
            }
        };
        let who = match actor {
            Some(o) => Party::Parent(o),
            None => Party::Device(device),
        };
        let now = self.clock(now);
        let (repo, ctx) = self.parts(now);
        ops::act_on_call(repo, &ctx, who, room.as_deref(), act)
    }

    /// Fires every deadline that has passed by `now`; what each call that changed delivers.
    pub fn tick(&mut self, now: Millis) -> Result<Vec<CallDelivery>> {
        let now = self.clock(now);
        let mut out = Vec::new();
        // A deadline that fires ends its call, which is recorded and leaves the calls in
        // progress: each round takes the next due call, one round per call at most.
        for _ in 0..self.repo.registry.live_calls().len() {
            let Some(room) = self
                .repo
                .registry
                .live_calls()
                .iter()
                .find(|c| lifecycle::next_deadline(c).is_some_and(|(at, _)| at <= now))
                .map(|c| c.room_id.clone())
            else {
                break;
            };
            let (repo, ctx) = self.parts(now);
            out.extend(ops::tick_call(repo, &ctx, &room)?);
        }
        Ok(out)
    }

    /// The earliest deadline of the calls in progress (the shell arms one timer for it).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.repo
            .registry
            .live_calls()
            .iter()
            .filter_map(|c| lifecycle::next_deadline(c).map(|(at, _)| at))
            .min()
    }

    /// `calling.keepTime` of a connected call now (`None`: not connected).
    pub fn calling_keep_time(&mut self, room_id: &str, now: Millis) -> Option<Millis> {
        let now = self.clock(now);
        lifecycle::keep_time_at(self.repo.registry.live_call(room_id)?, now)
    }

    /// The developer query `getVoipCallList({ user_id, begin_time, end_time })`: the records
    /// as the registry holds them (what `ops::call_list` answers, without copying them).
    pub fn call_list(&self, args: &Value) -> Result<Vec<&CallRecord>> {
        let q = CallListQuery::from_value(args)?;
        Ok(lifecycle::call_list(self.repo.registry.records(), &q))
    }

    /// Forgets used tokens that have expired (and their stored entries). Safe to do late, or
    /// even if the removal fails: an expired token is refused as expired before reuse is
    /// ever checked. Only once the clock that expired them is stored, so a clock set back
    /// cannot revive them after a restart either. A local-backend concern (batched here, after
    /// an admission); a database prunes on its own schedule.
    fn forget_expired_tokens(&mut self, now: Millis) {
        if self
            .repo
            .store
            .put(storage::META_KEY, &storage::encode_meta(&self.meta))
            .is_err()
        {
            return;
        }
        for id in self.repo.registry.expired_tokens(now) {
            let _ = self.repo.store.remove(&storage::token_key(&id));
            self.repo.registry.forget_token(&id);
        }
    }

    /// Every stored entry as one checksummed blob (backup, migration to the contact service);
    /// the secrets only if asked (without them a snapshot shows the registry but cannot be
    /// restored).
    pub fn snapshot(&self, include_secrets: bool) -> Vec<u8> {
        storage::snapshot(include_secrets.then_some(&self.meta), &self.repo.registry)
    }
}

#[cfg(test)]
mod tests;
