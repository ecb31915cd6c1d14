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
use crate::registry::{Change, StudentRecord};
use crate::token::Rejection;
use std::ops::Deref;

/// What operations read. Reads take `&self` and may lend what they return, so an operation can
/// hold a record while it reads the next thing, and the local backend answers without copying
/// (its [`Record`](ReadRepo::Record) is `&StudentRecord`, which costs nothing in the wasm). A
/// database returns owned rows: `type Record<'a> = Box<StudentRecord>`, `type Ids<'a> =
/// Vec<UserId>`; a rusqlite `Transaction` queries through `&self` (an implementation that caches
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
    /// The student's record (`None`: the student has no contacts).
    fn student(&self, id: &UserId) -> Result<Option<Self::Record<'_>>>;
    /// Whether `who` granted VoIP consent.
    fn consented(&self, who: &OpenId) -> Result<bool>;
    /// Whether the face-pay token with this nonce was used (and not yet forgotten).
    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool>;
    /// The students `who` is a contact of, ordered by the time `who` was bound to each, then by
    /// userId (the list order of `getVoipBindContactList`).
    fn students_of(&self, who: &OpenId) -> Result<Self::Ids<'_>>;
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
