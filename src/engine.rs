//! The local backend's engine: the registry in memory, its secrets, the CSPRNG and a key-value
//! [`Store`]. Each operation checks its arguments, asks a rule for the change, persists that
//! change's one key, and only then applies it, so a failed write changes nothing.

use crate::call::{self, CallSlot, ChargeType, Version};
use crate::codec::b64;
use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{self, Millis, OpenId, UserId};
use crate::input::{self, Value};
use crate::keys::{Key, Keyring};
use crate::registry::{Change, Registry};
use crate::rng::{Rng, SEED_LEN};
use crate::rules::{self, ContactListReply, ListEntry};
use crate::share::{self, BindType, ShareQuery};
use crate::storage::{self, Meta};
use crate::ticket::{self, Claims, Subject};
use crate::token::{self, TokenClaims};

pub const DEFAULT_MAX_CONTACTS: usize = 10;
pub const DEFAULT_TICKET_TTL_MS: Millis = 72 * 3600 * 1000;
const TICKET_TTL_RANGE: (Millis, Millis) = (60 * 1000, 30 * 24 * 3600 * 1000);
const TOKEN_TTL_RANGE: (Millis, Millis) = (10 * 1000, 3600 * 1000);
const PREFIX_MAX_BYTES: usize = 256;
const U48_MAX: Millis = (1 << 48) - 1;

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

/// Backend options (`createLocalBackend({ maxContacts, ticketTtlMs, ... })`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub max_contacts: usize,
    pub ticket_ttl_ms: Millis,
    pub token_ttl_ms: Millis,
    /// Put before `pages/bind-contact/bind-contact` in share paths.
    pub path_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_contacts: DEFAULT_MAX_CONTACTS,
            ticket_ttl_ms: DEFAULT_TICKET_TTL_MS,
            token_ttl_ms: token::DEFAULT_TTL_MS,
            path_prefix: String::new(),
        }
    }
}

fn whole_in(field: &str, v: &Value, lo: u64, hi: u64, default: u64) -> Result<u64> {
    match input::opt_number(field, v)? {
        None => Ok(default),
        Some(n) if n.fract() == 0.0 && n >= lo as f64 && n <= hi as f64 => Ok(n as u64),
        Some(n) => Err(Error::invalid_argument(format!(
            "{field} must be a whole number from {lo} to {hi}, got {}",
            input::num(n)
        ))),
    }
}

impl Config {
    /// Reads `{ maxContacts, ticketTtlMs, voipTokenTtlMs, pluginAppId, pathPrefix }`; absent
    /// options take their defaults. `undefined` means all defaults.
    pub fn from_value(v: &Value) -> Result<Config> {
        if v.is_missing() {
            return Ok(Config::default());
        }
        let v = input::args("createLocalBackend", v)?;
        let d = Config::default();
        let max_contacts = whole_in(
            "maxContacts",
            v.get("maxContacts"),
            1,
            100,
            d.max_contacts as u64,
        )? as usize;
        let ticket_ttl_ms = whole_in(
            "ticketTtlMs",
            v.get("ticketTtlMs"),
            TICKET_TTL_RANGE.0,
            TICKET_TTL_RANGE.1,
            d.ticket_ttl_ms,
        )?;
        let token_ttl_ms = whole_in(
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
                    || p.chars().any(|c| c.is_control() || "?&#= ".contains(c))
                {
                    return Err(Error::invalid_argument(format!(
                        "pathPrefix must be at most {PREFIX_MAX_BYTES} bytes without spaces, control characters, ?, &, # or ="
                    )));
                }
                p.to_owned()
            }
            None => app_id
                .map(|id| format!("__plugin__/{id}/"))
                .unwrap_or_default(),
        };
        Ok(Config {
            max_contacts,
            ticket_ttl_ms,
            token_ttl_ms,
            path_prefix,
        })
    }
}

/// The identity an operation runs as; device instances have none.
pub fn identity(actor: Option<&OpenId>) -> Result<&OpenId> {
    actor.ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthenticated,
            "this instance has no openId (a device instance); create one with createVoipPlugin({ openId })",
        )
    })
}

/// The student as a share link shows them (unverified fields are empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub user_id: String,
    pub user_name: String,
    pub user_avatar: String,
}

/// `inspectBindContactPath`'s answer; `status` is `None` for `'ready'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub view: LinkView,
    pub status: Option<BindType>,
    /// When the link expires (ms), if its signature verified.
    pub expires_at: Option<Millis>,
    /// Every query parameter, for `getPluginEnterOptions`.
    pub query: Vec<(String, String)>,
}

/// What the bind page reports (the `bindContact` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindEvent {
    pub kind: BindType,
    pub user_id: String,
    pub query: Vec<(String, String)>,
}

/// `initByCaller`'s backend answer: admitted, or refused with errCode 4, 8 or 9.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Admitted {
        room_id: String,
        charge_type: ChargeType,
    },
    Refused(Error),
}

/// The argument of the bind-page APIs: a share path, or the query object the page got.
pub fn share_query(v: &Value) -> Result<ShareQuery> {
    match v {
        Value::Str(path) => Ok(ShareQuery::from_path(path)),
        Value::Object(props) => Ok(ShareQuery {
            page_ok: true,
            params: props
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Str(s) => Some((k.clone(), s.clone())),
                    _ => None,
                })
                .collect(),
        }),
        other => Err(Error::invalid_argument(format!(
            "path must be a share path string or the bind page's query object, got {}",
            other.describe()
        ))),
    }
}

pub struct Engine<S: Store> {
    config: Config,
    meta: Meta,
    registry: Registry,
    rng: Rng,
    store: S,
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
        let entries: Vec<(&str, &str)> = entries.into_iter().collect();
        // The clock never goes back: what the store last acted on is a floor for `now`.
        let floor = storage::stored_high_water(entries.iter().copied())?;
        let now = now.max(floor.unwrap_or(0));
        let loaded = storage::load(entries, now)?;
        let mut rng = Rng::from_seed(seed);
        let meta = match loaded.meta {
            Some(mut meta) => {
                if !loaded.stale.is_empty() {
                    // Expired used-token entries may go only once the clock that expired them
                    // is stored: otherwise a clock set back would revive them after a restart.
                    let before = meta.high_water;
                    meta.high_water = now;
                    if store
                        .put(storage::META_KEY, &storage::encode_meta(&meta))
                        .is_ok()
                    {
                        for key in &loaded.stale {
                            // Forgetting them is harmless if it fails.
                            let _ = store.remove(key);
                        }
                    } else {
                        meta.high_water = before;
                    }
                }
                meta.high_water = meta.high_water.max(now);
                meta
            }
            None => {
                let meta = Meta {
                    high_water: now,
                    ticket_keys: Keyring::new(Key::new(1, rng.bytes())),
                    token_keys: Keyring::new(Key::new(1, rng.bytes())),
                };
                store
                    .put(storage::META_KEY, &storage::encode_meta(&meta))
                    .map_err(|e| {
                        Error::storage(format!("could not write the backend's secrets: {e}"))
                    })?;
                meta
            }
        };
        Ok(Engine {
            config,
            meta,
            registry: loaded.registry,
            rng,
            store,
            prune_at: MIN_PRUNE_AT,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
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

    /// The time an operation acts at: the host's clock, but never earlier than any time this
    /// backend already acted at (NTP steps, a user changing the device time, a demo clock).
    fn clock(&mut self, now: Millis) -> Millis {
        self.meta.high_water = self.meta.high_water.max(now);
        self.meta.high_water
    }

    /// Persists a change, then applies it. On a failed write nothing changes.
    fn commit(&mut self, change: Change) -> Result<()> {
        let (key, value) = storage::encode_change(&change);
        let written = match &value {
            Some(v) => self.store.put(&key, v),
            None => self.store.remove(&key),
        };
        written.map_err(|e| {
            Error::storage(format!(
                "could not persist the change ({e}); nothing was changed"
            ))
        })?;
        self.registry.apply(change);
        Ok(())
    }

    fn commit_opt(&mut self, change: Option<Change>) -> Result<()> {
        change.map_or(Ok(()), |c| self.commit(c))
    }

    pub fn authorize_voip(&mut self, actor: Option<&OpenId>) -> Result<()> {
        let me = identity(actor)?;
        let change = rules::set_consent(self.registry.consented(me), me, true);
        self.commit_opt(change)
    }

    pub fn revoke_voip(&mut self, actor: Option<&OpenId>) -> Result<()> {
        let me = identity(actor)?;
        let change = rules::set_consent(self.registry.consented(me), me, false);
        self.commit_opt(change)
    }

    /// `getVoipConsent`: whether the instance's user granted VoIP consent.
    pub fn consent(&self, actor: Option<&OpenId>) -> Result<bool> {
        Ok(self.registry.consented(identity(actor)?))
    }

    pub fn bind_admin(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<UserId> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let args = input::args("bindVoipAdminContact", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let term = self.rng.u32();
        let change = rules::bind_admin(
            self.registry.student(&user_id),
            &user_id,
            me,
            self.registry.consented(me),
            now,
            term,
        )?;
        self.commit_opt(change)?;
        Ok(user_id)
    }

    pub fn share_path(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<String> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let args = input::args("getBindContactPath", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let user_name =
            ids::user_name("userName", input::string("userName", args.get("userName"))?)?;
        let user_avatar = match input::opt_string("userAvatar", args.get("userAvatar"))? {
            Some(a) => ids::user_avatar("userAvatar", a)?,
            None => String::new(),
        };
        let record = rules::require_admin(self.registry.student(&user_id), &user_id, me)?;
        let claims = Claims {
            issuer: me.clone(),
            issued_at: now,
            expires_at: now.saturating_add(self.config.ticket_ttl_ms).min(U48_MAX),
            nonce: self.rng.bytes(),
            admin_term: record.admin_term,
        };
        let subject = Subject {
            user_id: user_id.as_str(),
            user_name: &user_name,
            user_avatar: &user_avatar,
        };
        let t = ticket::issue(self.meta.ticket_keys.current(), &claims, &subject);
        let path = share::build_path(&self.config.path_prefix, &subject, &t);
        if path.len() > share::MAX_PATH_BYTES {
            return Err(Error::invalid_argument(format!(
                "the share path would be {} bytes, over the limit of {}; use a shorter userName or userAvatar",
                path.len(),
                share::MAX_PATH_BYTES
            )));
        }
        Ok(path)
    }

    pub fn list(&self, actor: Option<&OpenId>, args: &Value) -> Result<Vec<ListEntry>> {
        let me = identity(actor)?;
        let filter = match args {
            Value::Missing => None,
            a => {
                let a = input::args("getVoipBindContactList", a)?;
                match a.get("userId") {
                    Value::Missing => None,
                    v => Some(UserId::from_value("userId", v)?),
                }
            }
        };
        let entry = |id: &UserId| {
            self.registry
                .student(id)
                .and_then(|r| rules::list_entry(r, me))
        };
        Ok(match filter {
            Some(id) => entry(&id).into_iter().collect(),
            None => self
                .registry
                .students_of(me)
                .iter()
                .filter_map(entry)
                .collect(),
        })
    }

    pub fn delete(
        &mut self,
        actor: Option<&OpenId>,
        args: &Value,
        now: Millis,
    ) -> Result<(UserId, Vec<OpenId>)> {
        let me = identity(actor)?;
        let now = self.clock(now);
        let args = input::args("deleteVoipBindContact", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let targets = ids::openid_list("openidList", args.get("openidList"))?;
        let term = self.rng.u32();
        let (change, deleted) = rules::delete_contacts(
            self.registry.student(&user_id),
            &user_id,
            me,
            &targets,
            now,
            term,
        )?;
        self.commit(change)?;
        Ok((user_id, deleted))
    }

    pub fn transfer(&mut self, actor: Option<&OpenId>, args: &Value) -> Result<(UserId, OpenId)> {
        let me = identity(actor)?;
        let args = input::args("transerAdmin", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let new_admin = OpenId::from_value("newAdminOpenid", args.get("newAdminOpenid"))?;
        let term = self.rng.u32();
        let change = rules::transfer_admin(
            self.registry.student(&user_id),
            &user_id,
            me,
            &new_admin,
            term,
        )?;
        self.commit_opt(change)?;
        Ok((user_id, new_admin))
    }

    fn view(&self, q: &ShareQuery) -> (Option<share::Link>, LinkView) {
        match share::open(q, &self.meta.ticket_keys) {
            Some(link) => {
                let view = LinkView {
                    user_id: link.user_id.as_str().to_owned(),
                    user_name: link.user_name.clone(),
                    user_avatar: link.user_avatar.clone(),
                };
                (Some(link), view)
            }
            None => (
                None,
                LinkView {
                    // Unverified: only the id is echoed (for the event), never name or avatar.
                    user_id: q
                        .get("userId")
                        .filter(|u| UserId::parse("userId", u).is_ok())
                        .unwrap_or("")
                        .to_owned(),
                    user_name: String::new(),
                    user_avatar: String::new(),
                },
            ),
        }
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
        let (link, view) = self.view(&q);
        let record = link
            .as_ref()
            .and_then(|l| self.registry.student(&l.user_id));
        let status = share::precheck(link.as_ref(), record, me, now, self.config.max_contacts);
        Ok(Inspection {
            view,
            status,
            expires_at: link.map(|l| l.claims.expires_at),
            query: q.params,
        })
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
        let (link, view) = self.view(&q);
        let record = link
            .as_ref()
            .and_then(|l| self.registry.student(&l.user_id));
        let (kind, next) = share::accept(
            link.as_ref(),
            record,
            me,
            self.registry.consented(me),
            now,
            self.config.max_contacts,
        );
        self.commit_opt(next.map(Change::PutStudent))?;
        Ok(BindEvent {
            kind,
            user_id: view.user_id,
            query: q.params,
        })
    }

    pub fn decline(&self, actor: Option<&OpenId>, path: &Value) -> Result<BindEvent> {
        identity(actor)?;
        let q = share_query(path)?;
        let (_, view) = self.view(&q);
        Ok(BindEvent {
            kind: BindType::Cancel,
            user_id: view.user_id,
            query: q.params,
        })
    }

    /// The face-scan stand-in: a signed, single-use token for this student.
    pub fn issue_voip_token(&mut self, args: &Value, now: Millis) -> Result<String> {
        let now = self.clock(now);
        let args = input::args("issueVoipToken", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let claims = TokenClaims {
            issued_at: now,
            expires_at: now.saturating_add(self.config.token_ttl_ms).min(U48_MAX),
            nonce: self.rng.bytes(),
        };
        Ok(token::issue(
            self.meta.token_keys.current(),
            &user_id,
            &claims,
        ))
    }

    /// Removes all the student's contacts; the checked userId, and `true` if it had any.
    pub fn reset_student(&mut self, args: &Value) -> Result<(UserId, bool)> {
        let args = input::args("resetStudent", args)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let change = rules::reset_student(self.registry.student(&user_id));
        let had = change.is_some();
        self.commit_opt(change)?;
        Ok((user_id, had))
    }

    /// The developer query (`getvoipcontactlist`): `{ user_id }`.
    pub fn contact_list(&self, args: &Value) -> Result<ContactListReply> {
        let args = input::args("getVoipContactList", args)?;
        let user_id = UserId::from_value("user_id", args.get("user_id"))?;
        Ok(rules::contact_list(self.registry.student(&user_id)))
    }

    /// `initByCaller` for one device instance's `slot`. `Err` is what the API throws;
    /// `Ok(Refused)` is its `isSuccess: false` answer.
    pub fn init_by_caller(
        &mut self,
        slot: &mut CallSlot,
        args: &Value,
        compat: Version,
        now: Millis,
    ) -> Result<CallOutcome> {
        let req = call::check_request(args, compat)?;
        slot.check_free()?;
        let now = self.clock(now);
        let token = token::verify(&self.meta.token_keys, &req.voip_token, &req.caller_id, now);
        let used = token
            .as_ref()
            .is_ok_and(|c| self.registry.token_used(&c.nonce));
        let admitted = call::admit(
            token,
            used,
            self.registry.student(&req.caller_id),
            &req,
            self.registry.consented(&req.listener_id),
        );
        let claims = match admitted {
            Ok(c) => c,
            Err(refusal) => return Ok(CallOutcome::Refused(refusal)),
        };
        self.commit(Change::UseToken {
            id: claims.nonce,
            expires_at: claims.expires_at,
        })?;
        if self.registry.used_token_count() >= self.prune_at {
            self.forget_expired_tokens(now);
            self.prune_at = MIN_PRUNE_AT.max(2 * self.registry.used_token_count());
        }
        let room_id = b64(&self.rng.bytes::<16>());
        slot.start(&req, room_id.clone(), now);
        Ok(CallOutcome::Admitted {
            room_id,
            charge_type: req.charge_type(),
        })
    }

    /// Forgets used tokens that have expired (and their stored entries). Safe to do late, or
    /// even if the removal fails: an expired token is refused as expired before reuse is
    /// ever checked. Only once the clock that expired them is stored, so a clock set back
    /// cannot revive them after a restart either.
    fn forget_expired_tokens(&mut self, now: Millis) {
        if self
            .store
            .put(storage::META_KEY, &storage::encode_meta(&self.meta))
            .is_err()
        {
            return;
        }
        for id in self.registry.expired_tokens(now) {
            let _ = self.store.remove(&storage::token_key(&id));
            self.registry.forget_token(&id);
        }
    }

    /// Every stored entry as one checksummed blob (backup, migration to the contact service);
    /// the secrets only if asked (without them a snapshot shows the registry but cannot be
    /// restored).
    pub fn snapshot(&self, include_secrets: bool) -> Vec<u8> {
        storage::snapshot(include_secrets.then_some(&self.meta), &self.registry)
    }
}

#[cfg(test)]
mod tests;
