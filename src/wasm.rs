//! The wasm binding: converts and delegates, nothing else. JS values become core
//! [`Value`]s through one walker that applies the size limits while reading (so a 1 MiB string
//! is measured, never copied) and rejects lone surrogates; results go back through
//! `serde-wasm-bindgen`; errors are thrown as `Error`s carrying `errCode`, `code` and `origin`,
//! which the JS shim turns into `VoipPluginError` / `VoipCgiError`. No 64-bit integers cross.

use crate::call::{CallSlot as CoreSlot, Version};
use crate::engine::{BindEvent, CallOutcome, Config, Engine, Store};
use crate::errors::{Error, Origin};
use crate::ids::{Millis, OpenId};
use crate::input::{self, Kind, Value, MAX_DEPTH, MAX_ITEMS, MAX_STRING_UNITS};
use crate::rng::SEED_LEN;
use crate::storage;
use js_sys::{Array, Function, JsString, Reflect};
use serde::ser::SerializeMap;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// ---- JS → core -------------------------------------------------------------------------------

fn string_value(js: &JsValue) -> Value {
    let s: &JsString = js.unchecked_ref();
    let len = s.length() as usize;
    if len > MAX_STRING_UNITS {
        Value::Overlong {
            kind: Kind::String,
            len,
        }
    } else {
        // The conversion replaces a lone surrogate with U+FFFD. Only when a U+FFFD shows up is
        // the (per code unit, so slow) well-formedness check needed to tell the two apart.
        let text = String::from(s);
        if text.contains('\u{fffd}') && !s.is_valid_utf16() {
            Value::LoneSurrogate
        } else {
            Value::Str(text)
        }
    }
}

/// Reads a JS value into a [`Value`]. Property reads go through `Reflect` with exceptions
/// caught, so a throwing getter or Proxy becomes a type error, never an unwind through wasm.
fn to_value(js: &JsValue, depth: usize) -> Value {
    if js.is_undefined() {
        Value::Missing
    } else if js.is_null() {
        Value::Null
    } else if let Some(b) = js.as_bool() {
        Value::Bool(b)
    } else if let Some(n) = js.as_f64() {
        Value::Num(n)
    } else if js.is_string() {
        string_value(js)
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
    } else if Array::is_array(js) {
        let len = Reflect::get(js, &JsValue::from_str("length"))
            .ok()
            .and_then(|l| l.as_f64())
            .unwrap_or(0.0) as usize;
        if len > MAX_ITEMS {
            return Value::Overlong {
                kind: Kind::Array,
                len,
            };
        }
        let items = (0..len)
            .map(|i| match Reflect::get_u32(js, i as u32) {
                Ok(v) => to_value(&v, depth + 1),
                Err(_) => Value::Other("an array whose items cannot be read"),
            })
            .collect();
        Value::Array(items)
    } else {
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
            if name.len() > 256 {
                continue;
            }
            let v = match Reflect::get(js, &key) {
                Ok(v) => to_value(&v, depth + 1),
                Err(_) => Value::Other("a property whose getter throws"),
            };
            props.push((name, v));
        }
        Value::Object(props)
    }
}

fn arg(js: &JsValue) -> Value {
    to_value(js, 0)
}

fn now_ms(now: f64) -> Result<Millis, JsValue> {
    input::millis("now", now).map_err(throw)
}

fn actor(js: &JsValue) -> Result<Option<OpenId>, JsValue> {
    match arg(js) {
        Value::Missing | Value::Null => Ok(None),
        v => OpenId::from_value("openId", &v).map(Some).map_err(throw),
    }
}

// ---- core → JS -------------------------------------------------------------------------------

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a data property on a fresh ordinary object cannot throw.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// The thrown value: an `Error` with `errCode`, `code` and `origin`.
fn throw(e: Error) -> JsValue {
    let err: JsValue = js_sys::Error::new(&e.message).into();
    set(&err, "errCode", &JsValue::from_f64(e.err_code() as f64));
    set(&err, "code", &JsValue::from_str(e.code.name()));
    let origin = match e.code.origin() {
        Origin::Plugin => "plugin",
        Origin::Backend => "backend",
    };
    set(&err, "origin", &JsValue::from_str(origin));
    err
}

fn out<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(|e| {
            throw(Error::invalid_argument(format!(
                "result conversion failed: {e}"
            )))
        })
}

/// Query parameters as a plain object (first value of a repeated name wins).
struct Query<'a>(&'a [(String, String)]);

impl Serialize for Query<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if self.0[..i].iter().all(|(seen, _)| seen != k) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BindEventOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    err_msg: &'static str,
    user_id: &'a str,
    query: Query<'a>,
}

fn bind_event(e: &BindEvent) -> Result<JsValue, JsValue> {
    out(&BindEventOut {
        kind: e.kind.as_str(),
        err_msg: e.kind.err_msg(),
        user_id: &e.user_id,
        query: Query(&e.query),
    })
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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InspectionOut<'a> {
    user_id: &'a str,
    user_name: &'a str,
    user_avatar: &'a str,
    status: &'static str,
    /// The bindContact errMsg of a blocking status ('' when ready), for the bind page.
    err_msg: &'static str,
    query: Query<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeletedOut<'a> {
    user_id: &'a str,
    deleted: &'a [OpenId],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransferOut<'a> {
    user_id: &'a str,
    admin_openid: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallOut<'a> {
    is_success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charge_type: Option<crate::call::ChargeType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    err_code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct StatsOut {
    students: u32,
    contacts: u32,
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
        let config = Config::from_value(&arg(&options)).map_err(throw)?;
        let seed: [u8; SEED_LEN] = seed.try_into().map_err(|_| {
            throw(Error::invalid_argument(format!(
                "the entropy seed must be {SEED_LEN} bytes, got {}",
                seed.len()
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
                    return Err(throw(Error::storage(format!(
                        "stored entry {} is not text",
                        input::quote(&k.unwrap_or_default())
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
        Ok(Backend { engine })
    }

    #[wasm_bindgen(js_name = authorizeVoip)]
    pub fn authorize_voip(&mut self, actor: JsValue) -> Result<(), JsValue> {
        let me = self::actor(&actor)?;
        self.engine.authorize_voip(me.as_ref()).map_err(throw)
    }

    #[wasm_bindgen(js_name = revokeVoip)]
    pub fn revoke_voip(&mut self, actor: JsValue) -> Result<(), JsValue> {
        let me = self::actor(&actor)?;
        self.engine.revoke_voip(me.as_ref()).map_err(throw)
    }

    /// Resolves the student's userId.
    #[wasm_bindgen(js_name = bindVoipAdminContact)]
    pub fn bind_voip_admin_contact(
        &mut self,
        actor: JsValue,
        args: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let (me, now) = (self::actor(&actor)?, now_ms(now)?);
        self.engine
            .bind_admin(me.as_ref(), &arg(&args), now)
            .map(|u| u.as_str().to_owned())
            .map_err(throw)
    }

    #[wasm_bindgen(js_name = getBindContactPath)]
    pub fn get_bind_contact_path(
        &mut self,
        actor: JsValue,
        args: JsValue,
        now: f64,
    ) -> Result<String, JsValue> {
        let (me, now) = (self::actor(&actor)?, now_ms(now)?);
        self.engine
            .share_path(me.as_ref(), &arg(&args), now)
            .map_err(throw)
    }

    #[wasm_bindgen(js_name = getVoipBindContactList)]
    pub fn get_voip_bind_contact_list(
        &self,
        actor: JsValue,
        args: JsValue,
    ) -> Result<JsValue, JsValue> {
        let me = self::actor(&actor)?;
        let list = self.engine.list(me.as_ref(), &arg(&args)).map_err(throw)?;
        out(&list)
    }

    #[wasm_bindgen(js_name = deleteVoipBindContact)]
    pub fn delete_voip_bind_contact(
        &mut self,
        actor: JsValue,
        args: JsValue,
    ) -> Result<JsValue, JsValue> {
        let me = self::actor(&actor)?;
        let (user_id, deleted) = self
            .engine
            .delete(me.as_ref(), &arg(&args))
            .map_err(throw)?;
        out(&DeletedOut {
            user_id: user_id.as_str(),
            deleted: &deleted,
        })
    }

    #[wasm_bindgen(js_name = transerAdmin)]
    pub fn transer_admin(&mut self, actor: JsValue, args: JsValue) -> Result<JsValue, JsValue> {
        let me = self::actor(&actor)?;
        let (user_id, admin) = self
            .engine
            .transfer(me.as_ref(), &arg(&args))
            .map_err(throw)?;
        out(&TransferOut {
            user_id: user_id.as_str(),
            admin_openid: admin.as_str(),
        })
    }

    #[wasm_bindgen(js_name = inspectBindContactPath)]
    pub fn inspect_bind_contact_path(
        &self,
        actor: JsValue,
        path: JsValue,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let (me, now) = (self::actor(&actor)?, now_ms(now)?);
        let i = self
            .engine
            .inspect(me.as_ref(), &arg(&path), now)
            .map_err(throw)?;
        out(&InspectionOut {
            user_id: &i.view.user_id,
            user_name: &i.view.user_name,
            user_avatar: &i.view.user_avatar,
            status: i.status.map_or("ready", |s| s.as_str()),
            err_msg: i.status.map_or("", |s| s.err_msg()),
            query: Query(&i.query),
        })
    }

    #[wasm_bindgen(js_name = acceptBindContactPath)]
    pub fn accept_bind_contact_path(
        &mut self,
        actor: JsValue,
        path: JsValue,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let (me, now) = (self::actor(&actor)?, now_ms(now)?);
        let e = self
            .engine
            .accept(me.as_ref(), &arg(&path), now)
            .map_err(throw)?;
        bind_event(&e)
    }

    #[wasm_bindgen(js_name = declineBindContactPath)]
    pub fn decline_bind_contact_path(
        &self,
        actor: JsValue,
        path: JsValue,
    ) -> Result<JsValue, JsValue> {
        let me = self::actor(&actor)?;
        let e = self
            .engine
            .decline(me.as_ref(), &arg(&path))
            .map_err(throw)?;
        bind_event(&e)
    }

    #[wasm_bindgen(js_name = issueVoipToken)]
    pub fn issue_voip_token(&mut self, args: JsValue, now: f64) -> Result<String, JsValue> {
        let now = now_ms(now)?;
        self.engine
            .issue_voip_token(&arg(&args), now)
            .map_err(throw)
    }

    #[wasm_bindgen(js_name = resetStudent)]
    pub fn reset_student(&mut self, args: JsValue) -> Result<bool, JsValue> {
        self.engine.reset_student(&arg(&args)).map_err(throw)
    }

    #[wasm_bindgen(js_name = getVoipContactList)]
    pub fn get_voip_contact_list(&self, args: JsValue) -> Result<JsValue, JsValue> {
        let reply = self.engine.contact_list(&arg(&args)).map_err(throw)?;
        out(&reply)
    }

    /// Throws for what the API throws; otherwise `{ isSuccess, roomId, chargeType }` or
    /// `{ isSuccess: false, errCode, code, message }`.
    #[wasm_bindgen(js_name = initByCaller)]
    pub fn init_by_caller(
        &mut self,
        slot: &mut CallSlot,
        args: JsValue,
        compat_version: &str,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let now = now_ms(now)?;
        let compat = Version::parse("compatVersion", compat_version).map_err(throw)?;
        let outcome = self
            .engine
            .init_by_caller(&mut slot.0, &arg(&args), compat, now)
            .map_err(throw)?;
        match &outcome {
            CallOutcome::Admitted {
                room_id,
                charge_type,
            } => out(&CallOut {
                is_success: true,
                room_id: Some(room_id),
                charge_type: Some(*charge_type),
                err_code: None,
                code: None,
                message: None,
            }),
            CallOutcome::Refused(e) => out(&CallOut {
                is_success: false,
                room_id: None,
                charge_type: None,
                err_code: Some(e.err_code()),
                code: Some(e.code.name()),
                message: Some(&e.message),
            }),
        }
    }

    /// All entries and secrets as one checksummed blob.
    #[wasm_bindgen(js_name = exportSnapshot)]
    pub fn export_snapshot(&self) -> Vec<u8> {
        self.engine.snapshot()
    }

    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let r = self.engine.registry();
        out(&StatsOut {
            students: r.student_count() as u32,
            contacts: r.contact_count() as u32,
        })
    }
}

/// A snapshot's entries as `[[key, value], …]` (to restore into an empty store).
#[wasm_bindgen(js_name = snapshotEntries)]
pub fn snapshot_entries(data: &[u8]) -> Result<JsValue, JsValue> {
    let entries = storage::read_snapshot(data).map_err(throw)?;
    // Check the entries decode before anyone writes them anywhere.
    storage::load(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())), 0).map_err(throw)?;
    out(&entries)
}

/// Checks an instance's `openId`; returns it.
#[wasm_bindgen(js_name = checkOpenId)]
pub fn check_open_id(v: JsValue) -> Result<String, JsValue> {
    OpenId::from_value("openId", &arg(&v))
        .map(|o| o.as_str().to_owned())
        .map_err(throw)
}

/// Checks a `compatVersion`; returns it.
#[wasm_bindgen(js_name = checkVersion)]
pub fn check_version(v: JsValue) -> Result<String, JsValue> {
    let v = arg(&v);
    let s = input::string("compatVersion", &v).map_err(throw)?;
    Version::parse("compatVersion", s)
        .map(|_| s.to_owned())
        .map_err(throw)
}

/// Checks backend options without opening anything (so bad options fail before storage is read).
#[wasm_bindgen(js_name = checkBackendOptions)]
pub fn check_backend_options(options: JsValue) -> Result<(), JsValue> {
    Config::from_value(&arg(&options)).map(drop).map_err(throw)
}

/// One device instance's call slot (busy state, hang-up).
#[wasm_bindgen]
pub struct CallSlot(CoreSlot);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HangUpOut<'a> {
    room_id: &'a str,
    data: &'a crate::call::EndedCall,
}

#[wasm_bindgen]
impl CallSlot {
    #[wasm_bindgen(constructor)]
    pub fn new() -> CallSlot {
        CallSlot(CoreSlot::default())
    }

    /// `forceHangUpVoip(roomId?)`: `{ roomId, data }` for the `endVoip` event, or `undefined`
    /// when no call matched.
    #[wasm_bindgen(js_name = hangUp)]
    pub fn hang_up(&mut self, room_id: JsValue, now: f64) -> Result<JsValue, JsValue> {
        let now = now_ms(now)?;
        let room = arg(&room_id);
        let room = input::opt_string("roomId", &room).map_err(throw)?;
        match self.0.hang_up(room, now) {
            Some(ended) => out(&HangUpOut {
                room_id: &ended.room_id,
                data: &ended,
            }),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    #[wasm_bindgen(getter, js_name = roomId)]
    pub fn room_id(&self) -> Option<String> {
        self.0.active().map(|c| c.room_id.clone())
    }
}

impl Default for CallSlot {
    fn default() -> Self {
        Self::new()
    }
}
