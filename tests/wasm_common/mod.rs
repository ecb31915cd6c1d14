//! The wasm binding's test suite, shared by `wasm_node.rs` (wasm-pack test --node) and
//! `wasm_browser.rs` (wasm-pack test --headless --chrome): the binding as JS sees it, with real
//! JS values, including the hostile ones (lone surrogates, 1 MiB strings, throwing getters and
//! Proxies, failing storage) that must become typed errors and never abort the instance.

use campus_voip::wasm::{check_open_id, check_version, snapshot_entries, Backend};
use js_sys::{Array, Function, JsString, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const T0: f64 = 1_800_000_000_000.0;

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &s(k), v).unwrap();
    }
    o.into()
}

/// A binding result as a JS value: results cross as JSON text (parsed as the shim does).
trait Out {
    fn js(&self) -> JsValue;
}

impl Out for JsValue {
    fn js(&self) -> JsValue {
        self.clone()
    }
}

impl Out for String {
    fn js(&self) -> JsValue {
        js_sys::JSON::parse(self).expect("the binding returns JSON")
    }
}

fn get(v: &impl Out, key: &str) -> JsValue {
    Reflect::get(&v.js(), &s(key)).unwrap()
}

fn js(body: &str) -> JsValue {
    Function::new_no_args(body).call0(&JsValue::NULL).unwrap()
}

/// An in-JS store: `{ map, put(k, v), remove(k), fail }`.
struct Store {
    state: JsValue,
}

impl Store {
    fn new() -> Store {
        Store {
            state: js("const map = new Map(); const st = { map, fail: false };
                 st.put = (k, v) => { if (st.fail) throw new Error('disk full'); map.set(k, v); };
                 st.remove = (k) => { if (st.fail) throw new Error('disk full'); map.delete(k); };
                 return st;"),
        }
    }
    fn put(&self) -> Function {
        get(&self.state, "put").unchecked_into()
    }
    fn remove(&self) -> Function {
        get(&self.state, "remove").unchecked_into()
    }
    fn set_fail(&self, fail: bool) {
        Reflect::set(&self.state, &s("fail"), &JsValue::from_bool(fail)).unwrap();
    }
    fn entries(&self) -> (Array, Array) {
        let map = get(&self.state, "map");
        let keys = Array::from(&js_call(&map, "keys"));
        let values = Array::from(&js_call(&map, "values"));
        (keys, values)
    }
    fn len(&self) -> u32 {
        get(&get(&self.state, "map"), "size").as_f64().unwrap() as u32
    }
}

fn js_call(target: &JsValue, method: &str) -> JsValue {
    let f: Function = get(target, method).unchecked_into();
    f.call0(target).unwrap()
}

fn open_on(store: &Store, options: JsValue) -> Backend {
    let (keys, values) = store.entries();
    Backend::open(
        options,
        &[5u8; 32],
        keys,
        values,
        store.put(),
        store.remove(),
        T0,
    )
    .unwrap()
}

/// A thrown error's field: errors are one string, `errCode␟code␟origin␟message` (no stack
/// trace captured through wasm frames), which the shim turns into a VoipError.
fn err_field(e: &JsValue, name: &str) -> String {
    let text = e
        .as_string()
        .unwrap_or_else(|| panic!("errors are strings, got {e:?}"));
    let f: Vec<&str> = text.splitn(4, '\u{1f}').collect();
    assert_eq!(f.len(), 4, "errCode, code, origin and message: {text:?}");
    assert!(
        !f[1].is_empty() && (f[2] == "plugin" || f[2] == "backend"),
        "{text:?}"
    );
    let i = ["errCode", "code", "origin", "message"]
        .iter()
        .position(|n| *n == name)
        .expect("a field of an error");
    f[i].to_owned()
}

fn err_code(e: JsValue) -> u32 {
    err_field(&e, "errCode")
        .parse()
        .expect("errCode is a number")
}

fn user(u: &str) -> JsValue {
    obj(&[("userId", s(u))])
}

fn share(u: &str, name: &str) -> JsValue {
    obj(&[
        ("userId", s(u)),
        ("userName", s(name)),
        ("userAvatar", s("")),
    ])
}

/// A student `u` whose administrator is `adm`.
fn with_admin(b: &mut Backend, u: &str, adm: &str) {
    b.authorize_voip(b.actor(s(adm)).unwrap()).unwrap();
    b.bind_voip_admin_contact(b.actor(s(adm)).unwrap(), user(u), T0)
        .unwrap();
}

#[wasm_bindgen_test]
fn story_through_the_binding() {
    let store = Store::new();
    let mut b = open_on(&store, JsValue::UNDEFINED);
    assert_eq!(store.len(), 1, "a fresh backend writes its secrets");
    with_admin(&mut b, "学生-1", "dad");
    let path = b
        .get_bind_contact_path(b.actor(s("dad")).unwrap(), share("学生-1", "小明 😀"), T0)
        .unwrap();
    assert!(path.starts_with("pages/bind-contact/bind-contact?userId=%E5%AD%A6"));

    b.authorize_voip(b.actor(s("mum")).unwrap()).unwrap();
    let seen = b
        .inspect_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap();
    assert_eq!(get(&seen, "status").as_string().unwrap(), "ready");
    assert_eq!(get(&seen, "userName").as_string().unwrap(), "小明 😀");
    let ev = b
        .accept_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap();
    assert_eq!(get(&ev, "type").as_string().unwrap(), "success");
    assert_eq!(get(&ev, "errMsg").as_string().unwrap(), "bindContact:ok");
    assert_eq!(get(&ev, "userId").as_string().unwrap(), "学生-1");
    let again = b
        .accept_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap();
    assert_eq!(get(&again, "type").as_string().unwrap(), "binded");

    let list = b
        .get_voip_bind_contact_list(b.actor(s("dad")).unwrap(), JsValue::UNDEFINED)
        .unwrap();
    // Flat: one entry (no RS); userId US is_ad US openIds.
    assert_eq!(list, "学生-1\u{1f}1\u{1f}dad\u{1f}mum");

    // A call from the device: it rings mum, busy for a second call, answered, hung up.
    const DEV: &str = "device-1";
    let token = b.issue_voip_token(user("学生-1"), T0).unwrap();
    let call = obj(&[
        ("roomType", s("video")),
        ("caller", obj(&[("id", s("学生-1")), ("name", s("小明"))])),
        ("listener", obj(&[("id", s("mum"))])),
        ("businessType", JsValue::from_f64(3.0)),
        ("voipToken", s(&token)),
    ]);
    let res = b.init_by_caller(DEV, call.clone(), "2.4.0", T0).unwrap();
    assert_eq!(get(&res, "isSuccess").as_bool(), Some(true));
    assert_eq!(get(&res, "chargeType").as_string().unwrap(), "license");
    let room = get(&res, "roomId").as_string().unwrap();
    let names = |v: &JsValue| -> Vec<String> {
        Array::from(v)
            .iter()
            .map(|e| get(&e, "eventName").as_string().unwrap())
            .collect()
    };
    let delivery = get(&res, "delivery");
    assert_eq!(get(&delivery, "roomId").as_string().unwrap(), room);
    assert_eq!(get(&delivery, "device").as_string().unwrap(), DEV);
    assert_eq!(get(&delivery, "listener").as_string().unwrap(), "mum");
    assert_eq!(names(&get(&delivery, "caller")), ["joinedRoomByCaller"]);
    let incoming = Array::from(&get(&delivery, "listenerEvents")).get(0);
    assert_eq!(
        get(&get(&incoming, "data"), "callerName")
            .as_string()
            .unwrap(),
        "小明"
    );
    assert_eq!(
        err_code(
            b.init_by_caller(DEV, call.clone(), "2.4.0", T0)
                .unwrap_err()
        ),
        1005
    );
    assert!(b.next_deadline() > T0);
    // A hang-up of another room does nothing; mum answers; the device hangs up 1.5 s later.
    assert!(b
        .act_on_call(0, DEV, 2, s("another room"), T0)
        .unwrap()
        .is_none());
    let room_arg = obj(&[("roomId", s(&room))]);
    let answered = b
        .act_on_call(b.actor(s("mum")).unwrap(), "", 0, room_arg, T0)
        .unwrap()
        .unwrap();
    assert_eq!(
        names(&get(&answered, "listenerEvents")),
        ["hangOnVoip", "startVoip"]
    );
    assert_eq!(b.calling_keep_time(&room, T0 + 1000.0).unwrap(), 1000.0);
    let ended = b
        .act_on_call(0, DEV, 2, JsValue::UNDEFINED, T0 + 1500.0)
        .unwrap()
        .unwrap();
    assert_eq!(
        names(&get(&ended, "caller")),
        ["hangUpVoip", "endVoip", "finishVoip"]
    );
    let end = Array::from(&get(&ended, "caller")).get(1);
    assert_eq!(get(&get(&end, "data"), "keepTime").as_f64(), Some(1500.0));
    assert_eq!(b.next_deadline(), -1.0);
    let calls = b
        .get_voip_call_list(obj(&[("user_id", s("学生-1"))]))
        .unwrap();
    let rows = Array::from(&get(&calls, "call_list"));
    assert_eq!(rows.length(), 1);
    assert_eq!(get(&rows.get(0), "billed_time_ms").as_f64(), Some(1500.0));
    // The used token is refused (resolved, not thrown); businessType 3 below 2.3.8 throws 1011.
    let reuse = b.init_by_caller(DEV, call.clone(), "2.4.0", T0).unwrap();
    assert_eq!(get(&reuse, "isSuccess").as_bool(), Some(false));
    assert_eq!(get(&reuse, "errCode").as_f64(), Some(4.0));
    assert_eq!(
        err_code(b.init_by_caller(DEV, call, "2.3.7", T0).unwrap_err()),
        1011
    );

    // Transfer, then delete.
    let t = b
        .transer_admin(
            b.actor(s("dad")).unwrap(),
            obj(&[("userId", s("学生-1")), ("newAdminOpenid", s("mum"))]),
        )
        .unwrap();
    assert_eq!(t, "学生-1\u{1f}mum");
    let d = b
        .delete_voip_bind_contact(
            b.actor(s("mum")).unwrap(),
            obj(&[
                ("userId", s("学生-1")),
                ("openidList", Array::of1(&s("dad")).into()),
            ]),
            T0,
        )
        .unwrap();
    assert_eq!(d, "学生-1\u{1f}dad");
    let dev = b
        .get_voip_contact_list(obj(&[("user_id", s("学生-1"))]))
        .unwrap();
    assert_eq!(dev, "0\u{1f}ok\u{1e}mum\u{1f}1");
}

#[wasm_bindgen_test]
fn errors_carry_codes() {
    let store = Store::new();
    let mut b = open_on(&store, JsValue::UNDEFINED);
    let e = b
        .bind_voip_admin_contact(b.actor(s("dad")).unwrap(), user("s"), T0)
        .unwrap_err();
    assert_eq!(err_code(e.clone()), 8);
    assert_eq!(err_field(&e, "code"), "NOT_AUTHORIZED");
    assert_eq!(err_field(&e, "origin"), "backend");
    // A malformed openId is refused when the instance's identity is registered.
    let e = b.actor(s("not an openid")).unwrap_err();
    assert_eq!(err_code(e.clone()), 20);
    assert_eq!(err_field(&e, "origin"), "plugin");
    assert_eq!(err_code(b.authorize_voip(0).unwrap_err()), 3008);
    assert_eq!(
        err_code(
            b.bind_voip_admin_contact(b.actor(s("dad")).unwrap(), user("s"), f64::NAN)
                .unwrap_err()
        ),
        1004
    );
    assert_eq!(
        err_code(check_open_id(JsValue::from_f64(1.0)).unwrap_err()),
        1004
    );
    assert_eq!(check_open_id(s("o_1")).unwrap(), "o_1");
    assert_eq!(err_code(check_version(s("2.3")).unwrap_err()), 1004);
    let (keys, values) = store.entries();
    let short = Backend::open(
        JsValue::UNDEFINED,
        &[1u8; 16],
        keys,
        values,
        store.put(),
        store.remove(),
        T0,
    );
    assert_eq!(err_code(short.err().unwrap()), 1004);
}

#[wasm_bindgen_test]
fn hostile_values_become_typed_errors_and_the_instance_survives() {
    let store = Store::new();
    let mut b = open_on(&store, JsValue::UNDEFINED);
    with_admin(&mut b, "s", "dad");
    let lone: JsValue = JsString::from_char_code1(0xd800).into();
    let e = b
        .bind_voip_admin_contact(b.actor(s("dad")).unwrap(), obj(&[("userId", lone)]), T0)
        .unwrap_err();
    assert_eq!(err_code(e.clone()), 1004);
    assert!(err_field(&e, "message").contains("lone surrogate"));

    // A 1 MiB string is measured, not copied into wasm memory.
    let huge = js("return 'x'.repeat(1 << 20)");
    let before = wasm_memory_bytes();
    let e = b
        .bind_voip_admin_contact(
            b.actor(s("dad")).unwrap(),
            obj(&[("userId", huge.clone())]),
            T0,
        )
        .unwrap_err();
    assert!(err_field(&e, "message").contains("too long"));
    assert!(
        wasm_memory_bytes() - before < 1_048_576.0,
        "the string was copied in"
    );
    assert_eq!(
        err_code(
            b.accept_bind_contact_path(b.actor(s("dad")).unwrap(), huge, T0)
                .unwrap_err()
        ),
        1004
    );

    // A throwing getter, and a Proxy whose key listing throws: typed errors, no unwind.
    for hostile in [
        js("return { get userId() { throw new Error('boom') } }"),
        js("return new Proxy({}, { ownKeys() { throw new Error('boom') } })"),
    ] {
        let e = b
            .bind_voip_admin_contact(b.actor(s("dad")).unwrap(), hostile, T0)
            .unwrap_err();
        assert_eq!(err_code(e), 1004);
    }
    let array_proxy = js("return new Proxy([], { get() { throw new Error('boom') } })");
    let del = obj(&[("userId", s("s")), ("openidList", array_proxy)]);
    assert_eq!(
        err_code(
            b.delete_voip_bind_contact(b.actor(s("dad")).unwrap(), del, T0)
                .unwrap_err()
        ),
        1004
    );
    let deep = js("let o = {}; let root = o; for (let i = 0; i < 100000; i++) { o.next = {}; o = o.next } return { userId: root }");
    assert_eq!(
        err_code(
            b.bind_voip_admin_contact(b.actor(s("dad")).unwrap(), deep, T0)
                .unwrap_err()
        ),
        1004
    );
    // Only the fields an API uses are read: 100 000 other properties are never walked...
    let many =
        js("const o = { userId: 's' }; for (let i = 0; i < 100000; i++) o['k' + i] = i; return o");
    assert!(b
        .bind_voip_admin_contact(b.actor(s("dad")).unwrap(), many.clone(), T0)
        .is_ok());
    // ...but where the whole argument is read (the bind page's query object), it is refused.
    assert_eq!(
        err_code(
            b.accept_bind_contact_path(b.actor(s("dad")).unwrap(), many, T0)
                .unwrap_err()
        ),
        1004
    );
    // A revoked Proxy (Array.isArray throws on it), at the top, nested and inside an array:
    // typed errors, and the backend is not left borrowed.
    let revoked = js("const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy");
    for arg in [
        revoked.clone(),
        obj(&[("userId", revoked.clone())]),
        obj(&[
            ("userId", s("s")),
            ("openidList", Array::of1(&revoked).into()),
        ]),
    ] {
        assert_eq!(
            err_code(
                b.delete_voip_bind_contact(b.actor(s("dad")).unwrap(), arg, T0)
                    .unwrap_err()
            ),
            1004
        );
    }
    assert_eq!(
        err_code(
            b.accept_bind_contact_path(b.actor(s("dad")).unwrap(), revoked.clone(), T0)
                .unwrap_err()
        ),
        1004
    );
    // The nested bomb: 128 keys × 128 × 128 × 128 (shared arrays). One budget for the whole
    // argument refuses it after a few hundred values.
    let bomb = js(
        "const a3 = Array(128).fill('x'.repeat(64)); const a2 = Array(128).fill(a3); \
                   const a1 = Array(128).fill(a2); const o = {}; \
                   for (let i = 0; i < 128; i++) o['k' + i] = a1; return o",
    );
    assert_eq!(
        err_code(
            b.accept_bind_contact_path(b.actor(s("dad")).unwrap(), bomb.clone(), T0)
                .unwrap_err()
        ),
        1004
    );
    let e = b
        .delete_voip_bind_contact(
            b.actor(s("dad")).unwrap(),
            obj(&[("userId", s("s")), ("openidList", get(&bomb, "k0"))]),
            T0,
        )
        .unwrap_err();
    assert!(err_field(&e, "message").contains("too large"));
    for weird in [
        js("return Symbol('x')"),
        js("return 10n"),
        js("return () => 1"),
        JsValue::NULL,
    ] {
        assert_eq!(
            err_code(
                b.get_bind_contact_path(b.actor(s("dad")).unwrap(), weird, T0)
                    .unwrap_err()
            ),
            1004
        );
    }

    // Still alive: the full story works on the same instance.
    let path = b
        .get_bind_contact_path(b.actor(s("dad")).unwrap(), share("s", "Name"), T0)
        .unwrap();
    b.authorize_voip(b.actor(s("mum")).unwrap()).unwrap();
    let ev = b
        .accept_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap();
    assert_eq!(get(&ev, "type").as_string().unwrap(), "success");
}

fn wasm_memory_bytes() -> f64 {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    get(&mem.buffer(), "byteLength").as_f64().unwrap()
}

#[wasm_bindgen_test]
fn failed_writes_change_nothing_and_reopen_sees_the_state() {
    let store = Store::new();
    let mut b = open_on(&store, obj(&[("maxContacts", JsValue::from_f64(3.0))]));
    with_admin(&mut b, "s", "dad");
    let path = b
        .get_bind_contact_path(b.actor(s("dad")).unwrap(), share("s", "N"), T0)
        .unwrap();
    b.authorize_voip(b.actor(s("mum")).unwrap()).unwrap();
    store.set_fail(true);
    let e = b
        .accept_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap_err();
    assert_eq!(err_code(e.clone()), 3007);
    assert!(err_field(&e, "message").contains("disk full"));
    store.set_fail(false);
    let list = b
        .get_voip_bind_contact_list(b.actor(s("mum")).unwrap(), JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(list, "", "the failed accept left nothing behind");
    b.accept_bind_contact_path(b.actor(s("mum")).unwrap(), s(&path), T0)
        .unwrap();

    // A new backend on the same entries: same state, same ticket secret.
    let mut again = open_on(&store, JsValue::UNDEFINED);
    let stats = again.stats();
    assert_eq!(get(&stats, "contacts").as_f64(), Some(2.0));
    again
        .authorize_voip(again.actor(s("gran")).unwrap())
        .unwrap();
    let ev = again
        .accept_bind_contact_path(again.actor(s("gran")).unwrap(), s(&path), T0)
        .unwrap();
    assert_eq!(get(&ev, "type").as_string().unwrap(), "success");

    // Snapshots round-trip; a corrupted one is a STORAGE error.
    let snap = again.export_snapshot(true);
    let entries = Array::from(&snapshot_entries(&snap).unwrap().js());
    assert_eq!(entries.length(), store.len());
    let mut bad = snap.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    assert_eq!(err_code(snapshot_entries(&bad).unwrap_err()), 3007);

    // A corrupt stored value refuses to open, and writes nothing.
    let (keys, values) = store.entries();
    let v = values.get(1).as_string().unwrap();
    values.set(1, s(&v[..v.len() - 2]));
    let before = store.len();
    let e = Backend::open(
        JsValue::UNDEFINED,
        &[1u8; 32],
        keys,
        values,
        store.put(),
        store.remove(),
        T0,
    );
    assert_eq!(err_code(e.err().unwrap()), 3007);
    assert_eq!(store.len(), before);
}
