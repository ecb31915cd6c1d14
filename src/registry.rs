//! The registry: students and their ordered contacts (one administrator, ordinary contacts, bind
//! times), who granted VoIP consent, which face-pay tokens were used, the calls in progress and
//! the records of ended calls. Rules never mutate it:
//! they return a [`Change`], which a shell persists and then applies here.

use crate::ids::{Millis, OpenId, UserId};
use crate::lifecycle::{self, Call, CallRecord};

/// The registry's maps. Natively (the contact service) std's SipHash with random keys, which
/// resists hash flooding. On wasm32-unknown-unknown std has no entropy and seeds SipHash from
/// two allocation addresses, the same on every run, so it resists nothing there and costs ~1 KB
/// of code and most of a lookup: [`Fnv`] instead.
#[cfg(not(target_arch = "wasm32"))]
type HashMap<K, V> = std::collections::HashMap<K, V>;
#[cfg(target_arch = "wasm32")]
type HashMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// FNV-1a (64-bit) with a final multiply-xorshift, so the top bits (hashbrown's tag) mix too.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        let h = (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
}

/// Contact role as the seed numbers it: `1` administrator, `0` ordinary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Ordinary = 0,
    Admin = 1,
}

impl Role {
    pub fn number(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub open_id: OpenId,
    pub role: Role,
    pub bound_at: Millis,
}

/// A contact the administrator deleted, and when: links issued before then cannot bind them
/// again (SPEC §3.4 row 4b).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    pub open_id: OpenId,
    pub at: Millis,
}

/// Most removals a record keeps. Past it the rules start a new administrator term instead,
/// which invalidates every older link at once (so the bound never reopens a removal).
pub const MAX_REMOVALS: usize = 32;

/// One student's contacts, in binding order, exactly one of them the administrator.
///
/// `admin_term` identifies the current administrator's term: it is drawn afresh whenever the
/// administrator changes (first bind, transfer, rebind after a reset), and share tickets carry
/// it, so a link issued in an earlier term stays `invalid` even if the same person becomes
/// administrator again. A random `u32` is enough: a collision needs the same student's two
/// terms to draw the same value (2^-32), and even then only links of the earlier term by the
/// same issuer would revive.
///
/// `removed` lists the contacts deleted during the current term (a new term clears it: no link
/// of an older term verifies anyway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudentRecord {
    pub user_id: UserId,
    pub admin_term: u32,
    pub contacts: Vec<Contact>,
    pub removed: Vec<Removal>,
}

impl StudentRecord {
    /// A new record whose only contact is its administrator.
    pub fn with_admin(user_id: UserId, admin: OpenId, now: Millis, term: u32) -> Self {
        StudentRecord {
            user_id,
            admin_term: term,
            contacts: vec![Contact {
                open_id: admin,
                role: Role::Admin,
                bound_at: now,
            }],
            removed: Vec::new(),
        }
    }

    /// When `who` was last deleted from this student in the current term, if they were.
    pub fn removed_at(&self, who: &OpenId) -> Option<Millis> {
        self.removed
            .iter()
            .find(|r| &r.open_id == who)
            .map(|r| r.at)
    }

    /// The administrator (`None` only for records no rule or loader would accept).
    pub fn admin(&self) -> Option<&OpenId> {
        self.contacts
            .iter()
            .find(|c| c.role == Role::Admin)
            .map(|c| &c.open_id)
    }

    pub fn is_admin(&self, who: &OpenId) -> bool {
        self.admin() == Some(who)
    }

    pub fn contains(&self, who: &OpenId) -> bool {
        self.contacts.iter().any(|c| &c.open_id == who)
    }

    /// Contacts as lists show them: administrator first, then the others in binding order.
    pub fn ordered(&self) -> impl Iterator<Item = &Contact> {
        let admin = self.contacts.iter().filter(|c| c.role == Role::Admin);
        let others = self.contacts.iter().filter(|c| c.role != Role::Admin);
        admin.chain(others)
    }

    /// The structural invariants (SPEC §2.1 and a hard cap), checked on load.
    pub fn check(&self, hard_max: usize) -> Result<(), String> {
        let admins = self
            .contacts
            .iter()
            .filter(|c| c.role == Role::Admin)
            .count();
        if admins != 1 {
            return Err(crate::cat!(
                "student ",
                crate::input::quote(self.user_id.as_str()),
                " has ",
                crate::input::whole(admins as u64),
                " administrators"
            ));
        }
        if self.contacts.len() > hard_max {
            return Err(crate::cat!(
                "student ",
                crate::input::quote(self.user_id.as_str()),
                " has ",
                crate::input::whole(self.contacts.len() as u64),
                " contacts"
            ));
        }
        let unique = self.contacts.iter().enumerate().all(|(i, c)| {
            self.contacts[..i]
                .iter()
                .all(|earlier| earlier.open_id != c.open_id)
        });
        if !unique {
            return Err(crate::cat!(
                "student ",
                crate::input::quote(self.user_id.as_str()),
                " lists a contact twice"
            ));
        }
        let removals_ok = self.removed.len() <= MAX_REMOVALS
            && self.removed.iter().enumerate().all(|(i, r)| {
                !self.contains(&r.open_id)
                    && self.removed[..i].iter().all(|e| e.open_id != r.open_id)
            });
        if !removals_ok {
            return Err(crate::cat!(
                "student ",
                crate::input::quote(self.user_id.as_str()),
                " has an inconsistent removal list"
            ));
        }
        Ok(())
    }
}

/// The openIds only in `old` and only in `new`, in their order. Pairwise: a record holds at
/// most 100 contacts (the largest `maxContacts`), so at worst 10 000 short comparisons and
/// usually a few dozen, cheaper than sorting two lists, and it keeps a sort out of the wasm.
fn diff(old: &[Contact], new: &[Contact]) -> (Vec<OpenId>, Vec<OpenId>) {
    fn only(a: &[Contact], b: &[Contact]) -> Vec<OpenId> {
        a.iter()
            .filter(|x| !b.iter().any(|y| y.open_id == x.open_id))
            .map(|x| x.open_id.clone())
            .collect()
    }
    (only(old, new), only(new, old))
}

/// A one-key change to the registry. Every operation produces at most one, so persisting it is
/// atomic wherever a single key write is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    PutStudent(StudentRecord),
    RemoveStudent(UserId),
    Consent {
        open_id: OpenId,
        granted: bool,
    },
    UseToken {
        id: [u8; 12],
        expires_at: Millis,
    },
    /// A call's new state (live, or finished: then it becomes a record), with the face-pay
    /// token its admission used (`initByCaller` marks the token used and rings in one change).
    PutCall {
        call: Box<Call>,
        token: Option<([u8; 12], Millis)>,
    },
}

/// What the registry knows of one openId.
#[derive(Default, Clone, Debug)]
struct Person {
    consent: bool,
    /// Reverse index: the students this openId is a contact of, by (bind time, userId).
    students: Vec<UserId>,
}

#[derive(Default, Clone, Debug)]
pub struct Registry {
    students: HashMap<UserId, StudentRecord>,
    people: HashMap<OpenId, Person>,
    /// Used face-pay token nonces and their expiry, until forgotten after they expire.
    used_tokens: HashMap<[u8; 12], Millis>,
    /// Calls in progress (a handful: one per device at most).
    live_calls: Vec<Call>,
    /// Ended calls, in the order they ended (then by roomId), whatever order they loaded in.
    records: Vec<CallRecord>,
}

impl Registry {
    pub fn student(&self, id: &UserId) -> Option<&StudentRecord> {
        self.students.get(id)
    }

    pub fn students(&self) -> impl Iterator<Item = &StudentRecord> {
        self.students.values()
    }

    pub fn student_count(&self) -> usize {
        self.students.len()
    }

    pub fn contact_count(&self) -> usize {
        self.students.values().map(|s| s.contacts.len()).sum()
    }

    pub fn consented(&self, who: &OpenId) -> bool {
        self.people.get(who).is_some_and(|p| p.consent)
    }

    pub fn consents(&self) -> impl Iterator<Item = &OpenId> {
        self.people
            .iter()
            .filter(|(_, p)| p.consent)
            .map(|(o, _)| o)
    }

    /// The students `who` is a contact of, in order of binding (bind time, then userId).
    pub fn students_of(&self, who: &OpenId) -> &[UserId] {
        self.people
            .get(who)
            .map(|p| p.students.as_slice())
            .unwrap_or(&[])
    }

    pub fn token_used(&self, id: &[u8; 12]) -> bool {
        self.used_tokens.contains_key(id)
    }

    pub fn used_tokens(&self) -> impl Iterator<Item = (&[u8; 12], &Millis)> {
        self.used_tokens.iter()
    }

    pub fn used_token_count(&self) -> usize {
        self.used_tokens.len()
    }

    /// Used-token entries that have expired by `now` (they can be forgotten).
    pub fn expired_tokens(&self, now: Millis) -> Vec<[u8; 12]> {
        self.used_tokens
            .iter()
            .filter(|(_, exp)| **exp <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn forget_token(&mut self, id: &[u8; 12]) {
        self.used_tokens.remove(id);
    }

    pub fn live_calls(&self) -> &[Call] {
        &self.live_calls
    }

    pub fn live_call(&self, room_id: &str) -> Option<&Call> {
        self.live_calls.iter().find(|c| c.room_id == room_id)
    }

    pub fn records(&self) -> &[CallRecord] {
        &self.records
    }

    /// Keeps an ended call's record (loading or live), in end order.
    pub fn put_record(&mut self, r: CallRecord) {
        let key = (r.ended_at, r.room_id.as_str());
        let pos = self
            .records
            .partition_point(|x| (x.ended_at, x.room_id.as_str()) < key);
        if self
            .records
            .get(pos)
            .is_some_and(|x| x.room_id == r.room_id)
        {
            self.records[pos] = r;
        } else {
            self.records.insert(pos, r);
        }
    }

    pub fn apply(&mut self, change: Change) {
        match change {
            Change::PutStudent(record) => self.put_student(record),
            Change::RemoveStudent(id) => {
                if let Some(old) = self.students.remove(&id) {
                    for c in &old.contacts {
                        self.unindex(&c.open_id, &id);
                    }
                }
            }
            Change::Consent { open_id, granted } => {
                if granted {
                    self.people.entry(open_id).or_default().consent = true;
                } else if let Some(p) = self.people.get_mut(&open_id) {
                    p.consent = false;
                    if p.students.is_empty() {
                        self.people.remove(&open_id);
                    }
                }
            }
            Change::UseToken { id, expires_at } => {
                self.used_tokens.insert(id, expires_at);
            }
            Change::PutCall { call, token } => {
                if let Some((id, expires_at)) = token {
                    self.used_tokens.insert(id, expires_at);
                }
                let at = self
                    .live_calls
                    .iter()
                    .position(|c| c.room_id == call.room_id);
                if call.is_live() {
                    match at {
                        Some(i) => self.live_calls[i] = *call,
                        None => self.live_calls.push(*call),
                    }
                } else {
                    if let Some(i) = at {
                        self.live_calls.swap_remove(i);
                    }
                    if let Some(r) = lifecycle::record(&call) {
                        self.put_record(r);
                    }
                }
            }
        }
    }

    fn put_student(&mut self, record: StudentRecord) {
        let id = record.user_id.clone();
        let old = self.students.insert(id.clone(), record);
        let (removed, added) = diff(
            old.as_ref().map_or(&[][..], |o| &o.contacts),
            &self.students[&id].contacts,
        );
        for who in removed {
            self.unindex(&who, &id);
        }
        for who in added {
            self.index(who, &id);
        }
    }

    /// The time `who` was bound to `student` (0 if unknown), the reverse index's sort key.
    fn bound_at(&self, student: &UserId, who: &OpenId) -> Millis {
        self.students
            .get(student)
            .and_then(|r| r.contacts.iter().find(|c| &c.open_id == who))
            .map_or(0, |c| c.bound_at)
    }

    /// Adds `student` to `who`'s list, kept in order of (bind time, userId): the same order
    /// whether the registry was built live or loaded from storage in any order.
    fn index(&mut self, who: OpenId, student: &UserId) {
        let key = (self.bound_at(student, &who), student.clone());
        let list = self
            .people
            .get(&who)
            .map(|p| p.students.as_slice())
            .unwrap_or(&[]);
        let pos = list.partition_point(|s| (self.bound_at(s, &who), s.clone()) < key);
        self.people
            .entry(who)
            .or_default()
            .students
            .insert(pos, student.clone());
    }

    fn unindex(&mut self, who: &OpenId, student: &UserId) {
        if let Some(p) = self.people.get_mut(who) {
            p.students.retain(|s| s != student);
            if p.students.is_empty() && !p.consent {
                self.people.remove(who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wasm's hasher: FNV-1a itself, and keys like the registry's spread over both the
    /// bucket bits (low) and hashbrown's 7-bit tag (top).
    #[test]
    fn fnv_hashes_and_spreads() {
        use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
        let mut h = Fnv::default();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
        let build = BuildHasherDefault::<Fnv>::default();
        let (mut low, mut top) = (vec![0u32; 1 << 12], vec![0u32; 128]);
        for i in 0..40_000 {
            let h = build.hash_one(OpenId::parse("o", &format!("par_{i}")).unwrap());
            low[(h & 0xfff) as usize] += 1;
            top[(h >> 57) as usize] += 1;
        }
        // ~9.8 per bucket and ~312 per tag on average.
        assert!(
            low.iter().all(|&n| (1..=30).contains(&n)),
            "{:?}",
            low.iter().max()
        );
        assert!(top.iter().all(|&n| (200..=450).contains(&n)), "{top:?}");
    }

    fn uid(s: &str) -> UserId {
        UserId::parse("userId", s).unwrap()
    }
    fn oid(s: &str) -> OpenId {
        OpenId::parse("openId", s).unwrap()
    }

    #[test]
    fn reverse_index_follows_puts_and_removes() {
        let mut r = Registry::default();
        let mut rec = StudentRecord::with_admin(uid("s1"), oid("a"), 1, 7);
        r.apply(Change::PutStudent(rec.clone()));
        rec.contacts.push(Contact {
            open_id: oid("b"),
            role: Role::Ordinary,
            bound_at: 2,
        });
        r.apply(Change::PutStudent(rec.clone()));
        r.apply(Change::PutStudent(StudentRecord::with_admin(
            uid("s2"),
            oid("b"),
            3,
            8,
        )));
        assert_eq!(r.students_of(&oid("b")), &[uid("s1"), uid("s2")]);
        rec.contacts.retain(|c| c.open_id != oid("b"));
        r.apply(Change::PutStudent(rec));
        assert_eq!(r.students_of(&oid("b")), &[uid("s2")]);
        r.apply(Change::RemoveStudent(uid("s2")));
        assert!(r.students_of(&oid("b")).is_empty());
        assert_eq!(r.students_of(&oid("a")), &[uid("s1")]);
        assert_eq!(r.student_count(), 1);
    }

    #[test]
    fn diff_finds_removed_and_added() {
        let cs = |ids: &[&str]| -> Vec<Contact> {
            ids.iter()
                .map(|i| Contact {
                    open_id: oid(i),
                    role: Role::Ordinary,
                    bound_at: 0,
                })
                .collect()
        };
        let (removed, added) = diff(&cs(&["d", "a", "c"]), &cs(&["c", "e", "a", "b"]));
        assert_eq!(removed, vec![oid("d")]);
        assert_eq!(added, vec![oid("e"), oid("b")]);
        assert_eq!(diff(&[], &cs(&["x"])), (vec![], vec![oid("x")]));
        assert_eq!(diff(&cs(&["x"]), &[]), (vec![oid("x")], vec![]));
    }

    #[test]
    fn reverse_index_order_does_not_depend_on_load_order() {
        let recs: Vec<StudentRecord> = [("b", 5), ("a", 5), ("c", 1)]
            .iter()
            .map(|(u, t)| StudentRecord::with_admin(uid(u), oid("p"), *t, 0))
            .collect();
        let mut forward = Registry::default();
        let mut backward = Registry::default();
        for r in &recs {
            forward.apply(Change::PutStudent(r.clone()));
        }
        for r in recs.iter().rev() {
            backward.apply(Change::PutStudent(r.clone()));
        }
        let want = [uid("c"), uid("a"), uid("b")];
        assert_eq!(forward.students_of(&oid("p")), &want);
        assert_eq!(backward.students_of(&oid("p")), &want);
    }

    #[test]
    fn ordered_puts_admin_first_and_check_catches_broken_records() {
        let mut rec = StudentRecord::with_admin(uid("s"), oid("a"), 1, 1);
        rec.contacts.insert(
            0,
            Contact {
                open_id: oid("b"),
                role: Role::Ordinary,
                bound_at: 0,
            },
        );
        let order: Vec<&str> = rec.ordered().map(|c| c.open_id.as_str()).collect();
        assert_eq!(order, ["a", "b"]);
        assert!(rec.check(100).is_ok());
        assert!(rec.check(1).is_err());
        rec.contacts[0].role = Role::Admin;
        assert!(rec.check(100).unwrap_err().contains("2 administrators"));
        rec.contacts[0].role = Role::Ordinary;
        rec.contacts[0].open_id = oid("a");
        assert!(rec.check(100).unwrap_err().contains("twice"));
    }

    #[test]
    fn consent_and_tokens() {
        let mut r = Registry::default();
        r.apply(Change::Consent {
            open_id: oid("p"),
            granted: true,
        });
        assert!(r.consented(&oid("p")));
        r.apply(Change::Consent {
            open_id: oid("p"),
            granted: false,
        });
        assert!(!r.consented(&oid("p")));
        r.apply(Change::UseToken {
            id: [1; 12],
            expires_at: 10,
        });
        assert!(r.token_used(&[1; 12]));
        assert!(r.expired_tokens(9).is_empty());
        assert_eq!(r.expired_tokens(10), vec![[1; 12]]);
        r.forget_token(&[1; 12]);
        assert!(!r.token_used(&[1; 12]));
    }
}
