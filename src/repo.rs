//! The narrow store interface every operation ([`crate::ops`]) is written over: read the records
//! an operation needs, then commit at most one [`Change`]. The local backend implements it over
//! its in-memory registry and key-value store (`engine::MemRepo`); the contact service over one
//! database transaction.
//!
//! What an implementation must guarantee:
//!
//! * **Reads see the implementation's own committed writes** (within a transaction: its own
//!   uncommitted ones), and nothing written by someone else after the operation began that would
//!   break a serial order (SQLite `BEGIN IMMEDIATE`, PostgreSQL serializable or row locks).
//! * **`commit` is all or nothing**: on `Err` the store holds exactly what it held before.
//! * **A used face-pay token is unique**: committing [`Change::UseToken`] for a nonce that is
//!   already used fails with [`token_already_used`] (errCode 4), even when
//!   [`ReadRepo::token_used`] said `false` a moment earlier (two processes racing on one token:
//!   a UNIQUE row, the insert is the check). The operation then refuses the call with that error
//!   instead of reporting a storage failure. See `call::admit`.
//! * **Nothing else is an operation's concern**: the clock an operation acts at and forgetting
//!   expired used tokens are the backend's (the local backend keeps a stored high-water mark and
//!   prunes in batches; a service prunes with a periodic `DELETE … WHERE expires_at <= now`).
//!   An expired token is refused as expired before reuse is ever checked, so pruning late, or
//!   never, changes no answer.

use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{OpenId, UserId};
use crate::lifecycle::{Call, CallListQuery, CallRecord};
use crate::registry::{Change, StudentRecord};
use crate::token::Rejection;
use std::ops::Deref;

/// What operations read. Reads take `&self` and may lend what they return, so an operation can
/// hold a record while it reads the next thing, and the local backend answers without copying
/// (its [`Record`](ReadRepo::Record) is `&StudentRecord`, which costs nothing in the wasm). A
/// database returns owned rows: `type Record<'a> = Box<StudentRecord>`, `type Ids<'a> =
/// Vec<UserId>`, `type LiveCall<'a> = Box<Call>`; a rusqlite `Transaction` queries through `&self` (an implementation that caches
/// or counts uses a `Cell`).
pub trait ReadRepo {
    /// A student's record as this store hands it out.
    type Record<'a>: Deref<Target = StudentRecord>
    where
        Self: 'a;
    /// A list of userIds as this store hands it out.
    type Ids<'a>: Deref<Target = [UserId]>
    where
        Self: 'a;
    /// A call in progress as this store hands it out (`&Call` locally, `Box<Call>` from a
    /// database). Operations copy one only to step it.
    type LiveCall<'a>: Deref<Target = Call>
    where
        Self: 'a;
    /// The student's record (`None`: the student has no contacts).
    fn student(&self, id: &UserId) -> Result<Option<Self::Record<'_>>>;
    /// Whether `who` granted VoIP consent.
    fn consented(&self, who: &OpenId) -> Result<bool>;
    /// Whether the face-pay token with this nonce was used (and not yet forgotten).
    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool>;
    /// The students `who` is a contact of, ordered by the time `who` was bound to each, then by
    /// userId (the list order of `getVoipBindContactList`).
    fn students_of(&self, who: &OpenId) -> Result<Self::Ids<'_>>;
    /// The call in progress with this roomId (`None` once it ended, or for an unknown one).
    fn live_call(&self, room_id: &str) -> Result<Option<Self::LiveCall<'_>>>;
    /// The calls in progress a device made, or a parent is the listener of.
    fn live_calls(&self, party: Party<'_>) -> Result<Vec<Self::LiveCall<'_>>>;
    /// The records of ended calls that match, in the order the calls ended.
    fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>>;
}

/// One side of calls: the device that calls, or the parent who is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party<'a> {
    Device(&'a str),
    Parent(&'a OpenId),
}

impl Party<'_> {
    /// Whether this party is `call`'s caller (the device) or its listener (the parent).
    pub fn is_in(&self, call: &Call) -> bool {
        match *self {
            Party::Device(d) => call.device == d,
            Party::Parent(o) => call.listener_id == *o,
        }
    }
}

/// A store an operation may also write to: one change per operation, last.
pub trait Repo: ReadRepo {
    /// Makes `change` durable (within the surrounding transaction, for a database). On `Err`
    /// nothing changed. A [`Change::UseToken`] whose nonce is already used must fail with
    /// [`token_already_used`].
    fn commit(&mut self, change: Change) -> Result<()>;
}

/// The error a [`Repo::commit`] of an already used token returns (the operation answers it as a
/// refused call, errCode 4).
pub fn token_already_used() -> Error {
    Error::new(ErrorCode::BadVoipToken, Rejection::Reused.message())
}

/// Whether a [`Repo::commit`] error is the "already used" refusal rather than a storage failure.
pub fn is_token_already_used(e: &Error) -> bool {
    e.code == ErrorCode::BadVoipToken
}

/// A store's read snapshot as a [`Repo`] whose commit refuses and remembers that it was asked:
/// an operation run over it answers at once when it changes nothing (a refusal, an outcome
/// such as `binded`), and says so through [`ReadFirst::wanted_write`] when it needs the write
/// path after all (where it runs again, deciding anew in the write transaction). The answer
/// from the snapshot is the one a serial order would give at the snapshot's moment.
pub struct ReadFirst<'r, R> {
    repo: &'r R,
    wanted: bool,
}

impl<'r, R: ReadRepo> ReadFirst<'r, R> {
    pub fn new(repo: &'r R) -> Self {
        ReadFirst {
            repo,
            wanted: false,
        }
    }

    /// Whether the operation tried to commit a change (its `Err` then means only that).
    pub fn wanted_write(&self) -> bool {
        self.wanted
    }
}

impl<R: ReadRepo> ReadRepo for ReadFirst<'_, R> {
    type Record<'a>
        = R::Record<'a>
    where
        Self: 'a;
    type Ids<'a>
        = R::Ids<'a>
    where
        Self: 'a;
    type LiveCall<'a>
        = R::LiveCall<'a>
    where
        Self: 'a;
    fn student(&self, id: &UserId) -> Result<Option<Self::Record<'_>>> {
        self.repo.student(id)
    }
    fn consented(&self, who: &OpenId) -> Result<bool> {
        self.repo.consented(who)
    }
    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool> {
        self.repo.token_used(nonce)
    }
    fn students_of(&self, who: &OpenId) -> Result<Self::Ids<'_>> {
        self.repo.students_of(who)
    }
    fn live_call(&self, room_id: &str) -> Result<Option<Self::LiveCall<'_>>> {
        self.repo.live_call(room_id)
    }
    fn live_calls(&self, party: Party<'_>) -> Result<Vec<Self::LiveCall<'_>>> {
        self.repo.live_calls(party)
    }
    fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>> {
        self.repo.call_records(q)
    }
}

impl<R: ReadRepo> Repo for ReadFirst<'_, R> {
    fn commit(&mut self, _change: Change) -> Result<()> {
        self.wanted = true;
        Err(Error::new(
            ErrorCode::Internal,
            "a read snapshot cannot commit (the write path runs instead)",
        ))
    }
}
