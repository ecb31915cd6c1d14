//! The contact rules (SPEC §3.2, §3.3, §5) as pure functions from (the student's record, the
//! request, the time) to a change or an error. They read nothing else and write nothing: the
//! local backend and the contact service apply their result, each to its own store.

use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{Millis, OpenId, UserId};
use crate::input::quote;
use crate::registry::{Change, Removal, Role, StudentRecord, MAX_REMOVALS};
use serde::Serialize;

fn not_admin(user_id: &UserId) -> Error {
    Error::new(
        ErrorCode::NotAdmin,
        crate::cat!(
            "only the administrator of student ",
            quote(user_id.as_str()),
            " may do this"
        ),
    )
}

fn not_authorized(actor: &OpenId) -> Error {
    Error::new(
        ErrorCode::NotAuthorized,
        crate::cat!(
            actor,
            " has not granted VoIP consent (scope.voip); call authorizeVoip() after the user agrees"
        ),
    )
}

/// The record, if `actor` is its administrator; `NOT_ADMIN` otherwise (also when the student
/// has no contacts at all).
pub fn require_admin<'a>(
    record: Option<&'a StudentRecord>,
    user_id: &UserId,
    actor: &OpenId,
) -> Result<&'a StudentRecord> {
    match record {
        Some(r) if r.is_admin(actor) => Ok(r),
        _ => Err(not_admin(user_id)),
    }
}

/// `authorizeVoip` / `revokeVoip`: no change when already in that state.
pub fn set_consent(current: bool, actor: &OpenId, granted: bool) -> Option<Change> {
    (current != granted).then(|| Change::Consent {
        open_id: actor.clone(),
        granted,
    })
}

/// `bindVoipAdminContact`: the first contact becomes administrator. `term` is a fresh random
/// administrator term, used only if a record is created.
pub fn bind_admin(
    record: Option<&StudentRecord>,
    user_id: &UserId,
    actor: &OpenId,
    consented: bool,
    now: Millis,
    term: u32,
) -> Result<Option<Change>> {
    if !consented {
        return Err(not_authorized(actor));
    }
    match record {
        None => Ok(Some(Change::PutStudent(StudentRecord::with_admin(
            user_id.clone(),
            actor.clone(),
            now,
            term,
        )))),
        Some(r) if r.is_admin(actor) => Ok(None),
        Some(_) => Err(Error::new(
            ErrorCode::AdminExists,
            crate::cat!(
                "student ",
                quote(user_id.as_str()),
                " already has another administrator"
            ),
        )),
    }
}

/// One entry of `getVoipBindContactList`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    pub user_id: UserId,
    pub is_ad: u8,
    pub openid_list: Vec<OpenId>,
}

/// What `actor` may see of a student: the administrator sees every contact (administrator
/// first, then binding order); an ordinary contact only itself. `None` if not a contact.
pub fn list_entry(record: &StudentRecord, actor: &OpenId) -> Option<ListEntry> {
    if record.is_admin(actor) {
        Some(ListEntry {
            user_id: record.user_id.clone(),
            is_ad: 1,
            openid_list: record.ordered().map(|c| c.open_id.clone()).collect(),
        })
    } else if record.contains(actor) {
        Some(ListEntry {
            user_id: record.user_id.clone(),
            is_ad: 0,
            openid_list: vec![actor.clone()],
        })
    } else {
        None
    }
}

/// `deleteVoipBindContact`: all or nothing. Returns the change and the deleted openIds. The
/// deleted are remembered with `now`, so a link issued before cannot bind them again; `term`
/// is a fresh administrator term, used only if the removal list overflows.
pub fn delete_contacts(
    record: Option<&StudentRecord>,
    user_id: &UserId,
    actor: &OpenId,
    targets: &[OpenId],
    now: Millis,
    term: u32,
) -> Result<(Change, Vec<OpenId>)> {
    let record = require_admin(record, user_id, actor)?;
    if targets.contains(actor) {
        return Err(Error::new(
            ErrorCode::AdminSelfDelete,
            "the administrator cannot delete itself; transfer the role first (transerAdmin)",
        ));
    }
    if let Some(missing) = targets.iter().find(|t| !record.contains(t)) {
        return Err(Error::new(
            ErrorCode::NotContact,
            crate::cat!(
                missing,
                " is not a contact of student ",
                quote(user_id.as_str()),
                "; nothing was deleted"
            ),
        ));
    }
    let mut next = record.clone();
    next.contacts.retain(|c| !targets.contains(&c.open_id));
    // A removal sticks: links issued before `now` no longer bind these openIds.
    next.removed.retain(|r| !targets.contains(&r.open_id));
    next.removed.extend(targets.iter().map(|t| Removal {
        open_id: t.clone(),
        at: now,
    }));
    if next.removed.len() > MAX_REMOVALS {
        // Bounded state: a new term invalidates every link issued so far, which covers every
        // removal, so the list can start afresh.
        next.admin_term = fresh_term(record.admin_term, term);
        next.removed.clear();
    }
    Ok((Change::PutStudent(next), targets.to_vec()))
}

/// `term`, or the next value if it happens to equal the current one (never reuse a term).
fn fresh_term(current: u32, term: u32) -> u32 {
    if term == current {
        term.wrapping_add(1)
    } else {
        term
    }
}

/// `transerAdmin`: the new administrator must already be a contact; the old one stays as an
/// ordinary contact. A fresh `term` invalidates every link of the old administrator.
pub fn transfer_admin(
    record: Option<&StudentRecord>,
    user_id: &UserId,
    actor: &OpenId,
    new_admin: &OpenId,
    term: u32,
) -> Result<Option<Change>> {
    let record = require_admin(record, user_id, actor)?;
    if new_admin == actor {
        return Ok(None);
    }
    if !record.contains(new_admin) {
        return Err(Error::new(
            ErrorCode::NotContact,
            crate::cat!(
                new_admin,
                " is not a contact of student ",
                quote(user_id.as_str()),
                "; bind them first"
            ),
        ));
    }
    let mut next = record.clone();
    for c in &mut next.contacts {
        c.role = if &c.open_id == new_admin {
            Role::Admin
        } else {
            Role::Ordinary
        };
    }
    // Never reuse the current term, however unlikely the draw. The new term outdates every
    // link, so the removals of the old one are no longer needed.
    next.admin_term = fresh_term(record.admin_term, term);
    next.removed.clear();
    Ok(Some(Change::PutStudent(next)))
}

/// `resetStudent`: removes all the student's contacts (no change if it has none).
pub fn reset_student(record: Option<&StudentRecord>) -> Option<Change> {
    record.map(|r| Change::RemoveStudent(r.user_id.clone()))
}

/// One row of the developer query's `contact_list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactInfo {
    pub open_id: OpenId,
    pub role: u8,
}

/// The seed's `getvoipcontactlist` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactListReply {
    pub errcode: u32,
    pub errmsg: &'static str,
    pub contact_list: Vec<ContactInfo>,
}

/// The developer query: every contact with its role, administrator first; `errcode: 1` when
/// the student has no contacts.
pub fn contact_list(record: Option<&StudentRecord>) -> ContactListReply {
    match record {
        Some(r) => ContactListReply {
            errcode: 0,
            errmsg: "ok",
            contact_list: r
                .ordered()
                .map(|c| ContactInfo {
                    open_id: c.open_id.clone(),
                    role: c.role.number(),
                })
                .collect(),
        },
        None => ContactListReply {
            errcode: 1,
            errmsg: "user has no contact list",
            contact_list: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Contact;

    fn uid() -> UserId {
        UserId::parse("u", "s1").unwrap()
    }
    fn o(s: &str) -> OpenId {
        OpenId::parse("o", s).unwrap()
    }
    fn rec(admin: &str, others: &[&str]) -> StudentRecord {
        let mut r = StudentRecord::with_admin(uid(), o(admin), 0, 1);
        for (i, x) in others.iter().enumerate() {
            r.contacts.push(Contact {
                open_id: o(x),
                role: Role::Ordinary,
                bound_at: i as u64 + 1,
            });
        }
        r
    }
    fn put(c: Option<Change>) -> StudentRecord {
        match c {
            Some(Change::PutStudent(r)) => r,
            other => panic!("expected a put, got {other:?}"),
        }
    }

    #[test]
    fn bind_admin_cases() {
        let e = bind_admin(None, &uid(), &o("a"), false, 5, 9).unwrap_err();
        assert_eq!(e.code, ErrorCode::NotAuthorized);
        let r = put(bind_admin(None, &uid(), &o("a"), true, 5, 9).unwrap());
        assert_eq!(r.admin(), Some(&o("a")));
        assert_eq!((r.admin_term, r.contacts[0].bound_at), (9, 5));
        assert_eq!(bind_admin(Some(&r), &uid(), &o("a"), true, 6, 1), Ok(None));
        let e = bind_admin(Some(&r), &uid(), &o("b"), true, 6, 1).unwrap_err();
        assert_eq!(e.code, ErrorCode::AdminExists);
        // An ordinary contact cannot take over either.
        let r2 = rec("a", &["b"]);
        assert_eq!(
            bind_admin(Some(&r2), &uid(), &o("b"), true, 6, 1)
                .unwrap_err()
                .code,
            ErrorCode::AdminExists
        );
    }

    #[test]
    fn consent_changes_only_on_flip() {
        assert_eq!(set_consent(true, &o("a"), true), None);
        assert_eq!(
            set_consent(false, &o("a"), true),
            Some(Change::Consent {
                open_id: o("a"),
                granted: true
            })
        );
    }

    #[test]
    fn lists_by_role() {
        let mut r = rec("a", &["b", "c"]);
        // Admin not first in storage order: the list still shows it first.
        r.contacts.rotate_left(1);
        let admin_view = list_entry(&r, &o("a")).unwrap();
        assert_eq!(admin_view.is_ad, 1);
        assert_eq!(admin_view.openid_list, vec![o("a"), o("b"), o("c")]);
        let member_view = list_entry(&r, &o("c")).unwrap();
        assert_eq!(member_view.is_ad, 0);
        assert_eq!(member_view.openid_list, vec![o("c")]);
        assert_eq!(list_entry(&r, &o("z")), None);
    }

    #[test]
    fn delete_is_admin_only_and_all_or_nothing() {
        let r = rec("a", &["b", "c"]);
        let codes = |actor: &str, targets: &[&str], record: Option<&StudentRecord>| {
            let t: Vec<OpenId> = targets.iter().map(|x| o(x)).collect();
            delete_contacts(record, &uid(), &o(actor), &t, 50, 9).map_err(|e| e.code)
        };
        assert_eq!(
            codes("b", &["c"], Some(&r)).unwrap_err(),
            ErrorCode::NotAdmin
        );
        assert_eq!(codes("a", &["b"], None).unwrap_err(), ErrorCode::NotAdmin);
        assert_eq!(
            codes("a", &["b", "a"], Some(&r)).unwrap_err(),
            ErrorCode::AdminSelfDelete
        );
        assert_eq!(
            codes("a", &["b", "zz"], Some(&r)).unwrap_err(),
            ErrorCode::NotContact
        );
        let (change, deleted) =
            delete_contacts(Some(&r), &uid(), &o("a"), &[o("c"), o("b")], 50, 9).unwrap();
        assert_eq!(deleted, vec![o("c"), o("b")]);
        let next = put(Some(change));
        assert_eq!(next.contacts.len(), 1);
        assert!(next.is_admin(&o("a")));
        // The removal is remembered with its time; the term (other links) is kept.
        assert_eq!(next.removed_at(&o("b")), Some(50));
        assert_eq!(next.removed_at(&o("c")), Some(50));
        assert_eq!(next.admin_term, r.admin_term);
        assert!(next.check(100).is_ok());
    }

    #[test]
    fn removals_are_bounded_by_a_new_term() {
        let mut r = rec("a", &[]);
        let mut at = 0;
        // Fill the removal list exactly: the term stays.
        while r.removed.len() < MAX_REMOVALS {
            at += 1;
            let who = o(&format!("p{at}"));
            r.contacts.push(Contact {
                open_id: who.clone(),
                role: Role::Ordinary,
                bound_at: at,
            });
            r = put(Some(
                delete_contacts(Some(&r), &uid(), &o("a"), &[who], at, 77)
                    .unwrap()
                    .0,
            ));
            assert_eq!(r.admin_term, 1);
        }
        // One more: a new term (every older link dies) and an empty list.
        let who = o("last");
        r.contacts.push(Contact {
            open_id: who.clone(),
            role: Role::Ordinary,
            bound_at: at,
        });
        let next = put(Some(
            delete_contacts(Some(&r), &uid(), &o("a"), &[who], at + 1, 77)
                .unwrap()
                .0,
        ));
        assert_eq!(next.admin_term, 77);
        assert!(next.removed.is_empty());
        // Never the same term again, however the draw falls.
        r.contacts.push(Contact {
            open_id: o("again"),
            role: Role::Ordinary,
            bound_at: at,
        });
        let same = put(Some(
            delete_contacts(Some(&r), &uid(), &o("a"), &[o("again")], at + 1, 1)
                .unwrap()
                .0,
        ));
        assert_eq!(same.admin_term, 2);
    }

    #[test]
    fn transfer_cases() {
        let r = rec("a", &["b"]);
        assert_eq!(
            transfer_admin(Some(&r), &uid(), &o("b"), &o("a"), 2)
                .unwrap_err()
                .code,
            ErrorCode::NotAdmin
        );
        assert_eq!(
            transfer_admin(Some(&r), &uid(), &o("a"), &o("a"), 2),
            Ok(None)
        );
        assert_eq!(
            transfer_admin(Some(&r), &uid(), &o("a"), &o("z"), 2)
                .unwrap_err()
                .code,
            ErrorCode::NotContact
        );
        let next = put(transfer_admin(Some(&r), &uid(), &o("a"), &o("b"), 2).unwrap());
        assert!(next.is_admin(&o("b")));
        assert!(next.contains(&o("a")));
        assert_eq!(next.admin_term, 2);
        assert!(next.check(100).is_ok());
        // Binding order is kept: a then b.
        assert_eq!(next.contacts[0].open_id, o("a"));
        // The same term is never drawn twice in a row.
        let same = put(transfer_admin(Some(&r), &uid(), &o("a"), &o("b"), r.admin_term).unwrap());
        assert_ne!(same.admin_term, r.admin_term);
    }

    #[test]
    fn developer_query_shape() {
        assert_eq!(contact_list(None).errcode, 1);
        assert!(contact_list(None).contact_list.is_empty());
        let reply = contact_list(Some(&rec("a", &["b"])));
        assert_eq!((reply.errcode, reply.errmsg), (0, "ok"));
        assert_eq!(
            reply.contact_list,
            vec![
                ContactInfo {
                    open_id: o("a"),
                    role: 1
                },
                ContactInfo {
                    open_id: o("b"),
                    role: 0
                }
            ]
        );
        assert_eq!(reset_student(None), None);
        assert_eq!(
            reset_student(Some(&rec("a", &[]))),
            Some(Change::RemoveStudent(uid()))
        );
    }
}
