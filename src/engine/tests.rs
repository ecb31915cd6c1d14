//! The local backend end to end, natively: every API, every bind outcome through real share
//! paths, every error the engine produces, persistence and failed writes.

use super::*;
use crate::lifecycle::Event;
use crate::storage::META_KEY;
use std::collections::BTreeMap;

/// A store that can be told to fail, to prove a failed write changes nothing.
#[derive(Default, Clone)]
struct Faulty {
    map: BTreeMap<String, String>,
    fail: bool,
    writes: usize,
}

impl Store for Faulty {
    fn put(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        self.writes += 1;
        self.map.insert(key.into(), value.into());
        Ok(())
    }
    fn remove(&mut self, key: &str) -> std::result::Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        self.writes += 1;
        self.map.remove(key);
        Ok(())
    }
}

const T0: Millis = 1_800_000_000_000;

fn o(s: &str) -> OpenId {
    OpenId::parse("openId", s).unwrap()
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn engine_with(config: Config) -> Engine<Faulty> {
    Engine::open(config, [7; 32], Faulty::default(), [], T0).unwrap()
}

fn engine() -> Engine<Faulty> {
    engine_with(Config {
        path_prefix: "__plugin__/wxplugin/".into(),
        ..Config::default()
    })
}

fn uid_args(u: &str) -> Value {
    Value::object([("userId", s(u))])
}

fn share_args(u: &str) -> Value {
    Value::object([
        ("userId", s(u)),
        ("userName", s("小明")),
        ("userAvatar", s("https://img.example/a.png")),
    ])
}

/// A student `u` with administrator `adm` (both consented).
fn with_admin(e: &mut Engine<Faulty>, u: &str, adm: &str) {
    e.authorize_voip(Some(&o(adm))).unwrap();
    e.bind_admin(Some(&o(adm)), &uid_args(u), T0).unwrap();
}

fn accept(e: &mut Engine<Faulty>, who: &str, path: &str, now: Millis) -> BindType {
    e.accept(Some(&o(who)), &s(path), now).unwrap().kind
}

#[test]
fn the_whole_story() {
    let mut e = engine();
    with_admin(&mut e, "stu-1", "dad");
    let path = e
        .share_path(Some(&o("dad")), &share_args("stu-1"), T0)
        .unwrap();
    assert!(path.starts_with("__plugin__/wxplugin/pages/bind-contact/bind-contact?userId=stu-1&userName=%E5%B0%8F%E6%98%8E&userAvatar=https%3A%2F%2Fimg.example%2Fa.png&ticket="));

    // The page first inspects (no consent asked yet), then accepts.
    let seen = e.inspect(Some(&o("mum")), &s(&path), T0).unwrap();
    assert_eq!(seen.status, None);
    assert_eq!(seen.view.user_name, "小明");
    assert_eq!(accept(&mut e, "mum", &path, T0 + 1), BindType::Auth);
    e.authorize_voip(Some(&o("mum"))).unwrap();
    assert_eq!(accept(&mut e, "mum", &path, T0 + 2), BindType::Success);
    assert_eq!(accept(&mut e, "mum", &path, T0 + 3), BindType::Binded);
    assert_eq!(
        e.decline(Some(&o("gran")), &s(&path)).unwrap().kind,
        BindType::Cancel
    );

    let list = e.list(Some(&o("dad")), &Value::Missing).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].is_ad, list[0].openid_list.clone()),
        (1, vec![o("dad"), o("mum")])
    );
    let mum_view = e.list(Some(&o("mum")), &uid_args("stu-1")).unwrap();
    assert_eq!(
        (mum_view[0].is_ad, mum_view[0].openid_list.clone()),
        (0, vec![o("mum")])
    );

    // Transfer: the old administrator's links become invalid.
    let (_, new_admin) = e
        .transfer(
            Some(&o("dad")),
            &Value::object([("userId", s("stu-1")), ("newAdminOpenid", s("mum"))]),
        )
        .unwrap();
    assert_eq!(new_admin, o("mum"));
    e.authorize_voip(Some(&o("gran"))).unwrap();
    assert_eq!(accept(&mut e, "gran", &path, T0 + 4), BindType::Invalid);
    // ...even after transferring back to dad (a new term).
    e.transfer(
        Some(&o("mum")),
        &Value::object([("userId", s("stu-1")), ("newAdminOpenid", s("dad"))]),
    )
    .unwrap();
    assert_eq!(accept(&mut e, "gran", &path, T0 + 5), BindType::Invalid);

    // Delete, then the developer query.
    let (_, deleted) = e
        .delete(
            Some(&o("dad")),
            &Value::object([
                ("userId", s("stu-1")),
                ("openidList", Value::Array(vec![s("mum"), s("mum")])),
            ]),
            T0 + 6,
        )
        .unwrap();
    assert_eq!(deleted, vec![o("mum")]);
    let reply = e
        .contact_list(&Value::object([("user_id", s("stu-1"))]))
        .unwrap();
    assert_eq!(reply.contact_list.len(), 1);
    assert_eq!(reply.contact_list[0].role, 1);

    // Reset: old links say unbind; the developer query says errcode 1.
    let fresh = e
        .share_path(Some(&o("dad")), &share_args("stu-1"), T0)
        .unwrap();
    assert!(e.reset_student(&uid_args("stu-1")).unwrap().1);
    assert!(!e.reset_student(&uid_args("stu-1")).unwrap().1);
    assert_eq!(accept(&mut e, "gran", &fresh, T0 + 6), BindType::Unbind);
    assert_eq!(
        e.contact_list(&Value::object([("user_id", s("stu-1"))]))
            .unwrap()
            .errcode,
        1
    );
    // A new administrator after a reset does not revive links of the old term.
    e.bind_admin(Some(&o("dad")), &uid_args("stu-1"), T0 + 7)
        .unwrap();
    assert_eq!(accept(&mut e, "gran", &fresh, T0 + 8), BindType::Invalid);
}

#[test]
fn expiry_overload_and_tampering() {
    let mut e = engine_with(Config {
        max_contacts: 2,
        ticket_ttl_ms: 60_000,
        ..Config::default()
    });
    with_admin(&mut e, "s", "adm");
    let path = e.share_path(Some(&o("adm")), &share_args("s"), T0).unwrap();
    for p in ["p1", "p2"] {
        e.authorize_voip(Some(&o(p))).unwrap();
    }
    assert_eq!(accept(&mut e, "p1", &path, T0 + 59_999), BindType::Success);
    assert_eq!(accept(&mut e, "p2", &path, T0 + 59_999), BindType::Overload);
    assert_eq!(
        e.inspect(Some(&o("p2")), &s(&path), T0).unwrap().status,
        Some(BindType::Overload)
    );
    // Host parameters appended: same outcome; tampered name: invalid.
    assert_eq!(
        accept(&mut e, "p2", &format!("{path}&from=chat&x=1"), T0),
        BindType::Overload
    );
    let tampered = path.replace("userName=%E5%B0%8F%E6%98%8E", "userName=Bob");
    assert_eq!(accept(&mut e, "p2", &tampered, T0), BindType::Invalid);
    assert_eq!(accept(&mut e, "p2", "garbage", T0), BindType::Invalid);
    // The query object form (what the page's onLoad receives) works the same.
    let q = ShareQuery::from_path(&path);
    let obj = Value::Object(q.params.iter().map(|(k, v)| (k.clone(), s(v))).collect());
    assert_eq!(
        e.accept(Some(&o("p2")), &obj, T0).unwrap().kind,
        BindType::Overload
    );
    // A path from another backend (other secret) is invalid here.
    let mut other = Engine::open(Config::default(), [8; 32], Faulty::default(), [], T0).unwrap();
    with_admin(&mut other, "s", "adm");
    let foreign = other
        .share_path(Some(&o("adm")), &share_args("s"), T0)
        .unwrap();
    assert_eq!(accept(&mut e, "p2", &foreign, T0), BindType::Invalid);
    // Expired (last: the backend's clock never goes back, so the link stays expired).
    assert_eq!(accept(&mut e, "p2", &path, T0 + 60_000), BindType::Expire);
    assert_eq!(accept(&mut e, "p2", &path, T0), BindType::Expire);
}

#[test]
fn errors_the_engine_produces() {
    let mut e = engine();
    let code = |r: Result<()>| r.unwrap_err().code;
    // 3008 on a device instance, for every contact API.
    assert_eq!(code(e.authorize_voip(None)), ErrorCode::Unauthenticated);
    assert_eq!(
        code(e.bind_admin(None, &uid_args("s"), T0).map(drop)),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(e.list(None, &Value::Missing).map(drop)),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(e.inspect(None, &s("x"), T0).map(drop)),
        ErrorCode::Unauthenticated
    );
    // 8 without consent; 1004 for bad arguments; 20 for a bad openId.
    assert_eq!(
        code(e.bind_admin(Some(&o("a")), &uid_args("s"), T0).map(drop)),
        ErrorCode::NotAuthorized
    );
    with_admin(&mut e, "s", "a");
    assert_eq!(
        code(e.bind_admin(Some(&o("a")), &Value::Null, T0).map(drop)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(
            e.bind_admin(
                Some(&o("a")),
                &Value::object([("userId", Value::Num(1.0))]),
                T0
            )
            .map(drop)
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(
            e.transfer(
                Some(&o("a")),
                &Value::object([("userId", s("s")), ("newAdminOpenid", s("no way"))])
            )
            .map(drop)
        ),
        ErrorCode::InvalidOpenId
    );
    assert_eq!(
        code(e.accept(Some(&o("a")), &Value::Num(3.0), T0).map(drop)),
        ErrorCode::InvalidArgument
    );
    // 3001 / 3002 / 3003 / 3004.
    e.authorize_voip(Some(&o("b"))).unwrap();
    assert_eq!(
        code(e.bind_admin(Some(&o("b")), &uid_args("s"), T0).map(drop)),
        ErrorCode::AdminExists
    );
    assert_eq!(
        code(e.share_path(Some(&o("b")), &share_args("s"), T0).map(drop)),
        ErrorCode::NotAdmin
    );
    assert_eq!(
        code(
            e.share_path(Some(&o("a")), &share_args("nobody"), T0)
                .map(drop)
        ),
        ErrorCode::NotAdmin
    );
    let del =
        |list: Vec<Value>| Value::object([("userId", s("s")), ("openidList", Value::Array(list))]);
    assert_eq!(
        code(e.delete(Some(&o("b")), &del(vec![s("a")]), T0).map(drop)),
        ErrorCode::NotAdmin
    );
    assert_eq!(
        code(e.delete(Some(&o("a")), &del(vec![s("a")]), T0).map(drop)),
        ErrorCode::AdminSelfDelete
    );
    assert_eq!(
        code(e.delete(Some(&o("a")), &del(vec![s("b")]), T0).map(drop)),
        ErrorCode::NotContact
    );
    // A share path over 1024 bytes is refused.
    let long = Value::object([
        ("userId", s(&"u".repeat(128))),
        ("userName", s(&"名".repeat(64))),
        ("userAvatar", s(&format!("https://{}", "a".repeat(600)))),
    ]);
    with_admin(&mut e, &"u".repeat(128), "a");
    let err = e.share_path(Some(&o("a")), &long, T0).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(
        err.message.contains("over the limit of 1024"),
        "{}",
        err.message
    );
}

#[test]
fn persisted_state_reopens_identically() {
    let mut e = engine();
    with_admin(&mut e, "s", "dad");
    let path = e.share_path(Some(&o("dad")), &share_args("s"), T0).unwrap();
    e.authorize_voip(Some(&o("mum"))).unwrap();
    assert_eq!(accept(&mut e, "mum", &path, T0), BindType::Success);
    let tok = e.issue_voip_token(&uid_args("s"), T0).unwrap();

    let stored = e.store().map.clone();
    let reopened = Engine::open(
        e.config().clone(),
        [9; 32],
        Faulty::default(),
        stored.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        T0,
    )
    .unwrap();
    assert_eq!(
        reopened.list(Some(&o("dad")), &Value::Missing).unwrap(),
        e.list(Some(&o("dad")), &Value::Missing).unwrap()
    );
    assert!(reopened.registry().consented(&o("mum")));
    // Same secrets: the link and the token still verify.
    let mut reopened = reopened;
    reopened.authorize_voip(Some(&o("gran"))).unwrap();
    assert_eq!(accept(&mut reopened, "gran", &path, T0), BindType::Success);
    let slot = "dev1";
    let outcome = reopened
        .init_by_caller(
            slot,
            &call_args("s", "mum", &tok, 0.0),
            Version(2, 4, 0),
            T0,
        )
        .unwrap();
    assert!(
        matches!(outcome, CallOutcome::Admitted { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        Engine::open(Config::default(), [1; 32], Faulty::default(), [], T0)
            .unwrap()
            .store()
            .map
            .len(),
        1
    );
}

#[test]
fn each_change_writes_one_key() {
    let mut e = engine();
    let before = e.store().writes;
    with_admin(&mut e, "s", "dad");
    assert_eq!(e.store().writes - before, 2, "consent + student");
    let before = e.store().writes;
    e.authorize_voip(Some(&o("dad"))).unwrap();
    e.bind_admin(Some(&o("dad")), &uid_args("s"), T0).unwrap();
    assert_eq!(e.store().writes, before, "no-op operations write nothing");
    assert!(e.store().map.contains_key(META_KEY));
}

#[test]
fn a_failed_write_changes_nothing() {
    let mut e = engine();
    with_admin(&mut e, "s", "dad");
    let path = e.share_path(Some(&o("dad")), &share_args("s"), T0).unwrap();
    e.authorize_voip(Some(&o("mum"))).unwrap();
    let before = e.store().map.clone();
    e.store_mut().fail = true;
    let err = e.accept(Some(&o("mum")), &s(&path), T0).unwrap_err();
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(err.message.contains("nothing was changed"));
    assert_eq!(
        e.registry()
            .student(&UserId::parse("u", "s").unwrap())
            .unwrap()
            .contacts
            .len(),
        1
    );
    assert_eq!(
        e.authorize_voip(Some(&o("x"))).unwrap_err().code,
        ErrorCode::Storage
    );
    assert!(!e.registry().consented(&o("x")));
    assert_eq!(
        e.reset_student(&uid_args("s")).unwrap_err().code,
        ErrorCode::Storage
    );
    assert_eq!(e.registry().student_count(), 1);
    e.store_mut().fail = false;
    assert_eq!(e.store().map, before);
    assert_eq!(accept(&mut e, "mum", &path, T0), BindType::Success);
    // Opening a fresh backend on a failing store fails with STORAGE.
    let failing = Faulty {
        fail: true,
        ..Faulty::default()
    };
    assert_eq!(
        Engine::open(Config::default(), [0; 32], failing, [], T0)
            .err()
            .unwrap()
            .code,
        ErrorCode::Storage
    );
}

#[test]
fn corrupt_store_refuses_to_open() {
    let mut e = engine();
    with_admin(&mut e, "s", "dad");
    let mut stored = e.store().map.clone();
    let key = stored.keys().find(|k| k.starts_with("s.")).unwrap().clone();
    stored.get_mut(&key).unwrap().pop();
    let err = Engine::open(
        Config::default(),
        [0; 32],
        Faulty::default(),
        stored.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        T0,
    )
    .err()
    .unwrap();
    assert_eq!(err.code, ErrorCode::Storage);
}

fn call_args(student: &str, parent: &str, tok: &str, bt: f64) -> Value {
    Value::object([
        ("roomType", s("voice")),
        ("caller", Value::object([("id", s(student))])),
        ("listener", Value::object([("id", s(parent))])),
        ("businessType", Value::Num(bt)),
        ("voipToken", s(tok)),
    ])
}

fn room_args(room: &str) -> Value {
    Value::Object(vec![("roomId".into(), s(room))])
}

fn call_list_args(user: &str) -> Value {
    Value::Object(vec![("user_id".into(), s(user))])
}

fn hang_up(
    e: &mut Engine<Faulty>,
    device: &str,
    room: Option<&str>,
    now: Millis,
) -> Option<CallDelivery> {
    let arg = room.map_or(Value::Missing, s);
    e.act_on_call(None, device, CallAct::HangUp, &arg, now)
        .unwrap()
}

#[test]
fn calls() {
    let mut e = engine();
    with_admin(&mut e, "s", "dad");
    let v = Version(2, 4, 0);
    let slot = "dev1";
    let refused = |o: CallOutcome| match o {
        CallOutcome::Refused(e) => e.err_code(),
        other => panic!("expected a refusal, got {other:?}"),
    };

    // Token for another student, forged, expired → 4.
    let tok_other = e.issue_voip_token(&uid_args("other"), T0).unwrap();
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "dad", &tok_other, 0.0), v, T0)
                .unwrap()
        ),
        4
    );
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "dad", "forged", 0.0), v, T0)
                .unwrap()
        ),
        4
    );
    let tok = e.issue_voip_token(&uid_args("s"), T0).unwrap();
    // Not consented → 8 (even if a contact), not a contact → 9. Refusals do not use the token.
    e.revoke_voip(Some(&o("dad"))).unwrap();
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "dad", &tok, 0.0), v, T0)
                .unwrap()
        ),
        8
    );
    e.authorize_voip(Some(&o("stranger"))).unwrap();
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "stranger", &tok, 0.0), v, T0)
                .unwrap()
        ),
        9
    );
    e.authorize_voip(Some(&o("dad"))).unwrap();
    let CallOutcome::Admitted(d) = e
        .init_by_caller(slot, &call_args("s", "dad", &tok, 3.0), v, T0)
        .unwrap()
    else {
        panic!("not admitted")
    };
    let room_id = d.call.room_id.clone();
    assert_eq!(d.call.charge_type(), ChargeType::License);
    assert_eq!(room_id.len(), 22);
    assert_eq!(d.step.caller, vec![Event::JoinedRoomByCaller]);
    assert_eq!(d.step.listener[0].name(), "incomingVoip");
    // Busy until hung up; then the used token is refused.
    let tok2 = e.issue_voip_token(&uid_args("s"), T0).unwrap();
    assert_eq!(
        e.init_by_caller(slot, &call_args("s", "dad", &tok2, 0.0), v, T0)
            .unwrap_err()
            .code,
        ErrorCode::Busy
    );
    // Only the listener answers; then the device hangs up: 2.5 s kept, billed exactly (bt 3).
    let not_listener = e
        .act_on_call(None, "dev9", CallAct::Answer, &room_args(&room_id), T0)
        .unwrap()
        .unwrap();
    assert_eq!(not_listener.step.refused.map(|e| e.err_code()), Some(9));
    assert!(not_listener.step.caller.is_empty() && not_listener.step.listener.is_empty());
    let d = e
        .act_on_call(
            Some(&o("dad")),
            "",
            CallAct::Answer,
            &room_args(&room_id),
            T0 + 500,
        )
        .unwrap()
        .unwrap();
    assert_eq!(d.step.caller, vec![Event::StartVoip]);
    let ended = hang_up(&mut e, slot, Some(&room_id), T0 + 3000).unwrap();
    assert_eq!(ended.call.keep_time(), 2500);
    assert_eq!(
        ended.step.caller.last(),
        Some(&Event::FinishVoip { keep_time: 2500 })
    );
    assert!(e.registry().live_calls().is_empty());
    let records = e.call_list(&call_list_args("s")).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].billed_time, 2500);
    assert!(e.store().map.contains_key(&storage::call_key(&room_id)));
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "dad", &tok, 0.0), v, T0)
                .unwrap()
        ),
        4
    );
    // A different device instance (slot) is not busy.
    let other_slot = "dev2";
    let CallOutcome::Admitted(d2) = e
        .init_by_caller(other_slot, &call_args("s", "dad", &tok2, 0.0), v, T0)
        .unwrap()
    else {
        panic!()
    };
    let r2 = d2.call.room_id.clone();
    assert_ne!(r2, room_id);
    // Used tokens are forgotten once expired, in batches: when 64 are remembered, the
    // expired ones (and their stored entries) go.
    hang_up(&mut e, other_slot, None, T0).unwrap();
    let later = T0 + 10 * 60_000;
    for _ in 0..70 {
        let tok = e.issue_voip_token(&uid_args("s"), later).unwrap();
        let r = e
            .init_by_caller(slot, &call_args("s", "dad", &tok, 0.0), v, later)
            .unwrap();
        assert!(matches!(r, CallOutcome::Admitted { .. }), "{r:?}");
        hang_up(&mut e, slot, None, later).unwrap();
    }
    // 2 expired + 70 fresh without pruning; the two expired ones were forgotten.
    assert_eq!(e.registry().used_tokens().count(), 70);
    assert_eq!(e.registry().expired_tokens(later).len(), 0);
    let stored = e.store().map.keys().filter(|k| k.starts_with("t.")).count();
    assert_eq!(stored, 70);
    // Expired → 4 (last: the backend's clock never goes back).
    let late = e.issue_voip_token(&uid_args("s"), later).unwrap();
    let at = later + token::DEFAULT_TTL_MS;
    assert_eq!(
        refused(
            e.init_by_caller(slot, &call_args("s", "dad", &late, 0.0), v, at)
                .unwrap()
        ),
        4
    );
}

#[test]
fn config_options() {
    let c = Config::from_value(&Value::object([
        ("maxContacts", Value::Num(3.0)),
        ("ticketTtlMs", Value::Num(60_000.0)),
        ("pluginAppId", s("wx1234567890abcdef")),
    ]))
    .unwrap();
    assert_eq!((c.max_contacts, c.ticket_ttl_ms), (3, 60_000));
    assert_eq!(c.path_prefix, "__plugin__/wx1234567890abcdef/");
    assert_eq!(
        Config::from_value(&Value::Missing).unwrap(),
        Config::default()
    );
    for bad in [
        ("maxContacts", Value::Num(0.0)),
        ("maxContacts", Value::Num(101.0)),
        ("maxContacts", Value::Num(2.5)),
        ("ticketTtlMs", Value::Num(59_999.0)),
        ("ticketTtlMs", Value::Num(30.0 * 86_400_000.0 + 1.0)),
        ("voipTokenTtlMs", Value::Num(1.0)),
        ("pluginAppId", s("wx/../")),
        ("pathPrefix", s("a?b")),
        ("maxContacts", s("10")),
    ] {
        let e = Config::from_value(&Value::object([bad.clone()])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad:?}");
    }
    assert_eq!(
        Config::from_value(&Value::object([("pathPrefix", s("/x/"))]))
            .unwrap()
            .path_prefix,
        "/x/"
    );
}

fn delete_args(u: &str, who: &[&str]) -> Value {
    Value::object([
        ("userId", s(u)),
        (
            "openidList",
            Value::Array(who.iter().map(|w| s(w)).collect()),
        ),
    ])
}

#[test]
fn a_removal_sticks_for_older_links_only() {
    let mut e = engine();
    with_admin(&mut e, "stu", "dad");
    for p in ["mum", "gran", "uncle"] {
        e.authorize_voip(Some(&o(p))).unwrap();
    }
    let before = e
        .share_path(Some(&o("dad")), &share_args("stu"), T0)
        .unwrap();
    assert_eq!(accept(&mut e, "mum", &before, T0 + 1), BindType::Success);
    e.delete(Some(&o("dad")), &delete_args("stu", &["mum"]), T0 + 2)
        .unwrap();
    // Row 4b: mum cannot rejoin with the link from before her removal, inspect or accept.
    let seen = e.inspect(Some(&o("mum")), &s(&before), T0 + 3).unwrap();
    assert_eq!(seen.status, Some(BindType::Invalid));
    assert_eq!(accept(&mut e, "mum", &before, T0 + 3), BindType::Invalid);
    // The same link still works for everybody else.
    assert_eq!(accept(&mut e, "gran", &before, T0 + 4), BindType::Success);
    // A link issued after the removal lets her back; a second removal counts from then.
    let after = e
        .share_path(Some(&o("dad")), &share_args("stu"), T0 + 5)
        .unwrap();
    assert_eq!(accept(&mut e, "mum", &after, T0 + 6), BindType::Success);
    assert!(e
        .registry()
        .student(&UserId::parse("u", "stu").unwrap())
        .unwrap()
        .removed
        .is_empty());
    e.delete(Some(&o("dad")), &delete_args("stu", &["mum"]), T0 + 7)
        .unwrap();
    assert_eq!(accept(&mut e, "mum", &after, T0 + 8), BindType::Invalid);
    // It survives a restart (stored with the record).
    let entries = e.store().map.clone();
    let mut reopened = Engine::open(
        Config::default(),
        [8; 32],
        Faulty::default(),
        entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        T0 + 9,
    )
    .unwrap();
    assert_eq!(
        accept(&mut reopened, "mum", &after, T0 + 9),
        BindType::Invalid
    );
    assert_eq!(
        accept(&mut reopened, "uncle", &after, T0 + 9),
        BindType::Success
    );
}

#[test]
fn the_clock_never_goes_back() {
    let mut e = engine();
    with_admin(&mut e, "s", "dad");
    let v = Version(2, 4, 0);
    let slot = "dev1";
    // A token used at T0, then enough calls an hour later that the used ones are pruned.
    let tok = e.issue_voip_token(&uid_args("s"), T0).unwrap();
    assert!(matches!(
        e.init_by_caller(slot, &call_args("s", "dad", &tok, 0.0), v, T0)
            .unwrap(),
        CallOutcome::Admitted { .. }
    ));
    hang_up(&mut e, slot, None, T0).unwrap();
    let later = T0 + 3_600_000;
    for _ in 0..70 {
        let t = e.issue_voip_token(&uid_args("s"), later).unwrap();
        e.init_by_caller(slot, &call_args("s", "dad", &t, 0.0), v, later)
            .unwrap();
        hang_up(&mut e, slot, None, later).unwrap();
    }
    assert_eq!(
        e.registry().used_tokens().count(),
        70,
        "the first was forgotten"
    );
    // The clock steps back to T0: the forgotten token is still refused (as expired: the
    // backend's time is the highest it acted at), in this backend and after a restart.
    let again = e
        .init_by_caller(slot, &call_args("s", "dad", &tok, 0.0), v, T0)
        .unwrap();
    assert!(
        matches!(&again, CallOutcome::Refused(err) if err.err_code() == 4),
        "{again:?}"
    );
    let entries = e.store().map.clone();
    let mut reopened = Engine::open(
        Config::default(),
        [8; 32],
        Faulty::default(),
        entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        T0,
    )
    .unwrap();
    let slot2 = "dev1";
    let after_restart = reopened
        .init_by_caller(slot2, &call_args("s", "dad", &tok, 0.0), v, T0)
        .unwrap();
    assert!(
        matches!(&after_restart, CallOutcome::Refused(err) if err.err_code() == 4),
        "{after_restart:?}"
    );
    // Links minted on a clock that stepped back carry the backend's time, not the host's.
    let path = reopened
        .share_path(Some(&o("dad")), &share_args("s"), T0)
        .unwrap();
    let seen = reopened.inspect(Some(&o("mum")), &s(&path), T0).unwrap();
    assert!(seen.expires_at.unwrap() >= later + Config::default().ticket_ttl_ms);
}
