//! The wasm binding: converts and delegates, nothing else. JS values become core
//! [`Value`]s through one walker that applies the size limits while reading (so a 1 MiB string
//! is measured, never copied) and rejects lone surrogates; results go back through
//! `serde-wasm-bindgen`; errors are thrown as one string `errCode␟code␟origin␟message`, which
//! the JS shim turns into `VoipPluginError` / `VoipCgiError`. No 64-bit integers cross.

use crate::call::Version;
use crate::engine::{BindEvent, CallAct, CallDelivery, CallOutcome, Config, Engine, Store};
use crate::errors::{Error, Origin};
use crate::ids::{Millis, OpenId};
use crate::input::{self, Budget, Kind, Value, MAX_DEPTH, MAX_ITEMS};
use crate::json::Json;
use crate::lifecycle;
use crate::requests;
use crate::rng::SEED_LEN;
use crate::storage;
use js_sys::{Array, Function, JsString, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// ---- JS → core -------------------------------------------------------------------------------

#[wasm_bindgen]
extern "C" {
    /// `Array.isArray`, which throws on a revoked Proxy: caught, so the exception never
    /// unwinds through wasm frames (that would leave the backend borrowed for good).
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(v: &JsValue) -> Result<bool, JsValue>;
}

fn string_value(js: &JsValue, budget: &mut Budget) -> Value {
    let s: &JsString = js.unchecked_ref();
    input::limited_string(s.length() as usize, budget, || {
        // The conversion replaces a lone surrogate with U+FFFD. Only when a U+FFFD shows up is
        // the (per code unit, so slow) well-formedness check needed to tell the two apart.
        let text = String::from(s);
        // (A byte scan for U+FFFD's UTF-8 form: `str::contains` pulls a searcher into the wasm.)
        let replaced = text.as_bytes().windows(3).any(|w| w == [0xef, 0xbf, 0xbd]);
        if replaced && !s.is_valid_utf16() {
            Value::LoneSurrogate
        } else {
            Value::Str(text)
        }
    })
}

/// Reads a JS value into a [`Value`] within one [`Budget`] for the whole argument. Every JS
/// operation that can throw (`Array.isArray`, property reads, getters, Proxy traps) is caught
/// and becomes a typed value, never an unwind through wasm.
fn to_value(js: &JsValue, depth: usize, budget: &mut Budget) -> Value {
    if !budget.take_value() {
        Value::Other("a value over the argument's size limit")
    } else if js.is_string() {
        // First: almost every field is a string (each check is a crossing into JS).
        string_value(js, budget)
    } else if js.is_undefined() {
        Value::Missing
    } else if js.is_null() {
        Value::Null
    } else if let Some(b) = js.as_bool() {
        Value::Bool(b)
    } else if let Some(n) = js.as_f64() {
        Value::Num(n)
    } else if js.is_function() {
        Value::Other("function")
    } else if js.is_symbol() {
        Value::Other("symbol")
    } else if js.is_bigint() {
        Value::Other("bigint")
    } else if !js.is_object() {
        Value::Other("an unsupported value")
    } else if depth >= MAX_DEPTH {
        Value::Other("an object nested too deep")
    } else {
        match is_array(js) {
            Err(_) => Value::Other("an object that cannot be read (a revoked Proxy?)"),
            Ok(true) => array_value(js, depth, budget),
            Ok(false) => object_value(js, depth, budget),
        }
    }
}

fn array_value(js: &JsValue, depth: usize, budget: &mut Budget) -> Value {
    let Ok(len) = Reflect::get(js, &JsValue::from_str("length")) else {
        return Value::Other("an array whose length cannot be read");
    };
    let len = len.as_f64().unwrap_or(0.0) as usize;
    if len > MAX_ITEMS {
        return Value::Overlong {
            kind: Kind::Array,
            len,
        };
    }
    let mut items = Vec::with_capacity(len);
    for i in 0..len {
        items.push(match Reflect::get_u32(js, i as u32) {
            Ok(v) => to_value(&v, depth + 1, budget),
            Err(_) => Value::Other("an array whose items cannot be read"),
        });
        if budget.check().is_err() {
            break;
        }
    }
    Value::Array(items)
}

fn object_value(js: &JsValue, depth: usize, budget: &mut Budget) -> Value {
    let Ok(keys) = Reflect::own_keys(js) else {
        return Value::Other("an object whose properties cannot be read");
    };
    let n = keys.length() as usize;
    if n > MAX_ITEMS {
        return Value::Overlong {
            kind: Kind::Object,
            len: n,
        };
    }
    let mut props = Vec::with_capacity(n);
    for key in keys.iter() {
        // Symbol keys are skipped; property names are short in practice.
        let Some(name) = key.as_string() else {
            continue;
        };
        if name.len() > 256 || !budget.take_units(name.len()) {
            continue;
        }
        let v = match Reflect::get(js, &key) {
            Ok(v) => to_value(&v, depth + 1, budget),
            Err(_) => Value::Other("a property whose getter throws"),
        };
        props.push((name, v));
        if budget.check().is_err() {
            break;
        }
    }
    Value::Object(props)
}

thread_local! {
    /// Property names as JS strings, made once (each `JsValue::from_str` is a decode in JS).
    static KEYS: std::cell::RefCell<Vec<(&'static str, JsValue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `name` as a JS string, cached per name (the names are the `requests` lists).
fn key<T>(name: &'static str, f: impl FnOnce(&JsValue) -> T) -> T {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let i = match keys
            .iter()
            .position(|(n, _)| std::ptr::eq(*n, name) || *n == name)
        {
            Some(i) => i,
            None => {
                keys.push((name, JsValue::from_str(name)));
                keys.len() - 1
            }
        };
        f(&keys[i].1)
    })
}

/// A whole argument (a share path or query object, options), within one budget.
fn arg(js: &JsValue) -> Result<Value, JsValue> {
    let mut budget = Budget::default();
    let v = to_value(js, 0, &mut budget);
    budget.check().map_err(throw)?;
    Ok(v)
}

/// An API's argument object, reading only the `fields` it uses (SPEC: the rest is never
/// walked). Anything but a plain object converts as itself, so the core's check names it.
fn fields(js: &JsValue, names: &[&'static str]) -> Result<Value, JsValue> {
    let mut budget = Budget::default();
    let plain = js.is_object() && !js.is_function() && is_array(js) == Ok(false);
    let v = if plain {
        let mut props = Vec::with_capacity(names.len());
        for name in names {
            let v = match key(name, |k| Reflect::get(js, k)) {
                Ok(v) => to_value(&v, 1, &mut budget),
                Err(_) => Value::Other("a property whose getter throws"),
            };
            props.push(((*name).to_owned(), v));
        }
        Value::Object(props)
    } else if js.is_object() && is_array(js).is_err() {
        Value::Other("an object that cannot be read (a revoked Proxy?)")
    } else {
        to_value(js, 0, &mut budget)
    };
    budget.check().map_err(throw)?;
    Ok(v)
}

fn now_ms(now: f64) -> Result<Millis, JsValue> {
    input::millis("now", now).map_err(throw)
}

/// The identities instances act as, checked once (`Backend::actor`) and then named by a
/// number, so a call passes no string for who is asking. `0` is the device (no openId).
#[derive(Default)]
struct Actors {
    list: Vec<OpenId>,
    /// (openId, number), sorted by openId (a sorted Vec: less code in the wasm than a map).
    index: Vec<(OpenId, u32)>,
}

impl Actors {
    fn get(&self, handle: u32) -> Result<Option<&OpenId>, JsValue> {
        match handle {
            0 => Ok(None),
            n => self.list.get(n as usize - 1).map(Some).ok_or_else(|| {
                throw(Error::invalid_argument(
                    "unknown identity handle (it belongs to another backend)",
                ))
            }),
        }
    }
}

// ---- core → JS -------------------------------------------------------------------------------

/// The thrown value: one string, `errCode␟code␟origin␟message` (U+001F between; the message
/// may hold anything after the third), which the shim turns into a `VoipPluginError` /
/// `VoipCgiError` (js/errors.js toVoipError). Not an `Error` with properties: an `Error` made
/// from wasm captures a stack trace through wasm frames, and each property is a crossing; that
/// was ~7 µs of a refused call's 9 µs in the glue (Node 20).
fn throw(e: Error) -> JsValue {
    JsValue::from_str(&crate::cat!(
        input::whole(e.err_code().into()),
        "\u{1f}",
        e.code.name(),
        "\u{1f}",
        origin_name(e.code.origin()),
        "\u{1f}",
        e.message
    ))
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Plugin => "plugin",
        Origin::Backend => "backend",
    }
}

/// Separators of the flat results (lists, delete, transfer, the developer query): userIds and
/// openIds never hold control characters (SPEC §1), so these cannot occur inside a field.
const US: char = '\u{1f}';
const RS: char = '\u{1e}';

/// `"errCode":…,"code":…,"origin":…,"message":…` of an answer that carries an error.
fn error_fields(j: &mut Json, e: &Error) {
    j.key("errCode")
        .num(e.err_code().into())
        .key("code")
        .str(e.code.name())
        .key("origin")
        .str(origin_name(e.code.origin()))
        .key("message")
        .str(&e.message);
}

/// A call's delivery (`lifecycle::write_delivery`), plus `refused` when the acting API fails.
fn delivery(d: &CallDelivery) -> String {
    let mut j = Json::default();
    j.raw("{");
    lifecycle::write_delivery_members(&mut j, &d.call, &d.step);
    if let Some(e) = &d.step.refused {
        j.key("refused").raw("{");
        error_fields(&mut j, e);
        j.raw("}");
    }
    j.raw("}").done()
}

fn bind_event(e: &BindEvent) -> String {
    Json::default()
        .raw("{")
        .key("type")
        .str(e.kind.as_str())
        .key("errMsg")
        .str(e.kind.err_msg())
        .key("userId")
        .str(&e.user_id)
        .key("query")
        .query(&e.query)
        .raw("}")
        .done()
}

// ---- the store: the JS storage adapter's put/remove ------------------------------------------

struct JsStore {
    put: Function,
    remove: Function,
}

fn js_reason(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the storage adapter threw".into())
}

impl Store for JsStore {
    fn put(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.put
            .call2(
                &JsValue::NULL,
                &JsValue::from_str(key),
                &JsValue::from_str(value),
            )
            .map(drop)
            .map_err(js_reason)
    }
    fn remove(&mut self, key: &str) -> Result<(), String> {
        self.remove
            .call1(&JsValue::NULL, &JsValue::from_str(key))
            .map(drop)
            .map_err(js_reason)
    }
}

// ---- exports ---------------------------------------------------------------------------------

/// One local backend: the registry, its secrets and the storage adapter's write functions.
#[wasm_bindgen]
pub struct Backend {
    engine: Engine<JsStore>,
    actors: std::cell::RefCell<Actors>,
}

#[wasm_bindgen]
impl Backend {
    /// Opens a backend on stored entries (`keys[i]` → `values[i]`). `seed`: 32 bytes from the
    /// host's CSPRNG. `put(key, value)` and `remove(key)` write through to the storage adapter
    /// and must throw on failure.
    pub fn open(
        options: JsValue,
        seed: &[u8],
        keys: Array,
        values: Array,
        put: Function,
        remove: Function,
        now: f64,
    ) -> Result<Backend, JsValue> {
        let config =
            Config::from_value(&fields(&options, requests::BACKEND_OPTIONS)?).map_err(throw)?;
        let seed: [u8; SEED_LEN] = seed.try_into().map_err(|_| {
            throw(Error::invalid_argument(crate::cat!(
                "the entropy seed must be ",
                input::whole(SEED_LEN as u64),
                " bytes, got ",
                input::whole(seed.len() as u64)
            )))
        })?;
        let now = now_ms(now)?;
        let n = keys.length();
        if values.length() != n {
            return Err(throw(Error::storage(
                "stored keys and values do not pair up",
            )));
        }
        let mut entries = Vec::with_capacity(n as usize);
        for i in 0..n {
            match (keys.get(i).as_string(), values.get(i).as_string()) {
                (Some(k), Some(v)) => entries.push((k, v)),
                (k, _) => {
                    return Err(throw(Error::storage(crate::cat!(
                        "stored entry ",
                        input::quote(&k.unwrap_or_default()),
                        " is not text"
                    ))))
                }
            }
        }
        let store = JsStore { put, remove };
        let engine = Engine::open(
            config,
            seed,
            store,
            entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            now,
        )
        .map_err(throw)?;
        Ok(Backend {
            engine,
            actors: Default::default(),
        })
    }

    /// Checks an instance's openId once and returns the number it acts as from then on
    /// (the same openId gets the same number).
    pub fn actor(&self, open_id: JsValue) -> Result<u32, JsValue> {
        let id = OpenId::from_value("openId", &arg(&open_id)?).map_err(throw)?;
        let mut a = self.actors.borrow_mut();
        match a.index.binary_search_by(|(o, _)| o.cmp(&id)) {
            Ok(i) => Ok(a.index[i].1),
            Err(i) => {
                a.list.push(id.clone());
                let n = a.list.len() as u32;
                a.index.insert(i, (id, n));
                Ok(n)
            }
        }
    }

    #[wasm_bindgen(js_name = authorizeVoip)]
    pub fn authorize_voip(&mut self, actor: u32) -> Result<(), JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        self.engine.authorize_voip(me).map_err(throw)
    }

    #[wasm_bindgen(js_name = getVoipConsent)]
    pub fn get_voip_consent(&self, actor: u32) -> Result<bool, JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        self.engine.consent(me).map_err(throw)
    }

    #[wasm_bindgen(js_name = revokeVoip)]
    pub fn revoke_voip(&mut self, actor: u32) -> Result<(), JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        self.engine.revoke_voip(me).map_err(throw)
    }

    /// Resolves the student's userId.
    #[wasm_bindgen(js_name = bindVoipAdminContact)]
    pub fn bind_voip_admin_contact(
        &mut self,
        actor: u32,
        args: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        self.engine
            .bind_admin(me, &fields(&args, requests::USER_ID)?, now)
            .map(|u| u.as_str().to_owned())
            .map_err(throw)
    }

    #[wasm_bindgen(js_name = getBindContactPath)]
    pub fn get_bind_contact_path(
        &mut self,
        actor: u32,
        args: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        self.engine
            .share_path(me, &fields(&args, requests::SHARE_PATH)?, now)
            .map_err(throw)
    }

    #[wasm_bindgen(js_name = getVoipBindContactList)]
    pub fn get_voip_bind_contact_list(&self, actor: u32, args: JsValue) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        let list = self
            .engine
            .list(me, &fields(&args, requests::USER_ID)?)
            .map_err(throw)?;
        // Flat: entries split by RS, fields by US: userId, is_ad, then the openIds.
        let mut out = String::new();
        for (i, e) in list.iter().enumerate() {
            if i > 0 {
                out.push(RS);
            }
            out.push_str(e.user_id.as_str());
            out.push(US);
            out.push(if e.is_ad == 1 { '1' } else { '0' });
            for o in &e.openid_list {
                out.push(US);
                out.push_str(o.as_str());
            }
        }
        Ok(out)
    }

    #[wasm_bindgen(js_name = deleteVoipBindContact)]
    pub fn delete_voip_bind_contact(
        &mut self,
        actor: u32,
        args: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        let (user_id, deleted) = self
            .engine
            .delete(me, &fields(&args, requests::DELETE)?, now)
            .map_err(throw)?;
        // Flat: userId, then the deleted openIds, split by US.
        let mut out = user_id.as_str().to_owned();
        for o in &deleted {
            out.push(US);
            out.push_str(o.as_str());
        }
        Ok(out)
    }

    #[wasm_bindgen(js_name = transerAdmin)]
    pub fn transer_admin(&mut self, actor: u32, args: JsValue) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        let (user_id, admin) = self
            .engine
            .transfer(me, &fields(&args, requests::TRANSFER)?)
            .map_err(throw)?;
        // Flat: userId US adminOpenid.
        let mut out = user_id.as_str().to_owned();
        out.push(US);
        out.push_str(admin.as_str());
        Ok(out)
    }

    #[wasm_bindgen(js_name = inspectBindContactPath)]
    pub fn inspect_bind_contact_path(
        &mut self,
        actor: u32,
        path: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        let i = self.engine.inspect(me, &arg(&path)?, now).map_err(throw)?;
        let mut j = Json::default();
        j.raw("{")
            .key("userId")
            .str(&i.view.user_id)
            .key("userName")
            .str(&i.view.user_name)
            .key("userAvatar")
            .str(&i.view.user_avatar)
            .key("status")
            .str(i.status.map_or("ready", |s| s.as_str()))
            // The bindContact errMsg of a blocking status ('' when ready), for the bind page.
            .key("errMsg")
            .str(i.status.map_or("", |s| s.err_msg()));
        if let Some(t) = i.expires_at {
            j.key("expiresAt").num(t);
        }
        Ok(j.key("query").query(&i.query).raw("}").done())
    }

    #[wasm_bindgen(js_name = acceptBindContactPath)]
    pub fn accept_bind_contact_path(
        &mut self,
        actor: u32,
        path: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        let e = self.engine.accept(me, &arg(&path)?, now).map_err(throw)?;
        Ok(bind_event(&e))
    }

    #[wasm_bindgen(js_name = declineBindContactPath)]
    pub fn decline_bind_contact_path(&self, actor: u32, path: JsValue) -> Result<String, JsValue> {
        let actors = self.actors.borrow();
        let me = actors.get(actor)?;
        let e = self.engine.decline(me, &arg(&path)?).map_err(throw)?;
        Ok(bind_event(&e))
    }

    #[wasm_bindgen(js_name = issueVoipToken)]
    pub fn issue_voip_token(&mut self, args: JsValue, now: f64) -> Result<String, JsValue> {
        let now = now_ms(now)?;
        self.engine
            .issue_voip_token(&fields(&args, requests::USER_ID)?, now)
            .map_err(throw)
    }

    /// `'1' + userId` if the student had contacts, `'0' + userId` if not (the checked userId).
    #[wasm_bindgen(js_name = resetStudent)]
    pub fn reset_student(&mut self, args: JsValue) -> Result<String, JsValue> {
        let (user_id, had) = self
            .engine
            .reset_student(&fields(&args, requests::USER_ID)?)
            .map_err(throw)?;
        let mut out = String::from(if had { "1" } else { "0" });
        out.push_str(user_id.as_str());
        Ok(out)
    }

    #[wasm_bindgen(js_name = getVoipContactList)]
    pub fn get_voip_contact_list(&self, args: JsValue) -> Result<String, JsValue> {
        let reply = self
            .engine
            .contact_list(&fields(&args, requests::CONTACT_LIST)?)
            .map_err(throw)?;
        // Flat: errcode US errmsg, then RS openId US role per contact.
        let mut out = input::whole(reply.errcode.into());
        out.push(US);
        out.push_str(reply.errmsg);
        for c in &reply.contact_list {
            out.push(RS);
            out.push_str(c.open_id.as_str());
            out.push(US);
            out.push(if c.role == 1 { '1' } else { '0' });
        }
        Ok(out)
    }

    /// Throws for what the API throws; otherwise `{ isSuccess: true, roomId, chargeType,
    /// delivery }` (the events to deliver, see `lifecycle::write_delivery`) or `{ isSuccess:
    /// false, errCode, code, message }`.
    #[wasm_bindgen(js_name = initByCaller)]
    pub fn init_by_caller(
        &mut self,
        device: &str,
        args: JsValue,
        compat_version: &str,
        now: f64,
    ) -> Result<String, JsValue> {
        let now = now_ms(now)?;
        let compat = Version::parse("compatVersion", compat_version).map_err(throw)?;
        let outcome = self
            .engine
            .init_by_caller(
                device,
                &fields(&args, requests::INIT_BY_CALLER)?,
                compat,
                now,
            )
            .map_err(throw)?;
        let mut j = Json::default();
        j.raw("{");
        match &outcome {
            CallOutcome::Admitted(d) => {
                j.key("isSuccess")
                    .bool(true)
                    .key("roomId")
                    .str(&d.call.room_id)
                    .key("chargeType")
                    .str(d.call.charge_type().as_str())
                    .key("delivery");
                lifecycle::write_delivery(&mut j, &d.call, &d.step);
            }
            CallOutcome::Refused(e) => {
                j.key("isSuccess").bool(false);
                error_fields(&mut j, e);
            }
        };
        Ok(j.raw("}").done())
    }

    /// `answerVoip` (0), `rejectVoip` (1) or `forceHangUpVoip` (2) by an instance (`actor`;
    /// a device instance is `device`): the delivery, with `refused: { errCode, code, message }`
    /// when the API rejects after delivering it, or `undefined` when a hang-up matched no call.
    #[wasm_bindgen(js_name = actOnCall)]
    pub fn act_on_call(
        &mut self,
        actor: u32,
        device: &str,
        act: u8,
        args: JsValue,
        now: f64,
    ) -> Result<Option<String>, JsValue> {
        let act = match act {
            0 => CallAct::Answer,
            1 => CallAct::Reject,
            _ => CallAct::HangUp,
        };
        let args = if act == CallAct::HangUp {
            arg(&args)?
        } else {
            fields(&args, requests::CALL_ROOM)?
        };
        let actors = self.actors.borrow();
        let (me, now) = (actors.get(actor)?, now_ms(now)?);
        let d = self
            .engine
            .act_on_call(me, device, act, &args, now)
            .map_err(throw)?;
        Ok(d.map(|d| delivery(&d)))
    }

    /// Fires the deadlines that passed by `now`: `[delivery, …]`.
    pub fn tick(&mut self, now: f64) -> Result<String, JsValue> {
        let now = now_ms(now)?;
        let all = self.engine.tick(now).map_err(throw)?;
        let mut j = Json::default();
        j.raw("[");
        for (i, d) in all.iter().enumerate() {
            if i > 0 {
                j.raw(",");
            }
            j.raw(&delivery(d));
        }
        Ok(j.raw("]").done())
    }

    /// The earliest deadline of the calls in progress (ms), or -1.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> f64 {
        self.engine.next_deadline().map_or(-1.0, |t| t as f64)
    }

    /// `calling.keepTime` of a connected call now, or -1.
    #[wasm_bindgen(js_name = callingKeepTime)]
    pub fn calling_keep_time(&mut self, room_id: &str, now: f64) -> Result<f64, JsValue> {
        let now = now_ms(now)?;
        Ok(self
            .engine
            .calling_keep_time(room_id, now)
            .map_or(-1.0, |t| t as f64))
    }

    /// The developer query `getVoipCallList({ user_id, begin_time, end_time })`.
    #[wasm_bindgen(js_name = getVoipCallList)]
    pub fn get_voip_call_list(&self, args: JsValue) -> Result<String, JsValue> {
        let records = self
            .engine
            .call_list(&fields(&args, requests::CALL_LIST)?)
            .map_err(throw)?;
        let mut j = Json::default();
        lifecycle::write_call_list(&mut j, records);
        Ok(j.done())
    }

    /// All entries (and the secrets, if asked) as one checksummed blob.
    #[wasm_bindgen(js_name = exportSnapshot)]
    pub fn export_snapshot(&self, include_secrets: bool) -> Vec<u8> {
        self.engine.snapshot(include_secrets)
    }

    pub fn stats(&self) -> String {
        let r = self.engine.registry();
        Json::default()
            .raw("{")
            .key("students")
            .num(r.student_count() as u64)
            .key("contacts")
            .num(r.contact_count() as u64)
            .raw("}")
            .done()
    }
}

/// A snapshot's entries as `[[key, value], …]` (to restore into an empty store).
#[wasm_bindgen(js_name = snapshotEntries)]
pub fn snapshot_entries(data: &[u8]) -> Result<String, JsValue> {
    // Checked to load as a whole store before anyone writes them anywhere.
    let entries = storage::restorable_snapshot(data).map_err(throw)?;
    let mut j = Json::default();
    j.raw("[");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.strs([k.as_str(), v.as_str()]);
    }
    Ok(j.raw("]").done())
}

/// The `wmpf-voip` API level implemented (the default `compatVersion`).
#[wasm_bindgen(js_name = pluginVersion)]
pub fn plugin_version() -> String {
    crate::PLUGIN_VERSION.to_owned()
}

/// The error table, one row per line: `errCode code origin` (for the shim's checks and tests;
/// text, so no serializer is instantiated for it).
#[wasm_bindgen(js_name = errorTable)]
pub fn error_table() -> String {
    let mut out = String::new();
    for c in crate::ErrorCode::ALL {
        input::push_digits(&mut out, c.err_code().into(), 1);
        for s in [" ", c.name(), " ", origin_name(c.origin()), "\n"] {
            out.push_str(s);
        }
    }
    out
}

/// The `createLocalBackend` options the core reads, comma-separated.
#[wasm_bindgen(js_name = backendOptionNames)]
pub fn backend_option_names() -> String {
    let mut out = String::new();
    for (i, name) in requests::BACKEND_OPTIONS.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
    }
    out
}

/// Ends this wasm instance with a trap, as a bug in the core would: only for the tests that
/// check a dead instance says so (SPEC errCode 3006) and the next backend gets a fresh one.
#[wasm_bindgen(js_name = __trapForTests)]
pub fn trap_for_tests() {
    core::arch::wasm32::unreachable()
}

/// Checks an instance's `openId`; returns it.
#[wasm_bindgen(js_name = checkOpenId)]
pub fn check_open_id(v: JsValue) -> Result<String, JsValue> {
    OpenId::from_value("openId", &arg(&v)?)
        .map(|o| o.as_str().to_owned())
        .map_err(throw)
}

/// Checks a `compatVersion`; returns it.
#[wasm_bindgen(js_name = checkVersion)]
pub fn check_version(v: JsValue) -> Result<String, JsValue> {
    let v = arg(&v)?;
    let s = input::string("compatVersion", &v).map_err(throw)?;
    Version::parse("compatVersion", s)
        .map(|_| s.to_owned())
        .map_err(throw)
}

/// Checks backend options without opening anything (so bad options fail before storage is read).
#[wasm_bindgen(js_name = checkBackendOptions)]
pub fn check_backend_options(options: JsValue) -> Result<(), JsValue> {
    Config::from_value(&fields(&options, requests::BACKEND_OPTIONS)?)
        .map(drop)
        .map_err(throw)
}
